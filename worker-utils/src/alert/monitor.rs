use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::handler::DynAlertHandler;
use super::window::{Counts, RateWindow};
use super::{Alert, AlertMetric, AlertRule, AlertState};
use crate::config::ConfigError;
use crate::status::StatusSink;
use crate::timeout::millis;

/// The pipeline step a failed delivery failed in, by index; resolved from the failure's
/// action name only when alerts are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Step(Option<u16>);

impl Step {
    /// A failure outside any known step (or alerts off): no action's rule counts it.
    pub(crate) const UNKNOWN: Step = Step(None);
}

/// A delivery whose outcome the queue recorded, as the alert rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finished {
    Completed,
    Redelivered(Step),
    DeadLettered(Step),
}

/// A runner's alert rules, fed with every recorded outcome.
///
/// Feeding costs per rule one or two atomic adds, and on a failure (or while the rule
/// fires) a sum of its window's buckets; a lock is taken only to change state. A task of
/// the runner (see [`AlertMonitor::start`]) slides the windows and calls the hook.
pub(crate) struct AlertMonitor {
    watches: Box<[Watch]>,
    steps: Box<[&'static str]>,
    queue: Arc<str>,
    worker: Arc<str>,
    status: Option<Arc<dyn StatusSink>>,
    hook: Option<Hook>,
}

/// One rule and its window.
struct Watch {
    rule: AlertRule,
    /// The index of the step an action's rule watches.
    step: Option<usize>,
    window: RateWindow,
    firing: AtomicBool,
    /// Held while changing state, so that the alerts of one rule go out in the order of
    /// its transitions.
    transition: Mutex<()>,
}

/// The user's hook and the alerts waiting for it.
struct Hook {
    handler: Arc<dyn DynAlertHandler>,
    sender: mpsc::UnboundedSender<Alert>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<Alert>>>,
}

impl AlertMonitor {
    /// The monitor of `rules` for a runner of `steps`, or `None` without rules. An action's
    /// rule must name a step, and rule names must differ.
    pub(crate) fn new(
        rules: Vec<AlertRule>,
        steps: Vec<&'static str>,
        (queue, worker): (Arc<str>, Arc<str>),
        status: Option<Arc<dyn StatusSink>>,
        handler: Option<Arc<dyn DynAlertHandler>>,
    ) -> Result<Option<Self>, ConfigError> {
        if rules.is_empty() {
            return Ok(None);
        }
        let mut watches = Vec::with_capacity(rules.len());
        for rule in rules {
            if watches.iter().any(|watch: &Watch| watch.rule.name() == rule.name()) {
                return Err(ConfigError::new("alert", format!("two rules are named `{}`", rule.name())));
            }
            let step = match rule.action() {
                None => None,
                Some(action) => Some(steps.iter().position(|step| *step == action).ok_or_else(|| {
                    ConfigError::new(
                        "alert",
                        format!(
                            "rule `{}` watches action `{action}`, which is not a step of the pipeline ({})",
                            rule.name(),
                            steps.join(" → ")
                        ),
                    )
                })?),
            };
            watches.push(Watch {
                rule,
                step,
                window: RateWindow::new(),
                firing: AtomicBool::new(false),
                transition: Mutex::new(()),
            });
        }
        let hook = handler.map(|handler| {
            let (sender, receiver) = mpsc::unbounded_channel();
            Hook { handler, sender, receiver: Mutex::new(Some(receiver)) }
        });
        Ok(Some(Self {
            watches: watches.into_boxed_slice(),
            steps: steps.into_boxed_slice(),
            queue,
            worker,
            status,
            hook,
        }))
    }

    /// The step an action named `action` is in the pipeline.
    pub(crate) fn step_of(&self, action: &str) -> Step {
        Step(self.steps.iter().position(|step| *step == action).and_then(|i| u16::try_from(i).ok()))
    }

    /// Counts a recorded outcome in every rule that watches it, and changes their states.
    pub(crate) fn record(&self, finished: Finished) {
        for watch in &*self.watches {
            let Some(failed) = watch.sample(finished) else { continue };
            watch.window.record(failed);
            if failed || watch.firing.load(Ordering::Relaxed) {
                self.evaluate(watch);
            }
        }
    }

    /// Fires or resolves `watch` if its window says so.
    fn evaluate(&self, watch: &Watch) {
        let wanted = |counts: Counts, firing: bool| {
            let rule = &watch.rule;
            let rate = counts.rate();
            if !firing && counts.calls >= rule.min_calls() && rate >= rule.threshold() {
                Some(AlertState::Firing)
            } else if firing && rate < rule.resolve_below() {
                Some(AlertState::Resolved)
            } else {
                None
            }
        };
        if wanted(watch.window.counts(), watch.firing.load(Ordering::Relaxed)).is_none() {
            return;
        }
        let _transition = watch.transition.lock().unwrap_or_else(PoisonError::into_inner);
        let counts = watch.window.counts();
        let Some(state) = wanted(counts, watch.firing.load(Ordering::Relaxed)) else { return };
        watch.firing.store(state == AlertState::Firing, Ordering::Relaxed);
        self.raise(watch, state, counts);
    }

    /// Logs the alert, publishes it on the status feed and queues it for the hook.
    fn raise(&self, watch: &Watch, state: AlertState, counts: Counts) {
        let rule = &watch.rule;
        let alert = Alert {
            rule: rule.name_arc().clone(),
            queue: self.queue.clone(),
            worker: self.worker.clone(),
            action: rule.action_arc().cloned(),
            metric: rule.metric(),
            state,
            rate: counts.rate(),
            calls: counts.calls,
            failures: counts.failures,
            threshold: rule.threshold(),
            resolve_below: rule.resolve_below(),
            window_ms: millis(rule.window()),
            timestamp_ms: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, millis),
        };
        let (name, queue, action, metric) =
            (rule.name(), &*self.queue, rule.action(), rule.metric().as_str());
        let (rate, calls, failures) = (alert.rate, counts.calls, counts.failures);
        match state {
            AlertState::Firing => tracing::warn!(
                rule = name,
                queue,
                action,
                metric,
                rate,
                calls,
                failures,
                threshold = rule.threshold(),
                "alert firing"
            ),
            AlertState::Resolved => tracing::info!(
                rule = name,
                queue,
                action,
                metric,
                rate,
                calls,
                failures,
                resolve_below = rule.resolve_below(),
                "alert resolved"
            ),
        }
        if let Some(status) = &self.status {
            status.publish_alert(alert.clone());
        }
        if let Some(hook) = &self.hook {
            // Fails only once the hook task is gone, when the runner has stopped.
            let _ = hook.sender.send(alert);
        }
    }

    /// Starts the tasks that slide the windows and call the hook; the runner stops them
    /// when it stops.
    pub(crate) fn start(self: &Arc<Self>) -> AlertTasks {
        let stop = CancellationToken::new();
        let receiver = self.hook.as_ref().and_then(|hook| {
            hook.receiver
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
                .map(|r| (hook.handler.clone(), r))
        });
        AlertTasks {
            slide: tokio::spawn(self.clone().slide()),
            hook: receiver
                .map(|(handler, receiver)| tokio::spawn(call_hook(handler, receiver, stop.clone()))),
            stop,
        }
    }

    /// Moves each window on by one bucket every tenth of it, and checks the rules then, so
    /// that a rule resolves when its failures age out even with no new outcome.
    async fn slide(self: Arc<Self>) {
        let start = Instant::now();
        let width =
            |watch: &Watch| (watch.rule.window() / AlertRule::WINDOW_BUCKETS).max(Duration::from_millis(1));
        let mut due: Vec<Instant> = self.watches.iter().map(|watch| start + width(watch)).collect();
        loop {
            let Some(next) = due.iter().min().copied() else { return };
            tokio::time::sleep_until(next).await;
            for (watch, at) in self.watches.iter().zip(&mut due) {
                if *at <= next {
                    watch.window.advance();
                    *at += width(watch);
                    self.evaluate(watch);
                }
            }
        }
    }
}

impl Watch {
    /// How a finished delivery counts for this rule: `Some(failed)`, or `None` when the rule
    /// does not count it (a redelivery for a dead-letter rate; a failure before the step an
    /// action's rule watches, or in an unknown step).
    fn sample(&self, finished: Finished) -> Option<bool> {
        let failed_in = match (self.rule.metric(), finished) {
            (_, Finished::Completed) => return Some(false),
            (AlertMetric::DeadLetterRate, Finished::Redelivered(_)) => return None,
            (_, Finished::Redelivered(step) | Finished::DeadLettered(step)) => step,
        };
        let Some(mine) = self.step else { return Some(true) };
        let failed_in = usize::from(failed_in.0?);
        (failed_in >= mine).then_some(failed_in == mine)
    }
}

/// Calls the hook with each alert in turn; once told to stop, with those already queued.
async fn call_hook(
    handler: Arc<dyn DynAlertHandler>,
    mut receiver: mpsc::UnboundedReceiver<Alert>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            biased;
            Some(alert) = receiver.recv() => handler.on_alert(alert).await,
            () = stop.cancelled() => break,
        }
    }
    while let Ok(alert) = receiver.try_recv() {
        handler.on_alert(alert).await;
    }
}

/// The alert tasks of a running runner.
pub(crate) struct AlertTasks {
    slide: JoinHandle<()>,
    hook: Option<JoinHandle<()>>,
    stop: CancellationToken,
}

impl AlertTasks {
    /// Stops sliding the windows and gives the hook up to `grace` for the alerts still
    /// queued.
    pub(crate) async fn stop(self, grace: Duration) {
        self.slide.abort();
        self.stop.cancel();
        if let Some(hook) = self.hook
            && tokio::time::timeout(grace, hook).await.is_err()
        {
            tracing::warn!("the alert hook did not finish its queued alerts in time");
        }
    }
}

impl fmt::Debug for AlertMonitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rules: Vec<&AlertRule> = self.watches.iter().map(|watch| &watch.rule).collect();
        f.debug_struct("AlertMonitor").field("rules", &rules).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(rule: AlertRule, step: Option<usize>) -> Watch {
        Watch {
            rule,
            step,
            window: RateWindow::new(),
            firing: AtomicBool::new(false),
            transition: Mutex::new(()),
        }
    }

    #[test]
    fn an_action_rule_counts_deliveries_that_reached_its_step() {
        let rule = AlertRule::failure_rate(0.5).action("b").build().unwrap();
        let watch = watch(rule, Some(1));
        let at = |i| Step(Some(i));
        assert_eq!(watch.sample(Finished::Completed), Some(false));
        assert_eq!(watch.sample(Finished::Redelivered(at(0))), None);
        assert_eq!(watch.sample(Finished::Redelivered(at(1))), Some(true));
        assert_eq!(watch.sample(Finished::DeadLettered(at(2))), Some(false));
        assert_eq!(watch.sample(Finished::DeadLettered(Step::UNKNOWN)), None);
    }

    #[test]
    fn a_dead_letter_rule_skips_redeliveries() {
        let watch = watch(AlertRule::dead_letter_rate(0.5).build().unwrap(), None);
        assert_eq!(watch.sample(Finished::Redelivered(Step::UNKNOWN)), None);
        assert_eq!(watch.sample(Finished::DeadLettered(Step::UNKNOWN)), Some(true));
    }
}
