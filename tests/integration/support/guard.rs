//! `ProcessGuard`: kills, on drop, a process the test started (directly, or through the
//! watchdog) and everything in its session or process group.
//!
//! Invariants:
//! - A guard is created only for a PID the test can attribute to itself (see
//!   `Sandbox::guard`), as soon as the PID is known.
//! - It records the start time (field 22 of `/proc/PID/stat`), and signals the PID only
//!   while that start time still matches: a PID recycled since is a stranger's.
//! - Members of the session or group are signalled only if they started no earlier than
//!   the leader. While any member lives, the kernel cannot hand the leader's PID to a new
//!   process (the PID is still in use as a session/group id), so such members are the
//!   leader's descendants even after the leader is gone. That is how children of a
//!   relaunched program (which leads its own session) are found.
//! - PIDs <= 1 and the test process itself are never signalled; ESRCH is ignored.
//! - Drop then polls `/proc` until each victim is gone or a zombie: a relaunched program
//!   is not the test's child, so the test cannot wait(2) for it; init reaps it.
//! - Drop never panics (it often runs while a failed test is already unwinding).

use super::procfs;
use super::wait::{TIMEOUT, poll};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::process::Child;

pub struct ProcessGuard {
    pid: i32,
    start_ticks: u64,
    label: String,
    /// Set when the process is the test's own child: reaped after the kill.
    child: Option<Child>,
}

impl ProcessGuard {
    /// Guards `pid`, recording its start time now. `None` if it has already gone.
    ///
    /// # Panics
    /// On `pid <= 1`: no test ever has a reason to guard init, and `kill(0 or -1)` is
    /// exactly the mistake the watchdog must not make.
    pub fn new(pid: i32, label: impl Into<String>) -> Option<Self> {
        assert!(pid > 1, "refusing to guard PID {pid}");
        let st = procfs::stat(pid)?;
        Some(Self {
            pid,
            start_ticks: st.start_ticks,
            label: label.into(),
            child: None,
        })
    }

    /// Guards a child the test spawned; it is reaped on drop.
    pub fn for_child(child: Child, label: impl Into<String>) -> Self {
        let pid = child.id() as i32;
        // Our unreaped child cannot have vanished from /proc.
        let start_ticks = procfs::stat(pid).map_or(0, |s| s.start_ticks);
        Self {
            pid,
            start_ticks,
            label: label.into(),
            child: Some(child),
        }
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        let leftovers = kill_family(self.pid, self.start_ticks);
        if let Some(child) = &mut self.child {
            let _ = child.wait();
        }
        if !leftovers.is_empty() {
            eprintln!(
                "ProcessGuard({} pid {}): processes still alive after SIGKILL: {leftovers:?}",
                self.label, self.pid
            );
        }
    }
}

/// SIGKILLs `pid` (if its start time still matches) and every live process in its session
/// or group that started no earlier; returns whatever is still alive after [`TIMEOUT`].
pub fn kill_family(pid: i32, start_ticks: u64) -> Vec<i32> {
    if pid <= 1 {
        return Vec::new();
    }
    let me = std::process::id() as i32;
    let mut victims: Vec<i32> = Vec::new();
    // A few rounds: a member may fork between the scan and the kill.
    for _ in 0..5 {
        let mut found = Vec::new();
        if let Some(st) = procfs::stat(pid).filter(|s| s.start_ticks == start_ticks && !s.is_dead())
        {
            found.push(pid);
            if st.pgrp == pid {
                // The whole group at once, so that no member forks past us.
                let _ = kill(Pid::from_raw(-pid), Signal::SIGKILL);
            }
        }
        for p in procfs::all_pids() {
            if p <= 1 || p == me || p == pid {
                continue;
            }
            let member = procfs::stat(p).is_some_and(|st| {
                (st.session == pid || st.pgrp == pid)
                    && st.start_ticks >= start_ticks
                    && !st.is_dead()
            });
            if member {
                found.push(p);
            }
        }
        if found.is_empty() {
            break;
        }
        for p in &found {
            let _ = kill(Pid::from_raw(*p), Signal::SIGKILL);
        }
        victims.extend(found);
    }
    victims.sort_unstable();
    victims.dedup();
    poll(TIMEOUT, || {
        victims.iter().all(|p| !procfs::is_alive(*p)).then_some(())
    });
    victims
        .into_iter()
        .filter(|p| procfs::is_alive(*p))
        .collect()
}
