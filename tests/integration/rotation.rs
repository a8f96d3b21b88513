//! Output rotation (issue 9): `--rotate-size`, `--rotate-keep`, `--rotate-compress` on the
//! launching commands, and `watchdog rotate`.
//!
//! The central tests run `counter.sh`, which writes 0, 1, 2, ... one line per `write(2)` as
//! fast as it can, while rotations happen again and again, then read `NAME.k ... NAME.1
//! NAME` back: on ext4 (the collapse path) every number must be there exactly once, in
//! order; on tmpfs (copy and truncate, in a private mount namespace) nothing may be doubled
//! and what is missing must fit the window the event log reports. The counter keeps a core
//! busy, so those tests hold `fork_lock` (one CPU storm at a time on a two-core machine).

use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::sandbox::{chmod, chown_nobody, nobody};
use crate::support::{QUICK_LADDER, Run, Sandbox, TIMEOUT, fork_lock};

/// ext4's and xfs's `statfs` magic numbers: the filesystems whose collapse path is tested.
const EXT4: u64 = 0xef53;
const XFS: u64 = 0x5846_5342;

/// How many rotations the concurrent tests want to see while the counter writes.
const ROUNDS: usize = 30;

fn fs_magic(p: &Path) -> u64 {
    let st = nix::sys::statfs::statfs(p).expect("statfs");
    (st.filesystem_type().0 as u64) & 0xffff_ffff
}

/// `--rotate-size SIZE --rotate-keep KEEP`
fn flags(size: &str, keep: u32) -> Vec<String> {
    vec![
        "--rotate-size".into(),
        size.into(),
        "--rotate-keep".into(),
        keep.to_string(),
    ]
}

/// The files of the stream, oldest first: `NAME.k` (or `NAME.k.gz`, decompressed) for k
/// from the oldest copy down to 1, then `NAME`. Fails unless the copies are exactly
/// `NAME.1..=NAME.K`, each in one form.
fn in_order(dir: &Path, name: &str) -> Vec<Vec<u8>> {
    let mut copies = Vec::new();
    for k in 1.. {
        let plain = dir.join(format!("{name}.{k}"));
        let gz = dir.join(format!("{name}.{k}.gz"));
        match (plain.exists(), gz.exists()) {
            (false, false) => break,
            (true, true) => panic!("both {} and {} exist", plain.display(), gz.display()),
            (true, false) => copies.push(fs::read(&plain).unwrap()),
            (false, true) => copies.push(gunzip(&gz)),
        }
    }
    let listed = fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            let n = e.as_ref().unwrap().file_name();
            n.to_string_lossy().starts_with(&format!("{name}."))
        })
        .count();
    assert_eq!(
        listed,
        copies.len(),
        "rotated copies of {name} are not exactly {name}.1..={name}.{}",
        copies.len()
    );
    copies.reverse();
    copies.push(fs::read(dir.join(name)).unwrap_or_default());
    copies
}

/// The stream as the program wrote it, if nothing was lost (see [`in_order`]), and how many
/// rotated copies it came from.
fn joined(dir: &Path, name: &str) -> (Vec<u8>, usize) {
    let files = in_order(dir, name);
    (files.concat(), files.len() - 1)
}

fn gunzip(p: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(fs::File::open(p).unwrap())
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("{} is not gzip: {e}", p.display()));
    out
}

/// The numbers of `stream`, one per line; panics on a line that is not a number (a torn
/// or doubled write would make one).
fn numbers(stream: &[u8]) -> Vec<u64> {
    let text = std::str::from_utf8(stream).expect("the stream is ASCII");
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "the stream ends mid-line"
    );
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            l.parse()
                .unwrap_or_else(|_| panic!("line {i} is {l:?}, not a number"))
        })
        .collect()
}

/// Fails with a readable account of what is missing and what is doubled, unless `stream` is
/// exactly "0\n1\n...\n(n-1)\n".
fn assert_exactly_once(sb: &Sandbox, stream: &[u8], n: u64, copies: usize) {
    let expected: String = (0..n).map(|i| format!("{i}\n")).collect();
    if stream == expected.as_bytes() {
        return;
    }
    let got = numbers(stream);
    let mut seen = vec![0u32; n as usize];
    let mut outside = 0;
    for &x in &got {
        match seen.get_mut(x as usize) {
            Some(c) => *c += 1,
            None => outside += 1,
        }
    }
    let missing: Vec<usize> = (0..n as usize).filter(|&i| seen[i] == 0).collect();
    let doubled: Vec<usize> = (0..n as usize).filter(|&i| seen[i] > 1).collect();
    let disorder = got.windows(2).position(|w| w[1] != w[0] + 1);
    sb.fail(&format!(
        "the {copies} rotated copies and the live file do not hold 0..{n} exactly once: \
         {} missing (first {:?}), {} doubled (first {:?}), {outside} out of range, first \
         discontinuity after line {disorder:?}",
        missing.len(),
        &missing[..missing.len().min(10)],
        doubled.len(),
        &doubled[..doubled.len().min(10)],
    ));
}

/// Tells the counter to stop and returns how many lines it wrote.
fn stop_counter(sb: &Sandbox) -> u64 {
    sb.write("stop", "");
    sb.wait_for("the counter records its count", || {
        sb.read("counted").trim().parse::<u64>().ok()
    })
}

fn rotated_so_far(dir: &Path, name: &str) -> usize {
    (1..)
        .take_while(|k| {
            dir.join(format!("{name}.{k}")).exists() || dir.join(format!("{name}.{k}.gz")).exists()
        })
        .count()
}

#[test]
fn every_line_survives_repeated_rotations_exactly_once_on_ext4() {
    let _one_writer = fork_lock();
    let sb = Sandbox::new("rotate-ext4");
    let magic = fs_magic(sb.root());
    assert!(
        magic == EXT4 || magic == XFS,
        "{} is on filesystem type {magic:#x}, not ext4 or xfs: run the tests with TMPDIR on \
         ext4 or xfs (the copy-and-truncate fallback has its own test)",
        sb.root().display()
    );
    let counter = sb.prog("counter.sh", &[]);
    let keep = 1000;
    sb.start(&counter)
        .args(flags("16K", keep))
        .run()
        .expect_code(0);
    sb.wait_recorded("counter");

    // Rotate through every entry point while the counter writes: cron's check, the
    // on-demand command, compressed and not (so the copies mix both forms).
    let started = Instant::now();
    let mut round = 0;
    while rotated_so_far(sb.root(), "app.out") < ROUNDS {
        if started.elapsed() > 4 * TIMEOUT {
            sb.fail(&format!(
                "only {round} rounds rotated in {:?}",
                started.elapsed()
            ));
        }
        let mut args = flags("16K", keep);
        if round % 3 == 1 {
            args.push("--rotate-compress".into());
        }
        let run = if round % 2 == 0 {
            sb.check(&counter).args(&args).run()
        } else {
            sb.cmd("rotate").args(&args).run()
        };
        run.expect_code(0);
        if round % 2 == 0 {
            // A healthy check stays silent even when it rotated: that goes to the log.
            run.expect_silent();
        }
        round += 1;
    }

    let n = stop_counter(&sb);
    sb.cmd("rotate")
        .args(flags("4K", keep))
        .run()
        .expect_code(0);
    let (stream, copies) = joined(sb.root(), "app.out");
    assert!(copies >= ROUNDS, "{copies} copies");
    assert!(n > 10_000, "the counter wrote only {n} lines");
    assert_exactly_once(&sb, &stream, n, copies);
    let log = sb.read("app.watchdog.log");
    assert!(log.contains("head removed in place"), "{log}");
    assert!(!log.contains("copy and truncate"), "{log}");
    sb.stop(QUICK_LADDER).run().expect_code(0);
}

/// A process holding a private mount namespace with a tmpfs mounted at `<sandbox>/t`.
struct Tmpfs {
    holder: i32,
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(sb: &Sandbox) -> Tmpfs {
        let dir = sb.path("t");
        fs::create_dir(&dir).unwrap();
        let mut cmd = sb.command("/usr/bin/unshare");
        cmd.args([
            "--mount",
            "--propagation",
            "private",
            "/bin/sh",
            "-c",
            r#"mount -t tmpfs -o size=512m watchdog-it "$0/t" && : > "$0/mounted" && exec sleep 1000"#,
        ])
        .arg(sb.root());
        let holder = sb.spawn_guarded(cmd, "tmpfs namespace holder");
        sb.wait_until("the tmpfs is mounted in the private namespace", || {
            sb.path("mounted").exists()
        });
        Tmpfs { holder, dir }
    }

    /// `PATH` inside the namespace, as the test (outside it) can reach it.
    fn inside(&self, p: &Path) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root{}", self.holder, p.display()))
    }

    /// Runs the watchdog inside the namespace.
    fn enter(&self) -> Vec<String> {
        vec![
            "/usr/bin/nsenter".into(),
            "-t".into(),
            self.holder.to_string(),
            "-m".into(),
            "--".into(),
        ]
    }
}

/// The windows the event log reports for copy-and-truncate rotations, in microseconds.
fn reported_windows(log: &str) -> Vec<u64> {
    log.lines()
        .filter(|l| l.contains("by copy and truncate"))
        .map(|l| {
            let at = l.find("the window of ").expect("the window is reported") + 14;
            let digits: String = l[at..].chars().take_while(char::is_ascii_digit).collect();
            digits.parse().expect("the window is a number of µs")
        })
        .collect()
}

/// One file of `stamped_counter.pl`'s output: its `(N, T)` lines, and the unfinished last
/// line if the file ends mid-line. Panics on any other line.
struct Stamped {
    lines: Vec<(u64, u64)>,
    torn: Option<String>,
}

fn stamped(bytes: &[u8]) -> Stamped {
    let text = std::str::from_utf8(bytes).expect("the stream is ASCII");
    let (whole, torn) = match text.rfind('\n') {
        Some(i) if i + 1 < text.len() => (&text[..=i], Some(text[i + 1..].to_string())),
        None if !text.is_empty() => ("", Some(text.to_string())),
        _ => (text, None),
    };
    let lines = whole
        .lines()
        .enumerate()
        .map(|(i, l)| {
            l.split_once(' ')
                .and_then(|(n, t)| Some((n.parse().ok()?, t.parse().ok()?)))
                .unwrap_or_else(|| panic!("line {i} is {l:?}, not \"N T\""))
        })
        .collect();
    Stamped { lines, torn }
}

/// The counter's fastest pace, in lines per microsecond: the most lines it wrote in any
/// span of `SPAN` consecutive lines that all survived (so, by its own clock).
fn peak_rate(files: &[Stamped]) -> f64 {
    const SPAN: usize = 200;
    files
        .iter()
        .flat_map(|f| f.lines.windows(SPAN + 1).step_by(SPAN / 4))
        .map(|w| SPAN as f64 / ((w[SPAN].1 - w[0].1).max(1) as f64 / 1e3))
        .fold(0.0, f64::max)
}

#[test]
fn on_tmpfs_copy_and_truncate_loses_only_what_fits_the_reported_window() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: mounting a tmpfs in a private mount namespace needs root");
        return;
    }
    let _one_writer = fork_lock();
    let sb = Sandbox::new("rotate-tmpfs");
    let tmpfs = Tmpfs::mount(&sb);
    let out = tmpfs.dir.join("app.out");
    let out_flag = vec!["--stdout".to_string(), out.display().to_string()];
    let counter = sb.prog("stamped_counter.pl", &[]);
    let keep = 1000;
    sb.start(&counter)
        .wrap(tmpfs.enter())
        .args(&out_flag)
        .run()
        .expect_code(0);
    sb.wait_recorded("counter");
    assert_eq!(
        fs_magic(&tmpfs.inside(&tmpfs.dir)),
        0x0102_1994,
        "not a tmpfs"
    );

    let started = Instant::now();
    let mut round = 0;
    while rotated_so_far(&tmpfs.inside(&tmpfs.dir), "app.out") < ROUNDS {
        if started.elapsed() > 4 * TIMEOUT {
            sb.fail(&format!(
                "only {round} rounds rotated in {:?}",
                started.elapsed()
            ));
        }
        let run: Run = sb
            .cmd("rotate")
            .wrap(tmpfs.enter())
            .args(&out_flag)
            .args(flags("16K", keep))
            .run();
        run.expect_code(0);
        round += 1;
    }
    let n = stop_counter(&sb);
    sb.cmd("rotate")
        .wrap(tmpfs.enter())
        .args(&out_flag)
        .args(flags("4K", keep))
        .run()
        .expect_code(0);

    // Oldest first; the boundary after file j is where rotation j truncated.
    let files: Vec<Stamped> = in_order(&tmpfs.inside(&tmpfs.dir), "app.out")
        .iter()
        .map(|f| stamped(f))
        .collect();
    let copies = files.len() - 1;
    let log = sb.read("app.watchdog.log");
    let windows = reported_windows(&log);
    assert_eq!(
        windows.len(),
        copies,
        "one reported window per rotation:\n{log}"
    );
    assert!(
        log.contains("tmpfs cannot remove a file's head in place"),
        "{log}"
    );
    let all: Vec<u64> = files
        .iter()
        .flat_map(|f| &f.lines)
        .map(|&(i, _)| i)
        .collect();
    assert_eq!(all.first(), Some(&0));
    assert_eq!(all.last(), Some(&(n - 1)));
    // Inside each file nothing is missing, doubled or reordered: a loss can only be at a
    // truncate. There, it must fit the window that rotation reported: no more lines than
    // the counter writes in that time at its fastest (its own clock, over the lines that
    // survived), with half as much again and 50 lines of slack. A copy-then-truncate
    // without the catch-up, whose window spans the fsync, loses far more.
    //
    // A copy may end inside a line: the size grows page by page during one write, so the
    // last look may see a write half done; its beginning is copied and the rest is lost
    // with the window. That torn line must be the beginning of the line that came next.
    for (j, f) in files.iter().enumerate() {
        if let Some(i) = f.lines.windows(2).position(|w| w[1].0 != w[0].0 + 1) {
            sb.fail(&format!(
                "file {j} of {} (oldest first): {} is followed by {}",
                files.len(),
                f.lines[i].0,
                f.lines[i + 1].0
            ));
        }
        if let Some(torn) = &f.torn {
            let next = format!("{} ", f.lines.last().map_or(0, |&(i, _)| i + 1));
            let fits = if torn.len() <= next.len() {
                next.starts_with(torn.as_str())
            } else {
                torn.starts_with(&next) && torn[next.len()..].bytes().all(|b| b.is_ascii_digit())
            };
            if !fits || j == copies {
                sb.fail(&format!(
                    "file {j} ends with {torn:?}, not the start of {next:?}"
                ));
            }
        }
    }
    let peak = peak_rate(&files);
    let mut lost = Vec::new();
    let mut last = None;
    for (j, f) in files.iter().enumerate() {
        let (Some(&(first, _)), Some(prev)) = (f.lines.first(), last) else {
            last = f.lines.last().map(|&(i, _)| i).or(last);
            continue;
        };
        if first <= prev {
            sb.fail(&format!(
                "file {j} starts at {first}, after {prev}: doubled"
            ));
        }
        let gap = first - prev - 1;
        let window = windows[j - 1];
        let bound = (1.5 * peak * window as f64).ceil() as u64 + 50;
        if gap > bound {
            sb.fail(&format!(
                "rotation {j} lost {gap} lines, more than {bound}: the counter's peak of \
                 {peak:.2} lines/µs for 1.5 times the reported window of {window}µs, plus 50"
            ));
        }
        lost.push(gap);
        last = f.lines.last().map(|&(i, _)| i);
    }
    eprintln!(
        "tmpfs: {n} lines, peak {peak:.2}/µs, {copies} rotations, windows {windows:?} µs, \
         lost {lost:?} lines"
    );
    sb.stop(QUICK_LADDER).run().expect_code(0);
}

#[test]
fn at_most_keep_copies_are_kept_newest_first_and_a_lower_keep_prunes() {
    let sb = Sandbox::new("rotate-keep");
    let mut stream = Vec::new();
    for round in 0..6u8 {
        let chunk = vec![b'a' + round; 9000];
        let mut f = fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(sb.path("app.out"))
            .unwrap();
        std::io::Write::write_all(&mut f, &chunk).unwrap();
        stream.extend_from_slice(&chunk);
        let mut args = flags("8K", 3);
        if round >= 4 {
            args.push("--rotate-compress".into());
        }
        let run = sb.cmd("rotate").args(&args).run();
        run.expect_code(0).expect_mentions("rotated");
        assert!(
            run.out().contains("app.err does not exist"),
            "{}",
            run.out()
        );
    }
    let (joined_now, copies) = joined(sb.root(), "app.out");
    assert_eq!(copies, 3);
    assert!(
        stream.ends_with(&joined_now),
        "the copies and the live file are not the stream's tail"
    );
    // The newest copies are compressed, the oldest (from round 3, before --rotate-compress)
    // is not: both forms shift together.
    assert!(sb.path("app.out.1.gz").exists() && sb.path("app.out.3").exists());

    // Lowering --rotate-keep removes the copies above it at the next rotation.
    sb.write("app.out", vec![b'z'; 9000]);
    sb.cmd("rotate").args(flags("8K", 1)).run().expect_code(0);
    let (_, copies) = joined(sb.root(), "app.out");
    assert_eq!(copies, 1);
}

#[test]
fn a_file_that_shrank_or_vanished_between_checks_is_left_alone() {
    let sb = Sandbox::new("rotate-shrank");
    let program = sb.sleeper("quiet");
    let rot = flags("8K", 3);
    sb.start(&program).args(&rot).run().expect_code(0);
    sb.wait_recorded("sleeper");
    sb.wait_until("the sleeper wrote its line", || {
        sb.read("app.out").contains("stdout")
    });

    // Grown past the limit: rotated by a silent check.
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(sb.path("app.out"))
        .unwrap();
    std::io::Write::write_all(&mut f, &vec![b'x'; 20_000]).unwrap();
    sb.check(&program)
        .args(&rot)
        .run()
        .expect_code(0)
        .expect_silent();
    let first = fs::read(sb.path("app.out.1")).expect("app.out.1");

    // Shrank below the limit (a user truncated it): nothing moves.
    f.set_len(10).unwrap();
    sb.check(&program)
        .args(&rot)
        .run()
        .expect_code(0)
        .expect_silent();
    assert_eq!(fs::read(sb.path("app.out.1")).unwrap(), first);
    assert!(!sb.path("app.out.2").exists());
    assert_eq!(fs::metadata(sb.path("app.out")).unwrap().len(), 10);

    // Vanished (a user removed it): nothing to rotate, nothing created, no complaint.
    fs::remove_file(sb.path("app.out")).unwrap();
    sb.check(&program)
        .args(&rot)
        .run()
        .expect_code(0)
        .expect_silent();
    assert!(!sb.path("app.out").exists());
    assert!(!sb.path("app.out.2").exists());
    assert_eq!(fs::read(sb.path("app.out.1")).unwrap(), first);

    // A new large file in its place is rotated, and the old copy shifts to .2.
    sb.write("app.out", vec![b'n'; 20_000]);
    sb.check(&program)
        .args(&rot)
        .run()
        .expect_code(0)
        .expect_silent();
    assert_eq!(fs::read(sb.path("app.out.2")).unwrap(), first);
    assert!(
        fs::read(sb.path("app.out.1"))
            .unwrap()
            .iter()
            .all(|&b| b == b'n')
    );
    sb.stop(QUICK_LADDER).run().expect_code(0);
}

/// The syscalls of one traced watchdog run that name `app.out` or `app.err`.
fn traced_output_calls(
    sb: &Sandbox,
    program: &[std::ffi::OsString],
    extra: &[String],
) -> Vec<String> {
    let trace = sb.path("trace");
    let _ = fs::remove_file(&trace);
    sb.check(program)
        .wrap(
            ["/usr/bin/strace", "-f", "-qq", "-o"]
                .map(String::from)
                .into_iter()
                .chain([trace.display().to_string()]),
        )
        .args(extra)
        .run()
        .expect_code(0)
        .expect_silent();
    fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .filter(|l| l.contains("app.out\"") || l.contains("app.err\""))
        .map(str::to_string)
        .collect()
}

#[test]
fn without_the_flags_nothing_is_rotated_and_a_small_file_costs_one_stat() {
    let sb = Sandbox::new("rotate-off");
    let program = sb.sleeper("idle");
    sb.start(&program).run().expect_code(0);
    sb.wait_recorded("sleeper");
    sb.wait_until("the sleeper wrote its lines", || {
        sb.read("app.err").contains("stderr")
    });
    let big = vec![b'b'; 3 << 20];
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(sb.path("app.out"))
        .unwrap();
    std::io::Write::write_all(&mut f, &big).unwrap();
    let size = fs::metadata(sb.path("app.out")).unwrap().len();

    sb.check(&program).run().expect_code(0).expect_silent();
    assert_eq!(fs::metadata(sb.path("app.out")).unwrap().len(), size);
    assert!(!sb.path("app.out.1").exists());

    if !Path::new("/usr/bin/strace").exists() {
        eprintln!("strace is not installed: the syscall counts are not checked");
        return;
    }
    // No flags: the check does not even look at the output files.
    let calls = traced_output_calls(&sb, &program, &[]);
    assert!(calls.is_empty(), "{calls:#?}");
    // Flags, files below the limit: exactly one stat of each, nothing opened.
    let calls = traced_output_calls(&sb, &program, &flags("10M", 2));
    assert_eq!(calls.len(), 2, "{calls:#?}");
    for c in &calls {
        assert!(
            c.contains("stat") && !c.contains("open"),
            "not a single stat: {calls:#?}"
        );
    }
    sb.stop(QUICK_LADDER).run().expect_code(0);
}

#[test]
fn a_watch_rotates_between_events_without_losing_a_line() {
    let _one_writer = fork_lock();
    let sb = Sandbox::new("rotate-watch");
    let counter = sb.prog("counter.sh", &[]);
    let mut args = flags("16K", 1000);
    args.extend(["--rotate-interval".into(), "100ms".into()]);
    args.extend(["--watch".into(), "60s".into()]);
    let watcher = sb.check(&counter).args(&args).spawn();
    let pid = sb.wait_recorded("counter");
    sb.wait_until(
        "the watcher rotated several times while the counter ran",
        || rotated_so_far(sb.root(), "app.out") >= 5,
    );
    let n = stop_counter(&sb);
    assert_eq!(sb.recorded_pid(), Some(pid), "the counter was relaunched");
    // SIGTERM ends the watch; the last rotation is done on demand.
    kill(Pid::from_raw(watcher.pid()), Signal::SIGTERM).unwrap();
    watcher.wait().expect_code(0);
    sb.cmd("rotate")
        .args(flags("4K", 1000))
        .run()
        .expect_code(0);
    let (stream, copies) = joined(sb.root(), "app.out");
    assert_exactly_once(&sb, &stream, n, copies);
    sb.stop(QUICK_LADDER).run().expect_code(0);
}

#[test]
fn rotate_flags_need_a_size_and_refuse_bad_values() {
    let sb = Sandbox::new("rotate-usage");
    let program = sb.sleeper("never");
    for bad in [
        vec!["--rotate-keep", "3"],
        vec!["--rotate-compress"],
        vec!["--rotate-size", "0"],
        vec!["--rotate-size", "10X"],
        vec!["--rotate-size", "1M", "--rotate-keep", "0"],
        vec!["--rotate-size", "1M", "--rotate-interval", "0"],
    ] {
        sb.check(&program).args(&bad).run().expect_code(2);
    }
    assert!(sb.launches().is_empty());
}

#[test]
fn with_user_as_root_a_rotation_has_only_the_users_permissions() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: --user needs root");
        return;
    }
    // The job's own files are root's; the program's are in `u`, which nobody owns.
    let sb = Sandbox::new("rotate-user");
    chmod(sb.root(), 0o755);
    let u = sb.path("u");
    fs::create_dir(&u).unwrap();
    chown_nobody(&u);
    let secret = sb.write("secret", vec![b's'; 20_000]);
    chmod(&secret, 0o600);
    let prog = vec![
        crate::support::fixture("sleeper.sh").into_os_string(),
        u.clone().into_os_string(),
        "as-user".into(),
    ];
    let mut args: Vec<String> = [
        "--user",
        "nobody",
        "--stdout",
        &u.join("app.out").display().to_string(),
        "--stderr",
        &u.join("app.err").display().to_string(),
    ]
    .map(String::from)
    .to_vec();
    args.extend(flags("8K", 3));
    sb.check(&prog).args(&args).run().expect_code(0);
    sb.wait_recorded("program");

    // The user's own output grew: rotated, and the copy is the user's.
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(u.join("app.out"))
        .unwrap();
    std::io::Write::write_all(&mut f, &vec![b'x'; 20_000]).unwrap();
    sb.check(&prog)
        .args(&args)
        .run()
        .expect_code(0)
        .expect_silent();
    let copy = fs::metadata(u.join("app.out.1")).expect("app.out.1");
    assert_eq!(copy.uid(), nobody().0.as_raw());

    // The user swaps the file for a link to a file only root may touch: nothing of that
    // file moves, and the check says why without failing.
    fs::remove_file(u.join("app.out")).unwrap();
    std::os::unix::fs::symlink(&secret, u.join("app.out")).unwrap();
    // Refused either way: the link is not followed at all (the directory is the user's,
    // so root opens nothing there through a symlink), or, through it, the user's
    // permissions do not reach the file.
    let run = sb.check(&prog).args(&args).run();
    run.expect_code(0);
    run.ensure(
        run.err().contains("symbolic link") || run.err().contains("Permission denied"),
        "the check must say why the file was not rotated",
    );
    sb.cmd("rotate").args(&args).run().expect_code(1);
    assert_eq!(fs::read(&secret).unwrap(), vec![b's'; 20_000]);
    assert!(!u.join("app.out.2").exists());
    sb.stop(QUICK_LADDER).run().expect_code(0);
}
