//! Call sites as a reader counts them: two sites of one scope whose resolved frames are the
//! same function, file and line everywhere are one site, whatever their return addresses.
//!
//! The library merges them when it writes a dump; a dump written before it did, or assembled
//! by another tool, may still hold such twins, which every renderer would show as duplicate
//! rows (issue 12's async sites differ in one return address). `main` merges them once after
//! reading, so the report, the page, the folded stacks, the profile and the diff agree.

use std::collections::HashMap;

use leakscope::dump::Dump;
use leakscope::leaks::{CallSite, Frame};

/// A frame as a reader tells frames apart: by function, file and line when any of them is
/// known, else by address.
type FrameKey = (Option<String>, Option<String>, Option<u32>, u64);

fn key(site: &CallSite) -> (String, Vec<FrameKey>) {
    let frames = site
        .frames
        .iter()
        .map(|f: &Frame| {
            let resolved = f.function.is_some() || f.file.is_some();
            let addr = if resolved { 0 } else { f.addr };
            (f.function.clone(), f.file.clone(), f.line, addr)
        })
        .collect();
    (site.scope.clone(), frames)
}

/// `sites` with identical sites merged into the first of them (bytes, blocks, samples and ages
/// summed, threads joined), largest first; equal sizes keep their order.
pub fn merged(sites: &[CallSite]) -> Vec<CallSite> {
    let mut out: Vec<CallSite> = Vec::with_capacity(sites.len());
    let mut index: HashMap<(String, Vec<FrameKey>), usize> = HashMap::new();
    for site in sites {
        match index.get(&key(site)) {
            Some(&i) => {
                let into = &mut out[i];
                into.live_bytes = into.live_bytes.saturating_add(site.live_bytes);
                into.live_blocks = into.live_blocks.saturating_add(site.live_blocks);
                into.samples = into.samples.saturating_add(site.samples);
                for (total, more) in into.bytes_older_than.iter_mut().zip(site.bytes_older_than) {
                    *total = total.saturating_add(more);
                }
                into.threads.extend(site.threads.iter().cloned());
                into.threads.sort();
                into.threads.dedup();
            }
            None => {
                index.insert(key(site), out.len());
                out.push(site.clone());
            }
        }
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.live_bytes));
    out
}

/// Merges identical sites in the dump's top sites and in every leak's.
pub fn merge_identical(dump: &mut Dump) {
    dump.top_call_sites = merged(&dump.top_call_sites);
    for leak in &mut dump.leaks {
        leak.finding.top_sites = merged(&leak.finding.top_sites);
        leak.sites_at_detection = merged(&leak.sites_at_detection);
        leak.sites_at_peak = merged(&leak.sites_at_peak);
    }
}

/// Whether `a` and `b` are one site as a reader counts them (same scope and resolved frames).
pub fn same(a: &CallSite, b: &CallSite) -> bool {
    key(a) == key(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(scope: &str, addr: u64, line: u32, bytes: u64) -> CallSite {
        CallSite {
            scope: scope.into(),
            frames: vec![
                Frame {
                    addr,
                    function: Some("app::render::{async fn}".into()),
                    file: Some("src/render.rs".into()),
                    line: Some(line),
                },
                Frame {
                    addr: addr + 1,
                    ..Frame::default()
                },
            ],
            live_bytes: bytes,
            live_blocks: 1,
            samples: 2,
            bytes_older_than: [bytes, 0, 0],
            threads: vec![format!("worker-{addr}")],
        }
    }

    #[test]
    fn sites_that_differ_only_in_resolved_addresses_are_one() {
        let sites = [
            site("memo", 0x10, 7, 100),
            site("memo", 0x20, 7, 300),
            site("memo", 0x10, 8, 50),
            site("other", 0x10, 7, 1),
        ];
        let m = merged(&sites);
        // The unresolved second frame differs by address (0x11 vs 0x21): not one site.
        assert_eq!(m.len(), 4);
        let mut same = sites.clone();
        same[1].frames[1].addr = 0x11;
        let m = merged(&same);
        assert_eq!(m.len(), 3, "{m:#?}");
        assert_eq!(m[0].live_bytes, 400);
        assert_eq!(m[0].frames[0].addr, 0x10, "the first one's frames");
        assert_eq!((m[0].live_blocks, m[0].samples), (2, 4));
        assert_eq!(m[0].bytes_older_than, [400, 0, 0]);
        assert_eq!(m[0].threads, ["worker-16", "worker-32"]);
        assert_eq!((m[1].live_bytes, m[2].live_bytes), (50, 1));
    }
}
