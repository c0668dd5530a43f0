//! The short scenario corpus (the library's first one, moved here unchanged): seeded, labelled
//! snapshot series of at most four hours with i.i.d. Gaussian noise, and the harness that runs
//! them through the detectors and the lifecycle the way the collector would. The detector tests
//! (`tests/detector_units.rs`, `tests/scenarios.rs`), `examples/scenario_eval.rs` and the CLI's
//! fixture dump use it; the production corpus that judges the detectors at the default
//! configuration is the production corpus of this crate.
//!
//! Each [`Kind`] is a noiseless signal (bytes, entries, blocks over simulated minutes) with
//! parameters drawn from the seed, plus Gaussian noise of a given share of the scope's level on
//! every snapshot, sampled at a given interval. The same seed draws the same world at every
//! interval and noise level. Leaks start at minute 60 (after a full baseline window). The
//! harness ([`simulate`]) runs the detectors after every snapshot over the history the collector
//! would hold and feeds a [`LeakTracker`]; [`judge`] compares the events with the label and
//! [`Summary`] aggregates precision, recall, false alarms per scope-week and detection latency.
//!
//! Labels that need a decision:
//! - high, flat usage *above* `sustained_high_threshold_mb` is reported by design (docs/design.md §11,
//!   "capacity"): it is labelled a notice — SustainedHigh at Low severity is expected, any other
//!   report is a false alarm. High, flat usage *below* the threshold, or above it but under 85% of
//!   a budget, must report nothing.
//! - periodic batch spikes over a flat floor are reported by design as a Low PeriodicSpike ("a
//!   batch job to smooth, not a leak"): a notice too.
//! - a working set that grows and is freed stays below the growth gate: while it grows it is
//!   indistinguishable from a leak, so only its size keeps it from being one.

use std::sync::atomic::{AtomicUsize, Ordering};

use leakscope::analysis::{
    analyze_process, analyze_series, required_history_secs, DetectorConfig, LeakTracker,
    ProcessSnapshot, Snapshot, PROCESS_SCOPE,
};
use leakscope::{leaks::LeakSeverity, leaks::LeakType, Config};

use crate::rng::SplitMix64;

/// Noise standard deviations as a share of the scope's level.
pub const NOISE_LEVELS: [f64; 3] = [0.002, 0.01, 0.03];
/// The minute leaks start.
pub const LEAK_START_MIN: f64 = 60.0;
const MB: f64 = 1e6;
/// Average bytes per block of the simulated caches.
const BLOCK_BYTES: f64 = 2048.0;
/// Bytes per entry of the simulated caches with a gauge.
const ENTRY_BYTES: f64 = 4096.0;
/// How long a batch spike lasts: longer than any snapshot interval of the corpus, so every
/// interval sees each spike.
const SPIKE_SECS: f64 = 45.0;

/// What a scenario simulates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// Leak: linear growth from minute 60.
    Linear {
        /// The leak's rate.
        mb_per_min: f64,
    },
    /// Leak: a step of 60–120 MB at minute 60 that stays.
    Step,
    /// Leak: bursts every 4–8 minutes adding 2 MB/min on average.
    Bursty,
    /// Leak: an LRU eviction sawtooth whose floor rises 1 MB/min.
    RisingSawtooth,
    /// Leak: bytes per entry rise (bytes +1 MB/min) with the entry count and blocks flat.
    BloatPerEntry,
    /// Leak: process RSS rises 3 MB/min while tracked bytes stay flat.
    Fragmentation,
    /// Leak: batch spikes every 5 minutes over a floor rising 1 MB/min.
    PeriodicRising,
    /// Non-leak: flat with noise.
    Stable,
    /// Non-leak: a cache filling to capacity (exponential approach) then flat.
    WarmUp,
    /// Non-leak: LRU churn sawtooth (70% → 100% of capacity) with a flat floor.
    LruChurn,
    /// Notice: batch spikes every 5 minutes over a flat floor.
    PeriodicFlat,
    /// Non-leak: high, flat usage just under the sustained threshold.
    HighFlatBelow,
    /// Notice: high, flat usage above the sustained threshold.
    HighFlatAbove,
    /// Non-leak: high, flat usage above the threshold but well within a budget.
    HighFlatBudget,
    /// Non-leak: one 100 MB spike for 45 s.
    SingleSpike,
    /// Non-leak: a working set growing 6 MB over 10 minutes, held 20, freed; every 80 minutes.
    TemporaryGrowth,
}

impl Kind {
    /// Every leak kind of the corpus.
    pub fn leaks() -> Vec<Kind> {
        vec![
            Kind::Linear { mb_per_min: 0.5 },
            Kind::Linear { mb_per_min: 1.0 },
            Kind::Linear { mb_per_min: 5.0 },
            Kind::Linear { mb_per_min: 20.0 },
            Kind::Step,
            Kind::Bursty,
            Kind::RisingSawtooth,
            Kind::BloatPerEntry,
            Kind::Fragmentation,
            Kind::PeriodicRising,
        ]
    }

    /// Every non-leak kind of the corpus (notices included).
    pub fn non_leaks() -> Vec<Kind> {
        vec![
            Kind::Stable,
            Kind::WarmUp,
            Kind::LruChurn,
            Kind::PeriodicFlat,
            Kind::HighFlatBelow,
            Kind::HighFlatAbove,
            Kind::HighFlatBudget,
            Kind::SingleSpike,
            Kind::TemporaryGrowth,
        ]
    }

    /// A short name: `linear_5`, `lru_churn`, …
    pub fn name(&self) -> String {
        match self {
            Kind::Linear { mb_per_min } => format!("linear_{mb_per_min}"),
            Kind::Step => "step".into(),
            Kind::Bursty => "bursty".into(),
            Kind::RisingSawtooth => "rising_sawtooth".into(),
            Kind::BloatPerEntry => "bloat_per_entry".into(),
            Kind::Fragmentation => "fragmentation".into(),
            Kind::PeriodicRising => "periodic_rising".into(),
            Kind::Stable => "stable".into(),
            Kind::WarmUp => "warm_up".into(),
            Kind::LruChurn => "lru_churn".into(),
            Kind::PeriodicFlat => "periodic_flat".into(),
            Kind::HighFlatBelow => "high_flat_below".into(),
            Kind::HighFlatAbove => "high_flat_above".into(),
            Kind::HighFlatBudget => "high_flat_budget".into(),
            Kind::SingleSpike => "single_spike".into(),
            Kind::TemporaryGrowth => "temporary_growth".into(),
        }
    }

    /// The label.
    pub fn expect(&self) -> Expect {
        use LeakType::*;
        let leak = |ty, also: &[LeakType]| Expect::Leak {
            ty,
            also: also.to_vec(),
            min_severity: LeakSeverity::Low,
            before: None,
        };
        match self {
            Kind::Linear { .. } => leak(GradualGrowth, &[RapidGrowth, SustainedHigh]),
            Kind::Step => leak(RapidGrowth, &[GradualGrowth, SustainedHigh]),
            Kind::Bursty => leak(GradualGrowth, &[RapidGrowth]),
            Kind::RisingSawtooth => leak(GradualGrowth, &[PeriodicSpike]),
            Kind::BloatPerEntry => leak(CacheBloat, &[]),
            Kind::Fragmentation => leak(Fragmentation, &[]),
            Kind::PeriodicRising => Expect::Leak {
                ty: PeriodicSpike,
                also: vec![GradualGrowth],
                min_severity: LeakSeverity::High,
                before: Some((PeriodicSpike, LeakSeverity::Low)),
            },
            Kind::PeriodicFlat => Expect::Notice {
                ty: PeriodicSpike,
                max_severity: LeakSeverity::Low,
            },
            Kind::HighFlatAbove => Expect::Notice {
                ty: SustainedHigh,
                max_severity: LeakSeverity::Low,
            },
            _ => Expect::Nothing,
        }
    }

    fn duration_min(&self) -> f64 {
        match self {
            Kind::Linear { mb_per_min } if *mb_per_min <= 0.5 => 210.0,
            Kind::Linear { mb_per_min } if *mb_per_min <= 1.0 => 180.0,
            Kind::Linear { mb_per_min } if *mb_per_min <= 5.0 => 120.0,
            Kind::Linear { .. } => 100.0,
            Kind::Step => 120.0,
            Kind::Bursty => 150.0,
            Kind::RisingSawtooth | Kind::BloatPerEntry | Kind::Fragmentation => 180.0,
            Kind::PeriodicRising => 180.0,
            _ => 240.0,
        }
    }

    fn id(&self) -> u64 {
        match self {
            Kind::Linear { mb_per_min } => 100 + (*mb_per_min * 10.0) as u64,
            Kind::Step => 2,
            Kind::Bursty => 3,
            Kind::RisingSawtooth => 4,
            Kind::BloatPerEntry => 5,
            Kind::Fragmentation => 6,
            Kind::PeriodicRising => 7,
            Kind::Stable => 8,
            Kind::WarmUp => 9,
            Kind::LruChurn => 10,
            Kind::PeriodicFlat => 11,
            Kind::HighFlatBelow => 12,
            Kind::HighFlatAbove => 13,
            Kind::HighFlatBudget => 14,
            Kind::SingleSpike => 15,
            Kind::TemporaryGrowth => 16,
        }
    }
}

/// What a scenario should produce.
#[derive(Clone, Debug, PartialEq)]
pub enum Expect {
    /// A leak of `ty` must be reported at `min_severity` or above after the leak starts; `also`
    /// lists other types that are right too (a fast linear leak is also rapid at its onset).
    Leak {
        /// The labelled type.
        ty: LeakType,
        /// Other acceptable types.
        also: Vec<LeakType>,
        /// The severity the report must reach.
        min_severity: LeakSeverity,
        /// A notice acceptable before the leak starts.
        before: Option<(LeakType, LeakSeverity)>,
    },
    /// Nothing may be reported.
    Nothing,
    /// Only `ty` at `max_severity` or below may be reported: a notice by design, not a leak.
    Notice {
        /// The type of the notice.
        ty: LeakType,
        /// Its highest acceptable severity.
        max_severity: LeakSeverity,
    },
}

/// One labelled series.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// `kind/interval/noise/seed`, also the scope name.
    pub name: String,
    /// What it simulates.
    pub kind: Kind,
    /// Snapshot interval (seconds).
    pub interval_secs: f64,
    /// Noise standard deviation as a share of the level.
    pub noise: f64,
    /// The seed.
    pub seed: u64,
    /// The label.
    pub expect: Expect,
    /// Simulated duration (minutes).
    pub duration_min: f64,
    /// The scope's snapshots.
    pub series: Vec<Snapshot>,
    /// Process snapshots at the same times (only the fragmentation kind has them).
    pub process: Vec<ProcessSnapshot>,
    /// The scope's budget, for the kinds that set one.
    pub budget: Option<u64>,
    /// Minutes per simulated minute of the series' time axis (1, or less for a demo scale).
    pub time_scale: f64,
}

/// Pre-drawn parameters of one world.
struct World {
    level: f64,
    a: f64,
    b: f64,
    times: Vec<f64>,
}

impl Scenario {
    /// The scenario of `kind` sampled every `interval_secs`, with noise `NOISE_LEVELS[noise]`
    /// (clamped to the table), from `seed`.
    pub fn new(kind: Kind, interval_secs: f64, noise: usize, seed: u64) -> Scenario {
        let noise = NOISE_LEVELS[noise.min(NOISE_LEVELS.len() - 1)];
        let interval = if interval_secs.is_finite() && interval_secs > 0.0 {
            interval_secs
        } else {
            30.0
        };
        let mut p = SplitMix64::new(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ kind.id());
        let duration = kind.duration_min();
        let mut world = World {
            level: (100.0 + 150.0 * p.unit()) * MB,
            a: p.unit(),
            b: p.unit(),
            times: Vec::new(),
        };
        match kind {
            Kind::HighFlatBelow => world.level = (420.0 + 50.0 * p.unit()) * MB,
            Kind::HighFlatAbove | Kind::HighFlatBudget => {
                world.level = (600.0 + 200.0 * p.unit()) * MB
            }
            _ => {}
        }
        // Event times drawn once per world: spike jitter, bursts.
        match kind {
            Kind::PeriodicFlat | Kind::PeriodicRising => {
                let phase = 300.0 * p.unit();
                let mut k = 0.0;
                while phase + k * 300.0 < duration * 60.0 {
                    world.times.push(phase + k * 300.0 + 6.0 * (p.unit() - 0.5));
                    k += 1.0;
                }
            }
            Kind::Bursty => {
                let mut t = LEAK_START_MIN + 1.0;
                while t < duration {
                    world.times.push(t);
                    t += 4.0 + 4.0 * p.unit();
                }
            }
            _ => {}
        }
        let mut rng = SplitMix64::new(seed ^ 0xA076_1D64_78BD_642F ^ kind.id() << 32);
        let n = (duration * 60.0 / interval).floor() as usize + 1;
        let mut series = Vec::with_capacity(n);
        let mut process = Vec::new();
        for i in 0..n {
            let t = i as f64 * interval;
            let m = t / 60.0;
            let (clean, entries, blocks_flat) = signal(kind, &world, m, t);
            let bytes = (clean + noise * world.level * rng.normal()).max(0.0);
            let blocks = match blocks_flat {
                Some(b) => b * (1.0 + 0.001 * rng.normal()),
                None => bytes / BLOCK_BYTES * (1.0 + 0.002 * rng.normal()),
            };
            let entries = entries.map(|e| (e * (1.0 + 0.002 * rng.normal())).max(0.0) as u64);
            let mut s = Snapshot::new(t, bytes as u64, blocks.max(0.0) as u64);
            s.entries = entries;
            s.allocs = 1000;
            s.frees = 1000;
            series.push(s);
            if kind == Kind::Fragmentation {
                let self_bytes = 2.0 * MB;
                let tracked = bytes + self_bytes;
                let rss = 1.4 * world.level
                    + 3.0 * MB * (m - LEAK_START_MIN).max(0.0)
                    + noise * world.level * rng.normal();
                process.push(ProcessSnapshot::new(
                    t,
                    Some(rss.max(tracked) as u64),
                    tracked as u64,
                    self_bytes as u64,
                ));
            }
        }
        Scenario {
            name: format!("{}/{}s/{}/{}", kind.name(), interval, noise, seed),
            kind,
            interval_secs: interval,
            noise,
            seed,
            expect: kind.expect(),
            duration_min: duration,
            series,
            process,
            budget: (kind == Kind::HighFlatBudget).then_some(2_000_000_000),
            time_scale: 1.0,
        }
    }

    /// The clean level (bytes) of the newest snapshot at or before `minute`, noise included.
    pub fn bytes_at(&self, minute: f64) -> f64 {
        let n = self
            .series
            .partition_point(|s| s.t <= minute * 60.0 * self.time_scale);
        self.series[n.saturating_sub(1)].curr_bytes as f64
    }

    /// The same scenario on a compressed time axis and byte scale: times × `time`, bytes ×
    /// `bytes`. With [`demo_config`] this is the corpus as a demo configured in seconds sees it.
    pub fn scaled(&self, time: f64, bytes: f64) -> Scenario {
        let b = |v: u64| (v as f64 * bytes).round() as u64;
        let mut s = self.clone();
        for snap in &mut s.series {
            snap.t *= time;
            snap.curr_bytes = b(snap.curr_bytes);
        }
        for p in &mut s.process {
            p.t *= time;
            p.rss_bytes = p.rss_bytes.map(b);
            p.tracked_bytes = b(p.tracked_bytes);
            p.self_bytes = b(p.self_bytes);
        }
        s.budget = s.budget.map(b);
        s.interval_secs *= time;
        s.time_scale = time;
        s
    }
}

/// The noiseless signal at minute `m` (time `t` seconds): bytes, the entry gauge if the kind has
/// one, and a flat block count if blocks do not follow bytes.
fn signal(kind: Kind, w: &World, m: f64, t: f64) -> (f64, Option<f64>, Option<f64>) {
    let l = w.level;
    let since = (m - LEAK_START_MIN).max(0.0);
    let spike = |times: &[f64]| times.iter().any(|&s| t >= s && t < s + SPIKE_SECS);
    // LRU churn: fill from 70% to 100% of capacity over a 3–6 minute period, then evict.
    let sawtooth = |cap: f64| {
        let period = 3.0 + 3.0 * w.a;
        let phase = (m / period + w.b).fract();
        cap * (0.7 + 0.3 * phase)
    };
    match kind {
        Kind::Linear { mb_per_min } => (l + mb_per_min * MB * since, None, None),
        Kind::Step => {
            let step = (60.0 + 60.0 * w.a) * MB;
            (l + if m >= LEAK_START_MIN { step } else { 0.0 }, None, None)
        }
        Kind::Bursty => {
            // Each burst adds 2 MB/min × the gap since the previous burst, over one minute.
            let mut added = 0.0;
            let mut prev = LEAK_START_MIN;
            for &b in &w.times {
                let size = 2.0 * MB * (b - prev);
                added += size * ((m - b).clamp(0.0, 1.0));
                prev = b;
            }
            (l + added, None, None)
        }
        Kind::RisingSawtooth => (sawtooth(l) + 1.0 * MB * since, None, None),
        Kind::BloatPerEntry => {
            let entries = l / ENTRY_BYTES;
            (l + 1.0 * MB * since, Some(entries), Some(2.0 * entries))
        }
        Kind::Fragmentation | Kind::Stable => (l, None, None),
        Kind::PeriodicRising | Kind::PeriodicFlat => {
            let height = (30.0 + 20.0 * w.a) * MB;
            // Each run from the leak's start on leaves 5 MB behind (1 MB/min at a run every
            // 5 minutes): the floor steps at the runs and is flat between them.
            let floor = if kind == Kind::PeriodicRising {
                let runs = w
                    .times
                    .iter()
                    .filter(|&&s| s >= LEAK_START_MIN * 60.0 && s <= t)
                    .count();
                l + 5.0 * MB * runs as f64
            } else {
                l
            };
            (
                floor + if spike(&w.times) { height } else { 0.0 },
                None,
                None,
            )
        }
        Kind::WarmUp => {
            let tau = 3.0 + 5.0 * w.a;
            let b = l * (1.0 - (-m / tau).exp());
            (b, Some(b / ENTRY_BYTES), None)
        }
        Kind::LruChurn => {
            let b = sawtooth(l);
            (b, Some(b / ENTRY_BYTES), None)
        }
        Kind::HighFlatBelow | Kind::HighFlatAbove | Kind::HighFlatBudget => (l, None, None),
        Kind::SingleSpike => {
            let s = 90.0 * 60.0;
            (
                l + if t >= s && t < s + SPIKE_SECS {
                    100.0 * MB
                } else {
                    0.0
                },
                None,
                None,
            )
        }
        Kind::TemporaryGrowth => {
            let u = (m - 20.0).rem_euclid(80.0);
            let extra = if m < 20.0 || u >= 30.0 {
                0.0
            } else {
                0.6 * MB * u.min(10.0)
            };
            (l + extra, None, None)
        }
    }
}

/// The corpus configuration: the defaults with snapshots every `interval_secs` and
/// `memory_growth_threshold_mb = 10`. The default 100 MB gate cannot pass a 0.5 MB/min leak
/// within 2 hours (it is 60 MB by then), so docs/design.md §12's latency target implies a smaller gate; the
/// rate threshold keeps its default 5 MB/min.
pub fn corpus_config(interval_secs: f64) -> Config {
    let mut c = default_config(interval_secs);
    c.memory_growth_threshold_mb = 10.0;
    c
}

/// The plain defaults with snapshots every `interval_secs`.
pub fn default_config(interval_secs: f64) -> Config {
    let mut c = Config::default();
    c.snapshot_interval_seconds = interval_secs;
    c
}

/// Seconds of demo time per corpus second in [`Scenario::scaled`] for the demo.
pub const DEMO_TIME: f64 = 1.0 / 60.0;
/// Demo bytes per corpus byte (a power of two, so scaled thresholds stay exact).
pub const DEMO_BYTES: f64 = 1.0 / 8.0;

/// [`corpus_config`] scaled down like [`Scenario::scaled`]`(DEMO_TIME, DEMO_BYTES)`: a minute
/// becomes a second (a 30-second detection window, snapshots every 0.5 s or faster) and the
/// thresholds become a few MB.
pub fn demo_config(interval_secs: f64) -> Config {
    let mut c = corpus_config(interval_secs);
    c.snapshot_interval_seconds = interval_secs * DEMO_TIME;
    c.detection_window_minutes *= DEMO_TIME;
    c.rapid_growth_window_minutes *= DEMO_TIME;
    c.baseline_calculation_minutes *= DEMO_TIME;
    c.memory_growth_threshold_mb *= DEMO_BYTES;
    c.sustained_high_threshold_mb *= DEMO_BYTES;
    c.growth_rate_threshold_mb_per_min *= DEMO_BYTES / DEMO_TIME;
    c
}

/// One lifecycle event of a simulation.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Simulated minutes (on the corpus' time axis).
    pub minute: f64,
    /// [`LeakEvent::kind`](leakscope::leaks::LeakEvent::kind).
    pub what: &'static str,
    /// The leak's type.
    pub ty: LeakType,
    /// Its severity after the event.
    pub severity: LeakSeverity,
}

/// Every how many snapshots the older history tier keeps one (docs/design.md §6: "one per 10 intervals").
const TIER: usize = 10;

/// The history the collector holds after snapshot `end - 1`: the last `recent` snapshots at full
/// resolution, and before them every [`TIER`]-th snapshot, back to `span` seconds. Written into
/// `out` (reused between runs).
fn history<T: Clone>(
    all: &[T],
    end: usize,
    recent: usize,
    span: f64,
    t: impl Fn(&T) -> f64,
    out: &mut Vec<T>,
) {
    out.clear();
    let raw_from = end.saturating_sub(recent);
    let t_end = t(&all[end - 1]);
    let oldest = all[..raw_from].partition_point(|x| t(x) < t_end - span);
    // Tier members are the snapshots whose index is a multiple of TIER, so they stay put as the
    // history slides.
    let first_tier = oldest.div_ceil(TIER) * TIER;
    out.extend((first_tier..raw_from).step_by(TIER).map(|i| all[i].clone()));
    out.extend_from_slice(&all[raw_from..end]);
}

/// Runs the detectors after every snapshot over the history the collector would hold (the last
/// `max_snapshots_per_cache` snapshots plus a tier of one in ten before them, back to
/// [`required_history_secs`]) and feeds a [`LeakTracker`], as the collector does. With
/// `stop_when_detected`, a leak scenario stops at its detection.
pub fn simulate(s: &Scenario, config: &Config, stop_when_detected: bool) -> Vec<Event> {
    let mut config = DetectorConfig::from(config);
    let mut tracker = LeakTracker::new(&config);
    if let Some(b) = s.budget {
        config.budgets.insert(s.name.clone(), b);
    }
    let span = required_history_secs(&config);
    let recent = config.max_snapshots_per_cache.max(2);
    let mut events = Vec::new();
    let mut hist = Vec::new();
    let mut phist = Vec::new();
    for end in 1..=s.series.len() {
        let t = s.series[end - 1].t;
        history(&s.series, end, recent, span, |x| x.t, &mut hist);
        let mut run = tracker.observe(&s.name, t, findings(&s.name, &hist, &config));
        if !s.process.is_empty() {
            history(&s.process, end, recent, span, |x| x.t, &mut phist);
            let found = analyze_process(&phist, &config).expect("generated series are valid");
            run.extend(tracker.observe(PROCESS_SCOPE, t, found));
        }
        let minute = t / 60.0 / s.time_scale;
        for e in run {
            let leak = e.leak();
            let what = e.kind();
            events.push(Event {
                minute,
                what,
                ty: leak.finding.leak_type,
                severity: leak.finding.severity,
            });
        }
        if stop_when_detected && judge(s, &events).typed_after_min.is_some() {
            break;
        }
    }
    events
}

/// One detection run over a generated history: the histories are built in time order, so the
/// validation [`analyze_series`] does cannot fail.
fn findings(
    name: &str,
    hist: &[Snapshot],
    config: &DetectorConfig,
) -> Vec<leakscope::analysis::Finding> {
    analyze_series(name, hist, config, &[]).expect("generated series are valid")
}

/// How a simulation compares with its label.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// For a leak: minutes from the leak's start to its first report with an acceptable type
    /// (the labelled type at its minimum severity, or one of the other acceptable types).
    pub detected_after_min: Option<f64>,
    /// For a leak: minutes from the leak's start to the report of its labelled type.
    pub typed_after_min: Option<f64>,
    /// Reports (new leaks or severity changes) the label allows.
    pub right: Vec<Event>,
    /// Reports the label does not allow: false alarms or wrong types.
    pub wrong: Vec<Event>,
}

/// Compares `events` with the scenario's label. Resolutions are never wrong; a severity change
/// is wrong only when it takes a notice above its severity.
pub fn judge(s: &Scenario, events: &[Event]) -> Verdict {
    let mut v = Verdict {
        detected_after_min: None,
        typed_after_min: None,
        right: Vec::new(),
        wrong: Vec::new(),
    };
    for e in events.iter().filter(|e| e.what != "resolved") {
        let ok = match &s.expect {
            Expect::Nothing => false,
            Expect::Notice { ty, max_severity } => e.ty == *ty && e.severity <= *max_severity,
            Expect::Leak {
                ty,
                also,
                min_severity,
                before,
            } => {
                if e.minute < LEAK_START_MIN {
                    before.is_some_and(|(bt, bs)| e.ty == bt && e.severity <= bs)
                } else {
                    let labelled = e.ty == *ty && e.severity >= *min_severity;
                    let after = Some(e.minute - LEAK_START_MIN);
                    if labelled && v.typed_after_min.is_none() {
                        v.typed_after_min = after;
                    }
                    if (labelled || also.contains(&e.ty)) && v.detected_after_min.is_none() {
                        v.detected_after_min = after;
                    }
                    e.ty == *ty || also.contains(&e.ty)
                }
            }
        };
        if ok {
            v.right.push(e.clone());
        } else if e.what == "new" || matches!(&s.expect, Expect::Notice { ty, .. } if e.ty == *ty) {
            v.wrong.push(e.clone());
        }
    }
    v
}

/// A judged scenario, for the summaries.
#[derive(Clone, Debug)]
pub struct Judged {
    /// The scenario's name.
    pub name: String,
    /// Its kind.
    pub kind: Kind,
    /// Its interval.
    pub interval_secs: f64,
    /// Its label.
    pub expect: Expect,
    /// Simulated minutes actually run.
    pub minutes: f64,
    /// The verdict.
    pub verdict: Verdict,
}

/// Generates and runs every (kind, interval, noise, seed) combination on `threads` threads.
/// `scale` = Some((time, bytes)) runs the scaled corpus; `config` maps an interval (on the corpus'
/// axis) to the configuration. Results come back in combination order.
pub fn run_corpus(
    kinds: &[Kind],
    intervals: &[f64],
    noises: &[usize],
    seeds: &[u64],
    scale: Option<(f64, f64)>,
    config: &(dyn Fn(f64) -> Config + Sync),
    threads: usize,
) -> Vec<Judged> {
    let mut combos = Vec::new();
    for &k in kinds {
        for &i in intervals {
            for &n in noises {
                for &s in seeds {
                    combos.push((k, i, n, s));
                }
            }
        }
    }
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<Judged>> = vec![None; combos.len()];
    let chunks: Vec<Vec<(usize, Judged)>> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                sc.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let idx = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&(kind, interval, noise, seed)) = combos.get(idx) else {
                            break;
                        };
                        let mut s = Scenario::new(kind, interval, noise, seed);
                        if let Some((time, bytes)) = scale {
                            s = s.scaled(time, bytes);
                        }
                        let leak = matches!(s.expect, Expect::Leak { .. });
                        let events = simulate(&s, &config(interval), leak);
                        let verdict = judge(&s, &events);
                        let minutes = if leak {
                            verdict
                                .typed_after_min
                                .map_or(s.duration_min, |d| d + LEAK_START_MIN)
                        } else {
                            s.duration_min
                        };
                        out.push((
                            idx,
                            Judged {
                                name: s.name.clone(),
                                kind,
                                interval_secs: interval,
                                expect: s.expect.clone(),
                                minutes,
                                verdict,
                            },
                        ));
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    for (idx, j) in chunks.into_iter().flatten() {
        results[idx] = Some(j);
    }
    results.into_iter().flatten().collect()
}

/// Precision, recall, false alarms and latency of one group of judged scenarios.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Leak scenarios in the group.
    pub leaks: usize,
    /// Of those, detected (an acceptable type).
    pub detected: usize,
    /// Of those, reported with the labelled type.
    pub typed: usize,
    /// Reports the labels allow.
    pub right: usize,
    /// Reports the labels do not allow (false alarms and wrong types).
    pub wrong: usize,
    /// Wrong reports on the non-leak (and notice) scenarios.
    pub false_alarms: usize,
    /// Simulated weeks of non-leak scenarios.
    pub non_leak_weeks: f64,
    /// Median minutes from leak start to report.
    pub median_latency_min: Option<f64>,
    /// Largest minutes from leak start to report.
    pub max_latency_min: Option<f64>,
}

impl Summary {
    /// Aggregates `judged`; `ty` restricts reports to one leak type and leaks to those labelled
    /// with it.
    pub fn of(judged: &[Judged], ty: Option<LeakType>) -> Summary {
        let counts = |e: &Event| ty.is_none_or(|t| e.ty == t);
        let mut latencies = Vec::new();
        let mut s = Summary {
            leaks: 0,
            detected: 0,
            typed: 0,
            right: 0,
            wrong: 0,
            false_alarms: 0,
            non_leak_weeks: 0.0,
            median_latency_min: None,
            max_latency_min: None,
        };
        for j in judged {
            s.right += j.verdict.right.iter().filter(|e| counts(e)).count();
            let wrong = j.verdict.wrong.iter().filter(|e| counts(e)).count();
            s.wrong += wrong;
            match &j.expect {
                Expect::Leak { ty: lt, .. } => {
                    if ty.is_none_or(|t| t == *lt) {
                        s.leaks += 1;
                        if let Some(d) = j.verdict.detected_after_min {
                            s.detected += 1;
                            latencies.push(d);
                        }
                        if j.verdict.typed_after_min.is_some() {
                            s.typed += 1;
                        }
                    }
                }
                _ => {
                    s.false_alarms += wrong;
                    s.non_leak_weeks += j.minutes / (7.0 * 24.0 * 60.0);
                }
            }
        }
        latencies.sort_by(f64::total_cmp);
        s.median_latency_min = crate::median(&latencies);
        s.max_latency_min = latencies.last().copied();
        s
    }

    /// Right reports over all reports (1 when there are none).
    pub fn precision(&self) -> f64 {
        if self.right + self.wrong == 0 {
            1.0
        } else {
            self.right as f64 / (self.right + self.wrong) as f64
        }
    }

    /// Detected leaks over leaks (1 when there are none).
    pub fn recall(&self) -> f64 {
        if self.leaks == 0 {
            1.0
        } else {
            self.detected as f64 / self.leaks as f64
        }
    }

    /// Leaks reported with their labelled type over leaks (1 when there are none).
    pub fn type_recall(&self) -> f64 {
        if self.leaks == 0 {
            1.0
        } else {
            self.typed as f64 / self.leaks as f64
        }
    }

    /// Wrong reports on non-leak scenarios per simulated scope-week.
    pub fn false_alarms_per_week(&self) -> f64 {
        if self.non_leak_weeks > 0.0 {
            self.false_alarms as f64 / self.non_leak_weeks
        } else {
            0.0
        }
    }
}

/// The evaluation table: one row per leak type, then one per scenario kind, then the total.
pub fn table(judged: &[Judged]) -> String {
    let mut out = String::new();
    let header = format!(
        "{:<18} {:>6} {:>6} {:>6} {:>9} {:>6} {:>8} {:>8} {:>8}\n",
        "", "leaks", "recall", "typed", "precision", "wrong", "FA/week", "p50 min", "max min"
    );
    let row = |name: &str, s: &Summary| {
        let lat = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
        format!(
            "{:<18} {:>6} {:>5.0}% {:>5.0}% {:>8.0}% {:>6} {:>8.2} {:>8} {:>8}\n",
            name,
            s.leaks,
            100.0 * s.recall(),
            100.0 * s.type_recall(),
            100.0 * s.precision(),
            s.wrong,
            s.false_alarms_per_week(),
            lat(s.median_latency_min),
            lat(s.max_latency_min)
        )
    };
    out.push_str("by leak type\n");
    out.push_str(&header);
    for ty in LeakType::ALL {
        out.push_str(&row(&format!("{ty:?}"), &Summary::of(judged, Some(ty))));
    }
    out.push_str(&row("all", &Summary::of(judged, None)));
    out.push_str("\nby scenario\n");
    out.push_str(&header);
    let mut kinds: Vec<Kind> = Vec::new();
    for j in judged {
        if !kinds.contains(&j.kind) {
            kinds.push(j.kind);
        }
    }
    for k in kinds {
        let group: Vec<Judged> = judged.iter().filter(|j| j.kind == k).cloned().collect();
        out.push_str(&row(&k.name(), &Summary::of(&group, None)));
    }
    out
}
