//! `--stop-command` (issue 8, servolux's shutdown_command): run first, with WATCHDOG_PID,
//! by stop, restart and a health restart; the ladder follows when the program outlives the
//! ladder's first step's time, or at once when the command fails; a hung command is killed.

use std::time::Duration;

use crate::support::{QUICK_LADDER, Sandbox, procfs};

/// The stop command that stops `stops_by_file.sh`: it writes the PID it was given.
fn quit_cmd(sb: &Sandbox) -> String {
    format!("echo \"$WATCHDOG_PID\" > {}/quit", sb.root().display())
}

#[test]
fn stop_runs_the_stop_command_with_the_pid_and_needs_no_signal() {
    let sb = Sandbox::new("stopcmd_honoured");
    let prog = sb.prog("stops_by_file.sh", &[]);
    sb.check(&prog).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    // The program ignores INT and TERM: only its stop command (or KILL) ends it.
    let run = sb
        .stop("TERM/3/KILL/3")
        .args(["--stop-command", &quit_cmd(&sb)])
        .run();
    run.expect_code(0);
    run.ensure(
        run.out()
            .contains(&format!("(pid {pid}) with its --stop-command")),
        "stop says the command did it",
    );
    run.ensure(!procfs::is_alive(pid), "the program is gone");
    run.ensure(
        sb.read("quit").trim() == pid.to_string(),
        "the command got WATCHDOG_PID",
    );
    run.ensure(
        sb.read("quits").trim() == format!("quit {pid}"),
        "the program ended on its own",
    );
    run.ensure(
        run.elapsed < Duration::from_millis(2500),
        "no ladder step was waited out",
    );
    let log = sb.read("app.watchdog.log");
    run.ensure(
        log.contains("running --stop-command") && !log.contains("sending SIG"),
        "the event log has the command and no signal",
    );
    sb.status().run().expect_code(3);
}

#[test]
fn a_stop_command_that_leaves_the_program_running_falls_back_to_the_ladder() {
    let sb = Sandbox::new("stopcmd_fallback");
    let prog = sb.sleeper("s");
    sb.check(&prog).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    let run = sb
        .stop("INT/0.5/KILL/3")
        .args(["--stop-command", "echo asked nicely"])
        .run();
    run.expect_code(0);
    run.ensure(run.out().contains("with SIGINT"), "the ladder stopped it");
    run.ensure(!procfs::is_alive(pid), "the program is gone");
    run.ensure(
        run.elapsed >= Duration::from_millis(450),
        "the program had the first step's time to go",
    );
    run.ensure(
        !run.all().contains("asked nicely"),
        "the command's output is not on stdout or stderr",
    );
    let log = sb.read("app.watchdog.log");
    run.ensure(
        log.contains("exited with status 0: asked nicely")
            && log.contains("still runs after 500ms: using the stop ladder"),
        "the event log says what the command did and why the ladder followed",
    );
}

#[test]
fn a_failing_stop_command_goes_to_the_ladder_at_once() {
    let sb = Sandbox::new("stopcmd_fails");
    let prog = sb.sleeper("s");
    sb.check(&prog).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    let run = sb
        .stop("INT/5/KILL/3")
        .args(["--stop-command", "echo no such service >&2; exit 3"])
        .run();
    run.expect_code(0);
    run.ensure(run.out().contains("with SIGINT"), "the ladder stopped it");
    run.ensure(!procfs::is_alive(pid), "the program is gone");
    run.ensure(
        run.elapsed < Duration::from_secs(4),
        "the first step's 5 s were not waited out",
    );
    run.ensure(
        sb.read("app.watchdog.log")
            .contains("exited with status 3: no such service"),
        "the event log has the failure",
    );
}

#[test]
fn a_hung_stop_command_is_killed_and_the_ladder_follows() {
    let sb = Sandbox::new("stopcmd_hangs");
    let prog = sb.sleeper("s");
    sb.check(&prog).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    let run = sb
        .stop("INT/0.3/KILL/3")
        .args(["--stop-command", "sleep 30"])
        .run();
    run.expect_code(0);
    run.ensure(!procfs::is_alive(pid), "the program is gone");
    run.ensure(
        run.elapsed < Duration::from_secs(5),
        "the command was not waited for",
    );
    run.ensure(
        sb.read("app.watchdog.log")
            .contains("was still running after 300ms, so it was killed"),
        "the event log says the command was killed",
    );
}

#[test]
fn restart_uses_the_stop_command() {
    let sb = Sandbox::new("stopcmd_restart");
    let prog = sb.prog("stops_by_file.sh", &[]);
    sb.start(&prog).run().expect_code(0);
    let old = sb.expect_recorded("first copy");
    let run = sb
        .cmd("restart")
        .args([
            "--ladder",
            QUICK_LADDER,
            "--grace",
            "300ms",
            "--stop-command",
            // Let the next copy run: remove the cue once the old copy has seen it.
            &format!(
                "{} && while kill -0 $WATCHDOG_PID 2>/dev/null; do sleep 0.02; done; rm {}/quit",
                quit_cmd(&sb),
                sb.root().display()
            ),
        ])
        .program(&prog)
        .run();
    run.expect_code(0);
    let new = sb.expect_recorded("restarted copy");
    run.ensure(new != old && !procfs::is_alive(old), "replaced");
    run.ensure(
        sb.read("quits").trim() == format!("quit {old}"),
        "the old copy ended through its stop command",
    );
    run.ensure(
        sb.read("app.watchdog.log")
            .contains("with its --stop-command"),
        "logged",
    );
}
