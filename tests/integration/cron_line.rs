//! `watchdog cron`: the printed lines (absolute paths, cron's PATH, `%` and quoting that
//! survive cron and /bin/sh), and `--install`/`--uninstall` against a fake `crontab` on PATH
//! that stores the crontab in a file: every other line kept byte for byte, idempotent, a
//! backup beside the PID file, clear errors that leave the crontab as it was.
//!
//! The same editing against Debian's real `crontab` is in `cron_real.rs`, and the real cron
//! daemon bringing a program back in `cron_e2e.rs`.

use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::support::sandbox::{Wd, chmod};
use crate::support::{Run, Sandbox, watchdog_bin};

/// A `crontab` command that keeps the crontab in a file, as Debian's does in its spool:
/// `-l` prints it (or "no crontab for USER" and status 1), `-` replaces it from stdin.
/// Every call is appended to `crontab.calls`. `FAKE_CRONTAB_FAIL=read|write` makes that
/// operation fail the way the real one does when the user is not allowed, or the new
/// crontab has errors.
const FAKE_CRONTAB: &str = r#"#!/bin/sh
f="$FAKE_CRONTAB_FILE"
echo "$*" >> "$f.calls"
case "$1" in
-l)
    if [ "$FAKE_CRONTAB_FAIL" = read ]; then
        echo "You (tester) are not allowed to use this program (crontab)" >&2
        exit 1
    fi
    if [ -f "$f" ]; then cat "$f"; else echo "no crontab for tester" >&2; exit 1; fi ;;
-)
    cat > "$f.new" || exit 1
    if [ "$FAKE_CRONTAB_FAIL" = write ]; then
        rm -f "$f.new"
        echo 'errors in crontab file, can'"'"'t install.' >&2
        exit 1
    fi
    mv "$f.new" "$f" ;;
*)
    echo "fake crontab: unsupported arguments: $*" >&2
    exit 2 ;;
esac
"#;

/// The fake crontab of one sandbox.
pub struct Fake {
    /// The directory holding the `crontab` script (first in PATH).
    pub bin: PathBuf,
    /// Where the crontab is kept.
    pub file: PathBuf,
}

impl Fake {
    pub fn new(sb: &Sandbox) -> Fake {
        let bin = sb.path("fakebin");
        fs::create_dir_all(&bin).unwrap();
        let script = bin.join("crontab");
        fs::write(&script, FAKE_CRONTAB).unwrap();
        chmod(&script, 0o755);
        Fake {
            bin,
            file: sb.path("fake.crontab"),
        }
    }

    /// Runs `wd` with the fake first in PATH.
    pub fn on<'a>(&self, wd: Wd<'a>) -> Wd<'a> {
        let mut path = self.bin.clone().into_os_string();
        path.push(":/usr/bin:/bin");
        wd.env("PATH", path).env("FAKE_CRONTAB_FILE", &self.file)
    }

    pub fn set(&self, text: &[u8]) {
        fs::write(&self.file, text).unwrap();
    }

    pub fn text(&self) -> Vec<u8> {
        fs::read(&self.file).unwrap_or_default()
    }

    /// How many times `crontab -` was run.
    pub fn writes(&self) -> usize {
        let mut calls = self.file.clone().into_os_string();
        calls.push(".calls");
        fs::read_to_string(calls)
            .unwrap_or_default()
            .lines()
            .filter(|l| *l == "-")
            .count()
    }
}

/// `cron --pidfile <dir>/app.pid [EXTRA...] -- PROGRAM...`
pub fn cron<'a>(sb: &'a Sandbox, extra: &[&str], program: &[OsString]) -> Wd<'a> {
    sb.cmd("cron").args(extra).program(program)
}

/// The four printed lines: marker, SHELL, PATH, entry.
#[track_caller]
fn lines_of(run: &Run) -> Vec<String> {
    run.expect_code(0);
    let out = run.out();
    let lines: Vec<String> = out.lines().map(str::to_string).collect();
    run.ensure(lines.len() == 4, "cron prints four lines");
    run.ensure(
        lines[0].starts_with("# watchdog cron --install"),
        "a marker comment first",
    );
    run.ensure(lines[1] == "SHELL=/bin/sh", "then SHELL=/bin/sh");
    run.ensure(lines[2] == "PATH=/usr/bin:/bin", "then PATH=/usr/bin:/bin");
    run.ensure(
        lines[3].starts_with("* * * * * "),
        "then the every-minute entry",
    );
    lines
}

/// What cron does to a command before /bin/sh sees it (Debian cron's `do_command.c`): `\%`
/// becomes `%`, and the first unescaped `%` ends the command. Written here again, apart from
/// the code under test.
fn cron_unescape(cmd: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut escaped = false;
    for &b in cmd {
        if escaped {
            if b == b'%' {
                out.pop();
            }
            out.push(b);
            escaped = false;
        } else if b == b'\\' {
            escaped = true;
            out.push(b);
        } else if b == b'%' {
            break;
        } else {
            out.push(b);
        }
    }
    out
}

#[test]
fn the_line_has_absolute_paths_and_the_program_found_with_crons_path() {
    let sb = Sandbox::new("cron_line_abs");
    let run = sb
        .wd(["cron", "--pidfile", "app.pid", "--", "sleep", "1000"])
        .run();
    let lines = lines_of(&run);
    let want = format!(
        "* * * * * {} check --pidfile {}/app.pid -- /usr/bin/sleep 1000",
        watchdog_bin().display(),
        sb.root().display()
    );
    run.ensure(lines[3] == want, &format!("the entry is {want:?}"));
    run.ensure(
        lines[0].ends_with(&format!("{}/app.pid", sb.root().display())),
        "the marker names the absolute PID file",
    );
}

#[test]
fn relative_options_and_a_relative_program_become_absolute() {
    let sb = Sandbox::new("cron_line_rel");
    fs::create_dir(sb.path("sub")).unwrap();
    let script = sb.write("sub/run.sh", "#!/bin/sh\nsleep 1000\n");
    chmod(&script, 0o755);
    let run = sb
        .wd([
            "cron",
            "--pidfile",
            "app.pid",
            "--stdout",
            "logs/out.txt",
            "--chdir",
            "sub",
            "--grace",
            "2s",
            "--env",
            "A=b c",
            "--",
            "./run.sh",
            "x",
        ])
        .run();
    let entry = &lines_of(&run)[3];
    let root = sb.root().display().to_string();
    for part in [
        format!("--pidfile {root}/app.pid"),
        format!("--stdout {root}/logs/out.txt"),
        format!("--chdir {root}/sub"),
        "--grace 2s".to_string(),
        "--env 'A=b c'".to_string(),
        format!("-- {root}/sub/run.sh x"),
    ] {
        run.ensure(entry.contains(&part), &format!("the entry has {part:?}"));
    }
}

#[test]
fn watch_mode_gives_the_watch_line() {
    let sb = Sandbox::new("cron_line_watch");
    let run = cron(&sb, &["--watch", "60s"], &sb.sleeper("w")).run();
    let entry = &lines_of(&run)[3];
    run.ensure(
        entry.contains(" check ") && entry.contains("--watch 60s"),
        "the entry is a `check --watch 60s` line",
    );
}

#[test]
fn a_program_only_your_path_finds_is_written_absolute_with_a_note() {
    let sb = Sandbox::new("cron_line_userpath");
    fs::create_dir(sb.path("bin")).unwrap();
    let prog = sb.write("bin/myprog", "#!/bin/sh\nsleep 1000\n");
    chmod(&prog, 0o755);
    let path = format!("{}:/usr/bin:/bin", sb.path("bin").display());
    let run = cron(&sb, &[], &[OsString::from("myprog")])
        .env("PATH", path)
        .run();
    let entry = &lines_of(&run)[3];
    run.ensure(
        entry.ends_with(&format!("-- {}", prog.display())),
        "the entry uses the absolute path",
    );
    run.ensure(
        run.err().contains("not in cron's PATH"),
        "a note says cron's PATH would not find it",
    );
}

#[test]
fn a_missing_program_is_an_error_that_names_it() {
    let sb = Sandbox::new("cron_line_missing");
    let run = cron(&sb, &[], &[OsString::from("no-such-program-xyz")]).run();
    run.expect_code(1)
        .expect_error(&["no-such-program-xyz", "not found in PATH"]);
    run.ensure(run.stdout.is_empty(), "no line is printed");
}

#[test]
fn a_line_break_in_an_argument_is_refused() {
    let sb = Sandbox::new("cron_line_newline");
    let run = cron(
        &sb,
        &[],
        &[OsString::from("/bin/echo"), OsString::from("a\nb")],
    )
    .run();
    run.expect_code(1).expect_error(&["line break"]);
}

/// Every awkward argument reaches the program unchanged when the entry's command goes
/// through cron's `%` handling and then `/bin/sh`: the shell text runs the real
/// `watchdog check`, which launches probe.sh, which records its arguments.
#[test]
fn percent_signs_and_quotes_survive_cron_and_the_shell() {
    let sb = Sandbox::new("cron_line_quoting");
    let awkward = [
        "50%", "%%", r"\%", r"a\\%b", "it's", "a b", "$HOME", "`id`", "*", "#x", "~", "\\", "é",
    ];
    let mut program = sb.prog("probe.sh", &[]);
    program.extend(awkward.iter().map(OsString::from));
    let run = cron(&sb, &["--grace", "300ms"], &program).run();
    let entry = lines_of(&run)[3].clone();
    let command = entry.strip_prefix("* * * * * ").unwrap().as_bytes();
    let shell_text = cron_unescape(command);
    let mut sh = sb.command("/bin/sh");
    sh.arg("-c")
        .arg(std::ffi::OsStr::from_bytes(&shell_text))
        .env("HOME", sb.root());
    let status = sh.status().unwrap();
    assert!(
        status.success(),
        "the shell ran the entry: {status:?}\n{run}"
    );
    sb.wait_until("probe.sh recorded its arguments", || {
        sb.path("probe.done").exists()
    });
    sb.expect_recorded("probe");
    let got = fs::read(sb.path("probe.args")).unwrap();
    let got: Vec<String> = got
        .split(|&b| b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    // probe.sh records every argument after DIR.
    assert_eq!(got, awkward, "{run}");
}

const OTHERS: &[u8] =
    b"# m h dom mon dow command\nMAILTO=\"\"\n0 3 * * * /usr/bin/backup --all \\% \xff\r\n\n@reboot /x\n";

#[test]
fn install_appends_once_keeps_other_lines_and_uninstall_restores_them() {
    let sb = Sandbox::new("cron_install_fake");
    let fake = Fake::new(&sb);
    fake.set(OTHERS);
    let program = sb.sleeper("i");
    let printed = lines_of(&cron(&sb, &[], &program).run());

    let run = fake.on(cron(&sb, &["--install"], &program)).run();
    run.expect_code(0).expect_mentions("added the entry");
    let mut want = OTHERS.to_vec();
    for l in &printed {
        want.extend_from_slice(l.as_bytes());
        want.push(b'\n');
    }
    assert_eq!(
        String::from_utf8_lossy(&fake.text()),
        String::from_utf8_lossy(&want),
        "{run}"
    );
    assert_eq!(fake.text(), want, "other lines kept byte for byte\n{run}");
    let backup = sb.path("app.pid.crontab.bak");
    assert_eq!(
        fs::read(&backup).unwrap(),
        OTHERS,
        "the backup is the old crontab"
    );
    assert_eq!(
        fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
        0o600,
        "the backup is private"
    );
    run.ensure(
        run.out().contains(backup.to_str().unwrap()),
        "the message names the backup",
    );

    let writes = fake.writes();
    let again = fake.on(cron(&sb, &["--install"], &program)).run();
    again.expect_code(0).expect_mentions("nothing changed");
    assert_eq!(fake.text(), want, "installing twice leaves one entry");
    assert_eq!(
        fake.writes(),
        writes,
        "an unchanged crontab is not rewritten"
    );

    let un = fake.on(sb.cmd("cron").arg("--uninstall")).run();
    un.expect_code(0).expect_mentions("removed the entry");
    assert_eq!(fake.text(), OTHERS, "uninstall restores every byte\n{un}");
    let un2 = fake.on(sb.cmd("cron").arg("--uninstall")).run();
    un2.expect_code(0).expect_mentions("no entry");
}

#[test]
fn installing_with_other_options_replaces_the_entry_in_place() {
    let sb = Sandbox::new("cron_install_replace");
    let fake = Fake::new(&sb);
    fake.set(b"@reboot /first\n");
    let program = sb.sleeper("r");
    fake.on(cron(&sb, &["--install", "--grace", "2s"], &program))
        .run()
        .expect_code(0);
    fake.set(&[fake.text(), b"0 * * * * /last\n".to_vec()].concat());
    let run = fake
        .on(cron(&sb, &["--install", "--grace", "3s"], &program))
        .run();
    run.expect_code(0).expect_mentions("replaced the entry");
    let text = String::from_utf8(fake.text()).unwrap();
    assert_eq!(text.matches(" check ").count(), 1, "{text}");
    assert!(
        text.contains("--grace 3s") && !text.contains("--grace 2s"),
        "{text}"
    );
    assert!(text.starts_with("@reboot /first\n"), "{text}");
    assert!(
        text.ends_with("/last\n"),
        "the entry stayed where it was: {text}"
    );
}

#[test]
fn an_unreadable_crontab_is_a_clear_error_and_nothing_is_written() {
    let sb = Sandbox::new("cron_install_unreadable");
    let fake = Fake::new(&sb);
    fake.set(OTHERS);
    let run = fake
        .on(cron(&sb, &["--install"], &sb.sleeper("u")))
        .env("FAKE_CRONTAB_FAIL", "read")
        .run();
    run.expect_code(1)
        .expect_error(&["cannot read your crontab", "crontab -l", "not allowed"]);
    assert_eq!(fake.text(), OTHERS);
    assert_eq!(fake.writes(), 0);
}

#[test]
fn a_refused_write_is_a_clear_error_and_the_old_crontab_is_kept_and_saved() {
    let sb = Sandbox::new("cron_install_refused");
    let fake = Fake::new(&sb);
    fake.set(OTHERS);
    let run = fake
        .on(cron(&sb, &["--install"], &sb.sleeper("w")))
        .env("FAKE_CRONTAB_FAIL", "write")
        .run();
    run.expect_code(1).expect_error(&[
        "cannot write your crontab",
        "errors in crontab file",
        "app.pid.crontab.bak",
    ]);
    assert_eq!(fake.text(), OTHERS);
    assert_eq!(fs::read(sb.path("app.pid.crontab.bak")).unwrap(), OTHERS);
}

#[test]
fn without_a_place_for_the_backup_nothing_is_written() {
    let sb = Sandbox::new("cron_install_nobackup");
    let fake = Fake::new(&sb);
    fake.set(OTHERS);
    let run = fake
        .on(sb
            .wd(["cron", "--install", "--pidfile"])
            .arg(sb.path("missing/app.pid"))
            .program(&sb.sleeper("b")))
        .run();
    run.expect_code(1)
        .expect_error(&["crontab", "missing/app.pid.crontab.bak", "left as it was"]);
    assert_eq!(fake.text(), OTHERS);
    assert_eq!(fake.writes(), 0);
}

#[test]
fn no_crontab_command_is_a_clear_error() {
    let sb = Sandbox::new("cron_install_nocommand");
    fs::create_dir(sb.path("empty")).unwrap();
    let run = cron(&sb, &["--install"], &[OsString::from("/usr/bin/sleep")])
        .env("PATH", sb.path("empty"))
        .run();
    run.expect_code(1)
        .expect_error(&["no `crontab` command", "apt install cron"]);
}

#[test]
fn the_same_pid_file_through_a_symlinked_directory_is_the_same_entry() {
    let sb = Sandbox::new("cron_install_symlink");
    let fake = Fake::new(&sb);
    fs::create_dir(sb.path("real")).unwrap();
    std::os::unix::fs::symlink(sb.path("real"), sb.path("link")).unwrap();
    let program = sb.sleeper("s");
    for dir in ["real", "link"] {
        let pid: PathBuf = Path::new(dir).join("app.pid");
        fake.on(sb
            .wd(["cron", "--install", "--pidfile"])
            .arg(&pid)
            .program(&program))
            .run()
            .expect_code(0);
    }
    let text = String::from_utf8(fake.text()).unwrap();
    assert_eq!(text.matches(" check ").count(), 1, "{text}");
}
