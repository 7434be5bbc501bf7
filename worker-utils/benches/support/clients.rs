//! Status clients for the benches that run a status server beside the worker: readers,
//! flooders and stalled clients, each reconnecting (or not) as the server closes it; and
//! issue 16's mix of them in a child process.

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;
use worker_utils::status::{Broadcaster, StatusServer, StatusServerHandle};

use std::io::{BufRead as _, Read as _};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// What a client did, summed over its connections.
#[derive(Debug, Default)]
pub(crate) struct ClientStats {
    pub(crate) connections: u64,
    pub(crate) subscribes_sent: u64,
    pub(crate) bytes_received: u64,
}

/// How a status client of the issue-12 rows behaves.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Behaviour {
    /// Reads every event and sends nothing.
    Read,
    /// Also sends `subscribe` messages as fast as its socket takes them (64 per write).
    Flood,
    /// Also sends a `subscribe` message every this long.
    Paced(Duration),
}

/// A client of the server at `url` that reads everything, sends what `behaviour` says, and
/// reconnects whenever it is closed (for lagging or for flooding), until `stop`.
pub(crate) async fn client(url: String, behaviour: Behaviour, stop: CancellationToken) -> ClientStats {
    const SUBSCRIBE: &str = r#"{"type":"subscribe"}"#;
    let mut stats = ClientStats::default();
    while !stop.is_cancelled() {
        let connected = tokio::select! {
            () = stop.cancelled() => break,
            connected = tokio_tungstenite::connect_async(url.as_str()) => connected,
        };
        let Ok((socket, _)) = connected else {
            // Refused (no slot yet while the last connection winds down): try again shortly.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        stats.connections += 1;
        let (mut tx, mut rx) = socket.split();
        let (mut sent, mut received) = (0_u64, 0_u64);
        let send = async {
            match behaviour {
                Behaviour::Read => return,
                Behaviour::Paced(pace) => {
                    let mut every = tokio::time::interval(pace);
                    while tx.send(Message::text(SUBSCRIBE)).await.is_ok() {
                        sent += 1;
                        every.tick().await;
                    }
                    return;
                }
                Behaviour::Flood => {}
            }
            loop {
                for _ in 0..64 {
                    if tx.feed(Message::text(SUBSCRIBE)).await.is_err() {
                        return;
                    }
                    sent += 1;
                }
                if tx.flush().await.is_err() {
                    return;
                }
            }
        };
        let read = async {
            while let Some(Ok(message)) = rx.next().await {
                received += message.len() as u64;
            }
        };
        tokio::select! {
            () = stop.cancelled() => {}
            _ = futures_util::future::join(send, read) => {}
        }
        stats.subscribes_sent += sent;
        stats.bytes_received += received;
    }
    stats
}

/// A stalled client: handshake done, never reads again (held until dropped).
pub(crate) type Stalled = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects `stalled` clients that never read, then spawns the clients `behaviours` lists
/// (how each behaves, how many), all on the server at `url`, until `stop`.
pub(crate) async fn mix<const N: usize>(
    url: &str,
    stalled: usize,
    behaviours: [(Behaviour, usize); N],
    stop: &CancellationToken,
) -> (Vec<Stalled>, Vec<JoinHandle<ClientStats>>) {
    let mut held = Vec::with_capacity(stalled);
    for _ in 0..stalled {
        held.push(tokio_tungstenite::connect_async(url).await.expect("connect").0);
    }
    let clients = behaviours
        .into_iter()
        .flat_map(|(behaviour, n)| std::iter::repeat_n(behaviour, n))
        .map(|behaviour| tokio::spawn(client(url.to_owned(), behaviour, stop.clone())))
        .collect();
    (held, clients)
}

/// Waits for `clients` (stopped) and sums what they did.
pub(crate) async fn join(clients: Vec<JoinHandle<ClientStats>>) -> ClientStats {
    let mut total = ClientStats::default();
    for client in clients {
        let stats = client.await.expect("client");
        total.connections += stats.connections;
        total.subscribes_sent += stats.subscribes_sent;
        total.bytes_received += stats.bytes_received;
    }
    total
}

/// A status server of `broadcaster` on a loopback port, with room for every client of a mix
/// (200), on the caller's runtime or a `background` thread, the other settings at their
/// defaults.
pub(crate) async fn start_server(broadcaster: &Broadcaster, background: bool) -> StatusServerHandle {
    StatusServer::builder(broadcaster.clone())
        .max_clients(200)
        .background_thread(background)
        .build()
        .expect("server settings")
        .start()
        .await
        .expect("bind a loopback port")
}

/// The flag that makes a bench binary the client process: `--clients URL`.
pub(crate) const CHILD_FLAG: &str = "--clients";

/// The value after `flag` on the command line.
pub(crate) fn arg(flag: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|arg| arg == flag).and_then(|at| args.get(at + 1)).cloned()
}

/// The client process (issue 16's mix: 10 stalled, 2 flooding, 88 reading) on the server at
/// `url`, on one thread, until its standard input closes; then prints what the clients did.
///
/// In a process of their own, the clients neither share the worker's runtime nor count in
/// its memory, as browsers on other machines would not; they still share the machine's
/// cores.
pub(crate) fn run_child(url: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let stop = CancellationToken::new();
        let (stalled, clients) = mix(url, 10, [(Behaviour::Flood, 2), (Behaviour::Read, 88)], &stop).await;
        println!("clients connected");
        tokio::task::spawn_blocking(|| std::io::stdin().read_to_end(&mut Vec::new()))
            .await
            .expect("stdin")
            .ok();
        stop.cancel();
        let totals = join(clients).await;
        drop(stalled);
        println!(
            "clients: {} connections, {} subscribes sent, {} bytes received",
            totals.connections, totals.subscribes_sent, totals.bytes_received
        );
    });
}

/// Starts this binary as the client process on the server at `url` and waits until its
/// clients connected.
pub(crate) fn spawn_child(url: &str) -> Child {
    let exe = std::env::current_exe().expect("this bench's path");
    let mut child = Command::new(exe)
        .args([CHILD_FLAG, url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the client process");
    let mut line = String::new();
    let stdout = child.stdout.as_mut().expect("piped");
    std::io::BufReader::new(stdout).read_line(&mut line).expect("client process output");
    assert_eq!(line.trim(), "clients connected", "the client process did not start");
    child
}

/// Stops the client process (closes its standard input) and returns its report.
pub(crate) fn stop_child(mut child: Child) -> String {
    drop(child.stdin.take());
    let output = child.wait_with_output().expect("client process");
    assert!(output.status.success(), "the client process failed");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}
