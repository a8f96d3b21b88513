//! `watchdog check`: the cron job.
//!
//! Lock, read the PID file and state, verify the process. Healthy (or stopped on purpose):
//! exit 0 having printed nothing. Parked after a crash loop: exit 1, silently. Otherwise
//! launch, record, wait out the grace period, print one line to stderr for cron to mail.

use crate::cli::LaunchArgs;
use crate::error::Result;
use crate::exit::Exit;
use crate::files::Durability;
use crate::job::{Job, Verdict, describe_gone};
use crate::lock::{self, Access};
use crate::state::Mode;
use crate::{clock, duration, eventlog, launch};

pub fn run(a: &LaunchArgs) -> Result<Exit> {
    let paths = super::launch_paths(a);
    lock::with_lock(&paths.lock, Access::Exclusive, a.job.wait, |held| {
        let mut job = Job::observe(&paths)?;
        let why_not = match &job.verdict {
            Verdict::Running(v) => {
                if v.adopted {
                    eventlog::open(&paths.log, "check");
                    let v = v.clone();
                    job.record_adoption(&v)?;
                }
                return Ok(Exit::Ok);
            }
            Verdict::NoPidFile => match job.state.cmd {
                None => "was not started yet".to_string(),
                Some(_) => format!(
                    "was not running (no PID file at {})",
                    paths.pidfile.display()
                ),
            },
            Verdict::Invalid(why) => format!(
                "was not running ({} held no valid PID: {})",
                paths.pidfile.display(),
                why.0
            ),
            Verdict::Gone { pid, why } => format!("was not running ({})", describe_gone(*pid, why)),
        };
        match job.state.mode {
            Mode::Stopped => return Ok(Exit::Ok),
            Mode::Parked => return Ok(Exit::Failed),
            Mode::Running => {}
        }

        eventlog::open(&paths.log, "check");
        let spec = super::spec_of(a);
        let program = spec.display();
        log::warn!("{program} {why_not}");

        let now = clock::boot_now();
        let recent = job.state.launches_within(now, a.within.as_secs_f64());
        if recent >= a.max_launches as usize {
            job.state.set_mode(Mode::Parked);
            job.save(Durability::Synced)?;
            let msg = format!(
                "{program} {why_not}, and was launched {recent} times within {}: parked, so \
                 check will not relaunch it; see {} and {}, fix it, then run `watchdog start \
                 --pidfile {} -- ...` to resume",
                duration::show(a.within),
                paths.stderr.display(),
                paths.log.display(),
                paths.pidfile.display()
            );
            log::error!("{msg}");
            eprintln!("watchdog: {msg}");
            return Ok(Exit::Failed);
        }

        let first = matches!(job.verdict, Verdict::NoPidFile) && job.state.cmd.is_none();
        let launched = launch::launch(&spec, &paths, &mut job.state, &job.boot_id, held)?;
        let pid = super::watch_grace(&spec, &mut job, &launched)?;
        match &job.verdict {
            _ if first => {
                eprintln!("watchdog: started {program} as pid {pid} (first launch)");
            }
            Verdict::Gone { pid: old, .. } => {
                eprintln!("watchdog: {program} (old pid {old}) {why_not}; relaunched as pid {pid}");
            }
            _ => eprintln!("watchdog: {program} {why_not}; relaunched as pid {pid}"),
        }
        Ok(Exit::Ok)
    })
}
