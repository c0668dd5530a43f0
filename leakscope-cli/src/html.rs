//! `leakscope html DUMP -o FILE`: one self-contained HTML page with an SVG chart per scope.
//!
//! The page loads nothing: no script, no font, no stylesheet or image from anywhere (it is
//! opened from disk, often on a machine without network, and it names code paths). Styles are
//! inline, charts are inline SVG drawn here, tooltips are SVG `<title>` elements and folding
//! uses `<details>`, which need no script.
//!
//! The markup is also well-formed XML (every element closed, attributes quoted, only the five
//! XML entities), so a test parses it with an XML parser, and every piece of text from the dump
//! goes through [`esc`].
//!
//! Each scope's chart shares one time axis with the others (so leak windows line up down the
//! page): live bytes as a solid line on the left axis, the entry gauge as a dashed line on the
//! right axis, each leak shaded in its severity's colour from its first detection to its end
//! (darker over its evidence window) and labelled in a lane above the plot, where labels can
//! overlap neither each other nor the data, and the budget as a dashed rule when it is near
//! enough to the data to be drawn without flattening it.
//!
//! On a phone the tables become one card per row, and each chart keeps a readable size and
//! scrolls sideways, opened at its right end: the recent past, where open leaks are.

use std::fmt::Write as _;

use leakscope::dump::{Dump, ScopeDump};
use leakscope::leaks::CallSite;
use leakscope::{leaks::LeakSeverity, Leak};

use crate::{fmt, report};

/// Chart geometry, in SVG user units (the SVG scales to the page width): the plot is `PLOT`
/// high, under a lane of [`LANE`] per row of leak labels.
const W: f64 = 960.0;
const PLOT: f64 = 186.0;
/// The plot height of a secondary chart (a scope's allocation and free rates, under its bytes):
/// a third of the bytes chart's, so the bytes stay what the eye lands on.
const SECONDARY_PLOT: f64 = 62.0;
/// Under a secondary chart: its tick labels only, the time axis's caption being the main chart's.
const SECONDARY_BOTTOM: f64 = 24.0;
const LEFT: f64 = 78.0;
const RIGHT: f64 = 70.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 40.0;
/// Height of a row of leak labels above the plot.
const LANE: f64 = 16.0;
/// Width of a label's character, generously (bold system-ui at the 13 units a phone gets,
/// upper case included), for placing labels so they do not overlap.
const CHAR: f64 = 8.0;
/// Budgets further above the data than this factor are stated, not drawn.
const BUDGET_DRAWN_UP_TO: f64 = 2.0;

const BYTES_COLOUR: &str = "#2563eb";
const ENTRIES_COLOUR: &str = "#059669";
const BUDGET_COLOUR: &str = "#9333ea";
const ALLOC_COLOUR: &str = "#ea580c";
const FREE_COLOUR: &str = "#0891b2";
const PRESSURE_COLOUR: &str = "#dc2626";
const FULL_PRESSURE_COLOUR: &str = "#7f1d1d";

/// Escapes text for element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0 even as references; show them as
            // the report does. U+FFFE and U+FFFF are outside XML 1.0's characters as well
            // (issue 15 item 5); bidirectional overrides and zero-width characters would make
            // a name read as another ("users\u{202e}ehcac" shows as "userscache").
            c if (c.is_control() && c != '\n' && c != '\t') || fmt::invisible(c) => {
                out.push_str(&esc(&c.escape_default().to_string()))
            }
            c => out.push(c),
        }
    }
    out
}

fn severity_colour(s: LeakSeverity) -> &'static str {
    match s {
        LeakSeverity::Critical => "#7f1d1d",
        LeakSeverity::High => "#dc2626",
        LeakSeverity::Medium => "#d97706",
        LeakSeverity::Low => "#0891b2",
    }
}

const CSS: &str = "
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif;
  margin: 0; background: #f8fafc; color: #0f172a; }
main { max-width: 1100px; margin: 0 auto; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 32px 0 10px; border-bottom: 1px solid #cbd5e1; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 0; }
.sub, .note { color: #475569; }
.note { font-size: 12px; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin-top: 14px; }
.card { background: #fff; border: 1px solid #e2e8f0; border-radius: 6px; padding: 8px 12px; min-width: 130px; }
.card b { display: block; font-size: 18px; }
.card span { color: #475569; font-size: 12px; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid #e2e8f0; }
th { font-size: 12px; color: #475569; font-weight: 600; background: #f1f5f9; }
td.num, th.num { text-align: right; white-space: nowrap; }
.sev { display: inline-block; color: #fff; border-radius: 4px; padding: 1px 6px; font-size: 11px; font-weight: 700; }
.scope { background: #fff; border: 1px solid #e2e8f0; border-radius: 6px; padding: 10px 12px; margin: 0 0 14px; }
.scope .facts { color: #475569; font-size: 12.5px; margin: 2px 0 6px; }
.legend { font-size: 12px; color: #475569; }
.legend i { display: inline-block; width: 18px; height: 0; border-top: 2px solid; vertical-align: middle; margin: 0 4px 0 10px; }
.legend i.dash { border-top-style: dashed; }
.legend i.box { height: 10px; border: 0; opacity: 0.35; }
td.evidence { font-size: 12px; color: #475569; }
table.fixed { table-layout: fixed; }
td, h3, .facts { overflow-wrap: anywhere; }
td.site code, td.callsite code { overflow-wrap: break-word; }
ul.evidence { margin: 0; padding: 0; list-style: none; }
.chart { overflow-x: auto; direction: rtl; }
.chart svg { direction: ltr; }
svg { width: 100%; height: auto; display: block; }
svg text { font: 11px system-ui, sans-serif; fill: #475569; }
svg .grid { stroke: #e2e8f0; stroke-width: 1; }
svg .axis { stroke: #94a3b8; stroke-width: 1; }
details summary { cursor: pointer; color: #1d4ed8; }
ul.recs { margin: 4px 0 0 18px; padding: 0; }
@media (max-width: 720px) {
  main { padding: 12px; }
  table, tbody, tr, td { display: block; width: auto !important; }
  thead { display: none; }
  tr { border-bottom: 1px solid #cbd5e1; padding: 6px 0; }
  td { border: 0; padding: 2px 8px; text-align: left !important; white-space: normal !important; }
  td[data-label]::before { content: attr(data-label) ': '; color: #475569; font-size: 12px; font-weight: 600; }
  .chart svg { min-width: 640px; }
  .chart svg text { font-size: 15px; }
  .chart svg text.lane { font-size: 13px; }
}
";

/// The whole page.
pub fn render(dump: &Dump) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let p = &dump.process;
    let who = match &p.executable {
        Some(exe) => format!("{exe} (pid {})", p.pid),
        None => format!("pid {}", p.pid),
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <title>leakscope: {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n",
        esc(&who)
    );
    let _ = writeln!(out, "<h1>leakscope report</h1>");
    let _ = writeln!(
        out,
        "<p class=\"sub\"><span class=\"mono\">{}</span> · dump written {} · schema {}</p>",
        esc(&who),
        esc(&fmt::utc_datetime(dump.written_at_unix)),
        esc(&dump.schema_version)
    );
    cards(&mut out, dump);
    if let Some(pressure) = crate::churn::pressure_text(dump) {
        let _ = writeln!(
            out,
            "<p class=\"note\" id=\"pressure\">Memory pressure: {}</p>",
            esc(&pressure)
        );
    }
    let open: Vec<&Leak> = sorted_open(dump);
    let _ = writeln!(out, "<h2 id=\"leaks\">Open leaks ({})</h2>", open.len());
    leak_table(&mut out, dump, &open);
    let _ = writeln!(out, "<h2 id=\"scopes\">Scopes ({})</h2>", dump.scopes.len());
    let _ = writeln!(
        out,
        "<p class=\"note\">Ranked by growth over the last {}. Time axis in UTC, shared by every \
         chart; older history is coarser (one point per 10 or 100 snapshot intervals). A leak is \
         shaded from its first detection to its end (or now), darker over the window of evidence \
         that decided it, and labelled above the chart (hover for details).</p>",
        esc(&fmt::duration(dump.config.detection_window_minutes * 60.0))
    );
    let span = time_span(dump);
    for (scope, growth) in report::ranked(dump) {
        scope_chart(&mut out, dump, scope, growth, span);
    }
    process_chart(&mut out, dump, span);
    churn_table(&mut out, dump);
    let _ = writeln!(
        out,
        "<h2>Top call sites ({})</h2>",
        dump.top_call_sites.len()
    );
    site_table(&mut out, &dump.top_call_sites, &report::age_label(dump));
    let resolved: Vec<&Leak> = dump.resolved_leaks().collect();
    if !resolved.is_empty() {
        let _ = writeln!(
            out,
            "<h2 id=\"resolved\">Resolved leaks ({})</h2>",
            resolved.len()
        );
        resolved_table(&mut out, dump, &resolved);
    }
    let _ = write!(
        out,
        "<p class=\"note\">Generated by leakscope {} from a schema {} dump. Bytes are decimal \
         (1 MB = 10<sup>6</sup> bytes) and count requested sizes; call-site bytes are estimates \
         from sampled allocations.</p>\n</main>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION"),
        esc(&dump.schema_version)
    );
    out
}

/// The scopes' churn beside their charts: allocation and free rates, the free ratio against the
/// window before, the mean block and the age profile of live sampled memory.
fn churn_table(out: &mut String, dump: &Dump) {
    use crate::churn;
    let rows: Vec<(&str, churn::ScopeChurn)> = report::ranked(dump)
        .into_iter()
        .filter_map(|(s, _)| Some((s.name.as_str(), churn::scope_churn(dump, s)?)))
        .collect();
    if rows.is_empty() {
        return;
    }
    let window = fmt::duration(dump.config.detection_window_minutes * 60.0);
    let _ = writeln!(
        out,
        "<h2 id=\"churn\">Churn</h2>\n<p class=\"note\">Over the last {w}. Free ratio = bytes \
         freed / bytes allocated (near 1: the scope gives back what it takes); \"was\" is the {w} \
         before. Live older than: shares of the scope's live sampled bytes older than 1, 10 and \
         100 snapshot intervals.</p>",
        w = esc(&window)
    );
    out.push_str(
        "<table>\n<tr><th>scope</th><th>allocations</th><th>frees</th><th>free ratio</th>\
         <th>mean block</th><th>live older than 1 / 10 / 100</th></tr>\n",
    );
    for (name, c) in rows {
        let n = &c.now;
        let _ = writeln!(
            out,
            "<tr><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td></tr>",
            esc(name),
            esc(&churn::rate_text(
                n.allocs_per_sec,
                n.bytes_allocated_per_sec
            )),
            esc(&churn::rate_text(n.frees_per_sec, n.bytes_freed_per_sec)),
            esc(&churn::ratio_trend(&c)),
            esc(&n
                .mean_block_bytes
                .map_or_else(|| "-".to_owned(), fmt::bytes)),
            esc(&c.age.map_or_else(|| "-".to_owned(), churn::age_text)),
        );
    }
    out.push_str("</table>\n");
}

fn sorted_open(dump: &Dump) -> Vec<&Leak> {
    let mut open: Vec<&Leak> = dump.open_leaks().collect();
    open.sort_by(|a, b| crate::report::most_urgent_first(a, b));
    open
}

fn cards(out: &mut String, dump: &Dump) {
    let p = &dump.process;
    let tracked: u64 = dump
        .scopes
        .iter()
        .fold(0u64, |s, x| s.saturating_add(x.stats.curr_bytes));
    let mut cards: Vec<(String, String)> = Vec::new();
    if let Some(rss) = p.rss_bytes {
        let of = p
            .cgroup_limit_bytes
            .map(|l| format!("of {} cgroup limit", fmt::bytes_u(l)))
            .unwrap_or_else(|| "resident set".to_owned());
        cards.push((fmt::bytes_u(rss), format!("RSS, {of}")));
    }
    cards.push((
        fmt::bytes_u(tracked),
        format!("live in {} scopes", dump.scopes.len()),
    ));
    cards.push((
        dump.open_leaks().count().to_string(),
        "open leaks".to_owned(),
    ));
    if let Some(start) = p.start_time_unix {
        cards.push((
            fmt::duration(dump.written_at_unix - start),
            "process uptime".to_owned(),
        ));
    }
    cards.push((
        fmt::bytes_u(dump.tracker.self_bytes),
        "leakscope's own memory".to_owned(),
    ));
    cards.push((
        fmt::count(dump.tracker.samples_taken),
        format!(
            "samples ({} dropped)",
            fmt::count(dump.tracker.samples_dropped)
        ),
    ));
    out.push_str("<div class=\"cards\">\n");
    for (value, what) in cards {
        let _ = writeln!(
            out,
            "<div class=\"card\"><b>{}</b><span>{}</span></div>",
            esc(&value),
            esc(&what)
        );
    }
    out.push_str("</div>\n");
}

fn sev_badge(s: LeakSeverity) -> String {
    format!(
        "<span class=\"sev\" style=\"background:{}\">{}</span>",
        severity_colour(s),
        fmt::severity(s)
    )
}

fn leak_table(out: &mut String, dump: &Dump, open: &[&Leak]) {
    if open.is_empty() {
        out.push_str("<p>None.</p>\n");
        return;
    }
    out.push_str(
        "<table class=\"leaks fixed\">\n<colgroup><col style=\"width:8%\"/><col style=\"width:25%\"/>\
         <col style=\"width:10%\"/><col style=\"width:13%\"/><col style=\"width:17%\"/>\
         <col style=\"width:9%\"/><col style=\"width:18%\"/></colgroup>\n\
         <thead><tr><th>Severity</th><th>Scope and finding</th>\
         <th class=\"num\">Rate</th><th class=\"num\">Growth</th><th>Evidence</th>\
         <th class=\"num\">Budget in</th><th>Top call site</th></tr></thead>\n<tbody>\n",
    );
    for leak in open {
        let evidence = evidence_list(leak);
        let budget = match (leak.finding.time_to_budget_secs, leak.finding.budget_bytes) {
            (Some(t), Some(b)) => format!(
                "{}<br/>of {}",
                esc(&fmt::duration(t)),
                esc(&fmt::bytes_u(b))
            ),
            (None, Some(b)) => format!("not projected<br/>({})", esc(&fmt::bytes_u(b))),
            _ => "no budget".to_owned(),
        };
        let site = match leak.finding.top_sites.first() {
            Some(s) => format!(
                "<code>{}</code><br/>{} live",
                code(&fmt::site(s)),
                esc(&fmt::bytes_u(s.live_bytes))
            ),
            None => "not sampled".to_owned(),
        };
        let recs: String = leak
            .finding
            .recommendations
            .iter()
            .map(|r| format!("<li>{}</li>", esc(r)))
            .collect();
        let recs = if recs.is_empty() {
            String::new()
        } else {
            format!(
                "<details><summary>what to do</summary><ul class=\"recs\">{recs}</ul></details>"
            )
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"finding\"><b>{}</b> · {}<br/><span class=\"note\">{} · #{} · confidence {} \
             · first detected {} UTC · evidence window {}–{} UTC</span>{recs}</td>\
             <td class=\"num\" data-label=\"Rate\">{}</td><td class=\"num\" data-label=\"Growth\">{}\
             <br/><span class=\"note\">{} → {}</span></td><td class=\"evidence\" data-label=\"Evidence\">{evidence}</td>\
             <td class=\"num\" data-label=\"Budget in\">{budget}</td><td class=\"site\" data-label=\"Top call site\">{site}</td></tr>",
            sev_badge(leak.finding.severity),
            esc(&leak.finding.scope),
            esc(fmt::leak_type(leak.finding.leak_type)),
            esc(&leak.finding.summary),
            leak.id,
            esc(&fmt::percent(leak.finding.confidence, 1.0)),
            esc(&fmt::clock(dump, leak.first_detected)),
            esc(&fmt::clock(dump, leak.finding.window[0])),
            esc(&fmt::clock(dump, leak.finding.window[1])),
            esc(&fmt::rate(leak.finding.rate_bytes_per_min)),
            esc(&fmt::delta(leak.finding.growth_bytes as f64)),
            esc(&fmt::bytes_u(leak.finding.baseline_bytes)),
            esc(&fmt::bytes_u(leak.finding.current_bytes)),
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

/// Statistics shown in a leak's row before the rest fold away (the deciding one first).
const EVIDENCE: usize = 4;

/// A leak's statistics as a list, the first [`EVIDENCE`] shown and the rest folded.
fn evidence_list(leak: &Leak) -> String {
    let items: Vec<String> = leak
        .finding
        .statistics
        .iter()
        .map(|s| format!("<li>{}</li>", esc(&fmt::statistic(&s.name, s.value))))
        .collect();
    let (shown, rest) = items.split_at(items.len().min(EVIDENCE));
    let mut out = format!("<ul class=\"evidence\">{}</ul>", shown.concat());
    if !rest.is_empty() {
        let _ = write!(
            out,
            "<details><summary>{} more</summary><ul class=\"evidence\">{}</ul></details>",
            rest.len(),
            rest.concat()
        );
    }
    out
}

/// A symbol or path for a `<code>` element: escaped, with a line-break opportunity after each
/// `::` and `/` and before a `(`, so a narrow cell breaks it between its parts and not inside a
/// name.
fn code(s: &str) -> String {
    let escaped = esc(s);
    let mut out = String::with_capacity(escaped.len() + 16);
    let mut chars = escaped.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '(' {
            out.push_str("<wbr/>");
        }
        out.push(c);
        let after_path =
            c == '/' || (c == ':' && chars.peek() != Some(&':') && out.ends_with("::"));
        if after_path {
            out.push_str("<wbr/>");
        }
    }
    out
}

fn resolved_table(out: &mut String, dump: &Dump, resolved: &[&Leak]) {
    out.push_str(
        "<table class=\"fixed\">\n<colgroup><col style=\"width:10%\"/><col style=\"width:16%\"/>\
         <col style=\"width:15%\"/><col style=\"width:14%\"/><col style=\"width:45%\"/></colgroup>\n\
         <thead><tr><th>Severity</th><th>Scope</th><th>Finding</th><th>Open</th>\
         <th>Summary</th></tr></thead>\n<tbody>\n",
    );
    for leak in resolved {
        let until = leak.resolved_at.unwrap_or(leak.last_detected);
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td data-label=\"Scope\">{}</td><td data-label=\"Finding\">{}</td>\
             <td class=\"num\" data-label=\"Open\">{}–{} UTC</td><td>{}</td></tr>",
            sev_badge(leak.finding.severity),
            esc(&leak.finding.scope),
            esc(fmt::leak_type(leak.finding.leak_type)),
            esc(&fmt::clock(dump, leak.first_detected)),
            esc(&fmt::clock(dump, until)),
            esc(&leak.finding.summary)
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

fn site_table(out: &mut String, sites: &[CallSite], age: &str) {
    if sites.is_empty() {
        out.push_str("<p>None sampled (sampling off, or nothing sampled yet).</p>\n");
        return;
    }
    let _ = writeln!(
        out,
        "<table class=\"fixed\">\n<colgroup><col style=\"width:10%\"/><col style=\"width:15%\"/>\
         <col style=\"width:9%\"/><col style=\"width:11%\"/><col style=\"width:55%\"/></colgroup>\n\
         <thead><tr><th class=\"num\">Live</th><th>Scope</th><th class=\"num\">\
         Samples</th><th class=\"num\">Older than {}</th><th>Call site (innermost \
         first)</th></tr></thead>\n<tbody>",
        esc(age)
    );
    for site in sites {
        let callers: Vec<String> = site
            .frames
            .iter()
            .skip(1)
            .map(|f| format!("← {}", code(&fmt::frame(f))))
            .collect();
        let callers = if callers.is_empty() {
            String::new()
        } else {
            format!(
                "<details><summary>{} callers</summary><div class=\"mono\">{}</div></details>",
                callers.len(),
                callers.join("<br/>")
            )
        };
        let _ = writeln!(
            out,
            "<tr><td class=\"num\" data-label=\"Live\">{}</td><td data-label=\"Scope\">{}</td>\
             <td class=\"num\" data-label=\"Samples\">{}</td><td class=\"num\" data-label=\"Older than {}\">{}</td>\
             <td class=\"callsite\"><code>{}</code>{callers}</td></tr>",
            esc(&fmt::bytes_u(site.live_bytes)),
            esc(&site.scope),
            esc(&fmt::count(site.samples)),
            esc(age),
            esc(&fmt::percent(
                site.bytes_older_than[1] as f64,
                site.live_bytes as f64
            )),
            code(&fmt::site(site)),
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

/// The time range every chart shares: from the oldest to the newest history point of any
/// scope. `None` when no scope has a finite time stamp.
fn time_span(dump: &Dump) -> Option<(f64, f64)> {
    let ts = dump
        .scopes
        .iter()
        .flat_map(|s| s.history.iter().map(|p| p.t))
        .filter(|t| t.is_finite());
    let (lo, hi) = ts.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), t| {
        (lo.min(t), hi.max(t))
    });
    (lo <= hi).then_some((lo, hi))
}

/// A "nice" step (1, 2 or 5 × 10^k) giving about `target` intervals over `range`.
fn nice_step(range: f64, target: f64) -> f64 {
    if range.is_nan() || range <= 0.0 || range.is_infinite() {
        return 1.0;
    }
    let raw = range / target;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// A step in seconds for a time axis: whole seconds, minutes or hours a clock shows.
fn time_step(range: f64) -> f64 {
    const STEPS: [f64; 17] = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
        10800.0, 21600.0, 43200.0,
    ];
    let target = range / 7.0;
    if target < 1.0 {
        return nice_step(range, 7.0);
    }
    STEPS
        .iter()
        .copied()
        .find(|&s| s >= target)
        .unwrap_or_else(|| (target / 86400.0).ceil() * 86400.0)
}

fn scope_chart(
    out: &mut String,
    dump: &Dump,
    scope: &ScopeDump,
    growth: Option<f64>,
    span: Option<(f64, f64)>,
) {
    let mut facts = vec![
        format!("live {}", fmt::bytes_u(scope.stats.curr_bytes)),
        format!("peak {}", fmt::bytes_u(scope.stats.max_bytes)),
        format!("{} blocks", fmt::count(scope.stats.curr_blocks)),
    ];
    if let Some(g) = growth {
        facts.push(format!("growth {}", fmt::rate(g)));
    }
    if let Some(e) = scope.entries {
        facts.push(format!("{} entries", fmt::count(e)));
    }
    if let Some(b) = scope.budget_bytes {
        facts.push(format!(
            "budget {} ({} used)",
            fmt::bytes_u(b),
            fmt::percent(scope.stats.curr_bytes as f64, b as f64)
        ));
    }
    let leaks: Vec<&Leak> = dump
        .leaks
        .iter()
        .filter(|l| l.finding.scope == scope.name)
        .collect();
    let badges: String = leaks
        .iter()
        .filter(|l| l.status == leakscope::leaks::LeakStatus::Open)
        .map(|l| format!(" {}", sev_badge(l.finding.severity)))
        .collect();
    let _ = writeln!(
        out,
        "<div class=\"scope\">\n<h3>{}{badges}</h3>\n<div class=\"facts\">{}</div>",
        esc(&scope.name),
        esc(&facts.join(" · "))
    );
    let has_entries = scope.history.iter().any(|s| s.entries.is_some());
    let _ = write!(
        out,
        "<div class=\"legend\"><i style=\"border-color:{BYTES_COLOUR}\"></i>live bytes"
    );
    if has_entries {
        let _ = write!(
            out,
            "<i class=\"dash\" style=\"border-color:{ENTRIES_COLOUR}\"></i>entries (right axis)"
        );
    }
    if !leaks.is_empty() {
        let c = severity_colour(leaks[0].finding.severity);
        let _ = write!(
            out,
            "<i class=\"box\" style=\"background:{c}\"></i>leak, from first detection \
             (darker: evidence window)"
        );
    }
    out.push_str("</div>\n");
    out.push_str("<div class=\"chart\">\n");
    svg(out, dump, scope, &leaks, span);
    out.push_str("</div>\n");
    let aria = format!("allocation and free rates of {} over time", scope.name);
    series_chart(
        out,
        dump,
        &aria,
        span,
        &rate_series(&scope.history),
        [rate_axis, rate_axis],
        SECONDARY_PLOT,
    );
    out.push_str("</div>\n");
}

/// Maps data to SVG coordinates.
struct Axes {
    t0: f64,
    t1: f64,
    ymax: f64,
    emax: f64,
    /// The plot's top edge: under the label lanes.
    top: f64,
    /// The plot's height: [`PLOT`], or [`SECONDARY_PLOT`] for a secondary chart.
    plot: f64,
}

impl Axes {
    fn x(&self, t: f64) -> f64 {
        let w = W - LEFT - RIGHT;
        if self.t1 > self.t0 {
            LEFT + (t - self.t0) / (self.t1 - self.t0) * w
        } else {
            LEFT + w / 2.0
        }
    }
    /// The plot's bottom edge, the time axis.
    fn bottom(&self) -> f64 {
        self.top + self.plot
    }
    /// Whether this is a secondary chart, shorter and without the time axis's caption.
    fn secondary(&self) -> bool {
        self.plot < PLOT
    }
    /// The whole chart's height.
    fn height(&self) -> f64 {
        self.bottom()
            + if self.secondary() {
                SECONDARY_BOTTOM
            } else {
                BOTTOM
            }
    }
    /// How many grid steps to aim for on the left and right axes.
    fn steps(&self) -> f64 {
        if self.secondary() {
            2.0
        } else {
            5.0
        }
    }
    fn y(&self, v: f64) -> f64 {
        self.bottom()
            - if self.ymax > 0.0 {
                v / self.ymax * self.plot
            } else {
                0.0
            }
    }
    fn ye(&self, v: f64) -> f64 {
        self.bottom()
            - if self.emax > 0.0 {
                v / self.emax * self.plot
            } else {
                0.0
            }
    }
}

/// The span a leak is shaded over: from its first detection (or its evidence window, when
/// that began earlier: the growth had been going on for the window's length) to its end, the
/// resolution for a resolved leak, else the later of its last detection and its window.
/// `None` for NaN bounds from a hostile dump.
pub fn leak_span(leak: &Leak) -> Option<(f64, f64)> {
    let start = leak.first_detected.min(leak.finding.window[0]);
    let end = match (leak.status, leak.resolved_at) {
        (leakscope::leaks::LeakStatus::Resolved, Some(r)) => r,
        _ => leak.last_detected.max(leak.finding.window[1]),
    };
    (start.is_finite() && end.is_finite() && start <= end).then_some((start, end))
}

/// A leak's label above the plot: its text, where it starts, and its lane (0 nearest the
/// plot).
#[derive(Debug, PartialEq)]
struct Label {
    text: String,
    x: f64,
    lane: usize,
}

/// Places one label per shaded span `(xa, xb, text)`: each ends where its span ends (an open
/// leak's at the latest time, which a phone's chart scrolls to first), or starts at the plot's
/// left edge when it is wider than that, in the lowest lane where neither it nor its span's
/// bar touches another label or bar. Labels therefore never overlap.
fn place_labels(spans: &[(f64, f64, String)]) -> Vec<Label> {
    let mut lanes: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut labels = Vec::new();
    for (xa, xb, text) in spans {
        let w = text.chars().count() as f64 * CHAR;
        let x = (xb - w).max(LEFT);
        // The label and its span's bar, with a gap either side.
        let (lo, hi) = (x.min(*xa) - 8.0, (x + w).max(*xb) + 8.0);
        let lane = lanes
            .iter()
            .position(|taken| taken.iter().all(|&(a, b)| hi <= a || lo >= b))
            .unwrap_or_else(|| {
                lanes.push(Vec::new());
                lanes.len() - 1
            });
        lanes[lane].push((lo, hi));
        labels.push(Label {
            text: text.clone(),
            x,
            lane,
        });
    }
    labels
}

fn svg(
    out: &mut String,
    dump: &Dump,
    scope: &ScopeDump,
    leaks: &[&Leak],
    span: Option<(f64, f64)>,
) {
    let points: Vec<(f64, f64, Option<f64>)> = scope
        .history
        .iter()
        .filter(|s| s.t.is_finite())
        .map(|s| (s.t, s.curr_bytes as f64, s.entries.map(|e| e as f64)))
        .collect();
    let (t0, t1) = span.unwrap_or((0.0, 1.0));
    let data_max = points.iter().map(|p| p.1).fold(0.0, f64::max);
    let budget = scope
        .budget_bytes
        .map(|b| b as f64)
        .filter(|&b| b > 0.0 && b <= data_max.max(1.0) * BUDGET_DRAWN_UP_TO);
    let top = data_max.max(budget.unwrap_or(0.0)).max(1.0);
    let ystep = nice_step(top, 5.0);
    let ymax = (top / ystep).ceil() * ystep;
    let entries_max = points.iter().filter_map(|p| p.2).fold(0.0, f64::max);
    let estep = nice_step(entries_max.max(1.0), 5.0);
    let emax = (entries_max.max(1.0) / estep).ceil() * estep;
    let mut ax = Axes {
        t0,
        t1,
        ymax,
        emax,
        top: TOP,
        plot: PLOT,
    };

    // Leaks: open ones first (most severe first), then resolved, each with its span on the
    // chart's time axis and its label.
    let mut shown: Vec<(&Leak, f64, f64)> = leaks
        .iter()
        .filter_map(|l| {
            let (a, b) = leak_span(l)?;
            let (a, b) = (a.max(t0), b.min(t1));
            (a <= b).then_some((*l, a, b))
        })
        .collect();
    shown.sort_by(|(a, ..), (b, ..)| {
        (b.status == leakscope::leaks::LeakStatus::Open)
            .cmp(&(a.status == leakscope::leaks::LeakStatus::Open))
            .then(b.finding.severity.cmp(&a.finding.severity))
            .then(a.first_detected.total_cmp(&b.first_detected))
    });
    let spans: Vec<(f64, f64, String)> = shown
        .iter()
        .map(|(l, a, b)| {
            let status = match l.status {
                leakscope::leaks::LeakStatus::Open => "open",
                leakscope::leaks::LeakStatus::Resolved => "resolved",
            };
            let text = format!(
                "{} {} ({status}, #{})",
                fmt::severity(l.finding.severity),
                fmt::leak_type(l.finding.leak_type),
                l.id
            );
            (ax.x(*a), ax.x(*b), text)
        })
        .collect();
    let labels = place_labels(&spans);
    let lanes = labels.iter().map(|l| l.lane + 1).max().unwrap_or(0);
    ax.top = TOP + LANE * lanes as f64;

    let label = format!("live bytes of {} over time", scope.name);
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {:.0}\" role=\"img\" \
         aria-label=\"{}\">",
        ax.height(),
        esc(&label)
    );

    // Shading first, under the lines: from first detection to the end, darker over the
    // evidence window; a resolved leak is paler (history, not the current problem). The
    // label sits in its lane above the plot, over a bar as long as the shading.
    for (((leak, a, b), (xa, xb, text)), lab) in shown.iter().zip(&spans).zip(&labels) {
        let colour = severity_colour(leak.finding.severity);
        let open = leak.status == leakscope::leaks::LeakStatus::Open;
        let tip = format!(
            "{text}: first detected {} UTC, evidence window {}–{} UTC. {}",
            fmt::clock(dump, leak.first_detected),
            fmt::clock(dump, leak.finding.window[0]),
            fmt::clock(dump, leak.finding.window[1]),
            leak.finding.summary
        );
        let _ = writeln!(
            out,
            "<rect x=\"{xa:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{}\" fill=\"{colour}\" \
             fill-opacity=\"{}\"><title>{}</title></rect>",
            ax.top,
            (xb - xa).max(2.0),
            ax.plot,
            if open { 0.09 } else { 0.05 },
            esc(&tip)
        );
        let ea = leak.finding.window[0].max(*a);
        let eb = leak.finding.window[1].min(*b);
        if ea <= eb {
            let (ea, eb) = (ax.x(ea), ax.x(eb));
            let _ = writeln!(
                out,
                "<rect x=\"{ea:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{}\" \
                 fill=\"{colour}\" fill-opacity=\"{}\"><title>{}</title></rect>",
                ax.top,
                (eb - ea).max(2.0),
                ax.plot,
                if open { 0.16 } else { 0.07 },
                esc(&tip)
            );
        }
        let y = ax.top - LANE * lab.lane as f64;
        let _ = writeln!(
            out,
            "<rect x=\"{xa:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"3\" fill=\"{colour}\" \
             fill-opacity=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\" \
             class=\"lane\" style=\"fill:{colour};font-weight:600\">{}<title>{}</title></text>",
            y - 4.0,
            (xb - xa).max(2.0),
            if open { 0.9 } else { 0.45 },
            lab.x,
            y - 6.0,
            esc(&lab.text),
            esc(&tip)
        );
    }

    grid(out, &ax, ystep, fmt::bytes);
    if entries_max > 0.0 {
        right_axis(out, &ax, estep, ENTRIES_COLOUR, compact_count);
    }

    time_axis(out, dump, &ax);

    if let Some(b) = budget {
        let y = ax.y(b);
        let _ = writeln!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"{BUDGET_COLOUR}\" \
             stroke-dasharray=\"2 3\"/><text x=\"{:.1}\" y=\"{:.1}\" \
             style=\"fill:{BUDGET_COLOUR}\">budget {}</text>",
            W - RIGHT,
            LEFT + 6.0,
            y - 4.0,
            esc(&fmt::bytes(b))
        );
    }
    // A budget far above the data is stated in the facts line above the chart instead.

    if has_any(&points, |p| p.2.is_some()) {
        let line = points.iter().filter_map(|p| Some((ax.x(p.0), ax.ye(p.2?))));
        polyline(out, ENTRIES_COLOUR, 1.5, true, line);
    }
    if points.is_empty() {
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">no history recorded</text>",
            LEFT + (W - LEFT - RIGHT) / 2.0,
            ax.top + ax.plot / 2.0
        );
    } else {
        let line = points.iter().map(|p| (ax.x(p.0), ax.y(p.1)));
        polyline(out, BYTES_COLOUR, 2.0, false, line);
    }
    out.push_str("</svg>\n");
}

/// One line of a [`series_chart`]: its legend text, colour, points `(t, value)`, and whether it
/// reads on the right axis.
struct Series {
    label: String,
    colour: &'static str,
    points: Vec<(f64, f64)>,
    right: bool,
}

/// A chart of a few lines over the shared time axis, its plot `plot` high: the left axis
/// labelled by `left`, the right (for the series that read on it) by `right`. Nothing when no
/// series has a point.
fn series_chart(
    out: &mut String,
    dump: &Dump,
    aria: &str,
    span: Option<(f64, f64)>,
    series: &[Series],
    [left, right]: [fn(f64) -> String; 2],
    plot: f64,
) {
    if series.iter().all(|s| s.points.is_empty()) {
        return;
    }
    let max = |on_right: bool| {
        series
            .iter()
            .filter(|s| s.right == on_right)
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max)
            .max(1e-9)
    };
    let (lmax, rmax) = (max(false), max(true));
    let (t0, t1) = span.unwrap_or((0.0, 1.0));
    let mut ax = Axes {
        t0,
        t1,
        ymax: 0.0,
        emax: 0.0,
        top: TOP,
        plot,
    };
    let (lstep, rstep) = (nice_step(lmax, ax.steps()), nice_step(rmax, ax.steps()));
    (ax.ymax, ax.emax) = ((lmax / lstep).ceil() * lstep, (rmax / rstep).ceil() * rstep);
    out.push_str("<div class=\"legend\">");
    for s in series.iter().filter(|s| !s.points.is_empty()) {
        let dash = if s.right { " class=\"dash\"" } else { "" };
        let side = if s.right { " (right axis)" } else { "" };
        let _ = write!(
            out,
            "<i{dash} style=\"border-color:{}\"></i>{}{side}",
            s.colour,
            esc(&s.label)
        );
    }
    out.push_str("</div>\n<div class=\"chart\">\n");
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {:.0}\" role=\"img\" \
         aria-label=\"{}\">",
        ax.height(),
        esc(aria)
    );
    grid(out, &ax, lstep, left);
    if series.iter().any(|s| s.right && !s.points.is_empty()) {
        right_axis(
            out,
            &ax,
            rstep,
            series
                .iter()
                .find(|s| s.right)
                .map_or("#475569", |s| s.colour),
            right,
        );
    }
    time_axis(out, dump, &ax);
    for s in series.iter().filter(|s| !s.points.is_empty()) {
        let y = |v: f64| if s.right { ax.ye(v) } else { ax.y(v) };
        let line = s
            .points
            .iter()
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .map(|p| (ax.x(p.0), y(p.1)));
        polyline(out, s.colour, 1.5, s.right, line);
    }
    out.push_str("</svg>\n</div>\n");
}

/// A scope's allocation and free rates (bytes per second) per point of its `history`: each
/// point's bytes over the time since the point before (a coarse point's run included).
fn rate_series(history: &[leakscope::analysis::Snapshot]) -> [Series; 2] {
    let rates = |pick: fn(&leakscope::analysis::Snapshot) -> u64| {
        history
            .windows(2)
            .filter(|w| w[1].t > w[0].t)
            .map(|w| (w[1].t, pick(&w[1]) as f64 / (w[1].t - w[0].t)))
            .collect()
    };
    [
        Series {
            label: "allocated / s".to_owned(),
            colour: ALLOC_COLOUR,
            points: rates(|s| s.bytes_allocated),
            right: false,
        },
        Series {
            label: "freed / s".to_owned(),
            colour: FREE_COLOUR,
            points: rates(|s| s.bytes_freed),
            right: false,
        },
    ]
}

/// The process chart: RSS, tracked bytes and the cgroup's usage, with the memory stall shares
/// (pressure stall information, `some` and `full` over 10 s) on the right axis.
fn process_chart(out: &mut String, dump: &Dump, span: Option<(f64, f64)>) {
    let h = &dump.process_history;
    let pick =
        |f: &dyn Fn(&leakscope::analysis::ProcessSnapshot) -> Option<f64>| -> Vec<(f64, f64)> {
            h.iter().filter_map(|p| Some((p.t, f(p)?))).collect()
        };
    let psi = |p: &leakscope::analysis::ProcessSnapshot| {
        p.pressure.as_deref().and_then(|x| x.psi.as_ref()).cloned()
    };
    let series = [
        Series {
            label: "RSS".to_owned(),
            colour: BYTES_COLOUR,
            points: pick(&|p| p.rss_bytes.map(|b| b as f64)),
            right: false,
        },
        Series {
            label: "tracked live bytes".to_owned(),
            colour: ENTRIES_COLOUR,
            points: pick(&|p| Some(p.tracked_bytes as f64)),
            right: false,
        },
        Series {
            label: "cgroup memory".to_owned(),
            colour: BUDGET_COLOUR,
            points: pick(&|p| {
                p.pressure
                    .as_deref()?
                    .cgroup
                    .as_ref()?
                    .current_bytes
                    .map(|b| b as f64)
            }),
            right: false,
        },
        Series {
            label: "memory stall, some (avg10)".to_owned(),
            colour: PRESSURE_COLOUR,
            points: pick(&|p| psi(p).map(|x| x.some.avg10)),
            right: true,
        },
        Series {
            label: "memory stall, full (avg10)".to_owned(),
            colour: FULL_PRESSURE_COLOUR,
            points: pick(&|p| psi(p)?.full.map(|f| f.avg10)),
            right: true,
        },
    ];
    if series.iter().all(|s| s.points.is_empty()) {
        return;
    }
    let _ = writeln!(
        out,
        "<h2 id=\"process\">Process</h2>\n<p class=\"note\">Resident memory against what \
         leakscope tracks and the cgroup's usage; memory pressure is the share of the last 10 s \
         in which some (or all) tasks stalled waiting for memory.</p>"
    );
    series_chart(
        out,
        dump,
        "process memory and memory pressure over time",
        span,
        &series,
        [fmt::bytes, percent_axis],
        PLOT,
    );
}

/// Bytes per second for an axis: "0 B/s", "2.5 MB/s".
fn rate_axis(v: f64) -> String {
    format!("{}/s", fmt::bytes(v))
}

/// A share in percent for an axis: "0%", "2.5%".
fn percent_axis(v: f64) -> String {
    format!("{}%", trim(v))
}

/// A line through `points` (SVG coordinates), dashed or solid.
fn polyline(
    out: &mut String,
    colour: &str,
    width: f64,
    dashed: bool,
    points: impl Iterator<Item = (f64, f64)>,
) {
    let line: Vec<String> = points.map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    let dash = if dashed {
        " stroke-dasharray=\"5 3\""
    } else {
        " stroke-linejoin=\"round\""
    };
    let _ = writeln!(
        out,
        "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"{width}\"{dash} points=\"{}\"/>",
        line.join(" ")
    );
}

/// The horizontal grid and the left axis, labelled by `label`, every `step` up to `ax.ymax`.
fn grid(out: &mut String, ax: &Axes, step: f64, label: fn(f64) -> String) {
    let mut v = 0.0;
    while v <= ax.ymax + step / 2.0 {
        let y = ax.y(v);
        let _ = writeln!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            esc(&label(v))
        );
        v += step;
    }
}

/// The right axis (`ax.emax`), in `colour`, labelled by `label` every `step`.
fn right_axis(out: &mut String, ax: &Axes, step: f64, colour: &str, label: fn(f64) -> String) {
    let mut e = 0.0;
    while e <= ax.emax + step / 2.0 {
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" style=\"fill:{colour}\">{}</text>",
            W - RIGHT + 6.0,
            ax.ye(e) + 4.0,
            esc(&label(e))
        );
        e += step;
    }
}

/// The time axis shared by every chart: ticks at whole clock steps, labelled in UTC, and the
/// plot's frame.
fn time_axis(out: &mut String, dump: &Dump, ax: &Axes) {
    let (t0, t1) = (ax.t0, ax.t1);
    let range = t1 - t0;
    let step = time_step(range);
    let wall0 = fmt::wall(dump, t0);
    let first = (wall0 / step).ceil() * step;
    let mut w = first;
    let mut ticks = 0;
    while w <= fmt::wall(dump, t1) + 1e-9 && ticks < 50 {
        let t = t0 + (w - wall0);
        let x = ax.x(t);
        let label = if step >= 60.0 {
            fmt::utc_hhmm(w)
        } else if step >= 1.0 {
            fmt::utc_hhmmss(w)
        } else {
            format!("+{}", fmt::duration(t - t0))
        };
        let _ = writeln!(
            out,
            "<line class=\"grid\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            ax.top,
            ax.bottom(),
            ax.bottom() + 16.0,
            esc(&label)
        );
        w += step;
        ticks += 1;
    }
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>\
         <line class=\"axis\" x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{:.1}\" y2=\"{:.1}\"/>",
        W - RIGHT,
        ax.bottom(),
        ax.bottom(),
        ax.top,
        ax.bottom(),
    );
    if !ax.secondary() {
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">time (UTC)</text>",
            LEFT + (W - LEFT - RIGHT) / 2.0,
            ax.height() - 6.0
        );
    }
    out.push('\n');
}

fn has_any<T>(v: &[T], f: impl Fn(&T) -> bool) -> bool {
    v.iter().any(f)
}

/// An entry count for an axis: "850", "12k", "1.5M".
fn compact_count(n: f64) -> String {
    if n >= 1e6 {
        format!("{}M", trim(n / 1e6))
    } else if n >= 1e3 {
        format!("{}k", trim(n / 1e3))
    } else {
        format!("{n:.0}")
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_each_points_bytes_over_the_time_since_the_point_before() {
        // A coarse point standing for ten 30-second intervals (t = 300), then two snapshots; a
        // repeated time stamp gives no rate (no division by zero).
        let snap = |t: f64, allocated: u64, freed: u64| {
            let mut s = leakscope::analysis::Snapshot::new(t, 0, 0);
            s.bytes_allocated = allocated;
            s.bytes_freed = freed;
            s
        };
        let history = [
            snap(0.0, 0, 0),
            snap(300.0, 60_000, 30_000),
            snap(330.0, 3_000, 1_500),
            snap(330.0, 9_999, 9_999),
            snap(360.0, 0, 600),
        ];
        let [allocated, freed] = rate_series(&history);
        assert_eq!(
            allocated.points,
            vec![(300.0, 200.0), (330.0, 100.0), (360.0, 0.0)]
        );
        assert_eq!(
            freed.points,
            vec![(300.0, 100.0), (330.0, 50.0), (360.0, 20.0)]
        );
        assert_eq!(
            (allocated.label.as_str(), freed.label.as_str()),
            ("allocated / s", "freed / s")
        );
    }

    #[test]
    fn escaping_covers_markup_quotes_and_controls() {
        assert_eq!(
            esc("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
        assert_eq!(esc("a\u{1b}b"), "a\\u{1b}b");
        assert_eq!(
            esc("users\u{202e}ehcac\u{200b}"),
            "users\\u{202e}ehcac\\u{200b}"
        );
    }

    #[test]
    fn labels_never_overlap_and_share_lanes_when_apart() {
        let span = |a: f64, b: f64| (a, b, "MEDIUM gradual growth (open, #1)".to_owned());
        // Ten leaks over the same stretch: ten lanes.
        let same: Vec<_> = (0..10).map(|_| span(500.0, 700.0)).collect();
        let lanes: Vec<usize> = place_labels(&same).iter().map(|l| l.lane).collect();
        assert_eq!(lanes, (0..10).collect::<Vec<_>>());
        // Far apart: one lane.
        let apart = [
            span(LEFT, 120.0),
            span(520.0, 610.0),
            span(840.0, W - RIGHT),
        ];
        assert!(place_labels(&apart).iter().all(|l| l.lane == 0));
        // Whatever the spans, two labels in one lane do not touch, nor run off the plot.
        let mixed: Vec<_> = (0..40)
            .map(|i| {
                let a = LEFT + (i * 37 % 800) as f64;
                span(a, (a + (i * 5) as f64).min(W - RIGHT))
            })
            .collect();
        let labels = place_labels(&mixed);
        for (i, a) in labels.iter().enumerate() {
            let wa = a.text.chars().count() as f64 * CHAR;
            assert!(a.x >= LEFT && a.x + wa <= W - RIGHT + 1e-9, "{a:?}");
            for b in &labels[i + 1..] {
                let wb = b.text.chars().count() as f64 * CHAR;
                let apart = a.x + wa <= b.x || b.x + wb <= a.x;
                assert!(a.lane != b.lane || apart, "{a:?} and {b:?} overlap");
            }
        }
    }

    #[test]
    fn a_leak_is_shaded_from_its_first_detection_to_its_end() {
        let mut leak: Leak = serde_json::from_value(serde_json::json!({
            "id": 1, "scope": "s", "leak_type": "GradualGrowth", "severity": "Medium",
            "status": "Open", "confidence": 0.7, "first_detected": 1000.0,
            "last_detected": 4000.0, "window": [3100.0, 4000.0], "baseline_bytes": 1,
            "current_bytes": 2, "growth_bytes": 1, "rate_bytes_per_min": 1.0,
            "model": "Linear", "statistics": [], "summary": "", "recommendations": [],
            "top_sites": []
        }))
        .unwrap();
        assert_eq!(leak_span(&leak), Some((1000.0, 4000.0)));
        // A window that began before the first detection: from the window.
        leak.finding.window = [600.0, 1000.0];
        assert_eq!(leak_span(&leak), Some((600.0, 4000.0)));
        leak.status = leakscope::leaks::LeakStatus::Resolved;
        leak.resolved_at = Some(5000.0);
        assert_eq!(leak_span(&leak), Some((600.0, 5000.0)));
        leak.first_detected = f64::NAN;
        leak.finding.window = [f64::NAN, f64::NAN];
        assert_eq!(leak_span(&leak), None);
    }

    #[test]
    fn code_breaks_between_path_segments() {
        assert_eq!(
            code("a::b::<C as D>::e (src/f.rs:9)"),
            "a::<wbr/>b::<wbr/>&lt;C as D&gt;::<wbr/>e <wbr/>(src/<wbr/>f.rs:9)"
        );
    }

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(100.0, 5.0), 20.0);
        assert_eq!(nice_step(3.4e6, 5.0), 1e6);
        assert_eq!(nice_step(0.0, 5.0), 1.0);
        assert_eq!(nice_step(f64::NAN, 5.0), 1.0);
        assert_eq!(time_step(3600.0), 600.0);
        assert_eq!(time_step(10800.0), 1800.0);
        assert_eq!(time_step(30.0), 5.0);
        assert!(time_step(2.0) < 1.0);
        assert_eq!(compact_count(850.0), "850");
        assert_eq!(compact_count(12_000.0), "12k");
        assert_eq!(compact_count(1_500_000.0), "1.5M");
    }
}
