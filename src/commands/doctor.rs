//! `watchdog doctor`: "will this work from cron?", answered before the user waits a minute
//! to find out.
//!
//! It takes the options of `check` and looks, read-only, at everything the crontab line
//! depends on: the program as cron's PATH finds it (and its `#!` interpreter), the files and
//! directories the job writes, a cron daemon, the user's crontab, and what on the machine
//! could kill a cron job's leftover processes (`crondaemon.rs`). Each finding is one line on
//! stdout, `ok:`, `warning:` or `problem:`, and says what to change. The exit code is 0 when
//! there is no problem (warnings allowed) and 1 otherwise. Nothing is changed, launched or
//! signalled, and no lock is taken.

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::unistd::{AccessFlags, access};

use super::cron::{CronLine, absolute, home_dir};
use crate::cli::CheckArgs;
use crate::crondaemon::{self, Daemon};
use crate::crontab;
use crate::error::{Result, describe_errno};
use crate::exit::Exit;
use crate::files;
use crate::launch;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warning,
    Problem,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    pub text: String,
}

#[derive(Default)]
struct Report(Vec<Finding>);

impl Report {
    fn ok(&mut self, text: String) {
        self.0.push(Finding {
            level: Level::Ok,
            text,
        });
    }
    fn warn(&mut self, text: String) {
        self.0.push(Finding {
            level: Level::Warning,
            text,
        });
    }
    fn problem(&mut self, text: String) {
        self.0.push(Finding {
            level: Level::Problem,
            text,
        });
    }
}

pub fn run(c: &CheckArgs) -> Result<Exit> {
    let argv = super::cron::current_argv();
    let findings = examine(c, &argv);
    let mut out = String::new();
    let (mut problems, mut warnings) = (0, 0);
    for f in &findings {
        let word = match f.level {
            Level::Ok => "ok",
            Level::Warning => {
                warnings += 1;
                "warning"
            }
            Level::Problem => {
                problems += 1;
                "problem"
            }
        };
        let _ = writeln!(out, "{word}: {}", f.text);
    }
    let _ = match (problems, warnings) {
        (0, 0) => writeln!(out, "doctor: all is well"),
        (0, w) => writeln!(out, "doctor: no problem, {w} warning(s)"),
        (p, w) => writeln!(
            out,
            "doctor: {p} problem(s), {w} warning(s): fix the problems, then run doctor again"
        ),
    };
    crate::output::print_bytes(out.as_bytes())?;
    Ok(if problems == 0 {
        Exit::Ok
    } else {
        Exit::Failed
    })
}

/// Every finding, in the order they are printed.
pub fn examine(c: &CheckArgs, argv: &[OsString]) -> Vec<Finding> {
    let mut r = Report::default();
    let line = CronLine::build(c, argv, "doctor");
    program(c, line.as_ref().ok(), &mut r);
    files_and_dirs(c, &mut r);
    let daemons = crondaemon::daemons();
    daemon(&daemons, &mut r);
    crontab_entry(c, line.as_ref().ok(), &mut r);
    leftovers(&daemons, &mut r);
    mail(&c.launch.job.pidfile, &mut r);
    if let Ok(l) = &line {
        for note in &l.notes {
            r.warn(note.clone());
        }
    }
    r.0
}

/// The program as cron will find it, and its `#!` line.
fn program(c: &CheckArgs, line: Option<&CronLine>, r: &mut Report) {
    let a = &c.launch;
    let name = &a.program[0];
    let shown = name.to_string_lossy();
    let cron_path: OsString = a
        .env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map_or_else(|| crontab::CRON_PATH.into(), |(_, v)| v.clone());
    let exe = if name.as_bytes().contains(&b'/') {
        let p = Path::new(name);
        if p.is_relative() && a.chdir.is_none() {
            r.warn(format!(
                "the program {shown} is a relative path: cron runs jobs in your home \
                 directory ({}), where it means {}; give its absolute path",
                String::from_utf8_lossy(&home_dir()),
                Path::new(OsStr::from_bytes(&home_dir())).join(p).display()
            ));
        }
        let full = match &a.chdir {
            Some(d) if p.is_relative() => d.join(p),
            _ if p.is_relative() => Path::new(OsStr::from_bytes(&home_dir())).join(p),
            _ => p.to_path_buf(),
        };
        match launch::resolve(full.as_os_str(), None, None) {
            Ok(_) => {
                r.ok(format!(
                    "the program {} is an executable file",
                    full.display()
                ));
                Some(full)
            }
            Err(e) => {
                r.problem(format!("the program cannot run from cron: {e}"));
                None
            }
        }
    } else {
        match launch::resolve(name, Some(&cron_path), None) {
            Ok(p) => {
                r.ok(format!(
                    "the program {shown} is found with cron's PATH ({}) at {}",
                    cron_path.to_string_lossy(),
                    p.display()
                ));
                Some(p)
            }
            Err(e) => {
                let hint = match line {
                    Some(l) if l.program.is_absolute() => format!(
                        "; your PATH finds it at {}: give that absolute path (`watchdog cron` \
                         does)",
                        l.program.display()
                    ),
                    _ => String::new(),
                };
                r.problem(format!(
                    "the program {shown} is not found with cron's PATH ({}): {e}{hint}",
                    cron_path.to_string_lossy()
                ));
                None
            }
        }
    };
    if let Some(exe) = exe {
        interpreter(&exe, &cron_path, r);
    }
    if let Some(dir) = &a.chdir {
        match fs::metadata(dir) {
            Ok(m) if m.is_dir() => match access(dir, AccessFlags::X_OK) {
                Ok(()) => r.ok(format!("--chdir {} is a usable directory", dir.display())),
                Err(e) => r.problem(format!(
                    "--chdir {}: {}; fix its permissions",
                    dir.display(),
                    describe_errno(e)
                )),
            },
            Ok(_) => r.problem(format!("--chdir {} is not a directory", dir.display())),
            Err(e) => r.problem(format!(
                "--chdir {}: {}; create it or fix the path",
                dir.display(),
                crate::error::describe_io(&e)
            )),
        }
    }
}

/// A script's `#!` line: the interpreter must exist, `env NAME` must find NAME in the PATH
/// the program gets, and a `\r` (a file saved with Windows line endings) breaks it.
fn interpreter(exe: &Path, path: &OsStr, r: &mut Report) {
    let mut head = [0u8; 256];
    let n = match fs::File::open(exe).and_then(|mut f| f.read(&mut head)) {
        Ok(n) => n,
        Err(_) => return,
    };
    let head = &head[..n];
    let Some(rest) = head.strip_prefix(b"#!") else {
        return;
    };
    let first = rest.split(|&b| b == b'\n').next().unwrap_or(rest);
    if first.ends_with(b"\r") {
        r.problem(format!(
            "{} has Windows line endings: its first line asks for an interpreter whose name \
             ends in a carriage return, which does not exist; convert it (`dos2unix {}` or \
             `sed -i 's/\\r$//' {}`)",
            exe.display(),
            exe.display(),
            exe.display()
        ));
        return;
    }
    let words: Vec<&[u8]> = first
        .split(|b| *b == b' ' || *b == b'\t')
        .filter(|w| !w.is_empty())
        .collect();
    let Some(interp) = words.first() else {
        return;
    };
    let interp = Path::new(OsStr::from_bytes(interp));
    if launch::resolve(interp.as_os_str(), None, None).is_err() {
        r.problem(format!(
            "{}'s first line names the interpreter {}, which is not an executable file here; \
             fix the #! line",
            exe.display(),
            interp.display()
        ));
        return;
    }
    if interp.file_name().is_some_and(|n| n == "env") {
        let Some(cmd) = words[1..].iter().find(|w| !w.starts_with(b"-")) else {
            return;
        };
        let cmd = OsStr::from_bytes(cmd);
        match launch::resolve(cmd, Some(path), None) {
            Ok(p) => r.ok(format!(
                "{}'s `#!{} {}` finds {} with cron's PATH",
                exe.display(),
                interp.display(),
                cmd.to_string_lossy(),
                p.display()
            )),
            Err(_) => {
                let mine = std::env::var_os("PATH")
                    .and_then(|user| launch::resolve(cmd, Some(&user), None).ok());
                let hint = match mine {
                    Some(p) => format!(
                        "; your PATH has it at {}: write `#!{}` or pass --env PATH=...",
                        p.display(),
                        p.display()
                    ),
                    None => "; install it or write its absolute path in the #! line".into(),
                };
                r.problem(format!(
                    "{}'s `#!{} {}` looks {} up in the PATH it gets from cron ({}), which does \
                     not have it{hint}",
                    exe.display(),
                    interp.display(),
                    cmd.to_string_lossy(),
                    cmd.to_string_lossy(),
                    path.to_string_lossy()
                ));
            }
        }
    }
}

/// Whether the job's files can be created and written by this user.
fn files_and_dirs(c: &CheckArgs, r: &mut Report) {
    let a = &c.launch;
    let abs = |p: &Option<PathBuf>| p.as_deref().map(absolute);
    let paths = crate::paths::Paths::new(
        &absolute(&a.job.pidfile),
        abs(&a.stdout).as_deref(),
        abs(&a.stderr).as_deref(),
        abs(&a.job.log).as_deref(),
    );
    let dir = files::parent_dir(&paths.pidfile).to_path_buf();
    let user = files::user_name(nix::unistd::geteuid().as_raw());
    match fs::metadata(&dir) {
        Ok(m) if !m.is_dir() => {
            r.problem(format!(
                "{} (the PID file's directory) is not a directory",
                dir.display()
            ));
            return;
        }
        Ok(_) => match access(&dir, AccessFlags::W_OK | AccessFlags::X_OK) {
            Ok(()) => r.ok(format!("{} is writable by {user}", dir.display())),
            Err(e) => r.problem(format!(
                "{} (the PID file's directory) is not writable by {user}: {}; choose a \
                 --pidfile in a directory of yours",
                dir.display(),
                describe_errno(e)
            )),
        },
        Err(e) => {
            r.problem(format!(
                "{} (the PID file's directory): {}; create it (mkdir -p {})",
                dir.display(),
                crate::error::describe_io(&e),
                dir.display()
            ));
            return;
        }
    }
    if let Some(fs_name) = crate::lock::network_fs(&dir) {
        r.warn(format!(
            "{} is on {fs_name}, where file locks may not serialise runs; keep the PID file \
             on a local disk",
            dir.display()
        ));
    }
    let named: [(&str, &Path); 6] = [
        ("PID file", &paths.pidfile),
        ("state file", &paths.state),
        ("lock file", &paths.lock),
        ("stdout file", &paths.stdout),
        ("stderr file", &paths.stderr),
        ("event log", &paths.log),
    ];
    let mut bad = false;
    for (what, p) in named {
        match fs::symlink_metadata(p) {
            Ok(m) => {
                let regular = m.file_type().is_file();
                let control = matches!(what, "PID file" | "state file" | "lock file");
                if !control && m.is_dir() {
                    bad = true;
                    r.problem(format!(
                        "the {what} {} is a directory; name a file",
                        p.display()
                    ));
                } else if control && !regular {
                    bad = true;
                    r.problem(format!(
                        "the {what} {} is not a regular file (a directory, FIFO or symbolic \
                         link); the watchdog refuses it: remove it",
                        p.display()
                    ));
                } else if let Err(e) = access(p, AccessFlags::W_OK) {
                    bad = true;
                    r.problem(format!(
                        "the {what} {} is not writable by {user}: {}; fix its owner or mode",
                        p.display(),
                        describe_errno(e)
                    ));
                } else if control && files::running_as_root() && m.uid() != 0 {
                    bad = true;
                    r.problem(format!(
                        "the {what} {} belongs to {}, and root refuses files another user can \
                         rewrite; run the job as {} or remove the file",
                        p.display(),
                        files::user_name(m.uid()),
                        files::user_name(m.uid())
                    ));
                }
            }
            Err(_) => {
                let parent = files::parent_dir(p);
                if parent != dir {
                    if let Err(e) = access(parent, AccessFlags::W_OK | AccessFlags::X_OK) {
                        bad = true;
                        r.problem(format!(
                            "the {what} {} cannot be created: {}: {}",
                            p.display(),
                            parent.display(),
                            describe_errno(e)
                        ));
                    }
                }
            }
        }
    }
    if !bad {
        r.ok(format!(
            "the job's files can be written: {}, {}, {}",
            paths.stdout.display(),
            paths.stderr.display(),
            paths.log.display()
        ));
    }
}

fn daemon(daemons: &[Daemon], r: &mut Report) {
    if daemons.is_empty() {
        if crondaemon::systemd_cron().is_some() && crondaemon::systemd_running() {
            // systemd-cron has no daemon; `leftovers` reports on it.
            return;
        }
        r.problem(
            "no cron daemon is running, so nothing will run your crontab: start it \
             (Debian, Ubuntu: `sudo systemctl enable --now cron`, or `sudo service cron \
             start`; Fedora: `sudo systemctl enable --now crond`); in a container, cron \
             must run inside the container"
                .into(),
        );
        return;
    }
    let list: Vec<String> = daemons
        .iter()
        .map(|d| format!("{} (pid {})", d.name, d.pid))
        .collect();
    r.ok(format!("a cron daemon is running: {}", list.join(", ")));
}

/// Whether the user's crontab has the line, and whether it is the one `watchdog cron` makes.
fn crontab_entry(c: &CheckArgs, line: Option<&CronLine>, r: &mut Report) {
    let text = match crontab::read() {
        Ok(t) => t,
        Err(e) => {
            r.problem(format!("{e}"));
            return;
        }
    };
    let pidfile = absolute(&c.launch.job.pidfile);
    let home = home_dir();
    let found = crontab::find(&text, &pidfile, &home);
    let Some((index, entry)) = found.first() else {
        r.problem(format!(
            "your crontab has no entry for --pidfile {}: `watchdog cron --install` with the \
             same options adds it",
            pidfile.display()
        ));
        return;
    };
    if found.len() > 1 {
        r.warn(format!(
            "your crontab has {} entries for --pidfile {}; one is enough (`watchdog cron \
             --install` keeps one)",
            found.len(),
            pidfile.display()
        ));
    }
    // The watchdog binary the entry runs must exist under the PATH in effect there.
    let command = match crontab::classify(entry) {
        crontab::Line::Entry { command } => command.to_vec(),
        _ => Vec::new(),
    };
    let words = crontab::shell_words(&crontab::cron_unescape(&command), &home);
    let bin = words.iter().find(|w| {
        Path::new(OsStr::from_bytes(w))
            .file_name()
            .is_some_and(|n| n == "watchdog")
    });
    if let Some(bin) = bin {
        let path = crontab::path_for_line(&text, *index);
        if let Err(e) =
            launch::resolve(OsStr::from_bytes(bin), Some(OsStr::from_bytes(&path)), None)
        {
            r.problem(format!(
                "your crontab's entry for {} runs a watchdog that cron cannot run: {e}; \
                 `watchdog cron --install` writes the right path",
                pidfile.display()
            ));
            return;
        }
    }
    match line {
        Some(l) if l.entry == *entry => r.ok(format!(
            "your crontab has the entry for {} (line {})",
            pidfile.display(),
            index + 1
        )),
        Some(l) => r.warn(format!(
            "your crontab's entry for {} (line {}) differs from the one these options make; \
             `watchdog cron --install` with them replaces it. Yours: {}; these: {}",
            pidfile.display(),
            index + 1,
            String::from_utf8_lossy(entry),
            String::from_utf8_lossy(&l.entry)
        )),
        None => r.ok(format!(
            "your crontab has an entry for {} (line {})",
            pidfile.display(),
            index + 1
        )),
    }
}

/// What could kill the programs a cron job leaves behind.
fn leftovers(daemons: &[Daemon], r: &mut Report) {
    if !crondaemon::systemd_running() {
        r.ok(
            "systemd does not manage this machine, so no cgroup clean-up kills the programs \
             cron jobs leave behind"
                .into(),
        );
        return;
    }
    let mut clean = true;
    if let Some(evidence) = crondaemon::systemd_cron() {
        clean = false;
        r.problem(format!(
            "cron here is systemd-cron ({}): it runs each crontab line as a systemd service and \
             kills what the job leaves behind when the command ends, which is every program \
             watchdog launches; install a classic cron instead (Debian, Ubuntu: `apt install \
             cron`; Fedora: `dnf install cronie`), or run the program as a systemd user service",
            evidence.display()
        ));
    }
    for d in daemons {
        let Some(unit) = d.cgroup.as_deref().and_then(crondaemon::unit_of_cgroup) else {
            continue;
        };
        if !unit.ends_with(".service") {
            continue;
        }
        match crondaemon::kill_mode(unit) {
            Some((mode, _)) if mode == "process" || mode == "none" => {}
            found => {
                clean = false;
                let (mode, from) = match &found {
                    Some((m, f)) => (m.clone(), format!(" (set in {})", f.display())),
                    None => (
                        "control-group".to_string(),
                        " (systemd's default)".to_string(),
                    ),
                };
                r.warn(format!(
                    "{unit}, where {} runs, has KillMode={mode}{from}: stopping or restarting \
                     it (a package upgrade does) kills every program its jobs launched, until \
                     the next check relaunches them; `KillMode=process` in a drop-in (`sudo \
                     systemctl edit {unit}`) avoids that",
                    d.name
                ));
            }
        }
    }
    let logind = crondaemon::logind();
    let user = files::user_name(nix::unistd::geteuid().as_raw());
    if logind.kills(&user) {
        clean = false;
        let set_in = logind
            .set_in
            .as_ref()
            .map(|p| format!(" in {}", p.display()))
            .unwrap_or_default();
        match crondaemon::cron_pam_opens_sessions() {
            Some(pam) => r.problem(format!(
                "logind kills a session's leftover processes (KillUserProcesses=yes{set_in}) \
                 and cron opens a logind session for each job ({pam} uses pam_systemd), so \
                 every program a cron job launches dies when the job ends; ask the \
                 administrator to add {user} to KillExcludeUsers=",
                pam = pam.display()
            )),
            None => r.warn(format!(
                "logind kills a session's leftover processes (KillUserProcesses=yes{set_in}): a \
                 program you start from a login (`watchdog start` over SSH) dies when you log \
                 out, until cron's next check relaunches it; let cron start it, or ask for \
                 {user} in KillExcludeUsers="
            )),
        }
    }
    if clean {
        r.ok(
            "nothing here kills the programs cron jobs leave behind (no systemd-cron, cron's \
             service keeps its jobs' processes, logind does not kill them)"
                .into(),
        );
    }
}

/// cron mails what a job prints; without a mail program that is lost.
fn mail(pidfile: &Path, r: &mut Report) {
    let sendmail = PathBuf::from("/usr/sbin/sendmail");
    if !sendmail.exists() {
        r.warn(format!(
            "there is no /usr/sbin/sendmail, so cron cannot mail you what watchdog reports; \
             read it with `watchdog log --pidfile {}`",
            pidfile.display()
        ));
    }
}
