//! `watchdog check`: the cron job.
//!
//! Lock, read the PID file and state, verify the process. Healthy (or stopped on purpose):
//! exit 0 having printed nothing. Parked after a crash loop: exit 1, silently (it said so
//! once, when it parked). Otherwise launch, record, wait out the grace period, and print one
//! line to stderr for cron to mail. With `--watch`, go on watching (see `watch.rs`). With
//! `--healthy-when-*`, a running program is probed once the lock is released, and restarted
//! after `--unhealthy-after` failures in a row (see `health.rs`).

use crate::cli::{CheckArgs, LaunchArgs};
use crate::error::Result;
use crate::exit::Exit;
use crate::files::Durability;
use crate::identity::Verified;
use crate::job::{Job, Verdict, describe_gone};
use crate::launch::{self, Launched};
use crate::lock::{self, Access, Held};
use crate::paths::Paths;
use crate::state::Mode;
use crate::{clock, duration, eventlog};

pub fn run(c: &CheckArgs) -> Result<Exit> {
    if let Some(watch) = c.watch {
        // --healthy-when-*: one probe as the watch starts (`health.rs`).
        super::health::before_watch(c)?;
        return super::watch::run(&c.launch, watch);
    }
    let a = &c.launch;
    let paths = super::launch_paths(a);
    // A readiness wait (--ready-when-*) happens after the lock is released.
    let mut waiting = None;
    // A health probe (--healthy-when-*) also happens after the lock is released.
    let mut probe = None;
    let exit = lock::with_lock(&paths.lock, Access::Exclusive, a.job.wait, |held| {
        let mut job = Job::observe(&paths)?;
        match check_locked(a, &mut job, held)? {
            Outcome::Healthy(v) => {
                probe = super::health::due(a, &job, &v);
                Ok(Exit::Ok)
            }
            Outcome::Stopped => Ok(Exit::Ok),
            Outcome::Parked => Ok(Exit::Failed),
            Outcome::Launched { launched, message } => {
                let spec = super::spec_of(a);
                super::watch_grace(&spec, &mut job, &launched)?;
                match super::ready::pending(a, &job, launched, message.clone()) {
                    Some(p) => waiting = Some(p),
                    None => eprintln!("watchdog: {message}"),
                }
                Ok(Exit::Ok)
            }
        }
    })?;
    if let Some(due) = probe {
        return super::health::after_check(c, &paths, due);
    }
    match waiting {
        Some(p) => super::ready::after_check(a, &paths, p),
        None => Ok(exit),
    }
}

/// What one check found or did.
#[derive(Debug)]
pub enum Outcome {
    /// The program runs and is ours.
    Healthy(Verified),
    /// Stopped on purpose: nothing to do.
    Stopped,
    /// Parked after a crash loop (the message was printed when it parked).
    Parked,
    /// Launched now; `message` is the line for cron's mail, to print once the launch has
    /// survived its grace period.
    Launched { launched: Launched, message: String },
}

/// The body of a check, under the lock: decide and, if needed, launch (without waiting for
/// the grace period, which is the caller's choice).
///
/// # Errors
/// Launch failures (see `launch::launch`) and state-file errors.
pub fn check_locked(a: &LaunchArgs, job: &mut Job, held: &Held) -> Result<Outcome> {
    let paths: Paths = job.paths.clone();
    // Healthy or not, and before any launch: nothing at all without --rotate-size.
    super::rotate::at_check(a, &paths, "check");
    let why_not = match &job.verdict {
        Verdict::Running(v) => {
            let v = v.clone();
            if v.adopted {
                eventlog::open(&paths.log, "check");
                job.record_adoption(&v)?;
            }
            if job.pidfile_stale.is_some() {
                eventlog::open(&paths.log, "check");
                job.repair_pidfile()?;
            }
            return Ok(Outcome::Healthy(v));
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
        Mode::Stopped => return Ok(Outcome::Stopped),
        Mode::Parked => return Ok(Outcome::Parked),
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
        return Ok(Outcome::Parked);
    }

    let first = matches!(job.verdict, Verdict::NoPidFile) && job.state.cmd.is_none();
    job.state.limit = Some(super::limit_of(a));
    let launched = launch::launch(&spec, &paths, &mut job.state, &job.boot_id, held)?;
    let pid = launched.pid;
    let message = match &job.verdict {
        _ if first => format!("started {program} as pid {pid} (first launch)"),
        // why_not names the old PID already ("pid 123 is gone").
        _ => format!("{program} {why_not}; relaunched as pid {pid}"),
    };
    Ok(Outcome::Launched { launched, message })
}
