//! Readiness probes: `--ready-when-log REGEX` and `--ready-when-cmd COMMAND`.
//!
//! A process that is alive is not always ready (servolux's `look_for`, zdaemon's
//! `start-test-program`). A `Probe` is polled by its caller (`commands/ready.rs` for start
//! and check, `commands/run.rs` in the foreground), never holds the job lock, and never
//! blocks for long: a poll reads what the output files gained since the last poll and looks
//! at the readiness command without waiting for it.
//!
//! Rules kept here:
//! - **Log**: only whole lines (ending in a newline) written since this launch count: each
//!   file is read from its size at the launch, so an old "ready" line from a previous run can
//!   never satisfy a new launch. A file that shrank (rotated, truncated) is read again from
//!   its start. Files are opened without following symlinks and, with `--user`, only when
//!   they are the user's (`user::may_read`). A line longer than `MAX_LINE` is judged by its
//!   first `MAX_LINE` bytes.
//! - **Command**: `/bin/sh -c COMMAND` in the program's directory and environment, as its
//!   user, with stdin and stdout on /dev/null, in a process group of its own; it is run
//!   again `CMD_INTERVAL` after each failure, each run for at most `CMD_RUN_TIMEOUT` (then
//!   the group is killed). The last failure (status and last stderr line) is kept for the
//!   message.
//! - With both, both must have held (each is latched once it holds).

use std::ffi::{OsStr, OsString};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use regex::Regex;

use crate::cli::SupervisionArgs;
use crate::launch::{self, Launched, Spec};
use crate::paths::Paths;

/// How long one run of the readiness command may take before its group is killed.
pub const CMD_RUN_TIMEOUT: Duration = Duration::from_secs(10);

/// The pause between a failed run of the readiness command and the next.
pub const CMD_INTERVAL: Duration = Duration::from_millis(250);

/// How often a caller should poll.
pub const POLL: Duration = Duration::from_millis(50);

/// Longest line judged whole; longer lines are judged by their head.
const MAX_LINE: usize = 64 * 1024;

/// At most this much of a file is read per poll, so one poll stays short.
const MAX_READ: u64 = 1 << 20;

/// clap value parser for `--ready-when-log`.
///
/// # Errors
/// The regex crate's message, which points at the error.
pub fn parse_regex(s: &str) -> Result<Regex, String> {
    if s.is_empty() {
        return Err("the pattern is empty (it would match any line)".into());
    }
    Regex::new(s).map_err(|e| e.to_string())
}

/// Whether the launch options ask for a readiness wait.
pub fn configured(a: &SupervisionArgs) -> bool {
    a.ready_when_log.is_some() || a.ready_when_cmd.is_some()
}

/// One output file followed from an offset.
struct Followed {
    path: PathBuf,
    pos: u64,
    carry: Vec<u8>,
}

/// The `--ready-when-log` half.
struct LogWatch {
    regex: Regex,
    files: Vec<Followed>,
    uid: Option<u32>,
    /// The line that matched, once one has.
    seen: Option<String>,
}

impl LogWatch {
    fn poll(&mut self) {
        if self.seen.is_some() {
            return;
        }
        for f in &mut self.files {
            let Some(mut file) = crate::user::may_read(&f.path, self.uid) else {
                continue;
            };
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            if len < f.pos {
                f.pos = 0;
                f.carry.clear();
            }
            if len == f.pos || file.seek(SeekFrom::Start(f.pos)).is_err() {
                continue;
            }
            let mut buf = Vec::new();
            let n = file
                .take(MAX_READ)
                .read_to_end(&mut buf)
                .map(|n| n as u64)
                .unwrap_or(0);
            f.pos += n;
            let mut rest: &[u8] = &buf;
            while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
                let (head, tail) = rest.split_at(nl);
                rest = &tail[1..];
                let room = MAX_LINE.saturating_sub(f.carry.len());
                f.carry.extend_from_slice(&head[..head.len().min(room)]);
                let line = String::from_utf8_lossy(&f.carry);
                let line = line.strip_suffix('\r').unwrap_or(&line);
                if self.regex.is_match(line) {
                    self.seen = Some(line.to_string());
                    return;
                }
                f.carry.clear();
            }
            let room = MAX_LINE.saturating_sub(f.carry.len());
            f.carry.extend_from_slice(&rest[..rest.len().min(room)]);
        }
    }
}

/// One run of the readiness command: the child, when it started, and the tail of its stderr
/// (filled by a reader thread).
type Run = (Child, Instant, Arc<Mutex<Vec<u8>>>);

/// The `--ready-when-cmd` half.
struct CmdWatch {
    command: OsString,
    env: Vec<(OsString, OsString)>,
    dir: Option<PathBuf>,
    user: Option<(u32, u32)>,
    running: Option<Run>,
    next: Instant,
    runs: u32,
    ok: bool,
    last_failure: Option<String>,
}

impl CmdWatch {
    fn poll(&mut self) {
        if self.ok {
            return;
        }
        if let Some((child, started, err)) = &mut self.running {
            let status = match child.try_wait() {
                Ok(Some(s)) => Some(Ok(s)),
                Ok(None) if started.elapsed() >= CMD_RUN_TIMEOUT => Some(Err(())),
                Ok(None) => None,
                Err(_) => Some(Err(())),
            };
            let Some(status) = status else { return };
            let last = last_line(&err.lock().unwrap_or_else(|e| e.into_inner()));
            match status {
                Ok(s) if s.success() => self.ok = true,
                Ok(s) => {
                    let how = match (s.code(), s.signal()) {
                        (Some(c), _) => format!("exited with status {c}"),
                        (None, Some(sig)) => format!("was killed by signal {sig}"),
                        _ => "failed".into(),
                    };
                    self.last_failure = Some(format!("{how}{last}"));
                }
                Err(()) => {
                    kill_group(child);
                    self.last_failure = Some(format!(
                        "was still running after {}, so it was killed{last}",
                        crate::duration::show(CMD_RUN_TIMEOUT)
                    ));
                }
            }
            self.running = None;
            self.next = Instant::now() + CMD_INTERVAL;
            return;
        }
        if Instant::now() < self.next {
            return;
        }
        self.runs += 1;
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(&self.command)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0);
        if let Some(d) = &self.dir {
            cmd.current_dir(d);
        }
        if let Some((uid, gid)) = self.user {
            // std sets the gid, drops root's supplementary groups and sets the uid.
            cmd.gid(gid).uid(uid);
        }
        match cmd.spawn() {
            Ok(mut child) => {
                let err = Arc::new(Mutex::new(Vec::new()));
                if let Some(mut pipe) = child.stderr.take() {
                    let sink = Arc::clone(&err);
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 4096];
                        while let Ok(n) = pipe.read(&mut buf) {
                            if n == 0 {
                                break;
                            }
                            let mut v = sink.lock().unwrap_or_else(|e| e.into_inner());
                            v.extend_from_slice(&buf[..n]);
                            let excess = v.len().saturating_sub(4096);
                            v.drain(..excess);
                        }
                    });
                }
                self.running = Some((child, Instant::now(), err));
            }
            Err(e) => {
                self.last_failure = Some(format!(
                    "could not be started: {}",
                    crate::error::describe_io(&e)
                ));
                self.next = Instant::now() + CMD_INTERVAL;
            }
        }
    }

    fn stop(&mut self) {
        if let Some((child, _, _)) = &mut self.running {
            kill_group(child);
        }
        self.running = None;
    }
}

/// SIGKILLs the command's process group (it leads it: `process_group(0)`) and reaps it. The
/// child is unreaped until then, so its PID, which is the group id, cannot be recycled.
fn kill_group(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        if pid > 1 {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// "; its stderr ended: connection refused", or "" when it wrote nothing.
fn last_line(err: &[u8]) -> String {
    let text = String::from_utf8_lossy(err);
    match text.lines().rev().find(|l| !l.trim().is_empty()) {
        Some(l) => format!(
            "; its stderr ended: {}",
            l.chars().take(200).collect::<String>()
        ),
        None => String::new(),
    }
}

/// What one poll found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Poll {
    /// Every condition holds; the words say what was seen.
    Ready(String),
    Pending,
}

/// A readiness wait in progress for one launch.
pub struct Probe {
    log: Option<LogWatch>,
    cmd: Option<CmdWatch>,
    pub started: Instant,
    pub timeout: Duration,
}

impl Probe {
    /// A probe for `launched`, or `None` when no readiness condition is configured.
    pub fn new(
        sup: &SupervisionArgs,
        spec: &Spec,
        paths: &Paths,
        launched: &Launched,
    ) -> Option<Probe> {
        if !configured(sup) {
            return None;
        }
        let log = sup.ready_when_log.clone().map(|regex| {
            let mut files = vec![Followed {
                path: paths.stdout.clone(),
                pos: launched.stdout_offset,
                carry: Vec::new(),
            }];
            if paths.stderr != paths.stdout {
                files.push(Followed {
                    path: paths.stderr.clone(),
                    pos: launched.stderr_offset,
                    carry: Vec::new(),
                });
            }
            LogWatch {
                regex,
                files,
                uid: launched.uid,
                seen: None,
            }
        });
        let cmd = sup.ready_when_cmd.clone().map(|command| {
            let target = spec
                .user
                .as_deref()
                .and_then(|n| crate::user::resolve(n).ok());
            let mut overrides = target
                .as_ref()
                .map(crate::user::Target::env)
                .unwrap_or_default();
            overrides.extend(spec.env.iter().cloned());
            CmdWatch {
                command,
                env: launch::environment(&overrides),
                dir: spec.chdir.clone(),
                user: target.map(|t| (t.uid, t.gid)),
                running: None,
                next: Instant::now(),
                runs: 0,
                ok: false,
                last_failure: None,
            }
        });
        Some(Probe {
            log,
            cmd,
            started: Instant::now(),
            timeout: sup.ready_timeout,
        })
    }

    /// Looks once at every condition.
    pub fn poll(&mut self) -> Poll {
        if let Some(l) = &mut self.log {
            l.poll();
        }
        if let Some(c) = &mut self.cmd {
            // The command is only worth running once the log (if any) says so.
            if self.log.as_ref().is_none_or(|l| l.seen.is_some()) {
                c.poll();
            }
        }
        let log_ok = self.log.as_ref().is_none_or(|l| l.seen.is_some());
        let cmd_ok = self.cmd.as_ref().is_none_or(|c| c.ok);
        if !(log_ok && cmd_ok) {
            return Poll::Pending;
        }
        let mut what = Vec::new();
        if let Some(line) = self.log.as_ref().and_then(|l| l.seen.as_ref()) {
            what.push(format!(
                "its output said {:?}",
                line.chars().take(200).collect::<String>()
            ));
        }
        if let Some(c) = &self.cmd {
            what.push(format!(
                "{} exited 0",
                launch::show_argv(std::slice::from_ref(&c.command))
            ));
        }
        Poll::Ready(what.join(" and "))
    }

    /// Whether `--ready-timeout` has passed.
    pub fn timed_out(&self) -> bool {
        self.started.elapsed() >= self.timeout
    }

    /// What was still missing, for the message: "(no line matching /READY/ in app.out or
    /// app.err since the launch; `curl -f ...` last exited with status 7)".
    pub fn missing(&self) -> String {
        let mut parts = Vec::new();
        if let Some(l) = self.log.as_ref().filter(|l| l.seen.is_none()) {
            let names: Vec<String> = l
                .files
                .iter()
                .map(|f| f.path.display().to_string())
                .collect();
            parts.push(format!(
                "no line matching /{}/ in {} since the launch",
                l.regex.as_str(),
                names.join(" or ")
            ));
        }
        if let Some(c) = self.cmd.as_ref().filter(|c| !c.ok) {
            let shown = launch::show_argv(std::slice::from_ref(&c.command));
            parts.push(match (&c.last_failure, c.runs) {
                (_, 0) => format!("--ready-when-cmd {shown} never ran (the log came first)"),
                (Some(f), n) => format!("--ready-when-cmd {shown} ran {n} times; the last run {f}"),
                (None, n) => format!("--ready-when-cmd {shown} ran {n} times without finishing"),
            });
        }
        parts.join("; ")
    }

    /// Ends a readiness command still running (also done on drop).
    pub fn stop(&mut self) {
        if let Some(c) = &mut self.cmd {
            c.stop();
        }
    }

    /// The command, for tests and messages.
    pub fn command(&self) -> Option<&OsStr> {
        self.cmd.as_ref().map(|c| c.command.as_os_str())
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_parse_or_say_why() {
        assert!(parse_regex("ready|listening on [0-9]+").is_ok());
        assert!(parse_regex("").unwrap_err().contains("empty"));
        assert!(parse_regex("(").is_err());
    }

    #[test]
    fn only_whole_new_lines_match() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a.out");
        std::fs::write(&out, "READY from an old run\n").unwrap();
        let start = std::fs::metadata(&out).unwrap().len();
        let mut w = LogWatch {
            regex: parse_regex("^READY$").unwrap(),
            files: vec![Followed {
                path: out.clone(),
                pos: start,
                carry: Vec::new(),
            }],
            uid: None,
            seen: None,
        };
        w.poll();
        assert_eq!(w.seen, None);
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&out).unwrap();
        f.write_all(b"starting\nREA").unwrap();
        w.poll();
        assert_eq!(w.seen, None, "a partial line does not count");
        f.write_all(b"DY\r\n").unwrap();
        w.poll();
        assert_eq!(w.seen.as_deref(), Some("READY"));
    }

    #[test]
    fn a_file_that_shrank_is_read_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a.out");
        std::fs::write(&out, "x".repeat(100)).unwrap();
        let mut w = LogWatch {
            regex: parse_regex("up").unwrap(),
            files: vec![Followed {
                path: out.clone(),
                pos: 100,
                carry: Vec::new(),
            }],
            uid: None,
            seen: None,
        };
        std::fs::write(&out, "up\n").unwrap();
        w.poll();
        assert_eq!(w.seen.as_deref(), Some("up"));
    }
}
