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
    lock::with_lock(&paths.lock, Access::Exclusive, a.job.wait, |held| {
        start_locked(a, &paths, held, "start")
    })
}

/// The body of `start`, also used by `restart` under the same lock.
///
/// # Errors
/// As `launch::launch`, and `DiedAtLaunch`.
pub fn start_locked(
    a: &LaunchArgs,
    paths: &Paths,
    held: &Held,
    command: &'static str,
) -> Result<Exit> {
    eventlog::open(&paths.log, command);
    let mut job = Job::observe(paths)?;
    let spec = super::spec_of(a);
    if let Verdict::Running(v) = &job.verdict {
        let v = v.clone();
        if v.adopted {
            job.record_adoption(&v)?;
        }
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
    println!("watchdog: started {} as pid {pid}", spec.display());
    Ok(Exit::Ok)
}
