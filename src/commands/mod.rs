//! One file per subcommand. Each runs under the job lock and returns an `Exit`; errors
//! bubble up to `main`, which prints them once.

pub mod check;
pub mod completions; // also `man`
pub mod cron;
pub mod doctor;
pub mod from_config; // --config FILE [NAME]: the same commands, for the programs of a file
pub mod health; // --healthy-when-*, --unhealthy-after: probes and restarts at check time
pub mod kill;
pub mod log_cmd; // `watchdog log`; not `log`, which would hide the log crate's macros here
pub mod ready; // readiness waits after a launch, with the lock released
pub mod reload; // `watchdog reload`: the reload signal, if the program has a handler
pub mod restart;
pub mod rotate;
pub mod run; // `watchdog run`: a launch in the foreground
pub mod start;
pub mod status;
pub mod stop;
pub mod stop_command; // --stop-command before the ladder
pub mod watch;

use crate::cli::{Command, JobArgs, LaunchArgs};
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::files::Durability;
use crate::job::Job;
use crate::launch::{self, Launched, Spec};
use crate::paths::Paths;
use crate::pidfile::Pid;

/// Runs one parsed command: `main`'s dispatch, also used for each program of a `--config`
/// file (`from_config.rs`).
///
/// # Errors
/// Whatever the command fails with; `main` prints it once.
pub fn dispatch(command: &Command) -> Result<Exit> {
    match command {
        Command::Check(a) => check::run(a),
        Command::Start(a) => start::run(a),
        Command::Stop(a) => stop::run(a),
        Command::Restart(a) => restart::run(a),
        Command::Status(a) => status::run(a),
        Command::Kill(a) => kill::run(a),
        Command::Reload(a) => reload::run(a),
        Command::Run(a) => run::run(a),
        Command::Rotate(a) => rotate::run(a),
        Command::Cron(a) => cron::run(a),
        Command::Doctor(a) => doctor::run(a),
        Command::Log(a) => log_cmd::run(a),
        Command::Completions(a) => completions::completions(a),
        Command::Man(a) => completions::man(a),
    }
}

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
        program_writes_pidfile: a.supervision.program_writes_pidfile,
        stay_down_on: a.supervision.stay_down_on.clone(),
        user: a.supervision.user.clone(),
    }
}

/// `--stay-down-on`: the recorded program `pid` ended `how`, with a listed status. Marks the
/// job stopped (durably, as `stop` does), forgets the program, and says why in the event log.
/// Call under the lock.
///
/// # Errors
/// When the state file cannot be written.
fn mark_stays_down(job: &mut Job, program: &str, pid: Pid, how: &str) -> Result<()> {
    job.state.set_mode(crate::state::Mode::Stopped);
    job.state.identity = None;
    job.state.launcher = None;
    job.state.last_exit = Some(format!("{how} (listed in --stay-down-on)"));
    job.save(Durability::Synced)?;
    crate::files::remove(&job.paths.pidfile, "PID file")?;
    log::warn!(
        "{program} (pid {pid}) {how}, which --stay-down-on lists: marked stopped; check leaves \
         it down until `watchdog start`"
    );
    Ok(())
}

/// Waits out the grace period of a launch. A death in that time is recorded in the state
/// file and becomes `DiedAtLaunch`, with the exit status and the tail of stderr; an exit
/// status listed in `--stay-down-on` marks the job stopped and becomes `StayDown`.
///
/// # Errors
/// `DiedAtLaunch` or `StayDown` when the program died within the grace period.
fn watch_grace(spec: &Spec, job: &mut Job, launched: &Launched) -> Result<Pid> {
    let Some(end) = launch::watch_grace(launched, spec.grace) else {
        return Ok(launched.pid);
    };
    let how = launch::describe_end(&end);
    if let launch::Ended::Status(status) = &end {
        if spec.stays_down(status) {
            let program = spec.display();
            let how = format!("{how} within the grace period");
            mark_stays_down(job, &program, launched.pid, &how)?;
            return Err(Error::StayDown {
                program,
                pid: launched.pid,
                how,
                tail: launch::stderr_tail(launched, &job.paths.stderr),
            });
        }
    }
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
