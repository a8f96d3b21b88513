//! The one module with `unsafe`: the raw fork that launches the program, and what the child
//! does between fork and exec.
//!
//! Why not `std::process::Command`: its `spawn()` returns only after the child has exec'd, so
//! the PID cannot be recorded before the program runs. A watchdog killed between spawn and
//! recording would leave an unrecorded copy that the next run starts again (start-stop-daemon
//! learned this, commit 29778da53). Here the child is *held*: after fork it sets up its
//! session and signals, then blocks reading a pipe. The parent records the PID durably and
//! only then writes the go byte. If the parent dies first, the pipe reaches EOF and the held
//! child `_exit`s without ever running the program: there is never a copy whose PID is not
//! on disk.
//!
//! Exec failures travel back on a second, close-on-exec pipe: EOF means exec succeeded; eight
//! bytes (stage, errno) mean it did not, and `release` reports which step failed.
//!
//! Between fork and exec the child calls only async-signal-safe functions (signal-safety(7)):
//! `close`, `setsid`, `sigaction`, `sigprocmask`, `read`, `write`, `dup2`, `chdir`, `umask`,
//! `fcntl`, `open`, `setgid`, `setuid`, `execve`, `_exit`, and the raw `close_range` and
//! `setgroups` system calls. Everything it needs (C strings, argv and envp arrays, the signal
//! set, the group list, file descriptors) is prepared before fork; it allocates nothing,
//! takes no lock, logs nothing and runs no destructor.
//!
//! With `--user` (root only), the child drops to the user after the go byte: supplementary
//! groups, then the primary group, then the user (initgroups order: each step needs the
//! privilege the next one gives up). Output files that must be opened as the user
//! (`Output::Open`) are opened after the switch, so the kernel checks the user's own
//! permissions and no path the user controls can make root open a file for them.

#![allow(unsafe_code)]

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::raw::c_char;

use crate::pidfile::Pid;

/// Everything the child needs, prepared before fork.
pub struct ChildSetup<'a> {
    /// Absolute (or explicitly relative) path of the program, already resolved.
    pub path: &'a CStr,
    /// NULL-terminated argv.
    pub argv: &'a [*const c_char],
    /// NULL-terminated envp.
    pub envp: &'a [*const c_char],
    pub chdir: Option<&'a CStr>,
    pub umask: Option<libc::mode_t>,
    /// The descriptor to become 0; it must be >= 3 (see `ensure_std_fds`).
    pub stdin: BorrowedFd<'a>,
    /// What becomes 1 and 2.
    pub stdout: Output<'a>,
    pub stderr: Output<'a>,
    /// The user to become before exec (`--user`), or `None` to stay who we are.
    pub user: Option<Credentials<'a>>,
}

/// Where fd 1 or 2 of the program comes from.
#[derive(Debug, Clone, Copy)]
pub enum Output<'a> {
    /// A descriptor opened by the watchdog; it must be >= 3.
    Fd(BorrowedFd<'a>),
    /// A file the child opens for append after it switched user (`open(2)` with these
    /// flags, mode 0644), so that the user's own permissions decide.
    Open { path: &'a CStr, flags: libc::c_int },
    /// fd 2 only: the same open file as fd 1 (`>>file 2>&1`).
    SameAsStdout,
}

/// The user and groups the child switches to, prepared before fork.
#[derive(Debug, Clone, Copy)]
pub struct Credentials<'a> {
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    /// Supplementary groups, as getgrouplist(3) gives them.
    pub groups: &'a [libc::gid_t],
}

/// Which step of the child's set-up failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Redirect,
    Chdir,
    Exec,
    /// setgroups, setgid or setuid for `--user`.
    User,
    /// Opening the stdout file as the user.
    OpenStdout,
    /// Opening the stderr file as the user.
    OpenStderr,
}

/// A forked child waiting for the go byte.
#[derive(Debug)]
pub struct HeldChild {
    pub pid: Pid,
    go: OwnedFd,
    report: OwnedFd,
}

/// Makes sure descriptors 0, 1 and 2 are open (on /dev/null if they were closed), so that no
/// file we open later lands on them and gets clobbered by the child's `dup2`s.
pub fn ensure_std_fds() {
    for fd in 0..3 {
        if nix::fcntl::fcntl(
            // SAFETY: fd 0..3 is only probed with F_GETFD; no ownership is taken.
            unsafe { BorrowedFd::borrow_raw(fd) },
            nix::fcntl::FcntlArg::F_GETFD,
        )
        .is_err()
        {
            // Opened without CLOEXEC on purpose and never closed: it stands in for the
            // missing standard descriptor. open() returns the lowest free fd, which is `fd`.
            if let Ok(f) = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")
            {
                std::mem::forget(f);
            }
        }
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    Ok((r, w))
}

/// Forks a child that sets up its session and signals and then waits for `release`.
///
/// # Errors
/// When pipe or fork fail (EAGAIN: too many processes; ENOMEM).
pub fn spawn_held(setup: &ChildSetup<'_>) -> io::Result<HeldChild> {
    let (go_r, go_w) = pipe()?;
    let (report_r, report_w) = pipe()?;
    let raw = (
        go_r.as_raw_fd(),
        go_w.as_raw_fd(),
        report_r.as_raw_fd(),
        report_w.as_raw_fd(),
    );
    // An empty signal set, built before fork (sigemptyset is async-signal-safe anyway).
    let empty = nix::sys::signal::SigSet::empty();
    let empty: &libc::sigset_t = empty.as_ref();

    // SAFETY: fork is sound here because the child runs only `held_child`, which calls
    // nothing but async-signal-safe functions on data prepared before the fork (see the
    // module doc and held_child's own comments) and leaves by execve or _exit, so no Rust
    // destructor, allocator or lock of the parent's runs in the child. The watchdog is
    // mostly single-threaded, but not always (a readiness probe's output reader may still
    // run in a watcher): another thread may hold the allocator's or stdio's lock at fork
    // time, which is harmless precisely because the child never takes any lock.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: we are the child of a fork; see held_child.
        unsafe { held_child(setup, raw, empty) }
    }
    drop(go_r);
    drop(report_w);
    Ok(HeldChild {
        pid: Pid::new(pid).expect("fork returned a PID the kernel may give a process"),
        go: go_w,
        report: report_r,
    })
}

/// The child's whole life between fork and exec.
///
/// # Safety
/// Must be called only in the child of a fork, and never returns.
unsafe fn held_child(
    s: &ChildSetup<'_>,
    (go_r, go_w, report_r, report_w): (RawFd, RawFd, RawFd, RawFd),
    empty: &libc::sigset_t,
) -> ! {
    // SAFETY: each call below is async-signal-safe (signal-safety(7)) and works on values
    // prepared before fork. The pointers come from live borrows of the parent's memory,
    // which the child's copy of the address space still holds.
    unsafe {
        // The parent's ends must be closed here: our copy of the write end would keep the go
        // pipe from ever reaching EOF if the parent died.
        libc::close(go_w);
        libc::close(report_r);

        // A new session: the program leads it and its own process group, has no controlling
        // terminal, and `stop` can find everything it starts by session id.
        libc::setsid();

        // Default disposition for every signal (cron or a shell may have ignored some, and
        // ignored dispositions survive exec), then SIGHUP ignored as nohup does. The raw
        // rt_sigaction system call, because glibc's sigaction refuses its reserved signals
        // 32 and 33, which an odd parent may have left ignored. An all-zero kernel
        // sigaction is SIG_DFL with no flags and an empty mask, whatever the architecture's
        // field order. Errors for SIGKILL and SIGSTOP are expected and harmless.
        let dfl = [0u64; 4];
        for sig in 1..=64 {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                dfl.as_ptr(),
                std::ptr::null_mut::<u64>(),
                8usize,
            );
        }
        let mut ign: libc::sigaction = std::mem::zeroed();
        ign.sa_sigaction = libc::SIG_IGN;
        libc::sigaction(libc::SIGHUP, &ign, std::ptr::null_mut());
        // An empty mask: std's Command inherits the mask (rust-lang/rust#101077); we don't.
        libc::sigprocmask(libc::SIG_SETMASK, empty, std::ptr::null_mut());

        // Wait for the parent to record our PID. EOF (parent gone) or an error: leave
        // without running the program.
        let mut byte = 0u8;
        loop {
            let n = libc::read(go_r, (&raw mut byte).cast(), 1);
            if n == 1 {
                break;
            }
            if n < 0 && *libc::__errno_location() == libc::EINTR {
                continue;
            }
            libc::_exit(0);
        }

        // stdin, and the outputs the watchdog opened. The sources are >= 3, so no dup2
        // clobbers another's source.
        if libc::dup2(s.stdin.as_raw_fd(), 0) < 0 {
            report(report_w, Stage::Redirect);
        }
        if let Output::Fd(fd) = s.stdout {
            if libc::dup2(fd.as_raw_fd(), 1) < 0 {
                report(report_w, Stage::Redirect);
            }
        }
        if let Output::Fd(fd) = s.stderr {
            if libc::dup2(fd.as_raw_fd(), 2) < 0 {
                report(report_w, Stage::Redirect);
            }
        }
        if let Some(c) = &s.user {
            switch_user(report_w, c);
        }
        open_output(report_w, s.stdout, 1, Stage::OpenStdout);
        open_output(report_w, s.stderr, 2, Stage::OpenStderr);
        if let Some(dir) = s.chdir {
            if libc::chdir(dir.as_ptr()) < 0 {
                report(report_w, Stage::Chdir);
            }
        }
        if let Some(mask) = s.umask {
            libc::umask(mask);
        }

        // No descriptor but 0, 1, 2 may reach the program: not cron's pipes (cron waits for
        // EOF on them, so a leaked one keeps the job open forever), not the lock. Mark
        // everything from 3 up close-on-exec rather than closing it: the report pipe must
        // stay open until the exec succeeds, and closing it would make a failed exec look
        // like success (the bug PITFALLS.md describes for close_range in pre_exec).
        let r = libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
        if r < 0 {
            // Kernels before 5.11: mark each possible descriptor. Bounded by the soft limit,
            // read here with getrlimit (a plain system call).
            let mut lim: libc::rlimit = std::mem::zeroed();
            let max = if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
                lim.rlim_cur.min(1 << 20) as RawFd
            } else {
                4096
            };
            for fd in 3..max {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }

        libc::execve(s.path.as_ptr(), s.argv.as_ptr(), s.envp.as_ptr());
        report(report_w, Stage::Exec);
    }
}

/// `--user`: supplementary groups, primary group, user, in that order (each step needs the
/// privilege the next one gives up); any failure ends the child before exec.
///
/// # Safety
/// Only in the held child, after fork; async-signal-safe.
unsafe fn switch_user(report_w: RawFd, c: &Credentials<'_>) {
    // SAFETY: setgroups is called as the raw system call on a slice prepared before fork
    // (no allocation; glibc's wrapper would also broadcast to other threads, and the child
    // of a fork has only this one; on the 64-bit Linux targets we build for, the system
    // call takes 32-bit gid_t, as libc::gid_t is). setgid and setuid are raw system calls
    // too: glibc's wrappers would take their multi-threaded "setxid" path if the parent had
    // another thread at fork time, signalling threads that do not exist in the child. std's
    // `Command` makes the same three calls between fork and exec when `uid`/`gid`/`groups`
    // are set. Their values were prepared before fork.
    unsafe {
        if libc::syscall(
            libc::SYS_setgroups,
            c.groups.len() as libc::size_t,
            c.groups.as_ptr(),
        ) < 0
            || libc::syscall(libc::SYS_setgid, c.gid) < 0
            || libc::syscall(libc::SYS_setuid, c.uid) < 0
        {
            report(report_w, Stage::User);
        }
    }
}

/// Opens an `Output::Open` file (as whoever the child now is) onto `target` (1 or 2), or
/// makes fd 2 share fd 1 for `Output::SameAsStdout`. `Output::Fd` was dup'ed already.
///
/// # Safety
/// Only in the held child, after fork; async-signal-safe.
unsafe fn open_output(report_w: RawFd, out: Output<'_>, target: RawFd, stage: Stage) {
    // SAFETY: open, fcntl, dup2 and close are async-signal-safe (signal-safety(7)); the path
    // is a C string prepared before fork. O_NONBLOCK keeps a FIFO without a reader from
    // hanging the child (ENXIO instead), and is cleared again so that the program gets a
    // blocking descriptor, as it would from the watchdog's own open.
    unsafe {
        match out {
            Output::Fd(_) => {}
            Output::SameAsStdout => {
                if libc::dup2(1, target) < 0 {
                    report(report_w, Stage::Redirect);
                }
            }
            Output::Open { path, flags } => {
                let fd = libc::open(
                    path.as_ptr(),
                    flags
                        | libc::O_WRONLY
                        | libc::O_APPEND
                        | libc::O_CREAT
                        | libc::O_NONBLOCK
                        | libc::O_NOCTTY
                        | libc::O_CLOEXEC,
                    0o644 as libc::c_uint,
                );
                if fd < 0 {
                    report(report_w, stage);
                }
                let fl = libc::fcntl(fd, libc::F_GETFL);
                if fl < 0 || libc::fcntl(fd, libc::F_SETFL, fl & !libc::O_NONBLOCK) < 0 {
                    report(report_w, stage);
                }
                if fd == target {
                    // Cannot happen while 0-2 are open (ensure_std_fds), but if it did, the
                    // descriptor must survive exec.
                    libc::fcntl(fd, libc::F_SETFD, 0);
                } else {
                    if libc::dup2(fd, target) < 0 {
                        report(report_w, Stage::Redirect);
                    }
                    libc::close(fd);
                }
            }
        }
    }
}

/// Sends (stage, errno) to the parent and exits with 127, as a shell does when it cannot
/// run a command.
///
/// # Safety
/// Only in the held child; async-signal-safe (write, _exit).
unsafe fn report(fd: RawFd, stage: Stage) -> ! {
    // SAFETY: errno is thread-local and readable; write and _exit are async-signal-safe.
    unsafe {
        let errno = *libc::__errno_location();
        let mut msg = [0u8; 8];
        msg[..4].copy_from_slice(&(stage as i32).to_ne_bytes());
        msg[4..].copy_from_slice(&errno.to_ne_bytes());
        libc::write(fd, msg.as_ptr().cast(), msg.len());
        libc::_exit(127)
    }
}

impl HeldChild {
    /// Lets the child go on to exec, and waits until it has (or has failed to).
    ///
    /// # Errors
    /// `(stage, errno)` when the child could not redirect, chdir or exec; the child has
    /// then exited with 127 and been reaped.
    pub fn release(self) -> Result<Pid, (Stage, nix::errno::Errno)> {
        let HeldChild { pid, go, report } = self;
        // EPIPE here means the child already died (a signal); the grace watch will see it.
        let _ = nix::unistd::write(&go, b"g");
        drop(go);
        let mut msg = [0u8; 8];
        let mut got = 0;
        while got < msg.len() {
            match nix::unistd::read(&report, &mut msg[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => break,
            }
        }
        if got < msg.len() {
            return Ok(pid);
        }
        let stage = match i32::from_ne_bytes([msg[0], msg[1], msg[2], msg[3]]) {
            x if x == Stage::Redirect as i32 => Stage::Redirect,
            x if x == Stage::Chdir as i32 => Stage::Chdir,
            x if x == Stage::User as i32 => Stage::User,
            x if x == Stage::OpenStdout as i32 => Stage::OpenStdout,
            x if x == Stage::OpenStderr as i32 => Stage::OpenStderr,
            _ => Stage::Exec,
        };
        let errno =
            nix::errno::Errno::from_raw(i32::from_ne_bytes([msg[4], msg[5], msg[6], msg[7]]));
        let _ = nix::sys::wait::waitpid(pid.nix(), None);
        Err((stage, errno))
    }

    /// Lets the child go without running the program (recording its PID failed): closing
    /// the go pipe makes it `_exit(0)`; we reap it so no zombie is left.
    pub fn abandon(self) {
        let HeldChild { pid, go, report } = self;
        drop(go);
        drop(report);
        let _ = nix::sys::wait::waitpid(pid.nix(), None);
    }
}

/// Duplicates `fd` onto the lowest free descriptor >= 3, close-on-exec, so that the child's
/// `dup2` onto 0, 1, 2 can never overwrite another source descriptor.
///
/// # Errors
/// EMFILE and the like.
pub fn dup_above_stdio(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    let raw = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3))?;
    // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Gives back memory a long wait does not need, so that a `check --watch` watcher sleeping
/// beside the program stays small: freed heap pages go back to the kernel
/// (`malloc_trim`), and the pages of read-only file mappings (our code and constants, and
/// libc's when linked dynamically, which the kernel maps in generously around each fault)
/// are dropped from our page tables with `MADV_DONTNEED`. They stay in the page cache; the
/// few the wake-up path needs fault back in at a few microseconds each.
///
/// Only mappings that are read-only, private, backed by a file and never written are
/// touched: for those, MADV_DONTNEED means "re-read the same bytes from the file", never
/// "zero" and never "undo a write", so no data can be lost.
/// Writable mappings (data, heap, stack) and special ones (`[vdso]`) are left alone.
pub fn release_idle_memory() {
    // smaps, not maps: a read-only mapping may still hold private copies the program wrote
    // before making it read-only (RELRO: relocated pointers). Those show as "Anonymous"
    // pages, and discarding them would bring back the file's unrelocated bytes. Only
    // mappings with no anonymous page at all are dropped.
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    let mut ranges = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        let mut f = line.split_whitespace();
        let first = f.next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-') {
            // A mapping's header: "start-end perms offset dev inode [path]".
            current = None;
            let perms = f.next().unwrap_or("");
            let path = line.split_whitespace().nth(5).unwrap_or("");
            let eligible = path.starts_with('/')
                && perms.as_bytes().get(1) == Some(&b'-')
                && perms.ends_with('p');
            if let (true, Ok(a), Ok(b)) = (
                eligible,
                usize::from_str_radix(a, 16),
                usize::from_str_radix(b, 16),
            ) {
                if b > a {
                    current = Some((a, b - a));
                }
            }
        } else if first == "Anonymous:" {
            if let Some(range) = current.take() {
                if f.next() == Some("0") {
                    ranges.push(range);
                }
            }
        }
    }
    // SAFETY: malloc_trim only returns free heap memory to the kernel; it does not touch
    // live allocations. Each madvise range is a whole, read-only (no 'w' in its
    // permissions), private, file-backed mapping with no anonymous (privately modified)
    // page, listed by the kernel in /proc/self/smaps just now: MADV_DONTNEED on such a
    // mapping discards nothing that cannot be re-read, byte for byte, from the file, so no
    // Rust object can observe a change. Should a mapping have changed
    // since (nothing in this program maps or unmaps files), madvise on an unmapped range
    // fails with ENOMEM and does nothing.
    unsafe {
        libc::malloc_trim(0);
        for (addr, len) in ranges {
            libc::madvise(addr as *mut libc::c_void, len, libc::MADV_DONTNEED);
        }
    }
}
