//! The healthy `check`, decided without clap.
//!
//! A healthy check is the product's most frequent run by far (1,440 a day per program) and
//! should cost about as much as starting `/bin/true`. Building clap's definition of even
//! `check` alone was most of its user-space work (docs/BENCHMARKS.md, "Where the time
//! goes"). So before clap, `main` tries this: if the command line is a plain `check` made
//! only of the options listed in `OPTIONS`, each given once with a valid value, and the
//! program is running and verified with nothing to repair, the answer is "exit 0, print
//! nothing", reached with the same `lock`, `Job::observe` and verdict as the full path.
//!
//! Anything else declines (`None`) and the full path runs from the start: any other option
//! (`--watch`, rotation, health, readiness...: they have work to do even when healthy),
//! `--help`, a repeated option, a value that does not parse (the full path reports it as
//! clap does, exit 2), an unhealthy or adopted program, an error. The fast path never prints
//! and never writes; it can only agree with the full path or stand aside.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::job::{Job, Verdict};
use crate::lock::{self, Access};
use crate::paths::Paths;

/// The options a healthy check may carry and still take the fast path, with the same
/// value parsers as `cli.rs`. None of them changes what a healthy check does.
const OPTIONS: &[&str] = &[
    "pidfile",
    "stdout",
    "stderr",
    "log",
    "chdir",
    "grace",
    "within",
    "wait",
    "umask",
    "max-launches",
    "env",
];

#[derive(Default)]
struct Parsed {
    pidfile: Option<PathBuf>,
    stdout: Option<PathBuf>,
    stderr: Option<PathBuf>,
    log: Option<PathBuf>,
    wait: Option<Duration>,
}

/// `Some(Ok(Exit::Ok))` when the check is healthy; `Some(Err(busy))` when the lock stayed
/// busy for `--wait` (the full path would only wait that long again); `None` to decline.
pub fn healthy_check(argv: &[OsString]) -> Option<Result<Exit>> {
    let p = parse(argv)?;
    let pidfile = p.pidfile?;
    let paths = Paths::new(
        &pidfile,
        p.stdout.as_deref(),
        p.stderr.as_deref(),
        p.log.as_deref(),
    );
    let wait = p.wait.unwrap_or(Duration::from_secs(30));
    let healthy =
        lock::with_lock(&paths.lock, Access::Exclusive, wait, |_| {
            let job = Job::observe(&paths)?;
            Ok(matches!(&job.verdict, Verdict::Running(v) if !v.adopted)
                && job.pidfile_stale.is_none())
        });
    match healthy {
        Ok(true) => Some(Ok(Exit::Ok)),
        Err(e @ Error::Busy { .. }) => Some(Err(e)),
        _ => None,
    }
}

/// `check [OPTION VALUE | --OPTION=VALUE]... -- PROGRAM [ARGS...]`, or `None`.
fn parse(argv: &[OsString]) -> Option<Parsed> {
    let mut it = argv.iter().skip(1);
    if it.next()? != "check" {
        return None;
    }
    let mut p = Parsed::default();
    let mut seen: Vec<&str> = Vec::new();
    loop {
        let arg = it.next()?.to_str()?;
        if arg == "--" {
            // The program: at least one word; its bytes are not ours to judge.
            it.next()?;
            return Some(p);
        }
        let (name, inline) = match arg.strip_prefix("--")?.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (arg.strip_prefix("--")?, None),
        };
        let name = *OPTIONS.iter().find(|o| **o == name)?;
        if name != "env" {
            if seen.contains(&name) {
                return None;
            }
            seen.push(name);
        }
        let value: &OsStr = match inline {
            Some(v) => OsStr::new(v),
            None => it.next()?,
        };
        let text = || value.to_str();
        match name {
            "pidfile" => p.pidfile = Some(nonempty(value)?),
            "stdout" => p.stdout = Some(nonempty(value)?),
            "stderr" => p.stderr = Some(nonempty(value)?),
            "log" => p.log = Some(nonempty(value)?),
            "chdir" => drop(nonempty(value)?),
            "wait" => p.wait = Some(crate::duration::parse(text()?).ok()?),
            "grace" | "within" => drop(crate::duration::parse(text()?).ok()?),
            "umask" => drop(crate::cli::parse_umask(text()?).ok()?),
            "env" => drop(crate::cli::parse_env(text()?).ok()?),
            "max-launches" => {
                let n: u32 = text()?.parse().ok()?;
                if !(1..=crate::state::MAX_HISTORY as u32).contains(&n) {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

/// A path value; clap would take an empty one, but a check with one is not healthy
/// business: leave it to the full path.
fn nonempty(v: &OsStr) -> Option<PathBuf> {
    (!v.is_empty()).then(|| PathBuf::from(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn argv(words: &[&str]) -> Vec<OsString> {
        std::iter::once("watchdog")
            .chain(words.iter().copied())
            .map(OsString::from)
            .collect()
    }

    /// Whatever the fast parser accepts, clap accepts too, with the same paths and wait.
    #[test]
    fn accepts_only_what_clap_accepts_with_the_same_meaning() {
        let cases: &[&[&str]] = &[
            &["check", "--pidfile", "/x/a.pid", "--", "/bin/sleep", "9"],
            &["check", "--pidfile=/x/a.pid", "--grace", "2", "--", "p"],
            &[
                "check",
                "--pidfile",
                "a.pid",
                "--stdout",
                "o",
                "--stderr",
                "o",
                "--log",
                "l",
                "--",
                "p",
                "--pidfile",
                "q",
            ],
            &[
                "check",
                "--wait",
                "200ms",
                "--pidfile",
                "a.pid",
                "--env",
                "A=b c",
                "--env",
                "B=",
                "--",
                "p",
            ],
            &[
                "check",
                "--pidfile",
                "a.pid",
                "--umask",
                "027",
                "--max-launches",
                "3",
                "--within",
                "10m",
                "--chdir",
                "/tmp",
                "--",
                "p",
            ],
        ];
        for words in cases {
            let av = argv(words);
            let fast = parse(&av).unwrap_or_else(|| panic!("declined {words:?}"));
            let Command::Check(c) = Cli::try_parse_from(&av).unwrap().command else {
                panic!("not a check: {words:?}");
            };
            assert_eq!(
                fast.pidfile.as_ref(),
                Some(&c.launch.job.pidfile),
                "{words:?}"
            );
            assert_eq!(fast.stdout, c.launch.stdout, "{words:?}");
            assert_eq!(fast.stderr, c.launch.stderr, "{words:?}");
            assert_eq!(fast.log, c.launch.job.log, "{words:?}");
            assert_eq!(
                fast.wait.unwrap_or(Duration::from_secs(30)),
                c.launch.job.wait,
                "{words:?}"
            );
        }
    }

    /// Everything else declines: other commands and options, help, repeats, bad values,
    /// a missing program.
    #[test]
    fn declines_everything_else() {
        let cases: &[&[&str]] = &[
            &["start", "--pidfile", "a.pid", "--", "p"],
            &["check", "--pidfile", "a.pid"],
            &["check", "--pidfile", "a.pid", "--"],
            &["check", "--pidfile", "a.pid", "--watch", "60s", "--", "p"],
            &[
                "check",
                "--pidfile",
                "a.pid",
                "--rotate-size",
                "10M",
                "--",
                "p",
            ],
            &[
                "check",
                "--pidfile",
                "a.pid",
                "--healthy-when-port",
                "80",
                "--",
                "p",
            ],
            &["check", "--pidfile", "a.pid", "--config", "f", "--", "p"],
            &["check", "--help"],
            &["check", "-h", "--pidfile", "a.pid", "--", "p"],
            &[
                "check",
                "--pidfile",
                "a.pid",
                "--pidfile",
                "b.pid",
                "--",
                "p",
            ],
            &["check", "--pidfile", "a.pid", "--grace", "soon", "--", "p"],
            &["check", "--pidfile", "a.pid", "--umask", "999", "--", "p"],
            &[
                "check",
                "--pidfile",
                "a.pid",
                "--max-launches",
                "0",
                "--",
                "p",
            ],
            &["check", "--pidfile", "a.pid", "--env", "novalue", "--", "p"],
            &["check", "--pidfile", "", "--", "p"],
            &["check", "--pid", "a.pid", "--", "p"],
            &["check", "p"],
            &["check"],
        ];
        for words in cases {
            assert!(parse(&argv(words)).is_none(), "accepted {words:?}");
        }
    }

    /// Every option the fast path accepts is an option of `check`, and none of `check`'s
    /// options that change a healthy check's work is accepted.
    #[test]
    fn the_option_list_matches_checks_definition() {
        use clap::CommandFactory;
        let cli = Cli::command();
        let check = cli.find_subcommand("check").unwrap();
        let longs: Vec<&str> = check.get_arguments().filter_map(|a| a.get_long()).collect();
        for o in OPTIONS {
            assert!(longs.contains(o), "--{o} is not an option of check");
        }
    }
}
