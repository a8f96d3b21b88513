//! Output rotation: moving the head of a live output file to `NAME.1` while the program
//! keeps appending to the same open file, without losing a byte.
//!
//! # Where it runs
//! Under the job lock, at every `check` (healthy or not, before any relaunch), `start`,
//! `restart`, every `--rotate-interval` of a watch, and in `watchdog rotate`. Without
//! `--rotate-size` nothing here runs at all. With it, the cheap look ([`needs_rotation`]) is
//! one `stat(2)` per distinct output file (by path, without opening it); only a file larger
//! than the limit is opened.
//!
//! # How, on ext4 and xfs (and any filesystem that supports it)
//! 1. Open the live file (`O_RDWR`, not `O_APPEND`), `fstat` it: size `L`, block size `B`.
//! 2. `S` = the largest multiple of `B` below `L` (strictly: `FALLOC_FL_COLLAPSE_RANGE` may
//!    not reach end of file). The unaligned rest, at most one block, stays for next time.
//! 3. Copy bytes `[0, S)` into a temporary sibling (`.NAME.1.tmp`, created `O_EXCL |
//!    O_NOFOLLOW` with the live file's mode and owner), gzip it if asked, `fsync` it.
//! 4. Shift the older copies up (`NAME.k` → `NAME.k+1`, newest first, removing any above N
//!    first), rename the temporary file to `NAME.1`, `fsync` the directory.
//! 5. `fdatasync` the live file, then `fallocate(FALLOC_FL_COLLAPSE_RANGE, 0, S)`: its first
//!    `S` bytes are gone and everything after them moves down by `S`, in place. (The
//!    collapse writes back dirty pages while holding the inode lock, so the program's writes
//!    wait for it; flushing first keeps that stall to milliseconds.)
//! 6. Only then remove `NAME.N+1`, the copy that fell off the end. If step 5 failed, undo 4
//!    (remove the new `NAME.1`, shift the others back): nothing was lost or doubled.
//!
//! ## Why no append can be lost or doubled (the concurrency argument)
//! The program's descriptors are `O_APPEND` (see `launch.rs`). On Linux, an `O_APPEND`
//! `write(2)` to ext4 or xfs takes the inode's `i_rwsem` exclusively, then reads `i_size`
//! to choose its offset, copies the data into the page cache and raises `i_size`, and only
//! then unlocks (`ext4_buffered_write_iter` → `generic_write_checks`; xfs takes its
//! `XFS_IOLOCK_EXCL`, the same `i_rwsem`). `fallocate(COLLAPSE_RANGE)` takes the same
//! lock exclusively for the whole operation: it checks the range against `i_size`, writes
//! back and drops the page cache from the range on, shifts the extents, and lowers `i_size`
//! by `S` (`ext4_collapse_range`, `xfs_file_fallocate`). So every append happens wholly
//! before or wholly after the collapse:
//! - **before**: it landed at an offset ≥ `L` ≥ `S`, outside `[0, S)`, so it was not
//!   copied and is not removed; the collapse moves it down by `S` with the rest;
//! - **after**: it lands at the new end of file.
//!
//! And the bytes copied in step 3 cannot change between the copy and the collapse: with
//! only `O_APPEND` writers, bytes below end of file are never rewritten. Hence `NAME.1`
//! followed by the live file is exactly the program's output, with no hole (the program's
//! offset is never stale: `O_APPEND` re-reads `i_size` at every write). Direct I/O appends
//! are covered too (the collapse waits for in-flight direct I/O under the lock).
//!
//! The one window left is the watchdog dying (SIGKILL, power cut) between step 4 and step 5:
//! then `NAME.1` holds `S` bytes that are still at the head of the live file. That is the
//! documented bound: **at most one rotated chunk duplicated, only if the watchdog is killed
//! in that window, and never a byte lost.** Dying anywhere else leaves at worst a stale
//! `.NAME.1.tmp` (replaced by the next rotation) or `NAME.N+1` (removed by the next).
//!
//! Not covered: another writer that opened the file *without* `O_APPEND` (a program that
//! reopens its log with `fopen(path, "w")`, a shell `>` redirect) keeps a stale offset and
//! would write past the new end, leaving a hole, as with any truncating rotation; and
//! another tool truncating the same file concurrently (logrotate's `copytruncate` on the
//! same files): use one or the other.
//!
//! # Elsewhere: copy and truncate
//! tmpfs, btrfs, NFS, ZFS and others answer `EOPNOTSUPP` (those known to are not even
//! tried). There the head cannot be removed in place, so:
//! copy everything to the temporary file, `fsync`, shift and rename it to `NAME.1`, then
//! catch up: `fstat`, copy what was appended meanwhile, repeat until an `fstat` finds at
//! most `LAST_COPY` (4K) new, copy that, and `ftruncate(0)` at once. `truncate` takes the
//! same inode lock as the appends, so no write is torn and none lands past the end (no NUL
//! hole, thanks to `O_APPEND`), but **what the program writes between that last `fstat` and
//! the truncate is lost**. That window is measured (monotonic clock, from before the `fstat`
//! to after the `ftruncate`) and written to the event log at every such rotation; it is
//! tens of microseconds (an upper bound: it includes freeing the truncated pages, during
//! which appends wait rather than vanish), so the loss is at most what the program writes in
//! that time. One subtlety: the size grows page by page *during* a write, and `fstat` takes
//! no lock, so the last look can see a write half done; then the beginning of that write is
//! copied and the rest is lost with the window (the copy ends mid-line). The collapse path
//! has no such edge: it removes only whole blocks below a size that was already reached,
//! and leaves whatever lies above, finished or not, in the live file.
//!
//! # Names
//! `NAME.1` is the newest copy, `NAME.N` the oldest; with `--rotate-compress`, `NAME.1.gz`.
//! The split between `NAME.1` and the live file falls on a block boundary, not a line:
//! `cat NAME.2 NAME.1 NAME` is the exact stream, and a line may begin in one file and end in
//! the next.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flate2::Compression;
use flate2::write::GzEncoder;
use rustix::fs::FallocateFlags;

use crate::error::{Error, Result};
use crate::files;

/// What to rotate and how many copies to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Rotate a file larger than this many bytes (and larger than one filesystem block).
    pub limit: u64,
    /// Keep at most this many rotated copies (`NAME.1` to `NAME.keep`); at least 1.
    pub keep: u32,
    /// gzip the rotated copies (`NAME.1.gz`).
    pub compress: bool,
}

/// How the head was removed from the live file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// `FALLOC_FL_COLLAPSE_RANGE`: nothing lost, nothing doubled.
    Collapse,
    /// Copy, then `ftruncate(0)`: what was written during `window` is lost. `fs` names the
    /// filesystem that cannot collapse.
    CopyTruncate { fs: String, window: Duration },
}

/// What happened to one output file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// There is no file at the path (never created, or removed): nothing to rotate.
    Absent,
    /// A FIFO, device or directory: never rotated.
    NotRegular,
    /// Not larger than the limit or than one filesystem block.
    Small { size: u64, block: u64 },
    /// Another tool truncated the file while we copied it: our copy is complete (published
    /// as `to`), the live file was left as that tool made it.
    TruncatedMeanwhile { to: PathBuf },
    /// `moved` bytes went to `to`; `left` bytes (the unaligned rest and what was appended
    /// meanwhile) stayed in the live file.
    Rotated {
        to: PathBuf,
        moved: u64,
        left: u64,
        method: Method,
    },
}

/// How large the copy buffer is: big enough that a 10M file takes 40 reads.
const CHUNK: usize = 256 * 1024;

/// How many catch-up rounds the copy-and-truncate path tries before giving up for this time
/// (a program that writes faster than we copy; the rotation is undone, nothing lost).
const CATCH_UP_ROUNDS: u32 = 64;

/// The copy-and-truncate path truncates right after a catch-up copy no larger than this:
/// the loss window is the `fstat` that measured it, that copy, and the `ftruncate`. A busy
/// writer never pauses long enough for an `fstat` to find nothing new, so waiting for one
/// would rarely end; a small last copy keeps the window to microseconds. After
/// `SMALL_ROUNDS` rounds without getting there (a writer of tens of MB/s), `LAST_COPY_MAX`
/// is accepted instead.
const LAST_COPY: u64 = 4 * 1024;
const LAST_COPY_MAX: u64 = 64 * 1024;
const SMALL_ROUNDS: u32 = 16;

/// The cheap look: whether `path` may need rotating. One `stat(2)`, no open. An absent file
/// needs nothing; a path that cannot be examined is handed to [`rotate`], which reports why.
pub fn needs_rotation(path: &Path, limit: u64) -> bool {
    match fs::metadata(path) {
        Ok(m) => m.file_type().is_file() && m.size() > limit.max(block_of(&m)),
        Err(e) => e.kind() != io::ErrorKind::NotFound,
    }
}

/// Rotates `path` if it is larger than the policy's limit (see the module doc). Call under
/// the job lock, with the event log open: rotations are logged there.
///
/// # Errors
/// `Io` naming the file and the step that failed; the rotation is then undone as far as it
/// had gone, and the live file is whole.
pub fn rotate(path: &Path, policy: &Policy) -> Result<Done> {
    let live = match open_live(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Done::Absent),
        Err(e) => return Err(Error::io("open output file", path, e)),
    };
    let meta = live
        .metadata()
        .map_err(|e| Error::io("examine output file", path, e))?;
    if !meta.file_type().is_file() {
        return Ok(Done::NotRegular);
    }
    let (size, block) = (meta.size(), block_of(&meta));
    if size <= policy.limit.max(block) {
        return Ok(Done::Small { size, block });
    }
    let family = Family::of(path, policy)?;
    let fs = filesystem(&live);
    if fs.may_collapse {
        match by_collapse(&live, path, &meta, &family, policy)? {
            Some(done) => return Ok(done),
            None => log::warn!(
                "{}: the filesystem ({}) answered that it cannot remove a file's head in \
                 place (FALLOC_FL_COLLAPSE_RANGE); falling back to copy and truncate",
                path.display(),
                fs.name
            ),
        }
    }
    by_truncate(&live, path, &meta, &family, policy, fs.name)
}

/// Steps 3-6 of the module doc. `Ok(None)`: the filesystem cannot collapse (everything
/// undone, nothing changed).
fn by_collapse(
    live: &File,
    path: &Path,
    meta: &fs::Metadata,
    family: &Family,
    policy: &Policy,
) -> Result<Option<Done>> {
    let block = block_of(meta);
    // Strictly below the end: a collapse may not reach EOF (it would be a truncate).
    let moved = (meta.size() - 1) / block * block;
    let mut out = Rotated::create(family, meta)?;
    let mut buf = vec![0u8; CHUNK];
    let copied = copy(live, path, (0, Some(moved)), &mut out, &mut buf)?;
    if copied < moved {
        return Err(shrank(path));
    }
    out.finish()?;
    let shifted = family.shift()?;
    if let Err(e) = out.publish() {
        out.unpublish();
        shifted.undo();
        return Err(e);
    }
    // The collapse writes back the file's dirty pages while it holds the inode lock, and the
    // program's writes wait for it; flushing them first, without that lock, keeps the stall
    // to what was written since. Best effort: the collapse flushes anyway.
    let _ = live.sync_data();
    match rustix::fs::fallocate(live, FallocateFlags::COLLAPSE_RANGE, 0, moved) {
        Ok(()) => {
            shifted.commit();
            let left = live.metadata().map(|m| m.size()).unwrap_or(0);
            log::info!(
                "rotated {}: {moved} bytes to {} (head removed in place), {left} bytes stay; \
                 at most {} copies kept",
                path.display(),
                out.target.display(),
                policy.keep
            );
            Ok(Some(Done::Rotated {
                to: out.target.clone(),
                moved,
                left,
                method: Method::Collapse,
            }))
        }
        Err(e) => {
            out.unpublish();
            shifted.undo();
            if e == rustix::io::Errno::OPNOTSUPP || e == rustix::io::Errno::NOSYS {
                Ok(None)
            } else {
                Err(Error::io(
                    "remove the rotated head (FALLOC_FL_COLLAPSE_RANGE) of",
                    path,
                    e.into(),
                ))
            }
        }
    }
}

/// The copy-and-truncate fallback (see "Elsewhere" in the module doc).
fn by_truncate(
    live: &File,
    path: &Path,
    meta: &fs::Metadata,
    family: &Family,
    policy: &Policy,
    fs_name: String,
) -> Result<Done> {
    let mut out = Rotated::create(family, meta)?;
    let mut buf = vec![0u8; CHUNK];
    let mut copied = copy(live, path, (0, None), &mut out, &mut buf)?;
    if copied < meta.size() {
        return Err(shrank(path));
    }
    out.sync()?;
    let shifted = family.shift()?;
    if let Err(e) = out.publish() {
        out.unpublish();
        shifted.undo();
        return Err(e);
    }
    let examine = |e| Error::io("examine output file", path, e);
    for round in 0..CATCH_UP_ROUNDS {
        // The loss window opens here: what is appended after this fstat is not copied.
        let t0 = Instant::now();
        let now = match live.metadata() {
            Ok(m) => m.size(),
            Err(e) => {
                out.unpublish();
                shifted.undo();
                return Err(examine(e));
            }
        };
        if now < copied {
            // Someone else truncated it: what we copied is complete and theirs is new.
            out.finish()?;
            shifted.commit();
            log::warn!(
                "rotated {} by copy: {copied} bytes to {}; the file was truncated by another \
                 tool meanwhile, so it was left as that tool made it",
                path.display(),
                out.target.display()
            );
            return Ok(Done::TruncatedMeanwhile {
                to: out.target.clone(),
            });
        }
        let last_copy = if round < SMALL_ROUNDS {
            LAST_COPY
        } else {
            LAST_COPY_MAX
        };
        let last = now - copied <= last_copy;
        match copy(live, path, (copied, Some(now)), &mut out, &mut buf) {
            Ok(n) if n < now - copied => {
                // Shorter than fstat said: someone truncated it between the two. Truncating
                // now could drop what the program wrote since; leave it to that tool.
                copied += n;
                out.finish()?;
                shifted.commit();
                log::warn!(
                    "rotated {} by copy: {copied} bytes to {}; the file was truncated by \
                     another tool meanwhile, so it was left as that tool made it",
                    path.display(),
                    out.target.display()
                );
                return Ok(Done::TruncatedMeanwhile {
                    to: out.target.clone(),
                });
            }
            Ok(n) => copied += n,
            Err(e) => {
                out.unpublish();
                shifted.undo();
                return Err(e);
            }
        }
        if !last {
            continue;
        }
        if let Err(e) = live.set_len(0) {
            out.unpublish();
            shifted.undo();
            return Err(Error::io("truncate output file", path, e));
        }
        let window = t0.elapsed();
        // The copy must be complete and durable before we say it was rotated; the
        // truncate already happened, so a failure here is reported but not undone.
        out.finish()?;
        shifted.commit();
        log::warn!(
            "rotated {} by copy and truncate: {copied} bytes to {}; {fs_name} cannot \
             remove a file's head in place, so what the program wrote in the window of \
             {}µs between the last copy and the truncate is lost; at most {} copies kept",
            path.display(),
            out.target.display(),
            window.as_micros(),
            policy.keep
        );
        return Ok(Done::Rotated {
            to: out.target.clone(),
            moved: copied,
            left: 0,
            method: Method::CopyTruncate {
                fs: fs_name,
                window,
            },
        });
    }
    out.unpublish();
    shifted.undo();
    Err(Error::io(
        "rotate output file",
        path,
        io::Error::other(format!(
            "the program wrote faster than it could be copied in {CATCH_UP_ROUNDS} rounds; \
             left whole for next time"
        )),
    ))
}

/// Copies `[from, to)` (or to end of file when `to` is `None`) from the live file into
/// `out` through `buf` (allocated once per rotation: no allocation inside the loss window);
/// returns how many bytes were copied, fewer than asked if the file ended first.
fn copy(
    live: &File,
    path: &Path,
    (from, to): (u64, Option<u64>),
    out: &mut Rotated,
    buf: &mut [u8],
) -> Result<u64> {
    let mut at = from;
    loop {
        let want = match to {
            Some(end) if at >= end => break,
            Some(end) => (end - at).min(CHUNK as u64) as usize,
            None => CHUNK,
        };
        let n = match live.read_at(&mut buf[..want], at) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("read output file", path, e)),
        };
        out.write(&buf[..n])?;
        at += n as u64;
    }
    Ok(at - from)
}

fn shrank(path: &Path) -> Error {
    Error::io(
        "rotate output file",
        path,
        io::Error::other(
            "it shrank while being copied (is another tool truncating it?); left as it is",
        ),
    )
}

/// Opens the live file for reading and writing (`fallocate` and `ftruncate` need a writable
/// descriptor; not `O_APPEND`, which we do not write through). In a directory others can
/// write, a symlink planted at the path is not followed, as when the program's output was
/// opened; a FIFO must not block us.
fn open_live(path: &Path) -> io::Result<File> {
    let nofollow = if files::others_can_write(files::parent_dir(path)) {
        libc::O_NOFOLLOW
    } else {
        0
    };
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(nofollow | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

/// The filesystem's block size (the collapse granule), from `st_blksize`; 4096 when the
/// value is not a sane power of two.
fn block_of(meta: &fs::Metadata) -> u64 {
    match meta.blksize() {
        b if b.is_power_of_two() && (512..=(1 << 20)).contains(&b) => b,
        _ => 4096,
    }
}

struct Filesystem {
    name: String,
    /// False for filesystems known to answer EOPNOTSUPP: they go straight to the fallback.
    may_collapse: bool,
}

/// Names the filesystem from `fstatfs(2)`'s magic number, and says whether trying a
/// collapse is worth it. Unknown filesystems are tried (a refusal is undone cleanly).
fn filesystem(file: &File) -> Filesystem {
    let magic = match rustix::fs::fstatfs(file) {
        Ok(st) => (st.f_type as u64) & 0xffff_ffff,
        Err(_) => 0,
    };
    let (name, may_collapse) = match magic {
        0xef53 => ("ext4", true),
        0x5846_5342 => ("xfs", true),
        0xf2f5_2010 => ("f2fs", true),
        0x794c_7630 => ("overlayfs", true),
        0x6573_5546 => ("a FUSE filesystem", true),
        0x0102_1994 => ("tmpfs", false),
        0x8584_58f6 => ("ramfs", false),
        0x9123_683e => ("btrfs", false),
        0x2fc1_2fc1 => ("ZFS", false),
        0x6969 => ("NFS", false),
        0xff53_4d42 | 0xfe53_4d42 | 0x517b => ("SMB/CIFS", false),
        0x0102_1997 => ("9p", false),
        _ => {
            return Filesystem {
                name: format!("this filesystem (type {magic:#x})"),
                may_collapse: true,
            };
        }
    };
    Filesystem {
        name: name.into(),
        may_collapse,
    }
}

/// The rotated copies of one live file: `NAME.1` to `NAME.keep`, plain or `.gz`.
struct Family {
    dir: PathBuf,
    name: OsString,
    keep: u32,
    compress: bool,
}

impl Family {
    fn of(path: &Path, policy: &Policy) -> Result<Family> {
        let name = path.file_name().ok_or_else(|| {
            Error::io(
                "rotate output file",
                path,
                io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"),
            )
        })?;
        Ok(Family {
            dir: files::parent_dir(path).to_path_buf(),
            name: name.to_os_string(),
            keep: policy.keep.max(1),
            compress: policy.compress,
        })
    }

    /// `NAME.k` or `NAME.k.gz`.
    fn path(&self, k: u32, gz: bool) -> PathBuf {
        let mut s = self.name.clone();
        s.push(format!(".{k}{}", if gz { ".gz" } else { "" }));
        self.dir.join(s)
    }

    /// The existing copies, as `(k, gz)`.
    fn scan(&self) -> io::Result<Vec<(u32, bool)>> {
        let mut found = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            if let Some(k) = self.index_of(&entry?.file_name()) {
                found.push(k);
            }
        }
        Ok(found)
    }

    /// `Some((k, gz))` when `file` is `NAME.k` or `NAME.k.gz` (k ≥ 1, no leading zero).
    fn index_of(&self, file: &OsStr) -> Option<(u32, bool)> {
        let rest = file
            .as_bytes()
            .strip_prefix(self.name.as_bytes())?
            .strip_prefix(b".")?;
        let (digits, gz) = match rest.strip_suffix(b".gz") {
            Some(d) => (d, true),
            None => (rest, false),
        };
        if digits.is_empty() || digits[0] == b'0' || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let k = std::str::from_utf8(digits).ok()?.parse().ok()?;
        Some((k, gz))
    }

    /// Step 4 of the module doc, first half: removes copies above `keep`, then renames
    /// `NAME.k` to `NAME.k+1`, newest last, so no rename lands on an existing name. The
    /// copy pushed to `keep+1` is removed by `commit` (or moved back by `undo`).
    fn shift(&self) -> Result<Shifted<'_>> {
        let scan_err = |e| Error::io("list rotated copies in", &self.dir, e);
        let mut found = self.scan().map_err(scan_err)?;
        for &(k, gz) in found.iter().filter(|(k, _)| *k > self.keep) {
            let p = self.path(k, gz);
            files::remove(&p, "rotated copy")?;
        }
        found.retain(|(k, _)| *k <= self.keep);
        found.sort_by(|a, b| b.cmp(a));
        let mut shifted = Shifted {
            family: self,
            moved: Vec::new(),
        };
        for (k, gz) in found {
            let (from, to) = (self.path(k, gz), self.path(k + 1, gz));
            if let Err(e) = fs::rename(&from, &to) {
                shifted.undo();
                return Err(Error::io("rename rotated copy", from, e));
            }
            shifted.moved.push((from, to));
        }
        Ok(shifted)
    }
}

/// Renames done by `Family::shift`, to commit or undo.
struct Shifted<'a> {
    family: &'a Family,
    moved: Vec<(PathBuf, PathBuf)>,
}

impl Shifted<'_> {
    /// The head is out of the live file: drop the copy that fell off the end.
    fn commit(self) {
        let k = self.family.keep + 1;
        for gz in [false, true] {
            let _ = files::remove(&self.family.path(k, gz), "rotated copy");
        }
    }

    /// The head could not be removed: put every copy back where it was.
    fn undo(&self) {
        for (from, to) in self.moved.iter().rev() {
            if let Err(e) = fs::rename(to, from) {
                log::error!(
                    "cannot rename {} back to {}: {}",
                    to.display(),
                    from.display(),
                    crate::error::describe_io(&e)
                );
            }
        }
    }
}

/// The new `NAME.1`: written under a temporary name, published by rename.
struct Rotated {
    dir: PathBuf,
    tmp: PathBuf,
    target: PathBuf,
    sink: Option<Sink>,
    published: bool,
}

enum Sink {
    Plain(File),
    Gz(GzEncoder<File>),
}

impl Rotated {
    /// Creates `.NAME.1[.gz].tmp` beside the live file with its mode (and, as root, its
    /// owner). A stale one left by a killed run is replaced (and one of the other form, left
    /// before `--rotate-compress` was switched, removed).
    fn create(family: &Family, live: &fs::Metadata) -> Result<Rotated> {
        let target = family.path(1, family.compress);
        let mut tmp_name = OsString::from(".");
        tmp_name.push(target.file_name().unwrap_or_default());
        tmp_name.push(".tmp");
        let tmp = family.dir.join(tmp_name);
        let mut other = OsString::from(".");
        other.push(
            family
                .path(1, !family.compress)
                .file_name()
                .unwrap_or_default(),
        );
        other.push(".tmp");
        let _ = fs::remove_file(family.dir.join(other));
        // Permission bits only: a set-id bit on a log would be a mistake to copy.
        let mode = live.mode() & 0o777;
        let create = || {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NOCTTY)
                .open(&tmp)
        };
        let fail = |e| Error::io("create rotated copy", &target, e);
        let file = match create() {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                fs::remove_file(&tmp).map_err(fail)?;
                create()
            }
            other => other,
        }
        .map_err(fail)?;
        let mut rotated = Rotated {
            dir: family.dir.clone(),
            tmp,
            target: target.clone(),
            sink: None,
            published: false,
        };
        // The umask may have narrowed the mode; the copy gets exactly the live file's.
        rustix::fs::fchmod(&file, rustix::fs::Mode::from_raw_mode(mode))
            .map_err(|e| fail(e.into()))?;
        // As root, the copy belongs to the live file's owner. Acting as a `--user`, it was
        // created theirs already, and root's chown power is set aside: best effort.
        let created = file.metadata().map_err(fail)?;
        if files::running_as_root() && (created.uid(), created.gid()) != (live.uid(), live.gid()) {
            let _ = rustix::fs::fchown(
                &file,
                Some(rustix::fs::Uid::from_raw(live.uid())),
                Some(rustix::fs::Gid::from_raw(live.gid())),
            );
        }
        rotated.sink = Some(if family.compress {
            Sink::Gz(GzEncoder::new(file, Compression::default()))
        } else {
            Sink::Plain(file)
        });
        Ok(rotated)
    }

    fn fail(&self, e: io::Error) -> Error {
        Error::io("write rotated copy", &self.target, e)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let r = match self.sink.as_mut() {
            Some(Sink::Plain(f)) => f.write_all(bytes),
            Some(Sink::Gz(z)) => z.write_all(bytes),
            None => Ok(()),
        };
        r.map_err(|e| self.fail(e))
    }

    /// Everything written so far is on disk (a gzip stream is sync-flushed, still open).
    fn sync(&mut self) -> Result<()> {
        let r = match self.sink.as_mut() {
            Some(Sink::Plain(f)) => f.sync_data(),
            Some(Sink::Gz(z)) => z.flush().and_then(|()| z.get_ref().sync_data()),
            None => Ok(()),
        };
        r.map_err(|e| self.fail(e))
    }

    /// Ends the stream and makes the file durable.
    fn finish(&mut self) -> Result<()> {
        let r = match self.sink.take() {
            Some(Sink::Plain(f)) => f.sync_all(),
            Some(Sink::Gz(z)) => z.finish().and_then(|f| f.sync_all()),
            None => Ok(()),
        };
        r.map_err(|e| self.fail(e))
    }

    /// Renames the temporary file to `NAME.1` and makes that durable. The descriptor stays
    /// open (the copy-and-truncate path appends its catch-up through it).
    fn publish(&mut self) -> Result<()> {
        fs::rename(&self.tmp, &self.target)
            .map_err(|e| Error::io("rename rotated copy to", &self.target, e))?;
        self.published = true;
        files::sync_dir(&self.dir).map_err(|e| Error::io("sync directory", &self.dir, e))
    }

    /// Takes the published copy back (its bytes are still in the live file).
    fn unpublish(&mut self) {
        self.sink = None;
        if self.published {
            let _ = fs::remove_file(&self.target);
            self.published = false;
        }
    }
}

impl Drop for Rotated {
    /// A copy abandoned before it was published is removed; it would only double bytes.
    fn drop(&mut self) {
        if !self.published {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(limit: u64, keep: u32) -> Policy {
        Policy {
            limit,
            keep,
            compress: false,
        }
    }

    #[test]
    fn copy_names_are_recognised_exactly() {
        let fam = Family::of(Path::new("/x/app.out"), &policy(1, 3)).unwrap();
        let cases: [(&str, Option<(u32, bool)>); 9] = [
            ("app.out.1", Some((1, false))),
            ("app.out.12.gz", Some((12, true))),
            ("app.out", None),
            ("app.out.", None),
            ("app.out.0", None),
            ("app.out.01", None),
            ("app.out.1.tmp", None),
            (".app.out.1.tmp", None),
            ("app.outx.1", None),
        ];
        for (name, want) in cases {
            assert_eq!(fam.index_of(OsStr::new(name)), want, "{name}");
        }
        assert_eq!(fam.path(2, true), Path::new("/x/app.out.2.gz"));
    }

    #[test]
    fn a_small_or_absent_file_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.out");
        assert_eq!(rotate(&p, &policy(10, 2)).unwrap(), Done::Absent);
        assert!(!needs_rotation(&p, 10));
        fs::write(&p, b"0123456789abc").unwrap();
        // Larger than the limit, but not than one block: nothing can be moved.
        assert!(!needs_rotation(&p, 10));
        assert!(matches!(
            rotate(&p, &policy(10, 2)).unwrap(),
            Done::Small { size: 13, .. }
        ));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn rotation_keeps_the_stream_and_at_most_keep_copies() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.out");
        let mut stream = Vec::new();
        for round in 0..5u8 {
            let chunk = vec![b'a' + round; 10_000];
            stream.extend_from_slice(&chunk);
            let mut f = OpenOptions::new()
                .append(true)
                .create(true)
                .open(&p)
                .unwrap();
            f.write_all(&chunk).unwrap();
            assert!(needs_rotation(&p, 1000));
            let done = rotate(&p, &policy(1000, 2)).unwrap();
            assert!(matches!(done, Done::Rotated { .. }), "{done:?}");
        }
        let mut joined = fs::read(dir.path().join("a.out.2")).unwrap();
        joined.extend(fs::read(dir.path().join("a.out.1")).unwrap());
        joined.extend(fs::read(&p).unwrap());
        assert!(
            stream.ends_with(&joined),
            "the copies are not the stream's tail"
        );
        assert!(!dir.path().join("a.out.3").exists());
        let names = fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(names, 3, "only the live file and two copies");
    }
}
