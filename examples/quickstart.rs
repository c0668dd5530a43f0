//! The first thing to run: allocate in two scopes, free across threads, print exact stats.
//!
//! `cargo run --release --example quickstart`

use std::collections::HashMap;

use leakscope::{Scope, ScopeStats};

#[global_allocator]
static ALLOC: leakscope::Alloc = leakscope::Alloc::system();

static USERS: Scope = Scope::new("users_cache");
static SESSIONS: Scope = Scope::new("sessions");

fn main() {
    let mut users: HashMap<u64, Vec<u8>> = HashMap::new();
    let mut sessions: Vec<String> = Vec::new();
    for id in 0..10_000u64 {
        {
            let _g = USERS.enter();
            users.insert(id, vec![0u8; 100]);
        }
        if id % 10 == 0 {
            let _g = SESSIONS.enter();
            sessions.push(format!("session-{id}"));
        }
    }

    // Half the users are evicted on another thread: the frees are still charged to users_cache.
    let evicted: Vec<Vec<u8>> = (0..5_000).filter_map(|id| users.remove(&id)).collect();
    std::thread::spawn(move || drop(evicted)).join().unwrap();
    USERS.set_entry_count(users.len());

    leakscope::flush();
    println!(
        "{:<12} {:>12} {:>10} {:>10} {:>10} {:>12}",
        "scope", "curr_bytes", "blocks", "allocs", "frees", "max_bytes"
    );
    for (name, s) in leakscope::live::all_stats() {
        print_row(&name, &s);
    }
    println!(
        "users_cache holds {} entries; leakscope's own memory: {} bytes",
        USERS.entry_count().unwrap_or(0),
        leakscope::live::tracker_stats().self_bytes
    );
}

fn print_row(name: &str, s: &ScopeStats) {
    println!(
        "{:<12} {:>12} {:>10} {:>10} {:>10} {:>12}",
        name, s.curr_bytes, s.curr_blocks, s.total_allocs, s.total_frees, s.max_bytes
    );
}
