//! The only mapping from outcomes to process exit codes.
//!
//! The same table is in `--help` (see `cli.rs`) and in the README; keep the three in step.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success: running (already, or launched), stopped, signal sent |
//! | 1 | failure: could not launch, died during the grace period, survived the stop ladder, not running (`kill`), refused for safety, parked (`check`), a problem found (`doctor`), the crontab cannot be read or written (`cron`), no event log (`log`); `status`: dead but the PID file exists (died, PID reused, parked) |
//! | 2 | usage error (bad command line) |
//! | 3 | `status`: not running (never started, stopped on purpose) |
//! | 4 | `status`: unknown (the PID file or state cannot be read, is invalid or is unsafe) |
//! | 5 | busy: another watchdog run held the lock for longer than `--wait` |
//!
//! `run` is the exception: once the program ran, it exits with the program's own status
//! (128+N when signal N ended it), as `nohup` or `env` do; before that, the table applies.
//!
//! A `--config FILE` run over several programs exits with the worst of their codes
//! ([`Exit::worst`]): 4, then 1, 5, 3, 0 (unknown, failed, busy, not running, success).

use std::process::ExitCode;

/// What a command's run amounts to, as the caller (cron, a script, LSB tooling) sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: the program runs (already, or now), was stopped, or the signal was sent.
    Ok,
    /// 1: a failure, or for `status` "dead, but the PID file exists".
    Failed,
    /// 2: the command line was wrong (clap exits with 2 itself; kept here for the table).
    #[allow(dead_code)]
    Usage,
    /// 3: `status` only: not running (never started, stopped on purpose).
    NotRunning,
    /// 4: `status` only: the state cannot be known.
    Unknown,
    /// 5: another watchdog run held the lock longer than `--wait`.
    Busy,
    /// `run` only: the program's own exit status (128+N for signal N).
    Program(u8),
}

impl Exit {
    /// The numeric code, as documented above.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::NotRunning => 3,
            Exit::Unknown => 4,
            Exit::Busy => 5,
            Exit::Program(code) => code,
        }
    }
}

impl Exit {
    /// The worse of two outcomes, for a run over several programs (`--config`): unknown,
    /// then failed (a usage error of one entry counts as failed), busy, not running,
    /// success. A failure is worse than "busy" because busy says nothing was done, while a
    /// failure says something is wrong; "unknown" worse still because status cannot vouch
    /// for anything then.
    pub fn worst(self, other: Exit) -> Exit {
        fn rank(e: Exit) -> u8 {
            match e {
                Exit::Ok | Exit::Program(0) => 0,
                Exit::NotRunning => 1,
                Exit::Busy => 2,
                Exit::Failed | Exit::Usage | Exit::Program(_) => 3,
                Exit::Unknown => 4,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_documented_table() {
        let table = [
            (Exit::Ok, 0),
            (Exit::Failed, 1),
            (Exit::Usage, 2),
            (Exit::NotRunning, 3),
            (Exit::Unknown, 4),
            (Exit::Busy, 5),
        ];
        for (e, c) in table {
            assert_eq!(e.code(), c, "{e:?}");
        }
    }

    #[test]
    fn the_worst_of_several_follows_the_documented_order() {
        use Exit::*;
        let order = [Ok, NotRunning, Busy, Failed, Unknown];
        for (i, &a) in order.iter().enumerate() {
            for &b in &order[i..] {
                assert_eq!(a.worst(b), b, "{a:?} {b:?}");
                assert_eq!(b.worst(a), b, "{b:?} {a:?}");
            }
        }
        assert_eq!(Ok.worst(Usage), Usage);
        assert_eq!(Failed.worst(Usage), Failed);
    }
}
