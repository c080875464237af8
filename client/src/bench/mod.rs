//! imbench: load for a WuKongIM-compatible server over WKProto/TCP (usage in [`args::USAGE`]).
//!
//! One run: read the server's RSS; set up over HTTP (tokens, groups); log every connection
//! in; read the RSS again; run the traffic for `--warmup` uncounted (the first messages
//! create channels' raft groups and fill caches: a start-up cost, not the steady state),
//! then measure for `--duration` (senders send, everyone reads; every task stops at the
//! window's end); read the RSS a third time; print ONE summary line:
//!
//! ```text
//! scenario=pairs conns=1000 senders=1000 warmup_s=1.0 duration_s=10.0 sends_per_s=… deliveries_per_s=…
//! sendack_us_p50=… sendack_us_p99=… sendack_us_p999=… e2e_us_p50=… e2e_us_p99=… acked=…
//! nacked=… delivered=… errors=setup:0,connect:0,send:0,recv:0,crypto:0,kicked:0
//! rss_kib_before=… rss_kib_setup=… rss_kib_connected=… rss_kib_after=… rss_bytes_per_conn=…
//! ```
//! `sends_per_s` counts acknowledged SENDs; `e2e` is the receiver's clock minus the
//! sender's `ts` in the payload (one process, one clock). Latencies are in microseconds;
//! `-` when there was nothing to measure. The server's VmRSS (`--server-pid`) is read before
//! setup, after setup, after the logins and at the window's end; `rss_bytes_per_conn` is
//! (connected − setup) / connections, meaningful for `idle` (elsewhere the allocator's reuse
//! of earlier runs' memory blurs it). Progress goes to stderr, and with `--timeline` one line
//! per 100 ms of the window after the run (see [`stats::Timeline`]).
//!
//! Open files: the bench holds one socket per connection, as the server does; `ulimit -n`
//! must exceed `--conns` by ~100 in both. These machines cap a process at 20,000, so 19,000
//! idle connections is the intended maximum.

pub mod args;
pub mod conn;
pub mod plan;
pub mod rss;
pub mod setup;
pub mod stats;

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::task::JoinSet;
use tokio::time::Duration;
use wkclient::http::HttpClient;

use self::args::Args;
use self::conn::Window;
use self::stats::{Counters, Histogram, Stats, Timeline};

/// After the window's end, how long to wait for the connection tasks to notice before they
/// are aborted: each stops at the end by itself; this bounds a task stuck in a write.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Open files the bench needs beyond its connections: HTTP setup sockets, the runtime, stdio.
const OPEN_FILES_SPARE: u64 = 100;

/// Runs one benchmark and returns its summary line.
pub async fn run(args: Args) -> Result<String, String> {
    let prefix =
        format!("bench{:x}", SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis()));
    let plan = plan::plan(&args, &prefix)?;
    if let Some(limit) = rss::open_files_limit() {
        if plan.conns.len() as u64 + OPEN_FILES_SPARE > limit {
            eprintln!(
                "imbench: warning: {} connections but `ulimit -n` is {limit}; raise it to at least {}",
                plan.conns.len(),
                plan.conns.len() as u64 + OPEN_FILES_SPARE
            );
        }
    }
    eprintln!(
        "imbench: {}: {} connections ({} sending), {} groups",
        args.scenario.name(),
        plan.conns.len(),
        plan.senders(),
        plan.groups.len()
    );
    let rss = || args.server_pid.and_then(rss::vm_rss_kib);
    let stats = Arc::new(Stats::new());
    let rss_before = rss();

    let started = Instant::now();
    let http = HttpClient::new(args.http.clone());
    setup::http_setup(&http, &plan, args.no_auth, &stats).await;
    eprintln!(
        "imbench: setup of {} uids, {} groups in {:.1} s",
        if args.no_auth { 0 } else { plan.conns.len() },
        plan.groups.len(),
        started.elapsed().as_secs_f64()
    );

    let rss_setup = rss();

    let started = Instant::now();
    let clients = setup::connect_all(&args.tcp, &plan, args.proto_version, args.open_every, &stats).await;
    let connected = clients.len();
    eprintln!(
        "imbench: {connected}/{} logged in in {:.1} s",
        plan.conns.len(),
        started.elapsed().as_secs_f64()
    );
    let rss_connected = rss();

    let now = tokio::time::Instant::now();
    let window = Arc::new(Window {
        stats: stats.clone(),
        start: (now + args.warmup).into_std(),
        start_unix_micros: conn::unix_micros() + args.warmup.as_micros() as u64,
        end: now + args.warmup + args.duration,
        rate: args.rate,
        window: args.window,
        timeline: args.timeline.then(|| Timeline::new(args.duration)),
    });
    let senders = clients.iter().filter(|(_, conn)| conn.target.is_some()).count();
    let mut tasks = JoinSet::new();
    let mut sender = 0;
    for (client, conn) in clients {
        let phase = conn::phase(sender, senders, args.rate);
        sender += usize::from(conn.target.is_some());
        conn::spawn(&mut tasks, client, conn.target, phase, &window);
    }
    let deadline = window.end + STOP_GRACE;
    while let Ok(Some(_)) = tokio::time::timeout_at(deadline, tasks.join_next()).await {}
    let elapsed = window.start.elapsed().min(args.duration).as_secs_f64();
    let rss_after = rss();
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    if let Some(timeline) = &window.timeline {
        // The wall clock of t_ms=0, to line the slots up with the server's logs.
        eprintln!("timeline start_unix_micros={}", window.start_unix_micros);
        for line in timeline.lines() {
            eprintln!("{line}");
        }
    }

    Ok(summary(&args, connected, senders, elapsed, &stats, [rss_before, rss_setup, rss_connected, rss_after]))
}

fn summary(
    args: &Args,
    connected: usize,
    senders: usize,
    elapsed_s: f64,
    stats: &Stats,
    [rss_before, rss_setup, rss_connected, rss_after]: [Option<u64>; 4],
) -> String {
    let c = &stats.counters;
    let count = Counters::get;
    let per_s = |n: u64| n as f64 / elapsed_s.max(f64::EPSILON);
    let quantile =
        |histogram: &Histogram, q: f64| histogram.quantile(q).map_or("-".into(), |v| v.to_string());
    let kib = |v: Option<u64>| v.map_or("-".into(), |v| v.to_string());
    let per_conn = match (rss_setup, rss_connected) {
        (Some(before), Some(after)) if connected > 0 => {
            ((after as f64 - before as f64) * 1024.0 / connected as f64).round().to_string()
        }
        _ => "-".into(),
    };
    format!(
        "scenario={} conns={connected} senders={senders} open_every={} warmup_s={:.1} duration_s={elapsed_s:.1} sends_per_s={:.1} \
         deliveries_per_s={:.1} sendack_us_p50={} sendack_us_p99={} sendack_us_p999={} e2e_us_p50={} \
         e2e_us_p99={} acked={} nacked={} delivered={} \
         errors=setup:{},connect:{},send:{},recv:{},crypto:{},kicked:{} \
         rss_kib_before={} rss_kib_setup={} rss_kib_connected={} rss_kib_after={} rss_bytes_per_conn={per_conn}",
        args.scenario.name(),
        args.open_every,
        args.warmup.as_secs_f64(),
        per_s(count(&c.acked)),
        per_s(count(&c.delivered)),
        quantile(&stats.sendack_micros, 0.5),
        quantile(&stats.sendack_micros, 0.99),
        quantile(&stats.sendack_micros, 0.999),
        quantile(&stats.delivery_micros, 0.5),
        quantile(&stats.delivery_micros, 0.99),
        count(&c.acked),
        count(&c.nacked),
        count(&c.delivered),
        count(&c.setup_errors),
        count(&c.connect_errors),
        count(&c.send_errors),
        count(&c.recv_errors),
        count(&c.crypto_errors),
        count(&c.kicked),
        kib(rss_before),
        kib(rss_setup),
        kib(rss_connected),
        kib(rss_after),
    )
}
