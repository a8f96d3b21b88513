//! Any number of commands at once yield exactly one copy: parallel checks on a dead
//! program, checks racing a stop (stop wins until `start`), a mixed stress run. The lock
//! wait is bounded (exit 5 naming the holder), and the program never inherits the lock.

use crate::support::procfs;
use crate::support::{QUICK_LADDER, Sandbox, fork_lock, has_number};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn parallel_checks_on_a_dead_program_launch_exactly_one_copy() {
    let _fork = fork_lock();
    let sb = Sandbox::new("parallel_checks");
    let prog = sb.sleeper("a");
    sb.check(&prog).run().expect_code(0);
    let old = sb.expect_recorded("first copy");
    sb.kill_program(old);

    const N: usize = 8;
    let barrier = Barrier::new(N);
    let runs: Vec<_> = thread::scope(|s| {
        let handles: Vec<_> = (0..N)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    sb.check(&prog).run()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("check thread"))
            .collect()
    });
    let new = sb.expect_recorded("relaunched copy");
    let copies = sb.copies(&prog);
    for r in &runs {
        r.expect_code(0);
    }
    let loud: Vec<_> = runs.iter().filter(|r| !r.stderr.is_empty()).collect();
    assert!(
        copies == vec![new] && new != old,
        "expected exactly one copy, the recorded {new}; found {copies:?}\n{}",
        sb.report()
    );
    assert!(
        loud.len() == 1,
        "exactly one of the {N} checks relaunched (and said so); {} printed something:\n{}",
        loud.len(),
        loud.iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn stop_wins_against_concurrent_checks_until_start() {
    let _fork = fork_lock();
    let sb = Sandbox::new("stop_vs_check");
    let prog = sb.sleeper("a");
    sb.check(&prog).run().expect_code(0);
    let pid = sb.expect_recorded("program");

    let done = AtomicBool::new(false);
    let completed = AtomicUsize::new(0);
    let stop_returned: std::sync::Mutex<Option<Instant>> = std::sync::Mutex::new(None);
    let after_stop = AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                while !done.load(Ordering::SeqCst) {
                    let began = Instant::now();
                    let run = sb.check(&prog).run();
                    let ok = run.code() == Some(0) && run.pipes_closed;
                    let stopped_before = stop_returned.lock().unwrap().is_some_and(|t| t <= began);
                    if !ok || (stopped_before && (!run.stderr.is_empty() || !run.stdout.is_empty()))
                    {
                        failures.lock().unwrap().push(run.to_string());
                    }
                    if stopped_before {
                        after_stop.fetch_add(1, Ordering::SeqCst);
                    }
                    completed.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
        sb.wait_until("the check loops are running", || {
            completed.load(Ordering::SeqCst) >= 3
        });
        let stop = sb.stop(QUICK_LADDER).run();
        *stop_returned.lock().unwrap() = Some(Instant::now());
        stop.expect_code(0);
        stop.ensure(!procfs::is_alive(pid), "stop ended the program");
        // Let every loop run a few checks that began after stop returned.
        sb.wait_until("six checks ran after stop returned", || {
            after_stop.load(Ordering::SeqCst) >= 6
        });
        done.store(true, Ordering::SeqCst);
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} checks misbehaved (failed, or spoke after stop):\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        sb.copies(&prog).is_empty(),
        "a check relaunched after stop\n{}",
        sb.report()
    );
    assert!(
        !sb.pidfile().exists(),
        "the PID file came back after stop\n{}",
        sb.report()
    );
    let status = sb.status().run();
    status.expect_code(3);
    sb.start(&prog).run().expect_code(0);
    let new = sb.expect_recorded("started");
    assert_eq!(
        sb.copies(&prog),
        vec![new],
        "start launched one copy\n{}",
        sb.report()
    );
}

#[test]
fn a_lock_held_too_long_exits_5_naming_the_holder() {
    let sb = Sandbox::new("busy");
    let prog = sb.sleeper("a");
    let mut holder = sb.command("/usr/bin/flock");
    holder
        .arg(sb.lock_file())
        .args(["/bin/sh", "-c", "touch \"$0\"; exec sleep 1000"])
        .arg(sb.path("held"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    let flock = sb.spawn_guarded(holder, "flock holding the lock");
    sb.wait_until("flock holds the lock", || sb.path("held").exists());

    let run = sb.check(&prog).args(["--wait", "300ms"]).run();
    run.expect_code(5);
    run.ensure(
        has_number(&run.err(), flock),
        "the message names the holder's PID",
    );
    run.ensure(
        run.elapsed >= Duration::from_millis(300) && run.elapsed < Duration::from_secs(5),
        "it waits --wait, and not much longer",
    );
    sb.expect_nothing_launched(&run, &prog);

    // status takes the lock shared: an exclusive holder makes it busy too. LSB keeps
    // status codes within 0-4, so "busy" may be reported as 4 (unknown) there.
    let run = sb.status().args(["--wait", "300ms"]).run();
    run.expect_sane();
    run.ensure(
        matches!(run.code(), Some(4) | Some(5)),
        "status is busy (5) or unknown (4)",
    );
    run.ensure(
        has_number(&run.all(), flock),
        "the message names the holder's PID",
    );
}

#[test]
fn the_program_does_not_inherit_the_lock() {
    let sb = Sandbox::new("lock_not_inherited");
    let prog = sb.sleeper("a");
    sb.check(&prog).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    let run = sb.check(&prog).args(["--wait", "300ms"]).run();
    run.expect_code(0).expect_silent();
    let lock = sb.lock_file();
    for p in sb.our_processes() {
        for fd in procfs::fds(p) {
            let t = procfs::fd_target(p, fd);
            run.ensure(
                t.as_deref() != Some(lock.as_path()),
                &format!("process {p} (program {pid}'s session) holds the lock file on fd {fd}"),
            );
        }
    }
}

/// Many commands at once against one program for a bounded time; afterwards the state is
/// consistent: one copy named by the PID file (running), or none and no PID file
/// (stopped).
#[test]
fn stress_mixed_commands_end_in_a_consistent_state() {
    let _fork = fork_lock();
    let sb = Sandbox::new("stress");
    let prog = sb.sleeper("a");
    let deadline = Instant::now() + Duration::from_secs(3);
    let failures = std::sync::Mutex::new(Vec::new());
    thread::scope(|s| {
        for t in 0..4u64 {
            let (sb, prog, failures) = (&sb, &prog, &failures);
            s.spawn(move || {
                let mut x = t.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
                while Instant::now() < deadline {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let (what, run) = match x % 6 {
                        0 | 1 => ("check", sb.check(prog).run()),
                        2 => ("start", sb.start(prog).run()),
                        3 => ("stop", sb.stop(QUICK_LADDER).run()),
                        4 => ("status", sb.status().run()),
                        _ => (
                            "restart",
                            sb.cmd("restart")
                                .args(["--ladder", QUICK_LADDER, "--grace", "300ms"])
                                .program(prog)
                                .run(),
                        ),
                    };
                    let ok = match what {
                        "status" => matches!(run.code(), Some(0) | Some(3)),
                        _ => run.code() == Some(0),
                    };
                    // Guard whatever got recorded, at once.
                    if let Some(p) = sb
                        .recorded_pid()
                        .filter(|p| procfs::is_alive(*p) && sb.is_ours(*p))
                    {
                        sb.guard(p, "stress copy");
                    }
                    if !ok || !run.pipes_closed {
                        failures.lock().unwrap().push(format!("{what}:\n{run}"));
                    }
                }
            });
        }
    });
    for p in sb.copies(&prog) {
        sb.guard(p, "copy after stress");
    }
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let copies = sb.copies(&prog);
    let status = sb.status().run();
    match status.code() {
        Some(0) => {
            let pid = sb.expect_recorded("final copy");
            status.ensure(
                copies == vec![pid],
                &format!("running, but the copies are {copies:?}"),
            );
        }
        Some(3) => {
            status.ensure(
                copies.is_empty(),
                &format!("stopped, but copies run: {copies:?}"),
            );
            status.ensure(!sb.pidfile().exists(), "stopped, but the PID file exists");
        }
        _ => status.fail(&format!("inconsistent end state; copies: {copies:?}")),
    }
}
