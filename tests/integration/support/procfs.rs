//! Read-only views of `/proc` (proc(5)) for the tests: process state, session, group,
//! start time, signal dispositions, descriptors, command line and environment.
//!
//! Nothing here signals anything. Every reader returns `None` (or an empty list) when the
//! process has gone, because any process may exit between two reads.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// The fields of `/proc/PID/stat` the tests use.
#[derive(Debug, Clone)]
pub struct Stat {
    pub comm: String,
    /// Field 3: `R`, `S`, `D`, `T`, `t`, `Z`, `X`...
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    pub session: i32,
    /// Field 22: start time in clock ticks since boot.
    pub start_ticks: u64,
}

impl Stat {
    /// A zombie (`Z`) or a dying task (`X`) is dead: it can no longer act on a signal.
    pub fn is_dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Parses `/proc/PID/stat`. comm may contain spaces and ')' (the tests start a program
/// named `x) Z 1 1 1 1 1`), so the fields are split after the *last* ')'.
pub fn stat(pid: i32) -> Option<Stat> {
    let raw = fs::read(format!("/proc/{pid}/stat")).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // rest[0] is field 3 (state); field N is rest[N - 3].
    Some(Stat {
        comm,
        state: rest.first()?.chars().next()?,
        ppid: rest.get(1)?.parse().ok()?,
        pgrp: rest.get(2)?.parse().ok()?,
        session: rest.get(3)?.parse().ok()?,
        start_ticks: rest.get(19)?.parse().ok()?,
    })
}

/// Exists and is neither a zombie nor dying. A stopped (`T`) process is alive.
pub fn is_alive(pid: i32) -> bool {
    pid > 0 && stat(pid).is_some_and(|s| !s.is_dead())
}

/// One `Name:\tvalue` line of `/proc/PID/status`, value trimmed.
pub fn status_field(pid: i32, name: &str) -> Option<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

/// The open descriptor numbers, sorted.
pub fn fds(pid: i32) -> Vec<i32> {
    let mut fds: Vec<i32> = fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    fds.sort_unstable();
    fds
}

/// Where descriptor `fd` points (`/dev/null`, a path, `pipe:[123]`...).
pub fn fd_target(pid: i32, fd: i32) -> Option<PathBuf> {
    fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()
}

/// The open flags of descriptor `fd` (the octal `flags:` line of `/proc/PID/fdinfo/FD`).
pub fn fd_flags(pid: i32, fd: i32) -> Option<u32> {
    let text = fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).ok()?;
    let v = text.lines().find_map(|l| l.strip_prefix("flags:"))?;
    u32::from_str_radix(v.trim(), 8).ok()
}

fn nul_split(raw: &[u8]) -> Vec<Vec<u8>> {
    let body = raw.strip_suffix(b"\0").unwrap_or(raw);
    if raw.is_empty() {
        return Vec::new();
    }
    body.split(|b| *b == 0).map(<[u8]>::to_vec).collect()
}

/// argv as the kernel recorded it at exec.
pub fn cmdline(pid: i32) -> Option<Vec<Vec<u8>>> {
    fs::read(format!("/proc/{pid}/cmdline"))
        .ok()
        .map(|r| nul_split(&r))
}

/// The environment as the kernel recorded it at exec (`KEY=VALUE` entries).
pub fn environ(pid: i32) -> Option<Vec<Vec<u8>>> {
    fs::read(format!("/proc/{pid}/environ"))
        .ok()
        .map(|r| nul_split(&r))
}

/// The current directory.
pub fn cwd(pid: i32) -> Option<PathBuf> {
    fs::read_link(format!("/proc/{pid}/cwd")).ok()
}

/// Every PID in this PID namespace.
pub fn all_pids() -> Vec<i32> {
    fs::read_dir("/proc")
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// `/proc/sys/kernel/random/boot_id`, trimmed.
pub fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .expect("read boot_id")
        .trim()
        .to_string()
}

/// Lossy text of a command line, for messages.
pub fn cmdline_text(pid: i32) -> String {
    cmdline(pid)
        .map(|args| {
            args.iter()
                .map(|a| {
                    std::ffi::OsStr::from_bytes(a)
                        .to_string_lossy()
                        .into_owned()
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| "<gone>".to_string())
}
