//! leakscope across `fork` and `std::process::exit`.
//!
//! - `fork` from a multithreaded process with a running collector: the child keeps counting
//!   exactly, starts with no collector, and may start its own; the parent goes on.
//! - `std::process::exit` with a collector running and its handle never dropped: the final dump
//!   is written by the exit handler.
//!
//! `harness = false`: forking is only well-defined with threads we know about.

use std::hint::black_box;
use std::process::Command;

use leakscope::{flush, stats, Config, ErrorKind, Scope};

mod common;

#[global_allocator]
static ALLOC: leakscope::Alloc = leakscope::Alloc::system();

const EXIT_CHILD: &str = "LEAKSCOPE_TEST_EXIT_CHILD";

fn main() {
    if let Ok(path) = std::env::var(EXIT_CHILD) {
        exit_without_dropping_the_handle(&path);
    }
    let cases: &[(&str, fn())] = &[
        (
            "the_child_of_a_fork_keeps_counting",
            the_child_of_a_fork_keeps_counting,
        ),
        (
            "process_exit_writes_the_final_dump",
            process_exit_writes_the_final_dump,
        ),
    ];
    common::run(cases, || {});
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("leakscope-process-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn config(dump: &std::path::Path) -> Config {
    Config::builder()
        .set("snapshot_interval_seconds", 0.05)
        .set("dump_interval_seconds", 0.2)
        .set("detection_window_minutes", 0.05)
        .set("rapid_growth_window_minutes", 0.02)
        .set("baseline_calculation_minutes", 0.05)
        .set("dump_path", dump.display())
        .build()
        .unwrap()
}

/// Checks in the child; returns the exit code (0: all good).
fn child_checks() -> i32 {
    static CHILD: Scope = Scope::new("proc_child");
    let kept: Vec<Vec<u8>> = {
        let _g = CHILD.enter();
        (0..100).map(|_| black_box(vec![0u8; 1000])).collect()
    };
    flush();
    let s = stats(&CHILD);
    if (s.curr_bytes, s.curr_blocks) != (100_000 + 100 * 24, 101) {
        eprintln!("child: wrong stats {s:?}");
        return 3;
    }
    // No collector survived the fork, and a new one starts.
    if leakscope::live::snapshot_now().map_err(|e| e.kind().clone()) != Err(ErrorKind::NotStarted) {
        eprintln!("child: the parent's collector is still visible");
        return 4;
    }
    let dump = scratch("child.json");
    match leakscope::start(config(&dump)) {
        Ok(handle) => {
            if let Err(e) = handle.shutdown() {
                eprintln!("child: final dump failed: {e}");
                return 5;
            }
        }
        Err(e) => {
            eprintln!("child: start failed: {e}");
            return 6;
        }
    }
    drop(kept);
    0
}

fn the_child_of_a_fork_keeps_counting() {
    static PARENT: Scope = Scope::new("proc_parent");
    let handle = leakscope::start(config(&scratch("parent.json"))).unwrap();
    // Busy threads, allocating and sending batches while the fork happens.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _g = PARENT.enter();
                    drop(black_box(vec![0u8; 64]));
                }
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(100));
    // SAFETY: fork has no preconditions; the child only runs `child_checks` and `_exit`s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = child_checks();
        // SAFETY: `_exit` ends the child without running the parent's atexit handlers.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: `pid` is our child; `status` is a valid out-pointer.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    assert!(
        libc::WIFEXITED(status),
        "the child did not exit normally: {status}"
    );
    assert_eq!(libc::WEXITSTATUS(status), 0, "the child's checks failed");
    // The parent goes on, exactly.
    flush();
    let s = stats(&PARENT);
    assert_eq!((s.curr_bytes, s.curr_blocks), (0, 0));
    assert!(s.total_allocs > 0);
    handle.shutdown().unwrap();
}

/// The child process of `process_exit_writes_the_final_dump`.
fn exit_without_dropping_the_handle(path: &str) -> ! {
    static EXITING: Scope = Scope::new("proc_exiting");
    let mut c = config(std::path::Path::new(path));
    c.dump_interval_seconds = 3600.0; // only the final dump can write the file
    let handle = leakscope::start(c).unwrap();
    let kept = {
        let _g = EXITING.enter();
        black_box(vec![0u8; 12_345])
    };
    flush();
    std::mem::forget(kept);
    std::mem::forget(handle);
    std::process::exit(0);
}

fn process_exit_writes_the_final_dump() {
    let path = scratch("exit.json");
    let _ = std::fs::remove_file(&path);
    let status = Command::new(std::env::current_exe().unwrap())
        .env(EXIT_CHILD, &path)
        .status()
        .unwrap();
    assert!(status.success());
    let dump = leakscope::dump::read_dump(&path).expect("the exit handler wrote the dump");
    let scope = dump
        .scope("proc_exiting")
        .expect("the scope is in the dump");
    assert_eq!(scope.stats.curr_bytes, 12_345);
}
