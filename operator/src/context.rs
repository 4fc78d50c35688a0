//! What every reconciler receives: the API client, metrics, the executor, a clock, the work
//! limits and the error backoff.

use std::sync::Arc;

use crate::backoff::ErrorBackoff;
use crate::executor::Executor;
use crate::executor::limits::WorkLimits;
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
    /// How many backups, restores/verifications and migrations may run at once; the rest
    /// queue (`executor::limits`).
    pub limits: Arc<WorkLimits>,
    /// Per-object delays before a failed reconcile is retried.
    pub backoff: Arc<ErrorBackoff>,
}

impl Context {
    /// A context with the default work limits ([`crate::executor::limits::Limits::default`])
    /// and error backoff (5 s doubling to 5 min).
    pub fn new(
        client: kube::Client,
        metrics: Arc<Metrics>,
        executor: Arc<dyn Executor>,
        clock: Arc<dyn Clock>,
    ) -> Context {
        let limits = Arc::new(WorkLimits::new(Default::default(), metrics.clone()));
        Context {
            client,
            metrics,
            executor,
            clock,
            limits,
            backoff: Arc::new(ErrorBackoff::default()),
        }
    }
}
