//! `Sandbox`: one temporary directory per test, and a builder that runs the watchdog in it
//! the way cron would, with a deadline.
//!
//! Invariants:
//! - Every process a test starts (the watchdog, helpers, and through them the programs)
//!   carries `WATCHDOG_IT_SANDBOX=<dir>` in its environment. That marker, unique to the
//!   sandbox, is how the test attributes a PID to itself before guarding it, and how
//!   `Drop` finds stray copies nobody recorded. Processes without it (or without the
//!   sandbox path in their command line or cwd) are strangers: only inspected, never
//!   signalled.
//! - The watchdog runs with a cron-like environment (`env_clear`, `PATH=/usr/bin:/bin`,
//!   `HOME=<dir>`, `SHELL=/bin/sh`), its cwd at `HOME`, stdout and stderr on pipes (as
//!   cron's), and in a process group of its own, so that a `kill(0, ...)` bug cannot reach
//!   the test harness.
//! - A run that exceeds its deadline is SIGKILLed and fails the test. A run whose pipes
//!   stay open after it exited (a descendant inherited them: cron would wait forever) is
//!   recorded and fails every `expect_*` assertion.
//! - Every failure message carries the command, cwd, a listing of the directory, the exit
//!   status, stdout, stderr, the PID and state files, and the tails of the event log and
//!   the out/err files, so a CI failure can be read without running it again.
//! - Drop kills everything attributable to the sandbox (guards first, then a sweep by
//!   marker), then removes the directory.

use super::guard::{ProcessGuard, kill_family};
use super::procfs;
use super::wait::{POLL, TIMEOUT, poll, wait_for, wait_until};
use super::{GRACE, fixture, watchdog_bin};
use nix::unistd::{Gid, Uid, chown};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The environment variable that marks every process a sandbox starts.
pub const MARKER_VAR: &str = "WATCHDOG_IT_SANDBOX";

/// The deadline of one watchdog run unless a test sets its own.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(30);

/// How long, after the watchdog exited, its stdout/stderr may take to reach EOF.
const PIPE_EOF_TIMEOUT: Duration = Duration::from_secs(5);

/// At most this much of each output stream is kept (the total length is still counted).
const CAPTURE_CAP: usize = 1 << 20;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// uid and gid of `nobody`/`nogroup`, for the unprivileged runs.
pub fn nobody() -> (Uid, Gid) {
    let user = nix::unistd::User::from_name("nobody")
        .expect("getpwnam")
        .expect("user nobody");
    let group = nix::unistd::Group::from_name("nogroup")
        .expect("getgrnam")
        .expect("group nogroup");
    (user.uid, group.gid)
}

/// Makes `path` belong to nobody:nogroup.
pub fn chown_nobody(path: &Path) {
    let (uid, gid) = nobody();
    chown(path, Some(uid), Some(gid)).unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
}

pub fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// Converts strings and paths to the `OsString` argv elements the builders take.
pub fn args<I, S>(items: I) -> Vec<OsString>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    items.into_iter().map(|s| s.as_ref().to_owned()).collect()
}

pub struct Sandbox {
    // Field order matters for nothing: Drop::drop does the ordered teardown.
    guards: Mutex<Vec<ProcessGuard>>,
    root: PathBuf,
    name: String,
    dir: Option<tempfile::TempDir>,
}

impl Sandbox {
    /// A fresh directory named after the test (`watchdog-it-NNN-NAME-XXXX` in `$TMPDIR`).
    pub fn new(name: &str) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = tempfile::Builder::new()
            .prefix(&format!("watchdog-it-{n:03}-{name}-"))
            .tempdir()
            .expect("create temp dir");
        let root = dir.path().canonicalize().expect("canonicalize temp dir");
        Sandbox {
            guards: Mutex::new(Vec::new()),
            root,
            name: name.to_string(),
            dir: Some(dir),
        }
    }

    /// A sandbox owned by nobody:nogroup (mode 0755), for runs as `nobody`.
    pub fn for_nobody(name: &str) -> Self {
        let sb = Self::new(name);
        chown_nobody(&sb.root);
        chmod(&sb.root, 0o755);
        sb
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.root.join(rel)
    }

    /// `<dir>/app.pid`, the PID file of most tests.
    pub fn pidfile(&self) -> PathBuf {
        self.path("app.pid")
    }

    /// `<pidfile>.state`
    pub fn state_file(&self) -> PathBuf {
        self.path("app.pid.state")
    }

    /// `<pidfile>.lock`
    pub fn lock_file(&self) -> PathBuf {
        self.path("app.pid.lock")
    }

    /// Writes `contents` to `rel` (created or truncated) and returns its path.
    pub fn write(&self, rel: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(rel);
        fs::write(&p, contents).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }

    /// A file's text (lossy), or "" when it does not exist.
    pub fn read(&self, rel: impl AsRef<Path>) -> String {
        fs::read(self.path(rel))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Lines of `<dir>/launches`: each fixture appends `NAME PID` when it starts.
    pub fn launches(&self) -> Vec<String> {
        self.read("launches").lines().map(str::to_string).collect()
    }

    /// A `Command` with the sandbox's cron-like environment and marker, cwd at the sandbox,
    /// stdin on /dev/null and output discarded (a builder may override them).
    ///
    /// It runs as the test's own uid, said explicitly: setting a uid makes std fork and
    /// exec like cron does. Otherwise std uses posix_spawn, and glibc's posix_spawn leaves
    /// its two internal real-time signals (32 and 33) ignored in the child; ignored
    /// dispositions survive exec, and glibc's sigaction refuses to reset those two, so the
    /// watchdog and its program would inherit a state cron never gives them.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.uid(nix::unistd::getuid().as_raw())
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &self.root)
            .env("SHELL", "/bin/sh")
            .env(MARKER_VAR, &self.root)
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    }

    /// The watchdog with raw arguments.
    pub fn wd<I, S>(&self, argv: I) -> Wd<'_>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Wd {
            sb: self,
            args: args(argv),
            program: None,
            prefix: Vec::new(),
            nobody: false,
            env: Vec::new(),
            stdin: None,
            timeout: RUN_TIMEOUT,
        }
    }

    /// `COMMAND --pidfile <dir>/app.pid`
    pub fn cmd(&self, command: &str) -> Wd<'_> {
        self.wd([
            OsStr::new(command),
            OsStr::new("--pidfile"),
            self.pidfile().as_os_str(),
        ])
    }

    /// `check --pidfile P --grace GRACE -- PROGRAM...`
    pub fn check(&self, program: &[OsString]) -> Wd<'_> {
        self.cmd("check").args(["--grace", GRACE]).program(program)
    }

    /// `check --grace GRACE --pidfile PIDFILE -- PROGRAM...` with the PID file somewhere
    /// else (a missing, read-only or full directory) while the output files and the event
    /// log stay in the sandbox (`out`, `err`, `events.log`), so that a failure is the PID
    /// file's alone.
    pub fn check_pidfile_at(&self, pidfile: &Path, program: &[OsString]) -> Wd<'_> {
        self.wd(["check", "--grace", GRACE, "--pidfile"])
            .arg(pidfile)
            .arg("--stdout")
            .arg(self.path("out"))
            .arg("--stderr")
            .arg(self.path("err"))
            .arg("--log")
            .arg(self.path("events.log"))
            .program(program)
    }

    /// `start --pidfile P --grace GRACE -- PROGRAM...`
    pub fn start(&self, program: &[OsString]) -> Wd<'_> {
        self.cmd("start").args(["--grace", GRACE]).program(program)
    }

    /// `stop --pidfile P --ladder LADDER`
    pub fn stop(&self, ladder: &str) -> Wd<'_> {
        self.cmd("stop").args(["--ladder", ladder])
    }

    /// `status --pidfile P`
    pub fn status(&self) -> Wd<'_> {
        self.cmd("status")
    }

    /// `kill --pidfile P SIGNAL`
    pub fn kill(&self, signal: &str) -> Wd<'_> {
        self.cmd("kill").arg(signal)
    }

    /// `[tests/fixtures/NAME, <dir>, EXTRA...]`: a fixture program and its arguments.
    pub fn prog(&self, name: &str, extra: &[&str]) -> Vec<OsString> {
        let mut v = vec![
            fixture(name).into_os_string(),
            self.root.clone().into_os_string(),
        ];
        v.extend(extra.iter().map(OsString::from));
        v
    }

    /// `sleeper.sh <dir> TAG`
    pub fn sleeper(&self, tag: &str) -> Vec<OsString> {
        self.prog("sleeper.sh", &[tag])
    }

    /// Live (non-zombie) processes whose argv is exactly `program`, or is an interpreter
    /// followed by `program` (a script started through its `#!` line). The watchdog's own
    /// argv merely ends with the program and is not counted.
    pub fn copies(&self, program: &[OsString]) -> Vec<i32> {
        let want: Vec<&[u8]> = program.iter().map(|a| a.as_bytes()).collect();
        procfs::all_pids()
            .into_iter()
            .filter(|&p| {
                let Some(argv) = procfs::cmdline(p) else {
                    return false;
                };
                let got: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
                let matches = got == want || (got.len() == want.len() + 1 && got[1..] == want[..]);
                matches && procfs::is_alive(p)
            })
            .collect()
    }

    /// Whether the process carries this sandbox's marker (environment, command line or
    /// cwd): only such processes may be guarded, hence signalled.
    pub fn is_ours(&self, pid: i32) -> bool {
        let mut marker = OsString::from(MARKER_VAR);
        marker.push("=");
        marker.push(&self.root);
        let marker = marker.as_bytes();
        let root = self.root.as_os_str().as_bytes();
        procfs::environ(pid).is_some_and(|env| env.iter().any(|e| e == marker))
            || procfs::cmdline(pid).is_some_and(|argv| {
                argv.iter()
                    .any(|a| a.windows(root.len()).any(|w| w == root))
            })
            || procfs::cwd(pid).is_some_and(|c| c.starts_with(&self.root))
    }

    /// Guards a PID this test started (directly or through the watchdog), killing it and
    /// its session when the sandbox is dropped. Panics if the PID is not attributable.
    #[track_caller]
    pub fn guard(&self, pid: i32, label: &str) -> i32 {
        if pid <= 1 || !self.is_ours(pid) {
            self.fail(&format!(
                "PID {pid} ({label}) is not attributable to this test (no sandbox marker): \
                 refusing to guard (signal) it; cmdline: {}",
                procfs::cmdline_text(pid)
            ));
        }
        if let Some(g) = ProcessGuard::new(pid, label) {
            self.guards
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(g);
        }
        pid
    }

    /// Guards a child the test spawned (it is reaped when the sandbox is dropped).
    pub fn guard_child(&self, child: Child, label: &str) -> i32 {
        let g = ProcessGuard::for_child(child, label);
        let pid = g.pid();
        self.guards
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(g);
        pid
    }

    /// Spawns a helper with the sandbox environment and guards it.
    #[track_caller]
    pub fn spawn_guarded(&self, mut cmd: Command, label: &str) -> i32 {
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| self.fail(&format!("spawn {label} ({cmd:?}): {e}")));
        self.guard_child(child, label)
    }

    /// The PID file parsed as the spec wants it (digits and one optional newline), or
    /// `None`.
    pub fn recorded_pid(&self) -> Option<i32> {
        read_strict_pid(&self.pidfile())
    }

    /// The PID file must name a live process now; it is guarded and returned.
    #[track_caller]
    pub fn expect_recorded(&self, label: &str) -> i32 {
        match self.recorded_pid() {
            Some(pid) if procfs::is_alive(pid) => self.guard(pid, label),
            Some(pid) => self.fail(&format!(
                "the PID file names {pid}, which is not a live process ({label})"
            )),
            None => self.fail(&format!("the PID file names no valid PID ({label})")),
        }
    }

    /// Waits until the PID file names a live process; guards and returns it.
    #[track_caller]
    pub fn wait_recorded(&self, label: &str) -> i32 {
        let pid = self.wait_for(
            &format!("the PID file names a live process ({label})"),
            || self.recorded_pid().filter(|p| procfs::is_alive(*p)),
        );
        self.guard(pid, label)
    }

    /// SIGKILLs a guarded process of this sandbox and waits until it is dead (gone or a
    /// zombie).
    #[track_caller]
    pub fn kill_program(&self, pid: i32) {
        let guarded = self
            .guards
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|g| g.pid() == pid);
        if !guarded {
            self.fail(&format!(
                "test bug: kill_program({pid}) on an unguarded PID"
            ));
        }
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        self.wait_until(&format!("PID {pid} is dead"), || !procfs::is_alive(pid));
    }

    /// Sends `sig` to a guarded process of this sandbox.
    #[track_caller]
    pub fn signal(&self, pid: i32, sig: nix::sys::signal::Signal) {
        let guarded = self
            .guards
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|g| g.pid() == pid);
        if !guarded {
            self.fail(&format!("test bug: signal({pid}) on an unguarded PID"));
        }
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig)
            .unwrap_or_else(|e| self.fail(&format!("kill({pid}, {sig}): {e}")));
    }

    #[track_caller]
    pub fn wait_until(&self, what: &str, cond: impl FnMut() -> bool) {
        wait_until(what, TIMEOUT, cond).unwrap_or_else(|e| self.fail(&e));
    }

    #[track_caller]
    pub fn wait_for<T>(&self, what: &str, f: impl FnMut() -> Option<T>) -> T {
        wait_for(what, TIMEOUT, f).unwrap_or_else(|e| self.fail(&e))
    }

    /// After a run that must not have launched anything: no copy of `program` is alive,
    /// no fixture logged a start, and the PID file does not name a live process.
    #[track_caller]
    pub fn expect_nothing_launched(&self, run: &Run, program: &[OsString]) {
        let copies = self.copies(program);
        for c in &copies {
            if self.is_ours(*c) {
                self.guard(*c, "stray copy");
            }
        }
        if !copies.is_empty() {
            run.fail(&format!(
                "expected nothing launched, but {copies:?} run the program"
            ));
        }
        if let Some(p) = self.recorded_pid().filter(|p| procfs::is_alive(*p)) {
            run.fail(&format!(
                "expected nothing launched, but the PID file names live process {p}"
            ));
        }
        if !self.launches().is_empty() {
            run.fail(&format!(
                "expected nothing launched, but the program started: {:?}",
                self.launches()
            ));
        }
    }

    /// Panics with `msg` and the sandbox report.
    #[track_caller]
    pub fn fail(&self, msg: &str) -> ! {
        panic!("{msg}\n{}", self.report())
    }

    /// Live processes carrying this sandbox's marker.
    pub fn our_processes(&self) -> Vec<i32> {
        let me = std::process::id() as i32;
        procfs::all_pids()
            .into_iter()
            .filter(|&p| p > 1 && p != me && procfs::is_alive(p) && self.is_ours(p))
            .collect()
    }

    /// A description of the sandbox: listing, PID and state files, log and output tails,
    /// and the live processes attributable to it.
    pub fn report(&self) -> String {
        let mut s = format!(
            "==== sandbox {} ({}) ====\n",
            self.root.display(),
            self.name
        );
        let mut files = Vec::new();
        list_dir(&self.root, &self.root, 0, &mut s, &mut files);
        for f in files {
            let name = f.file_name().and_then(OsStr::to_str).unwrap_or("");
            let interesting = [
                ".pid", ".state", ".log", ".out", ".err", ".signals", ".pids", ".ready",
                "launches", "report", ".stdout", ".stderr", ".rc",
            ]
            .iter()
            .any(|ext| name.ends_with(ext));
            if interesting {
                s.push_str(&format!(
                    "---- {} ----\n{}\n",
                    f.strip_prefix(&self.root).unwrap_or(&f).display(),
                    tail_of(&f, 2000)
                ));
            }
        }
        s.push_str("---- live processes of this sandbox (pid state ppid pgrp sid: argv) ----\n");
        for p in self.our_processes() {
            if let Some(st) = procfs::stat(p) {
                s.push_str(&format!(
                    "{p} {} {} {} {}: {}\n",
                    st.state,
                    st.ppid,
                    st.pgrp,
                    st.session,
                    procfs::cmdline_text(p)
                ));
            }
        }
        s
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // 1. Guards: the processes the test knows, with their sessions.
        let guards = std::mem::take(&mut *self.guards.lock().unwrap_or_else(|e| e.into_inner()));
        drop(guards);
        // 2. Anything else started from this sandbox that nobody recorded (a stray copy,
        //    a helper of a killed watchdog): found by marker, killed with its session.
        for _ in 0..5 {
            let strays = self.our_processes();
            if strays.is_empty() {
                break;
            }
            for p in strays {
                if let Some(st) = procfs::stat(p) {
                    let left = kill_family(p, st.start_ticks);
                    if !left.is_empty() {
                        eprintln!("sandbox {}: could not kill {left:?}", self.name);
                    }
                }
            }
        }
        // 3. The directory (a read-only subdirectory is no obstacle to root).
        if let Some(Err(e)) = self.dir.take().map(tempfile::TempDir::close) {
            eprintln!(
                "sandbox {}: cannot remove {}: {e}",
                self.name,
                self.root.display()
            );
        }
    }
}

fn list_dir(root: &Path, dir: &Path, depth: usize, out: &mut String, files: &mut Vec<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else {
        out.push_str(&format!("  (cannot list {})\n", dir.display()));
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let rel = p.strip_prefix(root).unwrap_or(&p).display().to_string();
        let Ok(md) = fs::symlink_metadata(&p) else {
            continue;
        };
        let ft = md.file_type();
        let kind = if ft.is_symlink() {
            'l'
        } else if ft.is_dir() {
            'd'
        } else if ft.is_fifo() {
            'p'
        } else if ft.is_file() {
            '-'
        } else {
            '?'
        };
        let target = if ft.is_symlink() {
            format!(
                " -> {}",
                fs::read_link(&p)
                    .map(|t| t.display().to_string())
                    .unwrap_or_default()
            )
        } else {
            String::new()
        };
        out.push_str(&format!(
            "  {kind}{:04o} uid={} {:>9} {rel}{target}\n",
            md.mode() & 0o7777,
            md.uid(),
            md.len()
        ));
        if ft.is_dir() && depth < 2 {
            list_dir(root, &p, depth + 1, out, files);
        } else if ft.is_file() {
            files.push(p);
        }
    }
}

/// The last `max` bytes of a regular file, escaped (never opens a FIFO or a device).
pub fn tail_of(path: &Path, max: u64) -> String {
    let Ok(md) = fs::symlink_metadata(path) else {
        return "<absent>".to_string();
    };
    if !md.file_type().is_file() {
        return format!("<not a regular file: {:?}>", md.file_type());
    }
    let Ok(mut f) = fs::File::open(path) else {
        return "<unreadable>".to_string();
    };
    let len = md.len();
    let skip = len.saturating_sub(max);
    if skip > 0 {
        let _ = f.seek(SeekFrom::Start(skip));
    }
    let mut buf = Vec::new();
    let _ = f.take(max).read_to_end(&mut buf);
    let mut s = if skip > 0 {
        format!("[... {skip} bytes skipped ...]")
    } else {
        String::new()
    };
    s.push_str(&escape(&buf));
    s
}

/// Text with control characters (other than newline and tab) escaped.
pub fn escape(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            s.push_str(&c.escape_default().to_string());
        } else {
            s.push(c);
        }
    }
    s
}

/// The PID file's PID, parsed as the spec wants it: digits and one optional newline.
pub fn read_strict_pid(path: &Path) -> Option<i32> {
    let md = fs::symlink_metadata(path).ok()?;
    if !md.file_type().is_file() || md.len() > 32 {
        return None;
    }
    let raw = fs::read(path).ok()?;
    let digits = raw.strip_suffix(b"\n").unwrap_or(&raw);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits)
        .ok()?
        .parse()
        .ok()
        .filter(|p| *p > 1)
}

/// A watchdog invocation being built.
pub struct Wd<'a> {
    sb: &'a Sandbox,
    args: Vec<OsString>,
    program: Option<Vec<OsString>>,
    prefix: Vec<OsString>,
    nobody: bool,
    env: Vec<(OsString, OsString)>,
    stdin: Option<PathBuf>,
    timeout: Duration,
}

impl<'a> Wd<'a> {
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.args.push(a.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args.extend(args(items));
        self
    }

    /// The program, placed after `--` at the end of the command line.
    pub fn program(mut self, program: &[OsString]) -> Self {
        self.program = Some(program.to_vec());
        self
    }

    /// Runs the watchdog through a wrapper: `PREFIX... WATCHDOG ARGS...` (e.g. a shell
    /// that ignores signals or opens extra descriptors, then `exec "$0" "$@"`).
    pub fn wrap<I, S>(mut self, prefix: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.prefix = args(prefix);
        self
    }

    /// Runs it as nobody:nogroup through `setpriv`.
    pub fn by_nobody(mut self) -> Self {
        self.nobody = true;
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// stdin from a file instead of /dev/null.
    pub fn stdin_from(mut self, path: impl AsRef<Path>) -> Self {
        self.stdin = Some(path.as_ref().to_owned());
        self
    }

    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    fn argv(&self) -> Vec<OsString> {
        let mut v = Vec::new();
        if self.nobody {
            v.extend(args([
                "/usr/bin/setpriv",
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
            ]));
        }
        v.extend(self.prefix.iter().cloned());
        v.push(watchdog_bin().into_os_string());
        v.extend(self.args.iter().cloned());
        if let Some(p) = &self.program {
            v.push("--".into());
            v.extend(p.iter().cloned());
        }
        v
    }

    /// Starts it without waiting.
    #[track_caller]
    pub fn spawn(self) -> Running<'a> {
        let argv = self.argv();
        let cwd = self.sb.root.clone();
        let mut cmd = self.sb.command(&argv[0]);
        cmd.args(&argv[1..])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&cwd)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if let Some(p) = &self.stdin {
            let f = fs::File::open(p).unwrap_or_else(|e| panic!("open {}: {e}", p.display()));
            cmd.stdin(f);
        }
        let display = argv
            .iter()
            .map(|a| shell_quote(a.as_bytes()))
            .collect::<Vec<_>>()
            .join(" ");
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| self.sb.fail(&format!("cannot spawn {display}: {e}")));
        let out = Capture::start(child.stdout.take().expect("stdout pipe"));
        let err = Capture::start(child.stderr.take().expect("stderr pipe"));
        Running {
            sb: self.sb,
            child: Some(child),
            out,
            err,
            started,
            timeout: self.timeout,
            display,
            cwd,
        }
    }

    /// Runs it to completion (within the deadline).
    #[track_caller]
    pub fn run(self) -> Run {
        self.spawn().wait()
    }
}

fn shell_quote(a: &[u8]) -> String {
    let s = escape(a);
    if !a.is_empty()
        && a.iter()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-=:,+@%".contains(b))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// One output pipe, read to EOF by a thread.
struct Capture {
    state: Arc<Mutex<Captured>>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Captured {
    data: Vec<u8>,
    total: usize,
    eof: bool,
}

trait PipeRead: Read + Send + 'static {}
impl PipeRead for ChildStdout {}
impl PipeRead for ChildStderr {}

impl Capture {
    fn start(mut pipe: impl PipeRead) -> Self {
        let state = Arc::new(Mutex::new(Captured::default()));
        let st = Arc::clone(&state);
        let thread = thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let mut c = st.lock().unwrap_or_else(|e| e.into_inner());
                        c.total += n;
                        let room = CAPTURE_CAP.saturating_sub(c.data.len());
                        c.data.extend_from_slice(&buf[..n.min(room)]);
                    }
                }
            }
            st.lock().unwrap_or_else(|e| e.into_inner()).eof = true;
        });
        Capture {
            state,
            thread: Some(thread),
        }
    }

    fn eof(&self) -> bool {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).eof
    }

    /// What was read so far, and the total length. Joins the thread if it reached EOF; a
    /// thread still blocked on a leaked pipe is left behind (it ends when the guard kills
    /// the holder).
    fn finish(&mut self) -> (Vec<u8>, usize) {
        if self.eof() {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
        let c = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (c.data.clone(), c.total)
    }
}

/// A watchdog run in progress.
pub struct Running<'a> {
    sb: &'a Sandbox,
    child: Option<Child>,
    out: Capture,
    err: Capture,
    started: Instant,
    timeout: Duration,
    display: String,
    cwd: PathBuf,
}

impl Running<'_> {
    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// Whether it has not exited yet.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// SIGKILLs the watchdog (the test's own child) and returns what it had printed.
    pub fn kill(mut self) -> Run {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
        }
        self.finish(false)
    }

    /// Waits for it to exit, within its deadline; past the deadline it is killed and the
    /// test fails.
    #[track_caller]
    pub fn wait(mut self) -> Run {
        let deadline = self.started + self.timeout;
        loop {
            if !self.is_running() {
                break;
            }
            if Instant::now() >= deadline {
                if let Some(c) = &mut self.child {
                    let _ = c.kill();
                }
                let timeout = self.timeout;
                let run = self.finish(true);
                panic!("the watchdog did not finish within {timeout:?}; killed it\n{run}");
            }
            thread::sleep(POLL);
        }
        self.finish(false)
    }

    fn finish(&mut self, timed_out: bool) -> Run {
        let mut child = self.child.take().expect("finish once");
        let status = child.wait().expect("wait for the watchdog");
        let elapsed = self.started.elapsed();
        let closed = poll(PIPE_EOF_TIMEOUT, || {
            (self.out.eof() && self.err.eof()).then_some(())
        })
        .is_some();
        let (stdout, stdout_total) = self.out.finish();
        let (stderr, stderr_total) = self.err.finish();
        Run {
            argv: self.display.clone(),
            cwd: self.cwd.clone(),
            status,
            stdout,
            stdout_total,
            stderr,
            stderr_total,
            elapsed,
            pipes_closed: closed,
            timed_out,
            snapshot: self.sb.report(),
        }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A finished watchdog run.
pub struct Run {
    pub argv: String,
    pub cwd: PathBuf,
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stdout_total: usize,
    pub stderr: Vec<u8>,
    pub stderr_total: usize,
    pub elapsed: Duration,
    /// Whether stdout and stderr reached EOF soon after the watchdog exited.
    pub pipes_closed: bool,
    pub timed_out: bool,
    /// The sandbox report taken right after the run.
    pub snapshot: String,
}

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn err(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// stdout and stderr together.
    pub fn all(&self) -> String {
        format!("{}{}", self.out(), self.err())
    }

    #[track_caller]
    pub fn fail(&self, msg: &str) -> ! {
        panic!("{msg}\n{self}")
    }

    /// Fails with `msg` unless `cond`.
    #[track_caller]
    pub fn ensure(&self, cond: bool, msg: &str) -> &Self {
        if !cond {
            self.fail(msg);
        }
        self
    }

    /// Not killed by a signal, no Rust panic, no usage error, and the pipes reached EOF.
    #[track_caller]
    pub fn expect_sane(&self) -> &Self {
        if self.code() == Some(2) {
            self.fail("the watchdog reported a usage error");
        }
        if let Some(sig) = self.status.signal() {
            self.fail(&format!("the watchdog was killed by signal {sig}"));
        }
        if self.code() == Some(101) || self.err().contains("panicked at") {
            self.fail("the watchdog panicked");
        }
        if !self.pipes_closed {
            self.fail(
                "the watchdog exited but its stdout/stderr stayed open: a process it started \
                 inherited them (cron would wait for EOF forever)",
            );
        }
        self
    }

    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        if code != 2 {
            self.expect_sane();
        }
        if self.code() != Some(code) {
            self.fail(&format!("expected exit status {code}"));
        }
        self
    }

    /// Nothing at all on stdout or stderr.
    #[track_caller]
    pub fn expect_silent(&self) -> &Self {
        if !self.stdout.is_empty() || !self.stderr.is_empty() {
            self.fail("expected no output at all");
        }
        self
    }

    /// stdout and stderr together contain `needle`.
    #[track_caller]
    pub fn expect_mentions(&self, needle: &str) -> &Self {
        if !self.all().contains(needle) {
            self.fail(&format!("expected the output to mention {needle:?}"));
        }
        self
    }

    /// stderr is a `watchdog: ` error mentioning each of `needles`.
    #[track_caller]
    pub fn expect_error(&self, needles: &[&str]) -> &Self {
        let err = self.err();
        if !err.starts_with("watchdog: ") {
            self.fail("expected stderr to start with \"watchdog: \"");
        }
        for n in needles {
            if !err.contains(n) {
                self.fail(&format!("expected stderr to mention {n:?}"));
            }
        }
        self
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "==== watchdog run ====")?;
        writeln!(f, "command: {}", self.argv)?;
        writeln!(f, "cwd: {}", self.cwd.display())?;
        writeln!(
            f,
            "status: {:?}{}, after {:?}{}",
            self.status,
            if self.timed_out {
                " (killed at deadline)"
            } else {
                ""
            },
            self.elapsed,
            if self.pipes_closed {
                ""
            } else {
                ", pipes still open after exit"
            }
        )?;
        writeln!(
            f,
            "---- stdout ({} bytes) ----\n{}",
            self.stdout_total,
            clip(&self.stdout)
        )?;
        writeln!(
            f,
            "---- stderr ({} bytes) ----\n{}",
            self.stderr_total,
            clip(&self.stderr)
        )?;
        write!(f, "{}", self.snapshot)
    }
}

fn clip(b: &[u8]) -> String {
    const MAX: usize = 4000;
    if b.len() <= MAX {
        escape(b)
    } else {
        format!(
            "{}\n[... {} bytes ...]\n{}",
            escape(&b[..MAX / 2]),
            b.len() - MAX,
            escape(&b[b.len() - MAX / 2..])
        )
    }
}
