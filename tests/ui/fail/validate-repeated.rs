use worker_utils::prelude::*;

fn positive(input: &u32) -> Result<(), &'static str> {
    if *input > 0 { Ok(()) } else { Err("zero") }
}

fn small(input: &u32) -> Result<(), &'static str> {
    if *input < 100 { Ok(()) } else { Err("too large") }
}

#[action(validate = positive, retry, validate = small)]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
