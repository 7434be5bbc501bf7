//! [`Finish`]: a call, then a step on its output; the future of wrappers that add work
//! only after the inner call.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

pin_project! {
    /// Polls `call`, then returns `finish(output)`.
    ///
    /// Wrappers return this instead of being an `async fn`: an async fn moves its arguments
    /// into its state on the first poll, and `FutureExt::map` moves its closure out of the
    /// future to call it; both copy words just stored by the caller with wider loads, which
    /// the CPU cannot forward from its store buffer: a stall of several nanoseconds per
    /// layer per call. `finish` is called through a reference and reads its captures in
    /// place.
    pub(crate) struct Finish<F, G> {
        #[pin]
        call: F,
        finish: G,
    }
}

impl<F, G> Finish<F, G> {
    #[inline]
    pub(crate) fn new(call: F, finish: G) -> Self {
        Self { call, finish }
    }
}

impl<F: Future, G: Fn(F::Output) -> T, T> Future for Finish<F, G> {
    type Output = T;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.project();
        let output = ready!(this.call.poll(cx));
        Poll::Ready((this.finish)(output))
    }
}
