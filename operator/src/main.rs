//! The `tollgate-operator` binary: parses flags and wires the pieces of the library together.
//!
//! - `run`: the operator (all controllers, leader election, `/metrics`, `/healthz`, `/readyz`,
//!   JSON logs, optional OTLP traces, graceful shutdown on SIGTERM);
//! - `work --work-file PATH` (or `--json JSON`): one work item, as a Job's worker (writes the
//!   result to the termination log);
//! - `manifests --output-dir DIR`: the install manifests.

// A binary edge: it reports to the terminal.
#![allow(clippy::print_stderr)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::builder::TypedValueParser as _;
use clap::{Parser, Subcommand, ValueEnum};
use tollgate_operator::context::{Context, SystemClock};
use tollgate_operator::executor::job::{JobConfig, JobExecutor, TERMINATION_LOG};
use tollgate_operator::executor::limits::{self, Limits, WorkLimits};
use tollgate_operator::executor::{Executor, InProcessExecutor, run_work_command};
use tollgate_operator::manifests;
use tollgate_operator::metrics::Metrics;
use tollgate_operator::runtime::{self, LeaseConfig, RunConfig};

#[derive(Parser)]
#[command(name = "tollgate-operator", version, about = "The Tollgate Kubernetes operator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Json,
    Text,
}

#[derive(Clone, Copy, ValueEnum)]
enum ExecutorKind {
    /// Run work on the operator's blocking thread pool.
    InProcess,
    /// Run each work item as a Kubernetes Job with this binary's `work` subcommand.
    Job,
}

#[derive(Subcommand)]
enum Command {
    /// Run the operator.
    Run {
        /// Address of the /metrics, /healthz and /readyz endpoints (port 0: any free port, logged).
        #[arg(long, default_value = "0.0.0.0:8080")]
        http_addr: SocketAddr,
        /// Log format.
        #[arg(long, value_enum, default_value = "json")]
        log_format: LogFormat,
        /// Run the controllers without leader election (a single replica only).
        #[arg(long)]
        no_leader_election: bool,
        /// Name of the leader Lease.
        #[arg(long, default_value = "tollgate-operator")]
        lease_name: String,
        /// Namespace of the leader Lease and of work Jobs (the operator's own).
        #[arg(long, env = "POD_NAMESPACE", default_value = "tollgate-system")]
        namespace: String,
        /// This replica's identity in the election.
        #[arg(long, env = "POD_NAME")]
        identity: Option<String>,
        /// Where work runs.
        #[arg(long, value_enum, default_value = "in-process")]
        executor: ExecutorKind,
        /// The image of work Jobs (with `--executor job`).
        #[arg(long, env = "TOLLGATE_OPERATOR_IMAGE")]
        job_image: Option<String>,
        /// How long a work Job's pod may stay Pending for a reason that does not clear by
        /// itself (image pull failure, unschedulable) before the work is reported Stalled,
        /// in seconds (with `--executor job`).
        #[arg(long, env = "TOLLGATE_JOB_STALL_TIMEOUT", default_value_t = 180)]
        job_stall_timeout: u64,
        /// Most backups (pg_dump) running at once; more wait in a queue. The memory limit of
        /// the operator pod is sized for this (docs/operator.md).
        #[arg(long, env = "TOLLGATE_MAX_CONCURRENT_BACKUPS", default_value_t = limits::DEFAULT_MAX_BACKUPS,
              value_parser = clap::value_parser!(u16).range(1..).map(usize::from))]
        max_concurrent_backups: usize,
        /// Most backup verifications and restores running at once; more wait in a queue.
        #[arg(long, env = "TOLLGATE_MAX_CONCURRENT_RESTORES", default_value_t = limits::DEFAULT_MAX_RESTORES,
              value_parser = clap::value_parser!(u16).range(1..).map(usize::from))]
        max_concurrent_restores: usize,
        /// Most schema migrations running at once; more wait in a queue.
        #[arg(long, env = "TOLLGATE_MAX_CONCURRENT_MIGRATIONS", default_value_t = limits::DEFAULT_MAX_MIGRATIONS,
              value_parser = clap::value_parser!(u16).range(1..).map(usize::from))]
        max_concurrent_migrations: usize,
        /// Export tracing spans over OTLP/HTTP (protobuf) to this collector base URL (spans are
        /// POSTed to URL/v1/traces); off when unset.
        #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
        otlp_endpoint: Option<String>,
        /// Watch only this namespace (repeatable; default: the whole cluster). Nothing is then
        /// listed or watched cluster-wide: Roles in these namespaces suffice (install with
        /// `manifests --watch-namespace`).
        #[arg(long = "watch-namespace", value_name = "NS")]
        watch_namespace: Vec<String>,
    },
    /// Run one work item (the Job executor's worker).
    Work {
        /// A file holding the work item as JSON (what Jobs use: their mounted work Secret).
        #[arg(long, conflicts_with = "json", required_unless_present = "json")]
        work_file: Option<PathBuf>,
        /// The work item as JSON (visible in the process list: prefer `--work-file`).
        #[arg(long)]
        json: Option<String>,
        /// Where the result is written for the operator to read.
        #[arg(long, default_value = TERMINATION_LOG)]
        termination_log: PathBuf,
    },
    /// Write the install manifests (CRDs, RBAC, Deployment, Service, NetworkPolicy).
    Manifests {
        /// Directory to write into.
        #[arg(long)]
        output_dir: PathBuf,
        /// A namespaced install watching only these namespaces (repeatable).
        #[arg(long = "watch-namespace", value_name = "NS")]
        watch_namespace: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Work { work_file, json, termination_log } => {
            runtime::init_logging(true);
            let json = match (work_file, json) {
                (Some(path), _) => match std::fs::read_to_string(&path) {
                    Ok(json) => json,
                    Err(e) => {
                        eprintln!("error: reading the work file {}: {e}", path.display());
                        return ExitCode::from(2);
                    }
                },
                (None, Some(json)) => json,
                (None, None) => {
                    eprintln!("error: give --work-file PATH or --json WORK");
                    return ExitCode::from(2);
                }
            };
            let code = run_work_command(&json, &termination_log);
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
        Command::Manifests { output_dir, watch_namespace } => {
            match manifests::Options::namespaced(&watch_namespace)
                .and_then(|options| manifests::write_with(&output_dir, &options))
            {
                Ok(paths) => {
                    for path in paths {
                        eprintln!("wrote {}", path.display());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Run {
            http_addr,
            log_format,
            no_leader_election,
            lease_name,
            namespace,
            identity,
            executor,
            job_image,
            job_stall_timeout,
            max_concurrent_backups,
            max_concurrent_restores,
            max_concurrent_migrations,
            otlp_endpoint,
            watch_namespace,
        } => {
            let watch_namespaces = match manifests::Options::namespaced(&watch_namespace) {
                Ok(options) => options.watch_namespaces,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let rt = match tokio::runtime::Runtime::new() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: starting the async runtime: {e}");
                    return ExitCode::from(1);
                }
            };
            // The OTLP exporter's batch task runs on this runtime.
            let _entered = rt.enter();
            let json = matches!(log_format, LogFormat::Json);
            let traces = match runtime::init_logging_and_traces(json, otlp_endpoint.as_deref()) {
                Ok(traces) => traces,
                Err(e) => {
                    eprintln!("error: --otlp-endpoint: {e}");
                    return ExitCode::from(2);
                }
            };
            let options = RunOptions {
                http_addr,
                no_leader_election,
                lease_name,
                namespace,
                identity,
                executor,
                job_image,
                job_stall_timeout: std::time::Duration::from_secs(job_stall_timeout),
                limits: Limits {
                    backups: max_concurrent_backups,
                    restore_verify: max_concurrent_restores,
                    migrations: max_concurrent_migrations,
                },
                watch_namespaces,
            };
            let code = match rt.block_on(run(options)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "the operator stopped");
                    ExitCode::from(1)
                }
            };
            // Outside `block_on`: shutting down waits for the exporter task, which runs on
            // the runtime's worker threads.
            if let Some(traces) = traces
                && let Err(e) = traces.shutdown()
            {
                tracing::warn!(error = %e, "the last spans were not exported");
            }
            code
        }
    }
}

struct RunOptions {
    http_addr: SocketAddr,
    no_leader_election: bool,
    lease_name: String,
    namespace: String,
    identity: Option<String>,
    executor: ExecutorKind,
    job_image: Option<String>,
    job_stall_timeout: std::time::Duration,
    limits: Limits,
    watch_namespaces: Vec<String>,
}

async fn run(o: RunOptions) -> anyhow::Result<()> {
    let client = kube::Client::try_default().await.context("connecting to the Kubernetes API")?;
    let executor: Arc<dyn Executor> = match o.executor {
        ExecutorKind::InProcess => Arc::new(InProcessExecutor),
        ExecutorKind::Job => {
            let image = o
                .job_image
                .context("--executor job needs --job-image (or TOLLGATE_OPERATOR_IMAGE)")?;
            let mut config = JobConfig::new(&o.namespace, image);
            config.stall_timeout = o.job_stall_timeout;
            Arc::new(JobExecutor::new(client.clone(), config))
        }
    };
    let metrics = Arc::new(Metrics::new());
    let mut ctx = Context::new(client, metrics.clone(), executor, Arc::new(SystemClock));
    ctx.limits = Arc::new(WorkLimits::new(o.limits, metrics));
    tracing::info!(
        backups = o.limits.backups,
        restores = o.limits.restore_verify,
        migrations = o.limits.migrations,
        "work limits"
    );
    let identity = o.identity.unwrap_or_else(|| {
        std::env::var("HOSTNAME")
            .unwrap_or_else(|_| format!("tollgate-operator-{}", std::process::id()))
    });
    let leader_election = (!o.no_leader_election)
        .then(|| LeaseConfig { name: o.lease_name, ..LeaseConfig::new(&o.namespace, identity) });
    let listener = runtime::bind(o.http_addr).await?;
    // The bound address (an ephemeral port when `--http-addr` ends in `:0`), for whoever
    // started the process: tests read it from this log line.
    let http_addr = listener.local_addr().context("reading the HTTP listener's address")?;
    tracing::info!(%http_addr, "serving /metrics, /healthz and /readyz");
    let shutdown = async {
        if let Err(e) = runtime::shutdown_signal().await {
            tracing::error!(error = %e, "no signal handler; stopping");
        }
    };
    tracing::info!(
        namespaces = ?o.watch_namespaces,
        "watching {}",
        if o.watch_namespaces.is_empty() { "the whole cluster" } else { "only these namespaces" }
    );
    let config = RunConfig { http_addr, leader_election, watch_namespaces: o.watch_namespaces };
    runtime::run(ctx, config, listener, shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}
