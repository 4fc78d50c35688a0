//! The operator process: wires the HTTP endpoints, the API probe, leader election and the
//! controllers together, and stops them gracefully. `main.rs` only parses flags and calls into
//! this module.
//!
//! Promises: while leader election is on, controllers run only in the replica that holds the
//! Lease, and a replica that loses it ends [`run`] with [`RuntimeError::LostLeadership`] (the
//! process exits and restarts as a standby); a shutdown signal stops the controllers within
//! [`STOP_GRACE`] and releases the Lease.
//!
//! Lifecycle of [`run`]:
//! 1. the HTTP server starts (`/healthz` answers from now on);
//! 2. the API server is probed until every tollgate.dev kind can be listed (CRDs installed,
//!    RBAC in place);
//! 3. leader election ([`leader`]) decides whether this replica runs the controllers; `/readyz`
//!    turns ready once the probe passed and the replica knows its leader state (a follower is
//!    ready too: it is a healthy standby);
//! 4. on SIGTERM/SIGINT the controllers get their shutdown signal and [`STOP_GRACE`] to finish
//!    the reconciles in flight (then they are dropped; work already handed to the blocking pool
//!    by the in-process executor is not interrupted), the Lease is released so a standby takes
//!    over at once, and the HTTP server stops.
//!
//! `/readyz` does not look into the controllers' own watch caches (each controller owns its
//! stores); the API probe stands in for "the kinds can be watched".
//!
//! Submodules, one job each (their items are re-exported here):
//! - [`http`]: `/metrics`, `/healthz`, `/readyz` and the readiness state they report;
//! - [`leader`]: leader election on a Lease, and the renew deadline that steps a leader down;
//! - [`telemetry`]: the process-wide log subscriber and the optional OTLP trace export.

pub mod http;
pub mod leader;
pub mod telemetry;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use kube::api::ListParams;
use kube::{Client, Resource};
use kube_lease_manager::LeaseManagerError;
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::context::{Context, Scope};
use crate::crd;

pub use http::{Health, bind, serve_http};
pub use leader::{LeaderElection, LeaseConfig, lease_deadline};
pub use telemetry::{
    OTLP_TRACES_PATH, OtlpError, OtlpTraces, init_logging, init_logging_and_traces, otlp_traces_url,
};

/// What can end the operator process with an error.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The HTTP port could not be bound.
    #[error("cannot listen on {addr}: {cause}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why (in the message, not also the source).
        cause: std::io::Error,
    },
    /// Leader election could not start or failed.
    #[error("leader election on Lease {namespace}/{name}: {cause}")]
    LeaderElection {
        /// The Lease's namespace.
        namespace: String,
        /// The Lease's name.
        name: String,
        /// Why (in the message, not also the source).
        cause: LeaseManagerError,
    },
    /// This replica was leading and lost the Lease; it must restart as a standby.
    #[error(
        "lost the leader Lease {namespace}/{name}; exiting so that only one replica reconciles"
    )]
    LostLeadership {
        /// The Lease's namespace.
        namespace: String,
        /// The Lease's name.
        name: String,
    },
    /// Installing the signal handlers failed.
    #[error("cannot install the SIGTERM handler: {0}")]
    Signal(std::io::Error),
}

/// How `run` runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunConfig {
    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    pub http_addr: SocketAddr,
    /// Leader election; `None` runs the controllers at once (a single replica, or tests).
    pub leader_election: Option<LeaseConfig>,
    /// The namespaces watched (`--watch-namespace`); empty: the whole cluster. With
    /// namespaces, each runs its own set of controllers and nothing is listed or watched
    /// cluster-wide, so Roles in those namespaces suffice.
    pub watch_namespaces: Vec<String>,
}

/// Lists one object of kind `K` in `scope`: proves the CRD is installed and the operator may
/// list it there.
async fn probe_kind<K>(client: &Client, scope: &Scope) -> Result<(), String>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    scope
        .api::<K>(client)
        .list(&ListParams::default().limit(1))
        .await
        .map(|_| ())
        .map_err(|e| format!("{} in {}: {e}", K::plural(&()), scope.label()))
}

/// Lists one object of every tollgate.dev kind in every scope (proves the CRDs are installed
/// and the operator may list them where it watches); `Err` names the first kind that failed.
pub async fn probe_api(client: &Client, scopes: &[Scope]) -> Result<(), String> {
    for scope in scopes {
        probe_kind::<crd::parity::EnvironmentParity>(client, scope).await?;
        probe_kind::<crd::migration::SchemaMigration>(client, scope).await?;
        probe_kind::<crd::backup::BackupPolicy>(client, scope).await?;
        probe_kind::<crd::backup::Backup>(client, scope).await?;
        probe_kind::<crd::backup::Restore>(client, scope).await?;
    }
    Ok(())
}

/// One controller's main future, named for logs.
pub struct ControllerTask {
    /// The controller's name.
    pub name: &'static str,
    /// Where it watches ([`Scope::label`]).
    pub scope: String,
    /// Runs the controller until it is dropped.
    pub future: BoxFuture<'static, ()>,
}

/// The controllers this binary runs, wired to `ctx`: one set per scope (the whole cluster, or
/// each watched namespace); each stops gracefully (finishing the reconciles in flight) once
/// `stop` turns true. A controller module joins the operator by adding its `run(ctx, shutdown)`
/// here.
pub fn controllers(
    ctx: &Context,
    scopes: &[Scope],
    stop: &watch::Receiver<bool>,
) -> Vec<ControllerTask> {
    use crate::controllers::{backup, backup_policy, migration, parity, restore};
    let shutdown = || {
        let mut stop = stop.clone();
        async move { stopped(&mut stop).await }
    };
    let mut tasks = Vec::new();
    for scope in scopes {
        let ctx = Arc::new(ctx.scoped(scope.clone()));
        let task = |name, future: BoxFuture<'static, ()>| ControllerTask {
            name,
            scope: scope.label().to_owned(),
            future,
        };
        tasks.extend([
            task("backup", Box::pin(backup::run(ctx.clone(), shutdown()))),
            task("backup-policy", Box::pin(backup_policy::run(ctx.clone(), shutdown()))),
            task("migration", Box::pin(migration::run(ctx.clone(), shutdown()))),
            task("parity", Box::pin(parity::run(ctx.clone(), shutdown()))),
            task("restore", Box::pin(restore::run(ctx, shutdown()))),
        ]);
    }
    tasks
}

/// How long stopping controllers may take to finish their reconciles in flight before they are
/// dropped (below the Deployment's 30 s termination grace period, leaving time to release the
/// Lease).
pub const STOP_GRACE: Duration = Duration::from_secs(20);

/// Runs the controllers until `stop` turns true, then gives them [`STOP_GRACE`] to finish
/// (they were handed the same signal) before dropping them. A controller that ends early is
/// logged (it is a bug: controllers run until stopped) and the others keep running; leadership
/// is kept until `stop`, so a standby does not start a second copy meanwhile.
async fn run_controllers(tasks: Vec<ControllerTask>, mut stop: watch::Receiver<bool>) {
    let names: Vec<String> = tasks.iter().map(|t| format!("{}@{}", t.name, t.scope)).collect();
    tracing::info!(controllers = ?names, "starting controllers");
    let all = futures::future::join_all(tasks.into_iter().map(|t| {
        let (name, scope) = (t.name, t.scope);
        async move {
            t.future.await;
            tracing::info!(controller = name, %scope, "controller stopped");
        }
    }));
    tokio::pin!(all);
    tokio::select! {
        _ = &mut all => {
            tracing::error!("every controller ended before shutdown");
            stopped(&mut stop).await;
            return;
        }
        () = stopped(&mut stop) => {}
    }
    tracing::info!("stopping controllers");
    if tokio::time::timeout(STOP_GRACE, all).await.is_err() {
        tracing::warn!(grace = ?STOP_GRACE, "controllers did not stop in time; dropping them");
    }
}

/// Resolves on SIGTERM (what Kubernetes sends) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() -> Result<(), RuntimeError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).map_err(RuntimeError::Signal)?;
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.map_err(RuntimeError::Signal)?;
    }
    Ok(())
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}

/// Waits until the API answers lists of every tollgate.dev kind (backing off up to 30 s
/// between tries), or until `stop` fires.
async fn wait_for_api(client: &Client, scopes: &[Scope], stop: &mut watch::Receiver<bool>) -> bool {
    let mut delay = Duration::from_millis(250);
    loop {
        match probe_api(client, scopes).await {
            Ok(()) => return true,
            Err(why) => tracing::warn!(%why, "API probe failed; retrying"),
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stopped(stop) => return false,
        }
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}

/// The whole operator: HTTP endpoints, API probe, leader election, controllers, until
/// `shutdown` completes (then a graceful stop) or leadership is lost (an error).
pub async fn run(
    ctx: Context,
    config: RunConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RuntimeError> {
    let health = Arc::new(Health::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let http_stop = {
        let mut rx = stop_rx.clone();
        async move {
            stopped(&mut rx).await;
        }
    };
    let http = tokio::spawn(serve_http(listener, ctx.metrics.clone(), health.clone(), http_stop));
    let signal = tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });

    let result = lead_and_run(&ctx, &config, &health, stop_rx).await;

    signal.abort();
    http.abort();
    let _ = http.await;
    result
}

async fn lead_and_run(
    ctx: &Context,
    config: &RunConfig,
    health: &Health,
    mut stop: watch::Receiver<bool>,
) -> Result<(), RuntimeError> {
    let scopes = Scope::for_namespaces(&config.watch_namespaces);
    if !wait_for_api(&ctx.client, &scopes, &mut stop).await {
        return Ok(());
    }
    health.set_api_ready();
    let Some(lease) = &config.leader_election else {
        health.set_leader(true);
        run_controllers(controllers(ctx, &scopes, &stop), stop.clone()).await;
        return Ok(());
    };

    let mut election = LeaderElection::start(ctx.client.clone(), lease.clone()).await?;
    health.set_leader(election.is_leader());
    tracing::info!(lease = %lease.name, identity = %lease.identity, "waiting to lead");
    tokio::select! {
        acquired = election.acquired() => acquired?,
        () = stopped(&mut stop) => {
            tracing::info!("shutting down as a standby");
            return election.release().await;
        }
    }
    health.set_leader(true);
    tracing::info!(lease = %lease.name, identity = %lease.identity, "leading");

    let lost = tokio::select! {
        () = run_controllers(controllers(ctx, &scopes, &stop), stop.clone()) => false,
        _ = election.lost() => true,
        why = lease_deadline(&ctx.client, lease) => {
            tracing::error!(lease = %lease.name, %why, "stepping down");
            true
        }
    };
    health.set_leader(false);
    if lost {
        return Err(RuntimeError::LostLeadership {
            namespace: lease.namespace.clone(),
            name: lease.name.clone(),
        });
    }
    tracing::info!("releasing the leader Lease");
    election.release().await
}
