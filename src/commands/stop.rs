//! `watchdog stop`: the escalation ladder, applied to everything the program started.
//!
//! Order matters:
//! 1. Verify the program and hold it by pidfd (no window for PID reuse before a signal).
//! 2. Mark the job stopped, durably, *before* signalling: a stop interrupted halfway must
//!    still keep `check` from relaunching, and a `check` waiting on the lock sees the mark.
//! 3. For each step: send the signal to the program and to every other live process of its
//!    session (children of a shell wrapper, grandchildren in process groups of their own),
//!    then SIGCONT so that a stopped (SIGSTOP) process can act on it; wait up to the step's
//!    time for all of them to be gone; return as soon as they are.
//! 4. Remove the PID file. If the ladder runs out, exit 1 naming the PID; the mark stays.
//!
//! A program that does not lead its own session (adopted, not launched by us) gets the
//! signals alone: its session may be the user's login shell.
//!
//! With `--stop-command`, that command runs before step 3 and the ladder follows only if
//! the program outlives it (`stop_command.rs`).

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::Signal;

use crate::cli::StopArgs;
use crate::error::{Error, Result};
use crate::eventlog;
use crate::exit::Exit;
use crate::files::Durability;
use crate::files::{self, user_name};
use crate::identity::{self, Gone};
use crate::job::{self, Job, Verdict, describe_gone};
use crate::ladder::Ladder;
use crate::lock::{self, Access, Held};
use crate::paths::Paths;
use crate::pidfd::Handle;
use crate::pidfile::Pid;
use crate::signame;
use crate::state::Mode;

pub fn run(a: &StopArgs) -> Result<Exit> {
    let paths = super::job_paths(&a.job);
    let command = super::stop_command::bare(a.stopping.stop_command.as_ref());
    lock::with_lock(&paths.lock, Access::Exclusive, a.job.wait, |held| {
        stop_locked(&paths, &a.ladder, command.as_ref(), held, "stop", true)
    })
}

/// The body of `stop`, also used by `restart` under the same lock. `stop_command` is the
/// `--stop-command`, run before the ladder.
///
/// # Errors
/// `NotOurs` (EPERM), `Survived` when the ladder runs out, `Io` for the files.
pub fn stop_locked(
    paths: &Paths,
    ladder: &Ladder,
    stop_command: Option<&crate::shell_command::ShellCommand>,
    held: &Held,
    command: &'static str,
    mark_stopped: bool,
) -> Result<Exit> {
    let mut job = Job::observe(paths)?;
    if let Verdict::Gone {
        pid,
        why: Gone::Foreign { uid },
    } = job.verdict
    {
        return Err(Error::NotOurs {
            pid,
            path: paths.pidfile.clone(),
            owner: user_name(uid),
            uid,
        });
    }
    eventlog::open(&paths.log, command);
    let running = match &job.verdict {
        Verdict::Running(v) => job::hold(v).map(|h| (v.clone(), h)),
        _ => None,
    };

    held.still_held()?;
    // `stop` marks the job stopped before the first signal, durably, so that an
    // interrupted stop still keeps check away. `restart` does not: it holds the lock until
    // its start, so no check can slip in, and a restart that fails or is killed halfway must
    // leave a job that check brings back, not one parked as "stopped on purpose".
    if mark_stopped {
        job.state.set_mode(Mode::Stopped);
        job.save(Durability::Synced)?;
    }

    let Some((v, leader)) = running else {
        let why = match &job.verdict {
            Verdict::NoPidFile => "there was no PID file".to_string(),
            Verdict::Invalid(why) => {
                format!("{} held no valid PID: {}", paths.pidfile.display(), why.0)
            }
            Verdict::Gone { pid, why } => {
                format!("{}; it was not signalled", describe_gone(*pid, why))
            }
            Verdict::Running(v) => format!("pid {} exited just now", v.pid),
        };
        files::remove(&paths.pidfile, "PID file")?;
        if !mark_stopped {
            log::info!("the program was not running ({why})");
            return Ok(Exit::Ok);
        }
        log::info!("marked stopped; the program was not running ({why})");
        println!("watchdog: not running ({why}); marked stopped, so check will not start it");
        return Ok(Exit::Ok);
    };

    let program = job.program(Some(v.pid));
    let sid = v.leads_session().then_some(v.pid.raw());
    let by = super::stop_command::stop_program(&leader, sid, ladder, stop_command, &program)?;
    match by {
        Some(by) => {
            job.state.identity = None;
            job.state.last_exit = Some(format!("stopped by watchdog with {by}"));
            job.save(Durability::Atomic)?;
            files::remove(&paths.pidfile, "PID file")?;
            log::info!("stopped {program} (pid {}) with {by}", v.pid);
            println!("watchdog: stopped {program} (pid {}) with {by}", v.pid);
            Ok(Exit::Ok)
        }
        None => {
            let e = survived(&leader, v.pid, program, ladder);
            log::error!("{e}");
            Err(e)
        }
    }
}

/// The error for a program (or something in its session) that outlived the whole ladder.
pub(crate) fn survived(leader: &Handle, pid: Pid, program: String, ladder: &Ladder) -> Error {
    let others = if leader.exited() {
        " (the program exited, but processes of its session live on)".to_string()
    } else {
        String::new()
    };
    Error::Survived {
        pid,
        program,
        ladder: ladder.to_string(),
        others,
    }
}

/// Runs the ladder against the leader and, with `sid`, its whole session. Returns the
/// signal after which everything was gone, or `None` if something outlived the ladder.
/// Also used to stop a program that did not become ready (`commands/ready.rs`).
///
/// # Errors
/// `Signal` when the leader cannot be signalled for a reason other than having exited.
pub(crate) fn run_ladder(
    leader: &Handle,
    sid: Option<i32>,
    ladder: &Ladder,
    program: &str,
) -> Result<Option<Signal>> {
    for &(sig, wait) in &ladder.0 {
        log::info!(
            "sending SIG{} to pid {}{}",
            signame::short(sig),
            leader.pid,
            if sid.is_some() {
                " and its session"
            } else {
                ""
            }
        );
        send(leader, sid, sig, program)?;
        if !matches!(sig, Signal::SIGKILL | Signal::SIGCONT) {
            send(leader, sid, Signal::SIGCONT, program)?;
        }
        let deadline = Instant::now() + wait;
        loop {
            if all_gone(leader, sid) {
                return Ok(Some(sig));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let slice = left.min(Duration::from_millis(10));
            if leader.exited() {
                std::thread::sleep(slice);
            } else {
                leader.wait_exit(slice);
            }
        }
    }
    Ok(all_gone(leader, sid)
        .then(|| ladder.0.last().map(|s| s.0))
        .flatten())
}

/// Whether the leader has exited and, with `sid`, its whole session is gone.
pub(crate) fn all_gone(leader: &Handle, sid: Option<i32>) -> bool {
    leader.exited() && sid.is_none_or(|sid| identity::session_members(sid).is_empty())
}

/// Sends `sig` to the leader and to the other live members of its session. Each member is
/// held by pidfd and re-checked (same session, same start time) before it is signalled.
fn send(leader: &Handle, sid: Option<i32>, sig: Signal, program: &str) -> Result<()> {
    match leader.signal(sig) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => {
            return Err(Error::Signal {
                signal: format!("SIG{}", signame::short(sig)),
                pid: leader.pid,
                program: program.to_string(),
                source: e,
            });
        }
    }
    let Some(sid) = sid else { return Ok(()) };
    for (pid, stat) in identity::session_members(sid) {
        if pid == leader.pid {
            continue;
        }
        if let Some(h) = hold_member(pid, sid, stat.start_ticks) {
            // A member that exits meanwhile (ESRCH) or was handed to another user (EPERM)
            // is not ours to insist on.
            let _ = h.signal(sig);
        }
    }
    Ok(())
}

fn hold_member(pid: Pid, sid: i32, start_ticks: u64) -> Option<Handle> {
    let h = Handle::open(pid).ok()?;
    let st = identity::read_stat(pid).ok()??;
    (st.session == sid && st.start_ticks == start_ticks && !h.exited()).then_some(h)
}
