//! `--config FILE`: several programs in one TOML file, each under `[programs.NAME]`, with
//! shared options under `[defaults]`.
//!
//! ```toml
//! [defaults]
//! grace = "2s"
//! max-launches = 10
//!
//! [programs.bot]
//! command = ["./bot/run.sh", "--verbose"]   # the program and its arguments, no shell
//! chdir = "bot"
//! env = { TOKEN_FILE = "/home/me/bot/token" }
//! healthy-when-cmd = "test -n \"$(find bot/alive -mmin -2)\""
//!
//! [programs.web]
//! command = ["/usr/bin/python3", "-m", "http.server", "8080"]
//! healthy-when-port = 8080
//! ```
//!
//! The design: a file is another way to write the command line, not a second set of
//! options. Each program's table becomes the argv its options spell (`grace = "2s"` is
//! `--grace=2s`, `rotate-compress = true` is `--rotate-compress`, an array repeats the
//! option, `env` may be a table of KEY = VALUE) and is parsed by the same clap definitions
//! into the same args structs, so every option of every command is available per program,
//! with the same defaults, checks and messages, and an option added to `cli.rs` later needs
//! nothing here. Rules kept here:
//!
//! - A key is a long option's name (`max-launches`, or `max_launches`), `command`, or
//!   nothing: an unknown key is an error naming its line. A key that only some commands take
//!   (`ladder`, `stop-command`, `reload-signal`) is passed to those and left out for the
//!   others. Keys that belong to one invocation, not to a program (`config`, `watch`,
//!   `json`, `lines`, `install`, `uninstall`), are refused.
//! - Relative paths are relative to the file's directory: the values of options whose value
//!   is a PATH or DIR (`pidfile`, `stdout`, `chdir`...), and the program when its name holds
//!   a `/` (`./run.sh`). A bare program name is looked up in PATH, as on the command line;
//!   the program's arguments and the shell commands are left as written (the commands run
//!   in the program's `chdir`). There is no `~` expansion.
//! - `pidfile` defaults to `NAME.pid` beside the file, so a program's files are `NAME.pid`,
//!   `NAME.out`, `NAME.err` and `NAME.watchdog.log` there. It cannot be in `[defaults]`.
//! - Options on the command line replace the file's for the same option.
//! - Errors name the file, the line (from toml's spans), the program and the key. A TOML
//!   syntax error stops the whole file; an entry that cannot be used stops only its program.
//! - The file says what to run, so it must be writable by its owner alone, and, for a root
//!   watchdog, owned by root (start-stop-daemon refuses world-writable PID files for the same
//!   reason).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::error::{Error, Result};

/// Largest config file read; a real one is a few kilobytes.
const MAX_LEN: u64 = 1 << 20;

/// Keys that name no program option: they belong to one run of the watchdog.
const REFUSED: &[&str] = &[
    "config",
    "watch",
    "json",
    "lines",
    "install",
    "uninstall",
    "help",
    "version",
];

type RawTable = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

/// The file's shape, as serde reads it; the values stay TOML values until a command asks.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    defaults: Option<Spanned<RawTable>>,
    #[serde(default)]
    programs: Option<Spanned<BTreeMap<Spanned<String>, Spanned<RawTable>>>>,
}

/// One `key = value` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The key with `_` as `-`: a long option's name, or `command`.
    pub key: String,
    pub line: usize,
    pub value: toml::Value,
}

/// One `[programs.NAME]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub name: String,
    /// The line of its `[programs.NAME]` header.
    pub line: usize,
    pub entries: Vec<Entry>,
}

/// A loaded file.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Absolute, with its directory resolved (as `watchdog cron` writes paths).
    pub path: PathBuf,
    /// The directory relative paths are relative to.
    pub dir: PathBuf,
    pub defaults: Vec<Entry>,
    /// In the file's order.
    pub programs: Vec<Program>,
}

impl Config {
    /// Reads and parses the file.
    ///
    /// # Errors
    /// `Io` when it cannot be read; `Config` for a TOML error, a misplaced table, a bad
    /// program name or a key given twice, naming the line.
    pub fn load(path: &Path) -> Result<Config> {
        let path = crate::commands::cron::absolute(path);
        let read = "read config file";
        let meta = std::fs::metadata(&path).map_err(|e| Error::io(read, &path, e))?;
        if !meta.is_file() || meta.len() > MAX_LEN {
            return Err(Error::UnsafeFile {
                path,
                reason: format!(
                    "a config file must be a regular file of at most {} KiB",
                    MAX_LEN / 1024
                ),
            });
        }
        // The file says which commands to run (health, stop, readiness commands, the
        // programs): whoever may change it may run commands as us.
        use std::os::unix::fs::MetadataExt;
        if meta.mode() & 0o022 != 0 {
            return Err(Error::UnsafeFile {
                path: path.clone(),
                reason: format!(
                    "it is writable by others (mode {:o}), who could make the watchdog run any \
                     command as you; `chmod go-w {}`",
                    meta.mode() & 0o777,
                    path.display()
                ),
            });
        }
        if crate::files::running_as_root() && meta.uid() != 0 {
            return Err(Error::UnsafeFile {
                path: path.clone(),
                reason: format!(
                    "it is owned by {} (uid {}), who could make a root watchdog run any \
                     command as root; keep a root watchdog's config file root's, or run the \
                     watchdog as that user",
                    crate::files::user_name(meta.uid()),
                    meta.uid()
                ),
            });
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(read, &path, e))?;
        Config::parse(&path, &text)
    }

    /// Parses `text`, the content of the file at `path` (absolute).
    ///
    /// # Errors
    /// As `load`.
    pub fn parse(path: &Path, text: &str) -> Result<Config> {
        let at = |line: Option<usize>| match line {
            Some(n) => format!("{} line {n}", path.display()),
            None => path.display().to_string(),
        };
        let line_of = |offset: usize| {
            1 + text.as_bytes()[..offset.min(text.len())]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
        };
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let message = e.message().trim_end().to_string();
            let message = if message.starts_with("unknown field") {
                format!(
                    "{message}: put each program in a [programs.NAME] table, and shared options \
                     in [defaults]"
                )
            } else {
                message
            };
            Error::Config {
                at: at(e.span().map(|s| line_of(s.start))),
                what: message,
            }
        })?;
        let entries = |table: RawTable, within: &str| -> Result<Vec<Entry>> {
            let mut out: Vec<Entry> = Vec::new();
            let mut table: Vec<_> = table.into_iter().collect();
            table.sort_by_key(|(k, _)| k.span().start);
            for (k, v) in table {
                let line = line_of(k.span().start);
                let key = k.get_ref().replace('_', "-");
                if let Some(first) = out.iter().find(|e| e.key == key) {
                    return Err(Error::Config {
                        at: at(Some(line)),
                        what: format!("{within} sets {key} again (first on line {})", first.line),
                    });
                }
                out.push(Entry {
                    key,
                    line,
                    value: v.into_inner(),
                });
            }
            Ok(out)
        };
        let defaults = match raw.defaults {
            Some(d) => entries(d.into_inner(), "[defaults]")?,
            None => Vec::new(),
        };
        if let Some(e) = defaults.iter().find(|e| e.key == "pidfile") {
            return Err(Error::Config {
                at: at(Some(e.line)),
                what: "[defaults] cannot set pidfile: each program needs its own (the default \
                       is NAME.pid beside this file)"
                    .into(),
            });
        }
        let Some(programs) = raw.programs else {
            return Err(Error::Config {
                at: at(None),
                what: "there is no program: add a [programs.NAME] table with a command".into(),
            });
        };
        let mut list = Vec::new();
        for (name, table) in programs.into_inner() {
            let line = line_of(name.span().start);
            let name = name.into_inner();
            if !valid_name(&name) {
                return Err(Error::Config {
                    at: at(Some(line)),
                    what: format!(
                        "[programs.{name}]: a program's name is letters, digits, '-', '_' and \
                         '.' (not first), at most 64 (it names its files)"
                    ),
                });
            }
            let within = format!("[programs.{name}]");
            list.push(Program {
                entries: entries(table.into_inner(), &within)?,
                name,
                line,
            });
        }
        list.sort_by_key(|p| p.line);
        let dir = crate::files::parent_dir(path).to_path_buf();
        Ok(Config {
            path: path.to_path_buf(),
            dir,
            defaults,
            programs: list,
        })
    }

    /// The program called `name`.
    ///
    /// # Errors
    /// `Config` listing the names there are.
    pub fn program(&self, name: &str) -> Result<&Program> {
        self.programs
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| Error::Config {
                at: self.path.display().to_string(),
                what: format!("there is no program {name:?}; there are: {}", self.names()),
            })
    }

    /// "bot, web, worker".
    pub fn names(&self) -> String {
        self.programs
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// "FILE line N" for messages.
    pub fn at(&self, line: usize) -> String {
        format!("{} line {line}", self.path.display())
    }

    /// The defaults and the program's own entries, the program's replacing a default's.
    pub fn merged<'a>(&'a self, p: &'a Program) -> Vec<&'a Entry> {
        let mut out: Vec<&Entry> = self
            .defaults
            .iter()
            .filter(|d| !p.entries.iter().any(|e| e.key == d.key))
            .collect();
        out.extend(p.entries.iter());
        out
    }

    /// The argv (from the program name on) that spells program `p`'s options for the
    /// subcommand `sub` (as clap defines it), followed by `extra` (the command line's own
    /// options, which replace the file's), then `--` and the program when `sub` launches.
    /// `known` is every long option some command takes, to tell an unknown key from one
    /// this command does not need.
    ///
    /// # Errors
    /// `Config` naming the line, the program and the key.
    pub fn argv(
        &self,
        p: &Program,
        sub: &clap::Command,
        known: &[String],
        extra: &[OsString],
    ) -> Result<Vec<OsString>> {
        let fail = |line: usize, what: String| Error::Config {
            at: self.at(line),
            what: format!("[programs.{}] {what}", p.name),
        };
        let on_command_line = |long: &str| {
            let flag = format!("--{long}");
            extra.iter().any(|w| {
                let w = w.as_bytes();
                w == flag.as_bytes()
                    || (w.starts_with(flag.as_bytes()) && w.get(flag.len()) == Some(&b'='))
            })
        };
        let mut argv: Vec<OsString> = vec!["watchdog".into(), sub.get_name().into()];
        let mut command = None;
        for e in self.merged(p) {
            if e.key == "command" {
                command = Some(e);
                continue;
            }
            if REFUSED.contains(&e.key.as_str()) {
                return Err(fail(
                    e.line,
                    format!(
                        "{}: not a program's option; give it on the command line",
                        e.key
                    ),
                ));
            }
            if !known.contains(&e.key) {
                return Err(fail(
                    e.line,
                    format!(
                        "{}: no such option (keys are the long options of `watchdog check \
                         --help` and the other commands, and `command`)",
                        e.key
                    ),
                ));
            }
            let Some(arg) = sub
                .get_arguments()
                .find(|a| a.get_long() == Some(e.key.as_str()))
            else {
                continue;
            };
            if on_command_line(&e.key) {
                continue;
            }
            let words = words(&e.key, arg, &e.value, &self.dir)
                .map_err(|why| fail(e.line, format!("{}: {why}", e.key)))?;
            argv.extend(words);
        }
        let has = |long: &str| sub.get_arguments().any(|a| a.get_long() == Some(long));
        if has("pidfile")
            && !p.entries.iter().any(|e| e.key == "pidfile")
            && !on_command_line("pidfile")
        {
            let mut f = OsString::from("--pidfile=");
            f.push(self.dir.join(format!("{}.pid", p.name)));
            argv.push(f);
        }
        argv.extend(extra.iter().cloned());
        let launches = sub
            .get_arguments()
            .any(|a| a.get_id() == "program" && !a.is_hide_set());
        if launches {
            let Some(e) = command else {
                return Err(fail(
                    p.line,
                    "has no command: add the program to run, e.g. command = [\"./run.sh\", \
                     \"--port\", \"8080\"]"
                        .into(),
                ));
            };
            let words = program_words(&e.value, &self.dir)
                .map_err(|why| fail(e.line, format!("command: {why}")))?;
            argv.push("--".into());
            argv.extend(words);
        }
        Ok(argv)
    }

    /// The line of the entry for long option `long` in program `p` (or the defaults), for an
    /// error clap found in its value; the program's header line otherwise.
    pub fn line_for(&self, p: &Program, long: &str) -> usize {
        self.merged(p)
            .into_iter()
            .find(|e| e.key == long)
            .map_or(p.line, |e| e.line)
    }
}

/// Whether `name` may name a program (and its default files).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// A value's words on the command line: `--key=VALUE` once, or once per array item; a
/// switch as `--key` when true.
fn words(
    key: &str,
    arg: &clap::Arg,
    value: &toml::Value,
    dir: &Path,
) -> std::result::Result<Vec<OsString>, String> {
    use toml::Value;
    if !arg.get_action().takes_values() {
        return match value {
            Value::Boolean(true) => Ok(vec![format!("--{key}").into()]),
            Value::Boolean(false) => Ok(Vec::new()),
            _ => Err(format!("is a switch: write {key} = true (or false)")),
        };
    }
    let is_path = arg
        .get_value_names()
        .is_some_and(|n| n.iter().any(|n| n == "PATH" || n == "DIR"));
    let one = |v: &Value| -> std::result::Result<OsString, String> {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Integer(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Boolean(_) => return Err("takes a value, not true or false".into()),
            _ => return Err("takes a string or a number".into()),
        };
        let mut w = OsString::from(format!("--{key}="));
        if is_path && !text.is_empty() && Path::new(&text).is_relative() {
            w.push(dir.join(&text));
        } else {
            w.push(text);
        }
        Ok(w)
    };
    match value {
        Value::Array(items) => items.iter().map(one).collect(),
        Value::Table(t) if key == "env" => t
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Integer(i) => i.to_string(),
                    Value::Float(f) => f.to_string(),
                    Value::Boolean(b) => b.to_string(),
                    _ => return Err(format!("{k}: takes a string")),
                };
                Ok(format!("--env={k}={v}").into())
            })
            .collect(),
        Value::Table(_) => Err("takes a value, not a table".into()),
        v => Ok(vec![one(v)?]),
    }
}

/// `command`: a list of words (or one word), the first made absolute against `dir` when it
/// is a relative path with a `/`.
fn program_words(value: &toml::Value, dir: &Path) -> std::result::Result<Vec<OsString>, String> {
    use toml::Value;
    let mut words: Vec<String> = match value {
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Integer(i) => Ok(i.to_string()),
                _ => Err("write it as a list of strings: [\"./run.sh\", \"--port\", \"8080\"]"),
            })
            .collect::<std::result::Result<_, _>>()?,
        Value::String(s) if s.chars().any(char::is_whitespace) => {
            return Err(format!(
                "{s:?} is one word (no shell splits it): write the program and its arguments \
                 as a list, e.g. [\"./run.sh\", \"--port\", \"8080\"]"
            ));
        }
        Value::String(s) => vec![s.clone()],
        _ => {
            return Err(
                "write it as a list of strings: [\"./run.sh\", \"--port\", \"8080\"]".into(),
            );
        }
    };
    if words.first().is_none_or(String::is_empty) {
        return Err("the program is missing: the list's first word is the program".into());
    }
    let first = &words[0];
    let resolved = if first.contains('/') && Path::new(first).is_relative() {
        Some(dir.join(first))
    } else {
        None
    };
    let mut out: Vec<OsString> = Vec::with_capacity(words.len());
    match resolved {
        Some(p) => out.push(p.into_os_string()),
        None => out.push(std::mem::take(&mut words[0]).into()),
    }
    out.extend(words.into_iter().skip(1).map(OsString::from));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn known() -> Vec<String> {
        crate::commands::from_config::known_options(&crate::cli::Cli::command())
    }

    fn sub(name: &str) -> clap::Command {
        let mut cmd = crate::cli::Cli::command();
        cmd.build();
        cmd.find_subcommand(name).unwrap().clone()
    }

    fn parse(text: &str) -> Result<Config> {
        Config::parse(Path::new("/etc/wd/bots.toml"), text)
    }

    fn strings(v: Vec<OsString>) -> Vec<String> {
        v.into_iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect()
    }

    const FILE: &str = r#"
[defaults]
grace = "2s"
max_launches = 10

[programs.web]
command = ["/usr/bin/python3", "-m", "http.server", "8080"]
healthy-when-port = 8080
max-launches = 3

[programs.bot]
command = ["./bot/run.sh", "--verbose"]
chdir = "bot"
env = { TOKEN = "a b" }
rotate-compress = true
rotate-size = "10M"
stay-down-on = [0, 2]
stop-command = "./bot/stop.sh"
"#;

    #[test]
    fn programs_come_in_file_order_with_their_lines() {
        let c = parse(FILE).unwrap();
        let names: Vec<_> = c
            .programs
            .iter()
            .map(|p| (p.name.as_str(), p.line))
            .collect();
        assert_eq!(names, vec![("web", 6), ("bot", 11)]);
        assert_eq!(c.names(), "web, bot");
        assert_eq!(c.dir, Path::new("/etc/wd"));
        assert_eq!(c.defaults[1].key, "max-launches");
    }

    #[test]
    fn a_program_becomes_the_argv_of_its_options() {
        let c = parse(FILE).unwrap();
        let bot = c.program("bot").unwrap();
        let argv = strings(c.argv(bot, &sub("check"), &known(), &[]).unwrap());
        assert_eq!(
            argv,
            [
                "watchdog",
                "check",
                "--grace=2s",
                "--max-launches=10",
                "--chdir=/etc/wd/bot",
                "--env=TOKEN=a b",
                "--rotate-compress",
                "--rotate-size=10M",
                "--stay-down-on=0",
                "--stay-down-on=2",
                "--stop-command=./bot/stop.sh",
                "--pidfile=/etc/wd/bot.pid",
                "--",
                "/etc/wd/./bot/run.sh",
                "--verbose",
            ]
        );
        // The program's own value replaces the default; stop takes no launch options.
        let web = c.program("web").unwrap();
        let argv = strings(c.argv(web, &sub("check"), &known(), &[]).unwrap());
        assert!(argv.contains(&"--max-launches=3".to_string()), "{argv:?}");
        assert!(!argv.contains(&"--max-launches=10".to_string()), "{argv:?}");
        let argv = strings(c.argv(bot, &sub("stop"), &known(), &[]).unwrap());
        assert_eq!(
            argv,
            [
                "watchdog",
                "stop",
                "--stop-command=./bot/stop.sh",
                "--pidfile=/etc/wd/bot.pid"
            ]
        );
    }

    #[test]
    fn the_command_line_replaces_the_files_option() {
        let c = parse(FILE).unwrap();
        let bot = c.program("bot").unwrap();
        let extra = vec![OsString::from("--grace"), OsString::from("5s")];
        let argv = strings(c.argv(bot, &sub("check"), &known(), &extra).unwrap());
        assert!(!argv.iter().any(|w| w.starts_with("--grace=")), "{argv:?}");
        assert!(argv.windows(2).any(|w| w == ["--grace", "5s"]), "{argv:?}");
    }

    #[test]
    fn errors_name_the_file_the_line_the_program_and_the_key() {
        let c = parse("[programs.a]\ncommand = [\"x\"]\ngracee = \"1s\"\n").unwrap();
        let e = c
            .argv(&c.programs[0], &sub("check"), &known(), &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("/etc/wd/bots.toml line 3: [programs.a] gracee: no such option"),
            "{e}"
        );
        let c = parse("[programs.a]\ngrace = \"1s\"\n").unwrap();
        let e = c
            .argv(&c.programs[0], &sub("start"), &known(), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1: [programs.a] has no command"), "{e}");
        // stop does not need one.
        assert!(c.argv(&c.programs[0], &sub("stop"), &known(), &[]).is_ok());
        for (text, line, needle) in [
            (
                "[programs.a]\ncommand = \"x\"\nwatch = \"60s\"\n",
                3,
                "not a program's option",
            ),
            (
                "[programs.a]\ncommand = \"./run.sh --x\"\n",
                2,
                "is one word",
            ),
            ("[programs.a]\ncommand = []\n", 2, "the program is missing"),
            (
                "[programs.a]\ncommand = \"x\"\nrotate-compress = \"yes\"\n",
                3,
                "is a switch",
            ),
            (
                "[programs.a]\ncommand = \"x\"\ngrace = true\n",
                3,
                "takes a value",
            ),
            (
                "[programs.a]\ncommand = \"x\"\nchdir = { a = 1 }\n",
                3,
                "not a table",
            ),
        ] {
            let c = parse(text).unwrap();
            let e = c
                .argv(&c.programs[0], &sub("check"), &known(), &[])
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(&format!("line {line}: [programs.a]")) && e.contains(needle),
                "{text:?}: {e}"
            );
        }
    }

    #[test]
    fn a_broken_file_says_where() {
        for (text, line, needle) in [
            ("[programs.a]\ncommand = [\"x\"\n", 2, ""),
            ("[bot]\ncommand = \"x\"\n", 1, "[programs.NAME]"),
            ("[programs.a]\ngrace = 1\ngrace = 2\n", 3, ""),
            (
                "[programs.a]\ngrace = 1\ngrace_ = 2\nmax_launches = 1\nmax-launches = 2\n",
                5,
                "again (first on line 4)",
            ),
            ("[programs.\"a/b\"]\n", 1, "a program's name"),
            (
                "[defaults]\npidfile = \"x\"\n[programs.a]\n",
                2,
                "each program needs its own",
            ),
            ("# nothing\n", 0, "there is no program"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            let at = if line == 0 {
                "/etc/wd/bots.toml: ".to_string()
            } else {
                format!("/etc/wd/bots.toml line {line}: ")
            };
            assert!(e.starts_with(&at) && e.contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn names_are_checked() {
        for good in ["bot", "web-1", "a_b.c", "X9"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", ".x", "a/b", "a b", &"x".repeat(65)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
