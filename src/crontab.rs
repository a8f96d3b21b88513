//! The user's crontab: the lines `watchdog cron` writes, finding them again, and editing the
//! crontab through the `crontab` command without losing a byte of anything else.
//!
//! What cron does to a line, and so what this module guards against (crontab(5), Debian's
//! `cron` 3.0pl1 and cronie behave alike here):
//! - The command runs under `SHELL` (default `/bin/sh`) with `PATH=/usr/bin:/bin` unless the
//!   crontab sets them. An assignment applies to the entries *after* it, so the block we add
//!   sets both right before its entry.
//! - A `%` in the command ends it (the rest becomes stdin); `\%` is a literal `%`, and cron
//!   removes that backslash. There is no way to pass a backslash directly followed by `%`,
//!   so the shell quoting is arranged never to produce one (see [`command_text`]).
//! - A newline cannot be part of a command: an argument that holds one is refused.
//! - Debian's cron reads at most 1000 bytes of command (`MAX_COMMAND`); a longer one is cut,
//!   so [`LONG_COMMAND`] triggers a warning.
//!
//! Editing rules: the crontab is read with `crontab -l` and written with `crontab -`, as
//! bytes. Every line that is not ours is kept byte for byte, in order. A line is "ours" when
//! it runs `watchdog check` (any path whose last component is `watchdog`) with the same
//! `--pidfile`; installing replaces that line in place (so installing twice leaves one line),
//! and uninstalling removes it together with the preamble we wrote above it. Before anything
//! is written, the previous crontab is saved beside the PID file (see [`save_backup`]).

use std::ffi::{OsStr, OsString};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result, describe_io};
use crate::files;

/// Every minute.
pub const SCHEDULE: &str = "* * * * *";

/// The PATH cron gives a job when the crontab sets none, written out so that the line does
/// not depend on the cron implementation's default.
pub const CRON_PATH: &str = "/usr/bin:/bin";

/// The shell cron runs the command with.
pub const CRON_SHELL: &str = "/bin/sh";

/// The first words of the comment line above an entry we added.
pub const MARKER: &str = "# watchdog cron --install: keeps alive the job of --pidfile ";

/// Commands longer than this many bytes are cut by Debian's cron (it reads 1000 bytes,
/// including the terminator).
pub const LONG_COMMAND: usize = 998;

/// Quotes one word for `/bin/sh`: bare when it holds only characters that mean nothing to
/// the shell, else in single quotes (a `'` becomes `'\''`).
pub fn shell_word(w: &[u8]) -> Vec<u8> {
    let plain = !w.is_empty()
        && w.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"/._-=:,+@%".contains(&b));
    if plain {
        return w.to_vec();
    }
    let mut out = Vec::with_capacity(w.len() + 2);
    out.push(b'\'');
    for (i, &b) in w.iter().enumerate() {
        match b {
            b'\'' => out.extend_from_slice(br"'\''"),
            // A backslash right before a `%` would make cron's `\%` escape eat it: end the
            // quote after the backslash and reopen it before the `%`.
            b'\\' if w.get(i + 1) == Some(&b'%') => out.extend_from_slice(br"\''"),
            _ => out.push(b),
        }
    }
    out.push(b'\'');
    out
}

/// The command field of a crontab entry for `argv`: each word quoted for the shell, then
/// every `%` escaped for cron.
///
/// # Errors
/// A sentence naming the word that holds a newline, carriage return or NUL byte, which no
/// crontab line can carry.
pub fn command_text(argv: &[OsString]) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for (i, w) in argv.iter().enumerate() {
        let bytes = w.as_bytes();
        if bytes.iter().any(|b| matches!(b, b'\n' | b'\r' | 0)) {
            return Err(format!(
                "the word {:?} holds a line break, which a crontab line cannot carry; put the \
                 command in a small script and give its path instead",
                w.to_string_lossy()
            ));
        }
        if i > 0 {
            out.push(b' ');
        }
        for b in shell_word(bytes) {
            if b == b'%' {
                out.push(b'\\');
            }
            out.push(b);
        }
    }
    Ok(out)
}

/// What cron does to a command before handing it to the shell: `\%` becomes `%`, and the
/// first unescaped `%` ends the command (the rest would be its stdin). Mirrors Debian cron's
/// `do_command.c`; used to read lines back and in tests.
pub fn cron_unescape(cmd: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(cmd.len());
    let mut escaped = false;
    for &b in cmd {
        if escaped {
            if b == b'%' {
                out.pop();
            }
            out.push(b);
            escaped = false;
            continue;
        }
        if b == b'\\' {
            escaped = true;
            out.push(b);
            continue;
        }
        if b == b'%' {
            break;
        }
        out.push(b);
    }
    out
}

/// The lines `watchdog cron` prints and `--install` adds, each without its newline: the
/// marker comment, `SHELL=`, `PATH=`, and the entry.
pub fn block(pidfile: &Path, entry: &[u8]) -> Vec<Vec<u8>> {
    let mut marker = MARKER.as_bytes().to_vec();
    marker.extend(pidfile.as_os_str().as_bytes().iter().map(|&b| match b {
        b'\n' | b'\r' => b'?',
        b => b,
    }));
    vec![
        marker,
        format!("SHELL={CRON_SHELL}").into_bytes(),
        format!("PATH={CRON_PATH}").into_bytes(),
        entry.to_vec(),
    ]
}

/// A whole entry line: schedule, a space, the command.
pub fn entry_line(command: &[u8]) -> Vec<u8> {
    let mut line = SCHEDULE.as_bytes().to_vec();
    line.push(b' ');
    line.extend_from_slice(command);
    line
}

/// One crontab line, as cron reads it.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// Empty or only blanks.
    Blank,
    /// Starts with `#` (after blanks).
    Comment,
    /// `NAME=value` (blanks around `=` allowed).
    Env { name: &'a [u8], value: &'a [u8] },
    /// A schedule and a command.
    Entry { command: &'a [u8] },
    /// Anything else (cron rejects it; kept as is).
    Other,
}

/// Classifies a line (without its newline).
pub fn classify(line: &[u8]) -> Line<'_> {
    let t = trim_start(line);
    match t.first() {
        None => return Line::Blank,
        Some(b'#') => return Line::Comment,
        Some(b) if b.is_ascii_digit() || *b == b'*' || *b == b'@' => {
            let fields = if *b == b'@' { 1 } else { 5 };
            let mut rest = t;
            for _ in 0..fields {
                let end = rest
                    .iter()
                    .position(|b| b.is_ascii_whitespace())
                    .unwrap_or(rest.len());
                rest = trim_start(&rest[end..]);
            }
            return if rest.is_empty() {
                Line::Other
            } else {
                Line::Entry { command: rest }
            };
        }
        Some(_) => {}
    }
    match t.iter().position(|&b| b == b'=') {
        Some(eq) => {
            let name = trim_end(&t[..eq]);
            if name.is_empty() || name.iter().any(|b| b.is_ascii_whitespace()) {
                return Line::Other;
            }
            let value = trim_end(trim_start(&t[eq + 1..]));
            let value = unquote(value);
            Line::Env { name, value }
        }
        None => Line::Other,
    }
}

fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &s[n..]
}

fn trim_end(s: &[u8]) -> &[u8] {
    let n = s
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_whitespace())
        .count();
    &s[..s.len() - n]
}

/// cron accepts `NAME="value"` and `NAME='value'`.
fn unquote(v: &[u8]) -> &[u8] {
    match (v.first(), v.last()) {
        (Some(b'"'), Some(b'"')) | (Some(b'\''), Some(b'\'')) if v.len() >= 2 => &v[1..v.len() - 1],
        _ => v,
    }
}

/// Splits a shell command into words the way `/bin/sh` would for a simple command: single
/// and double quotes, backslashes, and `$HOME`, `${HOME}` and a leading `~` expanded to
/// `home`. Stops at the first unquoted operator (`;`, `&`, `|`, `<`, `>`, `(`, `)`) or
/// comment. Other expansions are kept literally: good enough to find `--pidfile` in lines
/// people write.
pub fn shell_words(cmd: &[u8], home: &[u8]) -> Vec<Vec<u8>> {
    let mut words = Vec::new();
    let mut cur: Option<Vec<u8>> = None;
    let mut i = 0;
    let expand_home = |i: usize, out: &mut Vec<u8>| -> Option<usize> {
        for form in [&b"${HOME}"[..], &b"$HOME"[..]] {
            if cmd[i..].starts_with(form) {
                let next = cmd.get(i + form.len());
                let ends = form.ends_with(b"}")
                    || !next.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
                if ends {
                    out.extend_from_slice(home);
                    return Some(i + form.len());
                }
            }
        }
        None
    };
    while i < cmd.len() {
        let b = cmd[i];
        match b {
            b' ' | b'\t' => {
                if let Some(w) = cur.take() {
                    words.push(w);
                }
                i += 1;
            }
            b';' | b'&' | b'|' | b'<' | b'>' | b'(' | b')' => break,
            b'#' if cur.is_none() => break,
            b'\'' => {
                let w = cur.get_or_insert_with(Vec::new);
                let end = cmd[i + 1..]
                    .iter()
                    .position(|&c| c == b'\'')
                    .map_or(cmd.len(), |p| i + 1 + p);
                w.extend_from_slice(&cmd[i + 1..end]);
                i = end + 1;
            }
            b'"' => {
                let w = cur.get_or_insert_with(Vec::new);
                i += 1;
                while i < cmd.len() && cmd[i] != b'"' {
                    if cmd[i] == b'\\' && cmd.get(i + 1).is_some_and(|c| b"$`\"\\\n".contains(c)) {
                        w.push(cmd[i + 1]);
                        i += 2;
                    } else if cmd[i] == b'$' {
                        match expand_home(i, w) {
                            Some(next) => i = next,
                            None => {
                                w.push(b'$');
                                i += 1;
                            }
                        }
                    } else {
                        w.push(cmd[i]);
                        i += 1;
                    }
                }
                i += 1;
            }
            b'\\' => {
                let w = cur.get_or_insert_with(Vec::new);
                if let Some(&c) = cmd.get(i + 1) {
                    w.push(c);
                }
                i += 2;
            }
            b'~' if cur.is_none()
                && cmd
                    .get(i + 1)
                    .is_none_or(|c| *c == b'/' || c.is_ascii_whitespace()) =>
            {
                cur = Some(home.to_vec());
                i += 1;
            }
            b'$' => {
                let w = cur.get_or_insert_with(Vec::new);
                match expand_home(i, w) {
                    Some(next) => i = next,
                    None => {
                        w.push(b'$');
                        i += 1;
                    }
                }
            }
            _ => {
                cur.get_or_insert_with(Vec::new).push(b);
                i += 1;
            }
        }
    }
    if let Some(w) = cur {
        words.push(w);
    }
    words
}

/// The `--pidfile` of an entry's command when it runs `watchdog check`, else `None`. For a
/// `watchdog check --config FILE` entry (several programs, `config.rs`), FILE: it names
/// that entry the way a PID file names a single program's.
pub fn pidfile_of(command: &[u8], home: &[u8]) -> Option<PathBuf> {
    let words = shell_words(&cron_unescape(command), home);
    let at = words.iter().position(|w| {
        Path::new(OsStr::from_bytes(w))
            .file_name()
            .is_some_and(|n| n == "watchdog")
    })?;
    if words.get(at + 1).map(Vec::as_slice) != Some(b"check") {
        return None;
    }
    let mut it = words[at + 2..].iter();
    while let Some(w) = it.next() {
        if w == b"--" {
            break;
        }
        if w == b"--pidfile" || w == b"--config" {
            return it.next().map(|p| PathBuf::from(OsStr::from_bytes(p)));
        }
        if let Some(p) = w
            .strip_prefix(b"--pidfile=")
            .or_else(|| w.strip_prefix(b"--config="))
        {
            return Some(PathBuf::from(OsStr::from_bytes(p)));
        }
    }
    None
}

/// Whether two PID file paths name the same file: the same bytes, or the same name in
/// directories that resolve to the same place (a symlinked home, `..`).
pub fn same_pidfile(a: &Path, b: &Path) -> bool {
    if a == b {
        return true;
    }
    if a.file_name() != b.file_name() {
        return false;
    }
    match (
        fs::canonicalize(files::parent_dir(a)),
        fs::canonicalize(files::parent_dir(b)),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// The lines of a crontab, each with its newline (the last may lack one).
pub fn lines(text: &[u8]) -> Vec<&[u8]> {
    text.split_inclusive(|&b| b == b'\n').collect()
}

fn strip_nl(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

/// The entries of `text` that run `watchdog check` for `pidfile`: their line indexes (in
/// [`lines`]) and text. `home` expands `$HOME` and `~` (a `HOME=` line in the crontab wins).
pub fn find(text: &[u8], pidfile: &Path, home: &[u8]) -> Vec<(usize, Vec<u8>)> {
    let mut home = home.to_vec();
    let mut found = Vec::new();
    for (i, raw) in lines(text).into_iter().enumerate() {
        let line = strip_nl(raw);
        match classify(line) {
            Line::Env {
                name: b"HOME",
                value,
            } => home = value.to_vec(),
            Line::Entry { command }
                if pidfile_of(command, &home).is_some_and(|p| {
                    // cron runs the command in $HOME: a relative path is taken from there.
                    let p = Path::new(OsStr::from_bytes(&home)).join(p);
                    same_pidfile(&p, pidfile)
                }) =>
            {
                found.push((i, line.to_vec()));
            }
            _ => {}
        }
    }
    found
}

/// What an edit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The crontab already held exactly this entry (and no duplicate): nothing to write.
    Unchanged,
    /// The block was appended.
    Added,
    /// An entry for the same PID file was replaced in place; `duplicates` more were removed.
    Replaced { old: Vec<u8>, duplicates: usize },
    /// This many entries were removed.
    Removed(usize),
    /// No entry for the PID file: nothing to remove.
    NotFound,
}

/// The crontab with the entry for `pidfile` set to `entry` (see the module doc), and what
/// changed. `block` is what to append when there is no entry yet.
pub fn install(
    old: &[u8],
    pidfile: &Path,
    entry: &[u8],
    block: &[Vec<u8>],
    home: &[u8],
) -> (Vec<u8>, Change) {
    let found = find(old, pidfile, home);
    let Some((first, old_entry)) = found.first().cloned() else {
        let mut new = old.to_vec();
        if !new.is_empty() && !new.ends_with(b"\n") {
            // cron needs the last line terminated; this is the one byte we add to theirs.
            new.push(b'\n');
        }
        for l in block {
            new.extend_from_slice(l);
            new.push(b'\n');
        }
        return (new, Change::Added);
    };
    if found.len() == 1 && old_entry == entry {
        return (old.to_vec(), Change::Unchanged);
    }
    let drop: Vec<usize> = found[1..].iter().map(|(i, _)| *i).collect();
    let mut new = Vec::with_capacity(old.len() + entry.len());
    for (i, raw) in lines(old).into_iter().enumerate() {
        if i == first {
            new.extend_from_slice(entry);
            if raw.ends_with(b"\n") {
                new.push(b'\n');
            }
        } else if !drop.contains(&i) {
            new.extend_from_slice(raw);
        }
    }
    (
        new,
        Change::Replaced {
            old: old_entry,
            duplicates: drop.len(),
        },
    )
}

/// The crontab without the entries for `pidfile`, and without the preamble (marker comment,
/// `SHELL=`, `PATH=`) written above one of them, unless a later entry may rely on those
/// assignments (cron applies an assignment to every entry after it).
pub fn uninstall(old: &[u8], pidfile: &Path, home: &[u8]) -> (Vec<u8>, Change) {
    let found = find(old, pidfile, home);
    if found.is_empty() {
        return (old.to_vec(), Change::NotFound);
    }
    let all = lines(old);
    let mut remove: Vec<usize> = Vec::new();
    for (idx, _) in &found {
        remove.push(*idx);
        // Our preamble: exactly `SHELL=/bin/sh` and `PATH=/usr/bin:/bin` right above the
        // entry, and our marker above them.
        let shell = format!("SHELL={CRON_SHELL}");
        let path = format!("PATH={CRON_PATH}");
        let ours = |i: usize, want: &[u8]| strip_nl(all[i]) == want;
        if *idx >= 3
            && ours(idx - 1, path.as_bytes())
            && ours(idx - 2, shell.as_bytes())
            && strip_nl(all[idx - 3]).starts_with(MARKER.as_bytes())
            && later_entries_reassign(&all[idx + 1..])
        {
            remove.extend([idx - 1, idx - 2, idx - 3]);
        }
    }
    let mut new = Vec::with_capacity(old.len());
    for (i, raw) in all.iter().enumerate() {
        if !remove.contains(&i) {
            new.extend_from_slice(raw);
        }
    }
    (new, Change::Removed(found.len()))
}

/// Whether removing a `SHELL=`/`PATH=` pair changes nothing for the entries in `after`: there
/// is none before both are assigned again.
fn later_entries_reassign(after: &[&[u8]]) -> bool {
    let (mut shell, mut path) = (false, false);
    for raw in after {
        match classify(strip_nl(raw)) {
            Line::Env { name: b"SHELL", .. } => shell = true,
            Line::Env { name: b"PATH", .. } => path = true,
            Line::Entry { .. } if !(shell && path) => return false,
            _ => {}
        }
    }
    true
}

/// The PATH cron gives the entry at line `index` of `text`: the last `PATH=` above it, or
/// cron's default.
pub fn path_for_line(text: &[u8], index: usize) -> Vec<u8> {
    let mut path = CRON_PATH.as_bytes().to_vec();
    for raw in lines(text).into_iter().take(index) {
        if let Line::Env {
            name: b"PATH",
            value,
        } = classify(strip_nl(raw))
        {
            path = value.to_vec();
        }
    }
    path
}

/// Reads the user's crontab with `crontab -l`. No crontab yet is an empty one.
///
/// # Errors
/// `Crontab` when there is no `crontab` command, or it fails for another reason than "no
/// crontab" (the user is not allowed to use cron, the spool is unreadable...).
pub fn read() -> Result<Vec<u8>> {
    let out = crontab_command()
        .arg("-l")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| spawn_error("read", &e))?;
    if out.status.success() {
        return Ok(out.stdout);
    }
    let err = String::from_utf8_lossy(&out.stderr);
    if err.to_ascii_lowercase().contains("no crontab for") {
        return Ok(Vec::new());
    }
    Err(Error::Crontab {
        action: "read",
        reason: format!(
            "`crontab -l` {}{}",
            describe_exit(&out.status),
            stderr_note(&err)
        ),
    })
}

/// Replaces the user's crontab with `text` through `crontab -`.
///
/// # Errors
/// `Crontab` when `crontab` is missing or refuses the new crontab (it then keeps the old).
pub fn write(text: &[u8]) -> Result<()> {
    let mut child = crontab_command()
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| spawn_error("write", &e))?;
    let wrote = child
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(text))
        .unwrap_or(Ok(()));
    let out = child.wait_with_output().map_err(|e| Error::Crontab {
        action: "write",
        reason: format!("waiting for `crontab -` failed: {}", describe_io(&e)),
    })?;
    if out.status.success() && wrote.is_ok() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    Err(Error::Crontab {
        action: "write",
        reason: format!(
            "`crontab -` {}{}",
            describe_exit(&out.status),
            stderr_note(&err)
        ),
    })
}

fn crontab_command() -> Command {
    let mut c = Command::new("crontab");
    // English messages: "no crontab for USER" is matched above.
    c.env("LC_ALL", "C");
    c
}

fn spawn_error(action: &'static str, e: &io::Error) -> Error {
    let reason = if e.kind() == io::ErrorKind::NotFound {
        "there is no `crontab` command in your PATH; install cron (Debian and Ubuntu: \
         `apt install cron`; Fedora: `dnf install cronie`), or add the line by hand"
            .to_string()
    } else {
        format!("cannot run `crontab`: {}", describe_io(e))
    };
    Error::Crontab { action, reason }
}

fn describe_exit(status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => format!("was killed by signal {s}"),
        _ => "failed".into(),
    }
}

fn stderr_note(err: &str) -> String {
    let t = err.trim();
    if t.is_empty() {
        String::new()
    } else {
        let t: String = t.chars().take(400).collect();
        format!(": {}", t.replace('\n', " / "))
    }
}

/// Where the previous crontab is saved before a change: beside the PID file.
pub fn backup_path(pidfile: &Path) -> PathBuf {
    let mut s = pidfile.as_os_str().to_os_string();
    s.push(".crontab.bak");
    PathBuf::from(s)
}

/// Saves `text` at `path` atomically and durably, readable by the owner only (a crontab can
/// hold secrets in its variables).
///
/// # Errors
/// `Io` naming the backup file.
pub fn save_backup(path: &Path, text: &[u8]) -> Result<()> {
    let dir = files::parent_dir(path);
    let name = path.file_name().unwrap_or(OsStr::new("crontab.bak"));
    let mut tmp = OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(tmp);
    let result = (|| -> io::Result<()> {
        let _ = fs::remove_file(&tmp);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        f.write_all(text)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        files::sync_dir(dir)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io("write crontab backup", path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    /// Runs the command text the way cron would (unescape, then `/bin/sh -c`) with the
    /// first word replaced by printf, and returns the words it received.
    fn through_cron_and_sh(words: &[&str]) -> Vec<String> {
        let mut argv = os(&["printf", "%s\\n"]);
        argv.extend(os(words));
        let text = command_text(&argv).unwrap();
        let shell_text = cron_unescape(&text);
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(OsStr::from_bytes(&shell_text))
            .output()
            .unwrap();
        assert!(out.status.success(), "{:?}", String::from_utf8_lossy(&text));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn every_word_survives_cron_and_the_shell() {
        let words = [
            "plain",
            "a b",
            "it's",
            "50%",
            "%%",
            r"\%",
            r"a\\%b",
            r"back\slash",
            "$HOME",
            "`id`",
            "*",
            "#hash",
            "~",
            "x=y",
            "\"dq\"",
            "tab\there",
            "ünïcode",
        ];
        assert_eq!(through_cron_and_sh(&words), words);
    }

    #[test]
    fn percent_signs_are_escaped_and_line_breaks_refused() {
        let t = command_text(&os(&["/bin/echo", "100%"])).unwrap();
        assert_eq!(t, br"/bin/echo 100\%");
        assert!(command_text(&os(&["/bin/echo", "a\nb"])).is_err());
        assert!(command_text(&os(&["/bin/echo", "a\rb"])).is_err());
    }

    #[test]
    fn lines_are_classified_as_cron_does() {
        assert_eq!(classify(b""), Line::Blank);
        assert_eq!(classify(b"   "), Line::Blank);
        assert_eq!(classify(b"  # x"), Line::Comment);
        assert_eq!(
            classify(b"PATH = /a:/b"),
            Line::Env {
                name: b"PATH",
                value: b"/a:/b"
            }
        );
        assert_eq!(
            classify(b"MAILTO=\"\""),
            Line::Env {
                name: b"MAILTO",
                value: b""
            }
        );
        assert_eq!(
            classify(b"*/5 * * * 1-5   run  it"),
            Line::Entry {
                command: b"run  it"
            }
        );
        assert_eq!(classify(b"@reboot /x"), Line::Entry { command: b"/x" });
        assert_eq!(classify(b"* * * *"), Line::Other);
        assert_eq!(classify(b"garbage"), Line::Other);
    }

    #[test]
    fn shell_words_handle_quotes_and_home() {
        let w = shell_words(br#"a 'b c' "d $HOME" ${HOME}/x ~/y $HOMEX e\ f ; g"#, b"/h");
        let w: Vec<&[u8]> = w.iter().map(Vec::as_slice).collect();
        assert_eq!(
            w,
            vec![
                &b"a"[..],
                b"b c",
                b"d /h",
                b"/h/x",
                b"/h/y",
                b"$HOMEX",
                b"e f"
            ]
        );
    }

    #[test]
    fn the_pidfile_of_a_check_line_is_found() {
        let home = b"/home/me";
        let cases: [(&[u8], Option<&str>); 7] = [
            (
                b"/usr/bin/watchdog check --pidfile /a/app.pid -- /a/run",
                Some("/a/app.pid"),
            ),
            (
                b"$HOME/.cargo/bin/watchdog check --grace 2s --pidfile=$HOME/app.pid -- x",
                Some("/home/me/app.pid"),
            ),
            (
                b"'/opt/my tools/watchdog' check --pidfile '/a b/app.pid' -- x",
                Some("/a b/app.pid"),
            ),
            (b"nice -n5 watchdog check --pidfile p -- x", Some("p")),
            (b"watchdog stop --pidfile /a/app.pid", None),
            (b"watchdog check -- /x --pidfile /a/app.pid", None),
            (b"/usr/bin/watchdogs check --pidfile /a/app.pid -- x", None),
        ];
        for (cmd, want) in cases {
            assert_eq!(
                pidfile_of(cmd, home),
                want.map(PathBuf::from),
                "{}",
                String::from_utf8_lossy(cmd)
            );
        }
    }

    const OTHERS: &[u8] = b"# my jobs\r\nMAILTO=me@example.org\n\n0 3 * * * /usr/bin/backup --all \\% \xff\n@reboot /x\n";

    fn ours(pid: &str) -> (Vec<u8>, Vec<Vec<u8>>) {
        let cmd = command_text(&os(&[
            "/usr/bin/watchdog",
            "check",
            "--pidfile",
            pid,
            "--",
            "/bin/sleep",
            "100",
        ]))
        .unwrap();
        let entry = entry_line(&cmd);
        let block = block(Path::new(pid), &entry);
        (entry, block)
    }

    #[test]
    fn install_appends_once_and_uninstall_restores_every_byte() {
        let (entry, blk) = ours("/a/app.pid");
        let (once, c) = install(OTHERS, Path::new("/a/app.pid"), &entry, &blk, b"/h");
        assert_eq!(c, Change::Added);
        assert!(once.starts_with(OTHERS));
        let (twice, c) = install(&once, Path::new("/a/app.pid"), &entry, &blk, b"/h");
        assert_eq!(c, Change::Unchanged);
        assert_eq!(twice, once);
        assert_eq!(find(&twice, Path::new("/a/app.pid"), b"/h").len(), 1);
        let (back, c) = uninstall(&twice, Path::new("/a/app.pid"), b"/h");
        assert_eq!(c, Change::Removed(1));
        assert_eq!(back, OTHERS);
        let (same, c) = uninstall(&back, Path::new("/a/app.pid"), b"/h");
        assert_eq!(c, Change::NotFound);
        assert_eq!(same, OTHERS);
    }

    #[test]
    fn a_changed_line_is_replaced_in_place_and_duplicates_go() {
        let (entry, blk) = ours("/a/app.pid");
        let mut text = OTHERS.to_vec();
        text.extend_from_slice(b"* * * * * watchdog check --pidfile /a/app.pid -- /old\n");
        text.extend_from_slice(b"0 * * * * /keep/me\n");
        text.extend_from_slice(b"*/2 * * * * watchdog check --pidfile=/a/app.pid -- /old2");
        let (new, c) = install(&text, Path::new("/a/app.pid"), &entry, &blk, b"/h");
        assert!(matches!(c, Change::Replaced { duplicates: 1, .. }), "{c:?}");
        let mut want = OTHERS.to_vec();
        want.extend_from_slice(&entry);
        want.extend_from_slice(b"\n0 * * * * /keep/me\n");
        assert_eq!(
            String::from_utf8_lossy(&new),
            String::from_utf8_lossy(&want)
        );
    }

    #[test]
    fn other_jobs_lines_are_left_alone() {
        let (a_entry, a_blk) = ours("/a/app.pid");
        let (b_entry, b_blk) = ours("/b/app.pid");
        let (t, _) = install(OTHERS, Path::new("/a/app.pid"), &a_entry, &a_blk, b"/h");
        let (t, c) = install(&t, Path::new("/b/app.pid"), &b_entry, &b_blk, b"/h");
        assert_eq!(c, Change::Added);
        assert_eq!(find(&t, Path::new("/a/app.pid"), b"/h").len(), 1);
        assert_eq!(find(&t, Path::new("/b/app.pid"), b"/h").len(), 1);
        // Removing a's block keeps its SHELL/PATH? b's block sets its own, so they go.
        let (t2, _) = uninstall(&t, Path::new("/a/app.pid"), b"/h");
        let mut want = OTHERS.to_vec();
        for l in &b_blk {
            want.extend_from_slice(l);
            want.push(b'\n');
        }
        assert_eq!(t2, want);
    }

    #[test]
    fn the_preamble_stays_when_a_later_entry_may_rely_on_it() {
        let (entry, blk) = ours("/a/app.pid");
        let (mut t, _) = install(OTHERS, Path::new("/a/app.pid"), &entry, &blk, b"/h");
        t.extend_from_slice(b"5 * * * * uses-path\n");
        let (t2, c) = uninstall(&t, Path::new("/a/app.pid"), b"/h");
        assert_eq!(c, Change::Removed(1));
        let s = String::from_utf8_lossy(&t2);
        assert!(s.contains("PATH=/usr/bin:/bin\n5 * * * * uses-path"), "{s}");
        assert!(!s.contains("watchdog check"), "{s}");
    }

    #[test]
    fn a_missing_final_newline_is_added_before_the_block() {
        let (entry, blk) = ours("/a/app.pid");
        let (t, _) = install(b"@reboot /x", Path::new("/a/app.pid"), &entry, &blk, b"/h");
        assert!(t.starts_with(b"@reboot /x\n# watchdog cron"));
    }

    #[test]
    fn a_relative_pid_file_in_an_entry_is_taken_from_home() {
        let t = b"* * * * * watchdog check --pidfile app/app.pid -- x\n";
        assert_eq!(find(t, Path::new("/h/app/app.pid"), b"/h").len(), 1);
        assert_eq!(find(t, Path::new("/elsewhere/app/app.pid"), b"/h").len(), 0);
        let t = b"HOME=/other\n* * * * * watchdog check --pidfile app/app.pid -- x\n";
        assert_eq!(find(t, Path::new("/other/app/app.pid"), b"/h").len(), 1);
    }

    #[test]
    fn path_in_effect_is_the_last_assignment_above() {
        let t = b"PATH=/a\n* * * * * x\nPATH=/b\n* * * * * y\n";
        assert_eq!(path_for_line(t, 1), b"/a");
        assert_eq!(path_for_line(t, 3), b"/b");
        assert_eq!(path_for_line(b"* * * * * x\n", 0), CRON_PATH.as_bytes());
    }

    #[test]
    fn the_backup_is_private_and_complete() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = backup_path(&dir.path().join("app.pid"));
        save_backup(&p, OTHERS).unwrap();
        save_backup(&p, OTHERS).unwrap();
        assert_eq!(fs::read(&p).unwrap(), OTHERS);
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
