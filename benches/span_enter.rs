//! What `spans::ScopeLayer` costs per span enter and exit: one span entered and exited
//! 10 million times under tracing-subscriber's registry alone, under the registry with the
//! layer (a span without a scope, and one with), and `Scope::enter` for comparison. Variants are
//! interleaved round by round and the median round is reported, with ratios to the registry
//! alone.
//!
//! `cargo bench --features tracing --bench span_enter` (`ROUNDS=`, default 11; `ENTERS=`,
//! default 10,000,000). `VARIANT=0..3` runs one variant alone (registry, layer without scope,
//! layer with scope, `Scope::enter`), for instruction counts under callgrind: the difference
//! between two `ENTERS` over their difference is the instructions per enter and exit, free of
//! the machine's load.

use std::hint::black_box;
use std::time::Instant;

use leakscope::tasks::ScopeLayer;
use leakscope::Scope;
use tracing::Span;
use tracing_subscriber::layer::SubscriberExt;

#[global_allocator]
static ALLOC: leakscope::Alloc = leakscope::Alloc::system();

static S: Scope = Scope::new("bench_span");

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Nanoseconds per enter and exit of `span`.
fn ns_per_enter(span: &Span, enters: u64) -> f64 {
    let t = Instant::now();
    for _ in 0..enters {
        let _e = black_box(span).enter();
        black_box(());
    }
    t.elapsed().as_nanos() as f64 / enters as f64
}

fn ns_per_guard(enters: u64) -> f64 {
    let t = Instant::now();
    for _ in 0..enters {
        let _g = black_box(&S).enter();
        black_box(());
    }
    t.elapsed().as_nanos() as f64 / enters as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let rounds = env("ROUNDS", 11) as usize;
    let enters = env("ENTERS", 10_000_000);
    let bare = tracing::Dispatch::new(tracing_subscriber::registry());
    let layered = tracing::Dispatch::new(tracing_subscriber::registry().with(ScopeLayer::new()));
    // The spans keep the dispatcher they were created under.
    let plain_bare = tracing::dispatcher::with_default(&bare, || tracing::info_span!("plain"));
    let plain_layered =
        tracing::dispatcher::with_default(&layered, || tracing::info_span!("plain"));
    let scoped_layered = tracing::dispatcher::with_default(&layered, || {
        tracing::info_span!("scoped", leakscope.scope = "bench_span")
    });
    let run = |v: usize| match v {
        0 => ns_per_enter(&plain_bare, enters),
        1 => ns_per_enter(&plain_layered, enters),
        2 => ns_per_enter(&scoped_layered, enters),
        _ => ns_per_guard(enters),
    };
    if let Ok(v) = std::env::var("VARIANT") {
        let v: usize = v.parse().expect("VARIANT is 0, 1, 2 or 3");
        println!("variant {v}: {:.2} ns per enter + exit", run(v));
        return;
    }
    let mut times: [Vec<f64>; 4] = Default::default();
    for round in 0..rounds {
        // Rotate which variant goes first.
        for k in 0..4 {
            let v = (round + k) % 4;
            times[v].push(run(v));
        }
    }
    let [bare_ns, plain_ns, scoped_ns, guard_ns] = times.map(median);
    println!("span enter + exit, {enters} times, median of {rounds} rounds:");
    println!("  registry alone, no layer        {bare_ns:7.2} ns  1.000x");
    println!(
        "  registry + ScopeLayer, no scope {plain_ns:7.2} ns  {:.3}x",
        plain_ns / bare_ns
    );
    println!(
        "  registry + ScopeLayer, scoped   {scoped_ns:7.2} ns  {:.3}x",
        scoped_ns / bare_ns
    );
    println!(
        "  Scope::enter (no span)          {guard_ns:7.2} ns  {:.3}x",
        guard_ns / bare_ns
    );
    println!(
        "  the layer's own cost per enter + exit of a scoped span: {:.2} ns",
        scoped_ns - bare_ns
    );
}
