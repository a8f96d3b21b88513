//! Today's parse (the whole clap tree of every subcommand), but the tree and the matches are
//! leaked instead of dropped: the process exits a millisecond later anyway, and freeing
//! thousands of small blocks (and glibc's consolidation of them at the next large malloc)
//! is work no one needs.
use clap::{CommandFactory, FromArgMatches};
use watchdog::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let mut cmd = Cli::command();
    let m = cmd.get_matches_mut();
    let cli = Cli::from_arg_matches(&m).unwrap_or_else(|e| e.exit());
    std::mem::forget(m);
    std::mem::forget(cmd);
    watchdog::sys::ensure_std_fds();
    let Command::Check(a) = &cli.command else { return std::process::ExitCode::from(2) };
    match watchdog::commands::check::run(a) {
        Ok(e) => e.into(),
        Err(_) => std::process::ExitCode::from(9),
    }
}
