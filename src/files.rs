//! Reading small control files strictly, and writing them atomically and durably.
//!
//! Reading: a PID file or state file is opened with `O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC`
//! (a FIFO must not hang us, a symlink must not redirect us), checked with `fstat` to be a
//! regular file of bounded size, and read with a bounded buffer. Running as root, a file owned
//! by another user is refused: that user could otherwise point root at any process
//! (systemd's PIDFile= rule, start-stop-daemon's world-writable rule).
//!
//! Writing: a temp file in the same directory (`O_EXCL | O_NOFOLLOW`), `write`, `rename`
//! over the target; the temp file is unlinked on any failure. A reader therefore sees the
//! old content or the new one, never a torn file (systemd `write_string_file_atomic_at`,
//! runit's `pid.new`), and a watchdog killed at any moment cannot lose a write it finished:
//! the page cache outlives the process.
//!
//! `Durability::Synced` adds `fsync` of the file before the rename and of the directory
//! after it, so that a power cut cannot lose the write either. That costs about 12 ms per
//! file on this project's CI disk, so it is used only where a power cut matters: the
//! "stopped" and "parked" marks, which must survive a reboot. Launch records (identity and
//! PID) are not synced, on purpose: a power cut that could lose them also changes the boot
//! id, which makes every record of the previous boot meaningless anyway (see `identity`), and
//! an old or empty PID file after a reboot is handled like any stale one. Skipping the sync
//! keeps a relaunch in watch mode within milliseconds.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::{Error, Result};

/// A small file read whole, with the facts about it that identity checks need.
#[derive(Debug)]
pub struct SmallFile {
    pub bytes: Vec<u8>,
    pub mtime: SystemTime,
}

/// Whether we run with root's powers (and so must distrust files other users own).
pub fn running_as_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The login name of a uid, or the number when it has none (for messages only).
pub fn user_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
        Ok(Some(u)) => u.name,
        _ => format!("uid {uid}"),
    }
}

/// Opens and reads `path` strictly (see the module doc). `what` names the file in messages
/// ("PID file"). Returns `Ok(None)` when the file does not exist.
///
/// # Errors
/// `UnsafeFile` for a symlink, FIFO, directory, device or a file over `max_len` bytes;
/// `ForeignOwner` when running as root and another user owns it; `Io` otherwise.
pub fn read_small(path: &Path, what: &'static str, max_len: usize) -> Result<Option<SmallFile>> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(Error::UnsafeFile {
                path: path.into(),
                reason: format!("the {what} is a symbolic link; replace it with a regular file"),
            });
        }
        Err(e) => return Err(Error::io(read_action(what), path, e)),
    };
    let meta = file
        .metadata()
        .map_err(|e| Error::io(read_action(what), path, e))?;
    let ft = meta.file_type();
    if !ft.is_file() {
        let kind = if ft.is_dir() {
            "a directory"
        } else if ft.is_fifo() {
            "a FIFO"
        } else if ft.is_socket() {
            "a socket"
        } else if ft.is_block_device() || ft.is_char_device() {
            "a device"
        } else {
            "not a regular file"
        };
        return Err(Error::UnsafeFile {
            path: path.into(),
            reason: format!(
                "the {what} is {kind}, not a regular file; remove it, or give the job \
                 another --pidfile"
            ),
        });
    }
    if meta.len() > max_len as u64 {
        return Err(Error::UnsafeFile {
            path: path.into(),
            reason: format!(
                "the {what} is {} bytes long, far more than it can hold; is --pidfile pointing at the right file?",
                meta.len()
            ),
        });
    }
    if running_as_root() && meta.uid() != 0 {
        return Err(Error::ForeignOwner {
            path: path.into(),
            owner: user_name(meta.uid()),
            uid: meta.uid(),
        });
    }
    let mut bytes = Vec::with_capacity(max_len.min(4096) + 1);
    // Bounded even if the file grows between fstat and read.
    file.take(max_len as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(read_action(what), path, e))?;
    if bytes.len() > max_len {
        return Err(Error::UnsafeFile {
            path: path.into(),
            reason: format!("the {what} grew past {max_len} bytes while being read"),
        });
    }
    Ok(Some(SmallFile {
        bytes,
        mtime: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    }))
}

fn read_action(what: &'static str) -> &'static str {
    match what {
        "PID file" => "read PID file",
        "state file" => "read state file",
        _ => "read",
    }
}

fn write_action(what: &'static str) -> &'static str {
    match what {
        "PID file" => "write PID file",
        "state file" => "write state file",
        _ => "write",
    }
}

/// The directory a path lives in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Whether a write must also survive a power cut (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Atomic: survives the watchdog's death, not necessarily a power cut.
    Atomic,
    /// Atomic and fsynced (file and directory).
    Synced,
}

/// Replaces `path` with `bytes` atomically (see the module doc).
///
/// # Errors
/// `Io` naming `path` (not the temp file: that is our detail) and the cause.
pub fn write_atomic(
    path: &Path,
    bytes: &[u8],
    what: &'static str,
    durability: Durability,
) -> Result<()> {
    let dir = parent_dir(path);
    let name = path.file_name().ok_or_else(|| {
        Error::io(
            write_action(what),
            path,
            io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"),
        )
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp: PathBuf = dir.join(tmp_name);

    let result = (|| -> io::Result<()> {
        let mut f = create_excl(&tmp).or_else(|e| {
            // A temp file left by a killed run that had our PID: ours to replace.
            if e.kind() == io::ErrorKind::AlreadyExists {
                fs::remove_file(&tmp)?;
                create_excl(&tmp)
            } else {
                Err(e)
            }
        })?;
        f.write_all(bytes)?;
        if durability == Durability::Synced {
            // Without sync_all a dropped File ignores write-back errors (ENOSPC on NFS, EIO).
            f.sync_all()?;
        }
        drop(f);
        fs::rename(&tmp, path)?;
        if durability == Durability::Synced {
            sync_dir(dir)?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(write_action(what), path, e));
    }
    Ok(())
}

fn create_excl(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// `fsync` a directory so that a rename or unlink in it survives a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Removes `path`; a file already gone is fine.
///
/// # Errors
/// `Io` naming the file when it exists but cannot be removed.
pub fn remove(path: &Path, what: &'static str) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(
            match what {
                "PID file" => "remove PID file",
                _ => "remove",
            },
            path,
            e,
        )),
    }
}

/// True when someone other than us may put files in `dir`: it is group- or
/// world-writable, or another user owns it (root running a job in alice's directory:
/// alice can plant a symlink there). Files we open for writing in such a directory must not
/// follow symlinks. An unreadable directory counts as untrusted.
pub fn others_can_write(dir: &Path) -> bool {
    match fs::metadata(dir) {
        Ok(m) => m.mode() & 0o022 != 0 || m.uid() != nix::unistd::geteuid().as_raw(),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("app.pid");
        write_atomic(&p, b"12\n", "PID file", Durability::Synced).unwrap();
        write_atomic(&p, b"34\n", "PID file", Durability::Atomic).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"34\n");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn atomic_write_into_a_missing_directory_names_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nope/app.pid");
        let e = write_atomic(&p, b"12\n", "PID file", Durability::Synced).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("cannot write PID file"), "{msg}");
        assert!(msg.contains("nope/app.pid"), "{msg}");
        assert!(msg.contains("No such file or directory"), "{msg}");
    }

    #[test]
    fn read_small_refuses_fifo_symlink_directory_and_huge_files() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();
        let big = dir.path().join("big");
        fs::write(&big, vec![b'1'; 100]).unwrap();
        for p in [&fifo, &link, &dir.path().to_path_buf(), &big] {
            match read_small(p, "PID file", 64) {
                Err(Error::UnsafeFile { .. }) => {}
                other => panic!("{}: {other:?}", p.display()),
            }
        }
        assert!(
            read_small(&dir.path().join("absent"), "PID file", 64)
                .unwrap()
                .is_none()
        );
    }
}
