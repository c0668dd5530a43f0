//! Scopes: named tags that cache code enters with a guard.
//!
//! Each thread has a current scope, `unscoped` until a guard says otherwise. Entering a scope
//! swaps the thread's current id and returns a guard that swaps the previous one back on drop,
//! so scopes nest, the innermost wins, and unwinding restores the outer scope (the same shape as
//! tracing-subscriber's span stack, with the stack kept in the guards themselves).
//!
//! The current id lives in the thread's owner cell ([`crate::reentry`]), a const-initialised
//! thread-local without a destructor, so the allocator shim can read it at any point of a
//! thread's life for the price of one load.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

use crate::ids::{MAX_SCOPES, SELF_SCOPE, UNSCOPED};
use crate::reentry::OwnerGuard;
use crate::registry;

/// Marker for "no id yet": a static `Scope` registers its name on first use.
const UNREGISTERED: u32 = u32::MAX;
/// Marker for "no entry-count gauge set".
const NO_GAUGE: u64 = u64::MAX;

/// A named scope, meant to live in a `static`.
///
/// ```
/// static USERS: leakscope::Scope = leakscope::Scope::new("users_cache");
///
/// let mut cache = std::collections::HashMap::new();
/// {
///     let _g = USERS.enter(); // allocations on this thread now belong to users_cache
///     cache.insert(42u64, vec![0u8; 1024]);
/// }
/// USERS.set_entry_count(cache.len());
/// ```
///
/// Two `Scope`s with the same name are the same scope.
#[derive(Debug)]
pub struct Scope {
    name: &'static str,
    id: AtomicU32,
}

impl Scope {
    /// A scope called `name`. The name is registered the first time the scope is used.
    pub const fn new(name: &'static str) -> Self {
        Scope {
            name,
            id: AtomicU32::new(UNREGISTERED),
        }
    }

    /// The scope's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The scope's id, registering the name on first use (one lock, once per `Scope`).
    ///
    /// Inlined: entering a scope is on the path of every operation a program scopes, and after
    /// the first use it is one load and one compare.
    #[inline]
    pub(crate) fn id(&self) -> u32 {
        let id = self.id.load(Relaxed);
        if id != UNREGISTERED {
            return id;
        }
        self.register()
    }

    /// [`Scope::id`] on first use.
    #[cold]
    #[inline(never)]
    fn register(&self) -> u32 {
        let id = registry::id_of(self.name);
        self.id.store(id, Relaxed);
        id
    }

    /// Makes this the calling thread's current scope until the guard is dropped.
    ///
    /// Allocations made on this thread while the guard lives belong to this scope, wherever
    /// they are later freed. Guards nest; drop them in reverse order of creation (as scoping
    /// does naturally).
    ///
    /// Not for async code: a guard held across an `.await` stays on the thread while other
    /// tasks run there, so it charges *their* allocations to this scope (on a `current_thread`
    /// runtime or in a `LocalSet`, where such a future compiles), and misses the rest of the
    /// future's. Scope a future with [`crate::tasks::InScope::in_scope`] instead.
    #[inline]
    pub fn enter(&self) -> ScopeGuard {
        ScopeGuard::enter(self.id())
    }

    /// Runs `f` in this scope and returns what it returns: [`Scope::enter`] for a block of
    /// synchronous code, with no guard to keep alive or to hold across an `.await` by mistake.
    ///
    /// ```
    /// static MEMO: leakscope::Scope = leakscope::Scope::new("doc_memo");
    /// let mut memo = std::collections::HashMap::new();
    /// let body = MEMO.in_scope(|| vec![0u8; 64]); // the body is the memo's
    /// memo.insert(1u32, body);
    /// ```
    #[inline]
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _g = self.enter();
        f()
    }

    /// Sets the scope's entry-count gauge (how many entries the cache holds). Snapshots then
    /// carry bytes per entry, which the cache-bloat detector needs.
    pub fn set_entry_count(&self, entries: usize) {
        set_gauge(self.id(), entries as u64);
    }

    /// The scope's entry-count gauge, if the program set one.
    pub fn entry_count(&self) -> Option<u64> {
        gauge(self.id())
    }
}

/// Makes the scope called `name` the calling thread's current scope until the guard is dropped.
///
/// For names known only at run time. Each call looks the name up under a lock; in hot code keep
/// a `static` [`Scope`] instead.
///
/// Any string is a valid name, and no name reaches a built-in scope: names often come from
/// outside the program (tenants, routes), so `unscoped` and `leakscope` (the built-in scopes)
/// and names beginning with `~` are registered and shown with a `~` in front (`~unscoped`,
/// `~leakscope`, `~~x`), one name to one scope. The same holds for [`Scope::new`]. When all
/// [`MAX_SCOPES`] ids are taken, the memory of a new name is charged to `unscoped` (reported
/// once on stderr) and its entry-count gauge is dropped (`TrackerStats::gauges_dropped`).
pub fn scope(name: &str) -> ScopeGuard {
    ScopeGuard::enter(registry::id_of(name))
}

/// While alive, the calling thread's allocations belong to the guard's scope.
///
/// Not `Send`: the guard restores the scope of the thread that created it. So a future that
/// holds one across an `.await` is not `Send` and does not compile in `tokio::spawn`; where it
/// does compile (a `current_thread` runtime, a `LocalSet`) it charges other tasks' memory to the
/// scope. Scope futures with [`crate::tasks::InScope`]; `clippy::await_holding_invalid_type` flags the
/// mistake with `await-holding-invalid-types = ["leakscope::ScopeGuard"]` in `clippy.toml`.
#[must_use = "the scope is current only while the guard lives"]
#[derive(Debug)]
pub struct ScopeGuard {
    id: u32,
    _owner: OwnerGuard,
}

impl ScopeGuard {
    #[inline]
    pub(crate) fn enter(id: u32) -> Self {
        ScopeGuard {
            id,
            _owner: OwnerGuard::set(id),
        }
    }

    /// Sets the entry-count gauge of the guard's scope, as [`Scope::set_entry_count`] does for
    /// a `static` scope: `leakscope::scope(tenant).set_entry_count(cache.len())` for a scope
    /// named at run time.
    pub fn set_entry_count(&self, entries: usize) {
        set_gauge(self.id, entries as u64);
    }
}

static GAUGES: [AtomicU64; MAX_SCOPES] = [const { AtomicU64::new(NO_GAUGE) }; MAX_SCOPES];

/// Gauges set on a name that got no scope of its own (every id taken).
static GAUGES_DROPPED: AtomicU64 = AtomicU64::new(0);

/// A program's scope resolves to a built-in id only when it got no id of its own (its name is
/// never a built-in one: `ids::user_scope_name`); its gauge then belongs to nobody.
fn is_builtin(id: u32) -> bool {
    id == UNSCOPED || id == SELF_SCOPE
}

fn set_gauge(id: u32, entries: u64) {
    if is_builtin(id) {
        // Never redirected to `unscoped`: the registry reported the exhaustion once.
        GAUGES_DROPPED.fetch_add(1, Relaxed);
        return;
    }
    if let Some(g) = GAUGES.get(id as usize) {
        g.store(entries.min(NO_GAUGE - 1), Relaxed);
    }
}

/// The entry-count gauge of scope `id`, if the program set one.
pub(crate) fn gauge(id: u32) -> Option<u64> {
    if is_builtin(id) {
        return None;
    }
    let v = GAUGES.get(id as usize)?.load(Relaxed);
    (v != NO_GAUGE).then_some(v)
}

/// How many entry-count gauges were dropped because their name got no scope.
pub(crate) fn gauges_dropped() -> u64 {
    GAUGES_DROPPED.load(Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The id of the calling thread's innermost scope.
    use crate::reentry::owner as current;

    static A: Scope = Scope::new("scope_test_a");
    static B: Scope = Scope::new("scope_test_b");

    /// A scope named at run time sets its gauge through its guard; a `static` scope of the same
    /// name reads it.
    #[test]
    fn a_guard_sets_its_scopes_entry_count() {
        static G: Scope = Scope::new("scope_test_guard_gauge");
        scope("scope_test_guard_gauge").set_entry_count(3);
        assert_eq!(G.entry_count(), Some(3));
    }

    #[test]
    fn nesting_innermost_wins_and_restores() {
        assert_eq!(current(), UNSCOPED);
        let a = A.enter();
        assert_eq!(current(), A.id());
        {
            let _b = B.enter();
            assert_eq!(current(), B.id());
            let _a_again = A.enter();
            assert_eq!(current(), A.id());
        }
        assert_eq!(current(), A.id());
        drop(a);
        assert_eq!(current(), UNSCOPED);
    }

    #[test]
    fn same_name_same_scope() {
        static A2: Scope = Scope::new("scope_test_a");
        assert_eq!(A.id(), A2.id());
        let _g = scope("scope_test_a");
        assert_eq!(current(), A.id());
    }

    #[test]
    fn gauge_round_trips() {
        static G: Scope = Scope::new("scope_test_gauge");
        assert_eq!(G.entry_count(), None);
        G.set_entry_count(17);
        assert_eq!(G.entry_count(), Some(17));
        assert_eq!(gauge(G.id()), Some(17));
    }
}
