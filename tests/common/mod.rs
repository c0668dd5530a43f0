//! The runner of the test binaries that need their process to themselves (`harness = false`:
//! one global allocator, one collector, one sampling interval per process).
//!
//! It runs the cases one after another, catches each one's panic, prints libtest-style lines
//! and the closing `N passed, N failed` line, and exits 1 if any case failed.

/// Runs `cases` in order, calling `after_each` after every case, passed or failed.
pub fn run(cases: &[(&str, fn())], after_each: impl Fn()) {
    let mut failed = 0;
    for (name, case) in cases {
        match std::panic::catch_unwind(case) {
            Ok(()) => println!("test {name} ... ok"),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
        after_each();
    }
    println!("\n{} passed, {failed} failed", cases.len() - failed);
    if failed > 0 {
        std::process::exit(1);
    }
}
