//! The `GlobalAlloc` shim: the hot path, and the mark stored with every block.
//!
//! Every block the shim hands out is [`MARK_LEN`] bytes longer than requested. The extra bytes,
//! a trailer at `ptr + size`, hold the block's *mark*: the id of the scope that owns it. A free
//! reads the owner back in O(1), whatever thread frees, with no lookup table. A trailer rather
//! than a header because the inner allocator's size classes usually absorb four bytes for free
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
//! - The mark is written and read through [`std::hint::black_box`]ed pointers; see
//!   [`write_mark`] for why.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::ptr;

use crate::batch;

/// Bytes added after every block for its mark.
pub const MARK_LEN: usize = 4;

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
#[derive(Debug, Default)]
pub struct Alloc<A = System> {
    inner: A,
}

impl Alloc<System> {
    /// The shim over the operating system's allocator.
    pub const fn system() -> Self {
        Alloc { inner: System }
    }
}

impl<A> Alloc<A> {
    /// The shim over `inner`.
    pub const fn new(inner: A) -> Self {
        Alloc { inner }
    }
}

/// The layout the inner allocator sees for a block of `layout`: the same alignment, the mark
/// added to the size. `None` when that would overflow.
#[inline]
fn outer(layout: Layout) -> Option<Layout> {
    let size = layout.size().checked_add(MARK_LEN)?;
    Layout::from_size_align(size, layout.align()).ok()
}

/// [`outer`] for a layout whose outer layout is known to be valid.
///
/// # Safety
/// `outer(layout)` must be `Some`: true for the layout of every block this shim allocated,
/// since the allocation computed it.
#[inline]
unsafe fn outer_unchecked(layout: Layout) -> Layout {
    // SAFETY: the caller guarantees `layout.size() + MARK_LEN` neither overflows nor, rounded
    // up to `layout.align()` (a power of two, from a valid `Layout`), exceeds `isize::MAX`.
    unsafe { Layout::from_size_align_unchecked(layout.size() + MARK_LEN, layout.align()) }
}

/// Stores `mark` in the trailer of the block at `ptr` of `size` bytes.
///
/// The pointer goes through `black_box` first. Once the shim is inlined under fat LTO, LLVM
/// knows `ptr` came from an allocation function (`__rust_alloc_zeroed`, say) of `size` bytes:
/// the trailer lies outside that object as the caller sees it, and LLVM may fold a later read of
/// it to zero or drop this store (SPEC 13; rust-lang/rust#146766 is likely the same family).
/// An opaque pointer carries no provenance LLVM can reason about, so the store and the later
/// load are kept as written. The cost is a register move.
///
/// # Safety
/// `ptr` must point to a live block of at least `size + MARK_LEN` bytes.
#[inline]
unsafe fn write_mark(ptr: *mut u8, size: usize, mark: u32) {
    // SAFETY: (1) `ptr + size` is in bounds of the block, which is `size + MARK_LEN` bytes long
    // (caller's contract); (2) the write covers exactly the last `MARK_LEN` bytes and is
    // unaligned, since `size` can be anything.
    unsafe {
        black_box(ptr)
            .add(size)
            .cast::<[u8; MARK_LEN]>()
            .write_unaligned(mark.to_ne_bytes());
    }
}

/// Reads the mark of the block at `ptr` of `size` bytes.
///
/// # Safety
/// `ptr` must point to a live block of `size + MARK_LEN` bytes whose mark was written by
/// [`write_mark`].
#[inline]
unsafe fn read_mark(ptr: *mut u8, size: usize) -> u32 {
    // SAFETY: as in `write_mark`: the last `MARK_LEN` bytes of the block, read unaligned,
    // through an opaque pointer so the optimizer cannot fold the value.
    let bytes = unsafe {
        black_box(ptr)
            .add(size)
            .cast::<[u8; MARK_LEN]>()
            .read_unaligned()
    };
    u32::from_ne_bytes(bytes)
}

// SAFETY: every method forwards to `inner` with the outer layout (the caller's layout with
// `MARK_LEN` bytes more, same alignment) and returns the inner block's start unchanged, so the
// caller sees a block of at least its requested size and alignment. The mark lives only in the
// extra bytes, which the caller never sees. Deallocation and reallocation reconstruct exactly
// the outer layout the block was allocated with, as `GlobalAlloc` requires of the inner
// allocator. The accounting calls neither panic nor allocate through this shim's tracking
// (leakscope's own allocations are flagged by the re-entrancy guard and only counted).
unsafe impl<A: GlobalAlloc> GlobalAlloc for Alloc<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(outer) = outer(layout) else {
            return ptr::null_mut();
        };
        // SAFETY: `outer` has a non-zero size (at least `MARK_LEN`) and a valid alignment.
        let ptr = unsafe { self.inner.alloc(outer) };
        if !ptr.is_null() {
            let owner = batch::on_alloc(layout.size());
            // SAFETY: `ptr` is a fresh block of `outer.size() == layout.size() + MARK_LEN` bytes.
            unsafe { write_mark(ptr, layout.size(), owner) };
        }
        ptr
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let Some(outer) = outer(layout) else {
            return ptr::null_mut();
        };
        // SAFETY: as in `alloc`.
        let ptr = unsafe { self.inner.alloc_zeroed(outer) };
        if !ptr.is_null() {
            let owner = batch::on_alloc(layout.size());
            // SAFETY: as in `alloc`; the mark overwrites only the trailer, never the zeroed
            // bytes the caller sees.
            unsafe { write_mark(ptr, layout.size(), owner) };
        }
        ptr
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller guarantees `ptr` was allocated by this shim with `layout`, so the
        // block is `layout.size() + MARK_LEN` bytes with its mark written at allocation.
        let owner = unsafe { read_mark(ptr, layout.size()) };
        // Recorded before the block goes back: once it does, another thread may get the same
        // address.
        batch::on_free(owner, layout.size());
        // SAFETY: (1) `ptr` came from `self.inner` with exactly this outer layout; (2) that
        // layout was valid when the block was allocated.
        unsafe { self.inner.dealloc(ptr, outer_unchecked(layout)) };
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // `new_size` rounded up to the alignment is at most `isize::MAX` (the caller's
        // contract), but `new_size + MARK_LEN` may not be.
        let Some(new_outer) = new_size
            .checked_add(MARK_LEN)
            .and_then(|s| Layout::from_size_align(s, layout.align()).ok())
        else {
            return ptr::null_mut();
        };
        // SAFETY: `ptr` is a live block of this shim allocated with `layout` (caller's contract).
        let owner = unsafe { read_mark(ptr, layout.size()) };
        // SAFETY: (1) `ptr` came from `self.inner` with the outer layout of `layout`; (2)
        // `new_outer.size()` is non-zero and valid for the alignment, as just checked.
        let new_ptr = unsafe {
            self.inner
                .realloc(ptr, outer_unchecked(layout), new_outer.size())
        };
        if !new_ptr.is_null() {
            // On failure the old block, its mark and its owner's counts stay as they were.
            let new_owner = batch::on_realloc(owner, layout.size(), new_size);
            // SAFETY: `new_ptr` is a live block of `new_size + MARK_LEN` bytes.
            unsafe { write_mark(new_ptr, new_size, new_owner) };
        }
        new_ptr
    }
}
