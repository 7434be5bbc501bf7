//! The future of [`Breaker::execute`](super::Breaker): a call made under a permit.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::CallPermit;
use crate::error::ActionError;

pin_project! {
    /// Asks the breaker for a permit at the first poll (`acquire`), then runs `call` and
    /// records its outcome in the permit. Written by hand, as the other wrappers' futures
    /// are: see [`Finish`](crate::finish::Finish) for why.
    pub(super) struct Guarded<'a, F, G> {
        #[pin]
        call: F,
        // Asked for at the first poll, so a call that is never polled holds none and
        // records nothing. Held across the call: dropped unspent (the call was cancelled or
        // panicked), it records a failure.
        permit: Option<CallPermit<'a>>,
        acquire: G,
    }
}

impl<'a, F, G> Guarded<'a, F, G> {
    #[inline]
    pub(super) fn new(call: F, acquire: G) -> Self {
        Self { call, permit: None, acquire }
    }
}

impl<'a, T, F, G> Future for Guarded<'a, F, G>
where
    F: Future<Output = Result<T, ActionError>>,
    G: Fn() -> Result<CallPermit<'a>, ActionError>,
{
    type Output = Result<T, ActionError>;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let permit = match this.permit {
            Some(permit) => permit,
            None => match (this.acquire)() {
                Ok(permit) => this.permit.insert(permit),
                Err(rejected) => return Poll::Ready(Err(rejected)),
            },
        };
        let result = ready!(this.call.poll(cx));
        permit.record_in_place(&result);
        Poll::Ready(result)
    }
}
