//! Status clients for the benches that run a status server beside the worker: readers,
//! flooders and stalled clients, each reconnecting (or not) as the server closes it.

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;
use worker_utils::status::{Broadcaster, StatusServer, StatusServerHandle};

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
/// (200) and the other settings at their defaults.
pub(crate) async fn start_server(broadcaster: &Broadcaster) -> StatusServerHandle {
    StatusServer::builder(broadcaster.clone())
        .max_clients(200)
        .build()
        .expect("server settings")
        .start()
        .await
        .expect("bind a loopback port")
}
