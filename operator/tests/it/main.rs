//! The operator's integration tests, in one test binary (each file under `tests/` would be its
//! own binary linking kube, tokio and hyper — slow to build and link on small CI machines).
//!
//! - `fake_api`: the fake Kubernetes API server (`support`) pinned against a real `kube::Client`;
//! - `parity`, `migration`, `backup`: the controllers against the fake API server, a real
//!   PostgreSQL (`TOLLGATE_TEST_DATABASE_URL`) and a real S3-compatible server (moto,
//!   `TOLLGATE_TEST_S3_ENDPOINT`), both started by `cargo xtask test`;
//! - `work`: how work is run: claims as compare-and-swap, work limits and queues, error
//!   backoff, and the Job executor's worker pods (mounted work Secret, stuck/evicted/deleted pods);
//! - `runtime`: the operator process (leader election, HTTP endpoints, shutdown, the binary);
//! - `otlp`: the binary's optional OTLP trace export, received by a local collector;
//! - `cel`: the CRDs' CEL validation rules evaluated by cel-python (`TOLLGATE_PYTHON`);
//! - `manifests`: the committed `deploy/` manifests match what the code renders;
//! - `real_cluster`: end-to-end on a real cluster, only when `KUBECONFIG` is set (each test
//!   prints why it skips otherwise).
//!
//! All tests share one process and run in parallel: none may set environment variables or
//! bind fixed ports (every server listens on `127.0.0.1:0`).

/// The stateful fake Kubernetes API server shared by the tests.
mod support;

mod backup;
mod cel;
mod fake_api;
mod manifests;
mod migration;
mod otlp;
mod parity;
mod real_cluster;
mod runtime;
mod work;
