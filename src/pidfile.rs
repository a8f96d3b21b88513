//! The PID file: strict parsing, and its atomic write.
//!
//! A PID file holds decimal digits and at most one trailing newline, nothing else: no sign,
//! no leading zero, no spaces, no second line. The value must be in `2..=pid_max`. Anything
//! else is "no valid PID" (never a crash, never a PID to signal). `Pid` can only be built by
//! this parser or from a PID the kernel just gave us, so a `Pid` is never 0, 1 or negative:
//! `kill(0, s)` would signal our own group, `kill(-1, s)` every process we may signal.

use std::fmt;
use std::path::Path;

use crate::error::Result;
use crate::files::{self, SmallFile};

/// The kernel's hard upper bound for pid_max on 64-bit (PID_MAX_LIMIT, 2^22).
pub const PID_MAX_LIMIT: i32 = 4_194_304;

/// A process ID that is safe to signal: `2..=PID_MAX_LIMIT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pid(i32);

impl Pid {
    /// A PID given to us by the kernel (fork, /proc). `None` for values that must never be
    /// signalled.
    pub fn new(raw: i32) -> Option<Pid> {
        (2..=PID_MAX_LIMIT).contains(&raw).then_some(Pid(raw))
    }

    pub fn raw(self) -> i32 {
        self.0
    }

    pub fn nix(self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.0)
    }
}

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Why a PID file's content is not a usable PID (shown to the user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

/// Longest content we read: 7 digits (PID_MAX_LIMIT) and a newline, with room to spare so
/// that "a huge number" is reported as such rather than as an unsafe file.
pub const MAX_LEN: usize = 64;

/// Parses PID file content strictly against the given `pid_max`.
///
/// # Errors
/// `Invalid` with a short reason for every input that is not a canonical PID.
pub fn parse(bytes: &[u8], pid_max: i32) -> Result<Pid, Invalid> {
    // A nonsensical pid_max must never widen the range: above the kernel's limit it is the
    // limit, and below 2 (a negative one would wrap as u64) nothing is a valid PID.
    let pid_max = pid_max.min(PID_MAX_LIMIT);
    if pid_max < 2 {
        return Err(Invalid(format!("pid_max is {pid_max}, so no PID is valid")));
    }
    let digits = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if digits.is_empty() {
        return Err(Invalid("it is empty".into()));
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(Invalid(format!(
            "it holds {}, not just decimal digits and a newline",
            show(bytes)
        )));
    }
    if digits.len() > 1 && digits[0] == b'0' {
        return Err(Invalid(format!("it holds {}: a leading zero", show(bytes))));
    }
    // At most 10 digits fit a u64 without overflow concerns; longer is out of range anyway.
    let value: u64 = if digits.len() > 10 {
        u64::MAX
    } else {
        digits
            .iter()
            .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'))
    };
    if value <= 1 {
        return Err(Invalid(format!(
            "it holds {value}, which is never a program's PID"
        )));
    }
    if value > pid_max as u64 {
        return Err(Invalid(format!(
            "it holds {}, above the kernel's pid_max ({pid_max})",
            show(bytes)
        )));
    }
    // value is in 2..=pid_max <= PID_MAX_LIMIT, so it fits an i32 and Pid::new accepts it.
    Pid::new(value as i32).ok_or_else(|| Invalid(format!("it holds {value}")))
}

/// The content shown in a message, quoted and escaped, shortened if long.
fn show(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(24)];
    let mut s = format!("{:?}", String::from_utf8_lossy(cut));
    if bytes.len() > cut.len() {
        s.push('…');
    }
    s
}

/// The running kernel's pid_max (`/proc/sys/kernel/pid_max`), or PID_MAX_LIMIT if unreadable.
pub fn pid_max() -> i32 {
    std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .filter(|&n| n > 1 && n <= PID_MAX_LIMIT)
        .unwrap_or(PID_MAX_LIMIT)
}

/// What is at the PID file's path.
#[derive(Debug)]
pub enum Content {
    /// No file.
    Absent,
    /// A file whose content is not a PID.
    Invalid(Invalid),
    /// A valid PID, with the file's mtime (for the adoption rule).
    Pid(Pid, std::time::SystemTime),
}

/// Reads the PID file at `path`.
///
/// # Errors
/// See `files::read_small`: unsafe files and, as root, files owned by others are errors,
/// because no command may act on them; bad content is `Content::Invalid`, not an error.
pub fn read(path: &Path) -> Result<Content> {
    match files::read_small(path, "PID file", MAX_LEN)? {
        None => Ok(Content::Absent),
        Some(SmallFile { bytes, mtime }) => Ok(match parse(&bytes, pid_max()) {
            Ok(pid) => Content::Pid(pid, mtime),
            Err(why) => Content::Invalid(why),
        }),
    }
}

/// Records `pid` at `path` atomically (not synced: see `files` on why launch records are
/// not).
///
/// # Errors
/// `Io` naming the PID file and the cause.
pub fn write(path: &Path, pid: Pid) -> Result<()> {
    files::write_atomic(
        path,
        format!("{pid}\n").as_bytes(),
        "PID file",
        files::Durability::Atomic,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_canonical_pids() {
        assert_eq!(parse(b"2", 32768), Ok(Pid(2)));
        assert_eq!(parse(b"1234\n", 32768), Ok(Pid(1234)));
        assert_eq!(parse(b"32768\n", 32768), Ok(Pid(32768)));
    }

    #[test]
    fn rejects_every_bad_input() {
        let bad: &[&[u8]] = &[
            b"",
            b"\n",
            b"abc",
            b"-1",
            b"0",
            b"1",
            b"1\n",
            b"+2",
            b"0x10",
            b"12abc",
            b"12\n13\n",
            b"12\n\n",
            b"99999999999",
            b"18446744073709551617",
            b"4294967295",
            b"12\0",
            b"\x0012",
            b" 12",
            b"12 ",
            b"012",
            b"32769",
            b"12\r\n",
            "١٢".as_bytes(),
        ];
        for input in bad {
            assert!(
                parse(input, 32768).is_err(),
                "{:?} parsed",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn a_pid_max_below_two_admits_nothing() {
        for pid_max in [i32::MIN, -1, 0, 1] {
            assert!(parse(b"2", pid_max).is_err(), "{pid_max}");
        }
        assert!(parse(b"5000000", i32::MAX).is_err(), "above PID_MAX_LIMIT");
    }

    #[test]
    fn pid_new_refuses_dangerous_numbers() {
        for raw in [i32::MIN, -1, 0, 1, PID_MAX_LIMIT + 1, i32::MAX] {
            assert!(Pid::new(raw).is_none(), "{raw}");
        }
    }

    /// Property: whatever bytes come in, a parsed PID is in 2..=pid_max.
    #[test]
    fn no_input_parses_to_a_pid_below_two_or_above_pid_max() {
        // A small deterministic generator (xorshift) keeps the test dependency-free.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let alphabet = b"0123456789\n\0-+ x";
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 13) as usize;
            let mut buf = Vec::with_capacity(len);
            let mut y = x;
            for _ in 0..len {
                buf.push(alphabet[(y % alphabet.len() as u64) as usize]);
                y /= alphabet.len() as u64;
                if y == 0 {
                    y = x.rotate_left(17);
                }
            }
            let pid_max = 301 + (x % 40_000) as i32;
            if let Ok(pid) = parse(&buf, pid_max) {
                assert!(pid.raw() >= 2 && pid.raw() <= pid_max, "{buf:?} -> {pid}");
            }
        }
    }
}
