//! A bounded channel created on first use without a lock: the transport of the thread batches
//! and of the stack samples. A leaf: it knows nothing of what travels through it.

use crossbeam_channel::{Receiver, Sender};
use once_cell::race::OnceBox;

use crate::reentry::Untracked;

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

    /// The sending side, creating the channel on first use.
    pub(crate) fn sender(&self) -> &Sender<T> {
        &self
            .cell
            .get_or_init(|| {
                let _untracked = Untracked::enter();
                Box::new(crossbeam_channel::bounded(self.capacity))
            })
            .0
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
