use worker_utils::prelude::*;

async fn positive(input: &u32) -> Result<(), &'static str> {
    if *input > 0 { Ok(()) } else { Err("zero") }
}

#[action(validate = positive)]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
