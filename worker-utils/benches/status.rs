//! Status broadcasting over real loopback WebSocket clients:
//!
//! 1. `publish/{0,1,100}_subscribers`: the cost of one `publish` while that many clients
//!    are connected and reading (they may lag; lag reports are on, disconnects are off).
//! 2. `delivery/100_clients`: status messages per second delivered to 100 clients
//!    (bursts of 2000 events, each received by every client; throughput = messages).
//! 3. `publish_burst/{none,100_healthy,90_healthy_10_stalled}`: publish throughput while 10
//!    of 100 clients never read, against no clients (and 100 healthy clients); the
//!    `batches_of_64/…` rows publish the same events with `publish_all` in batches of 64,
//!    as the worker runner does.
//!
//! Publishing runs on the bench thread; the server and the clients run on a tokio runtime
//! in the same process (1 worker thread for 1 and 3, so the publisher keeps a core of this
//! 2-core machine; 2 worker threads for 2, where the publisher is idle).
//!
//! Run: `cargo bench -p worker-utils --bench status`

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt;
use tokio::runtime::Runtime;
use tokio_tungstenite::tungstenite::Message;
use worker_utils::JobId;
use worker_utils::status::{
    Broadcaster, JobStatus, StatusEvent, StatusServer, StatusServerHandle, StatusSink,
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

/// Job `i / 2`: PROCESSING then COMPLETED, a realistic mix for the rate limiter.
fn event(template: &StatusEvent, i: u64) -> StatusEvent {
    let mut event = template.clone();
    event.job_id = JobId::new(i / 2);
    event.status = if i.is_multiple_of(2) { JobStatus::Processing } else { JobStatus::Completed };
    event
}

fn template() -> StatusEvent {
    let mut event = StatusEvent::new(JobId::new(0), "thumbnails", JobStatus::Processing);
    event.worker = Arc::from("thumbnails-worker-1");
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

fn delivery(c: &mut Criterion) {
    const CLIENTS: usize = 100;
    const BURST: u64 = 2000;
    let mut group = c.benchmark_group("delivery");
    group.sample_size(10).measurement_time(Duration::from_secs(15));
    group.throughput(Throughput::Elements(BURST * CLIENTS as u64));
    let template = template();
    let rt = runtime(2);
    let broadcaster = Broadcaster::new();
    let server = server(&rt, &broadcaster);
    let received = readers(&rt, &server, CLIENTS);
    wait_for(&server, CLIENTS);
    let mut i = 0_u64;
    group.bench_function("100_clients", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let target = received.total() + BURST * CLIENTS as u64;
                for _ in 0..BURST {
                    i += 1;
                    broadcaster.publish(event(&template, i));
                }
                wait_until(&received, target);
            }
            start.elapsed()
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
