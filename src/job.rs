//! One job as the watchdog sees it: the PID file, the state file and the process, read
//! together under the lock.

use crate::clock;
use crate::error::{Error, Result};
use crate::files::Durability;
use crate::identity::{self, Gone, Liveness, Verified};
use crate::paths::Paths;
use crate::pidfd::Handle;
use crate::pidfile::{self, Content, Invalid, Pid};
use crate::state::{self, State};

/// What the PID file and the process say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The recorded PID is our program, alive.
    Running(Verified),
    /// There is no PID file.
    NoPidFile,
    /// The PID file holds no valid PID.
    Invalid(Invalid),
    /// The PID file names a process that is gone, reused or someone else's.
    Gone { pid: Pid, why: Gone },
}

/// Everything a command needs to decide.
#[derive(Debug)]
pub struct Job {
    pub paths: Paths,
    pub verdict: Verdict,
    /// The state file, or a fresh default when absent or corrupt.
    pub state: State,
    pub boot_id: String,
    /// The program runs and is verified through the state file's record, but the PID file
    /// is missing, invalid or names another PID (a temp cleaner, a stray `rm *.pid`): what
    /// the PID file said. `repair_pidfile` rewrites it.
    pub pidfile_stale: Option<String>,
}

impl Job {
    /// Reads the job. Call with the lock held.
    ///
    /// # Errors
    /// Unsafe or foreign-owned PID or state files, and /proc being unreadable.
    pub fn observe(paths: &Paths) -> Result<Job> {
        let boot_id = clock::boot_id()
            .map_err(|e| Error::io("read", "/proc/sys/kernel/random/boot_id", e))?;
        let content = pidfile::read(&paths.pidfile)?;
        let state = state::read(&paths.state, &boot_id)?.unwrap_or_default();
        let verdict = match content {
            Content::Absent => Verdict::NoPidFile,
            Content::Invalid(why) => Verdict::Invalid(why),
            Content::Pid(pid, mtime) => {
                match identity::verify(pid, state.identity.as_ref(), &boot_id, mtime)
                    .map_err(|e| Error::io("read", format!("/proc/{pid}/stat"), e))?
                {
                    Liveness::Running(v) => Verdict::Running(v),
                    Liveness::NotRunning(why) => Verdict::Gone { pid, why },
                }
            }
        };
        let verdict = crate::daemonized::with_launcher(verdict, &state, &boot_id);
        // The state file's record wins over a PID file that lost track of a live program:
        // otherwise a deleted PID file would make check start a second copy, and stop
        // would leave the first one running. It also wins over adopting whatever older
        // process a rewritten PID file names: adoption is for jobs with no live record.
        let (verdict, pidfile_stale) = match (verdict, state.identity.as_ref()) {
            (Verdict::Running(v), _) if !v.adopted => (Verdict::Running(v), None),
            (other, Some(id)) => match identity::verify(
                id.pid,
                Some(id),
                &boot_id,
                std::time::SystemTime::UNIX_EPOCH,
            ) {
                Ok(Liveness::Running(v)) if !v.adopted => {
                    let said = match &other {
                        Verdict::NoPidFile => "it was missing".to_string(),
                        Verdict::Invalid(why) => why.0.clone(),
                        Verdict::Gone { pid, .. } => format!("it named pid {pid}"),
                        Verdict::Running(w) => format!("it named pid {}", w.pid),
                    };
                    (Verdict::Running(v), Some(said))
                }
                _ => (other, None),
            },
            (other, None) => (other, None),
        };
        Ok(Job {
            paths: paths.clone(),
            verdict,
            state,
            boot_id,
            pidfile_stale,
        })
    }

    /// Rewrites a PID file that lost track of the verified program (see `pidfile_stale`).
    /// Call with the lock held exclusively.
    ///
    /// # Errors
    /// `Io` naming the PID file.
    pub fn repair_pidfile(&mut self) -> Result<()> {
        let (Some(said), Verdict::Running(v)) = (self.pidfile_stale.take(), &self.verdict) else {
            return Ok(());
        };
        log::warn!(
            "{} did not name the running program ({said}); the state file's record, pid {} \
             with its start time, is alive: rewrote the PID file",
            self.paths.pidfile.display(),
            v.pid
        );
        pidfile::write(&self.paths.pidfile, v.pid)
    }

    /// Records the identity of an adopted process so that later checks are exact.
    ///
    /// # Errors
    /// When the state file cannot be written.
    pub fn record_adoption(&mut self, v: &Verified) -> Result<()> {
        self.state.identity = Some(v.identity(&self.boot_id));
        self.state.launcher = None;
        if self.state.cmd.is_none() {
            self.state.cmd = identity::cmdline(v.pid);
        }
        log::info!(
            "adopted pid {} from {} (no matching record; it started before the PID file was written)",
            v.pid,
            self.paths.pidfile.display()
        );
        self.save(Durability::Atomic)
    }

    /// Writes the state file; `Synced` for marks that must survive a power cut.
    ///
    /// # Errors
    /// `Io` naming the state file.
    pub fn save(&self, durability: Durability) -> Result<()> {
        state::write(&self.paths.state, &self.state, &self.boot_id, durability)
    }

    /// The program's name for messages: the recorded command line, or the process's own.
    pub fn program(&self, pid: Option<Pid>) -> String {
        self.state
            .cmd
            .clone()
            .or_else(|| pid.and_then(identity::cmdline))
            .unwrap_or_else(|| "the program".into())
    }
}

/// Why the recorded PID is not running, in words, for messages and the event log.
pub fn describe_gone(pid: Pid, why: &Gone) -> String {
    match why {
        Gone::Dead => format!("pid {pid} is gone"),
        Gone::Reused => match identity::cmdline(pid) {
            Some(cmd) => format!("pid {pid} now belongs to another process ({cmd})"),
            None => format!("pid {pid} now belongs to another process"),
        },
        Gone::Foreign { uid } => format!(
            "pid {pid} now belongs to another user ({})",
            crate::files::user_name(*uid)
        ),
    }
}

/// Takes hold of a verified process by pidfd and re-verifies it through the handle, so that
/// the PID cannot be recycled between our check and our signal.
///
/// # Errors
/// `None` when the process exited or changed in between (treat as not running).
pub fn hold(v: &Verified) -> Option<Handle> {
    let h = Handle::open(v.pid).ok()?;
    let now = identity::read_stat(v.pid).ok()??;
    // The pidfd was opened before this read; if the process is still alive through the
    // pidfd, the /proc read above was of that same process.
    (now.start_ticks == v.stat.start_ticks && !now.is_dead() && !h.exited()).then_some(h)
}
