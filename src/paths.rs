//! Every path the watchdog uses, derived from `--pidfile`, so that one option names a job.
//!
//! For `--pidfile ~/app/app.pid` (STEM is the PID file path without a trailing `.pid`):
//! `~/app/app.pid.state` and `~/app/app.pid.lock` are the watchdog's own companions, and
//! `~/app/app.out`, `~/app/app.err`, `~/app/app.watchdog.log` the default output and event
//! log. Output is never silently discarded: there is no default of /dev/null.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Paths {
    pub pidfile: PathBuf,
    pub state: PathBuf,
    pub lock: PathBuf,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    pub log: PathBuf,
}

impl Paths {
    /// Derives the paths; explicit `--stdout`, `--stderr`, `--log` win over the defaults.
    pub fn new(
        pidfile: &Path,
        stdout: Option<&Path>,
        stderr: Option<&Path>,
        log: Option<&Path>,
    ) -> Paths {
        let stem = stem(pidfile);
        Paths {
            pidfile: pidfile.to_path_buf(),
            state: with_suffix(pidfile.as_os_str(), ".state"),
            lock: with_suffix(pidfile.as_os_str(), ".lock"),
            stdout: stdout.map_or_else(|| with_suffix(&stem, ".out"), Path::to_path_buf),
            stderr: stderr.map_or_else(|| with_suffix(&stem, ".err"), Path::to_path_buf),
            log: log.map_or_else(|| with_suffix(&stem, ".watchdog.log"), Path::to_path_buf),
        }
    }
}

fn stem(pidfile: &Path) -> OsString {
    let bytes = pidfile.as_os_str().as_bytes();
    match bytes.strip_suffix(b".pid") {
        // Keep "x/.pid" whole: stripping would leave a directory path.
        Some(s) if !s.is_empty() && !s.ends_with(b"/") => OsStr::from_bytes(s).to_os_string(),
        _ => pidfile.as_os_str().to_os_string(),
    }
}

fn with_suffix(base: &OsStr, suffix: &str) -> PathBuf {
    let mut s = base.to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_sit_beside_the_pid_file() {
        let p = Paths::new(Path::new("/home/me/app/app.pid"), None, None, None);
        assert_eq!(p.state, Path::new("/home/me/app/app.pid.state"));
        assert_eq!(p.lock, Path::new("/home/me/app/app.pid.lock"));
        assert_eq!(p.stdout, Path::new("/home/me/app/app.out"));
        assert_eq!(p.stderr, Path::new("/home/me/app/app.err"));
        assert_eq!(p.log, Path::new("/home/me/app/app.watchdog.log"));
    }

    #[test]
    fn a_pid_file_without_the_pid_suffix_keeps_its_name() {
        let p = Paths::new(Path::new("run/bot.lock"), None, None, None);
        assert_eq!(p.stdout, Path::new("run/bot.lock.out"));
        let p = Paths::new(Path::new("/x/.pid"), None, None, None);
        assert_eq!(p.stdout, Path::new("/x/.pid.out"));
    }

    #[test]
    fn explicit_paths_win() {
        let p = Paths::new(
            Path::new("a.pid"),
            Some(Path::new("o")),
            Some(Path::new("o")),
            Some(Path::new("l")),
        );
        assert_eq!(
            (p.stdout.as_path(), p.stderr.as_path()),
            (Path::new("o"), Path::new("o"))
        );
        assert_eq!(p.log, Path::new("l"));
    }
}
