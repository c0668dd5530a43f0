//! Faults around the collector: the dump directory vanishing mid-run, a full disk, an `on_leak`
//! hook that blocks for seconds. In each, the program goes on, the fault is reported once (and
//! its recovery once), the dump on disk is always a whole one, and nothing counted is lost.
//!
//! Each case runs in a child process of this test binary, so that its stderr can be read and
//! the "reported once" promise checked line by line. `harness = false`.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use leakscope::dump::read_dump;
use leakscope::{flush, leaks::LeakEvent, stats, Config, ManualClock, Scope};

mod common;

#[global_allocator]
static ALLOC: leakscope::Alloc = leakscope::Alloc::system();

const CASE: &str = "LEAKSCOPE_FAULT_CASE";
const DIR: &str = "LEAKSCOPE_FAULT_DIR";

fn main() {
    if let (Ok(case), Ok(dir)) = (std::env::var(CASE), std::env::var(DIR)) {
        let dir = PathBuf::from(dir);
        match case.as_str() {
            "vanished" => child_vanished_directory(&dir),
            "full" => child_full_disk(&dir),
            "blocking_hook" => child_blocking_hook(),
            other => panic!("unknown case {other}"),
        }
        return;
    }
    let cases: &[(&str, fn())] = &[
        (
            "a_vanished_dump_directory_is_reported_once_and_recovers",
            vanished_directory,
        ),
        ("a_full_disk_keeps_the_old_dump_whole", full_disk),
        ("a_blocking_hook_blocks_no_allocating_thread", blocking_hook),
    ];
    common::run(cases, || {});
}

/// Runs `case` in a child process with `dir`; returns its stderr lines that leakscope wrote.
fn run_child(case: &str, dir: &Path) -> Vec<String> {
    let out = Command::new(std::env::current_exe().unwrap())
        .env(CASE, case)
        .env(DIR, dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "child {case} failed:\n{stderr}");
    stderr
        .lines()
        .filter(|l| l.starts_with("leakscope:"))
        .map(str::to_owned)
        .collect()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("leakscope-faults-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn manual(dump: &Path) -> (leakscope::Handle, Arc<ManualClock>) {
    let config = Config::builder()
        .set("snapshot_interval_seconds", 1)
        .set("dump_interval_seconds", 1)
        .set("detection_window_minutes", 2)
        .set("rapid_growth_window_minutes", 0.5)
        .set("baseline_calculation_minutes", 2)
        .set("memory_growth_threshold_mb", 2)
        .set("growth_rate_threshold_mb_per_min", 1)
        .set("dump_path", dump.display())
        .build()
        .unwrap();
    let clock = Arc::new(ManualClock::new(1_700_000_000.0));
    (
        leakscope::__start_manual(config, clock.clone()).unwrap(),
        clock,
    )
}

fn child_vanished_directory(dir: &Path) {
    static S: Scope = Scope::new("fault_vanished");
    let path = dir.join("dumps").join("app.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let (handle, clock) = manual(&path);
    let mut kept = Vec::with_capacity(30);
    let mut step = |n: usize| {
        for _ in 0..n {
            {
                let _g = S.enter();
                kept.push(black_box(vec![0u8; 1000]));
            }
            flush();
            clock.advance(1.0);
            handle.tick();
        }
    };
    step(5);
    assert!(read_dump(&path).is_ok());
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    step(10); // ten failed dumps, one report
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    step(5); // written again, one report
    let dump = read_dump(&path).unwrap();
    let scope = dump.scope("fault_vanished").unwrap();
    assert_eq!(scope.stats.curr_bytes, 20_000, "nothing counted was lost");
    assert_eq!(
        scope.history.len(),
        20,
        "the history was kept while the dumps failed"
    );
    assert_eq!(dump.tracker.dump_errors, 10);
    handle.shutdown().unwrap();
}

fn vanished_directory() {
    let dir = scratch("vanished");
    let lines = run_child("vanished", &dir);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        lines[0].contains("app.json") && lines[0].contains("reported once"),
        "{lines:#?}"
    );
    assert_eq!(lines[1], "leakscope: dump written again");
}

/// A directory where writes run out of space: a 64 KiB tmpfs if this process may mount one (as
/// root it may), else `None`.
fn tiny_filesystem(dir: &Path) -> Option<PathBuf> {
    let mnt = dir.join("tiny");
    std::fs::create_dir_all(&mnt).ok()?;
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(mnt)
}

fn child_full_disk(dir: &Path) {
    let mnt = PathBuf::from(dir);
    let path = mnt.join("app.json");
    let (handle, clock) = manual(&path);
    clock.advance(1.0);
    handle.tick();
    let first = read_dump(&path).unwrap();
    // Hundreds of scopes make the next dump far larger than the 64 KiB the disk holds.
    let kept: Vec<Vec<u8>> = (0..600)
        .map(|i| {
            let _g = leakscope::scope(&format!("fault_full_{i:03}"));
            black_box(vec![0u8; 10])
        })
        .collect();
    flush();
    for _ in 0..5 {
        clock.advance(1.0);
        handle.tick();
    }
    // The dump on disk is still the first one, whole.
    let now = read_dump(&path).unwrap();
    assert_eq!(now.written_at_unix, first.written_at_unix);
    assert!(leakscope::live::dump_now().is_err());
    drop(kept);
    assert!(handle.shutdown().is_err());
    // Nothing but the dump is left on the tiny disk: no temporary file leaked.
    let names: Vec<_> = std::fs::read_dir(&mnt)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("app.json")]);
}

fn full_disk() {
    let dir = scratch("full");
    let Some(mnt) = tiny_filesystem(&dir) else {
        // Without the right to mount, a full disk cannot be made here; say so loudly rather than
        // pass in silence.
        panic!("cannot mount a 64 KiB tmpfs (needs root): the full-disk case cannot run");
    };
    let lines = run_child("full", &mnt);
    let _ = Command::new("umount").arg(&mnt).status();
    // Five failed scheduled dumps, one line; `dump_now` and `shutdown` return their errors
    // instead of printing them.
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].contains("No space left on device") && lines[0].contains("reported once"),
        "{lines:#?}"
    );
}

#[inline(never)]
fn grow(into: &mut Vec<Vec<u8>>) {
    for _ in 0..16 {
        into.push(black_box(vec![7u8; 16 * 1024]));
    }
}

fn child_blocking_hook() {
    static MEMO: Scope = Scope::new("fault_memo");
    static BUSY: Scope = Scope::new("fault_busy");
    let dir = scratch("blocking");
    let (handle, clock) = manual(&dir.join("app.json"));
    let (entered_tx, entered_rx) = std::sync::mpsc::channel::<()>();
    let entered = std::sync::Mutex::new(Some(entered_tx));
    leakscope::on_leak(move |e| {
        if matches!(e, LeakEvent::New(_)) {
            if let Some(tx) = entered.lock().unwrap().take() {
                let _ = tx.send(());
            }
            std::thread::sleep(std::time::Duration::from_secs(2));
        }
    });
    let handle = Arc::new(handle);
    let mut memo = Vec::with_capacity(16 * 400);
    // Grow until the first leak event blocks the ticking thread in the hook.
    let ticker = {
        let handle = handle.clone();
        let clock = clock.clone();
        std::thread::spawn(move || {
            for _ in 0..400 {
                {
                    let _g = MEMO.enter();
                    grow(&mut memo);
                }
                flush();
                clock.advance(1.0);
                if !handle.tick().is_empty() {
                    break;
                }
            }
            memo
        })
    };
    entered_rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("a leak was raised");
    // The hook is sleeping on the ticking thread. This thread allocates, flushes and reads
    // exact stats meanwhile: nothing it does waits on the hook.
    let mut kept = Vec::with_capacity(10_000);
    for i in 0..10_000 {
        let _g = BUSY.enter();
        kept.push(black_box(vec![0u8; 100 + i % 7]));
    }
    flush();
    let s = stats(&BUSY);
    let expected: u64 = (0..10_000u64).map(|i| 100 + i % 7).sum();
    assert_eq!((s.curr_blocks, s.curr_bytes), (10_000, expected));
    let memo = ticker.join().unwrap();
    drop((memo, kept));
    match Arc::try_unwrap(handle) {
        Ok(h) => h.shutdown().unwrap(),
        Err(_) => panic!("the handle is still shared"),
    }
}

fn blocking_hook() {
    let dir = scratch("hook");
    let lines = run_child("blocking_hook", &dir);
    assert!(lines.is_empty(), "{lines:#?}");
}
