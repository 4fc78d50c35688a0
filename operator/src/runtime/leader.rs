//! Leader election: which replica runs the controllers.
//!
//! Promises: [`LeaderElection`] reports whether this replica holds the operator's
//! coordination.k8s.io/v1 Lease (competed for through `kube-lease-manager`), and
//! [`lease_deadline`] returns before any standby may take the Lease once this replica can no
//! longer confirm it holds it.
//!
//! Losing the Lease while leading makes [`super::run`] drop the controllers at once and end with
//! [`RuntimeError::LostLeadership`]: the process exits and Kubernetes restarts it as a standby,
//! so two replicas do not knowingly reconcile at the same time. (Leases bound that window, they
//! do not close it: a paused leader can act for up to a lease duration after losing.)
//!
//! kube-lease-manager reports a loss only when it can read the Lease, so a leader cut off from
//! the API server would keep reconciling after its Lease expired and a standby took over. A
//! renew deadline closes that gap ([`lease_deadline`]): the leader re-reads the Lease every
//! third of `grace`, and steps down (the same `LostLeadership`) when the Lease names someone else
//! or less than a third of `grace` is left before the last expiry it could confirm — before any
//! standby may take the Lease.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::Client;
use kube::api::Api;
use kube_lease_manager::{LeaseCreateMode, LeaseManager, LeaseManagerBuilder, LeaseManagerError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::RuntimeError;

/// Leader election settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseConfig {
    /// Lease name (one per operator installation).
    pub name: String,
    /// Lease namespace (the operator's own).
    pub namespace: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    /// How long a Lease is valid without renewal, in seconds.
    pub duration_secs: u64,
    /// How long before expiry the holder renews it, in seconds.
    pub grace_secs: u64,
}

impl LeaseConfig {
    /// Defaults for `namespace`/`identity`: Lease `tollgate-operator`, 15 s duration, 5 s grace
    /// (a standby takes over at most ~15 s after a leader dies without releasing).
    pub fn new(namespace: impl Into<String>, identity: impl Into<String>) -> Self {
        Self {
            name: "tollgate-operator".into(),
            namespace: namespace.into(),
            identity: identity.into(),
            duration_secs: 15,
            grace_secs: 5,
        }
    }
}

/// A running leader election on one Lease.
pub struct LeaderElection {
    config: LeaseConfig,
    state: watch::Receiver<bool>,
    task: JoinHandle<Result<LeaseManager, LeaseManagerError>>,
}

impl LeaderElection {
    /// Ensures the Lease exists and starts competing for it in the background.
    pub async fn start(client: Client, config: LeaseConfig) -> Result<Self, RuntimeError> {
        let manager = LeaseManagerBuilder::new(client, &config.name)
            .with_namespace(&config.namespace)
            .with_identity(&config.identity)
            .with_field_manager(format!("tollgate-operator-lease-{}", config.identity))
            .with_duration(config.duration_secs)
            .with_grace(config.grace_secs)
            .with_create_mode(LeaseCreateMode::AutoCreate)
            .build()
            .await
            .map_err(|cause| RuntimeError::LeaderElection {
                namespace: config.namespace.clone(),
                name: config.name.clone(),
                cause,
            })?;
        let (state, task) = manager.watch().await;
        Ok(Self { config, state, task })
    }

    /// Whether this replica holds the Lease now.
    pub fn is_leader(&self) -> bool {
        *self.state.borrow()
    }

    /// Waits until this replica holds the Lease.
    pub async fn acquired(&mut self) -> Result<(), RuntimeError> {
        self.wait_for(true).await
    }

    /// Waits until this replica no longer holds the Lease. Any state change seen while leading
    /// counts: the election only reports changes, so a loss followed at once by a re-acquisition
    /// (both sent before this task ran) is still a loss — the controllers must restart from a
    /// clean state rather than assume nobody else reconciled meanwhile.
    pub async fn lost(&mut self) -> Result<(), RuntimeError> {
        if !*self.state.borrow_and_update() {
            return Ok(());
        }
        if self.state.changed().await.is_ok() {
            return Ok(());
        }
        Err(self.task_ended())
    }

    async fn wait_for(&mut self, leading: bool) -> Result<(), RuntimeError> {
        let settled = self.state.wait_for(|v| *v == leading).await.map(|_| ()).is_ok();
        if settled {
            return Ok(());
        }
        Err(self.task_ended())
    }

    fn task_ended(&self) -> RuntimeError {
        RuntimeError::LeaderElection {
            namespace: self.config.namespace.clone(),
            name: self.config.name.clone(),
            cause: LeaseManagerError::InconsistentState("the leader election task ended".into()),
        }
    }

    /// Stops competing and releases the Lease if held, so a standby can take over at once.
    pub async fn release(self) -> Result<(), RuntimeError> {
        let Self { config, state, task } = self;
        drop(state);
        let ended = task.await;
        match ended {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(cause)) => Err(RuntimeError::LeaderElection {
                namespace: config.namespace,
                name: config.name,
                cause,
            }),
            Err(join) => Err(RuntimeError::LeaderElection {
                namespace: config.namespace,
                name: config.name,
                cause: LeaseManagerError::InconsistentState(format!(
                    "the election task panicked: {join}"
                )),
            }),
        }
    }
}

/// Returns (why) once this replica can no longer be sure it holds the Lease: the Lease names
/// another holder or none, or the last expiry confirmed by reading it (`renewTime +
/// leaseDurationSeconds`, written by this replica's own clock) is less than a third of `grace`
/// away — because renewals stopped, or because the API server cannot be reached. Reads every
/// third of `grace`; a failed read only counts against the deadline.
pub async fn lease_deadline(client: &Client, config: &LeaseConfig) -> String {
    let api: Api<Lease> = Api::namespaced(client.clone(), &config.namespace);
    let step = Duration::from_millis((config.grace_secs * 1000 / 3).max(100));
    let margin = jiff::SignedDuration::try_from(step).unwrap_or(jiff::SignedDuration::ZERO);
    // Acquired just now: valid for a lease duration, minus the renewal grace to be safe.
    let mut expiry = jiff::Timestamp::now()
        + jiff::SignedDuration::from_secs(
            i64::try_from(config.duration_secs.saturating_sub(config.grace_secs)).unwrap_or(0),
        );
    loop {
        // A read may hang (a half-open connection): it gets one step, like a failed one.
        let read = match tokio::time::timeout(step, api.get_opt(&config.name)).await {
            Err(_) => format!("reading the Lease took over {step:?}"),
            Ok(Err(e)) => format!("cannot read the Lease: {e}"),
            Ok(Ok(lease)) => {
                let spec = lease.and_then(|l| l.spec).unwrap_or_default();
                if spec.holder_identity.as_deref() != Some(config.identity.as_str()) {
                    return format!(
                        "the Lease names {} as its holder",
                        spec.holder_identity.as_deref().unwrap_or("nobody")
                    );
                }
                if let (Some(renewed), Some(secs)) = (spec.renew_time, spec.lease_duration_seconds)
                {
                    expiry = renewed.0 + jiff::SignedDuration::from_secs(i64::from(secs));
                }
                String::from("the Lease was not renewed")
            }
        };
        if jiff::Timestamp::now() + margin >= expiry {
            return format!(
                "the Lease could not be confirmed before it expires at {expiry} ({read})"
            );
        }
        tokio::time::sleep(step).await;
    }
}
