//! Writing a command's output to stdout.
//!
//! Rust ignores SIGPIPE, so `println!` panics when the reader has gone (`watchdog log |
//! head -1`). Commands that print more than a line write through [`print_bytes`], which
//! treats a closed pipe as the reader being done, as ripgrep does: a broken pipe is
//! success on Unix, since the reader got all it wanted.

use std::io::{self, Write};

use crate::error::{Error, Result};

/// Writes `bytes` to stdout and flushes; a reader that went away is not an error.
///
/// # Errors
/// `Io` for any other write failure (a full disk behind a redirection).
pub fn print_bytes(bytes: &[u8]) -> Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(Error::io("write to", "standard output", e))
        }
        _ => Ok(()),
    }
}
