//! The Tollgate operator's public API, without a Kubernetes client: the custom resources of
//! group `tollgate.dev`, version `v1alpha1`, as Rust types, and the install manifests generated
//! from them.
//!
//! **API Boundary**: this crate never talks to a cluster. It depends on `kube` for the
//! `CustomResource` derive and kube-core's types only (no `client`, no `runtime`), so
//! `tollgate operator manifests` builds without the operator's HTTP, TLS and telemetry stack.
//! Reconcile logic, status conditions and everything else that runs in the operator live in
//! `tollgate-operator`, which re-exports [`crd`] and [`manifests`] at the same paths.
//!
//! - [`crd`]: the custom resources (the CRDs derive from them);
//! - [`manifests`]: the deploy/ manifests (CRDs, RBAC, Deployment, Service, NetworkPolicy).

pub mod crd;
pub mod manifests;
