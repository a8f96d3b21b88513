//! Holding a process by a pidfd (Linux 5.3+): a handle that cannot be redirected to another
//! process when the PID is recycled.
//!
//! Between verifying a PID and signalling it there must be no window for reuse: we open a
//! pidfd first, verify the process (identity reads /proc), then confirm through the pidfd
//! that the process is still alive (so the /proc read was of the same process), and from
//! then on signal and wait through the pidfd only (systemd's `pidref`). Where the kernel has
//! no pidfds (ENOSYS), we fall back to `kill(2)` on the PID and say so in the event log.

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::Signal;
use rustix::event::{PollFd, PollFlags, Timespec};

use crate::pidfile::Pid;

/// A process held by pidfd when the kernel allows it, by bare PID otherwise.
#[derive(Debug)]
pub struct Handle {
    pub pid: Pid,
    fd: Option<OwnedFd>,
}

impl Handle {
    /// Opens a handle on `pid`. `Err(ESRCH)` when no such process exists.
    ///
    /// # Errors
    /// ESRCH when the process is gone.
    pub fn open(pid: Pid) -> Result<Handle, Errno> {
        let rpid = rustix::process::Pid::from_raw(pid.raw()).ok_or(Errno::EINVAL)?;
        let opened = if crate::fault::no_pidfd() {
            Err(rustix::io::Errno::NOSYS)
        } else {
            rustix::process::pidfd_open(rpid, rustix::process::PidfdFlags::empty())
        };
        match opened {
            Ok(fd) => Ok(Handle { pid, fd: Some(fd) }),
            // Linux < 5.3. The callers say so where it matters (watch mode logs it once).
            Err(e) if e == rustix::io::Errno::NOSYS => {
                if crate::identity::read_stat(pid).ok().flatten().is_none() {
                    return Err(Errno::ESRCH);
                }
                Ok(Handle { pid, fd: None })
            }
            Err(e) => Err(Errno::from_raw(e.raw_os_error())),
        }
    }

    /// Sends `sig`.
    ///
    /// # Errors
    /// ESRCH when the process has exited (even if not yet reaped, with a pidfd), EPERM when
    /// it belongs to another user.
    pub fn signal(&self, sig: Signal) -> Result<(), Errno> {
        match &self.fd {
            Some(fd) => {
                let s = rustix::process::Signal::from_named_raw(sig as i32).ok_or(Errno::EINVAL)?;
                rustix::process::pidfd_send_signal(fd, s)
                    .map_err(|e| Errno::from_raw(e.raw_os_error()))
            }
            None => nix::sys::signal::kill(self.pid.nix(), sig),
        }
    }

    /// The pidfd, for a caller that polls it together with other descriptors; `None` on a
    /// kernel without pidfds.
    pub fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.fd.as_ref().map(|f| f.as_fd())
    }

    /// Whether the process has exited (a zombie counts as exited).
    pub fn exited(&self) -> bool {
        match &self.fd {
            Some(fd) => wait_readable(fd.as_fd(), Duration::ZERO),
            None => match crate::identity::read_stat(self.pid) {
                Ok(Some(st)) => st.is_dead(),
                _ => true,
            },
        }
    }

    /// Waits up to `timeout` for the process to exit; true when it has.
    pub fn wait_exit(&self, timeout: Duration) -> bool {
        match &self.fd {
            Some(fd) => wait_readable(fd.as_fd(), timeout),
            None => {
                let deadline = Instant::now() + timeout;
                loop {
                    if self.exited() {
                        return true;
                    }
                    if Instant::now() >= deadline {
                        return false;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }
}

/// Polls a pidfd for readability (the process exited) for up to `timeout`.
fn wait_readable(fd: std::os::fd::BorrowedFd<'_>, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ts = Timespec {
            tv_sec: left.as_secs() as _,
            tv_nsec: left.subsec_nanos() as _,
        };
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(n) if n > 0 => return true,
            Ok(_) => return false,
            Err(e) if e == rustix::io::Errno::INTR => continue,
            Err(_) => return false,
        }
    }
}
