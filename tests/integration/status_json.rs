//! `status --json`: one JSON object (parsed here, never grepped) with the documented
//! fields, the same facts as the human line, and the same LSB exit codes. Also the human
//! line's additions: launches in the crash-loop window and the last exit.

use serde_json::Value;

use std::time::Duration;

use crate::support::procfs;
use crate::support::{QUICK_LADDER, Run, Sandbox};

/// Every field of schema 1; absent facts are null, never missing.
const FIELDS: &[&str] = &[
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
];

#[track_caller]
fn json(run: &Run, code: i32) -> Value {
    run.expect_code(code);
    let out = run.out();
    run.ensure(out.lines().count() == 1, "one line of JSON");
    let v: Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| run.fail(&format!("stdout is not JSON: {e}")));
    let obj = v
        .as_object()
        .unwrap_or_else(|| run.fail("the JSON is not an object"));
    for f in FIELDS {
        run.ensure(obj.contains_key(*f), &format!("the object has {f:?}"));
    }
    run.ensure(v["schema"] == 1, "schema 1");
    run.ensure(v["exit_code"] == code, "exit_code is the exit status");
    v
}

fn status_json(sb: &Sandbox) -> Run {
    sb.status().arg("--json").run()
}

#[test]
fn a_running_program_in_json() {
    let sb = Sandbox::new("json_running");
    let program = sb.sleeper("j");
    sb.check(&program)
        .args(["--max-launches", "3", "--within", "10m"])
        .run()
        .expect_code(0);
    let pid = sb.expect_recorded("program");
    let human = sb.status().run();
    let v = json(&status_json(&sb), 0);
    assert_eq!(v["state"], "running", "{v}");
    assert_eq!(v["pid"], pid, "{v}");
    assert_eq!(v["mode"], "running");
    assert_eq!(v["pidfile"], sb.pidfile().to_str().unwrap());
    assert!(v["program"].as_str().unwrap().contains("sleeper.sh"), "{v}");
    assert!(v["uptime_seconds"].is_u64(), "{v}");
    assert!(v["started_at"].is_string(), "{v}");
    assert_eq!(v["launches"]["count"], 1, "{v}");
    assert_eq!(v["launches"]["max"], 3, "{v}");
    assert_eq!(v["launches"]["window_seconds"], 600.0, "{v}");
    assert_eq!(v["launches"]["limit_recorded"], true, "{v}");
    assert!(v["error"].is_null() && v["last_exit"].is_null(), "{v}");
    // The same line, but for the uptime, which moved on between the two runs.
    let without_uptime = |s: &str| s.split(", up ").next().unwrap_or("").to_string();
    assert_eq!(
        without_uptime(v["message"].as_str().unwrap()),
        without_uptime(&human.out()),
        "message is the human line"
    );
    human.ensure(
        human
            .out()
            .contains("1 of at most 3 launches in the last 10m"),
        "the human line counts the launches in the window",
    );
}

#[test]
fn dead_never_started_stopped_and_unknown_in_json() {
    let sb = Sandbox::new("json_states");
    let v = json(&status_json(&sb), 3);
    assert_eq!(v["state"], "not_started", "{v}");
    assert!(v["pid"].is_null() && v["program"].is_null(), "{v}");

    let program = sb.sleeper("k");
    sb.check(&program).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    sb.kill_program(pid);
    let v = json(&status_json(&sb), 1);
    assert_eq!(v["state"], "dead", "{v}");
    assert_eq!(v["pid"], pid, "the recorded PID: {v}");
    assert!(v["uptime_seconds"].is_null(), "{v}");

    sb.check(&program).run().expect_code(0);
    sb.expect_recorded("relaunched");
    sb.stop(QUICK_LADDER).run().expect_code(0);
    let v = json(&status_json(&sb), 3);
    assert_eq!(v["state"], "stopped", "{v}");
    assert_eq!(v["mode"], "stopped", "{v}");
    assert!(v["mode_since"].is_string(), "{v}");
    assert_eq!(v["last_exit"]["signal"], "SIGINT", "{v}");
    assert!(v["last_exit"]["exit_status"].is_null(), "{v}");

    sb.write("app.pid", "garbage\n");
    let v = json(&status_json(&sb), 4);
    assert_eq!(v["state"], "unknown", "{v}");
    assert!(
        v["message"].as_str().unwrap().starts_with("unknown:"),
        "{v}"
    );
}

#[test]
fn a_death_at_launch_gives_its_exit_status() {
    let sb = Sandbox::new("json_died");
    sb.check(&sb.prog("dies.sh", &["exit", "7"]))
        .run()
        .expect_code(1);
    let run = status_json(&sb);
    run.expect_sane();
    let v: Value = serde_json::from_str(&run.out()).unwrap();
    assert_eq!(v["last_exit"]["exit_status"], 7, "{v}");
    assert!(
        v["last_exit"]["description"]
            .as_str()
            .unwrap()
            .contains("exited with status 7"),
        "{v}"
    );
    let human = sb.status().run();
    human.ensure(
        human.out().contains("last exit: exited with status 7"),
        "the human line gives the last exit",
    );
}

#[test]
fn a_watcher_records_how_its_program_died() {
    let sb = Sandbox::new("json_watch_death");
    let program = sb.sleeper("w");
    let _watcher = sb
        .check(&program)
        .args(["--watch", "30s"])
        .timeout(Duration::from_secs(60))
        .spawn();
    let first = sb.wait_recorded("program launched by the watcher");
    sb.kill_program(first);
    let second = sb.wait_for("the watcher relaunched the program", || {
        sb.recorded_pid()
            .filter(|&p| p != first && procfs::is_alive(p))
    });
    sb.guard(second, "program relaunched by the watcher");
    let v = json(&status_json(&sb), 0);
    assert_eq!(v["pid"], second, "{v}");
    assert_eq!(v["last_exit"]["signal"], "SIGKILL", "{v}");
    assert_eq!(v["launches"]["count"], 2, "{v}");
    assert!(v["watcher_pid"].is_i64(), "the watcher is named: {v}");
}

#[test]
fn a_state_file_from_before_the_limit_was_recorded_still_reads() {
    let sb = Sandbox::new("json_old_state");
    sb.check(&sb.sleeper("o")).run().expect_code(0);
    sb.expect_recorded("program");
    let state = sb.read("app.pid.state");
    assert!(
        state.lines().any(|l| l.starts_with("limit 5 3600")),
        "the limit is recorded: {state}"
    );
    let old: String = state
        .lines()
        .filter(|l| !l.starts_with("limit "))
        .map(|l| format!("{l}\n"))
        .collect();
    sb.write("app.pid.state", old);
    let v = json(&status_json(&sb), 0);
    assert_eq!(v["state"], "running", "{v}");
    assert_eq!(v["launches"]["limit_recorded"], false, "{v}");
    assert_eq!(v["launches"]["max"], 5, "the default limit: {v}");
    assert_eq!(v["launches"]["count"], 1, "{v}");
}

#[test]
fn a_busy_lock_is_unknown_in_json_too() {
    let sb = Sandbox::new("json_busy");
    // Hold the lock exclusively with flock(1) while status waits 200ms for it.
    let lock = sb.lock_file();
    std::fs::write(&lock, "").unwrap();
    let mut cmd = sb.command("/usr/bin/flock");
    cmd.arg("-x").arg(&lock).args(["sleep", "1000"]);
    sb.spawn_guarded(cmd, "flock holder");
    sb.wait_until("flock holds the lock", || {
        std::fs::read_to_string("/proc/locks")
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains("FLOCK") && l.contains("WRITE"))
    });
    let run = sb.status().args(["--json", "--wait", "200ms"]).run();
    let v = json(&run, 4);
    assert_eq!(v["state"], "unknown", "{v}");
    assert!(v["error"].as_str().unwrap().contains("busy"), "{v}");
}
