//! Whether a recorded PID is still the program: the state file's identity (start time and
//! boot id), not the PID alone. A zombie is dead; a comm with spaces and ')' does not
//! confuse the /proc/PID/stat parser; a new boot id invalidates every record; with a
//! matching identity the PID file's age is irrelevant.

use crate::adoption::backdate;
use crate::support::decoy::decoy_program;
use crate::support::procfs;
use crate::support::{Decoy, QUICK_LADDER, Sandbox, args, fixture};
use std::fs;
use std::os::unix::fs::PermissionsExt;

#[test]
fn a_zombie_is_dead() {
    let sb = Sandbox::new("identity_zombie");
    // The test's own child, never waited for until the sandbox is dropped: a zombie.
    let zombie = sb.spawn_guarded(sb.command("/bin/true"), "zombie");
    sb.wait_until("the child is a zombie", || {
        procfs::stat(zombie).is_some_and(|s| s.state == 'Z')
    });
    sb.write("app.pid", format!("{zombie}\n"));

    let status = sb.status().run();
    status.expect_code(1);
    status.ensure(status.out().starts_with("dead:"), "a zombie is dead");
    sb.kill("USR1").run().expect_code(1);

    let prog = sb.sleeper("a");
    let run = sb.check(&prog).run();
    run.expect_code(0);
    let new = sb.expect_recorded("relaunched copy");
    run.ensure(
        new != zombie && sb.copies(&prog) == vec![new],
        "check relaunched",
    );
}

#[test]
fn a_comm_with_parenthesis_and_spaces_does_not_confuse_the_stat_parser() {
    let sb = Sandbox::new("identity_comm");
    // The kernel names a script's process after the script: comm becomes "x) Z 1 1 1 1 1",
    // which a parser splitting /proc/PID/stat at the first ')' reads as a zombie.
    let script = sb.path("x) Z 1 1 1 1 1");
    fs::copy(fixture("sleeper.sh"), &script).unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let prog = args([script.as_os_str(), sb.root().as_os_str()]);
    sb.check(&prog).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    let comm = procfs::stat(pid).map(|s| s.comm).unwrap_or_default();
    assert_eq!(
        comm,
        "x) Z 1 1 1 1 1",
        "test premise: the comm\n{}",
        sb.report()
    );

    for _ in 0..2 {
        let run = sb.check(&prog).run();
        run.expect_code(0).expect_silent();
        run.ensure(sb.copies(&prog) == vec![pid], "no relaunch");
    }
    let status = sb.status().run();
    status.expect_code(0);
    status.ensure(
        status.out().contains(&format!("pid {pid}")),
        "running, with its PID",
    );
    let run = sb.stop(QUICK_LADDER).run();
    run.expect_code(0);
    run.ensure(!procfs::is_alive(pid), "stopped");
}

#[test]
fn with_a_matching_identity_the_pidfile_age_does_not_matter() {
    let sb = Sandbox::new("identity_mtime");
    let prog = sb.sleeper("a");
    sb.check(&prog).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    backdate(&sb.pidfile());
    let run = sb.check(&prog).run();
    run.expect_code(0).expect_silent();
    run.ensure(
        sb.copies(&prog) == vec![pid],
        "the recorded identity matches: no relaunch",
    );
    sb.status().run().expect_code(0);
}

#[test]
fn a_new_boot_id_invalidates_the_recorded_identity() {
    let sb = Sandbox::new("identity_boot_id");
    let old_log = sb.path("old.signals");
    sb.check(&decoy_program(&old_log)).run().expect_code(0);
    let pid = sb.expect_recorded("program (a decoy)");
    let mut old = Decoy::attach(&sb, pid, old_log);

    let boot = procfs::boot_id();
    let state = sb.read("app.pid.state");
    let fake = "00000000-0000-4000-8000-000000000000";
    let forged = if state.contains(&boot) {
        state.replace(&boot, fake)
    } else if state.contains(&boot.replace('-', "")) {
        state.replace(&boot.replace('-', ""), &fake.replace('-', ""))
    } else {
        sb.fail(&format!(
            "the state file does not record the boot id {boot}"
        ));
    };
    sb.write("app.pid.state", forged);
    // After a real reboot the PID file also predates every process.
    backdate(&sb.pidfile());

    let status = sb.status().run();
    status.expect_sane();
    status.ensure(
        status.code() != Some(0),
        "a record from another boot is not running",
    );
    let new_log = sb.path("new.signals");
    let run = sb.check(&decoy_program(&new_log)).run();
    run.expect_code(0);
    let new = sb.expect_recorded("relaunched copy");
    run.ensure(new != pid, "check launched a fresh copy");
    old.assert_untouched(&sb, "the process recorded in the previous boot");
}
