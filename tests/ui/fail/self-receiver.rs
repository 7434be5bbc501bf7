use worker_utils::prelude::*;

struct Service;

impl Service {
    #[action]
    async fn step(&self, input: u32) -> Result<u32, ActionError> {
        Ok(input)
    }
}

fn main() {}
