//! Recommendations: what to do about a finding, specific to its type and severity.
//!
//! Each recommendation names the scope, the numbers in human units (decimal, like the config's
//! MB: "6.1 MB/min", "4.2 KB → 9.8 KB") and the top call site when samples exist, formatted
//! `function (file:line)`. The text follows docs/detectors.md ("Recommendations"): what is happening, where, and
//! the concrete change that usually fixes it. Everything is derived from the finding itself (its
//! statistics carry the type-specific numbers), so the advice can be regenerated offline.

use super::{statistic, Finding, PROCESS_SCOPE};
use crate::leak::{CallSite, LeakSeverity, LeakType};
use crate::snapshot::Snapshot;

pub(crate) use crate::units::bytes as fmt_bytes;
pub(crate) use crate::units::duration as fmt_minutes;

/// A rate in bytes per minute: "6.1 MB/min".
pub(crate) fn fmt_rate(per_min: f64) -> String {
    format!("{}/min", fmt_bytes(per_min))
}

/// The innermost frame of a call site as `function (file:line)`.
pub(crate) fn fmt_site(site: &CallSite) -> Option<String> {
    let f = site.frames.first()?;
    let func = f
        .function
        .clone()
        .unwrap_or_else(|| format!("0x{:x}", f.addr));
    Some(match (&f.file, f.line) {
        (Some(file), Some(line)) => format!("{func} ({file}:{line})"),
        (Some(file), None) => format!("{func} ({file})"),
        _ => func,
    })
}

/// The recommendations for `f`, most useful first; `sampling` says whether stack sampling is on
/// (without a call site, the advice is then to look again later, not to enable it).
pub(crate) fn recommend(f: &Finding, sampling: bool) -> Vec<String> {
    let s = |name: &str| statistic(&f.statistics, name);
    let scope = &f.scope;
    let site = f
        .top_sites
        .first()
        .and_then(|c| fmt_site(c).map(|name| (name, fmt_bytes(c.live_bytes as f64))));
    let at_site = |advice: &str| {
        match &site {
        Some((name, live)) => format!("top call site {name} holds {live}: {advice}"),
        None if sampling => format!(
            "no sampled call site of {scope} holds live memory yet (samples are taken every \
             sample_interval_bytes); the leak's call sites appear once they do; then {advice}"
        ),
        None => format!(
            "enable stack sampling (a sample_interval_bytes above 0) to see which call site allocates it; \
             then {advice}"
        ),
    }
    };
    let budget = match (f.time_to_budget_secs, f.budget_bytes) {
        (Some(t), Some(b)) => Some(format!(
            "at this rate {scope} reaches its {} budget in {}",
            fmt_bytes(b as f64),
            fmt_minutes(t)
        )),
        _ => None,
    };
    let mut out = Vec::new();
    match f.leak_type {
        LeakType::GradualGrowth => {
            out.push(format!(
                "{scope} grows {} ({:?} fit; floor {} → {} over {}), blocks rising too: memory \
                 is retained, not resized",
                fmt_rate(f.rate_bytes_per_min),
                f.model,
                fmt_bytes(f.baseline_bytes as f64),
                fmt_bytes(f.baseline_bytes as f64 + f.growth_bytes as f64),
                fmt_minutes(f.window[1] - f.window[0]),
            ));
            out.push(at_site(
                "check that what it inserts is also removed; cap the cache (max entries or bytes) \
                 or evict by age (LRU, TTL)",
            ));
        }
        LeakType::RapidGrowth if s("step_bytes").is_some() => {
            out.push(format!(
                "{scope} took {} at once and has kept it for {}: a preload, a configuration \
                 change or a table doubling is one such step and needs nothing; a second step \
                 makes it a staircase leak",
                fmt_bytes(f.growth_bytes as f64),
                fmt_minutes(s("step_held_secs").unwrap_or(0.0)),
            ));
            out.push(at_site(
                "if it steps again, look for what runs at each step (a scheduled job, a reload \
                 that keeps the old copy, a batch whose results are never dropped)",
            ));
        }
        LeakType::RapidGrowth => {
            out.push(format!(
                "{scope} rose {} within {} ({}), far beyond its normal rate of {}",
                fmt_bytes(f.growth_bytes as f64),
                fmt_minutes(f.window[1] - f.window[0]),
                fmt_rate(f.rate_bytes_per_min),
                fmt_rate(s("baseline_slope_bytes_per_min").unwrap_or(0.0).max(0.0)),
            ));
            out.push(at_site(
                "look for a bulk load, an unbounded batch or a retry storm; bound what one \
                 request or job may add",
            ));
        }
        LeakType::SustainedHigh => {
            let threshold = fmt_bytes(s("threshold_bytes").unwrap_or(0.0));
            if s("rising") == Some(1.0) {
                out.push(format!(
                    "{scope} has stayed above {threshold} and still grows {}: a leak on top of \
                     high usage",
                    fmt_rate(f.rate_bytes_per_min)
                ));
                out.push(at_site("find what keeps being added and bound it"));
            } else if f.hold_only {
                out.push(format!(
                    "{scope} is back below {threshold} (20th percentile {}) but not yet below \
                     70% of it",
                    fmt_bytes(s("p20_bytes").unwrap_or(0.0))
                ));
            } else {
                out.push(format!(
                    "{scope} has held at least {} (20th percentile) for the whole window, above \
                     {threshold}, and is flat: this is its capacity, not a leak",
                    fmt_bytes(s("p20_bytes").unwrap_or(0.0))
                ));
                out.push(format!(
                    "lower {scope}'s capacity (max entries or bytes), or raise \
                     sustained_high_threshold_mb / its budget if this size is intended"
                ));
            }
        }
        LeakType::PeriodicSpike => {
            let height = fmt_bytes(s("spike_height_bytes").unwrap_or(0.0));
            let period = fmt_minutes(s("period_secs").unwrap_or(0.0));
            if s("minima_rising") == Some(1.0) {
                out.push(format!(
                    "{scope} spikes {height} every {period} and the minima between spikes rise \
                     {}: each batch leaves memory behind",
                    fmt_rate(f.rate_bytes_per_min)
                ));
                out.push(at_site(
                    "check what the periodic job keeps after it finishes (caches filled per run, \
                     registrations never removed)",
                ));
            } else {
                out.push(format!(
                    "{scope} spikes {height} every {period} over a flat floor: a batch job, not \
                     a leak"
                ));
                out.push(at_site(
                    "smooth the batch: stream it in chunks, reuse buffers between runs",
                ));
            }
        }
        LeakType::CacheBloat => {
            let entries_flat = s("entries_tau").is_some_and(|t| t.abs() < 0.5);
            out.push(format!(
                "{scope} grows {}{}; bytes per entry {} → {}",
                fmt_rate(f.rate_bytes_per_min),
                if entries_flat {
                    " with entries flat"
                } else {
                    ""
                },
                fmt_bytes(s("bytes_per_entry_baseline").unwrap_or(0.0)),
                fmt_bytes(s("bytes_per_entry_now").unwrap_or(0.0)),
            ));
            out.push(at_site(
                "cap the per-entry history or evict by size (a weigher), not by entry count",
            ));
        }
        LeakType::Fragmentation => {
            out.push(format!(
                "{PROCESS_SCOPE}: RSS - tracked bytes grows {} while tracked bytes stay flat at \
                 {}; RSS {} is {:.1}x tracked: the allocator holds freed memory or is fragmented",
                fmt_rate(f.rate_bytes_per_min),
                fmt_bytes(s("tracked_bytes").unwrap_or(0.0)),
                fmt_bytes(s("rss_bytes").unwrap_or(f.current_bytes as f64)),
                s("rss_to_tracked").unwrap_or(0.0),
            ));
            out.push(
                "try jemalloc or mimalloc as the inner allocator, reduce mixed-size churn of \
                 long-lived blocks, or return memory with malloc_trim"
                    .to_owned(),
            );
        }
    }
    if let Some(b) = budget {
        out.push(b);
    }
    match f.severity {
        LeakSeverity::Critical => out.push(format!(
            "critical: act before {scope} exhausts its budget (raise the budget or restart to \
             buy time while the fix ships)"
        )),
        LeakSeverity::High => out.push(format!(
            "high: {scope} will matter within a day; fix it in the next release"
        )),
        LeakSeverity::Medium | LeakSeverity::Low => {}
    }
    out
}

/// At most this many live blocks for a scope to count as holding "just its table".
const FEW_BLOCKS: u64 = 8;
/// The entry count must have risen by at least this much over the series.
const MIN_ENTRY_RISE: u64 = 16;
/// How closely `unscoped`'s bytes must follow the scope's entry count (Pearson's r).
const MIN_IN_STEP: f64 = 0.9;

/// The hint for memory charged elsewhere: `scope` stays at a few blocks while its entry count
/// rises and `unscoped` grows in step with that count, so the values `scope` keeps were
/// allocated outside it (`memo.insert(key, render(req).await)` under a guard around the insert
/// alone). `own` and `unscoped` are the two series; points are paired by time stamp.
pub(crate) fn charged_elsewhere(
    scope: &str,
    own: &[Snapshot],
    unscoped: &[Snapshot],
) -> Option<String> {
    let pairs: Vec<(u64, u64)> = own
        .iter()
        .filter_map(|o| {
            let e = o.entries?;
            let u = unscoped.iter().find(|u| u.t == o.t)?;
            Some((e, u.curr_bytes))
        })
        .collect();
    let (first, last) = (*pairs.first()?, *pairs.last()?);
    let entries_rose = last.0.saturating_sub(first.0);
    let unscoped_rose = last.1.saturating_sub(first.1);
    let max_blocks = own.iter().map(|o| o.curr_blocks).max()?;
    if pairs.len() < 3 || max_blocks > FEW_BLOCKS || entries_rose < MIN_ENTRY_RISE {
        return None;
    }
    if unscoped_rose == 0 || pearson(&pairs)? < MIN_IN_STEP {
        return None;
    }
    Some(format!(
        "{scope} holds only {max_blocks} blocks while its entry count rose {} → {} and \
         unscoped grew {} (about {} per entry) in step: the values {scope} keeps are allocated \
         outside the scope. Scope their producer, not just the insert: `let v = \
         produce(key).in_scope(&SCOPE).await;` (leakscope::tasks::InScope) or \
         `SCOPE.in_scope(|| produce(key))`",
        first.0,
        last.0,
        fmt_bytes(unscoped_rose as f64),
        fmt_bytes(unscoped_rose as f64 / entries_rose as f64),
    ))
}

/// Pearson's correlation of the pairs; `None` when either side is constant.
fn pearson(pairs: &[(u64, u64)]) -> Option<f64> {
    let n = pairs.len() as f64;
    let (mx, my) = pairs.iter().fold((0.0, 0.0), |(x, y), &(a, b)| {
        (x + a as f64 / n, y + b as f64 / n)
    });
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for &(a, b) in pairs {
        let (dx, dy) = (a as f64 - mx, b as f64 - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t: f64, bytes: u64, blocks: u64, entries: Option<u64>) -> Snapshot {
        let mut s = Snapshot::new(t, bytes, blocks);
        s.entries = entries;
        s
    }

    #[test]
    fn values_allocated_outside_the_scope_get_the_hint() {
        // The memo's table: one block, doubling now and then; 64 entries more per step, and
        // unscoped grows 4 KB per entry (the bodies).
        let memo: Vec<Snapshot> = (0..10u64)
            .map(|i| point(i as f64, 4096 << (i / 3), 1, Some(64 * i)))
            .collect();
        let unscoped: Vec<Snapshot> = (0..10u64)
            .map(|i| point(i as f64, 1_000_000 + 64 * i * 4000, 500, None))
            .collect();
        let hint = charged_elsewhere("memo", &memo, &unscoped).expect("a hint");
        assert!(
            hint.starts_with(
                "memo holds only 1 blocks while its entry count rose 0 → 576 and unscoped grew \
                 2.3 MB (about 4.0 KB per entry) in step"
            ),
            "{hint}"
        );
        assert!(hint.contains(".in_scope(&SCOPE).await"), "{hint}");
    }

    #[test]
    fn no_hint_when_the_scope_holds_its_values_or_unscoped_does_not_follow() {
        let unscoped: Vec<Snapshot> = (0..10u64)
            .map(|i| point(i as f64, 1_000_000 + 64 * i * 4000, 500, None))
            .collect();
        // A scope that holds its values: many blocks.
        let holds: Vec<Snapshot> = (0..10u64)
            .map(|i| point(i as f64, 64 * i * 4000, 64 * i + 1, Some(64 * i)))
            .collect();
        assert_eq!(charged_elsewhere("cache", &holds, &unscoped), None);
        // Unscoped flat: nothing is charged elsewhere.
        let flat: Vec<Snapshot> = (0..10u64)
            .map(|i| point(i as f64, 1_000_000, 500, None))
            .collect();
        let memo: Vec<Snapshot> = (0..10u64)
            .map(|i| point(i as f64, 4096, 1, Some(64 * i)))
            .collect();
        assert_eq!(charged_elsewhere("memo", &memo, &flat), None);
        // No entry count: nothing to compare.
        let no_gauge: Vec<Snapshot> = (0..10u64).map(|i| point(i as f64, 4096, 1, None)).collect();
        assert_eq!(charged_elsewhere("memo", &no_gauge, &unscoped), None);
    }
    use crate::detect::new_finding;
    use crate::detect::stat;
    use crate::leak::Frame;

    fn site() -> CallSite {
        CallSite {
            scope: "users_cache".into(),
            frames: vec![Frame {
                addr: 0x1234,
                function: Some("Session::push_event".into()),
                file: Some("src/session.rs".into()),
                line: Some(88),
            }],
            live_bytes: 180_000_000,
            ..CallSite::default()
        }
    }

    #[test]
    fn units() {
        assert_eq!(fmt_bytes(812.0), "812 B");
        assert_eq!(fmt_bytes(4200.0), "4.2 KB");
        assert_eq!(fmt_bytes(6_100_000.0), "6.1 MB");
        assert_eq!(fmt_bytes(-2_500_000_000.0), "-2.5 GB");
        assert_eq!(fmt_rate(6_100_000.0), "6.1 MB/min");
        assert_eq!(fmt_minutes(45.0), "45 s");
        assert_eq!(fmt_minutes(1800.0), "30 min");
        assert_eq!(fmt_minutes(7800.0), "2h 10m");
        assert_eq!(fmt_minutes(3.0 * 86400.0), "3.0 days");
        assert_eq!(
            fmt_site(&site()).unwrap(),
            "Session::push_event (src/session.rs:88)"
        );
        let bare = CallSite {
            frames: vec![Frame {
                addr: 0xabc,
                ..Frame::default()
            }],
            ..CallSite::default()
        };
        assert_eq!(fmt_site(&bare).unwrap(), "0xabc");
        assert_eq!(fmt_site(&CallSite::default()), None);
    }

    #[test]
    fn bloat_advice_reads_like_the_spec_example() {
        let mut f = new_finding(
            "users_cache",
            LeakType::CacheBloat,
            0.0,
            [0.0, 1800.0],
            0,
            None,
        );
        f.rate_bytes_per_min = 6_100_000.0;
        f.statistics = vec![
            stat("bytes_per_entry_z", 5.0),
            stat("bytes_per_entry_baseline", 4200.0),
            stat("bytes_per_entry_now", 9800.0),
            stat("entries_tau", 0.05),
        ];
        f.top_sites = vec![site()];
        let r = recommend(&f, false);
        assert_eq!(
            r[0],
            "users_cache grows 6.1 MB/min with entries flat; bytes per entry 4.2 KB → 9.8 KB"
        );
        assert_eq!(
            r[1],
            "top call site Session::push_event (src/session.rs:88) holds 180.0 MB: cap the \
             per-entry history or evict by size (a weigher), not by entry count"
        );
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn severity_and_budget_shape_the_advice() {
        let mut f = new_finding(
            "users_cache",
            LeakType::GradualGrowth,
            0.0,
            [0.0, 1800.0],
            0,
            Some(1_000_000_000),
        );
        f.rate_bytes_per_min = 20e6;
        f.baseline_bytes = 100_000_000;
        f.growth_bytes = 600_000_000;
        f.time_to_budget_secs = Some(900.0);
        f.severity = LeakSeverity::Critical;
        let r = recommend(&f, false);
        assert!(
            r[0].starts_with(
                "users_cache grows 20.0 MB/min (Linear fit; floor 100.0 MB → 700.0 MB over 30 min)"
            ),
            "{}",
            r[0]
        );
        assert!(r[1].starts_with("enable stack sampling"), "{}", r[1]);
        assert_eq!(
            r[2],
            "at this rate users_cache reaches its 1.0 GB budget in 15 min"
        );
        assert!(r[3].starts_with("critical:"), "{}", r[3]);
        f.severity = LeakSeverity::Low;
        f.time_to_budget_secs = None;
        assert_eq!(recommend(&f, false).len(), 2);
    }

    #[test]
    fn flat_periodic_spikes_are_called_a_batch_job() {
        let mut f = new_finding("jobs", LeakType::PeriodicSpike, 0.0, [0.0, 3600.0], 0, None);
        f.statistics = vec![
            stat("spike_height_bytes", 40e6),
            stat("period_secs", 300.0),
            stat("minima_rising", 0.0),
        ];
        let r = recommend(&f, false);
        assert_eq!(
            r[0],
            "jobs spikes 40.0 MB every 5 min over a flat floor: a batch job, not a leak"
        );
    }
}
