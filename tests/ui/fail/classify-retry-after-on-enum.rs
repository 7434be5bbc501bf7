use worker_utils::prelude::*;

#[derive(Debug, thiserror::Error, Classify)]
#[classify(transient, retry_after = delay)]
enum FetchError {
    #[error("busy")]
    Busy { delay: std::time::Duration },
}

fn main() {}
