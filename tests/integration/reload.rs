//! `reload` (issue 8): the reload signal (HUP unless `--reload-signal`) to the verified
//! program, through kill's path; refused, with exit 1 and the reason, when the program
//! ignores it (nohup semantics: programs start with HUP ignored, and a shell script cannot
//! trap a signal ignored on entry) or has no handler and would die of it.

use crate::support::{QUICK_LADDER, Sandbox, procfs};

#[test]
fn reload_sends_hup_to_a_program_that_handles_it() {
    let sb = Sandbox::new("reload_hup");
    let prog = sb.prog("reloads.pl", &[]);
    sb.check(&prog).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    sb.wait_until("the handler is set", || sb.path("reloads.ready").exists());
    for n in 1..=2 {
        sb.cmd("reload").run().expect_code(0).expect_silent();
        sb.wait_until(&format!("HUP number {n} arrives"), || {
            sb.read("signals").lines().filter(|l| *l == "HUP").count() == n
        });
    }
    assert!(procfs::is_alive(pid), "{}", sb.report());
    assert!(
        sb.read("app.watchdog.log").contains("sent SIGHUP to"),
        "{}",
        sb.report()
    );
}

#[test]
fn reload_refuses_a_program_that_ignores_hup_as_nohup_left_it() {
    let sb = Sandbox::new("reload_ignored");
    // traps.sh sets `trap ... HUP`, but HUP was ignored when the shell started (the
    // watchdog's nohup semantics), and a shell cannot trap such a signal.
    let prog = sb.prog("traps.sh", &[]);
    sb.check(&prog).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    sb.wait_until("traps.sh set its traps", || sb.path("traps.ready").exists());
    let run = sb.cmd("reload").run();
    run.expect_code(1);
    run.expect_error(&[
        &format!("(pid {pid}) ignores SIGHUP"),
        "nohup",
        "watchdog kill HUP",
        "no signal sent",
    ]);
    run.ensure(procfs::is_alive(pid), "the program runs on");
    run.ensure(sb.read("signals").is_empty(), "nothing was delivered");
    // A signal it does handle is sent.
    sb.cmd("reload")
        .args(["--reload-signal", "USR1"])
        .run()
        .expect_code(0);
    sb.wait_until("USR1 arrives", || sb.read("signals") == "USR1\n");
}

#[test]
fn reload_refuses_a_signal_whose_default_action_would_end_the_program() {
    let sb = Sandbox::new("reload_deadly");
    let prog = sb.prog("reloads.pl", &[]);
    sb.check(&prog).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    sb.wait_until("the handler is set", || sb.path("reloads.ready").exists());
    let run = sb.cmd("reload").args(["--reload-signal", "USR1"]).run();
    run.expect_code(1);
    run.expect_error(&["has no handler for SIGUSR1", "would end it"]);
    run.ensure(procfs::is_alive(pid), "the program was not killed");
}

#[test]
fn reload_when_nothing_runs_exits_1() {
    let sb = Sandbox::new("reload_none");
    sb.cmd("reload").run().expect_code(1);
    let prog = sb.prog("reloads.pl", &[]);
    sb.check(&prog).run().expect_code(0);
    sb.expect_recorded("program");
    sb.stop(QUICK_LADDER).run().expect_code(0);
    let run = sb.cmd("reload").run();
    run.expect_code(1);
    run.expect_error(&["not running", "no signal sent"]);
}
