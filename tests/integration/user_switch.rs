//! `--user NAME` (issue 8): as root, the program runs as the user, its primary group and
//! its supplementary groups, with HOME/USER/LOGNAME set; output files in the user's
//! directories are opened as the user (so one the user cannot write is a clear launch
//! error), while root opens those in directories only root controls; a non-root caller gets
//! an error and nothing runs. The suite runs as root (see main.rs).

use std::ffi::{CString, OsString};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use crate::support::sandbox::{chmod, chown_nobody, nobody};
use crate::support::{Sandbox, procfs};

/// A sandbox whose root (PID, state, lock and log files) is root's, with a subdirectory
/// `u` that nobody owns, for the program's own files.
fn sandbox(name: &str) -> (Sandbox, PathBuf) {
    let sb = Sandbox::new(name);
    chmod(sb.root(), 0o755);
    let u = sb.path("u");
    std::fs::create_dir(&u).unwrap();
    chown_nobody(&u);
    (sb, u)
}

/// `sleeper.sh U TAG`: the fixture logs its start in U, which nobody can write.
fn sleeper_in(u: &std::path::Path) -> Vec<OsString> {
    vec![
        crate::support::fixture("sleeper.sh").into_os_string(),
        u.as_os_str().to_owned(),
        "as-user".into(),
    ]
}

fn ids(pid: i32, field: &str) -> Vec<u32> {
    procfs::status_field(pid, field)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect()
}

#[test]
fn the_program_runs_as_the_user_with_its_groups_and_files() {
    let (sb, u) = sandbox("user-nobody");
    let prog = sleeper_in(&u);
    let run = sb
        .check(&prog)
        .args(["--user", "nobody"])
        .arg("--stdout")
        .arg(u.join("app.out"))
        .arg("--stderr")
        .arg(u.join("app.err"))
        .run();
    run.expect_code(0);
    let pid = sb.expect_recorded("program");
    let (uid, gid) = nobody();
    assert_eq!(ids(pid, "Uid"), vec![uid.as_raw(); 4], "{}", sb.report());
    assert_eq!(ids(pid, "Gid"), vec![gid.as_raw(); 4], "{}", sb.report());
    let mut want: Vec<u32> = nix::unistd::getgrouplist(&CString::new("nobody").unwrap(), gid)
        .unwrap()
        .into_iter()
        .map(|g| g.as_raw())
        .collect();
    want.sort_unstable();
    want.dedup();
    let mut groups = ids(pid, "Groups");
    groups.sort_unstable();
    assert_eq!(
        groups, want,
        "supplementary groups are nobody's, not root's"
    );
    let env = procfs::environ(pid).unwrap_or_default();
    for kv in ["USER=nobody", "LOGNAME=nobody"] {
        assert!(
            env.iter().any(|e| e == kv.as_bytes()),
            "{kv} in the environment"
        );
    }
    assert!(env.iter().any(|e| e.starts_with(b"HOME=")));
    // The output files were created by the user, in the user's directory.
    sb.wait_until("the program wrote its output", || {
        std::fs::read_to_string(u.join("app.out")).is_ok_and(|s| s.contains("stdout"))
    });
    for f in ["app.out", "app.err"] {
        let m = std::fs::metadata(u.join(f)).unwrap();
        assert_eq!(m.uid(), uid.as_raw(), "{f} is nobody's");
    }
    // The watchdog's own files stay root's; every command works on the job.
    assert_eq!(std::fs::metadata(sb.pidfile()).unwrap().uid(), 0);
    sb.check(&prog)
        .args(["--user", "nobody"])
        .run()
        .expect_code(0)
        .expect_silent();
    sb.status().run().expect_code(0);
    sb.kill("CONT").run().expect_code(0);
    let stop = sb.stop("INT/2/KILL/3").run();
    stop.expect_code(0);
    stop.ensure(!procfs::is_alive(pid), "stopped");
}

#[test]
fn an_output_file_the_user_cannot_write_is_a_clear_launch_error() {
    let (sb, u) = sandbox("user-unwritable");
    let prog = sleeper_in(&u);
    // Default output files: beside the PID file, in root's directory.
    let run = sb.start(&prog).args(["--user", "nobody"]).run();
    run.expect_code(1);
    run.expect_error(&[
        "cannot open output file",
        "as user nobody",
        "Permission denied",
    ]);
    sb.expect_nothing_launched(&run, &prog);
}

#[test]
fn root_opens_output_files_only_in_directories_only_root_controls() {
    let (sb, u) = sandbox("user-root-dir");
    // The target directory's tmp: owned by root down from /, writable by no one else (the
    // sandbox itself is under /tmp, which everyone may write).
    let dir = tempfile::Builder::new()
        .prefix("user-root-dir-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    chmod(dir.path(), 0o755);
    let controlled = dir
        .path()
        .ancestors()
        .all(|d| std::fs::metadata(d).is_ok_and(|m| m.uid() == 0 && m.mode() & 0o022 == 0));
    if !controlled {
        eprintln!(
            "skipped: {} is not a directory only root controls",
            dir.path().display()
        );
        return;
    }
    let out = dir.path().join("app.out");
    let prog = sleeper_in(&u);
    sb.check(&prog)
        .args(["--user", "nobody"])
        .arg("--stdout")
        .arg(&out)
        .arg("--stderr")
        .arg(u.join("app.err"))
        .run()
        .expect_code(0);
    let pid = sb.expect_recorded("program");
    sb.wait_until("the program wrote to the root-owned file", || {
        std::fs::read_to_string(&out).is_ok_and(|s| s.contains("stdout"))
    });
    assert_eq!(std::fs::metadata(&out).unwrap().uid(), 0, "root created it");
    assert_eq!(
        std::fs::metadata(u.join("app.err")).unwrap().uid(),
        nobody().0.as_raw(),
        "the user created the one in its own directory"
    );
    sb.kill_program(pid);
}

#[test]
fn a_non_root_caller_gets_an_error_and_nothing_runs() {
    let sb = Sandbox::for_nobody("user-non-root");
    let prog = sb.sleeper("a");
    let run = sb.check(&prog).args(["--user", "daemon"]).by_nobody().run();
    run.expect_code(1);
    run.expect_error(&["--user daemon needs root"]);
    sb.expect_nothing_launched(&run, &prog);
}

#[test]
fn unknown_users_and_program_written_pid_files_are_refused() {
    let (sb, u) = sandbox("user-refused");
    let prog = sleeper_in(&u);
    let run = sb.start(&prog).args(["--user", "no-such-user-xyz"]).run();
    run.expect_code(1);
    run.expect_error(&["no such user"]);
    let run = sb
        .start(&prog)
        .args(["--user", "nobody", "--program-writes-pidfile"])
        .run();
    run.expect_code(1);
    run.expect_error(&["cannot be used with --user"]);
    sb.expect_nothing_launched(&run, &prog);
}
