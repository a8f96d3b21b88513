//! `watchdog log`: the last events of a job's event log, like `tail -n`.
//!
//! The log may have grown for years (gigabytes), so it is never read whole: `logtail` reads
//! backwards from the end in fixed chunks until it has the lines asked for, then copies
//! them out a chunk at a time. No lock is taken: the log is append-only, and each event is
//! one `write`, so the last complete lines are always whole.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;

use crate::cli::LogArgs;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::logtail::{self, CopyError};
use crate::paths::Paths;

pub fn run(a: &LogArgs) -> Result<Exit> {
    let paths = Paths::new(&a.pidfile, None, None, a.log.as_deref());
    let path = &paths.log;
    let read = "read event log";
    // Non-blocking so that a FIFO at the path cannot hang us; it is refused below.
    let mut f = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Error::NoEventLog { path: path.clone() });
        }
        Err(e) => return Err(Error::io(read, path, e)),
    };
    let meta = f.metadata().map_err(|e| Error::io(read, path, e))?;
    if !meta.is_file() {
        return Err(Error::UnsafeFile {
            path: path.clone(),
            reason: "the event log is not a regular file; is --log pointing at the right file?"
                .into(),
        });
    }
    let mut out = io::stdout().lock();
    match logtail::copy_last_lines(&mut f, meta.len(), a.lines, &mut out) {
        Ok(()) => Ok(Exit::Ok),
        // The reader went away (`watchdog log | head -1`): it has what it wanted.
        Err(CopyError::Write(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Exit::Ok),
        Err(CopyError::Write(e)) => Err(Error::io("write to", "standard output", e)),
        Err(CopyError::Read(e)) => Err(Error::io(read, path, e)),
    }
}
