//! Whether the PID in the PID file is still our program.
//!
//! PIDs are recycled, and a PID file outlives its process (a crash, a reboot). We trust a
//! live PID only when it matches what we recorded at launch: the start time in clock ticks
//! since boot (`/proc/PID/stat` field 22) on the same boot (`boot_id`). Without a usable
//! record (a PID file written by hand or by an older tool, a corrupt state file) we adopt the
//! PID only if the process started no later than the PID file was written, with a margin of
//! `ADOPT_MARGIN` for clock granularity; a younger process is a stranger that reused the PID.
//!
//! A zombie (`Z`) or dead (`X`) process is dead, though `kill(pid, 0)` still succeeds on it.
//! `kill(pid, 0)` failing with EPERM means the PID exists but is another user's: never ours,
//! never adopted.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, SystemTime};

use nix::errno::Errno;

use crate::clock;
use crate::pidfile::Pid;
use crate::state::Identity;

/// How much later than the PID file's mtime a process may have started and still be adopted.
///
/// Process start times tick at 10 ms (USER_HZ 100) and are truncated, file mtimes come from
/// the kernel's coarse clock, which lags real time by up to one jiffy (4 ms at HZ=250), and a
/// program's own PID write lands a moment after its fork. 20 ms covers the sum with room,
/// while a stranger that reused the PID would have to be born within 20 ms of the PID file's
/// write, after our program died, to be taken for it.
pub const ADOPT_MARGIN: Duration = Duration::from_millis(20);

/// The fields of `/proc/PID/stat` we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Field 3: R, S, D, Z, T, t, X...
    pub state: u8,
    /// Field 5: process group.
    pub pgrp: i32,
    /// Field 6: session id.
    pub session: i32,
    /// Field 22: start time, in clock ticks since boot.
    pub start_ticks: u64,
}

impl ProcStat {
    /// A zombie has exited; only its parent's wait is missing.
    pub fn is_dead(&self) -> bool {
        matches!(self.state, b'Z' | b'X' | b'x')
    }
}

/// Parses `/proc/PID/stat`. Field 2 (comm) may hold spaces and `)`, as in
/// `prctl(PR_SET_NAME, "x) Z 1 1")`, so the fields start after the *last* `)` (as systemd
/// does; OpenRC stops at the first and is wrong).
pub fn parse_stat(buf: &[u8]) -> Option<ProcStat> {
    let close = buf.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(buf.get(close + 1..)?).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    // rest starts at field 3.
    let state = fields.next()?.as_bytes().first().copied()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    let session = fields.next()?.parse().ok()?;
    // Fields 7..=21 are 15 fields; field 22 follows.
    let start_ticks = fields.nth(15)?.parse().ok()?;
    Some(ProcStat {
        state,
        pgrp,
        session,
        start_ticks,
    })
}

/// Reads `/proc/PID/stat`; `Ok(None)` when the process does not exist.
///
/// # Errors
/// Only for failures other than "no such process" (e.g. /proc not mounted).
pub fn read_stat(pid: Pid) -> io::Result<Option<ProcStat>> {
    match std::fs::read(format!("/proc/{pid}/stat")) {
        Ok(buf) => Ok(parse_stat(&buf)),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ESRCH)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The owner of a live process (the uid of `/proc/PID`), if it can be read.
pub fn owner(pid: Pid) -> Option<u32> {
    std::fs::metadata(format!("/proc/{pid}"))
        .ok()
        .map(|m| m.uid())
}

/// The program's command line (`/proc/PID/cmdline`), for messages.
pub fn cmdline(pid: Pid) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let words: Vec<String> = raw
        .split(|&b| b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// A process we have checked is the one we launched or adopted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub pid: Pid,
    pub stat: ProcStat,
    /// True when no record matched and the adoption rule accepted it: the caller records it.
    pub adopted: bool,
}

impl Verified {
    /// The identity to record for this process.
    pub fn identity(&self, boot_id: &str) -> Identity {
        Identity {
            pid: self.pid,
            start_ticks: self.stat.start_ticks,
            boot_id: boot_id.to_string(),
        }
    }

    /// Whether the program leads its own session (as everything we launch does), so that
    /// stopping it means stopping the whole session.
    pub fn leads_session(&self) -> bool {
        self.stat.session == self.pid.raw()
    }

    /// How long it has been running.
    pub fn uptime(&self) -> Duration {
        let up = clock::boot_now() - clock::ticks_to_boot_secs(self.stat.start_ticks);
        Duration::from_secs_f64(up.max(0.0))
    }
}

/// Why the recorded PID is not (or no longer) our program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gone {
    /// No process has that PID, or it is a zombie.
    Dead,
    /// A live process has the PID, but it is not the one we recorded (or it is younger than
    /// the PID file): the PID was recycled.
    Reused,
    /// A live process has the PID and belongs to another user (EPERM).
    Foreign { uid: u32 },
}

/// The verdict on one recorded PID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    Running(Verified),
    NotRunning(Gone),
}

/// Checks `pid` against the `recorded` identity (when it is for this PID and this boot) or,
/// failing that, against the adoption rule with the PID file's `mtime`.
///
/// # Errors
/// Only when /proc cannot be read at all.
pub fn verify(
    pid: Pid,
    recorded: Option<&Identity>,
    boot_id: &str,
    pidfile_mtime: SystemTime,
) -> io::Result<Liveness> {
    let Some(stat) = read_stat(pid)? else {
        return Ok(Liveness::NotRunning(Gone::Dead));
    };
    if stat.is_dead() {
        return Ok(Liveness::NotRunning(Gone::Dead));
    }
    match nix::sys::signal::kill(pid.nix(), None) {
        Ok(()) => {}
        Err(Errno::ESRCH) => return Ok(Liveness::NotRunning(Gone::Dead)),
        Err(Errno::EPERM) => {
            return Ok(Liveness::NotRunning(Gone::Foreign {
                uid: owner(pid).unwrap_or(u32::MAX),
            }));
        }
        Err(e) => return Err(io::Error::from(e)),
    }
    let usable = recorded.filter(|id| id.pid == pid && id.boot_id == boot_id);
    let ours = match usable {
        Some(id) => id.start_ticks == stat.start_ticks,
        None => started_by(stat.start_ticks, pidfile_mtime),
    };
    Ok(if ours {
        Liveness::Running(Verified {
            pid,
            stat,
            adopted: usable.is_none(),
        })
    } else {
        Liveness::NotRunning(Gone::Reused)
    })
}

/// The adoption rule: did a process that started `start_ticks` after boot exist when the
/// PID file was last written (`mtime`), within `ADOPT_MARGIN`?
pub fn started_by(start_ticks: u64, mtime: SystemTime) -> bool {
    let started =
        clock::boot_wall_time() + Duration::from_secs_f64(clock::ticks_to_boot_secs(start_ticks));
    started <= mtime + ADOPT_MARGIN
}

/// Every live process whose session id is `sid` (the program and everything it started
/// that stayed in its session), by a scan of /proc. Used only when stopping.
pub fn session_members(sid: i32) -> Vec<(Pid, ProcStat)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(Pid::new)
        .filter_map(|pid| Some((pid, read_stat(pid).ok()??)))
        .filter(|(_, st)| st.session == sid && !st.is_dead())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat_line(comm: &str, state: char, start: u64) -> Vec<u8> {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
        // utime stime cutime cstime priority nice num_threads itrealvalue starttime ...
        format!(
            "4242 ({comm}) {state} 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 {start} 1000 200 18446744073709551615"
        )
        .into_bytes()
    }

    #[test]
    fn parses_a_plain_stat_line() {
        let st = parse_stat(&stat_line("sleep", 'S', 123456)).unwrap();
        assert_eq!(
            st,
            ProcStat {
                state: b'S',
                pgrp: 4242,
                session: 4242,
                start_ticks: 123456
            }
        );
    }

    #[test]
    fn comm_with_spaces_and_parens_does_not_confuse_the_parser() {
        for comm in ["x) Z 1 1", "a b c", ") ) )", "((", "x) R 7 7 7 7"] {
            let st = parse_stat(&stat_line(comm, 'S', 99)).unwrap();
            assert_eq!(st.state, b'S', "{comm}");
            assert_eq!(st.start_ticks, 99, "{comm}");
            assert_eq!(st.session, 4242, "{comm}");
        }
    }

    #[test]
    fn zombies_are_dead() {
        assert!(parse_stat(&stat_line("z", 'Z', 1)).unwrap().is_dead());
        assert!(parse_stat(&stat_line("x", 'X', 1)).unwrap().is_dead());
        assert!(!parse_stat(&stat_line("t", 'T', 1)).unwrap().is_dead());
    }

    #[test]
    fn truncated_lines_parse_to_none() {
        assert!(parse_stat(b"").is_none());
        assert!(parse_stat(b"12 (x").is_none());
        assert!(parse_stat(b"12 (x) S 1 2").is_none());
    }

    #[test]
    fn our_own_process_verifies_by_start_time_and_fails_with_another() {
        let me = Pid::new(std::process::id() as i32).unwrap();
        let st = read_stat(me).unwrap().unwrap();
        let boot = clock::boot_id().unwrap();
        let id = Identity {
            pid: me,
            start_ticks: st.start_ticks,
            boot_id: boot.clone(),
        };
        let old = SystemTime::UNIX_EPOCH;
        assert!(matches!(
            verify(me, Some(&id), &boot, old).unwrap(),
            Liveness::Running(Verified { adopted: false, .. })
        ));
        let other = Identity {
            start_ticks: st.start_ticks + 1,
            ..id.clone()
        };
        assert_eq!(
            verify(me, Some(&other), &boot, old).unwrap(),
            Liveness::NotRunning(Gone::Reused)
        );
        // A record from another boot is ignored; the adoption rule then decides: a PID file
        // written before we started (the epoch) cannot name us.
        let stale = Identity {
            boot_id: "another-boot".into(),
            ..id
        };
        assert_eq!(
            verify(me, Some(&stale), &boot, old).unwrap(),
            Liveness::NotRunning(Gone::Reused)
        );
        assert!(matches!(
            verify(me, Some(&stale), &boot, SystemTime::now()).unwrap(),
            Liveness::Running(Verified { adopted: true, .. })
        ));
    }
}
