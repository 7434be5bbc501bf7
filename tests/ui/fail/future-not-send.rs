use worker_utils::prelude::*;

use std::rc::Rc;

#[action]
async fn step(input: u32) -> Result<u32, ActionError> {
    let shared = Rc::new(input);
    tokio::task::yield_now().await;
    Ok(*shared)
}

fn main() {}
