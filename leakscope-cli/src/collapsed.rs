//! `leakscope collapsed`: sampled live memory as folded stacks, the input format of
//! inferno-flamegraph, flamegraph.pl and speedscope.
//!
//! # Format
//! One line per distinct stack: `scope;outermost;…;innermost BYTES`, frames separated by `;`,
//! the weight (estimated live bytes) after the last space. The scope is the root frame, so a
//! flame graph splits first by cache. Lines are sorted, identical stacks merged. A call site's
//! frames are stored innermost first (docs/dump-format.md), so they are reversed here.
//!
//! A frame is its function name, or `0xADDR` when symbols did not resolve. A `;` inside a name
//! (`<[u8; 32] as Trait>::f`) would split the frame, so it becomes `:`; control characters
//! would split the line, so they are escaped. Spaces stay: readers take the count after the
//! *last* space.
//!
//! Only `top_call_sites` is in a dump, so this is the memory of the top sites, not every
//! sampled byte.

use std::collections::BTreeMap;

use leakscope::dump::Dump;
use leakscope::sites::{CallSite, Frame};

use crate::fmt;

/// The folded stacks of `dump`'s call sites with live bytes, one per line.
pub fn render(dump: &Dump) -> String {
    let mut stacks: BTreeMap<String, u64> = BTreeMap::new();
    for site in dump.top_call_sites.iter().filter(|s| s.live_bytes > 0) {
        let weight = stacks.entry(stack(site)).or_insert(0);
        *weight = weight.saturating_add(site.live_bytes);
    }
    let mut out = String::new();
    for (stack, bytes) in stacks {
        out.push_str(&stack);
        out.push(' ');
        out.push_str(&bytes.to_string());
        out.push('\n');
    }
    out
}

fn stack(site: &CallSite) -> String {
    let mut parts = Vec::with_capacity(site.frames.len() + 1);
    parts.push(name(&site.scope));
    parts.extend(site.frames.iter().rev().map(frame));
    parts.join(";")
}

fn frame(f: &Frame) -> String {
    match &f.function {
        Some(function) => name(function),
        None => format!("0x{:x}", f.addr),
    }
}

/// A frame or scope name that cannot break the format. An empty name would leave `;;`, which
/// readers take as an empty frame, so it is given a visible name instead.
fn name(s: &str) -> String {
    let s = fmt::clean(s).replace(';', ":");
    if s.trim().is_empty() {
        "[unnamed]".to_owned()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leakscope::dump::ProcessInfo;
    use leakscope::Config;

    fn site(scope: &str, functions: &[Option<&str>], bytes: u64) -> CallSite {
        CallSite {
            scope: scope.into(),
            frames: functions
                .iter()
                .enumerate()
                .map(|(i, f)| Frame {
                    addr: 0x1000 + i as u64,
                    function: f.map(str::to_owned),
                    file: None,
                    line: None,
                })
                .collect(),
            live_bytes: bytes,
            ..CallSite::default()
        }
    }

    #[test]
    fn stacks_run_outermost_first_and_merge() {
        let mut dump = Dump::new(0.0, 0.0, ProcessInfo::new(1), Config::default());
        dump.top_call_sites = vec![
            site("cache", &[Some("inner"), Some("outer"), Some("main")], 300),
            site("cache", &[Some("inner"), Some("outer"), Some("main")], 200),
            site("other", &[None, Some("<[u8; 32] as x::T>::f")], 7),
            site("gone", &[Some("f")], 0),
            site("", &[Some("a\nb")], 1),
        ];
        assert_eq!(
            render(&dump),
            "[unnamed];a\\nb 1\n\
             cache;main;outer;inner 500\n\
             other;<[u8: 32] as x::T>::f;0x1000 7\n"
        );
    }
}
