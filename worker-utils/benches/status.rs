//! Status broadcasting over real loopback WebSocket clients:
//!
//! 1. `publish/{0,1,100}_subscribers`: the cost of one `publish` while that many clients
//!    are connected and reading (they may lag; lag reports are on, disconnects are off).
//! 2. `delivery/100_clients`: status messages per second delivered to 100 clients, laid
//!    out like the raw fan-out probe it is compared with (`scripts/bench_anchors.py`): 20 000
//!    events a round, published from a task on the runtime under the probe's lossless flow
//!    control, every one received by every client in order (checked); throughput = messages.
//! 3. `publish_burst/{none,100_healthy,90_healthy_10_stalled}`: publish throughput while 10
//!    of 100 clients never read, against no clients (and 100 healthy clients); the
//!    `batches_of_64/…` rows publish the same events with `publish_all` in batches of 64,
//!    as the worker runner does.
//!
//! For 1 and 3 publishing runs on the bench thread and the server and the clients on a
//! 1-thread tokio runtime in the same process, so the publisher keeps a core of this 2-core
//! machine; for 2 everything runs on a 2-thread runtime and the bench thread only waits.
//!
//! Run: `cargo bench -p worker-utils --bench status`

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt;
use tokio::runtime::Runtime;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;
use worker_utils::JobId;
use worker_utils::status::{
    Broadcaster, JobStatus, Name, StatusEvent, StatusServer, StatusServerHandle, StatusSink,
};

type Client = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn runtime(workers: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build().expect("runtime")
}

/// A server with the default rate limit, lag reports but as few lag disconnects as the
/// settings allow (`max_lags` at its most, 1000), and a write timeout long enough that
/// stalled clients stay connected for the whole run.
fn server(rt: &Runtime, broadcaster: &Broadcaster) -> StatusServerHandle {
    rt.block_on(async {
        StatusServer::builder(broadcaster.clone())
            .max_clients(200)
            .max_lags(1000)
            .write_timeout(Duration::from_secs(3600))
            .build()
            .expect("settings")
            .start()
            .await
            .expect("bind")
    })
}

async fn connect(server: &StatusServerHandle) -> Client {
    let (mut client, _) = tokio_tungstenite::connect_async(server.ws_url()).await.expect("connect");
    // Read up to `ready` so the client is live before measuring.
    while let Some(Ok(message)) = client.next().await {
        if let Message::Text(text) = message
            && text.as_str().starts_with(r#"{"type":"ready""#)
        {
            break;
        }
    }
    client
}

/// Text messages received by one client, on its own cache line so counting costs the
/// clients no cross-core traffic.
#[repr(align(64))]
#[derive(Default)]
struct Counter(AtomicU64);

/// Messages received by all the readers.
#[derive(Default)]
struct Received(Vec<Arc<Counter>>);

impl Received {
    fn total(&self) -> u64 {
        self.0.iter().map(|c| c.0.load(Ordering::Relaxed)).sum()
    }
}

/// Spawns `n` clients that read everything, counting text messages.
fn readers(rt: &Runtime, server: &StatusServerHandle, n: usize) -> Received {
    let mut received = Received::default();
    for _ in 0..n {
        let client = rt.block_on(connect(server));
        let counter = Arc::new(Counter::default());
        received.0.push(Arc::clone(&counter));
        rt.spawn(async move {
            let mut client = client;
            while let Some(Ok(message)) = client.next().await {
                if message.is_text() {
                    counter.0.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    received
}

/// Clients that complete the handshake and then never read.
fn stalled(rt: &Runtime, server: &StatusServerHandle, n: usize) -> Vec<Client> {
    (0..n).map(|_| rt.block_on(connect(server))).collect()
}

fn wait_for(server: &StatusServerHandle, clients: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.client_count() < clients {
        assert!(Instant::now() < deadline, "clients did not connect");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn wait_until(received: &Received, at_least: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while received.total() < at_least {
        assert!(Instant::now() < deadline, "clients stopped receiving");
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Job `i / 2`: PROCESSING then COMPLETED, a realistic mix for the rate limiter, with the
/// fields a runner sets on them (`previous`, and `duration_ms` on COMPLETED).
fn event(template: &StatusEvent, i: u64) -> StatusEvent {
    let mut event = template.clone();
    event.job_id = JobId::new(i / 2);
    if i.is_multiple_of(2) {
        event.status = JobStatus::Processing;
        event.previous = Some(JobStatus::Pending);
    } else {
        event.status = JobStatus::Completed;
        event.previous = Some(JobStatus::Processing);
        event.duration_ms = Some(12);
    }
    event
}

fn template() -> StatusEvent {
    let mut event = StatusEvent::new(JobId::new(0), "thumbnails", JobStatus::Processing);
    event.worker = Name::from("thumbnails-worker-1");
    event
}

fn publish_cost(c: &mut Criterion) {
    let mut group = c.benchmark_group("publish");
    let template = template();
    for subscribers in [0_usize, 1, 100] {
        let rt = runtime(1);
        let broadcaster = Broadcaster::new();
        let server = server(&rt, &broadcaster);
        let _received = readers(&rt, &server, subscribers);
        wait_for(&server, subscribers);
        let mut i = 0_u64;
        group.bench_function(format!("{subscribers}_subscribers"), |b| {
            b.iter(|| {
                i += 1;
                broadcaster.publish(black_box(event(&template, i)));
            });
        });
        rt.block_on(server.shutdown());
    }
    group.finish();
}

/// The delivery row's layout, the raw fan-out probe's (`../shared/anchors/wsfanout`):
/// 100 clients, 20 000 events per round, each one published once and received by every
/// client, in order, on one 2-thread runtime where the main thread only waits.
const FANOUT_CLIENTS: usize = 100;
const FANOUT_EVENTS: u64 = 20_000;

/// The probe's lossless flow control, on the clients' counts: the producer keeps at most
/// the broadcaster's capacity of events unread by the slowest client (so no client ever
/// lags), and when that runs out parks until the slowest is within half of it.
struct Flow {
    received: Received,
    producer_waiting: AtomicBool,
    notify: Notify,
}

impl Flow {
    /// Called by a client after each message: wakes a parked producer to look again.
    fn progress(&self) {
        // SeqCst here and on the count's store, against the producer's SeqCst flag store
        // and count loads: one of the two sides sees the other, so no wake-up is lost.
        if self.producer_waiting.load(Ordering::SeqCst) && self.producer_waiting.swap(false, Ordering::SeqCst)
        {
            self.notify.notify_one();
        }
    }

    fn slowest(&self) -> u64 {
        self.received.0.iter().map(|c| c.0.load(Ordering::SeqCst)).min().unwrap_or(0)
    }

    /// Waits until every client has received at least `count` events since the start.
    async fn wait_for(&self, count: u64) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            self.producer_waiting.store(true, Ordering::SeqCst);
            if self.slowest() >= count {
                self.producer_waiting.store(false, Ordering::SeqCst);
                return;
            }
            notified.await;
        }
    }
}

/// Every status event's text starts with this; the seq follows (as in the probe's events).
const SEQ_PREFIX: &str = r#"{"type":"status","seq":"#;

fn parse_seq(text: &str) -> Option<u64> {
    let rest = text.strip_prefix(SEQ_PREFIX)?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    rest[..digits].parse().ok()
}

/// A probe-like client: reads every status event, checks that it is the next one, counts it.
async fn fanout_client(mut client: Client, first: u64, counter: Arc<Counter>, flow: Arc<Flow>) {
    let mut expected = first;
    let mut count = 0_u64;
    while let Some(Ok(message)) = client.next().await {
        let Message::Text(text) = message else { continue };
        let seq = parse_seq(text.as_str()).unwrap_or_else(|| panic!("unexpected message {text}"));
        assert_eq!(seq, expected, "every client receives every event, in order");
        expected += 1;
        count += 1;
        counter.0.store(count, Ordering::SeqCst);
        flow.progress();
    }
}

/// One round: publishes `FANOUT_EVENTS` events from a task on the runtime, under the flow
/// control, and returns the time from the first publish until every client has them all.
async fn fanout_round(
    broadcaster: Broadcaster,
    flow: Arc<Flow>,
    template: StatusEvent,
    first: u64,
) -> Duration {
    let window = broadcaster.channel_capacity() as u64;
    let already = flow.slowest();
    let mut credit = 0;
    let start = Instant::now();
    for i in 0..FANOUT_EVENTS {
        if credit == 0 {
            // Like the probe's `acquire_credit`: no more than `window` unread, and once
            // that is spent, a wait until the slowest is within half of it.
            let published = already + i;
            if published - flow.slowest() > window / 2 {
                flow.wait_for(published - window / 2).await;
            }
            credit = window - (published - flow.slowest());
        }
        broadcaster.publish(event(&template, first + i));
        credit -= 1;
    }
    flow.wait_for(already + FANOUT_EVENTS).await;
    start.elapsed()
}

fn delivery(c: &mut Criterion) {
    let mut group = c.benchmark_group("delivery");
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(FANOUT_EVENTS * FANOUT_CLIENTS as u64));
    // The probe's names, so a message is about its size: 208 and 227 bytes of JSON for
    // PROCESSING and COMPLETED here, 201 there.
    let mut template = StatusEvent::new(JobId::new(0), "thumbnails", JobStatus::Processing);
    template.worker = Name::from("worker-01");
    let rt = runtime(2);
    let broadcaster = Broadcaster::new();
    let server = server(&rt, &broadcaster);
    let flow = Arc::new(Flow {
        received: Received((0..FANOUT_CLIENTS).map(|_| Arc::new(Counter::default())).collect()),
        producer_waiting: AtomicBool::new(false),
        notify: Notify::new(),
    });
    for counter in &flow.received.0 {
        let client = rt.block_on(connect(&server));
        rt.spawn(fanout_client(client, broadcaster.last_seq() + 1, Arc::clone(counter), Arc::clone(&flow)));
    }
    wait_for(&server, FANOUT_CLIENTS);
    let mut i = 0_u64;
    group.bench_function("100_clients", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let round = fanout_round(broadcaster.clone(), Arc::clone(&flow), template.clone(), i);
                // Spawned, so the round runs on the runtime's two workers, like the probe's.
                total += rt.block_on(rt.spawn(round)).expect("round");
                i += FANOUT_EVENTS;
            }
            total
        });
    });
    group.finish();
    rt.block_on(server.shutdown());
}

fn publish_with_stalled_clients(c: &mut Criterion) {
    const BURST: u64 = 1000;
    let mut group = c.benchmark_group("publish_burst");
    group.throughput(Throughput::Elements(BURST));
    let template = template();
    for (name, healthy, stuck, batch) in [
        ("none", 0, 0, 1),
        ("100_healthy", 100, 0, 1),
        ("90_healthy_10_stalled", 90, 10, 1),
        ("batches_of_64/none", 0, 0, 64),
        ("batches_of_64/90_healthy_10_stalled", 90, 10, 64),
    ] {
        let rt = runtime(1);
        let broadcaster = Broadcaster::new();
        let server = server(&rt, &broadcaster);
        let _stalled = stalled(&rt, &server, stuck);
        let received = readers(&rt, &server, healthy);
        wait_for(&server, healthy + stuck);
        let mut i = 0_u64;
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut publishing = Duration::ZERO;
                for _ in 0..iters {
                    let target = received.total() + BURST * healthy as u64;
                    let mut pending = Vec::with_capacity(batch);
                    let start = Instant::now();
                    for _ in 0..BURST {
                        i += 1;
                        if batch == 1 {
                            broadcaster.publish(event(&template, i));
                            continue;
                        }
                        pending.push(event(&template, i));
                        if pending.len() == batch {
                            broadcaster.publish_all(&mut pending);
                        }
                    }
                    broadcaster.publish_all(&mut pending);
                    publishing += start.elapsed();
                    // Untimed: let the healthy clients catch up so none of them lags.
                    wait_until(&received, target);
                }
                publishing
            });
        });
        rt.block_on(server.shutdown());
    }
    group.finish();
}

criterion_group!(benches, publish_cost, delivery, publish_with_stalled_clients);
criterion_main!(benches);
