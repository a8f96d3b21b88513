//! Waiting for readiness after a launch (`--ready-when-log`, `--ready-when-cmd`), for
//! `check`, `start`, `restart` and a watch. The probes themselves are in `crate::readiness`.
//!
//! The wait holds no lock, so status, stop, kill and other checks stay instant while a slow
//! program starts. The order is:
//!
//! 1. Under the lock (the caller's): launch, record, wait out `--grace`. The program is then
//!    recorded like any other: a check that comes meanwhile finds it running.
//! 2. Without the lock: poll the probe every `readiness::POLL`, and between polls watch the
//!    program's pidfd and read the state file (atomically replaced, so readable without the
//!    lock). The wait ends at readiness, at the program's death, at `--ready-timeout`, or as
//!    soon as the state file says the job is no longer this launch.
//! 3. Under the lock again, only to record the outcome, and only if the job is still this
//!    launch (mode `running`, same recorded identity): "ready" goes to the event log; a
//!    program that is not ready in time is stopped with the default ladder and forgotten, so
//!    that the next check launches it again (and the crash-loop limit counts it); a death is
//!    recorded with its status, and `--stay-down-on` applies.
//!
//! A `stop` during the wait wins: it marks the job stopped before it signals, so the waiter,
//! woken by the death or by its next look at the state file, finds the mark and ends without
//! touching anything ("superseded"). The same holds for a `restart` or any run that replaced
//! the recorded program. A watchdog killed during the wait leaves a recorded, running
//! program, exactly as after a launch without readiness; readiness is then not re-checked.

use std::time::{Duration, Instant};

use nix::sys::wait::waitpid;

use crate::cli::LaunchArgs;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::files::{self, Durability};
use crate::job::{self, Job, Verdict};
use crate::launch::{self, Ended, Launched};
use crate::lock::{self, Access};
use crate::paths::Paths;
use crate::pidfd::Handle;
use crate::readiness::{self, Poll, Probe};
use crate::state::{self, Identity, Mode};
use crate::{duration, eventlog, ladder};

/// A launch whose readiness is still to be waited for, once the lock is released.
#[derive(Debug)]
pub struct Pending {
    pub launched: Launched,
    /// The identity the launch recorded: the wait is about this program only.
    pub expect: Identity,
    /// The launch's own line ("relaunched as pid N"), printed with the outcome.
    pub message: String,
}

/// Turns a launch that survived its grace period into a `Pending` wait when readiness is
/// configured (call under the lock, right after `watch_grace`).
pub fn pending(a: &LaunchArgs, job: &Job, launched: Launched, message: String) -> Option<Pending> {
    if !readiness::configured(&a.supervision) {
        return None;
    }
    let expect = job.state.identity.clone()?;
    Some(Pending {
        launched,
        expect,
        message,
    })
}

/// How a wait ended, when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waited {
    /// Ready: "ready after 1.2s (its output said "listening")".
    Ready(String),
    /// Another command (a stop, a restart) took over the job meanwhile; the words say which.
    Superseded(String),
}

/// `check`: waits, then prints the launch line with the outcome.
///
/// # Errors
/// `NotReady`, `StayDown`, and errors re-taking the lock.
pub fn after_check(a: &LaunchArgs, paths: &Paths, p: Pending) -> Result<Exit> {
    match wait(a, paths, &p.launched, &p.expect, "check")? {
        Waited::Ready(how) => eprintln!("watchdog: {}; {how}", p.message),
        Waited::Superseded(why) => eprintln!("watchdog: {}; {why}", p.message),
    }
    Ok(Exit::Ok)
}

/// `start` and `restart`: waits, then prints the launch line with the outcome. A start that
/// another command overtook fails (exit 1): the user asked for a running, ready program.
///
/// # Errors
/// `NotReady`, `StayDown`, and errors re-taking the lock.
pub fn after_start(
    a: &LaunchArgs,
    paths: &Paths,
    p: Pending,
    command: &'static str,
) -> Result<Exit> {
    match wait(a, paths, &p.launched, &p.expect, command)? {
        Waited::Ready(how) => {
            println!("watchdog: {}; {how}", p.message);
            Ok(Exit::Ok)
        }
        Waited::Superseded(why) => {
            eprintln!("watchdog: {}; {why}", p.message);
            Ok(Exit::Failed)
        }
    }
}

/// A watch: waits for readiness of a launch it just made. `Some` to go on watching the
/// program; `None` when the program is gone or was stopped (the outcome was printed and
/// recorded), so the watch looks again under the lock.
pub fn in_watch(
    a: &LaunchArgs,
    paths: &Paths,
    l: Launched,
    expect: Option<Identity>,
) -> Option<Launched> {
    let Some(expect) = expect.filter(|_| readiness::configured(&a.supervision)) else {
        return Some(l);
    };
    match wait(a, paths, &l, &expect, "check") {
        Ok(Waited::Ready(_)) => Some(l),
        Ok(Waited::Superseded(_)) => None,
        Err(e) => {
            eprintln!("watchdog: {e}");
            None
        }
    }
}

/// Step 2 and 3 of the module doc.
///
/// # Errors
/// `NotReady` (not ready in time: stopped; or died meanwhile), `StayDown`, and whatever
/// re-taking the lock or recording the outcome fails with.
pub fn wait(
    a: &LaunchArgs,
    paths: &Paths,
    l: &Launched,
    expect: &Identity,
    command: &'static str,
) -> Result<Waited> {
    let spec = super::spec_of(a);
    let Some(mut probe) = Probe::new(&a.supervision, &spec, paths, l) else {
        return Ok(Waited::Ready(String::new()));
    };
    let handle = Handle::open(l.pid).ok();
    loop {
        if let Poll::Ready(what) = probe.poll() {
            let after = seconds(l.at.elapsed());
            return record(a, paths, expect, command, |_job| {
                log::info!("pid {} is ready, {after} after launch: {what}", l.pid);
                Ok(Waited::Ready(format!(
                    "ready {after} after launch ({what})"
                )))
            });
        }
        if let Some(why) = superseded(paths, expect) {
            probe.stop();
            return Ok(Waited::Superseded(why));
        }
        if handle.as_ref().is_none_or(Handle::exited) {
            probe.stop();
            return died(a, paths, l, expect, command);
        }
        if probe.timed_out() {
            probe.stop();
            return not_ready(a, paths, l, expect, command, &probe);
        }
        let left = probe.timeout.saturating_sub(probe.started.elapsed());
        let slice = readiness::POLL.min(left).max(Duration::from_millis(1));
        match &handle {
            Some(h) => {
                h.wait_exit(slice);
            }
            None => std::thread::sleep(slice),
        }
    }
}

/// Why the job is no longer this launch, read from the state file without the lock.
fn superseded(paths: &Paths, expect: &Identity) -> Option<String> {
    let st = state::read(&paths.state, &expect.boot_id).ok().flatten()?;
    if st.mode == Mode::Stopped {
        return Some(
            "a stop came while it was starting, so it stays stopped (the readiness wait ended)"
                .into(),
        );
    }
    if st.mode != Mode::Running || st.identity.as_ref() != Some(expect) {
        return Some("another watchdog run took over the job while it was starting".into());
    }
    None
}

/// Re-takes the lock and runs `f` if the job is still this launch; otherwise the outcome is
/// `Superseded` and nothing is recorded.
fn record(
    a: &LaunchArgs,
    paths: &Paths,
    expect: &Identity,
    command: &'static str,
    f: impl FnOnce(&mut Job) -> Result<Waited>,
) -> Result<Waited> {
    lock::with_lock(&paths.lock, Access::Exclusive, a.job.wait, |held| {
        let mut job = Job::observe(paths)?;
        if let Some(why) = superseded(paths, expect) {
            return Ok(Waited::Superseded(why));
        }
        held.still_held()?;
        eventlog::open(&paths.log, command);
        f(&mut job)
    })
}

/// The program died before it was ready: record how, apply `--stay-down-on`.
fn died(
    a: &LaunchArgs,
    paths: &Paths,
    l: &Launched,
    expect: &Identity,
    command: &'static str,
) -> Result<Waited> {
    let end = if l.child {
        waitpid(l.pid.nix(), None)
            .map(Ended::Status)
            .unwrap_or(Ended::Unknown)
    } else {
        Ended::Unknown
    };
    let how = launch::describe_end(&end);
    let spec = super::spec_of(a);
    let program = spec.display();
    let tail = launch::stderr_tail(l, &paths.stderr);
    let waited = seconds(l.at.elapsed());
    record(a, paths, expect, command, |job| {
        if let Ended::Status(s) = end {
            if spec.stays_down(&s) {
                super::mark_stays_down(job, &program, l.pid, &how)?;
                return Err(Error::StayDown {
                    program: program.clone(),
                    pid: l.pid,
                    how: how.clone(),
                    tail: tail.clone(),
                });
            }
        }
        job.state.last_exit = Some(format!("{how} before it became ready"));
        job.save(Durability::Atomic)?;
        log::error!(
            "{program} (pid {}) {how} {waited} after launch, before it became ready",
            l.pid
        );
        Err(Error::NotReady {
            program: program.clone(),
            pid: l.pid,
            what: format!("{how} {waited} after launch, before it became ready"),
            tail: tail.clone(),
        })
    })
}

/// `--ready-timeout` passed: stop the program (it is not what the user asked for, and a
/// recorded, never-ready program would look healthy to every later check), forget it, and
/// fail, so that the next check launches it again.
fn not_ready(
    a: &LaunchArgs,
    paths: &Paths,
    l: &Launched,
    expect: &Identity,
    command: &'static str,
    probe: &Probe,
) -> Result<Waited> {
    let spec = super::spec_of(a);
    let program = spec.display();
    let within = duration::show(a.supervision.ready_timeout);
    let missing = probe.missing();
    record(a, paths, expect, command, |job| {
        let mut how = "it exited meanwhile".to_string();
        if let Verdict::Running(v) = &job.verdict {
            if let Some(h) = job::hold(v) {
                let sid = v.leads_session().then_some(v.pid.raw());
                let ladder = ladder::parse(ladder::DEFAULT).expect("the default ladder parses");
                // --stop-command first, if given (`stop_command.rs`).
                let command = super::stop_command::of_launch(a);
                how = match super::stop_command::stop_program(
                    &h,
                    sid,
                    &ladder,
                    command.as_ref(),
                    &program,
                )? {
                    Some(by) => format!("stopped it with {by}"),
                    None => {
                        // It still runs: keep it recorded (identity, PID file), or the next
                        // check would start a second copy beside it. Two copies would be
                        // worse than one stuck one, as for `stop` and a health restart.
                        let e = super::stop::survived(&h, v.pid, program.clone(), &ladder);
                        log::error!("{program} was not ready within {within} ({missing}); {e}");
                        return Err(e);
                    }
                };
            }
        }
        if l.child {
            let _ = waitpid(l.pid.nix(), Some(nix::sys::wait::WaitPidFlag::WNOHANG));
        }
        job.state.identity = None;
        job.state.last_exit = Some(format!("not ready within {within}; {how}"));
        job.save(Durability::Atomic)?;
        files::remove(&paths.pidfile, "PID file")?;
        let what = format!(
            "was not ready within {within} ({missing}); {how}, so the next check launches it again"
        );
        log::error!("{program} (pid {}) {what}", l.pid);
        Err(Error::NotReady {
            program: program.clone(),
            pid: l.pid,
            what,
            tail: tail_of_both(l, paths),
        })
    })
}

/// The tail of stderr, and of stdout when it is another file (a program often says why it
/// is not ready on stdout).
fn tail_of_both(l: &Launched, paths: &Paths) -> String {
    let mut t = launch::stderr_tail(l, &paths.stderr);
    if paths.stdout != paths.stderr {
        let out = Launched {
            stderr_offset: l.stdout_offset,
            at: Instant::now(),
            ..*l
        };
        t.push_str(&launch::stderr_tail(&out, &paths.stdout));
    }
    t
}

/// "1.2s": how long a wait took, to a tenth of a second.
fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}
