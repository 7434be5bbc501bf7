//! Central defaults, `RETRY_DEFAULTS` and `WEBSOCKET_DEFAULTS`, and their
//! overrides from environment variables.
//!
//! | variable | overrides | format |
//! |---|---|---|
//! | `WORKER_UTILS_RETRY_MAX_ATTEMPTS` | [`RetryDefaults::max_attempts`] | integer ≥ 1 |
//! | `WORKER_UTILS_RETRY_BASE_DELAY_MS` | [`RetryDefaults::base_delay`] | milliseconds |
//! | `WORKER_UTILS_RETRY_MAX_DELAY_MS` | [`RetryDefaults::max_delay`] | milliseconds |
//! | `WORKER_UTILS_RETRY_JITTER` | [`RetryDefaults::jitter`] | `true` / `false` |
//! | `WORKER_UTILS_WS_MAX_CLIENTS` | [`WebSocketDefaults::max_clients`] | integer ≥ 1 |
//! | `WORKER_UTILS_WS_RATE_LIMIT_MS` | [`WebSocketDefaults::rate_limit`] | milliseconds |
//!
//! A variable that is set but is not UTF-8, does not parse, or is out of range is an error
//! naming the variable; nothing falls back silently.

use std::borrow::Cow;
use std::env::VarError;
use std::str::FromStr;
use std::time::Duration;

use crate::rules;

/// A configuration value was rejected; says which field (or environment variable) and why.
///
/// ```
/// use worker_utils::config::ConfigError;
/// let err = ConfigError::new("max_attempts", "must be at least 1");
/// assert_eq!(err.to_string(), "invalid `max_attempts`: must be at least 1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid `{field}`: {reason}")]
pub struct ConfigError {
    field: Cow<'static, str>,
    reason: String,
}

impl ConfigError {
    /// A rejection of `field` for `reason`.
    pub fn new(field: impl Into<Cow<'static, str>>, reason: impl Into<String>) -> Self {
        Self { field: field.into(), reason: reason.into() }
    }

    /// The field or environment variable that was rejected.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// Why it was rejected.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The first rule that `check` reports broken, as an error naming its field: how a
    /// builder's `build()` runs the shared rules (`rules.rs`), which report every broken
    /// rule for the macros' sake.
    pub(crate) fn first_of(check: impl FnOnce(rules::Report<'_>)) -> Result<(), ConfigError> {
        first_violation(check).map_err(ConfigError::from)
    }
}

impl From<rules::Violation> for ConfigError {
    fn from(violation: rules::Violation) -> Self {
        ConfigError::new(violation.field.name(), violation.problem.to_string())
    }
}

/// The first rule that `check` reports broken.
fn first_violation(check: impl FnOnce(rules::Report<'_>)) -> Result<(), rules::Violation> {
    let mut first = None;
    check(&mut |violation| {
        first.get_or_insert(violation);
    });
    first.map_or(Ok(()), Err)
}

/// Default retry policy values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryDefaults {
    /// Attempts in all, counting the first call.
    pub max_attempts: u32,
    /// The delay the backoff starts from.
    pub base_delay: Duration,
    /// The cap on any single wait.
    pub max_delay: Duration,
    /// Whether delays are jittered.
    pub jitter: bool,
}

/// The retry defaults: 3 attempts, 1000 ms base delay, 30000 ms cap, jitter on.
///
/// ```
/// use worker_utils::config::RETRY_DEFAULTS;
/// assert_eq!(RETRY_DEFAULTS.max_attempts, 3);
/// ```
pub const RETRY_DEFAULTS: RetryDefaults = RetryDefaults {
    max_attempts: rules::Retry::DEFAULT.max_attempts,
    base_delay: rules::Retry::DEFAULT.schedule.base_delay,
    max_delay: rules::Retry::DEFAULT.schedule.max_delay,
    jitter: true,
};

impl RetryDefaults {
    /// [`RETRY_DEFAULTS`] with the `WORKER_UTILS_RETRY_*` environment variables applied.
    ///
    /// ```
    /// use worker_utils::config::RetryDefaults;
    /// // With none of the variables set, these are the defaults.
    /// assert!(RetryDefaults::from_env().is_ok());
    /// ```
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(environment(&[MAX_ATTEMPTS_VAR, BASE_DELAY_VAR, MAX_DELAY_VAR, JITTER_VAR])?)
    }

    /// [`RETRY_DEFAULTS`] with overrides read through `lookup` (the environment, a file, a
    /// map in a test).
    ///
    /// ```
    /// use std::time::Duration;
    /// use worker_utils::config::RetryDefaults;
    ///
    /// let vars = |name: &str| (name == "WORKER_UTILS_RETRY_BASE_DELAY_MS").then(|| "250".to_owned());
    /// assert_eq!(RetryDefaults::from_lookup(vars).unwrap().base_delay, Duration::from_millis(250));
    ///
    /// let bad = |name: &str| (name == "WORKER_UTILS_RETRY_MAX_ATTEMPTS").then(|| "many".to_owned());
    /// assert_eq!(RetryDefaults::from_lookup(bad).unwrap_err().field(), "WORKER_UTILS_RETRY_MAX_ATTEMPTS");
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = RETRY_DEFAULTS;
        let defaults = Self {
            max_attempts: read(&lookup, MAX_ATTEMPTS_VAR, d.max_attempts)?,
            base_delay: read_millis(&lookup, BASE_DELAY_VAR, d.base_delay)?,
            max_delay: read_millis(&lookup, MAX_DELAY_VAR, d.max_delay)?,
            jitter: read(&lookup, JITTER_VAR, d.jitter)?,
        };
        // The retry rules, reported under the variables' names.
        let rule = rules::Retry {
            max_attempts: defaults.max_attempts,
            schedule: rules::Schedule {
                base_delay: defaults.base_delay,
                max_delay: defaults.max_delay,
                factor: None,
            },
        };
        first_violation(|to| rule.check(to)).map_err(|violation| {
            let var = match violation.field {
                rules::Field::MaxAttempts => MAX_ATTEMPTS_VAR,
                rules::Field::BaseDelay => BASE_DELAY_VAR,
                other => other.name(),
            };
            ConfigError::new(var, violation.problem.to_string())
        })?;
        Ok(defaults)
    }
}

/// Default status-server limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebSocketDefaults {
    /// Connected clients at most; more are refused.
    pub max_clients: usize,
    /// Per-client window in which intermediate updates of one job are coalesced.
    pub rate_limit: Duration,
}

/// The status server's defaults: 100 clients, 100 ms rate-limit window.
///
/// ```
/// use worker_utils::config::WEBSOCKET_DEFAULTS;
/// assert_eq!(WEBSOCKET_DEFAULTS.max_clients, 100);
/// ```
pub const WEBSOCKET_DEFAULTS: WebSocketDefaults =
    WebSocketDefaults { max_clients: 100, rate_limit: Duration::from_millis(100) };

impl WebSocketDefaults {
    /// [`WEBSOCKET_DEFAULTS`] with the `WORKER_UTILS_WS_*` environment variables applied.
    ///
    /// ```
    /// use worker_utils::config::WebSocketDefaults;
    /// assert!(WebSocketDefaults::from_env().is_ok());
    /// ```
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(environment(&[MAX_CLIENTS_VAR, RATE_LIMIT_VAR])?)
    }

    /// [`WEBSOCKET_DEFAULTS`] with overrides read through `lookup`.
    ///
    /// ```
    /// use worker_utils::config::WebSocketDefaults;
    /// let vars = |name: &str| (name == "WORKER_UTILS_WS_MAX_CLIENTS").then(|| "0".to_owned());
    /// assert_eq!(WebSocketDefaults::from_lookup(vars).unwrap_err().field(), "WORKER_UTILS_WS_MAX_CLIENTS");
    ///
    /// // Out of the range the status server accepts: refused here, under the variable's name.
    /// let vars = |name: &str| (name == "WORKER_UTILS_WS_MAX_CLIENTS").then(|| "2000000".to_owned());
    /// assert_eq!(WebSocketDefaults::from_lookup(vars).unwrap_err().field(), "WORKER_UTILS_WS_MAX_CLIENTS");
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = WEBSOCKET_DEFAULTS;
        let defaults = Self {
            max_clients: read(&lookup, MAX_CLIENTS_VAR, d.max_clients)?,
            rate_limit: read_millis(&lookup, RATE_LIMIT_VAR, d.rate_limit)?,
        };
        if !(1..=MAX_CLIENTS).contains(&defaults.max_clients) {
            return Err(ConfigError::new(MAX_CLIENTS_VAR, format!("must be between 1 and {MAX_CLIENTS}")));
        }
        if defaults.rate_limit > MAX_RATE_LIMIT {
            return Err(ConfigError::new(
                RATE_LIMIT_VAR,
                format!("must be at most {} ms", MAX_RATE_LIMIT.as_millis()),
            ));
        }
        Ok(defaults)
    }
}

const MAX_ATTEMPTS_VAR: &str = "WORKER_UTILS_RETRY_MAX_ATTEMPTS";
const BASE_DELAY_VAR: &str = "WORKER_UTILS_RETRY_BASE_DELAY_MS";
const MAX_DELAY_VAR: &str = "WORKER_UTILS_RETRY_MAX_DELAY_MS";
const JITTER_VAR: &str = "WORKER_UTILS_RETRY_JITTER";
const MAX_CLIENTS_VAR: &str = "WORKER_UTILS_WS_MAX_CLIENTS";
const RATE_LIMIT_VAR: &str = "WORKER_UTILS_WS_RATE_LIMIT_MS";

/// The most clients a status server accepts (`max_clients`).
pub(crate) const MAX_CLIENTS: usize = 1 << 20;
/// The longest rate-limit window a status server accepts (`rate_limit`): longer would hold
/// a job's updates back for longer than a dashboard is worth watching.
pub(crate) const MAX_RATE_LIMIT: Duration = Duration::from_secs(60);

/// Reads the variables `names` from the process environment into a lookup.
fn environment(names: &[&'static str]) -> Result<impl Fn(&str) -> Option<String>, ConfigError> {
    lookup_of(names, |name| std::env::var(name))
}

/// Reads the variables `names` through `var` into a lookup; a variable that is set to
/// something other than UTF-8 is an error naming it, not a silent default.
fn lookup_of(
    names: &[&'static str],
    var: impl Fn(&str) -> Result<String, VarError>,
) -> Result<impl Fn(&str) -> Option<String>, ConfigError> {
    let mut set = Vec::new();
    for &name in names {
        match var(name) {
            Ok(value) => set.push((name, value)),
            Err(VarError::NotPresent) => {}
            Err(VarError::NotUnicode(raw)) => {
                return Err(ConfigError::new(name, format!("{raw:?} is not valid UTF-8")));
            }
        }
    }
    Ok(move |name: &str| set.iter().find(|(set_name, _)| *set_name == name).map(|(_, value)| value.clone()))
}

fn read<T: FromStr>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match lookup(name) {
        None => Ok(default),
        Some(raw) => {
            raw.trim().parse().map_err(|e| ConfigError::new(name, format!("cannot parse {raw:?}: {e}")))
        }
    }
}

fn read_millis(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let millis = read(lookup, name, crate::timeout::millis(default))?;
    Ok(Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_variable_that_is_not_utf8_is_an_error_naming_it() {
        let raw = <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b"12\xff").to_owned();
        let var = |name: &str| match name {
            RATE_LIMIT_VAR => Err(VarError::NotUnicode(raw.clone())),
            MAX_CLIENTS_VAR => Ok("7".to_owned()),
            _ => Err(VarError::NotPresent),
        };
        let err = lookup_of(&[MAX_CLIENTS_VAR, RATE_LIMIT_VAR], var).err().unwrap();
        assert_eq!(err.field(), RATE_LIMIT_VAR);
        assert!(err.reason().contains("not valid UTF-8"), "{err}");

        let lookup = lookup_of(&[MAX_CLIENTS_VAR], var).unwrap();
        assert_eq!(WebSocketDefaults::from_lookup(lookup).unwrap().max_clients, 7);
    }

    #[test]
    fn websocket_defaults_are_bounded_above_under_the_variable_name() {
        let vars = |value: &'static str| move |name: &str| (name == RATE_LIMIT_VAR).then(|| value.to_owned());
        assert!(WebSocketDefaults::from_lookup(vars("60000")).is_ok());
        assert_eq!(WebSocketDefaults::from_lookup(vars("60001")).unwrap_err().field(), RATE_LIMIT_VAR);
    }
}
