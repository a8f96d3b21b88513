//! `--program-writes-pidfile` (issue 8): a program that double-forks into the background
//! and writes its own PID file is recorded by the PID it wrote, with check, start, status,
//! kill, stop and watch mode; a program that exits or hangs without writing one is a failed
//! launch that leaves nothing behind; and a watchdog killed while it waits leaves a record
//! (the launcher) that the next run honours, so nothing is launched twice.

use std::ffi::OsString;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::{Sandbox, has_number, procfs};

const FLAG: &str = "--program-writes-pidfile";

/// `daemonizes.sh DIR PIDFILE MODE DELAY`
fn daemon(sb: &Sandbox, mode: &str, delay: &str) -> Vec<OsString> {
    let mut p = sb.prog("daemonizes.sh", &[]);
    p.push(sb.pidfile().into_os_string());
    p.push(mode.into());
    p.push(delay.into());
    p
}

/// The PID a line "ROLE PID" of DIR/launches names, once it is there.
fn launched_as(sb: &Sandbox, role: &str) -> i32 {
    sb.wait_for(&format!("the {role} logs its start"), || {
        sb.launches().iter().find_map(|l| {
            l.strip_prefix(role)
                .and_then(|p| p.trim().parse::<i32>().ok())
        })
    })
}

#[test]
fn a_double_forking_program_is_recorded_by_the_pid_it_writes() {
    let sb = Sandbox::new("pwp-double-fork");
    let prog = daemon(&sb, "ok", "0.2");
    let run = sb.check(&prog).arg(FLAG).run();
    run.expect_code(0);
    let d = sb.expect_recorded("daemon");
    let launcher = launched_as(&sb, "launcher");
    assert_eq!(launched_as(&sb, "daemon"), d, "{}", sb.report());
    assert_ne!(d, launcher, "the daemon is not the launched process");
    assert!(
        !procfs::is_alive(launcher),
        "the launcher exited (status 0)"
    );
    let st = procfs::stat(d).unwrap();
    assert_eq!(st.session, d, "the daemon left the launcher's session");
    run.ensure(
        run.err().contains(&format!("pid {d}")),
        "check names the daemon's PID",
    );
    let state = sb.read("app.pid.state");
    assert!(state.contains(&format!("\npid {d}\n")), "{state}");
    assert!(
        !state.contains("launcher "),
        "the launcher record is gone once the PID is known: {state}"
    );

    // Healthy from now on, like any recorded program.
    sb.check(&prog)
        .arg(FLAG)
        .run()
        .expect_code(0)
        .expect_silent();
    let status = sb.status().run();
    status.expect_code(0);
    status.ensure(
        status.out().contains(&format!("pid {d}")),
        "status names the daemon",
    );
    sb.kill("CONT").run().expect_code(0);
    let stop = sb.stop("TERM/3/KILL/3").run();
    stop.expect_code(0);
    stop.ensure(!procfs::is_alive(d), "stop ends the daemon");
    sb.check(&prog)
        .arg(FLAG)
        .run()
        .expect_code(0)
        .expect_silent();
    assert_eq!(
        sb.launches().len(),
        2,
        "no launch after the stop: {:?}",
        sb.launches()
    );
}

#[test]
fn a_dead_daemon_is_relaunched_and_its_stale_pid_file_replaced() {
    let sb = Sandbox::new("pwp-relaunch");
    let prog = daemon(&sb, "ok", "0");
    sb.start(&prog).arg(FLAG).run().expect_code(0);
    let first = sb.expect_recorded("first daemon");
    sb.kill_program(first);
    let run = sb.check(&prog).arg(FLAG).run();
    run.expect_code(0);
    let second = sb.expect_recorded("second daemon");
    assert_ne!(first, second);
    run.ensure(
        has_number(&run.err(), first) && has_number(&run.err(), second),
        "check names the old and the new daemon",
    );
}

#[test]
fn a_program_that_writes_its_own_pid_without_forking_is_watched_as_our_child() {
    let sb = Sandbox::new("pwp-self");
    let prog = daemon(&sb, "self", "0");
    sb.check(&prog).arg(FLAG).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    assert_eq!(pid, launched_as(&sb, "launcher"));
    sb.status().run().expect_code(0);
}

#[test]
fn a_launcher_that_fails_before_writing_is_a_failed_launch_with_its_status_and_stderr() {
    let sb = Sandbox::new("pwp-fail");
    let prog = daemon(&sb, "fail", "0");
    let run = sb
        .check(&prog)
        .arg(FLAG)
        .timeout(Duration::from_secs(10))
        .run();
    run.expect_code(1);
    run.expect_error(&[
        "exited with status 3",
        "without writing a usable PID",
        "bad config",
    ]);
    run.ensure(
        run.elapsed < Duration::from_millis(300) + Duration::from_secs(2),
        "fails at once",
    );
    assert_eq!(sb.recorded_pid(), None, "{}", sb.report());
    let state = sb.read("app.pid.state");
    assert!(!state.contains("launcher "), "{state}");
    // The next check tries again (it was not told to stay down).
    sb.check(&prog).arg(FLAG).run().expect_code(1);
    assert_eq!(sb.launches().len(), 2, "{:?}", sb.launches());
}

#[test]
fn a_launcher_that_exits_0_without_ever_writing_fails_after_the_grace_period() {
    let sb = Sandbox::new("pwp-nopid");
    let prog = daemon(&sb, "nopid", "0");
    let run = sb.check(&prog).arg(FLAG).run();
    run.expect_code(1);
    run.expect_error(&[
        "exited with status 0",
        "without writing a usable PID",
        "no PID file appeared",
    ]);
    run.ensure(
        run.elapsed >= Duration::from_millis(300),
        "it waited the grace period",
    );
}

#[test]
fn a_launcher_that_hangs_without_writing_is_killed_with_its_session() {
    let sb = Sandbox::new("pwp-hang");
    let prog = daemon(&sb, "hang", "0");
    let run = sb.check(&prog).arg(FLAG).run();
    run.expect_code(1);
    run.expect_error(&["ran on without writing", "it was killed"]);
    let launcher = launched_as(&sb, "launcher");
    run.ensure(!procfs::is_alive(launcher), "the launcher is gone");
    run.ensure(
        sb.our_processes().is_empty(),
        "nothing of the failed launch is left",
    );
}

#[test]
fn a_pid_file_naming_a_process_older_than_the_launch_is_not_accepted() {
    let sb = Sandbox::new("pwp-old-pid");
    // The "program" writes the PID of a process that was running before the launch.
    let old = sb.spawn_guarded(
        {
            let mut c = sb.command("/bin/sleep");
            c.arg("1000");
            c
        },
        "older process",
    );
    // Start times tick at 10 ms (USER_HZ 100), and a process of the same tick as the launch
    // is accepted (a daemon forks within the same tick): let a few ticks pass.
    let born = procfs::stat(old).unwrap().start_ticks;
    sb.wait_until(
        "a few clock ticks passed since the older process started",
        || {
            std::fs::read_to_string("/proc/uptime")
                .ok()
                .and_then(|u| u.split_whitespace().next()?.parse::<f64>().ok())
                .is_some_and(|secs| (secs * 100.0) as u64 > born + 3)
        },
    );
    let script = sb.write(
        "writes_old.sh",
        format!(
            "#!/bin/sh\necho \"launcher $$\" >> '{dir}/launches'\necho {old} > '{pidfile}'\nexit 0\n",
            dir = sb.root().display(),
            pidfile = sb.pidfile().display()
        ),
    );
    crate::support::sandbox::chmod(&script, 0o755);
    let run = sb.check(&[script.into_os_string()]).arg(FLAG).run();
    run.expect_code(1);
    run.expect_error(&["started before this launch"]);
    assert!(procfs::is_alive(old), "the older process was not touched");
}

#[test]
fn watch_mode_watches_the_daemon_by_pidfd_and_relaunches_it_at_once() {
    let sb = Sandbox::new("pwp-watch");
    let prog = daemon(&sb, "ok", "0");
    let watcher = sb.check(&prog).arg(FLAG).args(["--watch", "60s"]).spawn();
    let first = sb.wait_recorded("first daemon");
    sb.wait_until(
        "the launcher is reaped and the watcher sleeps in poll",
        || {
            std::fs::read_to_string(format!("/proc/{}/wchan", watcher.pid()))
                .is_ok_and(|w| w.contains("poll"))
                && sb
                    .read("app.pid.state")
                    .contains(&format!("\npid {first}\n"))
        },
    );
    sb.kill_program(first);
    let second = sb.wait_for("the watcher relaunches the daemon", || {
        sb.recorded_pid()
            .filter(|&p| p != first && procfs::is_alive(p))
    });
    sb.guard(second, "second daemon");
    // The watcher reaped each launcher: no zombie child is left while it watches.
    sb.wait_until("the watcher watches the second daemon", || {
        sb.read("app.pid.state")
            .contains(&format!("\npid {second}\n"))
    });
    let zombies: Vec<i32> = procfs::all_pids()
        .into_iter()
        .filter(|&p| procfs::stat(p).is_some_and(|s| s.ppid == watcher.pid() && s.state == 'Z'))
        .collect();
    assert!(
        zombies.is_empty(),
        "zombie children of the watcher: {zombies:?}"
    );
    kill(Pid::from_raw(watcher.pid()), Signal::SIGTERM).unwrap();
    let run = watcher.wait();
    run.expect_code(0);
    run.ensure(procfs::is_alive(second), "the daemon outlives the watcher");
    let log = sb.read("app.watchdog.log");
    assert!(log.contains(&format!("pid {first} exited")), "{log}");
}

#[test]
fn a_watchdog_killed_while_waiting_leaves_the_launcher_recorded_and_nothing_runs_twice() {
    let sb = Sandbox::new("pwp-killed-waiting");
    // The launcher waits 1.5 s before it forks: the watchdog is killed while it waits.
    let prog = daemon(&sb, "slow", "1.5");
    let running = sb
        .cmd("check")
        .args([FLAG, "--grace", "5s"])
        .program(&prog)
        .env("WATCHDOG_TEST_STOP_AT", "released")
        .spawn();
    let wd = running.pid();
    sb.wait_until("the watchdog stops itself after the release", || {
        procfs::stat(wd).is_some_and(|s| s.state == 'T')
    });
    let launcher = launched_as(&sb, "launcher");
    sb.guard(launcher, "launcher");
    let state = sb.read("app.pid.state");
    assert!(
        state.contains(&format!("\nlauncher {launcher} ")),
        "the launcher is on disk before it runs: {state}"
    );
    assert_eq!(sb.recorded_pid(), None, "no PID file yet");
    let _ = running.kill();

    // While the launcher lives, it counts as the program: no second launch.
    let run = sb.check(&prog).arg(FLAG).run();
    run.expect_code(0).expect_silent();
    let status = sb.status().run();
    status.expect_code(0);
    status.ensure(
        status.out().contains(&format!("pid {launcher}")),
        "status names the launcher",
    );

    // Once the daemon wrote its PID file, the next check adopts it, silently.
    let d = sb.wait_recorded("daemon");
    sb.wait_until("the launcher exits", || !procfs::is_alive(launcher));
    sb.check(&prog)
        .arg(FLAG)
        .run()
        .expect_code(0)
        .expect_silent();
    let state = sb.read("app.pid.state");
    assert!(state.contains(&format!("\npid {d}\n")), "adopted: {state}");
    assert!(!state.contains("launcher "), "{state}");
    let launchers = sb
        .launches()
        .iter()
        .filter(|l| l.starts_with("launcher"))
        .count();
    assert_eq!(launchers, 1, "launched once: {:?}", sb.launches());
    assert_eq!(sb.copies(&daemon_argv(&sb)), vec![d], "one daemon");
}

/// The daemon's own command line (`daemonizes.sh DIR PIDFILE daemon 0`).
fn daemon_argv(sb: &Sandbox) -> Vec<OsString> {
    daemon(sb, "daemon", "0")
}

#[test]
fn a_watchdog_killed_before_the_release_runs_nothing() {
    let sb = Sandbox::new("pwp-killed-held");
    let prog = daemon(&sb, "ok", "0");
    let running = sb
        .check(&prog)
        .arg(FLAG)
        .env("WATCHDOG_TEST_STOP_AT", "recorded")
        .spawn();
    let wd = running.pid();
    sb.wait_until("the watchdog stops itself before the release", || {
        procfs::stat(wd).is_some_and(|s| s.state == 'T')
    });
    let held = procfs::all_pids()
        .into_iter()
        .find(|&p| procfs::stat(p).is_some_and(|s| s.ppid == wd))
        .unwrap_or_else(|| sb.fail("no held child"));
    sb.guard(held, "held child");
    let _ = running.kill();
    sb.wait_until("the held child exits at EOF", || !procfs::is_alive(held));
    assert!(sb.launches().is_empty(), "{:?}", sb.launches());
    // Its launcher line names a dead process: the next check launches normally.
    sb.check(&prog).arg(FLAG).run().expect_code(0);
    sb.expect_recorded("daemon");
}
