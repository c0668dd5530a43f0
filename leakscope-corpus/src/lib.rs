//! The labelled corpus that judges leakscope's detectors, on the public API only.
//!
//! - [`production`]: seeded models of long-running cache memory at the default configuration
//!   and the default 30 s cadence, 6 hours to 3 days each, healthy or leaking (the families
//!   below). This is what the detectors are judged on.
//! - [`judge`]: replays a case through the replay `leakscope analyze` runs
//!   ([`leakscope::analysis::replay_series_with`]: the detectors after every snapshot, one
//!   [`leakscope::analysis::LeakTracker`]) and judges the events against the label: false alarms, recall,
//!   type, latency against a deadline, openings, severity flaps, time to budget, call sites.
//! - [`traces`]: snapshot series of real caches (moka, lru, quick_cache, an unbounded
//!   `HashMap` memo, moka with a time to live, an LRU beside pinned entries that leak)
//!   recorded under the real allocator by `examples/record_traces.rs` and replayed in
//!   accelerated time (one 20 ms tick per 30 s snapshot), so the corpus is not only a model of
//!   itself: families `trace_moka`, `trace_lru`, `trace_quick_cache`, `trace_moka_ttl`
//!   (healthy), `trace_memo` and `trace_lru_leak` (leaks). How to re-record: [`traces`].
//! - [`scenarios`]: the short corpus the library started with (at most four hours, i.i.d.
//!   Gaussian noise, a lowered growth gate); the detector tests in `tests/` still read it.
//!
//! `cargo run --release --example detector_eval` (from the repository root) prints the table
//! per family; `LEAKSCOPE_CORPUS_FAMILY` and `LEAKSCOPE_CORPUS_SEEDS` select cases
//! ([`judge::Filter::from_env`]).
//!
//! # What production cache memory looks like, and how each family models it
//!
//! Every case shares one **load**: an AR(1) process on log-load (correlation time 10–40 min,
//! innovations Student-t with 3 degrees of freedom, so bursts are heavy-tailed and persist)
//! times a 24-hour cycle of amplitude 20–50%. Components are driven by it:
//!
//! - **requests**: Poisson(λ·load) requests in flight (λ 20–200), each log-normal in size
//!   (median 22–160 KB, σ 0.8–1.4), summed by their mean and variance; plus huge requests at
//!   0.5–4 an hour, Pareto-sized (5 MB and up, tail index 1.3, capped at 400 MB), held for an
//!   exponential 60 s (5 s to 10 min). Real services see exactly this: a few uploads or
//!   reports a day are a hundred times a typical request.
//! - **LRU**: filled by misses at a load-driven rate (5× faster while cold, the warm-up right
//!   after start), evicting a batch of 2–12% whenever over capacity, so a sawtooth with a batch
//!   every 2–8 minutes at load 1 (moka and quick_cache evict in batches of this kind; see the
//!   recorded traces).
//! - **TTL cache**: inserts at a load-driven rate, a sweep every 1–10 minutes drops what is
//!   older than the TTL (30 min to 4 h): it fills linearly for one TTL, then follows the daily
//!   cycle, a slow 12-hour rise every day.
//! - **hash map**: entries warming to 0.3–2.5 million over 20–90 minutes; the table is a power
//!   of two of 48-byte slots that doubles at 7/8 load (hashbrown's rule), so bytes step by up to
//!   100 MB at power-of-two entry counts and bytes per entry step with them.
//! - **interner**: V·t/(t+τ) bytes (30–150 MB, τ 30 min to 3 h): saturating over hours, its
//!   entries (the gauge) rising with its bytes.
//! - **preload step**: a config reload 1–20 h in builds a new table of 30–300 MB while the old
//!   one lives (twice the step for a minute), then stays flat.
//! - **batch job**: every 15–60 minutes (±3%), holds 10–80 MB for 1–5 minutes.
//! - **session store**: follows the daily load cycle (±20–45%): a daily ramp that is not a
//!   leak.
//! - **process**: RSS = 1.08 × tracked + a gap of 30–120 MB + pages retained after huge
//!   requests (decaying over 20 minutes) + 2 MB noise.
//!
//! Bytes, blocks and the entry gauge are kept consistent: each component adds blocks at its own
//! bytes per block, and the gauge (where the scope has one) is the sum of the entries of its
//! sized components. So are the interval's allocation and free counters: each component
//! allocates its turnover plus its growth and frees its turnover plus its shrinkage, the
//! turnover being its own (an LRU's evicted batches replaced by inserts, a TTL cache's sweeps,
//! the old table freed at a doubling, sessions replaced once in 20 minutes, bloated values
//! rewritten at 2% an interval, 2,000 request blocks of 8 KiB at load 1, times the request
//! mix: a log-normal AR(1) factor of 10–30% spread and 30-minute to 3-hour correlation, drawn
//! from a stream of its own, so the allocation rate follows the traffic only roughly while the
//! live bytes are unchanged); a leak only allocates.
//! So is the sampler's age profile (`Snapshot::live_age`): each component knows how old what it
//! holds is (an LRU's insertion cohorts, evicted oldest first; a TTL cache's inserts; a table as
//! old as its last doubling; sessions uniform over their 20 minutes; values rewritten 2% an
//! interval; what is never freed as old as when it was added), and the shares are estimated
//! with the binomial noise of a 512 KiB sampling interval, from a random stream of their own so
//! that modelling them redraws nothing else.
//!
//! # The families
//!
//! Healthy (zero alarms expected): `idle` (exactly constant for 3 days, no requests),
//! `requests` (2 days), `lru_warm` (a cold LRU warming right after start, 2 days), `ttl_cache`
//! (3 days), `hash_doubling` (a doubling is a step: one RapidGrowth that says it settled is
//! allowed; 2 days), `interner` (2 days), `preload_step` (one RapidGrowth that says it settled
//! is allowed; 1 day), `batch_flat` (a Low PeriodicSpike is allowed; 1
//! day), `daily_cycle` (3 days), `near_budget` (a warm LRU at 75–90% of a budget, 2 days),
//! `ttl_budget` (`ttl_cache` with a budget 1.25–3 times its peak: a budget on a level that
//! moves with its load; 3 days),
//! `rss_follows` (process series, RSS following tracked bytes, with allocator retention after
//! huge requests and the allocator's own warm-up: 20–150 MB settling into RSS over 10 minutes
//! to 2 hours after start; 3 days). All but `idle` and the batch and bloat families carry
//! requests on top.
//!
//! Leaks (on top of the healthy components; the deadline is the time the leak takes to add
//! 100 MB, but at most 2 h after it first runs at 0.5 MB/min, the slowest rate the issue's
//! target covers; see `production::Truth`):
//! `linear_0.5`, `linear_1`, `linear_2`, `linear_5`, `linear_20` (MB/min, starting 30–90 min
//! in, while a cold LRU is still warming; 2, 2, 1, ½ and ¼ days; the leak is an unbounded map,
//! so the gauge rises with it); `late_start` (1 MB/min after 6–18 h of steady state under a TTL
//! cache); `exponential` (0.2–0.6 MB/min at its start 1–3 h in, doubling every 4–8 h, until it holds 4 GB, at most 1.5 days);
//! `daily_leak` (0.7–1.5 MB/min on average, its rate following the daily cycle, under a TTL
//! cache that follows it too); `staircase` (+60 MB every hour, never freed); `cache_bloat`
//! (bytes per entry rising 1–2 MB/min in total while the gauge and the cache's blocks stay flat,
//! under requests in flight: only CacheBloat is the right type); `batch_rising` (a batch job leaving 0.2–1 MB/min behind, a share of each run:
//! PeriodicSpike with rising minima or GradualGrowth); `fragmentation` (RSS rising 1–4 MB/min
//! over flat tracked bytes, from the first snapshot beside the same allocator warm-up in half
//! the seeds, after 2–8 hours of a settled gap in the others; process series); and with a **budget** (`Config::budgets`):
//! `linear_budget` (1–2 MB/min, the budget the scope's 30-minute median 8–20 h into the leak),
//! `exponential_budget` (50–80% of the way to 4 GB), `staircase_budget` (6–14 steps). The truth for time to
//! budget is when the trailing 30-minute median first reaches the budget, so a huge request
//! touching it early does not count.
//!
//! Each family is drawn at [`production::SEEDS`] seeds; every parameter above is drawn from the
//! seed. A case is a pure function of `(family, seed)`.
//!
//! # Tuning seeds and held-out seeds
//!
//! The detectors' constants were chosen while reading seeds `0..SEEDS`, and the tests in
//! `tests/production.rs` pin cases among them, so those seeds flatter the detectors. Judge a
//! change on seeds it was not tuned on as well: `LEAKSCOPE_CORPUS_SEEDS=8..24` draws 16 more
//! cases per family from the same generator. Measured at c9b832e (`cargo run --release
//! --example detector_eval`, both seed ranges): seeds 0..8 had 9 false alarms in 6 of 91
//! healthy cases, 81% of leaks on time and 177 of 212 cases meeting every target; seeds 8..24
//! had 48 false alarms in 33 of 179 healthy cases (ttl_cache 14 of 16, daily_cycle 9 of 16),
//! 69% of leaks on time and 289 of 420. After the four changes judged on both ranges that
//! followed (CacheBloat's traffic share, the slow pace on long spans and on staircases, rapid
//! growth's settled baseline): 8 in 6 of 91, 81%, 177 of 212; and 34 in 25 of 179 (ttl_cache
//! 12, daily_cycle 6), 71%, 297 of 420. A change that helps one range and not the other fits
//! the seeds, not the memory. Those four were chosen by reading the failures on 8..24, so that
//! range is partly spent too. On seeds 24..40, which nobody had read, c9b832e against the four
//! changes (the table's totals only, no failure examined): healthy false alarms 42 in 27 of 179
//! cases → 31 in 21, leaks found 97% → 100%, on time 75% → 77%, cases meeting every target
//! 308 → 318 of 420. The request mix (the allocation rate following the traffic only roughly)
//! came after those numbers: the default seeds' table is unchanged by it, seeds 8..24 go to 36
//! false alarms in 25 of 179 healthy cases, 71% on time and 297 of 420 (CacheBloat's traffic
//! share reads the allocation rate). The lifecycle's confirmation of a higher severity
//! (docs/detectors.md, "Lifecycle") was then judged on 8..24 and, for the first time, on
//! seeds 40..56 (totals only): 297 → 313 and 317 → 326 of 420, nothing but severity changes
//! moving. Seeds 40..56 are now read too. The family `ttl_budget` came next (a TTL cache with
//! a budget: 20, 48 and 30 false alarms in every or nearly every case of the three ranges),
//! with the budget rule's condition that the floor kept its gains, judged on 56..72 for the
//! first time (totals only): healthy false alarms 60 → 48 (in 28 → 26 of 195 cases), cases
//! meeting every target 327 → 329 of 436 (docs/detectors.md, rule 4). RapidGrowth's given-back
//! rule on levels held for two points was judged on seeds 72..88 for the first time: linear_20
//! on time 25% → 31%, 333 → 334 of 436, nothing else moving (docs/detectors.md, "RapidGrowth").
//! GradualGrowth's hysteresis (half the opening growth keeps a leak open) was judged on seeds
//! 88..104 for the first time: healthy false alarms 50 → 47, 326 → 328 of 436, one late_start
//! leak absorbed by a false alarm held into it (docs/detectors.md, rule 4). Seeds 104..120 were
//! then read once at 0a5f6f6, with no change to judge: 56 healthy false alarms in 37 of 195
//! cases, 99% of leaks found, 71% on time, 40/48 times to budget within 2×, 319 of 436 meeting
//! every target (the other ranges' figures, so no range was overfitted). Two recorded traces
//! came next: `trace_moka_ttl`, a real TTL cache, pages once (a Low staircase at minute 186,
//! the end of its first fill and a load swing read as two steps), as the modelled `ttl_cache`
//! does; `trace_lru_leak`, a load-following 1.3 MB/min leak beside a real LRU, is found in
//! 37 minutes. Judge the next change on seeds 120..136.
//!
//! # Why it is harder than production, not easier
//!
//! The load's innovations are heavy-tailed and autocorrelated (noise that trends for half an
//! hour), the daily cycle makes half of every day a rise, the warm-up overlaps the first leaks,
//! huge requests reach hundreds of MB, the allocation rate is a noisy measure of the traffic
//! (the request mix), so a detector cannot read the load off it exactly, and every case runs at the default configuration (100 MB
//! growth gate, 30-minute window) for hours to days, which is where slow leaks and slow healthy
//! growth are told apart.
#![deny(missing_docs)]

pub mod judge;
pub mod production;
pub mod rng;
pub mod scenarios;
pub mod traces;

/// The median of `values` (`None` when empty).
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}
