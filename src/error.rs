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
    /// An I/O call on a named file failed. The most common causes get a next step.
    #[error("cannot {action} {}: {}{}", path.display(), describe_io(source), io_hint(path, source))]
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
    #[error(
        "cannot send {signal} to pid {pid} ({program}): {}{}",
        describe_errno(*source),
        if *source == nix::errno::Errno::EPERM {
            "; it runs as another user: run the watchdog as that user, or as root"
        } else {
            ""
        }
    )]
    Signal {
        signal: String,
        pid: Pid,
        program: String,
        source: nix::errno::Errno,
    },

    /// The user's crontab cannot be read or written through the `crontab` command.
    #[error("cannot {action} your crontab: {reason}")]
    Crontab {
        action: &'static str,
        reason: String,
    },

    /// No crontab line can be made for this job (`watchdog cron`): the program cannot be
    /// found, a word holds a line break...
    #[error("cannot make a crontab line for {program}: {reason}")]
    CronLine { program: String, reason: String },

    /// `watchdog man NAME` for a command that does not exist.
    #[error("there is no command {name:?}; the commands are: {known}")]
    UnknownCommand { name: String, known: String },

    /// `watchdog log`: there is no event log yet.
    #[error(
        "no event log at {}: nothing has been logged for this job yet (the first launch \
         starts it), or the job was set up with another --log or --pidfile",
        path.display()
    )]
    NoEventLog { path: PathBuf },

    /// `--program-writes-pidfile`: the program did not write a usable PID file in time.
    /// `what` says how the launched process ended and what the PID file held.
    #[error("{program} (pid {pid}) {what}{tail}")]
    NoPidFile {
        program: String,
        pid: Pid,
        what: String,
        tail: String,
    },

    /// The program exited with a status listed in `--stay-down-on`; the job is now stopped.
    #[error(
        "{program} (pid {pid}) {how}, which --stay-down-on lists: marked stopped, so check \
         leaves it down until `watchdog start`{tail}"
    )]
    StayDown {
        program: String,
        pid: Pid,
        how: String,
        tail: String,
    },

    /// `--ready-when-log`/`--ready-when-cmd`: the program did not become ready.
    #[error("{program} (pid {pid}) {what}{tail}")]
    NotReady {
        program: String,
        pid: Pid,
        what: String,
        tail: String,
    },

    /// `watchdog run` while the job's program runs.
    #[error(
        "not running {program} in the foreground: the job's program already runs as pid {pid}; \
         stop it first (`watchdog stop --pidfile {}`), or use another --pidfile",
        path.display()
    )]
    AlreadyRunning {
        program: String,
        pid: Pid,
        path: PathBuf,
    },

    /// A `--config` file, or one of its programs, cannot be used. `at` is "FILE line N" (or
    /// "FILE"), `what` names the program and the key when there is one.
    #[error("{at}: {what}")]
    Config { at: String, what: String },

    /// The PID file names a live process that belongs to another user.
    #[error(
        "pid {pid} named in {} belongs to {owner} (uid {uid}), not to you; nothing was signalled: \
         your program no longer runs under that PID (it was reused), and check will relaunch it",
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

/// What to do about the most common I/O failures on the job's files, or nothing. Files under
/// /proc are the kernel's, and some "paths" only name a thing ("standard output", "the
/// watch"): no advice helps there.
fn io_hint(path: &std::path::Path, e: &io::Error) -> String {
    let text = path.as_os_str().as_encoded_bytes();
    let pseudo = !text.contains(&b'/') && text.contains(&b' ');
    if pseudo || path.starts_with("/proc") {
        return String::new();
    }
    let dir = crate::files::parent_dir(path);
    match e.raw_os_error() {
        Some(libc::EACCES | libc::EPERM) => format!(
            "; check the owner and mode of {} and of its directory (`ls -ld {} {}`)",
            path.display(),
            dir.display(),
            path.display()
        ),
        Some(libc::EROFS) => {
            "; that filesystem is read-only: keep the job's files on a writable one".into()
        }
        Some(libc::ENOSPC | libc::EDQUOT) => {
            "; the disk (or your quota) is full: make room, then run it again".into()
        }
        Some(libc::ENOENT) if !dir.exists() => format!(
            "; the directory {} does not exist: create it (`mkdir -p {}`)",
            dir.display(),
            dir.display()
        ),
        _ => String::new(),
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
            "cannot write PID file /x/app.pid: Read-only file system; that filesystem is \
             read-only: keep the job's files on a writable one"
        );
        let e = Error::io(
            "write PID file",
            "/no/such/dir/app.pid",
            io::Error::from_raw_os_error(libc::ENOENT),
        );
        assert!(e.to_string().ends_with("(`mkdir -p /no/such/dir`)"), "{e}");
        let e = Error::io(
            "read",
            "/proc/1/stat",
            io::Error::from_raw_os_error(libc::EACCES),
        );
        assert_eq!(e.to_string(), "cannot read /proc/1/stat: Permission denied");
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
