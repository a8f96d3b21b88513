//! Every failure a user can meet, each naming the file, PID or program and the cause.
//!
//! Expected states ("not running", "stopped on purpose") are not errors: they are values of
//! `identity::Liveness` and `state::Mode`. An `Error` is something that went wrong and that the
//! user may have to act on; its `Display` is the whole message, printed once by `main` after
//! `watchdog: `.

use std::io;
use std::path::PathBuf;

use crate::exit::Exit;
use crate::pidfile::Pid;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O call on a named file failed.
    #[error("cannot {action} {}: {}", path.display(), describe_io(source))]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A file exists but is not something the watchdog may safely use (FIFO, symlink, huge...).
    #[error("refusing to use {}: {reason}", path.display())]
    UnsafeFile { path: PathBuf, reason: String },

    /// Running as root, a file that another user can rewrite must not name a PID to signal.
    #[error(
        "refusing to trust {} as root: it is owned by {owner} (uid {uid}), who could point it at any process; \
         run the watchdog as {owner}, or remove the file if it is stale",
        path.display()
    )]
    ForeignOwner {
        path: PathBuf,
        owner: String,
        uid: u32,
    },

    /// The lock was held by another run for longer than `--wait`.
    #[error(
        "busy: another watchdog run ({holder}) has held {} for more than {waited}; \
         try again later, or raise --wait",
        path.display()
    )]
    Busy {
        path: PathBuf,
        holder: String,
        waited: String,
    },

    /// The program cannot be found or executed; nothing was launched.
    #[error("cannot launch {program}: {reason}; nothing was launched")]
    Program { program: String, reason: String },

    /// The program was spawned but died within the grace period.
    #[error("{program} (pid {pid}) {how} within {grace} of launch{tail}")]
    DiedAtLaunch {
        program: String,
        pid: Pid,
        how: String,
        grace: String,
        tail: String,
    },

    /// The stop ladder ran out and the program (or something in its session) still lives.
    #[error(
        "pid {pid} ({program}) is still alive after the whole stop ladder ({ladder}){others}; \
         it is marked stopped, so check will not relaunch it; inspect it with `ps -s {pid}`"
    )]
    Survived {
        pid: Pid,
        program: String,
        ladder: String,
        others: String,
    },

    /// A signal could not be sent (most often EPERM: the process is another user's).
    #[error("cannot send {signal} to pid {pid} ({program}): {}", describe_errno(*source))]
    Signal {
        signal: String,
        pid: Pid,
        program: String,
        source: nix::errno::Errno,
    },

    /// The PID file names a live process that belongs to another user.
    #[error(
        "pid {pid} named in {} belongs to {owner} (uid {uid}), not to you; nothing was signalled",
        path.display()
    )]
    NotOurs {
        pid: Pid,
        path: PathBuf,
        owner: String,
        uid: u32,
    },
}

impl Error {
    /// Shorthand for the most common variant.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// How this error ends the run. `status` speaks LSB: anything it cannot determine is 4.
    pub fn exit(&self, for_status: bool) -> Exit {
        match (self, for_status) {
            (_, true) => Exit::Unknown,
            (Error::Busy { .. }, false) => Exit::Busy,
            (_, false) => Exit::Failed,
        }
    }
}

/// `io::Error`'s Display adds " (os error 13)"; users want the words.
pub fn describe_io(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => describe_errno(nix::errno::Errno::from_raw(code)),
        None => e.to_string(),
    }
}

/// The strerror text of an errno, e.g. "Permission denied".
pub fn describe_errno(e: nix::errno::Errno) -> String {
    e.desc().to_string()
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_name_the_file_and_the_cause_without_os_error_noise() {
        let e = Error::io(
            "write PID file",
            "/x/app.pid",
            io::Error::from_raw_os_error(libc::EROFS),
        );
        assert_eq!(
            e.to_string(),
            "cannot write PID file /x/app.pid: Read-only file system"
        );
    }

    #[test]
    fn busy_is_its_own_exit_code_except_for_status() {
        let e = Error::Busy {
            path: "/x/app.pid.lock".into(),
            holder: "pid 12".into(),
            waited: "30s".into(),
        };
        assert_eq!(e.exit(false), Exit::Busy);
        assert_eq!(e.exit(true), Exit::Unknown);
    }
}
