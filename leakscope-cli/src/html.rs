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
//! right axis, leak evidence windows shaded in the severity's colour, and the budget as a
//! dashed rule when it is near enough to the data to be drawn without flattening it.

use std::fmt::Write as _;

use leakscope::dump::{Dump, ScopeDump};
use leakscope::sites::CallSite;
use leakscope::{Leak, LeakSeverity};

use crate::{fmt, report};

/// Chart geometry, in SVG user units (the SVG scales to the page width).
const W: f64 = 960.0;
const H: f64 = 240.0;
const LEFT: f64 = 78.0;
const RIGHT: f64 = 70.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 40.0;
/// Budgets further above the data than this factor are stated, not drawn.
const BUDGET_DRAWN_UP_TO: f64 = 2.0;

const BYTES_COLOUR: &str = "#2563eb";
const ENTRIES_COLOUR: &str = "#059669";
const BUDGET_COLOUR: &str = "#9333ea";

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
            // the report does.
            // U+FFFE and U+FFFF are outside XML 1.0's characters as well (issue 15 item 5).
            c if (c.is_control() && c != '\n' && c != '\t')
                || matches!(c, '\u{fffe}' | '\u{ffff}') =>
            {
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
td.finding { width: 26%; }
td.evidence { width: 16%; font-size: 12px; color: #475569; }
td.site { width: 24%; }
td.site code, td.callsite code { overflow-wrap: anywhere; }
svg { width: 100%; height: auto; display: block; }
svg text { font: 11px system-ui, sans-serif; fill: #475569; }
svg .grid { stroke: #e2e8f0; stroke-width: 1; }
svg .axis { stroke: #94a3b8; stroke-width: 1; }
details summary { cursor: pointer; color: #1d4ed8; }
ul.recs { margin: 4px 0 0 18px; padding: 0; }
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
         chart; older history is coarser (one point per 10 or 100 snapshot intervals). Shaded \
         bands are the evidence windows of leaks (hover for details).</p>",
        esc(&fmt::duration(dump.config.detection_window_minutes * 60.0))
    );
    let span = time_span(dump);
    for (scope, growth) in report::ranked(dump) {
        scope_chart(&mut out, dump, scope, growth, span);
    }
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
    open.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(b.rate_bytes_per_min.total_cmp(&a.rate_bytes_per_min))
            .then(a.id.cmp(&b.id))
    });
    open
}

fn cards(out: &mut String, dump: &Dump) {
    let p = &dump.process;
    let tracked: u64 = dump
        .scopes
        .iter()
        .fold(0u64, |s, x| s.saturating_add(x.curr_bytes));
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
        "<table class=\"leaks\">\n<thead><tr><th>Severity</th><th>Scope and finding</th>\
         <th class=\"num\">Rate</th><th class=\"num\">Growth</th><th>Evidence</th>\
         <th class=\"num\">Budget in</th><th>Top call site</th></tr></thead>\n<tbody>\n",
    );
    for leak in open {
        let evidence: Vec<String> = leak
            .statistics
            .iter()
            .map(|s| fmt::statistic(&s.name, s.value))
            .collect();
        let budget = match (leak.time_to_budget_secs, leak.budget_bytes) {
            (Some(t), Some(b)) => format!(
                "{}<br/>of {}",
                esc(&fmt::duration(t)),
                esc(&fmt::bytes_u(b))
            ),
            (None, Some(b)) => format!("not projected<br/>({})", esc(&fmt::bytes_u(b))),
            _ => "no budget".to_owned(),
        };
        let site = match leak.top_sites.first() {
            Some(s) => format!(
                "<code>{}</code><br/>{} live",
                esc(&fmt::site(s)),
                esc(&fmt::bytes_u(s.live_bytes))
            ),
            None => "not sampled".to_owned(),
        };
        let recs: String = leak
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
             · window {}–{} UTC</span>{recs}</td><td class=\"num\">{}</td><td class=\"num\">{}\
             <br/><span class=\"note\">{} → {}</span></td><td class=\"evidence\">{}</td>\
             <td class=\"num\">{budget}</td><td class=\"site\">{site}</td></tr>",
            sev_badge(leak.severity),
            esc(&leak.scope),
            esc(fmt::leak_type(leak.leak_type)),
            esc(&leak.summary),
            leak.id,
            esc(&fmt::percent(leak.confidence, 1.0)),
            esc(&fmt::clock(dump, leak.window[0])),
            esc(&fmt::clock(dump, leak.window[1])),
            esc(&fmt::rate(leak.rate_bytes_per_min)),
            esc(&fmt::delta(leak.growth_bytes as f64)),
            esc(&fmt::bytes_u(leak.baseline_bytes)),
            esc(&fmt::bytes_u(leak.current_bytes)),
            esc(&evidence.join(", ")),
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

fn resolved_table(out: &mut String, dump: &Dump, resolved: &[&Leak]) {
    out.push_str(
        "<table>\n<thead><tr><th>Severity</th><th>Scope</th><th>Finding</th><th>Open</th>\
         <th>Summary</th></tr></thead>\n<tbody>\n",
    );
    for leak in resolved {
        let until = leak.resolved_at.unwrap_or(leak.last_detected);
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}–{} UTC</td><td>{}</td></tr>",
            sev_badge(leak.severity),
            esc(&leak.scope),
            esc(fmt::leak_type(leak.leak_type)),
            esc(&fmt::clock(dump, leak.first_detected)),
            esc(&fmt::clock(dump, until)),
            esc(&leak.summary)
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
        "<table>\n<thead><tr><th class=\"num\">Live</th><th>Scope</th><th class=\"num\">\
         Samples</th><th class=\"num\">Older than {}</th><th>Call site (innermost \
         first)</th></tr></thead>\n<tbody>",
        esc(age)
    );
    for site in sites {
        let callers: Vec<String> = site
            .frames
            .iter()
            .skip(1)
            .map(|f| format!("← {}", esc(&fmt::frame(f))))
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
            "<tr><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"callsite\"><code>{}</code>{callers}</td></tr>",
            esc(&fmt::bytes_u(site.live_bytes)),
            esc(&site.scope),
            esc(&fmt::count(site.samples)),
            esc(&fmt::percent(
                site.bytes_older_than[1] as f64,
                site.live_bytes as f64
            )),
            esc(&fmt::site(site)),
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
        format!("live {}", fmt::bytes_u(scope.curr_bytes)),
        format!("peak {}", fmt::bytes_u(scope.max_bytes)),
        format!("{} blocks", fmt::count(scope.curr_blocks)),
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
            fmt::percent(scope.curr_bytes as f64, b as f64)
        ));
    }
    let leaks: Vec<&Leak> = dump
        .leaks
        .iter()
        .filter(|l| l.scope == scope.name)
        .collect();
    let badges: String = leaks
        .iter()
        .filter(|l| l.status == leakscope::LeakStatus::Open)
        .map(|l| format!(" {}", sev_badge(l.severity)))
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
        let c = severity_colour(leaks[0].severity);
        let _ = write!(
            out,
            "<i class=\"box\" style=\"background:{c}\"></i>leak evidence window"
        );
    }
    out.push_str("</div>\n");
    svg(out, dump, scope, &leaks, span);
    out.push_str("</div>\n");
}

/// Maps data to SVG coordinates.
struct Axes {
    t0: f64,
    t1: f64,
    ymax: f64,
    emax: f64,
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
    fn y(&self, v: f64) -> f64 {
        let h = H - TOP - BOTTOM;
        H - BOTTOM
            - if self.ymax > 0.0 {
                v / self.ymax * h
            } else {
                0.0
            }
    }
    fn ye(&self, v: f64) -> f64 {
        let h = H - TOP - BOTTOM;
        H - BOTTOM
            - if self.emax > 0.0 {
                v / self.emax * h
            } else {
                0.0
            }
    }
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
    let label = format!("live bytes of {} over time", scope.name);
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" role=\"img\" \
         aria-label=\"{}\">",
        esc(&label)
    );
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
    let ax = Axes { t0, t1, ymax, emax };

    // Leak windows first, under the lines. Their labels sit at the foot of the band (a
    // zero-based chart rarely has data there), stacked so overlapping windows stay legible, and
    // anchored inside the plot when the band is near its right edge.
    for (i, leak) in leaks.iter().enumerate() {
        let a = leak.window[0].max(t0);
        let b = leak.window[1].min(t1);
        // Also skips NaN bounds from a hostile dump.
        if a.is_nan() || b.is_nan() || a > b {
            continue;
        }
        let (xa, xb) = (ax.x(a), ax.x(b));
        let colour = severity_colour(leak.severity);
        let status = match leak.status {
            leakscope::LeakStatus::Open => "open",
            leakscope::LeakStatus::Resolved => "resolved",
        };
        let tip = format!(
            "{} {} ({status}): {}",
            fmt::severity(leak.severity),
            fmt::leak_type(leak.leak_type),
            leak.summary
        );
        let _ = writeln!(
            out,
            "<rect x=\"{xa:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{colour}\" \
             fill-opacity=\"{}\"><title>{}</title></rect>",
            (xb - xa).max(2.0),
            H - TOP - BOTTOM,
            // A resolved leak's band is paler: history, not the current problem.
            if status == "open" { 0.16 } else { 0.07 },
            esc(&tip)
        );
        let right_half = xa > LEFT + (W - LEFT - RIGHT) * 0.6;
        let (x, anchor) = if right_half {
            (xb - 4.0, "end")
        } else {
            (xa + 4.0, "start")
        };
        let _ = writeln!(
            out,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" \
             style=\"fill:{colour};font-weight:600\">{} {} ({status})</text>",
            H - BOTTOM - 6.0 - 14.0 * i as f64,
            fmt::severity(leak.severity),
            esc(fmt::leak_type(leak.leak_type))
        );
    }

    // Horizontal grid and the bytes axis.
    let mut v = 0.0;
    while v <= ymax + ystep / 2.0 {
        let y = ax.y(v);
        let _ = writeln!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            esc(&fmt::bytes(v))
        );
        v += ystep;
    }
    if entries_max > 0.0 {
        let mut e = 0.0;
        while e <= emax + estep / 2.0 {
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" style=\"fill:{ENTRIES_COLOUR}\">{}</text>",
                W - RIGHT + 6.0,
                ax.ye(e) + 4.0,
                esc(&compact_count(e))
            );
            e += estep;
        }
    }

    // Time axis: ticks at whole clock steps, labelled in UTC.
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
            "<line class=\"grid\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{TOP}\" y2=\"{:.1}\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            H - BOTTOM,
            H - BOTTOM + 16.0,
            esc(&label)
        );
        w += step;
        ticks += 1;
    }
    let _ = writeln!(
        out,
        "<line class=\"axis\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>\
         <line class=\"axis\" x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{:.1}\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">time (UTC)</text>",
        W - RIGHT,
        H - BOTTOM,
        H - BOTTOM,
        H - BOTTOM,
        LEFT + (W - LEFT - RIGHT) / 2.0,
        H - 6.0
    );

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
        let line: Vec<String> = points
            .iter()
            .filter_map(|p| p.2.map(|e| format!("{:.1},{:.1}", ax.x(p.0), ax.ye(e))))
            .collect();
        let _ = writeln!(
            out,
            "<polyline fill=\"none\" stroke=\"{ENTRIES_COLOUR}\" stroke-width=\"1.5\" \
             stroke-dasharray=\"5 3\" points=\"{}\"/>",
            line.join(" ")
        );
    }
    if points.is_empty() {
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">no history recorded</text>",
            LEFT + (W - LEFT - RIGHT) / 2.0,
            TOP + (H - TOP - BOTTOM) / 2.0
        );
    } else {
        let line: Vec<String> = points
            .iter()
            .map(|p| format!("{:.1},{:.1}", ax.x(p.0), ax.y(p.1)))
            .collect();
        let _ = writeln!(
            out,
            "<polyline fill=\"none\" stroke=\"{BYTES_COLOUR}\" stroke-width=\"2\" \
             stroke-linejoin=\"round\" points=\"{}\"/>",
            line.join(" ")
        );
    }
    out.push_str("</svg>\n");
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
    fn escaping_covers_markup_quotes_and_controls() {
        assert_eq!(
            esc("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
        assert_eq!(esc("a\u{1b}b"), "a\\u{1b}b");
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
