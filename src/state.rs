//! The companion state file beside the PID file (`P.state`): the watchdog's only memory
//! between runs.
//!
//! It records who the PID in the PID file is (its `Identity`), whether the job is meant to
//! run (`Mode`), the recent launches for crash-loop counting, and how the program last
//! ended. It is small line-oriented text (`key value`), written atomically, and read
//! leniently: a file that is corrupt, truncated, empty, of another version or from another
//! boot never stops a command. Unreadable content is treated as absent, and the
//! adoption rule in `identity` takes over; the next write replaces it cleanly.
//!
//! ```text
//! watchdog-state 1
//! boot 6c1d...            the boot the identity and launch times belong to
//! pid 4242
//! start 1234567           start time of pid, clock ticks since boot
//! mode running            running | stopped | parked
//! since 1763900000        wall-clock seconds of the last mode change (for people)
//! launches 812.5 873.1    CLOCK_BOOTTIME seconds of recent launches (this boot)
//! last-exit exited with status 3
//! cmd /home/me/app/run.sh --port 8080
//! limit 5 3600            --max-launches and --within (seconds) of the last launch
//! watcher 4300 1234600    the `check --watch` run that watches now (pid, start ticks)
//! launcher 4301 1234601   with --program-writes-pidfile: the process launched last, whose
//!                         program has not yet written a PID file we accepted (pid, start)
//! unhealthy 2 4242 1234567  failed health checks in a row (`--healthy-when-*`) of the
//!                         program with that pid and start time
//! ```
//!
//! `limit` was added after version 1 shipped: files without it are read as before, a
//! malformed `limit` line is dropped on its own (it only informs `status`), and older
//! watchdogs ignore it as an unknown key. `unhealthy` (issue 8) follows the same rule: a
//! malformed line is dropped alone (the count starts again, which only delays a restart),
//! and the count applies only while the recorded program is the one it names, so a launch
//! needs no code to reset it.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::Result;
use crate::files::{self, Durability};
use crate::pidfile::Pid;

const HEADER: &str = "watchdog-state 1";

/// Longest state file we read; ours are a few hundred bytes.
pub const MAX_LEN: usize = 16 * 1024;

/// At most this many launch times are kept, whatever `--max-launches` says, so that the
/// file (and the healthy check's read of it) never grows.
pub const MAX_HISTORY: usize = 64;

/// Enough to recognise the process we launched or adopted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub pid: Pid,
    pub start_ticks: u64,
    pub boot_id: String,
}

/// What the user wants: the job runs, was stopped on purpose, or was parked after a crash
/// loop. `check` relaunches only in `Running`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Running,
    Stopped,
    Parked,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Running => "running",
            Mode::Stopped => "stopped",
            Mode::Parked => "parked",
        }
    }

    fn parse(s: &str) -> Option<Mode> {
        Some(match s {
            "running" => Mode::Running,
            "stopped" => Mode::Stopped,
            "parked" => Mode::Parked,
            _ => return None,
        })
    }
}

/// The crash-loop limit a launch was made with (`--max-launches`, `--within`), so that
/// `status`, which takes no launch options, can count launches in the same window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub max_launches: u32,
    /// The window, in seconds.
    pub within: f64,
}

impl Limit {
    fn parse(value: &str) -> Option<Limit> {
        let (n, w) = value.split_once(' ')?;
        let max_launches = n.parse::<u32>().ok().filter(|&n| n > 0)?;
        let within = w
            .parse::<f64>()
            .ok()
            .filter(|w| w.is_finite() && *w >= 0.0)?;
        Some(Limit {
            max_launches,
            within,
        })
    }
}

/// Failed health checks in a row, and the program (pid and start time, on this boot) they
/// were counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unhealthy {
    pub count: u32,
    pub pid: Pid,
    pub start_ticks: u64,
}

impl Unhealthy {
    fn parse(value: &str) -> Option<Unhealthy> {
        let mut it = value.split(' ');
        let count = it.next()?.parse::<u32>().ok().filter(|&n| n > 0)?;
        let pid = crate::pidfile::parse(it.next()?.as_bytes(), i32::MAX).ok()?;
        let start_ticks = it.next()?.parse::<u64>().ok()?;
        it.next().is_none().then_some(Unhealthy {
            count,
            pid,
            start_ticks,
        })
    }
}

/// The whole state file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct State {
    /// The identity of the PID last recorded in the PID file (on `boot`).
    pub identity: Option<Identity>,
    pub mode: Mode,
    /// Wall-clock seconds since the epoch when `mode` was last set.
    pub since: Option<i64>,
    /// `CLOCK_BOOTTIME` seconds of recent launches, oldest first, on the current boot.
    pub launches: Vec<f64>,
    /// How the program last ended, when the watchdog saw it ("exited with status 3").
    pub last_exit: Option<String>,
    /// The command line last launched, for messages and `status`.
    pub cmd: Option<String>,
    /// The `check --watch` process currently watching (on this boot), if any.
    pub watcher: Option<Identity>,
    /// With `--program-writes-pidfile`: the process we launched (on this boot) while its
    /// program has yet to write a PID file we accepted. See `daemonized`.
    pub launcher: Option<Identity>,
    /// The crash-loop limit of the last launch (absent in files from before it existed).
    pub limit: Option<Limit>,
    /// Failed health checks in a row (on this boot); see `unhealthy_count`.
    pub unhealthy: Option<Unhealthy>,
}

impl State {
    /// Serialises to the documented text form.
    pub fn render(&self, boot_id: &str) -> String {
        let mut s = String::with_capacity(256);
        let _ = writeln!(s, "{HEADER}");
        let _ = writeln!(s, "boot {}", one_line(boot_id));
        if let Some(id) = &self.identity {
            let _ = writeln!(s, "pid {}", id.pid);
            let _ = writeln!(s, "start {}", id.start_ticks);
        }
        let _ = writeln!(s, "mode {}", self.mode.as_str());
        if let Some(t) = self.since {
            let _ = writeln!(s, "since {t}");
        }
        if !self.launches.is_empty() {
            let start = self.launches.len().saturating_sub(MAX_HISTORY);
            let times: Vec<String> = self.launches[start..]
                .iter()
                .map(|t| format!("{t}"))
                .collect();
            let _ = writeln!(s, "launches {}", times.join(" "));
        }
        if let Some(e) = &self.last_exit {
            let _ = writeln!(s, "last-exit {}", one_line(e));
        }
        if let Some(c) = &self.cmd {
            let _ = writeln!(s, "cmd {}", one_line(c));
        }
        if let Some(w) = &self.watcher {
            let _ = writeln!(s, "watcher {} {}", w.pid, w.start_ticks);
        }
        if let Some(l) = &self.launcher {
            let _ = writeln!(s, "launcher {} {}", l.pid, l.start_ticks);
        }
        if let Some(l) = &self.limit {
            let _ = writeln!(s, "limit {} {}", l.max_launches, l.within);
        }
        if let Some(u) = &self.unhealthy {
            let _ = writeln!(s, "unhealthy {} {} {}", u.count, u.pid, u.start_ticks);
        }
        s
    }

    /// Parses the text form. Returns `None` for anything that is not a whole, well-formed
    /// state file of this version. Identity and launch times from a boot other than
    /// `boot_id` are dropped; the mode ("stopped on purpose") survives a reboot.
    pub fn parse(text: &[u8], boot_id: &str) -> Option<State> {
        let text = std::str::from_utf8(text).ok()?;
        let mut lines = text.lines();
        if lines.next()? != HEADER || !text.ends_with('\n') {
            return None;
        }
        let mut st = State::default();
        let (mut boot, mut pid, mut start, mut mode) = (None, None, None, None);
        let mut watcher = None;
        let mut launcher = None;
        for line in lines {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            match key {
                "boot" => boot = Some(value),
                "pid" => pid = Some(crate::pidfile::parse(value.as_bytes(), i32::MAX).ok()?),
                "start" => start = Some(value.parse::<u64>().ok()?),
                "mode" => mode = Some(Mode::parse(value)?),
                "since" => st.since = Some(value.parse().ok()?),
                "launches" => {
                    st.launches = value
                        .split(' ')
                        .map(|t| t.parse::<f64>().ok().filter(|t| t.is_finite() && *t >= 0.0))
                        .collect::<Option<Vec<f64>>>()?;
                    // render keeps only the newest MAX_HISTORY; so does reading, so that a
                    // state read back is the state that would be written.
                    let excess = st.launches.len().saturating_sub(MAX_HISTORY);
                    st.launches.drain(..excess);
                }
                "last-exit" => st.last_exit = Some(one_line(value)),
                "cmd" => st.cmd = Some(one_line(value)),
                // Informational only: a bad value loses this line, not the whole file.
                "limit" => st.limit = Limit::parse(value),
                // Likewise: a bad value only starts the count again.
                "unhealthy" => st.unhealthy = Unhealthy::parse(value),
                "launcher" => {
                    let (p, t) = value.split_once(' ')?;
                    launcher = Some((
                        crate::pidfile::parse(p.as_bytes(), i32::MAX).ok()?,
                        t.parse::<u64>().ok()?,
                    ));
                }
                "watcher" => {
                    let (p, t) = value.split_once(' ')?;
                    watcher = Some((
                        crate::pidfile::parse(p.as_bytes(), i32::MAX).ok()?,
                        t.parse::<u64>().ok()?,
                    ));
                }
                // Keys from a newer version are ignored, so a downgrade keeps working.
                _ => {}
            }
        }
        st.mode = mode?;
        let boot = boot?;
        if pid.is_some() != start.is_some() {
            return None;
        }
        if boot == boot_id {
            if let Some((pid, start_ticks)) = launcher {
                st.launcher = Some(Identity {
                    pid,
                    start_ticks,
                    boot_id: boot.to_string(),
                });
            }
            if let Some((pid, start_ticks)) = watcher {
                st.watcher = Some(Identity {
                    pid,
                    start_ticks,
                    boot_id: boot.to_string(),
                });
            }
            if let (Some(pid), Some(start_ticks)) = (pid, start) {
                st.identity = Some(Identity {
                    pid,
                    start_ticks,
                    boot_id: boot.to_string(),
                });
            }
        } else {
            st.launches.clear();
            // A pid and start time from another boot name nothing on this one.
            st.unhealthy = None;
        }
        Some(st)
    }

    /// Failed health checks in a row of the program with this pid and start time: 0 when
    /// the count is of another program (a launch since, or none yet).
    pub fn unhealthy_count(&self, pid: Pid, start_ticks: u64) -> u32 {
        self.unhealthy
            .filter(|u| u.pid == pid && u.start_ticks == start_ticks)
            .map_or(0, |u| u.count)
    }

    /// Launch times within the last `window` seconds of `now` (both `CLOCK_BOOTTIME`).
    pub fn launches_within(&self, now: f64, window: f64) -> usize {
        self.launches
            .iter()
            .filter(|&&t| t <= now && now - t < window)
            .count()
    }

    /// Appends a launch time, keeping at most `MAX_HISTORY` and dropping times that lie in
    /// the future (a state file copied from a machine with a longer uptime).
    pub fn push_launch(&mut self, now: f64) {
        self.launches.retain(|&t| t <= now);
        self.launches.push(now);
        let excess = self.launches.len().saturating_sub(MAX_HISTORY);
        self.launches.drain(..excess);
    }

    /// Sets the mode and its timestamp.
    pub fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
        self.since = Some(chrono::Utc::now().timestamp());
    }
}

/// Reads the state file. Absent or corrupt content is `Ok(None)`.
///
/// # Errors
/// Running as root, a state file another user owns (`ForeignOwner`), and I/O errors other
/// than "not found". A symlink, FIFO, directory or huge file at the path is corrupt, not an
/// error: it reads as absent.
pub fn read(path: &Path, boot_id: &str) -> Result<Option<State>> {
    match files::read_small(path, "state file", MAX_LEN) {
        Ok(f) => Ok(f.and_then(|f| State::parse(&f.bytes, boot_id))),
        // Our own file, grown huge or replaced by a FIFO, directory or symlink: corrupt,
        // so absent (the adoption rule decides), and the next write's rename replaces it
        // without following or reading it. A file another user owns stays an error: its
        // content would tell root which process is "ours".
        Err(crate::error::Error::UnsafeFile { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes the state file atomically, and synced when `durability` says so.
///
/// # Errors
/// `Io` naming the state file and the cause.
pub fn write(path: &Path, state: &State, boot_id: &str, durability: Durability) -> Result<()> {
    files::write_atomic(
        path,
        state.render(boot_id).as_bytes(),
        "state file",
        durability,
    )
}

/// Newlines would let a value forge keys; replace them.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> State {
        State {
            identity: Some(Identity {
                pid: Pid::new(4242).unwrap(),
                start_ticks: 1234567,
                boot_id: "b1".into(),
            }),
            mode: Mode::Stopped,
            since: Some(1_763_900_000),
            launches: vec![812.5, 873.125],
            last_exit: Some("exited with status 3".into()),
            cmd: Some("/bin/sleep 1000".into()),
            watcher: Some(Identity {
                pid: Pid::new(4300).unwrap(),
                start_ticks: 1234600,
                boot_id: "b1".into(),
            }),
            limit: Some(Limit {
                max_launches: 5,
                within: 3600.0,
            }),
            launcher: Some(Identity {
                pid: Pid::new(4301).unwrap(),
                start_ticks: 1234601,
                boot_id: "b1".into(),
            }),
            unhealthy: Some(Unhealthy {
                count: 2,
                pid: Pid::new(4242).unwrap(),
                start_ticks: 1234567,
            }),
        }
    }

    #[test]
    fn round_trips() {
        let st = sample();
        assert_eq!(State::parse(st.render("b1").as_bytes(), "b1"), Some(st));
    }

    #[test]
    fn another_boot_drops_identity_and_history_but_keeps_the_mode() {
        let st = State::parse(sample().render("b1").as_bytes(), "b2").unwrap();
        assert_eq!(st.identity, None);
        assert_eq!(st.watcher, None);
        assert_eq!(st.launcher, None);
        assert_eq!(st.unhealthy, None);
        assert!(st.launches.is_empty());
        assert_eq!(st.mode, Mode::Stopped);
    }

    #[test]
    fn corrupt_truncated_empty_or_foreign_files_are_absent() {
        let good = sample().render("b1");
        let cut = &good[..good.len() / 2];
        let bad: Vec<String> = vec![
            String::new(),
            "\n".into(),
            "watchdog-state 2\nboot b1\nmode running\n".into(),
            "garbage".into(),
            cut.to_string(),
            good.replace("mode stopped", "mode sleeping"),
            good.replace("pid 4242", "pid -1"),
            good.replace("pid 4242", "pid 1"),
            good.replace("start 1234567", "start x"),
            good.replace("launches 812.5 873.125", "launches NaN"),
            good.replace("\nstart 1234567", ""),
            good.replace("boot b1\n", ""),
            good.trim_end().to_string(),
        ];
        for b in bad {
            assert_eq!(State::parse(b.as_bytes(), "b1"), None, "{b:?}");
        }
        assert_eq!(State::parse(&[0xff, 0xfe], "b1"), None);
    }

    #[test]
    fn files_without_a_limit_or_with_a_bad_one_still_read() {
        let good = sample().render("b1");
        let line = good
            .lines()
            .find(|l| l.starts_with("limit "))
            .unwrap_or_else(|| panic!("no limit line in {good}"))
            .to_string();
        let old = good.replace(&format!("{line}\n"), "");
        let st = State::parse(old.as_bytes(), "b1").unwrap();
        assert_eq!(st.limit, None);
        assert_eq!(st.mode, Mode::Stopped);
        for bad in [
            "limit x 3600",
            "limit 0 3600",
            "limit 5",
            "limit 5 -1",
            "limit 5 inf",
        ] {
            let text = good.replace(&line, bad);
            let st = State::parse(text.as_bytes(), "b1").unwrap_or_else(|| panic!("{bad}"));
            assert_eq!(st.limit, None, "{bad}");
            assert_eq!(st.cmd.as_deref(), Some("/bin/sleep 1000"), "{bad}");
        }
    }

    #[test]
    fn files_without_an_unhealthy_count_or_with_a_bad_one_still_read() {
        let good = sample().render("b1");
        assert!(good.contains("\nunhealthy 2 4242 1234567\n"), "{good}");
        let st = State::parse(good.as_bytes(), "b1").unwrap();
        assert_eq!(st.unhealthy_count(Pid::new(4242).unwrap(), 1234567), 2);
        // Counted against another program (relaunched since): no failures of this one.
        assert_eq!(st.unhealthy_count(Pid::new(4242).unwrap(), 1234568), 0);
        assert_eq!(st.unhealthy_count(Pid::new(4243).unwrap(), 1234567), 0);
        let old = good.replace("unhealthy 2 4242 1234567\n", "");
        let st = State::parse(old.as_bytes(), "b1").unwrap();
        assert_eq!(st.unhealthy, None);
        assert_eq!(st.mode, Mode::Stopped);
        for bad in [
            "unhealthy",
            "unhealthy x 4242 1234567",
            "unhealthy 0 4242 1234567",
            "unhealthy 2 1 1234567",
            "unhealthy 2 4242",
            "unhealthy 2 4242 1234567 9",
            "unhealthy -2 4242 1234567",
        ] {
            let text = good.replace("unhealthy 2 4242 1234567", bad);
            let st = State::parse(text.as_bytes(), "b1").unwrap_or_else(|| panic!("{bad}"));
            assert_eq!(st.unhealthy, None, "{bad}");
            assert_eq!(st.cmd.as_deref(), Some("/bin/sleep 1000"), "{bad}");
        }
    }

    #[test]
    fn a_newline_in_a_value_cannot_forge_a_key() {
        let mut st = sample();
        st.cmd = Some("evil\nmode running".into());
        let back = State::parse(st.render("b1").as_bytes(), "b1").unwrap();
        assert_eq!(back.mode, Mode::Stopped);
    }

    #[test]
    fn history_is_bounded_and_windowed() {
        let mut st = State::default();
        for i in 0..200 {
            st.push_launch(i as f64);
        }
        assert_eq!(st.launches.len(), MAX_HISTORY);
        assert_eq!(st.launches_within(199.0, 10.0), 10);
        // A clock that went "backwards" relative to recorded times (a copied file): future
        // entries are not counted and are dropped at the next launch.
        st.launches = vec![500.0, 600.0];
        assert_eq!(st.launches_within(100.0, 1000.0), 0);
        st.push_launch(100.0);
        assert_eq!(st.launches, vec![100.0]);
    }
}
