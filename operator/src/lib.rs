//! The Tollgate Kubernetes operator: CRDs and controllers for environment parity, schema
//! migrations and PostgreSQL backups (group `tollgate.dev`, version `v1alpha1`).
//!
//! Module map (one job each):
//! - [`crd`]: the custom resources as Rust types (CRDs derive from them).
//! - [`conditions`]: status conditions and their transitions (pure).
//! - [`context`]: what every reconciler gets: client, metrics, executor, clock.
//! - [`executor`]: where long work (migrations, backups, verification, restores) runs.
//! - [`metrics`]: Prometheus metrics.
//! - [`controllers`]: one reconciler per kind.

pub mod conditions;
pub mod context;
pub mod controllers;
pub mod crd;
pub mod executor;
pub mod metrics;
