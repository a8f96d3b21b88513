//! `watchdog doctor`: one line per finding (`ok:`, `warning:`, `problem:`), each saying
//! what to change, and exit 0 only without problems.
//!
//! The crontab is the fake one of `cron_line.rs`; a cron daemon is stood in for by a copy of
//! `sleep` named `cron` (doctor finds daemons by name in /proc, read only); the systemd and
//! logind configuration comes from a directory given in `WATCHDOG_TEST_SYSROOT`, so that
//! neither the machine's own configuration nor its daemons change the outcome.

use std::ffi::OsString;
use std::fs;

use crate::cron_line::{Fake, cron};
use crate::support::sandbox::{Wd, chmod};
use crate::support::{Run, Sandbox};

/// `doctor --pidfile P -- PROGRAM` with the fake crontab and an empty sysroot (no systemd).
fn doctor<'a>(sb: &'a Sandbox, fake: &Fake, program: &[OsString]) -> Wd<'a> {
    let sysroot = sb.path("sysroot");
    fs::create_dir_all(&sysroot).unwrap();
    fake.on(sb.cmd("doctor").program(program))
        .env("WATCHDOG_TEST_SYSROOT", sysroot)
}

/// Starts a process called `cron` (a copy of sleep) for doctor to find.
fn fake_daemon(sb: &Sandbox) {
    let bin = sb.path("daemon/cron");
    fs::create_dir_all(sb.path("daemon")).unwrap();
    fs::copy("/usr/bin/sleep", &bin).unwrap();
    chmod(&bin, 0o755);
    let mut cmd = sb.command(&bin);
    cmd.arg("1000");
    sb.spawn_guarded(cmd, "fake cron daemon");
}

#[track_caller]
fn has_line(run: &Run, level: &str, needle: &str) {
    let found = run
        .out()
        .lines()
        .any(|l| l.starts_with(&format!("{level}: ")) && l.contains(needle));
    run.ensure(found, &format!("a `{level}:` line mentions {needle:?}"));
}

#[test]
fn a_good_setup_has_no_problem() {
    let sb = Sandbox::new("doctor_good");
    let fake = Fake::new(&sb);
    fake_daemon(&sb);
    let program = sb.sleeper("d");
    fake.on(cron(&sb, &["--install"], &program))
        .run()
        .expect_code(0);
    let run = doctor(&sb, &fake, &program).run();
    run.expect_code(0);
    has_line(&run, "ok", "is an executable file");
    has_line(&run, "ok", "is writable by");
    has_line(&run, "ok", "a cron daemon is running: cron (pid");
    has_line(&run, "ok", "your crontab has the entry");
    has_line(&run, "ok", "systemd does not manage this machine");
    run.ensure(!run.out().contains("problem:"), "no problem line");
    for line in run.out().lines() {
        run.ensure(
            ["ok: ", "warning: ", "problem: ", "doctor: "]
                .iter()
                .any(|p| line.starts_with(p)),
            "every line starts with its level",
        );
    }
}

#[test]
fn a_missing_entry_a_program_cron_cannot_find_and_no_daemon_are_problems() {
    let sb = Sandbox::new("doctor_problems");
    let fake = Fake::new(&sb);
    fs::create_dir(sb.path("bin")).unwrap();
    let prog = sb.write("bin/myprog", "#!/bin/sh\nsleep 1000\n");
    chmod(&prog, 0o755);
    let path = format!(
        "{}:{}:/usr/bin:/bin",
        fake.bin.display(),
        sb.path("bin").display()
    );
    let run = doctor(&sb, &fake, &[OsString::from("myprog")])
        .env("PATH", path)
        .run();
    run.expect_code(1);
    has_line(
        &run,
        "problem",
        "myprog is not found with cron's PATH (/usr/bin:/bin)",
    );
    has_line(&run, "problem", &prog.display().to_string());
    has_line(&run, "problem", "your crontab has no entry for --pidfile");
    has_line(&run, "problem", "watchdog cron --install");
    run.ensure(
        run.out()
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("doctor: ")),
        "a summary line ends the report",
    );
}

#[test]
fn scripts_that_break_under_cron_are_problems() {
    let sb = Sandbox::new("doctor_scripts");
    let fake = Fake::new(&sb);
    let crlf = sb.write("crlf.sh", "#!/bin/sh\r\nsleep 1000\r\n");
    chmod(&crlf, 0o755);
    let run = doctor(&sb, &fake, &[crlf.into_os_string()]).run();
    run.expect_code(1);
    has_line(&run, "problem", "Windows line endings");

    let env = sb.write("env.sh", "#!/usr/bin/env no-such-interpreter-xyz\n");
    chmod(&env, 0o755);
    let run = doctor(&sb, &fake, &[env.into_os_string()]).run();
    run.expect_code(1);
    has_line(&run, "problem", "no-such-interpreter-xyz");

    let missing = sb.write("missing.sh", "#!/no/such/shell\n");
    chmod(&missing, 0o755);
    let run = doctor(&sb, &fake, &[missing.into_os_string()]).run();
    has_line(&run, "problem", "/no/such/shell");
}

#[test]
fn unwritable_places_are_problems() {
    let sb = Sandbox::new("doctor_unwritable");
    let fake = Fake::new(&sb);
    fs::create_dir(sb.path("adir")).unwrap();
    let run = doctor(&sb, &fake, &sb.sleeper("u"))
        .args(["--stdout", "adir"])
        .run();
    run.expect_code(1);
    has_line(&run, "problem", "adir is a directory");

    // The sandbox is root's, mode 0700: nobody cannot write there.
    let run = doctor(&sb, &fake, &sb.sleeper("u")).by_nobody().run();
    run.expect_code(1);
    has_line(&run, "problem", "is not writable by nobody");

    let run = fake
        .on(sb
            .wd(["doctor", "--pidfile"])
            .arg(sb.path("nodir/app.pid"))
            .program(&sb.sleeper("u")))
        .env("WATCHDOG_TEST_SYSROOT", sb.path("sysroot"))
        .run();
    run.expect_code(1);
    has_line(&run, "problem", "mkdir -p");
}

#[test]
fn systemd_cron_is_a_problem() {
    let sb = Sandbox::new("doctor_systemd_cron");
    let fake = Fake::new(&sb);
    let root = sb.path("sysroot");
    fs::create_dir_all(root.join("run/systemd/system")).unwrap();
    fs::create_dir_all(root.join("usr/lib/systemd/system-generators")).unwrap();
    fs::write(
        root.join("usr/lib/systemd/system-generators/systemd-crontab-generator"),
        "",
    )
    .unwrap();
    let run = doctor(&sb, &fake, &sb.sleeper("s")).run();
    run.expect_code(1);
    has_line(&run, "problem", "systemd-cron");
    has_line(&run, "problem", "apt install cron");
}

#[test]
fn logind_killing_cron_sessions_is_a_problem() {
    let sb = Sandbox::new("doctor_logind");
    let fake = Fake::new(&sb);
    let root = sb.path("sysroot");
    fs::create_dir_all(root.join("run/systemd/system")).unwrap();
    fs::create_dir_all(root.join("etc/systemd/logind.conf.d")).unwrap();
    fs::create_dir_all(root.join("etc/pam.d")).unwrap();
    fs::write(
        root.join("etc/systemd/logind.conf"),
        "[Login]\n#KillUserProcesses=no\n",
    )
    .unwrap();
    // Drop-ins win over the main file; an empty exclude list covers root too.
    fs::write(
        root.join("etc/systemd/logind.conf.d/10-kill.conf"),
        "[Login]\nKillUserProcesses=yes\nKillExcludeUsers=\n",
    )
    .unwrap();
    fs::write(root.join("etc/pam.d/cron"), "@include common-session\n").unwrap();
    fs::write(
        root.join("etc/pam.d/common-session"),
        "session required pam_unix.so\nsession optional pam_systemd.so\n",
    )
    .unwrap();
    let run = doctor(&sb, &fake, &sb.sleeper("l")).run();
    run.expect_code(1);
    has_line(&run, "problem", "KillUserProcesses=yes");
    has_line(&run, "problem", "pam_systemd");

    // Without pam_systemd for cron, only programs started from a login are at risk.
    fs::write(
        root.join("etc/pam.d/common-session"),
        "session required pam_unix.so\n",
    )
    .unwrap();
    let run = doctor(&sb, &fake, &sb.sleeper("l")).run();
    has_line(&run, "warning", "KillUserProcesses=yes");
}
