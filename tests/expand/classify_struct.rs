#[automatically_derived]
impl ::worker_utils::__private::Classify for Overloaded {
    fn kind(&self) -> ::worker_utils::__private::ErrorKind {
        ::worker_utils::__private::ErrorKind::System
    }
    fn retry_after(&self) -> ::core::option::Option<::core::time::Duration> {
        ::worker_utils::__private::RetryAfter::retry_after_hint(&self.0)
    }
}
