//! Launching the program the way `nohup PROG > out 2> err < /dev/null &` should have, and
//! watching the grace period.
//!
//! What a launch guarantees (the fork and the child's set-up are in `sys`):
//! - the program is found as a shell would (a bare name through the PATH it will get; cron's
//!   is `/usr/bin:/bin`), and everything that can fail is tried before anything runs: the
//!   program must be an executable file, `--chdir` a directory, the output files openable;
//! - it leads a new session and process group, SIGHUP is ignored, every other signal has
//!   its default disposition, the signal mask is empty;
//! - stdin is /dev/null, stdout and stderr are the files opened for append (never
//!   truncated), and no other descriptor reaches it;
//! - its PID and identity are durably recorded *before* it runs (the held child), so a
//!   watchdog killed at any point leaves either nothing running or a recorded copy;
//! - if recording fails, it never runs; if exec fails, the PID file is removed, so it does
//!   not name a process that never ran;
//! - with `--user`, it runs as that user and groups, and its output files are opened as the
//!   user unless root alone controls their directory (see `user`);
//! - with `--program-writes-pidfile`, the launched process is recorded in the state file
//!   (`launcher`) before it runs, the stale PID file is removed, and the PID file the program
//!   writes is awaited and verified (see `daemonized`).

use std::ffi::{CString, OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::AsFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};

use crate::error::{Error, Result, describe_errno, describe_io};
use crate::files;
use crate::lock::Held;
use crate::paths::Paths;
use crate::pidfile::{self, Pid};
use crate::state::{self, Identity, Mode, State};
use crate::{clock, identity, sys};

/// How to run the program (from the launch options).
#[derive(Debug, Clone)]
pub struct Spec {
    /// The program and its arguments, byte for byte.
    pub argv: Vec<OsString>,
    pub chdir: Option<PathBuf>,
    /// `--env KEY=VALUE` overrides, applied over the inherited environment.
    pub env: Vec<(OsString, OsString)>,
    pub umask: Option<u32>,
    pub grace: Duration,
    /// `--program-writes-pidfile`: the program, not the watchdog, writes the PID file.
    pub program_writes_pidfile: bool,
    /// `--stay-down-on`: exit statuses after which the job stays down.
    pub stay_down_on: Vec<u8>,
    /// `--user`: the user the program runs as (resolved at launch).
    pub user: Option<String>,
}

impl Spec {
    /// The command line for messages: `/home/me/app/run.sh --port 8080`.
    pub fn display(&self) -> String {
        show_argv(&self.argv)
    }

    /// Whether `status` is an exit listed in `--stay-down-on`.
    pub fn stays_down(&self, status: &WaitStatus) -> bool {
        matches!(status, WaitStatus::Exited(_, code)
            if u8::try_from(*code).is_ok_and(|c| self.stay_down_on.contains(&c)))
    }
}

/// Shows argv as a user would type it, quoting words that need it.
pub fn show_argv(argv: &[OsString]) -> String {
    argv.iter()
        .map(|a| {
            let s = a.to_string_lossy();
            if !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/._-=:,+@%".contains(&b))
            {
                s.into_owned()
            } else {
                format!("'{}'", s.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A program that has been released to run, not yet watched through its grace period.
#[derive(Debug)]
pub struct Launched {
    /// The program: the launched process, or with `--program-writes-pidfile` the process
    /// its PID file names.
    pub pid: Pid,
    /// Whether `pid` is our child (so that its exit status can be read).
    pub child: bool,
    /// Size of the stderr file before launch: the tail shown on an early death starts here.
    pub stderr_offset: u64,
    /// Size of the stdout file before launch (`--ready-when-log` reads from here).
    pub stdout_offset: u64,
    /// When it was released, to tell an early death from a later one.
    pub at: Instant,
    /// With `--user`: the uid that must own output files read back (see `user::may_read`).
    pub uid: Option<u32>,
}

/// How a watched program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Our child: its wait status.
    Status(WaitStatus),
    /// Not our child (it forked away from the process we launched): its parent, not we,
    /// gets its exit status.
    Unknown,
}

/// Launches the program and records it in `st` and on disk. Does not wait for the grace
/// period: see `watch_grace`.
///
/// # Errors
/// `Program` when the program, its directory or its output files are unusable (nothing was
/// launched); `Io` when the PID file or state cannot be written (nothing was launched);
/// `UnsafeFile` when the lock was lost.
pub fn launch(
    spec: &Spec,
    paths: &Paths,
    st: &mut State,
    boot_id: &str,
    held: &Held,
) -> Result<Launched> {
    let program = spec.display();
    let fail = |reason: String| Error::Program {
        program: program.clone(),
        reason,
    };

    if spec.program_writes_pidfile && spec.user.is_some() {
        return Err(fail(
            "--program-writes-pidfile cannot be used with --user: the program would write the \
             PID file as that user, and a root watchdog never trusts a PID file another user \
             can write (it could name any process); let the program drop privileges itself"
                .into(),
        ));
    }
    let target = match &spec.user {
        Some(name) => Some(crate::user::resolve(name).map_err(&fail)?),
        None => None,
    };
    let mut overrides = target
        .as_ref()
        .map(crate::user::Target::env)
        .unwrap_or_default();
    overrides.extend(spec.env.iter().cloned());
    let env = environment(&overrides);
    let exe = resolve(
        &spec.argv[0],
        path_of(&env).as_deref(),
        spec.chdir.as_deref(),
    )
    .map_err(&fail)?;
    if let Some(dir) = &spec.chdir {
        check_dir(dir).map_err(&fail)?;
    }
    // With --user, root opens only the files whose directory it alone controls; the child
    // opens the others after switching to the user (see `user`).
    let by_root = |p: &Path| match &target {
        None => Some(p.to_path_buf()),
        Some(_) => crate::user::root_may_open(p),
    };
    let same_file = paths.stderr == paths.stdout;
    let (out_path, err_path) = (by_root(&paths.stdout), by_root(&paths.stderr));
    let stdout = out_path
        .as_deref()
        .map(open_output)
        .transpose()
        .map_err(&fail)?;
    let stderr = err_path
        .as_deref()
        .map(open_output)
        .transpose()
        .map_err(&fail)?;
    let size = |f: &Option<File>, p: &Path| match f {
        Some(f) => f.metadata().map(|m| m.len()).unwrap_or(0),
        None => std::fs::symlink_metadata(p).map(|m| m.len()).unwrap_or(0),
    };
    let stdout_offset = size(&stdout, &paths.stdout);
    let stderr_offset = size(&stderr, &paths.stderr);
    let devnull = File::open("/dev/null")
        .map_err(|e| fail(format!("cannot open /dev/null: {}", describe_io(&e))))?;
    if let Some(fs) = crate::lock::network_fs(files::parent_dir(&paths.pidfile)) {
        eprintln!(
            "watchdog: warning: {} is on {fs}, where file locks are emulated and may not \
             serialise runs; keep the PID file in a private directory on a local disk (e.g. under $XDG_RUNTIME_DIR or ~/.local/state, not a shared /tmp)",
            paths.pidfile.display()
        );
        log::warn!(
            "PID file {} is on a network filesystem ({fs})",
            paths.pidfile.display()
        );
    }

    // Everything the child needs, built before fork.
    let c_exe = cstring(exe.as_os_str()).map_err(&fail)?;
    let c_args: Vec<CString> = spec
        .argv
        .iter()
        .map(|a| cstring(a))
        .collect::<std::result::Result<_, _>>()
        .map_err(&fail)?;
    let c_env: Vec<CString> = env
        .iter()
        .map(|(k, v)| {
            let mut kv = k.clone();
            kv.push("=");
            kv.push(v);
            cstring(&kv)
        })
        .collect::<std::result::Result<_, _>>()
        .map_err(&fail)?;
    let argv: Vec<*const libc::c_char> = c_args
        .iter()
        .map(|c| c.as_ptr())
        .chain([std::ptr::null()])
        .collect();
    let envp: Vec<*const libc::c_char> = c_env
        .iter()
        .map(|c| c.as_ptr())
        .chain([std::ptr::null()])
        .collect();
    let c_dir = match &spec.chdir {
        Some(d) => Some(cstring(d.as_os_str()).map_err(&fail)?),
        None => None,
    };
    let dup = |f: &File, what: &str| {
        sys::dup_above_stdio(f.as_fd())
            .map_err(|e| fail(format!("cannot duplicate {what}: {}", describe_io(&e))))
    };
    let fd0 = dup(&devnull, "/dev/null")?;
    let fd1 = stdout.as_ref().map(|f| dup(f, "stdout")).transpose()?;
    let fd2 = stderr.as_ref().map(|f| dup(f, "stderr")).transpose()?;
    let c_out = cstring(paths.stdout.as_os_str()).map_err(&fail)?;
    let c_err = cstring(paths.stderr.as_os_str()).map_err(&fail)?;
    let nofollow = |p: &Path| {
        if files::others_can_write(files::parent_dir(p)) {
            libc::O_NOFOLLOW
        } else {
            0
        }
    };
    let out1 = child_output(&fd1, &c_out, nofollow(&paths.stdout));
    let out2 = if same_file && fd2.is_none() {
        sys::Output::SameAsStdout
    } else {
        child_output(&fd2, &c_err, nofollow(&paths.stderr))
    };
    let credentials = target.as_ref().map(|t| sys::Credentials {
        uid: t.uid,
        gid: t.gid,
        groups: &t.groups,
    });
    let setup = sys::ChildSetup {
        path: &c_exe,
        argv: &argv,
        envp: &envp,
        chdir: c_dir.as_deref(),
        umask: spec.umask,
        stdin: fd0.as_fd(),
        stdout: out1,
        stderr: out2,
        user: credentials,
    };

    held.still_held()?;
    let child =
        sys::spawn_held(&setup).map_err(|e| fail(format!("cannot fork: {}", describe_io(&e))))?;
    let pid = child.pid;
    crate::fault::point("forked");

    // Record before release. The held child exists and is unreaped, so its /proc entry and
    // start time are there to read, and its PID cannot be reused while we hold it.
    let recorded = (|| -> Result<()> {
        let stat = identity::read_stat(pid)
            .map_err(|e| Error::io("read", format!("/proc/{pid}/stat"), e))?
            .ok_or_else(|| fail(format!("the launched process {pid} vanished before it ran")))?;
        let launched = Identity {
            pid,
            start_ticks: stat.start_ticks,
            boot_id: boot_id.to_string(),
        };
        // With --program-writes-pidfile the launched process is recorded as the launcher,
        // not as the program: its program names itself in the PID file later.
        if spec.program_writes_pidfile {
            st.identity = None;
            st.launcher = Some(launched);
        } else {
            st.identity = Some(launched);
            st.launcher = None;
        }
        // A change of mode (start after stop) must survive a power cut; a relaunch in
        // Running mode records only boot-bound facts (see `files`).
        let durability = if st.mode == Mode::Running {
            files::Durability::Atomic
        } else {
            files::Durability::Synced
        };
        st.set_mode(Mode::Running);
        st.push_launch(clock::boot_now());
        st.cmd = Some(program.clone());
        held.still_held()?;
        state::write(&paths.state, st, boot_id, durability)?;
        crate::fault::point("state-written");
        if spec.program_writes_pidfile {
            // The stale PID file goes, so that the one the program writes is the only one.
            files::remove(&paths.pidfile, "PID file")?;
        } else {
            pidfile::write(&paths.pidfile, pid)?;
        }
        crate::fault::point("recorded");
        Ok(())
    })();
    if let Err(e) = recorded {
        child.abandon();
        log::error!("did not launch {program}: {e}");
        return Err(e);
    }

    match child.release() {
        Ok(pid) => {
            log::info!(
                "launched {program} as pid {pid}{}",
                target
                    .as_ref()
                    .map(|t| format!(" (user {})", t.name))
                    .unwrap_or_default()
            );
            crate::fault::point("released");
            let launched = Launched {
                pid,
                child: true,
                stderr_offset,
                stdout_offset,
                at: Instant::now(),
                uid: target.as_ref().map(|t| t.uid),
            };
            if spec.program_writes_pidfile {
                crate::daemonized::await_pidfile(spec, paths, st, boot_id, held, launched)
            } else {
                Ok(launched)
            }
        }
        Err((stage, errno)) => {
            let what = match stage {
                sys::Stage::Exec => format!(
                    "cannot execute {}: {}",
                    exe.display(),
                    describe_errno(errno)
                ),
                sys::Stage::Chdir => format!(
                    "cannot change to directory {}: {}",
                    spec.chdir.as_deref().unwrap_or(Path::new("?")).display(),
                    describe_errno(errno)
                ),
                sys::Stage::Redirect => {
                    format!("cannot redirect output: {}", describe_errno(errno))
                }
                sys::Stage::User => format!(
                    "cannot switch to user {}: {}",
                    spec.user.as_deref().unwrap_or("?"),
                    describe_errno(errno)
                ),
                sys::Stage::OpenStdout | sys::Stage::OpenStderr => {
                    let p = if stage == sys::Stage::OpenStdout {
                        &paths.stdout
                    } else {
                        &paths.stderr
                    };
                    format!(
                        "cannot open output file {} as user {}: {} (with --user, a file \
                         outside a directory only root can write is opened as the user)",
                        p.display(),
                        spec.user.as_deref().unwrap_or("?"),
                        describe_errno(errno)
                    )
                }
            };
            // The PID file must not name a process that never ran.
            st.identity = None;
            st.launcher = None;
            st.last_exit = Some(what.clone());
            // Best effort: the launch has failed already and that is what gets reported; a
            // failure here only leaves a stale record, which the next run recognises.
            if let Err(e) = files::remove(&paths.pidfile, "PID file") {
                log::warn!("{e}");
            }
            if let Err(e) = state::write(&paths.state, st, boot_id, files::Durability::Atomic) {
                log::warn!("{e}");
            }
            log::error!("launch of {program} failed: {what}");
            Err(fail(what))
        }
    }
}

/// fd 1 or 2 of the child: the descriptor the watchdog opened, or else the file for the
/// child to open as the user (`--user`, see `user`).
fn child_output<'a>(
    fd: &'a Option<std::os::fd::OwnedFd>,
    path: &'a CString,
    flags: libc::c_int,
) -> sys::Output<'a> {
    match fd {
        Some(fd) => sys::Output::Fd(fd.as_fd()),
        None => sys::Output::Open {
            path: path.as_c_str(),
            flags,
        },
    }
}

/// Watches a just-launched program until `grace` after its launch. Returns how it ended if
/// it died in that time.
pub fn watch_grace(l: &Launched, grace: Duration) -> Option<Ended> {
    let pid = l.pid;
    let grace = grace.saturating_sub(l.at.elapsed());
    if !l.child {
        // Not our child: a pidfd (or /proc) tells us when it ends, not how.
        let h = crate::pidfd::Handle::open(pid).ok()?;
        return h.wait_exit(grace).then_some(Ended::Unknown);
    }
    if let Ok(h) = crate::pidfd::Handle::open(pid) {
        if !h.wait_exit(grace) {
            return None;
        }
        return waitpid(pid.nix(), None).ok().map(Ended::Status);
    }
    // No pidfd: poll our child with WNOHANG.
    let deadline = Instant::now() + grace;
    loop {
        match waitpid(pid.nix(), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {}
            Ok(status) => return Some(Ended::Status(status)),
            Err(_) => return None,
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// "exited with status 3", "was killed by SIGKILL".
pub fn describe_status(status: &WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exited with status {code}"),
        WaitStatus::Signaled(_, sig, core) => format!(
            "was killed by {}{}",
            sig.as_str(),
            if *core { " (core dumped)" } else { "" }
        ),
        other => format!("ended ({other:?})"),
    }
}

/// `describe_status`, or for a program that is not our child, that it exited.
pub fn describe_end(end: &Ended) -> String {
    match end {
        Ended::Status(s) => describe_status(s),
        Ended::Unknown => "exited (it is not the watchdog's child, so its exit status is \
                           unknown)"
            .into(),
    }
}

/// The last lines the program wrote to `path` since `l` was launched, bounded to a few
/// lines of a few hundred bytes each, so a program that wrote megabytes cannot flood the
/// cron mail.
pub fn stderr_tail(l: &Launched, path: &Path) -> String {
    const MAX_BYTES: u64 = 2048;
    const MAX_LINES: usize = 10;
    const MAX_LINE: usize = 200;
    let Some(mut f) = crate::user::may_read(path, l.uid) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let from = l.stderr_offset.max(len.saturating_sub(MAX_BYTES));
    if from >= len || f.seek(SeekFrom::Start(from)).is_err() {
        return String::new();
    }
    let mut buf = Vec::new();
    let _ = f.take(MAX_BYTES).read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    let skip = lines.len().saturating_sub(MAX_LINES);
    let shown: Vec<String> = lines[skip..]
        .iter()
        .map(|l| {
            if l.chars().count() > MAX_LINE {
                format!("{}…", l.chars().take(MAX_LINE).collect::<String>())
            } else {
                (*l).to_string()
            }
        })
        .collect();
    if shown.is_empty() {
        return String::new();
    }
    format!(
        "; last lines of {}:\n  {}",
        path.display(),
        shown.join("\n  ")
    )
}

/// The environment the program gets: ours (under cron, minimal), with `--env` applied.
pub fn environment(overrides: &[(OsString, OsString)]) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    for (k, v) in overrides {
        match env.iter_mut().find(|(ek, _)| ek == k) {
            Some(slot) => slot.1 = v.clone(),
            None => env.push((k.clone(), v.clone())),
        }
    }
    env
}

fn path_of(env: &[(OsString, OsString)]) -> Option<OsString> {
    env.iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
}

/// cron's own default, used when no PATH is set at all.
const DEFAULT_PATH: &str = "/usr/bin:/bin";

/// Finds the program as a shell would: a name with a `/` is a path (relative to `--chdir`
/// when given, since the child changes directory before exec); a bare name is looked up in
/// PATH, whose empty entries (meaning ".") are skipped as unsafe.
///
/// # Errors
/// A sentence saying why the program cannot be run, naming it.
pub fn resolve(
    name: &OsStr,
    path: Option<&OsStr>,
    chdir: Option<&Path>,
) -> std::result::Result<PathBuf, String> {
    if name.is_empty() {
        return Err("the program name is empty".into());
    }
    if name.as_bytes().contains(&b'/') {
        let p = Path::new(name);
        let full = match chdir {
            Some(d) if p.is_relative() => d.join(p),
            _ => p.to_path_buf(),
        };
        check_executable(&full)?;
        // Absolute, because the child changes to --chdir before exec: a relative --chdir
        // joined with a relative program ("f/./run.sh") would be looked up again from there.
        return Ok(std::path::absolute(&full).unwrap_or(full));
    }
    let path = path.unwrap_or(OsStr::new(DEFAULT_PATH));
    let mut denied = None;
    for dir in path
        .as_bytes()
        .split(|&b| b == b':')
        .filter(|d| !d.is_empty())
    {
        let candidate = Path::new(OsStr::from_bytes(dir)).join(name);
        match check_executable(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if candidate.exists() && denied.is_none() => denied = Some(e),
            Err(_) => {}
        }
    }
    Err(denied.unwrap_or_else(|| {
        format!(
            "{:?} was not found in PATH ({}); cron's PATH is short, so give the program's absolute path",
            name.to_string_lossy(),
            path.to_string_lossy()
        )
    }))
}

fn check_executable(p: &Path) -> std::result::Result<(), String> {
    let meta = std::fs::metadata(p).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            "; check the path (a relative one is taken from --chdir, or from the current \
             directory, which is $HOME under cron)"
        } else {
            ""
        };
        format!("{}: {}{hint}", p.display(), describe_io(&e))
    })?;
    if meta.is_dir() {
        return Err(format!("{} is a directory", p.display()));
    }
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", p.display()));
    }
    nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).map_err(|_| {
        format!(
            "{} is not executable (mode {:o}); chmod +x it",
            p.display(),
            meta.permissions().mode() & 0o7777
        )
    })
}

fn check_dir(dir: &Path) -> std::result::Result<(), String> {
    let meta = std::fs::metadata(dir)
        .map_err(|e| format!("cannot use --chdir {}: {}", dir.display(), describe_io(&e)))?;
    if !meta.is_dir() {
        return Err(format!(
            "cannot use --chdir {}: not a directory",
            dir.display()
        ));
    }
    nix::unistd::access(dir, nix::unistd::AccessFlags::X_OK).map_err(|e| {
        format!(
            "cannot use --chdir {}: {}",
            dir.display(),
            describe_errno(e)
        )
    })
}

/// Opens an output file for append, creating it if missing. In a directory others can
/// write, a symlink planted at the path is not followed. A FIFO without a reader must not
/// hang us, so the open is non-blocking; the flag is cleared again before the program
/// inherits the descriptor.
fn open_output(path: &Path) -> std::result::Result<File, String> {
    let nofollow = if files::others_can_write(files::parent_dir(path)) {
        libc::O_NOFOLLOW
    } else {
        0
    };
    let f = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .custom_flags(nofollow | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| {
            format!(
                "cannot open output file {}: {}",
                path.display(),
                describe_io(&e)
            )
        })?;
    let meta = f.metadata().map_err(|e| {
        format!(
            "cannot open output file {}: {}",
            path.display(),
            describe_io(&e)
        )
    })?;
    if meta.is_dir() {
        return Err(format!(
            "cannot open output file {}: it is a directory",
            path.display()
        ));
    }
    let _ = meta.mode();
    let flags = nix::fcntl::fcntl(&f, nix::fcntl::FcntlArg::F_GETFL).map_err(|e| {
        format!(
            "cannot open output file {}: {}",
            path.display(),
            describe_errno(e)
        )
    })?;
    let flags = nix::fcntl::OFlag::from_bits_truncate(flags) - nix::fcntl::OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(&f, nix::fcntl::FcntlArg::F_SETFL(flags)).map_err(|e| {
        format!(
            "cannot open output file {}: {}",
            path.display(),
            describe_errno(e)
        )
    })?;
    Ok(f)
}

fn cstring(s: &OsStr) -> std::result::Result<CString, String> {
    CString::new(s.as_bytes().to_vec())
        .map_err(|_| format!("{:?} contains a NUL byte", s.to_string_lossy()))
}

/// For tests and callers that need an owned argv from strings.
#[allow(dead_code)]
pub fn argv_of(words: &[&str]) -> Vec<OsString> {
    words
        .iter()
        .map(|w| OsString::from_vec(w.as_bytes().to_vec()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_resolve_through_path_like_a_shell() {
        assert_eq!(
            resolve(OsStr::new("sh"), Some(OsStr::new("/usr/bin:/bin")), None)
                .unwrap()
                .file_name()
                .unwrap(),
            "sh"
        );
        let e = resolve(
            OsStr::new("no-such-program-xyz"),
            Some(OsStr::new("/usr/bin:/bin")),
            None,
        )
        .unwrap_err();
        assert!(e.contains("not found in PATH"), "{e}");
        // An empty PATH entry is not ".": a file in the cwd is not found through it.
        assert!(resolve(OsStr::new("Cargo.toml"), Some(OsStr::new(":")), None).is_err());
    }

    #[test]
    fn paths_must_be_executable_files() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = resolve(plain.as_os_str(), None, None).unwrap_err();
        assert!(e.contains("not executable"), "{e}");
        let e = resolve(OsStr::new("/tmp"), None, None).unwrap_err();
        assert!(e.contains("is a directory"), "{e}");
        let e = resolve(OsStr::new("/no/such/prog"), None, None).unwrap_err();
        assert!(e.contains("No such file or directory"), "{e}");
        assert!(resolve(OsStr::new(""), None, None).is_err());
    }

    #[test]
    fn relative_paths_resolve_against_chdir() {
        assert_eq!(
            resolve(OsStr::new("./sh"), None, Some(Path::new("/bin"))).unwrap(),
            Path::new("/bin/./sh")
        );
    }

    #[test]
    fn argv_is_shown_with_quotes_where_needed() {
        let argv = argv_of(&["/bin/echo", "a b", "it's", "", "x"]);
        assert_eq!(show_argv(&argv), r"/bin/echo 'a b' 'it'\''s' '' x");
    }

    #[test]
    fn only_listed_exit_statuses_stay_down() {
        let spec = Spec {
            argv: argv_of(&["/bin/true"]),
            chdir: None,
            env: Vec::new(),
            umask: None,
            grace: Duration::from_secs(1),
            program_writes_pidfile: false,
            stay_down_on: vec![0, 2],
            user: None,
        };
        let p = nix::unistd::Pid::from_raw(42);
        assert!(spec.stays_down(&WaitStatus::Exited(p, 0)));
        assert!(spec.stays_down(&WaitStatus::Exited(p, 2)));
        assert!(!spec.stays_down(&WaitStatus::Exited(p, 3)));
        assert!(!spec.stays_down(&WaitStatus::Exited(p, 258)));
        let sig = nix::sys::signal::Signal::SIGINT;
        assert!(!spec.stays_down(&WaitStatus::Signaled(p, sig, false)));
    }

    #[test]
    fn env_overrides_replace_and_add() {
        let env = environment(&[("WD_TEST_NEW".into(), "a b".into())]);
        assert!(env.iter().any(|(k, v)| k == "WD_TEST_NEW" && v == "a b"));
    }
}
