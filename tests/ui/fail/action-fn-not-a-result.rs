use worker_utils::prelude::*;

async fn count(text: String) -> usize {
    text.len()
}

fn main() {
    let _ = action_fn("count", count);
}
