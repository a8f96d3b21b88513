//! `--config FILE` (issue 8): several programs in one TOML file. `check --config FILE`
//! checks them all in one run, each under its own lock, one broken entry (named with its
//! line) or failing program never stopping the others; the other commands take
//! `--config FILE NAME`; `cron --config FILE` prints the one line; relative paths are taken
//! from the file's directory; each program logs to its own event log.

use std::path::PathBuf;

use crate::support::sandbox::read_strict_pid;
use crate::support::{Sandbox, fixture, procfs};

/// `[programs.NAME]` with `command = [sleeper.sh, DIR, NAME]`.
fn sleeper_entry(sb: &Sandbox, name: &str) -> String {
    format!(
        "[programs.{name}]\ncommand = [\"{}\", \"{}\", \"{name}\"]\n",
        fixture("sleeper.sh").display(),
        sb.root().display()
    )
}

/// The file of most tests: `a` and `c` are fine, `b` has a value clap refuses (line 12).
fn three_with_one_broken(sb: &Sandbox) -> PathBuf {
    let text = format!(
        "# three bots\n[defaults]\ngrace = \"300ms\"\nladder = \"INT/2/KILL/3\"\n\n{}\n\
         [programs.b]\ncommand = [\"{}\", \"{}\", \"b\"]\nchdir = \".\"\ngrace = \"soon\"\n\n{}",
        sleeper_entry(sb, "a"),
        fixture("sleeper.sh").display(),
        sb.root().display(),
        sleeper_entry(sb, "c"),
    );
    write_config(sb, "bots.toml", text)
}

/// Writes a config file readable by all and writable by its owner alone, whatever the
/// umask (a file others can write is refused).
fn write_config(sb: &Sandbox, rel: &str, text: impl AsRef<[u8]>) -> PathBuf {
    let p = sb.write(rel, text);
    crate::support::sandbox::chmod(&p, 0o644);
    p
}

fn pid_of(sb: &Sandbox, name: &str) -> Option<i32> {
    read_strict_pid(&sb.path(format!("{name}.pid")))
}

#[test]
fn check_launches_and_checks_every_program_and_a_broken_one_stops_no_other() {
    let sb = Sandbox::new("config_three");
    let file = three_with_one_broken(&sb);
    let run = sb.wd(["check", "--config"]).arg(&file).run();
    run.expect_code(1);
    let a = pid_of(&sb, "a").unwrap_or_else(|| run.fail("a was not launched"));
    sb.guard(a, "a");
    let c = pid_of(&sb, "c").unwrap_or_else(|| run.fail("c was not launched"));
    sb.guard(c, "c");
    run.ensure(procfs::is_alive(a) && procfs::is_alive(c), "a and c run");
    run.ensure(pid_of(&sb, "b").is_none(), "b was not launched");
    let err = run.err();
    run.ensure(
        err.contains(&format!("{} line 12: [programs.b] grace:", file.display()))
            && err.contains("\"soon\" is not a duration"),
        "the error names the file, the line, the program and the key",
    );
    run.ensure(
        err.contains("started ") && err.matches("(first launch)").count() == 2,
        "the two launches are reported",
    );
    // Each program has its own files beside the config file, and its own event log.
    let log_a = sb.read("a.watchdog.log");
    run.ensure(
        log_a.contains("sleeper.sh")
            && log_a.contains(&format!("as pid {a}"))
            && !log_a.contains(&format!("as pid {c}")),
        "a's event log has a's events only",
    );

    // The next run leaves the two alone and reports the broken entry again.
    let run = sb.wd(["check", "--config"]).arg(&file).run();
    run.expect_code(1);
    run.ensure(
        run.err().lines().count() == 1 && run.err().contains("[programs.b]"),
        "only b is reported",
    );
    run.ensure(
        pid_of(&sb, "a") == Some(a) && pid_of(&sb, "c") == Some(c),
        "a and c untouched",
    );
    assert_eq!(sb.launches().len(), 2, "{}", sb.report());

    // A dead program is relaunched by the same one run.
    sb.kill_program(c);
    let run = sb.wd(["check", "--config"]).arg(&file).run();
    run.expect_code(1);
    let c2 = pid_of(&sb, "c").unwrap_or_else(|| run.fail("c was not relaunched"));
    sb.guard(c2, "c relaunched");
    run.ensure(c2 != c && procfs::is_alive(c2), "c relaunched");
    run.ensure(
        run.err().contains(&format!("relaunched as pid {c2}")),
        "said so",
    );
}

#[test]
fn a_program_that_cannot_launch_is_named_and_the_others_run() {
    let sb = Sandbox::new("config_missing_program");
    let text = format!(
        "{}\n[programs.ghost]\ncommand = [\"/no/such/program\"]\n\n{}",
        sleeper_entry(&sb, "a"),
        sleeper_entry(&sb, "c")
    );
    let file = write_config(&sb, "bots.toml", text);
    let run = sb
        .wd(["check", "--grace", "300ms", "--config"])
        .arg(&file)
        .run();
    run.expect_code(1);
    run.ensure(
        run.err()
            .contains("watchdog: ghost: cannot launch /no/such/program"),
        "the failure names the program",
    );
    for name in ["a", "c"] {
        let pid = pid_of(&sb, name).unwrap_or_else(|| run.fail(&format!("{name} not launched")));
        sb.guard(pid, name);
    }
}

#[test]
fn the_other_commands_take_a_name() {
    let sb = Sandbox::new("config_names");
    let text = format!(
        "[defaults]\ngrace = \"300ms\"\nladder = \"INT/2/KILL/3\"\n\n{}\n{}",
        sleeper_entry(&sb, "a"),
        sleeper_entry(&sb, "c")
    );
    let file = write_config(&sb, "bots.toml", text);
    sb.wd(["check", "--config"]).arg(&file).run().expect_code(0);
    let a = sb.guard(pid_of(&sb, "a").expect("a"), "a");
    let c = sb.guard(pid_of(&sb, "c").expect("c"), "c");

    let run = sb.wd(["status", "--config"]).arg(&file).run();
    run.expect_code(0);
    let out = run.out();
    run.ensure(
        out.lines().count() == 2
            && out
                .lines()
                .any(|l| l.starts_with("a: running:") && l.contains(&a.to_string()))
            && out.lines().any(|l| l.starts_with("c: running:")),
        "one status line per program, led by its name",
    );

    // stop needs a name, and stops only that program; status then says so.
    let run = sb.wd(["stop", "--config"]).arg(&file).run();
    run.expect_code(1);
    run.expect_error(&["which program?", "a, c"]);
    let run = sb.wd(["stop", "--config"]).arg(&file).arg("a").run();
    run.expect_code(0);
    run.ensure(
        !procfs::is_alive(a) && procfs::is_alive(c),
        "only a stopped",
    );
    let run = sb.wd(["status", "--config"]).arg(&file).arg("a").run();
    run.expect_code(3);
    let run = sb.wd(["status", "--config"]).arg(&file).run();
    run.expect_code(3);
    sb.wd(["check", "--config"])
        .arg(&file)
        .run()
        .expect_code(0)
        .expect_silent();
    run.ensure(
        pid_of(&sb, "a").is_none(),
        "check leaves a stopped program down",
    );

    sb.wd(["start", "--config"])
        .arg(&file)
        .arg("a")
        .run()
        .expect_code(0);
    let a2 = sb.guard(pid_of(&sb, "a").expect("a restarted"), "a again");
    assert_ne!(a2, a);
    // kill takes its signal after the name; log shows the program's own event log.
    sb.wd(["kill", "--config"])
        .arg(&file)
        .args(["a", "TERM"])
        .run()
        .expect_code(0);
    sb.wait_until("a died of TERM", || !procfs::is_alive(a2));
    let run = sb.wd(["log", "--config"]).arg(&file).arg("a").run();
    run.expect_code(0);
    run.ensure(run.out().contains("sent SIGTERM"), "a's event log");
    // An unknown name lists the known ones.
    let run = sb.wd(["stop", "--config"]).arg(&file).arg("zz").run();
    run.expect_code(1);
    run.expect_error(&["no program \"zz\"", "a, c"]);
}

#[test]
fn relative_paths_are_taken_from_the_files_directory() {
    let sb = Sandbox::new("config_relative");
    std::fs::create_dir(sb.path("bots")).unwrap();
    let script = sb.write(
        "bots/run.sh",
        format!(
            "#!/bin/sh\nexec \"{}\" \"$@\"\n",
            fixture("sleeper.sh").display()
        ),
    );
    crate::support::sandbox::chmod(&script, 0o755);
    let file = write_config(
        &sb,
        "bots/bots.toml",
        format!(
            "[programs.r]\ncommand = [\"./run.sh\", \"{}\", \"r\"]\npidfile = \"run/r.pid\"\n\
             stdout = \"r.log\"\nchdir = \".\"\ngrace = \"300ms\"\n",
            sb.root().display()
        ),
    );
    std::fs::create_dir(sb.path("bots/run")).unwrap();
    // Run from the sandbox root, as cron runs from $HOME: the paths still resolve.
    let run = sb.wd(["check", "--config", "bots/bots.toml"]).run();
    run.expect_code(0);
    let pid = read_strict_pid(&sb.path("bots/run/r.pid"))
        .unwrap_or_else(|| run.fail("no PID file at bots/run/r.pid"));
    sb.guard(pid, "r");
    sb.wait_until("its stdout went to bots/r.log", || {
        sb.read("bots/r.log").contains("stdout")
    });
    run.ensure(
        procfs::cwd(pid).is_some_and(|d| d == sb.path("bots")),
        "chdir \".\" is the file's directory",
    );
    let _ = file;
}

#[test]
fn cron_prints_the_one_line_for_the_file() {
    let sb = Sandbox::new("config_cron");
    let file = write_config(
        &sb,
        "bots.toml",
        format!("{}\n{}", sleeper_entry(&sb, "a"), sleeper_entry(&sb, "c")),
    );
    let run = sb.wd(["cron", "--config", "bots.toml"]).run();
    run.expect_code(0);
    let out = run.out();
    let entry = out.lines().last().unwrap_or("");
    run.ensure(
        entry.starts_with("* * * * * /")
            && entry.ends_with(&format!(" check --config {}", file.display())),
        "one entry: watchdog check --config FILE, absolute",
    );
}

#[test]
fn a_syntax_error_names_the_line_and_nothing_runs() {
    let sb = Sandbox::new("config_syntax");
    let file = write_config(
        &sb,
        "bots.toml",
        format!(
            "{}\n[programs.b]\ncommand = [\"x\"\n",
            sleeper_entry(&sb, "a")
        ),
    );
    let run = sb.wd(["check", "--config"]).arg(&file).run();
    run.expect_code(1);
    run.expect_error(&[&format!("{} line 5:", file.display())]);
    run.ensure(pid_of(&sb, "a").is_none(), "nothing launched");
    // A table outside [programs] says where programs go.
    let file = write_config(&sb, "other.toml", "[bot]\ncommand = [\"x\"]\n");
    let run = sb.wd(["check", "--config"]).arg(&file).run();
    run.expect_code(1);
    run.expect_error(&["line 1:", "[programs.NAME]"]);
}

#[test]
fn health_per_program_restarts_only_the_unhealthy_one() {
    let sb = Sandbox::new("config_health");
    let text = format!(
        "[defaults]\ngrace = \"300ms\"\nladder = \"INT/2/KILL/3\"\nunhealthy-after = 1\n\
         healthy-when-cmd = 'test \"$(cat {}/hang 2>/dev/null)\" != \"$WATCHDOG_PID\"'\n\n{}\n{}",
        sb.root().display(),
        sleeper_entry(&sb, "a"),
        sleeper_entry(&sb, "c")
    );
    let file = write_config(&sb, "bots.toml", text);
    sb.wd(["check", "--config"]).arg(&file).run().expect_code(0);
    let a = sb.guard(pid_of(&sb, "a").expect("a"), "a");
    let c = sb.guard(pid_of(&sb, "c").expect("c"), "c");
    sb.wd(["check", "--config"])
        .arg(&file)
        .run()
        .expect_code(0)
        .expect_silent();
    sb.write("hang", c.to_string());
    let run = sb.wd(["check", "--config"]).arg(&file).run();
    run.expect_code(0);
    run.expect_error(&[&format!("(pid {c}) failed its health check")]);
    run.ensure(pid_of(&sb, "a") == Some(a), "a left alone");
    let c2 = pid_of(&sb, "c").unwrap_or_else(|| run.fail("c not relaunched"));
    sb.guard(c2, "c relaunched");
    run.ensure(c2 != c && !procfs::is_alive(c), "c replaced");
}

#[test]
fn a_config_file_others_can_write_is_refused() {
    let sb = Sandbox::new("config_writable");
    let file = write_config(&sb, "bots.toml", sleeper_entry(&sb, "a"));
    crate::support::sandbox::chmod(&file, 0o664);
    let run = sb.wd(["check", "--config"]).arg(&file).run();
    run.expect_code(1);
    run.expect_error(&["writable by others", "chmod go-w"]);
    run.ensure(pid_of(&sb, "a").is_none(), "nothing launched");
}

#[test]
fn cron_installs_and_uninstalls_the_line_of_the_file() {
    let sb = Sandbox::new("config_cron_install");
    let fake = crate::cron_line::Fake::new(&sb);
    fake.set(b"0 5 * * * echo mine\n");
    let file = write_config(&sb, "bots.toml", sleeper_entry(&sb, "a"));
    let install = || {
        fake.on(sb.wd(["cron", "--install", "--config"]).arg(&file))
            .run()
    };
    install().expect_code(0);
    let text = String::from_utf8_lossy(&fake.text()).into_owned();
    assert!(
        text.starts_with("0 5 * * * echo mine\n")
            && text
                .lines()
                .last()
                .is_some_and(|l| l.ends_with(&format!(" check --config {}", file.display()))),
        "{text}"
    );
    // Installing again finds its own line by the file: nothing changes.
    let run = install();
    run.expect_code(0);
    run.ensure(run.out().contains("already has this entry"), "found again");
    let run = fake
        .on(sb.wd(["cron", "--uninstall", "--config"]).arg(&file))
        .run();
    run.expect_code(0);
    run.ensure(
        run.out().contains("watchdog stop --config"),
        "says how to stop them",
    );
    assert_eq!(fake.text(), b"0 5 * * * echo mine\n", "{}", sb.report());
}
