//! The leak lifecycle (SPEC 7): findings that hold become leaks, leaks that stop holding resolve.
//!
//! After Chrome's LeakDetector, which reports only after consecutive suspicion: a finding opens a
//! [`Leak`] once it holds on 2 consecutive runs; while it holds the leak is updated (severity
//! changes are reported); after `leak_resolve_after_runs` consecutive runs without it, the leak
//! is resolved; and the same (scope, type) is not raised again within a cooldown — the
//! detector's own window (the rapid window for rapid growth, the detection window otherwise), so
//! a finding flickering at its threshold does not page anyone twice. One open leak per (scope,
//! type). Time is the snapshot time the collector passes in, never a clock.
//!
//! **Invariant:** open leaks live in a `BTreeMap` keyed by (scope, type), so every listing is
//! sorted the same way whatever the order scopes were observed in.

use std::collections::{BTreeMap, VecDeque};

use super::Finding;
use crate::config::Config;
use crate::leak::{Leak, LeakCheck, LeakSeverity, LeakStatus, LeakType};

/// Consecutive runs a finding must hold before it is reported.
const RAISE_AFTER_RUNS: u32 = 2;
/// Resolved leaks kept for the dump and the report; the oldest are dropped first.
pub(crate) const MAX_RESOLVED: usize = 256;

/// What changed on one run, for the `on_leak` hooks.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum LeakEvent {
    /// A finding held long enough: a new open leak.
    New(Leak),
    /// An open leak's severity changed (up or down); `from` is the previous severity.
    SeverityChanged {
        /// The leak as it is now.
        leak: Leak,
        /// Its severity before this run.
        from: LeakSeverity,
    },
    /// The leak's detector stopped firing for `leak_resolve_after_runs` runs.
    Resolved(Leak),
}

impl LeakEvent {
    /// The leak the event is about.
    pub fn leak(&self) -> &Leak {
        match self {
            LeakEvent::New(l) | LeakEvent::Resolved(l) => l,
            LeakEvent::SeverityChanged { leak, .. } => leak,
        }
    }

    /// Whether the event raised the severity (a new leak counts as raised).
    pub fn is_escalation(&self) -> bool {
        match self {
            LeakEvent::New(_) => true,
            LeakEvent::SeverityChanged { leak, from } => leak.severity > *from,
            LeakEvent::Resolved(_) => false,
        }
    }
}

#[derive(Clone, Debug)]
struct Slot {
    /// Consecutive runs the finding held while no leak is open.
    hits: u32,
    /// The open leak, if any.
    open: Option<Leak>,
    /// Consecutive runs the open leak's finding did not hold.
    misses: u32,
    /// No new leak before this time.
    quiet_until: f64,
}

/// The lifecycle state of every (scope, leak type). The collector calls [`LeakTracker::observe`]
/// once per scope after each detection run.
#[derive(Clone, Debug)]
pub struct LeakTracker {
    slots: BTreeMap<(String, LeakType), Slot>,
    resolved: VecDeque<Leak>,
    next_id: u64,
    resolve_after: u32,
    cooldown_secs: f64,
    rapid_cooldown_secs: f64,
}

impl LeakTracker {
    /// A tracker with the resolve count and cooldowns derived from `config`.
    pub fn new(config: &Config) -> Self {
        let minutes = |m: f64| {
            if m.is_finite() && m > 0.0 {
                m * 60.0
            } else {
                0.0
            }
        };
        LeakTracker {
            slots: BTreeMap::new(),
            resolved: VecDeque::new(),
            next_id: 1,
            resolve_after: config.leak_resolve_after_runs.max(1),
            cooldown_secs: minutes(config.detection_window_minutes),
            rapid_cooldown_secs: minutes(config.rapid_growth_window_minutes),
        }
    }

    fn cooldown(&self, ty: LeakType) -> f64 {
        if ty == LeakType::RapidGrowth {
            self.rapid_cooldown_secs
        } else {
            self.cooldown_secs
        }
    }

    /// Records one detection run over `scope` at snapshot time `t` with its `findings` (those of
    /// other scopes are ignored) and returns what changed, ordered by leak type. A (scope, type)
    /// without a finding in `findings` counts as a miss.
    pub fn observe(&mut self, scope: &str, t: f64, findings: Vec<Finding>) -> Vec<LeakEvent> {
        let mut events = Vec::new();
        let mut by_type: BTreeMap<LeakType, Finding> = BTreeMap::new();
        for f in findings {
            if f.scope == scope {
                // Two findings of one type in a run cannot happen with the built-in detectors;
                // keep the more severe one if a caller merges runs.
                match by_type.get(&f.leak_type) {
                    Some(old) if old.severity >= f.severity => {}
                    _ => {
                        by_type.insert(f.leak_type, f);
                    }
                }
            }
        }
        // Misses first, for every slot of this scope without a finding this run.
        let keys: Vec<(String, LeakType)> = self
            .slots
            .range((scope.to_owned(), LeakType::GradualGrowth)..)
            .take_while(|(k, _)| k.0 == scope)
            .map(|(k, _)| k.clone())
            .filter(|k| !by_type.contains_key(&k.1))
            .collect();
        let mut to_resolve = Vec::new();
        for key in keys {
            let resolve_after = self.resolve_after;
            let Some(slot) = self.slots.get_mut(&key) else {
                continue;
            };
            slot.hits = 0;
            if slot.open.is_some() {
                slot.misses += 1;
                if slot.misses >= resolve_after {
                    to_resolve.push(key);
                }
            }
        }
        for (ty, f) in by_type {
            let key = (scope.to_owned(), ty);
            let slot = self.slots.entry(key.clone()).or_insert(Slot {
                hits: 0,
                open: None,
                misses: 0,
                quiet_until: f64::NEG_INFINITY,
            });
            if let Some(leak) = slot.open.as_mut() {
                // An open leak holds on any finding, the hysteresis band included.
                slot.misses = 0;
                let from = leak.severity;
                update(leak, f, t);
                if leak.severity != from {
                    events.push(LeakEvent::SeverityChanged {
                        leak: leak.clone(),
                        from,
                    });
                }
                continue;
            }
            if f.hold_only || t < slot.quiet_until {
                slot.hits = 0;
                continue;
            }
            slot.hits += 1;
            if slot.hits >= RAISE_AFTER_RUNS {
                let leak = open(self.next_id, f, t);
                self.next_id += 1;
                slot.hits = 0;
                slot.misses = 0;
                slot.open = Some(leak.clone());
                events.push(LeakEvent::New(leak));
            }
        }
        for key in to_resolve {
            let cooldown = self.cooldown(key.1);
            if let Some(slot) = self.slots.get_mut(&key) {
                if let Some(mut leak) = slot.open.take() {
                    leak.status = LeakStatus::Resolved;
                    leak.resolved_at = Some(t);
                    slot.misses = 0;
                    slot.quiet_until = t + cooldown;
                    events.push(LeakEvent::Resolved(leak.clone()));
                    self.resolved.push_back(leak);
                    while self.resolved.len() > MAX_RESOLVED {
                        self.resolved.pop_front();
                    }
                }
            }
        }
        events.sort_by_key(|e| e.leak().leak_type);
        events
    }

    /// The open leaks, sorted by scope and then leak type.
    pub fn open_leaks(&self) -> Vec<&Leak> {
        self.slots
            .values()
            .filter_map(|s| s.open.as_ref())
            .collect()
    }

    /// The most recent resolved leaks (at most 256), oldest first.
    pub fn resolved_leaks(&self) -> impl Iterator<Item = &Leak> {
        self.resolved.iter()
    }

    /// The open leaks of `scope`, most severe first: the answer of `check_leaks(name)`.
    pub fn check(&self, scope: &str) -> LeakCheck {
        let mut leaks: Vec<Leak> = self
            .slots
            .iter()
            .filter(|((s, _), _)| s == scope)
            .filter_map(|(_, slot)| slot.open.clone())
            .collect();
        leaks.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(a.leak_type.cmp(&b.leak_type))
        });
        LeakCheck {
            leak_count: leaks.len(),
            leaks,
        }
    }

    /// Every leak still known, open or resolved, in the order they were raised (by id).
    pub fn all_leaks(&self) -> Vec<Leak> {
        let mut all: Vec<Leak> = self
            .resolved
            .iter()
            .cloned()
            .chain(self.slots.values().filter_map(|s| s.open.clone()))
            .collect();
        all.sort_by_key(|l| l.id);
        all
    }
}

fn open(id: u64, f: Finding, t: f64) -> Leak {
    Leak {
        id,
        scope: f.scope,
        leak_type: f.leak_type,
        severity: f.severity,
        status: LeakStatus::Open,
        confidence: f.confidence,
        first_detected: t,
        last_detected: t,
        resolved_at: None,
        window: f.window,
        baseline_bytes: f.baseline_bytes,
        current_bytes: f.current_bytes,
        growth_bytes: f.growth_bytes,
        rate_bytes_per_min: f.rate_bytes_per_min,
        model: f.model,
        statistics: f.statistics,
        budget_bytes: f.budget_bytes,
        time_to_budget_secs: f.time_to_budget_secs,
        summary: f.summary,
        top_sites: f.top_sites,
        recommendations: f.recommendations,
    }
}

fn update(leak: &mut Leak, f: Finding, t: f64) {
    let id = leak.id;
    let first = leak.first_detected;
    *leak = open(id, f, t);
    leak.first_detected = first;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::new_finding;

    fn finding(scope: &str, ty: LeakType, severity: LeakSeverity) -> Finding {
        let mut f = new_finding(scope, ty, 0.0, [0.0, 1.0], 10, None);
        f.severity = severity;
        f
    }

    fn config() -> Config {
        Config {
            detection_window_minutes: 10.0,
            rapid_growth_window_minutes: 1.0,
            leak_resolve_after_runs: 3,
            ..Config::default()
        }
    }

    #[test]
    fn raise_after_two_runs_update_then_resolve_after_k_misses() {
        let mut tr = LeakTracker::new(&config());
        let g = || vec![finding("a", LeakType::GradualGrowth, LeakSeverity::Low)];
        assert!(tr.observe("a", 30.0, g()).is_empty());
        let ev = tr.observe("a", 60.0, g());
        assert_eq!(ev.len(), 1);
        let LeakEvent::New(leak) = &ev[0] else {
            panic!("{ev:?}")
        };
        assert_eq!(
            (leak.id, leak.first_detected, leak.status),
            (1, 60.0, LeakStatus::Open)
        );
        // Holding and escalating.
        let ev = tr.observe(
            "a",
            90.0,
            vec![finding("a", LeakType::GradualGrowth, LeakSeverity::High)],
        );
        assert!(matches!(
            &ev[..],
            [LeakEvent::SeverityChanged {
                from: LeakSeverity::Low,
                ..
            }]
        ));
        assert!(ev[0].is_escalation());
        assert_eq!(ev[0].leak().last_detected, 90.0);
        assert_eq!(ev[0].leak().first_detected, 60.0);
        // Same severity: no event.
        assert!(tr
            .observe(
                "a",
                120.0,
                vec![finding("a", LeakType::GradualGrowth, LeakSeverity::High)]
            )
            .is_empty());
        // Two misses, a hit (resets), three misses: resolved at the third.
        assert!(tr.observe("a", 150.0, vec![]).is_empty());
        assert!(tr.observe("a", 180.0, vec![]).is_empty());
        assert!(tr.observe("a", 210.0, g()).len() == 1); // severity back to Low
        assert!(tr.observe("a", 240.0, vec![]).is_empty());
        assert!(tr.observe("a", 270.0, vec![]).is_empty());
        let ev = tr.observe("a", 300.0, vec![]);
        let LeakEvent::Resolved(leak) = &ev[0] else {
            panic!("{ev:?}")
        };
        assert_eq!(
            (leak.id, leak.resolved_at, leak.status),
            (1, Some(300.0), LeakStatus::Resolved)
        );
        assert!(tr.open_leaks().is_empty());
        assert_eq!(tr.resolved_leaks().count(), 1);
    }

    #[test]
    fn cooldown_blocks_a_re_raise_then_lets_it_through() {
        let mut tr = LeakTracker::new(&config());
        let g = || vec![finding("a", LeakType::GradualGrowth, LeakSeverity::Low)];
        tr.observe("a", 0.0, g());
        tr.observe("a", 30.0, g());
        for t in [60.0, 90.0, 120.0] {
            tr.observe("a", t, vec![]);
        }
        assert_eq!(tr.resolved_leaks().count(), 1);
        // Cooldown: 10 minutes from 120 s.
        for t in [150.0, 180.0, 600.0, 700.0] {
            assert!(tr.observe("a", t, g()).is_empty(), "t = {t}");
        }
        assert!(tr.observe("a", 720.0, g()).is_empty());
        let ev = tr.observe("a", 750.0, g());
        let LeakEvent::New(leak) = &ev[0] else {
            panic!("{ev:?}")
        };
        assert_eq!(leak.id, 2);
    }

    #[test]
    fn one_open_leak_per_scope_and_type_with_unique_ids() {
        let mut tr = LeakTracker::new(&config());
        let both = |s: &str| {
            vec![
                finding(s, LeakType::SustainedHigh, LeakSeverity::Low),
                finding(s, LeakType::GradualGrowth, LeakSeverity::Medium),
            ]
        };
        for t in [0.0, 30.0, 60.0, 90.0] {
            tr.observe("b", t, both("b"));
            tr.observe("a", t, both("a"));
        }
        let open = tr.open_leaks();
        let keys: Vec<(&str, LeakType, u64)> = open
            .iter()
            .map(|l| (l.scope.as_str(), l.leak_type, l.id))
            .collect();
        assert_eq!(
            keys,
            vec![
                ("a", LeakType::GradualGrowth, 3),
                ("a", LeakType::SustainedHigh, 4),
                ("b", LeakType::GradualGrowth, 1),
                ("b", LeakType::SustainedHigh, 2),
            ]
        );
        let check = tr.check("a");
        assert_eq!(check.leak_count, 2);
        assert_eq!(check.leaks[0].leak_type, LeakType::GradualGrowth); // Medium before Low
                                                                       // Observing one scope never counts a miss for another.
        for t in [120.0, 150.0, 180.0, 210.0] {
            tr.observe("a", t, vec![]);
        }
        assert_eq!(tr.check("a").leak_count, 0);
        assert_eq!(tr.check("b").leak_count, 2);
    }

    #[test]
    fn hold_only_findings_keep_a_leak_open_but_never_open_one() {
        let mut tr = LeakTracker::new(&config());
        let mut hold = finding("a", LeakType::SustainedHigh, LeakSeverity::Low);
        hold.hold_only = true;
        for t in [0.0, 30.0, 60.0] {
            assert!(tr.observe("a", t, vec![hold.clone()]).is_empty());
        }
        let fire = finding("a", LeakType::SustainedHigh, LeakSeverity::Low);
        tr.observe("a", 90.0, vec![fire.clone()]);
        assert_eq!(tr.observe("a", 120.0, vec![fire]).len(), 1);
        for t in [150.0, 180.0, 210.0, 240.0] {
            assert!(tr.observe("a", t, vec![hold.clone()]).is_empty());
        }
        assert_eq!(tr.check("a").leak_count, 1);
    }

    #[test]
    fn resolved_list_is_bounded() {
        let mut c = config();
        c.detection_window_minutes = 0.0;
        c.leak_resolve_after_runs = 1;
        let mut tr = LeakTracker::new(&c);
        let g = || vec![finding("a", LeakType::GradualGrowth, LeakSeverity::Low)];
        let mut t = 0.0;
        for _ in 0..MAX_RESOLVED + 10 {
            tr.observe("a", t, g());
            tr.observe("a", t + 1.0, g());
            tr.observe("a", t + 2.0, vec![]);
            t += 3.0;
        }
        assert_eq!(tr.resolved_leaks().count(), MAX_RESOLVED);
        assert_eq!(tr.resolved_leaks().next().unwrap().id, 11);
    }
}
