//! The `on_leak` hooks, and leak events as `tracing` events (feature `tracing`).
//!
//! Hooks are the program's code: they run tracked (their memory is the program's), and a hook
//! that panics is reported once while the collector goes on.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use super::lock;
use crate::detect::LeakEvent;
use crate::reentry::{Tracked, Untracked};

pub(super) type Hook = Arc<dyn Fn(&LeakEvent) + Send + Sync>;

pub(super) static HOOKS: Mutex<Vec<Hook>> = Mutex::new(Vec::new());

/// Registers a hook called with every leak event (new, severity changed, resolved).
pub(crate) fn on_leak(hook: impl Fn(&LeakEvent) + Send + Sync + 'static) {
    super::runtime::fork_safe();
    let _untracked = Untracked::enter();
    lock(&HOOKS).push(Arc::new(hook));
}

/// Calls the hooks with `events`, tracked (a hook is the program's code). A hook that panics is
/// reported once and the others still run; the collector goes on.
pub(crate) fn run_hooks(events: &[LeakEvent]) {
    if events.is_empty() {
        return;
    }
    #[cfg(feature = "tracing")]
    for e in events {
        emit_tracing(e);
    }
    let hooks: Vec<Hook> = {
        let _untracked = Untracked::enter();
        lock(&HOOKS).clone()
    };
    static PANIC_REPORTED: std::sync::atomic::AtomicBool =
        std::sync::atomic::AtomicBool::new(false);
    let _tracked = Tracked::enter();
    for hook in &hooks {
        for event in events {
            if catch_unwind(AssertUnwindSafe(|| hook(event))).is_err()
                && !PANIC_REPORTED.swap(true, std::sync::atomic::Ordering::Relaxed)
            {
                eprintln!(
                    "leakscope: an on_leak hook panicked; the collector goes on (reported once)"
                );
            }
        }
    }
}

/// Emits a leak event as a `tracing` event with structured fields: warn for new and changed
/// leaks up to Medium, error from High, info for resolutions. The fields: the leak's id, scope,
/// type, severity, confidence, growth over its evidence window, top call site (empty when none
/// was sampled), rate, current bytes and time to budget.
#[cfg(feature = "tracing")]
fn emit_tracing(event: &LeakEvent) {
    use crate::leak::LeakSeverity;
    let leak = event.leak();
    let kind = event.kind();
    // The top call site's first frame, as the report names it: "function (file:line)".
    let top_site = leak
        .finding
        .top_sites
        .first()
        .and_then(|s| s.frames.first())
        .map(|f| {
            let function = f.function.as_deref().unwrap_or("?");
            match (&f.file, f.line) {
                (Some(file), Some(line)) => format!("{function} ({file}:{line})"),
                _ => function.to_owned(),
            }
        })
        .unwrap_or_default();
    macro_rules! emit {
        ($level:ident) => {
            tracing::$level!(
                target: "leakscope",
                event = kind,
                leak_id = leak.id,
                scope = %leak.finding.scope,
                leak_type = ?leak.finding.leak_type,
                severity = ?leak.finding.severity,
                confidence = leak.finding.confidence,
                growth_bytes = leak.finding.growth_bytes,
                top_site = %top_site,
                rate_bytes_per_min = leak.finding.rate_bytes_per_min,
                current_bytes = leak.finding.current_bytes,
                time_to_budget_secs = leak.finding.time_to_budget_secs,
                "{}",
                leak.finding.summary
            )
        };
    }
    match event {
        LeakEvent::Resolved(_) => emit!(info),
        _ if leak.finding.severity >= LeakSeverity::High => emit!(error),
        _ => emit!(warn),
    }
}
