//! Fault-injection points for the tests that kill the watchdog halfway through a launch.
//!
//! With `WATCHDOG_TEST_STOP_AT=NAME` in its environment, the watchdog stops itself
//! (SIGSTOP) when it reaches the point `NAME`, so that a test can SIGKILL it exactly there
//! and check that the next run converges to one recorded copy. The points sit only on the
//! launch path, never on the healthy path, and a user who sets the variable gains nothing
//! they could not do with `kill -STOP`. Points, in order:
//!
//! - `forked`: the held child exists; nothing is recorded yet.
//! - `state-written`: the state file names the held child; the PID file does not yet.
//! - `recorded`: both files name the held child; it has not been released.
//! - `released`: the program runs; the grace period has begun.

/// With `WATCHDOG_TEST_NO_PIDFD` set, `pidfd_open` is treated as missing (ENOSYS), as on
/// Linux before 5.3, so that the tests can exercise the fallback paths (watch mode's timed
/// probe, signalling by PID after re-verification) on a kernel that has pidfds.
pub fn no_pidfd() -> bool {
    std::env::var_os("WATCHDOG_TEST_NO_PIDFD").is_some()
}

/// Stops the process here if the test asked for it.
pub fn point(name: &str) {
    if std::env::var_os("WATCHDOG_TEST_STOP_AT").is_some_and(|v| v == name) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGSTOP);
    }
}
