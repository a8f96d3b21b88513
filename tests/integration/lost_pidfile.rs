//! The PID file lost track of a running program (deleted by a temp cleaner or a stray
//! `rm *.pid`, overwritten with garbage or another PID) while the state file still records
//! it with its start time. The record wins: no second copy is started, `stop` and `kill`
//! still reach the program, and check rewrites the PID file.

use std::fs;

use crate::support::{QUICK_LADDER, Sandbox, procfs};

fn lose(sb: &Sandbox, how: &str) {
    match how {
        "deleted" => fs::remove_file(sb.pidfile()).unwrap(),
        "garbage" => fs::write(sb.pidfile(), "garbage\n").unwrap(),
        // Another PID: our own test process, alive but not the program.
        "other pid" => fs::write(sb.pidfile(), format!("{}\n", std::process::id())).unwrap(),
        _ => unreachable!(),
    }
}

#[test]
fn check_rewrites_the_pid_file_instead_of_starting_a_second_copy() {
    for how in ["deleted", "garbage", "other pid"] {
        let sb = Sandbox::new("lost_pidfile_check");
        let prog = sb.sleeper("lost");
        sb.check(&prog).run().expect_code(0);
        let pid = sb.expect_recorded("program");
        sb.wait_until("the program started", || sb.launches().len() == 1);
        lose(&sb, how);

        let status = sb.status().run();
        status
            .expect_code(0)
            .expect_mentions(&format!("running: pid {pid}"));
        let run = sb.check(&prog).run();
        run.expect_code(0).expect_silent();
        run.ensure(
            sb.recorded_pid() == Some(pid),
            &format!("PID file {how}: check must rewrite it with the running program's PID"),
        );
        run.ensure(
            sb.copies(&prog) == vec![pid] && sb.launches().len() == 1,
            &format!("PID file {how}: no second copy may be started"),
        );
    }
}

#[test]
fn stop_reaches_a_program_whose_pid_file_was_deleted() {
    let sb = Sandbox::new("lost_pidfile_stop");
    let prog = sb.sleeper("lost");
    sb.check(&prog).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    fs::remove_file(sb.pidfile()).unwrap();
    sb.stop(QUICK_LADDER)
        .run()
        .expect_code(0)
        .expect_mentions(&format!("pid {pid}"));
    assert!(
        !procfs::is_alive(pid),
        "stop left the program running\n{}",
        sb.report()
    );
}
