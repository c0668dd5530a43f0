//! examples/axum_service.rs end to end on a manual clock: the real service (axum on tokio's
//! multi-thread runtime, the moka cache, the memo) answers real HTTP requests over loopback in
//! rounds. After each round every worker has flushed its counts, the clock moves one snapshot
//! interval and the collector takes its snapshot, so the detectors see the same series of
//! equally spaced snapshots however fast or loaded the machine is. Then the dump, written and
//! read back: the memo's leak is found in the memo's scope with its producer (`render`) as the
//! top call site, the bounded moka cache raises nothing, and `unscoped` does not grow.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use leakscope::ManualClock;

#[path = "../examples/axum_service.rs"]
mod service;

/// Rounds of requests, one snapshot after each: 10 s of history at the example's 0.1 s.
const ROUNDS: u64 = 100;
/// Requests each connection sends per round: 40 a round, half of them renders.
const PER_CLIENT: u64 = 5;

/// How many of the runtime's workers are parked. A worker flushes its pending counts as it
/// parks, so once all of them are parked the registry holds every count of the work they ran.
#[derive(Default)]
struct Parked {
    count: Mutex<usize>,
    changed: Condvar,
}

impl Parked {
    fn add(&self, delta: isize) {
        let mut count = self.count.lock().unwrap();
        *count = count.checked_add_signed(delta).unwrap();
        self.changed.notify_all();
    }

    /// Waits until every worker is parked.
    ///
    /// # Panics
    /// If they are not within a minute: an idle runtime parks its workers at once, so the service
    /// is stuck.
    fn wait_for_all(&self) {
        let count = self.count.lock().unwrap();
        let (_count, timeout) = self
            .changed
            .wait_timeout_while(count, Duration::from_secs(60), |c| *c < service::WORKERS)
            .unwrap();
        assert!(
            !timeout.timed_out(),
            "the runtime's workers did not go idle"
        );
    }
}

/// Runs the service for `ROUNDS` rounds on a collector over `clock` writing to `path`; returns
/// the requests answered.
fn run_in_rounds(path: &str) -> u64 {
    let config = service::config(path).unwrap();
    let interval = config.snapshot_interval_seconds;
    let clock = Arc::new(ManualClock::default());
    let collector = leakscope::__start_manual(config, clock.clone()).unwrap();
    let parked = Arc::new(Parked::default());
    let (on_park, on_unpark) = (parked.clone(), parked.clone());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(service::WORKERS)
        .enable_all()
        .on_thread_park(move || {
            leakscope::flush();
            on_park.add(1);
        })
        .on_thread_unpark(move || on_unpark.add(-1))
        .build()
        .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let (addr, server, caches) = rt.block_on(service::serve(stop_rx));
    let client = rt.block_on(async { service::client() });
    let per_round = service::CLIENTS * PER_CLIENT;
    let mut answered = 0;
    for round in 0..ROUNDS {
        answered += rt.block_on(service::load(
            &client,
            addr,
            round * per_round,
            PER_CLIENT,
            None,
        ));
        parked.wait_for_all();
        leakscope::flush();
        clock.advance(interval);
        collector.tick();
    }
    drop(client);
    let _ = stop_tx.send(());
    rt.block_on(server).unwrap();
    // The final dump is written while the caches still hold what they cached.
    collector.shutdown().unwrap();
    drop(caches);
    drop(rt);
    answered
}

#[test]
fn the_memo_leaks_in_its_scope_moka_is_quiet_and_unscoped_holds_still() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dump.json");
    let requests = ROUNDS * service::CLIENTS * PER_CLIENT;
    assert_eq!(run_in_rounds(path.to_str().unwrap()), requests);
    let dump = leakscope::dump::read_dump(&path).unwrap();
    let leaks_of = |scope: &str| -> Vec<_> {
        dump.leaks
            .iter()
            .filter(|l| l.finding.scope == scope)
            .collect()
    };
    let memo = leaks_of("render_memo");
    assert!(!memo.is_empty(), "no leak on the memo: {:#?}", dump.leaks);
    let top = memo[0]
        .finding
        .top_sites
        .first()
        .expect("the memo's leak names a call site");
    let names: Vec<&str> = top
        .frames
        .iter()
        .filter_map(|f| f.function.as_deref())
        .collect();
    // The producer's body, named with its path in debug and release builds alike: in release
    // (line tables only) from the `Scoped::poll` generic over it, as `{async fn}`; in debug from
    // its linkage name, which legacy mangling spells `render::{{closure}}`.
    let producer = [
        "axum_service::service::render::{async fn}",
        "axum_service::service::render::{closure}",
    ];
    assert!(
        names.first().is_some_and(|n| producer.contains(n)),
        "the producer is not the top site: {names:#?}"
    );
    // Then its consumer, the handler, and axum's block that calls the handler. That block is
    // polled through a boxed dyn future, which names no type: in release its name comes from
    // its own symbol (the debug info calls it `{async_block#0}`).
    let (consumer, axum_block) = if cfg!(debug_assertions) {
        (
            "axum_service::service::render_handler::{closure}",
            "<F as axum::handler::Handler<(M,T1,T2),S>>::call::{closure}",
        )
    } else {
        (
            "axum_service::service::render_handler::{async fn}",
            "<F as axum::handler::Handler<(M,T1,T2),S>>::call::{async block}",
        )
    };
    assert_eq!(names[1..3], [consumer, axum_block], "{names:#?}");
    // leakscope's `Scoped::poll`, which the producer was polled through, is not shown: by
    // name in debug, by its file in release (where it reads `poll<..render::{async_fn_env#0}>`).
    let own = concat!(env!("CARGO_MANIFEST_DIR"), "/src/");
    assert!(
        top.frames.iter().all(|f| {
            !f.file.as_deref().is_some_and(|file| file.contains(own))
                && !f
                    .function
                    .as_deref()
                    .is_some_and(|n| n.contains("leakscope::"))
        }),
        "leakscope's own frames in the site: {:#?}",
        top.frames
    );
    assert!(
        leaks_of("users_cache").is_empty(),
        "{:#?}",
        leaks_of("users_cache")
    );
    assert!(
        leaks_of("unscoped").is_empty(),
        "{:#?}",
        leaks_of("unscoped")
    );
    let scope = |name: &str| dump.scope(name).unwrap();
    let memo = scope("render_memo");
    // Every page rendered is the memo's, and little else: its table (32 bytes a bucket).
    let renders = (0..requests).filter(|&n| service::is_render(n));
    let pages: u64 = renders.clone().map(|n| service::page_len(n) as u64).sum();
    assert_eq!(memo.entries, Some(renders.count() as u64));
    assert_eq!(memo.entries, Some(2000));
    assert!(
        (pages..pages + 256 * 1024).contains(&memo.stats.curr_bytes),
        "memo {} for {pages} bytes of pages",
        memo.stats.curr_bytes
    );
    // The detectors saw one snapshot a round, equally spaced, each with exactly the pages
    // rendered by then (every worker had flushed).
    let interval = service::config("").unwrap().snapshot_interval_seconds;
    assert_eq!(memo.history.len() as u64, ROUNDS);
    for (round, s) in (1..=ROUNDS).zip(&memo.history) {
        assert!((s.t - round as f64 * interval).abs() < 1e-6, "{}", s.t);
        let rendered =
            (0..round * service::CLIENTS * PER_CLIENT).filter(|&n| service::is_render(n));
        let pages: u64 = rendered.clone().map(|n| service::page_len(n) as u64).sum();
        assert_eq!(s.entries, Some(rendered.count() as u64), "at {}", s.t);
        assert!(
            (pages..pages + 256 * 1024).contains(&s.curr_bytes),
            "memo {} at {} for {pages} bytes of pages",
            s.curr_bytes,
            s.t
        );
    }
    assert!(scope("users_cache").entries.unwrap() <= service::USERS_CAPACITY);
    // The cache is full from the first snapshot (`warm`): filled by the load over several
    // detection windows at this time scale, it reads as a leak.
    let first = scope("users_cache").history.first().map(|s| s.entries);
    assert_eq!(first, Some(Some(service::USERS_CAPACITY)));
    // What the memo keeps is the memo's: unscoped holds a small fraction of it.
    assert!(
        scope("unscoped").stats.curr_bytes < memo.stats.curr_bytes / 4,
        "unscoped {} vs memo {}",
        scope("unscoped").stats.curr_bytes,
        memo.stats.curr_bytes
    );
}
