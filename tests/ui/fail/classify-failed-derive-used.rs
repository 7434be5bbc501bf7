use worker_utils::prelude::*;

// A variant without a kind: the derive's error is the only one, although the type is used
// as an action's error and converted into an `ActionError` below.
#[derive(Debug, thiserror::Error, Classify)]
enum FetchError {
    #[error("timed out")]
    #[classify(transient)]
    Timeout,
    #[error("not found")]
    NotFound,
}

#[action]
async fn fetch(url: String) -> Result<String, FetchError> {
    Ok(url)
}

fn main() {
    let _ = ActionError::from(FetchError::NotFound);
}
