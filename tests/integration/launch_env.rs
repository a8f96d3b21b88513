//! What a launched program gets: exactly what `nohup PROG >out 2>err </dev/null &` should
//! have been. A new session and group, SIGHUP ignored and nothing else, an empty signal
//! mask, stdin on /dev/null, only fds 0-2 (no pipe of cron's, no lock), output files opened
//! for append, `--chdir`/`--env`/`--umask`, argv byte for byte, PATH lookup.

use crate::support::procfs;
use crate::support::{Sandbox, args, fixture, has_number};
use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

/// `O_APPEND` (asm-generic/fcntl.h), as it appears in /proc/PID/fdinfo flags.
const O_APPEND: u32 = 0o2000;

/// `sleep 1000`, found through PATH: a binary, so the program's fds and signal state are
/// what the watchdog gave it (a shell script would open its own script fd).
fn sleep_prog() -> Vec<OsString> {
    args(["sleep", "1000"])
}

#[test]
fn program_leads_a_new_session_and_process_group() {
    let sb = Sandbox::new("env_session");
    sb.check(&sleep_prog()).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    let st = procfs::stat(pid).expect("stat");
    assert!(
        st.session == pid && st.pgrp == pid,
        "the program must lead its session and group: pid {pid}, sid {}, pgid {}\n{}",
        st.session,
        st.pgrp,
        sb.report()
    );
}

#[test]
fn program_ignores_only_sighup_even_when_the_watchdog_ignored_int_and_quit() {
    let sb = Sandbox::new("env_sigign");
    let run = sb
        .check(&sleep_prog())
        .wrap([
            "/bin/sh",
            "-c",
            "trap '' INT QUIT TERM USR2; exec \"$0\" \"$@\"",
        ])
        .run();
    run.expect_code(0);
    let pid = sb.expect_recorded("program");
    let ign = procfs::status_field(pid, "SigIgn");
    let mask = ign
        .as_deref()
        .and_then(|m| u64::from_str_radix(m, 16).ok())
        .unwrap_or_else(|| run.fail(&format!("cannot read SigIgn: {ign:?}")));
    run.ensure(
        mask == 1,
        &format!("SigIgn must be exactly SIGHUP (0000000000000001), got {ign:?}"),
    );
}

/// glibc's `sigaction` refuses its internal signals 32 and 33, so a watchdog that reset
/// dispositions through it would pass them on ignored. Ignore them with the raw system call
/// (x86_64: rt_sigaction is 13; an all-zero struct but for the handler SIG_IGN = 1), then
/// check that the program gets them back at their default.
#[cfg(target_arch = "x86_64")]
#[test]
fn program_gets_default_dispositions_even_for_glibcs_reserved_signals() {
    let sb = Sandbox::new("env_sig3233");
    let run = sb
        .check(&sleep_prog())
        .wrap([
            "/usr/bin/perl",
            "-e",
            "for my $s (32, 33) { my $act = pack('Q4', 1, 0, 0, 0); \
             syscall(13, $s, $act, 0, 8) == 0 or die qq(rt_sigaction $s: $!) } \
             exec { $ARGV[0] } @ARGV or die qq(exec: $!)",
        ])
        .run();
    run.expect_code(0);
    let pid = sb.expect_recorded("program");
    let ign = procfs::status_field(pid, "SigIgn").unwrap_or_default();
    run.ensure(
        ign == "0000000000000001",
        &format!("SigIgn must be exactly SIGHUP, got {ign:?}"),
    );
}

#[test]
fn program_signal_mask_is_empty_even_when_the_watchdog_blocked_signals() {
    let sb = Sandbox::new("env_sigblk");
    let run = sb
        .check(&sleep_prog())
        .wrap([
            "/usr/bin/perl",
            "-MPOSIX",
            "-e",
            "sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGINT, SIGTERM, SIGUSR1, SIGHUP)) \
             or die qq(sigprocmask: $!); exec { $ARGV[0] } @ARGV or die qq(exec: $!)",
        ])
        .run();
    run.expect_code(0);
    let pid = sb.expect_recorded("program");
    let blk = procfs::status_field(pid, "SigBlk");
    run.ensure(
        blk.as_deref() == Some("0000000000000000"),
        &format!("SigBlk must be empty, got {blk:?}"),
    );
}

#[test]
fn program_stdin_is_dev_null_whatever_the_watchdog_had() {
    let sb = Sandbox::new("env_stdin");
    let input = sb.write("watchdog-stdin.txt", "not for the program\n");
    let run = sb.check(&sleep_prog()).stdin_from(&input).run();
    run.expect_code(0);
    let pid = sb.expect_recorded("program");
    let target = procfs::fd_target(pid, 0);
    run.ensure(
        target.as_deref() == Some(Path::new("/dev/null")),
        &format!("stdin must be /dev/null, got {target:?}"),
    );
}

#[test]
fn program_has_only_fds_0_1_2_even_when_the_watchdog_inherited_more() {
    let sb = Sandbox::new("env_fds");
    let run = sb
        .check(&sleep_prog())
        .wrap([
            "/bin/sh",
            "-c",
            "exec 7</dev/null 9>>\"$HOME/extra-fd\"; exec \"$0\" \"$@\"",
        ])
        .run();
    run.expect_code(0);
    let pid = sb.expect_recorded("program");
    let fds = procfs::fds(pid);
    let targets: Vec<_> = fds
        .iter()
        .map(|fd| (*fd, procfs::fd_target(pid, *fd)))
        .collect();
    run.ensure(
        fds == vec![0, 1, 2],
        &format!("the program must hold only fds 0, 1, 2; it holds {targets:?}"),
    );
    let out = procfs::fd_target(pid, 1);
    let err = procfs::fd_target(pid, 2);
    run.ensure(
        out == Some(sb.path("app.out")),
        &format!("stdout is app.out, got {out:?}"),
    );
    run.ensure(
        err == Some(sb.path("app.err")),
        &format!("stderr is app.err, got {err:?}"),
    );
    for fd in [1, 2] {
        let flags = procfs::fd_flags(pid, fd).unwrap_or(0);
        run.ensure(
            flags & O_APPEND != 0,
            &format!("fd {fd} must be opened with O_APPEND (flags {flags:o})"),
        );
    }
}

#[test]
fn watchdog_on_pipes_reaches_eof_when_it_exits() {
    // Cron reads the job's stdout and stderr until EOF. The runner gives the watchdog
    // pipes and fails any run whose pipes stay open after it exited; this test makes the
    // point explicitly, on a relaunch, and checks the program's 1 and 2 are not pipes.
    let sb = Sandbox::new("env_pipes");
    sb.check(&sleep_prog()).run().expect_code(0);
    let first = sb.expect_recorded("first copy");
    sb.kill_program(first);
    let run = sb.check(&sleep_prog()).run();
    run.expect_code(0);
    run.ensure(
        run.pipes_closed,
        "stdout/stderr reached EOF when the watchdog exited",
    );
    let pid = sb.expect_recorded("relaunched copy");
    for fd in procfs::fds(pid) {
        let t = procfs::fd_target(pid, fd).unwrap_or_default();
        run.ensure(
            !t.to_string_lossy().starts_with("pipe:"),
            &format!("the program's fd {fd} is a pipe ({})", t.display()),
        );
    }
}

#[test]
fn output_files_are_appended_not_truncated() {
    let sb = Sandbox::new("env_append");
    sb.write("app.out", "before-out\n");
    sb.write("app.err", "before-err\n");
    let prog = sb.sleeper("a");
    sb.check(&prog).run().expect_code(0);
    let first = sb.expect_recorded("first copy");
    sb.wait_until("the first copy wrote its lines", || {
        sb.read("app.out")
            .contains(&format!("sleeper {first} stdout"))
            && sb
                .read("app.err")
                .contains(&format!("sleeper {first} stderr"))
    });
    sb.kill_program(first);
    sb.check(&prog).run().expect_code(0);
    let second = sb.expect_recorded("second copy");
    sb.wait_until("the second copy wrote its lines", || {
        sb.read("app.out")
            .contains(&format!("sleeper {second} stdout"))
            && sb
                .read("app.err")
                .contains(&format!("sleeper {second} stderr"))
    });
    let out = sb.read("app.out");
    let err = sb.read("app.err");
    assert!(
        out.starts_with("before-out\n") && out.contains(&format!("sleeper {first} stdout")),
        "app.out lost content: {out:?}\n{}",
        sb.report()
    );
    assert!(
        err.starts_with("before-err\n") && err.contains(&format!("sleeper {first} stderr")),
        "app.err lost content: {err:?}\n{}",
        sb.report()
    );
}

#[test]
fn stdout_and_stderr_may_name_the_same_file() {
    let sb = Sandbox::new("env_same_file");
    sb.write("both.log", "before\n");
    let prog = sb.sleeper("a");
    let both = sb.path("both.log");
    let run = sb
        .check(&prog)
        .arg("--stdout")
        .arg(&both)
        .arg("--stderr")
        .arg(&both)
        .run();
    run.expect_code(0);
    let pid = sb.expect_recorded("program");
    sb.wait_until("both lines reach both.log", || {
        let t = sb.read("both.log");
        t.contains(&format!("sleeper {pid} stdout")) && t.contains(&format!("sleeper {pid} stderr"))
    });
    run.ensure(
        sb.read("both.log").starts_with("before\n"),
        "both.log was truncated",
    );
    run.ensure(
        procfs::fd_target(pid, 1) == Some(both.clone()) && procfs::fd_target(pid, 2) == Some(both),
        "fds 1 and 2 both point at both.log",
    );
}

#[test]
fn default_files_are_beside_the_pidfile() {
    let sb = Sandbox::new("env_defaults");
    let prog = sb.sleeper("a");
    sb.check(&prog).run().expect_code(0);
    let pid = sb.expect_recorded("program");
    sb.wait_until("app.out and app.err get the program's lines", || {
        sb.read("app.out")
            .contains(&format!("sleeper {pid} stdout"))
            && sb
                .read("app.err")
                .contains(&format!("sleeper {pid} stderr"))
    });
    assert!(
        sb.path("app.watchdog.log").is_file(),
        "no app.watchdog.log\n{}",
        sb.report()
    );

    // A PID file without the .pid suffix: STEM is the whole path.
    let prog = sb.sleeper("b");
    let run = sb
        .wd(["check", "--grace", "300ms", "--pidfile"])
        .arg(sb.path("job"))
        .program(&prog)
        .run();
    run.expect_code(0);
    let pid = crate::support::sandbox::read_strict_pid(&sb.path("job"))
        .unwrap_or_else(|| run.fail("the PID file `job` names no PID"));
    sb.guard(pid, "job program");
    sb.wait_until("job.out and job.err get the program's lines", || {
        sb.read("job.out")
            .contains(&format!("sleeper {pid} stdout"))
            && sb
                .read("job.err")
                .contains(&format!("sleeper {pid} stderr"))
    });
    run.ensure(sb.path("job.watchdog.log").is_file(), "no job.watchdog.log");
}

#[test]
fn chdir_is_applied_to_the_program() {
    let sb = Sandbox::new("env_chdir");
    let work = sb.path("work");
    fs::create_dir(&work).unwrap();
    let prog = sb.prog("probe.sh", &[]);
    let run = sb.check(&prog).arg("--chdir").arg(&work).run();
    run.expect_code(0);
    let pid = sb.expect_recorded("probe");
    sb.wait_until("the probe recorded itself", || {
        sb.path("probe.done").exists()
    });
    run.ensure(
        sb.read("probe.cwd").trim_end() == work.to_str().unwrap(),
        "the probe's cwd is --chdir",
    );
    run.ensure(procfs::cwd(pid) == Some(work), "/proc/PID/cwd is --chdir");
}

/// A relative `--chdir` with a relative program path: the program is found from the
/// watchdog's directory through the --chdir directory, and must not be looked up a second
/// time from inside it after the child changed directory.
#[test]
fn a_relative_chdir_with_a_relative_program_runs_it() {
    let sb = Sandbox::new("env_rel_chdir");
    let work = sb.path("work");
    fs::create_dir(&work).unwrap();
    let script = work.join("run.sh");
    fs::write(
        &script,
        "#!/bin/sh\necho \"rel $$\" >> ../launches\nexec sleep 1000\n",
    )
    .unwrap();
    crate::support::sandbox::chmod(&script, 0o755);
    let run = sb
        .check(&args(["./run.sh"]))
        .args(["--chdir", "work"])
        .run();
    run.expect_code(0);
    let pid = sb.expect_recorded("program");
    sb.wait_until("the program started", || !sb.launches().is_empty());
    run.ensure(procfs::cwd(pid) == Some(work), "/proc/PID/cwd is --chdir");
}

#[test]
fn env_adds_variables_and_the_rest_is_inherited() {
    let sb = Sandbox::new("env_env");
    let prog = sb.prog("probe.sh", &[]);
    let run = sb
        .check(&prog)
        .args([
            "--env",
            "GREETING=hello big  world",
            "--env",
            "EQUATION=a=b",
            "--env",
            "EMPTY=",
        ])
        .env("FROM_THE_WATCHDOG", "inherited")
        .run();
    run.expect_code(0);
    let pid = sb.expect_recorded("probe");
    let env = procfs::environ(pid).unwrap_or_default();
    let home = format!("HOME={}", sb.root().display());
    for want in [
        "GREETING=hello big  world",
        "EQUATION=a=b",
        "EMPTY=",
        "PATH=/usr/bin:/bin",
        home.as_str(),
        "SHELL=/bin/sh",
        "FROM_THE_WATCHDOG=inherited",
    ] {
        run.ensure(
            env.iter().any(|e| e == want.as_bytes()),
            &format!(
                "the program's environment lacks {want:?}: {:?}",
                env.iter()
                    .map(|e| String::from_utf8_lossy(e))
                    .collect::<Vec<_>>()
            ),
        );
    }
}

#[test]
fn umask_is_applied_to_the_program() {
    let sb = Sandbox::new("env_umask");
    let prog = sb.prog("probe.sh", &[]);
    let run = sb.check(&prog).args(["--umask", "027"]).run();
    run.expect_code(0);
    let pid = sb.expect_recorded("probe");
    sb.wait_until("the probe recorded itself", || {
        sb.path("probe.done").exists()
    });
    let umask = procfs::status_field(pid, "Umask");
    run.ensure(
        umask.as_deref() == Some("0027"),
        &format!("Umask in /proc/PID/status: {umask:?}"),
    );
    run.ensure(
        sb.read("probe.umask").trim() == "0027",
        "the probe's umask is 0027",
    );
}

#[test]
fn argv_is_passed_byte_for_byte_without_a_shell() {
    let sb = Sandbox::new("env_argv");
    // Files in the cwd, so that a shell would have something to expand `*` to.
    sb.write("file-a", "");
    sb.write("file-b", "");
    let tricky: Vec<OsString> = vec![
        "two words".into(),
        "'single'".into(),
        "\"double\"".into(),
        "*".into(),
        "".into(),
        "$HOME".into(),
        "`id`".into(),
        "a;b|c&d".into(),
        "tab\there".into(),
        "new\nline".into(),
        "--".into(),
        "-x".into(),
        OsString::from_vec(vec![0xff, 0xfe, b'z']),
        "  ".into(),
    ];
    let mut prog = sb.prog("probe.sh", &[]);
    prog.extend(tricky.iter().cloned());
    let run = sb.check(&prog).arg("--chdir").arg(sb.root()).run();
    run.expect_code(0);
    sb.expect_recorded("probe");
    sb.wait_until("the probe recorded itself", || {
        sb.path("probe.done").exists()
    });
    let got = fs::read(sb.path("probe.args")).unwrap();
    let mut want = Vec::new();
    for a in &tricky {
        want.extend_from_slice(a.as_bytes());
        want.push(0);
    }
    run.ensure(
        got == want,
        &format!(
            "argv differs:\n  want {:?}\n  got  {:?}",
            String::from_utf8_lossy(&want),
            String::from_utf8_lossy(&got)
        ),
    );
}

#[test]
fn bare_program_name_is_looked_up_in_path() {
    let sb = Sandbox::new("env_path");
    // cron's PATH finds sleep in /usr/bin or /bin.
    sb.check(&sleep_prog()).run().expect_code(0);
    let pid = sb.expect_recorded("sleep");
    let exe = fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
    assert!(
        exe.file_name().is_some_and(|n| n == "sleep"),
        "the program runs {}\n{}",
        exe.display(),
        sb.report()
    );

    // And the watchdog's own PATH is the one searched, in order.
    let prog_sb = Sandbox::new("env_path_custom");
    let bin = prog_sb.path("bin");
    fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(fixture("sleeper.sh"), bin.join("watchdog-it-sleeper")).unwrap();
    let prog = args([
        OsString::from("watchdog-it-sleeper"),
        prog_sb.root().as_os_str().to_owned(),
        "custom".into(),
    ]);
    let run = prog_sb
        .check(&prog)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .run();
    run.expect_code(0);
    // It can only have been found through the custom PATH entry.
    let pid = prog_sb.expect_recorded("program found in PATH");
    prog_sb.wait_until("the program found in PATH started", || {
        has_number(&prog_sb.read("launches"), pid)
    });
}
