//! Sizes on the command line: `10M`, `512K`, `1G`, or a plain number of bytes.
//!
//! The units are binary, as in logrotate's `size` and in `ls -lh`: `K` is 1024 bytes, `M`
//! 1024², `G` 1024³, `T` 1024⁴. Lower case, a trailing `B` and the `KiB` spelling are
//! accepted too (`10m`, `10MB`, `10MiB` are all 10 × 1024² bytes), so that whatever a user
//! copies from another tool means what it meant there, except that `MB` is not 10⁶: one
//! meaning per letter, and the binary one is what logrotate users already have in their
//! configuration. Zero is refused (a file "larger than 0" would rotate at every check).

/// Parses a size (clap value parser).
///
/// # Errors
/// A message naming the input and the accepted forms.
pub fn parse(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(bad(s));
    }
    let (number, unit) = t.split_at(digits);
    let shift = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return Err(bad(s)),
    };
    let n: u64 = number.parse().map_err(|_| bad(s))?;
    if n == 0 {
        return Err(format!("{s:?}: the size must be more than 0"));
    }
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

fn bad(s: &str) -> String {
    format!("{s:?} is not a size; write e.g. 10M, 512K, 1G (K = 1024 bytes) or a number of bytes")
}

/// Shows a size the way a user would type it back: the largest unit that divides it
/// exactly (`10M`), else bytes.
pub fn show(n: u64) -> String {
    for (shift, unit) in [(40, "T"), (30, "G"), (20, "M"), (10, "K")] {
        if n != 0 && n % (1u64 << shift) == 0 {
            return format!("{}{unit}", n >> shift);
        }
    }
    format!("{n} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_documented_form() {
        let ok = [
            ("1", 1),
            ("4096", 4096),
            ("512K", 512 << 10),
            ("512k", 512 << 10),
            ("512KB", 512 << 10),
            ("512KiB", 512 << 10),
            ("10M", 10 << 20),
            ("10m", 10 << 20),
            ("10MiB", 10 << 20),
            ("1G", 1 << 30),
            ("2T", 2 << 40),
            ("100B", 100),
            (" 10M ", 10 << 20),
        ];
        for (s, n) in ok {
            assert_eq!(parse(s), Ok(n), "{s}");
        }
    }

    #[test]
    fn refuses_nonsense() {
        for s in [
            "",
            "0",
            "0K",
            "M",
            "-1",
            "1.5M",
            "10 M",
            "10X",
            "10MM",
            "1e6",
            "K10",
            "99999999999999999999", // overflows u64 as a number
            "16777216T",            // 2^24 TiB overflows u64 bytes
        ] {
            assert!(parse(s).is_err(), "{s:?} was accepted as {:?}", parse(s));
        }
    }

    #[test]
    fn shows_round_trip() {
        for s in ["10M", "512K", "1G", "2T", "4097 bytes"] {
            let n = parse(s.trim_end_matches(" bytes")).unwrap();
            assert_eq!(show(n), s);
        }
    }
}
