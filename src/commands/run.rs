//! `watchdog run [launch options] -- PROGRAM`: the program in the foreground, launched
//! exactly as `check` would launch it (zdaemon's `fg`), for debugging what cron would do.
//!
//! What is the same as under cron: the whole launch (`launch::launch`: environment, `--env`,
//! `--chdir`, `--umask`, `--user`, a new session with SIGHUP ignored, stdin on /dev/null,
//! output appended to the files, not the terminal), `--program-writes-pidfile` and
//! `--grace` (a PID file awaited as under check), and `--stay-down-on`. What differs: the
//! watchdog stays, waits for the program, passes on INT, TERM and QUIT (HUP, the terminal
//! going away, as TERM, since the program ignores HUP) to the program's process group, says
//! when it is ready (`--ready-when-*`; a program that is not ready is only reported, never
//! stopped), and exits with the program's status (128+N for signal N; 0 for a program that
//! forked away, whose status only its parent gets).
//!
//! How it coexists with the job (decided here, documented in the README):
//! - Refused while the job's program runs (`Error::AlreadyRunning`): two copies would be
//!   what the watchdog exists to prevent.
//! - While it runs, the program is recorded like any launch (PID file, state, mode
//!   `running`), so a check from cron finds it healthy instead of starting a second copy,
//!   and status, stop and kill see it. The lock is held only to launch and to record the end.
//! - When it ends: if the job still records it, the PID file goes, how it ended is recorded,
//!   and the job's mode is put back as it was before (a job stopped for debugging stays
//!   stopped), except that an exit listed in `--stay-down-on` marks it stopped. If a stop
//!   came meanwhile, the stop's record stands. A job in mode `running` before the run is
//!   relaunched by the next check, as cron would anyway: `watchdog stop` first to debug in
//!   peace.
//! - A run is not counted as a launch for `--max-launches` once it ended: debugging a
//!   crashing program must not park it.
//! - If the watchdog itself is killed, the program goes on as after a `start`: recorded,
//!   and kept alive by check.

use std::os::fd::AsFd;
use std::time::Duration;

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitStatus, waitpid};
use rustix::event::{PollFd, PollFlags, Timespec};

use crate::cli::LaunchArgs;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::files::Durability;
use crate::job::{Job, Verdict};
use crate::launch::{self, Ended};
use crate::lock::{self, Access};
use crate::pidfd::Handle;
use crate::readiness::{Poll, Probe};
use crate::state::Mode;
use crate::{eventlog, files};

/// The signals passed on to the program.
const FORWARDED: [Signal; 4] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGQUIT,
    Signal::SIGHUP,
];

pub fn run(a: &LaunchArgs) -> Result<Exit> {
    let paths = super::launch_paths(a);
    let spec = super::spec_of(a);
    let program = spec.display();
    // Blocked before the launch, so that a Ctrl-C right after it is passed on, not lost. The
    // held child empties its signal mask before exec.
    let signals = block_signals()?;

    let (launched, expect, before, history) =
        lock::with_lock(&paths.lock, Access::Exclusive, a.job.wait, |held| {
            eventlog::open(&paths.log, "run");
            super::rotate::at_check(a, &paths, "run");
            let mut job = Job::observe(&paths)?;
            if let Verdict::Running(v) = &job.verdict {
                return Err(Error::AlreadyRunning {
                    program: job.program(Some(v.pid)),
                    pid: v.pid,
                    path: paths.pidfile.clone(),
                });
            }
            let before = job.state.mode;
            let history = job.state.launches.clone();
            job.state.limit = Some(super::limit_of(a));
            let launched = launch::launch(&spec, &paths, &mut job.state, &job.boot_id, held)?;
            log::info!(
                "running {program} as pid {} in the foreground (watchdog run)",
                launched.pid
            );
            Ok((launched, job.state.identity.clone(), before, history))
        })?;
    let pid = launched.pid;
    let outputs = if paths.stdout == paths.stderr {
        paths.stdout.display().to_string()
    } else {
        format!("{} and {}", paths.stdout.display(), paths.stderr.display())
    };
    eprintln!(
        "watchdog: running {program} as pid {pid} in the foreground; its output goes to \
         {outputs}; Ctrl-C stops it"
    );

    let mut probe = Probe::new(&a.supervision, &spec, &paths, &launched);
    let handle = Handle::open(pid).ok();
    loop {
        if let Some(p) = &mut probe {
            match p.poll() {
                Poll::Ready(what) => {
                    let after = launched.at.elapsed().as_secs_f64();
                    eprintln!("watchdog: ready {after:.1}s after launch ({what})");
                    log::info!("pid {pid} is ready, {after:.1}s after launch: {what}");
                    probe = None;
                }
                Poll::Pending if p.timed_out() => {
                    eprintln!(
                        "watchdog: not ready within {} ({}); run leaves it running",
                        crate::duration::show(p.timeout),
                        p.missing()
                    );
                    probe = None;
                }
                Poll::Pending => {}
            }
        }
        let timeout = probe.as_ref().map(|_| crate::readiness::POLL);
        match wait(handle.as_ref(), &signals, timeout) {
            Wake::Exited => break,
            Wake::Signal(sig) => forward(&launched, handle.as_ref(), sig),
            Wake::Tick => {}
        }
    }
    drop(probe);

    let end = if launched.child {
        waitpid(pid.nix(), None)
            .map(Ended::Status)
            .unwrap_or(Ended::Unknown)
    } else {
        Ended::Unknown
    };
    let how = launch::describe_end(&end);
    let stays_down = matches!(&end, Ended::Status(s) if spec.stays_down(s));
    let recorded = lock::with_lock(&paths.lock, Access::Exclusive, a.job.wait, |held| {
        let mut job = Job::observe(&paths)?;
        if expect.is_none() || job.state.identity != expect {
            // A stop (or another run) took over meanwhile: its record stands.
            return Ok(());
        }
        held.still_held()?;
        if stays_down {
            return super::mark_stays_down(&mut job, &program, pid, &how);
        }
        job.state.identity = None;
        job.state.last_exit = Some(format!("{how} (watchdog run)"));
        // A debugging run does not count towards the crash-loop limit.
        job.state.launches = history;
        let durability = if job.state.mode == Mode::Running && before != Mode::Running {
            job.state.set_mode(before);
            Durability::Synced
        } else {
            Durability::Atomic
        };
        job.save(durability)?;
        files::remove(&paths.pidfile, "PID file")?;
        log::info!("{program} (pid {pid}) {how}; watchdog run ends");
        Ok(())
    });
    eprintln!("watchdog: {program} (pid {pid}) {how}");
    if stays_down {
        eprintln!(
            "watchdog: --stay-down-on lists that status: the job is marked stopped, so check \
             leaves it down until `watchdog start`"
        );
    }
    if let Err(e) = recorded {
        eprintln!("watchdog: {e}; the end of the run was not recorded");
    }
    Ok(Exit::Program(status_code(&end)))
}

/// The exit status `run` ends with: the program's, 128+N for signal N (as a shell reports
/// it), 0 when it is not our child (its status is unknown).
fn status_code(end: &Ended) -> u8 {
    match end {
        Ended::Status(WaitStatus::Exited(_, code)) => u8::try_from(*code).unwrap_or(1),
        Ended::Status(WaitStatus::Signaled(_, sig, _)) => 128u8.saturating_add(*sig as u8),
        Ended::Status(_) | Ended::Unknown => 0,
    }
}

/// Passes `sig` on: to the program's process group when it is our child and leads one (as
/// a terminal sends Ctrl-C to the foreground group), else to the program alone by pidfd.
/// HUP becomes TERM: the program ignores HUP, and a run whose terminal went away should end.
fn forward(launched: &launch::Launched, handle: Option<&Handle>, sig: Signal) {
    let sig = if sig == Signal::SIGHUP {
        Signal::SIGTERM
    } else {
        sig
    };
    log::info!("passing {} on to pid {}", sig.as_str(), launched.pid);
    if launched.child {
        // Our unreaped child: its PID, which is its group id (it leads a new session and
        // group), cannot have been recycled.
        let _ = nix::sys::signal::killpg(launched.pid.nix(), sig);
    } else if let Some(h) = handle {
        let _ = h.signal(sig);
    }
}

enum Wake {
    Exited,
    Signal(Signal),
    Tick,
}

/// Waits for the program to exit or a signal to arrive, or for `timeout` (a readiness poll
/// is due). With no pidfd, it probes every 250ms.
fn wait(handle: Option<&Handle>, signals: &SignalFd, timeout: Option<Duration>) -> Wake {
    let Some(h) = handle else {
        return Wake::Exited;
    };
    let pidfd = h.fd();
    let timeout = match (pidfd.is_some(), timeout) {
        (true, t) => t,
        (false, t) => Some(t.unwrap_or(Duration::MAX).min(Duration::from_millis(250))),
    };
    let ts = timeout.map(|t| Timespec {
        tv_sec: t.as_secs() as _,
        tv_nsec: t.subsec_nanos() as _,
    });
    let sfd = signals.as_fd();
    let mut fds = vec![PollFd::new(&sfd, PollFlags::IN)];
    if let Some(fd) = &pidfd {
        fds.push(PollFd::new(fd, PollFlags::IN));
    }
    match rustix::event::poll(&mut fds, ts.as_ref()) {
        Ok(_) => {}
        Err(_) => return Wake::Tick,
    }
    if !fds[0].revents().is_empty() {
        if let Ok(Some(info)) = signals.read_signal() {
            if let Ok(sig) = Signal::try_from(info.ssi_signo as i32) {
                return Wake::Signal(sig);
            }
        }
    }
    if (fds.len() > 1 && !fds[1].revents().is_empty()) || (pidfd.is_none() && h.exited()) {
        return Wake::Exited;
    }
    Wake::Tick
}

/// Blocks the forwarded signals and returns a signalfd that reads them.
fn block_signals() -> Result<SignalFd> {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
        .map_err(|e| Error::io("block signals for", "the foreground run", e.into()))?;
    SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC)
        .map_err(|e| Error::io("create a signalfd for", "the foreground run", e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::unistd::Pid;

    #[test]
    fn the_exit_status_is_the_programs_or_128_plus_the_signal() {
        let p = Pid::from_raw(42);
        assert_eq!(status_code(&Ended::Status(WaitStatus::Exited(p, 7))), 7);
        assert_eq!(
            status_code(&Ended::Status(WaitStatus::Signaled(
                p,
                Signal::SIGTERM,
                false
            ))),
            143
        );
        assert_eq!(status_code(&Ended::Unknown), 0);
    }
}
