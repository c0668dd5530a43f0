//! The channel made full while nothing drains it loses no count.
//!
//! Its own test binary: any `stats` or `flush` call drains the channel, so nothing else may run
//! while the channel is being filled.

use std::hint::black_box;

use leakscope::{flush, live::tracker_stats, stats, Scope};

#[global_allocator]
static ALLOC: leakscope::Alloc = leakscope::Alloc::system();

#[test]
fn a_full_channel_loses_nothing() {
    static SCOPES: [Scope; 12] = [
        Scope::new("full_0"),
        Scope::new("full_1"),
        Scope::new("full_2"),
        Scope::new("full_3"),
        Scope::new("full_4"),
        Scope::new("full_5"),
        Scope::new("full_6"),
        Scope::new("full_7"),
        Scope::new("full_8"),
        Scope::new("full_9"),
        Scope::new("full_10"),
        Scope::new("full_11"),
    ];
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 1_000_000;
    let retries_before = tracker_stats().channel_full_retries;
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            std::thread::spawn(|| {
                // Reserved up front, unscoped: pushes inside the scopes never reallocate it.
                let mut kept = Vec::with_capacity((PER_THREAD / 1000) as usize);
                for i in 0..PER_THREAD {
                    // Twelve scopes rotate through eight batch slots, so once the channel is
                    // full some events find no slot and take the fallback path too.
                    let _g = SCOPES[(i % 12) as usize].enter();
                    let v = black_box(vec![0u8; 24]);
                    if i % 1000 == 0 {
                        kept.push(v);
                    }
                }
                kept
            })
        })
        .collect();
    let kept: Vec<Vec<Vec<u8>>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(
        tracker_stats().channel_full_retries > retries_before,
        "the test must actually fill the channel"
    );
    flush();
    let mut allocs = 0;
    let mut frees = 0;
    let mut live_bytes = 0;
    for s in &SCOPES {
        let st = stats(s);
        allocs += st.total_allocs;
        frees += st.total_frees;
        live_bytes += st.curr_bytes;
        assert_eq!(st.total_bytes_allocated, st.total_allocs * 24);
    }
    let kept_vecs = THREADS * PER_THREAD / 1000;
    assert_eq!(kept.iter().map(|k| k.len() as u64).sum::<u64>(), kept_vecs);
    assert_eq!(allocs, THREADS * PER_THREAD);
    assert_eq!(frees, THREADS * PER_THREAD - kept_vecs);
    assert_eq!(live_bytes, kept_vecs * 24);
}
