//! Per-thread counter batches and their trip through the channel.
//!
//! The shim records every allocation and free in the calling thread's batch: a few slots of
//! plain counters, one per scope the thread touched recently, the one used last at a fixed place
//! (the *hot* slot). Nothing is shared, so the hot path writes no shared cache line. The bounds
//! are looked at every [`CHECK_BYTES`] allocated (the sampler's countdown) or freed, not on every
//! event; a look sends the batch through a bounded crossbeam channel with `try_send` when it holds
//! [`FLUSH_EVENTS`] events or one scope's net change is within [`CHECK_BYTES`] of
//! [`FLUSH_NET_BYTES`], so a scope's live figure trails by less than [`FLUSH_NET_BYTES`] (and the
//! one event a look follows). A batch is also sent when
//! the thread exits, and on [`flush`](crate::flush). Whoever drains the channel (the collector,
//! or a stats query) applies the batches to the totals in the registry.
//!
//! Nothing is ever dropped. A full channel leaves the batch where it is to be retried once it
//! holds another [`FLUSH_EVENTS`] events. Events that find no slot while the channel is full, and
//! events of a thread whose thread-locals are being torn down, go to the lock-free fallback table
//! ([`crate::sinks`]) instead.
//!
//! The batch lives in const-initialised thread-locals without a destructor, readable until the
//! thread is gone: the hot slot in the thread's [`reentry::Thread`] block (beside the owner and
//! the sampler's countdown, so the fast path reaches all three from one base), the rest in this
//! module's own; [`Batch`] is the two together. A second, zero-sized thread-local with a
//! destructor is touched on a thread's first event; its destructor flushes the batch when the
//! thread exits and switches the thread to the fallback table for whatever other destructors
//! still allocate.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::channel::LazyChannel;
use crate::ids::{Counts, SELF_SCOPE, UNSCOPED};
use crate::reentry::{self, Slot, Untracked};
use crate::sinks;

/// Scopes a batch can hold at once: the hot slot and `SLOTS - 1` others.
const SLOTS: usize = 8;
/// A batch is sent when a look at its bounds finds this many events in it.
pub const FLUSH_EVENTS: u64 = 1024;
/// The most one scope's net change may reach in a batch before it is sent: the most a live
/// figure can trail per scope per thread.
pub const FLUSH_NET_BYTES: u64 = 64 * 1024;
/// Bytes allocated, or bytes freed, between two looks at a thread's batch bounds. Allocations
/// count down in the sampler's countdown ([`crate::sampler::tick`]), frees in the hot slot's
/// biased `bytes_freed` ([`Local::free_bias`]): one branch on an add per free, one subtraction
/// and one branch per allocation, and nothing else between looks.
/// Between two looks one scope's net change moves by less than this (plus the one event that
/// ends the countdown, counted before the look), so a look sends the batch once a scope's net
/// change reaches `FLUSH_NET_BYTES - CHECK_BYTES` and the bound above holds.
pub const CHECK_BYTES: u64 = 32 * 1024;
/// The net change a look sends at (see [`CHECK_BYTES`]).
const NET_TRIGGER: u64 = FLUSH_NET_BYTES - CHECK_BYTES;
/// Batches the channel holds: about 85 KB, preallocated. The collector drains it every 10 ms;
/// a full channel delays counts, it never loses them.
const CHANNEL_CAPACITY: usize = 256;

/// One scope's counts in a sent batch.
#[derive(Clone, Copy, Debug, Default)]
struct Delta {
    scope: u32,
    counts: Counts,
}

/// What travels through the channel.
enum Message {
    /// A thread's counters.
    Counts { len: usize, deltas: [Delta; SLOTS] },
}

static CHANNEL: LazyChannel<Message> = LazyChannel::new(CHANNEL_CAPACITY);

/// Times a send found the channel full (the batch was kept and retried later).
static CHANNEL_FULL: AtomicU64 = AtomicU64::new(0);

/// How often a thread found the channel full and kept its batch for later.
pub(crate) fn channel_full_retries() -> u64 {
    CHANNEL_FULL.load(Relaxed)
}

const EMPTY: u32 = Slot::EMPTY;

/// A slot's counts (the cells are [`reentry::Slot`]'s, so that the hot one can live in the
/// thread's block; every operation on them is here).
impl Slot {
    fn is_empty(&self) -> bool {
        self.scope.get() == EMPTY
    }

    fn counts(&self) -> Counts {
        Counts {
            allocs: self.allocs.get(),
            frees: self.frees.get(),
            bytes_allocated: self.bytes_allocated.get(),
            bytes_freed: self.bytes_freed.get(),
        }
    }

    /// Events counted since the batch was last sent.
    fn events(&self) -> u64 {
        self.allocs.get().wrapping_add(self.frees.get())
    }

    /// The scope's net change in bytes since the batch was last sent, either way.
    fn net(&self) -> u64 {
        (self
            .bytes_allocated
            .get()
            .wrapping_sub(self.bytes_freed.get()) as i64)
            .unsigned_abs()
    }

    /// Exchanges the contents of two slots (`Cell::swap` has a panic path for overlapping cells;
    /// these never overlap, and two plain moves have none).
    fn exchange(&self, other: &Slot) {
        fn cell<T: Copy>(a: &Cell<T>, b: &Cell<T>) {
            b.set(a.replace(b.get()));
        }
        cell(&self.scope, &other.scope);
        cell(&self.allocs, &other.allocs);
        cell(&self.frees, &other.frees);
        cell(&self.bytes_allocated, &other.bytes_allocated);
        cell(&self.bytes_freed, &other.bytes_freed);
    }

    fn clear(&self) {
        self.scope.set(EMPTY);
        self.allocs.set(0);
        self.frees.set(0);
        self.bytes_allocated.set(0);
        self.bytes_freed.set(0);
    }

    /// Adds one event to this slot, the hot one (its `bytes_freed` biased). A free also counts
    /// down to the next look at the bounds (an allocation did so in the sampler's countdown,
    /// before it was made): true when that countdown ran out and [`Batch::frees_expired`] is
    /// due.
    #[inline(always)]
    #[must_use]
    fn count(&self, size: u64, event: Event) -> bool {
        // Wrapping: the hot path must not carry even a debug build's overflow check.
        match event {
            Event::Alloc => {
                self.allocs.set(self.allocs.get().wrapping_add(1));
                self.bytes_allocated
                    .set(self.bytes_allocated.get().wrapping_add(size));
                false
            }
            Event::Free => {
                self.frees.set(self.frees.get().wrapping_add(1));
                // The biased count carries exactly when `size` exceeds the bytes left to free
                // before the next look (see `free_bias`): the add is the countdown.
                let (freed, expired) = self.bytes_freed.get().overflowing_add(size);
                self.bytes_freed.set(freed);
                expired
            }
        }
    }
}

/// Where a thread is in its life, as far as batching goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Life {
    /// No event yet: the exit hook is not registered.
    Fresh,
    /// Batching.
    Live,
    /// The exit hook ran: events go straight to the fallback table.
    Exiting,
}

/// A thread's batch but its hot slot (see [`Batch`]).
struct Local {
    /// The other scopes' slots.
    others: [Slot; SLOTS - 1],
    /// The events in `others`, and the largest net change among them: what a look needs of
    /// them, kept up to date by whatever changes them (only [`Batch::make_hot`], a send and a
    /// take do; every event counts in the hot slot), so a look reads the hot slot and these two.
    others_events: Cell<u64>,
    others_net: Cell<u64>,
    /// The free countdown, folded into the hot slot's byte counter: between the cold
    /// operations, `hot.bytes_freed` holds the hot scope's bytes freed plus this bias, chosen so
    /// that the add which carries is the free that ends the countdown: bytes this thread may
    /// still free before the next look ([`CHECK_BYTES`] at most) are `!hot.bytes_freed`.
    /// Every operation that reads or moves the slots does so on plain counts, between
    /// [`Batch::unbias`] and [`Batch::rebias`]; only [`Slot::count`] adds to the biased value.
    /// 0 on a fresh thread, whose hot slot is all zeros (the block it lives in cannot name
    /// [`CHECK_BYTES`]): the countdown starts when the thread does ([`Batch::go_live`]), and no
    /// free is counted in the hot slot before (it is empty until then).
    free_bias: Cell<u64>,
    /// Events in the slots at which a look sends the batch: [`FLUSH_EVENTS`], or
    /// [`FLUSH_EVENTS`] more than at a send that found the channel full.
    send_at_events: Cell<u64>,
    /// Net bytes in one slot at which a look sends the batch: [`NET_TRIGGER`], or never while the
    /// channel is full (the next attempt then waits for [`FLUSH_EVENTS`] more events, so a full
    /// channel costs one failed send per 1,024 events, not one per look).
    net_limit: Cell<u64>,
    life: Cell<Life>,
}

impl Local {
    /// A fresh thread's batch: every slot empty, no free countdown yet ([`Local::free_bias`]).
    const fn new() -> Self {
        Local {
            others: [const { Slot::new() }; SLOTS - 1],
            others_events: Cell::new(0),
            others_net: Cell::new(0),
            free_bias: Cell::new(0),
            send_at_events: Cell::new(FLUSH_EVENTS),
            net_limit: Cell::new(NET_TRIGGER),
            life: Cell::new(Life::Fresh),
        }
    }
}

thread_local! {
    static LOCAL: Local = const { Local::new() };
    static EXIT_HOOK: ExitHook = const { ExitHook };
}

/// A thread's batch: its hot slot, the slot of the scope counted last, at a fixed place in the
/// thread's [`reentry::Thread`] block, so the fast path finds it with one compare and no index
/// (another scope's event swaps its slot in); and the rest, in [`LOCAL`]. The other fields are
/// reached through `Deref`.
struct Batch<'a> {
    hot: &'a Slot,
    local: &'a Local,
}

impl std::ops::Deref for Batch<'_> {
    type Target = Local;

    #[inline(always)]
    fn deref(&self) -> &Local {
        self.local
    }
}

/// Runs `f` on the calling thread's batch. Both thread-locals are const-initialised without a
/// destructor: readable at every point of the thread's life.
#[inline(always)]
fn local<R>(f: impl FnOnce(&Batch<'_>) -> R) -> Result<R, std::thread::AccessError> {
    reentry::with_thread(|t| LOCAL.try_with(|local| f(&Batch { hot: &t.hot, local })))
        .and_then(|r| r)
}

/// Runs `f` on the calling thread's hot slot alone: what the fast paths need.
#[inline(always)]
fn hot<R>(f: impl FnOnce(&Slot) -> R) -> Result<R, std::thread::AccessError> {
    reentry::with_thread(|t| f(&t.hot))
}

/// Zero-sized; its thread-local destructor flushes the thread's batch at thread exit.
struct ExitHook;

impl Drop for ExitHook {
    fn drop(&mut self) {
        let _ = local(|l| l.exit());
    }
}

#[derive(Clone, Copy)]
enum Event {
    Alloc,
    Free,
}

impl Batch<'_> {
    /// Every slot, the hot one first.
    fn slots(&self) -> impl Iterator<Item = &Slot> + '_ {
        std::iter::once(self.hot).chain(self.others.iter())
    }

    /// The hot path: records one event in the hot slot, if it is this scope's. Returns false for
    /// everything else, which [`record_slow`] handles.
    ///
    /// No look at `life`: a thread that is not batching has every slot empty (a fresh thread's
    /// start that way, and the exit hook empties them before switching to `Exiting`; only
    /// [`Batch::record`], which checks `life`, fills a slot), and no scope id is [`EMPTY`].
    #[inline(always)]
    fn record_fast(&self, scope: u32, size: u64, event: Event) -> bool {
        if self.hot.scope.get() != scope {
            return false;
        }
        if self.hot.count(size, event) {
            self.frees_expired();
        }
        true
    }

    /// [`CHECK_BYTES`] more bytes freed: look at the bounds, count down again.
    #[cold]
    #[inline(never)]
    fn frees_expired(&self) {
        self.unbias();
        self.check_plain();
        self.rebias(CHECK_BYTES);
    }

    /// Takes the bias out of the hot slot's `bytes_freed`, leaving the plain count, and returns
    /// the bytes that were left to free before the next look (meaningless once it ran out).
    fn unbias(&self) -> u64 {
        let stored = self.hot.bytes_freed.get();
        self.hot
            .bytes_freed
            .set(stored.wrapping_sub(self.free_bias.get()));
        !stored
    }

    /// Biases the hot slot's plain `bytes_freed` again so that the next look comes after
    /// `free_left` more bytes freed: the stored value becomes `!free_left`, and an add carries
    /// once the bytes added exceed `free_left`.
    fn rebias(&self, free_left: u64) {
        let stored = !free_left;
        self.free_bias
            .set(stored.wrapping_sub(self.hot.bytes_freed.get()));
        self.hot.bytes_freed.set(stored);
    }

    /// Runs `f`, which reads or moves the slots, on plain counts, keeping the free countdown.
    fn plain<R>(&self, f: impl FnOnce() -> R) -> R {
        let free_left = self.unbias();
        let result = f();
        self.rebias(free_left);
        result
    }

    /// A look at the bounds: sends the batch when it holds [`FLUSH_EVENTS`] events or a scope's
    /// net change reached [`NET_TRIGGER`] (see [`CHECK_BYTES`]).
    #[cold]
    #[inline(never)]
    fn check(&self) {
        self.plain(|| self.check_plain());
    }

    /// [`Batch::check`] on plain counts.
    fn check_plain(&self) {
        let events = self.hot.events().wrapping_add(self.others_events.get());
        let net = self.hot.net().max(self.others_net.get());
        if events >= self.send_at_events.get() || net >= self.net_limit.get() {
            self.send_plain();
        }
    }

    /// Recomputes `others_events` and `others_net` after the other slots changed.
    #[cold]
    fn settle_others(&self) {
        let (events, net) = self.others.iter().fold((0u64, 0u64), |(e, n), s| {
            (e.wrapping_add(s.events()), n.max(s.net()))
        });
        self.others_events.set(events);
        self.others_net.set(net);
    }

    /// Records one event anywhere in the batch, registering the exit hook or taking a new slot
    /// as needed. Returns false when the event could not be placed in the batch and must go to
    /// the fallback table.
    fn record(&self, scope: u32, size: u64, event: Event) -> bool {
        if self.life.get() != Life::Live && !self.start() {
            return false;
        }
        if !self.plain(|| self.make_hot(scope)) {
            return false;
        }
        if self.hot.count(size, event) {
            self.frees_expired();
        }
        true
    }

    /// Makes `scope`'s slot the hot one: swaps in its slot, or an empty one (sending the batch
    /// when there is none). Returns false when every slot is another scope's and the channel is
    /// full. On plain counts ([`Batch::plain`]).
    #[cold]
    fn make_hot(&self, scope: u32) -> bool {
        if self.hot.scope.get() == scope {
            return true;
        }
        if let Some(slot) = self.others.iter().find(|s| s.scope.get() == scope) {
            self.hot.exchange(slot);
            self.settle_others();
            return true;
        }
        if !self.hot.is_empty() {
            match self.others.iter().find(|s| s.is_empty()) {
                Some(slot) => {
                    self.hot.exchange(slot);
                    self.settle_others();
                }
                // After a send every slot is empty (and the send settled the others).
                None if self.send_plain() => {}
                None => return false,
            }
        }
        self.hot.scope.set(scope);
        true
    }

    /// Registers the exit hook on a thread's first event. Returns false once the thread exits.
    #[cold]
    fn start(&self) -> bool {
        match self.life.get() {
            Life::Live => true,
            Life::Exiting => false,
            Life::Fresh => {
                // Registering a thread-local destructor may allocate on some platforms.
                let _untracked = Untracked::enter();
                self.go_live();
                if EXIT_HOOK.try_with(|_| ()).is_err() {
                    self.life.set(Life::Exiting);
                    return false;
                }
                true
            }
        }
    }

    /// Switches a fresh thread to batching and starts its free countdown (see
    /// [`Local::free_bias`]).
    fn go_live(&self) {
        self.life.set(Life::Live);
        self.unbias();
        self.rebias(CHECK_BYTES);
    }

    fn is_empty(&self) -> bool {
        self.slots().all(Slot::is_empty)
    }

    /// Tries to send the batch. Returns true when the batch is now empty.
    #[cold]
    #[inline(never)]
    fn send(&self) -> bool {
        self.plain(|| self.send_plain())
    }

    /// [`Batch::send`] on plain counts.
    fn send_plain(&self) -> bool {
        if self.is_empty() {
            self.send_at_events.set(FLUSH_EVENTS);
            self.net_limit.set(NET_TRIGGER);
            return true;
        }
        let _untracked = Untracked::enter();
        let mut deltas = [Delta::default(); SLOTS];
        let mut len = 0;
        let mut events = 0u64;
        for s in self.slots().filter(|s| !s.is_empty()) {
            deltas[len] = Delta {
                scope: s.scope.get(),
                counts: s.counts(),
            };
            events = events.wrapping_add(s.events());
            len += 1;
        }
        match CHANNEL.try_send(Message::Counts { len, deltas }) {
            Ok(()) => {
                self.slots().for_each(Slot::clear);
                self.settle_others();
                self.send_at_events.set(FLUSH_EVENTS);
                self.net_limit.set(NET_TRIGGER);
                true
            }
            Err(_) => {
                CHANNEL_FULL.fetch_add(1, Relaxed);
                self.send_at_events.set(events.saturating_add(FLUSH_EVENTS));
                self.net_limit.set(u64::MAX);
                false
            }
        }
    }

    /// Hands every slot to `apply` and empties the batch.
    fn take(&self, apply: &mut dyn FnMut(u32, &Counts)) {
        self.plain(|| self.take_plain(apply));
    }

    /// [`Batch::take`] on plain counts.
    fn take_plain(&self, apply: &mut dyn FnMut(u32, &Counts)) {
        for s in self.slots().filter(|s| !s.is_empty()) {
            apply(s.scope.get(), &s.counts());
            s.clear();
        }
        self.settle_others();
        self.send_at_events.set(FLUSH_EVENTS);
        self.net_limit.set(NET_TRIGGER);
    }

    /// The exit hook: send what is left, or park it in the fallback table, and route whatever
    /// later destructors allocate to the fallback table.
    fn exit(&self) {
        if !self.send() {
            self.take(&mut |scope, counts| sinks::fallback_add(scope, counts));
        }
        self.life.set(Life::Exiting);
    }
}

/// Charges an event of `size` bytes to scope `scope`.
#[inline(always)]
fn record(scope: u32, size: usize, event: Event) {
    let size = size as u64;
    if local(|l| l.record_fast(scope, size, event)) != Ok(true) {
        record_slow(scope, size, event);
    }
}

/// Everything but the hot path: the thread's first event, another scope's slot, a thread that is
/// exiting, the fallback table.
#[cold]
#[inline(never)]
fn record_slow(scope: u32, size: u64, event: Event) {
    if local(|l| l.record(scope, size, event)) != Ok(true) {
        fallback_event(scope, size, event);
    }
}

/// Charges one event to the fallback table.
#[cold]
#[inline(never)]
fn fallback_event(scope: u32, size: u64, event: Event) {
    let counts = match event {
        Event::Alloc => Counts {
            allocs: 1,
            bytes_allocated: size,
            ..Counts::default()
        },
        Event::Free => Counts {
            frees: 1,
            bytes_freed: size,
            ..Counts::default()
        },
    };
    sinks::fallback_add(scope, &counts);
}

/// The shim's fast path for a new block of `size` bytes owned by `owner`: counts it in the hot
/// slot when that slot is `owner`'s. False leaves the block uncounted, for [`on_alloc`].
///
/// No look at [`SELF_SCOPE`]: leakscope's own events go to [`sinks`] before any slot is
/// chosen, so no slot is ever leakscope's and the one compare answers both questions.
#[inline(always)]
pub(crate) fn alloc_fast(owner: u32, size: usize) -> bool {
    let hot = is_hot(owner);
    if hot {
        count_hot_alloc(size);
    }
    hot
}

/// Whether `owner`'s slot is the calling thread's hot one (never for [`SELF_SCOPE`]: no slot is
/// leakscope's). For an allocation counted by [`count_hot_alloc`] once its block exists.
#[inline(always)]
pub(crate) fn is_hot(owner: u32) -> bool {
    hot(|hot| hot.scope.get() == owner) == Ok(true)
}

/// Counts a new block of `size` bytes in the hot slot: only for a block whose owner
/// [`is_hot`] just found hot, with nothing in between that could change the hot slot (an inner
/// allocator's call: see [`crate::alloc`]).
#[inline(always)]
pub(crate) fn count_hot_alloc(size: usize) {
    let _ = hot(|hot| {
        // An allocation ends no countdown here: it counted down in the sampler's.
        let _ = hot.count(size as u64, Event::Alloc);
    });
}

/// What [`free_fast`] did with a free. `Counted` and `Look` only for a mark equal to the hot
/// slot's scope: a scope id, never [`SELF_SCOPE`] (leakscope's events never reach a slot) and
/// never a sampled block's mark, which the shim relies on to free the block to the inner
/// allocator with a plain trailer without looking at the mark again.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freed {
    /// Counted in the hot slot.
    Counted,
    /// Counted, and the free countdown ran out: [`free_look`] is due.
    Look,
    /// Not counted: [`on_free`] must do it.
    Slow,
}

/// The shim's fast path for the free of a block of `size` bytes whose mark is `mark`: counts it
/// in the hot slot when that slot is the mark's owner's and the thread is not inside leakscope's
/// code. One compare of the mark as read: no slot is ever leakscope's, and a sampled block's mark
/// (its `SAMPLED` bit set) is no scope id, so both take the slow path with every other case.
#[inline(always)]
pub(crate) fn free_fast(mark: u32, size: usize) -> Freed {
    hot(|hot| {
        if hot.scope.get() != mark || reentry::is_busy() {
            return Freed::Slow;
        }
        if hot.count(size as u64, Event::Free) {
            Freed::Look
        } else {
            Freed::Counted
        }
    })
    .unwrap_or(Freed::Slow)
}

/// The look [`Freed::Look`] asks for.
#[cold]
#[inline(never)]
pub(crate) fn free_look() {
    let _ = local(|l| l.frees_expired());
}

/// Charges a new block of `size` bytes to `owner`, the thread's owner when the block was
/// requested (read before the inner allocator ran: see [`crate::alloc`]): the current scope, or
/// leakscope itself when the thread is inside leakscope's code.
#[inline(always)]
pub(crate) fn on_alloc(owner: u32, size: usize) {
    if owner == SELF_SCOPE {
        sinks::self_alloc(size);
    } else {
        record(owner, size, Event::Alloc);
    }
}

/// Credits the free of a block of `size` bytes to its owner.
#[inline(always)]
pub(crate) fn on_free(owner: u32, size: usize) {
    if owner == SELF_SCOPE {
        sinks::self_free(size);
    } else if reentry::is_busy() {
        // Inside leakscope's own code (a send in progress, the collector thread): the batch may
        // be mid-update, so the fallback table takes it.
        fallback_event(owner, size as u64, Event::Free);
    } else {
        record(owner, size, Event::Free);
    }
}

/// Charges a reallocation from `old_size` to `new_size` bytes of a block owned by `owner`, made
/// while `current` was the thread's owner, and returns the block's new owner: the innermost
/// current scope if there is one, otherwise the block keeps its owner. It counts as a free of
/// the old size and an allocation of the new one.
#[inline]
pub(crate) fn on_realloc(owner: u32, current: u32, old_size: usize, new_size: usize) -> u32 {
    on_free(owner, old_size);
    // Inside leakscope's code the current owner is leakscope itself, which the rule makes the
    // block's new owner.
    let new_owner = if current != UNSCOPED { current } else { owner };
    on_alloc(new_owner, new_size);
    new_owner
}

/// Hands every batch sent so far to `apply`.
pub(crate) fn drain(mut apply: impl FnMut(u32, &Counts)) {
    CHANNEL.drain(|message| match message {
        Message::Counts { len, deltas } => {
            for d in &deltas[..len.min(SLOTS)] {
                apply(d.scope, &d.counts);
            }
        }
    });
}

/// Tries to send the calling thread's batch (see [`crate::registry::flush_thread`]). Returns true
/// when the batch is now empty.
pub(crate) fn send_thread() -> bool {
    local(|l| l.send()).unwrap_or(true)
}

/// Hands the calling thread's batch to `apply` and empties it (a batch the channel had no room
/// for, applied directly by a flush).
pub(crate) fn take_thread(apply: &mut dyn FnMut(u32, &Counts)) {
    let _ = local(|l| l.take(apply));
}

/// A look at the calling thread's batch bounds after [`CHECK_BYTES`] more bytes allocated (the
/// sampler's countdown ran out: see [`crate::alloc`]). Sends the batch when one is due. Inside
/// leakscope's own code the batch may be mid-update (an allocation during a send), so the look
/// waits for the next countdown.
#[cold]
#[inline(never)]
pub(crate) fn check_thread() {
    if !reentry::is_busy() {
        let _ = local(|l| l.check());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The free countdown folded into the hot slot's biased byte count ends exactly where the
    /// separate countdown did (the free that takes the bytes freed past `CHECK_BYTES`), keeps
    /// its place across a swap of the hot slot, and leaves every count plain and exact.
    #[test]
    fn the_biased_free_countdown_ends_where_a_countdown_would() {
        let (hot, local) = (Slot::new(), Local::new());
        let l = Batch {
            hot: &hot,
            local: &local,
        };
        l.go_live();
        assert!(l.plain(|| l.make_hot(5)));
        let quarter = CHECK_BYTES / 4;
        for _ in 0..4 {
            assert!(!l.hot.count(quarter, Event::Free));
        }
        assert!(
            l.hot.count(1, Event::Free),
            "one byte past CHECK_BYTES ends it"
        );
        assert_eq!(l.unbias(), !0, "the countdown ran out by one byte");
        assert_eq!(l.hot.bytes_freed.get(), CHECK_BYTES + 1);
        l.rebias(CHECK_BYTES);

        // 100 bytes into a fresh countdown, another scope's slot is swapped in: the countdown
        // goes on where it was.
        assert!(!l.hot.count(100, Event::Free));
        assert!(l.plain(|| l.make_hot(7)));
        assert!(!l.hot.count(CHECK_BYTES - 100, Event::Free));
        assert!(l.hot.count(1, Event::Free));
        l.unbias();
        assert_eq!(l.hot.scope.get(), 7);
        assert_eq!(l.hot.bytes_freed.get(), CHECK_BYTES - 99);
        assert_eq!(l.hot.frees.get(), 2);
        let five = l.others.iter().find(|s| s.scope.get() == 5).unwrap();
        assert_eq!(five.bytes_freed.get(), CHECK_BYTES + 1 + 100);
        assert_eq!(five.frees.get(), 6);
        assert_eq!(l.others_net.get(), CHECK_BYTES + 101);
        assert_eq!(l.others_events.get(), 6);
    }

    /// A fresh thread's hot slot and bias are zeros (the block the slot lives in cannot name
    /// `CHECK_BYTES`): what runs on plain counts before the thread's first event leaves them so,
    /// and going live starts a whole free countdown, the state the batch's const initialiser
    /// built when the hot slot was its own.
    #[test]
    fn going_live_starts_a_whole_free_countdown() {
        let (hot, local) = (Slot::new(), Local::new());
        let l = Batch {
            hot: &hot,
            local: &local,
        };
        assert!(l.send(), "an empty batch is sent without the channel");
        assert_eq!((hot.bytes_freed.get(), local.free_bias.get()), (0, 0));
        l.go_live();
        assert_eq!(hot.bytes_freed.get(), !CHECK_BYTES);
        assert!(l.plain(|| l.make_hot(3)));
        assert!(!l.hot.count(CHECK_BYTES, Event::Free));
        assert!(
            l.hot.count(1, Event::Free),
            "one byte past CHECK_BYTES ends it"
        );
        l.unbias();
        assert_eq!(hot.bytes_freed.get(), CHECK_BYTES + 1);
        assert_eq!(hot.frees.get(), 2);
    }
}
