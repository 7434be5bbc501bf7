use std::future::Future;
use std::pin::Pin;

use super::Alert;

/// Told of every alert a runner raises or resolves, in order: page someone, post to chat,
/// open an incident.
///
/// The runner calls it from a task of its own, one alert after another, so a slow hook
/// delays later alerts' hooks but never a job. Any `Fn(Alert) -> impl Future<Output = ()>`
/// is a handler.
///
/// ```
/// use worker_utils::alert::{Alert, AlertHandler};
///
/// struct Pager;
///
/// impl AlertHandler for Pager {
///     async fn on_alert(&self, alert: Alert) {
///         println!("{} on {}: {:?} at {:.0}%", alert.rule, alert.queue, alert.state, alert.rate * 100.0);
///     }
/// }
///
/// // Or a closure returning a future:
/// let log = |alert: Alert| async move { tracing::error!(rule = %alert.rule, "paging") };
/// # fn takes(_: impl AlertHandler) {}
/// # takes(Pager);
/// # takes(log);
/// ```
pub trait AlertHandler: Send + Sync + 'static {
    /// Handles one alert.
    fn on_alert(&self, alert: Alert) -> impl Future<Output = ()> + Send;
}

impl<F, Fut> AlertHandler for F
where
    F: Fn(Alert) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    fn on_alert(&self, alert: Alert) -> impl Future<Output = ()> + Send {
        self(alert)
    }
}

/// An [`AlertHandler`] behind a pointer: the runner keeps one without a type parameter,
/// and boxes the future of each call (alerts are rare).
pub(crate) trait DynAlertHandler: Send + Sync {
    fn on_alert(&self, alert: Alert) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

impl<H: AlertHandler> DynAlertHandler for H {
    fn on_alert(&self, alert: Alert) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(AlertHandler::on_alert(self, alert))
    }
}
