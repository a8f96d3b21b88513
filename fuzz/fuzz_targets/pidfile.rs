//! Fuzzes `watchdog::pidfile::parse`, the only way a PID read from disk becomes a `Pid`.
//!
//! Input layout: the first 4 bytes give `pid_max` (little-endian, sign bit cleared, so
//! `0..=i32::MAX`; 0 and 1 leave no valid PID at all), the rest is the PID file's content.
//! Negative `pid_max` is left out on purpose: `pidfile::pid_max()` returns `2..=PID_MAX_LIMIT`
//! and `state.rs` passes `i32::MAX`, so no caller passes one.
//!
//! Invariants checked for every input:
//! - an accepted PID lies in `2..=pid_max` (never 0, 1, negative or above pid_max: those
//!   would make `kill` signal a group, every process, or nothing real);
//! - only the canonical form is accepted: the content is exactly the PID's decimal digits,
//!   optionally followed by one newline.

#![no_main]

use libfuzzer_sys::fuzz_target;
use watchdog::pidfile;

fuzz_target!(|data: &[u8]| {
    let Some((head, content)) = data.split_first_chunk::<4>() else {
        return;
    };
    let pid_max = (u32::from_le_bytes(*head) & 0x7fff_ffff) as i32;
    if let Ok(pid) = pidfile::parse(content, pid_max) {
        assert!(
            (2..=pid_max).contains(&pid.raw()),
            "{content:?} parsed to {pid} with pid_max {pid_max}"
        );
        let digits = content.strip_suffix(b"\n").unwrap_or(content);
        assert_eq!(
            digits,
            pid.to_string().as_bytes(),
            "{content:?} is not the canonical form of {pid}"
        );
    }
});
