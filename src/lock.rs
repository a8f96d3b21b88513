//! Serialising watchdog runs on one job: a `flock(2)` on `P.lock`, through `fd-lock`.
//!
//! This answers "is another watchdog busy with this job?", a different question from "is the
//! program ours?" (see `identity`). Rules kept here:
//!
//! - The wait is bounded: a hung holder must not pile up a cron run every minute. Past
//!   `--wait` the run ends with `Error::Busy`, naming the holder's PID (read from
//!   `/proc/locks` only on that slow path).
//! - The lock file is opened close-on-exec (Rust's default), so the program never inherits
//!   it; a held child between fork and exec has a copy but never unlocks it (it only
//!   `_exit`s or `exec`s, and `close` does not release a flock other copies share).
//! - After locking, the path must still name the locked inode: a lock file deleted or
//!   replaced while held (a temp cleaner, a user) would let two runs each hold "the" lock
//!   on two inodes. On a mismatch we let go and lock the new file (as systemd does).
//! - The lock file is never deleted by us, for the same reason.
//! - The guard is held in a scope around the caller's closure, never dropped early and
//!   never dropped by a forked child.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::duration;
use crate::error::{Error, Result};

/// Exclusive for commands that may change the job, shared for `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Exclusive,
    Shared,
}

/// How often a blocked run retries the lock: short enough that a queue of runs moves on
/// within milliseconds of the holder's exit, long enough to cost nothing measurable.
const RETRY: Duration = Duration::from_millis(5);

/// Proof that the lock is held, for re-checks at commit points.
#[derive(Debug)]
pub struct Held {
    path: std::path::PathBuf,
    dev: u64,
    ino: u64,
}

impl Held {
    /// For a read-only run that could not open the lock file at all (see `with_lock`).
    fn unlocked(path: &Path) -> Held {
        Held {
            path: path.to_path_buf(),
            dev: 0,
            ino: 0,
        }
    }

    /// Re-checks, right before an action that must not be doubled (recording a launch,
    /// signalling), that the lock file at the path is still the inode we locked. If a user
    /// or a temp cleaner deleted or replaced it, another run may have locked the new file,
    /// so we stop rather than both act.
    ///
    /// # Errors
    /// `UnsafeFile` naming the lock file.
    pub fn still_held(&self) -> Result<()> {
        match std::fs::symlink_metadata(&self.path) {
            Ok(m) if m.dev() == self.dev && m.ino() == self.ino => Ok(()),
            _ => Err(Error::UnsafeFile {
                path: self.path.clone(),
                reason: "the lock file was deleted or replaced while this run held it, so \
                         another run may hold the new one; stopped here to avoid acting twice \
                         (do not delete the .lock file of a running job)"
                    .into(),
            }),
        }
    }
}

/// Runs `f` while holding the job lock at `path`.
///
/// # Errors
/// `Busy` when the lock stays held for longer than `wait`; `Io` when the lock file cannot be
/// opened (it names the file); whatever `f` returns.
pub fn with_lock<T>(
    path: &Path,
    access: Access,
    wait: Duration,
    f: impl FnOnce(&Held) -> Result<T>,
) -> Result<T> {
    let deadline = Instant::now() + wait;
    // A symlink at the lock path is never legitimate: its target's inode could never match
    // the path's, and in someone else's directory it could point root anywhere.
    let nofollow = libc::O_NOFOLLOW;
    loop {
        let file = match (open(path, nofollow), access) {
            (Ok(f), _) => f,
            // A reader (status) in a job directory it may not write, e.g. another user's
            // job: lock the existing file read-only (flock works on any open file), or,
            // if no run ever created it, read without a lock: there is no writer to race.
            (Err(e), Access::Shared) if read_only_error(&e) => match open_read_only(path, nofollow)
            {
                Ok(f) => f,
                Err(_) => return f(&Held::unlocked(path)),
            },
            (Err(e), _) => return Err(e),
        };
        let mut lock = fd_lock::RwLock::new(file);
        // Each arm binds its guard to a name that lives until `f` returns.
        let attempt = match access {
            Access::Exclusive => lock.try_write().map(|g| {
                let held = same_inode(&g, path);
                (held, Guard::W(g))
            }),
            Access::Shared => lock.try_read().map(|g| {
                let held = same_inode(&g, path);
                (held, Guard::R(g))
            }),
        };
        match attempt {
            Ok((Some(held), _guard)) => return f(&held),
            // The file was replaced or unlinked under us: drop this lock, take the new one,
            // within the same deadline (a path that never settles must not spin forever).
            Ok((None, guard)) => {
                drop(guard);
                if Instant::now() >= deadline {
                    return Err(Error::UnsafeFile {
                        path: path.into(),
                        reason: "the lock file keeps changing under the watchdog (replaced or \
                                 deleted again and again); check what touches it"
                            .into(),
                    });
                }
                std::thread::sleep(RETRY);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(Error::Busy {
                        path: path.into(),
                        holder: holder(path),
                        waited: duration::show(wait),
                    });
                }
                std::thread::sleep(RETRY);
            }
            Err(e) => return Err(Error::io("lock", path, e)),
        }
    }
}

/// Keeps either kind of guard alive; dropping it unlocks.
enum Guard<'a> {
    W(#[allow(dead_code)] fd_lock::RwLockWriteGuard<'a, File>),
    R(#[allow(dead_code)] fd_lock::RwLockReadGuard<'a, File>),
}

fn read_only_error(e: &Error) -> bool {
    matches!(e, Error::Io { source, .. }
        if matches!(source.raw_os_error(), Some(libc::EACCES | libc::EPERM | libc::EROFS)))
}

fn open_read_only(path: &Path, extra_flags: i32) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(extra_flags | libc::O_NOCTTY)
        .open(path)
}

fn open(path: &Path, extra_flags: i32) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .custom_flags(extra_flags | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                Error::UnsafeFile {
                    path: path.into(),
                    reason: "the lock file is a symbolic link; remove it (the watchdog creates \
                             a regular one)"
                        .into(),
                }
            } else {
                Error::io("open lock file", path, e)
            }
        })
}

/// `Some` when `path` still names the inode the guard's file is, with a link count above
/// zero: then the lock we took is the lock everyone else will take.
fn same_inode(file: &File, path: &Path) -> Option<Held> {
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(held), Ok(now))
            if held.nlink() > 0 && held.dev() == now.dev() && held.ino() == now.ino() =>
        {
            Some(Held {
                path: path.to_path_buf(),
                dev: held.dev(),
                ino: held.ino(),
            })
        }
        _ => None,
    }
}

/// Who holds the lock, from `/proc/locks` ("pid 123 (watchdog stop --pidfile ...)").
fn holder(path: &Path) -> String {
    let Ok(meta) = std::fs::metadata(path) else {
        return "unknown holder".into();
    };
    let Ok(locks) = std::fs::read_to_string("/proc/locks") else {
        return "unknown holder".into();
    };
    // "1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234567 0 EOF"; blocked waiters have "->".
    let (maj, min) = (libc::major(meta.dev()), libc::minor(meta.dev()));
    let want = format!("{maj:02x}:{min:02x}:{}", meta.ino());
    for line in locks.lines().filter(|l| !l.contains("->")) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() >= 6 && f[1] == "FLOCK" && f[5] == want {
            if let Some(pid) = f[4].parse::<i32>().ok().and_then(crate::pidfile::Pid::new) {
                return match crate::identity::cmdline(pid) {
                    Some(cmd) => format!("pid {pid}: {cmd}"),
                    None => format!("pid {pid}"),
                };
            }
        }
    }
    "holder not found in /proc/locks".into()
}

/// The kind of network filesystem `path` is on, if any. flock(2) on NFS is emulated with
/// byte-range locks and on CIFS may be mandatory, so serialisation there is weaker.
pub fn network_fs(path: &Path) -> Option<&'static str> {
    let st = nix::sys::statfs::statfs(path).ok()?;
    network_fs_name(st.filesystem_type().0 as u64)
}

/// The network filesystem a statfs(2) `f_type` magic number (linux/magic.h) stands for.
fn network_fs_name(t: u64) -> Option<&'static str> {
    Some(match t {
        0x6969 => "NFS",
        0x517b => "SMB",
        0xff53_4d42 => "CIFS",
        0xfe53_4d42 => "SMB2",
        0x0102_1997 => "9P",
        0x00c3_6400 => "Ceph",
        0x6573_5546 => "FUSE",
        0x0bd0_0bd0 => "Lustre",
        0x4750_4653 => "GPFS",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_filesystems_are_named_and_local_ones_are_not() {
        assert_eq!(network_fs_name(0x6969), Some("NFS"));
        assert_eq!(network_fs_name(0xff53_4d42), Some("CIFS"));
        assert_eq!(network_fs_name(0xef53), None, "ext4");
        assert_eq!(network_fs_name(0x0102_1994), None, "tmpfs");
        // This machine's temp directory is local: no warning on the launch path.
        assert_eq!(network_fs(&std::env::temp_dir()), None);
    }

    #[test]
    fn a_second_exclusive_holder_is_told_busy_with_our_pid() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.lock");
        let r = with_lock(&p, Access::Exclusive, Duration::ZERO, |_| {
            // Another open file description of the same file conflicts, as another process would.
            match with_lock(&p, Access::Exclusive, Duration::from_millis(30), |_| Ok(())) {
                Err(Error::Busy { holder, .. }) => {
                    assert!(holder.contains(&std::process::id().to_string()), "{holder}");
                    Ok(())
                }
                other => panic!("{other:?}"),
            }
        });
        r.unwrap();
    }

    #[test]
    fn shared_holders_coexist_and_exclude_writers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.lock");
        with_lock(&p, Access::Shared, Duration::ZERO, |_| {
            with_lock(&p, Access::Shared, Duration::ZERO, |_| Ok(()))?;
            assert!(matches!(
                with_lock(&p, Access::Exclusive, Duration::ZERO, |_| Ok(())),
                Err(Error::Busy { .. })
            ));
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn a_holder_notices_its_lock_file_was_deleted_or_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("j.lock");
        with_lock(&p, Access::Exclusive, Duration::ZERO, |held| {
            held.still_held()?;
            std::fs::remove_file(&p).unwrap();
            assert!(held.still_held().is_err());
            // A newcomer now locks a new inode; the old holder knows it no longer holds it.
            with_lock(&p, Access::Exclusive, Duration::ZERO, |newer| {
                newer.still_held()?;
                assert!(held.still_held().is_err());
                Ok(())
            })
        })
        .unwrap();
        let f = open(&p, 0).unwrap();
        std::fs::remove_file(&p).unwrap();
        assert!(same_inode(&f, &p).is_none());
    }
}
