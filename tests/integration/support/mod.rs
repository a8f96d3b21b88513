//! Shared support for the integration tests: sandboxes, process guards, polling, `/proc`
//! readers, and a decoy process that must never be signalled.
//!
//! Fixtures (the programs the watchdog keeps alive) are scripts in `tests/fixtures/`,
//! started by absolute path. Helpers in `src/bin` would be installed with the crate.

pub mod decoy;
pub mod guard;
pub mod procfs;
pub mod sandbox;
pub mod wait;

pub use decoy::Decoy;
pub use sandbox::{Run, Sandbox, args};
pub use wait::TIMEOUT;

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// The grace period of launches in tests: short, so the suite stays fast, and long enough
/// for a fixture that dies at once to be seen dying.
pub const GRACE: &str = "300ms";

/// A short ladder for programs that end on INT.
pub const QUICK_LADDER: &str = "INT/2/KILL/3";

/// Held by tests that fork in bulk or cycle PIDs (the PID-reuse namespaces, the parallel
/// and stress runs), so that two of them never run at once: on a two-core machine two
/// fork storms at once starve the time-bounded assertions of every other test. Tests
/// that only start a few processes do not take it.
static FORK_MTX: Mutex<()> = Mutex::new(());

/// Takes [`FORK_MTX`]; a test that failed while holding it does not poison the others.
pub fn fork_lock() -> MutexGuard<'static, ()> {
    FORK_MTX.lock().unwrap_or_else(|e| e.into_inner())
}

/// `tests/fixtures/NAME`, absolute.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The watchdog binary Cargo built for this test run.
pub fn watchdog_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_watchdog"))
}

/// Whether `n` appears in `text` as a whole number (not as part of a longer one), so that
/// "names PID 123" does not match "1234".
pub fn has_number(text: &str, n: impl Display) -> bool {
    let n = n.to_string();
    text.match_indices(&n).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + n.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

/// Whether `word` appears in `text` as a whole word ("start", but not "started" or
/// "restart").
pub fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-')
    })
}
