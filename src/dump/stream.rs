//! The dump file written straight from history columns: byte for byte what serde writes of the
//! [`Dump`] whose histories those columns hold, without a [`Snapshot`] per point.
//!
//! The collector's dump of 1,000 scopes carries about 200,000 history points; built as
//! `Snapshot`s (about 100 bytes each) and serialized through serde's per-element machinery, they
//! were most of a collector cycle (benches/README.md). Here each scope's history is thinned into
//! one reused [`HistoryColumns`] just before it is written, and the columns are written number by
//! number. Every value still goes through `serde_json` (strings, the config, the leaks, and each
//! number of a column: its integer and float formatting), so the bytes are the serde path's by
//! construction; only the punctuation around them is written here, in the order the derived
//! `Serialize` impls in `schema.rs` use. The destructuring below names every field of [`Dump`],
//! [`ScopeDump`] and [`ScopeStats`], so a new field does not compile until it is written here too,
//! and `a_streamed_dump_is_the_serde_dump` checks the bytes.

use std::io::{self, Write};

use serde::Serialize;

use super::schema::{Dump, ScopeDump};
use crate::snapshot::{ScopeStats, Snapshot};

/// A history as the dump writes it: one vector per snapshot field, all of one length.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct HistoryColumns {
    pub(crate) t: Vec<f64>,
    pub(crate) curr_bytes: Vec<u64>,
    pub(crate) curr_blocks: Vec<u64>,
    pub(crate) allocs: Vec<u64>,
    pub(crate) frees: Vec<u64>,
    pub(crate) bytes_allocated: Vec<u64>,
    pub(crate) bytes_freed: Vec<u64>,
    pub(crate) entries: Vec<Option<u64>>,
    pub(crate) rss_bytes: Vec<Option<u64>>,
    pub(crate) live_age: Vec<Option<[u16; 3]>>,
}

impl HistoryColumns {
    /// Empties every column, keeping their memory for the next scope.
    pub(crate) fn clear(&mut self) {
        self.t.clear();
        self.curr_bytes.clear();
        self.curr_blocks.clear();
        self.allocs.clear();
        self.frees.clear();
        self.bytes_allocated.clear();
        self.bytes_freed.clear();
        self.entries.clear();
        self.rss_bytes.clear();
        self.live_age.clear();
    }

    /// How many points the columns hold.
    pub(crate) fn len(&self) -> usize {
        self.t.len()
    }

    /// Appends `s`.
    pub(crate) fn push(&mut self, s: &Snapshot) {
        self.t.push(s.t);
        self.curr_bytes.push(s.curr_bytes);
        self.curr_blocks.push(s.curr_blocks);
        self.allocs.push(s.allocs);
        self.frees.push(s.frees);
        self.bytes_allocated.push(s.bytes_allocated);
        self.bytes_freed.push(s.bytes_freed);
        self.entries.push(s.entries);
        self.rss_bytes.push(s.rss_bytes);
        self.live_age.push(s.live_age);
    }

    /// Point `i`.
    pub(crate) fn point(&self, i: usize) -> Snapshot {
        Snapshot {
            t: self.t[i],
            curr_bytes: self.curr_bytes[i],
            curr_blocks: self.curr_blocks[i],
            allocs: self.allocs[i],
            frees: self.frees[i],
            bytes_allocated: self.bytes_allocated[i],
            bytes_freed: self.bytes_freed[i],
            entries: self.entries[i],
            rss_bytes: self.rss_bytes[i],
            live_age: self.live_age[i],
        }
    }

    /// The points `from..`, as snapshots.
    pub(crate) fn points_from(&self, from: usize) -> Vec<Snapshot> {
        (from..self.len()).map(|i| self.point(i)).collect()
    }
}

/// Writes `dump` as compact JSON, each scope's history taken not from the scope but from what
/// `history` puts in the columns it is handed (the `i`th scope's, emptied before each call),
/// exactly as `serde_json::to_writer` would write the dump holding those histories.
pub(crate) fn write_dump_streamed<W: Write>(
    w: &mut W,
    dump: &Dump,
    mut history: impl FnMut(usize, &mut HistoryColumns),
) -> io::Result<()> {
    let Dump {
        schema_version,
        written_at_unix,
        clock_secs,
        process,
        config,
        scopes,
        process_history,
        leaks,
        top_call_sites,
        tracker,
    } = dump;
    field(w, b"{\"schema_version\":", schema_version)?;
    field(w, b",\"written_at_unix\":", written_at_unix)?;
    field(w, b",\"clock_secs\":", clock_secs)?;
    field(w, b",\"process\":", process)?;
    field(w, b",\"config\":", config)?;
    w.write_all(b",\"scopes\":[")?;
    let mut columns = HistoryColumns::default();
    for (i, scope) in scopes.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        columns.clear();
        history(i, &mut columns);
        write_scope(w, scope, &columns)?;
    }
    field(w, b"],\"process_history\":", process_history)?;
    field(w, b",\"leaks\":", leaks)?;
    field(w, b",\"top_call_sites\":", top_call_sites)?;
    field(w, b",\"tracker\":", tracker)?;
    w.write_all(b"}")
}

/// One scope, its history from `h`, as `ScopeDump`'s `Serialize` writes it (the totals
/// flattened beside the name).
fn write_scope<W: Write>(w: &mut W, scope: &ScopeDump, h: &HistoryColumns) -> io::Result<()> {
    let ScopeDump {
        name,
        stats,
        entries,
        budget_bytes,
        history: _,
    } = scope;
    let ScopeStats {
        curr_bytes,
        curr_blocks,
        total_allocs,
        total_frees,
        total_bytes_allocated,
        total_bytes_freed,
        max_bytes,
    } = stats;
    field(w, b"{\"name\":", name)?;
    let totals = [
        (b",\"curr_bytes\":".as_slice(), curr_bytes),
        (b",\"curr_blocks\":", curr_blocks),
        (b",\"total_allocs\":", total_allocs),
        (b",\"total_frees\":", total_frees),
        (b",\"total_bytes_allocated\":", total_bytes_allocated),
        (b",\"total_bytes_freed\":", total_bytes_freed),
        (b",\"max_bytes\":", max_bytes),
    ];
    for (key, v) in totals {
        w.write_all(key)?;
        u64_value(w, *v)?;
    }
    field(w, b",\"entries\":", entries)?;
    field(w, b",\"budget_bytes\":", budget_bytes)?;
    w.write_all(b",\"history\":")?;
    write_history(w, h)?;
    w.write_all(b"}")
}

/// The history's columns, as `schema::columns::serialize` writes them: the seven plain ones
/// always, each optional one only where some point has a value.
fn write_history<W: Write>(w: &mut W, h: &HistoryColumns) -> io::Result<()> {
    w.write_all(b"{\"t\":")?;
    column(w, &h.t, |w, &t| value(w, &t))?;
    let plain = [
        (b",\"curr_bytes\":".as_slice(), &h.curr_bytes),
        (b",\"curr_blocks\":", &h.curr_blocks),
        (b",\"allocs\":", &h.allocs),
        (b",\"frees\":", &h.frees),
        (b",\"bytes_allocated\":", &h.bytes_allocated),
        (b",\"bytes_freed\":", &h.bytes_freed),
    ];
    for (key, values) in plain {
        w.write_all(key)?;
        column(w, values, |w, &v| u64_value(w, v))?;
    }
    for (key, values) in [
        (b",\"entries\":".as_slice(), &h.entries),
        (b",\"rss_bytes\":", &h.rss_bytes),
    ] {
        if values.iter().any(Option::is_some) {
            w.write_all(key)?;
            column(w, values, |w, v| match v {
                Some(v) => u64_value(w, *v),
                None => w.write_all(b"null"),
            })?;
        }
    }
    if h.live_age.iter().any(Option::is_some) {
        w.write_all(b",\"live_age\":")?;
        column(w, &h.live_age, |w, v| value(w, v))?;
    }
    w.write_all(b"}")
}

/// A JSON array of `values`, each written by `each`.
#[inline]
fn column<W: Write, T>(
    w: &mut W,
    values: &[T],
    mut each: impl FnMut(&mut W, &T) -> io::Result<()>,
) -> io::Result<()> {
    w.write_all(b"[")?;
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        each(w, v)?;
    }
    w.write_all(b"]")
}

/// One integer, formatted as serde_json formats it.
#[inline]
fn u64_value<W: Write>(w: &mut W, v: u64) -> io::Result<()> {
    serde::Serializer::serialize_u64(&mut serde_json::Serializer::new(&mut *w), v)
        .map_err(io::Error::from)
}

/// `key` (the JSON up to and including the field's colon) and then the field's value.
fn field<W: Write, T: Serialize + ?Sized>(w: &mut W, key: &[u8], v: &T) -> io::Result<()> {
    w.write_all(key)?;
    value(w, v)
}

/// Any value, as serde_json writes it.
#[inline]
fn value<W: Write, T: Serialize + ?Sized>(w: &mut W, v: &T) -> io::Result<()> {
    serde_json::to_writer(&mut *w, v).map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::fixtures::example_dump;

    /// The dump streamed from columns of each scope's history is, byte for byte, the dump
    /// serde writes: the documented example (every field of the format, optional columns
    /// present and absent) and histories with extreme numbers.
    #[test]
    fn a_streamed_dump_is_the_serde_dump() {
        let mut dumps = vec![example_dump()];
        let mut odd = example_dump();
        let mut s = Snapshot::new(1e300, u64::MAX, 0);
        s.allocs = u64::MAX - 1;
        s.entries = Some(0);
        let mut late = Snapshot::new(0.1 + 0.2, 1, u64::MAX);
        late.live_age = Some([0, 10_000, 1]);
        late.rss_bytes = Some(u64::MAX);
        odd.scopes[0].history = vec![s, late, Snapshot::new(-0.0, 0, 0)];
        odd.scopes[1].history.clear();
        odd.scopes[1].name = "quo\"te\\ \u{1f600} \n".into();
        dumps.push(odd);
        let mut empty = example_dump();
        empty.scopes.clear();
        dumps.push(empty);
        for dump in dumps {
            let want = serde_json::to_vec(&dump).unwrap();
            let mut got = Vec::new();
            write_dump_streamed(&mut got, &dump, |i, c| {
                dump.scopes[i].history.iter().for_each(|p| c.push(p));
            })
            .unwrap();
            assert_eq!(
                String::from_utf8(got).unwrap(),
                String::from_utf8(want).unwrap()
            );
        }
    }
}
