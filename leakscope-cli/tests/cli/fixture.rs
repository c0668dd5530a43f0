//! The fixture dump the CLI's golden tests render: a photo service three hours after start,
//! built from the detector scenario corpus so its leaks are what the real detectors say.
//!
//! Deterministic (seeded scenarios, fixed clock), committed as `tests/fixtures/service.json`
//! and regenerated with `LEAKSCOPE_BLESS=1`, so a reviewer sees the input of every golden file.
//!
//! - `sessions`: a linear leak of 1 MB/min from minute 60, with a budget (gradual growth);
//! - `thumbnails`: bytes per entry rising while entries stay flat (cache bloat);
//! - `users_cache`: an LRU eviction sawtooth with a flat floor (no leak);
//! - `interner`: a cache warming up to capacity (no leak);
//! - `import_buffers`: a batch import that takes 80 MB at minute 70 and frees it at minute 110
//!   (a step: a Low notice that it settled, resolved once the memory is given back);
//! - `unscoped`: flat.
//!
//! The history of each scope is what the collector would keep with `max_snapshots_per_cache =
//! 120`: the last hour at full resolution, coarse points before it.

use leakscope::analysis::{replay_series, DetectorConfig, Pressure, ProcessSnapshot, Snapshot};
use leakscope::dump::{Dump, ProcessInfo, ScopeDump, TrackerStats};
use leakscope::leaks::{CallSite, Frame};
use leakscope::{Config, Leak, ScopeHistory};
use leakscope_corpus::scenarios::{corpus_config, Kind, Scenario};

/// Snapshot interval of the fixture, seconds.
const INTERVAL: f64 = 30.0;
/// Minutes simulated.
const MINUTES: f64 = 180.0;
/// Points per tier kept in the dump's history.
const KEEP: usize = 120;
/// When the collector started, Unix seconds.
const START: f64 = 1_700_000_000.0;

fn frame(addr: u64, function: Option<&str>, file: &str, line: u32) -> Frame {
    Frame {
        addr,
        function: function.map(str::to_owned),
        file: (!file.is_empty()).then(|| file.to_owned()),
        line: (line > 0).then_some(line),
    }
}

fn site(scope: &str, frames: Vec<Frame>, live: u64, samples: u64, age: [u64; 3]) -> CallSite {
    CallSite {
        scope: scope.into(),
        frames,
        live_bytes: live,
        live_blocks: live / 2048,
        samples,
        bytes_older_than: age,
        threads: vec!["tokio-runtime-worker (31341)".into()],
    }
}

/// The sampled call sites, largest first, frames innermost first.
fn call_sites() -> Vec<CallSite> {
    let tokio = frame(
        0x55d0_0010_2000,
        Some("tokio::runtime::task::harness::Harness<T,S>::poll"),
        "/root/.cargo/registry/src/tokio-1.41.0/src/runtime/task/harness.rs",
        163,
    );
    let service = frame(
        0x55d0_0020_3000,
        Some("<photo_api::App as tower_service::Service<http::request::Request<B>>>::call"),
        "src/app.rs",
        51,
    );
    let mut sites = vec![
        site(
            "sessions",
            vec![
                frame(
                    0x55d0_0030_1a40,
                    Some("photo_api::session::SessionStore::record_event"),
                    "src/session.rs",
                    88,
                ),
                frame(
                    0x55d0_0030_5b10,
                    Some("photo_api::handlers::upload::finish"),
                    "src/handlers/upload.rs",
                    142,
                ),
                service.clone(),
                tokio.clone(),
                frame(0x55d0_0000_0f00, None, "", 0),
            ],
            112_400_000,
            214,
            [111_900_000, 104_300_000, 61_000_000],
        ),
        site(
            "thumbnails",
            vec![
                frame(
                    0x55d0_0040_2210,
                    Some("photo_api::thumbs::Thumbnail::render_variants"),
                    "src/thumbs.rs",
                    203,
                ),
                frame(
                    0x55d0_0040_0c80,
                    Some("photo_api::thumbs::ThumbCache::get_or_render"),
                    "src/thumbs.rs",
                    77,
                ),
                service.clone(),
                tokio.clone(),
            ],
            96_800_000,
            185,
            [95_000_000, 81_200_000, 20_100_000],
        ),
        site(
            "users_cache",
            vec![
                frame(
                    0x55d0_0050_7700,
                    Some("photo_api::users::UserCache::insert"),
                    "src/users.rs",
                    64,
                ),
                frame(
                    0x55d0_0050_6a00,
                    Some("photo_api::handlers::profile::load"),
                    "src/handlers/profile.rs",
                    29,
                ),
                service.clone(),
                tokio.clone(),
            ],
            84_100_000,
            160,
            [70_200_000, 9_800_000, 0],
        ),
        site(
            "interner",
            vec![
                frame(
                    0x55d0_0060_1100,
                    Some("<[u8; 32] as photo_api::digest::ToKey>::to_key"),
                    "src/digest.rs",
                    19,
                ),
                frame(
                    0x55d0_0060_2400,
                    Some("photo_api::intern::Interner::intern"),
                    "src/intern.rs",
                    40,
                ),
                service,
                tokio,
            ],
            41_000_000,
            79,
            [40_800_000, 39_500_000, 30_000_000],
        ),
    ];
    sites.sort_by_key(|s| std::cmp::Reverse(s.live_bytes));
    sites
}

/// A batch import: flat, 80 MB more from minute 70 (over two minutes), freed at minute 110.
fn import_series() -> Vec<Snapshot> {
    let base = Scenario::new(Kind::Stable, INTERVAL, 0, 11);
    base.series
        .iter()
        .map(|s| {
            let m = s.t / 60.0;
            let extra = if (70.0..110.0).contains(&m) {
                80e6 * ((m - 70.0) / 2.0).min(1.0)
            } else {
                0.0
            };
            let mut s = s.clone();
            s.curr_bytes = (s.curr_bytes as f64 / 8.0 + extra) as u64;
            s.curr_blocks = s.curr_bytes / 4096;
            s
        })
        .collect()
}

fn config() -> Config {
    let mut config = corpus_config(INTERVAL);
    config.max_snapshots_per_cache = KEEP;
    config.budgets.insert("sessions".into(), 450_000_000);
    config.budgets.insert("thumbnails".into(), 1_000_000_000);
    config
}

/// Each scope's turnover per interval (bytes taken and given back) and the age profile of its
/// live sampled memory (shares older than 1, 10 and 100 intervals, in ten-thousandths).
fn churn_of(scope: &str) -> (u64, [u16; 3]) {
    match scope {
        "sessions" => (200_000, [9_800, 8_500, 3_000]),
        "thumbnails" => (1_000_000, [9_500, 8_100, 2_000]),
        "users_cache" => (4_000_000, [8_300, 1_200, 0]),
        "interner" => (50_000, [9_900, 9_600, 7_300]),
        "import_buffers" => (2_000_000, [6_000, 1_000, 0]),
        _ => (500_000, [9_000, 5_000, 1_000]),
    }
}

/// The process's memory pressure at snapshot `i` of `n`: stalls rising as the leak grows,
/// the cgroup a little above RSS, a few throttling events and major faults accumulating.
fn pressure_at(i: usize, n: usize, rss: u64) -> Pressure {
    let f = i as f64 / n.max(1) as f64;
    // Pressure and Stall are non-exhaustive: built from their JSON, as a dump reader sees them.
    let pct = |v: f64| (v * 100.0).round() / 100.0;
    let stall = |share: f64, total_us: u64| serde_json::json!({ "avg10": pct(share), "avg60": pct(share * 0.8), "total_us": total_us });
    let json = serde_json::json!({
        "psi": {
            "source": "cgroup",
            "some": stall(2.0 * f, (i as u64) * 40_000),
            "full": stall(0.5 * f, (i as u64) * 9_000),
        },
        "cgroup": {
            "current_bytes": rss + rss / 10,
            "max_bytes": 4_000_000_000u64,
            "events": { "high": (i / 60) as u64, "max": 0, "oom": 0, "oom_kill": 0 },
        },
        "major_faults": 120 + 3 * i as u64,
    });
    serde_json::from_value(json).expect("a pressure reading")
}

/// The fixture dump.
pub fn service_dump() -> Dump {
    let config = config();
    let sites = call_sites();
    let mut scenarios: Vec<(&str, Vec<Snapshot>)> = vec![
        (
            "sessions",
            Scenario::new(Kind::Linear { mb_per_min: 1.0 }, INTERVAL, 1, 1).series,
        ),
        (
            "thumbnails",
            Scenario::new(Kind::BloatPerEntry, INTERVAL, 1, 2).series,
        ),
        (
            "users_cache",
            Scenario::new(Kind::LruChurn, INTERVAL, 1, 3).series,
        ),
        (
            "interner",
            Scenario::new(Kind::WarmUp, INTERVAL, 1, 4).series,
        ),
        ("import_buffers", import_series()),
        (
            "unscoped",
            Scenario::new(Kind::Stable, INTERVAL, 0, 5).series,
        ),
    ];
    for (_, series) in &mut scenarios {
        series.retain(|s| s.t <= MINUTES * 60.0);
    }
    // The interner holds small strings: scale it down to a realistic size.
    for s in &mut scenarios[3].1 {
        s.curr_bytes /= 4;
    }
    let clock = MINUTES * 60.0;
    let mut process = ProcessInfo::new(31_337);
    process.executable = Some("/srv/photo-api/bin/photo-api".into());
    process.start_time_unix = Some(START - 2.5);
    process.cgroup_limit_bytes = Some(4_000_000_000);
    let mut dump = Dump::new(START + clock, clock, process, config.clone());

    let mut leaks: Vec<Leak> = Vec::new();
    let mut process_history: Vec<ProcessSnapshot> = Vec::new();
    let n = scenarios[0].1.len();
    let self_bytes = 2_400_000u64;
    for i in 0..n {
        let t = scenarios[0].1[i].t;
        let tracked: u64 = scenarios.iter().map(|(_, s)| s[i].curr_bytes).sum::<u64>() + self_bytes;
        let rss = (tracked as f64 * 1.18) as u64 + 60_000_000;
        let mut p = ProcessSnapshot::new(t, Some(rss), tracked, self_bytes);
        p.pressure = Some(Box::new(pressure_at(i, n, rss)));
        process_history.push(p);
    }
    let rss = process_history.last().and_then(|p| p.rss_bytes);
    dump.process.rss_bytes = rss;

    for (name, series) in &mut scenarios {
        // Churn: each interval the scope takes and gives back `turnover` bytes in 2 KB blocks,
        // plus what its live bytes rose (taken) or fell (given back), so the counters reconcile
        // with curr_bytes; a leak's free ratio falls as its growth outweighs its turnover.
        let (turnover, age) = churn_of(name);
        let mut prev = series.first().map_or(0, |s| s.curr_bytes);
        for s in series.iter_mut() {
            s.rss_bytes = rss;
            let rise = s.curr_bytes.saturating_sub(prev);
            let fall = prev.saturating_sub(s.curr_bytes);
            prev = s.curr_bytes;
            s.bytes_allocated = turnover + rise;
            s.bytes_freed = turnover + fall;
            s.allocs = s.bytes_allocated.div_ceil(2_048);
            s.frees = s.bytes_freed.div_ceil(2_048);
            // Age profiles from the second hour on: sampling was switched on then.
            s.live_age = (s.t > 3_600.0).then_some(age);
        }
        let scope_sites: Vec<CallSite> =
            sites.iter().filter(|s| s.scope == *name).cloned().collect();
        leaks.extend(
            replay_series(name, series, &DetectorConfig::from(&config), &scope_sites)
                .expect("valid series"),
        );
        let mut history = ScopeHistory::new(KEEP);
        for s in series.iter() {
            history.push(s.clone());
        }
        let last = series.last().expect("a series");
        let mut scope = ScopeDump::new(*name);
        scope.stats.curr_bytes = last.curr_bytes;
        scope.stats.curr_blocks = last.curr_blocks;
        scope.stats.total_allocs = series.iter().map(|s| s.allocs).sum();
        scope.stats.total_frees = series.iter().map(|s| s.frees).sum();
        scope.stats.total_bytes_freed = series.iter().map(|s| s.bytes_freed).sum();
        scope.stats.total_bytes_allocated = scope.stats.total_bytes_freed + last.curr_bytes;
        scope.stats.max_bytes = series.iter().map(|s| s.curr_bytes).max().unwrap_or(0);
        scope.entries = last.entries;
        scope.budget_bytes = config.budget(name);
        scope.history = history.series();
        dump.scopes.push(scope);
    }
    dump.scopes.sort_by(|a, b| a.name.cmp(&b.name));
    // Each replay numbers its leaks from 1; the collector numbers them across scopes in the
    // order they were raised.
    leaks.sort_by(|a, b| a.first_detected.total_cmp(&b.first_detected));
    for (i, leak) in leaks.iter_mut().enumerate() {
        leak.id = i as u64 + 1;
    }
    dump.leaks = leaks;
    dump.process_history = process_history.split_off(process_history.len().saturating_sub(KEEP));
    dump.top_call_sites = sites;
    let mut tracker = TrackerStats::default();
    tracker.self_bytes = self_bytes;
    tracker.samples_taken = 48_211;
    tracker.samples_dropped = 0;
    tracker.channel_full_retries = 4;
    tracker.dumps_written = 180;
    tracker.dump_errors = 0;
    dump.tracker = tracker;
    dump
}
