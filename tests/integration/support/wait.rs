//! Polling with a deadline: the only way tests wait for another process.
//!
//! No test sleeps for a time that "should be enough". Each one polls a condition every
//! [`POLL`] until it holds, or fails after a timeout taken from [`TIMEOUT`] (or a bound
//! the test states explicitly, when the bound itself is what is being tested).

use std::thread::sleep;
use std::time::{Duration, Instant};

/// How long any condition may take to become true before the test fails. Generous,
/// because a loaded CI machine is slow; a passing test never waits this long.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Poll interval.
pub const POLL: Duration = Duration::from_millis(5);

/// Polls `f` until it returns `Some`, or `timeout` has passed (then `None`).
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        sleep(POLL);
    }
}

/// Polls `f` until it returns `Some`; after `timeout`, an error naming `what` (the caller
/// adds its diagnostics and fails).
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    f: impl FnMut() -> Option<T>,
) -> Result<T, String> {
    poll(timeout, f).ok_or_else(|| format!("timed out after {timeout:?} waiting until {what}"))
}

/// Polls `cond` until it holds; after `timeout`, an error naming `what`.
pub fn wait_until(
    what: &str,
    timeout: Duration,
    mut cond: impl FnMut() -> bool,
) -> Result<(), String> {
    wait_for(what, timeout, || cond().then_some(()))
}
