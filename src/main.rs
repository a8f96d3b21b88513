//! The `watchdog` binary: parse the command line, run the command, map the outcome to an
//! exit code. Everything else lives in the library (`src/lib.rs` has the theory of
//! operation).

#![deny(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use watchdog::cli::{Cli, Command};
use watchdog::commands;
use watchdog::exit::Exit;

fn main() -> ExitCode {
    // `--config FILE [NAME]`: the programs and their options come from a file; each is run
    // through the same args structs and commands as below (`commands/from_config.rs`).
    if let Some(exit) = commands::from_config::intercept() {
        return exit.into();
    }
    watchdog::sys::ensure_std_fds();
    // The healthy cron check, without clap (`fastpath.rs`); anything else goes on below.
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    match watchdog::fastpath::healthy_check(&argv) {
        Some(Ok(exit)) => return exit.into(),
        Some(Err(e)) => {
            let _ = writeln!(std::io::stderr(), "watchdog: {e}");
            return e.exit(false).into();
        }
        None => {}
    }
    let cli = Cli::parse_fast();
    let for_status = matches!(cli.command, Command::Status(_));
    let result = commands::dispatch(&cli.command);
    match result {
        Ok(exit) => exit.into(),
        Err(e) => {
            // One message (a few lines with a stderr tail), whole cause included: it is
            // the cron mail. A closed stderr cannot be reported anywhere, so its error is
            // ignored.
            let _ = writeln!(std::io::stderr(), "watchdog: {e}");
            let exit: Exit = e.exit(for_status);
            exit.into()
        }
    }
}
