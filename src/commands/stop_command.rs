//! `--stop-command COMMAND` (servolux's `shutdown_command`): stopping a program the way its
//! own tools do (`nginx -s quit`, `redis-cli shutdown`), before the stop ladder.
//!
//! Order, for `stop`, `restart` and the restart of an unhealthy program (`health.rs`):
//! 1. The program is verified and held by pidfd by the caller, as for the ladder.
//! 2. COMMAND runs with `/bin/sh -c` and `WATCHDOG_PID=<pid>` in its environment
//!    (`shell_command.rs`: own process group, output kept for the event log).
//! 3. The program and its whole session get the ladder's first step's time to be gone,
//!    counted from the command's start. Gone: done ("stopped with its --stop-command"); the
//!    command, if it still runs, gets the rest of that time to finish, then is killed.
//! 4. Not gone in time, or the command failed (exited non-zero, could not start): the
//!    command is killed if it still runs, and the whole ladder follows, from its first step.
//!
//! The command never decides alone: success is the program being gone, whatever the
//! command's status, so a command that "succeeds" without stopping anything still ends in
//! the ladder.

use std::fmt;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::cli::LaunchArgs;
use crate::error::Result;
use crate::ladder::Ladder;
use crate::pidfd::Handle;
use crate::shell_command::{End, ShellCommand};
use crate::{duration, signame};

/// What made the program go away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    /// `--stop-command`.
    Command,
    /// This step of the ladder.
    Signal(Signal),
}

impl fmt::Display for By {
    /// "SIGINT", or "its --stop-command", to follow "stopped ... with ".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            By::Command => f.write_str("its --stop-command"),
            By::Signal(sig) => write!(f, "SIG{}", signame::short(*sig)),
        }
    }
}

/// The stop command of a command that has the launch options (the program's directory,
/// environment and user). A `--user` that cannot be resolved (not root) leaves the command to
/// run as the watchdog's own user, which is then the program's too.
pub fn of_launch(a: &LaunchArgs) -> Option<ShellCommand> {
    let cmd = a.stopping.stop_command.as_ref()?;
    let user = a.supervision.user.as_deref();
    ShellCommand::for_program(cmd, &a.env, a.chdir.as_deref(), user)
        .or_else(|_| ShellCommand::for_program(cmd, &a.env, a.chdir.as_deref(), None))
        .ok()
}

/// The stop command of `stop`, which has no launch options: the watchdog's own
/// environment and directory.
pub fn bare(command: Option<&std::ffi::OsString>) -> Option<ShellCommand> {
    ShellCommand::for_program(command?, &[], None, None).ok()
}

/// Stops the program held by `leader` (and with `sid`, its whole session): the stop
/// command first when there is one, then the ladder if anything is left. `None` when
/// something outlived the ladder.
///
/// # Errors
/// `Signal` when the leader cannot be signalled for a reason other than having exited.
pub(crate) fn stop_program(
    leader: &Handle,
    sid: Option<i32>,
    ladder: &Ladder,
    command: Option<&ShellCommand>,
    program: &str,
) -> Result<Option<By>> {
    if let Some(cmd) = command {
        let time = ladder
            .0
            .first()
            .map_or(Duration::from_secs(2), |&(_, wait)| wait);
        if run_command(cmd, leader, sid, time, program) {
            return Ok(Some(By::Command));
        }
    }
    Ok(super::stop::run_ladder(leader, sid, ladder, program)?.map(By::Signal))
}

/// Steps 2 and 3 of the module doc; true when the program and its session are gone.
fn run_command(
    cmd: &ShellCommand,
    leader: &Handle,
    sid: Option<i32>,
    time: Duration,
    program: &str,
) -> bool {
    let pid = leader.pid;
    log::info!(
        "running --stop-command {} for {program} (pid {pid}); it has {} to end it",
        cmd.shown(),
        duration::show(time)
    );
    let mut run = match cmd.spawn(&[("WATCHDOG_PID", pid.to_string())]) {
        Ok(r) => r,
        Err(why) => {
            log::warn!(
                "--stop-command {} could not be started: {why}; using the stop ladder",
                cmd.shown()
            );
            return false;
        }
    };
    let deadline = Instant::now() + time;
    let mut ended: Option<End> = None;
    let gone = loop {
        if super::stop::all_gone(leader, sid) {
            break true;
        }
        if ended.is_none() {
            ended = run.wait(Duration::ZERO);
            if ended.as_ref().is_some_and(|e| *e != End::Exited(0)) {
                break false;
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break false;
        }
        let slice = left.min(Duration::from_millis(10));
        if leader.exited() {
            std::thread::sleep(slice);
        } else {
            leader.wait_exit(slice);
        }
    };
    // A command still running after the program is gone may finish within the time left.
    if ended.is_none() && gone {
        ended = run.wait(deadline.saturating_duration_since(Instant::now()));
    }
    let done = run.finish(ended.unwrap_or(End::TimedOut(time)));
    if gone {
        log::info!(
            "--stop-command {} {}; {program} (pid {pid}) is gone",
            cmd.shown(),
            done.describe()
        );
    } else {
        log::warn!(
            "--stop-command {} {}; {program} (pid {pid}) {} after {}: using the stop ladder",
            cmd.shown(),
            done.describe(),
            if leader.exited() {
                "exited, but processes of its session live on"
            } else {
                "still runs"
            },
            duration::show(time)
        );
    }
    gone
}
