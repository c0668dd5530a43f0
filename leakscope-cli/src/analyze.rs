//! `leakscope analyze DUMP --set key=value`: re-runs the detectors over a dump's history with
//! other settings, offline, the way the collector would have run them live.
//!
//! The library's [`replay_series`] and [`replay_process`] do the work: after every snapshot
//! they run the detectors over the history up to it and feed a fresh leak lifecycle, so
//! hysteresis, resolution and cooldown behave as in the running program. The history in a dump
//! is what the collector kept (recent snapshots plus coarser points before them), so a replay
//! sees the older past at a coarser grain than the live run did.
//!
//! # Format
//! `--json` prints one object: `settings` (the `--set` items as given), `config` (the settings
//! the detectors ran with: the dump's config with the items applied, in the dump's `config`
//! format), `recorded_open` (how many leaks the dump itself has open) and `leaks` (every leak
//! the replay raised, open and resolved, in the dump's leak format, most severe open ones
//! first, numbered from 1 in the order they were raised). docs/cli.md has an example.

use std::fmt::Write as _;

use leakscope::analysis::{replay_process, replay_series, DetectorConfig};
use leakscope::dump::Dump;
use leakscope::leaks::CallSite;
use leakscope::{leaks::LeakStatus, Config, Leak};
use serde::Serialize;

use crate::report;
use crate::style::{Paint, Style};

/// The outcome of a replay. See the module docs for the JSON form.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Analysis {
    /// The `--set` items as given.
    pub settings: Vec<String>,
    /// The settings the detectors ran with.
    pub config: Config,
    /// Leaks the dump itself has open.
    pub recorded_open: usize,
    /// Every leak the replay raised.
    pub leaks: Vec<Leak>,
}

/// Replays every scope's history and the process history of `dump` with `settings` applied to
/// its config.
///
/// # Errors
/// One line for a setting the config refuses (alone or together with the dump's other
/// settings) and for a history the detectors cannot read (time stamps out of order).
pub fn run(dump: &Dump, settings: &[String]) -> Result<Analysis, String> {
    let mut config = dump.config.clone();
    for item in settings {
        config
            .set_many(item)
            .map_err(|e| format!("--set {item}: {e}"))?;
    }
    config.validate().map_err(|e| {
        if settings.is_empty() {
            format!("the dump's config is not valid: {e}")
        } else {
            format!("with --set {}: {e}", settings.join(" --set "))
        }
    })?;
    let detector = DetectorConfig::from(&config);
    let mut leaks = Vec::new();
    for scope in &dump.scopes {
        let sites = sites_of(dump, &scope.name);
        let found = replay_series(&scope.name, &scope.history, &detector, &sites)
            .map_err(|e| format!("scope {:?}: {e}", scope.name))?;
        leaks.extend(found);
    }
    leaks.extend(
        replay_process(&dump.process_history, &detector)
            .map_err(|e| format!("process history: {e}"))?,
    );
    // Each replay numbers its leaks from 1; number them across scopes in the order they were
    // raised, as the collector does, so an id names one leak of this analysis.
    leaks.sort_by(|a, b| a.first_detected.total_cmp(&b.first_detected));
    for (i, leak) in leaks.iter_mut().enumerate() {
        leak.id = i as u64 + 1;
    }
    leaks.sort_by(|a, b| {
        let open = |l: &Leak| l.status == LeakStatus::Open;
        open(b)
            .cmp(&open(a))
            .then(b.finding.severity.cmp(&a.finding.severity))
            .then(a.finding.scope.cmp(&b.finding.scope))
            .then(a.finding.leak_type.cmp(&b.finding.leak_type))
            .then(a.first_detected.total_cmp(&b.first_detected))
    });
    Ok(Analysis {
        settings: settings.to_vec(),
        config,
        recorded_open: dump.open_leaks().count(),
        leaks,
    })
}

/// The sampled call sites of scope `name`, largest first: from the dump's top sites and from
/// its leaks (a scope's sites may be missing from the global top list), each stack once.
fn sites_of(dump: &Dump, name: &str) -> Vec<CallSite> {
    let mut sites: Vec<CallSite> = Vec::new();
    let candidates = dump
        .top_call_sites
        .iter()
        .chain(dump.leaks.iter().flat_map(|l| l.finding.top_sites.iter()));
    for site in candidates.filter(|s| s.scope == name) {
        if !sites.iter().any(|s| s.frames == site.frames) {
            sites.push(site.clone());
        }
    }
    sites.sort_by_key(|s| std::cmp::Reverse(s.live_bytes));
    sites
}

/// The text form: what was changed, then the leaks as `report` prints them.
pub fn render(dump: &Dump, analysis: &Analysis, style: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", style.paint(Paint::Heading, "leakscope analyze"));
    let changed = if analysis.settings.is_empty() {
        "with the dump's own settings".to_owned()
    } else {
        format!("with {}", analysis.settings.join(", "))
    };
    let (open, resolved) = report::split(&analysis.leaks);
    let summary = format!(
        "detectors replayed over the dump's history {changed}: {} open, {} resolved (the dump \
         recorded {} open)",
        open.len(),
        resolved.len(),
        analysis.recorded_open
    );
    for line in crate::fmt::wrap(&crate::fmt::clean(&summary), style.prose() - 2) {
        let _ = writeln!(out, "  {line}");
    }
    out.push('\n');
    out.push_str(&report::leaks(dump, &open, &resolved, style));
    out
}
