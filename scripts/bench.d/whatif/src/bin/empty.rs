//! The floor: a Rust program that does nothing, with std's runtime start-up.
fn main() {}
