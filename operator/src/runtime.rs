//! The operator process: leader election, the HTTP endpoints (`/metrics`, `/healthz`,
//! `/readyz`), the controllers, logging and graceful shutdown. `main.rs` only parses flags and
//! calls into this module.
//!
//! Lifecycle of `run`:
//! 1. the HTTP server starts (`/healthz` answers from now on);
//! 2. the API server is probed until every tollgate.dev kind can be listed (CRDs installed,
//!    RBAC in place);
//! 3. leader election (a coordination.k8s.io/v1 Lease through `kube-lease-manager`) decides
//!    whether this replica runs the controllers; `/readyz` turns ready once the probe passed
//!    and the replica knows its leader state (a follower is ready too: it is a healthy standby);
//! 4. on SIGTERM/SIGINT the controllers get their shutdown signal and [`STOP_GRACE`] to finish
//!    the reconciles in flight (then they are dropped; work already handed to the blocking pool
//!    by the in-process executor is not interrupted), the Lease is released so a standby takes
//!    over at once, and the HTTP server stops.
//!
//! Losing the Lease while leading drops the controllers at once and ends `run` with
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
//!
//! `/readyz` does not look into the controllers' own watch caches (each controller owns its
//! stores); the API probe stands in for "the kinds can be watched".

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, ListParams};
use kube::{Client, Resource};
use kube_lease_manager::{LeaseCreateMode, LeaseManager, LeaseManagerBuilder, LeaseManagerError};
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::context::Context;
use crate::crd;
use crate::metrics::{self, Metrics};

/// What can end the operator process with an error.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The HTTP port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Leader election could not start or failed.
    #[error("leader election on Lease {namespace}/{name}: {source}")]
    LeaderElection {
        /// The Lease's namespace.
        namespace: String,
        /// The Lease's name.
        name: String,
        /// Why.
        source: LeaseManagerError,
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

/// How `run` runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunConfig {
    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    pub http_addr: SocketAddr,
    /// Leader election; `None` runs the controllers at once (a single replica, or tests).
    pub leader_election: Option<LeaseConfig>,
}

/// What `/readyz` reports: whether the API probe passed and whether the replica knows if it
/// leads.
#[derive(Debug, Default)]
pub struct Health {
    api_ready: AtomicBool,
    /// 0: unknown, 1: standby, 2: leader.
    leader: AtomicU8,
}

impl Health {
    /// Records that every tollgate.dev kind could be listed.
    pub fn set_api_ready(&self) {
        self.api_ready.store(true, Ordering::Release);
    }

    /// Records the current leader state (known from now on).
    pub fn set_leader(&self, leading: bool) {
        self.leader.store(if leading { 2 } else { 1 }, Ordering::Release);
    }

    /// Whether this replica currently runs the controllers.
    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Acquire) == 2
    }

    /// `Ok(role)` when ready, otherwise what is still missing.
    pub fn readiness(&self) -> Result<&'static str, &'static str> {
        if !self.api_ready.load(Ordering::Acquire) {
            return Err("the tollgate.dev kinds cannot be listed yet (CRDs installed? RBAC?)");
        }
        match self.leader.load(Ordering::Acquire) {
            0 => Err("leader election has not settled yet"),
            1 => Ok("standby"),
            _ => Ok("leader"),
        }
    }
}

type Body = Full<Bytes>;

fn text(code: StatusCode, content_type: &str, body: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = code;
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

/// Answers one request to the operator's HTTP port.
fn respond(request: &Request<Incoming>, metrics: &Metrics, health: &Health) -> Response<Body> {
    const PLAIN: &str = "text/plain; charset=utf-8";
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, PLAIN, "only GET\n".into());
    }
    match request.uri().path() {
        "/metrics" => text(StatusCode::OK, metrics::CONTENT_TYPE, metrics.render()),
        "/healthz" => text(StatusCode::OK, PLAIN, "ok\n".into()),
        "/readyz" => match health.readiness() {
            Ok(role) => text(StatusCode::OK, PLAIN, format!("ok ({role})\n")),
            Err(why) => text(StatusCode::SERVICE_UNAVAILABLE, PLAIN, format!("not ready: {why}\n")),
        },
        _ => text(StatusCode::NOT_FOUND, PLAIN, "not found\n".into()),
    }
}

/// Binds the HTTP port (separately from [`serve_http`], so bind errors surface before the
/// operator starts and tests can bind port 0).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, RuntimeError> {
    TcpListener::bind(addr).await.map_err(|source| RuntimeError::Bind { addr, source })
}

/// Serves `/metrics` (OpenMetrics text), `/healthz` (200 while the process runs) and `/readyz`
/// (200 when [`Health::readiness`] is ok, 503 with the reason otherwise) until `shutdown`
/// completes.
pub async fn serve_http(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, peer)) = accepted else { continue };
        let (metrics, health) = (metrics.clone(), health.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let response = respond(&request, &metrics, &health);
                async move { Ok::<_, Infallible>(response) }
            });
            if let Err(error) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, %error, "HTTP connection ended with an error");
            }
        });
    }
}

/// Lists one object of kind `K` in all namespaces: proves the CRD is installed and the
/// operator may list it.
async fn probe_kind<K>(client: &Client) -> Result<(), String>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    Api::<K>::all(client.clone())
        .list(&ListParams::default().limit(1))
        .await
        .map(|_| ())
        .map_err(|e| format!("{}: {e}", K::plural(&())))
}

/// Lists one object of every tollgate.dev kind in all namespaces (proves the CRDs are installed
/// and the operator may list them); `Err` names the first kind that failed.
pub async fn probe_api(client: &Client) -> Result<(), String> {
    probe_kind::<crd::parity::EnvironmentParity>(client).await?;
    probe_kind::<crd::migration::SchemaMigration>(client).await?;
    probe_kind::<crd::backup::BackupPolicy>(client).await?;
    probe_kind::<crd::backup::Backup>(client).await?;
    probe_kind::<crd::backup::Restore>(client).await
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
            .map_err(|source| RuntimeError::LeaderElection {
                namespace: config.namespace.clone(),
                name: config.name.clone(),
                source,
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
            source: LeaseManagerError::InconsistentState("the leader election task ended".into()),
        }
    }

    /// Stops competing and releases the Lease if held, so a standby can take over at once.
    pub async fn release(self) -> Result<(), RuntimeError> {
        let Self { config, state, task } = self;
        drop(state);
        let ended = task.await;
        match ended {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(source)) => Err(RuntimeError::LeaderElection {
                namespace: config.namespace,
                name: config.name,
                source,
            }),
            Err(join) => Err(RuntimeError::LeaderElection {
                namespace: config.namespace,
                name: config.name,
                source: LeaseManagerError::InconsistentState(format!(
                    "the election task panicked: {join}"
                )),
            }),
        }
    }
}

/// One controller's main future, named for logs.
pub struct ControllerTask {
    /// The controller's name.
    pub name: &'static str,
    /// Runs the controller until it is dropped.
    pub future: BoxFuture<'static, ()>,
}

/// The controllers this binary runs, wired to `ctx`; each stops gracefully (finishing the
/// reconciles in flight) once `stop` turns true. A controller module joins the operator by
/// adding its `run(ctx, shutdown)` here.
pub fn controllers(ctx: &Context, stop: &watch::Receiver<bool>) -> Vec<ControllerTask> {
    use crate::controllers::{backup, backup_policy, migration, parity, restore};
    let ctx = Arc::new(ctx.clone());
    let shutdown = || {
        let mut stop = stop.clone();
        async move { stopped(&mut stop).await }
    };
    vec![
        ControllerTask { name: "backup", future: Box::pin(backup::run(ctx.clone(), shutdown())) },
        ControllerTask {
            name: "backup-policy",
            future: Box::pin(backup_policy::run(ctx.clone(), shutdown())),
        },
        ControllerTask {
            name: "migration",
            future: Box::pin(migration::run(ctx.clone(), shutdown())),
        },
        ControllerTask { name: "parity", future: Box::pin(parity::run(ctx.clone(), shutdown())) },
        ControllerTask { name: "restore", future: Box::pin(restore::run(ctx, shutdown())) },
    ]
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
    let names: Vec<&str> = tasks.iter().map(|t| t.name).collect();
    tracing::info!(controllers = ?names, "starting controllers");
    let all = futures::future::join_all(tasks.into_iter().map(|t| {
        let name = t.name;
        async move {
            t.future.await;
            tracing::info!(controller = name, "controller stopped");
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
async fn wait_for_api(client: &Client, stop: &mut watch::Receiver<bool>) -> bool {
    let mut delay = Duration::from_millis(250);
    loop {
        match probe_api(client).await {
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
    if !wait_for_api(&ctx.client, &mut stop).await {
        return Ok(());
    }
    health.set_api_ready();
    let Some(lease) = &config.leader_election else {
        health.set_leader(true);
        run_controllers(controllers(ctx, &stop), stop.clone()).await;
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
        () = run_controllers(controllers(ctx, &stop), stop.clone()) => false,
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

/// Installs the process-wide tracing subscriber: JSON lines (`json`) or human-readable text,
/// filtered by `RUST_LOG` (default `info`).
pub fn init_logging(json: bool) {
    install_subscriber(json, None);
}

/// The path OTLP/HTTP collectors receive traces on, below the base endpoint.
pub const OTLP_TRACES_PATH: &str = "/v1/traces";

/// The OTLP traces URL for a base endpoint (as in `OTEL_EXPORTER_OTLP_ENDPOINT`):
/// `http://collector:4318` and `http://collector:4318/` both give
/// `http://collector:4318/v1/traces`.
pub fn otlp_traces_url(base: &str) -> String {
    format!("{}{OTLP_TRACES_PATH}", base.trim_end_matches('/'))
}

/// Trace export over OTLP/HTTP (protobuf bodies), installed by [`init_logging_and_traces`].
/// Spans are batched and sent from a task on the Tokio runtime; call [`OtlpTraces::shutdown`]
/// before the runtime stops so the last batch is sent.
#[derive(Debug)]
pub struct OtlpTraces {
    provider: opentelemetry_sdk::trace::SdkTracerProvider,
    url: String,
}

/// Trace export could not be set up or flushed.
#[derive(Debug, thiserror::Error)]
#[error("OTLP trace export to {url}: {message}")]
pub struct OtlpError {
    /// The traces URL.
    pub url: String,
    /// Why.
    pub message: String,
}

impl OtlpTraces {
    /// Sends the spans still buffered and stops exporting. Blocks until the exporter task has
    /// finished, so call it outside async code while the (multi-threaded) runtime still runs.
    pub fn shutdown(self) -> Result<(), OtlpError> {
        self.provider.shutdown().map_err(|e| OtlpError { url: self.url, message: e.to_string() })
    }
}

/// [`init_logging`], plus, with `otlp_endpoint` (a base URL such as `http://collector:4318`),
/// every span (for example kube-runtime's `reconciling object`, one per reconcile) exported to
/// `<endpoint>/v1/traces` as OTLP/HTTP protobuf, with `service.name` `tollgate-operator`.
/// Batching follows the standard `OTEL_BSP_*` variables. Must be called inside a Tokio
/// runtime when an endpoint is given (the batch exporter runs as a task on it).
pub fn init_logging_and_traces(
    json: bool,
    otlp_endpoint: Option<&str>,
) -> Result<Option<OtlpTraces>, OtlpError> {
    let Some(base) = otlp_endpoint else {
        install_subscriber(json, None);
        return Ok(None);
    };
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::{Protocol, WithExportConfig as _};
    let url = otlp_traces_url(base);
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url.clone())
        .build()
        .map_err(|e| OtlpError { url: url.clone(), message: e.to_string() })?;
    let processor =
        opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
            exporter,
            opentelemetry_sdk::runtime::Tokio,
        )
        .build();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(
            opentelemetry_sdk::Resource::builder_empty()
                .with_service_name("tollgate-operator")
                .build(),
        )
        .build();
    let tracer = provider.tracer("tollgate-operator");
    install_subscriber(json, Some(Box::new(tracing_opentelemetry::layer().with_tracer(tracer))));
    Ok(Some(OtlpTraces { provider, url }))
}

/// A layer of the process-wide subscriber.
type BoxedLayer = Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync>;

/// The subscriber: the log lines on stderr and the optional OTLP layer, both filtered by
/// `RUST_LOG` (default `info`).
fn install_subscriber(json: bool, traces: Option<BoxedLayer>) {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let lines: BoxedLayer = if json {
        Box::new(fmt.json().flatten_event(true).with_current_span(true))
    } else {
        Box::new(fmt)
    };
    let layers: Vec<BoxedLayer> = std::iter::once(lines).chain(traces).collect();
    // try_init: a second call (tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry().with(layers.with_filter(filter)).try_init();
}
