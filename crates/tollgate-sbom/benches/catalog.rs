//! Benchmarks land with the cataloguers.
fn main() {}
