//! `watchdog run` (issue 8): the program in the foreground, launched as check would launch
//! it (environment, directory, umask, output files), exiting with the program's status
//! (128+N for a signal); refused while the job runs; recorded while it runs, so check does
//! not start a second copy; the job's mode put back afterwards.

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::{Sandbox, procfs};

#[test]
fn run_exits_with_the_programs_status_and_launches_it_as_check_would() {
    let sb = Sandbox::new("run-status");
    let dir = sb.path("work");
    std::fs::create_dir(&dir).unwrap();
    let prog = sb.prog("reports.sh", &["7"]);
    let run = sb
        .cmd("run")
        .args(["--umask", "027", "--env", "WD_TEST_VAR=a b"])
        .arg("--chdir")
        .arg(&dir)
        .program(&prog)
        .run();
    run.expect_code(7);
    run.ensure(
        run.err().contains("exited with status 7"),
        "run says how it ended",
    );
    assert_eq!(sb.read("reports.cwd").trim(), dir.to_str().unwrap());
    assert_eq!(sb.read("reports.umask").trim(), "0027");
    assert_eq!(sb.read("reports.env").trim(), "a b");
    // Output goes to the files, as under check, not to the terminal.
    assert!(sb.read("app.out").contains("stdout"), "{}", sb.report());
    assert!(sb.read("app.err").contains("stderr"), "{}", sb.report());
    run.ensure(
        !run.out().contains("reports"),
        "nothing of the program on run's stdout",
    );
    // Ended: no PID file, and the run does not count towards the crash-loop limit.
    assert_eq!(sb.recorded_pid(), None);
    let state = sb.read("app.pid.state");
    assert!(!state.contains("launches "), "{state}");
}

#[test]
fn a_signal_gives_128_plus_its_number() {
    let sb = Sandbox::new("run-signal");
    let prog = sb.prog("dies.sh", &["signal", "TERM"]);
    sb.cmd("run").program(&prog).run().expect_code(128 + 15);
}

#[test]
fn run_is_refused_while_the_job_runs() {
    let sb = Sandbox::new("run-refused");
    let prog = sb.sleeper("a");
    sb.start(&prog).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    let run = sb.cmd("run").program(&prog).run();
    run.expect_code(1);
    run.expect_error(&["already runs", &format!("pid {pid}")]);
    assert_eq!(sb.copies(&prog), vec![pid], "no second copy");
}

#[test]
fn while_it_runs_check_sees_it_and_ctrl_c_ends_it_with_130() {
    let sb = Sandbox::new("run-ctrl-c");
    let prog = sb.sleeper("a");
    // The job was stopped for debugging: the mode comes back when the run ends.
    sb.stop("TERM/1").run().expect_code(0);
    let running = sb.cmd("run").program(&prog).spawn();
    let pid = sb.wait_recorded("program run in the foreground");
    sb.wait_until("the program runs", || sb.copies(&prog) == vec![pid]);
    sb.check(&prog).run().expect_code(0).expect_silent();
    sb.status().run().expect_code(0);
    assert_eq!(sb.copies(&prog), vec![pid], "check started no second copy");
    // Ctrl-C: the terminal sends SIGINT to the watchdog, which passes it on.
    kill(Pid::from_raw(running.pid()), Signal::SIGINT).unwrap();
    let run = running.wait();
    run.expect_code(130);
    run.ensure(!procfs::is_alive(pid), "the program ended");
    let status = sb.status().run();
    status.expect_code(3);
    status.ensure(
        status.out().starts_with("stopped:"),
        "the job is stopped again",
    );
    sb.check(&prog).run().expect_code(0).expect_silent();
    assert_eq!(sb.copies(&prog), Vec::<i32>::new());
}

#[test]
fn a_stop_during_the_run_wins() {
    let sb = Sandbox::new("run-stopped");
    let prog = sb.sleeper("a");
    let running = sb.cmd("run").program(&prog).spawn();
    let pid = sb.wait_recorded("program");
    sb.stop("TERM/3").run().expect_code(0);
    let run = running.wait();
    run.expect_code(128 + 15);
    run.ensure(!procfs::is_alive(pid), "stopped");
    sb.status().run().expect_code(3);
}

#[test]
fn a_listed_exit_marks_the_job_stopped() {
    let sb = Sandbox::new("run-stay-down");
    let prog = sb.prog("reports.sh", &["2"]);
    let run = sb
        .cmd("run")
        .args(["--stay-down-on", "2"])
        .program(&prog)
        .run();
    run.expect_code(2);
    run.expect_mentions("--stay-down-on");
    let status = sb.status().run();
    status.expect_code(3);
    status.ensure(status.out().starts_with("stopped:"), "stopped");
}
