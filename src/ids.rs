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

/// The most scopes a process can have, the two built-in ones included, so 4,094 names of the
/// program's. Memory of a name registered beyond it is charged to `unscoped` (reported once on
/// stderr); its entry-count gauge is dropped. The bound keeps the lock-free fallback table a
/// static array.
pub const MAX_SCOPES: usize = 4096;

/// The prefix that keeps a program's scope names apart from the built-in ones.
const ESCAPE: char = '~';

/// The name under which the program's scope `name` is registered and shown: `name` itself,
/// unless it is a built-in scope's name (`unscoped`, `leakscope`) or begins with `~`; then `~`
/// followed by `name` (`~unscoped`, `~~x`). Names often come from outside the program (tenants,
/// routes), and no such name may charge memory to a built-in scope; the mapping is one-to-one,
/// so two different names never share a scope.
pub(crate) fn user_scope_name(name: &str) -> std::borrow::Cow<'_, str> {
    if name == UNSCOPED_NAME || name == SELF_NAME || name.starts_with(ESCAPE) {
        format!("{ESCAPE}{name}").into()
    } else {
        name.into()
    }
}

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
