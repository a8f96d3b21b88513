//! Hostile and broken files. At the PID file's path: a FIFO, a directory, a symlink to
//! /dev/zero or to another file, a 5 MiB file. Every command refuses quickly (status
//! with 4, the others with 1) with a message naming the file, launches nothing, signals
//! nobody and leaves the object as it was. As root, a PID file owned by another user is
//! refused by every command, naming the owner. Corrupt state files are treated as absent
//! and rewritten; writes do not follow a symlink planted at the state path.

use crate::support::sandbox::chown_nobody;
use crate::support::{Decoy, Sandbox};
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

const COMMANDS: [&str; 6] = ["status", "check", "start", "stop", "kill", "restart"];

/// The watchdog command line for `command` against `pidfile` (launching commands get a
/// program; `kill` gets USR1).
fn hostile_run(
    sb: &Sandbox,
    command: &str,
    pidfile: &Path,
    prog: &[std::ffi::OsString],
) -> crate::support::Run {
    let w = sb
        .wd([command])
        .arg("--pidfile")
        .arg(pidfile)
        .timeout(Duration::from_secs(15));
    let w = match command {
        "check" | "start" => w.args(["--grace", "300ms"]).program(prog),
        "restart" => w
            .args(["--grace", "300ms", "--ladder", "INT/0.2/KILL/0.5"])
            .program(prog),
        "stop" => w.args(["--ladder", "INT/0.2/KILL/0.5"]),
        "kill" => w.arg("USR1"),
        _ => w,
    };
    w.run()
}

/// A description of what is at `path` (type, size, symlink target, content digest) to
/// check that the watchdog left it as it was.
fn fingerprint(path: &Path) -> String {
    match fs::symlink_metadata(path) {
        Err(e) => format!("absent ({e})"),
        Ok(md) => {
            let ft = md.file_type();
            if ft.is_symlink() {
                format!("symlink -> {:?}", fs::read_link(path).ok())
            } else if ft.is_fifo() {
                "fifo".to_string()
            } else if ft.is_dir() {
                "dir".to_string()
            } else {
                let data = fs::read(path).unwrap_or_default();
                let sum: u64 = data.iter().map(|b| u64::from(*b)).sum();
                format!("file len={} sum={sum} uid={}", md.len(), md.uid())
            }
        }
    }
}

/// Runs every command against a fresh `make(path, decoy_pid)` hostile object.
fn refuse_everywhere(name: &str, make: impl Fn(&Sandbox, &Path, i32)) {
    let sb = Sandbox::new(name);
    let mut decoy = Decoy::spawn(&sb, "bystander");
    for command in COMMANDS {
        let pidfile: PathBuf = sb.path(format!("{command}.pid"));
        make(&sb, &pidfile, decoy.pid());
        let before = fingerprint(&pidfile);
        let prog = sb.sleeper(command);
        let run = hostile_run(&sb, command, &pidfile, &prog);
        run.ensure(run.elapsed < Duration::from_secs(8), "it must not hang");
        if command == "status" {
            run.expect_code(4);
        } else {
            run.expect_code(1);
        }
        run.ensure(
            run.all().contains(pidfile.to_str().unwrap()),
            "the message names the PID file",
        );
        run.ensure(sb.copies(&prog).is_empty(), "nothing was launched");
        run.ensure(
            fingerprint(&pidfile) == before,
            &format!("the PID path was changed (was {before})"),
        );
        decoy.assert_untouched(&sb, &format!("after `{command}`"));
    }
    assert!(
        sb.launches().is_empty(),
        "nothing was launched\n{}",
        sb.report()
    );
}

#[test]
fn a_fifo_at_the_pidfile_path_is_refused_without_hanging() {
    refuse_everywhere("hostile_fifo", |_, p, _| {
        nix::unistd::mkfifo(p, nix::sys::stat::Mode::from_bits_truncate(0o644)).expect("mkfifo");
    });
}

#[test]
fn a_directory_at_the_pidfile_path_is_refused() {
    refuse_everywhere("hostile_dir", |_, p, _| fs::create_dir(p).expect("mkdir"));
}

#[test]
fn a_symlink_to_a_device_at_the_pidfile_path_is_refused_without_reading_it() {
    refuse_everywhere("hostile_devzero", |_, p, _| {
        std::os::unix::fs::symlink("/dev/zero", p).expect("symlink");
    });
}

#[test]
fn a_symlink_to_another_file_is_neither_followed_nor_written_through() {
    refuse_everywhere("hostile_symlink", |sb, p, decoy| {
        let name = p.file_name().unwrap().to_str().unwrap();
        let target = sb.write(format!("elsewhere-{name}"), format!("{decoy}\n"));
        std::os::unix::fs::symlink(&target, p).expect("symlink");
    });
}

#[test]
fn a_huge_pidfile_is_refused_without_reading_it_all() {
    refuse_everywhere("hostile_huge", |_, p, decoy| {
        let mut data = format!("{decoy}\n").into_bytes();
        data.resize(5 << 20, b'#');
        fs::write(p, data).expect("write");
    });
}

#[test]
fn as_root_a_pidfile_owned_by_another_user_is_refused_by_every_command() {
    refuse_everywhere("hostile_foreign_owner", |_, p, decoy| {
        // A valid PID file naming a process that started before it: without the owner
        // check it would be adopted and signalled.
        fs::write(p, format!("{decoy}\n")).expect("write");
        chown_nobody(p);
    });
    // And the message names the owner.
    let sb = Sandbox::new("hostile_foreign_owner_msg");
    let decoy = Decoy::spawn(&sb, "bystander");
    sb.write("app.pid", format!("{}\n", decoy.pid()));
    chown_nobody(&sb.pidfile());
    for command in ["status", "kill"] {
        let run = hostile_run(&sb, command, &sb.pidfile(), &[]);
        run.ensure(
            run.all().contains("nobody") && run.all().contains(sb.pidfile().to_str().unwrap()),
            "the refusal names the file and its owner, nobody",
        );
    }
}

#[test]
fn corrupt_state_files_are_treated_as_absent_and_rewritten() {
    let sb = Sandbox::new("hostile_state");
    let prog = sb.sleeper("a");
    sb.check(&prog).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    let valid = fs::read(sb.state_file()).unwrap_or_default();
    assert!(
        valid.starts_with(b"watchdog-state 1\n"),
        "the state file starts with `watchdog-state 1`\n{}",
        sb.report()
    );
    let variants: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("garbage", b"garbage\n".to_vec()),
        ("binary", vec![0, 0xff, 0xfe, b'\n', 0]),
        ("header only", b"watchdog-state 1\n".to_vec()),
        ("truncated", valid[..valid.len() / 2].to_vec()),
        ("older version", b"watchdog-state 0\npid 1\n".to_vec()),
        ("newer version", b"watchdog-state 999\n".to_vec()),
        // Our own file grown absurdly large: corrupt too, not a reason to stop the job.
        ("3 MiB of junk", vec![b'x'; 3 << 20]),
    ];
    for (what, bytes) in variants {
        fs::write(sb.state_file(), &bytes).unwrap();
        // The PID file was written after the program started: the adoption rule holds.
        let status = sb.status().run();
        status.expect_code(0);
        let run = sb.check(&prog).run();
        run.expect_code(0);
        run.ensure(
            sb.recorded_pid() == Some(pid) && sb.copies(&prog) == vec![pid],
            &format!("state {what}: the program is adopted again, not relaunched"),
        );
        let now = fs::read(sb.state_file()).unwrap_or_default();
        run.ensure(
            now.starts_with(b"watchdog-state 1\n") && now != b"watchdog-state 1\n",
            &format!("state {what}: the state file is rewritten cleanly"),
        );
    }
}

#[test]
fn a_symlink_planted_at_the_state_path_is_not_written_through() {
    let sb = Sandbox::new("hostile_state_symlink");
    let prog = sb.sleeper("a");
    sb.check(&prog).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    let victim = sb.write("victim.txt", "precious\n");
    fs::remove_file(sb.state_file()).unwrap();
    std::os::unix::fs::symlink(&victim, sb.state_file()).unwrap();
    sb.kill_program(pid);
    let run = sb.check(&prog).run();
    run.expect_sane();
    run.ensure(
        sb.read("victim.txt") == "precious\n",
        "the symlink's target was written through",
    );
    for p in sb.copies(&prog) {
        sb.guard(p, "copy");
    }
    run.ensure(sb.copies(&prog).len() <= 1, "at most one copy");
}

/// A symlink at the lock path is refused at once, naming the file; it must not make the run
/// spin (its target's inode can never match the path's) or create the target.
#[test]
fn a_symlink_at_the_lock_path_is_refused_quickly() {
    let sb = Sandbox::new("hostile_lock_symlink");
    let target = sb.path("elsewhere.lock");
    std::os::unix::fs::symlink(&target, sb.lock_file()).unwrap();
    let prog = sb.sleeper("a");
    let run = sb.check(&prog).args(["--wait", "1s"]).run();
    run.expect_code(1);
    run.expect_error(&["symbolic link", sb.lock_file().to_str().unwrap()]);
    run.ensure(
        run.elapsed < Duration::from_secs(3),
        "it must not spin until --wait",
    );
    run.ensure(!target.exists(), "the symlink's target must not be created");
    run.ensure(sb.copies(&prog).is_empty(), "nothing was launched");
}
