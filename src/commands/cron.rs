//! `watchdog cron`: the crontab lines for a job, printed, installed or uninstalled.
//!
//! The entry is the `check` line for the same options, made to work under cron's spare
//! environment (PITFALLS.md, "Environment"): the watchdog binary by its absolute path
//! (`/proc/self/exe`), the program resolved with the PATH it will have under cron (cron's
//! `/usr/bin:/bin`, or the `--env PATH=` given) and written absolute, every path-valued
//! option made absolute (cron runs jobs in `$HOME`), each word quoted for `/bin/sh`, and `%`
//! escaped for cron. `crontab.rs` owns the quoting and the editing.
//!
//! The options are carried over from the command line generically (every option of
//! `check` given on this command line, in the order clap defines them), so an option added
//! to `check` later needs no change here; an option is a path when its value name is `PATH`
//! or `DIR`, as everywhere in `cli.rs`.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::cli::{CheckArgs, Cli, CronArgs};
use crate::crontab::{self, Change};
use crate::error::{Error, Result, describe_io};
use crate::exit::Exit;
use crate::launch;

thread_local! {
    /// The command line the current command was parsed from, when it is not the process's
    /// own (see [`with_argv`]).
    static ARGV: std::cell::RefCell<Option<Vec<OsString>>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with `argv` as the command line `cron` and `doctor` carry options from. A caller
/// that parses a command line other than the process's own (a configuration file's) and
/// dispatches `cron` or `doctor` wraps the dispatch in this.
pub fn with_argv<T>(argv: &[OsString], f: impl FnOnce() -> T) -> T {
    let old = ARGV.with(|a| a.replace(Some(argv.to_vec())));
    let out = f();
    ARGV.with(|a| *a.borrow_mut() = old);
    out
}

/// The command line the current command was parsed from.
pub fn current_argv() -> Vec<OsString> {
    ARGV.with(|a| a.borrow().clone())
        .unwrap_or_else(|| std::env::args_os().collect())
}

pub fn run(a: &CronArgs) -> Result<Exit> {
    let argv = current_argv();
    if a.uninstall {
        let pidfile = absolute(&a.check.launch.job.pidfile);
        let stop = format!(
            "The program keeps running: `watchdog stop --pidfile {}` stops it",
            pidfile.display()
        );
        return uninstall(&pidfile, &stop);
    }
    let line = CronLine::build(&a.check, &argv, "cron")?;
    for note in &line.notes {
        eprintln!("watchdog: note: {note}");
    }
    if a.install {
        return install(&line);
    }
    let mut out = Vec::new();
    for l in &line.block {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    crate::output::print_bytes(&out)?;
    Ok(Exit::Ok)
}

/// The crontab lines for one job, and what the user should know about them.
#[derive(Debug)]
pub struct CronLine {
    /// The PID file, absolute.
    pub pidfile: PathBuf,
    /// The watchdog binary the entry runs.
    pub watchdog: PathBuf,
    /// The program the entry keeps alive, absolute.
    pub program: PathBuf,
    /// The entry: schedule and command.
    pub entry: Vec<u8>,
    /// Marker comment, SHELL, PATH and the entry.
    pub block: Vec<Vec<u8>>,
    /// Things worth saying that do not stop the line from being made (printed on stderr).
    pub notes: Vec<String>,
}

impl CronLine {
    /// Builds the lines for the check options `c`, carrying over the options given on the
    /// command line `argv` to subcommand `sub` (`cron` or `doctor`).
    ///
    /// # Errors
    /// `CronLine` when the program cannot be found or run, or a word cannot be put in a
    /// crontab line.
    pub fn build(c: &CheckArgs, argv: &[OsString], sub: &str) -> Result<CronLine> {
        let a = &c.launch;
        let shown = launch::show_argv(&a.program);
        let fail = |reason: String| Error::CronLine {
            program: shown.clone(),
            reason,
        };
        let mut notes = Vec::new();

        let watchdog = std::env::current_exe().map_err(|e| {
            fail(format!(
                "cannot find the watchdog binary: {}",
                describe_io(&e)
            ))
        })?;
        if watchdog.to_string_lossy().ends_with(" (deleted)") {
            return Err(fail(format!(
                "the running watchdog binary {} was deleted or replaced; run the installed one",
                watchdog.display()
            )));
        }
        if let Some(note) = build_dir_note(&watchdog) {
            notes.push(note);
        }

        let pidfile = absolute(&a.job.pidfile);
        let dir = crate::files::parent_dir(&pidfile);
        if !dir.is_dir() {
            notes.push(format!(
                "the PID file's directory {} does not exist yet; create it (mkdir -p {}) \
                 before cron runs the line",
                dir.display(),
                dir.display()
            ));
        }

        let program = resolve_program(c, &mut notes).map_err(&fail)?;
        let mut words: Vec<OsString> = vec![watchdog.clone().into(), "check".into()];
        words.extend(carried_options(argv, sub, &pidfile).map_err(&fail)?);
        words.push("--".into());
        words.push(program.clone().into());
        words.extend(a.program[1..].iter().cloned());
        let command = crontab::command_text(&words).map_err(&fail)?;
        if command.len() > crontab::LONG_COMMAND {
            notes.push(format!(
                "the command is {} bytes long; Debian's cron cuts commands at {} bytes, so \
                 put the program and its arguments in a small script and give its path",
                command.len(),
                crontab::LONG_COMMAND
            ));
        }
        let entry = crontab::entry_line(&command);
        let block = crontab::block(&pidfile, &entry);
        Ok(CronLine {
            pidfile,
            watchdog,
            program,
            entry,
            block,
            notes,
        })
    }
}

/// A path made absolute against the current directory, with the directory part resolved
/// (symlinks, `..`) when it exists, so that the same file always gives the same line.
pub fn absolute(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    match (abs.parent(), abs.file_name()) {
        (Some(dir), Some(name)) => match std::fs::canonicalize(dir) {
            Ok(d) => d.join(name),
            Err(_) => abs,
        },
        _ => abs,
    }
}

/// The program's absolute path, found as it will be under cron: a path with a `/` against
/// `--chdir` (or the current directory), a bare name in the PATH it will have (`--env
/// PATH=`, or cron's). A bare name only the user's own PATH finds is taken from there, with
/// a note.
fn resolve_program(c: &CheckArgs, notes: &mut Vec<String>) -> std::result::Result<PathBuf, String> {
    let a = &c.launch;
    let name = &a.program[0];
    if name.as_bytes().contains(&b'/') {
        let base = match &a.chdir {
            Some(d) => absolute(d),
            None => std::env::current_dir().map_err(|e| {
                format!(
                    "cannot tell what {} is relative to: {}",
                    name.to_string_lossy(),
                    describe_io(&e)
                )
            })?,
        };
        let full = base.join(name);
        launch::resolve(full.as_os_str(), None, None)?;
        return Ok(std::path::absolute(&full).unwrap_or(full));
    }
    let env_path = a
        .env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone());
    let cron_path = env_path.unwrap_or_else(|| crontab::CRON_PATH.into());
    match launch::resolve(name, Some(&cron_path), None) {
        Ok(p) => Ok(p),
        Err(e) => match std::env::var_os("PATH")
            .and_then(|user| launch::resolve(name, Some(&user), None).ok())
        {
            Some(p) if p.is_absolute() => {
                notes.push(format!(
                    "{} is not in cron's PATH ({}); the line uses its absolute path {}, found \
                     through your PATH",
                    name.to_string_lossy(),
                    cron_path.to_string_lossy(),
                    p.display()
                ));
                Ok(p)
            }
            _ => Err(e),
        },
    }
}

/// The options of `check` given on the command line, with path values made absolute
/// (`--pidfile` as `pidfile`, already absolute).
///
/// # Errors
/// When the command line cannot be read again (it was parsed once already, so only a
/// caller passing another one can cause this).
fn carried_options(
    argv: &[OsString],
    sub: &str,
    pidfile: &Path,
) -> std::result::Result<Vec<OsString>, String> {
    let mut cmd = Cli::command();
    cmd.build();
    let reread = "cannot read the options again from the command line";
    let matches = cmd
        .clone()
        .try_get_matches_from(argv)
        .map_err(|e| format!("{reread}: {}", e.kind()))?;
    let (Some(m), Some(def)) = (matches.subcommand_matches(sub), cmd.find_subcommand(sub)) else {
        return Err(format!("{reread}: it has no `{sub}`"));
    };
    let mut out = Vec::new();
    for arg in def.get_arguments() {
        let id = arg.get_id().as_str();
        if matches!(id, "install" | "uninstall" | "program" | "help") {
            continue;
        }
        let Some(long) = arg.get_long() else { continue };
        if m.value_source(id) != Some(clap::parser::ValueSource::CommandLine) {
            continue;
        }
        if id == "pidfile" {
            out.extend(["--pidfile".into(), pidfile.as_os_str().to_owned()]);
            continue;
        }
        if !arg.get_action().takes_values() {
            out.push(format!("--{long}").into());
            continue;
        }
        let is_path = arg
            .get_value_names()
            .is_some_and(|n| n.iter().any(|n| n == "PATH" || n == "DIR"));
        for v in m.get_raw(id).into_iter().flatten() {
            out.push(format!("--{long}").into());
            if is_path {
                out.push(absolute(Path::new(v)).into_os_string());
            } else {
                out.push(v.to_owned());
            }
        }
    }
    Ok(out)
}

/// A binary inside a cargo `target/` directory disappears with `cargo clean`.
fn build_dir_note(exe: &Path) -> Option<String> {
    let s = exe.as_os_str().as_bytes();
    let inside = [&b"/target/debug/"[..], b"/target/release/"]
        .iter()
        .any(|d| s.windows(d.len()).any(|w| w == *d));
    inside.then(|| {
        format!(
            "the line runs {}, inside a cargo build directory that `cargo clean` empties; \
             `cargo install --path .` puts a lasting copy in ~/.cargo/bin: run this command \
             again with that one",
            exe.display()
        )
    })
}

/// `$HOME` as cron sets it: the user's home directory from the password database.
pub fn home_dir() -> Vec<u8> {
    match nix::unistd::User::from_uid(nix::unistd::getuid()) {
        Ok(Some(u)) => u.dir.into_os_string().into_vec(),
        _ => std::env::var_os("HOME")
            .map(|h| h.as_bytes().to_vec())
            .unwrap_or_default(),
    }
}

/// Adds or replaces the entry of `line` (also `cron --config FILE --install`, keyed by FILE).
pub(crate) fn install(line: &CronLine) -> Result<Exit> {
    let old = crontab::read()?;
    let (new, change) =
        crontab::install(&old, &line.pidfile, &line.entry, &line.block, &home_dir());
    let pid = line.pidfile.display();
    if change == Change::Unchanged {
        println!("watchdog: your crontab already has this entry for {pid}; nothing changed");
        return Ok(Exit::Ok);
    }
    let backup = write_with_backup(&line.pidfile, &old, &new)?;
    // Read it back: a concurrent edit or a crontab that rewrites what it is given would
    // show here.
    let back = crontab::read()?;
    let found = crontab::find(&back, &line.pidfile, &home_dir());
    if found.len() != 1 || found[0].1 != line.entry {
        return Err(Error::Crontab {
            action: "verify",
            reason: format!(
                "after `crontab -`, `crontab -l` does not show the new entry for {pid} \
                 (another edit at the same time?); the previous crontab is saved in {}",
                backup.display()
            ),
        });
    }
    let what = match change {
        Change::Replaced { duplicates, .. } if duplicates > 0 => format!(
            "replaced the entry for {pid} in your crontab (and removed {duplicates} more \
             for the same PID file)"
        ),
        Change::Replaced { .. } => format!("replaced the entry for {pid} in your crontab"),
        _ => format!("added the entry for {pid} to your crontab"),
    };
    println!(
        "watchdog: {what}; cron runs it within a minute. The previous crontab is saved in {} \
         (restore it with `crontab {}`)",
        backup.display(),
        backup.display()
    );
    Ok(Exit::Ok)
}

/// Removes the entry for `pidfile` (or for a `--config` FILE); `stop` is the sentence on
/// how to stop what keeps running.
pub(crate) fn uninstall(pidfile: &Path, stop: &str) -> Result<Exit> {
    let old = crontab::read()?;
    let (new, change) = crontab::uninstall(&old, pidfile, &home_dir());
    let pid = pidfile.display();
    if change == Change::NotFound {
        println!("watchdog: your crontab has no entry for {pid}; nothing changed");
        return Ok(Exit::Ok);
    }
    let backup = write_with_backup(pidfile, &old, &new)?;
    println!(
        "watchdog: removed the entry for {pid} from your crontab (the previous crontab is \
         saved in {}). {stop}",
        backup.display()
    );
    Ok(Exit::Ok)
}

/// Saves `old` beside the PID file, then writes `new`. Nothing is written when the backup
/// cannot be saved.
fn write_with_backup(pidfile: &Path, old: &[u8], new: &[u8]) -> Result<PathBuf> {
    let backup = crontab::backup_path(pidfile);
    if let Err(e) = crontab::save_backup(&backup, old) {
        return Err(Error::Crontab {
            action: "change",
            reason: format!("{e}, so your crontab was left as it was (it is saved there first)"),
        });
    }
    crontab::write(new).map_err(|e| match e {
        Error::Crontab { action, reason } => Error::Crontab {
            action,
            reason: format!(
                "{reason}; your crontab should be unchanged, and its previous content is \
                 saved in {}",
                backup.display()
            ),
        },
        other => other,
    })?;
    Ok(backup)
}
