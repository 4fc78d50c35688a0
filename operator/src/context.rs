//! What every reconciler receives: the API client, metrics, the executor and a clock.

use std::sync::Arc;

use crate::executor::Executor;
use crate::metrics::Metrics;

/// Now, as seen by the controllers. Tests substitute a clock they can advance.
pub trait Clock: Send + Sync {
    /// The current time (UTC).
    fn now(&self) -> jiff::Timestamp;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
}

/// Shared by every reconcile of every controller.
#[derive(Clone)]
pub struct Context {
    /// The Kubernetes API client.
    pub client: kube::Client,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Where migrations, backups, verifications and restores run.
    pub executor: Arc<dyn Executor>,
    /// The time source (the wall clock in production).
    pub clock: Arc<dyn Clock>,
}
