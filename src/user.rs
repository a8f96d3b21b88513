//! `--user NAME`: the user a root watchdog runs the program as (start-stop-daemon's
//! `--chuid`, zdaemon's `user`).
//!
//! Everything is looked up here, before fork: the uid, the primary gid, the supplementary
//! groups (getgrouplist(3), as initgroups(3) would set them) and the home directory. The
//! switch itself (setgroups, setgid, setuid, in that order) happens in the held child, in
//! `sys`, between the go byte and exec.
//!
//! Which output files root may open for the program: only those whose directory, and every
//! directory above it, is owned by root and writable by no one else (`root_controlled`), such
//! as `/var/log/app`. Nobody but root can then put a symlink, a hard link or another file at
//! the path, so root opening it gives the user nothing the administrator did not name. Every
//! other output file (the usual case: the user's own directory) is opened by the child after
//! the switch, as the user, with the user's own permissions: a file the user could not open
//! is a failed launch, never a file root opens on the user's behalf. Reading those files
//! back (the stderr tail, `--ready-when-log`) follows the same rule: a file in a directory
//! the user controls is read only if the user owns it (`may_read`).

use std::ffi::{CString, OsString};
use std::fs::File;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Uid, User};

use crate::files;

/// The user to switch to, resolved before fork.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups (including the primary group, as getgrouplist returns it).
    pub groups: Vec<libc::gid_t>,
    pub home: PathBuf,
}

impl Target {
    /// HOME, USER and LOGNAME for the program, which `--env` may still override.
    pub fn env(&self) -> Vec<(OsString, OsString)> {
        vec![
            ("HOME".into(), self.home.clone().into_os_string()),
            ("USER".into(), self.name.clone().into()),
            ("LOGNAME".into(), self.name.clone().into()),
        ]
    }
}

/// Resolves `--user NAME` (a login name, or a numeric uid that has one).
///
/// # Errors
/// A sentence for the launch error: not root, no such user, no group list.
pub fn resolve(name: &str) -> Result<Target, String> {
    if !files::running_as_root() {
        return Err(format!(
            "--user {name} needs root: only root can run a program as another user; run the \
             watchdog from {name}'s own crontab instead (without --user)"
        ));
    }
    let found = if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
        name.parse::<u32>()
            .ok()
            .and_then(|uid| User::from_uid(Uid::from_raw(uid)).ok().flatten())
    } else {
        User::from_name(name).ok().flatten()
    };
    let user = found.ok_or_else(|| format!("--user {name}: there is no such user"))?;
    let cname = CString::new(user.name.clone())
        .map_err(|_| format!("--user {name}: the name holds a NUL byte"))?;
    let groups = nix::unistd::getgrouplist(&cname, user.gid)
        .map_err(|e| format!("--user {name}: cannot list the user's groups: {}", e.desc()))?;
    Ok(Target {
        name: user.name,
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        groups: groups.into_iter().map(Gid::as_raw).collect(),
        home: user.dir,
    })
}

/// The directory `dir` resolved (symlinks followed), if it and every directory above it is
/// owned by root and writable by no one else: only root can change what a path in it names.
pub fn root_controlled(dir: &Path) -> Option<PathBuf> {
    let real = std::fs::canonicalize(dir).ok()?;
    let mut at = Some(real.as_path());
    while let Some(d) = at {
        let m = std::fs::symlink_metadata(d).ok()?;
        if !m.is_dir() || m.uid() != 0 || m.mode() & 0o022 != 0 {
            return None;
        }
        at = d.parent();
    }
    Some(real)
}

/// Where root may open the output file `path` for a program that runs as another user: the
/// same file through its resolved, root-controlled directory; `None` when the user must open
/// it (see the module doc).
pub fn root_may_open(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?;
    root_controlled(files::parent_dir(path)).map(|d| d.join(name))
}

/// Opens an output file of the program to read it back (stderr tail, readiness), refusing
/// what the user could have pointed elsewhere: a symlink is never followed, and with
/// `--user` (`uid`), a file outside a root-controlled directory must be the user's own.
pub fn may_read(path: &Path, uid: Option<u32>) -> Option<File> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .ok()?;
    let m = f.metadata().ok()?;
    if !m.is_file() {
        return None;
    }
    match uid {
        Some(uid) if m.uid() != uid && root_may_open(path).is_none() => None,
        _ => Some(f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_controlled_directories_are_roots_alone() {
        // / and /usr belong to root and only root may write them on any sane system.
        assert_eq!(
            root_controlled(Path::new("/usr")),
            Some(PathBuf::from("/usr"))
        );
        // /tmp is writable by everyone (sticky or not): a user could plant a link there.
        assert_eq!(root_controlled(Path::new("/tmp")), None);
        assert_eq!(root_controlled(Path::new("/no/such/dir")), None);
        assert_eq!(
            root_may_open(Path::new("/usr/x.out")),
            Some(PathBuf::from("/usr/x.out"))
        );
    }

    #[test]
    fn an_unknown_user_is_a_clear_error() {
        if !files::running_as_root() {
            let e = resolve("root").unwrap_err();
            assert!(e.contains("needs root"), "{e}");
            return;
        }
        let e = resolve("no-such-user-xyz").unwrap_err();
        assert!(e.contains("no such user"), "{e}");
        let t = resolve("root").unwrap();
        assert_eq!((t.uid, t.gid), (0, 0));
        assert!(t.groups.contains(&0));
    }
}
