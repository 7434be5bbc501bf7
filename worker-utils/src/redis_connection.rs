//! Connecting to Redis (feature `redis`), for the queue backend and the status transport:
//! the URL check, the version check, and the two kinds of connection (commands with a
//! response timeout, blocking reads without one).

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Client};

/// Redis 6.2 brought `RPOP key count`, which a batch reserve needs.
const MIN_VERSION: (u32, u32) = (6, 2);
/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a command may take before it fails (blocking waits have their own connection).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connecting to Redis failed. Every variant names the URL, with its password hidden.
///
/// ```
/// use worker_utils::queue::{ConnectError, RedisQueue};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let err = RedisQueue::<u32>::builder("q").url("http://:secret@example").connect().await.unwrap_err();
/// assert!(matches!(err, ConnectError::InvalidUrl { .. }));
/// assert!(!err.to_string().contains("secret"));
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// A builder setting is out of range.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The URL does not parse as a Redis URL.
    #[error("`{url}` is not a valid Redis URL (expected redis://[user:password@]host[:port][/db])")]
    InvalidUrl {
        /// The URL, password hidden.
        url: String,
        /// Why it did not parse.
        #[source]
        source: redis::RedisError,
    },
    /// No Redis answered at that address, or it refused the connection (wrong password…).
    #[error("cannot connect to Redis at `{url}`")]
    Unreachable {
        /// The URL, password hidden.
        url: String,
        /// What the connection attempt said.
        #[source]
        source: redis::RedisError,
    },
    /// The server is older than this backend needs.
    #[error("Redis at `{url}` is version {version}; worker-utils needs 6.2 or later")]
    TooOld {
        /// The URL, password hidden.
        url: String,
        /// The version the server reported.
        version: String,
    },
}

/// `url` with its password replaced by `***`, for messages and logs.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or("", |(user, _)| user);
            if userinfo.contains(':') {
                format!("{scheme}://{user}:***@{host}")
            } else {
                format!("{scheme}://***@{host}")
            }
        }
        None => url.to_owned(),
    }
}

/// A checked client and its command connection.
pub(crate) struct Connected {
    pub(crate) client: Client,
    pub(crate) commands: ConnectionManager,
    pub(crate) url: String,
}

/// Opens `url`, checks that the server answers and is recent enough.
pub(crate) async fn connect(url: &str) -> Result<Connected, ConnectError> {
    let shown = redact(url);
    let client =
        Client::open(url).map_err(|source| ConnectError::InvalidUrl { url: shown.clone(), source })?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(CONNECT_TIMEOUT)
        .set_response_timeout(RESPONSE_TIMEOUT)
        .set_number_of_retries(2)
        .set_max_delay(1000);
    let unreachable = |source| ConnectError::Unreachable { url: shown.clone(), source };
    let mut commands =
        ConnectionManager::new_with_config(client.clone(), config).await.map_err(unreachable)?;
    let info: String =
        redis::cmd("INFO").arg("server").query_async(&mut commands).await.map_err(unreachable)?;
    let version = info
        .lines()
        .find_map(|line| line.strip_prefix("redis_version:"))
        .unwrap_or("unknown")
        .trim()
        .to_owned();
    if !recent_enough(&version) {
        return Err(ConnectError::TooOld { url: shown, version });
    }
    Ok(Connected { client, commands, url: shown })
}

/// A connection for blocking waits: no response timeout, since a wait is meant to block.
pub(crate) async fn blocking(client: &Client) -> redis::RedisResult<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new().set_connection_timeout(CONNECT_TIMEOUT);
    client.get_multiplexed_async_connection_with_config(&config).await
}

fn recent_enough(version: &str) -> bool {
    let mut parts = version.split('.').map(|part| part.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= MIN_VERSION,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(redact("redis://:hunter2@db:6379/0"), "redis://:***@db:6379/0");
        assert_eq!(redact("redis://app:hunter2@db"), "redis://app:***@db");
        assert_eq!(redact("rediss://token@db"), "rediss://***@db");
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }

    #[test]
    fn versions_from_6_2_are_recent_enough() {
        assert!(recent_enough("7.0.15"));
        assert!(recent_enough("6.2.0"));
        assert!(!recent_enough("6.0.16"));
        assert!(!recent_enough("5.0.7"));
        assert!(!recent_enough("unknown"));
    }
}
