//! What a run counts: lock-free counters and log-linear latency histograms shared by every
//! connection task.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Sub-buckets per power of two: 64 gives a relative error under 1/64 (1.6 %), plenty for a
/// percentile, in 64 × (1 + 40 - 6) = 2,240 buckets.
const SUB_BUCKET_BITS: u32 = 6;
const SUB_BUCKETS: u64 = 1 << SUB_BUCKET_BITS;
/// Largest recordable value: 2^40 µs (12 days); anything longer is clamped.
const VALUE_BITS_MAX: u32 = 40;
const BUCKETS: usize = ((VALUE_BITS_MAX - SUB_BUCKET_BITS + 1) as u64 * SUB_BUCKETS) as usize;

/// A histogram of microseconds, recorded concurrently.
pub struct Histogram {
    buckets: Vec<AtomicU64>,
}

impl Histogram {
    pub fn new() -> Histogram {
        Histogram { buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect() }
    }

    pub fn record(&self, micros: u64) {
        self.buckets[bucket_of(micros)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    /// The value below which a `quantile` (0..=1) of the samples lie (the bucket's lower
    /// bound), or `None` with no samples.
    pub fn quantile(&self, quantile: f64) -> Option<u64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((quantile * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (index, bucket) in self.buckets.iter().enumerate() {
            seen += bucket.load(Ordering::Relaxed);
            if seen >= rank {
                return Some(lower_bound(index));
            }
        }
        Some(lower_bound(BUCKETS - 1))
    }
}

fn bucket_of(value: u64) -> usize {
    let value = value.min((1 << VALUE_BITS_MAX) - 1);
    if value < SUB_BUCKETS {
        return value as usize;
    }
    let msb = 63 - value.leading_zeros();
    let shift = msb - SUB_BUCKET_BITS;
    ((u64::from(shift) + 1) * SUB_BUCKETS + ((value >> shift) - SUB_BUCKETS)) as usize
}

fn lower_bound(index: usize) -> u64 {
    let index = index as u64;
    if index < SUB_BUCKETS {
        return index;
    }
    let shift = index / SUB_BUCKETS - 1;
    (SUB_BUCKETS + index % SUB_BUCKETS) << shift
}

/// A SENDACK slower than this counts as slow in a [`Timeline`]: the p99 bar.
pub const SLOW_MICROS: u64 = 20_000;
/// The span of one [`Timeline`] slot.
pub const TIMELINE_SLOT: Duration = Duration::from_millis(100);

/// SENDACK latencies by when their SEND was written, in [`TIMELINE_SLOT`]s from the
/// measured window's start: shows whether slow SENDACKs are spread over a run or come
/// together (a stall), and when.
pub struct Timeline {
    slots: Vec<Slot>,
}

#[derive(Default)]
struct Slot {
    acked: AtomicU64,
    slow: AtomicU64,
    max_micros: AtomicU64,
}

impl Timeline {
    /// Slots for a window of `duration`; a SEND later than that counts in the last one.
    pub fn new(duration: Duration) -> Timeline {
        let slots = (duration.as_micros() / TIMELINE_SLOT.as_micros()) as usize + 1;
        Timeline { slots: (0..slots).map(|_| Slot::default()).collect() }
    }

    /// A SENDACK that took `micros`, of a SEND written `sent_after` the window's start.
    pub fn record(&self, sent_after: Duration, micros: u64) {
        let index = ((sent_after.as_micros() / TIMELINE_SLOT.as_micros()) as usize).min(self.slots.len() - 1);
        let slot = &self.slots[index];
        slot.acked.fetch_add(1, Ordering::Relaxed);
        if micros > SLOW_MICROS {
            slot.slow.fetch_add(1, Ordering::Relaxed);
        }
        slot.max_micros.fetch_max(micros, Ordering::Relaxed);
    }

    /// One line per slot that acknowledged anything: `timeline t_ms=… acked=… slow=… max_us=…`
    /// (`slow`: over [`SLOW_MICROS`]).
    pub fn lines(&self) -> Vec<String> {
        let slot_ms = TIMELINE_SLOT.as_millis();
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.acked.load(Ordering::Relaxed) > 0)
            .map(|(index, slot)| {
                format!(
                    "timeline t_ms={} acked={} slow={} max_us={}",
                    index as u128 * slot_ms,
                    slot.acked.load(Ordering::Relaxed),
                    slot.slow.load(Ordering::Relaxed),
                    slot.max_micros.load(Ordering::Relaxed)
                )
            })
            .collect()
    }
}

/// Everything a run counts. Counters cover the measured window only, except the setup and
/// connect errors.
#[derive(Default)]
pub struct Counters {
    /// SENDACKs with reason SUCCESS.
    pub acked: AtomicU64,
    /// SENDACKs with another reason code.
    pub nacked: AtomicU64,
    /// RECVs received and opened.
    pub delivered: AtomicU64,
    /// Logins that failed (socket, refused, timeout).
    pub connect_errors: AtomicU64,
    /// Writes that failed.
    pub send_errors: AtomicU64,
    /// Reads that failed (decode error, end of stream) before the run ended.
    pub recv_errors: AtomicU64,
    /// RECVs whose msgKey or payload did not check out.
    pub crypto_errors: AtomicU64,
    /// DISCONNECTs received.
    pub kicked: AtomicU64,
    /// HTTP setup calls that failed.
    pub setup_errors: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// The run's counters and histograms.
pub struct Stats {
    pub counters: Counters,
    /// SEND written → its SENDACK read, µs.
    pub sendack_micros: Histogram,
    /// The sender's clock in the payload → the receiver's clock when the RECV is opened, µs.
    pub delivery_micros: Histogram,
}

impl Stats {
    pub fn new() -> Stats {
        Stats {
            counters: Counters::default(),
            sendack_micros: Histogram::new(),
            delivery_micros: Histogram::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_tight() {
        let mut previous = 0;
        for value in (0..5_000u64).chain([1 << 20, (1 << 20) + 12_345, 1 << 39]) {
            let index = bucket_of(value);
            assert!(index >= previous || value > 5_000);
            previous = index;
            let low = lower_bound(index);
            assert!(low <= value && value - low <= value / 64, "{value}: {low}");
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn a_timeline_counts_slow_sendacks_by_when_they_were_sent() {
        let timeline = Timeline::new(Duration::from_millis(250));
        timeline.record(Duration::from_millis(10), 3_000);
        timeline.record(Duration::from_millis(99), SLOW_MICROS + 1);
        timeline.record(Duration::from_millis(260), 5_000);
        timeline.record(Duration::from_secs(9), 7_000);
        assert_eq!(
            timeline.lines(),
            ["timeline t_ms=0 acked=2 slow=1 max_us=20001", "timeline t_ms=200 acked=2 slow=0 max_us=7000",],
            "the empty slot is left out; SENDs after the window count in the last slot"
        );
    }

    #[test]
    fn quantiles() {
        let histogram = Histogram::new();
        assert_eq!(histogram.quantile(0.5), None);
        for value in 1..=1000 {
            histogram.record(value);
        }
        assert_eq!(histogram.count(), 1000);
        assert_eq!(histogram.quantile(0.0), Some(1));
        let p50 = histogram.quantile(0.5).unwrap();
        assert!((492..=500).contains(&p50), "{p50}");
        let p99 = histogram.quantile(0.99).unwrap();
        assert!((975..=990).contains(&p99), "{p99}");
        assert!(histogram.quantile(1.0).unwrap() >= 984);
    }
}
