//! `watchdog kill SIGNAL`: one signal to the verified program (the program alone, not its
//! session: a reload signal such as HUP or USR1 is meant for it).
//!
//! `signal_verified` is the path `kill` and `reload` share: lock, verify, hold by pidfd
//! (re-verified through the handle, so the PID cannot be recycled before the signal),
//! re-check the lock, signal through the pidfd.

use nix::sys::signal::Signal;

use crate::cli::{JobArgs, KillArgs};
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::files::user_name;
use crate::identity::Gone;
use crate::job::{self, Job, Verdict, describe_gone};
use crate::lock::{self, Access};
use crate::pidfile::Pid;
use crate::{eventlog, signame};

pub fn run(a: &KillArgs) -> Result<Exit> {
    signal_verified(&a.job, a.signal, "kill", |_, _| None)
}

/// Sends `sig` to the job's verified program alone, through a pidfd. `vet` looks at the
/// program once it is held (its PID cannot be recycled from then on) and may refuse with the
/// reason (`reload`: no handler for the signal); a refusal is printed and logged, and ends
/// with exit 1. `command` names the command in the event log.
///
/// # Errors
/// `NotOurs` when the PID is another user's, `Signal` when the signal cannot be sent, and
/// errors taking the lock or reading the job.
pub(crate) fn signal_verified(
    j: &JobArgs,
    sig: Signal,
    command: &'static str,
    vet: impl FnOnce(Pid, &str) -> Option<String>,
) -> Result<Exit> {
    let paths = super::job_paths(j);
    lock::with_lock(&paths.lock, Access::Exclusive, j.wait, |held| {
        let job = Job::observe(&paths)?;
        let v = match &job.verdict {
            Verdict::Running(v) => v.clone(),
            Verdict::Gone {
                pid,
                why: Gone::Foreign { uid },
            } => {
                return Err(Error::NotOurs {
                    pid: *pid,
                    path: paths.pidfile.clone(),
                    owner: user_name(*uid),
                    uid: *uid,
                });
            }
            other => {
                let why = match other {
                    Verdict::NoPidFile => {
                        format!("there is no PID file at {}", paths.pidfile.display())
                    }
                    Verdict::Invalid(why) => {
                        format!("{} holds no valid PID: {}", paths.pidfile.display(), why.0)
                    }
                    Verdict::Gone { pid, why } => describe_gone(*pid, why),
                    Verdict::Running(_) => unreachable!(),
                };
                eprintln!("watchdog: not running ({why}); no signal sent");
                return Ok(Exit::Failed);
            }
        };
        let program = job.program(Some(v.pid));
        let Some(h) = job::hold(&v) else {
            eprintln!(
                "watchdog: {program} (pid {}) exited just now; no signal sent",
                v.pid
            );
            return Ok(Exit::Failed);
        };
        if let Some(why) = vet(v.pid, &program) {
            eventlog::open(&paths.log, command);
            log::warn!("{why}; no signal sent");
            eprintln!("watchdog: {why}; no signal sent");
            return Ok(Exit::Failed);
        }
        held.still_held()?;
        eventlog::open(&paths.log, command);
        h.signal(sig).map_err(|e| Error::Signal {
            signal: sig.as_str().to_string(),
            pid: v.pid,
            program: program.clone(),
            source: e,
        })?;
        log::info!(
            "sent SIG{} to {program} (pid {})",
            signame::short(sig),
            v.pid
        );
        Ok(Exit::Ok)
    })
}
