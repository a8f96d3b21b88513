//! `watchdog status`: an LSB-style report. One line on stdout, starting with a word a script
//! can match (`running:`, `not started:`, `stopped:`, `parked:`, `dead:`, `reused:`,
//! `unknown:`), and the LSB exit code: 0 running, 1 dead but the PID file exists, 3 not
//! running, 4 unknown. It takes the lock shared, so it never waits on another status and
//! always sees a consistent PID file and state.

use chrono::{DateTime, Local};

use crate::cli::StatusArgs;
use crate::clock;
use crate::error::Result;
use crate::exit::Exit;
use crate::identity::Gone;
use crate::job::{Job, Verdict, describe_gone};
use crate::lock::{self, Access};
use crate::state::Mode;

pub fn run(a: &StatusArgs) -> Result<Exit> {
    let paths = super::job_paths(&a.job);
    let result = lock::with_lock(&paths.lock, Access::Shared, a.job.wait, |_| {
        let job = Job::observe(&paths)?;
        Ok(report(&job))
    });
    match result {
        Ok((exit, line)) => {
            println!("{line}");
            Ok(exit)
        }
        Err(e) => {
            println!("unknown: {e}");
            Ok(Exit::Unknown)
        }
    }
}

fn when(since: Option<i64>) -> String {
    since
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .map(|t| {
            format!(
                " since {}",
                t.with_timezone(&Local).format("%Y-%m-%d %H:%M:%S %z")
            )
        })
        .unwrap_or_default()
}

fn report(job: &Job) -> (Exit, String) {
    let st = &job.state;
    let last = st
        .last_exit
        .as_ref()
        .map(|e| format!("; last exit: {e}"))
        .unwrap_or_default();
    match &job.verdict {
        Verdict::Running(v) => {
            let note = if st.mode == Mode::Stopped {
                " (marked stopped: a stop did not finish; check will not relaunch it if it dies)"
            } else {
                ""
            };
            (
                Exit::Ok,
                format!(
                    "running: pid {} ({}), up {}{note}",
                    v.pid,
                    job.program(Some(v.pid)),
                    clock::human(v.uptime())
                ),
            )
        }
        Verdict::Invalid(why) => (
            Exit::Unknown,
            format!(
                "unknown: {} holds no valid PID: {}",
                job.paths.pidfile.display(),
                why.0
            ),
        ),
        _ if st.mode == Mode::Stopped => (
            Exit::NotRunning,
            format!(
                "stopped: on purpose{}{last}; `watchdog start` runs it again",
                when(st.since)
            ),
        ),
        _ if st.mode == Mode::Parked => (
            Exit::Failed,
            format!(
                "parked: after a crash loop{}{last}; check will not relaunch it until `watchdog start`",
                when(st.since)
            ),
        ),
        Verdict::NoPidFile => match &st.cmd {
            None => (
                Exit::NotRunning,
                format!(
                    "not started: no PID file at {}",
                    job.paths.pidfile.display()
                ),
            ),
            Some(cmd) => (
                Exit::NotRunning,
                format!(
                    "not running: {cmd} has no PID file at {}{last}",
                    job.paths.pidfile.display()
                ),
            ),
        },
        Verdict::Gone { pid, why } => {
            let word = match why {
                Gone::Dead => "dead",
                Gone::Reused | Gone::Foreign { .. } => "reused",
            };
            (
                Exit::Failed,
                format!(
                    "{word}: {} ({}){last}",
                    describe_gone(*pid, why),
                    job.program(None)
                ),
            )
        }
    }
}
