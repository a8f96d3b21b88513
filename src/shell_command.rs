//! `ShellCommand`: a user's command line run with `/bin/sh -c`, bounded in time, its output
//! kept for the event log. Used by `--healthy-when-cmd` (`health.rs`) and `--stop-command`
//! (`commands/stop_command.rs`).
//!
//! Rules kept here:
//! - It runs in a process group of its own (`process_group(0)`), with stdin on /dev/null and
//!   stdout and stderr on one pipe that only we read: its output never reaches the
//!   watchdog's own stdout or stderr (cron's mail). The last `KEEP` bytes are kept.
//! - It is waited for by polling its pidfd (no sleeps, no thread), with a deadline. When it
//!   ends, and when it runs out of time, its whole process group is SIGKILLed *before* the
//!   shell is reaped: while the shell is an unreaped zombie its PID (the group's id) cannot be
//!   recycled, so the signal cannot reach a stranger, and nothing it left in the background
//!   survives to pile up at every check.
//! - The environment is given whole (`env_clear`), as `launch::environment` builds it for the
//!   program; `--user` switches uid and gid as std's `Command` does (it also drops root's
//!   supplementary groups).
//! - std's `Command` resets the signal mask and the dispositions it set itself in the child,
//!   so a watcher that blocks SIGTERM does not pass that on.

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};

use crate::launch;

/// How much of the output is kept (its end).
const KEEP: usize = 4096;

/// Without a pidfd (Linux < 5.3), how often the command is looked at.
const FALLBACK_SLICE: Duration = Duration::from_millis(10);

/// A command line to run with `/bin/sh -c`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellCommand {
    pub command: OsString,
    /// The whole environment.
    pub env: Vec<(OsString, OsString)>,
    pub dir: Option<PathBuf>,
    /// uid and gid to run as (root only).
    pub user: Option<(u32, u32)>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// It exited with this status.
    Exited(i32),
    /// A signal ended it.
    Killed(i32),
    /// It was still running at the deadline and was killed.
    TimedOut(Duration),
    /// It could not be started; the words say why.
    NotStarted(String),
}

/// A finished run: how it ended and the end of its output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub end: End,
    pub output: Vec<u8>,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.end == End::Exited(0)
    }

    /// "exited with status 7: curl: (7) Failed to connect", for messages.
    pub fn describe(&self) -> String {
        let how = match &self.end {
            End::Exited(c) => format!("exited with status {c}"),
            End::Killed(s) => format!("was killed by signal {s}"),
            End::TimedOut(d) => format!(
                "was still running after {}, so it was killed",
                crate::duration::show(*d)
            ),
            End::NotStarted(why) => format!("could not be started: {why}"),
        };
        match self.last_line() {
            Some(l) => format!("{how}: {l}"),
            None => how,
        }
    }

    /// The last non-blank line of the output, at most 200 characters.
    pub fn last_line(&self) -> Option<String> {
        let text = String::from_utf8_lossy(&self.output);
        text.lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(|l| l.chars().take(200).collect())
    }
}

impl ShellCommand {
    /// `command` set up the way the program runs (as `--ready-when-cmd` is): the watchdog's
    /// environment with the program's `--env` applied (and with `--user`, that user's HOME,
    /// USER and LOGNAME first), the program's `--chdir`, and its user.
    ///
    /// # Errors
    /// When `user` cannot be resolved (see `user::resolve`).
    pub fn for_program(
        command: &std::ffi::OsStr,
        env: &[(OsString, OsString)],
        chdir: Option<&std::path::Path>,
        user: Option<&str>,
    ) -> Result<ShellCommand, String> {
        let target = user.map(crate::user::resolve).transpose()?;
        let mut overrides = target
            .as_ref()
            .map(crate::user::Target::env)
            .unwrap_or_default();
        overrides.extend(env.iter().cloned());
        Ok(ShellCommand {
            command: command.to_os_string(),
            env: launch::environment(&overrides),
            dir: chdir.map(std::path::Path::to_path_buf),
            user: target.map(|t| (t.uid, t.gid)),
        })
    }

    /// The command as a user would type it, quoted, for messages.
    pub fn shown(&self) -> String {
        launch::show_argv(std::slice::from_ref(&self.command))
    }

    /// Starts it, with `extra` added to its environment (`WATCHDOG_PID`).
    ///
    /// # Errors
    /// A sentence saying why it could not be started.
    pub fn spawn(&self, extra: &[(&str, String)]) -> Result<Running, String> {
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| format!("cannot create a pipe: {}", e.desc()))?;
        let write2 = write
            .try_clone()
            .map_err(|e| format!("cannot create a pipe: {}", crate::error::describe_io(&e)))?;
        rustix::fs::fcntl_setfl(&read, rustix::fs::OFlags::NONBLOCK)
            .map_err(|e| format!("cannot set up a pipe: {e}"))?;
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(&self.command)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .envs(extra.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(write))
            .stderr(Stdio::from(write2))
            .process_group(0);
        if let Some(d) = &self.dir {
            cmd.current_dir(d);
        }
        if let Some((uid, gid)) = self.user {
            cmd.gid(gid).uid(uid);
        }
        let child = cmd.spawn().map_err(|e| crate::error::describe_io(&e))?;
        // `cmd` still holds our copies of the pipe's write end; drop them, so that the pipe
        // reports EOF once the command and its children are done with it.
        drop(cmd);
        let pidfd = rustix::process::Pid::from_raw(child.id() as i32).and_then(|p| {
            rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok()
        });
        Ok(Running {
            child,
            pidfd,
            pipe: Some(read),
            output: Vec::new(),
            started: Instant::now(),
            ended: None,
            reaped: false,
        })
    }

    /// Runs it to its end, or for at most `timeout` (then kills its group).
    pub fn run(&self, extra: &[(&str, String)], timeout: Duration) -> Finished {
        match self.spawn(extra) {
            Ok(mut r) => {
                let end = r.wait(timeout).unwrap_or(End::TimedOut(timeout));
                r.finish(end)
            }
            Err(why) => Finished {
                end: End::NotStarted(why),
                output: Vec::new(),
            },
        }
    }
}

/// A command that was started and not yet reaped.
#[derive(Debug)]
pub struct Running {
    child: Child,
    pidfd: Option<OwnedFd>,
    pipe: Option<OwnedFd>,
    output: Vec<u8>,
    pub started: Instant,
    ended: Option<End>,
    /// Once reaped, its PID may be anyone's: never signal the group again.
    reaped: bool,
}

impl Running {
    /// Waits up to `slice` for the command to end, reading its output meanwhile. `Some` once
    /// it has ended (it is a zombie until `finish` or `kill`: see the module doc).
    pub fn wait(&mut self, slice: Duration) -> Option<End> {
        let deadline = Instant::now() + slice;
        loop {
            if let Some(e) = &self.ended {
                return Some(e.clone());
            }
            if let Some(end) = self.exited() {
                self.drain();
                self.ended = Some(end.clone());
                return Some(end);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let left = match self.pidfd {
                Some(_) => left,
                None => left.min(FALLBACK_SLICE),
            };
            let ts = Timespec {
                tv_sec: left.as_secs() as _,
                tv_nsec: left.subsec_nanos() as _,
            };
            let mut fds = Vec::with_capacity(2);
            if let Some(p) = &self.pidfd {
                fds.push(PollFd::new(p, PollFlags::IN));
            }
            if let Some(p) = &self.pipe {
                fds.push(PollFd::new(p, PollFlags::IN));
            }
            match rustix::event::poll(&mut fds, Some(&ts)) {
                Ok(_) => {}
                Err(e) if e == rustix::io::Errno::INTR => {}
                Err(_) => std::thread::sleep(left.min(FALLBACK_SLICE)),
            }
            drop(fds);
            self.drain();
        }
    }

    /// Whether the shell has exited, without reaping it (`WNOWAIT`).
    fn exited(&self) -> Option<End> {
        use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        match waitid(
            Id::Pid(nix::unistd::Pid::from_raw(self.child.id() as i32)),
            flags,
        ) {
            Ok(WaitStatus::Exited(_, code)) => Some(End::Exited(code)),
            Ok(WaitStatus::Signaled(_, sig, _)) => Some(End::Killed(sig as i32)),
            Ok(_) => None,
            // ECHILD: already reaped (cannot happen before `finish`); treat as ended.
            Err(_) => Some(End::Killed(0)),
        }
    }

    /// Reads what the pipe holds now (it is non-blocking), keeping the last `KEEP` bytes.
    fn drain(&mut self) {
        let mut buf = [0u8; 4096];
        while let Some(pipe) = &self.pipe {
            match rustix::io::read(pipe, &mut buf) {
                Ok(0) => self.pipe = None,
                Ok(n) => {
                    self.output.extend_from_slice(&buf[..n]);
                    let excess = self.output.len().saturating_sub(KEEP);
                    self.output.drain(..excess);
                }
                Err(e) if e == rustix::io::Errno::INTR => {}
                // EAGAIN: nothing more for now.
                Err(_) => break,
            }
        }
    }

    /// Kills what is left of its process group, reaps it and returns how it ended (`end`, or
    /// how it had ended already).
    pub fn finish(mut self, end: End) -> Finished {
        self.kill_group();
        let _ = self.child.wait();
        self.reaped = true;
        self.drain();
        Finished {
            end: self.ended.take().unwrap_or(end),
            output: std::mem::take(&mut self.output),
        }
    }

    /// SIGKILLs its process group. The shell is unreaped, so its PID (the group's id) is
    /// still ours.
    fn kill_group(&self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            if pid > 1 {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }

    /// How long it has run.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A run dropped without `finish` (an early return) must not be left running.
        if !self.reaped {
            self.kill_group();
            let _ = self.child.wait();
        }
    }
}

/// The end of an exit status as `End`, for callers that reaped it themselves.
pub fn end_of(status: std::process::ExitStatus) -> End {
    match (status.code(), status.signal()) {
        (Some(c), _) => End::Exited(c),
        (None, Some(s)) => End::Killed(s),
        _ => End::Killed(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(cmd: &str) -> ShellCommand {
        ShellCommand {
            command: cmd.into(),
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            dir: None,
            user: None,
        }
    }

    #[test]
    fn exit_status_and_output_are_kept() {
        let f = sh("echo one; echo two >&2; exit 3").run(&[], Duration::from_secs(10));
        assert_eq!(f.end, End::Exited(3));
        assert_eq!(f.last_line().as_deref(), Some("two"));
        assert_eq!(f.describe(), "exited with status 3: two");
        assert!(!f.success());
    }

    #[test]
    fn extra_environment_reaches_the_command() {
        let f = sh("test \"$WATCHDOG_PID\" = 42").run(
            &[("WATCHDOG_PID", "42".to_string())],
            Duration::from_secs(10),
        );
        assert!(f.success(), "{f:?}");
    }

    #[test]
    fn a_slow_command_is_killed_at_the_deadline_with_its_background() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("bg.pid");
        let cmd = format!("sleep 30 & echo $! > {}; wait", marker.display());
        let t = Instant::now();
        let f = sh(&cmd).run(&[], Duration::from_millis(300));
        assert!(matches!(f.end, End::TimedOut(_)), "{f:?}");
        assert!(t.elapsed() < Duration::from_secs(5));
        let bg: i32 = std::fs::read_to_string(&marker)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // Killed with the group (a zombie until its parent, the shell's init, reaps it).
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let st = std::fs::read_to_string(format!("/proc/{bg}/stat")).unwrap_or_default();
            let gone = st.is_empty() || st.rsplit(')').next().unwrap_or("").trim().starts_with('Z');
            if gone {
                break;
            }
            assert!(Instant::now() < deadline, "background sleep {bg} survived");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
