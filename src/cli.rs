//! The command line (clap derive). The first line of each doc comment is the short help;
//! the rest is shown by `--help`. The exit-code table here must match `exit.rs` and the
//! README.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::ladder::{self, Ladder};
use crate::{duration, signame};

const AFTER_HELP: &str = "\
Exit codes:
  0  success: the program runs (already, or now), was stopped, or the signal was sent
  1  failure: could not launch, died during the grace period, survived the stop ladder,
     not running (kill), refused for safety, parked after a crash loop (check);
     status: dead, but the PID file exists (died, PID reused, parked)
  2  usage error
  3  status: not running (never started, or stopped on purpose)
  4  status: unknown (the PID file or state cannot be read, is invalid or unsafe)
  5  busy: another watchdog run held the lock for longer than --wait

A healthy check prints nothing, so cron mails you only when something happened.

The crontab line (crontab -e; see crontab.example):
  * * * * * $HOME/.cargo/bin/watchdog check --pidfile $HOME/app/app.pid -- $HOME/app/run.sh";

/// Keeps a program alive from crontab: no daemon, no root, no systemd.
///
/// Every minute cron runs `watchdog check`. It reads the PID file, makes sure the PID is
/// still the program it launched (PIDs get recycled), and if the program is gone, launches
/// it again the way `nohup PROG > out 2> err < /dev/null &` should have: in a new session,
/// with SIGHUP ignored, output appended to files and no descriptor leaked. It keeps nothing
/// running between runs; its only memory is small files beside the PID file.
#[derive(Debug, Parser)]
#[command(name = "watchdog", version, after_long_help = AFTER_HELP, after_help = "Exit codes: 0 ok, 1 failed, 2 usage, 3 not running (status), 4 unknown (status), 5 busy. See --help.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The cron job: relaunch the program if it is not running (silent when healthy)
    ///
    /// Does nothing and prints nothing when the program recorded in the PID file is alive
    /// and is really that program, or when it was stopped on purpose. Otherwise launches it,
    /// prints one line to stderr (cron mails it) and exits 0, or exits 1 if it cannot be
    /// launched or dies within the grace period.
    Check(CheckArgs),
    /// Launch the program if it is not running, clearing a "stopped" or "parked" mark
    Start(LaunchArgs),
    /// Stop the program and everything it started, and keep check from relaunching it
    ///
    /// Sends each signal of the ladder to every process in the program's session, waits up
    /// to the step's time for them all to be gone, and moves on. Removes the PID file and
    /// marks the job stopped, so that check leaves it alone until start.
    Stop(StopArgs),
    /// Stop, then start (starts nothing if the stop failed)
    Restart(RestartArgs),
    /// Report whether the program runs, LSB style (exit 0, 1, 3 or 4)
    Status(StatusArgs),
    /// Send one signal to the verified program
    Kill(KillArgs),
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct JobArgs {
    /// The PID file; the job's other files sit beside it
    #[arg(long, value_name = "PATH")]
    pub pidfile: PathBuf,

    /// How long to wait for another watchdog run on the same job before giving up (exit 5)
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = duration::parse)]
    pub wait: Duration,

    /// The event log [default: the PID file's path without .pid, plus .watchdog.log]
    #[arg(long, value_name = "PATH")]
    pub log: Option<PathBuf>,
}

/// `check`'s options: the launch options, and watch mode.
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub launch: LaunchArgs,

    /// After the check, keep watching for this long, relaunching the moment the program dies
    ///
    /// With `--watch 60s` on an every-minute crontab line the program is covered all the
    /// time, and cron replaces the watcher every minute (the newer watcher takes over from the
    /// older). The watcher waits on a pidfd without holding the lock, so other commands stay
    /// instant; SIGTERM or SIGINT ends the watch and leaves the program running.
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    pub watch: Option<Duration>,
}

/// Options of the commands that launch.
#[derive(Debug, Args)]
pub struct LaunchArgs {
    #[command(flatten)]
    pub job: JobArgs,

    /// Append the program's stdout to this file [default: PIDFILE without .pid, plus .out]
    #[arg(long, value_name = "PATH")]
    pub stdout: Option<PathBuf>,

    /// Append the program's stderr to this file (may be the stdout file) [default: ... .err]
    #[arg(long, value_name = "PATH")]
    pub stderr: Option<PathBuf>,

    /// How long to watch a launch for an immediate death: 2, 200ms, 30s, 10m
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = duration::parse)]
    pub grace: Duration,

    /// Run the program in this directory [default: the watchdog's own, $HOME under cron]
    #[arg(long, value_name = "DIR")]
    pub chdir: Option<PathBuf>,

    /// Set an environment variable for the program (repeatable; the value may hold spaces)
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub env: Vec<(OsString, OsString)>,

    /// The program's umask, in octal, e.g. 027 [default: inherited]
    #[arg(long, value_name = "OCTAL", value_parser = parse_umask)]
    pub umask: Option<u32>,

    /// Crash-loop limit: after this many launches within --within, park the job
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=crate::state::MAX_HISTORY as i64))]
    pub max_launches: u32,

    /// The crash-loop window for --max-launches
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = duration::parse)]
    pub within: Duration,

    /// The program and its arguments, passed exactly (no shell)
    #[arg(last = true, required = true, value_name = "PROGRAM")]
    pub program: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    #[command(flatten)]
    pub job: JobArgs,

    /// Signals and waits, SIG/SECS/SIG/SECS...
    #[arg(long, value_name = "LADDER", default_value = ladder::DEFAULT, value_parser = ladder::parse)]
    pub ladder: Ladder,

    /// Ignored: accepted so that a check line can be turned into a stop line
    #[arg(last = true, hide = true)]
    pub program: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct RestartArgs {
    #[command(flatten)]
    pub launch: LaunchArgs,

    /// Signals and waits for the stop, SIG/SECS/SIG/SECS...
    #[arg(long, value_name = "LADDER", default_value = ladder::DEFAULT, value_parser = ladder::parse)]
    pub ladder: Ladder,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub job: JobArgs,

    /// Ignored: accepted so that a check line can be turned into a status line
    #[arg(last = true, hide = true)]
    pub program: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    #[command(flatten)]
    pub job: JobArgs,

    /// The signal: USR1, SIGUSR1, usr1 or 10
    #[arg(value_name = "SIGNAL", value_parser = signame::parse)]
    pub signal: nix::sys::signal::Signal,

    /// Ignored: accepted so that a check line can be turned into a kill line
    #[arg(last = true, hide = true)]
    pub program: Vec<OsString>,
}

fn parse_env(s: &str) -> Result<(OsString, OsString), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.into(), v.into())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

fn parse_umask(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s, 8)
        .ok()
        .filter(|&m| m <= 0o777 && !s.is_empty() && s.len() <= 4)
        .ok_or_else(|| format!("{s:?} is not an octal umask such as 022 or 027"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn env_and_umask_parse() {
        assert_eq!(parse_env("A=b c=d").unwrap(), ("A".into(), "b c=d".into()));
        assert!(parse_env("=x").is_err());
        assert!(parse_env("noequals").is_err());
        assert_eq!(parse_umask("027"), Ok(0o27));
        for bad in ["", "8", "1000", "abc", "-1"] {
            assert!(parse_umask(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn help_documents_every_exit_code() {
        let help = Cli::command().render_long_help().to_string();
        for code in [
            "0  success",
            "1  failure",
            "2  usage",
            "3  status",
            "4  status",
            "5  busy",
        ] {
            assert!(help.contains(code), "{code}");
        }
    }
}
