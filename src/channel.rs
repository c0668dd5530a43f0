//! A bounded channel created on first use without a lock: the transport of the thread batches
//! and of the stack samples. A leaf: it knows nothing of what travels through it.

use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Release};

use crossbeam_channel::{Receiver, Sender};
use once_cell::race::OnceBox;

use crate::os::{self, ForkHandlers, ForkLayer};
use crate::reentry::Untracked;

/// The fork gate of every [`LazyChannel`]: the number of sends in progress, and [`FORKING`].
///
/// `fork` copies only the forking thread. A thread of the parent caught between reserving a
/// channel slot and filling it leaves the child a slot that nobody will ever fill, and a
/// receiver waits for a reserved slot to be filled, so the child's first drain would never end.
/// Before a fork the gate closes and the forking thread waits until no send is in progress; a
/// send that finds it closed fails as if the channel were full, and its sender keeps the message
/// (a batch) or counts it as dropped (a sample), as it does for a full channel. One counter and
/// one flag in a single word: each send does a read-modify-write before and after, so the order
/// of those operations on the one word decides, without a fence, whether a send runs before the
/// fork or sees the gate closed.
static GATE: AtomicUsize = AtomicUsize::new(0);
/// Set in [`GATE`] while a fork is about to happen.
const FORKING: usize = 1 << (usize::BITS - 1);

/// Closes the gate and waits for the sends in flight (each well under a microsecond).
fn close_gate() {
    GATE.fetch_or(FORKING, AcqRel);
    let mut spins = 0u32;
    while GATE.load(Acquire) & !FORKING != 0 {
        spins += 1;
        if spins < 100 {
            std::hint::spin_loop();
        } else {
            // A sender preempted mid-send: let it run.
            std::thread::yield_now();
        }
    }
}

fn open_gate_in_parent() {
    GATE.fetch_and(!FORKING, Release);
}

fn open_gate_in_child() {
    // The child's only thread is the one that forked, which was sending nothing: threads of the
    // parent that had counted themselves in and then saw the gate closed are gone.
    GATE.store(0, Release);
}

const GATE_HANDLERS: ForkHandlers = ForkHandlers {
    prepare: close_gate,
    parent: open_gate_in_parent,
    child: open_gate_in_child,
};

/// A bounded channel created on first use without a lock: racing threads each build one and
/// all but the first drop theirs (`OnceBox`), so no thread ever waits here. Its memory (the
/// preallocated slots) is leakscope's own.
pub(crate) struct LazyChannel<T> {
    cell: OnceBox<(Sender<T>, Receiver<T>)>,
    capacity: usize,
}

impl<T> LazyChannel<T> {
    /// A channel of `capacity` messages, not created yet.
    pub(crate) const fn new(capacity: usize) -> Self {
        LazyChannel {
            cell: OnceBox::new(),
            capacity,
        }
    }

    /// Creates the channel now rather than on the first send.
    pub(crate) fn create(&self) {
        self.sender();
    }

    /// The sending side, creating the channel on first use. Private: every send goes through
    /// the fork gate ([`LazyChannel::try_send`]).
    fn sender(&self) -> &Sender<T> {
        &self
            .cell
            .get_or_init(|| {
                let _untracked = Untracked::enter();
                // Before the channel is published, so no send can run ungated. Once per
                // channel; later registrations return at once.
                os::on_fork(ForkLayer::Channels, GATE_HANDLERS);
                Box::new(crossbeam_channel::bounded(self.capacity))
            })
            .0
    }

    /// Sends `message` without waiting: `Err` gives it back when the channel is full or closed
    /// for a fork that is about to happen (see [`GATE`]).
    pub(crate) fn try_send(&self, message: T) -> Result<(), T> {
        let sender = self.sender();
        if GATE.fetch_add(1, AcqRel) & FORKING != 0 {
            GATE.fetch_sub(1, Release);
            return Err(message);
        }
        let sent = sender.try_send(message).map_err(|e| e.into_inner());
        GATE.fetch_sub(1, Release);
        sent
    }

    /// Hands every message sent so far to `f`. Bounded by what the channel held when called,
    /// so a drain ends even while threads keep sending.
    pub(crate) fn drain(&self, mut f: impl FnMut(T)) {
        let Some((_, rx)) = self.cell.get() else {
            return;
        };
        for _ in 0..rx.len() {
            match rx.try_recv() {
                Ok(message) => f(message),
                Err(_) => break,
            }
        }
    }
}
