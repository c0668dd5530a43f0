//! Scopes tied to tracing spans (feature `tracing`): a subscriber layer that enters a span's
//! scope whenever the span is entered, and leaves it when the span is exited.
//!
//! A future instrumented with a span (`fut.instrument(span)`) has its span entered around
//! every poll and around its drop, on whichever thread polls it; `span.in_scope(|| ...)` and
//! `let _e = span.enter()` enter it around a block. So a service that already has a span per
//! component gets its futures and blocks charged to scopes by naming the scope in the span, with
//! no `.in_scope(&SCOPE)` of its own: the span is the scope's carrier, as [`crate::tasks::Scoped`] is for
//! a bare future.
//!
//! Each thread keeps the scopes its entered spans replaced in a small fixed stack (no
//! allocation, no destructor), so spans nest like guards do and a span exited out of order
//! leaves the others' scopes right.

use std::cell::RefCell;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::reentry::{swap_owner, Untracked};
use crate::registry;
use crate::scope::Scope;

/// The span field that names a span's scope: `info_span!("render", leakscope.scope = "memo")`.
pub const SCOPE_FIELD: &str = "leakscope.scope";

/// How many scope-carrying spans one thread can have entered at once. Deeper ones still enter
/// their span, but not their scope: what runs in them stays in the scope of the 32nd.
pub const MAX_NESTED_SPANS: usize = 32;

/// A [`Layer`] that charges what runs inside a span to the span's scope.
///
/// A span has a scope when it is created with the field [`SCOPE_FIELD`] (a string: the scope's
/// name, registered like [`crate::scope`]'s on first use), or when its name was given a scope
/// with [`ScopeLayer::span`]. Spans without one cost a look-up per enter and exit and change
/// nothing.
///
/// ```
/// # #[global_allocator]
/// # static ALLOC: leakscope::Alloc = leakscope::Alloc::system();
/// use tracing_subscriber::layer::SubscriberExt;
///
/// static RENDER: leakscope::Scope = leakscope::Scope::new("doc_span_render");
///
/// let subscriber = tracing_subscriber::registry()
///     .with(leakscope::tasks::ScopeLayer::new().span("render", &RENDER));
/// tracing::subscriber::with_default(subscriber, || {
///     // Spans named "render" charge RENDER; any span can name its scope in a field.
///     let body = tracing::info_span!("render").in_scope(|| vec![0u8; 100]);
///     let other = tracing::info_span!("load", leakscope.scope = "doc_span_load")
///         .in_scope(|| vec![0u8; 30]);
///     leakscope::flush();
///     assert_eq!(leakscope::stats(&RENDER).curr_bytes, 100);
///     assert_eq!(leakscope::live::stats_by_name("doc_span_load").unwrap().curr_bytes, 30);
/// #   drop((body, other));
/// });
/// ```
///
/// Futures: `render(req).instrument(info_span!("render"))` is charged to `RENDER` on every poll
/// and on its drop, like `render(req).in_scope(&RENDER)`.
///
/// The registry's own per-thread tables (its slab shard, its stack of entered spans) are
/// allocated when a thread first creates or enters a span, and belong to the scope current
/// then, as any lazily allocated thread state does.
///
/// The field must be given when the span is created; recording it later does not move the span
/// into a scope. The scope follows the span on the thread where it is *entered*: a span that is
/// only created, or passed around as a parent, charges nothing.
#[derive(Debug, Default, Clone)]
pub struct ScopeLayer {
    by_name: Vec<(&'static str, &'static Scope)>,
}

impl ScopeLayer {
    /// A layer that reads [`SCOPE_FIELD`] and gives no span name a scope.
    pub fn new() -> Self {
        Self::default()
    }

    /// Spans called `span_name` (the name given to `span!`, `info_span!`, `#[instrument]`'s
    /// function name) are in `scope`, unless their [`SCOPE_FIELD`] names another.
    pub fn span(mut self, span_name: &'static str, scope: &'static Scope) -> Self {
        self.by_name.retain(|(n, _)| *n != span_name);
        self.by_name.push((span_name, scope));
        self
    }
}

/// A span's scope id, kept in the span's extensions.
#[derive(Clone, Copy)]
struct SpanScope(u32);

/// Reads [`SCOPE_FIELD`] out of a span's attributes.
#[derive(Default)]
struct ScopeName(Option<String>);

impl Visit for ScopeName {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == SCOPE_FIELD {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        // `leakscope.scope = %name` (a Display value) arrives here.
        if field.name() == SCOPE_FIELD && self.0.is_none() {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

impl<S> Layer<S> for ScopeLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let has_field = attrs.metadata().fields().field(SCOPE_FIELD).is_some();
        let by_name = || {
            let name = attrs.metadata().name();
            self.by_name
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, s)| *s)
        };
        if !has_field && self.by_name.is_empty() {
            return;
        }
        // The name read, the id registered and the extension stored are leakscope's memory,
        // not the scope's that creates the span.
        let _untracked = Untracked::enter();
        let scope = if has_field {
            let mut name = ScopeName::default();
            attrs.record(&mut name);
            match name.0 {
                Some(name) => Some(registry::id_of(&name)),
                None => by_name().map(Scope::id),
            }
        } else {
            by_name().map(Scope::id)
        };
        if let (Some(scope), Some(span)) = (scope, ctx.span(id)) {
            span.extensions_mut().insert(SpanScope(scope));
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if let Some(scope) = scope_of(id, &ctx) {
            enter(id.into_u64(), scope);
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        // The thread's stack knows the spans that entered a scope: no look-up of the span,
        // except past the nesting limit, where only a scoped span's exit may be counted off.
        if exit(id.into_u64()) == Exit::NotEntered && past_limit() && scope_of(id, &ctx).is_some() {
            exit_past_limit();
        }
    }
}

fn scope_of<S>(id: &Id, ctx: &Context<'_, S>) -> Option<u32>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let span = ctx.span(id)?;
    let ext = span.extensions();
    ext.get::<SpanScope>().map(|s| s.0)
}

/// The spans a thread has entered that carry a scope, innermost last, each with the scope it
/// replaced; entries past [`MAX_NESTED_SPANS`] are only counted.
struct Entered {
    spans: [(u64, u32); MAX_NESTED_SPANS],
    len: usize,
    overflow: usize,
}

thread_local! {
    static ENTERED: RefCell<Entered> = const {
        RefCell::new(Entered {
            spans: [(0, 0); MAX_NESTED_SPANS],
            len: 0,
            overflow: 0,
        })
    };
}

/// Span `span` (with scope `scope`) is entered on this thread.
fn enter(span: u64, scope: u32) {
    let _ = ENTERED.try_with(|e| {
        let mut e = e.borrow_mut();
        if e.len == MAX_NESTED_SPANS {
            e.overflow += 1;
            return;
        }
        let previous = swap_owner(scope);
        let len = e.len;
        e.spans[len] = (span, previous);
        e.len += 1;
    });
}

/// What [`exit`] found.
#[derive(Debug, PartialEq, Eq)]
enum Exit {
    /// The span's entry went.
    Left,
    /// The span has no entry on this thread: it has no scope, or was entered past the limit.
    NotEntered,
}

/// Span `span` is exited on this thread: the innermost entry of it goes. When it is the
/// innermost of all, the thread gets back the scope it replaced; when it is not (spans exited
/// out of order), the thread's scope stays, and the entry above it inherits what it replaced,
/// so the scope restored when that one exits is the one from before both.
fn exit(span: u64) -> Exit {
    ENTERED
        .try_with(|e| {
            let mut e = e.borrow_mut();
            let len = e.len;
            let Some(at) = e.spans[..len].iter().rposition(|&(s, _)| s == span) else {
                return Exit::NotEntered;
            };
            let previous = e.spans[at].1;
            if at + 1 == len {
                swap_owner(previous);
            } else {
                e.spans[at + 1].1 = previous;
                e.spans.copy_within(at + 1..len, at);
            }
            e.len -= 1;
            Exit::Left
        })
        .unwrap_or(Exit::NotEntered)
}

/// Whether this thread has scoped spans entered past [`MAX_NESTED_SPANS`].
fn past_limit() -> bool {
    ENTERED
        .try_with(|e| e.borrow().overflow > 0)
        .unwrap_or(false)
}

/// A scoped span entered past [`MAX_NESTED_SPANS`] is exited.
fn exit_past_limit() {
    let _ = ENTERED.try_with(|e| {
        let mut e = e.borrow_mut();
        e.overflow = e.overflow.saturating_sub(1);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reentry::owner;

    #[test]
    fn nested_spans_restore_in_order_and_out_of_order() {
        let start = owner();
        enter(1, 11);
        enter(2, 22);
        assert_eq!(owner(), 22);
        exit(2);
        assert_eq!(owner(), 11);
        exit(1);
        assert_eq!(owner(), start);

        // Out of order: 1 leaves while 2 is current; 2's exit restores what was before 1.
        enter(1, 11);
        enter(2, 22);
        exit(1);
        assert_eq!(owner(), 22);
        exit(2);
        assert_eq!(owner(), start);

        // The same span entered twice (re-entered while current).
        enter(5, 55);
        enter(5, 55);
        exit(5);
        assert_eq!(owner(), 55);
        exit(5);
        assert_eq!(owner(), start);
    }

    #[test]
    fn spans_past_the_limit_keep_the_deepest_scope_and_unwind_exactly() {
        let start = owner();
        for i in 0..MAX_NESTED_SPANS as u64 + 3 {
            enter(i + 1, i as u32 + 100);
        }
        let deepest = MAX_NESTED_SPANS as u32 - 1 + 100;
        assert_eq!(owner(), deepest);
        for i in (0..MAX_NESTED_SPANS as u64 + 3).rev() {
            // What on_exit does for a scoped span.
            if exit(i + 1) == Exit::NotEntered {
                exit_past_limit();
            }
            let expected = if i as usize > MAX_NESTED_SPANS - 1 {
                deepest
            } else if i == 0 {
                start
            } else {
                i as u32 - 1 + 100
            };
            assert_eq!(owner(), expected, "after exiting span {}", i + 1);
        }
        ENTERED.with(|e| assert_eq!((e.borrow().len, e.borrow().overflow), (0, 0)));
    }
}
