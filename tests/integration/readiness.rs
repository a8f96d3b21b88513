//! Readiness (issue 8): `--ready-when-log` and `--ready-when-cmd` make start and check wait
//! until the program is ready; one that never is gets stopped, with a clear message and the
//! output tail; lines from before the launch do not count; and the wait holds no lock, so
//! status answers at once and a stop that comes during the wait wins.

use std::ffi::OsString;
use std::time::{Duration, Instant};

use crate::support::{Sandbox, procfs};

/// `slow_ready.sh DIR DELAY MODE`
fn slow(sb: &Sandbox, delay: &str, mode: &str) -> Vec<OsString> {
    sb.prog("slow_ready.sh", &[delay, mode])
}

#[test]
fn start_waits_for_the_log_line_and_says_so() {
    let sb = Sandbox::new("ready-log");
    let prog = slow(&sb, "0.8", "ready");
    let run = sb
        .start(&prog)
        .args(["--ready-when-log", "READY on port [0-9]+"])
        .run();
    run.expect_code(0);
    let pid = sb.expect_recorded("program");
    run.ensure(
        run.elapsed >= Duration::from_millis(800),
        "start waited for readiness",
    );
    run.ensure(
        run.out().contains(&format!("pid {pid}"))
            && run.out().contains("ready")
            && run.out().contains("READY on port 1234"),
        "start names the PID and the line that made it ready",
    );
    run.ensure(
        sb.path("ready.flag").exists(),
        "the program really was ready",
    );
    let log = sb.read("app.watchdog.log");
    assert!(log.contains("is ready"), "{log}");
}

#[test]
fn check_waits_for_the_command_to_succeed() {
    let sb = Sandbox::new("ready-cmd");
    let prog = slow(&sb, "0.6", "ready");
    let flag = sb.path("ready.flag");
    let run = sb
        .check(&prog)
        .args(["--ready-when-cmd", &format!("test -e '{}'", flag.display())])
        .run();
    run.expect_code(0);
    sb.expect_recorded("program");
    run.ensure(run.elapsed >= Duration::from_millis(600), "check waited");
    run.ensure(
        run.err().contains("exited 0"),
        "check says the command succeeded",
    );
    sb.check(&prog).run().expect_code(0).expect_silent();
}

#[test]
fn a_program_that_never_becomes_ready_is_stopped_and_the_launch_fails() {
    let sb = Sandbox::new("ready-never");
    let prog = slow(&sb, "0", "never");
    let run = sb
        .start(&prog)
        .args(["--ready-when-log", "^READY", "--ready-timeout", "1s"])
        .args(["--ready-when-cmd", "echo 'not yet' >&2; exit 7"])
        .run();
    run.expect_code(1);
    run.expect_error(&[
        "was not ready within 1s",
        "no line matching /^READY/",
        "stopped it",
        "still starting",
    ]);
    let pid = sb
        .launches()
        .first()
        .and_then(|l| l.split(' ').nth(1)?.parse::<i32>().ok())
        .unwrap_or_else(|| sb.fail("no launch"));
    run.ensure(
        !procfs::is_alive(pid),
        "the program that was not ready is stopped",
    );
    run.ensure(sb.recorded_pid().is_none(), "and forgotten");
    run.ensure(
        run.elapsed < Duration::from_secs(1) + Duration::from_secs(6),
        "the wait is bounded by --ready-timeout (and the stop ladder)",
    );
    // The next check launches it again (the crash-loop limit counts these).
    let again = sb.check(&prog).args(["--ready-when-cmd", "true"]).run();
    again.expect_code(0);
    sb.expect_recorded("relaunched");
    assert_eq!(sb.launches().len(), 2, "{:?}", sb.launches());
}

#[test]
fn the_command_alone_reports_its_last_failure() {
    let sb = Sandbox::new("ready-cmd-fails");
    let prog = sb.sleeper("a");
    let run = sb
        .check(&prog)
        .args(["--ready-when-cmd", "echo 'connection refused' >&2; exit 7"])
        .args(["--ready-timeout", "1s"])
        .run();
    run.expect_code(1);
    run.expect_error(&[
        "exited with status 7",
        "connection refused",
        "not ready within 1s",
    ]);
}

#[test]
fn lines_from_before_the_launch_do_not_count() {
    let sb = Sandbox::new("ready-old-lines");
    sb.write("app.out", "READY on port 1 (an old run)\n");
    let prog = slow(&sb, "0", "never");
    let run = sb
        .start(&prog)
        .args(["--ready-when-log", "READY", "--ready-timeout", "800ms"])
        .run();
    run.expect_code(1);
    run.expect_error(&["was not ready within 800ms"]);
}

#[test]
fn a_death_while_waiting_fails_with_its_status_and_stderr() {
    let sb = Sandbox::new("ready-dies");
    let prog = slow(&sb, "0.5", "dies");
    let run = sb.start(&prog).args(["--ready-when-log", "READY"]).run();
    run.expect_code(1);
    run.expect_error(&["exited with status 4", "before it became ready", "gave up"]);
    run.ensure(
        run.elapsed < Duration::from_secs(5),
        "no wait past the death",
    );
}

#[test]
fn the_wait_holds_no_lock_and_a_stop_during_it_wins() {
    let sb = Sandbox::new("ready-stop-wins");
    let prog = slow(&sb, "0", "never");
    let waiting = sb
        .cmd("start")
        .args([
            "--grace",
            "100ms",
            "--ready-when-log",
            "READY",
            "--ready-timeout",
            "20s",
        ])
        .program(&prog)
        .spawn();
    let pid = sb.wait_recorded("program");
    sb.wait_until("the start is past its grace period", || {
        sb.read("app.out").contains("still starting")
    });

    // status and kill answer at once: no lock is held during the wait.
    let t = Instant::now();
    let status = sb.status().arg("--wait").arg("1s").run();
    status.expect_code(0);
    status.ensure(
        t.elapsed() < Duration::from_secs(1),
        "status did not wait for the lock",
    );
    sb.kill("CONT").args(["--wait", "1s"]).run().expect_code(0);

    // A stop arriving now wins: the program is stopped and stays stopped.
    let stop = sb.stop("TERM/3/KILL/3").args(["--wait", "2s"]).run();
    stop.expect_code(0);
    stop.ensure(!procfs::is_alive(pid), "stopped");
    let run = waiting.wait();
    run.expect_code(1);
    run.ensure(
        run.elapsed < Duration::from_secs(10),
        "the waiting start ended promptly",
    );
    run.ensure(
        run.err().contains("a stop came"),
        "the waiting start says a stop came",
    );
    let status = sb.status().run();
    status.expect_code(3);
    status.ensure(status.out().starts_with("stopped:"), "still stopped");
    sb.check(&prog).run().expect_code(0).expect_silent();
    assert_eq!(
        sb.launches().len(),
        1,
        "nothing relaunched: {:?}",
        sb.launches()
    );
}

#[test]
fn a_check_that_comes_during_the_wait_finds_the_program_healthy() {
    let sb = Sandbox::new("ready-check-during");
    let prog = slow(&sb, "1.5", "ready");
    let waiting = sb
        .cmd("check")
        .args(["--grace", "100ms", "--ready-when-log", "READY"])
        .program(&prog)
        .spawn();
    let pid = sb.wait_recorded("program");
    sb.check(&prog)
        .args(["--wait", "1s"])
        .run()
        .expect_code(0)
        .expect_silent();
    let run = waiting.wait();
    run.expect_code(0);
    run.ensure(
        run.err().contains("ready"),
        "the first check reports readiness",
    );
    assert_eq!(sb.recorded_pid(), Some(pid));
    assert_eq!(sb.launches().len(), 1, "{:?}", sb.launches());
}

#[test]
fn a_watcher_waits_for_readiness_after_each_relaunch() {
    let sb = Sandbox::new("ready-watch");
    let prog = slow(&sb, "0.3", "ready");
    let watcher = sb
        .check(&prog)
        .args(["--ready-when-log", "READY", "--watch", "60s"])
        .spawn();
    let first = sb.wait_recorded("first copy");
    sb.wait_until("the first copy is ready", || sb.path("ready.flag").exists());
    std::fs::remove_file(sb.path("ready.flag")).unwrap();
    sb.kill_program(first);
    let second = sb.wait_for("the watcher relaunches", || {
        sb.recorded_pid()
            .filter(|&p| p != first && procfs::is_alive(p))
    });
    sb.guard(second, "second copy");
    sb.wait_until("the watcher logs the second copy ready", || {
        sb.read("app.watchdog.log")
            .contains(&format!("pid {second} is ready"))
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(watcher.pid()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    watcher.wait().expect_code(0);
    assert!(procfs::is_alive(second));
}
