//! `kill SIGNAL`: sends one signal to the verified program (every spelling: `USR1`,
//! `SIGUSR1`, `usr1`, `10`), exit 0; exit 1 when nothing runs; a bad name is a usage error.

use crate::support::{QUICK_LADDER, Sandbox};

#[test]
fn kill_delivers_the_signal_in_every_spelling() {
    let sb = Sandbox::new("kill_spellings");
    let prog = sb.prog("traps.sh", &[]);
    sb.check(&prog).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    sb.wait_until("traps.sh set its traps", || sb.path("traps.ready").exists());
    for (n, spelling) in ["USR1", "SIGUSR1", "usr1", "10"].iter().enumerate() {
        let run = sb.kill(spelling).run();
        run.expect_code(0);
        sb.wait_until(
            &format!("USR1 number {} (sent as {spelling}) arrives", n + 1),
            || sb.read("signals").lines().filter(|l| *l == "USR1").count() == n + 1,
        );
    }
    assert_eq!(
        sb.read("signals"),
        "USR1\nUSR1\nUSR1\nUSR1\n",
        "only USR1 was delivered\n{}",
        sb.report()
    );
    assert!(
        crate::support::procfs::is_alive(pid),
        "the program survived\n{}",
        sb.report()
    );
}

#[test]
fn kill_when_never_started_exits_1() {
    let sb = Sandbox::new("kill_never");
    sb.kill("USR1").run().expect_code(1);
}

#[test]
fn kill_after_the_program_died_exits_1() {
    let sb = Sandbox::new("kill_dead");
    sb.check(&sb.sleeper("a")).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    sb.kill_program(pid);
    sb.kill("USR1").run().expect_code(1);
}

#[test]
fn kill_after_stop_exits_1() {
    let sb = Sandbox::new("kill_stopped");
    sb.check(&sb.sleeper("a")).run().expect_code(0);
    sb.expect_recorded("program");
    sb.stop(QUICK_LADDER).run().expect_code(0);
    sb.kill("USR1").run().expect_code(1);
}

#[test]
fn kill_with_an_unknown_signal_name_is_a_usage_error() {
    let sb = Sandbox::new("kill_bad_name");
    let prog = sb.prog("traps.sh", &[]);
    sb.check(&prog).run().expect_code(0);
    sb.expect_recorded("program");
    sb.wait_until("traps.sh set its traps", || sb.path("traps.ready").exists());
    for bad in ["NOSUCHSIG", "SIGFOO", "999"] {
        let run = sb.kill(bad).run();
        run.expect_code(2);
    }
    assert_eq!(
        sb.read("signals"),
        "",
        "nothing was delivered\n{}",
        sb.report()
    );
}
