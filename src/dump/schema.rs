//! The dump's serde types: the one place that says what a leakscope dump file contains.
//!
//! Kept apart from the writer and the reader (as ripgrep keeps its JSON message types apart from
//! its printer) so the format can be read in one screen and documented field by field in
//! `docs/dump-format.md`, whose example a test parses.
//!
//! # Versioning
//!
//! `schema_version` is `"MAJOR.MINOR"`. A minor version only adds fields, each optional or with
//! a default, whose absence a reader of an older minor may ignore without misreporting the dump;
//! a reader of 1.0 reads a 1.3 dump (ignoring what it does not know) and a reader of 1.3 reads a
//! 1.0 dump (filling in defaults). Anything else (a renamed, removed or re-typed field, a changed
//! unit, or data whose silent loss would make an older reader's report wrong) is a new major
//! version, and readers refuse majors they do not know with a message naming both versions.
//!
//! 2.0 is 1.3's fields under a new major: it carries the churn data (the history's `live_age`,
//! the process snapshots' `pressure`) that 1.2 added as a minor, which 1.x readers would
//! otherwise drop without a word. This reader reads every major from [`OLDEST_SCHEMA_MAJOR`] to
//! [`SCHEMA_MAJOR`]: a 1.x dump reads with the 2.0 fields it lacks left out.

use serde::de::{Error as _, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::config::Config;
use crate::leak::{CallSite, Leak, LeakStatus};
use crate::snapshot::{Churn, ProcessSnapshot, ScopeStats, Snapshot};

/// The major schema version this build writes, and the newest it reads.
pub const SCHEMA_MAJOR: u32 = 2;
/// The minor schema version this build writes.
pub const SCHEMA_MINOR: u32 = 0;
/// `SCHEMA_MAJOR.SCHEMA_MINOR`, as written in `schema_version`.
pub const SCHEMA_VERSION: &str = "2.0";
/// The oldest major schema version this build reads: every 1.x dump still reads.
pub const OLDEST_SCHEMA_MAJOR: u32 = 1;

/// The most points one scope's history can hold, and so the longest history column a dump
/// may have: three tiers of at most `max_snapshots_per_cache + 9` points each (see
/// `src/history.rs`), with `max_snapshots_per_cache` at most 1,000,000
/// ([`Config::validate`]). The reader refuses a longer column as soon as it sees one value too
/// many: parsing costs about 140 bytes of memory per history point, and the size limit alone
/// would let a 1 GiB file of short numbers make it build ten times its size.
pub const MAX_HISTORY_POINTS: usize = 3 * (1_000_000 + 9);

/// One leakscope dump: everything the CLI renders.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Dump {
    /// `"MAJOR.MINOR"`; see the module docs for what each part promises.
    pub schema_version: String,
    /// Wall-clock time the dump was written, in seconds since the Unix epoch.
    pub written_at_unix: f64,
    /// The collector clock when the dump was written: seconds since the collector started, the
    /// clock of every `t` in this file. A snapshot's wall-clock time is
    /// `written_at_unix - (clock_secs - t)`.
    pub clock_secs: f64,
    /// The process that wrote it.
    pub process: ProcessInfo,
    /// The configuration it ran with.
    pub config: Config,
    /// Every tracked scope, in name order.
    pub scopes: Vec<ScopeDump>,
    /// Process-wide snapshots (RSS against tracked bytes), oldest first.
    pub process_history: Vec<ProcessSnapshot>,
    /// Open and resolved leaks; each says which in its `status`.
    pub leaks: Vec<Leak>,
    /// The sampled call sites holding the most live memory, largest first, frames resolved.
    pub top_call_sites: Vec<CallSite>,
    /// The tracker's own figures.
    pub tracker: TrackerStats,
}

impl Dump {
    /// An empty dump of the current schema version; the collector fills in scopes, history,
    /// leaks and call sites.
    pub fn new(
        written_at_unix: f64,
        clock_secs: f64,
        process: ProcessInfo,
        config: Config,
    ) -> Self {
        Dump {
            schema_version: SCHEMA_VERSION.to_owned(),
            written_at_unix,
            clock_secs,
            process,
            config,
            scopes: Vec::new(),
            process_history: Vec::new(),
            leaks: Vec::new(),
            top_call_sites: Vec::new(),
            tracker: TrackerStats::default(),
        }
    }

    /// The leaks still open.
    pub fn open_leaks(&self) -> impl Iterator<Item = &Leak> {
        self.leaks.iter().filter(|l| l.status == LeakStatus::Open)
    }

    /// The leaks that were resolved.
    pub fn resolved_leaks(&self) -> impl Iterator<Item = &Leak> {
        self.leaks
            .iter()
            .filter(|l| l.status == LeakStatus::Resolved)
    }

    /// The scope called `name`.
    pub fn scope(&self, name: &str) -> Option<&ScopeDump> {
        self.scopes.iter().find(|s| s.name == name)
    }
}

/// The process that wrote a dump.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProcessInfo {
    /// Process id.
    pub pid: u32,
    /// Path of the executable (lossy UTF-8), if known.
    pub executable: Option<String>,
    /// When the process started, in seconds since the Unix epoch, if known.
    pub start_time_unix: Option<f64>,
    /// Resident set size in bytes when the dump was written, if known.
    pub rss_bytes: Option<u64>,
    /// The cgroup's memory limit in bytes, if there is one.
    pub cgroup_limit_bytes: Option<u64>,
}

impl ProcessInfo {
    /// A description of process `pid` with nothing else known.
    pub fn new(pid: u32) -> Self {
        ProcessInfo {
            pid,
            ..ProcessInfo::default()
        }
    }
}

/// One scope: its totals when the dump was written and its history.
///
/// Read by hand ([`ScopeDump`]'s `Deserialize` below), not derived: serde's `flatten` would
/// buffer every field it does not know, so an unknown field of a newer minor version could cost
/// many times its size in memory instead of being skipped.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ScopeDump {
    /// The scope's name (`unscoped` for memory allocated outside every scope).
    pub name: String,
    /// Its totals when the dump was written, as [`stats`](crate::stats) gives them (with memory
    /// fed by [`record`](crate::record) added to `curr_bytes`); in the file, the fields stand
    /// beside `name` (`curr_bytes`, `curr_blocks`, `total_allocs`, ...), as they always did.
    #[serde(flatten)]
    pub stats: ScopeStats,
    /// The entry-count gauge, if the program sets one.
    pub entries: Option<u64>,
    /// The configured budget in bytes, if any.
    pub budget_bytes: Option<u64>,
    /// The merged history, oldest first: coarse points (each standing for a run of intervals:
    /// interval counters summed, state as at the run's last interval) then recent snapshots.
    /// Written column by column: one array per snapshot field (docs/dump-format.md).
    #[serde(with = "columns")]
    pub history: Vec<Snapshot>,
}

impl<'de> Deserialize<'de> for ScopeDump {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// `history` through its column reader.
        struct History(Vec<Snapshot>);
        impl<'de> Deserialize<'de> for History {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                columns::deserialize(d).map(History)
            }
        }

        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = ScopeDump;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a scope")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ScopeDump, A::Error> {
                let mut scope = ScopeDump::default();
                let (mut name, mut history) = (None, None);
                let mut seen = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if seen.contains(&key) {
                        return Err(A::Error::custom(format_args!("duplicate field `{key}`")));
                    }
                    match &*key {
                        "name" => name = Some(map.next_value()?),
                        "entries" => scope.entries = map.next_value()?,
                        "budget_bytes" => scope.budget_bytes = map.next_value()?,
                        "history" => history = Some(map.next_value::<History>()?.0),
                        k => match scope.stats.field_mut(k) {
                            Some(field) => *field = map.next_value()?,
                            // A field of a newer minor version: skipped, not kept.
                            None => {
                                map.next_value::<IgnoredAny>()?;
                                continue;
                            }
                        },
                    }
                    seen.push(key);
                }
                for field in ScopeStats::FIELDS {
                    if !seen.iter().any(|k| k == field) {
                        return Err(A::Error::missing_field(field));
                    }
                }
                scope.name = name.ok_or_else(|| A::Error::missing_field("name"))?;
                scope.history = history.ok_or_else(|| A::Error::missing_field("history"))?;
                Ok(scope)
            }
        }

        d.deserialize_map(Fields)
    }
}

/// A history as columns: one array per snapshot field, so a long history costs a few bytes per
/// number instead of repeating every field name for every point (about 2.5 times smaller, and
/// as much faster to write and read).
pub(crate) mod columns {
    use serde::de::Error as _;
    use serde::ser::SerializeStruct;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::snapshot::Snapshot;

    /// One field of every snapshot, serialized as an array without copying.
    struct Column<'a, F>(&'a [Snapshot], F);

    impl<F: Fn(&Snapshot) -> T, T: Serialize> Serialize for Column<'_, F> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(self.0.iter().map(&self.1))
        }
    }

    pub(crate) fn serialize<S: Serializer>(h: &[Snapshot], s: S) -> Result<S::Ok, S::Error> {
        let with_entries = h.iter().any(|p| p.entries.is_some());
        let with_rss = h.iter().any(|p| p.rss_bytes.is_some());
        let with_age = h.iter().any(|p| p.live_age.is_some());
        let mut st = s.serialize_struct("History", 10)?;
        st.serialize_field("t", &Column(h, |p: &Snapshot| p.t))?;
        st.serialize_field("curr_bytes", &Column(h, |p: &Snapshot| p.curr_bytes))?;
        st.serialize_field("curr_blocks", &Column(h, |p: &Snapshot| p.curr_blocks))?;
        st.serialize_field("allocs", &Column(h, |p: &Snapshot| p.allocs))?;
        st.serialize_field("frees", &Column(h, |p: &Snapshot| p.frees))?;
        st.serialize_field(
            "bytes_allocated",
            &Column(h, |p: &Snapshot| p.bytes_allocated),
        )?;
        st.serialize_field("bytes_freed", &Column(h, |p: &Snapshot| p.bytes_freed))?;
        if with_entries {
            st.serialize_field("entries", &Column(h, |p: &Snapshot| p.entries))?;
        }
        if with_rss {
            st.serialize_field("rss_bytes", &Column(h, |p: &Snapshot| p.rss_bytes))?;
        }
        if with_age {
            st.serialize_field("live_age", &Column(h, |p: &Snapshot| p.live_age))?;
        }
        st.end()
    }

    #[derive(Deserialize)]
    struct Columns {
        t: Bounded<f64>,
        curr_bytes: Bounded<u64>,
        curr_blocks: Bounded<u64>,
        allocs: Bounded<u64>,
        frees: Bounded<u64>,
        bytes_allocated: Bounded<u64>,
        bytes_freed: Bounded<u64>,
        #[serde(default)]
        entries: Option<Bounded<Option<u64>>>,
        #[serde(default)]
        rss_bytes: Option<Bounded<Option<u64>>>,
        /// Since 1.2.
        #[serde(default)]
        live_age: Option<Bounded<Option<[u16; 3]>>>,
    }

    /// A column of at most [`MAX_HISTORY_POINTS`](super::MAX_HISTORY_POINTS) values, refused
    /// as soon as one more arrives, so a hostile column of any length costs at most the limit's
    /// worth of memory before the reader says no.
    struct Bounded<T>(Vec<T>);

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for Bounded<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Visitor<T>(std::marker::PhantomData<T>);
            impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<T> {
                type Value = Bounded<T>;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an array of history values")
                }
                fn visit_seq<A: serde::de::SeqAccess<'de>>(
                    self,
                    mut seq: A,
                ) -> Result<Bounded<T>, A::Error> {
                    let max = super::MAX_HISTORY_POINTS;
                    let mut values = Vec::new();
                    while let Some(value) = seq.next_element()? {
                        if values.len() == max {
                            return Err(A::Error::custom(format!(
                                "a history column has more than {max} values (the most a \
                                 leakscope history holds)"
                            )));
                        }
                        values.push(value);
                    }
                    Ok(Bounded(values))
                }
            }
            d.deserialize_seq(Visitor(std::marker::PhantomData))
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Snapshot>, D::Error> {
        let c = Columns::deserialize(d)?;
        let (t, curr_bytes, curr_blocks) = (c.t.0, c.curr_bytes.0, c.curr_blocks.0);
        let (allocs, frees) = (c.allocs.0, c.frees.0);
        let (bytes_allocated, bytes_freed) = (c.bytes_allocated.0, c.bytes_freed.0);
        let (entries, rss_bytes) = (c.entries.map(|e| e.0), c.rss_bytes.map(|r| r.0));
        let live_age = c.live_age.map(|a| a.0);
        let n = t.len();
        let lengths = [
            ("curr_bytes", curr_bytes.len()),
            ("curr_blocks", curr_blocks.len()),
            ("allocs", allocs.len()),
            ("frees", frees.len()),
            ("bytes_allocated", bytes_allocated.len()),
            ("bytes_freed", bytes_freed.len()),
            ("entries", entries.as_ref().map_or(n, Vec::len)),
            ("rss_bytes", rss_bytes.as_ref().map_or(n, Vec::len)),
            ("live_age", live_age.as_ref().map_or(n, Vec::len)),
        ];
        if let Some((name, len)) = lengths.iter().find(|(_, len)| *len != n) {
            return Err(D::Error::custom(format!(
                "history column {name} has {len} values where t has {n}"
            )));
        }
        let scale = crate::snapshot::AGE_SHARE_SCALE;
        if let Some(bad) = live_age
            .iter()
            .flatten()
            .flatten()
            .find(|a| a.iter().any(|&v| v > scale))
        {
            return Err(D::Error::custom(format!(
                "history column live_age holds {bad:?}: shares are at most {scale} (ten-thousandths)"
            )));
        }
        Ok((0..n)
            .map(|i| {
                let mut s = Snapshot::new(t[i], curr_bytes[i], curr_blocks[i]);
                s.allocs = allocs[i];
                s.frees = frees[i];
                s.bytes_allocated = bytes_allocated[i];
                s.bytes_freed = bytes_freed[i];
                s.entries = entries.as_ref().and_then(|e| e[i]);
                s.rss_bytes = rss_bytes.as_ref().and_then(|r| r[i]);
                s.live_age = live_age.as_ref().and_then(|a| a[i]);
                s
            })
            .collect())
    }
}

impl ScopeDump {
    /// A scope called `name` with zero totals and no history.
    pub fn new(name: impl Into<String>) -> Self {
        ScopeDump {
            name: name.into(),
            ..ScopeDump::default()
        }
    }

    /// The scope's [`Churn`] over the history's last `window_secs` seconds: the points from
    /// `window_secs` before the last one on (the first of them opens the window). `None` with
    /// fewer than two points there.
    pub fn churn(&self, window_secs: f64) -> Option<Churn> {
        let last_t = self.history.last()?.t;
        let from = self.history.partition_point(|s| s.t < last_t - window_secs);
        Churn::over(&self.history[from..])
    }

    /// The least-squares slope of `curr_bytes` over the history's last `window_secs` seconds,
    /// in bytes per minute: the dashboard's growth rate. `None` with fewer than two points in
    /// the window, or none of them apart in time.
    pub fn growth_bytes_per_minute(&self, window_secs: f64) -> Option<f64> {
        let last_t = self.history.last()?.t;
        let recent: Vec<(f64, f64)> = self
            .history
            .iter()
            .rev()
            .take_while(|s| s.t >= last_t - window_secs)
            .map(|s| (s.t, s.curr_bytes as f64))
            .collect();
        if recent.len() < 2 {
            return None;
        }
        let n = recent.len() as f64;
        let mean_t = recent.iter().map(|p| p.0).sum::<f64>() / n;
        let mean_y = recent.iter().map(|p| p.1).sum::<f64>() / n;
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for (t, y) in &recent {
            sxy += (t - mean_t) * (y - mean_y);
            sxx += (t - mean_t) * (t - mean_t);
        }
        let slope = sxy / sxx * 60.0;
        slope.is_finite().then_some(slope)
    }
}

/// leakscope's own figures: what it costs and whether it kept up. One type for both places
/// that show them: [`tracker_stats`](crate::live::tracker_stats) in the running process, and the
/// dump's `tracker` object.
///
/// Fields added after schema 1.0 have a default, so a 1.0 dump reads with them at 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TrackerStats {
    /// leakscope's own live bytes (collector tables, history, symbol cache):
    /// `leakscope_self_bytes`.
    pub self_bytes: u64,
    /// leakscope's own live blocks.
    #[serde(default)]
    pub self_blocks: u64,
    /// Allocations sampled with a stack trace.
    pub samples_taken: u64,
    /// Samples dropped (no free sample slot, or the sample channel was full); their blocks were
    /// counted but not marked as sampled.
    pub samples_dropped: u64,
    /// Sends that found the channel full (or closed for a moment around a `fork`); their counts
    /// were kept and sent later.
    pub channel_full_retries: u64,
    /// Dump files the collector started last has written successfully; in a dump, this one
    /// included.
    pub dumps_written: u64,
    /// Dump writes of the collector started last that failed.
    pub dump_errors: u64,
    /// The most memory resolving call-site symbols has loaded at once (the binary's debug line
    /// tables, mostly). Part of `self_bytes` while a dump resolves symbols; released after each
    /// dump unless `keep_symbol_cache` is set.
    #[serde(default)]
    pub symbolizer_peak_bytes: u64,
    /// Entry-count gauges dropped because their scope name found no free id (at most
    /// [`MAX_SCOPES`](crate::config::MAX_SCOPES) scopes); such a gauge is never given to another scope.
    #[serde(default)]
    pub gauges_dropped: u64,
}

/// Splits `"MAJOR.MINOR"`.
pub(crate) fn parse_version(version: &str) -> Option<(u32, u32)> {
    let (major, minor) = version.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(major) || !digits(minor) {
        return None;
    }
    Some((major.parse().ok()?, minor.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_constants_agree() {
        assert_eq!(
            parse_version(SCHEMA_VERSION),
            Some((SCHEMA_MAJOR, SCHEMA_MINOR))
        );
    }

    #[test]
    fn versions_parse_strictly() {
        assert_eq!(parse_version("1.0"), Some((1, 0)));
        assert_eq!(parse_version("12.34"), Some((12, 34)));
        for bad in [
            "1",
            "1.",
            ".1",
            "1.0.0",
            "v1.0",
            "1.x",
            "+1.0",
            " 1.0",
            "99999999999.0",
        ] {
            assert_eq!(parse_version(bad), None, "{bad}");
        }
    }

    /// A scope reads as it was written; an unknown field (of a newer minor version) is skipped;
    /// a missing or repeated field is an error naming it.
    #[test]
    fn a_scope_reads_its_totals_beside_its_other_fields() {
        let dump = crate::dump::fixtures::example_dump();
        let scope = &dump.scopes[1];
        let text = serde_json::to_string(scope).unwrap();
        // The fields in the order they always had: name, the totals, then the rest.
        let mut keys = vec!["name"];
        keys.extend(ScopeStats::FIELDS);
        keys.extend(["entries", "budget_bytes", "history"]);
        let at: Vec<usize> = keys
            .iter()
            .map(|k| text.find(&format!("\"{k}\":")).unwrap())
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert_eq!(&serde_json::from_str::<ScopeDump>(&text).unwrap(), scope);
        let newer = text.replacen('{', "{\"added_later\":{\"x\":[1,[2]]},", 1);
        assert_eq!(&serde_json::from_str::<ScopeDump>(&newer).unwrap(), scope);
        let missing = text.replacen("\"max_bytes\":", "\"maxbytes\":", 1);
        let err = serde_json::from_str::<ScopeDump>(&missing).unwrap_err();
        assert!(
            err.to_string().starts_with("missing field `max_bytes`"),
            "{err}"
        );
        let twice = text.replacen('{', "{\"curr_bytes\":1,", 1);
        let err = serde_json::from_str::<ScopeDump>(&twice).unwrap_err();
        assert!(
            err.to_string().starts_with("duplicate field `curr_bytes`"),
            "{err}"
        );
        let err = serde_json::from_str::<ScopeDump>("[1]").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid type: sequence, expected a scope"),
            "{err}"
        );
    }

    #[test]
    fn open_and_resolved_leaks_are_told_apart() {
        let dump = crate::dump::fixtures::example_dump();
        assert_eq!(dump.open_leaks().count(), 1);
        assert_eq!(dump.resolved_leaks().count(), 1);
        assert_eq!(
            dump.scope("users_cache").unwrap().stats.curr_bytes,
            3_400_000
        );
        assert!(dump.scope("nope").is_none());
    }
}
