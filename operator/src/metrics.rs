//! Prometheus metrics of the operator.

/// The operator's metrics registry.
#[derive(Debug, Default)]
pub struct Metrics {}
