//! The watchdog run by an unprivileged user (`nobody`, through setpriv): it keeps its own
//! program alive; against root's program it gets clear permission errors and changes
//! nothing; it never adopts a root process's PID; unwritable PID directories and output
//! files are reported before anything is launched.

use crate::support::procfs;
use crate::support::sandbox::{chmod, chown_nobody};
use crate::support::{Decoy, QUICK_LADDER, Sandbox};
use std::fs;

#[test]
fn nobody_keeps_its_own_program_alive() {
    let sb = Sandbox::for_nobody("nobody_own");
    let prog = sb.sleeper("a");
    sb.check(&prog).by_nobody().run().expect_code(0);
    let pid = sb.expect_recorded("program");
    let uid = procfs::status_field(pid, "Uid").unwrap_or_default();
    assert!(
        uid.starts_with("65534"),
        "the program runs as nobody: Uid {uid}\n{}",
        sb.report()
    );
    sb.check(&prog)
        .by_nobody()
        .run()
        .expect_code(0)
        .expect_silent();
    sb.status().by_nobody().run().expect_code(0);
    sb.kill_program(pid);
    sb.check(&prog).by_nobody().run().expect_code(0);
    let new = sb.expect_recorded("relaunched");
    assert_ne!(new, pid, "relaunched\n{}", sb.report());
    let run = sb.stop(QUICK_LADDER).by_nobody().run();
    run.expect_code(0);
    run.ensure(!procfs::is_alive(new), "stopped");
}

#[test]
fn nobody_cannot_stop_or_kill_a_root_program_and_changes_nothing() {
    let sb = Sandbox::new("nobody_vs_root");
    chmod(sb.root(), 0o755);
    let prog = sb.sleeper("a");
    sb.start(&prog).run().expect_code(0);
    let pid = sb.expect_recorded("root's program");
    let pidfile_before = fs::read(sb.pidfile()).unwrap();
    for run in [
        sb.stop(QUICK_LADDER).by_nobody().run(),
        sb.kill("USR1").by_nobody().run(),
    ] {
        run.expect_code(1);
        let msg = run.all().to_lowercase();
        run.ensure(
            msg.contains("permission") || msg.contains("not permitted"),
            "a clear permission error",
        );
        run.ensure(procfs::is_alive(pid), "root's program is untouched");
        run.ensure(
            fs::read(sb.pidfile()).ok() == Some(pidfile_before.clone()),
            "the PID file is unchanged",
        );
    }
    let status = sb.status().run();
    status.expect_code(0);
    status.ensure(
        status.out().contains(&format!("pid {pid}")),
        "root still sees it running",
    );
}

#[test]
fn nobody_never_adopts_a_root_process() {
    let sb = Sandbox::for_nobody("nobody_no_adopt");
    let mut decoy = Decoy::spawn(&sb, "root-process");
    sb.write("app.pid", format!("{}\n", decoy.pid()));
    chown_nobody(&sb.pidfile());

    let status = sb.status().by_nobody().run();
    status.expect_sane();
    status.ensure(
        status.code() != Some(0),
        "a root process is not nobody's program",
    );
    sb.kill("USR1").by_nobody().run().expect_code(1);
    sb.stop(QUICK_LADDER).by_nobody().run().expect_sane();
    decoy.assert_untouched(&sb, "after status, kill and stop as nobody");

    // stop may have marked the job stopped; start launches regardless.
    let prog = sb.sleeper("own");
    let run = sb.start(&prog).by_nobody().run();
    run.expect_code(0);
    let new = sb.expect_recorded("nobody's copy");
    run.ensure(
        new != decoy.pid(),
        "a new copy was launched instead of adopting root's process",
    );
    run.ensure(
        procfs::status_field(new, "Uid")
            .unwrap_or_default()
            .starts_with("65534"),
        "the new copy is nobody's",
    );
    decoy.assert_untouched(&sb, "after start as nobody");
}

#[test]
fn nobody_check_never_adopts_a_root_process() {
    let sb = Sandbox::for_nobody("nobody_check_no_adopt");
    let mut decoy = Decoy::spawn(&sb, "root-process");
    sb.write("app.pid", format!("{}\n", decoy.pid()));
    chown_nobody(&sb.pidfile());
    let prog = sb.sleeper("own");
    let run = sb.check(&prog).by_nobody().run();
    run.expect_code(0);
    let new = sb.expect_recorded("nobody's copy");
    run.ensure(
        new != decoy.pid() && sb.copies(&prog) == vec![new],
        "check launched its own copy",
    );
    decoy.assert_untouched(&sb, "after check as nobody");
}

#[test]
fn nobody_pidfile_in_a_read_only_directory_launches_nothing() {
    let sb = Sandbox::for_nobody("nobody_ro_dir");
    let ro = sb.path("ro");
    fs::create_dir(&ro).unwrap();
    chmod(&ro, 0o755); // root's, not writable by nobody
    // A lock file nobody can use, so that the failure is the PID file's.
    let lock = sb.write("ro/app.pid.lock", "");
    chown_nobody(&lock);
    let pidfile = ro.join("app.pid");
    let prog = sb.sleeper("a");
    let run = sb.check_pidfile_at(&pidfile, &prog).by_nobody().run();
    run.expect_code(1)
        .expect_error(&[ro.to_str().unwrap(), "app.pid", "Permission denied"]);
    sb.expect_nothing_launched(&run, &prog);
}

#[test]
fn nobody_unwritable_output_file_is_reported_before_launch() {
    let sb = Sandbox::for_nobody("nobody_out_unwritable");
    let out = sb.write("root-owned.out", "root's\n");
    chmod(&out, 0o644);
    let prog = sb.sleeper("a");
    let run = sb.check(&prog).arg("--stdout").arg(&out).by_nobody().run();
    run.expect_code(1)
        .expect_error(&[out.to_str().unwrap(), "Permission denied"]);
    sb.expect_nothing_launched(&run, &prog);
    run.ensure(
        sb.read("root-owned.out") == "root's\n",
        "the file is untouched",
    );
}
