//! `watchdog status`: an LSB-style report. One line on stdout, starting with a word a script
//! can match (`running:`, `not started:`, `not running:`, `stopped:`, `parked:`, `dead:`,
//! `reused:`, `unknown:`), and the LSB exit code: 0 running, 1 dead but the PID file exists,
//! 3 not running, 4 unknown. It takes the lock shared, so it never waits on another status and
//! always sees a consistent PID file and state.
//!
//! The line also gives, when known: the PID, the uptime, the command line, the launches in
//! the current crash-loop window (the `--max-launches`/`--within` of the last launch are in
//! the state file, since `status` takes no launch options), and how the program last ended.
//!
//! `--json` prints the same facts as one JSON object, [`Report`], whose fields are the
//! documented schema (`docs/ISSUE7.md`, the README); the exit code is the same. Version 1
//! of the schema only ever gains fields.

use chrono::{DateTime, Local, SecondsFormat};
use serde::Serialize;

use crate::cli::StatusArgs;
use crate::clock;
use crate::error::Result;
use crate::exit::Exit;
use crate::identity::{self, Gone};
use crate::job::{Job, Verdict, describe_gone};
use crate::lock::{self, Access};
use crate::state::{Limit, Mode, State};

/// The version of the JSON schema.
pub const SCHEMA: u32 = 1;

pub fn run(a: &StatusArgs) -> Result<Exit> {
    let paths = super::job_paths(&a.job);
    let result = lock::with_lock(&paths.lock, Access::Shared, a.job.wait, |_| {
        let job = Job::observe(&paths)?;
        Ok(report(&job))
    });
    let (exit, rep) = match result {
        Ok(r) => r,
        Err(e) => {
            let mut rep = Report::empty(&paths.pidfile.to_string_lossy());
            rep.state = "unknown";
            rep.exit_code = Exit::Unknown.code();
            rep.message = format!("unknown: {e}");
            rep.error = Some(e.to_string());
            (Exit::Unknown, rep)
        }
    };
    let mut out = if a.json {
        serde_json::to_string(&rep).unwrap_or_else(|e| {
            // Serialising plain strings and numbers cannot fail; say so if it ever does.
            format!(
                "{{\"schema\":{SCHEMA},\"state\":\"unknown\",\"error\":{:?}}}",
                e.to_string()
            )
        })
    } else {
        rep.message.clone()
    };
    out.push('\n');
    crate::output::print_bytes(out.as_bytes())?;
    Ok(exit)
}

/// `status --json`: one object. Absent facts are `null`, never left out.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    /// Schema version: 1.
    pub schema: u32,
    /// `running`, `not_started`, `not_running`, `stopped`, `parked`, `dead`, `reused` or
    /// `unknown`: the first word of the human line, in snake case.
    pub state: &'static str,
    /// The exit code of this status run (0, 1, 3 or 4).
    pub exit_code: u8,
    /// The PID file, as given.
    pub pidfile: String,
    /// The running program's PID; for `dead` and `reused`, the PID the PID file names.
    pub pid: Option<i32>,
    /// The program's command line, as last launched (or as the process shows it).
    pub program: Option<String>,
    /// What the job is set to: `running` (check relaunches it), `stopped`, `parked`.
    pub mode: Option<&'static str>,
    /// When `mode` was last set (RFC 3339).
    pub mode_since: Option<String>,
    /// When the running program started (RFC 3339).
    pub started_at: Option<String>,
    /// How long the running program has run, in seconds.
    pub uptime_seconds: Option<u64>,
    /// Launches in the current crash-loop window.
    pub launches: Option<Launches>,
    /// How the program last ended, when the watchdog saw it.
    pub last_exit: Option<LastExit>,
    /// The PID of the `check --watch` process watching the job, if one is alive.
    pub watcher_pid: Option<i32>,
    /// Why the state is unknown (`unknown` only).
    pub error: Option<String>,
    /// The human line, exactly as `status` prints it.
    pub message: String,
}

/// The crash-loop window as `check` counts it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Launches {
    /// Launches within the last `window_seconds` (on this boot).
    pub count: usize,
    /// `--max-launches`: at this count, check parks the job.
    pub max: u32,
    /// `--within`, in seconds.
    pub window_seconds: f64,
    /// False when the state file predates the recording of the limit: `max` and
    /// `window_seconds` are then the defaults.
    pub limit_recorded: bool,
}

/// How the program last ended.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LastExit {
    /// In words: "exited with status 3 within the grace period", "was killed by SIGKILL",
    /// "stopped by watchdog with SIGTERM", "cannot execute ...".
    pub description: String,
    /// The exit status, when it exited.
    pub exit_status: Option<i32>,
    /// The signal's name (`SIGKILL`), when a signal ended it.
    pub signal: Option<String>,
}

impl LastExit {
    /// Reads the facts back out of the words `launch::describe_status` and `stop` write.
    pub fn from_description(d: &str) -> LastExit {
        let number_after = |prefix: &str| {
            d.strip_prefix(prefix).and_then(|rest| {
                let digits: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '-')
                    .collect();
                digits.parse::<i32>().ok()
            })
        };
        // "SIGKILL", or "signal 9" as some messages put it.
        let signal_after = |prefix: &str| {
            d.strip_prefix(prefix).and_then(|rest| {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect();
                if name.starts_with("SIG") {
                    return Some(name);
                }
                let n: String = rest
                    .strip_prefix("signal ")?
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                nix::sys::signal::Signal::try_from(n.parse::<i32>().ok()?)
                    .ok()
                    .map(|s| s.as_str().to_string())
            })
        };
        LastExit {
            description: d.to_string(),
            exit_status: number_after("exited with status "),
            signal: signal_after("was killed by ")
                .or_else(|| signal_after("stopped by watchdog with ")),
        }
    }
}

impl Report {
    fn empty(pidfile: &str) -> Report {
        Report {
            schema: SCHEMA,
            state: "unknown",
            exit_code: Exit::Unknown.code(),
            pidfile: pidfile.to_string(),
            pid: None,
            program: None,
            mode: None,
            mode_since: None,
            started_at: None,
            uptime_seconds: None,
            launches: None,
            last_exit: None,
            watcher_pid: None,
            error: None,
            message: String::new(),
        }
    }
}

fn rfc3339(t: DateTime<Local>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
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

fn mode_word(m: Mode) -> &'static str {
    match m {
        Mode::Running => "running",
        Mode::Stopped => "stopped",
        Mode::Parked => "parked",
    }
}

/// The `--max-launches`/`--within` defaults, for state files that predate the `limit` line.
fn default_limit() -> Limit {
    use clap::Parser;
    let parsed =
        crate::cli::Cli::try_parse_from(["watchdog", "check", "--pidfile", "p", "--", "x"]);
    match parsed.map(|c| c.command) {
        Ok(crate::cli::Command::Check(c)) => Limit {
            max_launches: c.launch.max_launches,
            within: c.launch.within.as_secs_f64(),
        },
        _ => Limit {
            max_launches: 5,
            within: 3600.0,
        },
    }
}

fn launches(st: &State) -> Launches {
    let (limit, recorded) = match st.limit {
        Some(l) => (l, true),
        None => (default_limit(), false),
    };
    Launches {
        count: st.launches_within(clock::boot_now(), limit.within),
        max: limit.max_launches,
        window_seconds: limit.within,
        limit_recorded: recorded,
    }
}

/// "; 2 of at most 5 launches in the last 1h"
fn launches_note(l: &Launches) -> String {
    let window = crate::duration::show(std::time::Duration::from_secs_f64(l.window_seconds));
    format!(
        "; {} of at most {} launches in the last {window}",
        l.count, l.max
    )
}

/// The live `check --watch` process of the job, if its recorded identity still holds.
fn live_watcher(st: &State) -> Option<i32> {
    let w = st.watcher.as_ref()?;
    let now = identity::read_stat(w.pid).ok()??;
    (now.start_ticks == w.start_ticks && !now.is_dead()).then_some(w.pid.raw())
}

/// The report on a job observed under the lock, and the exit code it means.
fn report(job: &Job) -> (Exit, Report) {
    let st = &job.state;
    let mut r = Report::empty(&job.paths.pidfile.to_string_lossy());
    r.program = st.cmd.clone();
    r.mode = Some(mode_word(st.mode));
    r.mode_since = st
        .since
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .map(|t| rfc3339(t.with_timezone(&Local)));
    r.last_exit = st.last_exit.as_deref().map(LastExit::from_description);
    r.watcher_pid = live_watcher(st);
    let l = launches(st);
    let counted = launches_note(&l);
    r.launches = Some(l);
    let last = st
        .last_exit
        .as_ref()
        .map(|e| format!("; last exit: {e}"))
        .unwrap_or_default();
    let named = |cmd: &Option<String>| cmd.as_ref().map(|c| format!("{c}, ")).unwrap_or_default();

    let (exit, state, message) = match &job.verdict {
        Verdict::Running(v) => {
            let note = match (&job.pidfile_stale, st.mode) {
                (Some(said), _) => format!(
                    " (the PID file does not name it: {said}; the next check rewrites it)"
                ),
                (None, Mode::Stopped) => {
                    " (marked stopped: a stop did not finish; check will not relaunch it if it dies)"
                        .to_string()
                }
                _ => String::new(),
            };
            let program = job.program(Some(v.pid));
            let up = v.uptime();
            r.pid = Some(v.pid.raw());
            r.program = Some(program.clone());
            r.uptime_seconds = Some(up.as_secs());
            let started = clock::boot_wall_time()
                + std::time::Duration::from_secs_f64(clock::ticks_to_boot_secs(v.stat.start_ticks));
            r.started_at = Some(rfc3339(DateTime::<Local>::from(started)));
            (
                Exit::Ok,
                "running",
                format!(
                    "running: pid {} ({program}), up {}{note}{counted}{last}",
                    v.pid,
                    clock::human(up)
                ),
            )
        }
        Verdict::Invalid(why) => (
            Exit::Unknown,
            "unknown",
            format!(
                "unknown: {} holds no valid PID: {}; remove it if no program runs, or check \
                 what wrote it",
                job.paths.pidfile.display(),
                why.0
            ),
        ),
        _ if st.mode == Mode::Stopped => (
            Exit::NotRunning,
            "stopped",
            format!(
                "stopped: {}on purpose{}{last}; `watchdog start` runs it again",
                named(&st.cmd),
                when(st.since)
            ),
        ),
        _ if st.mode == Mode::Parked => (
            Exit::Failed,
            "parked",
            format!(
                "parked: {}after a crash loop{}{counted}{last}; check will not relaunch it \
                 until `watchdog start`",
                named(&st.cmd),
                when(st.since)
            ),
        ),
        Verdict::NoPidFile => match &st.cmd {
            None => (
                Exit::NotRunning,
                "not_started",
                format!(
                    "not started: no PID file at {}",
                    job.paths.pidfile.display()
                ),
            ),
            Some(cmd) => (
                Exit::NotRunning,
                "not_running",
                format!(
                    "not running: {cmd} has no PID file at {}{counted}{last}",
                    job.paths.pidfile.display()
                ),
            ),
        },
        Verdict::Gone { pid, why } => {
            let word = match why {
                Gone::Dead => "dead",
                Gone::Reused | Gone::Foreign { .. } => "reused",
            };
            r.pid = Some(pid.raw());
            (
                Exit::Failed,
                word,
                format!(
                    "{word}: {} ({}){counted}{last}",
                    describe_gone(*pid, why),
                    job.program(None)
                ),
            )
        }
    };
    r.state = state;
    r.exit_code = exit.code();
    r.message = message;
    (exit, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_exit_facts_are_read_from_the_words() {
        let e = LastExit::from_description("exited with status 3 within the grace period");
        assert_eq!((e.exit_status, e.signal), (Some(3), None));
        let e = LastExit::from_description("was killed by SIGKILL (core dumped)");
        assert_eq!(
            (e.exit_status, e.signal.as_deref()),
            (None, Some("SIGKILL"))
        );
        let e = LastExit::from_description("was killed by signal 9");
        assert_eq!(e.signal.as_deref(), Some("SIGKILL"));
        let e = LastExit::from_description("stopped by watchdog with SIGTERM");
        assert_eq!(e.signal.as_deref(), Some("SIGTERM"));
        let e = LastExit::from_description("cannot execute /x: Permission denied");
        assert_eq!((e.exit_status, e.signal), (None, None));
    }

    #[test]
    fn every_field_is_present_even_when_unknown() {
        let v = serde_json::to_value(Report::empty("/x/app.pid")).unwrap();
        let obj = v.as_object().unwrap();
        for key in [
            "schema",
            "state",
            "exit_code",
            "pidfile",
            "pid",
            "program",
            "mode",
            "mode_since",
            "started_at",
            "uptime_seconds",
            "launches",
            "last_exit",
            "watcher_pid",
            "error",
            "message",
        ] {
            assert!(obj.contains_key(key), "{key}");
        }
        assert_eq!(obj.len(), 15);
    }

    #[test]
    fn the_default_limit_is_the_cli_default() {
        let l = default_limit();
        assert_eq!((l.max_launches, l.within), (5, 3600.0));
    }
}
