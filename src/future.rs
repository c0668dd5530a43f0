//! Scoped futures: a future's allocations charged to a scope, whichever thread polls it.
//!
//! A [`crate::ScopeGuard`] belongs to a thread, but a future runs in slices: each `poll` may run on
//! another worker thread, and between two polls the thread runs other tasks. So the scope is
//! entered around every `poll` of the inner future and around its drop, and left before the
//! executor gets the thread back (the shape of tracing's `Instrument`, with a scope id where
//! tracing keeps a span).
//!
//! The wrapper holds the inner future and the scope's `u32` id, nothing else, so it is `Send`,
//! `Sync` and `Unpin` exactly when the inner future is, and needs no runtime.

use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::reentry::OwnerGuard;
use crate::registry;
use crate::scope::Scope;

/// Charges a future's allocations to a scope: `.in_scope(&SCOPE)` on any future.
///
/// ```
/// # #[global_allocator]
/// # static ALLOC: leakscope::Alloc = leakscope::Alloc::system();
/// use leakscope::tasks::InScope;
///
/// static RENDER: leakscope::Scope = leakscope::Scope::new("doc_render");
///
/// async fn render(n: usize) -> Vec<u8> {
///     vec![7; n]
/// }
///
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     // A minimal executor, so the example needs no runtime.
/// #     struct Noop;
/// #     impl std::task::Wake for Noop {
/// #         fn wake(self: std::sync::Arc<Self>) {}
/// #     }
/// #     let waker = std::task::Waker::from(std::sync::Arc::new(Noop));
/// #     let mut cx = std::task::Context::from_waker(&waker);
/// #     let mut f = std::pin::pin!(f);
/// #     loop {
/// #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
/// #             return v;
/// #         }
/// #     }
/// # }
/// let body = block_on(async { render(100).in_scope(&RENDER).await });
/// leakscope::flush();
/// assert_eq!(leakscope::stats(&RENDER).curr_bytes, 100); // the body, allocated by render
/// # drop(body);
/// ```
pub trait InScope: Future + Sized {
    /// Enters `scope` around every poll of this future and around its drop.
    ///
    /// The scope's name is registered here if this is its first use.
    fn in_scope(self, scope: &Scope) -> Scoped<Self> {
        Scoped::new(self, scope.id())
    }

    /// Enters the scope called `name` around every poll of this future and around its drop:
    /// the future counterpart of [`crate::scope`], for names known only at run time.
    ///
    /// The name is looked up once, here, under a lock; polls cost the same as with
    /// [`InScope::in_scope`].
    fn in_scope_named(self, name: &str) -> Scoped<Self> {
        Scoped::new(self, registry::id_of(name))
    }
}

impl<F: Future> InScope for F {}

/// A future whose polls and drop run in a scope. Made by [`InScope::in_scope`] and
/// [`InScope::in_scope_named`].
///
/// Its size is the inner future's plus a `u32` (rounded up to the inner future's alignment); it
/// is `Send`, `Sync` and `Unpin` exactly when the inner future is.
#[must_use = "futures do nothing unless you `.await` or poll them"]
#[derive(Debug)]
pub struct Scoped<F> {
    /// Dropped by hand in `Drop`, inside the scope. Structurally pinned: never moved out.
    inner: ManuallyDrop<F>,
    id: u32,
}

impl<F> Scoped<F> {
    fn new(inner: F, id: u32) -> Self {
        Scoped {
            inner: ManuallyDrop::new(inner),
            id,
        }
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is pinned structurally and nothing else is: it is never moved out of
        // `self` (no method returns it by value; `Drop` drops it in place), `Scoped` is not
        // `repr(packed)`, it is `Unpin` only when `F` is (the auto impl), and `id` is a plain
        // `u32` read by copy. So pinning `inner` here keeps the promise `self`'s pin made.
        let (inner, id) = unsafe {
            let this = self.get_unchecked_mut();
            (Pin::new_unchecked(&mut *this.inner), this.id)
        };
        // Restored when the guard drops: after the poll, and also when it panics.
        let _g = OwnerGuard::set(id);
        inner.poll(cx)
    }
}

impl<F> Drop for Scoped<F> {
    fn drop(&mut self) {
        // A future dropped before completion frees its state (and may allocate while doing
        // so): that is the scope's too.
        let _g = OwnerGuard::set(self.id);
        // SAFETY: `inner` was initialised in `new` and is dropped only here, once: `drop` runs
        // at most once and nothing else takes the value out of the `ManuallyDrop`. Dropping in
        // place is what the pin contract requires of a pinned `inner`.
        unsafe { ManuallyDrop::drop(&mut self.inner) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reentry::owner as current;

    static S: Scope = Scope::new("future_test_scope");

    /// Reports the thread's scope id when polled and when dropped.
    struct Probe<'a> {
        seen: &'a std::cell::Cell<(u32, u32)>,
    }

    impl Future for Probe<'_> {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            let (_, dropped) = self.seen.get();
            self.seen.set((current(), dropped));
            Poll::Ready(())
        }
    }

    impl Drop for Probe<'_> {
        fn drop(&mut self) {
            let (polled, _) = self.seen.get();
            self.seen.set((polled, current()));
        }
    }

    #[test]
    fn polls_and_drop_run_in_the_scope_and_restore_the_outer_one() {
        let seen = std::cell::Cell::new((u32::MAX, u32::MAX));
        let mut f = Box::pin(Probe { seen: &seen }.in_scope(&S));
        struct Noop;
        impl std::task::Wake for Noop {
            fn wake(self: std::sync::Arc<Self>) {}
        }
        let waker = std::task::Waker::from(std::sync::Arc::new(Noop));
        assert_eq!(
            f.as_mut().poll(&mut Context::from_waker(&waker)),
            Poll::Ready(())
        );
        assert_eq!(current(), crate::ids::UNSCOPED);
        drop(f);
        assert_eq!(seen.get(), (S.id(), S.id()));
        assert_eq!(current(), crate::ids::UNSCOPED);
    }

    #[test]
    fn named_scopes_are_the_static_ones_of_that_name() {
        let seen = std::cell::Cell::new((u32::MAX, u32::MAX));
        let f = Probe { seen: &seen }.in_scope_named("future_test_scope");
        assert_eq!(f.id, S.id());
    }
}
