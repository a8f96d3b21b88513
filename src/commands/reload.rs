//! `watchdog reload [--reload-signal SIG]`: the init script's `reload`, a signal (HUP by
//! default) to the verified program, through `kill`'s path (`kill::signal_verified`).
//!
//! The catch is nohup's: the watchdog starts every program with SIGHUP ignored, so that a
//! closed terminal or a hung-up session cannot end it. An ignored disposition survives exec;
//! a program reloads on HUP only once it installs a handler (most daemons do; a shell
//! script needs `trap ... HUP`, which dash and bash refuse for a signal ignored on entry).
//! A program without one ignores the signal and nothing happens. A reload signal whose
//! default action ends the process (USR1, USR2...) is worse: it would kill the program.
//!
//! So, once the program is held by pidfd, its signal masks are read from
//! `/proc/PID/status` (proc(5)): a signal it catches (`SigCgt`) or blocks (`SigBlk`: it may
//! read it with signalfd or sigwait) is sent. One it ignores (`SigIgn`), or one it has no
//! handler for and whose default action would end it or do nothing, is not sent: reload
//! exits 1 saying so, and `watchdog kill SIG` remains for sending it anyway. Masks that
//! cannot be read do not stop the signal.

use nix::sys::signal::Signal;

use crate::cli::ReloadArgs;
use crate::error::Result;
use crate::exit::Exit;
use crate::pidfile::Pid;
use crate::signame;

pub fn run(a: &ReloadArgs) -> Result<Exit> {
    let sig = a.reload_signal;
    super::kill::signal_verified(&a.job, sig, "reload", |pid, program| {
        let masks = read_masks(pid)?;
        refusal(&masks, sig, pid, program)
    })
}

/// The signal masks of `/proc/PID/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Masks {
    pub blocked: u64,
    pub ignored: u64,
    pub caught: u64,
}

/// Reads the masks; `None` when the file cannot be read or parsed.
pub fn read_masks(pid: Pid) -> Option<Masks> {
    parse_masks(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// Parses the `SigBlk`, `SigIgn` and `SigCgt` lines (hexadecimal, bit N-1 for signal N).
pub fn parse_masks(status: &str) -> Option<Masks> {
    let (mut blk, mut ign, mut cgt) = (None, None, None);
    for line in status.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = u64::from_str_radix(value.trim(), 16).ok();
        match key {
            "SigBlk" => blk = value,
            "SigIgn" => ign = value,
            "SigCgt" => cgt = value,
            _ => {}
        }
    }
    Some(Masks {
        blocked: blk?,
        ignored: ign?,
        caught: cgt?,
    })
}

/// Why `sig` would not make the program reload, or `None` when it has a handler for it.
pub fn refusal(masks: &Masks, sig: Signal, pid: Pid, program: &str) -> Option<String> {
    let bit = 1u64.checked_shl(sig as u32 - 1).unwrap_or(0);
    if masks.caught & bit != 0 || masks.blocked & bit != 0 {
        return None;
    }
    let name = signame::short(sig);
    let what = format!("{program} (pid {pid})");
    if masks.ignored & bit != 0 {
        let nohup = if sig == Signal::SIGHUP {
            ": the watchdog starts programs with SIGHUP ignored, as nohup does, and this one \
             never installed a handler for it"
        } else {
            ""
        };
        return Some(format!(
            "{what} ignores SIG{name}{nohup}, so it would not reload; `watchdog kill {name}` \
             sends it anyway"
        ));
    }
    let harmless = matches!(
        sig,
        Signal::SIGCHLD | Signal::SIGWINCH | Signal::SIGURG | Signal::SIGCONT
    );
    Some(if harmless {
        format!(
            "{what} has no handler for SIG{name}, whose default action does nothing, so it \
             would not reload; `watchdog kill {name}` sends it anyway"
        )
    } else {
        format!(
            "{what} has no handler for SIG{name}, whose default action would end it; \
             `watchdog kill {name}` sends it anyway"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tsh\nSigQ:\t0/63450\nSigPnd:\t0000000000000000\n\
ShdPnd:\t0000000000000000\nSigBlk:\t0000000000010000\nSigIgn:\t0000000000000001\n\
SigCgt:\t0000000000000200\n";

    #[test]
    fn masks_parse_from_proc_status() {
        let m = parse_masks(STATUS).unwrap();
        assert_eq!(
            m,
            Masks {
                blocked: 0x10000,
                ignored: 1,
                caught: 0x200
            }
        );
        assert_eq!(parse_masks("Name:\tx\nSigIgn:\t1\n"), None);
        assert_eq!(parse_masks("SigBlk:\tzz\nSigIgn:\t0\nSigCgt:\t0\n"), None);
    }

    #[test]
    fn only_a_caught_or_blocked_signal_is_sent() {
        let pid = Pid::new(42).unwrap();
        let m = parse_masks(STATUS).unwrap();
        // HUP (1) ignored, as the watchdog starts programs.
        let why = refusal(&m, Signal::SIGHUP, pid, "/x/run.sh").unwrap();
        assert!(
            why.contains("ignores SIGHUP") && why.contains("nohup"),
            "{why}"
        );
        // USR1 (10) caught.
        assert_eq!(refusal(&m, Signal::SIGUSR1, pid, "p"), None);
        // CHLD (17) blocked: read with signalfd or sigwait.
        assert_eq!(refusal(&m, Signal::SIGCHLD, pid, "p"), None);
        // USR2 (12): no handler, and its default action ends the program.
        let why = refusal(&m, Signal::SIGUSR2, pid, "p").unwrap();
        assert!(why.contains("would end it"), "{why}");
        // WINCH (28): no handler, default ignored.
        let why = refusal(&m, Signal::SIGWINCH, pid, "p").unwrap();
        assert!(why.contains("does nothing"), "{why}");
    }
}
