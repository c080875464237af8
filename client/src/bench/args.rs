//! Command-line options (hand-parsed: a handful of `--name value` pairs).

use std::time::Duration;

pub const USAGE: &str = "\
imbench: load for a WuKongIM-compatible server over WKProto/TCP; prints one summary line.

usage: imbench [--tcp 127.0.0.1:5100] [--http 127.0.0.1:5001] [--scenario pairs|groups|biggroup|idle]
               [--duration SECS] [--conns N] [--rate R] [--window W] [--no-auth] [--server-pid PID]
               [--groups G] [--members M] [--online O] [--senders S] [--proto-version V]
               [--open-every N] [--warmup SECS] [--timeline]

scenarios (WuKongIM's stress report):
  pairs     N connections in N/2 one-to-one pairs, each sending to its peer (default N 1000)
  groups    G groups (default 100) of M members (default 100), one member of each online and sending
  biggroup  one group of M members (default 10000), O online (default 5000), S of them sending (default 10)
  idle      N connections that log in and stay idle (PING every 60 s); reports RSS per connection
options:
  --rate R      messages per second per sending connection; 0 (default) = as fast as the window allows
  --window W    unacknowledged SENDs per connection at most (default 64)
  --duration    measured seconds (default 10), after setup, logins and the warm-up
  --warmup      seconds of traffic before the measured window (default 1), not counted: the
                first message to a channel creates its raft group and fills the caches
  --no-auth     skip POST /user/token (start the server with WK_TOKENAUTHON=false)
  --open-every N  verify msgKey and decrypt one RECV in N (default 1, every one, as an SDK);
                 more keeps the clients' crypto from taking the server's CPU on one machine;
                 delivery latency is measured on the opened ones
  --timeline    also print to stderr, per 100 ms of the window (by when the SEND was written),
                the SENDACKs, how many took over 20 ms and the slowest: where a p99 comes from
                (a first line gives the wall clock of t_ms=0, to compare with the server's logs)
  --server-pid  read the server's VmRSS from /proc/PID/status before, after login and at the end
open files: the bench holds one socket per connection; `ulimit -n` must exceed --conns by ~100.
These machines cap a process at 20,000, so 19,000 idle connections is the intended maximum.";

/// The four workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    Pairs,
    Groups,
    BigGroup,
    Idle,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Pairs => "pairs",
            Scenario::Groups => "groups",
            Scenario::BigGroup => "biggroup",
            Scenario::Idle => "idle",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Args {
    pub tcp: String,
    pub http: String,
    pub scenario: Scenario,
    pub duration: Duration,
    /// Traffic before the measured window, not counted.
    pub warmup: Duration,
    pub conns: Option<usize>,
    /// Per sending connection, messages per second; 0 = window-bound.
    pub rate: f64,
    pub window: usize,
    pub no_auth: bool,
    pub timeline: bool,
    pub server_pid: Option<u32>,
    pub groups: Option<usize>,
    pub members: Option<usize>,
    pub online: Option<usize>,
    pub senders: Option<usize>,
    pub proto_version: u8,
    /// Receivers open one RECV in this many.
    pub open_every: u32,
}

/// Longest measured window: runs end by themselves, and an hour is beyond any use here.
const DURATION_MAX: Duration = Duration::from_secs(3600);
/// Largest send window: the client parks at most `PENDING_PACKETS_MAX` packets, and the
/// writer queues 1,024 frames; 1,000 unacknowledged SENDs stays below both.
const WINDOW_MAX: usize = 1000;

pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        tcp: "127.0.0.1:5100".into(),
        http: "127.0.0.1:5001".into(),
        scenario: Scenario::Pairs,
        duration: Duration::from_secs(10),
        warmup: Duration::from_secs(1),
        conns: None,
        rate: 0.0,
        window: 64,
        no_auth: false,
        timeline: false,
        server_pid: None,
        groups: None,
        members: None,
        online: None,
        senders: None,
        proto_version: 5,
        open_every: 1,
    };
    while let Some(flag) = args.next() {
        if flag == "--no-auth" {
            parsed.no_auth = true;
            continue;
        }
        if flag == "--timeline" {
            parsed.timeline = true;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number =
            |what: &str| value.parse::<usize>().map_err(|_| format!("{flag}: {what}, not {value:?}"));
        match flag.as_str() {
            "--tcp" => parsed.tcp = value.trim_start_matches("tcp://").to_owned(),
            "--http" => parsed.http = value.trim_start_matches("http://").to_owned(),
            "--scenario" => {
                parsed.scenario = match value.as_str() {
                    "pairs" => Scenario::Pairs,
                    "groups" => Scenario::Groups,
                    "biggroup" => Scenario::BigGroup,
                    "idle" => Scenario::Idle,
                    _ => return Err(format!("unknown scenario {value:?}")),
                }
            }
            "--duration" => {
                let secs: f64 = value.parse().map_err(|_| format!("--duration: seconds, not {value:?}"))?;
                if !(secs > 0.0 && secs <= DURATION_MAX.as_secs_f64()) {
                    return Err(format!("--duration must be in (0, {}]", DURATION_MAX.as_secs()));
                }
                parsed.duration = Duration::from_secs_f64(secs);
            }
            "--warmup" => {
                let secs: f64 = value.parse().map_err(|_| format!("--warmup: seconds, not {value:?}"))?;
                if !(0.0..=DURATION_MAX.as_secs_f64()).contains(&secs) {
                    return Err(format!("--warmup must be in [0, {}]", DURATION_MAX.as_secs()));
                }
                parsed.warmup = Duration::from_secs_f64(secs);
            }
            "--conns" => parsed.conns = Some(number("a count")?),
            "--rate" => {
                parsed.rate = value.parse().map_err(|_| format!("--rate: per second, not {value:?}"))?;
                if !(parsed.rate >= 0.0 && parsed.rate.is_finite()) {
                    return Err("--rate must be 0 or positive".into());
                }
            }
            "--window" => {
                parsed.window = number("a count")?;
                if !(1..=WINDOW_MAX).contains(&parsed.window) {
                    return Err(format!("--window must be in 1..={WINDOW_MAX}"));
                }
            }
            "--server-pid" => {
                parsed.server_pid = Some(value.parse().map_err(|_| format!("--server-pid {value:?}"))?)
            }
            "--groups" => parsed.groups = Some(number("a count")?),
            "--members" => parsed.members = Some(number("a count")?),
            "--online" => parsed.online = Some(number("a count")?),
            "--senders" => parsed.senders = Some(number("a count")?),
            "--proto-version" => {
                parsed.proto_version = value.parse().map_err(|_| format!("--proto-version {value:?}"))?
            }
            "--open-every" => parsed.open_every = number("a count")?.clamp(1, u32::MAX as usize) as u32,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Args, String> {
        parse(line.split_whitespace().map(String::from))
    }

    #[test]
    fn options() {
        let args = parse_str(
            "--tcp tcp://10.0.0.1:5100 --scenario idle --conns 19000 --duration 2.5 --no-auth --server-pid 7",
        )
        .unwrap();
        assert_eq!(args.tcp, "10.0.0.1:5100");
        assert_eq!(args.scenario, Scenario::Idle);
        assert_eq!(args.conns, Some(19000));
        assert_eq!(args.duration, Duration::from_millis(2500));
        assert!(args.no_auth);
        assert!(!args.timeline, "the default");
        assert!(parse_str("--timeline --rate 5").unwrap().timeline);
        assert_eq!(args.server_pid, Some(7));
        assert_eq!(args.warmup, Duration::from_secs(1), "the default");
        assert_eq!(parse_str("--warmup 0").unwrap().warmup, Duration::ZERO);
        assert!(parse_str("--warmup -1").is_err());
        assert!(parse_str("--scenario nope").is_err());
        assert!(parse_str("--window 0").is_err());
        assert!(parse_str("--duration").is_err());
        assert!(parse_str("--bogus 1").is_err());
    }
}
