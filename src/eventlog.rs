//! The event log: one timestamped line per launch, stop, identity mismatch or failure.
//!
//! It is opened only when something happens, so a healthy check does no logger set-up at
//! all. Lines go through `log` into a `simplelog::WriteLogger` on the file, opened for
//! append, so concurrent runs never interleave within a line (each line is one write).
//! If the event log cannot be opened, the run goes on (the program matters more than its
//! log) and stderr says so once.
//!
//! One run may serve several jobs one after another (`--config FILE`, each program with its
//! own event log): the logger is installed once, and writes to the file of the job at hand,
//! which `open` sets and `close` clears between jobs, so that no job's events reach another's
//! log. A single-job run opens one file, once, as before.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use simplelog::{ConfigBuilder, LevelFilter, WriteLogger};

use crate::files;

/// Whether the logger is installed (once per process).
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// The event log of the job at hand: its path, and the writer (`None` when it could not be
/// opened: said once, then its events are dropped).
static CURRENT: Mutex<Option<(PathBuf, Option<LineWriter>)>> = Mutex::new(None);

/// Opens the event log at `path` for the `log` macros, unless it is the one open already.
/// `command` is the subcommand, shown on every line so that the log says who did what.
pub fn open(path: &Path, command: &'static str) {
    let mut current = CURRENT.lock().unwrap_or_else(|e| e.into_inner());
    if current.as_ref().is_some_and(|(p, _)| p == path) {
        return;
    }
    let writer = open_file(path).map(|f| LineWriter::new(f, command));
    *current = Some((path.to_path_buf(), writer));
    drop(current);
    if !INSTALLED.swap(true, Ordering::SeqCst) {
        install();
    }
}

/// Ends logging to the current job's event log: until the next `open`, events are dropped.
/// Called between the programs of a `--config` run.
pub fn close() {
    *CURRENT.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// The file, opened for append; `None` (said on stderr) when it cannot be.
fn open_file(path: &Path) -> Option<std::fs::File> {
    let nofollow = if files::others_can_write(files::parent_dir(path)) {
        libc::O_NOFOLLOW
    } else {
        0
    };
    match OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o644)
        .custom_flags(nofollow | libc::O_NOCTTY)
        .open(path)
    {
        Ok(f) => Some(f),
        Err(e) => {
            eprintln!(
                "watchdog: warning: cannot open event log {}: {}; events of this run are not \
                 logged (fix its owner or mode, or give another --log)",
                path.display(),
                crate::error::describe_io(&e)
            );
            None
        }
    }
}

/// Installs the logger, which writes to whatever `CURRENT` holds.
fn install() {
    let mut cfg = ConfigBuilder::new();
    cfg.set_time_format_rfc3339()
        .set_target_level(LevelFilter::Off)
        .set_thread_level(LevelFilter::Off)
        .set_location_level(LevelFilter::Off);
    let _ = cfg.set_time_offset_to_local();
    let _ = WriteLogger::init(LevelFilter::Info, cfg.build(), ToCurrent);
}

/// The logger's writer: the current job's `LineWriter`, or nowhere.
struct ToCurrent;

impl std::io::Write for ToCurrent {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let mut current = CURRENT.lock().unwrap_or_else(|e| e.into_inner());
        match current.as_mut().and_then(|(_, w)| w.as_mut()) {
            Some(w) => w.write(data),
            None => Ok(data.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Prefixes each record with the watchdog's PID and command, and writes each line with a
/// single `write` so that appends from concurrent runs never interleave.
struct LineWriter {
    file: std::fs::File,
    prefix: String,
    buf: Vec<u8>,
}

impl LineWriter {
    fn new(file: std::fs::File, command: &str) -> LineWriter {
        LineWriter {
            file,
            prefix: format!("watchdog[{}] {command}: ", std::process::id()),
            buf: Vec::new(),
        }
    }
}

impl std::io::Write for LineWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        while let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=nl).collect();
            // simplelog writes "TIME [LEVEL] message"; put our prefix after the level.
            let out = match line.windows(2).position(|w| w == b"] ") {
                Some(i) => {
                    let mut v = line[..i + 2].to_vec();
                    v.extend_from_slice(self.prefix.as_bytes());
                    v.extend_from_slice(&line[i + 2..]);
                    v
                }
                None => line,
            };
            self.file.write_all(&out)?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
