//! Scope ids and exact counts: the vocabulary every layer shares, importing nothing.
//!
//! Every scope has a small integer id, stored in the mark of each block it owns. Ids 0 and 1 are
//! built in: `unscoped` (memory allocated outside every scope) and `leakscope` (the tracker's own
//! memory, reported separately as `leakscope_self_bytes`). The registry hands out the others.

/// Id of the built-in scope holding memory allocated outside every scope.
pub(crate) const UNSCOPED: u32 = 0;
/// Id of the built-in scope holding leakscope's own memory.
pub(crate) const SELF_SCOPE: u32 = 1;
/// Name of the built-in scope holding memory allocated outside every scope.
pub const UNSCOPED_NAME: &str = "unscoped";
/// Name of [`SELF_SCOPE`].
pub(crate) const SELF_NAME: &str = "leakscope";

/// The most scopes a process can have. A name registered beyond it is charged to `unscoped`
/// (reported once on stderr). The bound keeps the lock-free fallback table a static array.
pub const MAX_SCOPES: usize = 4096;

/// Exact counters of one scope, as applied so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub allocs: u64,
    pub frees: u64,
    pub bytes_allocated: u64,
    pub bytes_freed: u64,
}

impl Counts {
    pub(crate) fn add(&mut self, other: &Counts) {
        self.allocs = self.allocs.wrapping_add(other.allocs);
        self.frees = self.frees.wrapping_add(other.frees);
        self.bytes_allocated = self.bytes_allocated.wrapping_add(other.bytes_allocated);
        self.bytes_freed = self.bytes_freed.wrapping_add(other.bytes_freed);
    }

    pub(crate) fn is_zero(&self) -> bool {
        *self == Counts::default()
    }
}
