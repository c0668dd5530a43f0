//! `leakscope collapsed`: sampled live memory as folded stacks, the input format of
//! inferno-flamegraph, flamegraph.pl and speedscope.
//!
//! # Format
//! One line per distinct stack: `scope;outermost;…;innermost BYTES`, frames separated by `;`,
//! the weight (estimated live bytes) after the last space. The scope is the root frame, so a
//! flame graph splits first by cache. Lines are sorted, identical stacks merged. A call site's
//! frames are stored innermost first (docs/dump-format.md), so they are reversed here.
//!
//! A frame is its function name, or `0xADDR` when symbols did not resolve; with `--lines` a
//! resolved frame is `function (file:line)` as the report prints it, so the leaf of a flame
//! graph names the line that allocated (and two call sites in one function stay two frames,
//! which inferno then draws side by side instead of merged). A `;` inside a name
//! (`<[u8; 32] as Trait>::f`) would split the frame, so it becomes `:`; control characters
//! would split the line, so they are escaped. Spaces stay: readers take the count after the
//! *last* space.
//!
//! Only `top_call_sites` is in a dump, so this is the memory of the top sites, not every
//! sampled byte.

use std::collections::BTreeMap;

use leakscope::dump::Dump;
use leakscope::leaks::{CallSite, Frame};

use crate::fmt;

/// The folded stacks of `dump`'s call sites with live bytes, one per line; frames with their
/// `file:line` when `lines`.
pub fn render(dump: &Dump, lines: bool) -> String {
    let mut stacks: BTreeMap<String, u64> = BTreeMap::new();
    for site in dump.top_call_sites.iter().filter(|s| s.live_bytes > 0) {
        let weight = stacks.entry(stack(site, lines)).or_insert(0);
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

fn stack(site: &CallSite, lines: bool) -> String {
    let mut parts = Vec::with_capacity(site.frames.len() + 1);
    parts.push(name(&site.scope));
    parts.extend(site.frames.iter().rev().map(|f| frame(f, lines)));
    parts.join(";")
}

fn frame(f: &Frame, lines: bool) -> String {
    match &f.function {
        // `fmt::frame` is `function (file:line)`, or less when the dump has less.
        Some(_) if lines => name(&fmt::frame(f)),
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
            render(&dump, false),
            "[unnamed];a\\nb 1\n\
             cache;main;outer;inner 500\n\
             other;<[u8: 32] as x::T>::f;0x1000 7\n"
        );
    }

    #[test]
    fn lines_name_the_file_and_line_and_keep_sites_of_one_function_apart() {
        let at = |line: u32| Frame {
            addr: 0x10,
            function: Some("app::insert".into()),
            file: Some("src/a;b.rs".into()),
            line: Some(line),
        };
        let mut dump = Dump::new(0.0, 0.0, ProcessInfo::new(1), Config::default());
        let main = Frame {
            function: Some("main".into()),
            file: Some("src/main.rs".into()),
            line: None,
            ..Frame::default()
        };
        let site = |line: u32, bytes: u64| CallSite {
            scope: "cache".into(),
            frames: vec![at(line), main.clone(), Frame::default()],
            live_bytes: bytes,
            ..CallSite::default()
        };
        dump.top_call_sites = vec![site(10, 300), site(12, 200)];
        assert_eq!(
            render(&dump, true),
            "cache;0x0;main (src/main.rs);app::insert (src/a:b.rs:10) 300\n\
             cache;0x0;main (src/main.rs);app::insert (src/a:b.rs:12) 200\n"
        );
        assert_eq!(render(&dump, false), "cache;0x0;main;app::insert 500\n");
    }
}
