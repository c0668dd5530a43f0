//! Turns the result lines of `scripts/bench-overhead.sh` into the markdown tables of
//! benches/README.md. Not a variant: it installs no allocator of its own.
//!
//! Input, one line per run: `round variant workload ops ns_per_op cpu_ns_per_op vm_hwm_kib
//! extra` (tabs).
//! Ratios are taken within a round (each run against the `system` run of the same round and
//! workload) and then the median over rounds is reported with the smallest and largest of them:
//! runs of one round are seconds apart, so the machine's drift between rounds cancels.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The columns of the tables: (workload, heading).
const COLUMNS: [(&str, &str); 4] = [
    ("churn", "churn"),
    ("churn2t", "churn2t"),
    ("xthread", "xthread"),
    ("cache", "cache time"),
];

/// Order of the rows; variants not listed follow in the order they first appear.
const ORDER: [&str; 9] = [
    "system",
    "leakscope",
    "leakscope_scoped",
    "stats_alloc",
    "dhat",
    "jemalloc",
    "leakscope_jemalloc",
    "mimalloc",
    "leakscope_mimalloc",
];

/// What a table shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Metric {
    /// Wall-clock ns/op.
    Wall,
    /// CPU ns/op of the workload's threads.
    Cpu,
    /// Peak RSS.
    Rss,
}

#[derive(Default)]
struct Cell {
    /// round -> wall-clock ns/op
    ns: BTreeMap<u32, f64>,
    /// round -> CPU ns/op
    cpu: BTreeMap<u32, f64>,
    /// round -> peak RSS (KiB)
    hwm: BTreeMap<u32, f64>,
}

impl Cell {
    fn get(&self, m: Metric) -> &BTreeMap<u32, f64> {
        match m {
            Metric::Wall => &self.ns,
            Metric::Cpu => &self.cpu,
            Metric::Rss => &self.hwm,
        }
    }
}

/// Median, min and max of a non-empty set.
fn stats(mut v: Vec<f64>) -> Option<(f64, f64, f64)> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some((median, v[0], v[n - 1]))
}

struct Data {
    cells: BTreeMap<(String, String), Cell>,
    variants: Vec<String>,
    rounds: u32,
}

impl Data {
    fn cell(&self, variant: &str, workload: &str) -> Option<&Cell> {
        self.cells.get(&(variant.to_string(), workload.to_string()))
    }

    /// Per-round ratios of `variant` to `base` on `workload`.
    fn ratios(&self, variant: &str, base: &str, workload: &str, m: Metric) -> Vec<f64> {
        let (Some(v), Some(b)) = (self.cell(variant, workload), self.cell(base, workload)) else {
            return Vec::new();
        };
        let (vm, bm) = (v.get(m), b.get(m));
        vm.iter()
            .filter_map(|(r, x)| bm.get(r).filter(|y| **y > 0.0).map(|y| x / y))
            .collect()
    }

    fn ratio(&self, variant: &str, base: &str, workload: &str, m: Metric) -> Option<f64> {
        stats(self.ratios(variant, base, workload, m)).map(|s| s.0)
    }
}

fn ratio_cell(s: Option<(f64, f64, f64)>) -> String {
    match s {
        Some((m, lo, hi)) => format!("{m:.2}× ({lo:.2}–{hi:.2})"),
        None => "–".into(),
    }
}

fn parse(text: &str) -> Data {
    let mut cells: BTreeMap<(String, String), Cell> = BTreeMap::new();
    let mut seen = Vec::new();
    let mut rounds = 0;
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 7 {
            continue;
        }
        let (Ok(round), Ok(ns), Ok(cpu), Ok(hwm)) = (
            f[0].parse::<u32>(),
            f[4].parse::<f64>(),
            f[5].parse::<f64>(),
            f[6].parse::<f64>(),
        ) else {
            continue;
        };
        rounds = rounds.max(round);
        if !seen.iter().any(|v| v == f[1]) {
            seen.push(f[1].to_string());
        }
        let c = cells.entry((f[1].into(), f[2].into())).or_default();
        c.ns.insert(round, ns);
        c.cpu.insert(round, cpu);
        c.hwm.insert(round, hwm);
    }
    let mut variants: Vec<String> = ORDER
        .iter()
        .filter(|v| seen.iter().any(|s| s == *v))
        .map(|v| v.to_string())
        .collect();
    variants.extend(seen.into_iter().filter(|s| !ORDER.contains(&s.as_str())));
    Data {
        cells,
        variants,
        rounds,
    }
}

/// A table of ratios to System, or (`wrapped`) of each `leakscope_X` row to the bare `X`.
fn ratio_table(out: &mut String, d: &Data, time: Metric, wrapped: bool) {
    out.push_str("| variant |");
    for (_, h) in COLUMNS {
        let _ = write!(out, " {h} |");
    }
    out.push_str(" cache RSS |\n|---|");
    out.push_str(&"---|".repeat(COLUMNS.len() + 1));
    out.push('\n');
    for v in &d.variants {
        let base = if wrapped {
            match v.strip_prefix("leakscope_") {
                Some(inner) if d.variants.iter().any(|x| x == inner) => inner,
                _ => continue,
            }
        } else {
            "system"
        };
        if wrapped {
            let _ = write!(out, "| {v} / {base} |");
        } else {
            let _ = write!(out, "| {v} |");
        }
        for (w, _) in COLUMNS {
            let _ = write!(out, " {} |", ratio_cell(stats(d.ratios(v, base, w, time))));
        }
        let _ = writeln!(
            out,
            " {} |",
            ratio_cell(stats(d.ratios(v, base, "cache", Metric::Rss)))
        );
    }
}

/// A table of median ns/op with min–max, and the cache's peak RSS.
fn ns_table(out: &mut String, d: &Data, time: Metric) {
    out.push_str("| variant |");
    for (_, h) in COLUMNS {
        let _ = write!(out, " {h} |");
    }
    out.push_str(" cache RSS (MiB) |\n|---|");
    out.push_str(&"---|".repeat(COLUMNS.len() + 1));
    out.push('\n');
    for v in &d.variants {
        let _ = write!(out, "| {v} |");
        for (w, _) in COLUMNS {
            let s = d
                .cell(v, w)
                .and_then(|c| stats(c.get(time).values().copied().collect()));
            match s {
                Some((m, lo, hi)) => {
                    let _ = write!(out, " {m:.1} ({lo:.1}–{hi:.1}) |");
                }
                None => out.push_str(" – |"),
            }
        }
        let s = d
            .cell(v, "cache")
            .and_then(|c| stats(c.hwm.values().copied().collect()));
        match s {
            Some((m, lo, hi)) => {
                let _ = writeln!(
                    out,
                    " {:.2} ({:.2}–{:.2}) |",
                    m / 1024.0,
                    lo / 1024.0,
                    hi / 1024.0
                );
            }
            None => out.push_str(" – |\n"),
        }
    }
}

/// One of docs/design.md §12's targets: its name, how to compute it, its bound, and whether the bound is
/// an upper one.
type Target<'a> = (&'a str, &'a dyn Fn(Metric) -> Option<f64>, f64, bool);

fn render(d: &Data) -> String {
    let mut out = String::new();
    let has_wrapped = d.variants.iter().any(|v| {
        v.strip_prefix("leakscope_")
            .is_some_and(|inner| d.variants.iter().any(|x| x == inner))
    });
    for (time, what) in [
        (Metric::Wall, "wall-clock time"),
        (Metric::Cpu, "CPU time of the workload threads"),
    ] {
        let _ = writeln!(
            out,
            "### Ratio to bare System, {what} (median over {} rounds, min–max in brackets)\n",
            d.rounds
        );
        ratio_table(&mut out, d, time, false);
        if has_wrapped {
            let _ = writeln!(
                out,
                "\nleakscope over another inner allocator, against that allocator bare ({what}):\n"
            );
            ratio_table(&mut out, d, time, true);
        }
        out.push('\n');
    }
    for (time, what) in [(Metric::Wall, "wall-clock"), (Metric::Cpu, "CPU")] {
        let _ = writeln!(
            out,
            "### Median {what} ns/op (min–max across rounds) and cache peak RSS\n"
        );
        ns_table(&mut out, d, time);
        out.push('\n');
    }

    // docs/design.md §12's targets, for leakscope with a scope on every operation.
    let me = "leakscope_scoped";
    if !d.variants.iter().any(|v| v == me) {
        return out;
    }
    out.push_str(
        "### docs/design.md §12 targets (leakscope_scoped: a scope on every operation, \
         stack sampling every 512 KiB, the collector running)\n\n",
    );
    out.push_str("| target | wall | CPU | met (wall / CPU) |\n|---|---|---|---|\n");
    let base = "system";
    let churn = |m| d.ratio(me, base, "churn", m);
    let churn2t = |m| d.ratio(me, base, "churn2t", m);
    let xthread = |m| d.ratio(me, base, "xthread", m);
    let rss = |_| d.ratio(me, base, "cache", Metric::Rss);
    let dhat = |m| d.ratio("dhat", me, "churn2t", m);
    let stats_alloc = |m| d.ratio("stats_alloc", me, "churn2t", m);
    let scaling = |m| churn2t(m).zip(churn(m)).map(|(a, b)| a / b);
    let targets: [Target; 7] = [
        ("churn ≤ 1.05× System", &churn, 1.05, true),
        ("churn2t ≤ 1.05× System", &churn2t, 1.05, true),
        ("xthread ≤ 1.10× System", &xthread, 1.10, true),
        ("cache peak RSS ≤ 1.02× System", &rss, 1.02, true),
        ("churn2t: dhat ÷ leakscope ≥ 30", &dhat, 30.0, false),
        (
            "churn2t: stats_alloc ÷ leakscope ≥ 2.5",
            &stats_alloc,
            2.5,
            false,
        ),
        (
            "churn2t ratio ÷ churn ratio ≤ 1 (threads cost nothing extra)",
            &scaling,
            1.0,
            true,
        ),
    ];
    for (name, value, bound, upper) in targets {
        let mut cells = Vec::new();
        let mut met = Vec::new();
        for m in [Metric::Wall, Metric::Cpu] {
            match value(m) {
                Some(x) => {
                    cells.push(format!("{x:.2}×"));
                    let ok = if upper { x <= bound } else { x >= bound };
                    met.push(if ok { "yes" } else { "**no**" });
                }
                None => {
                    cells.push("–".into());
                    met.push("–");
                }
            }
        }
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} / {} |",
            cells[0], cells[1], met[0], met[1]
        );
    }
    out
}

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: overhead-report RESULTS.tsv");
        std::process::exit(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("overhead-report: cannot read {path}: {e}");
            std::process::exit(2);
        }
    };
    let data = parse(&text);
    if data.variants.is_empty() {
        eprintln!("overhead-report: no result lines in {path}");
        std::process::exit(2);
    }
    print!("{}", render(&data));
}
