//! `leakscope diff OLD NEW`: what grew between two dumps, the counterpart of tracemalloc's
//! `Snapshot.compare_to`.
//!
//! [`compare`] is pure and builds a [`Diff`]; [`render`] prints it for a person and `--json`
//! prints it with serde.
//!
//! # Format
//! `--json` prints one object:
//!
//! - `old`, `new`: `{ "pid", "written_at_unix" }` of each dump;
//! - `elapsed_secs`: `new.written_at_unix - old.written_at_unix`;
//! - `same_process`: both dumps come from one process (same pid and start time), so their
//!   counters continue each other and a rate per minute means something;
//! - `scopes`: every scope of either dump, largest growth first, each `{ "name", "old_bytes",
//!   "new_bytes", "change_bytes", "old_entries", "new_entries", "rate_bytes_per_min" }`
//!   (`old_bytes` is `null` for a scope new in NEW, `new_bytes` for one gone; `rate` only for
//!   the same process);
//! - `call_sites`: sampled call sites of either dump, largest growth first, each `{ "scope",
//!   "site", "frames", "old_bytes", "new_bytes", "change_bytes" }`, where `site` is the first
//!   frame as `function (file:line)` and `frames` every frame, innermost first. Sites are
//!   matched by their resolved frames, not addresses, which move between runs (ASLR);
//! - `new_leaks`, `gone_leaks`: leaks open in NEW but not in OLD, and the reverse, each `{
//!   "scope", "leak_type", "severity" }`, matched by scope and type.
//!
//! docs/cli.md has an example.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use leakscope::dump::Dump;
use leakscope::leaks::CallSite;
use leakscope::{leaks::LeakSeverity, leaks::LeakType};
use serde::Serialize;

use crate::fmt;
use crate::style::{Paint, Style};

/// What changed between two dumps. See the module docs for the JSON form.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diff {
    /// The older dump.
    pub old: Origin,
    /// The newer dump.
    pub new: Origin,
    /// Seconds between the two dumps' writing.
    pub elapsed_secs: f64,
    /// Both dumps come from one process.
    pub same_process: bool,
    /// Every scope, largest growth first.
    pub scopes: Vec<ScopeChange>,
    /// Every call site, largest growth first.
    pub call_sites: Vec<SiteChange>,
    /// Leaks open in NEW and not in OLD.
    pub new_leaks: Vec<LeakKey>,
    /// Leaks open in OLD and not in NEW.
    pub gone_leaks: Vec<LeakKey>,
}

/// Which dump.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Origin {
    /// The process id.
    pub pid: u32,
    /// When it was written.
    pub written_at_unix: f64,
}

/// One scope's change.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScopeChange {
    /// The scope.
    pub name: String,
    /// Live bytes in OLD, `None` if OLD has no such scope.
    pub old_bytes: Option<u64>,
    /// Live bytes in NEW, `None` if NEW has no such scope.
    pub new_bytes: Option<u64>,
    /// NEW minus OLD (a missing side counts as 0).
    pub change_bytes: i64,
    /// The entry gauge in OLD.
    pub old_entries: Option<u64>,
    /// The entry gauge in NEW.
    pub new_entries: Option<u64>,
    /// `change_bytes` per minute between the dumps, for dumps of one process.
    pub rate_bytes_per_min: Option<f64>,
}

/// One call site's change.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SiteChange {
    /// The owning scope.
    pub scope: String,
    /// The first frame as `function (file:line)`.
    pub site: String,
    /// Every frame, innermost first, as `function (file:line)`.
    pub frames: Vec<String>,
    /// Estimated live bytes in OLD (0 if absent).
    pub old_bytes: u64,
    /// Estimated live bytes in NEW (0 if absent).
    pub new_bytes: u64,
    /// NEW minus OLD.
    pub change_bytes: i64,
}

/// A leak, as far as matching goes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct LeakKey {
    /// The scope.
    pub scope: String,
    /// The kind.
    pub leak_type: LeakType,
    /// Its severity in the dump that has it.
    pub severity: LeakSeverity,
}

fn signed(new: u64, old: u64) -> i64 {
    let d = i128::from(new) - i128::from(old);
    d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Compares two dumps.
pub fn compare(old: &Dump, new: &Dump) -> Diff {
    let elapsed = new.written_at_unix - old.written_at_unix;
    let same_process = old.process.pid == new.process.pid
        && old.process.start_time_unix == new.process.start_time_unix;
    let per_min = |change: i64| {
        let minutes = elapsed / 60.0;
        (same_process && minutes > 0.0 && minutes.is_finite()).then(|| change as f64 / minutes)
    };

    let mut names: BTreeMap<&str, (Option<&_>, Option<&_>)> = BTreeMap::new();
    for s in &old.scopes {
        names.entry(&s.name).or_default().0 = Some(s);
    }
    for s in &new.scopes {
        names.entry(&s.name).or_default().1 = Some(s);
    }
    let mut scopes: Vec<ScopeChange> = names
        .into_iter()
        .map(
            |(name, (o, n)): (&str, (Option<&leakscope::dump::ScopeDump>, Option<_>))| {
                let change = signed(
                    n.map_or(0, |s| s.stats.curr_bytes),
                    o.map_or(0, |s| s.stats.curr_bytes),
                );
                ScopeChange {
                    name: name.to_owned(),
                    old_bytes: o.map(|s| s.stats.curr_bytes),
                    new_bytes: n.map(|s| s.stats.curr_bytes),
                    change_bytes: change,
                    old_entries: o.and_then(|s| s.entries),
                    new_entries: n.and_then(|s| s.entries),
                    rate_bytes_per_min: per_min(change),
                }
            },
        )
        .collect();
    scopes.sort_by(|a, b| {
        b.change_bytes
            .cmp(&a.change_bytes)
            .then(a.name.cmp(&b.name))
    });

    let mut sites: BTreeMap<(String, Vec<String>), (u64, u64)> = BTreeMap::new();
    let key = |s: &CallSite| (s.scope.clone(), s.frames.iter().map(fmt::frame).collect());
    for s in &old.top_call_sites {
        let e = sites.entry(key(s)).or_default();
        e.0 = e.0.saturating_add(s.live_bytes);
    }
    for s in &new.top_call_sites {
        let e = sites.entry(key(s)).or_default();
        e.1 = e.1.saturating_add(s.live_bytes);
    }
    let mut call_sites: Vec<SiteChange> = sites
        .into_iter()
        .map(|((scope, frames), (o, n))| SiteChange {
            scope,
            site: frames
                .first()
                .cloned()
                .unwrap_or_else(|| "(no frames)".to_owned()),
            frames,
            old_bytes: o,
            new_bytes: n,
            change_bytes: signed(n, o),
        })
        .collect();
    call_sites.sort_by(|a, b| {
        b.change_bytes
            .cmp(&a.change_bytes)
            .then(a.scope.cmp(&b.scope))
            .then(a.frames.cmp(&b.frames))
    });

    let open = |d: &Dump| -> Vec<LeakKey> {
        let mut v: Vec<LeakKey> = d
            .open_leaks()
            .map(|l| LeakKey {
                scope: l.finding.scope.clone(),
                leak_type: l.finding.leak_type,
                severity: l.finding.severity,
            })
            .collect();
        v.sort();
        v
    };
    let (old_open, new_open) = (open(old), open(new));
    let missing_from = |a: &[LeakKey], b: &[LeakKey]| -> Vec<LeakKey> {
        a.iter()
            .filter(|k| {
                !b.iter()
                    .any(|o| o.scope == k.scope && o.leak_type == k.leak_type)
            })
            .cloned()
            .collect()
    };
    Diff {
        old: Origin {
            pid: old.process.pid,
            written_at_unix: old.written_at_unix,
        },
        new: Origin {
            pid: new.process.pid,
            written_at_unix: new.written_at_unix,
        },
        elapsed_secs: elapsed,
        same_process,
        new_leaks: missing_from(&new_open, &old_open),
        gone_leaks: missing_from(&old_open, &new_open),
        scopes,
        call_sites,
    }
}

/// Call sites listed in the text form.
const SITES: usize = 15;

/// The text form: scopes that grew (and how many did not), call sites that grew, leaks that
/// appeared or went away.
pub fn render(diff: &Diff, style: Style) -> String {
    let mut out = String::new();
    let width = style.width();
    let when = if diff.same_process {
        format!(
            "same process (pid {}), {} apart",
            diff.new.pid,
            fmt::duration(diff.elapsed_secs)
        )
    } else {
        format!(
            "pid {} at {} → pid {} at {} (different processes: counters restart, no rates)",
            diff.old.pid,
            fmt::utc_datetime(diff.old.written_at_unix),
            diff.new.pid,
            fmt::utc_datetime(diff.new.written_at_unix)
        )
    };
    let _ = writeln!(out, "{}", style.paint(Paint::Heading, "leakscope diff"));
    for line in fmt::wrap(&when, style.prose() - 2) {
        let _ = writeln!(out, "  {line}");
    }
    if diff.elapsed_secs < 0.0 {
        for line in fmt::wrap(
            "note: NEW was written before OLD; are they swapped?",
            width - 2,
        ) {
            let _ = writeln!(out, "  {}", style.paint(Paint::Bad, &line));
        }
    }
    out.push('\n');

    let grew: Vec<&ScopeChange> = diff.scopes.iter().filter(|s| s.change_bytes > 0).collect();
    let _ = writeln!(
        out,
        "{}  {}",
        style.paint(Paint::Heading, "SCOPES THAT GREW"),
        grew.len()
    );
    let entries: Vec<String> = grew
        .iter()
        .map(|s| match (s.old_entries, s.new_entries) {
            (Some(o), Some(n)) => format!("{} → {}", fmt::count(o), fmt::count(n)),
            (None, Some(n)) => format!("→ {}", fmt::count(n)),
            _ => String::new(),
        })
        .collect();
    let names: Vec<String> = grew.iter().map(|s| fmt::clean(&s.name)).collect();
    // The name column takes what the names need, up to 24 columns (40 on a wide line), less
    // what the figures and the entries leave; a line still too wide is cut at its end.
    let entries_width = entries.iter().map(|e| fmt::width(e)).max().unwrap_or(0);
    let cap = if width > 100 { 40 } else { 24 };
    let name_width = names
        .iter()
        .map(|n| fmt::width(n))
        .max()
        .unwrap_or(0)
        .clamp(8, cap)
        .min(width.saturating_sub(51 + entries_width))
        .max(8);
    if !grew.is_empty() {
        let head = format!(
            "  {} {:>10} {:>10} {:>11} {:>12}  {}",
            fmt::pad_right("SCOPE", name_width),
            "OLD",
            "NEW",
            "CHANGE",
            "RATE/MIN",
            "ENTRIES"
        );
        let _ = writeln!(
            out,
            "{}",
            style.paint(Paint::Dim, &fmt::truncate(&head, width))
        );
    }
    for ((s, name), entries) in grew.iter().zip(&names).zip(&entries) {
        let lead = format!(
            "  {} {} {} ",
            fmt::pad_right(&fmt::truncate(name, name_width), name_width),
            fmt::pad_left(&s.old_bytes.map_or("(new)".to_owned(), fmt::bytes_u), 10),
            fmt::pad_left(&s.new_bytes.map_or("(gone)".to_owned(), fmt::bytes_u), 10),
        );
        let change = fmt::pad_left(&fmt::delta(s.change_bytes as f64), 11);
        let rate = s.rate_bytes_per_min.map_or("—".to_owned(), |r| {
            fmt::rate(r).trim_end_matches("/min").to_owned()
        });
        let tail = format!(" {}  {entries}", fmt::pad_left(&rate, 12));
        let line = style.fit(&[
            (None, &lead),
            (Some(Paint::Bad), &change),
            (None, tail.trim_end()),
        ]);
        let _ = writeln!(out, "{line}");
    }
    let shrank: Vec<&ScopeChange> = diff.scopes.iter().filter(|s| s.change_bytes < 0).collect();
    let same = diff.scopes.len() - grew.len() - shrank.len();
    let freed: i64 = shrank.iter().map(|s| s.change_bytes).sum();
    let mut rest = Vec::new();
    if !shrank.is_empty() {
        let names: Vec<String> = shrank.iter().take(5).map(|s| fmt::clean(&s.name)).collect();
        let more = if shrank.len() > 5 { ", …" } else { "" };
        rest.push(format!(
            "{} shrank by {} in all ({}{more})",
            shrank.len(),
            fmt::bytes(-(freed as f64)),
            names.join(", ")
        ));
    }
    if same > 0 {
        rest.push(format!("{same} unchanged"));
    }
    if !rest.is_empty() {
        for line in fmt::wrap(&format!("{}.", rest.join("; ")), style.prose() - 2) {
            let _ = writeln!(out, "  {}", style.paint(Paint::Dim, &line));
        }
    }
    out.push('\n');

    let grew: Vec<&SiteChange> = diff
        .call_sites
        .iter()
        .filter(|s| s.change_bytes > 0)
        .collect();
    let _ = writeln!(
        out,
        "{}  {}",
        style.paint(Paint::Heading, "CALL SITES THAT GREW"),
        grew.len()
    );
    for s in grew.iter().take(SITES) {
        let scope = fmt::truncate(&fmt::clean(&s.scope), 16);
        let line = format!(
            "  {}  {}  {}",
            fmt::pad_left(&fmt::delta(s.change_bytes as f64), 11),
            fmt::pad_right(&scope, 16),
            fmt::clean(&s.site)
        );
        let _ = writeln!(out, "{}", fmt::truncate(&line, width));
    }
    if grew.len() > SITES {
        let _ = writeln!(out, "  … and {} more", grew.len() - SITES);
    }
    out.push('\n');

    for (title, leaks, paint) in [
        ("NEW LEAKS", &diff.new_leaks, Paint::Bad),
        ("LEAKS NO LONGER OPEN", &diff.gone_leaks, Paint::Good),
    ] {
        if title != "NEW LEAKS" {
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "{}  {}",
            style.paint(Paint::Heading, title),
            leaks.len()
        );
        for l in leaks {
            let line = format!(
                "  {} {}: {}",
                fmt::pad_right(fmt::severity(l.severity), 9),
                fmt::clean(&l.scope),
                fmt::leak_type(l.leak_type)
            );
            let _ = writeln!(out, "{}", style.paint(paint, &fmt::truncate(&line, width)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use leakscope::dump::{ProcessInfo, ScopeDump};
    use leakscope::Config;

    fn dump(at: f64, scopes: &[(&str, u64)]) -> Dump {
        let mut d = Dump::new(at, at, ProcessInfo::new(9), Config::default());
        d.scopes = scopes
            .iter()
            .map(|&(n, b)| {
                let mut s = ScopeDump::new(n);
                s.stats.curr_bytes = b;
                s
            })
            .collect();
        d
    }

    #[test]
    fn the_scope_that_grew_most_comes_first() {
        let old = dump(0.0, &[("a", 100), ("b", 100), ("gone", 50), ("same", 5)]);
        let new = dump(
            120.0,
            &[("a", 150), ("b", 10_100), ("fresh", 70), ("same", 5)],
        );
        let d = compare(&old, &new);
        let order: Vec<&str> = d.scopes.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(order, ["b", "fresh", "a", "same", "gone"]);
        assert_eq!(d.scopes[0].change_bytes, 10_000);
        assert_eq!(d.scopes[0].rate_bytes_per_min, Some(5_000.0));
        assert_eq!(d.scopes[1].old_bytes, None);
        assert_eq!(d.scopes[4].change_bytes, -50);
        let text = render(&d, Style::PLAIN);
        assert!(text.contains("SCOPES THAT GREW  3"), "{text}");
        assert!(
            text.contains("1 shrank by 50 B in all (gone); 1 unchanged."),
            "{text}"
        );
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        let old = dump(0.0, &[("a", u64::MAX)]);
        let new = dump(f64::NAN, &[("a", 0)]);
        let d = compare(&old, &new);
        assert_eq!(d.scopes[0].change_bytes, i64::MIN);
        assert_eq!(d.scopes[0].rate_bytes_per_min, None);
        render(&d, Style::PLAIN);
    }
}
