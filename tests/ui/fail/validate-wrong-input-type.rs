use worker_utils::prelude::*;

fn not_empty(input: &String) -> Result<(), &'static str> {
    if input.is_empty() { Err("empty") } else { Ok(()) }
}

#[action(validate = not_empty)]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
