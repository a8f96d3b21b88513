//! Health while running (issue 8): `--healthy-when-cmd` and `--healthy-when-port` at each
//! check, `--unhealthy-after N` failures in a row before a restart through the stop ladder,
//! one line on stderr for the restart and nothing for a failure below the limit, a healthy
//! program left alone, a pass clearing the count, a hung probe killed at its timeout, and
//! watch mode probing as the watch starts.

use std::ffi::OsString;
use std::time::Duration;

use crate::support::{Sandbox, procfs};

/// The health command of most tests: it fails for the program whose PID is in DIR/hang
/// (so the test can hang one instance, and its replacement is healthy again).
fn hang_cmd(sb: &Sandbox) -> String {
    format!(
        "test \"$(cat {}/hang 2>/dev/null)\" != \"$WATCHDOG_PID\"",
        sb.root().display()
    )
}

fn check_with_cmd<'a>(
    sb: &'a Sandbox,
    prog: &[OsString],
    n: &str,
) -> crate::support::sandbox::Wd<'a> {
    sb.check(prog).args([
        "--healthy-when-cmd",
        &hang_cmd(sb),
        "--unhealthy-after",
        n,
        "--ladder",
        "INT/2/KILL/3",
    ])
}

/// A free TCP port on 127.0.0.1 (bound, read, released).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

#[test]
fn a_program_failing_its_health_command_is_restarted_after_n_failures_in_a_row() {
    let sb = Sandbox::new("health_cmd_restart");
    let prog = sb.sleeper("h");
    check_with_cmd(&sb, &prog, "2").run().expect_code(0);
    let first = sb.expect_recorded("first copy");
    // Healthy: silent, untouched.
    check_with_cmd(&sb, &prog, "2")
        .run()
        .expect_code(0)
        .expect_silent();
    assert_eq!(sb.recorded_pid(), Some(first));

    // It hangs: the first failure is counted and logged, not mailed.
    sb.write("hang", first.to_string());
    let run = check_with_cmd(&sb, &prog, "2").run();
    run.expect_code(0).expect_silent();
    run.ensure(sb.recorded_pid() == Some(first), "not restarted yet");
    run.ensure(
        sb.read("app.pid.state")
            .contains(&format!("unhealthy 1 {first} ")),
        "the failure is counted in the state file",
    );
    run.ensure(
        sb.read("app.watchdog.log")
            .contains("failed its health check (1 of 2 in a row before a restart)"),
        "the event log says so",
    );

    // The second failure in a row restarts it, with one line saying why.
    let run = check_with_cmd(&sb, &prog, "2").run();
    run.expect_code(0);
    let second = sb.expect_recorded("restarted copy");
    run.ensure(second != first, "a new PID");
    run.ensure(!procfs::is_alive(first), "the hung copy is gone");
    run.ensure(sb.copies(&prog) == vec![second], "exactly one copy");
    let err = run.err();
    run.ensure(
        err.lines().count() == 1
            && err.contains(&format!(
                "(pid {first}) failed its health check 2 times in a row"
            ))
            && err.contains("stopped it with SIGINT")
            && err.contains(&format!("relaunched it as pid {second}")),
        "one line on stderr says why and what was done",
    );
    run.ensure(run.out().is_empty(), "nothing on stdout");
    run.ensure(
        !sb.read("app.pid.state").contains("unhealthy"),
        "the count went with the old program",
    );

    // The new copy is healthy: left alone.
    check_with_cmd(&sb, &prog, "2")
        .run()
        .expect_code(0)
        .expect_silent();
    assert_eq!(sb.recorded_pid(), Some(second), "{}", sb.report());
}

#[test]
fn a_healthy_program_is_left_alone() {
    let sb = Sandbox::new("health_port_healthy");
    let port = free_port().to_string();
    let prog = sb.prog("serves.pl", &[&port]);
    let args = [
        "--healthy-when-port",
        port.as_str(),
        "--unhealthy-after",
        "1",
    ];
    sb.check(&prog).args(args).run().expect_code(0);
    let pid = sb.expect_recorded("server");
    sb.wait_until("the server listens", || {
        sb.path(format!("serving.{pid}")).exists()
    });
    for _ in 0..3 {
        sb.check(&prog)
            .args(args)
            .run()
            .expect_code(0)
            .expect_silent();
    }
    assert_eq!(sb.recorded_pid(), Some(pid), "{}", sb.report());
    assert_eq!(sb.launches().len(), 1, "{}", sb.report());
    let log = sb.read("app.watchdog.log");
    assert!(
        !log.contains("health check"),
        "nothing about health logged: {log}"
    );
    assert!(
        !sb.read("app.pid.state").contains("unhealthy"),
        "{}",
        sb.report()
    );
}

#[test]
fn a_server_that_stops_accepting_on_its_port_is_restarted() {
    let sb = Sandbox::new("health_port_restart");
    let port = free_port().to_string();
    let prog = sb.prog("serves.pl", &[&port]);
    let args = [
        "--healthy-when-port",
        port.as_str(),
        "--unhealthy-after",
        "2",
        "--ladder",
        "TERM/2/KILL/3",
    ];
    sb.check(&prog).args(args).run().expect_code(0);
    let first = sb.expect_recorded("server");
    sb.wait_until("the server listens", || {
        sb.path(format!("serving.{first}")).exists()
    });
    sb.write("hang", first.to_string());
    sb.wait_until("the port refuses connections", || {
        std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).is_err()
    });
    sb.check(&prog)
        .args(args)
        .run()
        .expect_code(0)
        .expect_silent();
    let run = sb.check(&prog).args(args).run();
    run.expect_code(0);
    run.expect_error(&[
        "failed its health check 2 times in a row",
        &format!("no connection to 127.0.0.1:{port}"),
        "stopped it with SIGTERM",
    ]);
    let second = sb.expect_recorded("restarted server");
    run.ensure(second != first && !procfs::is_alive(first), "replaced");
    sb.wait_until("the new server listens", || {
        sb.path(format!("serving.{second}")).exists()
    });
    sb.check(&prog)
        .args(args)
        .run()
        .expect_code(0)
        .expect_silent();
    assert_eq!(sb.recorded_pid(), Some(second), "{}", sb.report());
}

#[test]
fn a_passing_check_clears_the_count() {
    let sb = Sandbox::new("health_clears");
    let prog = sb.sleeper("h");
    check_with_cmd(&sb, &prog, "3").run().expect_code(0);
    let pid = sb.expect_recorded("program");
    sb.write("hang", pid.to_string());
    check_with_cmd(&sb, &prog, "3")
        .run()
        .expect_code(0)
        .expect_silent();
    check_with_cmd(&sb, &prog, "3")
        .run()
        .expect_code(0)
        .expect_silent();
    assert!(
        sb.read("app.pid.state")
            .contains(&format!("unhealthy 2 {pid} "))
    );
    sb.write("hang", "");
    check_with_cmd(&sb, &prog, "3")
        .run()
        .expect_code(0)
        .expect_silent();
    assert!(
        !sb.read("app.pid.state").contains("unhealthy"),
        "{}",
        sb.report()
    );
    assert!(
        sb.read("app.watchdog.log")
            .contains("passed its health check again, after 2 failed in a row"),
        "{}",
        sb.report()
    );
    // Failing again starts from one: no restart at the next failure.
    sb.write("hang", pid.to_string());
    check_with_cmd(&sb, &prog, "3")
        .run()
        .expect_code(0)
        .expect_silent();
    assert_eq!(sb.recorded_pid(), Some(pid), "{}", sb.report());
}

#[test]
fn a_health_command_that_hangs_is_killed_at_the_timeout_and_its_output_stays_out_of_the_mail() {
    let sb = Sandbox::new("health_timeout");
    let prog = sb.sleeper("h");
    let args = [
        "--healthy-when-cmd",
        "echo probing; sleep 30",
        "--health-timeout",
        "300ms",
        "--unhealthy-after",
        "5",
    ];
    sb.check(&prog).args(args).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    let run = sb.check(&prog).args(args).run();
    run.expect_code(0).expect_silent();
    run.ensure(
        run.elapsed < Duration::from_secs(5),
        "the check ended soon after the timeout",
    );
    let log = sb.read("app.watchdog.log");
    run.ensure(
        log.contains("was still running after 300ms, so it was killed: probing"),
        "the event log has the timeout and the command's output",
    );
    assert_eq!(sb.recorded_pid(), Some(pid));
}

#[test]
fn watch_mode_probes_as_the_watch_starts_and_the_watch_relaunches() {
    let sb = Sandbox::new("health_watch");
    let prog = sb.sleeper("h");
    check_with_cmd(&sb, &prog, "1").run().expect_code(0);
    let first = sb.expect_recorded("first copy");
    sb.write("hang", first.to_string());
    let run = check_with_cmd(&sb, &prog, "1")
        .args(["--watch", "500ms"])
        .run();
    run.expect_code(0);
    run.expect_error(&[
        &format!("(pid {first}) failed its health check"),
        "the watch relaunches it",
    ]);
    let second = sb.expect_recorded("relaunched by the watch");
    run.ensure(second != first && !procfs::is_alive(first), "replaced");
    run.ensure(sb.copies(&prog) == vec![second], "one copy");
}
