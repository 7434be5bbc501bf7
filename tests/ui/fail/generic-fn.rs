use worker_utils::prelude::*;

#[action(retry)]
async fn step<T: Send>(input: T) -> Result<T, ActionError> {
    Ok(input)
}

fn main() {}
