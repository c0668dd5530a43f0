//! The main demo: a small service with three caches, one healthy and two not, watched by
//! leakscope for about 30 seconds. It writes `leakscope.json`, which the CLI turns into a report:
//!
//! ```sh
//! cargo run --release --example leaky_service && cargo run --release -- report leakscope.json
//! ```
//!
//! - `users_cache`: a bounded cache (LRU-like eviction) that warms up and then stays flat. Healthy.
//! - `memo_cache`: a memo table that is never evicted. It leaks about 12 MB a minute.
//! - `sessions`: a fixed number of sessions, each keeping its whole event history. Its entry
//!   count is flat while its bytes grow: cache bloat.
//!
//! Time is compressed: a snapshot every 0.25 s and detection windows of seconds make the whole
//! detection fit in half a minute. `LEAKSCOPE_DEMO_SECS` changes the run time.

use std::collections::{HashMap, VecDeque};
use std::hint::black_box;
use std::time::{Duration, Instant};

use leakscope::{leaks::LeakEvent, Config, Scope};

#[global_allocator]
static ALLOC: leakscope::Alloc = leakscope::Alloc::system();

static USERS: Scope = Scope::new("users_cache");
static MEMO: Scope = Scope::new("memo_cache");
static SESSIONS: Scope = Scope::new("sessions");

fn main() -> Result<(), leakscope::Error> {
    let secs: u64 = std::env::var("LEAKSCOPE_DEMO_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let config = Config::builder()
        .set("snapshot_interval_seconds", 0.25)
        .set("dump_interval_seconds", 2)
        .set("detection_window_minutes", 0.25)
        .set("rapid_growth_window_minutes", 0.1)
        .set("baseline_calculation_minutes", 0.25)
        .set("memory_growth_threshold_mb", 1)
        .set("growth_rate_threshold_mb_per_min", 2)
        .set("sustained_high_threshold_mb", 256)
        .set("sample_interval_bytes", "64KiB")
        .set("dump_path", "leakscope.json")
        .budget("memo_cache", 64 << 20)
        .budget("users_cache", 16 << 20)
        .build()?;
    // Settings from the environment (LEAKSCOPE="key=value,...") override the demo's.
    let mut config = config;
    if let Ok(extra) = std::env::var("LEAKSCOPE") {
        config.set_many(&extra)?;
    }
    leakscope::on_leak(|event| match event {
        LeakEvent::New(leak) => println!(
            "  leak: {} {:?} {:?} — {}",
            leak.finding.scope, leak.finding.leak_type, leak.finding.severity, leak.finding.summary
        ),
        LeakEvent::SteppedAgain(leak) => println!(
            "  stepped again: {} {:?} — {}",
            leak.finding.scope, leak.finding.leak_type, leak.finding.summary
        ),
        LeakEvent::Resolved(leak) => println!(
            "  resolved: {} {:?}",
            leak.finding.scope, leak.finding.leak_type
        ),
        _ => {}
    });
    let collector = leakscope::start(config)?;
    println!("leaky_service: running for {secs} s (a snapshot every 0.25 s)");

    let deadline = Instant::now() + Duration::from_secs(secs);
    let workers = [
        std::thread::Builder::new()
            .name("users-api".into())
            .spawn(move || serve_users(deadline)),
        std::thread::Builder::new()
            .name("memo-worker".into())
            .spawn(move || memoize(deadline)),
        std::thread::Builder::new()
            .name("session-worker".into())
            .spawn(move || track_sessions(deadline)),
    ];
    let mut next_report = Instant::now();
    while Instant::now() < deadline {
        if Instant::now() >= next_report {
            next_report += Duration::from_secs(5);
            let line: Vec<String> = ["users_cache", "memo_cache", "sessions"]
                .iter()
                .filter_map(|name| {
                    let s = leakscope::live::stats_by_name(name)?;
                    Some(format!("{name} {:.1} MB", s.curr_bytes as f64 / 1e6))
                })
                .collect();
            println!("  {}", line.join(", "));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // The caches outlive their workers, as a service's would: the final dump sees them full.
    let caches: Vec<Box<dyn std::any::Any + Send>> = workers
        .into_iter()
        .map(|w| {
            w.expect("spawn a worker")
                .join()
                .expect("a worker panicked")
        })
        .collect();
    collector.shutdown()?;
    drop(caches);
    println!("leaky_service: wrote leakscope.json");
    Ok(())
}

/// A tiny deterministic generator: the demo is the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A bounded cache: at most 4,000 users of about 1 KB, oldest evicted first. It fills up in a
/// few seconds and then stays flat under churn. Healthy.
fn serve_users(deadline: Instant) -> Box<dyn std::any::Any + Send> {
    const CAPACITY: usize = 4_000;
    let mut rng = Rng(0x5EED);
    let mut cache: HashMap<u64, Vec<u8>> = HashMap::new();
    let mut order: VecDeque<u64> = VecDeque::new();
    while Instant::now() < deadline {
        for _ in 0..200 {
            let id = rng.next() % 20_000;
            if cache.contains_key(&id) {
                black_box(&cache[&id]);
                continue;
            }
            let _g = USERS.enter();
            cache.insert(id, vec![1u8; 900 + (id % 200) as usize]);
            order.push_back(id);
            if order.len() > CAPACITY {
                if let Some(old) = order.pop_front() {
                    cache.remove(&old);
                }
            }
        }
        USERS.set_entry_count(cache.len());
        std::thread::sleep(Duration::from_millis(10));
    }
    Box::new((cache, order))
}

/// A memo table nobody evicts: every new key stays forever, about 200 KB a second.
#[inline(never)]
fn memoize(deadline: Instant) -> Box<dyn std::any::Any + Send> {
    let mut memo: HashMap<u64, String> = HashMap::new();
    let mut key = 0u64;
    while Instant::now() < deadline {
        {
            let _g = MEMO.enter();
            for _ in 0..10 {
                key += 1;
                memo.insert(key, render_report(key));
            }
        }
        MEMO.set_entry_count(memo.len());
        std::thread::sleep(Duration::from_millis(50));
    }
    Box::new(memo)
}

/// The expensive computation whose results are memoized: about 1 KB of text.
#[inline(never)]
fn render_report(key: u64) -> String {
    format!("report {key}: {}", "#".repeat(1000))
}

/// 500 sessions, a fixed number, each appending every event to its history: the entry count is
/// flat while the bytes grow.
fn track_sessions(deadline: Instant) -> Box<dyn std::any::Any + Send> {
    let mut sessions: HashMap<u32, Vec<[u8; 64]>> = {
        let _g = SESSIONS.enter();
        (0..500).map(|id| (id, Vec::new())).collect()
    };
    SESSIONS.set_entry_count(sessions.len());
    let mut rng = Rng(0xB10A7);
    while Instant::now() < deadline {
        {
            let _g = SESSIONS.enter();
            for _ in 0..100 {
                let id = (rng.next() % 500) as u32;
                if let Some(history) = sessions.get_mut(&id) {
                    push_event(history);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Box::new(sessions)
}

/// Appends one event to a session's history, which nothing ever trims.
#[inline(never)]
fn push_event(history: &mut Vec<[u8; 64]>) {
    history.push([7u8; 64]);
}
