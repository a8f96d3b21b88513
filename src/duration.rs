//! Durations on the command line: `2` (seconds), `200ms`, `1.5s`, `30s`, `10m`, `1h`.
//!
//! humantime reads the suffixed forms the way systemd users expect; a bare number means
//! seconds, as in `sleep 2` and as the ladder's `SIG/SECS` steps need.

use std::time::Duration;

/// Parses a duration (clap value parser).
///
/// # Errors
/// A message naming the input and the accepted forms.
pub fn parse(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return t
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0 && *v < 1e9)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| bad(s));
    }
    humantime::parse_duration(t).map_err(|_| bad(s))
}

fn bad(s: &str) -> String {
    format!("{s:?} is not a duration; write e.g. 2 (seconds), 200ms, 1.5s, 30s, 10m or 1h")
}

/// Shows a duration the way a user would type it back.
pub fn show(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
    } else if d.as_secs() == 0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.3}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_documented_form() {
        let ok = [
            ("2", 2000),
            ("0", 0),
            ("0.25", 250),
            ("200ms", 200),
            ("30s", 30_000),
            ("1.5s", 1500),
            ("10m", 600_000),
            ("1h", 3_600_000),
        ];
        for (s, ms) in ok {
            assert_eq!(parse(s), Ok(Duration::from_millis(ms)), "{s}");
        }
    }

    #[test]
    fn refuses_nonsense() {
        for s in ["", "-1", "abc", "10 parsecs", "1..2", "1e400"] {
            assert!(parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn shows_round_trip() {
        for s in ["200ms", "30s", "10m", "1.500s"] {
            assert_eq!(show(parse(s).unwrap()), s);
        }
    }
}
