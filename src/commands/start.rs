//! `watchdog start`: launch if not running; clears a "stopped" or "parked" mark and the
//! crash-loop history, since a person asked for it.

use crate::cli::LaunchArgs;
use crate::error::Result;
use crate::exit::Exit;
use crate::files::Durability;
use crate::job::{Job, Verdict};
use crate::lock::{self, Access, Held};
use crate::paths::Paths;
use crate::state::Mode;
use crate::{eventlog, launch};

pub fn run(a: &LaunchArgs) -> Result<Exit> {
    let paths = super::launch_paths(a);
    // A readiness wait (--ready-when-*) happens after the lock is released.
    let mut waiting = None;
    let exit = lock::with_lock(&paths.lock, Access::Exclusive, a.job.wait, |held| {
        start_locked(a, &paths, held, "start", &mut waiting)
    })?;
    match waiting {
        Some(p) => super::ready::after_start(a, &paths, p, "start"),
        None => Ok(exit),
    }
}

/// The body of `start`, also used by `restart` under the same lock. With readiness options,
/// a launch that survived its grace period is left in `waiting`, for the caller to wait for
/// once it has released the lock (`commands/ready.rs`), and nothing is printed yet.
///
/// # Errors
/// As `launch::launch`, and `DiedAtLaunch`, `StayDown`.
pub fn start_locked(
    a: &LaunchArgs,
    paths: &Paths,
    held: &Held,
    command: &'static str,
    waiting: &mut Option<super::ready::Pending>,
) -> Result<Exit> {
    eventlog::open(&paths.log, command);
    super::rotate::at_check(a, paths, command);
    let mut job = Job::observe(paths)?;
    let spec = super::spec_of(a);
    if let Verdict::Running(v) = &job.verdict {
        let v = v.clone();
        if v.adopted {
            job.record_adoption(&v)?;
        }
        job.repair_pidfile()?;
        if job.state.mode != Mode::Running {
            job.state.set_mode(Mode::Running);
            job.save(Durability::Synced)?;
        }
        println!(
            "watchdog: {} is already running as pid {}",
            job.program(Some(v.pid)),
            v.pid
        );
        return Ok(Exit::Ok);
    }
    if job.state.mode != Mode::Running {
        log::info!("cleared the {:?} mark", job.state.mode);
    }
    job.state.launches.clear();
    job.state.limit = Some(super::limit_of(a));
    let launched = launch::launch(&spec, paths, &mut job.state, &job.boot_id, held)?;
    let pid = super::watch_grace(&spec, &mut job, &launched)?;
    let message = format!("started {} as pid {pid}", spec.display());
    match super::ready::pending(a, &job, launched, message.clone()) {
        Some(p) => *waiting = Some(p),
        None => println!("watchdog: {message}"),
    }
    Ok(Exit::Ok)
}
