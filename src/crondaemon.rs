//! What runs crontabs on this machine, and whether it lets a job's leftover processes live:
//! the facts `watchdog doctor` reports. Everything here only reads (`/proc`, unit files,
//! configuration); nothing is signalled, started or changed.
//!
//! Why it matters: `watchdog check` exits right after launching, leaving the program behind
//! as a "leftover process" of the cron job. Classic crons (Debian's `cron`, cronie, busybox
//! `crond`) let it live. Others do not:
//! - **systemd-cron** turns each crontab line into a systemd service; when the job's command
//!   exits, systemd stops whatever is left in the service's cgroup, so every relaunched
//!   program dies at once.
//! - A cron **service whose KillMode is not `process`** kills all the programs with it when
//!   the service is stopped or restarted (a package upgrade does that).
//! - logind's **KillUserProcesses=yes** kills what is left in a login session when it ends:
//!   a program started by `watchdog start` from SSH, and cron jobs too where cron opens
//!   logind sessions (`pam_systemd` in its PAM stack).
//!
//! Tests point [`SYSROOT_VAR`] at a directory to stand in for `/` when reading
//! configuration (never `/proc`), so that they never depend on, or touch, the machine's own.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use crate::identity;
use crate::pidfile::Pid;

/// Set by tests only: a directory read instead of `/` for configuration files.
pub const SYSROOT_VAR: &str = "WATCHDOG_TEST_SYSROOT";

/// A configuration path, under the test sysroot when one is set.
pub fn sys_path(p: &str) -> PathBuf {
    match std::env::var_os(SYSROOT_VAR) {
        Some(root) if !root.is_empty() => Path::new(&root).join(p.trim_start_matches('/')),
        _ => PathBuf::from(p),
    }
}

/// Names cron daemons run under (`comm`, or the first word of the command line for
/// busybox's applet). anacron is not one: it runs jobs daily, not crontabs.
const DAEMON_NAMES: &[&str] = &["cron", "crond", "fcron", "bcron-sched", "cronie"];

/// Whether a process called `comm` (or started as `argv0`) is a cron daemon.
pub fn is_daemon_name(comm: &str, argv0: &str) -> bool {
    let base = Path::new(argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    DAEMON_NAMES.contains(&comm) || DAEMON_NAMES.contains(&base.as_str())
}

/// A running cron daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Daemon {
    pub pid: i32,
    pub name: String,
    /// Its cgroup v2 path (`/system.slice/cron.service`), when readable.
    pub cgroup: Option<String>,
}

/// The cron daemons visible in `/proc` (alive, not zombies).
pub fn daemons() -> Vec<Daemon> {
    let Ok(rd) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for e in rd.flatten() {
        let Some(pid) = e
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
            .and_then(Pid::new)
        else {
            continue;
        };
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let comm = comm.trim_end();
        let argv0 = fs::read(format!("/proc/{pid}/cmdline"))
            .ok()
            .and_then(|c| {
                c.split(|&b| b == 0)
                    .next()
                    .map(|w| String::from_utf8_lossy(w).into_owned())
            })
            .unwrap_or_default();
        if !is_daemon_name(comm, &argv0) {
            continue;
        }
        let alive = identity::read_stat(pid)
            .ok()
            .flatten()
            .is_some_and(|s| !s.is_dead());
        if alive {
            found.push(Daemon {
                pid: pid.raw(),
                name: comm.to_string(),
                cgroup: cgroup_of(pid.raw()),
            });
        }
    }
    found.sort_by_key(|d| d.pid);
    found
}

/// The unified (v2) cgroup path of a process.
pub fn cgroup_of(pid: i32) -> Option<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_string)
}

/// The systemd unit a cgroup path belongs to (`cron.service`, `session-3.scope`).
pub fn unit_of_cgroup(cgroup: &str) -> Option<&str> {
    cgroup
        .rsplit('/')
        .find(|part| part.ends_with(".service") || part.ends_with(".scope"))
}

/// Whether systemd manages this machine (`/run/systemd/system` exists, sd_booted(3)).
pub fn systemd_running() -> bool {
    sys_path("/run/systemd/system").is_dir()
}

/// Files that only systemd-cron installs; the first one present is the evidence.
const SYSTEMD_CRON_FILES: &[&str] = &[
    "/var/lib/dpkg/info/systemd-cron.list",
    "/usr/lib/systemd/system-generators/systemd-crontab-generator",
    "/lib/systemd/system-generators/systemd-crontab-generator",
    "/usr/lib/systemd/system/cron@.service",
    "/lib/systemd/system/cron@.service",
    "/usr/lib/systemd/system/cron.target",
    "/lib/systemd/system/cron.target",
];

/// The file showing that systemd-cron is installed, if it is.
pub fn systemd_cron() -> Option<PathBuf> {
    SYSTEMD_CRON_FILES
        .iter()
        .map(|p| sys_path(p))
        .find(|p| p.exists())
}

const UNIT_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// The `KillMode=` of a system unit, after drop-ins (`None` when unset: systemd's default
/// is `control-group`), and the file that set it.
pub fn kill_mode(unit: &str) -> Option<(String, PathBuf)> {
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(main) = UNIT_DIRS
        .iter()
        .map(|d| sys_path(d).join(unit))
        .find(|p| p.is_file())
    {
        files.push(main);
    }
    // Drop-ins: by file name across the directories, the first directory winning a name.
    let mut dropins: Vec<(OsString, PathBuf)> = Vec::new();
    for d in UNIT_DIRS {
        let dir = sys_path(d).join(format!("{unit}.d"));
        for e in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = e.file_name();
            if name.to_string_lossy().ends_with(".conf") && !dropins.iter().any(|(n, _)| *n == name)
            {
                dropins.push((name, e.path()));
            }
        }
    }
    dropins.sort();
    files.extend(dropins.into_iter().map(|(_, p)| p));
    let mut mode = None;
    for f in files {
        if let Some(v) = last_setting(&f, "Service", "KillMode") {
            mode = Some((v, f));
        }
    }
    mode
}

/// The last `key=value` in `[section]` of an INI-style systemd file.
fn last_setting(file: &Path, section: &str, key: &str) -> Option<String> {
    let text = fs::read_to_string(file).ok()?;
    let mut in_section = false;
    let mut value = None;
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with('[') {
            in_section = l == format!("[{section}]");
            continue;
        }
        if !in_section || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        if let Some((k, v)) = l.split_once('=') {
            if k.trim() == key {
                value = Some(v.trim().to_string());
            }
        }
    }
    value
}

/// logind's settings that decide whether a session's leftover processes are killed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Logind {
    /// `KillUserProcesses=` as configured (`None`: not set in any file we read).
    pub kill_user_processes: Option<bool>,
    /// The file that set it.
    pub set_in: Option<PathBuf>,
    /// `KillExcludeUsers=` (systemd's default is `root`).
    pub exclude_users: Vec<String>,
    /// `KillOnlyUsers=` (empty: everyone not excluded).
    pub only_users: Vec<String>,
}

impl Logind {
    /// Whether logind kills the leftover processes of `user`'s sessions.
    pub fn kills(&self, user: &str) -> bool {
        self.kill_user_processes == Some(true)
            && !self.exclude_users.iter().any(|u| u == user)
            && (self.only_users.is_empty() || self.only_users.iter().any(|u| u == user))
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// Reads logind.conf and its drop-ins (logind.conf(5) order: the main file, then drop-ins
/// by file name, later settings winning).
pub fn logind() -> Logind {
    let mut files = vec![sys_path("/etc/systemd/logind.conf")];
    let mut dropins: Vec<(OsString, PathBuf)> = Vec::new();
    for d in [
        "/etc/systemd/logind.conf.d",
        "/run/systemd/logind.conf.d",
        "/usr/local/lib/systemd/logind.conf.d",
        "/usr/lib/systemd/logind.conf.d",
    ] {
        for e in fs::read_dir(sys_path(d)).into_iter().flatten().flatten() {
            let name = e.file_name();
            if name.to_string_lossy().ends_with(".conf") && !dropins.iter().any(|(n, _)| *n == name)
            {
                dropins.push((name, e.path()));
            }
        }
    }
    dropins.sort();
    files.extend(dropins.into_iter().map(|(_, p)| p));
    let mut l = Logind {
        exclude_users: vec!["root".into()],
        ..Logind::default()
    };
    for f in files {
        if let Some(v) = last_setting(&f, "Login", "KillUserProcesses").and_then(|v| parse_bool(&v))
        {
            l.kill_user_processes = Some(v);
            l.set_in = Some(f.clone());
        }
        if let Some(v) = last_setting(&f, "Login", "KillExcludeUsers") {
            l.exclude_users = v.split_whitespace().map(str::to_string).collect();
        }
        if let Some(v) = last_setting(&f, "Login", "KillOnlyUsers") {
            l.only_users = v.split_whitespace().map(str::to_string).collect();
        }
    }
    l
}

/// Whether cron's PAM configuration opens a logind session for each job (`pam_systemd`),
/// following `@include`, `include` and `substack` a few levels deep. Returns the file
/// that names pam_systemd.
pub fn cron_pam_opens_sessions() -> Option<PathBuf> {
    ["/etc/pam.d/cron", "/etc/pam.d/crond"]
        .iter()
        .find_map(|f| pam_mentions_systemd(&sys_path(f), 0))
}

fn pam_mentions_systemd(file: &Path, depth: usize) -> Option<PathBuf> {
    if depth > 4 {
        return None;
    }
    let text = fs::read_to_string(file).ok()?;
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with('#') || l.is_empty() {
            continue;
        }
        let words: Vec<&str> = l.split_whitespace().collect();
        let include = match words.as_slice() {
            ["@include", name, ..] => Some(*name),
            [kind, "include" | "substack", name, ..]
                if kind.trim_start_matches('-') == "session" =>
            {
                Some(*name)
            }
            _ => None,
        };
        if let Some(name) = include {
            let next = sys_path(&format!("/etc/pam.d/{name}"));
            if let Some(f) = pam_mentions_systemd(&next, depth + 1) {
                return Some(f);
            }
            continue;
        }
        if words
            .first()
            .is_some_and(|k| k.trim_start_matches('-') == "session")
            && words.iter().any(|w| w.starts_with("pam_systemd.so"))
        {
            return Some(file.to_path_buf());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_names() {
        assert!(is_daemon_name("cron", "/usr/sbin/cron"));
        assert!(is_daemon_name("crond", "crond"));
        assert!(is_daemon_name("busybox", "crond"));
        assert!(!is_daemon_name("anacron", "/usr/sbin/anacron"));
        assert!(!is_daemon_name("bash", "/bin/bash"));
    }

    #[test]
    fn units_of_cgroups() {
        assert_eq!(
            unit_of_cgroup("/system.slice/cron.service"),
            Some("cron.service")
        );
        assert_eq!(
            unit_of_cgroup("/user.slice/user-1000.slice/session-3.scope"),
            Some("session-3.scope")
        );
        assert_eq!(unit_of_cgroup("/"), None);
    }

    #[test]
    fn settings_are_read_per_section_and_the_last_wins() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x.conf");
        fs::write(
            &f,
            "[Login]\n#KillUserProcesses=no\nKillUserProcesses=no\n[Other]\nKillUserProcesses=maybe\n[Login]\n KillUserProcesses = yes\n",
        )
        .unwrap();
        assert_eq!(
            last_setting(&f, "Login", "KillUserProcesses").as_deref(),
            Some("yes")
        );
        assert_eq!(last_setting(&f, "Service", "KillMode"), None);
    }

    #[test]
    fn logind_kills_only_users_it_does_not_exclude() {
        let l = Logind {
            kill_user_processes: Some(true),
            set_in: None,
            exclude_users: vec!["root".into()],
            only_users: vec![],
        };
        assert!(l.kills("me"));
        assert!(!l.kills("root"));
        let l = Logind {
            only_users: vec!["bob".into()],
            ..l
        };
        assert!(!l.kills("me"));
        assert!(!Logind::default().kills("me"));
    }
}
