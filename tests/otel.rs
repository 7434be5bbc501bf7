//! OpenTelemetry export (feature `otel`), read back from the SDK's in-memory exporter: the
//! `send`, `process`, `action` and `attempt` spans with their names, kinds and attributes;
//! the trace context carried in the job's envelope, so that every delivery's `process` span
//! is a child of (and links to) the producer's `send` span; and the same across a Redis hop,
//! with the producer and the worker on separate runtimes.
//!
//! Every test shares one exporter (a global subscriber is once per process) and tells its
//! spans apart by their queue's name.

#[path = "redis_support.rs"]
mod redis_support;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use worker_utils::prelude::*;
use worker_utils::queue::{MemoryQueue, Queue, RedisQueue};
use worker_utils::worker::{RedeliveryPolicy, RunReport, Runner, Worker};

/// The process-wide exporter, installed on first use.
fn exporter() -> &'static InMemorySpanExporter {
    static EXPORTER: OnceLock<InMemorySpanExporter> = OnceLock::new();
    EXPORTER.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
        worker_utils::otel::install(&provider).expect("the only subscriber of this binary");
        exporter
    })
}

/// Fails its first attempt of every delivery below `deliveries_to_fail`, transiently; the
/// retry then succeeds, unless the job's number asks for a permanent failure.
#[action(retry(max_attempts = 2, base_delay = "1ms", jitter = "none"))]
async fn step(input: u32, ctx: &ActionContext) -> Result<u32, ActionError> {
    match input {
        0 => Err(ActionError::permanent(std::io::Error::other("zero is refused"))),
        1 if ctx.delivery() == 1 => {
            Err(ActionError::transient(std::io::Error::other("first delivery fails")))
        }
        _ if ctx.attempt() == 1 => Err(ActionError::transient(std::io::Error::other("first attempt fails"))),
        n => Ok(n),
    }
}

struct Traced(&'static str);

impl Worker for Traced {
    type Deps = ();
    type Pipeline = Step;

    fn queue(&self) -> &str {
        self.0
    }

    fn pipeline(&self) -> Step {
        Step::new()
    }

    /// A failed delivery comes back after 1 ms: no waiting in the tests.
    fn redelivery(&self) -> RedeliveryPolicy {
        let policy = RedeliveryPolicy::builder().max_deliveries(3).base_delay(Duration::from_millis(1));
        policy.max_delay(Duration::from_millis(1)).jitter(false).build().unwrap()
    }
}

/// Runs a worker on `queue` until `finished` jobs are completed or dead-lettered.
async fn run_until<Q: Queue<u32>>(queue: Arc<Q>, name: &'static str, finished: u64) -> RunReport {
    let runner = Runner::builder(Traced(name), queue, ()).concurrency(2).build().unwrap();
    let stats = runner.stats();
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(runner.run(shutdown.clone()));
    worker_utils_tests::wait_until("the jobs finish", Duration::from_secs(30), || {
        stats.finished() >= finished
    })
    .await;
    shutdown.cancel();
    run.await.unwrap()
}

/// The spans exported so far whose queue, or whose `process`/`send` ancestor's queue, is
/// `queue`: every span of the traces that touch it.
fn spans_of(queue: &str) -> Vec<SpanData> {
    let all = exporter().get_finished_spans().unwrap();
    let traces: Vec<TraceId> = all
        .iter()
        .filter(|span| attr(span, "messaging.destination.name") == Some(Value::from(queue.to_owned())))
        .map(|span| span.span_context.trace_id())
        .collect();
    all.into_iter().filter(|span| traces.contains(&span.span_context.trace_id())).collect()
}

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.clone())
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    spans.iter().filter(|span| span.name == name).collect()
}

fn has(span: &SpanData, key: &str, value: impl Into<Value>) -> bool {
    span.attributes.contains(&KeyValue::new(key.to_owned(), value.into()))
}

/// Checks the shape of one job's trace: `send` (producer) → `process` per delivery
/// (consumer, child of `send` and linked to it) → `action` → `attempt`s.
fn check_trace(spans: &[SpanData], queue: &str, deliveries: usize) {
    let send = named(spans, &format!("send {queue}"));
    assert_eq!(send.len(), 1, "one send span: {spans:#?}");
    let send = send[0];
    assert_eq!(send.span_kind, SpanKind::Producer);
    assert!(has(send, "messaging.system", "worker_utils"));
    assert!(has(send, "messaging.operation.type", "send"));

    let processes = named(spans, &format!("process {queue}"));
    assert_eq!(processes.len(), deliveries, "one process span per delivery");
    for (n, process) in processes.iter().enumerate() {
        assert_eq!(process.span_kind, SpanKind::Consumer);
        assert_eq!(process.parent_span_id, send.span_context.span_id(), "a child of the producer's span");
        assert_eq!(process.span_context.trace_id(), send.span_context.trace_id());
        let links: Vec<SpanId> = process.links.iter().map(|link| link.span_context.span_id()).collect();
        assert_eq!(links, [send.span_context.span_id()], "linked to the producer's span");
        assert!(has(process, "messaging.destination.name", queue.to_owned()));
        assert!(has(process, "messaging.operation.type", "process"));
        assert!(attr(process, "messaging.message.id").is_some());
        assert!(has(process, "worker_utils.delivery", n as i64 + 1), "deliveries in order: {process:#?}");
    }
}

#[tokio::test]
async fn a_job_on_the_memory_queue_is_one_trace_from_send_to_its_last_attempt() {
    exporter();
    let queue = Arc::new(MemoryQueue::builder("otel-memory").build().unwrap());
    queue.enqueue(7).instrument(tracing::info_span!("request")).await.unwrap();
    run_until(queue, "otel-memory", 1).await;

    let spans = spans_of("otel-memory");
    check_trace(&spans, "otel-memory", 1);
    let process = named(&spans, "process otel-memory")[0];
    assert_eq!(attr(process, "error.type"), None, "it succeeded");
    let action = named(&spans, "action step");
    assert_eq!(action.len(), 1);
    assert_eq!(action[0].parent_span_id, process.span_context.span_id());
    assert!(has(action[0], "outcome", "ok"));
    let attempts = named(&spans, "attempt");
    assert_eq!(attempts.len(), 2, "the first attempt fails, the retry succeeds");
    assert!(attempts.iter().all(|attempt| attempt.parent_span_id == action[0].span_context.span_id()));
    let outcomes: Vec<_> =
        attempts.iter().map(|attempt| attr(attempt, "outcome").unwrap().to_string()).collect();
    assert_eq!(outcomes, ["transient", "ok"]);
    let events: Vec<_> = process.events.iter().map(|event| event.name.to_string()).collect();
    assert!(events.iter().any(|name| name == "retrying after backoff"), "{events:?}");
}

#[tokio::test]
async fn a_failed_job_marks_its_process_span_and_its_dead_letter_keeps_the_trace() {
    exporter();
    let queue = Arc::new(MemoryQueue::builder("otel-dead").build().unwrap());
    queue.enqueue(0).instrument(tracing::info_span!("request")).await.unwrap();
    let report = run_until(queue.clone(), "otel-dead", 1).await;
    assert_eq!(report.dead_lettered, 1);

    let spans = spans_of("otel-dead");
    check_trace(&spans, "otel-dead", 1);
    let process = named(&spans, "process otel-dead")[0];
    assert_eq!(attr(process, "error.type"), Some(Value::from("permanent")));
    assert_eq!(process.status, opentelemetry::trace::Status::error(""));
    assert!(process.events.iter().any(|event| event.name == "job dead-lettered"));
    let letter = &queue.dead_letters().await.unwrap()[0];
    let trace = letter.trace.as_ref().expect("the dead letter keeps the trace context");
    assert_eq!(trace.trace_id(), Some(process.span_context.trace_id().to_string().as_str()));
}

#[test]
fn across_a_redis_hop_every_delivery_is_a_child_of_the_producer() {
    exporter();
    let producer = tokio::runtime::Runtime::new().unwrap();
    let Some(namespace) = producer.block_on(async {
        (!redis_support::redis_missing().await).then(|| redis_support::namespace("otel"))
    }) else {
        return;
    };
    let url = redis_support::redis_url();
    let connect = {
        let (url, namespace) = (url.clone(), namespace.clone());
        move || {
            let builder =
                RedisQueue::<u32>::builder("otel-redis").url(url.clone()).namespace(namespace.clone());
            async move { builder.connect().await.unwrap() }
        }
    };
    // The producer's runtime enqueues; the worker's, on a thread of its own, sees only what
    // the job's envelope carries.
    let worker_connect = connect.clone();
    producer.block_on(async {
        let queue = connect().await;
        queue.enqueue(1).instrument(tracing::info_span!("request")).await.unwrap();
    });
    let worker = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move { run_until(Arc::new(worker_connect().await), "otel-redis", 1).await })
    });
    let report = worker.join().unwrap();
    assert_eq!((report.completed, report.redelivered), (1, 1));
    producer.block_on(redis_support::delete_namespace(&url, &namespace));

    let spans = spans_of("otel-redis");
    check_trace(&spans, "otel-redis", 2);
    let first = named(&spans, "process otel-redis")[0];
    assert_eq!(attr(first, "error.type"), Some(Value::from("transient")));
    assert!(first.events.iter().any(|event| event.name == "job redelivery scheduled"));
}
