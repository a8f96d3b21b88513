//! A recorded PID taken over by a stranger. The PID is really reused: inside a fresh PID
//! namespace, `fixtures/reuse_in_pidns.sh` kills the program and writes N-1 to
//! /proc/sys/kernel/ns_last_pid so that the stranger (a decoy that logs every signal) gets
//! PID N. Then `status` says `reused:` (exit 1), `kill` and `stop` leave the stranger alone,
//! and `check` launches a fresh copy without touching it.

use crate::support::{Sandbox, fixture, fork_lock};
use std::collections::HashMap;
use std::ffi::OsStr;

#[test]
fn a_reused_pid_is_not_the_program() {
    let _fork = fork_lock();
    let sb = Sandbox::new("pid_reuse");
    let run = sb
        .wd(Vec::<&str>::new())
        .wrap([
            OsStr::new("/usr/bin/unshare"),
            OsStr::new("--pid"),
            OsStr::new("--fork"),
            OsStr::new("--mount-proc"),
            OsStr::new("--kill-child"),
            OsStr::new("/bin/sh"),
            fixture("reuse_in_pidns.sh").as_os_str(),
            sb.root().as_os_str(),
        ])
        .run();
    let kv: HashMap<String, String> = run
        .out()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let get = |k: &str| kv.get(k).map_or("", String::as_str);
    let stranger_log = |name: &str| -> Vec<String> {
        sb.read(format!("{name}.stranger.signals"))
            .lines()
            .filter(|l| !matches!(*l, "ready" | "SYNC"))
            .map(str::to_string)
            .collect()
    };
    run.expect_code(0);
    run.ensure(
        get("done") == "yes" && get("error").is_empty(),
        "the scenario ran to the end",
    );

    // a.pid: status, kill, stop against the stranger.
    run.ensure(get("a_status") == "1", "status of a reused PID exits 1");
    run.ensure(
        sb.read("a.status.out").starts_with("reused:"),
        "status of a reused PID prints `reused:`",
    );
    run.ensure(
        get("a_kill") == "1",
        "kill on a reused PID exits 1 (not running)",
    );
    run.ensure(
        get("a_stop") == "0",
        "stop on a reused PID exits 0 (was not running)",
    );
    run.ensure(
        get("a_stranger_state") == "S" && stranger_log("a").is_empty(),
        &format!(
            "status/kill/stop touched the stranger holding the reused PID: state {}, signals {:?}",
            get("a_stranger_state"),
            stranger_log("a")
        ),
    );

    // b.pid: check launches a fresh copy.
    run.ensure(
        get("b_check") == "0",
        "check on a reused PID exits 0 (relaunched)",
    );
    run.ensure(
        !get("b_new").is_empty() && get("b_new") != get("b_victim"),
        "check records a new PID, not the stranger's",
    );
    run.ensure(
        matches!(get("b_new_state"), "S" | "R") && get("b_new_cmdline").starts_with("sleep 1000"),
        "the new PID is a running copy of the program",
    );
    run.ensure(
        get("b_stranger_state") == "S" && stranger_log("b").is_empty(),
        &format!(
            "check touched the stranger holding the reused PID: state {}, signals {:?}",
            get("b_stranger_state"),
            stranger_log("b")
        ),
    );
}
