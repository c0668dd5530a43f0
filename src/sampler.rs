//! Byte-interval sampling of allocations with unresolved stack traces: the allocating side.
//!
//! Each thread counts down bytes until its next sample. The countdown is drawn from an exponential
//! distribution with mean `sample_interval_bytes`, as tcmalloc, jemalloc's `prof` and Go's heap
//! profiler do, so an allocation of `s` bytes is sampled with probability `p = 1 - exp(-s/R)`
//! whatever the allocation pattern, and a sample weighs `s/p` bytes and `1/p` blocks (an unbiased
//! estimate). `R = 1` samples every allocation with weight 1.
//!
//! The fast path is one subtraction and a branch ([`tick`]), on a countdown that also tells the
//! batch when to look at its bounds ([`CHECK_BYTES`]). A sampled allocation:
//! 1. takes a *slot* (a sample id) from a lock-free bitmap of [`SLOTS`] ids;
//! 2. captures raw return addresses, up to `max_frames`, without allocating or locking;
//! 3. sends them with the size, owner scope and thread on the sample channel (`try_send`);
//! 4. gets a 4-byte trailer (the 2-byte mark with the `SAMPLED` bit, then the slot id as a `u16`).
//!
//! No slot, or a full channel, means the sample is dropped (counted) and the block is allocated
//! unmarked. A sampled block's free sets its slot's bit in the lock-free `FREED` bitmap before
//! the block goes back to the inner allocator: it cannot be lost and needs no channel. The
//! collector ([`crate::samples`]) removes the sample and only then returns the slot to the pool,
//! so a slot id is never reused while the collector still knows it.

use std::cell::Cell;
use std::sync::atomic::{
    AtomicU64, AtomicUsize,
    Ordering::{Acquire, Relaxed, Release},
};

use crate::batch::CHECK_BYTES;
use crate::channel::LazyChannel;
use crate::reentry::{self, Untracked};

/// Most frames a sample can carry, and so the largest `max_frames` the config accepts.
pub const MAX_FRAMES: usize = 64;
/// How many sampled blocks can be live at once. At the default 512 KiB interval that covers
/// about 32 GiB of live sampled memory; beyond it samples are dropped and counted.
pub(crate) const SLOTS: usize = 1 << 16;
const WORDS: usize = SLOTS / 64;
/// Samples a channel holds between two drains (the collector drains every 10 ms), preallocated:
/// about 80 KB of short samples ([`SHORT_FRAMES`]), 145 KB of long ones. At the default
/// interval that is 128 MiB allocated per 10 ms before a sample would be dropped (and counted).
const CHANNEL_CAPACITY: usize = 256;
/// The frames a short sample has room for: `max_frames` up to this (the default is 25) sends
/// short samples, through a channel of their own, and a larger one long samples of
/// [`MAX_FRAMES`]. crossbeam writes every slot of a channel when it creates it, so the
/// channel's whole size is resident from the start: 145 KB for 64 frames, 80 KB for 32.
const SHORT_FRAMES: usize = 32;
/// The mean sampling interval in bytes; 0 means sampling is off.
static INTERVAL: AtomicU64 = AtomicU64::new(0);
static MAX_FRAMES_SET: AtomicUsize = AtomicUsize::new(25);
static TAKEN: AtomicU64 = AtomicU64::new(0);
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// Stacks captured by the frame-pointer walk, and by DWARF unwinding (no frame pointers in the
/// build, or a walk too short to trust).
static FP_WALKS: AtomicU64 = AtomicU64::new(0);
static DWARF_UNWINDS: AtomicU64 = AtomicU64::new(0);

/// Switches sampling on with a mean interval of `interval_bytes` (0 switches it off) and at most
/// `max_frames` frames per stack.
pub(crate) fn configure(interval_bytes: u64, max_frames: usize) {
    // A validated config is within 1..=MAX_FRAMES already; the clamp is for the test hook.
    MAX_FRAMES_SET.store(max_frames.clamp(1, MAX_FRAMES), Relaxed);
    if interval_bytes > 0 {
        if max_frames <= SHORT_FRAMES {
            SHORT.create();
        } else {
            LONG.create();
        }
    }
    INTERVAL.store(interval_bytes, Relaxed);
    restart_thread();
}

/// Samples sent, and samples dropped (no free slot, or the channel was full).
pub(crate) fn counts() -> (u64, u64) {
    (TAKEN.load(Relaxed), DROPPED.load(Relaxed))
}

/// Stacks captured so far by the frame-pointer walk, and by DWARF unwinding.
pub(crate) fn walks() -> (u64, u64) {
    (FP_WALKS.load(Relaxed), DWARF_UNWINDS.load(Relaxed))
}

/// Runs `f` on the calling thread's countdown: bytes this thread may allocate before its next
/// slow allocation ([`expire`]), the next sample or the next look at the batch bounds
/// ([`CHECK_BYTES`]), whichever comes first. The subtraction that borrows is the trigger. It
/// starts at 0, so a thread's first allocation takes the slow path once and draws its first
/// real countdown there. A field of the thread's [`reentry::Thread`] block, beside the owner and
/// the batch's hot slot: the fast path reaches all three from one base; only this module reads
/// or writes it.
#[inline(always)]
fn with_countdown<R>(f: impl FnOnce(&Cell<u64>) -> R) -> Result<R, std::thread::AccessError> {
    reentry::with_thread(|t| f(&t.countdown))
}

thread_local! {
    /// What the countdown was last set to: the bytes allocated since are `ARMED - countdown`.
    static ARMED: Cell<u64> = const { Cell::new(0) };
    /// Bytes to allocate until the next sample, as of the last [`expire`]. 0 samples the
    /// allocation that next ends the countdown: a thread's first one, the first after sampling
    /// is switched on.
    static SAMPLE_LEFT: Cell<u64> = const { Cell::new(0) };
    /// xorshift64* state; 0 until the thread's first draw.
    static RNG: Cell<u64> = const { Cell::new(0) };
    /// The thread's OS id and name, read once (a syscall each) at its first sample.
    static THREAD: Cell<Option<(u32, [u8; 16])>> = const { Cell::new(None) };
}

/// Charges `size` bytes to the countdown; true when this allocation must take the slow path,
/// [`expire`] (then a look at the batch bounds: see [`crate::alloc`]). One subtraction and one
/// branch: the sampler's countdown and the batch's allocation countdown are one.
///
/// False only when `size` is below [`CHECK_BYTES`]: the countdown is never set above
/// `CHECK_BYTES - 1` ([`expire`], [`restart_thread`]), false means it did not borrow, so
/// `size <= countdown`, and a thread whose countdown cannot be read takes the slow path. The
/// shim's fast path relies on it to build its layout without an overflow check.
#[inline(always)]
pub(crate) fn tick(size: usize) -> bool {
    with_countdown(|c| {
        let (left, expired) = c.get().overflowing_sub(size as u64);
        c.set(left);
        expired
    })
    .unwrap_or(true)
}

/// The countdown ran out at the allocation just charged by [`tick`]: settles the bytes allocated
/// since it was set against the bytes left to the next sample, decides whether this allocation
/// is sampled, and sets the countdown again, to the next sample or [`CHECK_BYTES`], whichever
/// is nearer. An allocation is sampled exactly when the bytes since the last sample reach the
/// drawn interval, as with a countdown of its own: every allocation in between was charged, and
/// the countdown never runs past the sample point.
#[cold]
#[inline(never)]
pub(crate) fn expire() -> bool {
    let (Ok(countdown), Ok(armed), Ok(left)) = (
        with_countdown(Cell::get),
        ARMED.try_with(Cell::get),
        SAMPLE_LEFT.try_with(Cell::get),
    ) else {
        return false;
    };
    // The bytes charged since the countdown was set, this allocation's included.
    let allocated = armed.wrapping_sub(countdown);
    let interval = INTERVAL.load(Relaxed);
    let (sampled, left) = if interval == 0 {
        // Off: the next allocation to end a countdown once it is on is sampled.
        (false, 0)
    } else if allocated >= left {
        // leakscope's own allocations are never sampled; the draw keeps the process unbiased.
        (!reentry::is_busy(), draw(interval))
    } else {
        (false, left - allocated)
    };
    let next = if left == 0 {
        CHECK_BYTES
    } else {
        left.min(CHECK_BYTES)
    };
    // Borrowing ends the countdown: set to `next - 1`, it ends at the allocation that makes
    // the bytes charged reach `next`.
    let _ = SAMPLE_LEFT.try_with(|c| c.set(left));
    let _ = ARMED.try_with(|c| c.set(next - 1));
    let _ = with_countdown(|c| c.set(next - 1));
    sampled
}

/// The bytes to the next sample at mean interval `interval` (at least 1).
fn draw(interval: u64) -> u64 {
    if interval == 1 {
        1
    } else {
        // -ln(U) * R with U uniform in (0, 1]: exponential with mean R.
        let u = ((next_random() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64);
        ((-libm::log(u) * interval as f64) as u64).max(1)
    }
}

/// Makes the calling thread's next allocation end its countdown and be sampled (when sampling
/// is on).
fn restart_thread() {
    let _ = with_countdown(|c| c.set(0));
    let _ = ARMED.try_with(|c| c.set(0));
    let _ = SAMPLE_LEFT.try_with(|c| c.set(0));
}

fn next_random() -> u64 {
    RNG.try_with(|r| {
        let mut x = r.get();
        if x == 0 {
            // Seeded from this thread's address space and a global sequence.
            static SEQ: AtomicU64 = AtomicU64::new(0);
            x = splitmix64((r as *const Cell<u64> as u64) ^ SEQ.fetch_add(1, Relaxed));
        }
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        r.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
    .unwrap_or(0x2545_F491_4F6C_DD1D)
}

/// A well-mixed non-zero state from any seed (splitmix64's finaliser).
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) | 1
}

/// Seeds the calling thread's sampler and restarts its countdown, for reproducible tests.
pub(crate) fn seed_thread(seed: u64) {
    let _ = RNG.try_with(|r| r.set(splitmix64(seed)));
    restart_thread();
}

/// Probability that an allocation of `size` bytes is sampled at mean interval `interval`.
pub(crate) fn probability(size: u64, interval: u64) -> f64 {
    if interval <= 1 {
        1.0
    } else {
        -libm::expm1(-(size as f64) / interval as f64)
    }
}

/// One sampled allocation as sent to the collector, but its frames.
pub(crate) struct SampleHead {
    pub slot: u32,
    pub scope: u32,
    pub size: u64,
    /// The interval in force when it was sampled (its weight depends on it).
    pub interval: u64,
    pub thread_id: u32,
    pub thread_name: [u8; 16],
    /// How many frames the sample holds.
    pub depth: u8,
}

/// One sampled allocation as sent to the collector, with room for `N` frames.
struct Sample<const N: usize> {
    head: SampleHead,
    frames: [usize; N],
}

impl<const N: usize> Sample<N> {
    fn frames(&self) -> &[usize] {
        &self.frames[..(self.head.depth as usize).min(N)]
    }
}

/// The channels of short samples (while `max_frames` is at most [`SHORT_FRAMES`]) and of long
/// ones; each is created when sampling is first switched on with such a `max_frames`.
static SHORT: LazyChannel<Sample<SHORT_FRAMES>> = LazyChannel::new(CHANNEL_CAPACITY);
static LONG: LazyChannel<Sample<MAX_FRAMES>> = LazyChannel::new(CHANNEL_CAPACITY);

/// Slots in use: set by the sampling thread, cleared by the collector.
static USED: [AtomicU64; WORDS] = [const { AtomicU64::new(0) }; WORDS];
/// Slots whose block was freed: set by the freeing thread, cleared by the collector.
static FREED: SlotSet = SlotSet::new();

/// A set of slots that any thread adds to and a drain takes whole, lock-free: a bitmap of the
/// slots and a summary with one bit per word of it, so that a drain reads the 16 summary words
/// and then only the words that have a bit set, not all 1,024.
///
/// A slot's bit is set before its summary bit (release), and a drain clears a summary bit
/// (acquire) before it takes the word. So a bit is either taken by the drain that clears its
/// summary bit after it was set, or its summary bit is set after that drain cleared it and the
/// next drain takes it: none is lost, and none is taken twice (the word is swapped to zero).
/// A summary bit may outlive its word's bits; the next drain then swaps one empty word.
pub(crate) struct SlotSet {
    words: [AtomicU64; WORDS],
    summary: [AtomicU64; WORDS / 64],
}

impl SlotSet {
    pub(crate) const fn new() -> Self {
        SlotSet {
            words: [const { AtomicU64::new(0) }; WORDS],
            summary: [const { AtomicU64::new(0) }; WORDS / 64],
        }
    }

    /// Adds `slot` (ignored past [`SLOTS`]). Lock-free: two atomic ors.
    #[inline]
    pub(crate) fn insert(&self, slot: u32) {
        let w = slot as usize / 64;
        if let (Some(word), Some(summary)) = (self.words.get(w), self.summary.get(w / 64)) {
            word.fetch_or(1 << (slot % 64), Relaxed);
            summary.fetch_or(1 << (w % 64), Release);
        }
    }

    /// Takes every slot added so far, in increasing order, handing each to `f`.
    pub(crate) fn take(&self, mut f: impl FnMut(u32)) {
        for (s, summary) in self.summary.iter().enumerate() {
            if summary.load(Relaxed) == 0 {
                continue;
            }
            let mut words = summary.swap(0, Acquire);
            while words != 0 {
                let w = s * 64 + words.trailing_zeros() as usize;
                words &= words - 1;
                let Some(word) = self.words.get(w) else {
                    continue;
                };
                let mut bits = word.swap(0, Relaxed);
                while bits != 0 {
                    let bit = bits.trailing_zeros();
                    bits &= bits - 1;
                    f((w * 64) as u32 + bit);
                }
            }
        }
    }
}

thread_local! {
    /// Where this thread starts looking for a free slot, so threads rarely contend on a word.
    static HINT: Cell<usize> = const { Cell::new(0) };
}

fn acquire_slot() -> Option<u32> {
    let start = HINT.try_with(Cell::get).unwrap_or(0);
    for i in 0..WORDS {
        let w = (start + i) % WORDS;
        let word = &USED[w];
        let mut bits = word.load(Relaxed);
        while bits != u64::MAX {
            let bit = (!bits).trailing_zeros();
            match word.compare_exchange_weak(bits, bits | 1 << bit, Relaxed, Relaxed) {
                Ok(_) => {
                    let _ = HINT.try_with(|h| h.set(w));
                    return Some((w * 64) as u32 + bit);
                }
                Err(now) => bits = now,
            }
        }
    }
    None
}

/// Returns `slot` to the pool. Only for a slot whose sample the collector will never see (the
/// send failed) or has forgotten.
pub(crate) fn release_slot(slot: u32) {
    if let Some(word) = USED.get(slot as usize / 64) {
        word.fetch_and(!(1 << (slot % 64)), Relaxed);
    }
}

/// Records that the sampled block in `slot` was freed (or never handed out). Lock-free.
#[inline]
pub(crate) fn freed(slot: u32) {
    FREED.insert(slot);
}

/// Takes every freed slot recorded so far, handing each slot to `f`.
pub(crate) fn take_freed(f: impl FnMut(u32)) {
    FREED.take(f);
}

/// Hands every sample sent so far to `f`, with its frames.
pub(crate) fn drain(mut f: impl FnMut(&SampleHead, &[usize])) {
    SHORT.drain(|s| f(&s.head, s.frames()));
    LONG.drain(|s| f(&s.head, s.frames()));
}

/// Starts a sample of a `size`-byte allocation owned by `scope`: takes a slot, captures the
/// stack and sends it. `None` when the sample had to be dropped; the block is then allocated
/// unmarked. On success the caller must either mark the block with the slot or call [`freed`].
#[cold]
pub(crate) fn begin(scope: u32, size: usize) -> Option<u32> {
    let _untracked = Untracked::enter();
    let Some(slot) = acquire_slot() else {
        DROPPED.fetch_add(1, Relaxed);
        return None;
    };
    let (thread_id, thread_name) = this_thread();
    let head = SampleHead {
        slot,
        scope,
        size: size as u64,
        interval: INTERVAL.load(Relaxed).max(1),
        thread_id,
        thread_name,
        depth: 0,
    };
    let max = MAX_FRAMES_SET.load(Relaxed).min(MAX_FRAMES);
    let sent = if max <= SHORT_FRAMES {
        capture_and_send(&SHORT, head, max)
    } else {
        capture_and_send(&LONG, head, max)
    };
    if sent {
        TAKEN.fetch_add(1, Relaxed);
        Some(slot)
    } else {
        release_slot(slot);
        DROPPED.fetch_add(1, Relaxed);
        None
    }
}

/// Captures up to `max` frames into a sample with room for `N` and sends it on `channel`; false
/// when the channel was full or closed for a fork. Inlined into [`begin`], so that the stack
/// holds the same frames of leakscope's whichever channel is used (`max_frames` counts them).
#[inline(always)]
fn capture_and_send<const N: usize>(
    channel: &LazyChannel<Sample<N>>,
    head: SampleHead,
    max: usize,
) -> bool {
    let mut sample = Sample {
        head,
        frames: [0; N],
    };
    let depth = capture(&mut sample.frames[..max.min(N)]);
    sample.head.depth = depth as u8;
    channel.try_send(sample).is_ok()
}

/// Captures up to `frames.len()` return addresses of the calling thread into `frames`; returns
/// how many. Walks the frame-pointer chain when the build has frame pointers and the walk looks
/// whole, and otherwise unwinds with DWARF (`backtrace`). Never allocates, locks or panics
/// (the thread's stack bounds are read once per thread, see [`stack_bounds`]).
#[inline(never)]
fn capture(frames: &mut [usize]) -> usize {
    #[cfg(all(
        leakscope_frame_pointers,
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    {
        let depth = capture_frame_pointers(frames);
        // Fewer frames than leakscope's own few plus one of the program's means the chain broke
        // (code without frame pointers in between): DWARF finds the rest.
        if depth >= MIN_FP_FRAMES.min(frames.len()) {
            FP_WALKS.fetch_add(1, Relaxed);
            return depth;
        }
    }
    DWARF_UNWINDS.fetch_add(1, Relaxed);
    let mut depth = 0;
    // SAFETY: `trace_unsynchronized` is unsafe only because some platforms' unwinders (Windows
    // dbghelp) are not thread-safe; on the unwinders it uses here (libgcc/libunwind's
    // `_Unwind_Backtrace`) concurrent traces are fine. The synchronized `trace` would take a
    // global lock on the allocation path. The callback neither panics nor allocates.
    unsafe {
        backtrace::trace_unsynchronized(|frame| match frames.get_mut(depth) {
            Some(f) => {
                *f = frame.ip() as usize;
                depth += 1;
                depth < frames.len()
            }
            None => false,
        });
    }
    depth
}

/// A frame-pointer walk shorter than this falls back to DWARF: the sampler's own frames
/// (`capture`, `begin`, `alloc_sampled`, the allocator entry point) and at least one more.
#[cfg(all(
    leakscope_frame_pointers,
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
const MIN_FP_FRAMES: usize = 5;

/// The frame-pointer walk from this function's own frame, bounded by the thread's stack.
#[cfg(all(
    leakscope_frame_pointers,
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
#[inline(never)]
fn capture_frame_pointers(frames: &mut [usize]) -> usize {
    let Some((base, top)) = stack_bounds() else {
        return 0;
    };
    let fp: usize;
    // SAFETY: copies the frame-pointer register (rbp / x29) into a general register; no memory
    // is touched. Built with frame pointers, it holds this function's frame record.
    unsafe {
        #[cfg(target_arch = "x86_64")]
        std::arch::asm!("mov {}, rbp", out(reg) fp, options(nomem, nostack, preserves_flags));
        #[cfg(target_arch = "aarch64")]
        std::arch::asm!("mov {}, x29", out(reg) fp, options(nomem, nostack, preserves_flags));
    }
    // Everything from this frame up to the top of the thread's stack is live, mapped stack.
    // On another stack (a signal handler's alternate stack) the bounds do not apply: no walk.
    let here = std::ptr::addr_of!(fp) as usize;
    if here < base || here >= top {
        return 0;
    }
    // SAFETY: `[here, top)` lies within the calling thread's own stack, from a live local of
    // this frame up to the stack's top, so all of it is mapped and readable.
    unsafe { walk_frame_pointers(fp, here, top, frames) }
}

/// Follows a frame-pointer chain from `fp`, storing each frame's return address, reading only
/// the two-word frame records (`[caller's fp, return address]`, on x86_64 and aarch64 alike)
/// that lie wholly inside `[lo, hi)`.
///
/// A record is read only if `fp` is 8-byte aligned and `fp + 16 <= hi`; the next `fp` must be
/// strictly above the current one (callers' frames are higher on a downward stack), which ends
/// the walk within `(hi - lo) / 16` steps even on a corrupt chain. Code without frame pointers
/// leaves some other value in the register: it fails a check or, if it happens to pass, yields
/// addresses that resolve to no symbol. Either way nothing outside `[lo, hi)` is read.
///
/// # Safety
/// Every byte of `[lo, hi)` must be readable for the whole call.
#[cfg_attr(
    not(all(
        leakscope_frame_pointers,
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )),
    allow(dead_code)
)]
unsafe fn walk_frame_pointers(mut fp: usize, lo: usize, hi: usize, frames: &mut [usize]) -> usize {
    const WORD: usize = std::mem::size_of::<usize>();
    let mut depth = 0;
    while depth < frames.len() {
        if fp < lo || !fp.is_multiple_of(WORD) || fp > hi.saturating_sub(2 * WORD) {
            break;
        }
        // SAFETY: `fp` is word-aligned and `[fp, fp + 2 words)` is inside `[lo, hi)`, readable
        // (the caller's contract). Volatile: the words are whatever the stack holds, which
        // the compiler must not assume anything about.
        let (next, ret) = unsafe {
            (
                std::ptr::read_volatile(fp as *const usize),
                std::ptr::read_volatile((fp + WORD) as *const usize),
            )
        };
        if ret == 0 {
            break;
        }
        frames[depth] = ret;
        depth += 1;
        if next <= fp {
            break;
        }
        fp = next;
    }
    depth
}

thread_local! {
    /// The calling thread's stack as `(lowest, highest)` address: `Some((0, 0))` until read,
    /// `None` when it cannot be read.
    #[cfg(all(leakscope_frame_pointers, target_os = "linux"))]
    static STACK: Cell<Option<(usize, usize)>> = const { Cell::new(Some((0, 0))) };
}

/// The calling thread's stack bounds, read once per thread (`pthread_getattr_np`, which takes
/// the thread's own lock briefly and for the main thread reads /proc/self/maps: the caller is
/// under [`Untracked`], so what it allocates is leakscope's).
#[cfg(all(leakscope_frame_pointers, target_os = "linux"))]
fn stack_bounds() -> Option<(usize, usize)> {
    match STACK.try_with(Cell::get) {
        Ok(Some((0, 0))) => {}
        Ok(known) => return known,
        Err(_) => return None,
    }
    let bounds = read_stack_bounds();
    let _ = STACK.try_with(|s| s.set(bounds));
    bounds
}

#[cfg(all(leakscope_frame_pointers, target_os = "linux"))]
fn read_stack_bounds() -> Option<(usize, usize)> {
    let mut attr = std::mem::MaybeUninit::<libc::pthread_attr_t>::uninit();
    let mut addr: *mut libc::c_void = std::ptr::null_mut();
    let mut size: libc::size_t = 0;
    // SAFETY: `pthread_getattr_np` initialises `attr` for the calling thread (checked by its
    // return value) before `pthread_attr_getstack` reads it and `pthread_attr_destroy` frees it;
    // the out-pointers are valid locals.
    unsafe {
        if libc::pthread_getattr_np(libc::pthread_self(), attr.as_mut_ptr()) != 0 {
            return None;
        }
        let rc = libc::pthread_attr_getstack(attr.as_ptr(), &mut addr, &mut size);
        libc::pthread_attr_destroy(attr.as_mut_ptr());
        if rc != 0 {
            return None;
        }
    }
    let base = addr as usize;
    Some((base, base.checked_add(size)?))
}

fn this_thread() -> (u32, [u8; 16]) {
    if let Ok(Some(t)) = THREAD.try_with(Cell::get) {
        return t;
    }
    let t = os_thread();
    let _ = THREAD.try_with(|c| c.set(Some(t)));
    t
}

/// The OS thread id and name (as `prctl(PR_GET_NAME)` reports it: at most 15 bytes).
#[cfg(target_os = "linux")]
fn os_thread() -> (u32, [u8; 16]) {
    let mut name = [0u8; 16];
    // SAFETY: PR_GET_NAME writes at most 16 bytes, NUL included, into `name`, which is 16 bytes.
    unsafe {
        libc::prctl(
            libc::PR_GET_NAME,
            name.as_mut_ptr() as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() } as u32;
    (tid, name)
}

/// Elsewhere threads are told apart by a process-wide sequence number, and have no name.
#[cfg(not(target_os = "linux"))]
fn os_thread() -> (u32, [u8; 16]) {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    (NEXT.fetch_add(1, Relaxed), [0; 16])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every slot added is taken exactly once, in order, whatever the pattern: none, one at each
    /// edge of a word and of a summary word, every slot, and a scattered third.
    #[test]
    fn a_slot_set_takes_every_slot_added_exactly_once() {
        let set = Box::new(SlotSet::new());
        let mut got = Vec::new();
        set.take(|s| got.push(s));
        assert!(got.is_empty());
        let edges = [
            0, 1, 63, 64, 65, 4095, 4096, 4097, 32767, 32768, 65534, 65535,
        ];
        let scattered: Vec<u32> = (0..SLOTS as u32)
            .filter(|s| s.wrapping_mul(2_654_435_761) % 3 == 0)
            .collect();
        let all: Vec<u32> = (0..SLOTS as u32).collect();
        for pattern in [edges.to_vec(), scattered, all] {
            for &s in pattern.iter().rev() {
                set.insert(s);
                set.insert(s);
            }
            // Past the last slot: ignored, never a panic.
            set.insert(SLOTS as u32);
            set.insert(u32::MAX);
            got.clear();
            set.take(|s| got.push(s));
            assert_eq!(got, pattern);
            got.clear();
            set.take(|s| got.push(s));
            assert!(got.is_empty(), "{} taken twice", got.len());
        }
    }

    /// Threads adding while another takes: every slot comes out exactly once.
    #[test]
    fn a_slot_set_loses_nothing_to_a_concurrent_drain() {
        let set = SlotSet::new();
        let done = AtomicUsize::new(0);
        let threads = 4u32;
        let mut taken = vec![0u8; SLOTS];
        std::thread::scope(|scope| {
            for t in 0..threads {
                let (set, done) = (&set, &done);
                scope.spawn(move || {
                    for s in (t..SLOTS as u32).step_by(threads as usize) {
                        set.insert(s);
                    }
                    done.fetch_add(1, Relaxed);
                });
            }
            while done.load(Relaxed) < threads as usize {
                set.take(|s| taken[s as usize] += 1);
            }
        });
        set.take(|s| taken[s as usize] += 1);
        assert!(taken.iter().all(|&n| n == 1), "a slot lost or taken twice");
    }

    #[test]
    fn a_frame_pointer_walk_follows_a_chain_and_reads_nothing_outside_the_bounds() {
        // A fake stack of 16 words whose frame records sit at words 0, 4 and 8.
        let mut stack = [0usize; 16];
        let base = stack.as_ptr() as usize;
        let at = |word: usize| base + word * 8;
        let hi = base + 16 * 8;
        let walk = |stack: &[usize; 16], fp: usize, max: usize| -> Vec<usize> {
            let mut frames = vec![0; max];
            // SAFETY: `[base, hi)` is `stack`, borrowed for the whole call.
            let n = unsafe { walk_frame_pointers(fp, stack.as_ptr() as usize, hi, &mut frames) };
            frames.truncate(n);
            frames
        };
        // A whole chain, ended by a zero frame pointer (a thread's outermost frame).
        stack[0] = at(4);
        stack[1] = 0x1000;
        stack[4] = at(8);
        stack[5] = 0x2000;
        stack[8] = 0;
        stack[9] = 0x3000;
        assert_eq!(walk(&stack, at(0), 8), [0x1000, 0x2000, 0x3000]);
        // Bounded by the frames asked for.
        assert_eq!(walk(&stack, at(0), 2), [0x1000, 0x2000]);
        // A next frame pointer outside the stack (code without frame pointers left another
        // value in the register): the walk stops without reading it.
        stack[4] = 0x10;
        assert_eq!(walk(&stack, at(0), 8), [0x1000, 0x2000]);
        stack[4] = hi + 64;
        assert_eq!(walk(&stack, at(0), 8), [0x1000, 0x2000]);
        // A record that would end past the top is not read.
        stack[4] = hi - 8;
        assert_eq!(walk(&stack, at(0), 8), [0x1000, 0x2000]);
        // Misaligned.
        stack[4] = at(8) + 3;
        assert_eq!(walk(&stack, at(0), 8), [0x1000, 0x2000]);
        // Not monotonic: a loop back down, or to itself, ends the walk.
        stack[4] = at(0);
        assert_eq!(walk(&stack, at(0), 8), [0x1000, 0x2000]);
        stack[4] = at(4);
        assert_eq!(walk(&stack, at(0), 8), [0x1000, 0x2000]);
        // A zero return address ends it too, and a start outside the bounds reads nothing.
        stack[4] = at(8);
        stack[5] = 0;
        assert_eq!(walk(&stack, at(0), 8), [0x1000]);
        assert_eq!(walk(&stack, base - 16, 8), Vec::<usize>::new());
    }

    /// The walk itself, in a build with frame pointers (CI's frame-pointer step runs these).
    #[cfg(all(
        leakscope_frame_pointers,
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    mod frame_pointers {
        use super::*;

        /// Built with frame pointers, the walk sees the same callers as the DWARF unwinder.
        #[test]
        fn the_frame_pointer_walk_agrees_with_dwarf() {
            let mut fp = [0usize; 32];
            let n = capture_frame_pointers(&mut fp);
            assert!(n >= MIN_FP_FRAMES, "{n} frames");
            let mut dwarf = Vec::new();
            backtrace::trace(|f| {
                dwarf.push(f.ip() as usize);
                dwarf.len() < 64
            });
            // Past the first frame (the walk's own caller is where the two start differently),
            // every return address the walk found is one the unwinder found.
            for ip in &fp[1..n.min(8)] {
                assert!(dwarf.contains(ip), "{ip:#x} not in {dwarf:x?}");
            }
        }

        /// Built with frame pointers, a stack deeper than the frames asked for is captured whole by
        /// the walk (25 of 25, `Config::default()`'s `max_frames`), not by the DWARF fallback.
        #[test]
        fn a_deep_stack_is_walked_by_frame_pointers_to_the_frames_asked_for() {
            #[inline(never)]
            fn at_depth(depth: usize, frames: &mut [usize]) -> usize {
                if depth == 0 {
                    capture(frames)
                } else {
                    std::hint::black_box(at_depth(depth - 1, std::hint::black_box(frames)))
                }
            }
            let walks = FP_WALKS.load(Relaxed);
            let mut frames = [0usize; 25];
            assert_eq!(at_depth(40, &mut frames), 25);
            assert!(FP_WALKS.load(Relaxed) > walks, "the walk was not taken");
            // The 25 return addresses include the recursion's, all into the same function.
            let repeated = frames.iter().filter(|&&ip| ip == frames[5]).count();
            assert!(repeated >= 15, "{frames:x?}");
        }
    }
}
