//! `watchdog kill SIGNAL`: one signal to the verified program (the program alone, not its
//! session: a reload signal such as HUP or USR1 is meant for it).

use crate::cli::KillArgs;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::files::user_name;
use crate::identity::Gone;
use crate::job::{self, Job, Verdict, describe_gone};
use crate::lock::{self, Access};
use crate::{eventlog, signame};

pub fn run(a: &KillArgs) -> Result<Exit> {
    let paths = super::job_paths(&a.job);
    lock::with_lock(&paths.lock, Access::Exclusive, a.job.wait, |held| {
        let job = Job::observe(&paths)?;
        let sig = a.signal;
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
        held.still_held()?;
        eventlog::open(&paths.log, "kill");
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
