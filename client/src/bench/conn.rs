//! One connection during the warm-up and the measured window: a sender task (window- or
//! rate-bound) and a reader task, or for an idle connection one task that reads and PINGs.
//! Every loop ends at the window's end. Only what the window sent is counted: a SENDACK of
//! a SEND written after the warm-up, a RECV of a message sent after it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{timeout_at, Duration, Instant as TokioInstant, MissedTickBehavior};
use wkclient::{ChannelType, Client, ClientError, ClientReader, ClientWriter, Incoming, SendOptions};

use super::stats::{Counters, Stats, Timeline};

/// JS's heartbeat (wkproto.md §4.4): the server must keep an idle connection at least this
/// long; an idle run longer than this PINGs like the SDK.
const PING_INTERVAL: Duration = Duration::from_secs(60);

/// What every connection task of a run shares.
pub struct Window {
    pub stats: Arc<Stats>,
    /// The warm-up's end: the measured window's start.
    pub start: Instant,
    /// `start` on the wall clock, in microseconds (the clock of the payloads' `ts`).
    pub start_unix_micros: u64,
    pub end: TokioInstant,
    /// Per sending connection, messages per second; 0 = as fast as the window allows.
    pub rate: f64,
    /// Unacknowledged SENDs per connection at most.
    pub window: usize,
    /// With `--timeline`: SENDACK latencies by when their SEND was written.
    pub timeline: Option<Timeline>,
}

/// Send times of the SENDs not yet acknowledged, by `client_seq`. Holds at most `window`
/// entries: a SEND needs a window permit, and its SENDACK gives the permit back.
type InFlight = Arc<Mutex<HashMap<u32, Instant>>>;

/// Starts the tasks of one connection on `tasks`; a rate-bound sender's first SEND waits
/// `phase` (see [`phase`]).
pub fn spawn(
    tasks: &mut JoinSet<()>,
    client: Client,
    target: Option<(String, ChannelType)>,
    phase: Duration,
    window: &Arc<Window>,
) {
    let Some(target) = target else {
        tasks.spawn(idle(client, window.clone()));
        return;
    };
    let (writer, reader) = client.into_split();
    let in_flight = InFlight::default();
    let permits = Arc::new(Semaphore::new(window.window));
    tasks.spawn(send_loop(writer, target, phase, in_flight.clone(), permits.clone(), window.clone()));
    tasks.spawn(read_loop(reader, in_flight, permits, window.clone()));
}

/// When sender `index` of `senders`, each sending `rate` messages per second, writes its
/// first SEND: the senders' ticks are spread evenly over one period. Ticking together,
/// every sender would write in the same millisecond (tokio's timers fire by the
/// millisecond): not a steady `senders × rate` per second but a burst of `senders` SENDs
/// once per period, each waiting behind the burst.
pub fn phase(index: usize, senders: usize, rate: f64) -> Duration {
    if rate <= 0.0 || senders == 0 {
        return Duration::ZERO;
    }
    Duration::from_secs_f64((index % senders) as f64 / senders as f64 / rate)
}

async fn send_loop(
    mut writer: ClientWriter,
    (channel_id, channel_type): (String, ChannelType),
    phase: Duration,
    in_flight: InFlight,
    permits: Arc<Semaphore>,
    window: Arc<Window>,
) {
    let mut ticker = (window.rate > 0.0).then(|| {
        let period = Duration::from_secs_f64(1.0 / window.rate);
        let mut ticker = tokio::time::interval_at(TokioInstant::now() + phase, period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ticker
    });
    let mut client_seq = 0u32;
    loop {
        if let Some(ticker) = ticker.as_mut() {
            if timeout_at(window.end, ticker.tick()).await.is_err() {
                return;
            }
        }
        match timeout_at(window.end, permits.acquire()).await {
            Ok(Ok(permit)) => permit.forget(),
            _ => return,
        }
        client_seq = client_seq.wrapping_add(1).max(1);
        let payload = format!(r#"{{"type":1,"content":"bench","ts":{}}}"#, unix_micros());
        let mut options = SendOptions::new(channel_id.clone(), channel_type, payload);
        options.client_seq = Some(client_seq);
        in_flight.lock().expect("in-flight map").insert(client_seq, Instant::now());
        let sent = timeout_at(window.end, writer.send(options)).await;
        match sent {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => {
                Counters::add(&window.stats.counters.send_errors);
                return;
            }
            Err(_) => return,
        }
    }
}

async fn read_loop(
    mut reader: ClientReader,
    in_flight: InFlight,
    permits: Arc<Semaphore>,
    window: Arc<Window>,
) {
    let counters = &window.stats.counters;
    loop {
        let incoming = match timeout_at(window.end, reader.next()).await {
            Err(_) => return,
            Ok(Ok(incoming)) => incoming,
            Ok(Err(error)) => {
                if count_error(counters, &error) {
                    return;
                }
                continue;
            }
        };
        let mut measured = true;
        if let Incoming::Sendack(ack) = &incoming {
            let sent = in_flight.lock().expect("in-flight map").remove(&ack.client_seq);
            if let Some(sent) = sent {
                measured = sent >= window.start;
                if measured {
                    let micros = sent.elapsed().as_micros() as u64;
                    window.stats.sendack_micros.record(micros);
                    if let Some(timeline) = &window.timeline {
                        timeline.record(sent.duration_since(window.start), micros);
                    }
                }
                permits.add_permits(1);
            }
        }
        if !on_incoming(&window, incoming, measured) {
            return;
        }
    }
}

/// An idle connection: reads what comes (nothing, normally) and PINGs every
/// [`PING_INTERVAL`] until the end.
async fn idle(mut client: Client, window: Arc<Window>) {
    let counters = &window.stats.counters;
    let mut next_ping = TokioInstant::now() + PING_INTERVAL;
    loop {
        let until = next_ping.min(window.end);
        match timeout_at(until, client.next()).await {
            Ok(Ok(incoming)) => {
                if !on_incoming(&window, incoming, true) {
                    return;
                }
            }
            Ok(Err(error)) => {
                if count_error(counters, &error) {
                    return;
                }
            }
            Err(_) if until == window.end => return,
            Err(_) => {
                next_ping += PING_INTERVAL;
                if client.ping().await.is_err() {
                    Counters::add(&counters.send_errors);
                    return;
                }
            }
        }
    }
}

/// Counts what arrived (a SENDACK only if `measured`: its SEND was written in the window);
/// false when the connection is over (kicked).
fn on_incoming(window: &Window, incoming: Incoming, measured: bool) -> bool {
    let stats = &window.stats;
    let counters = &stats.counters;
    match incoming {
        Incoming::Sendack(_) if !measured => {}
        Incoming::Sendack(ack) if ack.is_success() => Counters::add(&counters.acked),
        Incoming::Sendack(_) => Counters::add(&counters.nacked),
        Incoming::Recv(message) => match payload_micros(&message.payload) {
            Some(sent) if sent < window.start_unix_micros => {}
            Some(sent) => {
                Counters::add(&counters.delivered);
                stats.delivery_micros.record(unix_micros().saturating_sub(sent));
            }
            None => Counters::add(&counters.delivered),
        },
        Incoming::Disconnect { .. } => {
            Counters::add(&counters.kicked);
            return false;
        }
        _ => {}
    }
    true
}

/// Counts a read error; true when the connection is unusable (all but a bad RECV).
fn count_error(counters: &Counters, error: &ClientError) -> bool {
    match error {
        ClientError::Crypto(_) => {
            Counters::add(&counters.crypto_errors);
            false
        }
        _ => {
            Counters::add(&counters.recv_errors);
            true
        }
    }
}

/// The sender's `"ts":<micros>` in a bench payload.
fn payload_micros(payload: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(payload).ok()?;
    let start = text.find(r#""ts":"#)? + 5;
    let digits = text[start..].split(|c: char| !c.is_ascii_digit()).next()?;
    digits.parse().ok()
}

/// The wall clock in microseconds: sender and receivers are this one process, one clock.
pub fn unix_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_tick_spread_over_one_period() {
        // 4 senders at 250/s: one period is 4 ms, a sender every millisecond.
        let phases: Vec<_> = (0..4).map(|index| phase(index, 4, 250.0)).collect();
        assert_eq!(phases, [0, 1, 2, 3].map(Duration::from_millis));
        assert_eq!(phase(3, 4, 0.0), Duration::ZERO, "unbounded senders start at once");
        assert_eq!(phase(0, 0, 250.0), Duration::ZERO);
    }

    #[test]
    fn the_send_time_comes_back_out_of_the_payload() {
        assert_eq!(
            payload_micros(br#"{"type":1,"content":"bench","ts":1700000000123456}"#),
            Some(1_700_000_000_123_456)
        );
        assert_eq!(payload_micros(br#"{"type":1}"#), None);
    }
}
