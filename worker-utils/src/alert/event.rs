use std::sync::Arc;

use super::AlertMetric;

/// Whether an alert starts or ends an episode.
///
/// ```
/// use worker_utils::alert::AlertState;
/// assert_eq!(serde_json::to_string(&AlertState::Firing).unwrap(), "\"FIRING\"");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlertState {
    /// The rate reached the threshold with enough calls in the window.
    Firing,
    /// The rate of a firing alert fell below the rule's resolve threshold.
    Resolved,
}

/// One transition of an [`AlertRule`](super::AlertRule): what the
/// [`AlertHandler`](super::AlertHandler) receives and what the status feed sends as
/// `{"type":"alert",…}` (see `docs/protocol.md`).
///
/// ```
/// use worker_utils::alert::{Alert, AlertMetric, AlertState};
///
/// let alert: Alert = serde_json::from_str(
///     r#"{"type":"alert","rule":"failure_rate","queue":"images","worker":"images-1","action":null,
///         "metric":"failure_rate","state":"FIRING","rate":0.6,"calls":25,"failures":15,
///         "threshold":0.5,"resolve_below":0.25,"window_ms":60000,"timestamp_ms":1700000000000}"#,
/// ).unwrap();
/// assert_eq!((alert.state, alert.metric, alert.calls), (AlertState::Firing, AlertMetric::FailureRate, 25));
/// assert_eq!(serde_json::to_value(&alert).unwrap()["type"], "alert");
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename = "alert")]
pub struct Alert {
    /// The rule's name.
    pub rule: Arc<str>,
    /// The queue the runner consumes.
    pub queue: Arc<str>,
    /// The worker instance that raised it (each runner watches its own deliveries).
    pub worker: Arc<str>,
    /// The action the rule watches, or `None` for the whole queue.
    pub action: Option<Arc<str>>,
    /// What the rule measures.
    pub metric: AlertMetric,
    /// Firing or resolved.
    pub state: AlertState,
    /// The rate when it changed state, from 0 to 1.
    pub rate: f64,
    /// Calls in the window then.
    pub calls: u32,
    /// Of those, failures (by the rule's metric).
    pub failures: u32,
    /// The rule's firing threshold.
    pub threshold: f64,
    /// The rule's resolve threshold.
    pub resolve_below: f64,
    /// The rule's window, in milliseconds.
    pub window_ms: u64,
    /// When it changed state, in milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
}
