//! Tells the crate whether it is built with frame pointers (`-C force-frame-pointers=yes` in
//! RUSTFLAGS, which apply to every crate of the build), so that the sampler can walk the
//! frame-pointer chain instead of unwinding with DWARF (see `src/sampler.rs`).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(leakscope_frame_pointers)");
    println!("cargo::rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let flags: Vec<&str> = flags.split('\x1f').collect();
    // `-C force-frame-pointers=yes` arrives as one flag or as `-C` then the option; the last
    // setting wins, as it does for rustc.
    let mut on = false;
    for (i, flag) in flags.iter().enumerate() {
        let option = match flag.strip_prefix("-C") {
            Some("") => flags.get(i + 1).copied().unwrap_or(""),
            Some(rest) => rest,
            None => flag.strip_prefix("--codegen=").unwrap_or(""),
        };
        if let Some(value) = option.strip_prefix("force-frame-pointers") {
            on = matches!(value, "" | "=yes" | "=y" | "=on" | "=true" | "=always");
        }
    }
    if on {
        println!("cargo::rustc-cfg=leakscope_frame_pointers");
    }
}
