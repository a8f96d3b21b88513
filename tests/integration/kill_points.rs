//! The watchdog SIGKILLed at each step of a launch (issue 4, "Faults"). The fault points
//! (`WATCHDOG_TEST_STOP_AT`, see `src/fault.rs`) make the watchdog stop itself with SIGSTOP at
//! an exact step; the test then SIGKILLs it there. Whatever the step: a copy whose PID is not
//! on disk never runs, and the next check converges to exactly one copy named by the PID file.

use crate::support::{Sandbox, procfs};

/// Runs a check that stops itself at `point`, kills it there, and returns the PID of the
/// held child it had forked (the newest process with the watchdog's PID as parent), if any.
fn kill_check_at(sb: &Sandbox, program: &[std::ffi::OsString], point: &str) -> Option<i32> {
    let running = sb
        .check(program)
        .env("WATCHDOG_TEST_STOP_AT", point)
        .spawn();
    let wd = running.pid();
    sb.wait_until(&format!("the watchdog stops itself at {point}"), || {
        procfs::stat(wd).is_some_and(|s| s.state == 'T')
    });
    // The held child (or the program, after release) is the watchdog's only child.
    let child = procfs::all_pids()
        .into_iter()
        .find(|&p| procfs::stat(p).is_some_and(|s| s.ppid == wd));
    if let Some(c) = child {
        sb.guard(c, &format!("child forked before {point}"));
    }
    let run = running.kill();
    run.ensure(
        run.status.code().is_none(),
        "the watchdog should have died by SIGKILL",
    );
    child
}

fn converges_after_kill_at(point: &str, program_may_run: bool) {
    let sb = Sandbox::new(&format!("kill-at-{point}"));
    let program = sb.sleeper(point);
    let child = kill_check_at(&sb, &program, point);
    let child = child.unwrap_or_else(|| sb.fail("the watchdog had no child at the fault point"));

    if program_may_run {
        // Released: the program runs and is recorded.
        let recorded = sb.expect_recorded("program after the kill");
        assert_eq!(
            recorded, child,
            "the PID file must name the released program"
        );
    } else {
        // Held: with the go pipe closed by the watchdog's death, the child exits without
        // ever running the program.
        sb.wait_until("the held child exits at EOF", || !procfs::is_alive(child));
        assert!(
            sb.launches().is_empty(),
            "the program ran although its launch was never completed: {:?}",
            sb.launches()
        );
    }

    // The next check converges: one copy, named by the PID file.
    let run = sb.check(&program).run();
    run.expect_code(0);
    let pid = sb.expect_recorded("program after the converging check");
    let copies = sb.copies(&program);
    assert_eq!(
        copies,
        vec![pid],
        "exactly one copy must run\n{}",
        sb.report()
    );
    if program_may_run {
        run.expect_silent();
        assert_eq!(
            pid, child,
            "a recorded, running copy must be kept, not replaced"
        );
    }
    // And a further check is healthy and silent.
    sb.check(&program).run().expect_code(0).expect_silent();
}

#[test]
fn killed_right_after_fork_nothing_runs_and_the_next_check_launches_one() {
    converges_after_kill_at("forked", false);
}

#[test]
fn killed_after_the_state_but_before_the_pid_file_nothing_runs() {
    converges_after_kill_at("state-written", false);
}

#[test]
fn killed_after_recording_but_before_release_nothing_runs() {
    converges_after_kill_at("recorded", false);
}

#[test]
fn killed_during_the_grace_period_the_recorded_program_is_kept() {
    converges_after_kill_at("released", true);
}
