//! `watchdog`: keeps a program alive from crontab, with nothing resident.
//!
//! # Theory of operation
//! Every run is short-lived and does the same steps, under a lock so that any number of
//! runs (cron's check, a user's stop, an overlapping slow check) act one at a time:
//!
//! 1. **Lock** `P.lock` (`lock.rs`), waiting at most `--wait`; a held lock names its holder.
//! 2. **Read** the PID file strictly (`pidfile.rs`, `files.rs`) and the state beside it
//!    (`state.rs`): what we launched, whether it is meant to run, recent launches.
//! 3. **Verify** the PID (`identity.rs`): alive, not a zombie, ours (not EPERM), and the
//!    same process we recorded (start time and boot id), or adoptable by the PID file's age.
//! 4. Healthy: exit 0 and print nothing. Stopped on purpose: the same. Parked after a crash
//!    loop: exit 1, silently (it said so once when it parked).
//! 5. **Relaunch** (`launch.rs`, `sys.rs`): fork a held child in a new session with clean
//!    signals and only fds 0-2; record its identity and PID durably; only then let it exec.
//! 6. **Grace**: watch the child for `--grace`; a death is reported with its status and the
//!    tail of its stderr. Then exit: nothing of the watchdog stays behind.
//!
//! `stop` (`commands/stop.rs`) marks the job stopped before it signals, then walks the
//! ladder over the program's whole session through pidfds. `main` only parses, runs and maps
//! the outcome to an exit code (`exit.rs` is the only mapping).

#![deny(unsafe_code)]

mod cli;
mod clock;
mod commands;
mod duration;
mod error;
mod eventlog;
mod exit;
mod files;
mod identity;
mod job;
mod ladder;
mod launch;
mod lock;
mod paths;
mod pidfd;
mod pidfile;
mod signame;
mod state;
mod sys;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
use exit::Exit;

fn main() -> ExitCode {
    let cli = Cli::parse();
    sys::ensure_std_fds();
    let for_status = matches!(cli.command, Command::Status(_));
    let result = match &cli.command {
        Command::Check(a) => commands::check::run(a),
        Command::Start(a) => commands::start::run(a),
        Command::Stop(a) => commands::stop::run(a),
        Command::Restart(a) => commands::restart::run(a),
        Command::Status(a) => commands::status::run(a),
        Command::Kill(a) => commands::kill::run(a),
    };
    match result {
        Ok(exit) => exit.into(),
        Err(e) => {
            // One line (or a few, for a stderr tail), whole cause included: it is the cron
            // mail. A closed stderr cannot be reported anywhere, so its error is ignored.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "watchdog: {e}");
            let exit: Exit = e.exit(for_status);
            exit.into()
        }
    }
}
