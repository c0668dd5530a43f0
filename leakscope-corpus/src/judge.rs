//! The judge: runs a case through the replay `leakscope analyze` runs and compares the leak
//! events with the label.
//!
//! [`run`] calls [`leakscope::analysis::replay_series_with`] (and [`leakscope::analysis::replay_process_with`] for
//! the process cases): the detectors after every snapshot over the history the collector would
//! hold, feeding one [`leakscope::analysis::LeakTracker`], as live. [`judge`] reads the events:
//!
//! - an *alarm* is a new GradualGrowth, RapidGrowth, CacheBloat or Fragmentation leak, or a
//!   PeriodicSpike above Low or with rising minima. On a healthy case every alarm is a false
//!   alarm, except one RapidGrowth that states it settled (the word "settled" in its summary at
//!   any event) on a step family (a preload, a table doubling) and a Low PeriodicSpike on a flat batch job. On a leak, an
//!   alarm before the leak starts is a false alarm. SustainedHigh is a capacity notice, never an
//!   alarm; it counts as finding a leak only at Medium or above.
//! - *found*: the first alarm after the start (a new one, or a notice whose severity change
//!   makes it one), or a SustainedHigh at Medium and above;
//!   *typed*: the first such onset (a new leak, or a notice turning into an alarm) of an
//!   accepted type; its latency is judged against the case's deadline ([`Truth::Leak`]).
//! - *openings*: onsets of accepted types after the start; the target is one per type.
//! - *severity flaps*: severity changes of one leak that reverse the one before.
//! - *time to budget*: the first `time_to_budget_secs` the typed leak states (at its detection,
//!   or at a later report of it when the first makes no projection: a step that settled) over
//!   the true time left at that report; the target is within 2× either way, and detection before
//!   the budget is reached.
//! - *call sites*: the typed leak's last state still carries the case's call site, and its
//!   recommendations do not ask for stack sampling.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};

use leakscope::analysis::{replay_process_with, replay_series_with, DetectorConfig, LeakTracker};
use leakscope::{leaks::LeakEvent, leaks::LeakSeverity, leaks::LeakType, Leak};

use crate::production::{Case, Family, Truth};

/// One lifecycle event of a replay, reduced to what the judge reads.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Snapshot time of the run that raised it (seconds).
    pub t: f64,
    /// [`LeakEvent::kind`]: `new`, `severity_changed`, `resolved` or `stepped_again`.
    pub what: &'static str,
    /// The leak's id in its replay (scope and process replays number separately).
    pub id: (bool, u64),
    /// The leak's type.
    pub ty: LeakType,
    /// Its severity after the event.
    pub severity: LeakSeverity,
    /// Whether it is an alarm (see the module docs).
    pub alarm: bool,
    /// Whether its summary says it settled.
    pub settled: bool,
    /// Its summary.
    pub summary: String,
}

fn rising(l: &Leak) -> bool {
    l.finding
        .statistics
        .iter()
        .any(|s| s.name == "minima_rising" && s.value > 0.0)
}

fn is_alarm(l: &Leak) -> bool {
    match l.finding.leak_type {
        LeakType::SustainedHigh => false,
        LeakType::PeriodicSpike => l.finding.severity > LeakSeverity::Low || rising(l),
        _ => true,
    }
}

fn event(process: bool, t: f64, e: &LeakEvent) -> Event {
    let l = e.leak();
    Event {
        t,
        what: e.kind(),
        id: (process, l.id),
        ty: l.finding.leak_type,
        severity: l.finding.severity,
        alarm: is_alarm(l),
        settled: l.finding.summary.to_lowercase().contains("settled"),
        summary: l.finding.summary.clone(),
    }
}

/// What a replay of a case produced.
#[derive(Clone, Debug)]
pub struct Run {
    /// Every event, in time order.
    pub events: Vec<Event>,
    /// Every leak in its last state (scope replay first, then the process replay).
    pub leaks: Vec<(bool, Leak)>,
    /// Time to budget each report (a new leak or a severity change) stated, in time order.
    pub ttb_reports: TtbReports,
}

/// Time to budget stated by a report of a leak: (leak id, report time, time to budget).
type TtbReports = Vec<((bool, u64), f64, Option<f64>)>;

fn record(process: bool, t: f64, e: LeakEvent, events: &mut Vec<Event>, ttb: &mut TtbReports) {
    if !matches!(e, LeakEvent::Resolved(_)) {
        let l = e.leak();
        ttb.push(((process, l.id), t, l.finding.time_to_budget_secs));
    }
    events.push(event(process, t, &e));
}

/// Replays `case` as `leakscope analyze` would.
pub fn run(case: &Case) -> Run {
    let mut events = Vec::new();
    let mut ttb_reports = Vec::new();
    let mut leaks = Vec::new();
    let config = DetectorConfig::from(&case.config);
    let tracker: LeakTracker =
        replay_series_with(&case.name, &case.series, &config, &case.sites, |t, e| {
            record(false, t, e, &mut events, &mut ttb_reports)
        })
        .expect("generated series are valid");
    leaks.extend(tracker.all_leaks().into_iter().map(|l| (false, l)));
    if !case.process.is_empty() {
        let tracker = replay_process_with(&case.process, &config, |t, e| {
            record(true, t, e, &mut events, &mut ttb_reports)
        })
        .expect("generated series are valid");
        leaks.extend(tracker.all_leaks().into_iter().map(|l| (true, l)));
    }
    events.sort_by(|a, b| a.t.total_cmp(&b.t));
    Run {
        events,
        leaks,
        ttb_reports,
    }
}

/// How a case's replay compares with its label.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// The case's name.
    pub name: String,
    /// Its family.
    pub family: Family,
    /// Whether it leaks.
    pub is_leak: bool,
    /// Simulated seconds.
    pub duration_secs: f64,
    /// False alarms (see the module docs).
    pub false_alarms: Vec<Event>,
    /// Seconds from the leak's start to its first report of any alarm type.
    pub found_after: Option<f64>,
    /// Seconds from the leak's start to its first new leak of an accepted type.
    pub typed_after: Option<f64>,
    /// The deadline for `typed_after` (seconds).
    pub deadline: Option<f64>,
    /// New leaks of alarm types after the start.
    pub openings: usize,
    /// The most new leaks of one accepted type.
    pub openings_per_type: usize,
    /// Severity changes of the leaks after the start.
    pub severity_changes: usize,
    /// Severity changes that reverse the one before.
    pub severity_flaps: usize,
    /// Reported over true time to budget at the typed leak's first projection (a budget set).
    pub ttb_ratio: Option<f64>,
    /// With a budget: whether the typed detection came before the budget was reached.
    pub before_budget: Option<bool>,
    /// With call sites: whether the typed leak kept them with useful advice to the end.
    pub sites_kept: Option<bool>,
    /// The targets this case misses, one line each (empty: it meets them).
    pub failures: Vec<String>,
    /// Every event, for a verbose listing.
    pub events: Vec<Event>,
}

fn minutes(secs: f64) -> String {
    format!("{:.1} min", secs / 60.0)
}

/// Judges `run` (of `case`) against the label.
pub fn judge(case: &Case, run: &Run) -> Verdict {
    let mut v = Verdict {
        name: case.name.clone(),
        family: case.family,
        is_leak: case.is_leak(),
        duration_secs: case.duration_secs(),
        false_alarms: Vec::new(),
        found_after: None,
        typed_after: None,
        deadline: None,
        openings: 0,
        openings_per_type: 0,
        severity_changes: 0,
        severity_flaps: 0,
        ttb_ratio: None,
        before_budget: None,
        sites_kept: None,
        failures: Vec::new(),
        events: run.events.clone(),
    };
    let news = run.events.iter().filter(|e| e.what == "new");
    match &case.truth {
        Truth::Healthy {
            settled_step,
            low_periodic,
        } => {
            let mut settled_used = None;
            for e in news {
                let settled = run.events.iter().any(|x| x.id == e.id && x.settled);
                if e.ty == LeakType::RapidGrowth
                    && *settled_step
                    && settled
                    && settled_used.is_none()
                {
                    settled_used = Some(e.id);
                    continue;
                }
                if e.alarm {
                    v.false_alarms.push(e.clone());
                }
            }
            // The allowed step may not turn into growth: a later report of it that no longer
            // says it settled is an alarm of its own.
            if let Some(id) = settled_used {
                if let Some(e) = run
                    .events
                    .iter()
                    .find(|e| e.id == id && e.what != "resolved" && !e.settled)
                {
                    v.false_alarms.push(e.clone());
                }
            }
            // A notice may not rise into an alarm either: a flat batch job's PeriodicSpike
            // raised above Low, or a rising-minima verdict, is a false alarm.
            for e in run
                .events
                .iter()
                .filter(|e| e.what == "severity_changed" && e.alarm)
            {
                let opened_as_alarm = v.false_alarms.iter().any(|a| a.id == e.id);
                if !opened_as_alarm && e.ty == LeakType::PeriodicSpike {
                    v.false_alarms.push(e.clone());
                }
            }
            let _ = low_periodic;
            for e in &v.false_alarms {
                v.failures.push(format!(
                    "false alarm at {}: {:?} {:?}: {}",
                    minutes(e.t),
                    e.ty,
                    e.severity,
                    e.summary
                ));
            }
        }
        Truth::Leak {
            start_secs,
            accept,
            deadline_secs,
            budget_reached_secs,
            ..
        } => {
            let start = *start_secs;
            v.deadline = Some(*deadline_secs);
            let mut typed: Option<&Event> = None;
            let mut per_type = std::collections::BTreeMap::new();
            // A notice that turns into an alarm (a PeriodicSpike whose minima start rising) finds
            // the leak when it turns, as a new alarm would.
            let mut alarmed = std::collections::BTreeSet::new();
            let onsets = run.events.iter().filter(|e| {
                // An id names a scope and type, not one opening: a resolved leak's id returns.
                if e.what == "resolved" {
                    alarmed.remove(&e.id);
                    return false;
                }
                let onset = e.what == "new" || (e.alarm && !alarmed.contains(&e.id));
                if e.alarm {
                    alarmed.insert(e.id);
                }
                onset
            });
            for e in onsets {
                if e.t < start {
                    if e.alarm {
                        v.false_alarms.push(e.clone());
                    }
                    continue;
                }
                let finds = e.alarm || e.severity >= LeakSeverity::Medium;
                if finds && v.found_after.is_none() {
                    v.found_after = Some(e.t - start);
                }
                if e.alarm {
                    v.openings += 1;
                }
                if accept.contains(&e.ty) && (e.ty != LeakType::PeriodicSpike || e.alarm) {
                    *per_type.entry(e.ty).or_insert(0usize) += 1;
                    if typed.is_none() {
                        typed = Some(e);
                        v.typed_after = Some(e.t - start);
                    }
                }
            }
            v.openings_per_type = per_type.values().copied().max().unwrap_or(0);
            // Severity changes, and reversals, per leak after the start.
            let mut last_dir: std::collections::BTreeMap<(bool, u64), (LeakSeverity, i8)> =
                std::collections::BTreeMap::new();
            for e in run.events.iter().filter(|e| e.t >= start) {
                match e.what {
                    "new" => {
                        last_dir.insert(e.id, (e.severity, 0));
                    }
                    "severity_changed" => {
                        v.severity_changes += 1;
                        if let Some((sev, dir)) = last_dir.get_mut(&e.id) {
                            let d = if e.severity > *sev { 1 } else { -1 };
                            if *dir != 0 && d != *dir {
                                v.severity_flaps += 1;
                            }
                            *sev = e.severity;
                            *dir = d;
                        }
                    }
                    _ => {}
                }
            }
            for e in &v.false_alarms {
                v.failures.push(format!(
                    "false alarm before the leak, at {}: {:?} {:?}: {}",
                    minutes(e.t),
                    e.ty,
                    e.severity,
                    e.summary
                ));
            }
            match typed {
                None => v.failures.push(format!(
                    "not found as {:?} in {} (found as anything: {})",
                    accept,
                    minutes(case.duration_secs() - start),
                    v.found_after.map_or("no".into(), minutes)
                )),
                Some(e) => {
                    if e.t - start > *deadline_secs {
                        v.failures.push(format!(
                            "found after {}, deadline {}",
                            minutes(e.t - start),
                            minutes(*deadline_secs)
                        ));
                    }
                    if let Some(reached) = budget_reached_secs {
                        let found_before = reached - e.t;
                        v.before_budget = Some(found_before > 0.0);
                        // The first projection the leak states, from its detection on: a first
                        // report that makes none (a step that settled) is judged by the first
                        // one that does, against the truth at that report.
                        let reported = run
                            .ttb_reports
                            .iter()
                            .find(|(id, t, ttb)| *id == e.id && *t >= e.t && ttb.is_some())
                            .and_then(|&(_, t, ttb)| Some((ttb?, reached - t)));
                        v.ttb_ratio = reported
                            .filter(|&(_, truth)| truth > 0.0)
                            .map(|(r, truth)| r / truth.max(INTERVAL_FLOOR));
                        if found_before <= 0.0 {
                            v.failures.push(format!(
                                "found {} after the budget was reached",
                                minutes(-found_before)
                            ));
                        } else if !v.ttb_ratio.is_some_and(|r| (0.5..=2.0).contains(&r)) {
                            v.failures.push(match reported {
                                Some((r, truth)) => format!(
                                    "time to budget {} at its first projection, truth {}",
                                    minutes(r),
                                    minutes(truth)
                                ),
                                None => format!(
                                    "no time to budget projected (found {} before the budget)",
                                    minutes(found_before)
                                ),
                            });
                        }
                    }
                    // Process leaks have no call sites: only a scope's leak is checked.
                    if !case.sites.is_empty() && !e.id.0 {
                        let last = run.leaks.iter().find(|(p, l)| (*p, l.id) == e.id);
                        let kept = last.is_some_and(|(_, l)| {
                            !l.finding.top_sites.is_empty()
                                && !l
                                    .finding
                                    .recommendations
                                    .iter()
                                    .any(|r| r.to_lowercase().contains("enable stack"))
                        });
                        v.sites_kept = Some(kept);
                        if !kept {
                            v.failures
                                .push("the leak lost its call sites by the end".to_owned());
                        }
                    }
                }
            }
            if v.openings_per_type > 1 {
                v.failures.push(format!(
                    "opened {} times as one type ({} openings in all)",
                    v.openings_per_type, v.openings
                ));
            }
            if v.severity_flaps > 0 {
                v.failures.push(format!(
                    "severity reversed {} times ({} changes)",
                    v.severity_flaps, v.severity_changes
                ));
            }
        }
    }
    v
}

/// The smallest true time to budget a ratio is taken against (one snapshot interval).
const INTERVAL_FLOOR: f64 = crate::production::INTERVAL;

/// Which cases to run: families whose name contains one of `families` (all when empty), and
/// the seeds in `seeds`.
#[derive(Clone, Debug)]
pub struct Filter {
    /// Substrings of family names; empty: every family.
    pub families: Vec<String>,
    /// Seeds to run.
    pub seeds: Vec<u64>,
}

impl Filter {
    /// Every family at seeds `0..seeds`.
    pub fn all(seeds: u64) -> Filter {
        Filter {
            families: Vec::new(),
            seeds: (0..seeds).collect(),
        }
    }

    /// The filter from `LEAKSCOPE_CORPUS_FAMILY` (comma-separated substrings of family names,
    /// or exact names with a trailing `$`) and `LEAKSCOPE_CORPUS_SEEDS` (`N` for `0..N`, `A..B`,
    /// or a comma-separated list), defaulting to every family at `default_seeds` seeds.
    ///
    /// # Errors
    /// A message naming the variable when a seed list does not parse.
    pub fn from_env(default_seeds: u64) -> Result<Filter, String> {
        let mut f = Filter::all(default_seeds);
        if let Ok(v) = std::env::var("LEAKSCOPE_CORPUS_FAMILY") {
            f.families = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if let Ok(v) = std::env::var("LEAKSCOPE_CORPUS_SEEDS") {
            f.seeds = parse_seeds(&v)
                .ok_or_else(|| format!("LEAKSCOPE_CORPUS_SEEDS={v:?}: want N, A..B or a,b,c"))?;
        }
        Ok(f)
    }

    /// Whether `family` passes.
    pub fn admits(&self, family: Family) -> bool {
        self.families.is_empty()
            || self.families.iter().any(|p| match p.strip_suffix('$') {
                Some(exact) => family.name() == exact,
                None => family.name().contains(p.as_str()),
            })
    }

    /// The cases it selects, in family order.
    pub fn cases(&self) -> Vec<(Family, u64)> {
        Family::ALL
            .iter()
            .filter(|f| self.admits(**f))
            .flat_map(|&f| f.seeds(&self.seeds).iter().map(move |&s| (f, s)))
            .collect()
    }
}

fn parse_seeds(v: &str) -> Option<Vec<u64>> {
    let v = v.trim();
    if let Some((a, b)) = v.split_once("..") {
        let (a, b): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        return Some((a..b).collect());
    }
    if v.contains(',') {
        return v.split(',').map(|s| s.trim().parse().ok()).collect();
    }
    Some((0..v.parse().ok()?).collect())
}

/// Generates, replays and judges every `(family, seed)` on `threads` threads; verdicts come
/// back in the order given.
pub fn judge_all(cases: &[(Family, u64)], threads: usize) -> Vec<Verdict> {
    let next = AtomicUsize::new(0);
    let mut out: Vec<(usize, Verdict)> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                sc.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&(family, seed)) = cases.get(i) else {
                            break;
                        };
                        let case = family.case(seed);
                        mine.push((i, judge(&case, &run(&case))));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a judge thread panicked"))
            .collect()
    });
    out.sort_by_key(|x| x.0);
    out.into_iter().map(|x| x.1).collect()
}

/// One family's row of the table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    /// Cases.
    pub cases: usize,
    /// False alarms (events).
    pub false_alarms: usize,
    /// Cases with at least one false alarm.
    pub cases_alarmed: usize,
    /// Leak cases.
    pub leaks: usize,
    /// Leaks found (any alarm type).
    pub found: usize,
    /// Leaks found with an accepted type.
    pub typed: usize,
    /// Leaks found with an accepted type within their deadline.
    pub in_time: usize,
    /// Latencies of the typed detections (minutes).
    pub latencies: Vec<f64>,
    /// New alarm leaks after the start, summed over leaks.
    pub openings: usize,
    /// Severity changes, summed over leaks.
    pub severity_changes: usize,
    /// Budgeted leaks whose first time to budget was within 2×.
    pub ttb_ok: usize,
    /// Budgeted leaks.
    pub budgeted: usize,
    /// Cases that meet every target.
    pub pass: usize,
}

impl Row {
    /// Aggregates `verdicts`.
    pub fn of<'a>(verdicts: impl IntoIterator<Item = &'a Verdict>) -> Row {
        let mut r = Row::default();
        for v in verdicts {
            r.cases += 1;
            r.false_alarms += v.false_alarms.len();
            r.cases_alarmed += usize::from(!v.false_alarms.is_empty());
            r.pass += usize::from(v.failures.is_empty());
            if !v.is_leak {
                continue;
            }
            r.leaks += 1;
            r.found += usize::from(v.found_after.is_some());
            if let Some(t) = v.typed_after {
                r.typed += 1;
                r.latencies.push(t / 60.0);
                r.in_time += usize::from(v.deadline.is_some_and(|d| t <= d));
            }
            r.openings += v.openings;
            r.severity_changes += v.severity_changes;
            if v.before_budget.is_some() || v.ttb_ratio.is_some() {
                r.budgeted += 1;
                r.ttb_ok += usize::from(
                    v.before_budget == Some(true)
                        && v.ttb_ratio.is_some_and(|x| (0.5..=2.0).contains(&x)),
                );
            }
        }
        r.latencies.sort_by(f64::total_cmp);
        r
    }
}

/// The table: one row per family, then the healthy, leak and overall totals.
pub fn table(verdicts: &[Verdict]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<19} {:>5} {:>6} {:>6} {:>7} {:>7} {:>7} {:>8} {:>8} {:>6} {:>5} {:>6} {:>5}",
        "family",
        "cases",
        "FA",
        "FAcase",
        "recall",
        "typed",
        "ontime",
        "p50 min",
        "max min",
        "open/l",
        "sev/l",
        "ttb ok",
        "pass"
    );
    let pct = |a: usize, b: usize| {
        if b == 0 {
            "-".to_owned()
        } else {
            format!("{:.0}%", 100.0 * a as f64 / b as f64)
        }
    };
    let row = |name: &str, r: &Row| {
        let lat = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1}"));
        let per = |x: usize| {
            if r.leaks == 0 {
                "-".to_owned()
            } else {
                format!("{:.2}", x as f64 / r.leaks as f64)
            }
        };
        format!(
            "{:<19} {:>5} {:>6} {:>6} {:>7} {:>7} {:>7} {:>8} {:>8} {:>6} {:>5} {:>6} {:>5}\n",
            name,
            r.cases,
            r.false_alarms,
            r.cases_alarmed,
            pct(r.found, r.leaks),
            pct(r.typed, r.leaks),
            pct(r.in_time, r.leaks),
            lat(crate::median(&r.latencies)),
            lat(r.latencies.last().copied()),
            per(r.openings),
            per(r.severity_changes),
            if r.budgeted == 0 {
                "-".to_owned()
            } else {
                format!("{}/{}", r.ttb_ok, r.budgeted)
            },
            format!("{}/{}", r.pass, r.cases),
        )
    };
    for &f in Family::ALL {
        let group: Vec<&Verdict> = verdicts.iter().filter(|v| v.family == f).collect();
        if !group.is_empty() {
            out.push_str(&row(f.name(), &Row::of(group)));
        }
    }
    out.push_str(&row(
        "all healthy",
        &Row::of(verdicts.iter().filter(|v| !v.is_leak)),
    ));
    out.push_str(&row(
        "all leaks",
        &Row::of(verdicts.iter().filter(|v| v.is_leak)),
    ));
    out.push_str(&row("all", &Row::of(verdicts)));
    out
}
