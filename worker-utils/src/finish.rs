//! [`Finish`]: a call, then a step on its output; the future of wrappers that add work
//! only after the inner call.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
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

/// Runs `step`, or `on_panic` with the payload if `step` panics, in a call the compiler knows
/// cannot unwind.
///
/// A future whose poll may unwind gives its caller an unwind path that drops the future,
/// through a call the compiler does not inline; the future's address then escapes, and the
/// whole stack's future stays in memory instead of registers (the five-layer stack, its
/// timers boxed: 155 instructions a call with an unwinding last step, 65 without). This fn
/// is `extern "C"`, which cannot unwind, so its callers have no such path: a panic in
/// `step` is caught and handed to `on_panic`, and one in `on_panic` (while handling a
/// panic) aborts, as a panic during a panic does. Out of line, for the paths that may
/// panic: inlined, `catch_unwind`'s own call of `step` was left out of line in some stacks.
#[allow(improper_ctypes_definitions, reason = "a Rust fn called from Rust only, for its `nounwind`")]
#[inline(never)]
pub(crate) extern "C" fn catching<T, S, P>(step: S, on_panic: P) -> T
where
    S: FnOnce() -> T,
    P: FnOnce(Box<dyn Any + Send>) -> T,
{
    match std::panic::catch_unwind(AssertUnwindSafe(step)) {
        Ok(output) => output,
        Err(payload) => on_panic(payload),
    }
}

#[cfg(test)]
mod tests {
    use super::catching;

    #[test]
    fn a_step_that_returns_gives_its_value() {
        assert_eq!(catching(|| 7, |_| 0), 7);
    }

    #[test]
    fn a_step_that_panics_gives_what_on_panic_makes_of_the_payload() {
        let message = catching(
            || -> String { panic!("boom") },
            |payload| payload.downcast_ref::<&str>().map_or_else(String::new, |s| (*s).to_owned()),
        );
        assert_eq!(message, "boom");
    }
}
