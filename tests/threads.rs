//! Exact totals under many threads: thousands of short-lived threads, sixteen threads hammering
//! shared scopes with allocs, reallocs, frees and nested guards, cross-thread frees, and
//! allocations made while a thread's thread-locals are torn down.

use std::hint::black_box;
use std::sync::mpsc;

use leakscope::{flush, stats, Scope};

#[global_allocator]
static ALLOC: leakscope::Alloc = leakscope::Alloc::system();

#[test]
fn two_thousand_short_lived_threads_lose_nothing() {
    static S: Scope = Scope::new("thr_short_lived");
    let mut kept = Vec::new();
    for round in 0..20 {
        let handles: Vec<_> = (0..100)
            .map(|i| {
                std::thread::spawn(move || {
                    let _g = S.enter();
                    let keep = black_box(vec![1u8; 100 + i]);
                    for _ in 0..10 {
                        drop(black_box(vec![0u8; 33]));
                    }
                    // No flush: the thread's exit must send what it counted.
                    keep
                })
            })
            .collect();
        for h in handles {
            kept.push(h.join().unwrap());
        }
        assert_eq!(kept.len(), (round + 1) * 100);
    }
    flush();
    let s = stats(&S);
    let live: u64 = 20 * (0..100u64).map(|i| 100 + i).sum::<u64>();
    assert_eq!(s.total_allocs, 2000 * 11);
    assert_eq!(s.total_frees, 2000 * 10);
    assert_eq!(s.curr_blocks, 2000);
    assert_eq!(s.curr_bytes, live);
    assert_eq!(s.total_bytes_allocated, live + 2000 * 10 * 33);
    drop(kept);
    flush();
    let s = stats(&S);
    assert_eq!((s.curr_bytes, s.curr_blocks), (0, 0));
}

/// A small deterministic generator, so every thread's mix is reproducible.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn sixteen_threads_hammering_four_scopes_end_exact() {
    static SCOPES: [Scope; 4] = [
        Scope::new("thr_hammer_0"),
        Scope::new("thr_hammer_1"),
        Scope::new("thr_hammer_2"),
        Scope::new("thr_hammer_3"),
    ];
    const OPS: usize = 20_000;
    // Each thread returns what it expects per scope: (allocs, frees, bytes in, bytes out) for
    // the blocks it allocated, and the blocks it still holds, which a consumer frees.
    let (tx, rx) = mpsc::channel::<Vec<Vec<u8>>>();
    let handles: Vec<_> = (0..16u64)
        .map(|t| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut rng = 0x9E37_79B9_7F4A_7C15 ^ (t + 1);
                let mut expect = [[0u64; 4]; 4];
                // Reserved up front, unscoped: pushes inside the scopes never reallocate it.
                let mut live: Vec<(usize, Vec<u8>)> = Vec::with_capacity(OPS);
                for _ in 0..OPS {
                    let r = xorshift(&mut rng);
                    let s = (r % 4) as usize;
                    let size = 8 + (r >> 8) as usize % 512;
                    match (r >> 20) % 4 {
                        0 | 1 => {
                            let _g = SCOPES[s].enter();
                            // A nested guard of another scope, dropped before the allocation.
                            drop(SCOPES[(s + 1) % 4].enter());
                            live.push((s, black_box(Vec::with_capacity(size))));
                            expect[s][0] += 1;
                            expect[s][2] += size as u64;
                        }
                        2 if !live.is_empty() => {
                            let (owner, v) = live.swap_remove((r >> 32) as usize % live.len());
                            expect[owner][1] += 1;
                            expect[owner][3] += v.capacity() as u64;
                            drop(v);
                        }
                        3 if !live.is_empty() => {
                            // realloc inside scope s: the block moves to s.
                            let i = (r >> 32) as usize % live.len();
                            let (owner, v) = &mut live[i];
                            let old = v.capacity();
                            let _g = SCOPES[s].enter();
                            v.reserve_exact(old + 1 + size); // len is 0: capacity becomes this
                            let new = v.capacity();
                            expect[*owner][1] += 1;
                            expect[*owner][3] += old as u64;
                            expect[s][0] += 1;
                            expect[s][2] += new as u64;
                            *owner = s;
                        }
                        _ => {}
                    }
                }
                // The survivors go to another thread to be freed there, outside any scope.
                let mut survivors = Vec::new();
                for (owner, v) in live.drain(..) {
                    expect[owner][1] += 1;
                    expect[owner][3] += v.capacity() as u64;
                    survivors.push(v);
                }
                tx.send(survivors).unwrap();
                expect
            })
        })
        .collect();
    drop(tx);
    let consumer = std::thread::spawn(move || {
        for survivors in rx {
            drop(survivors);
        }
    });
    let mut expect = [[0u64; 4]; 4];
    for h in handles {
        let e = h.join().unwrap();
        for s in 0..4 {
            for k in 0..4 {
                expect[s][k] += e[s][k];
            }
        }
    }
    consumer.join().unwrap();
    flush();
    for (s, scope) in SCOPES.iter().enumerate() {
        let st = stats(scope);
        assert_eq!(
            [
                st.total_allocs,
                st.total_frees,
                st.total_bytes_allocated,
                st.total_bytes_freed
            ],
            expect[s],
            "scope {s}"
        );
        assert_eq!((st.curr_bytes, st.curr_blocks), (0, 0), "scope {s}");
        assert!(st.total_allocs > 10_000, "the mix reached scope {s}");
    }
}

static TEARDOWN: Scope = Scope::new("thr_teardown");

/// Allocates 777 bytes in `thr_teardown` and leaks them: the shape of a destructor that
/// allocates while a thread is being torn down.
fn allocate_during_teardown() {
    let _g = TEARDOWN.enter();
    std::mem::forget(black_box(vec![0u8; 777]));
}

struct AllocatesOnDrop;

impl Drop for AllocatesOnDrop {
    fn drop(&mut self) {
        allocate_during_teardown();
    }
}

thread_local! {
    static ON_EXIT: AllocatesOnDrop = const { AllocatesOnDrop };
}

extern "C" fn pthread_destructor(_value: *mut libc::c_void) {
    allocate_during_teardown();
}

#[test]
fn allocations_during_thread_local_teardown_are_counted() {
    let mut key: libc::pthread_key_t = 0;
    // SAFETY: `key` is a valid out-pointer; the destructor is an `extern "C" fn` that lives for
    // the whole program.
    assert_eq!(
        unsafe { libc::pthread_key_create(&mut key, Some(pthread_destructor)) },
        0
    );
    let fallback_before = leakscope::__fallback_uses();
    for _ in 0..50 {
        std::thread::spawn(move || {
            // A Rust thread-local destructor: runs among the Rust destructors, before or after
            // leakscope's exit hook depending on registration order.
            ON_EXIT.with(|_| {});
            // A pthread key destructor: glibc runs these after every Rust thread-local
            // destructor, so after leakscope's exit hook has flushed and retired the batch.
            // SAFETY: `key` was created above; a non-null value makes the destructor run.
            unsafe {
                libc::pthread_setspecific(key, std::ptr::NonNull::<u8>::dangling().as_ptr().cast())
            };
        })
        .join()
        .unwrap();
    }
    flush();
    let s = stats(&TEARDOWN);
    assert_eq!(s.total_allocs, 100);
    assert_eq!(s.curr_bytes, 100 * 777);
    assert!(
        leakscope::__fallback_uses() >= fallback_before + 50,
        "the pthread destructors' allocations came after the exit hook"
    );
}
