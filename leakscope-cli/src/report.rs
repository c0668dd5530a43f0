//! `leakscope report`: the terminal report a person reads first.
//!
//! Order follows the questions of docs/design.md §1: what the process is and what leakscope costs it, which
//! scope holds and gains memory (ranked by growth, with a sparkline of its history), which leaks
//! are open and how bad (severity, the statistic that decided it, rate, time to budget, the call
//! sites, what to do), what was resolved, and which call sites hold the sampled live memory.
//! Every line fits in the style's width (`--width`, `COLUMNS`, the terminal's, else 100
//! columns): prose wraps at word boundaries, a word wider than a line is split, names and
//! frames are cut with `…`, and the scope table gives its name and history columns what is left
//! after the figures (dropping the history, then the peak, budget and entries columns, when
//! even that does not fit). Widths are display columns of the text after control and invisible
//! characters from the dump are escaped, so an escaped name counts as wide as it prints.

use std::fmt::Write as _;

use leakscope::dump::{Dump, ScopeDump};
use leakscope::leaks::CallSite;
use leakscope::{leaks::LeakStatus, Leak};

use crate::fmt;
use crate::style::{Paint, Style};

/// Columns of a scope's sparkline: at least (or none at all), and at most.
const SPARK: (usize, usize) = (8, 60);
/// Columns of a scope's name in the table: at least, at most up to 100 columns, and at most
/// on a wider line.
const NAME: (usize, usize, usize) = (10, 20, 40);
/// Columns of the scope column of the top call sites: at least, and at most.
const SITE_SCOPE: (usize, usize) = (8, 24);
/// Indent of a leak's detail lines.
const DETAIL: usize = 4;
/// Statistics shown per leak (the deciding one first); `--json` and the HTML page have all.
const EVIDENCE: usize = 4;
/// Width of a detail line's label ("growth", "evidence", …).
const LABEL: usize = 10;
/// Call sites listed per leak.
const SITES_PER_LEAK: usize = 3;
/// Callers shown under a call site's first frame.
const CALLERS: usize = 2;
/// Call sites in the report's last section.
const TOP_SITES: usize = 10;

/// The whole report.
pub fn render(dump: &Dump, style: Style) -> String {
    let mut out = String::new();
    header(&mut out, dump, style);
    scopes(&mut out, dump, style);
    churn(&mut out, dump, style);
    let open: Vec<&Leak> = dump.open_leaks().collect();
    let resolved: Vec<&Leak> = dump.resolved_leaks().collect();
    out.push_str(&leaks(dump, &open, &resolved, style));
    top_sites(&mut out, dump, style);
    out
}

fn header(out: &mut String, dump: &Dump, style: Style) {
    let p = &dump.process;
    let exe = p.executable.as_deref().map(fmt::clean);
    let title = match exe {
        Some(exe) => format!("leakscope report: {exe} (pid {})", p.pid),
        None => format!("leakscope report: pid {}", p.pid),
    };
    let _ = writeln!(
        out,
        "{}",
        style.paint(Paint::Heading, &fmt::truncate(&title, style.width()))
    );
    let mut lines = vec![(
        "dump",
        format!(
            "written {}, schema {}, collector clock at {}",
            fmt::utc_datetime(dump.written_at_unix),
            fmt::clean(&dump.schema_version),
            fmt::duration(dump.clock_secs)
        ),
    )];
    let mut process = Vec::new();
    if let Some(start) = p.start_time_unix {
        process.push(format!(
            "up {}",
            fmt::duration(dump.written_at_unix - start)
        ));
    }
    match (p.rss_bytes, p.cgroup_limit_bytes) {
        (Some(rss), Some(limit)) => process.push(format!(
            "RSS {} of a {} cgroup limit ({})",
            fmt::bytes_u(rss),
            fmt::bytes_u(limit),
            fmt::percent(rss as f64, limit as f64)
        )),
        (Some(rss), None) => process.push(format!("RSS {}", fmt::bytes_u(rss))),
        (None, Some(limit)) => process.push(format!("cgroup limit {}", fmt::bytes_u(limit))),
        (None, None) => process.push("RSS unknown".to_owned()),
    }
    lines.push(("process", process.join(", ")));
    let tracked: u64 = dump
        .scopes
        .iter()
        .fold(0u64, |sum, s| sum.saturating_add(s.stats.curr_bytes));
    let mut tracked_line = format!(
        "{} live in {} scope{}",
        fmt::bytes_u(tracked),
        dump.scopes.len(),
        if dump.scopes.len() == 1 { "" } else { "s" }
    );
    if let Some(rss) = p.rss_bytes {
        let _ = write!(
            tracked_line,
            " ({} of RSS)",
            fmt::percent(tracked as f64, rss as f64)
        );
    }
    let _ = write!(
        tracked_line,
        "; leakscope itself {}",
        fmt::bytes_u(dump.tracker.self_bytes)
    );
    lines.push(("tracked", tracked_line));
    if let Some(line) = memory_line(dump, tracked) {
        lines.push(("memory", line));
    }
    if let Some(line) = crate::churn::pressure_text(dump) {
        lines.push(("pressure", line));
    }
    let t = &dump.tracker;
    let sampling = match dump.config.sample_interval() {
        Some(interval) => format!(
            "{} samples taken, {} dropped; 1 per {} allocated on average",
            fmt::count(t.samples_taken),
            fmt::count(t.samples_dropped),
            fmt::bytes_u(interval)
        ),
        None => "off (sample_interval_bytes = 0): no call sites".to_owned(),
    };
    lines.push(("sampling", sampling));
    lines.push((
        "tracker",
        format!(
            "{} channel-full retries (nothing lost); {} dumps written, {} failed",
            fmt::count(t.channel_full_retries),
            fmt::count(t.dumps_written),
            fmt::count(t.dump_errors)
        ),
    ));
    for (label, text) in lines {
        labelled(out, 2, label, &text, style);
    }
    out.push('\n');
}

/// RSS over the process history as a sparkline, and how much of RSS no scope accounts for:
/// the fragmentation detector's gap, which a person should see before reading its verdict.
fn memory_line(dump: &Dump, tracked: u64) -> Option<String> {
    let points: Vec<(f64, f64)> = dump
        .process_history
        .iter()
        .filter_map(|p| p.rss_bytes.map(|r| (p.t, r as f64)))
        .collect();
    let rss = dump.process.rss_bytes?;
    let untracked = rss
        .saturating_sub(tracked)
        .saturating_sub(dump.tracker.self_bytes);
    let mut line = String::new();
    if points.len() >= 2 {
        let span = points[points.len() - 1].0 - points[0].0;
        let _ = write!(
            line,
            "RSS {} over {}; ",
            fmt::sparkline(&points, 16),
            fmt::duration(span)
        );
    }
    let _ = write!(
        line,
        "{} of RSS is in no scope (allocator overhead and fragmentation, stacks, code)",
        fmt::bytes_u(untracked)
    );
    Some(line)
}

/// A scope's growth rate for ranking: the least-squares slope over the detection window, the
/// span the gradual-growth detector judges.
pub fn growth_per_min(dump: &Dump, scope: &ScopeDump) -> Option<f64> {
    scope.growth_bytes_per_minute(dump.config.detection_window_minutes * 60.0)
}

/// Scopes ordered by growth (fastest first), then by live bytes, then by name: a stable order
/// for equal figures, so the report does not shuffle between runs.
pub fn ranked(dump: &Dump) -> Vec<(&ScopeDump, Option<f64>)> {
    let mut scopes: Vec<(&ScopeDump, Option<f64>)> = dump
        .scopes
        .iter()
        .map(|s| (s, growth_per_min(dump, s)))
        .collect();
    scopes.sort_by(|a, b| {
        let ga = a.1.unwrap_or(0.0);
        let gb = b.1.unwrap_or(0.0);
        gb.total_cmp(&ga)
            .then(b.0.stats.curr_bytes.cmp(&a.0.stats.curr_bytes))
            .then(a.0.name.cmp(&b.0.name))
    });
    scopes
}

/// A figure column of the scope table (right-aligned): its heading and its width.
struct Column {
    head: &'static str,
    width: usize,
}

/// The scope table's figure columns, in order, each with the priority at which it is dropped
/// on a narrow line (higher goes first).
const FIGURES: [(Column, u8); 5] = [
    (
        Column {
            head: "LIVE",
            width: 9,
        },
        0,
    ),
    (
        Column {
            head: "PEAK",
            width: 9,
        },
        3,
    ),
    (
        Column {
            head: "GROWTH/MIN",
            width: 12,
        },
        0,
    ),
    (
        Column {
            head: "ENTRIES",
            width: 8,
        },
        1,
    ),
    (
        Column {
            head: "BUDGET",
            width: 6,
        },
        2,
    ),
];

/// How the scope table fits a width: which figure columns stay, and how wide the name and the
/// sparkline are (0: no history column).
#[derive(Debug, PartialEq)]
struct TableLayout {
    figures: [bool; 5],
    name: usize,
    spark: usize,
}

impl TableLayout {
    /// The layout for `width` columns and names up to `longest` columns wide: the name gets up
    /// to its cap, the history what is left; on a narrow line the history goes first, then the
    /// figures by priority, until a name of [`NAME`]'s minimum fits.
    fn new(width: usize, longest: usize) -> TableLayout {
        let cap = if width > 100 { NAME.2 } else { NAME.1 };
        let want = longest.clamp(NAME.0, cap);
        let mut figures = [true; 5];
        // Two for the indent, then each figure with the space before it.
        let used = |figures: &[bool; 5]| -> usize {
            2 + FIGURES
                .iter()
                .zip(figures)
                .filter(|(_, on)| **on)
                .map(|((c, _), _)| 1 + c.width)
                .sum::<usize>()
        };
        let rest = width.saturating_sub(used(&figures));
        if rest >= NAME.0 + 2 + SPARK.0 {
            // With a history column: the name, two spaces, the sparkline.
            let name = want.min(rest - 2 - SPARK.0);
            return TableLayout {
                figures,
                name,
                spark: (rest - name - 2).min(SPARK.1),
            };
        }
        // Without: the history first, then by priority (0 never goes).
        for drop in [0u8, 3, 2, 1] {
            for (on, (_, p)) in figures.iter_mut().zip(&FIGURES) {
                if *p == drop && drop > 0 {
                    *on = false;
                }
            }
            let rest = width.saturating_sub(used(&figures));
            if rest >= NAME.0 {
                return TableLayout {
                    figures,
                    name: want.min(rest),
                    spark: 0,
                };
            }
        }
        let rest = width.saturating_sub(used(&figures));
        TableLayout {
            figures,
            name: rest.max(1),
            spark: 0,
        }
    }

    /// A row: the name, then the figure cells (already right-aligned to their columns' widths)
    /// of the columns kept, then the sparkline.
    fn row(&self, name: &str, cells: [String; 5], spark: &str) -> String {
        let mut line = format!("  {}", fmt::pad_right(name, self.name));
        for ((cell, on), _) in cells.iter().zip(self.figures).zip(&FIGURES) {
            if on {
                line.push(' ');
                line.push_str(cell);
            }
        }
        if self.spark > 0 {
            line.push_str("  ");
            line.push_str(spark);
        }
        line
    }
}

fn scopes(out: &mut String, dump: &Dump, style: Style) {
    let window = fmt::duration(dump.config.detection_window_minutes * 60.0);
    heading(
        out,
        "SCOPES",
        &format!("ranked by growth over the last {window}"),
        style,
    );
    if dump.scopes.is_empty() {
        let _ = writeln!(out, "  no scopes in this dump\n");
        return;
    }
    let names: Vec<String> = dump.scopes.iter().map(|s| fmt::clean(&s.name)).collect();
    let longest = names.iter().map(|n| fmt::width(n)).max().unwrap_or(0);
    let layout = TableLayout::new(style.width(), longest);
    let heads = FIGURES.map(|(c, _)| fmt::pad_left(c.head, c.width));
    let head = layout.row("SCOPE", heads, "HISTORY");
    let _ = writeln!(out, "{}", style.paint(Paint::Dim, head.trim_end()));
    let mut longest_history = 0.0f64;
    for (scope, growth) in ranked(dump) {
        let points: Vec<(f64, f64)> = scope
            .history
            .iter()
            .map(|s| (s.t, s.curr_bytes as f64))
            .collect();
        if let (Some(first), Some(last)) = (scope.history.first(), scope.history.last()) {
            longest_history = longest_history.max(last.t - first.t);
        }
        let growth_text = match growth {
            Some(g) => fmt::rate(g).trim_end_matches("/min").to_owned(),
            None => "—".to_owned(),
        };
        let growth_cell = fmt::pad_left(&growth_text, FIGURES[2].0.width);
        let growth_cell = match growth {
            Some(g) if g > 0.0 && scope_has_open_leak(dump, &scope.name) => {
                style.paint(Paint::Bad, &growth_cell)
            }
            _ => growth_cell,
        };
        let entries = scope.entries.map_or("—".to_owned(), fmt::count);
        let budget = scope.budget_bytes.map_or("—".to_owned(), |b| {
            fmt::percent(scope.stats.curr_bytes as f64, b as f64)
        });
        let cells = [
            fmt::pad_left(&fmt::bytes_u(scope.stats.curr_bytes), FIGURES[0].0.width),
            fmt::pad_left(&fmt::bytes_u(scope.stats.max_bytes), FIGURES[1].0.width),
            growth_cell,
            fmt::pad_left(&entries, FIGURES[3].0.width),
            fmt::pad_left(&budget, FIGURES[4].0.width),
        ];
        let name = fmt::truncate(&fmt::clean(&scope.name), layout.name);
        let spark = fmt::sparkline(&points, layout.spark);
        let _ = writeln!(out, "{}", layout.row(&name, cells, &spark).trim_end());
    }
    let mut note = format!(
        "growth: least-squares slope of live bytes over the last {window}; budget: live bytes as \
         a share of the scope's budget; history: each scope's recorded history (up to {}), \
         scaled from its minimum to its maximum",
        fmt::duration(longest_history)
    );
    let dropped: Vec<&str> = FIGURES
        .iter()
        .zip(layout.figures)
        .filter(|(_, on)| !on)
        .map(|((c, _), _)| c.head)
        .chain((layout.spark == 0).then_some("HISTORY"))
        .collect();
    if !dropped.is_empty() {
        let _ = write!(
            note,
            "; {} left out at this width (--width)",
            dropped.join(", ")
        );
    }
    for line in fmt::wrap(&note, style.prose() - 2) {
        let _ = writeln!(out, "  {}", style.paint(Paint::Dim, &line));
    }
    out.push('\n');
}

/// A churn line per scope, in the scope table's order: allocation and free rates, the free
/// ratio against the window before, the mean block and the age profile.
fn churn(out: &mut String, dump: &Dump, style: Style) {
    let rows: Vec<(&str, String)> = ranked(dump)
        .into_iter()
        .filter_map(|(s, _)| {
            let c = crate::churn::scope_churn(dump, s)?;
            Some((s.name.as_str(), crate::churn::scope_text(&c)))
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    let window = fmt::duration(dump.config.detection_window_minutes * 60.0);
    let note = format!(
        "over the last {window}; free ratio = bytes freed / bytes allocated (was: the {window} \
         before)"
    );
    heading(out, "CHURN", &note, style);
    let names: Vec<String> = rows.iter().map(|(n, _)| fmt::clean(n)).collect();
    let width = style.prose().min(style.width());
    let longest = names.iter().map(|n| fmt::width(n)).max().unwrap_or(0);
    let name_width = longest.min(24).min(width / 3);
    let room = width.saturating_sub(4 + name_width).max(1);
    for (name, (_, text)) in names.iter().zip(&rows) {
        for (i, line) in fmt::wrap(text, room).iter().enumerate() {
            let label = if i == 0 {
                fmt::pad_right(&fmt::truncate(name, name_width), name_width)
            } else {
                " ".repeat(name_width)
            };
            let _ = writeln!(out, "  {label}  {line}");
        }
    }
    out.push('\n');
}

/// A section heading with a note beside it, or the note wrapped under it when both do not
/// fit on one line.
fn heading(out: &mut String, title: &str, note: &str, style: Style) {
    if fmt::width(title) + 2 + fmt::width(note) <= style.width() {
        let _ = writeln!(
            out,
            "{}  {}",
            style.paint(Paint::Heading, title),
            style.paint(Paint::Dim, note)
        );
        return;
    }
    let _ = writeln!(out, "{}", style.paint(Paint::Heading, title));
    for line in fmt::wrap(note, style.prose() - 2) {
        let _ = writeln!(out, "  {}", style.paint(Paint::Dim, &line));
    }
}

fn scope_has_open_leak(dump: &Dump, name: &str) -> bool {
    dump.open_leaks().any(|l| l.finding.scope == name)
}

/// The order open leaks are listed in: most severe first, then fastest growing, then oldest.
pub fn most_urgent_first(a: &Leak, b: &Leak) -> std::cmp::Ordering {
    let (fa, fb) = (&a.finding, &b.finding);
    fb.severity
        .cmp(&fa.severity)
        .then(fb.rate_bytes_per_min.total_cmp(&fa.rate_bytes_per_min))
        .then(a.id.cmp(&b.id))
}

/// The leak sections: open leaks in detail, most severe first, then resolved leaks in a line or
/// two each. `analyze` prints the same for the leaks it finds.
pub fn leaks(dump: &Dump, open: &[&Leak], resolved: &[&Leak], style: Style) -> String {
    let mut out = String::new();
    let mut open = open.to_vec();
    open.sort_by(|a, b| most_urgent_first(a, b));
    let _ = writeln!(
        out,
        "{}  {}",
        style.paint(Paint::Heading, "OPEN LEAKS"),
        open.len()
    );
    if open.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for leak in open {
        open_leak(&mut out, dump, leak, style);
    }
    out.push('\n');
    if !resolved.is_empty() {
        let _ = writeln!(
            out,
            "{}  {}",
            style.paint(Paint::Heading, "RESOLVED LEAKS"),
            resolved.len()
        );
        let mut resolved = resolved.to_vec();
        resolved.sort_by(|a, b| {
            b.resolved_at
                .unwrap_or(b.last_detected)
                .total_cmp(&a.resolved_at.unwrap_or(a.last_detected))
                .then(a.id.cmp(&b.id))
        });
        for leak in resolved {
            resolved_leak(&mut out, dump, leak, style);
        }
        out.push('\n');
    }
    out
}

fn open_leak(out: &mut String, dump: &Dump, leak: &Leak, style: Style) {
    let sev = fmt::severity(leak.finding.severity);
    let title = format!(
        "{}: {}",
        fmt::clean(&leak.finding.scope),
        fmt::leak_type(leak.finding.leak_type)
    );
    let id = format!(
        "#{}, confidence {}",
        leak.id,
        fmt::percent(leak.finding.confidence, 1.0)
    );
    // "  SEV title" on the left, the id right-aligned at the report's edge; when both do not
    // fit, the title wraps under itself and the id gets a line of its own.
    let width = style.prose();
    let lead = 2 + fmt::width(sev) + 1;
    let sev = style.paint(Paint::Severity(leak.finding.severity), sev);
    if lead + fmt::width(&title) + 2 + fmt::width(&id) <= width {
        let pad = width - lead - fmt::width(&title) - fmt::width(&id);
        let _ = writeln!(
            out,
            "  {sev} {}{}{}",
            style.paint(Paint::Heading, &title),
            " ".repeat(pad),
            style.paint(Paint::Dim, &id)
        );
    } else {
        for (i, line) in fmt::wrap(&title, width - lead).iter().enumerate() {
            let first = if i == 0 {
                format!("  {sev} ")
            } else {
                " ".repeat(lead)
            };
            let _ = writeln!(out, "{first}{}", style.paint(Paint::Heading, line));
        }
        for line in fmt::wrap(&id, width - DETAIL) {
            let _ = writeln!(
                out,
                "{}{}",
                " ".repeat(DETAIL),
                style.paint(Paint::Dim, &line)
            );
        }
    }
    for line in fmt::wrap(&fmt::clean(&leak.finding.summary), width - DETAIL) {
        let _ = writeln!(out, "{}{line}", " ".repeat(DETAIL));
    }
    detail(out, "growth", &growth_text(leak), style);
    if !leak.finding.statistics.is_empty() {
        let mut evidence: Vec<String> = leak
            .finding
            .statistics
            .iter()
            .take(EVIDENCE)
            .map(|s| fmt::statistic(&fmt::clean(&s.name), s.value))
            .collect();
        if leak.finding.statistics.len() > EVIDENCE {
            evidence.push(format!(
                "{} more in --json",
                leak.finding.statistics.len() - EVIDENCE
            ));
        }
        detail(out, "evidence", &evidence.join(", "), style);
    }
    detail(out, "budget", &budget_text(leak), style);
    detail(
        out,
        "seen",
        &format!(
            "first {} UTC, last {} UTC; evidence window {}–{} UTC",
            fmt::clock(dump, leak.first_detected),
            fmt::clock(dump, leak.last_detected),
            fmt::clock(dump, leak.finding.window[0]),
            fmt::clock(dump, leak.finding.window[1]),
        ),
        style,
    );
    if leak.finding.top_sites.is_empty() {
        detail(
            out,
            "sites",
            "no sampled call sites for this scope (sampling off, or nothing sampled yet)",
            style,
        );
    }
    for (i, site) in leak
        .finding
        .top_sites
        .iter()
        .take(SITES_PER_LEAK)
        .enumerate()
    {
        let label = if i == 0 { "sites" } else { "" };
        site_lines(out, label, site, &age_label(dump), style);
    }
    // Where the memory was when the leak was at its peak, when that is not where it is now
    // (its memory may have been freed before this dump).
    if let Some(site) = leak.sites_at_peak.first() {
        if !leak
            .finding
            .top_sites
            .first()
            .is_some_and(|now| crate::sites::same(now, site))
        {
            let text = format!(
                "the scope held {} at the leak's peak; its largest call site then:",
                fmt::bytes_u(leak.peak_bytes)
            );
            detail(out, "at peak", &text, style);
            site_lines(out, "", site, &age_label(dump), style);
        }
    }
    for (i, rec) in leak.finding.recommendations.iter().enumerate() {
        // A bullet per recommendation, its continuation lines indented under the text.
        let lines = fmt::wrap(&fmt::clean(rec), style.prose() - DETAIL - LABEL - 2);
        for (j, line) in lines.iter().enumerate() {
            let label = if i == 0 && j == 0 { "do" } else { "" };
            let bullet = if j == 0 { "• " } else { "  " };
            let _ = writeln!(
                out,
                "{}{}{bullet}{line}",
                " ".repeat(DETAIL),
                style.paint(Paint::Dim, &format!("{label:<LABEL$}"))
            );
        }
    }
}

fn growth_text(leak: &Leak) -> String {
    let model = match leak.finding.model {
        leakscope::leaks::GrowthModel::Linear => "linear fit",
        leakscope::leaks::GrowthModel::Exponential => "exponential fit",
    };
    format!(
        "{} over {} ({} → {}), {}, {model}",
        fmt::delta(leak.finding.growth_bytes as f64),
        fmt::duration(leak.finding.window[1] - leak.finding.window[0]),
        fmt::bytes_u(leak.finding.baseline_bytes),
        fmt::bytes_u(leak.finding.current_bytes),
        fmt::rate(leak.finding.rate_bytes_per_min),
    )
}

fn budget_text(leak: &Leak) -> String {
    match (leak.finding.budget_bytes, leak.finding.time_to_budget_secs) {
        (Some(b), Some(t)) => format!(
            "{} now, {} budget reached in {} at this rate",
            fmt::percent(leak.finding.current_bytes as f64, b as f64),
            fmt::bytes_u(b),
            fmt::duration(t)
        ),
        (Some(b), None) => format!(
            "{} of {}; not projected to reach it",
            fmt::percent(leak.finding.current_bytes as f64, b as f64),
            fmt::bytes_u(b)
        ),
        (None, _) => "none set (budget.<scope> in the config)".to_owned(),
    }
}

/// A call site: its live bytes and first frame, then its callers and its sample facts on one
/// line each (cut, not wrapped: a stack reads best one frame per line).
fn site_lines(out: &mut String, label: &str, site: &CallSite, age: &str, style: Style) {
    let first = format!(
        "{} at {}",
        fmt::bytes_u(site.live_bytes),
        fmt::clean(&fmt::site(site))
    );
    detail(out, label, &first, style);
    let indent = " ".repeat(DETAIL + LABEL + 2);
    let room = style.width() - DETAIL - LABEL - 2;
    for caller in site.frames.iter().skip(1).take(CALLERS) {
        let _ = writeln!(out, "{indent}← {}", fmt::frame_fit(caller, room - 2));
    }
    if site.frames.len() > 1 + CALLERS {
        let more = site.frames.len() - 1 - CALLERS;
        let s = if more == 1 { "" } else { "s" };
        let _ = writeln!(out, "{indent}← {more} more frame{s}");
    }
    let mut facts = vec![format!(
        "{} sample{}",
        fmt::count(site.samples),
        if site.samples == 1 { "" } else { "s" }
    )];
    if site.live_bytes > 0 {
        facts.push(format!(
            "{} older than {age}",
            fmt::percent(site.bytes_older_than[1] as f64, site.live_bytes as f64)
        ));
    }
    if !site.threads.is_empty() {
        let threads: Vec<String> = site.threads.iter().map(|t| fmt::clean(t)).collect();
        facts.push(format!("threads {}", threads.join(", ")));
    }
    for line in fmt::wrap(&facts.join(", "), style.prose() - DETAIL - LABEL - 2) {
        let _ = writeln!(out, "{indent}{}", style.paint(Paint::Dim, &line));
    }
}

/// What "older than 10 snapshot intervals" (a call site's `bytes_older_than[1]`) means in time
/// at the dump's snapshot interval: "5 min" at 30-second snapshots.
pub fn age_label(dump: &Dump) -> String {
    let secs = 10.0 * dump.config.snapshot_interval_seconds;
    if secs.is_finite() && secs > 0.0 {
        fmt::duration(secs)
    } else {
        "10 intervals".to_owned()
    }
}

/// One labelled detail line of a leak, wrapped under its label.
fn detail(out: &mut String, label: &str, text: &str, style: Style) {
    labelled(out, DETAIL, label, text, style);
}

/// `label` in a column of [`LABEL`] at `indent`, `text` wrapped beside it.
fn labelled(out: &mut String, indent: usize, label: &str, text: &str, style: Style) {
    let lines = fmt::wrap(text, style.prose() - indent - LABEL);
    for (i, line) in lines.iter().enumerate() {
        let l = if i == 0 { label } else { "" };
        let _ = writeln!(
            out,
            "{}{}{line}",
            " ".repeat(indent),
            style.paint(Paint::Dim, &format!("{l:<LABEL$}"))
        );
    }
}

fn resolved_leak(out: &mut String, dump: &Dump, leak: &Leak, style: Style) {
    let when = match leak.resolved_at {
        Some(t) => format!("resolved {} UTC", fmt::clock(dump, t)),
        None => "resolved".to_owned(),
    };
    let sev = fmt::severity(leak.finding.severity);
    let line = format!(
        "{}: {}, open {}–{} UTC, {when}",
        fmt::clean(&leak.finding.scope),
        fmt::leak_type(leak.finding.leak_type),
        fmt::clock(dump, leak.first_detected),
        fmt::clock(dump, leak.last_detected),
    );
    let _ = writeln!(
        out,
        "  {} {}",
        style.paint(Paint::Good, sev),
        fmt::truncate(&line, style.width() - 3 - fmt::width(sev))
    );
    for line in fmt::wrap(&fmt::clean(&leak.finding.summary), style.prose() - DETAIL) {
        let _ = writeln!(
            out,
            "{}{}",
            " ".repeat(DETAIL),
            style.paint(Paint::Dim, &line)
        );
    }
}

fn top_sites(out: &mut String, dump: &Dump, style: Style) {
    heading(
        out,
        "TOP CALL SITES",
        "estimated live bytes from sampled allocations",
        style,
    );
    if dump.top_call_sites.is_empty() {
        let _ = writeln!(out, "  none sampled");
        return;
    }
    let shown = &dump.top_call_sites[..dump.top_call_sites.len().min(TOP_SITES)];
    let longest = shown
        .iter()
        .map(|s| fmt::width(&fmt::clean(&s.scope)))
        .max()
        .unwrap_or(0);
    // The scope column takes what its names need, up to a share of the line that leaves the
    // call site most of it.
    let cap = SITE_SCOPE.1.min(style.width() / 5).max(SITE_SCOPE.0);
    let scope_width = longest.clamp(SITE_SCOPE.0, cap);
    for site in shown {
        let scope = fmt::truncate(&fmt::clean(&site.scope), scope_width);
        let room = style.width() - 2 - 9 - 2 - scope_width - 2;
        let frame = match site.frames.first() {
            Some(f) => fmt::frame_fit(f, room),
            None => "(no frames)".to_owned(),
        };
        let _ = writeln!(
            out,
            "  {}  {}  {frame}",
            fmt::pad_left(&fmt::bytes_u(site.live_bytes), 9),
            fmt::pad_right(&scope, scope_width),
        );
    }
    if dump.top_call_sites.len() > TOP_SITES {
        let _ = writeln!(
            out,
            "  {}",
            style.paint(
                Paint::Dim,
                &format!("… and {} more", dump.top_call_sites.len() - TOP_SITES)
            )
        );
    }
}

/// The leaks of `leaks` split by status, for [`leaks`].
pub fn split(leaks: &[Leak]) -> (Vec<&Leak>, Vec<&Leak>) {
    leaks.iter().partition(|l| l.status == LeakStatus::Open)
}

#[cfg(test)]
mod tests {
    use super::*;
    use leakscope::analysis::Snapshot;
    use leakscope::dump::{ProcessInfo, ScopeDump};
    use leakscope::Config;

    fn tiny() -> Dump {
        let mut dump = Dump::new(
            1_700_000_000.0,
            600.0,
            ProcessInfo::new(7),
            Config::default(),
        );
        let mut a = ScopeDump::new("flat");
        a.stats.curr_bytes = 5_000_000;
        a.history = (0..10)
            .map(|i| Snapshot::new(i as f64 * 60.0, 5_000_000, 10))
            .collect();
        let mut b = ScopeDump::new("grows\u{1b}[31m");
        b.stats.curr_bytes = 1_000_000;
        b.history = (0..10)
            .map(|i| Snapshot::new(i as f64 * 60.0, 100_000 * i, 10))
            .collect();
        dump.scopes = vec![a, b];
        dump
    }

    #[test]
    fn the_growing_scope_ranks_first_and_escapes_are_shown_not_obeyed() {
        let text = render(&tiny(), Style::PLAIN);
        let grows = text.find("grows\\u{1b}[31m").expect(&text);
        let flat = text.find("  flat ").expect(&text);
        assert!(grows < flat, "{text}");
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(text.contains("+100.0 KB"), "{text}");
    }

    #[test]
    fn every_line_fits_in_the_width() {
        let mut dump = tiny();
        dump.process.executable = Some("/a/very/long/path/".repeat(20));
        dump.scopes[0].name = "a_scope_name_much_longer_than_the_column".into();
        for width in [40, 41, 57, 60, 80, 100, 160, 300] {
            let text = render(&dump, Style::PLAIN.with_width(width));
            for line in text.lines() {
                assert!(
                    fmt::width(line) <= width,
                    "{} columns at {width}: {line}",
                    fmt::width(line)
                );
            }
        }
    }

    #[test]
    fn the_scope_table_narrows_history_first_then_figures() {
        let all = [true; 5];
        // 100 columns, names up to 14: the name as wide as the names, the history the rest.
        assert_eq!(
            TableLayout::new(100, 14),
            TableLayout {
                figures: all,
                name: 14,
                spark: 33
            }
        );
        assert_eq!(TableLayout::new(80, 14).spark, 13);
        assert_eq!(TableLayout::new(160, 14).spark, SPARK.1);
        assert_eq!(TableLayout::new(160, 70).name, NAME.2);
        assert_eq!(TableLayout::new(100, 70).name, NAME.1);
        // 62 columns: no history; 50: no peak or budget; 40: no entries either.
        let narrow = TableLayout::new(62, 14);
        assert_eq!((narrow.figures, narrow.name, narrow.spark), (all, 11, 0));
        let narrow = TableLayout::new(50, 14);
        assert_eq!(
            (narrow.figures, narrow.name, narrow.spark),
            ([true, false, true, true, false], 14, 0)
        );
        let narrow = TableLayout::new(40, 14);
        assert_eq!(
            (narrow.figures, narrow.name, narrow.spark),
            ([true, false, true, false, false], 14, 0)
        );
    }

    #[test]
    fn an_empty_dump_still_reports() {
        let dump = Dump::new(0.0, 0.0, ProcessInfo::new(1), Config::default());
        let text = render(&dump, Style::PLAIN);
        assert!(text.contains("no scopes in this dump"), "{text}");
        assert!(text.contains("OPEN LEAKS  0\n  none"), "{text}");
        assert!(text.contains("none sampled"), "{text}");
    }

    #[test]
    fn sampling_off_is_said_by_the_one_knob_and_by_a_1_0_dump() {
        let mut config = Config::default();
        config.sample_interval_bytes = 0;
        let dump = Dump::new(0.0, 0.0, ProcessInfo::new(1), config);
        let off = "sampling  off (sample_interval_bytes = 0): no call sites";
        assert!(render(&dump, Style::PLAIN).contains(off));
        // A 1.0 dump said "off" with enable_stack_traces = false beside an interval.
        let mut json =
            serde_json::to_value(Dump::new(0.0, 0.0, ProcessInfo::new(1), Config::default()))
                .unwrap();
        json["config"]["enable_stack_traces"] = false.into();
        let old = leakscope::dump::read_dump_from_slice(json.to_string().as_bytes()).unwrap();
        assert!(render(&old, Style::PLAIN).contains(off));
    }
}
