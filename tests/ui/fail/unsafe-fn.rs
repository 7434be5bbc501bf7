use worker_utils::prelude::*;

#[action()]
async unsafe fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
