//! `check`, the cron job: launches when nothing runs, says nothing while the program is
//! healthy, relaunches it after a death with one line naming both PIDs, records the PID
//! before the grace wait, reports deaths within the grace period with a bounded tail, and
//! launches nothing when the program, its directory, its output or the PID file is
//! unusable.

use crate::support::procfs;
use crate::support::{Sandbox, args, has_number};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

#[test]
fn check_launches_the_program_when_there_is_no_pidfile() {
    let sb = Sandbox::new("check_launches");
    let prog = sb.sleeper("a");
    let run = sb.check(&prog).run();
    run.expect_code(0);
    let pid = sb.expect_recorded("program");
    run.ensure(
        sb.copies(&prog) == vec![pid],
        "exactly one copy runs, the recorded one",
    );
    // A first start prints one line (to stderr, for the cron mail) naming the new PID.
    run.ensure(run.stdout.is_empty(), "check prints nothing on stdout");
    run.ensure(
        run.err().lines().count() == 1 && has_number(&run.err(), pid),
        "a first start by check prints exactly one line naming the new PID",
    );
    // The watchdog exits after the grace period and leaves nothing but the program (and
    // what the program itself started, in its session).
    for p in sb.our_processes() {
        let sid = procfs::stat(p).map(|s| s.session);
        run.ensure(
            sid == Some(pid),
            &format!(
                "process {p} ({}) outlived check outside the program's session",
                procfs::cmdline_text(p)
            ),
        );
    }
    sb.wait_until("the program logged its start", || sb.launches().len() == 1);
}

#[test]
fn healthy_check_prints_nothing_and_keeps_the_same_pid() {
    let sb = Sandbox::new("check_healthy");
    let prog = sb.sleeper("a");
    sb.check(&prog).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    for _ in 0..3 {
        let run = sb.check(&prog).run();
        run.expect_code(0).expect_silent();
        run.ensure(
            sb.recorded_pid() == Some(pid),
            "the PID file still names the first copy",
        );
        run.ensure(sb.copies(&prog) == vec![pid], "no second copy");
    }
    sb.wait_until("the program logged its start", || !sb.launches().is_empty());
    assert_eq!(sb.launches().len(), 1, "launched once\n{}", sb.report());
}

#[test]
fn check_relaunches_a_killed_program_with_one_line_naming_both_pids() {
    let sb = Sandbox::new("check_relaunch");
    let prog = sb.sleeper("a");
    sb.check(&prog).run().expect_code(0);
    let old = sb.expect_recorded("first copy");
    sb.kill_program(old);

    let run = sb.check(&prog).run();
    run.expect_code(0);
    let new = sb.expect_recorded("relaunched copy");
    run.ensure(new != old, "a new PID is recorded");
    run.ensure(
        sb.copies(&prog) == vec![new],
        "exactly one copy runs, the new one",
    );
    run.ensure(run.stdout.is_empty(), "nothing on stdout");
    let err = run.err();
    run.ensure(err.lines().count() == 1, "exactly one line on stderr");
    run.ensure(err.contains("sleeper.sh"), "the line names the program");
    run.ensure(has_number(&err, old), "the line names the old PID");
    run.ensure(has_number(&err, new), "the line names the new PID");
}

#[test]
fn check_watches_the_whole_grace_period_then_exits() {
    let sb = Sandbox::new("check_grace_time");
    let prog = sb.sleeper("a");
    let run = sb.cmd("check").args(["--grace", "1s"]).program(&prog).run();
    run.expect_code(0);
    sb.expect_recorded("program");
    run.ensure(
        run.elapsed >= Duration::from_millis(1000),
        "check returned before --grace 1s ran out",
    );
    run.ensure(
        run.elapsed < Duration::from_secs(10),
        "check lingered long after the grace period",
    );
}

#[test]
fn pidfile_is_recorded_before_the_grace_wait() {
    let sb = Sandbox::new("check_records_early");
    let prog = sb.sleeper("a");
    let mut running = sb
        .cmd("check")
        .args(["--grace", "4s"])
        .program(&prog)
        .spawn();
    let pid = sb.wait_for("the PID file names a live process", || {
        sb.recorded_pid().filter(|p| procfs::is_alive(*p))
    });
    sb.guard(pid, "program");
    let early = running.elapsed();
    let still_running = running.is_running();
    let run = running.wait();
    run.ensure(
        still_running && early < Duration::from_millis(3000),
        &format!("the PID file must exist while check still waits out --grace 4s (seen after {early:?}, watchdog still running: {still_running})"),
    );
    run.expect_code(0);
    run.ensure(
        run.elapsed >= Duration::from_secs(4),
        "check waits out the grace period",
    );
    run.ensure(
        sb.recorded_pid() == Some(pid),
        "the PID recorded early is the program's",
    );
}

#[test]
fn program_exiting_within_grace_fails_with_its_status_and_last_words() {
    let sb = Sandbox::new("check_dies_exit");
    let prog = sb.prog("dies.sh", &["exit", "37"]);
    let run = sb.check(&prog).run();
    run.expect_code(1);
    let err = run.err();
    run.ensure(has_number(&err, 37), "stderr names the exit status 37");
    run.ensure(
        err.contains("dies.sh: last words"),
        "stderr shows the tail of the program's stderr",
    );
    run.ensure(
        sb.recorded_pid().is_none_or(|p| !procfs::is_alive(p)),
        "the PID file does not name a live process",
    );
}

#[test]
fn program_killed_by_a_signal_within_grace_is_reported_by_signal_name() {
    let sb = Sandbox::new("check_dies_signal");
    let prog = sb.prog("dies.sh", &["signal", "KILL"]);
    let run = sb.check(&prog).run();
    run.expect_code(1);
    run.ensure(
        run.err().contains("SIGKILL"),
        "stderr names the signal, SIGKILL",
    );
}

#[test]
fn stderr_tail_of_a_flooding_program_is_bounded() {
    let sb = Sandbox::new("check_dies_flood");
    let prog = sb.prog("dies.sh", &["exit", "37", "80000"]);
    let run = sb.check(&prog).run();
    run.expect_code(1);
    let flood = fs::metadata(sb.path("app.err")).map_or(0, |m| m.len());
    run.ensure(
        flood > 5_000_000,
        "test premise: the program wrote megabytes to app.err",
    );
    run.ensure(
        run.stdout_total + run.stderr_total <= 8192,
        &format!(
            "the cron mail must stay small: {} bytes of output for a program that wrote {flood}",
            run.stdout_total + run.stderr_total
        ),
    );
    run.ensure(
        run.err().contains("dies.sh: last words"),
        "the tail shows the last lines",
    );
    run.ensure(has_number(&run.err(), 37), "stderr names the exit status");
}

#[test]
fn missing_program_is_reported_and_nothing_is_launched() {
    let sb = Sandbox::new("check_missing_program");
    let missing = sb.path("no-such-program");
    let prog = args([missing.as_os_str()]);
    let run = sb.check(&prog).run();
    run.expect_code(1)
        .expect_error(&[missing.to_str().unwrap(), "No such file or directory"]);
    sb.expect_nothing_launched(&run, &prog);
}

#[test]
fn program_that_is_not_executable_is_reported_and_nothing_is_launched() {
    let sb = Sandbox::new("check_not_executable");
    let script = sb.write(
        "not-executable.sh",
        "#!/bin/sh\necho \"x $$\" >> \"$1/launches\"\nsleep 1000\n",
    );
    fs::set_permissions(&script, fs::Permissions::from_mode(0o644)).unwrap();
    let prog = args([script.as_os_str(), sb.root().as_os_str()]);
    let run = sb.check(&prog).run();
    run.expect_code(1).expect_error(&[script.to_str().unwrap()]);
    let err = run.err();
    run.ensure(
        err.contains("Permission denied") || err.contains("not executable"),
        "the message gives the cause",
    );
    sb.expect_nothing_launched(&run, &prog);
}

#[test]
fn program_not_in_path_is_reported_and_nothing_is_launched() {
    let sb = Sandbox::new("check_not_in_path");
    let prog = args(["watchdog-it-no-such-program", "arg"]);
    let run = sb.check(&prog).run();
    run.expect_code(1)
        .expect_error(&["watchdog-it-no-such-program"]);
    sb.expect_nothing_launched(&run, &prog);
}

#[test]
fn bad_chdir_is_reported_and_nothing_is_launched() {
    let sb = Sandbox::new("check_bad_chdir");
    let prog = sb.sleeper("a");
    let missing = sb.path("no-such-dir");
    let run = sb.check(&prog).arg("--chdir").arg(&missing).run();
    run.expect_code(1)
        .expect_error(&[missing.to_str().unwrap(), "No such file or directory"]);
    sb.expect_nothing_launched(&run, &prog);
}

#[test]
fn unopenable_stdout_is_reported_and_nothing_is_launched() {
    let sb = Sandbox::new("check_bad_stdout");
    let prog = sb.sleeper("a");
    let out = sb.path("no-such-dir/out");
    let run = sb.check(&prog).arg("--stdout").arg(&out).run();
    run.expect_code(1)
        .expect_error(&[out.to_str().unwrap(), "No such file or directory"]);
    sb.expect_nothing_launched(&run, &prog);
}

#[test]
fn stderr_path_that_is_a_directory_is_reported_and_nothing_is_launched() {
    let sb = Sandbox::new("check_stderr_dir");
    let prog = sb.sleeper("a");
    let dir = sb.path("a-directory");
    fs::create_dir(&dir).unwrap();
    let run = sb.check(&prog).arg("--stderr").arg(&dir).run();
    run.expect_code(1)
        .expect_error(&[dir.to_str().unwrap(), "Is a directory"]);
    sb.expect_nothing_launched(&run, &prog);
}

#[test]
fn pidfile_in_a_missing_directory_is_reported_and_nothing_is_launched() {
    let sb = Sandbox::new("check_pidfile_dir_missing");
    let prog = sb.sleeper("a");
    let pidfile = sb.path("no-such-dir/app.pid");
    let run = sb.check_pidfile_at(&pidfile, &prog).run();
    run.expect_code(1)
        .expect_error(&[pidfile.to_str().unwrap()]);
    sb.expect_nothing_launched(&run, &prog);
}

#[test]
fn event_log_records_launch_relaunch_and_stop_with_pids() {
    let sb = Sandbox::new("check_event_log");
    let prog = sb.sleeper("a");
    sb.check(&prog).run().expect_code(0);
    let first = sb.expect_recorded("first copy");
    sb.kill_program(first);
    sb.check(&prog).run().expect_code(0);
    let second = sb.expect_recorded("second copy");
    let run = sb.stop(crate::support::QUICK_LADDER).run();
    run.expect_code(0);
    let log = sb.read("app.watchdog.log");
    run.ensure(
        log.lines().count() >= 3,
        "one line per launch, relaunch and stop",
    );
    run.ensure(has_number(&log, first), "the log names the first PID");
    run.ensure(has_number(&log, second), "the log names the second PID");
}

#[test]
fn log_option_moves_the_event_log() {
    let sb = Sandbox::new("check_log_option");
    let prog = sb.sleeper("a");
    fs::create_dir(sb.path("logs")).unwrap();
    let log = sb.path("logs/events.log");
    let run = sb.check(&prog).arg("--log").arg(&log).run();
    run.expect_code(0);
    let pid = sb.expect_recorded("program");
    run.ensure(
        has_number(&sb.read("logs/events.log"), pid),
        "--log names the event log",
    );
    run.ensure(
        !sb.path("app.watchdog.log").exists(),
        "no event log at the default path",
    );
}
