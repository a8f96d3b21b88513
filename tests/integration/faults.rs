//! Faults: the watchdog SIGKILLed during a launch (during the grace period, and at a
//! spread of moments from the very start) leaves at most one copy, recorded, and the next
//! check converges to exactly one; the lock dies with its holder; a lock file replaced or
//! deleted while held; a full disk while recording the PID.

use crate::support::procfs;
use crate::support::sandbox::read_strict_pid;
use crate::support::{Sandbox, has_number};
use std::ffi::OsStr;
use std::fs;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::Duration;

#[test]
fn watchdog_killed_during_grace_leaves_the_program_recorded_and_converges() {
    let sb = Sandbox::new("fault_kill_in_grace");
    let prog = sb.sleeper("a");
    let running = sb
        .cmd("check")
        .args(["--grace", "5s"])
        .program(&prog)
        .spawn();
    let pid = sb.wait_for("the PID file names a live process", || {
        sb.recorded_pid().filter(|p| procfs::is_alive(*p))
    });
    sb.guard(pid, "program");
    let killed = running.kill();
    killed.ensure(procfs::is_alive(pid), "the program survives its watchdog");
    killed.ensure(sb.recorded_pid() == Some(pid), "and stays recorded");

    // The lock died with its holder: this check is not busy.
    let run = sb.check(&prog).args(["--wait", "5s"]).run();
    run.expect_code(0);
    run.ensure(
        sb.recorded_pid() == Some(pid),
        "the recorded program is kept",
    );
    run.ensure(sb.copies(&prog) == vec![pid], "exactly one copy");
    let run = sb.check(&prog).run();
    run.expect_code(0).expect_silent();
    run.ensure(sb.copies(&prog) == vec![pid], "exactly one copy");
}

#[test]
fn watchdog_killed_at_any_moment_of_a_launch_converges_to_one_recorded_copy() {
    let sb = Sandbox::new("fault_kill_anywhere");
    for (i, delay_ms) in [0u64, 1, 2, 3, 5, 8, 12, 20, 35, 60, 100]
        .into_iter()
        .enumerate()
    {
        let prog = sb.sleeper(&format!("k{i}"));
        let pidfile = sb.path(format!("k{i}.pid"));
        let running = sb
            .wd(["check", "--grace", "2s", "--pidfile"])
            .arg(&pidfile)
            .program(&prog)
            .spawn();
        // Fault injection, not synchronisation: the kill lands somewhere in the launch.
        std::thread::sleep(Duration::from_millis(delay_ms));
        let killed = running.kill();
        for p in sb.copies(&prog) {
            sb.guard(p, "copy left by the killed watchdog");
        }
        let run = sb
            .wd(["check", "--grace", "300ms", "--wait", "5s", "--pidfile"])
            .arg(&pidfile)
            .program(&prog)
            .run();
        run.expect_code(0);
        let pid = read_strict_pid(&pidfile)
            .filter(|p| procfs::is_alive(*p))
            .unwrap_or_else(|| {
                run.fail(&format!(
                    "killed after {delay_ms} ms: the PID file names no live process"
                ))
            });
        sb.guard(pid, "recorded copy");
        // A launcher orphaned by the kill may take a moment to notice and exit; a stray
        // copy never goes away, so this wait cannot hide one.
        let converged = crate::support::wait::poll(crate::support::TIMEOUT, || {
            let strays: Vec<i32> = sb
                .our_processes()
                .into_iter()
                .filter(|p| {
                    procfs::stat(*p).is_some_and(|s| s.session != pid) && is_launch_of(*p, &prog)
                })
                .collect();
            (sb.copies(&prog) == vec![pid] && strays.is_empty()).then_some(())
        });
        if converged.is_none() {
            for p in sb.copies(&prog) {
                sb.guard(p, "stray copy");
            }
            run.fail(&format!(
                "killed after {delay_ms} ms: expected exactly one copy, the recorded {pid}; copies {:?}\nthe killed run:\n{killed}",
                sb.copies(&prog)
            ));
        }
    }
}

/// Whether `pid` belongs to the launch of `prog` (the program, or a watchdog launching it).
fn is_launch_of(pid: i32, prog: &[std::ffi::OsString]) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let tag = prog
        .last()
        .map(|a| a.as_bytes().to_vec())
        .unwrap_or_default();
    procfs::cmdline(pid).is_some_and(|argv| argv.contains(&tag))
}

/// A `flock -o LOCKFILE sh -c 'touch READY; exec sleep 1000'` holder; `-o` keeps the lock
/// fd out of the child, so killing flock alone releases the lock.
fn hold_lock(sb: &Sandbox, lock: &std::path::Path, ready: &str) -> i32 {
    let mut holder = sb.command("/usr/bin/flock");
    holder
        .arg("-o")
        .arg(lock)
        .args(["/bin/sh", "-c", "touch \"$0\"; exec sleep 1000"])
        .arg(sb.path(ready))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    let pid = sb.spawn_guarded(holder, &format!("flock on {}", lock.display()));
    sb.wait_until(&format!("{ready}: flock holds {}", lock.display()), || {
        sb.path(ready).exists()
    });
    pid
}

#[test]
fn a_lock_file_replaced_while_waiting_for_it_is_locked_again() {
    let sb = Sandbox::new("fault_lock_replaced");
    let prog = sb.sleeper("a");
    let first = hold_lock(&sb, &sb.lock_file(), "held-first");
    let mut waiting = sb.check(&prog).args(["--wait", "2s"]).spawn();
    let lock = sb.lock_file();
    let wpid = waiting.pid();
    // Wait until it has the lock file open (it then waits on the first inode). A watchdog
    // that reopens the path on every attempt would open the new inode anyway.
    crate::support::wait::poll(Duration::from_secs(2), || {
        procfs::fds(wpid)
            .into_iter()
            .any(|fd| procfs::fd_target(wpid, fd).as_deref() == Some(lock.as_path()))
            .then_some(())
    });
    assert!(
        waiting.is_running(),
        "test premise: the check waits for the lock\n{}",
        sb.report()
    );
    // Replace the lock file with a new inode, held by a second holder...
    let new = sb.path("app.pid.lock.new");
    let second = hold_lock(&sb, &new, "held-second");
    fs::rename(&new, &lock).unwrap();
    // ...then release the old one: the waiting check gets a lock on an inode that is no
    // longer the lock file, and must notice and wait for the real one.
    sb.kill_program(first);
    let run = waiting.wait();
    run.expect_code(5);
    run.ensure(
        has_number(&run.err(), second),
        "busy, naming the holder of the current lock file",
    );
    sb.expect_nothing_launched(&run, &prog);
}

#[test]
fn a_lock_file_deleted_while_held_does_not_wedge_later_runs() {
    let sb = Sandbox::new("fault_lock_deleted");
    let prog = sb.sleeper("a");
    hold_lock(&sb, &sb.lock_file(), "held");
    fs::remove_file(sb.lock_file()).unwrap();
    let run = sb.check(&prog).args(["--wait", "2s"]).run();
    run.expect_code(0);
    let pid = sb.expect_recorded("program");
    run.ensure(sb.lock_file().exists(), "the lock file is created again");
    let run = sb.check(&prog).args(["--wait", "2s"]).run();
    run.expect_code(0).expect_silent();
    run.ensure(sb.copies(&prog) == vec![pid], "one copy");
}

#[test]
fn a_full_disk_while_recording_launches_nothing_and_names_the_cause() {
    let sb = Sandbox::new("fault_disk_full");
    let full = sb.path("full");
    fs::create_dir(&full).unwrap();
    let pidfile = full.join("app.pid");
    let prog = sb.sleeper("a");
    // A private mount namespace with a small tmpfs, filled up; the watchdog runs in it.
    let setup = "mount -t tmpfs -o size=64k,mode=0755 watchdog-it-full \"$1\" || exit 97; \
                 head -c 1M /dev/zero > \"$1/filler\" 2>/dev/null; \
                 if echo x > \"$1/probe\" 2>/dev/null; then exit 98; fi; rm -f \"$1/probe\"; \
                 shift; exec \"$@\"";
    let run = sb
        .check_pidfile_at(&pidfile, &prog)
        .wrap([
            OsStr::new("/usr/bin/unshare"),
            OsStr::new("--mount"),
            OsStr::new("/bin/sh"),
            OsStr::new("-c"),
            OsStr::new(setup),
            OsStr::new("sh"),
            full.as_os_str(),
        ])
        .run();
    run.ensure(
        !matches!(run.code(), Some(97) | Some(98)),
        "test premise: the tmpfs is mounted and full",
    );
    run.expect_code(1).expect_error(&[
        full.to_str().unwrap(),
        "app.pid",
        "No space left on device",
    ]);
    sb.expect_nothing_launched(&run, &prog);
}

/// The lock file deleted while a run holds it: a second run creates and locks a new one
/// and launches; the first run must notice before it records anything, and stop. Uses the
/// watchdog's fault point `WATCHDOG_TEST_STOP_AT=forked` (see `src/fault.rs`) to hold the
/// first run still while it holds the lock, between its fork and its first write.
#[test]
fn a_run_whose_lock_file_was_deleted_stops_before_acting_twice() {
    let sb = Sandbox::new("fault_lock_deleted_held");
    let prog = sb.sleeper("a");
    let first = sb
        .check(&prog)
        .env("WATCHDOG_TEST_STOP_AT", "forked")
        .spawn();
    let first_pid = first.pid();
    sb.wait_until("the first run stops itself at the fault point", || {
        procfs::stat(first_pid).is_some_and(|s| s.state == 'T')
    });
    fs::remove_file(sb.lock_file()).unwrap();

    let second = sb.check(&prog).args(["--wait", "2s"]).run();
    second.expect_code(0);
    let pid = sb.expect_recorded("the second run's copy");

    // The test's own child: resume it.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first_pid),
        nix::sys::signal::Signal::SIGCONT,
    )
    .expect("SIGCONT the first run");
    let first = first.wait();
    first.expect_code(1);
    first.ensure(
        first.err().contains(sb.lock_file().to_str().unwrap()),
        "the first run names the lock file it lost",
    );
    let converged = crate::support::wait::poll(crate::support::TIMEOUT, || {
        (sb.copies(&prog) == vec![pid]).then_some(())
    });
    if converged.is_none() {
        for p in sb.copies(&prog) {
            sb.guard(p, "second copy");
        }
        first.fail(&format!(
            "two runs each believed they held the lock: copies {:?}, recorded {pid}",
            sb.copies(&prog)
        ));
    }
    first.ensure(
        sb.recorded_pid() == Some(pid),
        "the PID file still names the second run's copy",
    );
}
