//! `watchdog cron --install/--uninstall` against the real `crontab` command (Debian's `cron`
//! package), on the crontab of the user running the tests (root in CI).
//!
//! That crontab is real: [`RealCrontab`] saves it first and puts it back on drop, and keeps
//! the tests that change it (this file and `cron_e2e.rs`) from running at the same time:
//! [`REAL_CRONTAB_MTX`] within this test binary, and an flock(2) on [`REAL_CRONTAB_LOCK`]
//! across test runs (two checkouts tested at once on one machine share root's crontab).
//! Without a `crontab` command the tests say so and skip; the test script installs the
//! `cron` package so that CI runs them.

use std::io::Write;

use nix::fcntl::{Flock, FlockArg};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};

use crate::support::Sandbox;

/// Held while a test changes the real crontab.
pub static REAL_CRONTAB_MTX: Mutex<()> = Mutex::new(());

/// Locked (flock, exclusive) while any test run on this machine changes the real crontab.
pub const REAL_CRONTAB_LOCK: &str = "/tmp/watchdog-it-real-crontab.lock";

/// The real crontab, saved when taken and restored on drop (before the locks go: fields
/// drop after `Drop::drop`).
pub struct RealCrontab {
    saved: Option<Vec<u8>>,
    _flock: Flock<std::fs::File>,
    _lock: MutexGuard<'static, ()>,
}

impl RealCrontab {
    /// Takes the real crontab for a test, or `None` (with the reason printed) when there is
    /// no `crontab` command.
    pub fn take(test: &str) -> Option<RealCrontab> {
        if !std::path::Path::new("/usr/bin/crontab").exists() {
            eprintln!(
                "SKIPPED {test}: no /usr/bin/crontab here (install Debian's `cron` package to \
                 run it)"
            );
            return None;
        }
        let lock = REAL_CRONTAB_MTX.lock().unwrap_or_else(|e| e.into_inner());
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(REAL_CRONTAB_LOCK)
            .unwrap_or_else(|e| panic!("open {REAL_CRONTAB_LOCK}: {e}"));
        // Blocks while another test run on this machine has the crontab (at most a couple
        // of minutes: the end-to-end test's wait for cron).
        let flock = Flock::lock(file, FlockArg::LockExclusive)
            .unwrap_or_else(|(_, e)| panic!("flock {REAL_CRONTAB_LOCK}: {e}"));
        let out = crontab(&["-l"], None);
        let saved = if out.status.success() {
            Some(out.stdout)
        } else if String::from_utf8_lossy(&out.stderr).contains("no crontab") {
            None
        } else {
            panic!(
                "`crontab -l` failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        Some(RealCrontab {
            saved,
            _flock: flock,
            _lock: lock,
        })
    }

    /// The crontab now.
    pub fn text(&self) -> Vec<u8> {
        let out = crontab(&["-l"], None);
        if out.status.success() {
            out.stdout
        } else {
            Vec::new()
        }
    }

    /// Replaces the crontab.
    pub fn set(&self, text: &[u8]) {
        let out = crontab(&["-"], Some(text));
        assert!(
            out.status.success(),
            "`crontab -` refused the test crontab: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for RealCrontab {
    fn drop(&mut self) {
        let out = match &self.saved {
            Some(t) => crontab(&["-"], Some(t)),
            None => crontab(&["-r"], None),
        };
        if !out.status.success() && self.saved.is_some() {
            eprintln!(
                "could not restore the crontab: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

fn crontab(args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    let mut c = Command::new("/usr/bin/crontab");
    c.args(args)
        .env("LC_ALL", "C")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("run /usr/bin/crontab");
    if let Some(t) = stdin {
        child.stdin.take().unwrap().write_all(t).unwrap();
    }
    child.wait_with_output().unwrap()
}

const OTHERS: &[u8] = b"# a user's own lines, which must come back byte for byte\nMAILTO=\"\"\n17 3 * * * /usr/bin/true --flag 'quoted arg' \\%\n\n@reboot /usr/bin/true\n";

#[test]
fn install_and_uninstall_with_the_real_crontab_command() {
    let Some(real) = RealCrontab::take("install_and_uninstall_with_the_real_crontab_command")
    else {
        return;
    };
    let sb = Sandbox::new("cron_real");
    real.set(OTHERS);
    assert_eq!(
        real.text(),
        OTHERS,
        "crontab -l gives back what crontab - got"
    );
    let program = sb.sleeper("real");
    let printed = sb.cmd("cron").program(&program).run();
    printed.expect_code(0);

    let run = sb.cmd("cron").arg("--install").program(&program).run();
    run.expect_code(0).expect_mentions("added the entry");
    let mut want = OTHERS.to_vec();
    want.extend_from_slice(&printed.stdout);
    assert_eq!(
        String::from_utf8_lossy(&real.text()),
        String::from_utf8_lossy(&want),
        "{run}"
    );

    sb.cmd("cron")
        .arg("--install")
        .program(&program)
        .run()
        .expect_code(0)
        .expect_mentions("nothing changed");
    assert_eq!(real.text(), want, "installing twice leaves one entry");

    let run = sb.cmd("cron").arg("--uninstall").run();
    run.expect_code(0).expect_mentions("removed the entry");
    assert_eq!(
        real.text(),
        OTHERS,
        "uninstall gives back every byte\n{run}"
    );
    assert_eq!(
        std::fs::read(sb.path("app.pid.crontab.bak")).unwrap(),
        want,
        "the backup is the crontab before the uninstall"
    );
}

#[test]
fn doctor_finds_the_line_in_the_real_crontab() {
    let Some(real) = RealCrontab::take("doctor_finds_the_line_in_the_real_crontab") else {
        return;
    };
    let sb = Sandbox::new("cron_real_doctor");
    real.set(b"");
    let program = sb.sleeper("doc");
    let before = sb.cmd("doctor").program(&program).run();
    before.expect_code(1);
    before.ensure(
        before.out().contains("problem: your crontab has no entry"),
        "doctor says the entry is missing",
    );
    sb.cmd("cron")
        .arg("--install")
        .program(&program)
        .run()
        .expect_code(0);
    let after = sb.cmd("doctor").program(&program).run();
    after.ensure(
        after.out().contains("ok: your crontab has the entry"),
        "doctor finds the entry",
    );
}
