//! Signing and verification benchmarks (being written).
fn main() {}
