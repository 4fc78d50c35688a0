//! The Tollgate Kubernetes operator: CRDs and controllers for environment parity, schema
//! migrations and PostgreSQL backups (group `tollgate.dev`, version `v1alpha1`).
//!
//! Module map (one job each):
//! - [`crd`]: the custom resources as Rust types (CRDs derive from them); re-exported from
//!   `tollgate-operator-api`.
//! - [`backoff`]: per-object exponential backoff of failed reconciles.
//! - [`conditions`]: status conditions and their transitions (pure).
//! - [`context`]: what every reconciler gets: client, metrics, executor, clock.
//! - [`executor`]: where long work (migrations, backups, verification, restores) runs.
//! - [`metrics`]: Prometheus metrics.
//! - [`parity`]: environment snapshots and the drift between them (pure).
//! - [`probe`]: HTTP(S) health probes of environments.
//! - [`schedule`]: cron schedules with an IANA time zone (pure).
//! - [`controllers`]: one reconciler per kind.
//! - [`runtime`]: the process: leader election, HTTP endpoints, controllers, shutdown.
//! - [`manifests`]: the deploy/ manifests (CRDs, RBAC, Deployment, Service, NetworkPolicy);
//!   re-exported from `tollgate-operator-api`.

pub mod backoff;
pub mod conditions;
pub mod context;
pub mod controllers;
pub mod executor;
pub mod metrics;
pub mod parity;
pub mod probe;
pub mod runtime;
pub mod schedule;

/// The custom resources (defined in `tollgate-operator-api`, which needs no Kubernetes client).
pub use tollgate_operator_api::crd;
/// The deploy/ manifests (defined in `tollgate-operator-api`).
pub use tollgate_operator_api::manifests;
