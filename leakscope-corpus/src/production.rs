//! The production corpus: seeded models of long-running cache memory at the default 30 s
//! cadence, hours to days of simulated time, each case labelled healthy or leaking.
//!
//! A case is one scope. Its bytes are the sum of a few *components* stepped every snapshot
//! interval by one shared load process; the crate docs describe each family and why it looks
//! like production. Everything is plain arithmetic on a [`SplitMix64`] seeded from the family
//! and the seed, so a case is a pure function of `(family, seed)` and a day of snapshots takes
//! well under a millisecond to generate.

use std::collections::VecDeque;
use std::f64::consts::PI;

use leakscope::analysis::{ProcessSnapshot, Snapshot, AGE_SHARE_SCALE};
use leakscope::leaks::{CallSite, Frame};
use leakscope::{leaks::LeakType, Config};

use crate::rng::SplitMix64;

/// The default snapshot interval, which every production case uses.
pub const INTERVAL: f64 = 30.0;
const MB: f64 = 1e6;
const MIN: f64 = 60.0;
const HOUR: f64 = 3600.0;
const DAY: f64 = 86400.0;
/// How much a leak must add before the detectors are expected to have found it.
pub const DEADLINE_BYTES: f64 = 100.0 * MB;
/// The latest a leak may be found after it first runs at [`TARGET_RATE`].
pub const DEADLINE_CAP_SECS: f64 = 2.0 * HOUR;
/// The slowest leak rate (bytes per minute) the latency target covers: 0.5 MB/min.
pub const TARGET_RATE: f64 = 0.5 * MB;

/// What a case is, and what the detectors should say about it.
#[derive(Clone, Debug, PartialEq)]
pub enum Truth {
    /// No leak. `settled_step` allows one RapidGrowth per case that states it settled (a
    /// preload or config step, a table doubling); `low_periodic` allows a Low, non-rising PeriodicSpike (a flat
    /// batch job).
    Healthy {
        /// A step may be one RapidGrowth that says it settled.
        settled_step: bool,
        /// A flat batch job may be a Low PeriodicSpike.
        low_periodic: bool,
    },
    /// A leak from `start_secs` on.
    Leak {
        /// When the leak starts (seconds since the collector started).
        start_secs: f64,
        /// The types that name it right, the preferred one first.
        accept: Vec<LeakType>,
        /// Seconds after `start_secs` by which it must be found: the time it takes to add
        /// [`DEADLINE_BYTES`], but at most [`DEADLINE_CAP_SECS`] after it first runs at
        /// [`TARGET_RATE`] (20 minutes at 5 MB/min, 2 hours at 0.5 MB/min).
        deadline_secs: f64,
        /// With a budget: when the scope's bytes (the process RSS for fragmentation) first reach
        /// it, the truth a time to budget is judged against.
        budget_reached_secs: Option<f64>,
        /// The leak's nominal rate (MB/min) at its start, for the docs and the table.
        mb_per_min: f64,
    },
}

/// One labelled case: a scope's snapshot series (and the process series where the case is about
/// the process), with its configuration.
#[derive(Clone, Debug)]
pub struct Case {
    /// `family/seed`; also the scope's name.
    pub name: String,
    /// The family.
    pub family: Family,
    /// The seed.
    pub seed: u64,
    /// The label.
    pub truth: Truth,
    /// The scope's snapshots, every [`INTERVAL`] seconds from 0.
    pub series: Vec<Snapshot>,
    /// Process snapshots at the same times (fragmentation families only, else empty).
    pub process: Vec<ProcessSnapshot>,
    /// The configuration: the defaults, with this scope's budget if it has one.
    pub config: Config,
    /// The scope's sampled call sites (leaks have one: the judge checks it stays with the leak).
    pub sites: Vec<CallSite>,
}

impl Case {
    /// Whether the case leaks.
    pub fn is_leak(&self) -> bool {
        matches!(self.truth, Truth::Leak { .. })
    }

    /// Simulated seconds the case covers.
    pub fn duration_secs(&self) -> f64 {
        self.series.last().map_or(0.0, |s| s.t)
    }

    /// The scope's budget, if it has one.
    pub fn budget(&self) -> Option<u64> {
        self.config.budgets.get(&self.name).copied()
    }
}

macro_rules! families {
    ($($(#[doc = $doc:literal])* $v:ident = $name:literal,)*) => {
        /// A family of cases: one model, parameters drawn per seed.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Family {
            $($(#[doc = $doc])* $v,)*
        }

        impl Family {
            /// Every family, healthy ones first.
            pub const ALL: &'static [Family] = &[$(Family::$v,)*];

            /// The family's name, as the table and the filters spell it.
            pub fn name(self) -> &'static str {
                match self {
                    $(Family::$v => $name,)*
                }
            }
        }
    };
}

families! {
    /// Healthy: a scope that never changes, exactly constant for three days.
    Idle = "idle",
    /// Healthy: request-scoped memory only (AR(1) load, heavy tails, huge requests), two days.
    Requests = "requests",
    /// Healthy: an LRU warming up right after start, then evicting in batches, two days.
    LruWarm = "lru_warm",
    /// Healthy: a TTL cache filling for one TTL then sweeping, its inserts on the daily cycle.
    TtlCache = "ttl_cache",
    /// Healthy: a hash map warming up whose table doubles at 7/8 load, with a gauge.
    HashDoubling = "hash_doubling",
    /// Healthy: a string interner saturating over hours, with a gauge.
    Interner = "interner",
    /// Healthy: a config reload or preload hours in: one step up (old and new held for a
    /// minute), then flat.
    PreloadStep = "preload_step",
    /// Healthy: a batch job holding tens of MB for 1–5 minutes at a regular period.
    BatchFlat = "batch_flat",
    /// Healthy: a session store whose size follows the daily load cycle (±20–45%).
    DailyCycle = "daily_cycle",
    /// Healthy: an LRU at 75–90% of its budget (a budget set, nothing grows).
    NearBudget = "near_budget",
    /// Healthy: a TTL cache as `ttl_cache` with a budget 1.25–3 times the most it ever holds
    /// (a budget set, a level that moves with its load), three days.
    TtlBudget = "ttl_budget",
    /// Healthy (process): RSS follows tracked bytes, with allocator retention after huge
    /// requests and the allocator's own warm-up after start.
    RssFollows = "rss_follows",
    /// Healthy, recorded: `moka::sync::Cache` bounded by weight (see [`crate::traces`]).
    TraceMoka = "trace_moka",
    /// Healthy, recorded: `lru::LruCache` bounded by count.
    TraceLru = "trace_lru",
    /// Healthy, recorded: `quick_cache::sync::Cache` bounded by weight.
    TraceQuickCache = "trace_quick_cache",
    /// Healthy, recorded: `moka::sync::Cache` bounded by a time to live only (90 replayed
    /// minutes): its level follows the load over the last TTL.
    TraceMokaTtl = "trace_moka_ttl",
    /// Leak: 0.5 MB/min on a warming LRU with requests, from minute 30–90, two days.
    Linear0_5 = "linear_0.5",
    /// Leak: 1 MB/min, likewise, two days.
    Linear1 = "linear_1",
    /// Leak: 2 MB/min, likewise, one day.
    Linear2 = "linear_2",
    /// Leak: 5 MB/min, likewise, twelve hours.
    Linear5 = "linear_5",
    /// Leak: 20 MB/min, likewise, six hours.
    Linear20 = "linear_20",
    /// Leak: 1 MB/min starting after 6–18 hours of steady state under a TTL cache.
    LateStart = "late_start",
    /// Leak: exponential growth, 0.2–0.6 MB/min at its start, doubling every 4–8 hours, until
    /// it holds 4 GB or for 1.5 days.
    Exponential = "exponential",
    /// Leak: 0.7–1.5 MB/min on average, its rate following the daily load cycle, under a TTL
    /// cache that follows it too.
    DailyLeak = "daily_leak",
    /// Leak: a staircase, +60 MB every hour, never freed.
    Staircase = "staircase",
    /// Leak: bytes per entry rising 1–2 MB/min in total while the entry count (a gauge) and the
    /// cache's blocks stay flat, under requests in flight.
    CacheBloat = "cache_bloat",
    /// Leak: a batch job's sawtooth whose minima rise 0.2–1 MB/min (a share of every run).
    BatchRising = "batch_rising",
    /// Leak with a budget: 1–2 MB/min, the budget reached 8–20 hours after the start.
    LinearBudget = "linear_budget",
    /// Leak with a budget: exponential, the budget reached 50–80% of the way to 4 GB.
    ExponentialBudget = "exponential_budget",
    /// Leak with a budget: the staircase, the budget reached after 6–14 steps.
    StaircaseBudget = "staircase_budget",
    /// Leak (process): RSS rising 1–4 MB/min over flat tracked bytes (fragmentation).
    Fragmentation = "fragmentation",
    /// Leak, recorded: an unbounded `HashMap` memo keyed by request id.
    TraceMemo = "trace_memo",
    /// Leak, recorded: an `lru::LruCache` at capacity beside a map of entries pinned per
    /// request and never unpinned, from two replayed hours in (about 1.3 MB/min, following the
    /// load).
    TraceLruLeak = "trace_lru_leak",
}

impl Family {
    /// The family called `name`.
    pub fn named(name: &str) -> Option<Family> {
        Family::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// Whether the family's cases leak.
    pub fn is_leak(self) -> bool {
        self >= Family::Linear0_5
    }

    /// Whether the family replays a recorded trace: one recording, so one case whatever the
    /// seeds (the first seed asked for names it).
    pub fn is_trace(self) -> bool {
        matches!(
            self,
            Family::TraceMoka
                | Family::TraceLru
                | Family::TraceQuickCache
                | Family::TraceMokaTtl
                | Family::TraceMemo
                | Family::TraceLruLeak
        )
    }

    /// The case of this family drawn from `seed`.
    pub fn case(self, seed: u64) -> Case {
        crate::traces::case(self, seed).unwrap_or_else(|| generate(self, seed))
    }

    /// The seeds of `seeds` this family runs at: all, or the first for a trace.
    pub fn seeds(self, seeds: &[u64]) -> &[u64] {
        if self.is_trace() {
            &seeds[..seeds.len().min(1)]
        } else {
            seeds
        }
    }
}

/// Seeds per family in [`corpus`].
pub const SEEDS: u64 = 8;

/// Every family at seeds `0..seeds` (a trace once), in family order.
pub fn corpus(seeds: u64) -> Vec<Case> {
    let seeds: Vec<u64> = (0..seeds).collect();
    Family::ALL
        .iter()
        .flat_map(|&f| f.seeds(&seeds).iter().map(move |&s| f.case(s)))
        .collect()
}

/// The shared load: an AR(1) process on the log of the load with Student-t (3 degrees of
/// freedom) innovations, times a 24-hour cycle.
struct Load {
    x: f64,
    phi: f64,
    sigma: f64,
    amplitude: f64,
    phase: f64,
}

impl Load {
    fn new(r: &mut SplitMix64, amplitude: f64) -> Load {
        Load {
            x: 0.0,
            // Correlation time 10–40 minutes at 30 s steps.
            phi: 1.0 - INTERVAL / r.range(10.0 * MIN, 40.0 * MIN),
            sigma: r.range(0.03, 0.08),
            amplitude,
            phase: r.range(0.0, 2.0 * PI),
        }
    }

    fn cycle(&self, t: f64) -> f64 {
        1.0 + self.amplitude * (2.0 * PI * t / DAY + self.phase).sin()
    }

    /// Steps to time `t` and returns the load (1 on average).
    fn step(&mut self, r: &mut SplitMix64, t: f64) -> f64 {
        self.x = self.phi * self.x + self.sigma * r.student_t(3);
        // The stationary variance of x is sigma²/(1 − phi²); centre exp(x) on 1.
        let var = self.sigma * self.sigma / (1.0 - self.phi * self.phi);
        (self.x - var / 2.0).exp() * self.cycle(t)
    }
}

/// One component's contribution at a snapshot.
#[derive(Clone, Copy, Default)]
struct Part {
    bytes: f64,
    blocks: f64,
    entries: Option<f64>,
    /// Bytes the component allocated and freed again in the interval beyond its net change
    /// (an LRU's evictions replaced by inserts, a TTL sweep, a table's old allocation), so its
    /// allocations are `turnover + max(Δbytes, 0)` and its frees `turnover + max(−Δbytes, 0)`.
    turnover: f64,
    /// Blocks of that turnover, when they are not of the component's mean block size.
    turnover_blocks: Option<f64>,
    /// Of `bytes`, those allocated at least 1, 10 and 100 intervals ago ([`AGES`]): what the
    /// sampler's age profile estimates.
    older: [f64; 3],
}

/// The ages (in snapshot steps) of the age profile: older than 1, 10 and 100 intervals, as
/// `Snapshot::live_age` states them.
const AGES: [usize; 3] = [1, 10, 100];

/// The bytes of memory that is never freed and was `history` bytes at each step so far (the
/// current step last) that are at least each of [`AGES`] old: what it held that many steps ago,
/// and no more than it holds now (a gauge with noise is not quite monotone).
fn kept_older(history: &[f64]) -> [f64; 3] {
    let now = history.last().copied().unwrap_or(0.0);
    AGES.map(|k| {
        history
            .len()
            .checked_sub(k + 1)
            .map_or(0.0, |i| history[i].min(now).max(0.0))
    })
}

/// Of cohorts `(born, bytes)`, the bytes at least each of [`AGES`] old at `t`.
fn cohorts_older<'a>(cohorts: impl Iterator<Item = &'a (f64, f64)>, t: f64) -> [f64; 3] {
    let mut older = [0.0; 3];
    for &(born, bytes) in cohorts {
        for (o, k) in older.iter_mut().zip(AGES) {
            if t - born >= k as f64 * INTERVAL - 1e-6 {
                *o += bytes;
            }
        }
    }
    older
}

/// `bytes` held since `since`: all of it at least each of [`AGES`] old, or none.
fn held_older(bytes: f64, since: f64, t: f64) -> [f64; 3] {
    cohorts_older([(since, bytes)].iter(), t)
}

/// In-flight requests: Poisson-many, log-normal sizes, and rare Pareto-sized huge requests held
/// for seconds to minutes.
struct Requests {
    in_flight: f64,
    mean_bytes: f64,
    sd_bytes: f64,
    huge_per_hour: f64,
    /// Huge requests in flight: (start, end, bytes).
    huge: Vec<(f64, f64, f64)>,
}

impl Requests {
    fn new(r: &mut SplitMix64) -> Requests {
        let mu = r.range(10.0, 12.0); // e^10..e^12: 22–160 KB median
        let sigma = r.range(0.8, 1.4);
        let mean = (mu + sigma * sigma / 2.0).exp();
        let sd = mean * ((sigma * sigma).exp() - 1.0).sqrt();
        Requests {
            in_flight: r.range(20.0, 200.0),
            mean_bytes: mean,
            sd_bytes: sd,
            huge_per_hour: r.range(0.5, 4.0),
            huge: Vec::new(),
        }
    }

    fn step(&mut self, r: &mut SplitMix64, t: f64, load: f64) -> Part {
        let n = r.poisson(self.in_flight * load) as f64;
        // The sum of n log-normals, by its mean and variance (n is in the tens to hundreds).
        let bytes = (n * self.mean_bytes + n.sqrt() * self.sd_bytes * r.normal()).max(0.0);
        for _ in 0..r.poisson(self.huge_per_hour * load * INTERVAL / HOUR) {
            let size = r.pareto(5.0 * MB, 1.3).min(400.0 * MB);
            let hold = r.exponential(60.0).clamp(5.0, 600.0);
            let start = t - INTERVAL * r.unit();
            self.huge.push((start, start + hold, size));
        }
        self.huge.retain(|&(_, end, _)| end > t);
        let huge: f64 = self.huge.iter().map(|h| h.2).sum();
        let held: Vec<(f64, f64)> = self.huge.iter().map(|h| (h.0, h.2)).collect();
        // Requests come and go within the interval: 2,000 blocks of 8 KiB at load 1.
        Part {
            bytes: bytes + huge,
            blocks: n * 12.0 + huge / 65536.0,
            entries: None,
            turnover: 2000.0 * load * 8192.0,
            turnover_blocks: Some(2000.0 * load),
            // Ordinary requests come and go within the interval; only huge ones grow old.
            older: cohorts_older(held.iter(), t),
        }
    }
}

/// The request mix: how much a request allocates and frees on its way through (temporary
/// buffers, parsing) changes as the mix of endpoints changes, so the scope's allocation rate
/// and count follow its traffic only roughly. A log-normal factor on the requests' turnover
/// (bytes and blocks alike), AR(1) with a correlation time of 30 minutes to 3 hours and a
/// stationary spread of 10–30%, mean 1. The live bytes do not change: what leaves the
/// allocation rate an imperfect measure of the load that fills a cache.
struct Mix {
    x: f64,
    phi: f64,
    sigma: f64,
    spread: f64,
}

impl Mix {
    fn new(r: &mut SplitMix64) -> Mix {
        let phi = 1.0 - INTERVAL / r.range(30.0 * MIN, 3.0 * HOUR);
        let spread = r.range(0.1, 0.3);
        Mix {
            x: spread * r.normal(),
            phi,
            sigma: spread * (1.0 - phi * phi).sqrt(),
            spread,
        }
    }

    fn step(&mut self, r: &mut SplitMix64) -> f64 {
        self.x = self.phi * self.x + self.sigma * r.normal();
        (self.x - self.spread * self.spread / 2.0).exp()
    }
}

/// A bounded LRU: filled by misses (faster while cold), evicting a batch of 2–12% whenever it
/// is over capacity.
struct Lru {
    cap: f64,
    occupancy: f64,
    fill_per_sec: f64,
    evict: f64,
    entry_bytes: f64,
    /// What it holds by insertion time, oldest first: `(inserted at, bytes)`. Evictions take
    /// the oldest (an LRU under a steady load evicts in about insertion order).
    cohorts: VecDeque<(f64, f64)>,
}

impl Lru {
    fn new(r: &mut SplitMix64, cap: f64, warm: bool) -> Lru {
        let evict = r.range(0.02, 0.12);
        // A batch's worth of inserts every 2–8 minutes at load 1.
        let period = r.range(2.0 * MIN, 8.0 * MIN);
        let occupancy = if warm {
            cap * (1.0 - evict * r.unit())
        } else {
            0.0
        };
        Lru {
            cap,
            occupancy,
            fill_per_sec: cap * evict / period,
            evict,
            entry_bytes: r.range(500.0, 8000.0),
            // A warm cache's contents count from start (their age before it is unknown).
            cohorts: (occupancy > 0.0)
                .then_some((0.0, occupancy))
                .into_iter()
                .collect(),
        }
    }

    fn step(&mut self, t: f64, load: f64) -> Part {
        // Misses fall from 5× the steady rate (cold) to 1× at capacity.
        let cold = 1.0 + 4.0 * (1.0 - self.occupancy / self.cap).max(0.0);
        let inserted = self.fill_per_sec * load * cold * INTERVAL;
        self.occupancy += inserted;
        let mut evicted = 0.0;
        while self.occupancy > self.cap {
            self.occupancy -= self.cap * self.evict;
            evicted += self.cap * self.evict;
        }
        self.cohorts.push_back((t, inserted));
        let mut to_take = evicted;
        while to_take > 0.0 {
            let Some(oldest) = self.cohorts.front_mut() else {
                break;
            };
            let gone = oldest.1.min(to_take);
            oldest.1 -= gone;
            to_take -= gone;
            if oldest.1 <= 0.0 {
                self.cohorts.pop_front();
            }
        }
        let entries = self.occupancy / self.entry_bytes;
        Part {
            bytes: self.occupancy,
            blocks: entries * 2.0,
            entries: Some(entries),
            turnover: inserted.min(evicted),
            turnover_blocks: None,
            older: cohorts_older(self.cohorts.iter(), t),
        }
    }
}

/// A TTL cache: inserts at a load-driven rate, a sweep every few minutes drops what is older
/// than the TTL.
struct Ttl {
    ttl: f64,
    sweep: f64,
    next_sweep: f64,
    per_sec: f64,
    entry_bytes: f64,
    live: VecDeque<(f64, f64)>,
    bytes: f64,
}

impl Ttl {
    fn new(r: &mut SplitMix64, level: f64) -> Ttl {
        let ttl = r.range(30.0 * MIN, 4.0 * HOUR);
        let sweep = r.range(1.0 * MIN, 10.0 * MIN);
        Ttl {
            ttl,
            sweep,
            next_sweep: sweep,
            per_sec: level / ttl,
            entry_bytes: r.range(300.0, 4000.0),
            live: VecDeque::new(),
            bytes: 0.0,
        }
    }

    fn step(&mut self, t: f64, load: f64) -> Part {
        let add = self.per_sec * load * INTERVAL;
        self.live.push_back((t, add));
        self.bytes += add;
        let mut swept = 0.0;
        while t >= self.next_sweep {
            while self.live.front().is_some_and(|e| e.0 < t - self.ttl) {
                let gone = self.live.pop_front().map_or(0.0, |e| e.1);
                self.bytes -= gone;
                swept += gone;
            }
            self.next_sweep += self.sweep;
        }
        let entries = self.bytes / self.entry_bytes;
        Part {
            bytes: self.bytes.max(0.0),
            blocks: entries * 2.0,
            entries: Some(entries),
            turnover: add.min(swept),
            turnover_blocks: None,
            older: cohorts_older(self.live.iter(), t),
        }
    }
}

/// The age profile the sampler would report for `parts` (`bytes` in all): the shares of live
/// bytes at least 1, 10 and 100 intervals old, each estimated from the samples a 512 KiB
/// sampling interval takes of the scope (binomial noise, by its normal approximation), never
/// rising with age. `None` when not one sample is expected.
fn sampled_ages(parts: &[Part], bytes: f64, r: &mut SplitMix64) -> Option<[u16; 3]> {
    let samples = bytes / (512.0 * 1024.0);
    if samples < 1.0 {
        return None;
    }
    let mut cap = 1.0f64;
    Some([0, 1, 2].map(|k| {
        let p = (parts.iter().map(|x| x.older[k]).sum::<f64>() / bytes).clamp(0.0, 1.0);
        let share = (p + (p * (1.0 - p) / samples).sqrt() * r.normal()).clamp(0.0, cap);
        cap = share;
        (share * f64::from(AGE_SHARE_SCALE)).round() as u16
    }))
}

/// The smallest power of two `cap` with `entries <= 7/8 cap` (hashbrown's load factor).
fn table_capacity(entries: f64) -> f64 {
    let need = (entries * 8.0 / 7.0).max(16.0);
    2f64.powi(need.log2().ceil() as i32)
}

/// A hash map's bytes: entries on the heap plus the table, which doubles at 7/8 load and never
/// shrinks by itself (hashbrown's rule), so `table` keeps the largest capacity reached.
fn hash_map(entries: f64, entry_bytes: f64, slot_bytes: f64, table: &mut f64) -> Part {
    let entries = entries.floor();
    let old = *table;
    *table = table.max(table_capacity(entries));
    // A doubling allocates the new table and frees the old one.
    let (turnover, turnover_blocks) = if *table > old && old > 0.0 {
        (old * slot_bytes, Some(1.0))
    } else {
        (0.0, None)
    };
    Part {
        bytes: entries * entry_bytes + *table * slot_bytes,
        blocks: entries + 1.0,
        entries: Some(entries),
        turnover,
        turnover_blocks,
        // Its ages depend on the map's history: the caller's.
        older: [0.0; 3],
    }
}

/// A batch job: every `period` (±3%), holds `height` for `hold` seconds; `leak_per_run` of each
/// run (the leak rate times the period) is never freed.
struct Batch {
    period: f64,
    height: f64,
    hold: f64,
    next: f64,
    until: f64,
    leak_per_run: f64,
    leaked: f64,
    /// When the current (or last) run started.
    started: f64,
    /// `leaked` at every step so far.
    leaked_history: Vec<f64>,
}

impl Batch {
    fn new(r: &mut SplitMix64, leak_per_sec: f64) -> Batch {
        let period = r.range(15.0 * MIN, 60.0 * MIN);
        let leak_per_run = leak_per_sec * period;
        Batch {
            period,
            height: r.range(10.0, 80.0) * MB,
            hold: r.range(1.0 * MIN, 5.0 * MIN),
            next: r.range(0.0, period),
            until: f64::NEG_INFINITY,
            leak_per_run,
            leaked: 0.0,
            started: f64::NEG_INFINITY,
            leaked_history: Vec::new(),
        }
    }

    fn step(&mut self, r: &mut SplitMix64, t: f64) -> Part {
        if t >= self.next {
            self.started = self.next;
            self.until = self.next + self.hold * r.range(0.9, 1.1);
            self.next += self.period * r.range(0.97, 1.03);
            self.leaked += self.leak_per_run;
        }
        let held = if t < self.until { self.height } else { 0.0 };
        self.leaked_history.push(self.leaked);
        let (run, kept) = (
            held_older(held, self.started, t),
            kept_older(&self.leaked_history),
        );
        Part {
            bytes: held + self.leaked,
            blocks: (held + self.leaked) / 65536.0,
            older: [0, 1, 2].map(|k| run[k] + kept[k]),
            ..Part::default()
        }
    }
}

/// The leak on top of the background.
#[derive(Clone, Copy)]
enum Leak {
    None,
    /// `rate` bytes/s from `start`.
    Linear {
        start: f64,
        rate: f64,
    },
    /// `rate0` bytes/s at `start`, doubling every `doubling` seconds.
    Exponential {
        start: f64,
        rate0: f64,
        doubling: f64,
    },
    /// `rate` bytes/s on average, times the load's daily cycle.
    Daily {
        start: f64,
        rate: f64,
    },
    /// `step` bytes every `every` seconds from `start` (the first at `start`).
    Staircase {
        start: f64,
        step: f64,
        every: f64,
    },
}

impl Leak {
    /// Bytes leaked by time `t` (`cycle`: the load's daily cycle at `t`, for the daily leak,
    /// integrated by the caller).
    fn bytes(&self, t: f64) -> f64 {
        match *self {
            Leak::None => 0.0,
            Leak::Linear { start, rate } => rate * (t - start).max(0.0),
            Leak::Exponential {
                start,
                rate0,
                doubling,
            } => {
                let k = 2f64.ln() / doubling;
                rate0 / k * ((k * (t - start).max(0.0)).exp() - 1.0)
            }
            Leak::Daily { .. } => 0.0,
            Leak::Staircase { start, step, every } if t >= start => {
                step * (((t - start) / every).floor() + 1.0)
            }
            Leak::Staircase { .. } => 0.0,
        }
    }

    fn start(&self) -> f64 {
        match *self {
            Leak::None => f64::INFINITY,
            Leak::Linear { start, .. }
            | Leak::Exponential { start, .. }
            | Leak::Daily { start, .. }
            | Leak::Staircase { start, .. } => start,
        }
    }
}

/// What a family's case is made of.
struct Plan {
    duration: f64,
    level: f64,
    load_amplitude: f64,
    requests: bool,
    lru: Option<(f64, bool)>,
    ttl: Option<f64>,
    hash: Option<(f64, f64, f64, f64)>,
    interner: Option<(f64, f64, f64)>,
    step: Option<(f64, f64)>,
    batch: Option<f64>,
    daily_store: Option<f64>,
    bloat: Option<(f64, f64)>,
    leak: Leak,
    leak_entries: bool,
    process: Option<f64>,
    /// When the process series' fragmentation begins (seconds).
    process_start: f64,
    budget: Option<Budget>,
    accept: Vec<LeakType>,
    settled_step: bool,
    low_periodic: bool,
    nominal_mb_per_min: f64,
}

/// How a case's budget is set: reached `after` seconds from the leak's start, or the healthy
/// peak is `share` of it.
#[derive(Clone, Copy)]
enum Budget {
    ReachedAfter(f64),
    AboveFlat(f64),
}

fn plan(family: Family, r: &mut SplitMix64) -> Plan {
    use Family::*;
    let growth = vec![LeakType::GradualGrowth, LeakType::RapidGrowth];
    let mut p = Plan {
        duration: 2.0 * DAY,
        level: r.range(20.0, 300.0) * MB,
        load_amplitude: r.range(0.2, 0.5),
        requests: true,
        lru: None,
        ttl: None,
        hash: None,
        interner: None,
        step: None,
        batch: None,
        daily_store: None,
        bloat: None,
        leak: Leak::None,
        leak_entries: false,
        process: None,
        process_start: 0.0,
        budget: None,
        accept: growth.clone(),
        settled_step: false,
        low_periodic: false,
        nominal_mb_per_min: 0.0,
    };
    let lru_cap = r.range(50.0, 400.0) * MB;
    let leak_start = r.range(30.0 * MIN, 90.0 * MIN);
    let linear = |mb: f64| Leak::Linear {
        start: leak_start,
        rate: mb * MB / MIN,
    };
    match family {
        // Traces are replayed from their recordings (`Family::case`), never generated.
        Idle | TraceMoka | TraceLru | TraceQuickCache | TraceMokaTtl | TraceMemo | TraceLruLeak => {
            p.duration = 3.0 * DAY;
            p.requests = false;
        }
        Requests => {}
        LruWarm => p.lru = Some((lru_cap, false)),
        TtlCache | TtlBudget => {
            p.duration = 3.0 * DAY;
            p.ttl = Some(r.range(50.0, 300.0) * MB);
            if family == TtlBudget {
                p.budget = Some(Budget::AboveFlat(r.range(1.0 / 3.0, 0.8)));
            }
        }
        HashDoubling => {
            // 0.3–2.5 million entries of 60–250 heap bytes in 48-byte slots, warming over
            // 20–90 minutes.
            p.hash = Some((
                r.range(0.3e6, 2.5e6),
                r.range(20.0 * MIN, 90.0 * MIN),
                r.range(60.0, 250.0),
                48.0,
            ));
            // A doubling is a step in bytes: one may be reported as a step that settled. The
            // entries approach their count exponentially, so the last doubling can come hours
            // after the warm-up, when the floor has long been flat.
            p.settled_step = true;
        }
        Interner => {
            // Hyperbolic saturation V·t/(t+τ): 30–150 MB, τ 30 minutes to 3 hours.
            p.interner = Some((
                r.range(30.0, 150.0) * MB,
                r.range(30.0 * MIN, 3.0 * HOUR),
                r.range(24.0, 80.0),
            ));
        }
        PreloadStep => {
            p.duration = DAY;
            p.lru = Some((lru_cap, true));
            p.step = Some((r.range(1.0 * HOUR, 20.0 * HOUR), r.range(30.0, 300.0) * MB));
            p.settled_step = true;
        }
        BatchFlat => {
            p.duration = DAY;
            p.batch = Some(0.0);
            p.low_periodic = true;
        }
        DailyCycle => {
            p.duration = 3.0 * DAY;
            p.load_amplitude = r.range(0.2, 0.45);
            p.daily_store = Some(r.range(100.0, 400.0) * MB);
        }
        NearBudget => {
            p.lru = Some((lru_cap, true));
            p.budget = Some(Budget::AboveFlat(r.range(0.75, 0.9)));
        }
        RssFollows => {
            p.duration = 3.0 * DAY;
            p.lru = Some((lru_cap, true));
            p.process = Some(0.0);
        }
        Linear0_5 | Linear1 | Linear2 | Linear5 | Linear20 => {
            let (mb, days) = match family {
                Linear0_5 => (0.5, 2.0),
                Linear1 => (1.0, 2.0),
                Linear2 => (2.0, 1.0),
                Linear5 => (5.0, 0.5),
                _ => (20.0, 0.25),
            };
            p.duration = days * DAY;
            p.lru = Some((lru_cap, false));
            p.leak = linear(mb);
            p.leak_entries = true;
        }
        LateStart => {
            p.ttl = Some(r.range(50.0, 300.0) * MB);
            let start = r.range(6.0 * HOUR, 18.0 * HOUR);
            p.leak = Leak::Linear {
                start,
                rate: MB / MIN,
            };
            p.duration = start + 12.0 * HOUR;
        }
        Exponential | ExponentialBudget => {
            p.lru = Some((lru_cap, true));
            let (start, rate0) = (
                r.range(1.0 * HOUR, 3.0 * HOUR),
                r.range(0.2, 0.6) * MB / MIN,
            );
            let doubling = r.range(4.0 * HOUR, 8.0 * HOUR);
            p.leak = Leak::Exponential {
                start,
                rate0,
                doubling,
            };
            // Until the leak holds 4 GB (no process lives much past that), at most 1.5 days.
            let k = 2f64.ln() / doubling;
            let lasts = (1.0 + 4000.0 * MB * k / rate0).ln() / k;
            p.duration = (start + lasts).min(1.5 * DAY);
            if family == ExponentialBudget {
                let after = r.range(0.5, 0.8) * (p.duration - start);
                p.budget = Some(Budget::ReachedAfter(after));
            }
        }
        DailyLeak => {
            p.ttl = Some(r.range(50.0, 300.0) * MB);
            p.leak = Leak::Daily {
                start: leak_start,
                rate: r.range(0.7, 1.5) * MB / MIN,
            };
        }
        Staircase | StaircaseBudget => {
            p.duration = DAY;
            p.lru = Some((lru_cap, true));
            p.leak = Leak::Staircase {
                start: r.range(1.0 * HOUR, 3.0 * HOUR),
                step: 60.0 * MB,
                every: HOUR,
            };
            if family == StaircaseBudget {
                p.budget = Some(Budget::ReachedAfter(
                    (r.range(6.0, 14.0)).floor() * HOUR - 30.0 * MIN,
                ));
            }
        }
        CacheBloat => {
            p.duration = DAY;
            p.bloat = Some((r.range(50.0, 300.0) * MB, r.range(1.0, 2.0) * MB / MIN));
            p.accept = vec![LeakType::CacheBloat];
        }
        BatchRising => {
            p.duration = DAY;
            // 0.2–1 MB/min left behind, as a share of each run.
            p.batch = Some(r.range(0.2, 1.0) * MB / MIN);
            p.accept = vec![LeakType::PeriodicSpike, LeakType::GradualGrowth];
        }
        LinearBudget => {
            p.lru = Some((lru_cap, false));
            p.leak = linear(r.range(1.0, 2.0));
            p.leak_entries = true;
            p.budget = Some(Budget::ReachedAfter(r.range(8.0 * HOUR, 20.0 * HOUR)));
        }
        Fragmentation => {
            p.duration = DAY;
            p.lru = Some((lru_cap, true));
            p.process = Some(r.range(1.0, 4.0) * MB / MIN);
            // Half the seeds from the first snapshot (beside the allocator's warm-up), half after
            // 2–8 hours of a settled gap.
            if r.unit() >= 0.5 {
                p.process_start = r.range(2.0 * HOUR, 8.0 * HOUR);
            }
            p.accept = vec![LeakType::Fragmentation];
        }
    }
    p
}

/// The deadline of a leak starting at `start` that has added `added(t)` by time `t`: the first
/// snapshot at which it has added [`DEADLINE_BYTES`], but no later than [`DEADLINE_CAP_SECS`]
/// after it first runs at [`TARGET_RATE`] (over 30 minutes); seconds after `start`, or the rest
/// of the case when neither happens. A linear leak of 0.5 MB/min or more gets the issue's
/// "100 MB or 2 hours"; an exponential one starting slower gets 2 hours from when it reaches
/// the rate the target covers.
pub(crate) fn deadline(series: &[Snapshot], start: f64, added: impl Fn(f64) -> f64) -> f64 {
    let times = series.iter().map(|s| s.t).filter(|&t| t >= start);
    let full = times.clone().find(|&t| added(t) >= DEADLINE_BYTES);
    let window = 30.0 * MIN;
    let at_rate = times
        .clone()
        .find(|&t| added(t) - added(t - window) >= TARGET_RATE / MIN * window)
        .map(|t| (t - window).max(start) + DEADLINE_CAP_SECS);
    let end = series.last().map_or(start, |s| s.t);
    match (full, at_rate) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) => a,
        (None, Some(b)) => b,
        (None, None) => end,
    }
    .min(end)
        - start
}

/// The median bytes of the 30 minutes up to snapshot `i`.
fn trailing_median(series: &[Snapshot], i: usize) -> f64 {
    let from = i.saturating_sub((30.0 * MIN / INTERVAL) as usize);
    let v: Vec<f64> = series[from..=i]
        .iter()
        .map(|s| s.curr_bytes as f64)
        .collect();
    crate::median(&v).unwrap_or(0.0)
}

/// Generates the case of `family` from `seed`.
fn generate(family: Family, seed: u64) -> Case {
    // Seeded by the family's name (FNV-1a), not its position, so adding a family does not
    // redraw the others.
    let name_hash = family
        .name()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    let mut r = SplitMix64::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ name_hash);
    let p = plan(family, &mut r);
    let name = format!("{}/{}", family.name(), seed);
    let mut load = Load::new(&mut r, p.load_amplitude);
    let mut requests = p.requests.then(|| Requests::new(&mut r));
    let mut lru = p.lru.map(|(cap, warm)| Lru::new(&mut r, cap, warm));
    let mut ttl = p.ttl.map(|level| Ttl::new(&mut r, level));
    let mut batch = p.batch.map(|leak| Batch::new(&mut r, leak));
    let bloat_entries = r.range(20_000.0, 200_000.0);
    let leak_entry_bytes = r.range(200.0, 4000.0);
    let mut daily_leaked = 0.0;
    let mut rss_gap = r.range(30.0, 120.0) * MB;
    // The allocator's own warm-up under a process series: arenas, thread caches and the pages
    // of early peaks settle into RSS over the first hours, V·t/(t+τ) with V 20–150 MB and τ
    // 10 minutes to 2 hours, over tracked bytes that stay flat. Healthy, and fast at first.
    let gap_warm = p
        .process
        .map(|_| (r.range(20.0, 150.0) * MB, r.range(10.0 * MIN, 2.0 * HOUR)));
    let mut retained = 0.0f64;
    let mut table = 0.0f64;
    let (mut table_since, mut hash_heap, mut interned) = (0.0, Vec::new(), Vec::new());
    // The sampler's age profile is an estimate from samples: its noise comes from a stream of
    // its own, so modelling it does not redraw the series.
    let mut sampler = SplitMix64::new(name_hash.rotate_left(32) ^ seed);
    // So does the request mix, which moves only the bytes allocated, never the live bytes.
    let mut mixer = SplitMix64::new(name_hash.rotate_left(16) ^ seed.wrapping_mul(3));
    let mut mix = Mix::new(&mut mixer);
    let n = (p.duration / INTERVAL).floor() as usize + 1;
    let mut series = Vec::with_capacity(n);
    let mut process = Vec::new();
    let mut leaked_at = Vec::with_capacity(n);
    let mut prev_parts: Vec<Part> = Vec::new();
    for i in 0..n {
        let t = i as f64 * INTERVAL;
        let l = load.step(&mut r, t);
        let mut parts: Vec<Part> = vec![Part {
            bytes: p.level,
            blocks: p.level / 4096.0,
            older: held_older(p.level, 0.0, t),
            ..Part::default()
        }];
        let mut huge = 0.0;
        if let Some(q) = requests.as_mut() {
            let mut part = q.step(&mut r, t, l);
            let m = mix.step(&mut mixer);
            part.turnover *= m;
            part.turnover_blocks = part.turnover_blocks.map(|b| b * m);
            huge = q.huge.iter().map(|h| h.2).sum::<f64>();
            parts.push(part);
        }
        if let Some(c) = lru.as_mut() {
            parts.push(c.step(t, l));
        }
        if let Some(c) = ttl.as_mut() {
            parts.push(c.step(t, l));
        }
        if let Some((max, tau, entry_bytes, slot)) = p.hash {
            let entries = max * (1.0 - (-t / tau).exp()) * (1.0 + 0.002 * r.normal());
            let before = table;
            let mut part = hash_map(entries.max(0.0), entry_bytes, slot, &mut table);
            if table > before {
                table_since = t;
            }
            // The entries are never freed (a warming map); the table is as old as its last
            // doubling.
            hash_heap.push(part.bytes - table * slot);
            let (heap, slots) = (
                kept_older(&hash_heap),
                held_older(table * slot, table_since, t),
            );
            part.older = [0, 1, 2].map(|k| heap[k] + slots[k]);
            parts.push(part);
        }
        if let Some((max, tau, entry_bytes)) = p.interner {
            let bytes = max * t / (t + tau);
            interned.push(bytes);
            parts.push(Part {
                bytes,
                blocks: bytes / entry_bytes,
                entries: Some(bytes / entry_bytes),
                older: kept_older(&interned),
                ..Part::default()
            });
        }
        if let Some((at, size)) = p.step {
            // The new table is built before the old one is dropped: both for a minute.
            let held = if t >= at + MIN {
                size
            } else if t >= at {
                2.0 * size
            } else {
                0.0
            };
            parts.push(Part {
                bytes: held,
                blocks: held / 4096.0,
                older: held_older(held, at, t),
                ..Part::default()
            });
        }
        if let Some(b) = batch.as_mut() {
            parts.push(b.step(&mut r, t));
        }
        if let Some(size) = p.daily_store {
            // Sessions live ~20 minutes: the store follows the load's daily cycle closely.
            let bytes = size * load.cycle(t) * (1.0 + 0.01 * r.normal());
            parts.push(Part {
                bytes,
                blocks: bytes / 2048.0,
                entries: Some(bytes / 2048.0),
                // Each session is replaced once in its 20 minutes.
                turnover: bytes * INTERVAL / (20.0 * MIN),
                turnover_blocks: None,
                // … so their ages are uniform over those 20 minutes.
                older: AGES.map(|k| bytes * (1.0 - k as f64 * INTERVAL / (20.0 * MIN)).max(0.0)),
            });
        }
        if let Some((level, rate)) = p.bloat {
            let bytes = level + rate * t;
            parts.push(Part {
                bytes,
                blocks: bloat_entries * 2.0,
                entries: Some(bloat_entries),
                // Values rewritten in place, each a little larger: 2% of them an interval.
                turnover: 0.02 * bytes,
                turnover_blocks: None,
                // A value unwritten for k intervals: 0.98^k of them (none older than the case).
                older: AGES.map(|k| {
                    if t >= k as f64 * INTERVAL {
                        bytes * 0.98f64.powi(k as i32)
                    } else {
                        0.0
                    }
                }),
            });
        }
        let leaked = match p.leak {
            Leak::Daily { start, rate } if t >= start => {
                daily_leaked += rate * load.cycle(t) * INTERVAL;
                daily_leaked
            }
            leak => leak.bytes(t),
        };
        leaked_at.push(leaked);
        if leaked > 0.0 {
            parts.push(Part {
                bytes: leaked,
                blocks: leaked / leak_entry_bytes,
                entries: p.leak_entries.then_some(leaked / leak_entry_bytes),
                older: kept_older(&leaked_at),
                ..Part::default()
            });
        }
        let bytes: f64 = parts.iter().map(|x| x.bytes).sum();
        let blocks: f64 = parts.iter().map(|x| x.blocks).sum();
        let gauge: Option<f64> = parts.iter().filter_map(|x| x.entries).reduce(|a, b| a + b);
        let mut s = Snapshot::new(t, bytes.max(0.0) as u64, blocks.max(0.0) as u64);
        // Sized entries: a bloat or interner gauge is exact; only sized caches have one.
        s.entries = gauge.map(|e| e.max(0.0) as u64);
        s.live_age = sampled_ages(&parts, bytes, &mut sampler);
        // Each component's own allocations and frees: its turnover plus its net change (the
        // leak, pushed last, appears once it has leaked: its previous bytes are zero).
        prev_parts.resize(parts.len(), Part::default());
        let (mut allocs, mut frees, mut allocated, mut freed) = (0.0, 0.0, 0.0, 0.0);
        for (x, before) in parts.iter().zip(&prev_parts) {
            let (d_bytes, d_blocks) = (x.bytes - before.bytes, x.blocks - before.blocks);
            let moved_blocks = x.turnover_blocks.unwrap_or(if x.bytes > 0.0 {
                x.turnover * x.blocks / x.bytes
            } else {
                0.0
            });
            allocated += x.turnover + d_bytes.max(0.0);
            freed += x.turnover + (-d_bytes).max(0.0);
            allocs += moved_blocks + d_blocks.max(0.0);
            frees += moved_blocks + (-d_blocks).max(0.0);
        }
        prev_parts.clone_from(&parts);
        s.allocs = allocs as u64;
        s.frees = frees as u64;
        s.bytes_allocated = allocated as u64;
        s.bytes_freed = freed as u64;
        series.push(s);
        if let Some(frag_rate) = p.process {
            // Huge requests leave pages the allocator keeps for a while (retention decaying
            // with a 20-minute time constant); fragmentation adds a gap that only grows.
            retained = (retained * (-INTERVAL / (20.0 * MIN)).exp()).max(huge);
            if t >= p.process_start {
                rss_gap += frag_rate * INTERVAL;
            }
            let self_bytes = 3.0 * MB;
            let tracked = bytes + self_bytes;
            let warm = gap_warm.map_or(0.0, |(v, tau)| v * t / (t + tau));
            let rss = tracked * 1.08 + rss_gap + warm + retained + 2.0 * MB * r.normal();
            process.push(ProcessSnapshot::new(
                t,
                Some(rss.max(tracked) as u64),
                tracked as u64,
                self_bytes as u64,
            ));
        }
    }
    let start = match p.leak {
        Leak::None if p.process.is_some_and(|r| r > 0.0) => p.process_start,
        Leak::None if p.bloat.is_some() || p.batch.is_some_and(|l| l > 0.0) => 0.0,
        leak => leak.start(),
    };
    let mut config = Config::default();
    let mut budget_reached = None;
    match p.budget {
        Some(Budget::ReachedAfter(after)) => {
            // The budget is the scope's 30-minute median `after` into the leak, and the truth is
            // when the trailing 30-minute median first reaches it: a huge request crossing it
            // for a minute is not the leak reaching its budget.
            let at = (((start + after) / INTERVAL) as usize).min(n - 1);
            let b = trailing_median(&series, at) as u64;
            config.budgets.insert(name.clone(), b);
            budget_reached = (0..n)
                .find(|&i| trailing_median(&series, i) >= b as f64)
                .map(|i| series[i].t);
        }
        Some(Budget::AboveFlat(share)) => {
            let peak = series.iter().map(|s| s.curr_bytes).max().unwrap_or(0);
            config
                .budgets
                .insert(name.clone(), (peak as f64 / share) as u64);
        }
        None => {}
    }
    let truth = if family.is_leak() {
        // What the leak has added by time `t`.
        let added = |t: f64| -> f64 {
            let since = (t - start).max(0.0);
            if let Some(rate) = p.process {
                rate * since
            } else if let Some((_, rate)) = p.bloat {
                rate * since
            } else if let Some(rate) = p.batch {
                rate * since
            } else if t < 0.0 {
                0.0
            } else {
                leaked_at[((t / INTERVAL) as usize).min(n - 1)]
            }
        };
        let deadline = deadline(&series, start, added);
        let mb_per_min = match (p.leak, p.bloat, p.process, p.batch) {
            (Leak::Linear { rate, .. }, ..) | (Leak::Daily { rate, .. }, ..) => rate * MIN / MB,
            (Leak::Exponential { rate0, .. }, ..) => rate0 * MIN / MB,
            (Leak::Staircase { step, every, .. }, ..) => step / every * MIN / MB,
            (_, Some((_, rate)), ..) => rate * MIN / MB,
            (_, _, Some(rate), _) => rate * MIN / MB,
            (_, _, _, Some(rate)) => rate * MIN / MB,
            _ => p.nominal_mb_per_min,
        };
        Truth::Leak {
            start_secs: start,
            accept: p.accept.clone(),
            deadline_secs: deadline,
            budget_reached_secs: budget_reached,
            mb_per_min,
        }
    } else {
        Truth::Healthy {
            settled_step: p.settled_step,
            low_periodic: p.low_periodic,
        }
    };
    let sites = if family.is_leak() {
        vec![leak_site(&name)]
    } else {
        Vec::new()
    };
    Case {
        name,
        family,
        seed,
        truth,
        series,
        process,
        config,
        sites,
    }
}

/// The sampled call site of a leaking case: the leak's insert.
pub(crate) fn leak_site(scope: &str) -> CallSite {
    CallSite {
        scope: scope.to_owned(),
        frames: vec![Frame {
            addr: 0x55d0_0000_1000,
            function: Some("service::cache::Memo::insert".into()),
            file: Some("src/cache.rs".into()),
            line: Some(42),
        }],
        live_bytes: 64 * 1024 * 1024,
        live_blocks: 16_000,
        samples: 128,
        bytes_older_than: [64 << 20, 60 << 20, 40 << 20],
        threads: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_counted_from_what_was_held_and_when_it_came() {
        // Never freed, 10 bytes more a step for 120 steps: 1,190 now; 1,180 a step ago, 1,090
        // ten steps ago, 190 a hundred steps ago.
        let history: Vec<f64> = (0..120).map(|i| 10.0 * f64::from(i)).collect();
        assert_eq!(kept_older(&history), [1180.0, 1090.0, 190.0]);
        assert_eq!(
            kept_older(&history[..5]),
            [30.0, 0.0, 0.0],
            "no older history"
        );
        // Cohorts born 0, 5 and 150 steps before t.
        let t = 200.0 * INTERVAL;
        let cohorts = [
            (t, 1.0),
            (t - 5.0 * INTERVAL, 2.0),
            (t - 150.0 * INTERVAL, 4.0),
        ];
        assert_eq!(cohorts_older(cohorts.iter(), t), [6.0, 4.0, 4.0]);
        assert_eq!(held_older(8.0, t - 10.0 * INTERVAL, t), [8.0, 8.0, 0.0]);
    }

    #[test]
    fn the_request_mix_moves_the_allocation_rate_around_one_slowly() {
        for seed in 0..8 {
            let mut r = SplitMix64::new(seed);
            let mut mix = Mix::new(&mut r);
            // Ten simulated days: the sample mean and spread of a process correlated over at
            // most 3 hours settle within a few percent.
            let f: Vec<f64> = (0..28_800).map(|_| mix.step(&mut r)).collect();
            let n = f.len() as f64;
            let mean = f.iter().sum::<f64>() / n;
            assert!((mean - 1.0).abs() < 0.05, "seed {seed}: mean {mean}");
            let logs: Vec<f64> = f.iter().map(|x| x.ln()).collect();
            let ml = logs.iter().sum::<f64>() / n;
            let sd = (logs.iter().map(|x| (x - ml).powi(2)).sum::<f64>() / n).sqrt();
            assert!((0.07..0.36).contains(&sd), "seed {seed}: spread {sd}");
            // Correlated over half an hour at least: a step moves it by a small part of its
            // spread.
            let step = (logs.windows(2).map(|w| (w[1] - w[0]).powi(2)).sum::<f64>() / n).sqrt();
            assert!(
                step < 0.3 * sd,
                "seed {seed}: step {step} against spread {sd}"
            );
        }
    }

    #[test]
    fn an_lru_evicts_its_oldest_cohorts_and_holds_what_it_says() {
        let mut r = SplitMix64::new(7);
        let mut lru = Lru::new(&mut r, 100e6, false);
        for i in 0..2_000 {
            let part = lru.step(f64::from(i) * INTERVAL, 1.0 + 0.5 * f64::from(i % 7) / 7.0);
            let held: f64 = lru.cohorts.iter().map(|c| c.1).sum();
            assert!(
                (held - part.bytes).abs() <= 1e-6 * part.bytes.max(1.0),
                "step {i}"
            );
            assert!(lru.cohorts.iter().all(|c| c.1 > 0.0));
            assert!(part.older[0] >= part.older[1] && part.older[1] >= part.older[2]);
        }
        // Evicting oldest first: what is left was inserted within the last cap's worth of
        // inserts, none of it at the start.
        assert!(lru.cohorts.front().unwrap().0 > 0.0);
    }
}
