//! `ActingAs`: a root watchdog touching files with another user's permissions, for the
//! output rotation of a program it runs as `--user NAME`.
//!
//! Such a program's output files sit, as a rule, in a directory the user controls. There the
//! user can replace the file, or any directory on its path, with a symlink or a hard link,
//! and a rotation done with root's powers would copy and then cut the head of whatever it
//! was pointed at (`/etc/shadow`). `launch` avoids the same trap by opening those files in
//! the child after the switch (see `user.rs`); the rotation runs in the watchdog itself, so
//! it borrows the user's file-system identity instead, for exactly as long as it works on
//! the files:
//!
//! - `setgroups(2)` to the user's supplementary groups (per process under glibc),
//! - `setfsgid(2)`, then `setfsuid(2)` to the user's gid and uid (per thread).
//!
//! With a non-zero fsuid the kernel checks every open, create, rename, unlink and directory
//! search as it would for the user, and clears root's file capabilities (`CAP_DAC_OVERRIDE`,
//! `CAP_CHOWN`, `CAP_FOWNER`, ...) from the effective set; setting fsuid back to 0 restores
//! them (capabilities(7)). `Drop` restores root's identity in the reverse order. Files that
//! were already open (the event log) stay writable: permissions are checked at open.

use nix::unistd::{Gid, Uid, getgroups, setfsgid, setfsuid, setgroups};

use crate::user::Target;

/// While alive, file-system checks are the user's (see the module doc).
#[derive(Debug)]
pub struct ActingAs {
    groups: Vec<Gid>,
    fsgid: Gid,
    fsuid: Uid,
}

impl ActingAs {
    /// Takes on `user`'s file-system identity.
    ///
    /// # Errors
    /// A sentence naming the user when a step fails; root's identity is then restored.
    pub fn user(user: &Target) -> Result<ActingAs, String> {
        let fail = |what: &str, e: nix::errno::Errno| {
            format!("cannot act as {} ({what}): {}", user.name, e.desc())
        };
        let groups = getgroups().map_err(|e| fail("getgroups", e))?;
        let theirs: Vec<Gid> = user.groups.iter().map(|&g| Gid::from_raw(g)).collect();
        setgroups(&theirs).map_err(|e| fail("setgroups", e))?;
        // From here on, Drop puts everything back, whatever fails next.
        let mut guard = ActingAs {
            groups,
            fsgid: Gid::from_raw(u32::MAX),
            fsuid: Uid::from_raw(u32::MAX),
        };
        guard.fsgid = setfsgid(Gid::from_raw(user.gid));
        guard.fsuid = setfsuid(Uid::from_raw(user.uid));
        // setfsuid/setfsgid report failure only through a second call: -1 changes nothing
        // and returns the current value.
        let (uid, gid) = (
            setfsuid(Uid::from_raw(u32::MAX)),
            setfsgid(Gid::from_raw(u32::MAX)),
        );
        if uid.as_raw() != user.uid || gid.as_raw() != user.gid {
            return Err(fail("setfsuid", nix::errno::Errno::EPERM));
        }
        Ok(guard)
    }
}

impl Drop for ActingAs {
    fn drop(&mut self) {
        if self.fsuid.as_raw() != u32::MAX {
            setfsuid(self.fsuid);
        }
        if self.fsgid.as_raw() != u32::MAX {
            setfsgid(self.fsgid);
        }
        if let Err(e) = setgroups(&self.groups) {
            log::error!("cannot restore the watchdog's own groups: {}", e.desc());
        }
    }
}
