// A hand-written parse of the only form the benchmark uses, `check --pidfile P -- PROG
// ARGS...`, standing in for a fast path that a real change would fall back from to clap on
// anything it does not recognise.
use std::ffi::OsString;
use std::time::Duration;

use watchdog::cli::{
    CheckArgs, HealthArgs, JobArgs, LaunchArgs, RotationArgs, StoppingArgs, SupervisionArgs,
};

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
                config: vec![],
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
            rotation: RotationArgs {
                rotate_size: None,
                rotate_keep: 5,
                rotate_compress: false,
                rotate_interval: Duration::from_secs(10),
            },
            supervision: SupervisionArgs {
                program_writes_pidfile: false,
                ready_when_log: None,
                ready_when_cmd: None,
                ready_timeout: Duration::from_secs(60),
                stay_down_on: vec![],
                user: None,
            },
            health: HealthArgs {
                healthy_when_cmd: None,
                healthy_when_port: None,
                health_timeout: Duration::from_secs(10),
                unhealthy_after: 3,
            },
            stopping: StoppingArgs { stop_command: None },
            program,
        },
        watch: None,
        ladder: watchdog::ladder::parse(watchdog::ladder::DEFAULT).expect("the default ladder"),
    }
}
