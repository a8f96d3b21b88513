//! The PID file is read strictly: a small regular file holding decimal digits and one
//! optional newline, within pid_max, and never 0 or 1. For every bad content below,
//! `status` says unknown (4), `kill` fails (1) and signals nobody, `stop` signals nobody,
//! and `check` recovers by launching and rewriting the PID file.
//!
//! Each case runs in a PID namespace of its own (`fixtures/pidns_case.sh`): a watchdog
//! that signalled -1 as root would otherwise reach every process on the machine. Where a
//! content can be misread as a real PID, that PID is a decoy's (e.g. `+D`, `D\0`, `-D`),
//! and the decoy logs any signal it gets; PID 1 of the namespace (the script) logs any
//! signal too.

use crate::support::{Sandbox, fixture, sandbox::escape};
use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;

/// One PID file content: `pre`, then (if `decoy`) the decoy's PID, then `post`.
struct Case {
    pre: &'static [u8],
    decoy: bool,
    post: &'static [u8],
}

const fn plain(bytes: &'static [u8]) -> Case {
    Case {
        pre: bytes,
        decoy: false,
        post: b"",
    }
}

const fn around(pre: &'static [u8], post: &'static [u8]) -> Case {
    Case {
        pre,
        decoy: true,
        post,
    }
}

fn cases() -> Vec<Case> {
    vec![
        plain(b""),
        plain(b"\n"),
        plain(b"abc"),
        plain(b"-1"),
        plain(b"-1\n"),
        plain(b"0"),
        plain(b"0\n"),
        plain(b"1"),
        plain(b"1\n"),
        plain(b"0x10"),
        plain(b"99999999999"),
        plain(b"4294967295\n"), // u32::MAX: -1 once cast to i32
        plain(b"2147483648\n"), // i32::MAX + 1
        around(b"+", b""),      // "+2" with the decoy's PID
        around(b"", b"abc"),    // "12abc"
        around(b"", b"\n1\n"),  // two lines
        around(b"", b"\0"),     // NUL byte
        around(b" ", b""),      // leading space
        around(b"", b" \n"),    // trailing space
        around(b"", b"\r\n"),   // CRLF
        around(b"", b"\n\n"),   // two newlines
        around(b"-", b"\n"),    // the decoy's group
        around(b"", b".0\n"),
    ]
}

impl Case {
    fn describe(&self) -> String {
        format!(
            "{}{}{}",
            escape(self.pre),
            if self.decoy { "<DECOY>" } else { "" },
            escape(self.post)
        )
    }
}

/// The outcome of one case: the script's key=value report and the files it left.
struct Outcome {
    sb: Sandbox,
    report: HashMap<String, String>,
    script_run: String,
}

impl Outcome {
    fn get(&self, key: &str) -> &str {
        self.report.get(key).map_or("", String::as_str)
    }

    fn wd_rc(&self) -> Option<i32> {
        self.sb.read("wd.rc").trim().parse().ok()
    }

    fn problems_common(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.get("decoy_sync") != "ok" || self.get("decoy_state") != "S" {
            p.push(format!(
                "the decoy was signalled (sync {:?}, state {:?})",
                self.get("decoy_sync"),
                self.get("decoy_state")
            ));
        }
        let got: Vec<String> = self
            .sb
            .read("decoy.signals")
            .lines()
            .filter(|l| !matches!(*l, "ready" | "SYNC"))
            .map(str::to_string)
            .collect();
        if !got.is_empty() {
            p.push(format!("the decoy received {got:?}"));
        }
        let init = self.sb.read("init.signals");
        if !init.is_empty() {
            p.push(format!("PID 1 of the namespace received {init:?}"));
        }
        let err = self.sb.read("wd.stderr");
        if err.contains("panicked") || self.wd_rc() == Some(101) {
            p.push("the watchdog panicked".to_string());
        }
        if self.wd_rc().is_none_or(|rc| rc > 128) {
            p.push(format!(
                "the watchdog died or did not run (rc {:?})",
                self.sb.read("wd.rc").trim()
            ));
        }
        p
    }

    fn details(&self) -> String {
        format!(
            "  watchdog rc: {}\n  watchdog stdout: {}\n  watchdog stderr: {}\n  script: {}\n{}",
            self.sb.read("wd.rc").trim(),
            self.sb.read("wd.stdout").trim_end(),
            self.sb.read("wd.stderr").trim_end(),
            self.script_run,
            self.sb.report()
        )
    }
}

/// Runs `watchdog ARGS...` in a PID namespace against the case's PID file.
fn run_case(name: &str, case: &Case, wd_args: &[OsString]) -> Outcome {
    let sb = Sandbox::new(name);
    sb.write("pidfile.pre", case.pre);
    if case.decoy {
        sb.write("pidfile.post", case.post);
    } else {
        sb.write("pidfile.nodecoy", "");
    }
    // `@DIR@` in the arguments stands for the case's directory.
    let wd_args: Vec<OsString> = wd_args
        .iter()
        .map(|a| {
            if a == "@DIR@" {
                sb.root().into()
            } else {
                a.clone()
            }
        })
        .collect();
    let (command, rest) = wd_args.split_first().expect("a command");
    let run = sb
        .wd([command])
        .arg("--pidfile")
        .arg(sb.pidfile())
        .args(rest)
        .wrap([
            OsString::from("/usr/bin/unshare"),
            "--pid".into(),
            "--fork".into(),
            "--mount-proc".into(),
            "--kill-child".into(),
            "/bin/sh".into(),
            fixture("pidns_case.sh").into(),
            sb.root().into(),
        ])
        .run();
    run.expect_code(0);
    let report = run
        .out()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let script_run = format!("{:?} after {:?}", run.status, run.elapsed);
    Outcome {
        sb,
        report,
        script_run,
    }
}

fn os(items: &[&str]) -> Vec<OsString> {
    items.iter().map(OsString::from).collect()
}

/// Runs `command` over every case, four at a time; `check(outcome)` lists what is wrong
/// with one.
fn table(command: &str, wd_args: Vec<OsString>, check: impl Fn(&Outcome) -> Vec<String> + Sync) {
    let cases = cases();
    let failures = std::sync::Mutex::new(Vec::new());
    for (n, chunk) in cases.chunks(4).enumerate() {
        std::thread::scope(|s| {
            for (k, case) in chunk.iter().enumerate() {
                let (wd_args, check, failures) = (&wd_args, &check, &failures);
                s.spawn(move || {
                    let out = run_case(&format!("strict_{command}_{}", n * 4 + k), case, wd_args);
                    let mut problems = out.problems_common();
                    problems.extend(check(&out));
                    if !problems.is_empty() {
                        failures.lock().unwrap().push(format!(
                            "PID file {:?}: {}\n{}",
                            case.describe(),
                            problems.join("; "),
                            out.details()
                        ));
                    }
                });
            }
        });
    }
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "`{command}` mishandled {} of {} bad PID files:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn status_reports_unknown_for_every_bad_pidfile() {
    table("status", os(&["status"]), |o| {
        let mut p = Vec::new();
        if o.wd_rc() != Some(4) {
            p.push("status must exit 4".to_string());
        }
        if !o.sb.read("wd.stdout").starts_with("unknown:") {
            p.push("status must print `unknown:`".to_string());
        }
        p
    });
}

#[test]
fn kill_fails_and_signals_nobody_for_every_bad_pidfile() {
    table("kill", os(&["kill", "USR1"]), |o| {
        if o.wd_rc() == Some(1) {
            Vec::new()
        } else {
            vec!["kill must exit 1".to_string()]
        }
    });
}

#[test]
fn stop_signals_nobody_for_every_bad_pidfile() {
    table("stop", os(&["stop", "--ladder", "INT/0.2/KILL/0.5"]), |o| {
        if matches!(o.wd_rc(), Some(0) | Some(1)) {
            Vec::new()
        } else {
            vec!["stop must exit 0 (not running) or 1 (refused)".to_string()]
        }
    });
}

#[test]
fn check_relaunches_and_rewrites_every_bad_pidfile() {
    let tag = "strict-check-program";
    let sleeper = fixture("sleeper.sh");
    let wd_args = os(&[
        "check",
        "--grace",
        "300ms",
        "--",
        sleeper.to_str().unwrap(),
        "@DIR@",
        tag,
    ]);
    table("check", wd_args, |o| {
        let mut p = Vec::new();
        if o.wd_rc() != Some(0) {
            p.push("check must exit 0 after relaunching".to_string());
        }
        let after = o.get("after");
        let bytes = fs::read(o.sb.pidfile()).unwrap_or_default();
        if after.is_empty() || bytes != format!("{after}\n").as_bytes() {
            p.push(format!(
                "the PID file must be rewritten as `PID\\n`, it holds {:?}",
                escape(&bytes)
            ));
        } else if after == o.get("decoy") {
            p.push("the PID file names the decoy".to_string());
        } else if !matches!(o.get("after_state"), "S" | "R") {
            p.push(format!(
                "the new PID {after} is not a live process ({})",
                o.get("after_state")
            ));
        } else if !o.get("after_cmdline").contains(tag) {
            p.push(format!(
                "the new PID {after} is not the program: {}",
                o.get("after_cmdline")
            ));
        }
        p
    });
}

/// The harness's control: a valid PID file naming the decoy (which started before the file
/// was written, so it is adopted) does get the signal. Were this to fail, the table above
/// could not see a signal either.
#[test]
fn valid_pidfile_control_reaches_the_decoy() {
    let case = around(b"", b"\n");
    let o = run_case("strict_control", &case, &os(&["kill", "USR1"]));
    let got = o.sb.read("decoy.signals");
    assert!(
        o.wd_rc() == Some(0) && got.lines().any(|l| l == "USR1"),
        "kill USR1 with a valid PID file naming an adoptable process must deliver it\n{}",
        o.details()
    );
}
