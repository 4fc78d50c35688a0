//! npm ecosystem lockfiles: package-lock.json (v2/v3), pnpm-lock.yaml, yarn.lock.

mod common;
pub mod package_lock;
pub mod pnpm;
#[cfg(test)]
pub(crate) mod test_support;
pub mod yarn;
mod yarn_v1;
