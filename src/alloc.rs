//! The `GlobalAlloc` shim: the hot path, and the mark stored with every block.
//!
//! Every block the shim hands out is [`MARK_LEN`] bytes longer than requested. The extra bytes,
//! a trailer at `ptr + size`, hold the block's *mark*: the id of the scope that owns it. A free
//! reads the owner back in O(1), whatever thread frees, with no lookup table. A trailer rather
//! than a header because the inner allocator's size classes usually absorb two bytes for free
//! (glibc rounds a 16-byte request to a 24-byte usable chunk), while a 16-byte header pushes
//! most small blocks into the next class and forces realloc and alignment arithmetic; the
//! measured costs are in ARCHITECTURE.md.
//!
//! Hot-path rules (each one is an invariant the rest of the crate relies on):
//! - No lock, no syscall, no allocation through the tracker, no panic. Events go to the calling
//!   thread's batch ([`crate::batch`]); leakscope's own allocations are charged to leakscope.
//! - If the inner allocator returns null, return null and count nothing.
//! - A free is recorded before the block goes back to the inner allocator.
//! - Every block carries a mark from the first allocation of the process on: the shim has no
//!   off switch, so no block can ever be freed without one.
//! - The mark is written and read through opaque pointers; see [`write_mark`] for why.

use std::alloc::{GlobalAlloc, Layout, System};
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
use std::hint::black_box;
use std::ptr;

use crate::ids::{MAX_SCOPES, SELF_SCOPE, UNSCOPED};
use crate::{batch, reentry, sampler};

/// Bytes added after every block for its mark: a `u16`, since scope ids stay below
/// [`MAX_SCOPES`] (4,096) and the flag is bit 15. Two bytes rather than four because the inner
/// allocator's size classes absorb two bytes far more often: a 13-byte `String` stays in a
/// 16-byte class with two (jemalloc, mimalloc), and glibc's 16-byte granules absorb two bytes for
/// seven sizes in eight against four for four bytes.
pub const MARK_LEN: usize = 2;
/// Bytes added after a sampled block: the mark, then the sample's slot id (a `u16`).
const SAMPLED_LEN: usize = 4;
/// The mark's flag for a sampled block (whose trailer is [`SAMPLED_LEN`] bytes).
const SAMPLED: u32 = 1 << 15;

// Every scope id, and so every owner, fits in the mark's 15 low bits; every sample slot in a u16.
const _: () = assert!(MAX_SCOPES <= SAMPLED as usize);
const _: () = assert!(sampler::SLOTS <= 1 << 16);
// The fast path's unchecked layout (`Alloc::alloc_small`): a size below the countdown's bound,
// plus the trailer, rounded up to any alignment, stays far within `isize::MAX`.
const _: () = assert!(batch::CHECK_BYTES <= 1 << 30);

/// A `GlobalAlloc` that wraps `A` (by default [`System`]) and charges every block to the scope
/// that was current when it was allocated.
///
/// ```no_run
/// #[global_allocator]
/// static ALLOC: leakscope::Alloc = leakscope::Alloc::system();
/// ```
///
/// Any other allocator can be wrapped, e.g.
/// `leakscope::Alloc<tikv_jemallocator::Jemalloc> = leakscope::Alloc::new(tikv_jemallocator::Jemalloc)`.
#[derive(Debug)]
pub struct Alloc<A = System> {
    inner: A,
    /// `inner` is [`System`]: it is leakscope's own heap too ([`Alloc::home_alloc`]). A constant
    /// of the `static` the shim lives in, so the optimizer folds every test of it, like
    /// `guarded`'s.
    system: bool,
    /// Calls into `inner` run under the re-entrancy guard ([`Alloc::in_inner`]): false for
    /// [`System`] and for an inner allocator promised never to allocate through the global
    /// allocator ([`Alloc::new_leaf`]).
    guarded: bool,
}

impl Alloc<System> {
    /// The shim over the operating system's allocator.
    pub const fn system() -> Self {
        Alloc {
            inner: System,
            system: true,
            guarded: false,
        }
    }
}

impl<A> Alloc<A> {
    /// The shim over `inner`. Every call into `inner` runs under a re-entrancy guard, so an
    /// inner allocator that allocates through the global allocator itself (as dhat-rs does for
    /// its tables) has those blocks charged to leakscope's own memory, not to the program's
    /// scope. For a C allocator that never does, [`Alloc::new_leaf`] leaves the guard out.
    pub const fn new(inner: A) -> Self {
        Alloc {
            inner,
            system: false,
            guarded: true,
        }
    }

    /// The shim over `inner` without the re-entrancy guard around calls into it: two stores
    /// fewer per event, and a free that ends in a tail call to `inner`'s. For allocators
    /// written in C and linked in, such as jemalloc (`tikv_jemallocator::Jemalloc`) and mimalloc
    /// (`mimalloc::MiMalloc`).
    ///
    /// ```no_run
    /// #[global_allocator]
    /// // SAFETY: mimalloc is C; it never calls Rust's global allocator.
    /// static ALLOC: leakscope::Alloc<mimalloc::MiMalloc> =
    ///     unsafe { leakscope::Alloc::new_leaf(mimalloc::MiMalloc) };
    /// ```
    ///
    /// # Safety
    ///
    /// `inner` must never allocate, reallocate or free through the global allocator (that is,
    /// through this shim) from within its own `alloc`, `alloc_zeroed`, `realloc` or `dealloc`.
    /// If it did, its bookkeeping would be charged to the program's current scope and the
    /// re-entrant call would run the shim's accounting inside itself.
    pub const unsafe fn new_leaf(inner: A) -> Self {
        Alloc {
            inner,
            system: false,
            guarded: false,
        }
    }
}

impl<A: Default> Default for Alloc<A> {
    /// The shim over `A::default()` ([`Alloc::new`]: every call into it guarded).
    fn default() -> Self {
        Alloc::new(A::default())
    }
}

/// The layout the inner allocator sees for a block of `layout` with a `trailer`-byte trailer:
/// the same alignment, the trailer added to the size. `None` when that would overflow.
#[inline]
fn outer(layout: Layout, trailer: usize) -> Option<Layout> {
    // `layout` is valid: its alignment is a power of two and its size, rounded up to the
    // alignment, is at most `isize::MAX`. So for an alignment up to 2^62, `size + (align - 1)`
    // is at most `2^63 - 1 + 2^62 - 1`, and for 2^63 the size is 0: adding a trailer of at most
    // 8 bytes never wraps (wrapping adds all the same, so no debug overflow check is left on the
    // hot path). The size plus the trailer, rounded up to the alignment, stays within
    // `isize::MAX` when this sum does (the same bound as `Layout`'s own, one comparison).
    let rounded_end = layout
        .size()
        .wrapping_add(layout.align() - 1)
        .wrapping_add(trailer);
    if rounded_end > isize::MAX as usize {
        return None;
    }
    // SAFETY: checked just above: `size + trailer` rounded up to `align` does not exceed
    // `isize::MAX`, and `align` is a power of two because it comes from a valid `Layout`.
    Some(unsafe { Layout::from_size_align_unchecked(layout.size() + trailer, layout.align()) })
}

/// The trailer length of a block whose mark is `mark`.
#[inline]
fn trailer_len(mark: u32) -> usize {
    if mark & SAMPLED == 0 {
        MARK_LEN
    } else {
        SAMPLED_LEN
    }
}

/// [`outer`] for the layout of a live block of this shim, whose mark is `mark`.
///
/// # Safety
/// `outer(layout, trailer_len(mark))` must be `Some`: true for every block this shim allocated,
/// since the allocation computed it.
#[inline]
unsafe fn outer_unchecked(layout: Layout, mark: u32) -> Layout {
    // SAFETY: the caller guarantees `layout.size() + trailer_len(mark)` neither overflows nor,
    // rounded up to `layout.align()` (a power of two, from a valid `Layout`), exceeds
    // `isize::MAX`.
    unsafe { Layout::from_size_align_unchecked(layout.size() + trailer_len(mark), layout.align()) }
}

/// `ptr`, through an optimisation barrier: the compiler cannot tell where the result points.
///
/// An empty `asm!` that takes the pointer in a register and hands it back costs nothing at run
/// time (`black_box`, the portable fallback, spills it to the stack and reloads it).
///
/// The shim launders a block's address once, where it gets it (from the inner allocator, or
/// from the caller of `dealloc` and `realloc`), and then uses the laundered address for
/// everything: the trailer, the call into the inner allocator, the pointer it returns. Kept
/// apart from the original, the laundered copy would cost a register move per event.
#[inline(always)]
fn opaque(ptr: *mut u8) -> Opaque {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    {
        let mut p = ptr;
        // Without `nomem` or `pure` the optimizer must assume the asm may read or write the
        // block behind the pointer, so it can neither fold the mark's load nor drop its store.
        // SAFETY: the template is empty: no instruction runs, no memory or flag is touched, and
        // the register comes back holding the same address.
        unsafe {
            std::arch::asm!("/* {0} */", inout(reg) p, options(nostack, preserves_flags));
        }
        Opaque(p)
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        Opaque(black_box(ptr))
    }
}

/// A block's address that went through [`opaque`]: the only kind the trailer is read or
/// written through ([`write_mark`], [`read_mark`], [`write_slot`], [`read_slot`]).
#[derive(Clone, Copy)]
struct Opaque(*mut u8);

impl Opaque {
    /// The address, for the inner allocator and the shim's caller.
    #[inline(always)]
    fn ptr(self) -> *mut u8 {
        self.0
    }
}

/// Stores `mark` in the trailer of the block at `ptr` of `size` bytes.
///
/// The pointer went through [`opaque`] (its type says so). Once the shim is inlined under fat LTO, LLVM
/// knows `ptr` came from an allocation function (`__rust_alloc_zeroed`, say) of `size` bytes:
/// the trailer lies outside that object as the caller sees it, and LLVM may fold a later read of
/// it to zero or drop this store (docs/design.md §13; rust-lang/rust#146766 is likely the same family).
/// An opaque pointer carries no provenance LLVM can reason about, so the store and the later
/// load are kept as written. The cost is nothing: the shim launders each address once and uses
/// the result for everything else too.
///
/// # Safety
/// `ptr` must point to a live block of at least `size + MARK_LEN` bytes.
#[inline]
unsafe fn write_mark(ptr: Opaque, size: usize, mark: u32) {
    // SAFETY: (1) `ptr + size` is in bounds of the block, which is `size + MARK_LEN` bytes long
    // (caller's contract); (2) the write covers exactly the last `MARK_LEN` bytes and is
    // unaligned, since `size` can be anything.
    unsafe {
        ptr.0
            .add(size)
            .cast::<[u8; MARK_LEN]>()
            .write_unaligned((mark as u16).to_ne_bytes());
    }
}

/// Stores the sample slot id of a sampled block, right after its mark.
///
/// # Safety
/// `ptr` must point to a live block of at least `size + SAMPLED_LEN` bytes.
#[inline]
unsafe fn write_slot(ptr: Opaque, size: usize, slot: u32) {
    // SAFETY: bytes `size + 2 .. size + 4` of a block of `size + SAMPLED_LEN` bytes, unaligned,
    // through an opaque pointer as in `write_mark`. Slots are below `sampler::SLOTS` (2^16, checked
    // at compile time above), so the `u16` holds the whole id.
    unsafe {
        ptr.0
            .add(size + MARK_LEN)
            .cast::<[u8; 2]>()
            .write_unaligned((slot as u16).to_ne_bytes());
    }
}

/// Reads the sample slot id of a sampled block.
///
/// # Safety
/// `ptr` must point to a live sampled block of `size + SAMPLED_LEN` bytes whose slot was written
/// by [`write_slot`].
#[inline]
unsafe fn read_slot(ptr: Opaque, size: usize) -> u32 {
    // SAFETY: as in `write_slot`.
    let bytes = unsafe {
        ptr.0
            .add(size + MARK_LEN)
            .cast::<[u8; 2]>()
            .read_unaligned()
    };
    u16::from_ne_bytes(bytes).into()
}

/// Reads the mark of the block at `ptr` of `size` bytes.
///
/// # Safety
/// `ptr` must point to a live block of `size + MARK_LEN` bytes whose mark was written by
/// [`write_mark`].
#[inline]
unsafe fn read_mark(ptr: Opaque, size: usize) -> u32 {
    // SAFETY: as in `write_mark`: the last `MARK_LEN` bytes of the block, read unaligned,
    // through an opaque pointer so the optimizer cannot fold the value.
    let bytes = unsafe { ptr.0.add(size).cast::<[u8; MARK_LEN]>().read_unaligned() };
    u16::from_ne_bytes(bytes).into()
}

/// Whether `System` serves `layout` with plain `malloc` (or `calloc`): std's own test, an
/// alignment the C allocator guarantees anyway and no larger than the size. Testing it in the
/// shim lets the optimizer drop `System`'s `posix_memalign` branch, and the stack slot it needs,
/// from the fast path; a different guess on some platform changes only which call site calls
/// `System`, never what it does.
#[inline(always)]
fn malloc_aligns(layout: Layout) -> bool {
    layout.align() <= 16 && layout.align() <= layout.size()
}

/// The inner allocator's `alloc` (`alloc_zeroed` when `ZEROED`).
///
/// # Safety
/// As [`GlobalAlloc::alloc`].
#[inline(always)]
unsafe fn inner_alloc<A: GlobalAlloc, const ZEROED: bool>(inner: &A, layout: Layout) -> *mut u8 {
    // SAFETY: forwarded contract.
    unsafe {
        if ZEROED {
            inner.alloc_zeroed(layout)
        } else {
            inner.alloc(layout)
        }
    }
}

/// [`inner_alloc`] out of line: over [`System`], an over-aligned block ([`malloc_aligns`]).
///
/// # Safety
/// As [`GlobalAlloc::alloc`].
#[cold]
#[inline(never)]
unsafe fn inner_alloc_aligned<A: GlobalAlloc, const ZEROED: bool>(
    inner: &A,
    layout: Layout,
) -> *mut u8 {
    // SAFETY: forwarded contract.
    unsafe { inner_alloc::<A, ZEROED>(inner, layout) }
}

/// Counts a fresh block that [`batch::alloc_fast`] did not (leakscope's own, another scope's,
/// the thread's first), marks it and returns it.
///
/// # Safety
/// `ptr` is a fresh block of `size + MARK_LEN` bytes.
#[cold]
#[inline(never)]
unsafe fn count_slow(ptr: Opaque, size: usize, owner: u32) -> *mut u8 {
    batch::on_alloc(owner, size);
    // SAFETY: the caller's contract: the mark overwrites only the trailer.
    unsafe { write_mark(ptr, size, owner) };
    ptr.ptr()
}

impl<A: GlobalAlloc> Alloc<A> {
    /// Runs `call`, a call into the inner allocator, with leakscope as the thread's owner, and
    /// returns its result with the owner the thread had before.
    ///
    /// An inner allocator may allocate through the global allocator, that is through this shim
    /// (dhat-rs does, for its own tables). Those blocks are the inner allocator's bookkeeping,
    /// not the program's: under the guard they are charged to leakscope's own memory and marked
    /// as leakscope's, so their frees are credited there too, and the program's scope sees
    /// exactly the blocks it asked for. [`System`] (the C library's malloc) never calls back,
    /// nor does an inner allocator given to [`Alloc::new_leaf`], so over those the guard, two
    /// stores per event that also keep `dealloc` from ending in a tail call, is left out.
    ///
    /// `call` is handed that owner too: it decides which heap serves the block
    /// ([`Alloc::home_alloc`]).
    #[inline(always)]
    fn in_inner<T>(&self, call: impl FnOnce(u32) -> T) -> (T, u32) {
        if !self.guarded {
            // The inner allocator never calls back into the shim, so the owner is the same
            // after the call as before. Read again rather than kept: over `System` the first
            // read is dead, and nothing then lives across the call but the size.
            let result = call(reentry::owner());
            return (result, reentry::owner());
        }
        let guard = reentry::Untracked::enter();
        let result = call(guard.previous());
        (result, guard.previous())
    }

    /// Whether a block of `owner` lives in [`System`]'s heap rather than the inner allocator's
    /// (see [`Alloc::home_alloc`]): leakscope's own blocks do, unless the inner allocator is
    /// `System` itself and the two heaps are one.
    #[inline(always)]
    fn in_system_heap(&self, owner: u32) -> bool {
        owner == SELF_SCOPE && !self.system
    }

    /// Allocates `outer` from the heap that serves blocks of `owner`: [`System`] for leakscope's
    /// own ([`SELF_SCOPE`]), the inner allocator for everyone else's.
    ///
    /// leakscope's memory (its channels, the collector's tables, an inner allocator's own
    /// bookkeeping) then never shares the program's heap. It does not change the program's
    /// blocks, but an allocator with size-segregated pages (mimalloc) lays the program's blocks
    /// out differently around long-lived foreign blocks: one 86 KB channel buffer kept from the
    /// start raised mimalloc's peak RSS on the cache workload from 33 to 43 MiB
    /// (benches/README.md). Over `System` both heaps are the same.
    ///
    /// # Safety
    /// As [`GlobalAlloc::alloc`] (or `alloc_zeroed` when `ZEROED`) for `outer`.
    #[inline(always)]
    unsafe fn home_alloc<const ZEROED: bool>(&self, owner: u32, outer: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe {
            match (self.in_system_heap(owner), ZEROED) {
                (true, true) => System.alloc_zeroed(outer),
                (true, false) => System.alloc(outer),
                (false, _) if self.system && !malloc_aligns(outer) => {
                    inner_alloc_aligned::<A, ZEROED>(&self.inner, outer)
                }
                (false, _) => inner_alloc::<A, ZEROED>(&self.inner, outer),
            }
        }
    }

    /// Frees `ptr` to the heap that serves blocks of `owner` (see [`Alloc::home_alloc`]).
    ///
    /// # Safety
    /// `ptr` was allocated by [`Alloc::home_alloc`] for the same `owner` with `outer`.
    #[inline(always)]
    unsafe fn home_dealloc(&self, owner: u32, ptr: *mut u8, outer: Layout) {
        // SAFETY: forwarded contract: the same heap, the same layout.
        unsafe {
            if self.in_system_heap(owner) {
                System.dealloc(ptr, outer)
            } else {
                self.inner.dealloc(ptr, outer)
            }
        }
    }

    /// Allocates an unsampled block (a [`MARK_LEN`]-byte trailer) and charges it.
    ///
    /// # Safety
    /// As [`GlobalAlloc::alloc`]: `layout` has a non-zero size.
    #[inline(always)]
    unsafe fn alloc_plain<const ZEROED: bool>(&self, layout: Layout) -> *mut u8 {
        let Some(outer) = outer(layout, MARK_LEN) else {
            return ptr::null_mut();
        };
        // SAFETY: forwarded contract; `outer` is `layout` with a `MARK_LEN`-byte trailer.
        unsafe { self.alloc_marked::<ZEROED>(layout, outer) }
    }

    /// [`Alloc::alloc_plain`] for an allocation that did not end the thread's countdown
    /// ([`sampler::tick`] returned false), so `layout.size()` is below [`batch::CHECK_BYTES`]
    /// and its outer layout needs no overflow check.
    ///
    /// # Safety
    /// As [`GlobalAlloc::alloc`], and `sampler::tick(layout.size())` just returned false.
    #[inline(always)]
    unsafe fn alloc_small<const ZEROED: bool>(&self, layout: Layout) -> *mut u8 {
        let outer = {
            // (1) `tick` returned false, so `layout.size() < CHECK_BYTES` (its contract), and
            // `size + MARK_LEN` does not overflow; (2) `layout` is valid with a non-zero size, so
            // its alignment is a power of two of at most 2^62 (a non-zero size rounded up to 2^63
            // would exceed `isize::MAX`); (3) so `size + MARK_LEN`, rounded up to the alignment,
            // is at most `max(align, 2 * (CHECK_BYTES + MARK_LEN))`, within `isize::MAX`
            // (`CHECK_BYTES` is checked small at compile time, at the top of this file).
            // SAFETY: by (1)–(3), the size does not overflow and the alignment is a valid one.
            unsafe { Layout::from_size_align_unchecked(layout.size() + MARK_LEN, layout.align()) }
        };
        // SAFETY: forwarded contract; `outer` is `layout` with a `MARK_LEN`-byte trailer.
        unsafe { self.alloc_marked::<ZEROED>(layout, outer) }
    }

    /// Allocates `outer` (`layout` with a [`MARK_LEN`]-byte trailer), charges it and marks it.
    ///
    /// # Safety
    /// As [`GlobalAlloc::alloc`] for `layout`, and `outer` is `layout`'s size plus `MARK_LEN`
    /// at `layout`'s alignment.
    #[inline(always)]
    unsafe fn alloc_marked<const ZEROED: bool>(&self, layout: Layout, outer: Layout) -> *mut u8 {
        if self.system {
            // SAFETY: forwarded contract.
            return unsafe { self.alloc_any::<ZEROED>(layout, outer) };
        }
        // Over another allocator, which heap serves the block depends on the owner
        // (`home_alloc`): one test of it before the call, and the hot slot's after. Both are
        // one when the owner's slot is hot: no slot is leakscope's, so the block is a program
        // block and comes from `inner`. The slot stays hot across the call: an inner allocator
        // that calls back into the shim does so under the guard (`in_inner`), where every event
        // goes to leakscope's counters or the fallback table, never to a slot.
        let owner = reentry::owner();
        if !batch::is_hot(owner) {
            // SAFETY: forwarded contract.
            return unsafe { self.alloc_unhot::<ZEROED>(layout, outer) };
        }
        // SAFETY: `outer` has a non-zero size (at least `MARK_LEN`) and a valid alignment.
        let (ptr, _) = self.in_inner(|_| unsafe { inner_alloc::<A, ZEROED>(&self.inner, outer) });
        if ptr.is_null() {
            return ptr;
        }
        let ptr = opaque(ptr);
        batch::count_hot_alloc(layout.size());
        // SAFETY: `ptr` is a fresh block of `layout.size() + MARK_LEN` bytes; the mark
        // overwrites only the trailer, never bytes the caller sees (zeroed or not).
        unsafe { write_mark(ptr, layout.size(), owner) };
        ptr.ptr()
    }

    /// [`Alloc::alloc_marked`] over another allocator than [`System`] when the owner's slot is
    /// not the hot one (leakscope's own block, another scope's, a thread's first).
    ///
    /// # Safety
    /// As [`Alloc::alloc_marked`].
    #[cold]
    #[inline(never)]
    unsafe fn alloc_unhot<const ZEROED: bool>(&self, layout: Layout, outer: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { self.alloc_any::<ZEROED>(layout, outer) }
    }

    /// [`Alloc::alloc_marked`] for any owner: the heap chosen by the owner, the count in the hot
    /// slot when it is the owner's, out of line otherwise.
    ///
    /// # Safety
    /// As [`Alloc::alloc_marked`].
    #[inline(always)]
    unsafe fn alloc_any<const ZEROED: bool>(&self, layout: Layout, outer: Layout) -> *mut u8 {
        // SAFETY: `outer` has a non-zero size (at least `MARK_LEN`) and a valid alignment.
        let (ptr, owner) =
            self.in_inner(|owner| unsafe { self.home_alloc::<ZEROED>(owner, outer) });
        if ptr.is_null() {
            return ptr;
        }
        let ptr = opaque(ptr);
        if !batch::alloc_fast(owner, layout.size()) {
            // SAFETY: as below.
            return unsafe { count_slow(ptr, layout.size(), owner) };
        }
        // SAFETY: `ptr` is a fresh block of `layout.size() + MARK_LEN` bytes; the mark
        // overwrites only the trailer, never bytes the caller sees (zeroed or not).
        unsafe { write_mark(ptr, layout.size(), owner) };
        ptr.ptr()
    }

    /// [`GlobalAlloc::dealloc`] for every block [`batch::free_fast`] does not count: a sampled
    /// block, leakscope's own, another scope's, a free inside leakscope's code.
    ///
    /// The arguments come in the order `dealloc`'s own arrive in (the address, the size, the
    /// alignment), the shim last, so that the fast path hands them over where they already are:
    /// with `&self` and a `Layout` first, every free moved three registers around for this call
    /// it almost never makes. The same for [`Alloc::dealloc_look`].
    ///
    /// # Safety
    /// As [`GlobalAlloc::dealloc`] for the block at `ptr` with a layout of `size` and `align`
    /// (the parts of the caller's valid `Layout`), and `mark` is the block's mark.
    #[cold]
    #[inline(never)]
    unsafe fn dealloc_slow(ptr: Opaque, size: usize, align: usize, mark: u32, this: &Self) {
        // SAFETY: `size` and `align` are the parts of a valid `Layout` (the caller's contract).
        let layout = unsafe { Layout::from_size_align_unchecked(size, align) };
        if mark & SAMPLED != 0 {
            // SAFETY: a sampled block carries its slot after the mark.
            sampler::freed(unsafe { read_slot(ptr, layout.size()) });
        }
        let ptr = ptr.ptr();
        let owner = mark & !SAMPLED;
        // Recorded before the block goes back: once it does, another thread may get the same
        // address.
        batch::on_free(owner, layout.size());
        // SAFETY: (1) `ptr` came from the home heap of its owner (the mark's) with exactly this
        // outer layout, which the mark's trailer length reconstructs; (2) that layout was valid
        // at allocation.
        this.in_inner(|_| unsafe { this.home_dealloc(owner, ptr, outer_unchecked(layout, mark)) });
    }

    /// [`GlobalAlloc::dealloc`] of a block already counted, whose free ended the thread's free
    /// countdown: the look at the batch bounds, then the free. Its arguments in `dealloc`'s
    /// order, as [`Alloc::dealloc_slow`]'s.
    ///
    /// # Safety
    /// As [`Alloc::dealloc_counted`], for a layout of `size` and `align` (the parts of the
    /// caller's valid `Layout`).
    #[cold]
    #[inline(never)]
    unsafe fn dealloc_look(ptr: *mut u8, size: usize, align: usize, this: &Self) {
        batch::free_look();
        // SAFETY: `size` and `align` are the parts of a valid `Layout`; the rest is forwarded.
        unsafe {
            this.dealloc_counted(ptr, Layout::from_size_align_unchecked(size, align));
        }
    }

    /// Gives back a block whose free [`batch::free_fast`] counted ([`batch::Freed::Counted`] or
    /// [`batch::Freed::Look`]). Its mark matched the hot slot's scope, and the hot slot is never
    /// leakscope's ([`SELF_SCOPE`]: leakscope's events never reach a slot) and always a scope id
    /// (below [`MAX_SCOPES`], so without the `SAMPLED` bit). So the block is a program block with
    /// a plain mark: it came from the inner allocator with a [`MARK_LEN`]-byte trailer, and
    /// neither the heap nor the trailer length need to be read off the mark
    /// ([`Alloc::home_dealloc`], [`outer_unchecked`]), which over a sized-free allocator
    /// (jemalloc's `sdallocx`) was 4 instructions of every free.
    ///
    /// # Safety
    /// As [`GlobalAlloc::dealloc`], and `free_fast` just counted the free of the block.
    #[inline(always)]
    unsafe fn dealloc_counted(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: (1) the block is a program block with a plain mark (above), so it came from
        // `self.inner` (the home heap of every owner but `SELF_SCOPE`) with `layout`'s size plus
        // `MARK_LEN` at `layout`'s alignment; (2) that layout was valid at allocation (the
        // allocation checked it).
        self.in_inner(|_| unsafe {
            self.inner.dealloc(
                ptr,
                Layout::from_size_align_unchecked(layout.size() + MARK_LEN, layout.align()),
            )
        });
    }

    /// The allocation that ended the thread's countdown ([`sampler::tick`]): sampled or not as
    /// [`sampler::expire`] decides, then a look at the thread's batch bounds.
    ///
    /// # Safety
    /// As [`GlobalAlloc::alloc`].
    #[cold]
    #[inline(never)]
    unsafe fn alloc_expired<const ZEROED: bool>(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let ptr = unsafe {
            if sampler::expire() {
                self.alloc_sampled::<ZEROED>(layout)
            } else {
                self.alloc_plain::<ZEROED>(layout)
            }
        };
        batch::check_thread();
        ptr
    }

    /// Allocates a block the sampler picked: sends the sample, then gives the block a
    /// [`SAMPLED_LEN`]-byte trailer holding the sample's slot. Falls back to a plain block when
    /// the sample is dropped.
    ///
    /// # Safety
    /// As [`GlobalAlloc::alloc`].
    #[cold]
    unsafe fn alloc_sampled<const ZEROED: bool>(&self, layout: Layout) -> *mut u8 {
        let Some(outer) = outer(layout, SAMPLED_LEN) else {
            return ptr::null_mut();
        };
        let Some(slot) = sampler::begin(reentry::owner(), layout.size()) else {
            // SAFETY: forwarded contract.
            return unsafe { self.alloc_plain::<ZEROED>(layout) };
        };
        // SAFETY: `outer` has a non-zero size and a valid alignment.
        let (ptr, owner) =
            self.in_inner(|owner| unsafe { self.home_alloc::<ZEROED>(owner, outer) });
        if ptr.is_null() {
            // The sample was sent; tell the collector its block never existed.
            sampler::freed(slot);
            return ptr;
        }
        batch::on_alloc(owner, layout.size());
        let ptr = opaque(ptr);
        // SAFETY: `ptr` is a fresh block of `layout.size() + SAMPLED_LEN` bytes.
        unsafe {
            write_mark(ptr, layout.size(), owner | SAMPLED);
            write_slot(ptr, layout.size(), slot);
        }
        ptr.ptr()
    }

    /// Reallocates by allocating, copying and freeing: for sampled blocks (whose trailer the
    /// inner `realloc` cannot resize) and for reallocations the sampler picked.
    ///
    /// # Safety
    /// As [`GlobalAlloc::realloc`], and `mark` is the block's mark.
    #[cold]
    unsafe fn realloc_by_copy(
        &self,
        ptr: *mut u8,
        layout: Layout,
        new_size: usize,
        mark: u32,
        sample: bool,
    ) -> *mut u8 {
        // SAFETY: `new_size` rounded up to `layout.align()` fits in `isize::MAX` (the caller's
        // contract) and the alignment comes from a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let new_ptr = {
            // The realloc rule: outside every scope the block keeps its owner.
            let _owner = reentry::enter_if_unscoped(mark & !SAMPLED);
            // SAFETY: `new_layout` has a non-zero size (GlobalAlloc's contract for realloc).
            unsafe {
                if sample {
                    self.alloc_sampled::<false>(new_layout)
                } else {
                    self.alloc_plain::<false>(new_layout)
                }
            }
        };
        if !new_ptr.is_null() {
            // SAFETY: (1) both blocks are live and distinct; (2) the copy covers the bytes
            // valid in both; (3) `ptr` is freed with the layout it was allocated with.
            unsafe {
                ptr::copy_nonoverlapping(ptr, new_ptr, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new_ptr
    }
}

// SAFETY: every method forwards to the block's home heap (`inner`, or `System` for leakscope's
// own blocks: the mark's owner says which, so a block always goes back where it came from) with
// the outer layout (the caller's layout with a 2- or 4-byte trailer more, same alignment) and
// returns that heap's block start unchanged, so the caller sees a block of at least its
// requested size and alignment. The trailer lives only
// in the extra bytes, which the caller never sees. Deallocation and reallocation reconstruct
// exactly the outer layout the block was allocated with (the mark says which trailer it has),
// as `GlobalAlloc` requires of the inner allocator. The accounting calls neither panic nor
// allocate through this shim's tracking (leakscope's own allocations are flagged by the
// re-entrancy guard and only counted).
unsafe impl<A: GlobalAlloc> GlobalAlloc for Alloc<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if sampler::tick(layout.size()) {
            // SAFETY: forwarded contract.
            return unsafe { self.alloc_expired::<false>(layout) };
        }
        // SAFETY: forwarded contract, and `tick` just returned false.
        unsafe { self.alloc_small::<false>(layout) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if sampler::tick(layout.size()) {
            // SAFETY: forwarded contract.
            return unsafe { self.alloc_expired::<true>(layout) };
        }
        // SAFETY: forwarded contract, and `tick` just returned false.
        unsafe { self.alloc_small::<true>(layout) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let block = opaque(ptr);
        // SAFETY: the caller guarantees `ptr` was allocated by this shim with `layout`, so the
        // block has its mark at `ptr + layout.size()`.
        let mark = unsafe { read_mark(block, layout.size()) };
        let ptr = block.ptr();
        // Counted before the block goes back: once it does, another thread may get the same
        // address. Every case but the common one is out of line, so this path saves no register.
        match batch::free_fast(mark, layout.size()) {
            // SAFETY: forwarded contract, and `free_fast` counted the free.
            batch::Freed::Counted => unsafe { self.dealloc_counted(ptr, layout) },
            // SAFETY: forwarded contract, and `free_fast` counted the free.
            batch::Freed::Look => unsafe {
                Self::dealloc_look(ptr, layout.size(), layout.align(), self)
            },
            // SAFETY: forwarded contract; `mark` is the block's mark.
            batch::Freed::Slow => unsafe {
                Self::dealloc_slow(block, layout.size(), layout.align(), mark, self)
            },
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if sampler::tick(new_size) {
            // SAFETY: forwarded contract.
            return unsafe { self.realloc_expired(ptr, layout, new_size) };
        }
        // SAFETY: forwarded contract.
        unsafe { self.realloc_with(ptr, layout, new_size, false) }
    }
}

impl<A: GlobalAlloc> Alloc<A> {
    /// A reallocation that ended the thread's countdown: [`Alloc::alloc_expired`]'s counterpart.
    ///
    /// # Safety
    /// As [`GlobalAlloc::realloc`].
    #[cold]
    #[inline(never)]
    unsafe fn realloc_expired(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let sample = sampler::expire();
        // SAFETY: forwarded contract.
        let new_ptr = unsafe { self.realloc_with(ptr, layout, new_size, sample) };
        batch::check_thread();
        new_ptr
    }

    /// [`GlobalAlloc::realloc`], the new block sampled when `sample`.
    ///
    /// # Safety
    /// As [`GlobalAlloc::realloc`].
    #[inline(always)]
    unsafe fn realloc_with(
        &self,
        ptr: *mut u8,
        layout: Layout,
        new_size: usize,
        sample: bool,
    ) -> *mut u8 {
        let block = opaque(ptr);
        // SAFETY: `ptr` is a live block of this shim allocated with `layout` (caller's contract).
        let mark = unsafe { read_mark(block, layout.size()) };
        let ptr = block.ptr();
        // A block that would change heaps (leakscope's own block taken over by a scope, or a
        // program block reallocated inside leakscope's code) is copied too. The new owner is
        // the one `batch::on_realloc` gives it: the current scope, else the block's owner.
        let current = reentry::owner();
        let new_owner = if current != UNSCOPED { current } else { mark };
        if sample
            || mark & SAMPLED != 0
            || self.in_system_heap(mark) != self.in_system_heap(new_owner)
        {
            // SAFETY: forwarded contract; `mark` is the block's mark.
            return unsafe { self.realloc_by_copy(ptr, layout, new_size, mark, sample) };
        }
        // `new_size` rounded up to the alignment is at most `isize::MAX` (the caller's
        // contract), but `new_size + MARK_LEN` may not be.
        let Some(new_outer) = new_size
            .checked_add(MARK_LEN)
            .and_then(|s| Layout::from_size_align(s, layout.align()).ok())
        else {
            return ptr::null_mut();
        };
        // SAFETY: (1) `ptr` came from `self.inner` with the outer layout of `layout` and an
        // unsampled mark; (2) `new_outer.size()` is non-zero and valid for the alignment.
        // (3) `mark` is the block's owner (unsampled), and it stays in that heap (checked above).
        let (new_ptr, current) = self.in_inner(|_| unsafe {
            let old_outer = outer_unchecked(layout, mark);
            if self.in_system_heap(mark) {
                System.realloc(ptr, old_outer, new_outer.size())
            } else {
                self.inner.realloc(ptr, old_outer, new_outer.size())
            }
        });
        if !new_ptr.is_null() {
            // On failure the old block, its mark and its owner's counts stay as they were.
            let new_owner = batch::on_realloc(mark, current, layout.size(), new_size);
            // SAFETY: `new_ptr` is a live block of `new_size + MARK_LEN` bytes.
            unsafe { write_mark(opaque(new_ptr), new_size, new_owner) };
        }
        new_ptr
    }
}
