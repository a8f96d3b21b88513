//! The command line itself: `--help` lists every command and the exit codes, `--version`
//! prints the version, and usage errors exit 2 with a message (clap's).

use crate::support::Sandbox;

#[test]
fn help_lists_every_command_and_the_exit_codes() {
    let sb = Sandbox::new("cli_help");
    let run = sb.wd(["--help"]).run();
    run.expect_code(0);
    let out = run.out();
    for cmd in ["check", "start", "stop", "restart", "status", "kill"] {
        run.ensure(
            out.lines()
                .any(|l| l.split_whitespace().next() == Some(cmd)),
            &format!("--help lists the command {cmd}"),
        );
    }
    let lower = out.to_lowercase();
    let Some(at) = lower.find("exit") else {
        run.fail("--help has no section about exit codes");
    };
    let after = &out[at..];
    for code in 0..=5 {
        run.ensure(
            after.lines().any(|l| {
                l.split(|c: char| !c.is_ascii_alphanumeric())
                    .any(|w| w == code.to_string())
            }),
            &format!("--help documents exit code {code}"),
        );
    }
}

#[test]
fn version_prints_the_crate_version() {
    let sb = Sandbox::new("cli_version");
    let run = sb.wd(["--version"]).run();
    run.expect_code(0);
    run.ensure(
        run.out().contains(env!("CARGO_PKG_VERSION")),
        "--version prints the version",
    );
}

#[test]
fn usage_errors_exit_2_with_a_message() {
    let sb = Sandbox::new("cli_usage");
    let pidfile = sb.pidfile();
    let p = pidfile.to_str().unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec![],
        vec!["frobnicate", "--pidfile", p],
        vec!["check", "--", "/bin/true"],
        vec!["check", "--pidfile", p],
        vec!["start", "--pidfile", p],
        vec![
            "check",
            "--pidfile",
            p,
            "--grace",
            "soon",
            "--",
            "/bin/true",
        ],
        vec!["check", "--pidfile", p, "--umask", "999", "--", "/bin/true"],
        vec![
            "check",
            "--pidfile",
            p,
            "--env",
            "NOEQUALS",
            "--",
            "/bin/true",
        ],
        vec![
            "check",
            "--pidfile",
            p,
            "--max-launches",
            "many",
            "--",
            "/bin/true",
        ],
        vec!["stop", "--pidfile", p, "--ladder", "INT/x"],
        vec!["stop", "--pidfile", p, "--ladder", "NOSUCHSIG/1"],
        vec!["status", "--pidfile", p, "--wait", "forever"],
        vec!["kill", "--pidfile", p],
    ];
    for argv in cases {
        let run = sb.wd(&argv).run();
        run.expect_code(2);
        run.ensure(
            !run.stderr.is_empty(),
            "a usage error explains itself on stderr",
        );
        run.ensure(!sb.pidfile().exists(), "a usage error touches nothing");
    }
}
