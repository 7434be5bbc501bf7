//! Export of the job spans to OpenTelemetry (feature `otel`), and the W3C propagation of
//! each job's [`TraceContext`] through the queue. See [`trace`](crate::trace) for the spans
//! and their attributes.
//!
//! One call installs it, with the tracer provider your exporter is configured on:
//!
//! ```
//! use opentelemetry_sdk::trace::SdkTracerProvider;
//!
//! // e.g. .with_batch_exporter(opentelemetry_otlp::SpanExporter::builder()…)
//! let provider = SdkTracerProvider::builder().build();
//! worker_utils::otel::install(&provider).unwrap();
//! assert!(worker_utils::trace::spans_enabled());
//! ```
//!
//! A program with a subscriber of its own adds [`layer`] to it instead.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing::Span;
use tracing_opentelemetry::{OpenTelemetryLayer, OpenTelemetrySpanExt};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use crate::trace::{ProducerTrace, TraceContext};

/// The instrumentation scope the spans are reported under.
const SCOPE: &str = "worker-utils";

/// The `tracing` layer that exports spans through `provider`, for a program that builds its
/// own subscriber. It turns on the `action` and `attempt` spans.
///
/// ```
/// use opentelemetry_sdk::trace::SdkTracerProvider;
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let provider = SdkTracerProvider::builder().build();
/// let subscriber = tracing_subscriber::registry().with(worker_utils::otel::layer(&provider));
/// tracing::subscriber::with_default(subscriber, || tracing::info!("exported"));
/// ```
pub fn layer<S>(provider: &SdkTracerProvider) -> OpenTelemetryLayer<S, SdkTracer>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    crate::trace::enable_spans();
    tracing_opentelemetry::layer().with_tracer(provider.tracer(SCOPE))
}

/// Installs a global subscriber that exports spans through `provider`; see the
/// [module docs](self).
///
/// # Errors
///
/// [`InstallError`] if a global subscriber was installed already.
pub fn install(provider: &SdkTracerProvider) -> Result<(), InstallError> {
    tracing_subscriber::registry().with(layer(provider)).try_init().map_err(InstallError)
}

/// [`install`] found a global `tracing` subscriber in place: add [`layer`] to that one.
#[derive(Debug, thiserror::Error)]
#[error("cannot install the OpenTelemetry subscriber: a global subscriber is installed already")]
pub struct InstallError(#[source] tracing_subscriber::util::TryInitError);

/// The W3C context of `send`, if an OpenTelemetry layer records it.
pub(crate) fn capture(send: &Span) -> Option<TraceContext> {
    let cx = send.context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut headers = Headers::default();
    TraceContextPropagator::new().inject_context(&cx, &mut headers);
    Some(TraceContext::new(headers.traceparent?, headers.tracestate))
}

/// Makes `process` link to the producer's span and, for [`ProducerTrace::Parent`], its child.
pub(crate) fn adopt(process: &Span, producer: &TraceContext, relation: ProducerTrace) {
    let cx = TraceContextPropagator::new().extract(producer);
    let remote = cx.span().span_context().clone();
    if !remote.is_valid() {
        return;
    }
    process.add_link(remote);
    if relation == ProducerTrace::Parent {
        // Fails only for a span already started, and the runner adopts before it enters.
        let _ = process.set_parent(cx);
    }
}

/// The two headers the W3C propagator writes.
#[derive(Default)]
struct Headers {
    traceparent: Option<String>,
    tracestate: String,
}

impl Injector for Headers {
    fn set(&mut self, key: &str, value: String) {
        match key {
            "traceparent" => self.traceparent = Some(value),
            "tracestate" => self.tracestate = value,
            _ => {}
        }
    }
}

impl Extractor for TraceContext {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "traceparent" => Some(self.traceparent()),
            "tracestate" if !self.tracestate().is_empty() => Some(self.tracestate()),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent", "tracestate"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_survives_extract_and_inject() {
        let producer = TraceContext::new("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "k=v");
        let cx = TraceContextPropagator::new().extract(&producer);
        let mut headers = Headers::default();
        TraceContextPropagator::new().inject_context(&cx, &mut headers);
        assert_eq!(headers.traceparent.as_deref(), Some(producer.traceparent()));
        assert_eq!(headers.tracestate, "k=v");
    }
}
