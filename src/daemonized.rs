//! `--program-writes-pidfile`: programs that write their own PID file, or fork into the
//! background and do (nginx, redis with `daemonize yes`, old init-style daemons, the "the
//! program writes its PID into the lock file" recipe).
//!
//! The process the watchdog launches is then only the *launcher*: it may exit 0 at once
//! while the real program lives on in another process. So:
//!
//! 1. Before it runs, the launcher's identity is recorded in the state file (`launcher PID
//!    START`), and the stale PID file is removed (`launch`). This is what "recorded before it
//!    runs" can still mean: the daemon's PID does not exist yet, but the process it will come
//!    from is on disk.
//! 2. Up to `--grace` after the launch, the PID file is read until it names a process that
//!    is alive, not a zombie, not another user's, started no later than the file was written
//!    (the adoption rule, `identity::started_by`) and no earlier than the launcher (so a
//!    stale or foreign PID is never taken for the program; start times tick at 10 ms, so
//!    "no earlier" means "not in an earlier tick"). That process is recorded as the
//!    program (`identity`), the `launcher` line goes, and from then on every command treats
//!    it like any recorded program.
//! 3. A launcher that exits non-zero before such a PID file appears fails the launch at
//!    once; one that exits 0 is waited for up to `--grace` (its daemon may still be on the
//!    way). A launcher still running at the deadline without a usable PID file is killed
//!    with its process group and session, so that a failed launch leaves nothing behind.
//!
//! A watchdog killed while it waits leaves the `launcher` line (see `with_launcher`): the
//! next run treats a live launcher as the program (so nothing is launched twice while it
//! runs), and accepts a PID file written later by the same rule as in step 2. The gap that
//! remains: a daemon that has already left the launcher's session (a double fork with
//! `setsid`) and has not yet written its PID file is invisible until it does; if it never
//! does, the next check launches another copy.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};

use crate::error::{Error, Result};
use crate::files::{self, Durability};
use crate::identity::{self, Gone, Liveness, Verified};
use crate::job::Verdict;
use crate::launch::{self, Launched, Spec};
use crate::lock::Held;
use crate::paths::Paths;
use crate::pidfd::Handle;
use crate::pidfile::{self, Content, Pid};
use crate::state::{self, Identity, Mode, State};

/// How often the PID file is read while waiting for it.
const POLL: Duration = Duration::from_millis(10);

/// What the PID file says at one look.
enum Seen {
    /// It names the program: accept it.
    Program(Verified),
    /// Nothing usable yet; the words say why, for the failure message.
    Not(String),
}

/// Step 2 and 3 of the module doc: waits for the program's PID file after the launcher
/// `launched` was released, records the program, and returns it as the launch.
///
/// # Errors
/// `NoPidFile` when no usable PID file came in time; `StayDown` when the launcher exited
/// with a `--stay-down-on` status without one; `Io` when the state file cannot be written.
pub fn await_pidfile(
    spec: &Spec,
    paths: &Paths,
    st: &mut State,
    boot_id: &str,
    held: &Held,
    launched: Launched,
) -> Result<Launched> {
    let launcher = launched.pid;
    let Some(rec) = st.launcher.clone() else {
        // launch() records the launcher before release; without it nothing is verifiable.
        return Err(Error::io(
            "record the launcher in",
            paths.state.clone(),
            std::io::ErrorKind::InvalidData.into(),
        ));
    };
    let deadline = launched.at + spec.grace;
    let mut exited: Option<WaitStatus> = None;
    let mut why;
    loop {
        if exited.is_none() {
            match waitpid(launcher.nix(), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => {}
                Ok(status) => exited = Some(status),
            }
        }
        match look(paths, &rec, boot_id) {
            Seen::Program(v) => {
                held.still_held()?;
                st.identity = Some(v.identity(boot_id));
                st.launcher = None;
                state::write(&paths.state, st, boot_id, Durability::Atomic)?;
                log::info!(
                    "{} names pid {}, which is the program now (the launched process, pid \
                     {launcher}, {})",
                    paths.pidfile.display(),
                    v.pid,
                    match &exited {
                        Some(s) => launch::describe_status(s),
                        None if v.pid == launcher => "wrote its own PID".into(),
                        None => "still runs".into(),
                    }
                );
                if v.pid != launcher && exited.is_none() {
                    reap_launcher(launcher, deadline);
                }
                return Ok(Launched {
                    pid: v.pid,
                    child: v.pid == launcher && exited.is_none(),
                    ..launched
                });
            }
            Seen::Not(w) => why = w,
        }
        let failed_exit = exited.filter(|s| !matches!(s, WaitStatus::Exited(_, 0)));
        if failed_exit.is_some() || Instant::now() >= deadline {
            return Err(fail(spec, paths, st, boot_id, &launched, exited, why));
        }
        let left = deadline.saturating_duration_since(Instant::now()).min(POLL);
        std::thread::sleep(left);
    }
}

/// A launcher whose program wrote the PID file usually exits right after: reap it (up to
/// the grace deadline) so that a long-lived watcher keeps no zombie. One that lives on
/// (a wrapper that waits for its daemon) is left to run.
fn reap_launcher(launcher: Pid, deadline: Instant) {
    if let Ok(h) = Handle::open(launcher) {
        if h.wait_exit(deadline.saturating_duration_since(Instant::now())) {
            let _ = waitpid(launcher.nix(), None);
        }
    }
}

/// Reads the PID file once and judges the PID it names (step 2 of the module doc).
fn look(paths: &Paths, launcher: &Identity, boot_id: &str) -> Seen {
    let shown = paths.pidfile.display();
    let (pid, mtime) = match pidfile::read(&paths.pidfile) {
        Ok(Content::Absent) => return Seen::Not("; no PID file appeared".into()),
        Ok(Content::Invalid(why)) => {
            return Seen::Not(format!("; {shown} holds no valid PID: {}", why.0));
        }
        Ok(Content::Pid(pid, mtime)) => (pid, mtime),
        Err(e) => return Seen::Not(format!("; {e}")),
    };
    match identity::verify(pid, None, boot_id, mtime) {
        Ok(Liveness::Running(v)) if v.stat.start_ticks >= launcher.start_ticks => Seen::Program(v),
        Ok(Liveness::Running(_)) => Seen::Not(format!(
            "; {shown} names pid {pid}, which started before this launch, so it is not the \
             program it launched"
        )),
        Ok(Liveness::NotRunning(Gone::Dead)) => {
            Seen::Not(format!("; {shown} names pid {pid}, which is not running"))
        }
        Ok(Liveness::NotRunning(Gone::Reused)) => Seen::Not(format!(
            "; {shown} names pid {pid}, which started after the file was written"
        )),
        Ok(Liveness::NotRunning(Gone::Foreign { uid })) => Seen::Not(format!(
            "; {shown} names pid {pid}, which belongs to {}",
            files::user_name(uid)
        )),
        Err(e) => Seen::Not(format!("; cannot read /proc/{pid}/stat: {e}")),
    }
}

/// Step 3: the launch failed. Ends a launcher still running (with its group and session),
/// records how it ended, applies `--stay-down-on`, and builds the error.
fn fail(
    spec: &Spec,
    paths: &Paths,
    st: &mut State,
    boot_id: &str,
    launched: &Launched,
    exited: Option<WaitStatus>,
    why: String,
) -> Error {
    let launcher = launched.pid;
    let program = spec.display();
    let (how, killed) = match exited {
        Some(s) => (launch::describe_status(&s), ""),
        None => {
            kill_launcher(launcher);
            let _ = waitpid(launcher.nix(), None);
            (
                "ran on".to_string(),
                "; it was killed, with its process group and session",
            )
        }
    };
    let tail = launch::stderr_tail(launched, &paths.stderr);
    st.launcher = None;
    st.identity = None;
    let stays_down = exited.is_some_and(|s| spec.stays_down(&s));
    let durability = if stays_down {
        st.set_mode(Mode::Stopped);
        st.last_exit = Some(format!(
            "{how} without writing its PID file (--stay-down-on)"
        ));
        Durability::Synced
    } else {
        st.last_exit = Some(format!("{how} without writing its PID file"));
        Durability::Atomic
    };
    if let Err(e) = state::write(&paths.state, st, boot_id, durability) {
        log::error!("{e}");
    }
    if stays_down {
        log::warn!(
            "{program} (pid {launcher}) {how} without writing its PID file; --stay-down-on lists \
             that status: marked stopped, check leaves it down until `watchdog start`"
        );
        return Error::StayDown {
            program,
            pid: launcher,
            how,
            tail,
        };
    }
    let what = format!(
        "{how} without writing a usable PID to {} within {} (--program-writes-pidfile){why}{killed}",
        paths.pidfile.display(),
        crate::duration::show(spec.grace)
    );
    log::error!("{program} (pid {launcher}) {what}");
    Error::NoPidFile {
        program,
        pid: launcher,
        what,
        tail,
    }
}

/// SIGKILLs our unreaped child `pid`, its process group and the rest of its session. It is
/// unreaped, so neither its PID nor its group or session id can have been recycled; the
/// other members are held by pidfd and re-checked before the signal.
fn kill_launcher(pid: Pid) {
    let _ = nix::sys::signal::killpg(pid.nix(), Signal::SIGKILL);
    for (member, stat) in identity::session_members(pid.raw()) {
        if let Ok(h) = Handle::open(member) {
            let same = identity::read_stat(member)
                .ok()
                .flatten()
                .is_some_and(|s| s.session == pid.raw() && s.start_ticks == stat.start_ticks);
            if same && !h.exited() {
                let _ = h.signal(Signal::SIGKILL);
            }
        }
    }
}

/// For `Job::observe`: how a recorded `launcher` (a launch whose PID file was still awaited
/// when its watchdog run ended) changes the verdict on the PID file.
///
/// - A PID file naming a process adopted by age must also name one that started no earlier
///   than the launcher; otherwise it is a stale or foreign PID, not our program.
/// - No usable PID file, but the launcher still alive (same start time): the launcher is the
///   program we know of, so it counts as running (check does not launch a second copy; stop
///   and kill reach it).
pub fn with_launcher(verdict: Verdict, st: &State, boot_id: &str) -> Verdict {
    let Some(l) = st.launcher.as_ref().filter(|l| l.boot_id == boot_id) else {
        return verdict;
    };
    match verdict {
        Verdict::Running(v) if v.adopted && v.stat.start_ticks < l.start_ticks => Verdict::Gone {
            pid: v.pid,
            why: Gone::Reused,
        },
        Verdict::Running(v) => Verdict::Running(v),
        other => match identity::verify(l.pid, Some(l), boot_id, std::time::UNIX_EPOCH) {
            Ok(Liveness::Running(v)) => Verdict::Running(v),
            _ => other,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> (Identity, crate::identity::ProcStat, String) {
        let pid = Pid::new(std::process::id() as i32).unwrap();
        let stat = identity::read_stat(pid).unwrap().unwrap();
        let boot = crate::clock::boot_id().unwrap();
        let id = Identity {
            pid,
            start_ticks: stat.start_ticks,
            boot_id: boot.clone(),
        };
        (id, stat, boot)
    }

    #[test]
    fn a_live_launcher_counts_as_running_when_no_pid_file_names_the_program() {
        let (id, _, boot) = me();
        let st = State {
            launcher: Some(id.clone()),
            ..State::default()
        };
        match with_launcher(Verdict::NoPidFile, &st, &boot) {
            Verdict::Running(v) => assert_eq!((v.pid, v.adopted), (id.pid, false)),
            other => panic!("{other:?}"),
        }
        // Another start time is another process: the verdict stands.
        let st = State {
            launcher: Some(Identity {
                start_ticks: id.start_ticks + 1,
                ..id
            }),
            ..State::default()
        };
        assert_eq!(
            with_launcher(Verdict::NoPidFile, &st, &boot),
            Verdict::NoPidFile
        );
    }

    #[test]
    fn a_pid_older_than_the_launcher_is_not_adopted() {
        let (id, stat, boot) = me();
        let st = State {
            launcher: Some(Identity {
                start_ticks: id.start_ticks + 1,
                ..id.clone()
            }),
            ..State::default()
        };
        let adopted = Verdict::Running(Verified {
            pid: id.pid,
            stat,
            adopted: true,
        });
        assert_eq!(
            with_launcher(adopted.clone(), &st, &boot),
            Verdict::Gone {
                pid: id.pid,
                why: Gone::Reused
            }
        );
        // Without a launcher record, nothing changes.
        assert_eq!(
            with_launcher(adopted.clone(), &State::default(), &boot),
            adopted
        );
    }
}
