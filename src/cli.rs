//! The command line (clap derive). The first line of each doc comment is the short help;
//! the rest is shown by `--help`. The exit-code table here must match `exit.rs` and the
//! README.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::ladder::{self, Ladder};
use crate::{duration, signame, size};

const AFTER_HELP: &str = "\
Exit codes:
  0  success: the program runs (already, or now), was stopped, or the signal was sent
  1  failure: could not launch, died during the grace period, survived the stop ladder,
     not running (kill), refused for safety, parked after a crash loop (check), a problem
     found (doctor), the crontab cannot be read or written (cron), no event log (log),
     the program has no handler for the reload signal (reload), a --config file or
     entry that cannot be used; status: dead, but the PID file exists (died, PID reused,
     parked)
  2  usage error
  3  status: not running (never started, or stopped on purpose)
  4  status: unknown (the PID file or state cannot be read, is invalid or unsafe)
  5  busy: another watchdog run held the lock for longer than --wait
  run: once the program ran, the program's own status (128+N for signal N)
  --config FILE with several programs: the worst of their codes, in the order
     4, 1, 5, 3, 0 (unknown, failed, busy, not running, success)

A healthy check prints nothing, so cron mails you only when something happened.

`watchdog cron -- PROGRAM` prints your crontab line, `--install` adds it, and `watchdog
doctor` checks it. The crontab line (crontab -e; see crontab.example):
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

impl Cli {
    /// Parses the command line. `check` runs 1,440 times a day per program, and building
    /// clap's definition of every subcommand was most of its user-space cost (about 60% of
    /// the instructions of a healthy check, measured with callgrind), so a `check` is parsed
    /// against `check`'s own definition only. Anything that definition does not accept
    /// cleanly (`--help`, an error) goes through the full parser, so that messages, help
    /// and exit codes are exactly clap's usual ones.
    pub fn parse_fast() -> Cli {
        use clap::{Args as _, FromArgMatches as _};
        let mut argv = std::env::args_os();
        let bin = argv.next();
        let mut rest = argv.peekable();
        if bin.is_some() && rest.peek().is_some_and(|s| s == "check") {
            let cmd = CheckArgs::augment_args(clap::Command::new("check").no_binary_name(false));
            if let Ok(m) = cmd.try_get_matches_from(rest) {
                if let Ok(a) = CheckArgs::from_arg_matches(&m) {
                    // The parsed definition is freed with the process: dropping clap's tree
                    // costs instructions and buys nothing at exit.
                    std::mem::forget(m);
                    return Cli {
                        command: Command::Check(a),
                    };
                }
            }
        }
        <Cli as Parser>::parse()
    }
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
    /// Ask the program to reload: send it its reload signal (HUP unless --reload-signal)
    ///
    /// The signal goes to the verified program alone, through a pidfd, as with kill. The
    /// watchdog starts programs with SIGHUP ignored (as nohup does), so a program reloads on HUP
    /// only if it installs a handler for it; one that does not ignores it. reload looks first
    /// (/proc/PID/status): a program that ignores the signal, or has no handler and would be
    /// killed by it (USR1's default action, say), is not signalled, and reload exits 1 saying
    /// so; `watchdog kill SIGNAL` sends it regardless.
    Reload(ReloadArgs),
    /// Run the program in the foreground, exactly as check would launch it, for debugging
    ///
    /// Same environment, directory, umask, user and output files as a launch by check (the
    /// output goes to the files, not the terminal), but the watchdog stays and waits, passes
    /// INT, TERM and QUIT on to the program, and exits with the program's status (128+N when
    /// signal N ended it). Refused while the job's program runs. While it runs the program is
    /// recorded as a launch would be, so check, status, stop and kill see it; when it ends the
    /// PID file is removed and the job's mode (running, stopped, parked) is put back as it
    /// was, unless a stop came meanwhile or the exit status is one of --stay-down-on.
    Run(LaunchArgs),
    /// Rotate the output files now: NAME.1 gets the head, the program keeps writing
    ///
    /// The same rotation that check, start and restart do with --rotate-size, on demand and
    /// under the job lock: the head of each output file moves to NAME.1 (older copies shift
    /// to NAME.2 ... NAME.N) while the program keeps appending to the same open file. On
    /// ext4 and xfs no byte is lost; on other filesystems (tmpfs, btrfs, NFS) the fallback
    /// is copy-and-truncate, and what the program writes in the few microseconds between the
    /// last copy and the truncate is lost (the event log gives the window each time). Pass
    /// the same --stdout/--stderr as the check line if it has them.
    Rotate(RotateArgs),
    /// Print the crontab line for a program, or add it to your crontab (--install)
    ///
    /// Takes the same options as check and prints the lines to add to a crontab: SHELL and
    /// PATH as cron sets them, and the entry, with absolute paths for the watchdog, the
    /// program (found with cron's PATH, /usr/bin:/bin) and every file, and `%` escaped.
    /// `--install` adds them with `crontab -` (replacing an older entry for the same
    /// --pidfile, leaving every other line as it was) after saving the old crontab as
    /// PIDFILE.crontab.bak; `--uninstall` removes them again.
    #[command(mut_arg("program", |a| a.required(false).required_unless_present("uninstall")), after_long_help = CRON_HELP)]
    Cron(CronArgs),
    /// Check that a crontab line for this program will work, before cron runs it
    ///
    /// Takes the same options as check. One line per finding (ok, warning, problem), each
    /// saying what to change: the program is found with cron's PATH, files and directories
    /// are writable, a cron daemon runs, your crontab holds the line, and nothing kills a
    /// cron job's leftover processes (systemd-cron, logind's KillUserProcesses). Exits 0
    /// when there is no problem, 1 otherwise.
    Doctor(CheckArgs),
    /// Show the last events of the job's event log
    Log(LogArgs),
    /// Print a shell completion script, generated from these definitions
    ///
    /// bash: `watchdog completions bash > ~/.local/share/bash-completion/completions/watchdog`;
    /// zsh: into a directory of your $fpath as `_watchdog`; fish:
    /// `watchdog completions fish > ~/.config/fish/completions/watchdog.fish`.
    Completions(CompletionsArgs),
    /// Print the man page (roff), generated from these definitions
    ///
    /// `watchdog man | man -l -` reads it; `watchdog man check` prints the page of one
    /// command.
    Man(ManArgs),
}

const CRON_HELP: &str = "\
Examples:
  watchdog cron --pidfile ~/app/app.pid -- ~/app/run.sh --port 8080
  watchdog cron --install --watch 60s --pidfile ~/app/app.pid -- ~/app/run.sh
  watchdog cron --uninstall --pidfile ~/app/app.pid";

/// Options every command takes.
#[derive(Debug, Args)]
pub struct JobArgs {
    /// The PID file; the job's other files sit beside it
    #[arg(
        long,
        value_name = "PATH",
        required = false,
        required_unless_present = "config"
    )]
    pub pidfile: PathBuf,

    /// Take the program and its options from a TOML file: its program NAME, or with check and
    /// status every program in it [default: from this command line]
    ///
    /// `watchdog check --config FILE` checks every program of FILE in one run, each under its
    /// own lock, one failing never stopping the others; `watchdog stop --config FILE NAME`
    /// (and start, restart, status, kill, reload, run, rotate, log) acts on one. Options given
    /// on the command line too replace the file's. `watchdog cron --config FILE` prints the
    /// one crontab line for them all. The format is in the README (`[programs.NAME]` tables).
    #[arg(long, value_names = ["FILE", "NAME"], num_args = 1..=2, action = clap::ArgAction::Set, conflicts_with = "pidfile")]
    pub config: Vec<OsString>,

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
    ///
    /// [default: no watch: check once and exit]
    #[arg(long, value_name = "DURATION", value_parser = duration::parse, help_heading = "Watch mode")]
    pub watch: Option<Duration>,

    /// Signals and waits for restarting an unhealthy program (--unhealthy-after),
    /// SIG/SECS/SIG/SECS...
    #[arg(long, value_name = "LADDER", default_value = ladder::DEFAULT, value_parser = ladder::parse, help_heading = "Stopping")]
    pub ladder: Ladder,
}

/// Options of the commands that launch.
#[derive(Debug, Args)]
pub struct LaunchArgs {
    #[command(flatten)]
    pub job: JobArgs,

    /// Append the program's stdout to this file [default: PIDFILE without .pid, plus .out]
    #[arg(long, value_name = "PATH")]
    pub stdout: Option<PathBuf>,

    /// Append the program's stderr to this file (may be the stdout file) [default: PIDFILE
    /// without .pid, plus .err]
    #[arg(long, value_name = "PATH")]
    pub stderr: Option<PathBuf>,

    /// How long to watch a launch for an immediate death: 2, 200ms, 30s, 10m
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = duration::parse)]
    pub grace: Duration,

    /// Run the program in this directory [default: the watchdog's own, $HOME under cron]
    #[arg(long, value_name = "DIR")]
    pub chdir: Option<PathBuf>,

    /// Set an environment variable for the program (repeatable; the value may hold spaces)
    /// [default: none: the watchdog's own environment, cron's under cron]
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

    #[command(flatten)]
    pub rotation: RotationArgs,

    #[command(flatten)]
    pub supervision: SupervisionArgs,

    #[command(flatten)]
    pub health: HealthArgs,

    #[command(flatten)]
    pub stopping: StoppingArgs,

    /// The program and its arguments, passed exactly (no shell)
    #[arg(
        last = true,
        required = false,
        required_unless_present = "config",
        value_name = "PROGRAM"
    )]
    pub program: Vec<OsString>,
}

/// Programs that write their own PID file, readiness, exit codes that mean "stay down", and
/// the user the program runs as, on the commands that launch (issue 8; see `daemonized.rs`,
/// `readiness.rs`, `user.rs`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Supervision")]
pub struct SupervisionArgs {
    /// The program writes the PID file itself (it forks into the background, or records its own PID)
    ///
    /// The watchdog then removes a stale PID file, launches the program, and waits up to
    /// --grace for the program to write one naming a live process of yours that started after
    /// the launch and no later than the file was written. That process is recorded and kept
    /// alive from then on; the launched process may exit 0 meanwhile, as a program that forks
    /// into the background does. A program that exits (or lets --grace pass) without writing
    /// such a PID file is a failed launch. Not with --user: the program would write the PID
    /// file as that user, and a root watchdog never trusts a PID file another user can write.
    #[arg(long)]
    pub program_writes_pidfile: bool,

    /// Ready once a line the program writes to its stdout or stderr file matches REGEX
    /// [default: ready when --grace has passed]
    ///
    /// Only whole lines written since this launch count. start and check wait for it (after
    /// --grace, holding no lock) for up to --ready-timeout; a program that is not ready by
    /// then is stopped and the launch fails, with the last lines of its output.
    #[arg(long, value_name = "REGEX", value_parser = crate::readiness::parse_regex)]
    pub ready_when_log: Option<regex::Regex>,

    /// Ready once COMMAND, run with /bin/sh -c, exits 0 [default: ready when --grace has
    /// passed]
    ///
    /// Run again every 250ms until it exits 0, each run for at most 10s (then its process
    /// group is killed), in the program's directory and environment and as its user. With
    /// --ready-when-log too, both must hold.
    #[arg(long, value_name = "COMMAND")]
    pub ready_when_cmd: Option<OsString>,

    /// How long start and check wait for --ready-when-log/--ready-when-cmd
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = duration::parse)]
    pub ready_timeout: Duration,

    /// Exit statuses that mean "stay down", e.g. 0,2 [default: none]
    ///
    /// When the watchdog sees the program exit with one of these (a death within --grace, a
    /// death a check --watch sees, the end of a run), the job is marked stopped, the event log
    /// says why, and check leaves it down until `watchdog start`. A program that cron's check
    /// finds dead later left no exit status to read, and is relaunched as usual.
    #[arg(long, value_name = "CODES", value_delimiter = ',', value_parser = clap::value_parser!(u8))]
    pub stay_down_on: Vec<u8>,

    /// Run the program as this user, with its primary group and supplementary groups (root only)
    /// [default: the watchdog's own user]
    ///
    /// Like start-stop-daemon's --chuid. HOME, USER and LOGNAME are set to the user's unless
    /// --env sets them. The output files are opened as that user, after the switch, so the
    /// program can only ever write files the user could; the PID, state, lock and log files
    /// stay root's. Not with --program-writes-pidfile.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
}

/// Output rotation, on the commands that launch (see `rotate.rs`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Output rotation")]
pub struct RotationArgs {
    /// Rotate an output file once it is larger than SIZE: 10M, 512K, 1G (K = 1024), or bytes
    /// [default: no rotation]
    ///
    /// At every check (healthy or not) and every --rotate-interval of a watch, an output file
    /// larger than SIZE (and than one filesystem block) has its head moved to NAME.1 while
    /// the program keeps appending to the same open file. On ext4 and xfs no byte is lost or
    /// doubled. Elsewhere (tmpfs, btrfs, NFS) it falls back to copy-and-truncate, which
    /// loses what the program writes in the few microseconds between the last copy and the
    /// truncate; the event log says so, with the window, each time. Without this option no
    /// rotation work is done at all.
    #[arg(long, value_name = "SIZE", value_parser = size::parse)]
    pub rotate_size: Option<u64>,

    /// How many rotated copies to keep: NAME.1 (newest) to NAME.N
    #[arg(long, value_name = "N", default_value_t = 5, requires = "rotate_size", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub rotate_keep: u32,

    /// Compress the rotated copies with gzip: NAME.1.gz ...
    #[arg(long, requires = "rotate_size")]
    pub rotate_compress: bool,

    /// With --watch, how often to look at the output sizes (one stat per file)
    ///
    /// A cron check looks at every run; a watcher also wakes this often while the program
    /// runs. Without --rotate-size the watcher never wakes for this.
    #[arg(long, value_name = "DURATION", default_value = "10s", requires = "rotate_size", value_parser = parse_interval)]
    pub rotate_interval: Duration,
}

/// `watchdog rotate`'s options.
#[derive(Debug, Args)]
pub struct RotateArgs {
    #[command(flatten)]
    pub job: JobArgs,

    /// The stdout file to rotate [default: PIDFILE without .pid, plus .out]
    #[arg(long, value_name = "PATH")]
    pub stdout: Option<PathBuf>,

    /// The stderr file to rotate [default: PIDFILE without .pid, plus .err]
    #[arg(long, value_name = "PATH")]
    pub stderr: Option<PathBuf>,

    /// Rotate only files larger than SIZE [default: any file larger than one filesystem block]
    #[arg(long, value_name = "SIZE", value_parser = size::parse)]
    pub rotate_size: Option<u64>,

    /// How many rotated copies to keep: NAME.1 (newest) to NAME.N
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub rotate_keep: u32,

    /// Compress the rotated copies with gzip: NAME.1.gz ...
    #[arg(long)]
    pub rotate_compress: bool,

    /// As root: work on the files with this user's permissions, as the check line's --user
    /// [default: the watchdog's own user]
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// Ignored: accepted so that a check line can be turned into a rotate line
    #[arg(last = true, hide = true)]
    pub program: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    #[command(flatten)]
    pub job: JobArgs,

    #[command(flatten)]
    pub stopping: StoppingArgs,

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

/// `watchdog reload`'s options.
#[derive(Debug, Args)]
pub struct ReloadArgs {
    #[command(flatten)]
    pub job: JobArgs,

    /// The signal that makes the program reload: HUP, USR1, USR2...
    #[arg(long, value_name = "SIGNAL", default_value = "HUP", value_parser = signame::parse)]
    pub reload_signal: nix::sys::signal::Signal,

    /// Ignored: accepted so that a check line can be turned into a reload line
    #[arg(last = true, hide = true)]
    pub program: Vec<OsString>,
}

/// Health while the program runs, on the commands that launch; `check` acts on it (see
/// `health.rs` and `commands/health.rs`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Health")]
pub struct HealthArgs {
    /// Healthy while COMMAND, run with /bin/sh -c at each check, exits 0 [default: no health
    /// command]
    ///
    /// check runs it when it finds the program running (with --watch, once as the watch
    /// starts), with no lock held, in the program's directory and environment, as its user,
    /// with WATCHDOG_PID set to the program's PID, stdin on /dev/null, and its output kept for
    /// the event log (never for cron's mail, but for the one line of a restart). A run that
    /// takes longer than --health-timeout is killed with its process group and counts as a
    /// failure. After --unhealthy-after failures in a row the program is restarted.
    #[arg(long, value_name = "COMMAND")]
    pub healthy_when_cmd: Option<OsString>,

    /// Healthy while a TCP connection to PORT on 127.0.0.1 (or to HOST:PORT) succeeds
    /// [default: no port check]
    ///
    /// A connect and a close within --health-timeout, with no shell started and nothing sent.
    /// HOST is an IP address ([::1]:PORT for IPv6) or a name, resolved at each check (use an
    /// address or a name in /etc/hosts: a slow DNS lookup is not bounded by the timeout).
    /// With --healthy-when-cmd too, both must succeed.
    #[arg(long, value_name = "[HOST:]PORT", value_parser = crate::health::parse_port)]
    pub healthy_when_port: Option<crate::health::PortTarget>,

    /// How long one health check may take before it counts as a failure
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_interval)]
    pub health_timeout: Duration,

    /// Restart the program after this many failed health checks in a row
    ///
    /// The count is kept in the state file from one check to the next (a minute apart under
    /// cron) and starts again at a launch or at a check that passes. The restart goes through
    /// --stop-command and the stop ladder (check's --ladder), then launches as a check does
    /// (the crash-loop limit counts it), with one line on stderr saying why.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub unhealthy_after: u32,
}

/// How the program is stopped, for `stop`, `restart` and the restarts `check` makes.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Stopping")]
pub struct StoppingArgs {
    /// Stop the program by running COMMAND (with /bin/sh -c) before the ladder [default: the
    /// ladder's signals alone]
    ///
    /// Like servolux's shutdown_command (`nginx -s quit`, `redis-cli shutdown`). It runs with
    /// WATCHDOG_PID set to the program's PID, in the program's directory and environment and
    /// as its user (as far as the command line says), output to the event log. The program
    /// and its whole session then have the ladder's first step's time (2s by default; set a
    /// longer one with --ladder, e.g. TERM/30/KILL/5) to be gone. If they are not, or the
    /// command fails, the command is killed if it still runs and the whole ladder follows.
    /// Give it to stop and restart as to check (a --config file does that for you).
    #[arg(long, value_name = "COMMAND")]
    pub stop_command: Option<OsString>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub job: JobArgs,

    /// Print one JSON object instead of the line (schema in the README) [default: the line]
    #[arg(long)]
    pub json: bool,

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

/// `cron`'s options: those of check, and what to do with the line.
#[derive(Debug, Args)]
pub struct CronArgs {
    #[command(flatten)]
    pub check: CheckArgs,

    /// Add the lines to your crontab, or replace the entry for the same --pidfile [default:
    /// only print them]
    #[arg(long, conflicts_with = "uninstall")]
    pub install: bool,

    /// Remove the entry for this --pidfile (and the lines added with it) from your crontab
    #[arg(long)]
    pub uninstall: bool,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// The PID file; the event log sits beside it
    #[arg(
        long,
        value_name = "PATH",
        required = false,
        required_unless_present = "config"
    )]
    pub pidfile: PathBuf,

    /// Take the PID file and event log of program NAME from a TOML file [default: from this
    /// command line]
    #[arg(long, value_names = ["FILE", "NAME"], num_args = 2, action = clap::ArgAction::Set, conflicts_with = "pidfile")]
    pub config: Vec<OsString>,

    /// The event log [default: the PID file's path without .pid, plus .watchdog.log]
    #[arg(long, value_name = "PATH")]
    pub log: Option<PathBuf>,

    /// How many events to show (the newest last)
    #[arg(short = 'n', long = "lines", value_name = "N", default_value_t = 10)]
    pub lines: u64,

    /// Ignored: accepted so that a check line can be turned into a log line
    #[arg(last = true, hide = true)]
    pub program: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// A command whose page to print (check, cron, status...) [default: the main page]
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
}

pub(crate) fn parse_env(s: &str) -> Result<(OsString, OsString), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.into(), v.into())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

/// A watch's rotation interval: a duration above zero (zero would spin).
fn parse_interval(s: &str) -> Result<Duration, String> {
    match duration::parse(s)? {
        d if d.is_zero() => Err(format!("{s:?}: the interval must be more than 0")),
        d => Ok(d),
    }
}

pub(crate) fn parse_umask(s: &str) -> Result<u32, String> {
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

    /// Every option that takes a value and is not required says its default, either as
    /// clap's `[default: ...]` or in its help text; flags are off unless given.
    #[test]
    fn every_option_says_its_default() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let takes_value = arg.get_action().takes_values();
                // --pidfile is required, unless --config names the PID files.
                let required = arg.is_required_set() || arg.get_id() == "pidfile";
                if arg.is_positional() || required || !takes_value || arg.is_hide_set() {
                    continue;
                }
                let help = format!(
                    "{} {}",
                    arg.get_help().map(|h| h.to_string()).unwrap_or_default(),
                    arg.get_long_help()
                        .map(|h| h.to_string())
                        .unwrap_or_default()
                );
                if arg.get_default_values().is_empty() && !help.contains("[default:") {
                    missing.push(format!("{path} --{}", arg.get_long().unwrap_or("?")));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "watchdog", &mut missing);
        assert!(
            missing.is_empty(),
            "options without a stated default: {missing:?}"
        );
    }

    #[test]
    fn long_help_ends_with_the_crontab_line() {
        let help = Cli::command().render_long_help().to_string();
        let last = help.trim_end().lines().last().unwrap_or_default();
        assert!(last.trim_start().starts_with("* * * * * "), "{last}");
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
