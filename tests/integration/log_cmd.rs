//! `watchdog log --pidfile P [-n N]`: the last N events of the event log, read from the
//! end in bounded chunks, so a huge log costs no more than a small one.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use crate::support::Sandbox;

#[test]
fn log_shows_the_last_events() {
    let sb = Sandbox::new("log_last");
    let program = sb.sleeper("a");
    sb.check(&program).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    sb.kill_program(pid);
    sb.check(&program).run().expect_code(0);
    sb.expect_recorded("relaunched program");

    let log = sb.read("app.watchdog.log");
    let all: Vec<&str> = log.lines().collect();
    assert!(all.len() >= 3, "the log has a few events:\n{log}");

    let run = sb.cmd("log").run();
    run.expect_code(0);
    let want: Vec<&str> = all[all.len().saturating_sub(10)..].to_vec();
    assert_eq!(run.out().lines().collect::<Vec<_>>(), want, "{run}");

    let run = sb.cmd("log").args(["-n", "1"]).run();
    run.expect_code(0);
    assert_eq!(run.out(), format!("{}\n", all[all.len() - 1]), "{run}");

    let run = sb.cmd("log").args(["-n", "0"]).run();
    run.expect_code(0).expect_silent();
}

#[test]
fn a_huge_log_is_not_read_whole() {
    let sb = Sandbox::new("log_huge");
    let path = sb.path("app.watchdog.log");
    let f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    // A terabyte, sparse: reading it whole would take hours.
    f.set_len(1 << 40).unwrap();
    drop(f);
    let mut f = OpenOptions::new().append(true).open(&path).unwrap();
    for i in 0..30 {
        writeln!(f, "event {i}").unwrap();
    }
    drop(f);
    let run = sb
        .cmd("log")
        .args(["-n", "3"])
        .timeout(Duration::from_secs(20))
        .run();
    run.expect_code(0);
    assert_eq!(run.out(), "event 27\nevent 28\nevent 29\n", "{run}");
    run.ensure(
        run.elapsed < Duration::from_secs(5),
        "the last lines of a 1 TiB log come at once",
    );
    fs::remove_file(&path).unwrap();
}

#[test]
fn a_missing_log_is_an_error_naming_it() {
    let sb = Sandbox::new("log_missing");
    let run = sb.cmd("log").run();
    run.expect_code(1)
        .expect_error(&["no event log at", "app.watchdog.log"]);
}

#[test]
fn an_explicit_log_path_is_used() {
    let sb = Sandbox::new("log_explicit");
    sb.write("elsewhere.log", "one\ntwo\nthree");
    let run = sb
        .cmd("log")
        .args(["--log", "elsewhere.log", "-n", "2"])
        .run();
    run.expect_code(0);
    assert_eq!(run.out(), "two\nthree\n", "{run}");
}

#[test]
fn a_reader_that_goes_away_is_no_error() {
    let sb = Sandbox::new("log_pipe");
    let mut text = String::new();
    for i in 0..200_000 {
        text.push_str(&format!("event number {i}\n"));
    }
    sb.write("app.watchdog.log", text);
    let script = format!(
        "set -o pipefail; {} log --pidfile {} -n 200000 | head -n 1",
        crate::support::watchdog_bin().display(),
        sb.pidfile().display()
    );
    let out = sb
        .command("/bin/bash")
        .args(["-c", &script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "status {:?}, stderr {err}",
        out.status
    );
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "event number 0\n",
        "stderr: {err}; script: {script}"
    );
}
