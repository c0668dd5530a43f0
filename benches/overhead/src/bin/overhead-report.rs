//! Turns the result lines of `scripts/bench-overhead.sh` into the markdown tables of
//! benches/README.md. Not a variant: it installs no allocator of its own.
//!
//! Input, one line per run: `round variant workload ops ns_per_op vm_hwm_kib extra` (tabs).
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

#[derive(Default)]
struct Cell {
    /// round -> ns/op
    ns: BTreeMap<u32, f64>,
    /// round -> peak RSS (KiB)
    hwm: BTreeMap<u32, f64>,
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

    /// Per-round ratios of `variant` to `base` on `workload`, time or RSS.
    fn ratios(&self, variant: &str, base: &str, workload: &str, rss: bool) -> Vec<f64> {
        let (Some(v), Some(b)) = (self.cell(variant, workload), self.cell(base, workload)) else {
            return Vec::new();
        };
        let (vm, bm) = if rss {
            (&v.hwm, &b.hwm)
        } else {
            (&v.ns, &b.ns)
        };
        vm.iter()
            .filter_map(|(r, x)| bm.get(r).filter(|y| **y > 0.0).map(|y| x / y))
            .collect()
    }

    fn ratio(&self, variant: &str, base: &str, workload: &str, rss: bool) -> Option<f64> {
        stats(self.ratios(variant, base, workload, rss)).map(|s| s.0)
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
        if f.len() < 6 {
            continue;
        }
        let (Ok(round), Ok(ns), Ok(hwm)) = (
            f[0].parse::<u32>(),
            f[4].parse::<f64>(),
            f[5].parse::<f64>(),
        ) else {
            continue;
        };
        rounds = rounds.max(round);
        if !seen.iter().any(|v| v == f[1]) {
            seen.push(f[1].to_string());
        }
        let c = cells.entry((f[1].into(), f[2].into())).or_default();
        c.ns.insert(round, ns);
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

fn render(d: &Data) -> String {
    let mut out = String::new();
    let base = "system";
    let _ = writeln!(
        out,
        "### Ratio to bare System (median over {} rounds, min–max in brackets)\n",
        d.rounds
    );
    out.push_str("| variant |");
    for (_, h) in COLUMNS {
        let _ = write!(out, " {h} |");
    }
    out.push_str(" cache RSS |\n|---|");
    out.push_str(&"---|".repeat(COLUMNS.len() + 1));
    out.push('\n');
    for v in &d.variants {
        let _ = write!(out, "| {v} |");
        for (w, _) in COLUMNS {
            let _ = write!(out, " {} |", ratio_cell(stats(d.ratios(v, base, w, false))));
        }
        let _ = writeln!(
            out,
            " {} |",
            ratio_cell(stats(d.ratios(v, base, "cache", true)))
        );
    }

    // leakscope over another inner allocator, against that allocator bare.
    let wrapped: Vec<(&String, &str)> = d
        .variants
        .iter()
        .filter_map(|v| {
            let inner = v.strip_prefix("leakscope_")?;
            d.variants.iter().any(|x| x == inner).then_some((v, inner))
        })
        .collect();
    if !wrapped.is_empty() {
        out.push_str(
            "\n### leakscope over another inner allocator, as a ratio to that allocator bare\n\n",
        );
        out.push_str("| variant | churn | churn2t | xthread | cache time | cache RSS |\n");
        out.push_str("|---|---|---|---|---|---|\n");
        for (v, inner) in wrapped {
            let _ = write!(out, "| {v} / {inner} |");
            for (w, _) in COLUMNS {
                let _ = write!(
                    out,
                    " {} |",
                    ratio_cell(stats(d.ratios(v, inner, w, false)))
                );
            }
            let _ = writeln!(
                out,
                " {} |",
                ratio_cell(stats(d.ratios(v, inner, "cache", true)))
            );
        }
    }

    out.push_str("\n### Median ns/op (min–max across rounds) and cache peak RSS\n\n");
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
                .and_then(|c| stats(c.ns.values().copied().collect()));
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
            Some((m, lo, hi)) if lo == hi => {
                let _ = writeln!(out, " {:.2} |", m / 1024.0);
            }
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

    // SPEC 12's targets, for leakscope with a scope on every operation.
    let me = "leakscope_scoped";
    if d.variants.iter().any(|v| v == me) {
        out.push_str("\n### SPEC 12 targets (leakscope_scoped; sampling not measured yet)\n\n");
        out.push_str("| target | measured | met |\n|---|---|---|\n");
        let mut check = |name: &str, value: Option<f64>, ok: &dyn Fn(f64) -> bool| {
            let (shown, met) = match value {
                Some(x) => (format!("{x:.2}×"), if ok(x) { "yes" } else { "**no**" }),
                None => ("–".to_string(), "–"),
            };
            let _ = writeln!(out, "| {name} | {shown} | {met} |");
        };
        check(
            "churn ≤ 1.05× System",
            d.ratio(me, base, "churn", false),
            &|x| x <= 1.05,
        );
        check(
            "churn2t ≤ 1.05× System",
            d.ratio(me, base, "churn2t", false),
            &|x| x <= 1.05,
        );
        check(
            "xthread ≤ 1.10× System",
            d.ratio(me, base, "xthread", false),
            &|x| x <= 1.10,
        );
        check(
            "cache peak RSS ≤ 1.02× System",
            d.ratio(me, base, "cache", true),
            &|x| x <= 1.02,
        );
        check(
            "churn2t: dhat ÷ leakscope ≥ 30×",
            d.ratio("dhat", me, "churn2t", false),
            &|x| x >= 30.0,
        );
        check(
            "churn2t: stats_alloc ÷ leakscope ≥ 2.5×",
            d.ratio("stats_alloc", me, "churn2t", false),
            &|x| x >= 2.5,
        );
        check(
            "churn2t no worse than churn (churn2t ratio ÷ churn ratio ≤ 1)",
            d.ratio(me, base, "churn2t", false)
                .zip(d.ratio(me, base, "churn", false))
                .map(|(a, b)| a / b),
            &|x| x <= 1.0,
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
