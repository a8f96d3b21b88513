//! `--stay-down-on CODES` (issue 8): an exit the watchdog sees (within the grace period, or
//! in watch mode) with a listed status marks the job stopped, says why in the event log,
//! and check leaves it down until `start`; an unlisted status is relaunched as usual.

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::{Sandbox, procfs};

#[test]
fn a_listed_exit_within_the_grace_period_keeps_the_job_down_until_start() {
    let sb = Sandbox::new("stay-down-grace");
    let prog = sb.prog("dies.sh", &["exit", "2"]);
    let run = sb.check(&prog).args(["--stay-down-on", "0,2"]).run();
    run.expect_code(1);
    run.expect_error(&[
        "exited with status 2",
        "--stay-down-on",
        "watchdog start",
        "last words",
    ]);
    let status = sb.status().run();
    status.expect_code(3);
    status.ensure(
        status.out().starts_with("stopped:") && status.out().contains("status 2"),
        "status says stopped, and why",
    );
    let log = sb.read("app.watchdog.log");
    assert!(log.contains("--stay-down-on lists"), "{log}");
    for _ in 0..2 {
        sb.check(&prog)
            .args(["--stay-down-on", "0,2"])
            .run()
            .expect_code(0)
            .expect_silent();
    }
    assert_eq!(
        sb.launches().len(),
        1,
        "check left it down: {:?}",
        sb.launches()
    );
    // start resumes: the program now runs healthy.
    sb.write("healthy", "");
    sb.start(&prog)
        .args(["--stay-down-on", "0,2"])
        .run()
        .expect_code(0);
    sb.expect_recorded("healthy program");
}

#[test]
fn an_unlisted_exit_is_relaunched_as_usual() {
    let sb = Sandbox::new("stay-down-unlisted");
    let prog = sb.prog("dies.sh", &["exit", "3"]);
    let run = sb.check(&prog).args(["--stay-down-on", "0,2"]).run();
    run.expect_code(1);
    run.expect_error(&["exited with status 3"]);
    run.ensure(
        !run.err().contains("--stay-down-on"),
        "not a stay-down exit",
    );
    sb.check(&prog)
        .args(["--stay-down-on", "0,2"])
        .run()
        .expect_code(1);
    assert_eq!(sb.launches().len(), 2, "relaunched: {:?}", sb.launches());
}

#[test]
fn a_signal_is_never_a_listed_exit() {
    let sb = Sandbox::new("stay-down-signal");
    let prog = sb.prog("dies.sh", &["signal", "TERM"]);
    let run = sb.check(&prog).args(["--stay-down-on", "0,15,143"]).run();
    run.expect_code(1);
    run.expect_error(&["killed by SIGTERM"]);
    sb.status().run().expect_code(1);
}

#[test]
fn in_watch_mode_a_listed_exit_ends_the_watch_and_an_unlisted_one_relaunches() {
    let sb = Sandbox::new("stay-down-watch");
    let prog = sb.prog("exits_on_cue.sh", &["3"]);
    // Code 3 is not listed: the watcher relaunches at once.
    let watcher = sb
        .check(&prog)
        .args(["--stay-down-on", "2", "--watch", "60s"])
        .spawn();
    let first = sb.wait_recorded("first copy");
    sb.write("cue", "");
    let second = sb.wait_for("the watcher relaunches", || {
        sb.recorded_pid()
            .filter(|&p| p != first && procfs::is_alive(p))
    });
    sb.guard(second, "second copy");
    kill(Pid::from_raw(watcher.pid()), Signal::SIGTERM).unwrap();
    watcher.wait().expect_code(0);
    sb.kill_program(second);

    // Code 2 is listed: the watcher marks the job stopped and ends.
    let sb = Sandbox::new("stay-down-watch-listed");
    let prog = sb.prog("exits_on_cue.sh", &["2"]);
    let watcher = sb
        .check(&prog)
        .args(["--stay-down-on", "2", "--watch", "60s"])
        .spawn();
    let pid = sb.wait_recorded("program");
    // Once the watcher waits on the program, only it can know the exit status.
    sb.wait_until("the watcher sleeps in poll", || {
        std::fs::read_to_string(format!("/proc/{}/wchan", watcher.pid()))
            .is_ok_and(|w| w.contains("poll"))
    });
    sb.write("cue", "");
    let run = watcher.wait();
    run.expect_code(0);
    run.expect_mentions("exited with status 2");
    run.expect_mentions("--stay-down-on");
    run.ensure(!procfs::is_alive(pid), "the program exited");
    let status = sb.status().run();
    status.expect_code(3);
    status.ensure(status.out().starts_with("stopped:"), "the job is stopped");
    sb.check(&prog)
        .args(["--stay-down-on", "2"])
        .run()
        .expect_code(0)
        .expect_silent();
    assert_eq!(sb.launches().len(), 1, "{:?}", sb.launches());
}
