//! Allocator churn and memory pressure as text, for the terminal report and the HTML page: per
//! scope the allocation and free rates, the free ratio (bytes freed ÷ bytes allocated) over the
//! detection window against the window before it, the mean block size and the age profile of
//! live sampled memory; for the process, the latest memory pressure reading.

use std::fmt::Write as _;

use leakscope::analysis::{Churn, Pressure, PsiSource};
use leakscope::dump::{Dump, ScopeDump};

use crate::fmt;

/// One scope's churn over the detection window, the window before it, and its age profile now.
pub struct ScopeChurn {
    /// Over the last `detection_window_minutes`.
    pub now: Churn,
    /// Over the same span just before, when the history reaches back that far.
    pub before: Option<Churn>,
    /// The shares of live sampled bytes older than 1, 10 and 100 intervals, at the last point.
    pub age: Option<[f64; 3]>,
}

/// The churn of `scope`, `None` with fewer than two points in the window.
pub fn scope_churn(dump: &Dump, scope: &ScopeDump) -> Option<ScopeChurn> {
    let window = dump.config.detection_window_minutes * 60.0;
    let now = scope.churn(window)?;
    let last_t = scope.history.last()?.t;
    let h = &scope.history;
    let from = h.partition_point(|s| s.t < last_t - 2.0 * window);
    let to = h.partition_point(|s| s.t <= last_t - window);
    // The window before starts at least one full window back, so that it is not the same
    // points again when the history is short.
    let before = (h.first()?.t <= last_t - 2.0 * window)
        .then(|| Churn::over(&h[from..to]))
        .flatten();
    let age = h.last()?.live_older_than();
    Some(ScopeChurn { now, before, age })
}

/// A count per second: one decimal below 100, whole numbers with separators above.
fn per_sec(v: f64) -> String {
    if v < 100.0 {
        format!("{v:.1}/s")
    } else {
        format!("{}/s", fmt::count(v.round() as u64))
    }
}

/// The free ratio, or a dash when nothing was allocated.
pub fn ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "-".to_owned(), |r| format!("{r:.2}"))
}

/// The ratio now, with the one before it when known: "0.62 (was 0.99)".
pub fn ratio_trend(c: &ScopeChurn) -> String {
    match c.before.and_then(|b| b.free_ratio) {
        Some(before) => format!("{} (was {before:.2})", ratio(c.now.free_ratio)),
        None => ratio(c.now.free_ratio),
    }
}

/// The age shares as "98% / 85% / 30%".
pub fn age_text(age: [f64; 3]) -> String {
    let pct = |v: f64| format!("{:.0}%", v * 100.0);
    format!("{} / {} / {}", pct(age[0]), pct(age[1]), pct(age[2]))
}

/// The rates as "12.0/s in (24.6 KB/s)": allocations, and bytes.
pub fn rate_text(count: f64, bytes: f64) -> String {
    format!("{} ({}/s)", per_sec(count), fmt::bytes(bytes))
}

/// One scope's churn on one line, for the terminal.
pub fn scope_text(c: &ScopeChurn) -> String {
    let n = &c.now;
    let mut line = format!(
        "allocs {}, frees {}; free ratio {}",
        rate_text(n.allocs_per_sec, n.bytes_allocated_per_sec),
        rate_text(n.frees_per_sec, n.bytes_freed_per_sec),
        ratio_trend(c)
    );
    if let Some(mean) = n.mean_block_bytes {
        let _ = write!(line, "; mean block {}", fmt::bytes(mean));
    }
    if let Some(age) = c.age {
        let _ = write!(
            line,
            "; live older than 1/10/100 intervals {}",
            age_text(age)
        );
    }
    line
}

/// The latest memory pressure reading of the process, `None` when the dump has none (churn
/// monitoring off, not Linux, a dump older than schema 1.2).
pub fn pressure_text(dump: &Dump) -> Option<String> {
    let p: &Pressure = dump
        .process_history
        .iter()
        .rev()
        .find_map(|p| p.pressure.as_deref())?;
    let mut parts = Vec::new();
    if let Some(psi) = &p.psi {
        let source = match psi.source {
            PsiSource::Cgroup => "cgroup",
            PsiSource::System => "system",
            _ => "other",
        };
        let mut s = format!(
            "stalled {:.2}% / {:.2}% of the last 10 s / 60 s (some",
            psi.some.avg10, psi.some.avg60
        );
        if let Some(full) = &psi.full {
            let _ = write!(s, "; full {:.2}% / {:.2}%", full.avg10, full.avg60);
        }
        let _ = write!(s, ", {source} PSI)");
        parts.push(s);
    }
    if let Some(cg) = &p.cgroup {
        let mut s = match (cg.current_bytes, cg.max_bytes) {
            (Some(cur), Some(max)) => format!(
                "cgroup {} of {} ({})",
                fmt::bytes_u(cur),
                fmt::bytes_u(max),
                fmt::percent(cur as f64, max as f64)
            ),
            (Some(cur), None) => format!("cgroup {} (no memory.max)", fmt::bytes_u(cur)),
            (None, _) => "cgroup".to_owned(),
        };
        if let Some(e) = &cg.events {
            let _ = write!(
                s,
                ", {} over memory.high, {} at memory.max, {} OOM kill{}",
                fmt::count(e.high),
                fmt::count(e.max),
                fmt::count(e.oom_kill),
                if e.oom_kill == 1 { "" } else { "s" }
            );
        }
        parts.push(s);
    }
    if let Some(faults) = p.major_faults {
        parts.push(format!("{} major faults", fmt::count(faults)));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}
