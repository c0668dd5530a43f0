//! What `.in_scope(&SCOPE)` costs: a no-op future polled 10 million times bare and wrapped, and
//! an axum request loop over loopback with its handler's future bare and wrapped. Variants are
//! interleaved round by round and the median round is reported, with the ratio.
//!
//! `cargo bench --bench future_poll` (`ROUNDS=`, default 11; `REQUESTS=` per round, 2,000).

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use axum::routing::get;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use leakscope::tasks::InScope;
use leakscope::Scope;

#[global_allocator]
static ALLOC: leakscope::Alloc = leakscope::Alloc::system();

static S: Scope = Scope::new("bench_future");

const POLLS: u64 = 10_000_000;

/// Ready on every poll: all a poll costs is the call. `black_box` makes the poll opaque to the
/// optimizer (a real poll may allocate, so it reads the scope), so the wrapper's swap of the
/// thread's scope is not optimized away as a store nobody reads.
struct Noop(u64);

impl Future for Noop {
    type Output = ();
    #[inline(never)]
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.0 = black_box(this.0 + 1);
        Poll::Ready(())
    }
}

struct NoWake;
impl Wake for NoWake {
    fn wake(self: Arc<Self>) {}
}

/// Nanoseconds per poll of `f`, polled `POLLS` times in place.
fn ns_per_poll<F: Future<Output = ()>>(f: F) -> f64 {
    let waker = Waker::from(Arc::new(NoWake));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    let t = Instant::now();
    for _ in 0..POLLS {
        let _ = black_box(f.as_mut().poll(&mut cx));
    }
    t.elapsed().as_nanos() as f64 / POLLS as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn body(n: u64) -> String {
    black_box(vec![b'x'; 512 + (n % 64) as usize])
        .len()
        .to_string()
}

/// Microseconds per request, `requests` requests one after another on one connection.
async fn us_per_request(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>,
    addr: std::net::SocketAddr,
    path: &str,
    requests: u64,
) -> f64 {
    let t = Instant::now();
    for n in 0..requests {
        let uri = format!("http://{addr}/{path}/{n}").parse().unwrap();
        let resp = client.get(uri).await.unwrap();
        resp.into_body().collect().await.unwrap();
    }
    t.elapsed().as_secs_f64() * 1e6 / requests as f64
}

fn main() {
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let rounds = env("ROUNDS", 11) as usize;
    let requests = env("REQUESTS", 2000);

    let (mut bare, mut wrapped) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        bare.push(ns_per_poll(Noop(0)));
        wrapped.push(ns_per_poll(Noop(0).in_scope(&S)));
    }
    let (b, w) = (median(bare), median(wrapped));
    println!(
        "no-op future, {POLLS} polls: bare {b:.2} ns/poll, wrapped {w:.2} ns/poll, ratio {:.2}x (+{:.2} ns)",
        w / b,
        w - b
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (b, w) = rt.block_on(async {
        let router = axum::Router::new()
            .route(
                "/bare/{n}",
                get(|axum::extract::Path(n): axum::extract::Path<u64>| body(n)),
            )
            .route(
                "/scoped/{n}",
                get(|axum::extract::Path(n): axum::extract::Path<u64>| body(n).in_scope(&S)),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let client = Client::builder(TokioExecutor::new()).build_http();
        us_per_request(&client, addr, "bare", requests / 4).await; // warm-up
        let (mut bare, mut wrapped) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            bare.push(us_per_request(&client, addr, "bare", requests).await);
            wrapped.push(us_per_request(&client, addr, "scoped", requests).await);
        }
        (median(bare), median(wrapped))
    });
    println!(
        "axum request loop, {requests} requests a round: bare {b:.1} us/request, handler scoped {w:.1} us/request, ratio {:.3}x",
        w / b
    );
}
