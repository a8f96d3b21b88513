//! End to end with the real cron daemon (Debian's `cron`): `watchdog cron --install` writes
//! the entry into root's crontab, the program is killed, and cron's own run of the entry
//! brings it back.
//!
//! SLOW: cron runs entries at the top of each minute, so this test waits up to a minute and
//! a bit (the deadline is [`CRON_DEADLINE`]); it runs alongside the rest of the suite.
//!
//! It needs root (to start `cron` and use root's crontab) and `/usr/sbin/cron` and
//! `/usr/bin/crontab`; without them it prints why and skips. A cron daemon that already
//! runs is used as it is; otherwise `cron -f` is started as a guarded child of the test and
//! killed with the sandbox. Root's crontab is saved and restored (`cron_real.rs`).

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::cron_real::RealCrontab;
use crate::support::procfs;
use crate::support::wait::poll;
use crate::support::{QUICK_LADDER, Sandbox};

/// Longest wait for cron's next run: a minute boundary, plus cron's own start and a slow
/// machine.
const CRON_DEADLINE: Duration = Duration::from_secs(130);

/// PIDs of running cron daemons (read from /proc only). Only installed ones count: the
/// doctor tests run a copy of `sleep` named `cron` from their sandbox.
fn cron_daemons() -> Vec<i32> {
    procfs::all_pids()
        .into_iter()
        .filter(|&p| {
            std::fs::read_to_string(format!("/proc/{p}/comm"))
                .is_ok_and(|c| matches!(c.trim_end(), "cron" | "crond"))
                && std::fs::read_link(format!("/proc/{p}/exe"))
                    .is_ok_and(|e| e.starts_with("/usr/sbin") || e.starts_with("/sbin"))
                && procfs::is_alive(p)
        })
        .collect()
}

#[test]
fn cron_itself_brings_a_killed_program_back() {
    const NAME: &str = "cron_itself_brings_a_killed_program_back";
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED {NAME}: needs root, to start cron and use root's crontab");
        return;
    }
    if !std::path::Path::new("/usr/sbin/cron").exists() {
        eprintln!("SKIPPED {NAME}: no /usr/sbin/cron (install Debian's `cron` package)");
        return;
    }
    let Some(real) = RealCrontab::take(NAME) else {
        return;
    };
    let sb = Sandbox::new("cron_e2e");

    if cron_daemons().is_empty() {
        let mut cmd = sb.command("/usr/sbin/cron");
        cmd.arg("-f")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(sb.path("cron.stderr")).unwrap());
        let pid = sb.spawn_guarded(cmd, "cron -f");
        let up = poll(Duration::from_secs(2), || {
            (!procfs::is_alive(pid)).then_some(())
        });
        if up.is_some() {
            eprintln!(
                "SKIPPED {NAME}: cron -f exited at once: {}",
                sb.read("cron.stderr").trim()
            );
            return;
        }
    }

    real.set(b"");
    let program = sb.sleeper("e2e");
    let run = sb
        .cmd("cron")
        .args(["--install", "--grace", "300ms"])
        .program(&program)
        .run();
    run.expect_code(0).expect_mentions("added the entry");

    sb.start(&program).run().expect_code(0);
    let first = sb.expect_recorded("program started by the test");
    sb.kill_program(first);
    let killed = Instant::now();
    eprintln!("{NAME}: killed pid {first}; waiting up to {CRON_DEADLINE:?} for cron's run");

    // A PID that is recorded, alive and carries the sandbox in its command line: the
    // relaunched program (a held child not yet released counts too: it is the watchdog's
    // copy, whose command line names the sandbox's PID file).
    let back = poll(CRON_DEADLINE, || {
        sb.recorded_pid()
            .filter(|&p| p != first && procfs::is_alive(p) && sb.is_ours(p))
    });
    let Some(back) = back else {
        sb.fail(&format!(
            "cron did not bring the program back within {CRON_DEADLINE:?}; crontab:\n{}",
            String::from_utf8_lossy(&real.text())
        ));
    };
    sb.guard(back, "program relaunched by cron");
    eprintln!(
        "{NAME}: cron relaunched it as pid {back} after {:?}",
        killed.elapsed()
    );
    // The PID file is written before the program is released, the event log line after.
    sb.wait_until("the event log records cron's check launching it", || {
        sb.read("app.watchdog.log")
            .lines()
            .any(|l| l.contains("check: launched") && l.contains(&format!("as pid {back}")))
    });

    sb.cmd("cron")
        .arg("--uninstall")
        .run()
        .expect_code(0)
        .expect_mentions("removed the entry");
    sb.stop(QUICK_LADDER).run().expect_code(0);
}
