// A hand-written parse of the only form the benchmark uses, `check --pidfile P -- PROG
// ARGS...`, standing in for a fast path that a real change would fall back from to clap on
// anything it does not recognise.
use std::ffi::OsString;
use std::time::Duration;

use watchdog::cli::{CheckArgs, JobArgs, LaunchArgs};

pub fn args() -> CheckArgs {
    let mut it = std::env::args_os().skip(2);
    let mut pidfile = None;
    let mut program: Vec<OsString> = Vec::new();
    while let Some(a) = it.next() {
        if a == "--pidfile" {
            pidfile = it.next();
        } else if a == "--" {
            program = it.collect();
            break;
        }
    }
    CheckArgs {
        launch: LaunchArgs {
            job: JobArgs {
                pidfile: pidfile.expect("--pidfile").into(),
                wait: Duration::from_secs(30),
                log: None,
            },
            stdout: None,
            stderr: None,
            grace: Duration::from_secs(1),
            chdir: None,
            env: vec![],
            umask: None,
            max_launches: 5,
            within: Duration::from_secs(3600),
            program,
        },
        watch: None,
    }
}
