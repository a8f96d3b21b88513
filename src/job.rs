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
        Ok(Job {
            paths: paths.clone(),
            verdict,
            state,
            boot_id,
        })
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
