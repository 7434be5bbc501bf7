//! Tracing spans along a job's path, named and attributed after OpenTelemetry's messaging
//! conventions, and the [`TraceContext`] a job carries from the span that enqueued it to
//! every delivery.
//!
//! | span | OTel name | kind | made by |
//! |---|---|---|---|
//! | `send` | `send {queue}` | producer | every enqueue call (one per batch) |
//! | `process` | `process {queue}` | consumer | the runner, once per delivery |
//! | `action` | `action {name}` | internal | every `#[action]` call, once [`enable_spans`] was called |
//! | `attempt` | `attempt` | internal | every attempt inside a `Retry`, once [`enable_spans`] was called |
//!
//! `process` carries `messaging.system`, `messaging.destination.name`,
//! `messaging.operation.type = process`, `messaging.message.id`,
//! `worker_utils.delivery` and, on failure, `error.type` (the error's kind). `action` and
//! `attempt` record their `outcome` (`ok` or the error's kind). Events inside them mark a
//! backoff wait (`delay_ms`), a retry-budget refusal, a circuit-breaker rejection and the
//! runner's redelivery decision.
//!
//! With the `otel` feature, [`otel::install`](crate::otel::install) exports these spans and
//! each enqueue stores the W3C trace context of its `send` span with the job, in memory and
//! in Redis; each delivery's `process` span links to it and, by default
//! ([`ProducerTrace::Parent`]), is its child, so one trace shows the producer, every
//! delivery and the dead letter, across processes. Without a subscriber the spans are
//! disabled at their call site, and `action` and `attempt` are not even built until
//! [`enable_spans`] is called.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tracing::Span;

use crate::action::Action;
use crate::context::{ActionContext, JobId};
use crate::error::ActionError;

/// The value of `messaging.system` on every span: the conventions name brokers, and this
/// crate's queues are its own protocol whatever stores them.
pub const MESSAGING_SYSTEM: &str = "worker_utils";

/// The W3C trace context (`traceparent`, `tracestate`) of the span that enqueued a job,
/// kept with the job through every redelivery and into its dead letter.
///
/// ```
/// use worker_utils::trace::TraceContext;
/// let cx = TraceContext::new("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "vendor=1");
/// assert_eq!(cx.trace_id(), Some("0af7651916cd43dd8448eb211c80319c"));
/// assert_eq!(cx.tracestate(), "vendor=1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct TraceContext {
    traceparent: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    tracestate: String,
}

impl TraceContext {
    /// A context from its two W3C headers (`tracestate` may be empty).
    pub fn new(traceparent: impl Into<String>, tracestate: impl Into<String>) -> Self {
        Self { traceparent: traceparent.into(), tracestate: tracestate.into() }
    }

    /// The `traceparent` header: `version-traceid-spanid-flags`.
    pub fn traceparent(&self) -> &str {
        &self.traceparent
    }

    /// The `tracestate` header; empty when there is none.
    pub fn tracestate(&self) -> &str {
        &self.tracestate
    }

    /// The trace id, the part of `traceparent` dashboards search by.
    pub fn trace_id(&self) -> Option<&str> {
        self.traceparent.split('-').nth(1)
    }
}

/// How a delivery's `process` span relates to the span that enqueued the job; see
/// [`RunnerBuilder::producer_trace`](crate::worker::RunnerBuilder::producer_trace).
///
/// ```
/// use worker_utils::trace::ProducerTrace;
/// assert_eq!(ProducerTrace::default(), ProducerTrace::Parent);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProducerTrace {
    /// The `process` span is a child of the producer's `send` span (and links to it): one
    /// trace from enqueue to the last delivery.
    #[default]
    Parent,
    /// Each `process` span starts a trace of its own and only links to the producer's, as
    /// the conventions suggest when one producer trace would grow without bound.
    Link,
}

/// Turns on the `action` and `attempt` spans. [`otel::install`](crate::otel::install)
/// calls it; a program that exports spans another way calls it once at start. Off, they
/// cost one relaxed load per call.
///
/// ```
/// worker_utils::trace::enable_spans();
/// assert!(worker_utils::trace::spans_enabled());
/// ```
pub fn enable_spans() {
    crate::metrics::switches::turn_on_spans();
}

/// Whether the `action` and `attempt` spans are built.
#[inline]
pub fn spans_enabled() -> bool {
    crate::metrics::switches::on().spans()
}

// Integers are recorded as `i64`: the OpenTelemetry layer records other integer types as
// strings.

/// The span of one enqueue call of `count` jobs.
pub(crate) fn send_span(queue: &str, count: usize) -> Span {
    tracing::info_span!(
        "send",
        otel.name = %format_args!("send {queue}"),
        otel.kind = "producer",
        messaging.system = MESSAGING_SYSTEM,
        messaging.destination.name = queue,
        messaging.operation.type = "send",
        messaging.operation.name = "send",
        messaging.batch.message_count = i64::try_from(count).unwrap_or(i64::MAX),
    )
}

/// The trace context to store with the jobs `send` enqueues: `None` unless the `otel`
/// feature is on and an OpenTelemetry layer records the span.
#[cfg(feature = "otel")]
#[inline]
pub(crate) fn capture(send: &Span) -> Option<Arc<TraceContext>> {
    if send.is_disabled() { None } else { crate::otel::capture(send).map(Arc::new) }
}

/// Without the `otel` feature there is no context to capture.
#[cfg(not(feature = "otel"))]
#[inline]
pub(crate) fn capture(_send: &Span) -> Option<Arc<TraceContext>> {
    None
}

/// The span of one delivery; its parent and link come from the job's trace context.
pub(crate) fn process_span(
    queue: &str,
    id: JobId,
    delivery: u32,
    producer: Option<&TraceContext>,
    relation: ProducerTrace,
) -> Span {
    let span = tracing::info_span!(
        "process",
        otel.name = %format_args!("process {queue}"),
        otel.kind = "consumer",
        otel.status_code = tracing::field::Empty,
        messaging.system = MESSAGING_SYSTEM,
        messaging.destination.name = queue,
        messaging.operation.type = "process",
        messaging.operation.name = "process",
        messaging.message.id = %id.get(),
        worker_utils.delivery = i64::from(delivery),
        error.type = tracing::field::Empty,
    );
    #[cfg(feature = "otel")]
    if let Some(producer) = producer
        && !span.is_disabled()
    {
        crate::otel::adopt(&span, producer, relation);
    }
    #[cfg(not(feature = "otel"))]
    let _ = (producer, relation);
    span
}

/// Marks `span` (a `process` span) failed with `error`'s kind.
pub(crate) fn record_failure(span: &Span, error: &ActionError) {
    span.record("error.type", error.kind().as_str());
    span.record("otel.status_code", "error");
}

/// The span of an `action` or an `attempt`, if spans are on: a null pointer otherwise,
/// whose drop inlines to a test. (A `Span` in the wrappers' futures, even a disabled one,
/// cost the success path 5 ns a call; see BENCHMARKS.md §10.)
#[derive(Debug)]
pub(crate) struct SpanSlot(Option<Box<Span>>);

impl SpanSlot {
    /// The span of one call of the action `name`.
    #[cold]
    #[inline(never)]
    fn action(name: &'static str) -> Self {
        Self(Some(Box::new(tracing::info_span!(
            "action",
            otel.name = %format_args!("action {name}"),
            worker_utils.action = name,
            outcome = tracing::field::Empty,
        ))))
    }

    /// The `action` span of a one-step pipeline, once spans are on; a pipeline of several
    /// steps gets none, its steps do (see [`in_step_span`]).
    #[inline]
    pub(crate) fn for_pipeline<D: ?Sized + Sync, A: Action<D>>(pipeline: &A) -> Self {
        if spans_enabled() && pipeline.step_names().len() == 1 {
            Self::action(pipeline.name())
        } else {
            Self(None)
        }
    }

    /// Enters the span, if there is one.
    #[inline]
    pub(crate) fn enter(&self) -> Option<tracing::span::Entered<'_>> {
        self.0.as_deref().map(Span::enter)
    }

    /// Records the `outcome` of the call the span covers.
    #[inline]
    pub(crate) fn finish<T>(&self, result: &Result<T, ActionError>) {
        if let Some(span) = &self.0 {
            record_outcome(span, result);
        }
    }

    /// The span of attempt number `attempt` of the action `name`, once spans are on (the
    /// retry loop runs traced attempts only then).
    #[cold]
    #[inline(never)]
    pub(crate) fn attempt(name: &'static str, attempt: u32) -> Self {
        if !spans_enabled() {
            return Self(None);
        }
        Self(Some(Box::new(tracing::info_span!(
            "attempt",
            worker_utils.action = name,
            worker_utils.attempt = i64::from(attempt),
            outcome = tracing::field::Empty,
        ))))
    }
}

impl Drop for SpanSlot {
    #[inline(always)]
    fn drop(&mut self) {
        if let Some(span) = self.0.take() {
            close(span);
        }
    }
}

#[cold]
#[inline(never)]
fn close(span: Box<Span>) {
    drop(span);
}

/// Runs `step`, one step of a pipeline, in an `action {name}` span once spans are on:
/// [`Then`](crate::pipeline::Then) calls each of its two steps through it (the runner
/// enters a one-step pipeline's span itself, [`SpanSlot::for_pipeline`]).
#[inline]
pub(crate) fn in_step_span<'a, D, A>(
    step: &'a A,
    input: A::Input,
    deps: &'a D,
    ctx: &'a ActionContext,
) -> InSpan<impl Future<Output = Result<A::Output, ActionError>> + Send + 'a>
where
    D: ?Sized + Sync,
    A: Action<D>,
{
    let span = SpanSlot::for_pipeline(step);
    let call = match &span.0 {
        // Entered while the step builds its future, so that the first attempt's span nests.
        Some(span) => span.in_scope(|| step.execute(input, deps, ctx)),
        None => step.execute(input, deps, ctx),
    };
    InSpan::new(call, span)
}

pin_project! {
    /// Polls `inner` inside `span`, if there is one, and records its `outcome` there when it
    /// finishes. Without a span it costs one not-taken branch per poll.
    #[derive(Debug)]
    pub(crate) struct InSpan<F> {
        #[pin]
        inner: F,
        span: SpanSlot,
    }
}

impl<F> InSpan<F> {
    #[inline]
    pub(crate) fn new(inner: F, span: SpanSlot) -> Self {
        Self { inner, span }
    }
}

impl<T, F> Future for InSpan<F>
where
    F: Future<Output = Result<T, ActionError>>,
{
    type Output = F::Output;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match &this.span.0 {
            None => this.inner.poll(cx),
            Some(span) => poll_in_span(this.inner, span, cx),
        }
    }
}

/// The traced side of [`InSpan::poll`], out of line.
#[inline(never)]
fn poll_in_span<T, F>(inner: Pin<&mut F>, span: &Span, cx: &mut Context<'_>) -> Poll<Result<T, ActionError>>
where
    F: Future<Output = Result<T, ActionError>>,
{
    let result = ready!(span.in_scope(|| inner.poll(cx)));
    record_outcome(span, &result);
    Poll::Ready(result)
}

/// Records `ok` or the error's kind as the span's `outcome`.
fn record_outcome<T>(span: &Span, result: &Result<T, ActionError>) {
    let outcome = match result {
        Ok(_) => "ok",
        Err(error) => error.kind().as_str(),
    };
    span.record("outcome", outcome);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_traceparent_has_no_trace_id() {
        assert_eq!(TraceContext::new("garbage", "").trace_id(), None);
    }

    #[test]
    fn without_a_subscriber_nothing_is_captured() {
        assert!(capture(&send_span("q", 1)).is_none());
    }
}
