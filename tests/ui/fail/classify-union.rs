use worker_utils::prelude::*;

#[derive(Classify)]
#[classify(system)]
union Bits {
    a: u32,
    b: f32,
}

fn main() {}
