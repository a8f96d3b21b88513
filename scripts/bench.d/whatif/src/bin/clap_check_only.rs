//! A healthy check whose clap parse builds only the `check` subcommand's arguments
//! (argv[1] is known to be `check`), not the whole six-subcommand tree.
use clap::{Args, FromArgMatches};

fn main() -> std::process::ExitCode {
    let cmd = watchdog::cli::CheckArgs::augment_args(clap::Command::new("watchdog check"));
    let m = cmd.get_matches_from(std::env::args_os().skip(1));
    let a = watchdog::cli::CheckArgs::from_arg_matches(&m).unwrap_or_else(|e| e.exit());
    watchdog::sys::ensure_std_fds();
    match watchdog::commands::check::run(&a) {
        Ok(e) => e.into(),
        Err(_) => std::process::ExitCode::from(9),
    }
}
