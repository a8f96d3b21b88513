//! `--config FILE [NAME]`: every command, for the programs of a file (`config.rs`).
//!
//! `main` calls `intercept` before it parses: a command line with `--config` is parsed by
//! the same clap definitions (where `--config` stands in for `--pidfile` and the program),
//! the file is read, and each selected program's options are turned into the argv they
//! spell, parsed into the same args structs, and run by the same command (`dispatch`), one
//! after another, in one process. So:
//!
//! - `check --config FILE` checks every program in file order, each under its own lock; a
//!   program whose entry cannot be used, or whose check fails, is reported (its name first)
//!   and the others are still checked. The exit status is the worst of theirs
//!   (`Exit::worst`). `status --config FILE` likewise reports every program, one line each,
//!   led by its name. `check --watch` watches one program: give its NAME.
//! - The other commands act on one program and need its NAME.
//! - `cron --config FILE` prints (or installs) the one crontab line, `watchdog check
//!   --config FILE`, after checking every entry. `doctor` works on one `--pidfile` line.
//! - Each program's events go to its own event log (`eventlog::close` between programs).
//! - The cost of checking N programs is one process start and, per program, what a check
//!   of one costs (its argv parsed, its lock, its PID and state files, its /proc reads).

use std::ffi::OsString;
use std::io::Write as _;
use std::os::unix::ffi::OsStrExt;

use clap::{CommandFactory, FromArgMatches};

use crate::cli::Cli;
use crate::config::{Config, Program};
use crate::error::{Error, Result};
use crate::eventlog;
use crate::exit::Exit;

/// The commands that act on every program when no NAME is given.
const ALL_BY_DEFAULT: &[&str] = &["check", "status"];

/// Runs the command line if it has `--config` (and exits with clap's message on a usage
/// error); `None` for every other command line, which `main` parses as usual. Looking
/// costs one scan of the arguments.
pub fn intercept() -> Option<Exit> {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let mentioned = argv.iter().any(|a| {
        let a = a.as_bytes();
        a == b"--config" || a.starts_with(b"--config=")
    });
    if !mentioned {
        return None;
    }
    let mut cmd = Cli::command();
    let matches = match cmd.try_get_matches_from_mut(&argv) {
        Ok(m) => m,
        Err(e) => e.exit(),
    };
    let (sub, m) = matches.subcommand()?;
    // `--config` may also be a word of the program after `--`: then it is not ours.
    let values: Vec<OsString> = m
        .try_get_raw("config")
        .ok()
        .flatten()?
        .map(|v| v.to_os_string())
        .collect();
    crate::sys::ensure_std_fds();
    let sub = sub.to_string();
    Some(match run(&mut cmd, &sub, &argv, &values) {
        Ok(exit) => exit,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "watchdog: {e}");
            e.exit(sub == "status")
        }
    })
}

fn run(cmd: &mut clap::Command, sub: &str, argv: &[OsString], values: &[OsString]) -> Result<Exit> {
    let config = Config::load(std::path::Path::new(&values[0]))?;
    let name = values.get(1).map(|n| n.to_string_lossy().into_owned());
    let extra = extra_args(argv, sub, values.len());
    cmd.build();
    let known = known_options(cmd);
    let def = cmd
        .find_subcommand(sub)
        .expect("clap matched this subcommand")
        .clone();
    if sub == "cron" {
        return cron(cmd, &config, name.as_deref(), &extra, &known);
    }
    if sub == "doctor" {
        return Err(Error::Config {
            at: config.path.display().to_string(),
            what: "doctor checks one crontab line for one --pidfile; run `watchdog cron --config \
                   FILE` to see the line, and `watchdog status --config FILE` to see the programs"
                .into(),
        });
    }
    let programs: Vec<&Program> = match &name {
        Some(n) => vec![config.program(n)?],
        None if ALL_BY_DEFAULT.contains(&sub) => config.programs.iter().collect(),
        None => {
            return Err(Error::Config {
                at: config.path.display().to_string(),
                what: format!(
                    "which program? `watchdog {sub} --config FILE NAME`; there are: {}",
                    config.names()
                ),
            });
        }
    };
    let watching = extra.iter().any(|w| {
        let w = w.as_bytes();
        w == b"--watch" || w.starts_with(b"--watch=")
    });
    if watching && programs.len() > 1 {
        return Err(Error::Config {
            at: config.path.display().to_string(),
            what: format!(
                "check --watch watches one program: give its name (`watchdog check --config \
                 FILE NAME --watch 60s`, one crontab line each); there are: {}",
                config.names()
            ),
        });
    }
    let several = programs.len() > 1;
    let json = extra.iter().any(|w| w == "--json");
    let mut exit = Exit::Ok;
    for p in programs {
        eventlog::close();
        let parsed = config
            .argv(p, &def, &known, &extra)
            .and_then(|argv| parse(cmd, &config, p, argv));
        let outcome = parsed.and_then(|cli| {
            if several && sub == "status" && !json {
                print!("{}: ", p.name);
                let _ = std::io::stdout().flush();
            }
            crate::commands::dispatch(&cli.command)
        });
        let this = match outcome {
            Ok(e) => e,
            Err(e) => {
                match &e {
                    // Already names the file, the line and the program.
                    Error::Config { .. } => eprintln!("watchdog: {e}"),
                    _ => eprintln!("watchdog: {}: {e}", p.name),
                }
                match e {
                    Error::Config { .. } => Exit::Failed,
                    e => e.exit(sub == "status"),
                }
            }
        };
        exit = exit.worst(this);
    }
    eventlog::close();
    Ok(exit)
}

/// Parses a program's argv with the same clap definitions; an error names the line of the
/// key whose value clap refused.
fn parse(
    cmd: &mut clap::Command,
    config: &Config,
    p: &Program,
    argv: Vec<OsString>,
) -> Result<Cli> {
    let fail = |e: clap::Error| {
        let long = match e.get(clap::error::ContextKind::InvalidArg) {
            Some(clap::error::ContextValue::String(s)) => s
                .trim_start_matches('-')
                .split([' ', '='])
                .next()
                .unwrap_or("")
                .to_string(),
            _ => String::new(),
        };
        let text = e.render().to_string();
        let first = text
            .lines()
            .next()
            .unwrap_or("")
            .trim_start_matches("error: ")
            .to_string();
        let line = config.line_for(p, &long);
        let key = if long.is_empty() {
            String::new()
        } else {
            format!("{long}: ")
        };
        Error::Config {
            at: config.at(line),
            what: format!("[programs.{}] {key}{first}", p.name),
        }
    };
    let m = cmd.try_get_matches_from_mut(argv).map_err(fail)?;
    Cli::from_arg_matches(&m).map_err(fail)
}

/// The subcommand's own words on the command line, without `--config` and its values.
fn extra_args(argv: &[OsString], sub: &str, n_values: usize) -> Vec<OsString> {
    let start = argv
        .iter()
        .position(|a| a == sub)
        .map_or(argv.len(), |i| i + 1);
    let mut out = Vec::new();
    let mut skip = 0;
    let mut seen = false;
    for w in &argv[start..] {
        if skip > 0 {
            skip -= 1;
            continue;
        }
        if !seen && w == "--config" {
            seen = true;
            skip = n_values;
            continue;
        }
        if !seen && w.as_bytes().starts_with(b"--config=") {
            seen = true;
            skip = n_values.saturating_sub(1);
            continue;
        }
        out.push(w.clone());
    }
    out
}

/// Every long option some command takes: the keys a file may use.
pub(crate) fn known_options(cmd: &clap::Command) -> Vec<String> {
    let mut k: Vec<String> = cmd
        .get_subcommands()
        .flat_map(|s| {
            s.get_arguments()
                .filter_map(|a| a.get_long().map(String::from))
        })
        .collect();
    k.sort();
    k.dedup();
    k
}

/// `cron --config FILE`: the one crontab line, `watchdog check --config FILE`, printed or
/// (with `--install`/`--uninstall`) put in the crontab as `cron` does for a `--pidfile`
/// line. Every entry is checked first; one that cannot be used is reported (exit 1), and the
/// line is still printed or installed, since the other programs need it.
fn cron(
    cmd: &mut clap::Command,
    config: &Config,
    name: Option<&str>,
    extra: &[OsString],
    known: &[String],
) -> Result<Exit> {
    if let Some(n) = name {
        return Err(Error::Config {
            at: config.path.display().to_string(),
            what: format!(
                "cron takes no program name with --config ({n:?}): one line checks every \
                 program of the file"
            ),
        });
    }
    let def = cmd.find_subcommand("check").expect("check").clone();
    let mut broken = false;
    for p in &config.programs {
        let ok = config
            .argv(p, &def, known, &[])
            .and_then(|argv| parse(cmd, config, p, argv));
        if let Err(e) = ok {
            eprintln!("watchdog: {e}");
            broken = true;
        }
    }
    let install = extra.iter().any(|w| w == "--install");
    let uninstall = extra.iter().any(|w| w == "--uninstall");
    let carried: Vec<OsString> = extra
        .iter()
        .filter(|w| *w != "--install" && *w != "--uninstall")
        .cloned()
        .collect();
    let watching = carried.iter().any(|w| {
        let w = w.as_bytes();
        w == b"--watch" || w.starts_with(b"--watch=")
    });
    if watching && config.programs.len() > 1 {
        return Err(Error::Config {
            at: config.path.display().to_string(),
            what: "check --watch watches one program, and this line would check them all; \
                   make one line per watched program (`watchdog check --config FILE NAME \
                   --watch 60s`), or leave --watch out"
                .into(),
        });
    }
    let exit = if uninstall {
        let stop = format!(
            "The programs keep running: `watchdog stop --config {} NAME` stops one",
            config.path.display()
        );
        crate::commands::cron::uninstall(&config.path, &stop)?
    } else {
        let watchdog = std::env::current_exe().map_err(|e| Error::CronLine {
            program: config.path.display().to_string(),
            reason: format!(
                "cannot find the watchdog binary: {}",
                crate::error::describe_io(&e)
            ),
        })?;
        let mut words: Vec<OsString> = vec![watchdog.clone().into(), "check".into()];
        words.extend(carried);
        words.push("--config".into());
        words.push(config.path.clone().into_os_string());
        let command = crate::crontab::command_text(&words).map_err(|reason| Error::CronLine {
            program: config.path.display().to_string(),
            reason,
        })?;
        let entry = crate::crontab::entry_line(&command);
        let block = crate::crontab::block(&config.path, &entry);
        if install {
            let line = crate::commands::cron::CronLine {
                pidfile: config.path.clone(),
                watchdog,
                program: config.path.clone(),
                entry,
                block,
                notes: Vec::new(),
            };
            crate::commands::cron::install(&line)?
        } else {
            let mut out = Vec::new();
            for l in &block {
                out.extend_from_slice(l);
                out.push(b'\n');
            }
            crate::output::print_bytes(&out)?;
            Exit::Ok
        }
    };
    Ok(if broken {
        exit.worst(Exit::Failed)
    } else {
        exit
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_config_option_and_its_values_are_taken_out() {
        let argv = os(&["wd", "kill", "--config", "f.toml", "bot", "USR1"]);
        assert_eq!(extra_args(&argv, "kill", 2), os(&["USR1"]));
        let argv = os(&["wd", "check", "--wait", "5s", "--config=f.toml"]);
        assert_eq!(extra_args(&argv, "check", 1), os(&["--wait", "5s"]));
        let argv = os(&["wd", "status", "--config=f.toml", "bot", "--json"]);
        assert_eq!(extra_args(&argv, "status", 2), os(&["--json"]));
    }
}
