use std::time::Duration;

/// What kind of failure an error is; decides whether retrying can help.
///
/// Four kinds, each handled its own way:
///
/// | kind | examples | retried by default |
/// |---|---|---|
/// | `Transient` | network timeout, service briefly unavailable | yes |
/// | `Permanent` | invalid input, missing dependency | no |
/// | `System` | out of memory, bad configuration, a panic | yes |
/// | `BusinessLogic` | a domain rule said no | no |
///
/// ```
/// use worker_utils::ErrorKind;
/// assert_eq!(ErrorKind::BusinessLogic.as_str(), "business_logic");
/// assert_eq!(ErrorKind::Transient.to_string(), "transient");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A failure that may go away by itself: retry.
    Transient,
    /// A failure that will happen again with the same input: do not retry.
    Permanent,
    /// A failure of the machinery (resources, configuration, a panic).
    System,
    /// A domain rule rejected the work: do not retry.
    BusinessLogic,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 4] =
        [ErrorKind::Transient, ErrorKind::Permanent, ErrorKind::System, ErrorKind::BusinessLogic];

    /// The snake_case name used in logs, metrics labels and status events.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Transient => "transient",
            ErrorKind::Permanent => "permanent",
            ErrorKind::System => "system",
            ErrorKind::BusinessLogic => "business_logic",
        }
    }

    /// A one-bit mask of this kind, for compact kind sets.
    pub(crate) const fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lets an error type say which [`ErrorKind`] each of its values is.
///
/// Every `Classify` type converts into an [`ActionError`](crate::ActionError) with `?` or
/// `.into()`. `#[derive(Classify)]` writes this impl from `#[classify(...)]` attributes on
/// the variants.
///
/// A `Classify` type is an error an `ActionError` can hold (`std::error::Error + Send +
/// Sync + 'static`), so that an action fn returning a type that is none of these gets one
/// compile error, about `Classify`, rather than one per missing trait.
///
/// ```
/// use std::time::Duration;
/// use worker_utils::{ActionError, Classify, ErrorKind};
///
/// #[derive(Debug, thiserror::Error)]
/// enum FetchError {
///     #[error("upstream busy")]
///     Busy { retry_after: Duration },
///     #[error("bad url {0}")]
///     BadUrl(String),
/// }
///
/// impl Classify for FetchError {
///     fn kind(&self) -> ErrorKind {
///         match self {
///             FetchError::Busy { .. } => ErrorKind::Transient,
///             FetchError::BadUrl(_) => ErrorKind::Permanent,
///         }
///     }
///     fn retry_after(&self) -> Option<Duration> {
///         match self {
///             FetchError::Busy { retry_after } => Some(*retry_after),
///             FetchError::BadUrl(_) => None,
///         }
///     }
/// }
///
/// let err = ActionError::from(FetchError::Busy { retry_after: Duration::from_secs(2) });
/// assert_eq!(err.kind(), ErrorKind::Transient);
/// assert_eq!(err.retry_after(), Some(Duration::from_secs(2)));
/// ```
pub trait Classify: std::error::Error + Send + Sync + 'static {
    /// The kind of this error value.
    fn kind(&self) -> ErrorKind;

    /// The earliest a retry may start, if the error says ("not sooner than X").
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

/// I/O errors: timeouts and dropped connections are transient, bad input and missing
/// files are permanent, everything else is a system error.
impl Classify for std::io::Error {
    fn kind(&self) -> ErrorKind {
        use std::io::ErrorKind as Io;
        match self.kind() {
            Io::TimedOut
            | Io::Interrupted
            | Io::WouldBlock
            | Io::ConnectionReset
            | Io::ConnectionAborted
            | Io::ConnectionRefused
            | Io::NotConnected
            | Io::BrokenPipe
            | Io::UnexpectedEof => ErrorKind::Transient,
            Io::NotFound
            | Io::PermissionDenied
            | Io::InvalidInput
            | Io::InvalidData
            | Io::AlreadyExists
            | Io::Unsupported => ErrorKind::Permanent,
            _ => ErrorKind::System,
        }
    }
}

/// A tokio timeout elapsed: transient.
impl Classify for tokio::time::error::Elapsed {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Transient
    }
}
