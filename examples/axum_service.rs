//! A real async service: axum on tokio's multi-thread runtime, a bounded `moka::future::Cache`
//! (healthy) and a memo that is never evicted (the leak), both scoped with
//! `.in_scope(&SCOPE)`, driven over loopback by a hyper client with a bounded number of
//! requests. It stops by itself and writes `axum_service.leakscope.json`:
//!
//! ```sh
//! cargo run --release --example axum_service && cargo run --release -p leakscope-cli -- report axum_service.leakscope.json
//! ```
//!
//! The cache is full before the first request (`warm`), as a production cache is after its first
//! minutes. Filled from empty by the load (about 50 new users a second at the default 20 s), it
//! took 10 s to reach capacity, three of the compressed 3-s detection windows, at about
//! 5 MB/min, and was raised as a High gradual growth in each of three runs: past the warm-up allowance
//! (one baseline window) only a fill slower than the rate threshold is told from a leak
//! (docs/detectors.md, GradualGrowth rule 6), and at this time scale the fill is five times it.
//!
//! `LEAKSCOPE_DEMO_SECS` sets how long the load runs (20 s by default). `tests/axum_service.rs`
//! runs the same service and client (`serve`, `client`, `load`) on a manual clock instead, a
//! snapshot after each round of requests, and checks the dump.

use std::collections::HashMap;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use leakscope::tasks::InScope;
use leakscope::{Config, Scope};

#[global_allocator]
static ALLOC: leakscope::Alloc = leakscope::Alloc::system();

/// The leak: rendered pages memoized by request id, never evicted.
pub static MEMO: Scope = Scope::new("render_memo");
/// The healthy cache: user records, at most `USERS_CAPACITY` of them.
pub static USERS: Scope = Scope::new("users_cache");

/// The most user records the cache keeps.
pub const USERS_CAPACITY: u64 = 500;
/// Concurrent client connections.
pub const CLIENTS: u64 = 8;
/// Worker threads of the runtime the service and its client run on.
pub const WORKERS: usize = 2;

/// The client: one pool of keep-alive connections over loopback.
pub type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// The service's caches.
#[derive(Clone)]
pub struct AppState {
    memo: Arc<Mutex<HashMap<u64, Vec<u8>>>>,
    users: moka::future::Cache<u64, Arc<Vec<u8>>>,
}

/// Whether request `n` asks for a page (`/render/n`) or a user record (`/user/n`): half each.
pub fn is_render(n: u64) -> bool {
    n.is_multiple_of(2)
}

/// The length of the page `render` produces for `id`: 2-3 KB.
pub fn page_len(id: u64) -> usize {
    2048 + (id % 64) as usize * 16
}

/// The memo's producer: what the memo keeps is allocated here.
#[inline(never)]
async fn render(id: u64) -> Vec<u8> {
    tokio::task::yield_now().await; // a real handler awaits something before it has the body
    black_box(vec![b'x'; page_len(id)])
}

async fn load_user(id: u64) -> Arc<Vec<u8>> {
    Arc::new(black_box(vec![b'u'; 1024 + (id % 16) as usize * 64]))
}

async fn render_handler(State(app): State<AppState>, Path(id): Path<u64>) -> String {
    // Right: the producer runs in the memo's scope, on whichever worker polls it.
    let body = render(id).in_scope(&MEMO).await;
    let len = body.len();
    MEMO.in_scope(|| {
        let mut memo = app.memo.lock().unwrap();
        // The leak: ids never repeat, nothing is removed.
        memo.insert(id, body);
        // The count is set under the lock: set after it, a handler that lost the CPU in
        // between could write its stale count over a newer one.
        MEMO.set_entry_count(memo.len());
    });
    len.to_string()
}

async fn user_handler(State(app): State<AppState>, Path(id): Path<u64>) -> String {
    let key = id % (4 * USERS_CAPACITY);
    let user = app
        .users
        .get_with(key, load_user(key))
        .in_scope(&USERS)
        .await;
    USERS.set_entry_count(app.users.entry_count() as usize);
    user.len().to_string()
}

/// Fills `users` to capacity with users of an earlier day, whom the load never asks for again
/// (keys from `4 * USERS_CAPACITY` on, odd as the load's are, so their records have the same
/// sizes): the load's users take their places one by one, and the cache evicts from the first
/// request on. They go in by the handler's path, `get_with`: put in with `insert`, entries took
/// about 200 bytes less each (2.0 KB against 2.2 KB) and the scope's floor rose 120 KB over the
/// 10 s the load took to replace them.
async fn warm(users: &moka::future::Cache<u64, Arc<Vec<u8>>>) {
    for k in 0..USERS_CAPACITY {
        let key = 4 * USERS_CAPACITY + 2 * k + 1;
        users.get_with(key, load_user(key)).await;
    }
    users.run_pending_tasks().await;
    USERS.set_entry_count(users.entry_count() as usize);
}

/// Serves on a loopback port until `stop` resolves; returns the address, the server task and
/// the caches (kept by the caller, so the final dump still sees them).
pub async fn serve(
    stop: tokio::sync::oneshot::Receiver<()>,
) -> (SocketAddr, tokio::task::JoinHandle<()>, AppState) {
    let users = USERS.in_scope(|| {
        moka::future::Cache::builder()
            .max_capacity(USERS_CAPACITY)
            .build()
    });
    warm(&users).in_scope(&USERS).await;
    let app = AppState {
        memo: Arc::default(),
        users,
    };
    let router = Router::new()
        .route("/render/{id}", get(render_handler))
        .route("/user/{id}", get(user_handler))
        .with_state(app.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stop.await;
            })
            .await
            .unwrap();
    });
    (addr, server, app)
}

/// A client whose connections run on the current runtime.
pub fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Sends requests `first..first + CLIENTS * per_client` to `addr`, `per_client` in turn from
/// each of `CLIENTS` connections, and returns how many were answered. With a `pause`, each
/// connection sends its `i`th request no earlier than `i * pause` after it started; without
/// one, as fast as the service answers.
pub async fn load(
    client: &HttpClient,
    addr: SocketAddr,
    first: u64,
    per_client: u64,
    pause: Option<Duration>,
) -> u64 {
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let client = client.clone();
            tokio::spawn(async move {
                let start = Instant::now();
                let mut answered = 0;
                for i in 0..per_client {
                    let n = first + c * per_client + i;
                    let path = if is_render(n) { "render" } else { "user" };
                    let uri = format!("http://{addr}/{path}/{n}").parse().unwrap();
                    let resp = client.get(uri).await.unwrap();
                    assert!(resp.status().is_success());
                    resp.into_body().collect().await.unwrap();
                    answered += 1;
                    if let Some(pause) = pause {
                        let due = start + pause * (i as u32 + 1);
                        tokio::time::sleep_until(due.into()).await;
                    }
                }
                answered
            })
        })
        .collect();
    let mut answered = 0;
    for t in tasks {
        answered += t.await.unwrap();
    }
    answered
}

/// The collector's settings: time compressed so a few seconds of load are enough.
pub fn config(dump_path: &str) -> Result<Config, leakscope::Error> {
    Config::builder()
        .set("snapshot_interval_seconds", 0.1)
        .set("dump_interval_seconds", 1)
        .set("detection_window_minutes", 0.05)
        .set("rapid_growth_window_minutes", 0.03)
        .set("baseline_calculation_minutes", 0.05)
        .set("memory_growth_threshold_mb", 0.5)
        .set("growth_rate_threshold_mb_per_min", 1)
        .set("sustained_high_threshold_mb", 256)
        .set("sample_interval_bytes", "32KiB")
        .set("dump_path", dump_path)
        .build()
}

/// Runs the service and its load for `secs` with at most `max_requests` requests, under a
/// collector configured by `config` on the real clock, and writes the final dump. Returns the
/// requests answered.
#[allow(dead_code)] // tests/axum_service.rs drives the service on a manual clock instead
pub fn run(config: Config, secs: f64, max_requests: u64) -> Result<u64, leakscope::Error> {
    let collector = leakscope::start(config)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (answered, caches) = rt.block_on(async {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let (addr, server, caches) = serve(stop_rx).await;
        let per_client = max_requests / CLIENTS;
        // Paced: each connection's requests spread over `secs`.
        let pause = Duration::from_secs_f64(secs / per_client.max(1) as f64);
        let answered = load(&client(), addr, 0, per_client, Some(pause)).await;
        let _ = stop_tx.send(());
        server.await.unwrap();
        (answered, caches)
    });
    // The final dump is written while the caches still hold what they cached.
    collector.shutdown()?;
    drop(caches);
    drop(rt);
    Ok(answered)
}

#[allow(dead_code)] // tests/axum_service.rs includes this file as a module
fn main() -> Result<(), leakscope::Error> {
    let secs: f64 = std::env::var("LEAKSCOPE_DEMO_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20.0);
    let path = "axum_service.leakscope.json";
    let mut config = config(path)?;
    // Settings from the environment (LEAKSCOPE="key=value,...") override the example's.
    if let Ok(extra) = std::env::var("LEAKSCOPE") {
        config.set_many(&extra)?;
    }
    let started = Instant::now();
    let answered = run(config, secs, (secs * 400.0) as u64)?;
    println!(
        "{answered} requests in {:.1} s; the dump is {path}: leakscope report {path}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
