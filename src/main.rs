//! The `watchdog` binary: parse the command line, run the command, map the outcome to an
//! exit code. Everything else lives in the library (`src/lib.rs` has the theory of
//! operation).

#![deny(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use watchdog::cli::{Cli, Command};
use watchdog::commands;
use watchdog::exit::Exit;

fn main() -> ExitCode {
    let cli = Cli::parse();
    watchdog::sys::ensure_std_fds();
    let for_status = matches!(cli.command, Command::Status(_));
    let result = match &cli.command {
        Command::Check(a) => commands::check::run(a),
        Command::Start(a) => commands::start::run(a),
        Command::Stop(a) => commands::stop::run(a),
        Command::Restart(a) => commands::restart::run(a),
        Command::Status(a) => commands::status::run(a),
        Command::Kill(a) => commands::kill::run(a),
        Command::Run(a) => commands::run::run(a),
        Command::Rotate(a) => commands::rotate::run(a),
        Command::Cron(a) => commands::cron::run(a),
        Command::Doctor(a) => commands::doctor::run(a),
        Command::Log(a) => commands::log_cmd::run(a),
        Command::Completions(a) => commands::completions::completions(a),
        Command::Man(a) => commands::completions::man(a),
    };
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
