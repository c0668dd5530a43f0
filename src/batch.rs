//! Per-thread counter batches and their trip through the channel.
//!
//! The shim records every allocation and free in the calling thread's batch: a few slots of
//! plain counters, one per scope the thread touched recently. Nothing is shared, so the hot path
//! writes no shared cache line. A batch is sent through a bounded crossbeam channel with
//! `try_send` when it reaches [`FLUSH_EVENTS`] events or [`FLUSH_NET_BYTES`] of net change in one
//! scope, when the thread exits, and on [`flush`](crate::flush). Whoever drains the channel (the
//! collector, or a stats query) applies the batches to the totals in the registry.
//!
//! Nothing is ever dropped. A full channel leaves the batch where it is to be retried after
//! another [`FLUSH_EVENTS`] events. Events that find no slot while the channel is full, and
//! events of a thread whose thread-locals are being torn down, go to the lock-free fallback table
//! ([`crate::sinks`]) instead.
//!
//! The batch lives in a const-initialised thread-local without a destructor, readable until the
//! thread is gone. A second, zero-sized thread-local with a destructor is touched on a thread's
//! first event; its destructor flushes the batch when the thread exits and switches the thread
//! to the fallback table for whatever other destructors still allocate.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::channel::LazyChannel;
use crate::ids::{Counts, SELF_SCOPE, UNSCOPED};
use crate::reentry::{self, Untracked};
use crate::sinks;

/// Scopes a batch can hold at once.
const SLOTS: usize = 8;
/// A batch is sent after this many events.
pub const FLUSH_EVENTS: u32 = 1024;
/// A batch is sent when one scope's net change reaches this many bytes: the most a live figure
/// can trail per scope per thread.
pub const FLUSH_NET_BYTES: u64 = 64 * 1024;
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

const EMPTY: u32 = u32::MAX;

struct Slot {
    scope: Cell<u32>,
    allocs: Cell<u64>,
    frees: Cell<u64>,
    bytes_allocated: Cell<u64>,
    bytes_freed: Cell<u64>,
}

impl Slot {
    const fn new() -> Self {
        Slot {
            scope: Cell::new(EMPTY),
            allocs: Cell::new(0),
            frees: Cell::new(0),
            bytes_allocated: Cell::new(0),
            bytes_freed: Cell::new(0),
        }
    }

    fn counts(&self) -> Counts {
        Counts {
            allocs: self.allocs.get(),
            frees: self.frees.get(),
            bytes_allocated: self.bytes_allocated.get(),
            bytes_freed: self.bytes_freed.get(),
        }
    }

    fn clear(&self) {
        self.scope.set(EMPTY);
        self.allocs.set(0);
        self.frees.set(0);
        self.bytes_allocated.set(0);
        self.bytes_freed.set(0);
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

struct Local {
    slots: [Slot; SLOTS],
    /// Index of the slot used last: consecutive events usually hit the same scope.
    last: Cell<usize>,
    /// Events left until the next send attempt.
    events_left: Cell<u32>,
    /// Net bytes in one slot that trigger a send: [`FLUSH_NET_BYTES`], or never while the
    /// channel is full (the next attempt then waits for [`FLUSH_EVENTS`] more events, so a full
    /// channel costs one failed send per 1,024 events, not one per event).
    net_limit: Cell<i64>,
    life: Cell<Life>,
}

thread_local! {
    static LOCAL: Local = const {
        Local {
            slots: [const { Slot::new() }; SLOTS],
            last: Cell::new(0),
            events_left: Cell::new(FLUSH_EVENTS),
            net_limit: Cell::new(FLUSH_NET_BYTES as i64),
            life: Cell::new(Life::Fresh),
        }
    };
    static EXIT_HOOK: ExitHook = const { ExitHook };
}

/// Zero-sized; its thread-local destructor flushes the thread's batch at thread exit.
struct ExitHook;

impl Drop for ExitHook {
    fn drop(&mut self) {
        let _ = LOCAL.try_with(Local::exit);
    }
}

#[derive(Clone, Copy)]
enum Event {
    Alloc,
    Free,
}

impl Local {
    /// The hot path: records one event in the slot used last, if it is this scope's. Returns
    /// false for everything else, which [`record_slow`] handles.
    ///
    /// No look at `life`: a thread that is not batching has every slot empty (a fresh thread's
    /// start that way, and the exit hook empties them before switching to `Exiting`; only
    /// [`Local::record`], which checks `life`, fills a slot), and no scope id is [`EMPTY`].
    #[inline(always)]
    fn record_fast(&self, scope: u32, size: u64, event: Event) -> bool {
        let slot = &self.slots[self.last.get() % SLOTS];
        if slot.scope.get() != scope {
            return false;
        }
        self.count(slot, size, event);
        true
    }

    /// Adds one event to `slot`, and sends the batch when a bound is reached.
    #[inline(always)]
    fn count(&self, slot: &Slot, size: u64, event: Event) {
        // Only the counter that moved can cross the net bound, so each event checks one
        // direction: an allocation `allocated - freed`, a free `freed - allocated`.
        let net = match event {
            Event::Alloc => {
                slot.allocs.set(slot.allocs.get().wrapping_add(1));
                let a = slot.bytes_allocated.get().wrapping_add(size);
                slot.bytes_allocated.set(a);
                a.wrapping_sub(slot.bytes_freed.get())
            }
            Event::Free => {
                slot.frees.set(slot.frees.get().wrapping_add(1));
                let f = slot.bytes_freed.get().wrapping_add(size);
                slot.bytes_freed.set(f);
                f.wrapping_sub(slot.bytes_allocated.get())
            }
        };
        // Never 0 on entry (a send resets it), but the hot path must not carry even a debug
        // build's overflow check: wrapping costs nothing and cannot panic.
        let left = self.events_left.get().wrapping_sub(1);
        self.events_left.set(left);
        // Signed: `net` is negative when the other direction leads, which is not a crossing.
        if left == 0 || net as i64 >= self.net_limit.get() {
            self.send();
        }
    }

    /// Records one event anywhere in the batch, registering the exit hook or taking a new slot
    /// as needed. Returns false when the event could not be placed in the batch and must go to
    /// the fallback table.
    fn record(&self, scope: u32, size: u64, event: Event) -> bool {
        if self.life.get() != Life::Live && !self.start() {
            return false;
        }
        let Some(slot) = self.slot_for(scope) else {
            return false;
        };
        self.count(slot, size, event);
        true
    }

    #[inline]
    fn slot_for(&self, scope: u32) -> Option<&Slot> {
        let last = &self.slots[self.last.get() % SLOTS];
        if last.scope.get() == scope {
            return Some(last);
        }
        self.find_slot(scope)
    }

    #[cold]
    fn find_slot(&self, scope: u32) -> Option<&Slot> {
        let index = match self.slots.iter().position(|s| s.scope.get() == scope) {
            Some(i) => i,
            None => {
                let i = match self.slots.iter().position(|s| s.scope.get() == EMPTY) {
                    Some(i) => i,
                    None if self.send() => 0,
                    None => return None,
                };
                self.slots[i].scope.set(scope);
                i
            }
        };
        self.last.set(index);
        Some(&self.slots[index])
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
                self.life.set(Life::Live);
                if EXIT_HOOK.try_with(|_| ()).is_err() {
                    self.life.set(Life::Exiting);
                    return false;
                }
                true
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.slots.iter().all(|s| s.scope.get() == EMPTY)
    }

    /// Tries to send the batch. Returns true when the batch is now empty.
    #[cold]
    #[inline(never)]
    fn send(&self) -> bool {
        self.events_left.set(FLUSH_EVENTS);
        if self.is_empty() {
            self.net_limit.set(FLUSH_NET_BYTES as i64);
            return true;
        }
        let _untracked = Untracked::enter();
        let mut deltas = [Delta::default(); SLOTS];
        let mut len = 0;
        for s in self.slots.iter().filter(|s| s.scope.get() != EMPTY) {
            deltas[len] = Delta {
                scope: s.scope.get(),
                counts: s.counts(),
            };
            len += 1;
        }
        match CHANNEL.try_send(Message::Counts { len, deltas }) {
            Ok(()) => {
                self.slots.iter().for_each(Slot::clear);
                self.net_limit.set(FLUSH_NET_BYTES as i64);
                true
            }
            Err(_) => {
                CHANNEL_FULL.fetch_add(1, Relaxed);
                self.net_limit.set(i64::MAX);
                false
            }
        }
    }

    /// Hands every slot to `apply` and empties the batch.
    fn take(&self, apply: &mut dyn FnMut(u32, &Counts)) {
        for s in self.slots.iter().filter(|s| s.scope.get() != EMPTY) {
            apply(s.scope.get(), &s.counts());
            s.clear();
        }
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
    if LOCAL.try_with(|l| l.record_fast(scope, size, event)) != Ok(true) {
        record_slow(scope, size, event);
    }
}

/// Everything but the hot path: the thread's first event, another scope's slot, a thread that is
/// exiting, the fallback table.
#[cold]
#[inline(never)]
fn record_slow(scope: u32, size: u64, event: Event) {
    if LOCAL.try_with(|l| l.record(scope, size, event)) != Ok(true) {
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
    LOCAL.try_with(Local::send).unwrap_or(true)
}

/// Hands the calling thread's batch to `apply` and empties it (a batch the channel had no room
/// for, applied directly by a flush).
pub(crate) fn take_thread(apply: &mut dyn FnMut(u32, &Counts)) {
    let _ = LOCAL.try_with(|l| l.take(apply));
}
