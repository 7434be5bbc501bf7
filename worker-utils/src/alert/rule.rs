use std::sync::Arc;
use std::time::Duration;

use crate::config::ConfigError;
use crate::rules;

/// What an [`AlertRule`] measures over its window.
///
/// ```
/// use worker_utils::alert::AlertMetric;
/// assert_eq!(AlertMetric::FailureRate.as_str(), "failure_rate");
/// assert_eq!(AlertMetric::DeadLetterRate.as_str(), "dead_letter_rate");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertMetric {
    /// Failed deliveries (sent back for redelivery or dead-lettered) out of all finished
    /// deliveries (those and the completed ones).
    FailureRate,
    /// Dead-lettered jobs out of all finished jobs (completed or dead-lettered); a delivery
    /// sent back for redelivery is not finished and does not count.
    DeadLetterRate,
}

impl AlertMetric {
    /// The wire name: `failure_rate` or `dead_letter_rate`.
    pub const fn as_str(self) -> &'static str {
        match self {
            AlertMetric::FailureRate => "failure_rate",
            AlertMetric::DeadLetterRate => "dead_letter_rate",
        }
    }
}

/// When a runner raises an [`Alert`](super::Alert): a rate over a sliding time window, for
/// the whole queue or for one action of the pipeline.
///
/// It fires when the rate reaches `threshold` with at least `min_calls` in the window, and
/// resolves when the rate falls below `resolve_below` (by default half the threshold): the
/// gap between the two is the hysteresis that keeps a rate hovering near the threshold
/// from firing again and again. One episode is one `Firing` and one `Resolved`. An empty
/// window counts as a rate of 0, so a queue that goes quiet resolves once its failures age
/// out.
///
/// | setting | default | meaning |
/// |---|---|---|
/// | `threshold` | (required) | fire at this rate or above, in (0, 1] |
/// | `resolve_below` | `threshold / 2` | resolve below this rate, in [0, `threshold`) |
/// | `window` | 60 s | the rate is over the last `window` (in 10 steps), at most a day |
/// | `min_calls` | 20 | no alert while the window holds fewer calls, at least 1 |
/// | `action` | the whole queue | count only the deliveries that reached this step, and its failures |
/// | `name` | `failure_rate` or `dead_letter_rate`, then `:action` | how the alert is named |
///
/// ```
/// use std::time::Duration;
/// use worker_utils::alert::{AlertMetric, AlertRule};
///
/// let rule = AlertRule::failure_rate(0.5)
///     .window(Duration::from_secs(120))
///     .min_calls(50)
///     .action("resize")
///     .build()
///     .unwrap();
/// assert_eq!((rule.name(), rule.metric()), ("failure_rate:resize", AlertMetric::FailureRate));
/// assert_eq!((rule.threshold(), rule.resolve_below()), (0.5, 0.25));
///
/// let err = AlertRule::dead_letter_rate(1.5).build().unwrap_err();
/// assert_eq!(err.field(), "threshold");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    name: Arc<str>,
    metric: AlertMetric,
    threshold: f64,
    resolve_below: f64,
    window: Duration,
    min_calls: u32,
    action: Option<Arc<str>>,
}

impl AlertRule {
    /// The default window.
    pub const DEFAULT_WINDOW: Duration = rules::Alert::DEFAULT_WINDOW;
    /// The longest window.
    pub const MAX_WINDOW: Duration = rules::Alert::MAX_WINDOW;
    /// The default minimum of calls in the window.
    pub const DEFAULT_MIN_CALLS: u32 = rules::Alert::DEFAULT_MIN_CALLS;
    /// How many steps a window slides in: a call stops counting between 0.9 and 1 window
    /// after it finished.
    pub const WINDOW_BUCKETS: u32 = 10;

    /// A rule on the share of failed deliveries ([`AlertMetric::FailureRate`]), firing at
    /// `threshold`.
    pub fn failure_rate(threshold: f64) -> AlertRuleBuilder {
        AlertRuleBuilder::new(AlertMetric::FailureRate, threshold)
    }

    /// A rule on the share of dead-lettered jobs ([`AlertMetric::DeadLetterRate`]), firing
    /// at `threshold`.
    pub fn dead_letter_rate(threshold: f64) -> AlertRuleBuilder {
        AlertRuleBuilder::new(AlertMetric::DeadLetterRate, threshold)
    }

    /// The rule's name, as alerts carry it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What it measures.
    pub fn metric(&self) -> AlertMetric {
        self.metric
    }

    /// The rate at or above which it fires.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// The rate below which a firing alert resolves.
    pub fn resolve_below(&self) -> f64 {
        self.resolve_below
    }

    /// How far back the rate looks.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The fewest calls in the window for it to fire.
    pub fn min_calls(&self) -> u32 {
        self.min_calls
    }

    /// The action it watches, or `None` for the whole queue.
    pub fn action(&self) -> Option<&str> {
        self.action.as_deref()
    }

    pub(crate) fn name_arc(&self) -> &Arc<str> {
        &self.name
    }

    pub(crate) fn action_arc(&self) -> Option<&Arc<str>> {
        self.action.as_ref()
    }
}

/// Builds an [`AlertRule`]; [`build`](Self::build) checks the values and names the field
/// it rejects.
#[derive(Debug, Clone)]
pub struct AlertRuleBuilder {
    metric: AlertMetric,
    threshold: f64,
    resolve_below: Option<f64>,
    window: Duration,
    min_calls: u32,
    action: Option<Arc<str>>,
    name: Option<Arc<str>>,
}

impl AlertRuleBuilder {
    fn new(metric: AlertMetric, threshold: f64) -> Self {
        Self {
            metric,
            threshold,
            resolve_below: None,
            window: AlertRule::DEFAULT_WINDOW,
            min_calls: AlertRule::DEFAULT_MIN_CALLS,
            action: None,
            name: None,
        }
    }

    /// A firing alert resolves once the rate is below this (default: half the threshold).
    pub fn resolve_below(mut self, rate: f64) -> Self {
        self.resolve_below = Some(rate);
        self
    }

    /// How far back the rate looks (default 60 s).
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// The fewest calls in the window for the rule to fire (default 20).
    pub fn min_calls(mut self, calls: u32) -> Self {
        self.min_calls = calls;
        self
    }

    /// Watches one step of the pipeline, by its action name, instead of the whole queue:
    /// the calls are the deliveries that reached it, the failures those that failed in it.
    pub fn action(mut self, action: impl Into<Arc<str>>) -> Self {
        self.action = Some(action.into());
        self
    }

    /// Names the rule (default: the metric, then `:action` for an action's rule).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Checks the values and builds the rule.
    pub fn build(self) -> Result<AlertRule, ConfigError> {
        let rule = rules::Alert {
            threshold: self.threshold,
            resolve_below: self.resolve_below,
            window: self.window,
            min_calls: self.min_calls,
            action: self.action.as_deref(),
            name: self.name.as_deref(),
        };
        ConfigError::first_of(|to| rule.check(to))?;
        let resolve_below = rule.resolve_below();
        let name = match (self.name, &self.action) {
            (Some(name), _) => name,
            (None, None) => Arc::from(self.metric.as_str()),
            (None, Some(action)) => Arc::from(format!("{}:{action}", self.metric.as_str())),
        };
        Ok(AlertRule {
            name,
            metric: self.metric,
            threshold: self.threshold,
            resolve_below,
            window: self.window,
            min_calls: self.min_calls,
            action: self.action,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(builder: AlertRuleBuilder) -> String {
        builder.build().unwrap_err().field().to_owned()
    }

    #[test]
    fn each_bad_value_is_refused_by_name() {
        assert_eq!(field(AlertRule::failure_rate(0.0)), "threshold");
        assert_eq!(field(AlertRule::failure_rate(f64::NAN)), "threshold");
        assert_eq!(field(AlertRule::failure_rate(0.5).resolve_below(0.5)), "resolve_below");
        assert_eq!(field(AlertRule::failure_rate(0.5).resolve_below(-0.1)), "resolve_below");
        assert_eq!(field(AlertRule::failure_rate(0.5).window(Duration::ZERO)), "window");
        assert_eq!(field(AlertRule::failure_rate(0.5).window(Duration::from_secs(86_401))), "window");
        assert_eq!(field(AlertRule::failure_rate(0.5).min_calls(0)), "min_calls");
        assert_eq!(field(AlertRule::failure_rate(0.5).action("")), "action");
        assert_eq!(field(AlertRule::failure_rate(0.5).name("")), "name");
    }

    #[test]
    fn defaults_and_names() {
        let rule = AlertRule::dead_letter_rate(1.0).build().unwrap();
        assert_eq!(rule.name(), "dead_letter_rate");
        assert_eq!(
            (rule.window(), rule.min_calls(), rule.resolve_below()),
            (AlertRule::DEFAULT_WINDOW, 20, 0.5)
        );
        assert_eq!(AlertRule::failure_rate(0.2).name("mine").build().unwrap().name(), "mine");
    }
}
