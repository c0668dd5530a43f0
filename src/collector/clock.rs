//! The collector's clock, injectable so tests can run hours of snapshots in milliseconds.
//!
//! Snapshot times are monotonic seconds since the collector started (a wall clock can jump back
//! under NTP, which would break every slope); the dump also records the wall-clock time at which
//! it was written so readers can place those seconds in real time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A source of time for the collector.
pub trait Clock: Send + Sync {
    /// Monotonic seconds since the clock was created; never decreases.
    fn now(&self) -> f64;
    /// Wall-clock time in seconds since the Unix epoch (negative before 1970).
    fn unix_now(&self) -> f64;
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> f64 {
        (**self).now()
    }
    fn unix_now(&self) -> f64 {
        (**self).unix_now()
    }
}

/// The real clock: [`Instant`] for monotonic time, [`SystemTime`] for the wall clock.
#[derive(Clone, Copy, Debug)]
pub struct SystemClock {
    start: Instant,
}

impl SystemClock {
    /// A clock whose [`Clock::now`] counts from this call.
    pub fn new() -> Self {
        SystemClock {
            start: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn unix_now(&self) -> f64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(since) => since.as_secs_f64(),
            Err(before) => -before.duration().as_secs_f64(),
        }
    }
}

/// A clock that moves only when told to: tests share it (in an [`Arc`]) with the collector and
/// [`advance`](ManualClock::advance) it to simulate time. Both readings move together.
#[derive(Debug)]
pub struct ManualClock {
    // f64 bits in atomics: the collector thread reads while the test thread advances, and a
    // lock would be needless for two independent words.
    now_bits: AtomicU64,
    unix_bits: AtomicU64,
}

impl ManualClock {
    /// A clock at 0 monotonic seconds and `unix_start` seconds since the epoch.
    pub fn new(unix_start: f64) -> Self {
        ManualClock {
            now_bits: AtomicU64::new(0f64.to_bits()),
            unix_bits: AtomicU64::new(unix_start.to_bits()),
        }
    }

    /// Moves both readings forward by `secs`.
    ///
    /// # Panics
    /// If `secs` is negative or not finite: a monotonic clock cannot go back, and a test that
    /// asks it to has a bug worth stopping at.
    pub fn advance(&self, secs: f64) {
        assert!(
            secs.is_finite() && secs >= 0.0,
            "ManualClock::advance({secs}): time only moves forward"
        );
        for bits in [&self.now_bits, &self.unix_bits] {
            // Only tests advance the clock, but two threads doing so must not lose a step.
            let _ = bits.fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                Some((f64::from_bits(b) + secs).to_bits())
            });
        }
    }
}

impl Default for ManualClock {
    /// A clock at 0 monotonic seconds and 1,700,000,000 Unix seconds (November 2023), so dumps
    /// written by tests carry a plausible, fixed wall-clock time.
    fn default() -> Self {
        ManualClock::new(1_700_000_000.0)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> f64 {
        f64::from_bits(self.now_bits.load(Ordering::Acquire))
    }
    fn unix_now(&self) -> f64 {
        f64::from_bits(self.unix_bits.load(Ordering::Acquire))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = Arc::new(ManualClock::new(1000.0));
        assert_eq!((clock.now(), clock.unix_now()), (0.0, 1000.0));
        clock.advance(0.25);
        clock.advance(30.0);
        assert_eq!((clock.now(), clock.unix_now()), (30.25, 1030.25));
        let shared: Arc<dyn Clock> = clock.clone();
        clock.advance(1.0);
        assert_eq!(shared.now(), 31.25);
    }

    #[test]
    fn manual_clock_refuses_to_go_back() {
        let result = std::panic::catch_unwind(|| ManualClock::default().advance(-1.0));
        let message = *result.unwrap_err().downcast::<String>().unwrap();
        assert!(message.contains("only moves forward"), "{message}");
    }

    #[test]
    fn system_clock_is_monotonic_and_near_the_wall_clock() {
        let clock = SystemClock::new();
        let (a, b) = (clock.now(), clock.now());
        assert!(0.0 <= a && a <= b);
        // Any machine running this test is past 2020.
        assert!(clock.unix_now() > 1_577_836_800.0);
    }
}
