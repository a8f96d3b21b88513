//! Signal names as users write them: `USR1`, `SIGUSR1`, `usr1` or `10`.

use nix::sys::signal::Signal;

/// Parses a signal (clap value parser).
///
/// # Errors
/// A message naming the input, with examples.
pub fn parse(s: &str) -> Result<Signal, String> {
    let t = s.trim();
    let sig = if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        t.parse::<i32>().ok().and_then(|n| Signal::try_from(n).ok())
    } else {
        let upper = t.to_ascii_uppercase();
        let full = if upper.starts_with("SIG") {
            upper
        } else {
            format!("SIG{upper}")
        };
        full.parse::<Signal>().ok()
    };
    sig.ok_or_else(|| format!("{s:?} is not a signal; write e.g. TERM, SIGUSR1, usr1 or 10"))
}

/// The short name for messages and the ladder: `INT`, `KILL`.
pub fn short(sig: Signal) -> &'static str {
    sig.as_str().trim_start_matches("SIG")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_usr1_works() {
        for s in ["USR1", "SIGUSR1", "usr1", "sigusr1", "10"] {
            assert_eq!(parse(s), Ok(Signal::SIGUSR1), "{s}");
        }
        assert_eq!(parse("kill"), Ok(Signal::SIGKILL));
    }

    #[test]
    fn refuses_unknown_and_zero() {
        for s in ["", "0", "-9", "FOO", "SIG", "99", "1x"] {
            assert!(parse(s).is_err(), "{s}");
        }
    }
}
