//! Bounded per-scope history: recent snapshots at full resolution plus two coarser tiers, so a
//! leak of a few MB per hour stays visible over days in memory fixed by configuration.
//!
//! # Tiers
//!
//! With `limit` = `max_snapshots_per_cache`:
//!
//! - **fine**: the last `limit` snapshots as taken (up to `limit + 9`, see below);
//! - **tier 1**: one point per [`TIER_FACTOR`] (10) intervals, the last `limit` of them (up to
//!   `limit + 9`);
//! - **tier 2**: one point per 100 intervals, the last `limit` of them.
//!
//! At the default 1,000 points and 30 s intervals that is 8 hours fine, 3.5 days at 5 minutes,
//! and 35 days at 50 minutes; what is older than the last tier is dropped.
//!
//! # How a coarse point is formed
//!
//! A coarse point is a [`Snapshot`] standing for a run of consecutive intervals:
//!
//! - `t` and the state fields (`curr_bytes`, `curr_blocks`, `entries`, `rss_bytes`,
//!   `live_age`) are those of the **last** snapshot of the run, so a coarse point is an exact
//!   sample of the state at its time and consecutive points of the merged series still
//!   reconcile: `curr_bytes[i] - curr_bytes[i-1] = bytes_allocated[i] - bytes_freed[i]` for
//!   memory the allocator sees, across tier boundaries too;
//! - the interval fields (`allocs`, `frees`, `bytes_allocated`, `bytes_freed`) are **summed**
//!   over the run (saturating), so rates and free ratios over coarse points stay exact;
//! - the **minimum** and maximum of `curr_bytes` over the run are kept beside it. The minimum is
//!   what slow-leak detection needs: a cache's eviction sawtooth aliases badly when sampled every
//!   50 minutes, while the minimum of each run is exactly the floor the detectors compute
//!   (docs/detectors.md, "The floor"). [`ScopeHistory::floor_series`] gives the merged series with these minima.
//!
//! One rule, [`merge_into`], forms these runs and the older runs of the dump.
//!
//! # How points are stored
//!
//! A point as a struct is 112 bytes (a snapshot and its run's minimum and maximum), most of them
//! zeros and repeats: counters that move by a few units, a time that advances by the same step.
//! The rings keep their points in encoded chunks of [`TIER_FACTOR`] (a run of the next tier, so
//! the rings evict whole chunks), column by column. A column of a chunk is one header byte and
//! little-endian values of one width (0, 1, 2, 4 or 8 bytes) for the whole column: either the
//! values themselves, or the first value and then each later one's zigzagged difference from a
//! prediction, whichever is shorter. The predictions: the previous value for the counters; the
//! previous value plus what the interval allocated minus what it freed for `curr_bytes` (and
//! blocks likewise), which holds exactly for memory the allocator sees; the previous step
//! repeated for the bits of `t`. Optional fields have a presence mask per chunk and values only
//! where present. Every difference is taken wrapping, so any value decodes exactly, and readers
//! decode a chunk at a time on demand. At the bench's 1,000 scopes that is about 10 bytes a
//! point (benches/collector.rs prints it); since no value is assumed small, the bound is the
//! case where every column takes 8 bytes a value.
//!
//! # Merging without overlap
//!
//! The tiers overlap in time (every snapshot feeds all three), so [`ScopeHistory::series`] takes
//! each tier only for the time before the next finer one begins. To make the junctions exact,
//! rings evict whole runs of 10 from the front: the fine ring always starts at a tier-1 boundary
//! and the tier-1 ring at a tier-2 boundary, so every interval is counted exactly once, with no
//! gap. That is why the two finer rings hold up to `limit + 9` points, and why `limit` must be at
//! least 10 (which [`Config::validate`](crate::Config::validate) enforces).

use std::collections::{BTreeMap, VecDeque};
use std::mem::size_of;

use crate::snapshot::Snapshot;

/// How many points of one tier make one point of the next coarser tier.
pub const TIER_FACTOR: usize = 10;

/// A run of consecutive intervals folded into one point (see the module docs); a fine point is
/// a run of one.
#[derive(Clone, Debug, Default, PartialEq)]
struct Coarse {
    /// Sums of the interval fields, state of the last snapshot.
    point: Snapshot,
    min_bytes: u64,
    max_bytes: u64,
}

impl Coarse {
    fn of(s: Snapshot) -> Self {
        Coarse {
            min_bytes: s.curr_bytes,
            max_bytes: s.curr_bytes,
            point: s,
        }
    }

    /// Extends the run with the next, later run.
    fn fold(&mut self, next: &Coarse) {
        merge_into(&mut self.point, &next.point);
        self.min_bytes = self.min_bytes.min(next.min_bytes);
        self.max_bytes = self.max_bytes.max(next.max_bytes);
    }
}

/// Extends the run `run` stands for with the later point `next`: the state fields and `t` become
/// `next`'s, the interval counters are summed (saturating). The coarse tiers' runs and the
/// dump's older runs are both formed by it.
pub(crate) fn merge_into(run: &mut Snapshot, next: &Snapshot) {
    let (allocs, frees) = (
        run.allocs.saturating_add(next.allocs),
        run.frees.saturating_add(next.frees),
    );
    let (allocated, freed) = (
        run.bytes_allocated.saturating_add(next.bytes_allocated),
        run.bytes_freed.saturating_add(next.bytes_freed),
    );
    run.clone_from(next);
    run.allocs = allocs;
    run.frees = frees;
    run.bytes_allocated = allocated;
    run.bytes_freed = freed;
}

/// Points per encoded chunk: one run of the next coarser tier.
const CHUNK: usize = TIER_FACTOR;

/// The most bytes one column of a chunk takes: its header and every value at 8 bytes.
const COLUMN_MAX: usize = 1 + 8 * CHUNK;
/// The most an age share column takes: shares are `u16`, so stored as they are they take 2.
const AGE_COLUMN_MAX: usize = 1 + 2 * CHUNK;
/// The most bytes one chunk takes: seven plain columns (`t`, the four interval counters, the
/// live bytes and blocks), the minimum and maximum in coarse rings, two optional `u64` columns
/// with their masks, and the age mask with three share columns when profiles can arrive.
const fn chunk_max(coarse: bool, ages: bool) -> usize {
    let plain = if coarse { 9 } else { 7 };
    let age = if ages { 3 * AGE_COLUMN_MAX } else { 0 };
    plain * COLUMN_MAX + 2 * (2 + COLUMN_MAX) + 2 + age
}

/// Byte widths a column's values can take; a column header names one by its index.
const WIDTHS: [usize; 5] = [0, 1, 2, 4, 8];

/// The index in [`WIDTHS`] of the narrowest width that holds `max`.
fn width_code(max: u64) -> u8 {
    match max {
        0 => 0,
        1..=0xff => 1,
        0x100..=0xffff => 2,
        0x1_0000..=0xffff_ffff => 3,
        _ => 4,
    }
}

fn zigzag(d: u64) -> u64 {
    let d = d as i64;
    ((d << 1) ^ (d >> 63)) as u64
}

fn unzigzag(z: u64) -> u64 {
    (z >> 1) ^ (z & 1).wrapping_neg()
}

/// How a column's values are predicted from the earlier values of the chunk.
#[derive(Clone, Copy)]
enum Predict<'a> {
    /// The previous value.
    Previous,
    /// The previous step repeated (the first step: the previous value).
    Step,
    /// The previous value plus `added[i] - removed[i]`.
    Net(&'a [u64], &'a [u64]),
}

impl Predict<'_> {
    /// The prediction of `v[i]` (`i >= 1`) from `v[..i]`.
    #[inline]
    fn at(self, v: &[u64], i: usize) -> u64 {
        let prev = v[i - 1];
        match self {
            Predict::Previous => prev,
            Predict::Step if i >= 2 => prev.wrapping_add(prev.wrapping_sub(v[i - 2])),
            Predict::Step => prev,
            Predict::Net(added, removed) => prev.wrapping_add(added[i].wrapping_sub(removed[i])),
        }
    }
}

/// A chunk being encoded: a fixed buffer, so encoding allocates nothing.
struct Encoder {
    buf: [u8; chunk_max(true, true)],
    len: usize,
}

impl Encoder {
    fn put(&mut self, v: u64, width: usize) {
        self.buf[self.len..self.len + width].copy_from_slice(&v.to_le_bytes()[..width]);
        self.len += width;
    }

    /// One column: a header byte, then the values as they are (bit 7 clear, bits 0-2 the
    /// width) or the first value and the zigzagged residuals of the prediction (bit 7 set, bits
    /// 0-2 the first value's width, bits 3-5 the residuals'), whichever is shorter.
    fn column(&mut self, v: &[u64], predict: Predict) {
        let Some((&first, _)) = v.split_first() else {
            return;
        };
        let n = v.len();
        let raw = width_code(v.iter().fold(0, |m, &x| m | x));
        let residual = |i: usize| zigzag(v[i].wrapping_sub(predict.at(v, i)));
        let resid = width_code((1..n).fold(0, |m, i| m | residual(i)));
        let first_code = width_code(first);
        let raw_len = n * WIDTHS[raw as usize];
        let pred_len = WIDTHS[first_code as usize] + (n - 1) * WIDTHS[resid as usize];
        if raw_len <= pred_len {
            self.put(u64::from(raw), 1);
            v.iter().for_each(|&x| self.put(x, WIDTHS[raw as usize]));
        } else {
            self.put(u64::from(0x80 | resid << 3 | first_code), 1);
            self.put(first, WIDTHS[first_code as usize]);
            (1..n).for_each(|i| self.put(residual(i), WIDTHS[resid as usize]));
        }
    }

    /// An optional column: a 2-byte mask of the points that have a value, then the present
    /// values as a column (of each of `parts`).
    fn optional<const K: usize>(&mut self, values: impl Iterator<Item = Option<[u64; K]>>) {
        let (mut mask, mut cols, mut n) = (0u64, [[0u64; CHUNK]; K], 0);
        for (i, v) in values.enumerate() {
            if let Some(v) = v {
                mask |= 1 << i;
                (0..K).for_each(|k| cols[k][n] = v[k]);
                n += 1;
            }
        }
        self.put(mask, 2);
        cols.iter()
            .for_each(|c| self.column(&c[..n], Predict::Previous));
    }

    /// Encodes `points` (at most [`CHUNK`]), with their minimum and maximum if `coarse`.
    fn chunk(points: &[Coarse], coarse: bool) -> Encoder {
        let mut e = Encoder {
            buf: [0; chunk_max(true, true)],
            len: 0,
        };
        let n = points.len();
        let col = |f: fn(&Coarse) -> u64| {
            let mut c = [0u64; CHUNK];
            points.iter().zip(&mut c).for_each(|(p, x)| *x = f(p));
            c
        };
        let t = col(|p| p.point.t.to_bits());
        let allocated = col(|p| p.point.bytes_allocated);
        let freed = col(|p| p.point.bytes_freed);
        let allocs = col(|p| p.point.allocs);
        let frees = col(|p| p.point.frees);
        e.column(&t[..n], Predict::Step);
        e.column(&allocated[..n], Predict::Previous);
        e.column(&freed[..n], Predict::Previous);
        e.column(
            &col(|p| p.point.curr_bytes)[..n],
            Predict::Net(&allocated, &freed),
        );
        e.column(&allocs[..n], Predict::Previous);
        e.column(&frees[..n], Predict::Previous);
        e.column(
            &col(|p| p.point.curr_blocks)[..n],
            Predict::Net(&allocs, &frees),
        );
        if coarse {
            let below = col(|p| p.point.curr_bytes.wrapping_sub(p.min_bytes));
            let above = col(|p| p.max_bytes.wrapping_sub(p.point.curr_bytes));
            e.column(&below[..n], Predict::Previous);
            e.column(&above[..n], Predict::Previous);
        }
        e.optional(points.iter().map(|p| p.point.entries.map(|v| [v])));
        e.optional(points.iter().map(|p| p.point.rss_bytes.map(|v| [v])));
        e.optional(
            points
                .iter()
                .map(|p| p.point.live_age.map(|a| a.map(u64::from))),
        );
        e
    }
}

/// Reads a chunk [`Encoder`] wrote.
struct Decoder<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Decoder<'_> {
    #[inline]
    fn get(&mut self, width: usize) -> u64 {
        let mut v = [0u8; 8];
        v[..width].copy_from_slice(&self.bytes[self.pos..self.pos + width]);
        self.pos += width;
        u64::from_le_bytes(v)
    }

    /// `out.len()` values of `width` bytes.
    #[inline(always)]
    fn values(&mut self, out: &mut [u64], width: usize) {
        let n = out.len();
        let b = &self.bytes[self.pos..self.pos + n * width];
        self.pos += n * width;
        match width {
            0 => out.fill(0),
            1 => out.iter_mut().zip(b).for_each(|(x, &v)| *x = u64::from(v)),
            2 => out
                .iter_mut()
                .zip(b.chunks_exact(2))
                .for_each(|(x, v)| *x = u64::from(u16::from_le_bytes([v[0], v[1]]))),
            4 => out
                .iter_mut()
                .zip(b.chunks_exact(4))
                .for_each(|(x, v)| *x = u64::from(u32::from_le_bytes([v[0], v[1], v[2], v[3]]))),
            _ => out.iter_mut().zip(b.chunks_exact(8)).for_each(|(x, v)| {
                *x = u64::from_le_bytes([v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]])
            }),
        }
    }

    // Inlined at each call, so that each column's prediction is known where it is applied.
    #[inline(always)]
    fn column(&mut self, out: &mut [u64], predict: Predict) {
        if out.is_empty() {
            return;
        }
        let header = self.get(1) as usize;
        if header & 0x80 == 0 {
            self.values(out, WIDTHS[header & 7]);
            return;
        }
        out[0] = self.get(WIDTHS[header & 7]);
        let width = WIDTHS[header >> 3 & 7];
        if width == 0 && matches!(predict, Predict::Previous) {
            // Every value is the first (the most common column of all).
            let first = out[0];
            out.fill(first);
            return;
        }
        self.values(&mut out[1..], width);
        // Each residual becomes its value, in order: the prediction reads only earlier ones.
        for i in 1..out.len() {
            out[i] = predict.at(out, i).wrapping_add(unzigzag(out[i]));
        }
    }

    /// An optional column: which of the `n` points have a value (the mask's other bits
    /// cleared), and the values, into the first of `cols`' entries.
    fn optional<const K: usize>(&mut self, n: usize, (mask, cols): &mut (u64, [[u64; CHUNK]; K])) {
        *mask = self.get(2) & ((1 << n) - 1);
        let present = mask.count_ones() as usize;
        cols.iter_mut()
            .for_each(|c| self.column(&mut c[..present], Predict::Previous));
    }

    /// The `n` points of the chunk at the start of `bytes`, column by column, into `out`
    /// (whose earlier contents are overwritten where they are read).
    fn columns(bytes: &[u8], n: usize, coarse: bool, out: &mut ChunkColumns) {
        let mut d = Decoder { bytes, pos: 0 };
        let [t, allocated, freed, curr, allocs, frees, blocks, below, above] = &mut out.cols;
        d.column(&mut t[..n], Predict::Step);
        d.column(&mut allocated[..n], Predict::Previous);
        d.column(&mut freed[..n], Predict::Previous);
        d.column(&mut curr[..n], Predict::Net(allocated, freed));
        d.column(&mut allocs[..n], Predict::Previous);
        d.column(&mut frees[..n], Predict::Previous);
        d.column(&mut blocks[..n], Predict::Net(allocs, frees));
        if coarse {
            d.column(&mut below[..n], Predict::Previous);
            d.column(&mut above[..n], Predict::Previous);
        } else {
            // A fine point is its own minimum and maximum.
            below[..n].fill(0);
            above[..n].fill(0);
        }
        d.optional(n, &mut out.entries);
        d.optional(n, &mut out.rss);
        d.optional(n, &mut out.ages);
    }

    /// The `n` points of the chunk at the start of `bytes`, into `out[..n]`.
    fn chunk(bytes: &[u8], n: usize, coarse: bool, out: &mut [Coarse; CHUNK]) {
        let mut c = ChunkColumns::default();
        Decoder::columns(bytes, n, coarse, &mut c);
        for (i, out) in out.iter_mut().enumerate().take(n) {
            *out = c.coarse(i);
        }
    }

    /// Only the times of the `n` points of the chunk at the start of `bytes` (the first column).
    fn times(bytes: &[u8], n: usize, out: &mut [u64; CHUNK]) {
        Decoder { bytes, pos: 0 }.column(&mut out[..n], Predict::Step);
    }
}

/// The points of one chunk column by column, as [`Decoder::columns`] reads them: for readers
/// that sum a few fields over many points and build only some points whole (the dump's older
/// runs, in src/collector/assemble.rs).
#[derive(Default)]
pub(crate) struct ChunkColumns {
    /// `t` (as bits), bytes allocated, bytes freed, live bytes, allocs, frees, live blocks,
    /// and in coarse rings each run's distance from its minimum and to its maximum.
    cols: [[u64; CHUNK]; 9],
    /// The optional columns: which points have a value, and the present values in order.
    entries: (u64, [[u64; CHUNK]; 1]),
    rss: (u64, [[u64; CHUNK]; 1]),
    ages: (u64, [[u64; CHUNK]; 3]),
}

impl ChunkColumns {
    /// Where point `i`'s value sits among the present values of an optional column with
    /// `mask`, if it has one.
    #[inline]
    fn present(mask: u64, i: usize) -> Option<usize> {
        // `i < CHUNK`, and the values before it number at most `i`: always in bounds.
        (mask >> i & 1 == 1).then(|| (mask & ((1 << i) - 1)).count_ones() as usize)
    }

    /// Point `i` of the chunk.
    #[inline]
    pub(crate) fn point(&self, i: usize) -> Snapshot {
        let [t, allocated, freed, curr, allocs, frees, blocks, ..] = &self.cols;
        Snapshot {
            t: f64::from_bits(t[i]),
            curr_bytes: curr[i],
            curr_blocks: blocks[i],
            allocs: allocs[i],
            frees: frees[i],
            bytes_allocated: allocated[i],
            bytes_freed: freed[i],
            entries: Self::present(self.entries.0, i).map(|k| self.entries.1[0][k]),
            rss_bytes: Self::present(self.rss.0, i).map(|k| self.rss.1[0][k]),
            live_age: Self::present(self.ages.0, i).map(|k| self.ages.1.map(|c| c[k] as u16)),
        }
    }

    /// Point `i` of the chunk with its run's minimum and maximum.
    #[inline]
    fn coarse(&self, i: usize) -> Coarse {
        let [_, _, _, curr, _, _, _, below, above] = &self.cols;
        Coarse {
            point: self.point(i),
            min_bytes: curr[i].wrapping_sub(below[i]),
            max_bytes: curr[i].wrapping_add(above[i]),
        }
    }

    /// The interval counters of points `range` summed, saturating as [`merge_into`] does:
    /// allocs, frees, bytes allocated, bytes freed.
    #[inline]
    pub(crate) fn sum_counters(&self, range: std::ops::Range<usize>) -> [u64; 4] {
        let [_, allocated, freed, _, allocs, frees, ..] = &self.cols;
        let sum = |c: &[u64; CHUNK]| {
            c[range.clone()]
                .iter()
                .fold(0u64, |sum, &v| sum.saturating_add(v))
        };
        [sum(allocs), sum(frees), sum(allocated), sum(freed)]
    }
}

/// A ring of points in encoded chunks of [`CHUNK`], the last one being filled. Chunk `c` holds
/// the points `c * CHUNK ..` of the ring counted from its first chunk's start; the first
/// `skip` of them were dropped (only the coarsest ring drops points one at a time).
#[derive(Clone, Debug, Default)]
struct Ring {
    /// The chunks, back to back.
    bytes: Vec<u8>,
    /// Where each chunk starts in `bytes`.
    starts: VecDeque<u32>,
    /// Points stored, the skipped ones included.
    stored: usize,
    skip: usize,
    /// Whether the points carry a run's minimum and maximum (a fine point's are its bytes).
    coarse: bool,
}

impl Ring {
    fn new(coarse: bool) -> Self {
        Ring {
            coarse,
            ..Ring::default()
        }
    }

    fn len(&self) -> usize {
        self.stored - self.skip
    }

    /// How many points chunk `c` holds, and its bytes.
    fn chunk_bytes(&self, c: usize) -> (usize, &[u8]) {
        let n = (self.stored - c * CHUNK).min(CHUNK);
        (n, &self.bytes[self.starts[c] as usize..])
    }

    /// The points of chunk `c`, as many as it holds.
    fn chunk(&self, c: usize) -> ([Coarse; CHUNK], usize) {
        let mut out: [Coarse; CHUNK] = Default::default();
        let (n, bytes) = self.chunk_bytes(c);
        Decoder::chunk(bytes, n, self.coarse, &mut out);
        (out, n)
    }

    /// The chunks holding points `from..to` of the ring, each with the part of it in range.
    fn chunk_ranges(
        &self,
        from: usize,
        to: usize,
    ) -> impl DoubleEndedIterator<Item = (usize, usize, usize)> + Clone {
        let (from, to) = (from + self.skip, to + self.skip);
        let chunks = if from < to {
            from / CHUNK..(to - 1) / CHUNK + 1
        } else {
            0..0
        };
        chunks.map(move |c| {
            let base = c * CHUNK;
            (c, from.saturating_sub(base), (to - base).min(CHUNK))
        })
    }

    /// Calls `f` on the points `from..to` in order, decoding a chunk at a time.
    fn visit(&self, from: usize, to: usize, f: &mut impl FnMut(&Coarse)) {
        self.visit_columns(from, to, &mut |c, range| {
            range.for_each(|i| f(&c.coarse(i)));
        });
    }

    /// Calls `f` on each chunk holding points `from..to`, in order, with the range of its
    /// points that is in `from..to`.
    fn visit_columns(
        &self,
        from: usize,
        to: usize,
        f: &mut impl FnMut(&ChunkColumns, std::ops::Range<usize>),
    ) {
        let mut columns = ChunkColumns::default();
        for (c, lo, hi) in self.chunk_ranges(from, to) {
            let (n, bytes) = self.chunk_bytes(c);
            Decoder::columns(bytes, n, self.coarse, &mut columns);
            f(&columns, lo..hi);
        }
    }

    /// Appends the times of points `from..to` to `out`, decoding nothing else.
    fn times(&self, from: usize, to: usize, out: &mut Vec<f64>) {
        let mut buf = [0u64; CHUNK];
        for (c, lo, hi) in self.chunk_ranges(from, to) {
            let (n, bytes) = self.chunk_bytes(c);
            Decoder::times(bytes, n, &mut buf);
            out.extend(buf[lo..hi].iter().map(|&b| f64::from_bits(b)));
        }
    }

    /// Appends a point, re-encoding the chunk being filled; `most` points (the ring's bound)
    /// caps how far the buffer grows.
    fn push(&mut self, p: Coarse, most: usize) {
        let filled = self.stored % CHUNK;
        let mut points: [Coarse; CHUNK];
        if filled == 0 {
            points = Default::default();
            push_bounded(
                &mut self.starts,
                self.bytes.len() as u32,
                most.div_ceil(CHUNK),
            );
        } else {
            let last = self.starts.len() - 1;
            points = self.chunk(last).0;
            self.bytes.truncate(self.starts[last] as usize);
        }
        points[filled] = p;
        let e = Encoder::chunk(&points[..=filled], self.coarse);
        let needed = self.bytes.len() + e.len;
        if needed > self.bytes.capacity() {
            // Grow by an eighth, never past the bound, so a full ring costs little slack.
            // The bound without profiles unless the chunks need more, so that the bound
            // without them (memory_bound) holds for a history that never has one.
            let bound = most.div_ceil(CHUNK) * chunk_max(self.coarse, false);
            let target = (self.bytes.capacity() + self.bytes.capacity() / 8)
                .max(needed + 256)
                .min(bound.max(needed));
            self.bytes.reserve_exact(target - self.bytes.len());
        }
        self.bytes.extend_from_slice(&e.buf[..e.len]);
        self.stored += 1;
    }

    /// Drops the first chunk (which is full).
    fn drop_chunk(&mut self) {
        let end = self.starts.get(1).map_or(self.bytes.len(), |&s| s as usize);
        self.bytes.drain(..end);
        self.starts.pop_front();
        self.starts.iter_mut().for_each(|s| *s -= end as u32);
        self.stored -= CHUNK;
    }

    /// Drops the oldest point.
    fn pop_front(&mut self) {
        self.skip += 1;
        if self.skip == CHUNK {
            self.drop_chunk();
            self.skip = 0;
        }
    }

    /// The points `from..to` of the ring, decoded a chunk at a time.
    fn range(
        &self,
        from: usize,
        to: usize,
    ) -> impl DoubleEndedIterator<Item = Coarse> + Clone + '_ {
        self.chunk_ranges(from, to).flat_map(move |(c, lo, hi)| {
            let (points, _) = self.chunk(c);
            points.into_iter().take(hi).skip(lo)
        })
    }

    fn last(&self) -> Option<Coarse> {
        let c = self.starts.len().checked_sub(1)?;
        let (points, n) = self.chunk(c);
        points.into_iter().nth(n - 1)
    }

    fn memory_bytes(&self) -> usize {
        self.bytes.capacity() + self.starts.capacity() * size_of::<u32>()
    }

    /// The most [`memory_bytes`](Self::memory_bytes) reaches at `most` points stored.
    fn memory_bound(most: usize, coarse: bool, ages: bool) -> usize {
        let chunks = most.div_ceil(CHUNK);
        chunks * (chunk_max(coarse, ages) + size_of::<u32>())
    }
}

/// One coarse tier: a ring of finished runs and the run being formed.
#[derive(Clone, Debug)]
struct Tier {
    ring: Ring,
    pending: Option<Coarse>,
    pending_len: usize,
}

impl Default for Tier {
    fn default() -> Self {
        Tier {
            ring: Ring::new(true),
            pending: None,
            pending_len: 0,
        }
    }
}

impl Tier {
    /// Adds one finer point; returns the finished run when this point completes one.
    fn add(&mut self, point: Coarse) -> Option<Coarse> {
        match &mut self.pending {
            Some(run) => run.fold(&point),
            None => self.pending = Some(point),
        }
        self.pending_len += 1;
        if self.pending_len < TIER_FACTOR {
            return None;
        }
        self.pending_len = 0;
        self.pending.take()
    }
}

/// The bounded history of one scope.
#[derive(Clone, Debug)]
pub struct ScopeHistory {
    limit: usize,
    fine: Ring,
    /// Tier 1 (10 intervals per point) and tier 2 (100).
    tiers: [Tier; 2],
    /// Snapshots ever pushed: the global index of the next one.
    pushed: u64,
    /// Time of the last snapshot that showed activity or held memory.
    last_active: Option<f64>,
    /// The fewest and most `curr_bytes` of any snapshot ever pushed: bounds on every point
    /// the history holds, read without decoding it.
    bytes_range: Option<(u64, u64)>,
}

impl ScopeHistory {
    /// An empty history keeping `limit` points per tier; `limit` below 10 is raised to 10, the
    /// least at which the tiers meet without gaps.
    pub fn new(limit: usize) -> Self {
        ScopeHistory {
            limit: limit.max(TIER_FACTOR),
            fine: Ring::new(false),
            tiers: Default::default(),
            pushed: 0,
            last_active: None,
            bytes_range: None,
        }
    }

    /// Appends the snapshot of the interval that just ended. Times are expected to increase
    /// (they come from a monotonic clock); the history does not reorder.
    pub fn push(&mut self, s: Snapshot) {
        let active = s.allocs > 0
            || s.frees > 0
            || s.curr_bytes > 0
            || s.curr_blocks > 0
            || s.entries.is_some_and(|n| n > 0);
        if active || self.last_active.is_none() {
            self.last_active = Some(s.t);
        }
        let b = s.curr_bytes;
        self.bytes_range = Some(
            self.bytes_range
                .map_or((b, b), |(lo, hi)| (lo.min(b), hi.max(b))),
        );
        let point = Coarse::of(s);
        let aligned = self.limit + TIER_FACTOR - 1;
        let done = self.tiers[0].add(point.clone());
        push_run_aligned(&mut self.fine, point, aligned);
        self.pushed += 1;
        if let Some(run) = done {
            let done = self.tiers[1].add(run.clone());
            push_run_aligned(&mut self.tiers[0].ring, run, aligned);
            if let Some(run) = done {
                // The coarsest ring drops its oldest point when full.
                let ring = &mut self.tiers[1].ring;
                if ring.len() == self.limit {
                    ring.pop_front();
                }
                ring.push(run, aligned);
            }
        }
    }

    /// The last `limit` to `limit + 9` snapshots at full resolution, oldest first.
    pub fn recent(&self) -> impl DoubleEndedIterator<Item = Snapshot> + '_ {
        self.fine.range(0, self.fine.len()).map(|c| c.point)
    }

    /// The latest snapshot.
    pub fn latest(&self) -> Option<Snapshot> {
        self.fine.last().map(|c| c.point)
    }

    /// How many snapshots were ever pushed, including those folded or dropped.
    pub fn pushed(&self) -> u64 {
        self.pushed
    }

    /// The fewest and most bytes of any snapshot ever pushed (`None` before the first): every
    /// point the history holds lies within them, a coarse point's minimum and maximum too.
    pub(crate) fn bytes_range(&self) -> Option<(u64, u64)> {
        self.bytes_range
    }

    /// The whole history as one chronological series: tier-2 points, then tier-1 points, then
    /// the fine snapshots, each interval counted once (see the module docs for what a coarse
    /// point holds).
    pub fn series(&self) -> Vec<Snapshot> {
        self.points().collect()
    }

    /// How many points [`series`](Self::series) has.
    pub fn len(&self) -> usize {
        let (t2, t1) = self.used();
        t2 + t1 + self.fine.len()
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.pushed == 0
    }

    /// [`series`](Self::series) point by point, without collecting it.
    pub fn points(&self) -> impl DoubleEndedIterator<Item = Snapshot> + Clone + '_ {
        self.merged().map(|(s, _)| s)
    }

    /// [`series`](Self::series) with each coarse point's `curr_bytes` replaced by the minimum over
    /// its run: the floor series slow-leak detection reads, free of the eviction sawtooth.
    pub fn floor_series(&self) -> Vec<Snapshot> {
        self.merged()
            .map(|(s, min)| Snapshot {
                curr_bytes: min,
                ..s
            })
            .collect()
    }

    /// Whether the scope holds nothing (bytes, blocks, entries) and has seen no allocation or
    /// free for at least `idle_secs` before `now`: what `auto_cleanup_old_data` prunes.
    pub fn is_idle(&self, now: f64, idle_secs: f64) -> bool {
        if self.pushed == 0 {
            return true;
        }
        // The time first: it needs no decoding, and a scope active within `idle_secs` (nearly
        // every scope, every cycle) is answered without decoding its last chunk.
        if !self.last_active.is_some_and(|t| now - t >= idle_secs) {
            return false;
        }
        let Some(last) = self.latest() else {
            return true;
        };
        last.curr_bytes == 0 && last.curr_blocks == 0 && last.entries.unwrap_or(0) == 0
    }

    /// Bytes this history occupies on the heap and inline, from the rings' capacities.
    pub fn memory_bytes(&self) -> usize {
        size_of::<Self>()
            + self.fine.memory_bytes()
            + self
                .tiers
                .iter()
                .map(|t| t.ring.memory_bytes())
                .sum::<usize>()
    }

    /// The most [`memory_bytes`](Self::memory_bytes) can reach for a history of `limit` points
    /// per tier, with or without age profiles, whatever the values: the bound the collector
    /// reports for its own memory.
    pub fn memory_bound(limit: usize, ages: bool) -> usize {
        let limit = limit.max(TIER_FACTOR);
        // Every ring stores at most `limit + 9` points: the coarsest keeps up to 9 dropped
        // points of its first chunk.
        let most = limit + TIER_FACTOR - 1;
        size_of::<Self>()
            + Ring::memory_bound(most, false, ages)
            + 2 * Ring::memory_bound(most, true, ages)
    }

    /// The merged series, each point with its minimum `curr_bytes` (a fine snapshot's own): what
    /// the detectors read (through [`visit_floor`](Self::visit_floor)).
    #[cfg(test)]
    fn floor_points(&self) -> impl DoubleEndedIterator<Item = (Snapshot, u64)> + Clone + '_ {
        self.merged()
    }

    /// Calls `f` on each point of the merged series with its minimum `curr_bytes`, in order:
    /// [`floor_points`](Self::floor_points) without an iterator's copies, for readers that
    /// take every point.
    pub(crate) fn visit_floor(&self, mut f: impl FnMut(&Snapshot, u64)) {
        let (t2_used, t1_used) = self.used();
        let mut each = |c: &Coarse| f(&c.point, c.min_bytes);
        self.tiers[1].ring.visit(0, t2_used, &mut each);
        self.tiers[0].ring.visit(0, t1_used, &mut each);
        self.fine.visit(0, self.fine.len(), &mut each);
    }

    /// The merged series with its first `split` points (all of them at most) in at most `most`
    /// points where coarse points allow, and the rest as they are. Older points give way to
    /// coarser ones oldest first, only as far as needed: a whole run of 10 tier-1 points to
    /// the tier-2 point of that run, then a whole run of 10 fine points to its tier-1 point,
    /// each saving 9 points. A coarse point is [`merge_into`] over its run, so merging points of
    /// this series gives what merging the merged series' points over the same intervals gives,
    /// while reading it decodes about `most` older points, not `split`. When even every whole
    /// run as a coarse point leaves more than `most`, the reader merges further. Returns the
    /// parts as (ring, from, to) in order (ring 0 is the fine one, 1 and 2 the tiers) and how
    /// many of their points stand for the first `split`.
    fn coarsened(&self, split: usize, most: usize) -> ([(usize, usize, usize); 6], usize) {
        let f = TIER_FACTOR;
        let (t2_used, t1_used) = self.used();
        let fine = self.fine.len();
        let split = split.min(t2_used + t1_used + fine);
        let older2 = split.min(t2_used);
        let older1 = (split - older2).min(t1_used);
        let older0 = split - older2 - older1;
        // Runs to take as coarse points: each saves f - 1 points.
        let need = split.saturating_sub(most).div_ceil(f - 1);
        let runs1 = need.min(older1 / f);
        let runs0 = (need - runs1).min(older0 / f);
        // Each finer ring starts on a run boundary of the next coarser one (module docs), and
        // the coarser ring holds every finished run the finer one covers: the tier-1 points
        // `t1_used..` stand for the fine points `0..`, the tier-2 points `t2_used..` for the
        // tier-1 points `0..`, ten to one. A coarser ring's points past its used ones are only
        // taken where all of its used ones are older (`runs1 > 0` needs `older1 > 0`, so
        // `older2 == t2_used`; `runs0 > 0` needs `runs1 == older1 / f` and `older0 > 0`, so
        // `older1 == t1_used`), which keeps each ring's parts contiguous.
        let parts = [
            (2, 0, older2 + runs1),
            (1, f * runs1, older1 + runs0),
            (0, f * runs0, older0),
            (2, older2, t2_used),
            (1, older1, t1_used),
            (0, older0, fine),
        ];
        let in_ring = |&(ring, from, to): &(usize, usize, usize)| {
            from <= to
                && match ring {
                    0 => to <= self.fine.len(),
                    r => to <= self.tiers[r - 1].ring.len(),
                }
        };
        if !parts.iter().all(in_ring) {
            // Not reachable while the rings keep their alignment; the merged series itself
            // is always right.
            debug_assert!(false, "the coarser rings do not cover the older points");
            let plain = [
                (2, 0, t2_used),
                (1, 0, t1_used),
                (0, 0, fine),
                (0, fine, fine),
                (0, fine, fine),
                (0, fine, fine),
            ];
            return (plain, split);
        }
        let older = parts[..3].iter().map(|&(_, from, to)| to - from).sum();
        (parts, older)
    }

    /// How many points the series [`visit_coarsened`](Self::visit_coarsened) hands out for
    /// `split` and `most` has in all, and how many of them stand for the first `split` points
    /// of the merged series.
    pub(crate) fn coarsened_len(&self, split: usize, most: usize) -> (usize, usize) {
        let (parts, older) = self.coarsened(split, most);
        (parts.iter().map(|&(_, from, to)| to - from).sum(), older)
    }

    /// Calls `f` on the chunks of the series [`coarsened`](Self::coarsened) describes for
    /// `split` and `most`, in order, each with the range of its points the series takes: for
    /// readers that merge the older points into runs (the dump) and need only some points
    /// whole.
    pub(crate) fn visit_coarsened(
        &self,
        split: usize,
        most: usize,
        mut f: impl FnMut(&ChunkColumns, std::ops::Range<usize>),
    ) {
        for (ring, from, to) in self.coarsened(split, most).0 {
            let ring = match ring {
                0 => &self.fine,
                r => &self.tiers[r - 1].ring,
            };
            ring.visit_columns(from, to, &mut f);
        }
    }

    /// The times of the merged series, decoding nothing else.
    pub(crate) fn times(&self) -> Vec<f64> {
        let (t2_used, t1_used) = self.used();
        let mut out = Vec::with_capacity(t2_used + t1_used + self.fine.len());
        self.tiers[1].ring.times(0, t2_used, &mut out);
        self.tiers[0].ring.times(0, t1_used, &mut out);
        self.fine.times(0, self.fine.len(), &mut out);
        out
    }

    /// How many points of tier 2 and of tier 1 the merged series takes.
    fn used(&self) -> (usize, usize) {
        let factor = TIER_FACTOR as u64;
        // Global index (in snapshots) where each ring starts. Each finer ring starts on a run
        // boundary of the next coarser one, so the coarser ring is used up to exactly there.
        let fine_start = self.pushed - self.fine.len() as u64;
        let t1 = &self.tiers[0].ring;
        let t1_first_run = self.pushed / factor - t1.len() as u64;
        let t1_used = (fine_start / factor).saturating_sub(t1_first_run) as usize;
        let boundary = if t1_used > 0 {
            t1_first_run * factor
        } else {
            fine_start
        };
        let t2 = &self.tiers[1].ring;
        let t2_first_run = self.pushed / (factor * factor) - t2.len() as u64;
        let t2_used = (boundary / (factor * factor)).saturating_sub(t2_first_run) as usize;
        (t2_used, t1_used)
    }

    /// The merged series with each point's minimum `curr_bytes`.
    fn merged(&self) -> impl DoubleEndedIterator<Item = (Snapshot, u64)> + Clone + '_ {
        let (t2_used, t1_used) = self.used();
        let floor = |c: Coarse| (c.point, c.min_bytes);
        self.tiers[1]
            .ring
            .range(0, t2_used)
            .chain(self.tiers[0].ring.range(0, t1_used))
            .chain(self.fine.range(0, self.fine.len()))
            .map(floor)
    }
}

/// Appends to a ring that evicts whole runs of [`TIER_FACTOR`] from the front, so that it always
/// starts on a boundary of the next coarser tier; it holds at most `most` (`limit + 9`) points.
fn push_run_aligned(ring: &mut Ring, point: Coarse, most: usize) {
    if ring.len() == most {
        ring.drop_chunk();
    }
    ring.push(point, most);
}

/// Appends, growing the ring's capacity geometrically like a `Vec` but never past `most`, so a
/// full ring costs its bound and not the next power of two above it.
fn push_bounded<T>(ring: &mut VecDeque<T>, item: T, most: usize) {
    if ring.len() == ring.capacity() {
        let target = (ring.capacity() * 2).max(8).min(most.max(ring.len() + 1));
        ring.reserve_exact(target - ring.len());
    }
    ring.push_back(item);
}

/// The histories of all scopes, by name. Iteration is in name order, so whatever is built from
/// it (the dump, the Prometheus file) comes out sorted.
#[derive(Clone, Debug)]
pub struct Histories {
    limit: usize,
    scopes: BTreeMap<String, ScopeHistory>,
}

impl Histories {
    /// No scopes yet; each will keep `limit` points per tier (`max_snapshots_per_cache`).
    pub fn new(limit: usize) -> Self {
        Histories {
            limit,
            scopes: BTreeMap::new(),
        }
    }

    /// Appends `s` to the history of `scope`, creating it on its first snapshot.
    pub fn push(&mut self, scope: &str, s: Snapshot) {
        // Look up by `&str` first: allocating the key on every snapshot of every scope would be
        // the collector's largest allocation source.
        match self.scopes.get_mut(scope) {
            Some(history) => history.push(s),
            None => {
                let mut history = ScopeHistory::new(self.limit);
                history.push(s);
                self.scopes.insert(scope.to_owned(), history);
            }
        }
    }

    /// The history of `scope`.
    pub fn get(&self, scope: &str) -> Option<&ScopeHistory> {
        self.scopes.get(scope)
    }

    /// Every scope's history, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ScopeHistory)> {
        self.scopes.iter().map(|(name, h)| (name.as_str(), h))
    }

    /// How many scopes have a history.
    pub fn len(&self) -> usize {
        self.scopes.len()
    }

    /// Whether no scope has a history.
    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty()
    }

    /// Removes every scope [idle](ScopeHistory::is_idle) for `idle_secs` at `now`, except those
    /// `keep` protects (the built-in `unscoped`, scopes with open leaks), and returns the removed
    /// names in order. A pruned scope that allocates again starts a fresh history.
    pub fn prune_idle(
        &mut self,
        now: f64,
        idle_secs: f64,
        keep: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        let idle: Vec<String> = self
            .scopes
            .iter()
            .filter(|(name, h)| h.is_idle(now, idle_secs) && !keep(name))
            .map(|(name, _)| name.clone())
            .collect();
        for name in &idle {
            self.scopes.remove(name);
        }
        idle
    }

    /// Estimated bytes all histories occupy, names and map entries included (the map's node
    /// slack is not counted exactly).
    pub fn memory_bytes(&self) -> usize {
        size_of::<Self>()
            + self
                .scopes
                .iter()
                .map(|(name, h)| size_of::<String>() + name.capacity() + h.memory_bytes())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A snapshot at interval `i` (30 s apart) with one allocation of `i` bytes, sawtooth bytes
    /// and a rising floor.
    fn snap(i: u64) -> Snapshot {
        let mut s = Snapshot::new(30.0 * (i + 1) as f64, 1000 + i + (i % 7) * 100, i % 5);
        s.allocs = 1;
        s.frees = i % 2;
        s.bytes_allocated = i;
        s.bytes_freed = i / 2;
        s.entries = Some(i);
        s
    }

    fn filled(limit: usize, n: u64) -> ScopeHistory {
        let mut h = ScopeHistory::new(limit);
        (0..n).for_each(|i| h.push(snap(i)));
        h
    }

    #[test]
    fn short_histories_are_all_fine() {
        let h = filled(10, 15);
        assert_eq!(h.series(), (0..15).map(snap).collect::<Vec<_>>());
        assert_eq!(h.floor_series(), h.series());
        assert_eq!(h.latest(), Some(snap(14)));
    }

    #[test]
    fn coarse_points_sum_intervals_and_keep_the_last_state_and_the_minimum() {
        // limit 10, 250 snapshots: the fine ring holds 240..250 and the tier-1 ring runs 10..25
        // (snapshots 100..250), so the merge takes tier 2's first run [0, 100), then tier 1's
        // runs from 100 up to where the fine ring starts, then the fine ring.
        let h = filled(10, 250);
        let series = h.series();
        let floors = h.floor_series();
        let starts: Vec<u64> = [0].into_iter().chain((100..240).step_by(10)).collect();
        let ends: Vec<u64> = (100..=240).step_by(10).collect();
        assert_eq!(series.len(), starts.len() + 10);
        for (k, (&a, &b)) in starts.iter().zip(&ends).enumerate() {
            let run: Vec<Snapshot> = (a..b).map(snap).collect();
            let last = run.last().unwrap();
            let p = &series[k];
            assert_eq!(p.t, last.t, "point {k} is timed at its last interval");
            assert_eq!(
                (p.curr_bytes, p.curr_blocks),
                (last.curr_bytes, last.curr_blocks)
            );
            assert_eq!((p.entries, p.rss_bytes), (last.entries, last.rss_bytes));
            assert_eq!(p.allocs, run.iter().map(|s| s.allocs).sum::<u64>());
            assert_eq!(p.frees, run.iter().map(|s| s.frees).sum::<u64>());
            let allocated: u64 = run.iter().map(|s| s.bytes_allocated).sum();
            let freed: u64 = run.iter().map(|s| s.bytes_freed).sum();
            assert_eq!((p.bytes_allocated, p.bytes_freed), (allocated, freed));
            let min = run.iter().map(|s| s.curr_bytes).min().unwrap();
            assert_eq!(floors[k].curr_bytes, min);
            assert_eq!(
                Snapshot {
                    curr_bytes: p.curr_bytes,
                    ..floors[k].clone()
                },
                *p
            );
        }
        assert_eq!(series[15..], (240..250).map(snap).collect::<Vec<_>>()[..]);
        assert_eq!(floors[15..], series[15..]);
    }

    #[test]
    fn sums_saturate_instead_of_overflowing() {
        let mut h = ScopeHistory::new(10);
        for i in 0..20 {
            let mut s = Snapshot::new(i as f64, 0, 0);
            s.bytes_allocated = u64::MAX / 4;
            h.push(s);
        }
        let first = h.tiers[0].ring.range(0, 1).next().unwrap();
        assert_eq!(first.point.bytes_allocated, u64::MAX);
    }

    /// Every interval appears exactly once in the merged series, in order, whatever the count:
    /// each point (one allocation per interval) starts where the previous one ended.
    #[test]
    fn merged_series_is_chronological_and_complete_at_every_length() {
        let mut h = ScopeHistory::new(12);
        for n in 1..=5000u64 {
            h.push(snap(n - 1));
            let series = h.series();
            let last_index = |s: &Snapshot| (s.t / 30.0) as u64 - 1;
            let first = last_index(&series[0]) + 1 - series[0].allocs;
            let mut next = first;
            for s in &series {
                assert_eq!(last_index(s) + 1 - s.allocs, next, "n = {n}");
                next = last_index(s) + 1;
            }
            assert_eq!(next, n);
            // Tier 2 keeps 12 runs of 100: nothing is dropped before its 13th run completes.
            if n < 1300 {
                assert_eq!(first, 0, "n = {n}");
            }
            assert_eq!(series.last(), Some(&snap(n - 1)));
        }
    }

    #[test]
    fn a_week_at_30_second_intervals_stays_bounded() {
        let week = 7 * 24 * 3600 / 30;
        let h = filled(1000, week);
        assert_eq!(week, 20_160);
        // Fine: 1000 plus what is past the last eviction of a run of 10: (20160 - 1010) % 10.
        assert_eq!(h.fine.len(), 1000);
        // Tier 1: 2016 runs, evicted in tens once past 1009.
        assert_eq!(h.tiers[0].ring.len(), 1006);
        assert_eq!(h.tiers[1].ring.len(), 201);
        let series = h.series();
        // Tier 2 runs [0, 101) cover snapshots 0..10100; tier 1 runs 1010..1916 cover up to
        // 19160, where the fine ring starts.
        assert_eq!(series.len(), 101 + 906 + 1000);
        assert_eq!(series.iter().map(|s| s.allocs).sum::<u64>(), week);
        assert!(series.windows(2).all(|w| w[0].t < w[1].t));
        assert!(h.memory_bytes() <= ScopeHistory::memory_bound(1000, false));
    }

    #[test]
    fn a_hundred_days_drops_only_the_oldest_coarse_points() {
        let n = 100 * 24 * 3600 / 30;
        let h = filled(1000, n);
        assert_eq!(h.tiers[1].ring.len(), 1000);
        let series = h.series();
        let covered: u64 = series.iter().map(|s| s.allocs).sum();
        // 2880 tier-2 runs were made and the ring keeps the last 1000 (from run 1880); tier 1
        // keeps runs 27800..28800 and is used up to the fine ring's start at 287000.
        assert_eq!(series.len(), 900 + 900 + 1000);
        assert_eq!(covered, n - 1880 * 100);
        assert!(h.memory_bytes() <= ScopeHistory::memory_bound(1000, false));
    }

    /// What one scope's history can cost whatever its values: every column of a chunk at 8
    /// bytes a value (2 for age shares), the header bytes and masks, and the chunk offsets.
    #[test]
    fn the_bound_is_every_value_at_its_widest() {
        assert_eq!(chunk_max(false, false), 7 * 81 + 2 * 83 + 2);
        assert_eq!(chunk_max(true, false), 9 * 81 + 2 * 83 + 2);
        assert_eq!(chunk_max(true, true) - chunk_max(true, false), 3 * 21);
        // The default 1,000 points a tier: 1,009 points a ring at most, in 101 chunks.
        let off = ScopeHistory::memory_bound(1000, false);
        let on = ScopeHistory::memory_bound(1000, true);
        let inline = size_of::<ScopeHistory>();
        assert_eq!(off, inline + 101 * (735 + 4) + 2 * 101 * (897 + 4));
        assert_eq!(on - off, 3 * 101 * 63);
        // Values as wide as they come (random 62- and 64-bit values; only `t` steps evenly)
        // come close to the bound and never pass it, with profiles and without.
        let n = 100 * 24 * 3600 / 30;
        for ages in [false, true] {
            let mut h = ScopeHistory::new(1000);
            let mut x = 0x9e37_79b9_7f4a_7c15u64;
            let mut next = || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            };
            for i in 0..n {
                let mut s = Snapshot::new(i as f64, next(), next());
                s.allocs = next() >> 2;
                s.frees = next() >> 2;
                s.bytes_allocated = next() >> 2;
                s.bytes_freed = next() >> 2;
                s.entries = Some(next());
                s.rss_bytes = Some(next());
                s.live_age = ages.then(|| [next() as u16, next() as u16, next() as u16]);
                h.push(s);
            }
            let bound = ScopeHistory::memory_bound(1000, ages);
            assert!(h.memory_bytes() <= bound, "{} > {bound}", h.memory_bytes());
            assert!(
                h.memory_bytes() * 10 >= bound * 8,
                "{} of {bound}",
                h.memory_bytes()
            );
        }
    }

    /// Profiles are state: a coarse point carries its run's last one, and the points from
    /// before the first profile have none, at every tier.
    #[test]
    fn age_profiles_follow_their_points_through_the_tiers() {
        let age = |i: u64| [10_000, i as u16, (i / 2) as u16];
        let mut h = ScopeHistory::new(10);
        // Profiles from snapshot 150 on, after tier 2's first run.
        for i in 0..2_000 {
            let mut s = snap(i);
            s.live_age = (i >= 150).then(|| age(i));
            h.push(s);
        }
        let series = h.series();
        assert!(series.len() > 20);
        for p in &series {
            // Each point is timed at its last snapshot, t = 30 (i + 1).
            let i = (p.t / 30.0) as u64 - 1;
            assert_eq!(p.live_age, (i >= 150).then(|| age(i)), "point at {}", p.t);
        }
        // Tier 2's first kept run (snapshots 900..1000 and on) and the fine ring carry profiles;
        // pushing a profile-less snapshot records none for it.
        let mut s = snap(2_000);
        s.live_age = None;
        h.push(s);
        assert_eq!(h.latest().unwrap().live_age, None);
        assert_eq!(h.series()[series.len() - 1].live_age, Some(age(1_999)));
        // The detectors' points carry the same profiles as the series.
        let floors: Vec<_> = h.floor_points().map(|(s, _)| s.live_age).collect();
        assert_eq!(
            floors,
            h.series().iter().map(|s| s.live_age).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_history_before_its_first_profile_reads_as_without() {
        let mut h = ScopeHistory::new(10);
        (0..35).for_each(|i| h.push(snap(i)));
        let mut s = snap(35);
        s.live_age = Some([1, 2, 3]);
        h.push(s);
        let series = h.series();
        assert_eq!(series.last().unwrap().live_age, Some([1, 2, 3]));
        assert!(series[..series.len() - 1]
            .iter()
            .all(|p| p.live_age.is_none()));
    }

    /// A snapshot of hostile values: each field from a random bit pattern, the extremes, or a
    /// small step, each optional field present or not, `t` any bits at all (NaN included).
    fn wild(next: &mut impl FnMut() -> u64) -> Snapshot {
        let value = |next: &mut dyn FnMut() -> u64| match next() % 6 {
            0 => 0,
            1 => u64::MAX,
            2 => next(),
            3 => next() >> (next() % 64),
            _ => next() % 4,
        };
        let mut s = Snapshot::new(f64::from_bits(value(next)), value(next), value(next));
        s.allocs = value(next);
        s.frees = value(next);
        s.bytes_allocated = value(next);
        s.bytes_freed = value(next);
        s.entries = (!next().is_multiple_of(3)).then(|| value(next));
        s.rss_bytes = (!next().is_multiple_of(3)).then(|| value(next));
        s.live_age = (!next().is_multiple_of(3)).then(|| [next() as u16, next() as u16, u16::MAX]);
        s
    }

    fn xorshift(mut x: u64) -> impl FnMut() -> u64 {
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    /// Equality with `t` compared by its bits, so NaN times compare too.
    fn same(a: &Coarse, b: &Coarse) -> bool {
        let bits = |c: &Coarse| Coarse {
            point: Snapshot {
                t: f64::from_bits(1),
                ..c.point.clone()
            },
            ..c.clone()
        };
        a.point.t.to_bits() == b.point.t.to_bits() && bits(a) == bits(b)
    }

    /// Every chunk length, fine and coarse, hostile values and gentle ones: every point decodes
    /// to exactly what was encoded, and no chunk exceeds its bound.
    #[test]
    fn every_point_decodes_exactly() {
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        for round in 0..20_000 {
            let n = 1 + round % CHUNK;
            let coarse = round % 2 == 0;
            let gentle = round % 4 < 2;
            let mut points: Vec<Coarse> = Vec::new();
            for i in 0..n {
                let mut p = if gentle {
                    Coarse::of(snap(round as u64 * 7 + i as u64))
                } else {
                    Coarse::of(wild(&mut next))
                };
                if coarse {
                    p.min_bytes = if gentle {
                        p.point.curr_bytes / 2
                    } else {
                        next()
                    };
                    p.max_bytes = if gentle {
                        p.point.curr_bytes * 2
                    } else {
                        next()
                    };
                }
                points.push(p);
            }
            let e = Encoder::chunk(&points, coarse);
            assert!(e.len <= chunk_max(coarse, true), "round {round}");
            let mut decoded: [Coarse; CHUNK] = Default::default();
            Decoder::chunk(&e.buf[..e.len], n, coarse, &mut decoded);
            let mut times = [0u64; CHUNK];
            Decoder::times(&e.buf[..e.len], n, &mut times);
            for (i, p) in points.iter().enumerate() {
                assert!(
                    same(&decoded[i], p),
                    "round {round}, point {i}: {:?} vs {p:?}",
                    decoded[i]
                );
                assert_eq!(times[i], p.point.t.to_bits());
            }
        }
    }

    /// The tiers as plain rings of points, as they were before the rings were encoded: the
    /// merged series and the floors must be the same to the bit.
    #[derive(Default)]
    struct Reference {
        fine: VecDeque<Coarse>,
        rings: [VecDeque<Coarse>; 2],
        pending: [Option<Coarse>; 2],
        pending_len: [usize; 2],
        pushed: u64,
    }

    impl Reference {
        fn push(&mut self, s: Snapshot, limit: usize) {
            let aligned = |ring: &mut VecDeque<Coarse>, p| {
                if ring.len() == limit + TIER_FACTOR - 1 {
                    ring.drain(..TIER_FACTOR);
                }
                ring.push_back(p);
            };
            let mut add = |tier: usize, p: Coarse| {
                match &mut self.pending[tier] {
                    Some(run) => run.fold(&p),
                    None => self.pending[tier] = Some(p),
                }
                self.pending_len[tier] += 1;
                (self.pending_len[tier] == TIER_FACTOR).then(|| {
                    self.pending_len[tier] = 0;
                    self.pending[tier].take().unwrap()
                })
            };
            let p = Coarse::of(s);
            let done = add(0, p.clone());
            aligned(&mut self.fine, p);
            self.pushed += 1;
            if let Some(run) = done {
                if let Some(run2) = add(1, run.clone()) {
                    if self.rings[1].len() == limit {
                        self.rings[1].pop_front();
                    }
                    self.rings[1].push_back(run2);
                }
                aligned(&mut self.rings[0], run);
            }
        }

        fn merged(&self) -> Vec<Coarse> {
            let f = TIER_FACTOR as u64;
            let fine_start = self.pushed - self.fine.len() as u64;
            let t1_first = self.pushed / f - self.rings[0].len() as u64;
            let t1_used = (fine_start / f).saturating_sub(t1_first) as usize;
            let boundary = if t1_used > 0 {
                t1_first * f
            } else {
                fine_start
            };
            let t2_first = self.pushed / (f * f) - self.rings[1].len() as u64;
            let t2_used = (boundary / (f * f)).saturating_sub(t2_first) as usize;
            let fine = self.fine.iter().map(|c| Coarse {
                min_bytes: c.point.curr_bytes,
                ..c.clone()
            });
            self.rings[1]
                .iter()
                .take(t2_used)
                .chain(self.rings[0].iter().take(t1_used))
                .cloned()
                .chain(fine)
                .collect()
        }
    }

    /// A history of hostile values and one of gentle values, at two limits, compared with the
    /// plain rings after every push: every point of the merged series, forwards and backwards,
    /// with its floor, and the recent points.
    #[test]
    fn encoded_history_reads_as_the_plain_rings() {
        for (limit, gentle, n) in [(10, false, 4_000), (12, true, 4_000), (25, false, 9_000)] {
            let mut next = xorshift(0x9e37_79b9_7f4a_7c15 ^ limit as u64);
            let (mut h, mut r) = (ScopeHistory::new(limit), Reference::default());
            for i in 0..n {
                let s = if gentle { snap(i) } else { wild(&mut next) };
                h.push(s.clone());
                r.push(s, limit);
                if i % 7 != 0 && i + 1 != n {
                    continue;
                }
                let want = r.merged();
                let floors: Vec<(Snapshot, u64)> = h.floor_points().collect();
                assert_eq!(floors.len(), want.len(), "limit {limit}, {i}");
                assert_eq!(h.len(), want.len());
                for (k, ((s, min), w)) in floors.iter().zip(&want).enumerate() {
                    let got = Coarse {
                        point: s.clone(),
                        min_bytes: *min,
                        max_bytes: w.max_bytes,
                    };
                    assert!(same(&got, w), "limit {limit}, push {i}, point {k}");
                }
                let mut visited = Vec::new();
                h.visit_floor(|s, min| visited.push((s.clone(), min)));
                assert!(visited.iter().zip(&floors).all(|(a, b)| a.1 == b.1
                    && a.0.t.to_bits() == b.0.t.to_bits()
                    && Snapshot {
                        t: 0.0,
                        ..a.0.clone()
                    } == Snapshot {
                        t: 0.0,
                        ..b.0.clone()
                    }));
                assert_eq!(visited.len(), floors.len());
                let times: Vec<u64> = h.times().iter().map(|t| t.to_bits()).collect();
                let want_times: Vec<u64> = want.iter().map(|c| c.point.t.to_bits()).collect();
                assert_eq!(times, want_times);
                let backwards: Vec<(Snapshot, u64)> = h.floor_points().rev().collect();
                let again: Vec<_> = backwards.into_iter().rev().collect();
                assert!(again.iter().zip(&floors).all(|(a, b)| a.1 == b.1
                    && a.0.t.to_bits() == b.0.t.to_bits()
                    && a.0.curr_bytes == b.0.curr_bytes));
                let recent: Vec<Snapshot> = h.recent().collect();
                assert_eq!(recent.len(), r.fine.len());
                let last = h.latest().unwrap();
                assert_eq!(last.t.to_bits(), r.fine.back().unwrap().point.t.to_bits());
            }
            // The tiers' maxima decode too.
            for (tier, ring) in h.tiers.iter().zip(&r.rings) {
                let got: Vec<Coarse> = tier.ring.range(0, tier.ring.len()).collect();
                assert_eq!(got.len(), ring.len());
                assert!(got.iter().zip(ring).all(|(a, b)| same(a, b)));
            }
        }
    }

    #[test]
    fn idle_and_empty_scopes_are_pruned() {
        let mut hs = Histories::new(10);
        hs.push("busy", snap(0));
        hs.push("emptied", Snapshot::new(30.0, 64, 1));
        let mut freed = Snapshot::new(60.0, 0, 0);
        freed.frees = 1;
        hs.push("emptied", freed);
        hs.push("never_used", Snapshot::new(30.0, 0, 0));
        hs.push("unscoped", Snapshot::new(30.0, 0, 0));
        let keep = |name: &str| name == "unscoped";
        assert_eq!(hs.prune_idle(60.0, 100.0, keep), Vec::<String>::new());
        assert_eq!(hs.prune_idle(130.0, 100.0, keep), vec!["never_used"]);
        assert_eq!(hs.prune_idle(160.0, 100.0, keep), vec!["emptied"]);
        let names: Vec<&str> = hs.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["busy", "unscoped"]);
    }

    #[test]
    fn a_scope_with_entries_is_not_empty() {
        let mut h = ScopeHistory::new(10);
        let mut s = Snapshot::new(0.0, 0, 0);
        s.entries = Some(3);
        h.push(s);
        assert!(!h.is_idle(1e9, 1.0));
    }

    #[test]
    fn memory_estimate_grows_with_history_and_names() {
        let mut hs = Histories::new(1000);
        let empty = hs.memory_bytes();
        for i in 0..50 {
            hs.push("a_long_scope_name", snap(i));
        }
        let one = hs.memory_bytes();
        assert!(one > empty + "a_long_scope_name".len());
        assert_eq!(hs.get("a_long_scope_name").unwrap().pushed(), 50);
        assert_eq!(hs.len(), 1);
    }
}
