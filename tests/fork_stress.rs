//! Thousands of forks while other threads allocate in dynamic scopes and a collector runs: every
//! child must flush, read exact figures for what it allocated itself, and exit within a watchdog.
//!
//! A parent thread caught in the middle of a channel send when another thread forks would leave
//! the child a reserved slot that no thread of the child will ever fill; a child that drained
//! the channel then waited on it forever. `FORKS` (default 5,000) children are checked here;
//! before the fork gate (src/os.rs) about one in 300 to 750 of them hung.
//!
//! `harness = false`: forking is only well-defined with threads we know about. Not run under
//! valgrind (a fork there costs about a second); tests/process.rs covers the fork path there.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use leakscope::{flush, stats, Config, Scope};

mod common;

#[global_allocator]
static ALLOC: leakscope::Alloc = leakscope::Alloc::system();

/// How long a child may take before it counts as hung.
const WATCHDOG: Duration = Duration::from_secs(10);

fn main() {
    common::run(
        &[(
            "forked_children_never_hang_and_count_exactly",
            forked_children_never_hang_and_count_exactly,
        )],
        || {},
    );
}

/// The child's work; returns its exit code (0: exact).
fn child() -> i32 {
    static CHILD: Scope = Scope::new("fork_stress_child");
    let mut kept: Vec<Box<[u8; 1000]>> = Vec::with_capacity(10); // outside the scope
    {
        let _g = CHILD.enter();
        kept.extend((0..10).map(|_| black_box(Box::new([7u8; 1000]))));
    }
    // 10 boxes of 1,000 bytes, exactly.
    flush();
    let s = stats(&CHILD);
    let code = if (s.curr_bytes, s.curr_blocks) == (10_000, 10) {
        0
    } else {
        3
    };
    // A dynamic scope in the child too: registration takes the registry lock the parent held.
    {
        let _g = leakscope::scope("fork_stress_child_dynamic");
        drop(black_box(vec![0u8; 100]));
    }
    flush();
    let dynamic = leakscope::live::stats_by_name("fork_stress_child_dynamic");
    let code = match dynamic {
        Some(d) if (d.total_bytes_allocated, d.curr_bytes) == (100, 0) => code,
        _ => 4,
    };
    drop(kept);
    code
}

fn forked_children_never_hang_and_count_exactly() {
    let forks: usize = std::env::var("FORKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let dir = tempfile::tempdir().unwrap();
    let config = Config::builder()
        .set("snapshot_interval_seconds", 0.01)
        .set("dump_interval_seconds", 0.5)
        .set("dump_path", dir.path().join("dump.json").display())
        .build()
        .unwrap();
    let handle = leakscope::start(config).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    // Three threads sending batches all the time, in dynamic scopes, so that a fork often
    // lands in the middle of a send.
    let workers: Vec<_> = (0..3)
        .map(|t| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let names: Vec<String> = (0..8).map(|i| format!("fork_stress_{t}_{i}")).collect();
                let mut i = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let _g = leakscope::scope(&names[i % names.len()]);
                    drop(black_box(vec![0u8; 64 + i % 512]));
                    i += 1;
                    if i.is_multiple_of(4096) {
                        flush();
                    }
                }
            })
        })
        .collect();

    let (mut hung, mut wrong) = (0usize, 0usize);
    for _ in 0..forks {
        // SAFETY: fork has no preconditions; the child runs `child` and `_exit`s.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let code = child();
            // SAFETY: `_exit` ends the child without running the parent's atexit handlers.
            unsafe { libc::_exit(code) };
        }
        let started = Instant::now();
        let mut status = 0;
        loop {
            // SAFETY: `pid` is our child; `status` is a valid out-pointer.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            assert!(r >= 0, "waitpid failed");
            if r == pid {
                if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
                    wrong += 1;
                }
                break;
            }
            if started.elapsed() > WATCHDOG {
                hung += 1;
                // SAFETY: `pid` is our child, still running.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                // SAFETY: as above; reaps the killed child.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    handle.shutdown().unwrap();
    println!("{forks} forks: {hung} hung, {wrong} wrong");
    assert_eq!((hung, wrong), (0, 0), "of {forks} forked children");
}
