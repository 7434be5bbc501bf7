use worker_utils::prelude::*;

// Neither `Classify` nor `std::error::Error`: one error, not one per missing trait.
#[derive(Debug)]
struct Oops;

#[action]
async fn step(input: u32) -> Result<u32, Oops> {
    Ok(input)
}

fn main() {}
