//! One file per subcommand. Each runs under the job lock and returns an `Exit`; errors
//! bubble up to `main`, which prints them once.

pub mod check;
pub mod kill;
pub mod restart;
pub mod start;
pub mod status;
pub mod stop;
pub mod watch;

use crate::cli::{JobArgs, LaunchArgs};
use crate::error::{Error, Result};
use crate::files::Durability;
use crate::job::Job;
use crate::launch::{self, Launched, Spec};
use crate::paths::Paths;
use crate::pidfile::Pid;

/// The paths of a command that launches.
fn launch_paths(a: &LaunchArgs) -> Paths {
    Paths::new(
        &a.job.pidfile,
        a.stdout.as_deref(),
        a.stderr.as_deref(),
        a.job.log.as_deref(),
    )
}

/// The paths of a command that does not launch.
fn job_paths(j: &JobArgs) -> Paths {
    Paths::new(&j.pidfile, None, None, j.log.as_deref())
}

/// The crash-loop limit of a launch, recorded in the state file for `status`.
fn limit_of(a: &LaunchArgs) -> crate::state::Limit {
    crate::state::Limit {
        max_launches: a.max_launches,
        within: a.within.as_secs_f64(),
    }
}

fn spec_of(a: &LaunchArgs) -> Spec {
    Spec {
        argv: a.program.clone(),
        chdir: a.chdir.clone(),
        env: a.env.clone(),
        umask: a.umask,
        grace: a.grace,
    }
}

/// Waits out the grace period of a launch. A death in that time is recorded in the state
/// file and becomes `DiedAtLaunch`, with the exit status and the tail of stderr.
///
/// # Errors
/// `DiedAtLaunch` when the program died within the grace period.
fn watch_grace(spec: &Spec, job: &mut Job, launched: &Launched) -> Result<Pid> {
    let Some(status) = launch::watch_grace(launched, spec.grace) else {
        return Ok(launched.pid);
    };
    let how = launch::describe_status(&status);
    job.state.last_exit = Some(format!("{how} within the grace period"));
    let _ = job.save(Durability::Atomic);
    let program = spec.display();
    log::error!(
        "{program} (pid {}) {how} within {} of launch",
        launched.pid,
        crate::duration::show(spec.grace)
    );
    Err(Error::DiedAtLaunch {
        program,
        pid: launched.pid,
        how,
        grace: crate::duration::show(spec.grace),
        tail: launch::stderr_tail(launched, &job.paths.stderr),
    })
}
