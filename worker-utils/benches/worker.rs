//! End-to-end throughput of no-op jobs through the in-memory queue and the runner with
//! status broadcasting on: with no status client, and with 100 WebSocket clients on
//! loopback reading every event; and with the status server running: with no client, with
//! two clients reading every event, and with two clients flooding it with `subscribe`
//! messages (issue 12: side by side, the flood may cost at most 5 %), as fast as they can
//! or one a millisecond. These clients read everything and reconnect whenever the server
//! closes them (for flooding, or for falling behind), for as long as the row runs. Last,
//! issue 16's mix beside the same worker: 100 clients, 10 stalled, 2 flooding, 88 reading.
//! Besides, `enqueue_batch/{status_off,status_on_0_clients}`: the untimed fill of every
//! row, one `enqueue_batch` of `JOBS` jobs into a fresh queue, timed on its own.
//!
//! Each iteration fills the queue with `JOBS` jobs (not timed), then times the runner from
//! start until every job is acked. A row's server and clients start when criterion first
//! runs the row, so rows a filter leaves out cost nothing.
//!
//! Run: `cargo bench -p worker-utils --bench worker`
#![allow(missing_docs, reason = "criterion_group! generates undocumented functions")]

#[path = "support/clients.rs"]
mod clients;
#[path = "support/noop.rs"]
mod noop;
#[path = "support/runs.rs"]
mod runs;

use std::time::{Duration, Instant};

use clients::{Behaviour, ClientStats, client};
use criterion::measurement::WallTime;
use criterion::{Criterion, Throughput, criterion_group};
use futures_util::StreamExt as _;
use runs::{JOBS, fresh_queue, sum_runs};
use tokio_util::sync::CancellationToken;
use worker_utils::prelude::*;
use worker_utils::queue::Queue as _;
use worker_utils::status::{StatusServer, StatusServerHandle};

fn throughput(c: &mut Criterion) {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let mut group = c.benchmark_group("worker_throughput");
    group.throughput(Throughput::Elements(JOBS)).sample_size(10).measurement_time(Duration::from_secs(10));

    group.bench_function("noop_jobs_status_off", |b| {
        b.iter_custom(|iters| runtime.block_on(sum_runs(iters, None)))
    });

    let broadcaster = Broadcaster::new();
    group.bench_function("noop_jobs_status_on_0_clients", |b| {
        b.iter_custom(|iters| runtime.block_on(sum_runs(iters, Some(&broadcaster))))
    });

    // 100 in-process readers of every event, connected when the row first runs.
    let broadcaster = Broadcaster::new();
    let mut readers = None;
    group.bench_function("noop_jobs_status_on_100_clients", |b| {
        readers.get_or_insert_with(|| runtime.block_on(connect_readers(&broadcaster)));
        b.iter_custom(|iters| runtime.block_on(sum_runs(iters, Some(&broadcaster))))
    });
    if let Some((server, readers)) = readers {
        runtime.block_on(async {
            server.shutdown().await;
            for reader in readers {
                reader.abort();
            }
        });
    }

    // One server for the rows below, started by the first of them that runs.
    let broadcaster = Broadcaster::new();
    let mut server = None;
    let mut server_url = || -> String {
        server
            .get_or_insert_with(|| {
                runtime.block_on(async {
                    StatusServer::builder(broadcaster.clone())
                        .build()
                        .expect("server")
                        .start()
                        .await
                        .expect("start")
                })
            })
            .ws_url()
    };
    group.bench_function("noop_jobs_status_server_0_clients", |b| {
        server_url();
        b.iter_custom(|iters| runtime.block_on(sum_runs(iters, Some(&broadcaster))))
    });
    // Two clients that only read, then two that flood as fast as they can, then two that
    // send one subscribe per millisecond (200 times the allowed rate, little CPU of their
    // own). A client that falls too far behind is closed (max_lags) and reconnects.
    for (name, behaviour) in [
        ("noop_jobs_status_server_2_readers", Behaviour::Read),
        ("noop_jobs_status_server_2_flooders", Behaviour::Flood),
        ("noop_jobs_status_server_2_flooders_1000_per_s", Behaviour::Paced(Duration::from_millis(1))),
    ] {
        let stop = CancellationToken::new();
        let mut clients = None;
        group.bench_function(name, |b| {
            clients.get_or_insert_with(|| {
                let url = server_url();
                (0..2)
                    .map(|_| runtime.spawn(client(url.clone(), behaviour, stop.clone())))
                    .collect::<Vec<_>>()
            });
            b.iter_custom(|iters| runtime.block_on(sum_runs(iters, Some(&broadcaster))))
        });
        if let Some(clients) = clients {
            stop.cancel();
            report(&runtime, name, clients);
        }
    }
    group.finish();
    if let Some(server) = server {
        runtime.block_on(server.shutdown());
    }

    mixed_clients(&runtime, &mut c.benchmark_group("worker_throughput"));
}

/// Issue 16's target 4: 100 clients, of which 10 stalled, 2 flooding and 88 reading, beside
/// `noop_jobs_status_server_0_clients` (at least 0.95 of it): with the server on the
/// worker's runtime (the default), then on a thread of its own at the lowest priority
/// (`background_thread`). The clients run in a child process (this binary with
/// `--clients URL`), as browsers would: on the worker's runtime, their own reading took the
/// worker's threads, which is not what the rows measure. The server has room for 200 so
/// that a reader closed for lagging gets its place back at once; the stalled clients
/// complete the handshake and never read again (the write timeout, 10 s by default, may
/// close them; they do not come back).
fn mixed_clients(runtime: &tokio::runtime::Runtime, group: &mut criterion::BenchmarkGroup<'_, WallTime>) {
    group.throughput(Throughput::Elements(JOBS)).sample_size(10).measurement_time(Duration::from_secs(10));
    for (name, background) in [
        ("noop_jobs_status_server_100_clients_10_stalled_2_flooders", false),
        ("noop_jobs_status_server_background_100_clients_10_stalled_2_flooders", true),
    ] {
        let broadcaster = Broadcaster::new();
        let mut started = None;
        group.bench_function(name, |b| {
            started.get_or_insert_with(|| {
                let server = runtime.block_on(clients::start_server(&broadcaster, background));
                let child = clients::spawn_child(&server.ws_url());
                (server, child)
            });
            b.iter_custom(|iters| runtime.block_on(sum_runs(iters, Some(&broadcaster))))
        });
        if let Some((server, child)) = started {
            eprintln!("{name}: {}", clients::stop_child(child));
            runtime.block_on(server.shutdown());
        }
    }
}

/// A status server for `broadcaster` with 100 clients on the same runtime, each reading
/// every event.
async fn connect_readers(
    broadcaster: &Broadcaster,
) -> (StatusServerHandle, Vec<tokio::task::JoinHandle<()>>) {
    let server = clients::start_server(broadcaster, false).await;
    let url = server.ws_url();
    let mut readers = Vec::new();
    for _ in 0..100 {
        let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("connect");
        readers.push(tokio::spawn(async move { while let Some(Ok(_)) = socket.next().await {} }));
    }
    (server, readers)
}

/// Prints what the clients of a row did, summed over their connections.
fn report(runtime: &tokio::runtime::Runtime, name: &str, clients: Vec<tokio::task::JoinHandle<ClientStats>>) {
    let total = runtime.block_on(clients::join(clients));
    eprintln!(
        "{name}: {} connections, {} subscribes sent, {} bytes received",
        total.connections, total.subscribes_sent, total.bytes_received
    );
}

/// One `enqueue_batch` of `JOBS` jobs into a fresh queue, publishing to `broadcaster` if
/// any: the fill that the throughput rows leave untimed.
fn enqueue(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let mut group = c.benchmark_group("enqueue_batch");
    group.throughput(Throughput::Elements(JOBS));
    for (name, broadcaster) in [("status_off", None), ("status_on_0_clients", Some(Broadcaster::new()))] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let queue = fresh_queue(broadcaster.as_ref());
                    let jobs = (0..JOBS).collect();
                    let started = Instant::now();
                    runtime.block_on(queue.enqueue_batch(jobs)).expect("enqueue");
                    total += started.elapsed();
                }
                total
            })
        });
    }
}

criterion_group!(benches, throughput, enqueue);

/// `criterion_main!`, unless this binary was started as the client process of
/// [`mixed_clients`].
fn main() {
    if let Some(url) = clients::arg(clients::CHILD_FLAG) {
        return clients::run_child(&url);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
