//! `Decoy`: a bystander process (tests/fixtures/decoy.pl) whose PID tests put where the
//! watchdog must not act on it: in a PID file it must refuse, or as a reused PID.
//!
//! The decoy leads a session of its own and logs every catchable signal it receives. To
//! prove a negative ("nothing was signalled") without a fixed sleep, the test sends it
//! SIGSYS and waits for the `SYNC` line: perl dispatches pending signals in ascending
//! order and SIGSYS (31) is the highest standard signal, so anything the watchdog sent
//! before it has been logged by then. SIGKILL and SIGSTOP cannot be caught: they show as a
//! dead or stopped decoy.

use super::procfs;
use super::sandbox::Sandbox;
use super::{fixture, sandbox::args};
use nix::sys::signal::Signal;
use std::ffi::OsString;
use std::path::PathBuf;

pub struct Decoy {
    pid: i32,
    log: PathBuf,
    syncs: usize,
}

impl Decoy {
    /// Starts a decoy (as root, in a session of its own) and waits until it is ready.
    #[track_caller]
    pub fn spawn(sb: &Sandbox, tag: &str) -> Self {
        Self::spawn_with(sb, tag, &[]).0
    }

    /// Starts a decoy that also forks `program` as a member of its session and group; the
    /// program's PID is returned too.
    #[track_caller]
    pub fn spawn_with_child(sb: &Sandbox, tag: &str, program: &[OsString]) -> (Self, i32) {
        let (d, child) = Self::spawn_with(sb, tag, program);
        (d, child.expect("decoy child"))
    }

    #[track_caller]
    fn spawn_with(sb: &Sandbox, tag: &str, program: &[OsString]) -> (Self, Option<i32>) {
        let log = sb.path(format!("decoy-{tag}.signals"));
        let mut cmd = sb.command(fixture("decoy.pl"));
        cmd.arg(&log).args(program);
        let pid = sb.spawn_guarded(cmd, &format!("decoy {tag}"));
        let read = || std::fs::read_to_string(&log).unwrap_or_default();
        sb.wait_until("the decoy is ready", || {
            read().lines().any(|l| l == "ready")
        });
        let child = read()
            .lines()
            .find_map(|l| l.strip_prefix("child ")?.parse().ok());
        if let Some(c) = child {
            sb.guard(c, &format!("child of decoy {tag}"));
        }
        (Decoy { pid, log, syncs: 0 }, child)
    }

    /// A decoy that the watchdog itself launched as the program (`decoy_program`): the
    /// test already guards `pid`.
    pub fn attach(sb: &Sandbox, pid: i32, log: PathBuf) -> Self {
        sb.wait_until("the decoy is ready", || {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .lines()
                .any(|l| l == "ready")
        });
        Decoy { pid, log, syncs: 0 }
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Synchronises with the decoy and returns the signals it logged so far.
    #[track_caller]
    pub fn received(&mut self, sb: &Sandbox, context: &str) -> Vec<String> {
        match procfs::stat(self.pid) {
            None => sb.fail(&format!("the decoy {} is gone ({context})", self.pid)),
            Some(s) if s.is_dead() => sb.fail(&format!(
                "the decoy {} was killed ({context}): it must never be signalled",
                self.pid
            )),
            Some(s) if matches!(s.state, 'T' | 't') => sb.fail(&format!(
                "the decoy {} is stopped ({context}): it must never be signalled",
                self.pid
            )),
            Some(_) => {}
        }
        sb.signal(self.pid, Signal::SIGSYS);
        self.syncs += 1;
        let want = self.syncs;
        let log = self.log.clone();
        let lines = move || -> Vec<String> {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect()
        };
        sb.wait_until(
            &format!("the decoy acknowledges SIGSYS ({context})"),
            || lines().iter().filter(|l| *l == "SYNC").count() >= want,
        );
        lines()
            .into_iter()
            .filter(|l| l != "SYNC" && l != "ready" && !l.starts_with("child "))
            .collect()
    }

    /// Fails unless the decoy is alive, running, and received no signal at all.
    #[track_caller]
    pub fn assert_untouched(&mut self, sb: &Sandbox, context: &str) {
        let got = self.received(sb, context);
        if !got.is_empty() {
            sb.fail(&format!(
                "the decoy {} received {got:?} ({context}): the watchdog must never signal it",
                self.pid
            ));
        }
    }
}

/// The decoy's program arguments, for tests that need to name it.
pub fn decoy_program(log: &std::path::Path) -> Vec<OsString> {
    args([fixture("decoy.pl").as_os_str(), log.as_os_str()])
}
