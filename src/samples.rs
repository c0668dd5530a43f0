//! The live-sample table: the collecting side of stack sampling, the tracemalloc counterpart.
//!
//! Samples arrive from [`crate::sampler`] on a channel; frees arrive as bits in its `FREED`
//! bitmap. Both are applied under the registry lock by whoever drains (the collector, `flush`, a
//! query). Stacks are interned and reference-counted, so a million live samples from a few
//! call sites cost a few stacks. Per call site and scope the table estimates live bytes and
//! blocks (sample weights summed, tcmalloc-style) and how old that memory is: how much of it was
//! sampled more than 1, 10 and 100 snapshot intervals ago.
//!
//! Symbols are resolved here, never on the allocating thread, and cached per address. Leading
//! frames of leakscope, the unwinder, the standard library and the allocator machinery are
//! trimmed, so a call site's first frame is the program's own code.

use std::collections::BTreeMap;

use hashbrown::HashMap;
use serde::{Deserialize, Serialize};

use crate::leak::{CallSite, Frame};
use crate::sampler::{self, SampleHead};
use crate::symtab::Symtabs;

/// Symbol prefixes of frames that are machinery rather than the program's code.
const MACHINERY: &[&str] = &[
    "leakscope::",
    "<leakscope::",
    "backtrace::",
    "<backtrace::",
    "__rust",
    "__rg_",
    "__rdl_",
    "alloc::",
    "<alloc::",
    "core::",
    "<core::",
    "std::",
    "<std::",
    "hashbrown::",
    "<hashbrown::",
];

/// Source locations of machinery. With `debug = "line-tables-only"`, inlined frames carry only a
/// short function name (`alloc`, `begin`), so their file tells what they are: the toolchain's
/// library sources (remapped under `/rustc/`), the unwinder and hash-table crates, and
/// leakscope's own sources.
const MACHINERY_FILES: &[&str] = &["/rustc/", "/backtrace-0.", "/hashbrown-0.", OWN_SOURCES];

/// Where leakscope's own sources were when it was compiled, as its debug info names them.
const OWN_SOURCES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/");

/// The address cache is cleared past this many addresses, bounding its memory.
const MAX_CACHED_ADDRESSES: usize = 100_000;

struct Live {
    stack: u32,
    scope: u32,
    weight_bytes: f64,
    weight_blocks: f64,
    /// The snapshot index current when the sample arrived.
    born: u64,
    thread: u32,
}

struct Stack {
    frames: Box<[usize]>,
    refs: u32,
}

/// The ages, in intervals, of the "older than" buckets: of a call site's live bytes and of a
/// scope's age profile.
const AGE_LIMITS: [u64; 3] = [1, 10, 100];

/// Live sampled allocations, their stacks, and the symbols resolved so far.
#[derive(Default)]
pub(crate) struct LiveSamples {
    live: HashMap<u32, Live>,
    stack_ids: HashMap<Box<[usize]>, u32>,
    stacks: Vec<Option<Stack>>,
    free_stack_ids: Vec<u32>,
    /// Freed slots whose sample has not arrived yet (it was in flight during the last drain).
    pending_frees: Vec<u32>,
    threads: HashMap<u32, String>,
    symbols: HashMap<usize, Vec<Frame>>,
    /// Symbol tables read to name anonymous bodies the debug info leaves bare.
    symtabs: Symtabs,
    /// The symbol-table name of the function at an address whose debug info names only a bare
    /// body ([`name_from_symbols`]), `None` where the table has none.
    body_symbols: HashMap<usize, Option<String>>,
    /// The number of snapshots taken so far: the clock of the age buckets.
    pub(crate) interval_index: u64,
}

/// A call site aggregated over its live samples, before symbol resolution.
struct SiteAgg {
    scope: u32,
    stack: u32,
    bytes: f64,
    blocks: f64,
    samples: u64,
    older: [f64; 3],
    threads: Vec<u32>,
}

impl LiveSamples {
    /// Applies everything the sampler produced since the last call.
    pub(crate) fn drain(&mut self) {
        sampler::drain(|s, frames| self.add(s, frames));
        let mut freed = std::mem::take(&mut self.pending_frees);
        sampler::take_freed(|slot| freed.push(slot));
        for slot in freed {
            self.free(slot);
        }
    }

    fn add(&mut self, s: &SampleHead, frames: &[usize]) {
        let stack = self.intern(frames);
        let p = sampler::probability(s.size, s.interval);
        let name_len = s.thread_name.iter().position(|&b| b == 0).unwrap_or(16);
        self.threads.entry(s.thread_id).or_insert_with(|| {
            format!(
                "{} ({})",
                String::from_utf8_lossy(&s.thread_name[..name_len]),
                s.thread_id
            )
        });
        let old = self.live.insert(
            s.slot,
            Live {
                stack,
                scope: s.scope,
                weight_bytes: s.size as f64 / p,
                weight_blocks: 1.0 / p,
                born: self.interval_index,
                thread: s.thread_id,
            },
        );
        // A slot is reused only after the collector forgot its previous sample.
        debug_assert!(old.is_none(), "slot {} reused while live", s.slot);
    }

    fn free(&mut self, slot: u32) {
        match self.live.remove(&slot) {
            Some(l) => {
                self.unref(l.stack);
                sampler::release_slot(slot);
            }
            None => self.pending_frees.push(slot),
        }
    }

    fn intern(&mut self, frames: &[usize]) -> u32 {
        if let Some(&id) = self.stack_ids.get(frames) {
            if let Some(Some(st)) = self.stacks.get_mut(id as usize) {
                st.refs += 1;
            }
            return id;
        }
        let stack = Stack {
            frames: frames.into(),
            refs: 1,
        };
        let id = match self.free_stack_ids.pop() {
            Some(id) => {
                self.stacks[id as usize] = Some(stack);
                id
            }
            None => {
                self.stacks.push(Some(stack));
                (self.stacks.len() - 1) as u32
            }
        };
        self.stack_ids.insert(frames.into(), id);
        id
    }

    fn unref(&mut self, id: u32) {
        let Some(slot) = self.stacks.get_mut(id as usize) else {
            return;
        };
        let Some(st) = slot else {
            return;
        };
        st.refs -= 1;
        if st.refs == 0 {
            if let Some(st) = slot.take() {
                self.stack_ids.remove(&st.frames);
            }
            self.free_stack_ids.push(id);
        }
    }

    /// How many sampled blocks are live.
    pub(crate) fn len(&self) -> usize {
        self.live.len()
    }

    /// Each scope's age profile of live sampled memory: the shares of its estimated live bytes
    /// older than 1, 10 and 100 intervals, in ten-thousandths
    /// ([`Snapshot::live_age`](crate::Snapshot::live_age)). Scopes with no live sample are absent.
    pub(crate) fn age_profiles(&self) -> HashMap<u32, [u16; 3]> {
        let mut bytes: HashMap<u32, (f64, [f64; 3])> = HashMap::new();
        for l in self.live.values() {
            let (total, older) = bytes.entry(l.scope).or_default();
            *total += l.weight_bytes;
            let age = self.interval_index.saturating_sub(l.born);
            for (bucket, limit) in older.iter_mut().zip(AGE_LIMITS) {
                if age >= limit {
                    *bucket += l.weight_bytes;
                }
            }
        }
        let scale = f64::from(crate::snapshot::AGE_SHARE_SCALE);
        bytes
            .into_iter()
            .filter(|(_, (total, _))| *total > 0.0)
            .map(|(scope, (total, older))| {
                (scope, older.map(|b| (b / total * scale).round() as u16))
            })
            .collect()
    }

    fn aggregate(&self, scope: Option<u32>) -> Vec<SiteAgg> {
        let mut by_site: HashMap<(u32, u32), SiteAgg> = HashMap::new();
        for l in self.live.values() {
            if scope.is_some_and(|s| s != l.scope) {
                continue;
            }
            let a = by_site.entry((l.scope, l.stack)).or_insert(SiteAgg {
                scope: l.scope,
                stack: l.stack,
                bytes: 0.0,
                blocks: 0.0,
                samples: 0,
                older: [0.0; 3],
                threads: Vec::new(),
            });
            a.bytes += l.weight_bytes;
            a.blocks += l.weight_blocks;
            a.samples += 1;
            let age = self.interval_index.saturating_sub(l.born);
            for (bucket, limit) in a.older.iter_mut().zip(AGE_LIMITS) {
                if age >= limit {
                    *bucket += l.weight_bytes;
                }
            }
            if !a.threads.contains(&l.thread) {
                a.threads.push(l.thread);
            }
        }
        by_site.into_values().collect()
    }

    /// The top `n` call sites by estimated live bytes, in `scope` or in all scopes, with
    /// symbols resolved. `name` gives a scope id's name.
    ///
    /// Sites are told apart by their resolved frames *after* trimming: two raw stacks that
    /// differ only in leakscope's or the allocator's frames (an allocation and a reallocation of
    /// the same call, say), or only in return addresses that resolve to the same function, file
    /// and line, are one call site to the reader, so they are merged (bytes summed).
    pub(crate) fn top_sites(
        &mut self,
        scope: Option<u32>,
        n: usize,
        name: impl Fn(u32) -> String,
    ) -> Vec<CallSite> {
        let mut merged: HashMap<(u32, Vec<FrameKey>), (CallSite, Vec<u32>)> = HashMap::new();
        for a in self.aggregate(scope) {
            let raw = self.stacks[a.stack as usize]
                .as_ref()
                .map(|s| s.frames.clone())
                .unwrap_or_default();
            let frames = self.resolve(&raw);
            let key = (a.scope, site_key(&frames));
            let (site, threads) = merged.entry(key).or_insert_with(|| {
                (
                    CallSite {
                        scope: name(a.scope),
                        frames: frames.clone(),
                        ..CallSite::default()
                    },
                    Vec::new(),
                )
            });
            // Stacks that differ only in return addresses within the same lines are one site;
            // it shows the lowest addresses, so the choice does not depend on hash order.
            if addrs(&frames) < addrs(&site.frames) {
                site.frames = frames;
            }
            site.live_bytes += a.bytes.round() as u64;
            site.live_blocks += a.blocks.round() as u64;
            site.samples += a.samples;
            for (total, older) in site.bytes_older_than.iter_mut().zip(a.older) {
                *total += older.round() as u64;
            }
            threads.extend(a.threads);
        }
        let mut sites: Vec<CallSite> = merged
            .into_values()
            .map(|(mut site, mut ids)| {
                ids.sort_unstable();
                ids.dedup();
                site.threads = ids
                    .iter()
                    .filter_map(|t| self.threads.get(t).cloned())
                    .collect();
                site.threads.sort();
                site
            })
            .collect();
        // Largest first; ties broken by scope and frames so the order is deterministic.
        sites.sort_by(|a, b| {
            b.live_bytes
                .cmp(&a.live_bytes)
                .then_with(|| a.scope.cmp(&b.scope))
                .then_with(|| addrs(&a.frames).cmp(&addrs(&b.frames)))
        });
        sites.truncate(n);
        sites
    }

    /// Resolves a stack to frames (inlined frames expanded) and trims the leading machinery.
    fn resolve(&mut self, ips: &[usize]) -> Vec<Frame> {
        if self.symbols.len() > MAX_CACHED_ADDRESSES {
            self.symbols.clear();
            self.body_symbols.clear();
        }
        let mut frames = Vec::new();
        let mut symbols = Vec::new();
        for &ip in ips {
            let resolved = self.symbols.entry(ip).or_insert_with(|| resolve_ip(ip));
            frames.extend(resolved.iter().cloned());
            symbols.resize(frames.len().saturating_sub(1), None);
            let bare = resolved
                .last()
                .and_then(|f| f.function.as_deref())
                .is_some_and(|name| bare_body(name).is_some());
            let symbol = if bare {
                let symtabs = &mut self.symtabs;
                // A return address is one past its call, which may be the function's last
                // instruction.
                self.body_symbols
                    .entry(ip)
                    .or_insert_with(|| symtabs.body_name(ip.saturating_sub(1) as u64))
                    .clone()
            } else {
                None
            };
            symbols.push(symbol);
        }
        tidy(frames, &symbols)
    }

    /// Releases the debug information the symbolizer loaded (tens of MB for a large binary)
    /// and the symbol tables read; the names resolved so far stay cached.
    pub(crate) fn release_symbolizer(&mut self) {
        backtrace::clear_symbol_cache();
        self.symtabs = Symtabs::default();
    }
}

/// A resolved stack as the reader sees it: anonymous bodies named from their callers, or else
/// from their own symbols (`symbols[i]`, the symbol-table name of frame `i`'s function where
/// frame `i` is the outermost of its address, see [`name_from_symbols`]), names made readable,
/// the leading machinery trimmed, and leakscope's own frames dropped wherever they are further
/// out (the `Scoped::poll` between an async body and the code that awaits it,
/// `Scope::in_scope` around a closure): they are the wrapper the program asked for, not its
/// code, and two sites that differ only in them are one site.
fn tidy(mut frames: Vec<Frame>, symbols: &[Option<String>]) -> Vec<Frame> {
    name_anonymous_bodies(&mut frames);
    name_from_symbols(&mut frames, symbols);
    for f in &mut frames {
        if let Some(name) = &mut f.function {
            *name = readable_name(name);
        }
    }
    let Some(first_user) = frames.iter().position(|f| !is_machinery(f)) else {
        return frames;
    };
    let mut frames = frames.split_off(first_user);
    frames.retain(|f| !is_leakscope_own(f));
    frames
}

/// What makes two frames the same to a reader: function, file and line once resolved; the
/// address only for a frame that did not resolve.
type FrameKey = (Option<String>, Option<String>, Option<u32>, u64);

fn site_key(frames: &[Frame]) -> Vec<FrameKey> {
    frames
        .iter()
        .map(|f| {
            let unresolved = f.function.is_none() && f.file.is_none();
            let addr = if unresolved { f.addr } else { 0 };
            (f.function.clone(), f.file.clone(), f.line, addr)
        })
        .collect()
}

fn addrs(frames: &[Frame]) -> Vec<u64> {
    frames.iter().map(|f| f.addr).collect()
}

/// A demangled name with its closure and async segments made readable: `{{closure}}` and
/// `{closure#0}` become `{closure}`, `{async_fn#0}` becomes `{async fn}`, `{async_block#0}`
/// becomes `{async block}`, so `app::render::{async_fn#0}` reads `app::render::{async fn}`: the
/// function the reader wrote, then what inside it allocated.
///
/// With `debug = "line-tables-only"` a closure or async body carries its last segment alone
/// (`{async_fn#0}`, no path) until [`name_anonymous_bodies`] finds its parent; `debug =
/// "limited"` keeps the whole path (the crate docs compare the two).
fn readable_name(name: &str) -> String {
    fn segment(seg: &str) -> &str {
        let kind = |prefix: &str| {
            seg.strip_prefix(prefix)
                .is_some_and(|rest| rest.ends_with('}'))
        };
        if seg == "{{closure}}" || kind("{closure#") {
            "{closure}"
        } else if kind("{async_fn#") {
            "{async fn}"
        } else if kind("{async_block#") {
            "{async block}"
        } else if kind("{async_closure#") {
            "{async closure}"
        } else {
            seg
        }
    }
    if !name.contains('{') {
        return name.to_owned();
    }
    name.split("::").map(segment).collect::<Vec<_>>().join("::")
}

/// Gives a bare closure or async body its parent path, from the frame that calls it.
///
/// With `debug = "line-tables-only"` (the release profile most services ship) a closure or
/// async body that was inlined, or compiled on its own, carries only its last segment:
/// `{async_fn#0}`, `{closure#1}<T>`, without the function it belongs to. Its caller is
/// usually generic over the body's type, and that type is named in full in the caller's own
/// name: `.in_scope(&MEMO)` on `render(id)` polls it through
/// `poll<app::render::{async_fn_env#0}>`, a spawned task through the runtime's
/// `{closure#0}<app::main::{async_block_env#0}, ..>`, an iterator adapter through
/// `map<.., app::f::{closure_env#1}>`. So a bare `{KIND#N}` frame whose next frame outwards
/// names exactly one path `P::{KIND_env#N}` is `P::{KIND#N}`. When the next frame names no such
/// type (a body awaited directly inside another, both inlined) or more than one (a `join` of
/// two), the frame stays bare: a wrong parent would be worse than none.
///
/// Debug builds and `debug = "limited"` have linkage names, and their frames already carry
/// the whole path; they are left as they are.
fn name_anonymous_bodies(frames: &mut [Frame]) {
    for i in 0..frames.len().saturating_sub(1) {
        let Some((kind, index)) = frames[i].function.as_deref().and_then(bare_body) else {
            continue;
        };
        let Some(caller) = frames[i + 1].function.as_deref() else {
            continue;
        };
        if let Some(parent) = sole_env_parent(caller, kind, index) {
            frames[i].function = Some(format!("{parent}::{{{kind}#{index}}}"));
        }
    }
}

/// `{async_fn#0}` -> `("async_fn", "0")`; `{closure#1}<T, U>` -> `("closure", "1")`: a body's
/// name with no path before it (generic arguments after it are the parent's, and dropped).
fn bare_body(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix('{')?;
    let (inside, after) = rest.split_once('}')?;
    if !(after.is_empty() || after.starts_with('<')) {
        return None;
    }
    let (kind, index) = inside.split_once('#')?;
    let known = [
        "closure",
        "async_fn",
        "async_block",
        "async_closure",
        "coroutine",
    ];
    let digits = !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit());
    (known.contains(&kind) && digits).then_some((kind, index))
}

/// The one path `P` such that `P::{KIND_env#INDEX}` occurs in `caller`, if there is exactly one.
fn sole_env_parent(caller: &str, kind: &str, index: &str) -> Option<String> {
    let needle = format!("::{{{kind}_env#{index}}}");
    let mut found: Option<&str> = None;
    let mut from = 0;
    while let Some(at) = caller[from..].find(&needle) {
        let end = from + at;
        let path = &caller[path_start(caller, end)..end];
        if path.is_empty() {
            return None;
        }
        match found {
            Some(p) if p != path => return None,
            _ => found = Some(path),
        }
        from = end + needle.len();
    }
    found.map(str::to_owned)
}

/// Where the type path that ends at byte `end` of `s` begins: back over identifiers, `::`,
/// `{..}` segments (`{impl#7}`, `{closure#0}`) and a qualified `<T as Trait>` segment.
fn path_start(s: &str, end: usize) -> usize {
    let b = s.as_bytes();
    let mut i = end;
    while i > 0 {
        let c = b[i - 1];
        if c.is_ascii_alphanumeric() || c == b'_' || c == b':' {
            i -= 1;
        } else if c == b'}' || (c == b'>' && s[i..].starts_with("::")) {
            // A balanced `{..}` segment, or `<..>` closing a qualified segment.
            let (open, close) = if c == b'}' {
                (b'{', b'}')
            } else {
                (b'<', b'>')
            };
            let mut depth = 0usize;
            let mut j = i;
            while j > 0 {
                j -= 1;
                if b[j] == close {
                    depth += 1;
                } else if b[j] == open {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
            }
            if depth != 0 {
                break;
            }
            i = j;
        } else {
            break;
        }
    }
    // A path does not begin with `::` (a segment cut at a `<`, as in `Vec<T>::`).
    while s[i..end].starts_with("::") {
        i += 2;
    }
    i
}

fn is_machinery(f: &Frame) -> bool {
    let file_is_machinery = f
        .file
        .as_deref()
        .is_some_and(|file| MACHINERY_FILES.iter().any(|m| file.contains(m)));
    match &f.function {
        Some(name) => file_is_machinery || is_machinery_path(name) || is_machinery_impl(name),
        // Unresolved frames before the program's first frame are the unwinder's.
        None => true,
    }
}

/// A frame in leakscope's own code: by name (`leakscope::..`, `<leakscope::..>`), or, for an
/// inlined frame that carries only a short name (`poll<app::render::{async_fn_env#0}>`), by
/// its file under leakscope's sources.
fn is_leakscope_own(f: &Frame) -> bool {
    let own_file = f
        .file
        .as_deref()
        .is_some_and(|file| file.contains(OWN_SOURCES));
    own_file
        || f.function
            .as_deref()
            .is_some_and(|n| n.starts_with("leakscope::") || n.starts_with("<leakscope::"))
}

fn is_machinery_path(name: &str) -> bool {
    MACHINERY.iter().any(|p| name.starts_with(p))
}

/// `<u8 as alloc::vec::spec_from_elem::SpecFromElem>::from_elem`: a machinery trait implemented
/// for a type that is not a path of its own (a primitive, a slice), so no program code is in it.
/// `<myapp::Foo as core::clone::Clone>::clone` is the program's.
fn is_machinery_impl(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('<') else {
        return false;
    };
    let Some((self_ty, trait_path)) = rest.split_once(" as ") else {
        return false;
    };
    !self_ty.contains("::") && is_machinery_path(trait_path)
}

/// The frames an instruction address stands for: one per inlined function, innermost first. An
/// address that does not resolve yields one frame with only the address.
fn resolve_ip(ip: usize) -> Vec<Frame> {
    let mut out = Vec::new();
    backtrace::resolve(ip as *mut std::ffi::c_void, |sym| {
        out.push(Frame {
            addr: ip as u64,
            // `{:#}` drops the trailing hash of legacy-mangled names. The name stays raw
            // (`{async_fn#0}`) until the whole stack is known: `resolve` names anonymous bodies
            // from their callers, then makes every name readable.
            function: sym.name().map(|n| format!("{n:#}")),
            file: sym.filename().map(|p| p.display().to_string()),
            line: sym.lineno(),
        });
    });
    if out.is_empty() {
        out.push(Frame {
            addr: ip as u64,
            ..Frame::default()
        });
    }
    out
}

/// Names a bare body that is the outermost frame of its address, the function the address is
/// in, from that function's symbol, when no caller named it.
///
/// A body polled through `Pin<Box<dyn Future>>` (every `tokio::spawn`ed task, axum's handlers,
/// `BoxFuture`) is called through a vtable, so it is not inlined where the compiler cannot see
/// the box's type: it is a function of its own, and its caller, `<Pin<Box<dyn Future>> as
/// Future>::poll`, is not generic over it, so [`name_anonymous_bodies`] finds no parent. The
/// function's symbol does name it (`app::render::{{closure}}`): its path is the body's parent.
/// Runs after [`name_anonymous_bodies`], which uses the debug info's names with their generic
/// arguments (the symbol's have none, and a caller named from its symbol would no longer name
/// the body it polls). Inlined frames have no symbol of their own and keep their name.
fn name_from_symbols(frames: &mut [Frame], symbols: &[Option<String>]) {
    for (frame, symbol) in frames.iter_mut().zip(symbols) {
        let (Some(name), Some(symbol)) = (frame.function.as_deref(), symbol) else {
            continue;
        };
        if let Some(named) = with_symbol_parent(name, symbol) {
            frame.function = Some(named);
        }
    }
}

/// `{async_fn#0}` from the debug info and `app::render::{{closure}}` from the symbol table
/// (legacy mangling), or `app::render::{closure#0}` (v0), are one function: the debug info's
/// segment, which says what kind of body it is, under the symbol's parent path,
/// `app::render::{async_fn#0}`. `None` when the symbol's last segment is not an anonymous body
/// (not the same function, then) or it has no parent.
fn with_symbol_parent(debug_name: &str, symbol: &str) -> Option<String> {
    let (kind, index) = bare_body(debug_name)?;
    let (parent, last) = symbol.rsplit_once("::")?;
    let anonymous = last.starts_with('{') && last.ends_with('}');
    (anonymous && !parent.is_empty()).then(|| format!("{parent}::{{{kind}#{index}}}"))
}

/// Live sampled memory per call site at one moment, for [`SampleSnapshot::compare_to`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SampleSnapshot {
    /// Every call site with live samples, largest first.
    pub sites: Vec<CallSite>,
}

/// How one call site changed between two [`SampleSnapshot`]s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SiteDiff {
    /// The site as in the newer snapshot (or the older one, if it is gone).
    pub site: CallSite,
    /// Estimated live bytes, newer minus older.
    pub bytes_diff: i64,
    /// Estimated live blocks, newer minus older.
    pub blocks_diff: i64,
}

impl SampleSnapshot {
    /// The call sites that changed since `older`, largest growth first, like tracemalloc's
    /// `Snapshot.compare_to(old, 'traceback')`. Sites are matched by scope and resolved frames
    /// (function, file, line), not addresses, which move between runs.
    pub fn compare_to(&self, older: &SampleSnapshot) -> Vec<SiteDiff> {
        type Key = (String, Vec<FrameKey>);
        fn key(s: &CallSite) -> Key {
            (s.scope.clone(), site_key(&s.frames))
        }
        let mut old: BTreeMap<Key, &CallSite> = older.sites.iter().map(|s| (key(s), s)).collect();
        let mut diffs: Vec<SiteDiff> = self
            .sites
            .iter()
            .map(|s| {
                let before = old.remove(&key(s));
                SiteDiff {
                    site: s.clone(),
                    bytes_diff: s.live_bytes as i64 - before.map_or(0, |b| b.live_bytes as i64),
                    blocks_diff: s.live_blocks as i64 - before.map_or(0, |b| b.live_blocks as i64),
                }
            })
            .collect();
        diffs.extend(old.into_values().map(|s| SiteDiff {
            site: s.clone(),
            bytes_diff: -(s.live_bytes as i64),
            blocks_diff: -(s.live_blocks as i64),
        }));
        diffs.retain(|d| d.bytes_diff != 0 || d.blocks_diff != 0);
        diffs.sort_by(|a, b| {
            b.bytes_diff
                .cmp(&a.bytes_diff)
                .then_with(|| a.site.scope.cmp(&b.site.scope))
        });
        diffs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Live samples of 100, 300 and 600 estimated bytes born at intervals 0, 95 and 103, read at
    /// interval 105: ages 105, 10 and 2, so older than 1 is all of it, older than 10 the first two
    /// (400 of 1000) and older than 100 the first alone (100 of 1000). Another scope's sample does
    /// not mix in.
    #[test]
    fn age_profile_gives_exact_shares_per_scope() {
        let mut t = LiveSamples::default();
        for (slot, (scope, bytes, born)) in [
            (7, 100.0, 0),
            (7, 300.0, 95),
            (7, 600.0, 103),
            (8, 50.0, 105),
        ]
        .into_iter()
        .enumerate()
        {
            let live = Live {
                stack: 0,
                scope,
                weight_bytes: bytes,
                weight_blocks: 1.0,
                born,
                thread: 0,
            };
            t.live.insert(slot as u32, live);
        }
        t.interval_index = 105;
        let ages = t.age_profiles();
        assert_eq!(ages.len(), 2);
        assert_eq!(ages[&7], [10_000, 4_000, 1_000]);
        assert_eq!(ages[&8], [0, 0, 0]);
    }

    fn site(scope: &str, addr: u64, bytes: u64) -> CallSite {
        CallSite {
            scope: scope.into(),
            frames: vec![Frame {
                addr,
                ..Frame::default()
            }],
            live_bytes: bytes,
            live_blocks: bytes / 100,
            ..CallSite::default()
        }
    }

    #[test]
    fn compare_ranks_growth_first_and_reports_vanished_sites() {
        let older = SampleSnapshot {
            sites: vec![site("a", 1, 1000), site("a", 2, 5000), site("b", 1, 300)],
        };
        let newer = SampleSnapshot {
            sites: vec![site("a", 1, 9000), site("a", 2, 5000), site("c", 7, 200)],
        };
        let d = newer.compare_to(&older);
        let got: Vec<(&str, u64, i64)> = d
            .iter()
            .map(|d| (d.site.scope.as_str(), d.site.frames[0].addr, d.bytes_diff))
            .collect();
        assert_eq!(got, vec![("a", 1, 8000), ("c", 7, 200), ("b", 1, -300)]);
    }

    #[test]
    fn an_address_that_does_not_resolve_keeps_its_frame() {
        // Address 1 is in no mapped object: symbol lookup fails, and the frame still says where.
        assert_eq!(
            resolve_ip(1),
            vec![Frame {
                addr: 1,
                ..Frame::default()
            }]
        );
        let mut table = LiveSamples::default();
        assert_eq!(
            table.resolve(&[1, 2]).len(),
            2,
            "unresolved frames are kept, not dropped"
        );
    }

    #[test]
    fn closure_and_async_segments_read_as_what_they_are() {
        let cases = [
            ("app::render::{async_fn#0}", "app::render::{async fn}"),
            ("app::render::{{closure}}", "app::render::{closure}"),
            (
                "app::h::{closure#1}::{async_block#0}",
                "app::h::{closure}::{async block}",
            ),
            ("app::h::{async_closure#2}", "app::h::{async closure}"),
            ("{async_fn#0}", "{async fn}"),
            ("app::render", "app::render"),
            (
                "<app::Memo as core::ops::Drop>::drop",
                "<app::Memo as core::ops::Drop>::drop",
            ),
            ("app::{weird", "app::{weird"),
        ];
        for (raw, shown) in cases {
            assert_eq!(readable_name(raw), shown, "{raw}");
        }
    }

    fn named(names: &[&str]) -> Vec<Frame> {
        names
            .iter()
            .map(|n| Frame {
                function: Some((*n).into()),
                ..Frame::default()
            })
            .collect()
    }

    fn names(frames: &[Frame]) -> Vec<&str> {
        frames
            .iter()
            .filter_map(|f| f.function.as_deref())
            .collect()
    }

    /// The frames of tests/axum_service.rs's top site in a release build (line tables only):
    /// `render`'s body inlined into `Scoped::poll`, `render_handler`'s into axum's handler block.
    #[test]
    fn bare_bodies_take_their_path_from_the_caller_generic_over_them() {
        let mut frames = named(&[
            "{async_fn#0}",
            "poll<axum_service::service::render::{async_fn_env#0}>",
            "{async_fn#0}",
            "{async_block#0}<fn(axum::extract::state::State<axum_service::service::AppState>, \
             axum::extract::path::Path<u64>) -> axum_service::service::render_handler::\
             {async_fn_env#0}, axum_service::service::render_handler::{async_fn_env#0}, \
             axum_service::service::AppState, alloc::string::String>",
            "poll<alloc::boxed::Box<(dyn core::future::future::Future<Output=()> + \
             core::marker::Send), alloc::alloc::Global>>",
            "{closure#1}<tokio::runtime::blocking::pool::{impl#7}::spawn_thread::\
             {closure_env#0}, ()>",
            "call_once<std::thread::lifecycle::spawn_unchecked::{closure_env#1}<tokio::\
             runtime::blocking::pool::{impl#7}::spawn_thread::{closure_env#0}, ()>, ()>",
        ]);
        name_anonymous_bodies(&mut frames);
        assert_eq!(
            names(&frames),
            [
                "axum_service::service::render::{async_fn#0}",
                "poll<axum_service::service::render::{async_fn_env#0}>",
                "axum_service::service::render_handler::{async_fn#0}",
                // axum's own block: its caller (a boxed dyn future) names no type.
                "{async_block#0}<fn(axum::extract::state::State<axum_service::service::AppState>, \
                 axum::extract::path::Path<u64>) -> axum_service::service::render_handler::\
                 {async_fn_env#0}, axum_service::service::render_handler::{async_fn_env#0}, \
                 axum_service::service::AppState, alloc::string::String>",
                "poll<alloc::boxed::Box<(dyn core::future::future::Future<Output=()> + \
                 core::marker::Send), alloc::alloc::Global>>",
                "std::thread::lifecycle::spawn_unchecked::{closure#1}",
                "call_once<std::thread::lifecycle::spawn_unchecked::{closure_env#1}<tokio::\
                 runtime::blocking::pool::{impl#7}::spawn_thread::{closure_env#0}, ()>, ()>",
            ]
        );
        assert_eq!(
            readable_name(frames[0].function.as_deref().unwrap()),
            "axum_service::service::render::{async fn}"
        );
    }

    fn at(name: &str, file: &str, line: u32) -> Frame {
        Frame {
            addr: 0x1000 + u64::from(line),
            function: Some(name.into()),
            file: Some(file.into()),
            line: Some(line),
        }
    }

    /// tests/axum_service.rs's top site as each profile resolves it, the allocator's frames
    /// before it: leakscope's `Scoped::poll` between `render`'s body and `render_handler`'s
    /// names the body, then is dropped, so the site reads producer, then consumer.
    #[test]
    fn the_scoped_poll_frame_names_the_body_and_is_not_shown() {
        let rustc = "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/alloc/src";
        let example = "/work/app/examples/axum_service.rs";
        let future = format!("{OWN_SOURCES}future.rs");
        let allocating = || {
            vec![
                at("__rust_alloc", "", 0),
                at("alloc", &format!("{rustc}/alloc.rs"), 94),
                at("with_capacity", &format!("{rustc}/string.rs"), 489),
            ]
        };
        // Release (`debug = "line-tables-only"`): short names, the wrapper known by its file.
        let mut release = allocating();
        release.extend([
            at("{async_fn#0}", example, 118),
            at(
                "poll<axum_service::service::render::{async_fn_env#0}>",
                &future,
                111,
            ),
            at("{async_fn#0}", example, 131),
            at(
                "{async_block#0}<fn(axum::extract::state::State<axum_service::service::\
                 AppState>, axum::extract::path::Path<u64>) -> axum_service::service::\
                 render_handler::{async_fn_env#0}, axum_service::service::render_handler::\
                 {async_fn_env#0}, axum_service::service::AppState, alloc::string::String>",
                "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/axum-0.8.9/src/\
                 handler/mod.rs",
                224,
            ),
            at(
                "poll<alloc::boxed::Box<(dyn core::future::future::Future<Output=()> + \
                 core::marker::Send), alloc::alloc::Global>>",
                &format!("{rustc}/boxed.rs"),
                1980,
            ),
        ]);
        assert_eq!(
            names(&tidy(release, &[]))[..2],
            [
                "axum_service::service::render::{async fn}",
                "axum_service::service::render_handler::{async fn}",
            ]
        );
        // Debug: linkage names (legacy mangling spells the bodies `{{closure}}`).
        let mut debug = allocating();
        debug.extend([
            at("axum_service::service::render::{{closure}}", example, 118),
            at(
                "<leakscope::future::Scoped<F> as core::future::future::Future>::poll",
                &future,
                111,
            ),
            at(
                "axum_service::service::render_handler::{{closure}}",
                example,
                131,
            ),
        ]);
        assert_eq!(
            names(&tidy(debug, &[])),
            [
                "axum_service::service::render::{closure}",
                "axum_service::service::render_handler::{closure}",
            ]
        );
        // A synchronous scope: `Scope::in_scope` between the closure and its function.
        let mut sync = allocating();
        sync.extend([
            at("app::fill::{{closure}}", "/work/app/src/main.rs", 12),
            at(
                "leakscope::scope::Scope::in_scope",
                &format!("{OWN_SOURCES}scope.rs"),
                110,
            ),
            at("app::fill", "/work/app/src/main.rs", 12),
            at("app::main", "/work/app/src/main.rs", 30),
        ]);
        assert_eq!(
            names(&tidy(sync, &[])),
            ["app::fill::{closure}", "app::fill", "app::main"]
        );
    }

    /// The symbol table's parent, the debug info's kind of body; nothing when the two cannot
    /// be the same function.
    #[test]
    fn a_body_takes_its_parent_from_its_own_symbol() {
        let cases = [
            (
                "{async_fn#0}",
                "app::render::{{closure}}",
                Some("app::render::{async_fn#0}"),
            ),
            (
                "{async_block#0}<fn(app::Req) -> app::h::{async_fn_env#0}>",
                "<F as axum::handler::Handler<(M,T1),S>>::call::{{closure}}",
                Some("<F as axum::handler::Handler<(M,T1),S>>::call::{async_block#0}"),
            ),
            // v0 mangling.
            (
                "{closure#1}",
                "app::render::<u8>::{closure#1}",
                Some("app::render::<u8>::{closure#1}"),
            ),
            // Nested: the parent is itself a body.
            (
                "{closure#0}",
                "app::f::{{closure}}::{{closure}}",
                Some("app::f::{{closure}}::{closure#0}"),
            ),
            // Not a body in the symbol table, no parent, a debug name that has its path.
            ("{async_fn#0}", "app::render", None),
            ("{async_fn#0}", "{{closure}}", None),
            ("{async_fn#0}", "::{{closure}}", None),
            (
                "app::render::{async_fn#0}",
                "app::render::{{closure}}",
                None,
            ),
        ];
        for (debug_name, symbol, named) in cases {
            assert_eq!(
                with_symbol_parent(debug_name, symbol).as_deref(),
                named,
                "{debug_name} / {symbol}"
            );
        }
        assert_eq!(
            readable_name("app::f::{{closure}}::{closure#0}"),
            "app::f::{closure}::{closure}"
        );
    }

    /// tests/sampling.rs's boxed body and tests/axum_service.rs's handler in a release build,
    /// with the symbols of the outermost frames. A body polled through a boxed dyn future takes
    /// its parent from its symbol; a caller generic over a body still names that body first, and
    /// then takes its own parent from its symbol (which has no generic arguments to name the
    /// body by).
    #[test]
    fn outermost_bodies_take_their_parent_from_their_symbol() {
        let dyn_poll = "poll<alloc::boxed::Box<(dyn core::future::future::Future<Output=()> + \
                        core::marker::Send), alloc::alloc::Global>>";
        let boxed = named(&["{async_fn#0}", dyn_poll, "main"]);
        let symbols = [Some("app::render::{{closure}}".to_owned()), None, None];
        assert_eq!(
            names(&tidy(boxed.clone(), &symbols)),
            ["app::render::{async fn}", dyn_poll, "main"]
        );
        assert_eq!(
            names(&tidy(boxed, &[]))[0],
            "{async fn}",
            "without the symbol"
        );
        let handler = named(&[
            "{async_fn#0}",
            "{async_block#0}<fn(axum::extract::path::Path<u64>) -> \
             axum_service::service::render_handler::{async_fn_env#0}, \
             axum_service::service::render_handler::{async_fn_env#0}, alloc::string::String>",
            dyn_poll,
        ]);
        // The handler's body is inlined into axum's block: only the block has a symbol.
        let symbols = [
            None,
            Some("<F as axum::handler::Handler<(M,T1),S>>::call::{{closure}}".to_owned()),
            None,
        ];
        assert_eq!(
            names(&tidy(handler, &symbols)),
            [
                "axum_service::service::render_handler::{async fn}",
                "<F as axum::handler::Handler<(M,T1),S>>::call::{async block}",
                dyn_poll,
            ]
        );
    }

    #[test]
    fn a_body_without_one_sure_parent_stays_bare() {
        // Awaited directly inside another body: nothing generic over it in between (the outer
        // body is named, the inner one is not).
        let mut frames = named(&[
            "{async_fn#0}",
            "{async_fn#0}",
            "poll<app::outer::{async_fn_env#0}>",
        ]);
        name_anonymous_bodies(&mut frames);
        assert_eq!(
            names(&frames)[..2],
            ["{async_fn#0}", "app::outer::{async_fn#0}"]
        );
        let cases: [&[&str]; 4] = [
            // A join of two: two candidates.
            &[
                "{async_fn#0}",
                "join<app::a::{async_fn_env#0}, app::b::{async_fn_env#0}>",
            ],
            // Another kind, another index.
            &["{closure#0}", "poll<app::a::{async_fn_env#0}>"],
            &["{closure#2}", "map<u8, app::f::{closure_env#1}>"],
            // Already a path (a debug build): left alone.
            &["app::f::{closure#0}", "map<u8, app::g::{closure_env#0}>"],
        ];
        for case in cases {
            let mut frames = named(case);
            name_anonymous_bodies(&mut frames);
            assert_eq!(names(&frames), case);
        }
        // The same parent named twice is one parent; a qualified segment is part of the path.
        let mut frames = named(&[
            "{closure#0}",
            "call<<app::Memo as app::Cache>::get::{closure_env#0}, \
             <app::Memo as app::Cache>::get::{closure_env#0}>",
        ]);
        name_anonymous_bodies(&mut frames);
        assert_eq!(
            frames[0].function.as_deref(),
            Some("<app::Memo as app::Cache>::get::{closure#0}")
        );
    }

    #[test]
    fn stacks_that_resolve_to_the_same_frames_are_one_site() {
        let mut table = LiveSamples::default();
        let frame = |addr: u64, line: u32| Frame {
            addr,
            function: Some("app::render::{async fn}".into()),
            file: Some("src/render.rs".into()),
            line: Some(line),
        };
        // Two return addresses on line 12, one on line 13.
        for (ip, line) in [(0x20, 12), (0x10, 12), (0x30, 13)] {
            table.symbols.insert(ip, vec![frame(ip as u64, line)]);
        }
        for (slot, (ip, bytes)) in [(0x20, 1000.0), (0x10, 500.0), (0x30, 70.0)]
            .into_iter()
            .enumerate()
        {
            let stack = table.intern(&[ip]);
            table.live.insert(
                slot as u32,
                Live {
                    stack,
                    scope: 5,
                    weight_bytes: bytes,
                    weight_blocks: 1.0,
                    born: 0,
                    thread: 1,
                },
            );
        }
        let sites = table.top_sites(None, 10, |_| "memo".into());
        let got: Vec<(u64, u64, u64)> = sites
            .iter()
            .map(|s| (s.frames[0].addr, s.live_bytes, s.live_blocks))
            .collect();
        assert_eq!(got, vec![(0x10, 1500, 2), (0x30, 70, 1)]);
    }

    #[test]
    fn machinery_frames_are_trimmed() {
        let f = |name: &str| Frame {
            function: Some(name.into()),
            ..Frame::default()
        };
        assert!(is_machinery(&f("leakscope::sampler::begin")));
        assert!(is_machinery(&f(
            "<alloc::vec::Vec<T> as core::clone::Clone>::clone"
        )));
        assert!(is_machinery(&f("__rustc::__rust_alloc")));
        assert!(is_machinery(&f(
            "<u8 as alloc::vec::spec_from_elem::SpecFromElem>::from_elem"
        )));
        assert!(!is_machinery(&f("myapp::cache::insert")));
        assert!(!is_machinery(&f(
            "<myapp::Foo as core::default::Default>::default"
        )));
    }
}
