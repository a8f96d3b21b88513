//! Integration tests for `watchdog`: every test starts the real binary and real processes
//! in a temporary directory, synchronises by polling with a deadline, and kills what it
//! started by PID (see `support/`). The fixtures are scripts in `tests/fixtures/`.
//!
//! Some tests need root (they run the watchdog as `nobody` through `setpriv`, or create
//! PID namespaces with `unshare`); the suite is meant to run as root in CI.

mod support; // sandboxes, process guards, polling, /proc readers, the decoy

mod adoption; // PID files without companion state: adopt only what started before the file
mod check; // the cron job: launch, silence when healthy, relaunch, launch failures, grace
mod cli; // --help, --version, usage errors (exit 2)
mod completions; // completions bash|zsh|fish, man pages, defaults in --help
mod concurrency; // parallel checks, stop racing checks, busy lock (exit 5), lock not inherited
mod config; // --config FILE: three programs, one broken; names, cron line, relative paths
mod crash_loop; // --max-launches/--within: park, stay quiet, `start` resumes
mod cron_e2e; // SLOW (about a minute): the real cron daemon relaunches a killed program
mod cron_line; // `cron`: the printed lines, --install/--uninstall with a fake `crontab`
mod cron_real; // `cron --install/--uninstall` with Debian's real `crontab` (restored after)
mod doctor; // `doctor`: findings, problems (PATH, files, daemon, crontab, systemd-cron, logind)
mod faults; // watchdog killed mid-launch, lock file replaced or deleted, disk full
mod health; // --healthy-when-cmd/-port, --unhealthy-after: restart after N, healthy left alone
mod hostile; // FIFO, directory, symlink, huge file at the PID path; corrupt state; foreign owner
mod identity; // zombies, ')' in comm, boot id, state-based identity
mod kill; // `kill SIGNAL`: spellings, not running
mod kill_points; // the watchdog SIGKILLed at each step of a launch (fault points)
mod launch_env; // what a launched program inherits: session, signals, fds, files, env, argv
mod log_cmd; // `log -n N`: the last events, read from the end of even a huge log
mod lost_pidfile;
mod pid_reuse; // a real reused PID (PID namespace + ns_last_pid): status, kill, stop, check
mod pidfile_strict; // the PID file parser's table of bad contents, in a PID namespace
mod privileges; // the watchdog as `nobody`: own programs, root's programs, unwritable files
mod program_writes_pidfile; // --program-writes-pidfile: double-forking daemons, failures, crash safety
mod readiness; // --ready-when-log/--ready-when-cmd: waits, timeouts, no lock held, stop wins
mod reload; // `reload`: HUP to a handler, refused when ignored (nohup) or deadly
mod rotation; // --rotate-size and `rotate`: no line lost on ext4, tmpfs window, keep-N
mod run_foreground; // `run`: the program's exit status, same launch as check, coexistence
mod start_stop; // start, stop ladder, sessions, SIGSTOP, restart
mod status; // `status` lines and exit codes 0/1/3/4
mod status_json; // `status --json`: the documented object, parsed; launches, last exit
mod stay_down; // --stay-down-on: listed exits within the grace period and in watch mode
mod stop_command; // --stop-command first, with WATCHDOG_PID; the ladder when it does not stop
mod user_switch; // --user as root: uid, gid, groups, output files; refused for non-root
mod watch; // check --watch: relaunch at once, takeover, stop, signals, crash loop // the PID file deleted or overwritten: the state's record wins, no second copy
