#[automatically_derived]
impl<E> ::worker_utils::__private::Classify for FetchError<E>
where
    Self: ::std::error::Error + ::core::marker::Send + ::core::marker::Sync + 'static,
{
    fn kind(&self) -> ::worker_utils::__private::ErrorKind {
        match self {
            Self::Timeout { .. } | Self::RateLimited { .. } => {
                ::worker_utils::__private::ErrorKind::Transient
            }
            Self::BadUrl { .. } | Self::Upstream { .. } => {
                ::worker_utils::__private::ErrorKind::Permanent
            }
        }
    }
    fn retry_after(&self) -> ::core::option::Option<::core::time::Duration> {
        match self {
            Self::RateLimited { wait: __worker_retry_after, .. } => {
                ::worker_utils::__private::RetryAfter::retry_after_hint(
                    __worker_retry_after,
                )
            }
            Self::Upstream { 1: __worker_retry_after, .. } => {
                ::worker_utils::__private::RetryAfter::retry_after_hint(
                    __worker_retry_after,
                )
            }
            Self::Timeout { .. } | Self::BadUrl { .. } => ::core::option::Option::None,
        }
    }
}
