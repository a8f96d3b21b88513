//! `watchdog`: keeps a program alive from crontab, with nothing resident.
//!
//! The binary is `src/main.rs`; this library holds everything else so that the fuzz
//! targets and benchmarks can reach the parsers.
//!
//! # Theory of operation
//! Every run is short-lived and does the same steps, under a lock so that any number of
//! runs (cron's check, a user's stop, an overlapping slow check) act one at a time:
//!
//! 1. **Lock** `P.lock` (`lock.rs`), waiting at most `--wait`; a held lock names its holder.
//! 2. **Read** the PID file strictly (`pidfile.rs`, `files.rs`) and the state beside it
//!    (`state.rs`): what we launched, whether it is meant to run, recent launches.
//! 3. **Verify** the PID (`identity.rs`): alive, not a zombie, ours (not EPERM), and the
//!    same process we recorded (start time and boot id), or adoptable by the PID file's age.
//! 4. Healthy: exit 0 and print nothing. Stopped on purpose: the same. Parked after a crash
//!    loop: exit 1, silently (it said so once when it parked).
//! 5. **Relaunch** (`launch.rs`, `sys.rs`): fork a held child in a new session with clean
//!    signals and only fds 0-2; record its identity and PID durably; only then let it exec.
//! 6. **Grace**: watch the child for `--grace`; a death is reported with its status and the
//!    tail of its stderr. Then exit: nothing of the watchdog stays behind.
//!
//! With `--rotate-size`, every locked check first looks at the output files (one `stat`
//! each) and moves the head of any that grew too large to `NAME.1` while the program keeps
//! appending (`rotate.rs`: `FALLOC_FL_COLLAPSE_RANGE`, so no byte is lost or doubled).
//!
//! Issue 8 adds, each in its own module: programs that write their own PID file or fork
//! (`daemonized.rs`: the launcher is recorded before it runs, its program's PID file is
//! awaited and verified), readiness waits that hold no lock (`readiness.rs`,
//! `commands/ready.rs`), exit codes that mean "stay down", `watchdog run` in the foreground
//! (`commands/run.rs`), and `--user` (`user.rs`; the switch itself is in `sys.rs`).
//! Its second half: health while running (`health.rs` probes, `commands/health.rs` counts
//! failures in the state file with no lock held while probing, and restarts past
//! `--unhealthy-after`), `--stop-command` before the ladder (`commands/stop_command.rs`, on
//! `shell_command.rs`), `reload` (`commands/reload.rs`, on `kill`'s verified path), and
//! several programs in one file (`config.rs`: a `--config` entry becomes the argv its
//! options spell, parsed by the same clap definitions; `commands/from_config.rs` runs any
//! command for each program, in one process, each under its own lock).
//!
//! Around the cron job: `cron` (`commands/cron.rs`) makes the crontab line and edits the
//! user's crontab through `crontab` without losing a byte of it (`crontab.rs`); `doctor`
//! checks, read-only, what the line depends on, down to whether the machine's cron kills a
//! job's leftover processes (`crondaemon.rs`); `status` reads the job as `check` would and
//! reports it as a line or as JSON; `log` reads the event log from its end (`logtail.rs`).
//!
//! `stop` (`commands/stop.rs`) marks the job stopped before it signals, then walks the
//! ladder over the program's whole session through pidfds. `main` only parses, runs and maps
//! the outcome to an exit code (`exit.rs` is the only mapping).

#![deny(unsafe_code)]

pub mod acting_as;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config; // --config FILE: several programs in one TOML file (issue 8)
pub mod crondaemon;
pub mod crontab;
pub mod daemonized;
pub mod duration;
pub mod error;
pub mod eventlog;
pub mod exit;
pub mod fastpath;
pub mod fault;
pub mod files;
pub mod health; // --healthy-when-cmd/--healthy-when-port probes (issue 8)
pub mod identity;
pub mod job;
pub mod ladder;
pub mod launch;
pub mod lock;
pub mod logtail;
pub mod output;
pub mod paths;
pub mod pidfd;
pub mod pidfile;
pub mod readiness;
pub mod rotate;
pub mod shell_command; // `/bin/sh -c` runs bounded in time: health and stop commands
pub mod signame;
pub mod size;
pub mod state;
pub mod sys;
pub mod user;
