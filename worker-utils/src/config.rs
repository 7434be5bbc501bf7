//! Central defaults, as the seed's `RETRY_DEFAULTS` and `WEBSOCKET_DEFAULTS`, and their
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
//! A variable that is set but does not parse is an error naming the variable; nothing falls
//! back silently.

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

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
}

/// Default retry policy values (the seed's `RETRY_DEFAULTS`).
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

/// The seed's retry defaults: 3 attempts, 1000 ms base delay, 30000 ms cap, jitter on.
///
/// ```
/// use worker_utils::config::RETRY_DEFAULTS;
/// assert_eq!(RETRY_DEFAULTS.max_attempts, 3);
/// ```
pub const RETRY_DEFAULTS: RetryDefaults = RetryDefaults {
    max_attempts: 3,
    base_delay: Duration::from_millis(1000),
    max_delay: Duration::from_millis(30_000),
    jitter: true,
};

impl RetryDefaults {
    /// [`RETRY_DEFAULTS`] with the `WORKER_UTILS_RETRY_*` environment variables applied.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
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
            max_attempts: read(&lookup, "WORKER_UTILS_RETRY_MAX_ATTEMPTS", d.max_attempts)?,
            base_delay: read_millis(&lookup, "WORKER_UTILS_RETRY_BASE_DELAY_MS", d.base_delay)?,
            max_delay: read_millis(&lookup, "WORKER_UTILS_RETRY_MAX_DELAY_MS", d.max_delay)?,
            jitter: read(&lookup, "WORKER_UTILS_RETRY_JITTER", d.jitter)?,
        };
        if defaults.max_attempts == 0 {
            return Err(ConfigError::new("WORKER_UTILS_RETRY_MAX_ATTEMPTS", "must be at least 1"));
        }
        if defaults.base_delay > defaults.max_delay {
            return Err(ConfigError::new(
                "WORKER_UTILS_RETRY_BASE_DELAY_MS",
                "must not be greater than WORKER_UTILS_RETRY_MAX_DELAY_MS",
            ));
        }
        Ok(defaults)
    }
}

/// Default status-server limits (the seed's `WEBSOCKET_DEFAULTS`).
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
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`WEBSOCKET_DEFAULTS`] with overrides read through `lookup`.
    ///
    /// ```
    /// use worker_utils::config::WebSocketDefaults;
    /// let vars = |name: &str| (name == "WORKER_UTILS_WS_MAX_CLIENTS").then(|| "0".to_owned());
    /// assert_eq!(WebSocketDefaults::from_lookup(vars).unwrap_err().field(), "WORKER_UTILS_WS_MAX_CLIENTS");
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = WEBSOCKET_DEFAULTS;
        let defaults = Self {
            max_clients: read(&lookup, "WORKER_UTILS_WS_MAX_CLIENTS", d.max_clients)?,
            rate_limit: read_millis(&lookup, "WORKER_UTILS_WS_RATE_LIMIT_MS", d.rate_limit)?,
        };
        if defaults.max_clients == 0 {
            return Err(ConfigError::new("WORKER_UTILS_WS_MAX_CLIENTS", "must be at least 1"));
        }
        Ok(defaults)
    }
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
