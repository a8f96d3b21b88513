//! The last lines of a file that may be huge (an event log left to grow for years), found
//! by reading backwards from the end in fixed-size chunks: the memory and the reading are
//! bounded by what is shown, never by the size of the file.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;

/// Bytes read per step when searching backwards for line starts.
pub const CHUNK: usize = 64 * 1024;

/// The offset at which the last `n` lines of the first `len` bytes of `f` begin. A final
/// line without its newline counts as a line; `n == 0` gives `len`.
///
/// # Errors
/// A failed read.
pub fn start_of_last_lines(f: &File, len: u64, n: u64) -> io::Result<u64> {
    if n == 0 || len == 0 {
        return Ok(len);
    }
    let mut last = [0u8; 1];
    f.read_exact_at(&mut last, len - 1)?;
    // The newline that ends the last line starts nothing; look before it.
    let mut end = if last[0] == b'\n' { len - 1 } else { len };
    let mut left = n;
    let mut buf = vec![0u8; CHUNK];
    while end > 0 {
        let size = CHUNK.min(end as usize);
        let pos = end - size as u64;
        f.read_exact_at(&mut buf[..size], pos)?;
        for i in (0..size).rev() {
            if buf[i] == b'\n' {
                left -= 1;
                if left == 0 {
                    return Ok(pos + i as u64 + 1);
                }
            }
        }
        end = pos;
    }
    Ok(0)
}

/// Which side of a copy failed.
#[derive(Debug)]
pub enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

/// Copies the last `n` lines of `f` (as it is `len` bytes long) to `out`, a chunk at a time.
///
/// # Errors
/// A failed read or write, told apart.
pub fn copy_last_lines(
    f: &mut File,
    len: u64,
    n: u64,
    out: &mut impl Write,
) -> Result<(), CopyError> {
    let start = start_of_last_lines(f, len, n).map_err(CopyError::Read)?;
    f.seek(SeekFrom::Start(start)).map_err(CopyError::Read)?;
    let mut rest = f.take(len - start);
    let mut buf = vec![0u8; CHUNK];
    let mut ends_with_newline = true;
    loop {
        let got = rest.read(&mut buf).map_err(CopyError::Read)?;
        if got == 0 {
            break;
        }
        out.write_all(&buf[..got]).map_err(CopyError::Write)?;
        ends_with_newline = buf[got - 1] == b'\n';
    }
    if !ends_with_newline {
        // A line being written right now: end it, so the shell prompt starts on its own line.
        out.write_all(b"\n").map_err(CopyError::Write)?;
    }
    out.flush().map_err(CopyError::Write)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last(text: &[u8], n: u64) -> Vec<u8> {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(text).unwrap();
        let mut out = Vec::new();
        copy_last_lines(&mut f, text.len() as u64, n, &mut out).unwrap();
        out
    }

    #[test]
    fn the_last_lines_of_small_inputs() {
        assert_eq!(last(b"", 10), b"");
        assert_eq!(last(b"a\nb\nc\n", 0), b"");
        assert_eq!(last(b"a\nb\nc\n", 2), b"b\nc\n");
        assert_eq!(last(b"a\nb\nc\n", 3), b"a\nb\nc\n");
        assert_eq!(last(b"a\nb\nc\n", 99), b"a\nb\nc\n");
        assert_eq!(last(b"a\nb\nc", 1), b"c\n");
        assert_eq!(last(b"a\nb\nc", 2), b"b\nc\n");
        assert_eq!(last(b"\n\n\n", 2), b"\n\n");
        assert_eq!(last(b"only", 1), b"only\n");
    }

    #[test]
    fn lines_across_chunk_boundaries() {
        let mut text = Vec::new();
        for i in 0..50_000 {
            text.extend_from_slice(format!("line {i:06}\n").as_bytes());
        }
        let out = last(&text, 3);
        assert_eq!(out, b"line 049997\nline 049998\nline 049999\n");
        let long = vec![b'x'; CHUNK * 3 + 7];
        let mut text = b"first\n".to_vec();
        text.extend_from_slice(&long);
        text.push(b'\n');
        let out = last(&text, 1);
        assert_eq!(out.len(), long.len() + 1);
        assert_eq!(last(&text, 2), text);
    }
}
