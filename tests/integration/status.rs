//! `status`: one line on stdout, LSB exit codes. 0 running (with the PID), 1 dead but the
//! PID file exists, 3 not running (never started, stopped on purpose), 4 unknown. The
//! `reused:` case needs a real reused PID and lives in `pid_reuse.rs`; `parked:` in
//! `crash_loop.rs`.

use crate::support::{QUICK_LADDER, Run, Sandbox, has_number};

#[track_caller]
fn expect_line(run: &Run, code: i32, prefix: &str) {
    run.expect_code(code);
    let out = run.out();
    run.ensure(
        out.lines().count() == 1 && out.starts_with(prefix),
        &format!("status prints one line starting with {prefix:?}"),
    );
}

#[test]
fn status_of_a_running_program_is_0_with_its_pid() {
    let sb = Sandbox::new("status_running");
    sb.check(&sb.sleeper("a")).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    let run = sb.status().run();
    expect_line(&run, 0, "running:");
    run.ensure(
        run.out().contains(&format!("pid {pid}")),
        "the line says `pid N`",
    );
}

#[test]
fn status_of_a_dead_program_is_1() {
    let sb = Sandbox::new("status_dead");
    sb.check(&sb.sleeper("a")).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    sb.kill_program(pid);
    let run = sb.status().run();
    expect_line(&run, 1, "dead:");
    run.ensure(has_number(&run.out(), pid), "the line names the dead PID");
}

#[test]
fn status_when_never_started_is_3_and_creates_nothing() {
    let sb = Sandbox::new("status_never");
    let run = sb.status().run();
    expect_line(&run, 3, "not started:");
    run.ensure(!sb.pidfile().exists(), "status creates no PID file");
}

#[test]
fn status_after_stop_is_3_stopped() {
    let sb = Sandbox::new("status_stopped");
    sb.check(&sb.sleeper("a")).run().expect_code(0);
    sb.expect_recorded("program");
    sb.stop(QUICK_LADDER).run().expect_code(0);
    expect_line(&sb.status().run(), 3, "stopped:");
}

#[test]
fn status_with_an_invalid_pidfile_is_4_unknown() {
    let sb = Sandbox::new("status_invalid");
    sb.write("app.pid", "abc\n");
    let run = sb.status().run();
    expect_line(&run, 4, "unknown:");
    run.ensure(
        run.all().contains(sb.pidfile().to_str().unwrap()),
        "the message names the PID file",
    );
}
