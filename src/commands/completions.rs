//! `watchdog completions SHELL` and `watchdog man [COMMAND]`: generated from the clap
//! definitions in `cli.rs` (clap_complete, clap_mangen), so they always match `--help`.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::output::print_bytes;

pub fn completions(a: &CompletionsArgs) -> Result<Exit> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "watchdog", &mut out);
    print_bytes(&out)?;
    Ok(Exit::Ok)
}

pub fn man(a: &ManArgs) -> Result<Exit> {
    let mut out = Vec::new();
    render_man(a.command.as_deref(), &mut out)?;
    print_bytes(&out)?;
    Ok(Exit::Ok)
}

/// Renders the main page, or the page of one command (`watchdog-check(1)`).
///
/// # Errors
/// `UnknownCommand` naming the commands there are.
pub fn render_man(command: Option<&str>, out: &mut Vec<u8>) -> Result<()> {
    let mut cmd = Cli::command();
    cmd.build();
    let page = match command {
        None => cmd,
        Some(name) => {
            let Some(sub) = cmd.find_subcommand(name).cloned() else {
                let names: Vec<String> = cmd
                    .get_subcommands()
                    .map(|s| s.get_name().to_string())
                    .filter(|n| n != "help")
                    .collect();
                return Err(Error::UnknownCommand {
                    name: name.to_string(),
                    known: names.join(", "),
                });
            };
            let name = format!("watchdog-{}", sub.get_name());
            sub.name(name.clone()).bin_name(name.replace('-', " "))
        }
    };
    clap_mangen::Man::new(page)
        .render(out)
        .map_err(|e| Error::io("render", "the man page", e))
}
