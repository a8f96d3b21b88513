//! `watchdog rotate`, and the rotation step that `check`, `start`, `restart` and a watch run
//! under the job lock. The mechanism (and why no byte is lost) is in `crate::rotate`; this
//! file decides when it runs and what is said about it.
//!
//! Rules kept here:
//! - Without `--rotate-size`, the launching commands do no rotation work at all: not a
//!   `stat`, not an event-log open.
//! - With it, a check that finds nothing to rotate costs one `stat(2)` per distinct output
//!   file, and opens nothing (not even the event log).
//! - A rotation that fails is logged and printed (cron mails it), but never fails the
//!   check: keeping the program running matters more than its output's size.
//! - Rotation always runs under the job lock: the callers hold it, and `rotate` and the
//!   watch's periodic step take it.
//! - A root watchdog running the program as `--user NAME` rotates with that user's
//!   file-system permissions (`ActingAs`), unless the file's directory is one only root
//!   controls (`user::root_may_open`, the rule `launch` follows for opening it): a user must
//!   not be able to point a rotation at a file only root may change.

use std::io;
use std::path::Path;
use std::time::Duration;

use crate::acting_as::ActingAs;
use crate::cli::{LaunchArgs, RotateArgs, RotationArgs};
use crate::error::{Error, Result};
use crate::eventlog;
use crate::exit::Exit;
use crate::lock::{self, Access};
use crate::paths::Paths;
use crate::rotate::{self, Done, Method, Policy};
use crate::{size, user};

/// `watchdog rotate`: every output file larger than `--rotate-size` (default: larger than
/// one filesystem block), now. Prints one line per file; exit 1 if any rotation failed.
///
/// # Errors
/// `Busy` when the lock is held past `--wait`; the first rotation that failed (the others
/// are printed as they happen).
pub fn run(a: &RotateArgs) -> Result<Exit> {
    let paths = Paths::new(
        &a.job.pidfile,
        a.stdout.as_deref(),
        a.stderr.as_deref(),
        a.job.log.as_deref(),
    );
    let policy = Policy {
        limit: a.rotate_size.unwrap_or(0),
        keep: a.rotate_keep,
        compress: a.rotate_compress,
    };
    lock::with_lock(&paths.lock, Access::Exclusive, a.job.wait, |_held| {
        eventlog::open(&paths.log, "rotate");
        let mut failed = None;
        for path in outputs(&paths) {
            match rotate_as(path, &policy, a.user.as_deref()) {
                Ok(done) => println!("watchdog: {}", describe(path, &policy, &done)),
                Err(e) => {
                    log::error!("{e}");
                    match failed {
                        None => failed = Some(e),
                        Some(_) => eprintln!("watchdog: {e}"),
                    }
                }
            }
        }
        failed.map_or(Ok(Exit::Ok), Err)
    })
}

/// The rotation step of `check` (cron's and a watch's), `start`, `restart` and `run`; call
/// it under the job lock, before any launch (so that a launch's stderr offset is taken
/// afterwards). `command` names the command in the event log.
pub fn at_check(a: &LaunchArgs, paths: &Paths, command: &'static str) {
    let Some(policy) = policy_of(&a.rotation) else {
        return;
    };
    for path in outputs(paths) {
        if !rotate::needs_rotation(path, policy.limit) {
            continue;
        }
        eventlog::open(&paths.log, command);
        if let Err(e) = rotate_as(path, &policy, a.supervision.user.as_deref()) {
            log::error!("{e}; the file was not rotated");
            eprintln!("watchdog: {e}; the file was not rotated");
        }
    }
}

/// How often a watcher wakes to rotate: `--rotate-interval` with `--rotate-size`, `None`
/// without it (then a watcher never wakes for rotation).
pub fn watch_interval(r: &RotationArgs) -> Option<Duration> {
    r.rotate_size.map(|_| r.rotate_interval)
}

/// A watcher's periodic rotation, between events: takes the lock as a check would, rotates,
/// lets go. It does not wait for the lock: a holder is another run (a check, which rotates
/// too, or a stop), and the watcher must stay free to relaunch; the next tick tries again.
pub fn in_watch(a: &LaunchArgs) {
    let paths = super::launch_paths(a);
    let r = lock::with_lock(&paths.lock, Access::Exclusive, Duration::ZERO, |_held| {
        at_check(a, &paths, "check");
        Ok(())
    });
    match r {
        Ok(()) | Err(Error::Busy { .. }) => {}
        Err(e) => {
            eventlog::open(&paths.log, "check");
            log::warn!("{e}; output rotation skipped this round");
        }
    }
}

/// Rotates `path` with the right identity: root's own, or with `--user` (as root) the
/// user's, unless the file's directory is controlled by root alone (see the module doc).
///
/// # Errors
/// As `rotate::rotate`; also an unknown user, or a failed switch of identity.
fn rotate_as(path: &Path, policy: &Policy, user: Option<&str>) -> Result<Done> {
    let Some(name) = user else {
        return rotate::rotate(path, policy);
    };
    if let Some(resolved) = user::root_may_open(path) {
        return rotate::rotate(&resolved, policy);
    }
    let refuse = |why: String| Error::io("rotate output file", path, io::Error::other(why));
    let target = user::resolve(name).map_err(refuse)?;
    let _as_user = ActingAs::user(&target).map_err(refuse)?;
    rotate::rotate(path, policy)
}

fn policy_of(r: &RotationArgs) -> Option<Policy> {
    Some(Policy {
        limit: r.rotate_size?,
        keep: r.rotate_keep,
        compress: r.rotate_compress,
    })
}

/// The distinct output files (`--stderr` may name the stdout file).
fn outputs(paths: &Paths) -> impl Iterator<Item = &Path> {
    let err = (paths.stderr != paths.stdout).then_some(paths.stderr.as_path());
    std::iter::once(paths.stdout.as_path()).chain(err)
}

/// One line for `watchdog rotate`'s stdout.
fn describe(path: &Path, policy: &Policy, done: &Done) -> String {
    let p = path.display();
    match done {
        Done::Absent => format!("{p} does not exist: nothing to rotate"),
        Done::NotRegular => format!("{p} is not a regular file: not rotated"),
        Done::Small { size, block } if policy.limit >= *block => format!(
            "{p} is {size} bytes, not larger than {}: not rotated",
            size::show(policy.limit)
        ),
        Done::Small { size, block } => format!(
            "{p} is {size} bytes, not larger than one filesystem block ({block} bytes, the \
             least that can be moved): not rotated"
        ),
        Done::TruncatedMeanwhile { to } => format!(
            "copied {p} to {}; another tool truncated it meanwhile, so it was left as is",
            to.display()
        ),
        Done::Rotated {
            to,
            moved,
            left,
            method: Method::Collapse,
        } => format!(
            "rotated {p}: {moved} bytes to {}, {left} bytes stay (nothing lost)",
            to.display()
        ),
        Done::Rotated {
            to,
            moved,
            method: Method::CopyTruncate { fs, window },
            ..
        } => format!(
            "rotated {p} by copy and truncate ({fs} cannot collapse a file's head): {moved} \
             bytes to {}; what the program wrote in the {}µs window before the truncate was lost",
            to.display(),
            window.as_micros()
        ),
    }
}
