//! `tollgate contracts verify-pacts` and `tollgate contracts can-i-deploy` (cargo feature
//! `pact`, on by default). Without the feature both exit 2 saying so.

use crate::cli::{ReportArgs, SeverityArg};
use clap::Args;
use std::path::PathBuf;
use tollgate_core::Verdict;

/// Default `--results-dir`.
pub const DEFAULT_RESULTS_DIR: &str = "target/tollgate/pact-results";

/// `tollgate contracts verify-pacts --provider-url URL PACT_DIR`.
#[derive(Debug, Args)]
pub struct VerifyPactsArgs {
    /// Base URL of the running provider (`http://localhost:8080`).
    #[arg(long, value_name = "URL")]
    pub provider_url: String,
    /// Directory holding the pact files (`*.json`, Pact specification V2–V4).
    #[arg(value_name = "PACT_DIR")]
    pub pact_dir: PathBuf,
    /// Only pacts for this provider (default: the provider named by the first pact).
    #[arg(long, value_name = "NAME")]
    pub provider: Option<String>,
    /// Provider version to record the results under (nothing is recorded without it).
    #[arg(long, value_name = "V")]
    pub provider_version: Option<String>,
    /// Where results are recorded.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_RESULTS_DIR)]
    pub results_dir: PathBuf,
    /// Findings at or above this severity fail the gate.
    #[arg(long, value_enum, default_value_t = SeverityArg::Error)]
    pub fail_on: SeverityArg,
    /// Report options.
    #[command(flatten)]
    pub report: ReportArgs,
}

/// `tollgate contracts can-i-deploy --provider NAME --provider-version V`.
#[derive(Debug, Args)]
pub struct CanIDeployArgs {
    /// The provider.
    #[arg(long, value_name = "NAME")]
    pub provider: String,
    /// The provider version to deploy.
    #[arg(long, value_name = "V")]
    pub provider_version: String,
    /// Where results were recorded.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_RESULTS_DIR)]
    pub results_dir: PathBuf,
}

#[cfg(not(feature = "pact"))]
const NO_PACT: &str = "this build of tollgate lacks Pact support (built without the `pact` cargo feature); rebuild with `--features pact`";

/// `tollgate contracts verify-pacts`.
#[cfg(not(feature = "pact"))]
pub fn verify_pacts(_args: &VerifyPactsArgs) -> anyhow::Result<Verdict> {
    anyhow::bail!(NO_PACT)
}

/// `tollgate contracts can-i-deploy`.
#[cfg(not(feature = "pact"))]
pub fn can_i_deploy(_args: &CanIDeployArgs) -> anyhow::Result<Verdict> {
    anyhow::bail!(NO_PACT)
}

/// `tollgate contracts verify-pacts`.
#[cfg(feature = "pact")]
pub fn verify_pacts(args: &VerifyPactsArgs) -> anyhow::Result<Verdict> {
    use tollgate_contracts::pact;
    use tollgate_core::time_source;
    let started = std::time::Instant::now();
    let start_time = time_source::rfc3339(time_source::now()?);
    let report = pact::verify_pacts(&args.provider_url, &args.pact_dir, args.provider.as_deref())?;
    if let Some(version) = &args.provider_version {
        let written = pact::record_results(&args.results_dir, &report, version, &start_time)?;
        tracing::info!(files = written.len(), dir = %args.results_dir.display(), "recorded pact results");
    } else {
        tracing::warn!("no --provider-version: results not recorded");
    }
    let gate = report.gate_report(
        args.fail_on.severity(),
        start_time,
        started.elapsed().as_millis() as u64,
    );
    super::sbom::emit_report(&args.report, &gate)
}

/// `tollgate contracts can-i-deploy`.
#[cfg(feature = "pact")]
pub fn can_i_deploy(args: &CanIDeployArgs) -> anyhow::Result<Verdict> {
    let answers = tollgate_contracts::pact::can_i_deploy(
        &args.results_dir,
        &args.provider,
        &args.provider_version,
    )?;
    if answers.is_empty() {
        anyhow::bail!(
            "{}: no recorded pact results for provider `{}`",
            args.results_dir.display(),
            args.provider
        );
    }
    let mut text = String::new();
    for (consumer, version, ok) in &answers {
        let verdict = if *ok { "compatible" } else { "NOT compatible" };
        text.push_str(&format!(
            "{consumer} {version}: {verdict} with {} {}\n",
            args.provider, args.provider_version
        ));
    }
    let blocked: Vec<&str> = answers.iter().filter(|a| !a.2).map(|a| a.0.as_str()).collect();
    if blocked.is_empty() {
        text.push_str(&format!(
            "yes: {} {} can be deployed\n",
            args.provider, args.provider_version
        ));
    } else {
        text.push_str(&format!(
            "no: {} {} breaks or was not verified with: {}\n",
            args.provider,
            args.provider_version,
            blocked.join(", ")
        ));
    }
    crate::output::emit(None, &text)?;
    Ok(if blocked.is_empty() { Verdict::Pass } else { Verdict::Fail })
}
