//! Health while the program runs: the probes of `--healthy-when-cmd COMMAND` and
//! `--healthy-when-port [HOST:]PORT` (monit's program and port checks). When and how often
//! they run, and what a failure leads to, is `commands/health.rs`'s business.
//!
//! Rules kept here:
//! - A probe is bounded by `--health-timeout`: the command is killed with its process group
//!   (`shell_command`), the connect gives up.
//! - The port probe starts no process: one `connect(2)` with a timeout, then close; nothing
//!   is sent. A bare PORT means 127.0.0.1 (the program's own machine). A HOST name is
//!   resolved at each probe with the system's resolver, which the timeout does not bound (an
//!   address, or a name in /etc/hosts, needs no DNS).
//! - With both options, the port is tried first (it is cheap) and both must succeed.
//! - Without either option nothing here runs at all.

use std::fmt;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::cli::HealthArgs;
use crate::pidfile::Pid;
use crate::shell_command::ShellCommand;

/// Where `--healthy-when-port` connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortTarget {
    /// An IP address (IPv6 without brackets) or a host name.
    pub host: String,
    pub port: u16,
}

impl fmt::Display for PortTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// clap value parser for `--healthy-when-port`: `8080`, `127.0.0.1:8080`, `[::1]:8080`,
/// `localhost:8080`.
///
/// # Errors
/// A message saying what is wrong.
pub fn parse_port(s: &str) -> Result<PortTarget, String> {
    let port_of = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| format!("{p:?} is not a TCP port (1-65535)"))
    };
    if !s.contains(':') {
        return Ok(PortTarget {
            host: "127.0.0.1".into(),
            port: port_of(s)?,
        });
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, p) = rest
            .split_once("]:")
            .ok_or_else(|| format!("{s:?}: write an IPv6 address as [ADDRESS]:PORT"))?;
        (h, p)
    } else {
        let (h, p) = s.rsplit_once(':').expect("contains ':'");
        if h.contains(':') {
            return Err(format!("{s:?}: write an IPv6 address as [ADDRESS]:PORT"));
        }
        (h, p)
    };
    if host.is_empty() || host.chars().any(char::is_whitespace) {
        return Err(format!("{s:?}: the host is empty or holds a blank"));
    }
    Ok(PortTarget {
        host: host.to_string(),
        port: port_of(port)?,
    })
}

/// Whether any health probe is configured.
pub fn configured(h: &HealthArgs) -> bool {
    h.healthy_when_cmd.is_some() || h.healthy_when_port.is_some()
}

/// What one probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Healthy,
    /// The words say which probe failed and how, e.g. "`curl -fsS ...` exited with status
    /// 7: curl: (7) Failed to connect" or "no connection to 127.0.0.1:8080: Connection
    /// refused".
    Unhealthy(String),
}

/// Runs the configured probes against the program `pid`. `shell` is the health command set
/// up for the program's directory, environment and user (`None` without
/// `--healthy-when-cmd`).
pub fn probe(h: &HealthArgs, shell: Option<&ShellCommand>, pid: Pid) -> Health {
    if let Some(target) = &h.healthy_when_port {
        if let Err(why) = connect(target, h.health_timeout) {
            return Health::Unhealthy(why);
        }
    }
    if let Some(cmd) = shell {
        let done = cmd.run(&[("WATCHDOG_PID", pid.to_string())], h.health_timeout);
        if !done.success() {
            return Health::Unhealthy(format!("{} {}", cmd.shown(), done.describe()));
        }
    }
    Health::Healthy
}

/// Connects to `target` within `timeout`, trying each address it resolves to.
///
/// # Errors
/// "no connection to 127.0.0.1:8080: Connection refused" and the like.
pub fn connect(target: &PortTarget, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let addrs: Vec<_> = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", target.host))?
        .collect();
    let mut last = format!("{} resolves to no address", target.host);
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            last = format!(
                "no connection to {target} within {}",
                crate::duration::show(timeout)
            );
            break;
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(_stream) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                last = format!(
                    "no connection to {target} within {}",
                    crate::duration::show(timeout)
                );
            }
            Err(e) => {
                last = format!(
                    "no connection to {target}: {}",
                    crate::error::describe_io(&e)
                );
            }
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_parse_in_every_form() {
        let p = parse_port("8080").unwrap();
        assert_eq!(p.to_string(), "127.0.0.1:8080");
        assert_eq!(
            parse_port("10.0.0.5:22").unwrap().to_string(),
            "10.0.0.5:22"
        );
        assert_eq!(parse_port("localhost:80").unwrap().host, "localhost");
        let v6 = parse_port("[::1]:8080").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 8080));
        assert_eq!(v6.to_string(), "[::1]:8080");
        for bad in [
            "", "0", "65536", "x", ":80", "host:", "::1:80", "[::1]80", "a b:1",
        ] {
            assert!(parse_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_listening_port_is_healthy_and_a_closed_one_is_not() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = parse_port(&port.to_string()).unwrap();
        assert_eq!(connect(&t, Duration::from_secs(5)), Ok(()));
        drop(l);
        let e = connect(&t, Duration::from_secs(5)).unwrap_err();
        assert!(e.contains("Connection refused"), "{e}");
    }
}
