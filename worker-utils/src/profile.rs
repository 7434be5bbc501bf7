//! [`Profile`]: where a run's time went, action by action, from the duration histogram the
//! metrics already record; a table of each action's share, calls, p50, p95 and max.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ::metrics::{
    Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SetRecorderError, SharedString,
    Unit,
};

// The histogram read: what `ErrorHandling` records per call once `metrics::enable` was
// called, labelled with the action's name.
use crate::metrics::ACTION_DURATION;

/// A `metrics` recorder that keeps every sample of the per-action duration histogram (one
/// per call through an action's `error_handling`) and renders them as a [`ProfileReport`].
/// Other metrics are ignored.
///
/// It is meant for a run: a benchmark, a batch, `quickstart --profile`. It keeps 8 bytes per
/// call and takes a short lock to record one, so a long-lived service should export the
/// histogram instead (Prometheus and the like). Nothing is recorded and nothing costs
/// anything until [`install`](Self::install) is called.
///
/// ```
/// use worker_utils::prelude::*;
/// use worker_utils::profile::Profile;
/// use worker_utils::testing::Mock;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let profile = Profile::new();
/// profile.install().expect("no other metrics recorder"); // also turns on the success-path metrics
///
/// let double = Mock::new(|n: u32| Ok(n * 2)).named("double").error_handling();
/// for n in 0..10 {
///     double.execute(n, &(), &ActionContext::detached()).await.unwrap();
/// }
/// let report = profile.report();
/// assert_eq!((report.rows()[0].action.as_str(), report.rows()[0].calls), ("double", 10));
/// println!("{report}"); // action  calls  share  p50  p95  max
/// # }
/// ```
#[derive(Clone, Default)]
pub struct Profile {
    actions: Arc<Mutex<Vec<Arc<Samples>>>>,
}

/// The durations recorded for one action, in seconds.
struct Samples {
    action: String,
    seconds: Mutex<Vec<f64>>,
}

impl HistogramFn for Samples {
    fn record(&self, seconds: f64) {
        self.seconds.lock().unwrap_or_else(PoisonError::into_inner).push(seconds);
    }
}

impl Profile {
    /// An empty profile, not installed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes this profile the global `metrics` recorder and turns on the success-path
    /// metrics ([`crate::metrics::enable`]). Call it before the first job: actions register
    /// their histogram at their first call. Fails if a recorder was installed already.
    pub fn install(&self) -> Result<(), SetRecorderError<Profile>> {
        ::metrics::set_global_recorder(self.clone())?;
        crate::metrics::enable();
        Ok(())
    }

    /// The samples of `action`, created at its first registration.
    fn samples(&self, action: &str) -> Arc<Samples> {
        let mut actions = self.actions.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(samples) = actions.iter().find(|samples| samples.action == action) {
            return samples.clone();
        }
        let samples = Arc::new(Samples { action: action.to_owned(), seconds: Mutex::default() });
        actions.push(samples.clone());
        samples
    }

    /// What was recorded so far, the largest share first.
    pub fn report(&self) -> ProfileReport {
        let actions = self.actions.lock().unwrap_or_else(PoisonError::into_inner);
        let mut rows: Vec<ActionProfile> = actions
            .iter()
            .filter_map(|samples| {
                let mut seconds = samples.seconds.lock().unwrap_or_else(PoisonError::into_inner).clone();
                ActionProfile::of(&samples.action, &mut seconds)
            })
            .collect();
        drop(actions);
        let total = rows.iter().map(|row| row.total).sum::<Duration>();
        for row in &mut rows {
            row.share = if total.is_zero() { 0.0 } else { row.total.as_secs_f64() / total.as_secs_f64() };
        }
        rows.sort_by(|a, b| b.total.cmp(&a.total).then_with(|| a.action.cmp(&b.action)));
        ProfileReport { rows, total }
    }
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let actions = self.actions.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("Profile")
            .field("actions", &actions.iter().map(|samples| &samples.action).collect::<Vec<_>>())
            .finish()
    }
}

impl Recorder for Profile {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
        Counter::noop()
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let action = key.labels().find(|label| label.key() == "action").map(|label| label.value());
        match action {
            Some(action) if key.name() == ACTION_DURATION => Histogram::from_arc(self.samples(action)),
            _ => Histogram::noop(),
        }
    }
}

/// Where a run's time went: one [`ActionProfile`] per action, the largest share first.
/// `Display` renders the table.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileReport {
    rows: Vec<ActionProfile>,
    total: Duration,
}

impl ProfileReport {
    /// One row per action that was called, the largest share first.
    pub fn rows(&self) -> &[ActionProfile] {
        &self.rows
    }

    /// The time of every call of every action, added up.
    pub fn total(&self) -> Duration {
        self.total
    }
}

/// One action's calls in a [`ProfileReport`]. Percentiles are exact, by the nearest-rank
/// method: p95 is the smallest duration at least 95 % of the calls did not exceed.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionProfile {
    /// The action's name.
    pub action: String,
    /// Its calls.
    pub calls: u64,
    /// The time of all its calls.
    pub total: Duration,
    /// Its share of the report's total time, from 0 to 1.
    pub share: f64,
    /// The median call.
    pub p50: Duration,
    /// The 95th percentile.
    pub p95: Duration,
    /// The longest call.
    pub max: Duration,
}

impl ActionProfile {
    /// The row of `action` from its durations in seconds (sorted here); `None` without any.
    /// The share is left at 0 for the report to fill in.
    fn of(action: &str, seconds: &mut [f64]) -> Option<Self> {
        seconds.sort_by(f64::total_cmp);
        let max = *seconds.last()?;
        let duration = |s: f64| Duration::try_from_secs_f64(s).unwrap_or_default();
        let rank = |q: f64| {
            // Nearest rank: the ⌈q·n⌉-th smallest, counting from 1.
            let rank = (q * seconds.len() as f64).ceil() as usize;
            duration(seconds[rank.clamp(1, seconds.len()) - 1])
        };
        Some(Self {
            action: action.to_owned(),
            calls: seconds.len() as u64,
            total: seconds.iter().map(|&s| duration(s)).sum(),
            share: 0.0,
            p50: rank(0.50),
            p95: rank(0.95),
            max: duration(max),
        })
    }
}

impl fmt::Display for ProfileReport {
    /// ```text
    /// action             calls   share         p50         p95         max
    /// fetch_image          500   71.3%      2.31ms      4.10ms     12.01ms
    /// upload               490   20.0%      1.12ms      1.40ms      3.02ms
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self.rows.iter().map(|row| row.action.len()).chain([6]).max().unwrap_or(6);
        let time = |d: Duration| format!("{d:.2?}");
        writeln!(
            f,
            "{:<width$}  {:>8}  {:>6}  {:>10}  {:>10}  {:>10}",
            "action", "calls", "share", "p50", "p95", "max"
        )?;
        for row in &self.rows {
            writeln!(
                f,
                "{:<width$}  {:>8}  {:>5.1}%  {:>10}  {:>10}  {:>10}",
                row.action,
                row.calls,
                row.share * 100.0,
                time(row.p50),
                time(row.p95),
                time(row.max),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(profile: &Profile, action: &'static str, millis: impl IntoIterator<Item = u64>) {
        ::metrics::with_local_recorder(profile, || {
            let histogram = ::metrics::histogram!(ACTION_DURATION, "action" => action);
            for ms in millis {
                histogram.record(Duration::from_millis(ms));
            }
            // Other metrics are ignored.
            ::metrics::histogram!("another_histogram", "action" => action).record(1.0);
        });
    }

    #[test]
    fn the_table_shows_exact_percentiles_and_shares_largest_first() {
        let profile = Profile::new();
        record(&profile, "thumbnail", [100; 5]);
        record(&profile, "fetch", 1..=100);
        record(&profile, "upload", [50, 10, 40, 30, 20, 0, 0, 0, 0, 0]);

        let report = profile.report();
        assert_eq!(report.total(), Duration::from_millis(5050 + 500 + 150));
        let fetch = &report.rows()[0];
        assert_eq!((fetch.action.as_str(), fetch.calls), ("fetch", 100));
        let ms = Duration::from_millis;
        assert_eq!((fetch.p50, fetch.p95, fetch.max), (ms(50), ms(95), ms(100)));
        assert_eq!(
            report.to_string(),
            "\
action        calls   share         p50         p95         max
fetch           100   88.6%     50.00ms     95.00ms    100.00ms
thumbnail         5    8.8%    100.00ms    100.00ms    100.00ms
upload           10    2.6%      0.00ns     50.00ms     50.00ms
"
        );
    }

    #[test]
    fn an_empty_profile_renders_the_header_only() {
        let report = Profile::new().report();
        assert_eq!(report.total(), Duration::ZERO);
        assert_eq!(report.to_string().lines().count(), 1);
    }
}
