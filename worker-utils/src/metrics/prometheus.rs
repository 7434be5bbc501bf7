//! The Prometheus recorder, installed in one call (feature `prometheus`).

use std::time::Duration;

use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

/// OpenTelemetry's recommended buckets for messaging durations, in seconds.
const DURATION_BUCKETS: [f64; 14] =
    [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];
/// How often histogram samples are folded in when nobody scrapes (a scrape does it too).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs a Prometheus recorder as the process's global recorder, turns the
/// success-path metrics on ([`enable`](super::enable)), and returns the handle whose text
/// the status server serves at `GET /metrics` (`StatusServerBuilder::metrics`).
///
/// Histograms whose name ends in `_seconds` get OpenTelemetry's recommended buckets (5 ms
/// to 10 s). A background thread folds histogram samples in every 5 s, so memory stays
/// bounded between scrapes. For other settings, build your own recorder with
/// `metrics_exporter_prometheus::PrometheusBuilder`, install it, call
/// [`enable`](super::enable) and pass its handle to the server.
///
/// # Errors
///
/// When a global recorder is already installed: there is one per process.
///
/// ```
/// use worker_utils::status::{Broadcaster, StatusServer};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let handle = worker_utils::metrics::install_prometheus()?;
/// assert!(worker_utils::metrics::enabled());
/// let server = StatusServer::builder(Broadcaster::new()).metrics(handle).build()?.start().await?;
/// // Prometheus scrapes http://127.0.0.1:PORT/metrics
/// # server.shutdown().await;
/// assert!(worker_utils::metrics::install_prometheus().is_err(), "one recorder per process");
/// # Ok(()) }
/// ```
pub fn install_prometheus() -> Result<PrometheusHandle, BuildError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &DURATION_BUCKETS)?
        .install_recorder()?;
    super::enable();
    let upkeep = handle.clone();
    let spawned =
        std::thread::Builder::new().name("worker-utils-metrics-upkeep".to_owned()).spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "cannot start the metrics upkeep thread; histograms are folded in at each scrape only");
    }
    Ok(handle)
}
