//! npm ecosystem lockfiles: package-lock.json (v2/v3), pnpm-lock.yaml, yarn.lock.

pub mod package_lock;
pub mod pnpm;
pub mod yarn;
