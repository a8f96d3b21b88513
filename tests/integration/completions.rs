//! `watchdog completions SHELL` and `watchdog man [COMMAND]`, generated from the clap
//! definitions; and the help text: defaults, and the crontab line at the end.

use std::process::Stdio;

use crate::support::Sandbox;

const COMMANDS: &[&str] = &["check", "start", "stop", "status", "cron", "doctor", "log"];

#[test]
fn completions_for_bash_zsh_and_fish_name_every_command() {
    let sb = Sandbox::new("completions");
    for shell in ["bash", "zsh", "fish"] {
        let run = sb.wd(["completions", shell]).run();
        run.expect_code(0);
        for c in COMMANDS {
            run.ensure(run.out().contains(c), &format!("{shell} completes {c}"));
        }
        run.ensure(run.out().contains("--pidfile"), "options are completed too");
    }
    // The bash script is valid bash.
    let run = sb.wd(["completions", "bash"]).run();
    let script = sb.write("watchdog.bash", &run.stdout);
    let out = sb
        .command("/bin/bash")
        .arg("-n")
        .arg(&script)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    sb.wd(["completions", "tcsh"]).run().expect_code(2);
}

#[test]
fn the_man_page_is_roff_and_covers_the_commands() {
    let sb = Sandbox::new("man");
    let run = sb.wd(["man"]).run();
    run.expect_code(0);
    run.ensure(
        run.out().starts_with(".ie") || run.out().contains(".TH watchdog"),
        "roff",
    );
    for c in COMMANDS {
        run.ensure(run.out().contains(c), &format!("the page lists {c}"));
    }
    let run = sb.wd(["man", "cron"]).run();
    run.expect_code(0);
    run.ensure(
        run.out().contains("watchdog\\-cron"),
        "the page of one command",
    );
    run.ensure(run.out().contains("\\-\\-install"), "with its options");
    sb.wd(["man", "nosuch"])
        .run()
        .expect_code(1)
        .expect_error(&["nosuch", "check"]);
    // Rendered by man(1) where it is installed.
    if std::path::Path::new("/usr/bin/man").exists() {
        let page = sb.write("watchdog.1", &sb.wd(["man"]).run().stdout);
        let out = sb
            .command("/usr/bin/man")
            .arg("-l")
            .arg(&page)
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && text.contains("crontab"), "{text}");
    }
}

#[test]
fn help_ends_with_the_crontab_line_and_shows_defaults() {
    let sb = Sandbox::new("help_defaults");
    let run = sb.wd(["--help"]).run();
    run.expect_code(0);
    let last = run
        .out()
        .trim_end()
        .lines()
        .last()
        .unwrap_or("")
        .to_string();
    run.ensure(
        last.trim_start().starts_with("* * * * * ") && last.contains(" check --pidfile "),
        "--help ends with the crontab line",
    );
    let run = sb.wd(["check", "--help"]).run();
    for opt in [
        "--wait",
        "--grace",
        "--max-launches",
        "--within",
        "--stdout",
        "--watch",
    ] {
        let section = run
            .out()
            .split(&format!("      {opt} "))
            .nth(1)
            .map(|s| s.split("\n      -").next().unwrap_or("").to_string())
            .unwrap_or_default();
        run.ensure(
            section.contains("default"),
            &format!("check --help gives the default of {opt}"),
        );
    }
}
