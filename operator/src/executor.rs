//! Where long work runs: in-process (the default) or as a Kubernetes Job running the same
//! binary. Both produce the same outcome, so the controllers do not care which.

/// Runs work items for the controllers.
pub trait Executor: Send + Sync {}
