//! The stop ladder: signals sent one after another, each followed by a wait.
//!
//! Written `SIG/SECS/SIG/SECS...`, e.g. `INT/1/TERM/1/KILL/3`. The default starts gentle
//! with SIGINT, on which most programs flush their output and exit, then TERM, then KILL.
//! `stop` moves to the next step as soon as a step's wait runs out, and returns as soon as
//! every process of the program is gone.

use std::fmt;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::{duration, signame};

/// The default ladder: 2 s after SIGINT, 3 s after SIGTERM, 5 s after SIGKILL.
pub const DEFAULT: &str = "INT/2/TERM/3/KILL/5";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ladder(pub Vec<(Signal, Duration)>);

/// Parses a ladder (clap value parser).
///
/// # Errors
/// A message naming the offending step.
pub fn parse(s: &str) -> Result<Ladder, String> {
    let parts: Vec<&str> = s.split('/').collect();
    if parts.len() % 2 != 0 || parts.iter().any(|p| p.trim().is_empty()) {
        return Err(format!(
            "{s:?} is not a ladder; write SIG/SECS pairs, e.g. INT/1/TERM/1/KILL/3"
        ));
    }
    let steps = parts
        .chunks(2)
        .map(|pair| Ok((signame::parse(pair[0])?, duration::parse(pair[1])?)))
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Ladder(steps))
}

impl fmt::Display for Ladder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (sig, wait)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            write!(f, "{}/{}", signame::short(*sig), duration::show(*wait))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_default_and_custom_ladders() {
        let l = parse(DEFAULT).unwrap();
        assert_eq!(l.0.len(), 3);
        assert_eq!(l.0[0], (Signal::SIGINT, Duration::from_secs(2)));
        assert_eq!(l.0[2].0, Signal::SIGKILL);
        let l = parse("TERM/200ms").unwrap();
        assert_eq!(l.0, vec![(Signal::SIGTERM, Duration::from_millis(200))]);
        assert_eq!(l.to_string(), "TERM/200ms");
    }

    #[test]
    fn refuses_malformed_ladders() {
        for s in [
            "",
            "INT",
            "INT/1/TERM",
            "INT//TERM/1",
            "FOO/1",
            "INT/x",
            "/",
        ] {
            assert!(parse(s).is_err(), "{s}");
        }
    }
}
