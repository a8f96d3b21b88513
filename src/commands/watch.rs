//! `watchdog check --watch DURATION`: recovery in milliseconds, with no daemon to babysit.
//!
//! The watcher does a normal check, then waits for the program to die and relaunches it at
//! once, until DURATION is over; then it exits and cron starts the next watcher. So the
//! program is covered all the time, while the watcher itself is never a single point of
//! failure: a watcher that dies is replaced within a minute by cron.
//!
//! Rules kept here:
//! - **Event-driven.** The wait is one `poll` on the program's pidfd and a signalfd, with
//!   the time left as its timeout: no wakeups while the program runs. Without pidfds
//!   (Linux < 5.3) it probes every `FALLBACK_PROBE` and says so once in the event log.
//! - **No lock while waiting.** The lock is taken only to check and relaunch, so `status`,
//!   `stop`, `start`, `kill` and plain checks stay instant during a watch. After `stop`, the
//!   watcher wakes (the program died), finds the job stopped, and exits.
//! - **One watcher.** The newer watcher takes over: it records itself in the state file and
//!   sends SIGTERM to the previous one (verified by PID and start time first). A watcher that
//!   wakes and finds another recorded exits without acting. Relaunches happen only under the
//!   lock and only when the program is not running, so none is ever doubled.
//! - **Crash loops** are counted as for cron checks; a parked job ends the watch (exit 1).
//! - **SIGTERM or SIGINT** end the watch cleanly and leave the program running.
//! - The program, when launched by the watcher, is its child: it is reaped and how it ended
//!   (exit status or signal) goes to the event log. A program launched by someone else is
//!   reaped by its own parent; only its end is logged.
//! - Issue 8: a status listed in `--stay-down-on` marks the job stopped (under the lock, if
//!   it still records that program), and the watch ends at its next step. A launch with
//!   `--ready-when-*` is waited for (`ready::in_watch`, no lock held; signals to the watcher
//!   wait until it ends) before the watch goes on. With `--program-writes-pidfile` the
//!   watched program is the daemon its PID file names, watched by pidfd as `Target::Other`.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::waitpid;
use rustix::event::{PollFd, PollFlags, Timespec};

use super::check::{Outcome, check_locked};
use crate::cli::LaunchArgs;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::files::Durability;
use crate::identity;
use crate::job::Job;
use crate::launch::{self, Launched};
use crate::lock::{self, Access};
use crate::pidfd::Handle;
use crate::pidfile::Pid;
use crate::state::Identity;
use crate::{duration, eventlog};

/// How often the fallback (no pidfd) probes the program.
const FALLBACK_PROBE: Duration = Duration::from_millis(250);

/// What to wait for after a check.
enum Target {
    /// Our child, launched by this watcher.
    Child(Launched),
    /// A verified program someone else launched, held by pidfd from inside the locked
    /// step (`job::hold`) when it was verified there, so that its PID cannot be recycled
    /// between the check and the wait; `None` when it must be opened afterwards.
    Other(Pid, Option<Handle>),
    /// A verified program that exited between the check and the hold: go round at once.
    Exited(Pid),
}

/// What one locked step decided.
enum Step {
    Watch(Target),
    Done(Exit),
}

pub fn run(a: &LaunchArgs, watch: Duration) -> Result<Exit> {
    let paths = super::launch_paths(a);
    let deadline = Instant::now() + watch;
    let me = my_identity()?;
    let signals = block_signals()?;
    let mut first = true;
    let mut warned_fallback = false;
    // How our last child ended (we reaped it), recorded for `status` at the next locked step.
    let mut death: Option<(Pid, String)> = None;

    loop {
        // The identity a launch of this step recorded, for a readiness wait.
        let mut fresh = None;
        let step = lock::with_lock(&paths.lock, Access::Exclusive, a.job.wait, |held| {
            let mut job = Job::observe(&paths)?;
            if job.state.watcher.as_ref() != Some(&me) {
                if !first {
                    // A newer watcher took over while we waited: it watches now.
                    return Ok(Step::Done(Exit::Ok));
                }
                take_over(&mut job, &me)?;
            }
            // Saved with the relaunch's state write, if there is one: no extra write here.
            if let Some((pid, how)) = death.take() {
                if job.state.identity.as_ref().is_some_and(|i| i.pid == pid) {
                    job.state.last_exit = Some(how);
                }
            }
            Ok(match check_locked(a, &mut job, held)? {
                Outcome::Healthy(v) => match crate::job::hold(&v) {
                    Some(h) => Step::Watch(Target::Other(v.pid, Some(h))),
                    None => Step::Watch(Target::Exited(v.pid)),
                },
                Outcome::Launched { launched, message } => {
                    eprintln!("watchdog: {message}");
                    fresh = job.state.identity.clone();
                    Step::Watch(Target::Child(launched))
                }
                Outcome::Stopped => {
                    release(&mut job, &me);
                    Step::Done(Exit::Ok)
                }
                Outcome::Parked => {
                    release(&mut job, &me);
                    Step::Done(Exit::Failed)
                }
            })
        });
        first = false;
        let target = match step {
            Ok(Step::Watch(t)) => t,
            Ok(Step::Done(exit)) => return Ok(exit),
            Err(e) => {
                unregister(a, &me);
                return Err(e);
            }
        };
        // A launch of ours: wait for readiness (--ready-when-*, holding no lock), then watch
        // it; a program that is not our child (--program-writes-pidfile) by its pidfd alone.
        let mut target = match target {
            Target::Child(l) => match super::ready::in_watch(a, &paths, l, fresh.take()) {
                Some(l) if l.child => Target::Child(l),
                Some(l) => Target::Other(l.pid, None),
                None if Instant::now() >= deadline => {
                    unregister(a, &me);
                    return Ok(Exit::Ok);
                }
                None => continue,
            },
            other => other,
        };

        let (pid, handle) = match &mut target {
            // Our own unreaped child: its PID cannot be recycled before we wait for it.
            Target::Child(l) => (l.pid, Handle::open(l.pid).ok()),
            Target::Other(p, held) => (*p, held.take().or_else(|| Handle::open(*p).ok())),
            // No handle: the wait reports a death at once.
            Target::Exited(p) => (*p, None),
        };
        if handle.as_ref().is_some_and(|h| h.fd().is_none()) && !warned_fallback {
            eventlog::open(&paths.log, "check");
            log::warn!(
                "no pidfd on this kernel: watching pid {pid} by probing every {}",
                duration::show(FALLBACK_PROBE)
            );
            warned_fallback = true;
        }
        // Asleep for up to a minute beside the program: hold as little memory as we can.
        crate::sys::release_idle_memory();
        match wait_rotating(a, handle.as_ref(), &signals, deadline) {
            Wake::Died => {
                eventlog::open(&paths.log, "check");
                death = report_death(a, &target, &paths.stderr);
            }
            Wake::Signal(sig) => {
                eventlog::open(&paths.log, "check");
                log::info!("watch ended by {}; pid {pid} left running", sig.as_str());
                unregister(a, &me);
                return Ok(Exit::Ok);
            }
            Wake::Timeout => {
                unregister(a, &me);
                return Ok(Exit::Ok);
            }
        }
    }
}

/// Logs how the program ended; for our child, reaps it. A death within the grace period is
/// reported on stderr (cron's mail) with the tail of its stderr. Returns our child's PID and
/// how it ended, for the state file's `last-exit`.
fn report_death(
    a: &LaunchArgs,
    target: &Target,
    stderr: &std::path::Path,
) -> Option<(Pid, String)> {
    match target {
        Target::Child(l) => {
            let status = waitpid(l.pid.nix(), None).ok();
            let how = status
                .as_ref()
                .map(launch::describe_status)
                .unwrap_or_else(|| "ended".into());
            log::warn!("pid {} {how}", l.pid);
            if status.is_some_and(|s| super::spec_of(a).stays_down(&s)) {
                stay_down(a, l, &how, stderr);
                return None;
            }
            if l.at.elapsed() < a.grace {
                let e = Error::DiedAtLaunch {
                    program: launch::show_argv(&a.program),
                    pid: l.pid,
                    how: how.clone(),
                    grace: duration::show(a.grace),
                    tail: launch::stderr_tail(l, stderr),
                };
                eprintln!("watchdog: {e}");
            }
            status.is_some().then_some((l.pid, how))
        }
        Target::Other(pid, _) | Target::Exited(pid) => {
            log::warn!("pid {pid} exited (not our child: its parent has its exit status)");
            None
        }
    }
}

/// `--stay-down-on`: our child `l` exited with a listed status. Under the lock, and only if
/// the job still records it (nothing relaunched or stopped it meanwhile), mark the job
/// stopped; the next step of the watch then finds it stopped and ends. Says so on stderr.
fn stay_down(a: &LaunchArgs, l: &Launched, how: &str, stderr: &std::path::Path) {
    let paths = super::launch_paths(a);
    let r = lock::with_lock(&paths.lock, Access::Exclusive, a.job.wait, |_held| {
        let mut job = Job::observe(&paths)?;
        let ours = job.state.mode == crate::state::Mode::Running
            && job.state.identity.as_ref().is_some_and(|i| i.pid == l.pid);
        if ours {
            let program = launch::show_argv(&a.program);
            super::mark_stays_down(&mut job, &program, l.pid, how)?;
            eprintln!(
                "watchdog: {}",
                Error::StayDown {
                    program,
                    pid: l.pid,
                    how: how.to_string(),
                    tail: launch::stderr_tail(l, stderr),
                }
            );
        }
        Ok(())
    });
    if let Err(e) = r {
        log::error!("{e}; could not mark the job stopped for --stay-down-on");
        eprintln!("watchdog: {e}; could not mark the job stopped for --stay-down-on");
    }
}

enum Wake {
    Died,
    Signal(Signal),
    Timeout,
}

/// Waits for the program to die, a signal, or the deadline. One `poll`, no other wakeups
/// (with a pidfd).
fn wait(handle: Option<&Handle>, signals: &SignalFd, deadline: Instant) -> Wake {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Wake::Timeout;
        }
        let pidfd = handle.and_then(Handle::fd);
        let slice = if pidfd.is_some() || handle.is_none() {
            left
        } else {
            left.min(FALLBACK_PROBE)
        };
        let ts = Timespec {
            tv_sec: slice.as_secs() as _,
            tv_nsec: slice.subsec_nanos() as _,
        };
        let sfd = signals.as_fd();
        let mut fds = vec![PollFd::new(&sfd, PollFlags::IN)];
        if let Some(fd) = &pidfd {
            fds.push(PollFd::new(fd, PollFlags::IN));
        }
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Err(e) if e == rustix::io::Errno::INTR => continue,
            Err(_) => return Wake::Timeout,
            Ok(_) => {}
        }
        if !fds[0].revents().is_empty() {
            if let Ok(Some(info)) = signals.read_signal() {
                if let Ok(sig) = Signal::try_from(info.ssi_signo as i32) {
                    return Wake::Signal(sig);
                }
            }
        }
        match handle {
            // The program was already gone when we looked for it.
            None => return Wake::Died,
            Some(h) => {
                if (fds.len() > 1 && !fds[1].revents().is_empty())
                    || (pidfd.is_none() && h.exited())
                {
                    return Wake::Died;
                }
            }
        }
    }
}

/// `wait`, but with `--rotate-size` also waking every `--rotate-interval` to rotate the
/// output under the lock (`rotate::in_watch`), then waiting on. Without it this is exactly
/// `wait`: no extra wakeups. A timeout before the tick (a `poll` error) ends the wait as
/// `wait` would, so an error cannot turn this into a spin.
fn wait_rotating(
    a: &LaunchArgs,
    handle: Option<&Handle>,
    signals: &SignalFd,
    deadline: Instant,
) -> Wake {
    let Some(every) = super::rotate::watch_interval(&a.rotation) else {
        return wait(handle, signals, deadline);
    };
    loop {
        let tick = (Instant::now() + every).min(deadline);
        match wait(handle, signals, tick) {
            Wake::Timeout if tick < deadline && Instant::now() >= tick => {
                super::rotate::in_watch(a)
            }
            other => return other,
        }
    }
}

/// Blocks SIGTERM and SIGINT and returns a signalfd that reads them, so that the wait can
/// poll for them with the pidfd. The held child unblocks every signal before exec.
fn block_signals() -> Result<SignalFd> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
        .map_err(|e| Error::io("block signals for", "the watch", e.into()))?;
    SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC)
        .map_err(|e| Error::io("create a signalfd for", "the watch", e.into()))
}

/// This process's identity, as recorded in the state file's `watcher` line.
fn my_identity() -> Result<Identity> {
    let pid = Pid::new(std::process::id() as i32).expect("our own PID is a valid PID");
    let stat = identity::read_stat(pid)
        .map_err(|e| Error::io("read", "/proc/self/stat", e))?
        .ok_or_else(|| {
            Error::io(
                "read",
                "/proc/self/stat",
                std::io::ErrorKind::NotFound.into(),
            )
        })?;
    let boot_id = crate::clock::boot_id()
        .map_err(|e| Error::io("read", "/proc/sys/kernel/random/boot_id", e))?;
    Ok(Identity {
        pid,
        start_ticks: stat.start_ticks,
        boot_id,
    })
}

/// Records us as the watcher and ends the previous one (newer takes over). The previous
/// watcher is signalled only if its PID still has the recorded start time, through a pidfd.
fn take_over(job: &mut Job, me: &Identity) -> Result<()> {
    if let Some(old) = job.state.watcher.take() {
        if old.pid != me.pid {
            if let Ok(Some(st)) = identity::read_stat(old.pid) {
                if st.start_ticks == old.start_ticks && !st.is_dead() {
                    if let Ok(h) = Handle::open(old.pid) {
                        let same = identity::read_stat(old.pid)
                            .ok()
                            .flatten()
                            .is_some_and(|s| s.start_ticks == old.start_ticks);
                        if same && !h.exited() && h.signal(Signal::SIGTERM).is_ok() {
                            eventlog::open(&job.paths.log, "check");
                            log::info!("took over from the previous watcher, pid {}", old.pid);
                        }
                    }
                }
            }
        }
    }
    job.state.watcher = Some(me.clone());
    job.save(Durability::Atomic)
}

/// Forgets us as the watcher (inside the lock).
fn release(job: &mut Job, me: &Identity) {
    if job.state.watcher.as_ref() == Some(me) {
        job.state.watcher = None;
        let _ = job.save(Durability::Atomic);
    }
}

/// Forgets us as the watcher, taking the lock briefly; best effort (a stale watcher line is
/// harmless: the next watcher finds it dead or with another start time).
fn unregister(a: &LaunchArgs, me: &Identity) {
    let paths = super::launch_paths(a);
    let _ = lock::with_lock(&paths.lock, Access::Exclusive, a.job.wait, |_| {
        let mut job = Job::observe(&paths)?;
        release(&mut job, me);
        Ok(())
    });
}
