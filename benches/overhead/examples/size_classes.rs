//! What a trailer costs in each inner allocator's size classes: for each request size, the usable
//! size the allocator hands out for the request alone and for the request plus a 2-byte mark
//! (leakscope's) or a 4-byte one (leakscope's until 2026-12). Prints a per-size table (`--sizes`)
//! or the summary for the size mixes of the overhead workloads (default).
//!
//! `cargo run --release --manifest-path benches/overhead/Cargo.toml --example size_classes [-- --sizes]`

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::c_void;

extern "C" {
    // Linked by libmimalloc-sys (the mimalloc crate's dependency).
    fn mi_usable_size(p: *const c_void) -> usize;
}

/// The trailer lengths compared: leakscope's mark, and the 4-byte mark it replaced.
const MARKS: [usize; 2] = [2, 4];

/// The usable size `alloc` hands out for a request of `size` bytes (8-byte aligned).
fn usable(alloc: &str, size: usize) -> usize {
    let layout = Layout::from_size_align(size, 8).unwrap();
    // SAFETY: non-zero layouts; each block is measured and freed by the allocator that made it.
    unsafe {
        match alloc {
            "glibc" => {
                let p = System.alloc(layout);
                let n = libc::malloc_usable_size(p.cast());
                System.dealloc(p, layout);
                n
            }
            "jemalloc" => {
                let a = tikv_jemallocator::Jemalloc;
                let p = a.alloc(layout);
                let n = tikv_jemallocator::usable_size(p);
                a.dealloc(p, layout);
                n
            }
            "mimalloc" => {
                let a = mimalloc::MiMalloc;
                let p = a.alloc(layout);
                let n = mi_usable_size(p.cast());
                a.dealloc(p, layout);
                n
            }
            _ => unreachable!(),
        }
    }
}

const ALLOCS: [&str; 3] = ["glibc", "jemalloc", "mimalloc"];

fn main() {
    if std::env::args().any(|a| a == "--sizes") {
        println!(
            "size\tglibc\tglibc+2\tglibc+4\tjemalloc\tjemalloc+2\tjemalloc+4\tmimalloc\tmimalloc+2\tmimalloc+4"
        );
        let mut sizes: Vec<usize> = (1..=512).collect();
        sizes.extend((9..=20).map(|s| 1usize << s));
        for n in sizes {
            let row: Vec<String> = ALLOCS
                .iter()
                .flat_map(|a| {
                    [
                        usable(a, n),
                        usable(a, n + MARKS[0]),
                        usable(a, n + MARKS[1]),
                    ]
                })
                .map(|u| u.to_string())
                .collect();
            println!("{n}\t{}", row.join("\t"));
        }
        return;
    }
    // Ratio of memory handed out with a trailer to without, per size mix.
    let mixes: [(&str, Vec<usize>); 6] = [
        ("the cache's keys (13-byte Strings)", vec![13]),
        ("every size 8..=256", (8..=256).collect()),
        ("churn mix (8..=256 90%, 257..=4096 10%)", {
            let mut v = Vec::new();
            for _ in 0..(9 * 3840 / 249) {
                v.extend(8..=256);
            }
            v.extend(257..=4096);
            v
        }),
        (
            "cache values (16..=256 70%, 257..=2048 25%, 2049..=16384 5%)",
            {
                let mut v = Vec::new();
                // Weights by repetition: 70/241, 25/1792, 5/14336 per size, scaled to integers.
                for _ in 0..(70 * 14336 / 241 / 5) {
                    v.extend(16..=256);
                }
                for _ in 0..(25 * 14336 / 1792 / 5) {
                    v.extend(257..=2048);
                }
                v.extend(2049..=16384);
                v
            },
        ),
        (
            "powers of two 8..=4096",
            (3..=12).map(|s| 1usize << s).collect(),
        ),
        (
            "powers of two 8 KiB..=1 MiB",
            (13..=20).map(|s| 1usize << s).collect(),
        ),
    ];
    println!("| request sizes | glibc +2 | glibc +4 | jemalloc +2 | jemalloc +4 | mimalloc +2 | mimalloc +4 |");
    println!("|---|---|---|---|---|---|---|");
    for (name, sizes) in &mixes {
        let cells: Vec<String> = ALLOCS
            .iter()
            .flat_map(|a| MARKS.map(|m| (a, m)))
            .map(|(a, m)| {
                let plain: usize = sizes.iter().map(|&n| usable(a, n)).sum();
                let marked: usize = sizes.iter().map(|&n| usable(a, n + m)).sum();
                format!("{:.3}x", marked as f64 / plain as f64)
            })
            .collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
}
