//! `check --watch DURATION` (issue 5): relaunch the moment the program dies, hold no lock
//! while waiting, hand over to a newer watcher, obey stop and crash-loop parking, end
//! cleanly on SIGTERM/SIGINT, and wake for nothing while the program runs.

use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::{Sandbox, procfs};

fn ctxt_switches(pid: i32) -> u64 {
    ["voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"]
        .iter()
        .map(|f| {
            procfs::status_field(pid, f)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum()
}

/// Waits until watcher `wd` is registered and asleep in its poll (outside the lock).
fn wait_watching(sb: &Sandbox, wd: i32) {
    sb.wait_until("the watcher registers and sleeps in poll", || {
        watcher_line(sb).is_some_and(|l| l.starts_with(&format!("watcher {wd} ")))
            && std::fs::read_to_string(format!("/proc/{wd}/wchan"))
                .is_ok_and(|w| w.contains("poll"))
    });
}

fn watcher_line(sb: &Sandbox) -> Option<String> {
    std::fs::read_to_string(sb.state_file())
        .ok()?
        .lines()
        .find(|l| l.starts_with("watcher "))
        .map(str::to_string)
}

#[test]
fn a_killed_program_is_relaunched_at_once_and_sigterm_ends_the_watch_leaving_it_running() {
    let sb = Sandbox::new("watch-relaunch");
    let program = sb.sleeper("watched");
    let watcher = sb.check(&program).args(["--watch", "60s"]).spawn();
    let first = sb.wait_recorded("first copy");
    sb.wait_until("the watcher registers", || {
        watcher_line(&sb).is_some_and(|l| l.starts_with(&format!("watcher {} ", watcher.pid())))
    });

    sb.kill_program(first);
    let second = sb.wait_for("the watcher relaunches", || {
        sb.recorded_pid()
            .filter(|&p| p != first && procfs::is_alive(p))
    });
    sb.guard(second, "relaunched copy");
    // The PID is recorded before the program execs: wait for the exec.
    sb.wait_until("the relaunched copy runs the program", || {
        sb.copies(&program) == vec![second]
    });

    kill(Pid::from_raw(watcher.pid()), Signal::SIGTERM).unwrap();
    let run = watcher.wait();
    run.expect_code(0);
    run.expect_mentions(&format!("relaunched as pid {second}"));
    assert!(
        procfs::is_alive(second),
        "SIGTERM to the watcher must leave the program running"
    );
    assert_eq!(sb.recorded_pid(), Some(second));
    assert!(
        watcher_line(&sb).is_none(),
        "the watcher must unregister itself"
    );
    let log = sb.read("app.watchdog.log");
    assert!(
        log.contains(&format!("pid {first} was killed by SIGKILL")),
        "{log}"
    );
}

#[test]
fn sigint_also_ends_the_watch_cleanly() {
    let sb = Sandbox::new("watch-sigint");
    let program = sb.sleeper("watched");
    let watcher = sb.check(&program).args(["--watch", "60s"]).spawn();
    let pid = sb.wait_recorded("program");
    sb.wait_until("the watcher registers", || watcher_line(&sb).is_some());
    kill(Pid::from_raw(watcher.pid()), Signal::SIGINT).unwrap();
    watcher.wait().expect_code(0);
    assert!(procfs::is_alive(pid));
}

#[test]
fn the_watcher_holds_no_lock_so_other_commands_stay_instant() {
    let sb = Sandbox::new("watch-nolock");
    let program = sb.sleeper("watched");
    let watcher = sb.check(&program).args(["--watch", "60s"]).spawn();
    let pid = sb.wait_recorded("program");
    wait_watching(&sb, watcher.pid());
    // With --wait 0 any held lock would be exit 5 (busy) or, for status, 4.
    sb.status().args(["--wait", "0"]).run().expect_code(0);
    sb.check(&program)
        .args(["--wait", "0"])
        .run()
        .expect_code(0)
        .expect_silent();
    // WINCH: a signal whose default action is to do nothing.
    sb.kill("WINCH").args(["--wait", "0"]).run().expect_code(0);
    assert!(procfs::is_alive(pid));
}

#[test]
fn after_stop_the_watcher_relaunches_nothing_and_exits() {
    let sb = Sandbox::new("watch-stop");
    let program = sb.sleeper("watched");
    let watcher = sb.check(&program).args(["--watch", "60s"]).spawn();
    let pid = sb.wait_recorded("program");
    sb.wait_until("the watcher registers", || watcher_line(&sb).is_some());
    sb.stop("INT/2/KILL/2").run().expect_code(0);
    let run = watcher.wait();
    run.expect_code(0);
    assert!(!procfs::is_alive(pid));
    assert!(sb.copies(&program).is_empty(), "{}", sb.report());
    assert_eq!(
        sb.launches().len(),
        1,
        "nothing may be relaunched after stop"
    );
}

#[test]
fn a_newer_watcher_takes_over_and_no_relaunch_is_doubled() {
    let sb = Sandbox::new("watch-takeover");
    let program = sb.sleeper("watched");
    let older = sb.check(&program).args(["--watch", "60s"]).spawn();
    let first = sb.wait_recorded("program");
    sb.wait_until("the older watcher registers", || {
        watcher_line(&sb).is_some_and(|l| l.starts_with(&format!("watcher {} ", older.pid())))
    });
    let newer = sb.check(&program).args(["--watch", "60s"]).spawn();
    let newer_pid = newer.pid();
    // The older one hands over and exits by itself.
    let run = older.wait();
    run.expect_code(0);
    assert!(
        watcher_line(&sb).is_some_and(|l| l.starts_with(&format!("watcher {newer_pid} "))),
        "{}",
        sb.report()
    );

    sb.kill_program(first);
    let second = sb.wait_for("the newer watcher relaunches", || {
        sb.recorded_pid()
            .filter(|&p| p != first && procfs::is_alive(p))
    });
    sb.guard(second, "relaunched copy");
    sb.wait_until("the relaunched copy has started", || {
        sb.launches().len() >= 2
    });
    sb.wait_until("only the relaunched copy runs", || {
        sb.copies(&program) == vec![second]
    });
    wait_watching(&sb, newer_pid);
    assert_eq!(
        sb.launches().len(),
        2,
        "exactly one relaunch: {:?}",
        sb.launches()
    );
    kill(Pid::from_raw(newer_pid), Signal::SIGTERM).unwrap();
    newer.wait().expect_code(0);
}

#[test]
fn a_crash_loop_parks_the_job_and_ends_the_watch() {
    let sb = Sandbox::new("watch-crashloop");
    let program = sb.prog("dies.sh", &["exit", "3"]);
    let run = sb
        .check(&program)
        .args(["--watch", "60s", "--max-launches", "3", "--within", "1h"])
        .run();
    run.expect_code(1);
    run.expect_mentions("parked");
    assert_eq!(sb.launches().len(), 3, "{:?}", sb.launches());
    sb.status().run().expect_code(1).expect_mentions("parked:");
}

#[test]
fn the_watch_ends_after_its_duration_leaving_the_program_running() {
    let sb = Sandbox::new("watch-expiry");
    let program = sb.sleeper("watched");
    let run = sb.check(&program).args(["--watch", "1s"]).run();
    run.expect_code(0);
    let pid = sb.expect_recorded("program");
    assert!(
        run.elapsed >= Duration::from_millis(900),
        "{:?}",
        run.elapsed
    );
    assert!(procfs::is_alive(pid));
    assert!(watcher_line(&sb).is_none());
}

#[test]
fn the_watcher_does_not_wake_while_the_program_runs() {
    let sb = Sandbox::new("watch-idle");
    let program = sb.sleeper("watched");
    let watcher = sb.check(&program).args(["--watch", "60s"]).spawn();
    sb.wait_recorded("program");
    sb.wait_until("the watcher registers", || watcher_line(&sb).is_some());
    // Let it settle into its poll, then count its context switches over a while: a busy
    // or timed loop would switch at least once per tick.
    let wd = watcher.pid();
    sb.wait_until("the watcher is asleep in poll", || {
        std::fs::read_to_string(format!("/proc/{wd}/wchan")).is_ok_and(|w| w.contains("poll"))
    });
    let before = ctxt_switches(wd);
    let t0 = std::time::Instant::now();
    // Poll the count (not a fixed sleep for synchronisation): it must stay put for 1.5 s.
    while t0.elapsed() < Duration::from_millis(1500) {
        assert_eq!(
            ctxt_switches(wd),
            before,
            "the watcher woke up while the program ran"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    kill(Pid::from_raw(wd), Signal::SIGTERM).unwrap();
    watcher.wait().expect_code(0);
}

/// Without pidfds (Linux < 5.3; simulated with `WATCHDOG_TEST_NO_PIDFD`), the watcher falls
/// back to a timed probe, says so once in the event log, and still relaunches.
#[test]
fn without_pidfds_the_watcher_probes_and_says_so_once() {
    let sb = Sandbox::new("watch-nopidfd");
    let program = sb.sleeper("watched");
    let watcher = sb
        .check(&program)
        .args(["--watch", "60s"])
        .env("WATCHDOG_TEST_NO_PIDFD", "1")
        .spawn();
    let first = sb.wait_recorded("first copy");
    sb.wait_until("the watcher registers", || watcher_line(&sb).is_some());
    for round in 0..2 {
        let old = sb.recorded_pid().unwrap();
        sb.kill_program(old);
        let new = sb.wait_for("the probing watcher relaunches", || {
            sb.recorded_pid()
                .filter(|&p| p != old && procfs::is_alive(p))
        });
        sb.guard(new, &format!("relaunch {round}"));
    }
    kill(Pid::from_raw(watcher.pid()), Signal::SIGTERM).unwrap();
    watcher.wait().expect_code(0);
    let log = sb.read("app.watchdog.log");
    assert_eq!(log.matches("no pidfd").count(), 1, "said once: {log}");
    assert!(!procfs::is_alive(first));
}
