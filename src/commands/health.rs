//! Health at check time (`--healthy-when-cmd`, `--healthy-when-port`, `--unhealthy-after`):
//! a program can be alive and hung, and `check` is where that is noticed.
//!
//! Order, for a check that found the program running (`check.rs`):
//! 1. Under the check's lock: `due` notes the program (pid, start time) and its failures so
//!    far (the state file's `unhealthy` line). Without health options it returns `None`
//!    after two field tests: a healthy check costs nothing more than before.
//! 2. With the lock released: the probe (`health.rs`), bounded by `--health-timeout`, so
//!    that `status`, `stop` and other checks stay instant while it runs.
//! 3. A probe that passes with no failures on record ends the check: no lock, no write, no
//!    event-log line. Otherwise the lock is taken again and, only if the job still records
//!    the same program and is meant to run, the outcome is recorded: a pass clears the count
//!    (logged); a failure raises it (logged, with the probe's words; nothing on stderr).
//! 4. At `--unhealthy-after` failures in a row the program is stopped, under that same hold
//!    of the lock, with `--stop-command` and check's `--ladder` (`stop_command.rs`), without
//!    marking the job stopped (an interrupted restart leaves a job the next check
//!    relaunches), and launched again as a check launches (`check::check_locked`: the
//!    crash-loop limit counts it, the grace period and readiness apply). One line on stderr
//!    says why: "... failed its health check 3 times in a row (...): stopped it with SIGINT
//!    and relaunched it as pid 4243". A program that outlives the ladder is not relaunched
//!    (exit 1, as a failed stop: two copies would be worse).
//!
//! Watch mode (`check --watch`) probes once, as the watch starts (`before_watch`), that is
//! once a minute with the usual crontab line, as a plain check does: the watcher itself
//! waits on the program's pidfd and does not wake to probe. Past the limit it only stops the
//! program (one line on stderr), and the watch's first step relaunches it as its own child,
//! so that it can see that launch's exit status as for any other.

use crate::cli::{CheckArgs, LaunchArgs};
use crate::error::Result;
use crate::eventlog;
use crate::exit::Exit;
use crate::files::Durability;
use crate::health::{self, Health};
use crate::identity::Verified;
use crate::job::{self, Job, Verdict};
use crate::lock::{self, Access};
use crate::paths::Paths;
use crate::pidfile::Pid;
use crate::shell_command::ShellCommand;
use crate::state::{Mode, Unhealthy};

use super::check::{Outcome, check_locked};

/// A probe to run once the lock is released (step 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pid: Pid,
    start_ticks: u64,
    /// Failures in a row so far.
    failures: u32,
}

/// Step 1: whether a probe is due for the running program `v`. Call under the lock.
pub fn due(a: &LaunchArgs, job: &Job, v: &Verified) -> Option<Due> {
    if !health::configured(&a.health) || job.state.mode != Mode::Running {
        return None;
    }
    Some(Due {
        pid: v.pid,
        start_ticks: v.stat.start_ticks,
        failures: job.state.unhealthy_count(v.pid, v.stat.start_ticks),
    })
}

/// What to do at the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Then {
    /// Stop and launch again, under the same hold of the lock (a plain check).
    Relaunch,
    /// Stop only: the watch that follows launches it (`before_watch`).
    LeaveToWatch,
}

/// Steps 2 to 4 for a plain check.
///
/// # Errors
/// As a check's launch, `Survived` when the program outlives the ladder, and errors taking
/// the lock or writing the state file.
pub fn after_check(c: &CheckArgs, paths: &Paths, due: Due) -> Result<Exit> {
    act(c, paths, due, Then::Relaunch)
}

/// `check --watch`: one probe before the watch starts, if the program runs (see the module
/// doc). Nothing at all without health options.
///
/// # Errors
/// As `after_check`.
pub fn before_watch(c: &CheckArgs) -> Result<()> {
    let a = &c.launch;
    if !health::configured(&a.health) {
        return Ok(());
    }
    let paths = super::launch_paths(a);
    let due = lock::with_lock(&paths.lock, Access::Shared, a.job.wait, |_| {
        let job = Job::observe(&paths)?;
        Ok(match &job.verdict {
            Verdict::Running(v) => due(a, &job, v),
            _ => None,
        })
    })?;
    if let Some(d) = due {
        act(c, &paths, d, Then::LeaveToWatch)?;
    }
    Ok(())
}

/// The health command set up as the program runs (its directory, environment and user).
fn shell_of(a: &LaunchArgs) -> Option<std::result::Result<ShellCommand, String>> {
    let cmd = a.health.healthy_when_cmd.as_ref()?;
    Some(ShellCommand::for_program(
        cmd,
        &a.env,
        a.chdir.as_deref(),
        a.supervision.user.as_deref(),
    ))
}

fn act(c: &CheckArgs, paths: &Paths, due: Due, then: Then) -> Result<Exit> {
    let a = &c.launch;
    let health = match shell_of(a) {
        Some(Err(why)) => Health::Unhealthy(format!("the health command cannot run: {why}")),
        Some(Ok(shell)) => health::probe(&a.health, Some(&shell), due.pid),
        None => health::probe(&a.health, None, due.pid),
    };
    if health == Health::Healthy && due.failures == 0 {
        return Ok(Exit::Ok);
    }
    let spec = super::spec_of(a);
    let program = spec.display();
    let mut waiting = None;
    let exit = lock::with_lock(&paths.lock, Access::Exclusive, a.job.wait, |held| {
        let mut job = Job::observe(paths)?;
        let v = match &job.verdict {
            Verdict::Running(v) if v.pid == due.pid && v.stat.start_ticks == due.start_ticks => {
                v.clone()
            }
            // It died, was stopped or replaced meanwhile: whoever did that reports it, and
            // a count of another program means nothing.
            _ => return Ok(Exit::Ok),
        };
        if job.state.mode != Mode::Running {
            return Ok(Exit::Ok);
        }
        let before = job.state.unhealthy_count(due.pid, due.start_ticks);
        eventlog::open(&paths.log, "check");
        let why = match &health {
            Health::Healthy => {
                job.state.unhealthy = None;
                job.save(Durability::Atomic)?;
                log::info!(
                    "{program} (pid {}) passed its health check again, after {before} failed \
                     in a row",
                    due.pid
                );
                return Ok(Exit::Ok);
            }
            Health::Unhealthy(why) => why.clone(),
        };
        let count = before + 1;
        let limit = a.health.unhealthy_after;
        if count < limit {
            job.state.unhealthy = Some(Unhealthy {
                count,
                pid: due.pid,
                start_ticks: due.start_ticks,
            });
            job.save(Durability::Atomic)?;
            log::warn!(
                "{program} (pid {}) failed its health check ({count} of {limit} in a row before \
                 a restart): {why}",
                due.pid
            );
            return Ok(Exit::Ok);
        }
        let times = match count {
            1 => String::new(),
            n => format!(" {n} times in a row"),
        };
        let said = format!(
            "{program} (pid {}) failed its health check{times} ({why})",
            due.pid
        );
        log::error!("{said}: restarting it");
        let Some(leader) = job::hold(&v) else {
            // It exited just now: the next check relaunches it as for any death.
            return Ok(Exit::Ok);
        };
        held.still_held()?;
        let sid = v.leads_session().then_some(v.pid.raw());
        let command = super::stop_command::of_launch(a);
        let Some(by) =
            super::stop_command::stop_program(&leader, sid, &c.ladder, command.as_ref(), &program)?
        else {
            let e = super::stop::survived(&leader, v.pid, program.clone(), &c.ladder);
            log::error!("{e}");
            eprintln!("watchdog: {said}");
            return Err(e);
        };
        job.state.unhealthy = None;
        job.state.last_exit = Some(format!(
            "stopped by watchdog with {by}: {count} failed health checks in a row"
        ));
        job.save(Durability::Atomic)?;
        log::info!("stopped {program} (pid {}) with {by}", v.pid);
        if then == Then::LeaveToWatch {
            eprintln!("watchdog: {said}: stopped it with {by}; the watch relaunches it");
            return Ok(Exit::Ok);
        }
        let mut job = Job::observe(paths)?;
        match check_locked(a, &mut job, held)? {
            Outcome::Launched { launched, .. } => {
                let message = format!(
                    "{said}: stopped it with {by} and relaunched it as pid {}",
                    launched.pid
                );
                if let Err(e) = super::watch_grace(&spec, &mut job, &launched) {
                    eprintln!("watchdog: {said}: stopped it with {by}");
                    return Err(e);
                }
                match super::ready::pending(a, &job, launched, message.clone()) {
                    Some(p) => waiting = Some(p),
                    None => eprintln!("watchdog: {message}"),
                }
                Ok(Exit::Ok)
            }
            // check_locked said why it parked the job.
            Outcome::Parked => {
                eprintln!("watchdog: {said}: stopped it with {by}");
                Ok(Exit::Failed)
            }
            Outcome::Healthy(_) | Outcome::Stopped => Ok(Exit::Ok),
        }
    })?;
    match waiting {
        Some(p) => super::ready::after_check(a, paths, p),
        None => Ok(exit),
    }
}
