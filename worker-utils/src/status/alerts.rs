//! The alerts a [`Broadcaster`](super::Broadcaster) fans out: live ones to connected
//! clients, and those firing now to every client that connects or resubscribes.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::alert::{Alert, AlertState};

/// Alerts a client may fall behind by before it misses some (they are rare: one per
/// transition of a rule).
const LIVE_CAPACITY: usize = 64;
/// Firing alerts kept for new clients; past this the oldest is forgotten (a worker that
/// died while its alert fired never resolves it).
const MAX_FIRING: usize = 256;

/// One alert and its JSON text, made once when published.
#[derive(Debug, Clone)]
pub(crate) struct AlertMessage {
    pub(crate) alert: Arc<Alert>,
    pub(crate) json: Utf8Bytes,
}

/// The firing alerts and the live channel, changed together under one lock so that a
/// subscriber sees each alert exactly once: in the firing list or on the channel.
#[derive(Debug)]
pub(crate) struct AlertBoard {
    board: Mutex<Board>,
}

#[derive(Debug)]
struct Board {
    /// Oldest first; one per (queue, worker, rule).
    firing: VecDeque<AlertMessage>,
    live: broadcast::Sender<AlertMessage>,
}

impl AlertBoard {
    pub(crate) fn new() -> Self {
        Self {
            board: Mutex::new(Board { firing: VecDeque::new(), live: broadcast::channel(LIVE_CAPACITY).0 }),
        }
    }

    /// Records `alert` as firing or resolved and sends it to the subscribed clients.
    pub(crate) fn publish(&self, alert: Alert) {
        let json = match serde_json::to_string(&alert) {
            Ok(json) => Utf8Bytes::from(json),
            Err(error) => {
                crate::metrics::count_broadcast_failure("serialize");
                tracing::warn!(rule = %alert.rule, %error, "alert could not be serialized");
                return;
            }
        };
        let message = AlertMessage { alert: Arc::new(alert), json };
        let mut board = self.board.lock().unwrap_or_else(PoisonError::into_inner);
        let same = |other: &AlertMessage| {
            let (a, b) = (&*other.alert, &*message.alert);
            (&a.queue, &a.worker, &a.rule) == (&b.queue, &b.worker, &b.rule)
        };
        board.firing.retain(|other| !same(other));
        if message.alert.state == AlertState::Firing {
            if board.firing.len() == MAX_FIRING {
                board.firing.pop_front();
            }
            board.firing.push_back(message.clone());
        }
        // An error only says that no client is subscribed.
        let _ = board.live.send(message);
    }

    /// The alerts firing now, and a receiver of every alert published after them.
    pub(crate) fn subscribe(&self) -> (Vec<AlertMessage>, broadcast::Receiver<AlertMessage>) {
        let board = self.board.lock().unwrap_or_else(PoisonError::into_inner);
        (board.firing.iter().cloned().collect(), board.live.subscribe())
    }

    /// The alerts firing now, oldest first.
    pub(crate) fn firing(&self) -> Vec<Alert> {
        let board = self.board.lock().unwrap_or_else(PoisonError::into_inner);
        board.firing.iter().map(|message| Alert::clone(&message.alert)).collect()
    }
}
