//! The clocks identity and crash-loop counting rely on.
//!
//! Process start times in `/proc/PID/stat` (field 22) count clock ticks since boot on
//! `CLOCK_BOOTTIME` (the kernel's `start_boottime`, Linux 5.5+), which never jumps with the
//! wall clock and counts suspend. Everything we compare with them, and every crash-loop
//! window, therefore uses `CLOCK_BOOTTIME`, qualified by the boot id so that values from a
//! previous boot are never compared with this one's. The wall clock is used only to show
//! dates to people and for the PID file's mtime in the adoption rule.

use std::time::{Duration, SystemTime};

use nix::time::{ClockId, clock_gettime};

/// Seconds since boot on `CLOCK_BOOTTIME`.
pub fn boot_now() -> f64 {
    match clock_gettime(ClockId::CLOCK_BOOTTIME) {
        Ok(ts) => ts.tv_sec() as f64 + ts.tv_nsec() as f64 / 1e9,
        // CLOCK_BOOTTIME exists since Linux 2.6.39; monotonic is the next best thing.
        Err(_) => clock_gettime(ClockId::CLOCK_MONOTONIC)
            .map(|ts| ts.tv_sec() as f64 + ts.tv_nsec() as f64 / 1e9)
            .unwrap_or(0.0),
    }
}

/// Clock ticks per second of `/proc/PID/stat` times (USER_HZ, 100 on every Linux we know).
pub fn ticks_per_second() -> u64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(n)) if n > 0 => n as u64,
        _ => 100,
    }
}

/// A process's start time in seconds since boot.
pub fn ticks_to_boot_secs(ticks: u64) -> f64 {
    ticks as f64 / ticks_per_second() as f64
}

/// The current boot's id (`/proc/sys/kernel/random/boot_id`), which changes at every boot.
///
/// # Errors
/// When /proc is not mounted: the watchdog cannot verify identities without it.
pub fn boot_id() -> std::io::Result<String> {
    let s = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")?;
    Ok(s.trim().to_string())
}

/// The wall-clock moment the machine booted, computed now from two clock readings; used to
/// turn a process start time into a wall-clock time for the adoption rule.
pub fn boot_wall_time() -> SystemTime {
    let since_boot = Duration::from_secs_f64(boot_now());
    SystemTime::now()
        .checked_sub(since_boot)
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Formats a duration for people: "3d 4h", "5m 12s", "800ms".
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s == 0 {
        return format!("{}ms", d.as_millis());
    }
    let (days, h, m, sec) = (s / 86400, (s / 3600) % 24, (s / 60) % 60, s % 60);
    match (days, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) => format!("{m}m {sec}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{days}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations_read_well() {
        assert_eq!(human(Duration::from_millis(800)), "800ms");
        assert_eq!(human(Duration::from_secs(59)), "59s");
        assert_eq!(human(Duration::from_secs(312)), "5m 12s");
        assert_eq!(human(Duration::from_secs(3 * 3600 + 60)), "3h 1m");
        assert_eq!(human(Duration::from_secs(2 * 86400 + 3600)), "2d 1h");
    }

    #[test]
    fn boot_clock_moves_forward() {
        let a = boot_now();
        let b = boot_now();
        assert!(a > 0.0 && b >= a);
    }
}
