//! `start`, `stop` and `restart`: the stop ladder, with escalation, a session-wide reach,
//! waiting for every process of the session, SIGCONT for stopped programs, the "stopped on
//! purpose" mark that `check` respects and `start` clears, and no restart after a failed
//! stop.

use crate::support::procfs;
use crate::support::{QUICK_LADDER, Sandbox, has_number};
use nix::sys::signal::Signal;
use std::time::Duration;

#[test]
fn start_launches_and_prints_the_pid_on_stdout() {
    let sb = Sandbox::new("start_prints");
    let prog = sb.sleeper("a");
    let run = sb.start(&prog).run();
    run.expect_code(0);
    let pid = sb.expect_recorded("program");
    run.ensure(
        has_number(&run.out(), pid),
        "start prints the PID on stdout",
    );
    run.ensure(sb.copies(&prog) == vec![pid], "one copy");
}

#[test]
fn start_when_already_running_launches_no_second_copy() {
    let sb = Sandbox::new("start_twice");
    let prog = sb.sleeper("a");
    sb.start(&prog).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    let run = sb.start(&prog).run();
    run.expect_code(0);
    run.ensure(sb.recorded_pid() == Some(pid), "the PID is unchanged");
    run.ensure(sb.copies(&prog) == vec![pid], "no second copy");
}

#[test]
fn stop_ends_the_program_and_check_leaves_it_stopped_until_start() {
    let sb = Sandbox::new("stop_mark");
    let prog = sb.sleeper("a");
    sb.check(&prog).run().expect_code(0);
    let pid = sb.expect_recorded("program");

    let run = sb.stop(QUICK_LADDER).run();
    run.expect_code(0);
    run.ensure(
        !procfs::is_alive(pid),
        "the program is gone when stop returns",
    );
    run.ensure(!sb.pidfile().exists(), "stop removes the PID file");

    let status = sb.status().run();
    status.expect_code(3);
    status.ensure(status.out().starts_with("stopped:"), "status says stopped:");

    for _ in 0..2 {
        let run = sb.check(&prog).run();
        run.expect_code(0).expect_silent();
        run.ensure(
            sb.copies(&prog).is_empty(),
            "check does not relaunch a stopped program",
        );
    }

    let run = sb.start(&prog).run();
    run.expect_code(0);
    let new = sb.expect_recorded("started again");
    run.ensure(
        new != pid && sb.copies(&prog) == vec![new],
        "start launches one new copy",
    );
    sb.status().run().expect_code(0);
    // And the mark is gone: after a death, check relaunches again.
    sb.kill_program(new);
    sb.check(&prog).run().expect_code(0);
    let again = sb.expect_recorded("relaunched after start");
    assert_ne!(
        again,
        new,
        "check relaunched after start cleared the mark\n{}",
        sb.report()
    );
}

#[test]
fn stop_when_nothing_runs_exits_0() {
    let sb = Sandbox::new("stop_nothing");
    let run = sb.stop(QUICK_LADDER).run();
    run.expect_code(0);
    run.ensure(!sb.pidfile().exists(), "no PID file appears");
}

#[test]
fn stop_escalates_to_kill_when_int_and_term_are_ignored() {
    let sb = Sandbox::new("stop_escalates");
    let prog = sb.prog("ignores.sh", &["INT", "TERM"]);
    sb.check(&prog).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    let run = sb.stop("INT/0.3/TERM/0.3/KILL/3").run();
    run.expect_code(0);
    run.ensure(!procfs::is_alive(pid), "the program is gone");
    run.ensure(sb.copies(&prog).is_empty(), "no copy left");
    run.ensure(
        run.elapsed >= Duration::from_millis(550),
        "INT and TERM were each given their time",
    );
}

#[test]
fn stop_default_ladder_sends_int_then_term_after_two_seconds() {
    let sb = Sandbox::new("stop_default_ladder");
    let prog = sb.prog("traps.sh", &[]);
    sb.check(&prog).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    sb.wait_until("traps.sh set its traps", || sb.path("traps.ready").exists());
    let run = sb.cmd("stop").run();
    run.expect_code(0);
    run.ensure(!procfs::is_alive(pid), "the program is gone");
    let signals = sb.read("signals");
    run.ensure(
        signals == "INT\nTERM\n",
        &format!("expected INT then TERM, got {signals:?}"),
    );
    run.ensure(
        run.elapsed >= Duration::from_millis(1900) && run.elapsed < Duration::from_millis(4900),
        "the default ladder waits 2 s after INT, then TERM ends the program at once",
    );
}

#[test]
fn stop_reaches_the_whole_session_including_a_grandchild_in_its_own_group() {
    let sb = Sandbox::new("stop_session");
    let prog = sb.prog("family.sh", &[]);
    sb.check(&prog).run().expect_code(0);
    let program = sb.expect_recorded("program");
    let pids = sb.wait_for("the family is in place", || {
        let text = sb.read("family.pids");
        let find = |role: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(role)?.trim().parse::<i32>().ok())
        };
        Some((find("program ")?, find("child ")?, find("grandchild ")?))
    });
    let (_, child, grandchild) = pids;
    let gst = procfs::stat(grandchild).expect("grandchild");
    assert!(
        gst.pgrp == grandchild && gst.session == program,
        "test premise: the grandchild leads its own group in the program's session ({gst:?})\n{}",
        sb.report()
    );
    let run = sb.stop("INT/0.5/TERM/0.5/KILL/3").run();
    run.expect_code(0);
    for (what, pid) in [
        ("program", program),
        ("child", child),
        ("grandchild", grandchild),
    ] {
        run.ensure(
            !procfs::is_alive(pid),
            &format!("the {what} ({pid}) is still alive after stop"),
        );
    }
}

#[test]
fn stop_waits_for_children_that_outlive_the_program() {
    let sb = Sandbox::new("stop_waits_children");
    let prog = sb.prog("lingering.sh", &[]);
    sb.check(&prog).run().expect_code(0);
    let program = sb.expect_recorded("program");
    let child: i32 = sb.wait_for("the child wrote its PID", || {
        sb.read("child.pid").trim().parse().ok()
    });
    let run = sb.stop("INT/1/TERM/3").run();
    run.expect_code(0);
    run.ensure(!procfs::is_alive(program), "the program is gone");
    run.ensure(
        !procfs::is_alive(child),
        "stop returned 0 while a child that ignored INT still ran: the program is not stopped until its session is gone",
    );
}

#[test]
fn exhausted_ladder_exits_1_naming_the_pid_and_restart_starts_nothing() {
    let sb = Sandbox::new("stop_exhausted");
    let prog = sb.prog("ignores.sh", &["INT"]);
    sb.check(&prog).run().expect_code(0);
    let pid = sb.expect_recorded("program");

    let run = sb.stop("INT/0.2").run();
    run.expect_code(1);
    run.ensure(
        has_number(&run.err(), pid),
        "the message names the PID that survived",
    );
    run.ensure(procfs::is_alive(pid), "the program survived");

    let run = sb
        .cmd("restart")
        .args(["--ladder", "INT/0.2", "--grace", "300ms"])
        .program(&prog)
        .run();
    run.expect_code(1);
    run.ensure(
        sb.copies(&prog) == vec![pid],
        "restart after a failed stop starts no second copy",
    );
    run.ensure(
        sb.recorded_pid() == Some(pid),
        "the PID file still names the survivor",
    );
    let status = sb.status().run();
    status.expect_code(0);
    status.ensure(
        has_number(&status.out(), pid),
        "status still reports the survivor as running",
    );
}

#[test]
fn stop_continues_a_sigstopped_program_so_it_can_act_on_the_signal() {
    let sb = Sandbox::new("stop_sigstop");
    let prog = sb.prog("traps.sh", &[]);
    sb.check(&prog).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    sb.wait_until("traps.sh set its traps", || sb.path("traps.ready").exists());
    sb.signal(pid, Signal::SIGSTOP);
    sb.wait_until("the program is stopped", || {
        procfs::stat(pid).is_some_and(|s| s.state == 'T')
    });
    // traps.sh handles TERM (logs it, exits): a stopped process runs no handler until
    // it is continued, and the ladder has no KILL to fall back on.
    let run = sb.stop("TERM/2").run();
    run.expect_code(0);
    run.ensure(!procfs::is_alive(pid), "the program is gone");
    run.ensure(
        sb.read("signals").contains("TERM"),
        "the program handled TERM",
    );
    // Exit 0 from a ladder without KILL means TERM ended it: it was continued.
}

#[test]
fn restart_replaces_the_program_with_a_new_pid() {
    let sb = Sandbox::new("restart");
    let prog = sb.sleeper("a");
    sb.start(&prog).run().expect_code(0);
    let old = sb.expect_recorded("first copy");
    let run = sb
        .cmd("restart")
        .args(["--ladder", QUICK_LADDER, "--grace", "300ms"])
        .program(&prog)
        .run();
    run.expect_code(0);
    let new = sb.expect_recorded("restarted copy");
    run.ensure(new != old, "a new PID");
    run.ensure(!procfs::is_alive(old), "the old copy is gone");
    run.ensure(sb.copies(&prog) == vec![new], "exactly one copy");
}

/// A restart whose start fails (here: a --chdir that does not exist) must not leave the job
/// marked "stopped on purpose": the next check brings the program back.
#[test]
fn a_failed_restart_leaves_a_job_that_check_relaunches() {
    let sb = Sandbox::new("restart_fails");
    let prog = sb.sleeper("r");
    sb.check(&prog).run().expect_code(0);
    let first = sb.expect_recorded("first copy");
    let run = sb
        .cmd("restart")
        .args([
            "--grace",
            crate::support::GRACE,
            "--ladder",
            crate::support::QUICK_LADDER,
        ])
        .args(["--chdir", "/nonexistent-dir-for-restart"])
        .program(&prog)
        .run();
    run.expect_code(1);
    run.ensure(
        !crate::support::procfs::is_alive(first),
        "the stop part ran",
    );
    let check = sb.check(&prog).run();
    check.expect_code(0);
    let second = sb.expect_recorded("relaunched copy");
    check.ensure(
        second != first,
        "check must relaunch after a failed restart",
    );
    sb.status().run().expect_code(0);
}

/// Without pidfds (Linux < 5.3; simulated with `WATCHDOG_TEST_NO_PIDFD`), stop signals by
/// PID after re-verifying the start time, and waits by probing: the program is stopped all
/// the same.
#[test]
fn stop_works_without_pidfds() {
    let sb = Sandbox::new("stop_no_pidfd");
    let prog = sb.sleeper("s");
    sb.start(&prog).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    sb.stop(crate::support::QUICK_LADDER)
        .env("WATCHDOG_TEST_NO_PIDFD", "1")
        .run()
        .expect_code(0);
    sb.wait_until("the program is gone", || {
        !crate::support::procfs::is_alive(pid)
    });
    sb.status().run().expect_code(3);
}
