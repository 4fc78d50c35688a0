//! The `tollgate-operator` binary: parses flags and wires the pieces of the library together.
//!
//! - `run`: the operator (all controllers, leader election, `/metrics`, `/healthz`, `/readyz`,
//!   JSON logs, graceful shutdown on SIGTERM);
//! - `work --json JSON`: one work item, as a Job's worker (writes the result to the termination
//!   log);
//! - `manifests --output-dir DIR`: the install manifests.

// A binary edge: it reports to the terminal.
#![allow(clippy::print_stderr)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use tollgate_operator::context::{Context, SystemClock};
use tollgate_operator::executor::job::{JobConfig, JobExecutor, TERMINATION_LOG, WORK_ENV};
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
        /// Address of the /metrics, /healthz and /readyz endpoints.
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
    },
    /// Run one work item (the Job executor's worker).
    Work {
        /// The work item as JSON (default: the TOLLGATE_WORK environment variable).
        #[arg(long, env = WORK_ENV)]
        json: String,
        /// Where the result is written for the operator to read.
        #[arg(long, default_value = TERMINATION_LOG)]
        termination_log: PathBuf,
    },
    /// Write the install manifests (CRDs, RBAC, Deployment, Service, NetworkPolicy).
    Manifests {
        /// Directory to write into.
        #[arg(long)]
        output_dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Work { json, termination_log } => {
            runtime::init_logging(true);
            let code = run_work_command(&json, &termination_log);
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
        Command::Manifests { output_dir } => match manifests::write(&output_dir) {
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
        },
        Command::Run {
            http_addr,
            log_format,
            no_leader_election,
            lease_name,
            namespace,
            identity,
            executor,
            job_image,
        } => {
            runtime::init_logging(matches!(log_format, LogFormat::Json));
            let options = RunOptions {
                http_addr,
                no_leader_election,
                lease_name,
                namespace,
                identity,
                executor,
                job_image,
            };
            match tokio::runtime::Runtime::new()
                .context("starting the async runtime")
                .and_then(|rt| rt.block_on(run(options)))
            {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "the operator stopped");
                    ExitCode::from(1)
                }
            }
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
}

async fn run(o: RunOptions) -> anyhow::Result<()> {
    let client = kube::Client::try_default().await.context("connecting to the Kubernetes API")?;
    let executor: Arc<dyn Executor> = match o.executor {
        ExecutorKind::InProcess => Arc::new(InProcessExecutor),
        ExecutorKind::Job => {
            let image = o
                .job_image
                .context("--executor job needs --job-image (or TOLLGATE_OPERATOR_IMAGE)")?;
            Arc::new(JobExecutor::new(client.clone(), JobConfig::new(&o.namespace, image)))
        }
    };
    let ctx = Context {
        client,
        metrics: Arc::new(Metrics::new()),
        executor,
        clock: Arc::new(SystemClock),
    };
    let identity = o.identity.unwrap_or_else(|| {
        std::env::var("HOSTNAME")
            .unwrap_or_else(|_| format!("tollgate-operator-{}", std::process::id()))
    });
    let leader_election = (!o.no_leader_election)
        .then(|| LeaseConfig { name: o.lease_name, ..LeaseConfig::new(&o.namespace, identity) });
    let listener = runtime::bind(o.http_addr).await?;
    let shutdown = async {
        if let Err(e) = runtime::shutdown_signal().await {
            tracing::error!(error = %e, "no signal handler; stopping");
        }
    };
    runtime::run(ctx, RunConfig { http_addr: o.http_addr, leader_election }, listener, shutdown)
        .await?;
    tracing::info!("stopped");
    Ok(())
}
