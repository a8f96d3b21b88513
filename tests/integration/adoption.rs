//! PID files without companion state (written by hand, or by an older tool): the PID is
//! adopted only when its process started no later than the PID file was written; then its
//! identity is recorded so that later checks are exact. A process younger than the PID
//! file is a stranger that reused the PID. An adopted program that does not lead its own
//! session is signalled alone.

use crate::support::procfs;
use crate::support::{Decoy, QUICK_LADDER, Sandbox, has_number};
use std::fs::{File, FileTimes};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, SystemTime};

/// Sets a file's mtime to an hour ago (`touch -d '1 hour ago'`).
pub fn backdate(path: &Path) {
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_times(FileTimes::new().set_modified(hour_ago)))
        .unwrap_or_else(|e| panic!("backdate {}: {e}", path.display()));
}

#[test]
fn a_hand_started_program_is_adopted_and_its_identity_recorded() {
    let sb = Sandbox::new("adopt_hand_started");
    let prog = sb.sleeper("by-hand");
    let mut cmd = sb.command("/usr/bin/setsid");
    cmd.args(&prog).stdout(Stdio::null()).stderr(Stdio::null());
    let pid = sb.spawn_guarded(cmd, "hand-started program");
    sb.wait_until("the program started", || {
        has_number(&sb.read("launches"), pid)
    });
    assert_eq!(
        procfs::stat(pid).map(|s| s.session),
        Some(pid),
        "test premise: setsid ran the program as a session leader\n{}",
        sb.report()
    );
    // As a user would: after starting it.
    sb.write("app.pid", format!("{pid}\n"));
    assert!(!sb.state_file().exists(), "test premise: no state file");

    let run = sb.check(&prog).run();
    run.expect_code(0);
    run.ensure(
        sb.recorded_pid() == Some(pid),
        "the PID file still names the adopted program",
    );
    run.ensure(sb.copies(&prog) == vec![pid], "no second copy");
    run.ensure(sb.launches().len() == 1, "nothing was launched");
    run.ensure(
        sb.read("app.pid.state").starts_with("watchdog-state 1\n"),
        "adoption records the identity in the state file",
    );

    // The identity is recorded: the PID file's age no longer matters.
    backdate(&sb.pidfile());
    let run = sb.check(&prog).run();
    run.expect_code(0).expect_silent();
    run.ensure(
        sb.copies(&prog) == vec![pid],
        "still the adopted copy, no relaunch",
    );
    let status = sb.status().run();
    status.expect_code(0);
    status.ensure(
        status.out().contains(&format!("pid {pid}")),
        "status reports the adopted PID",
    );

    let run = sb.stop(QUICK_LADDER).run();
    run.expect_code(0);
    run.ensure(!procfs::is_alive(pid), "stop ended the adopted program");
}

#[test]
fn a_pidfile_older_than_its_process_names_a_stranger() {
    let sb = Sandbox::new("adopt_too_young");
    let mut decoy = Decoy::spawn(&sb, "stranger");
    sb.write("app.pid", format!("{}\n", decoy.pid()));
    backdate(&sb.pidfile());

    let status = sb.status().run();
    status.expect_code(1);
    status.ensure(
        status.out().starts_with("reused:"),
        "a process younger than the PID file is a stranger",
    );
    sb.kill("USR1").run().expect_code(1);
    decoy.assert_untouched(&sb, "after status and kill");

    let prog = sb.sleeper("fresh");
    let run = sb.check(&prog).run();
    run.expect_code(0);
    let new = sb.expect_recorded("fresh copy");
    run.ensure(new != decoy.pid(), "check launched a fresh copy");
    run.ensure(sb.copies(&prog) == vec![new], "exactly one copy");
    decoy.assert_untouched(&sb, "after check");
}

#[test]
fn an_adopted_program_that_does_not_lead_a_session_is_signalled_alone() {
    let sb = Sandbox::new("adopt_member");
    let prog = sb.sleeper("member");
    // The decoy leads the session and group; the program is a plain member of both.
    let (mut decoy, pid) = Decoy::spawn_with_child(&sb, "leader", &prog);
    sb.wait_until("the program started", || {
        has_number(&sb.read("launches"), pid)
    });
    sb.write("app.pid", format!("{pid}\n"));

    let run = sb.check(&prog).run();
    run.expect_code(0);
    run.ensure(
        sb.recorded_pid() == Some(pid) && sb.copies(&prog) == vec![pid],
        "adopted, no relaunch",
    );

    let run = sb.stop(QUICK_LADDER).run();
    run.expect_code(0);
    run.ensure(!procfs::is_alive(pid), "stop ended the adopted program");
    decoy.assert_untouched(&sb, "the session leader of an adopted non-leader");
}
