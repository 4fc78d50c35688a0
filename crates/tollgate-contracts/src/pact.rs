//! Pact provider verification (feature `pact`): every pact file (V2–V4) in a directory is
//! replayed against a running provider with the Pact Foundation's reference implementation
//! (`pact_verifier`, `pact_models`); nothing here matches bodies itself.
//!
//! Results are recorded as JSON under a results directory
//! (`<dir>/<provider>/<provider_version>/<consumer>-<consumer_version>.json`) and
//! [`can_i_deploy`] answers from them. Pact files carry no consumer version, so the consumer
//! version is the content digest of the pact file (`sha256-<12 hex>`): the same contract,
//! the same version.
//!
//! Unlike the rest of this crate, this module talks to the network (the provider under test).

use crate::ContractError;
use pact_verifier::callback_executors::{
    HttpRequestProviderStateExecutor, NullRequestFilterExecutor,
};
use pact_verifier::{
    FilterInfo, MismatchResult, ProviderInfo, ProviderTransport, VerificationOptions,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tollgate_core::{Digest, Finding, GateInput, Location, Severity};

/// Rule id: an interaction the provider does not honour.
pub const INTERACTION_FAILED: &str = "pact/interaction-failed";
/// Rule id: an interaction the provider honours.
pub const INTERACTION_PASSED: &str = "pact/interaction-passed";

/// One way an actual response differs from the expected one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    /// `status`, `header`, `body`, `body-type`, `query`, `method`, `path`, `metadata` or `error`.
    pub kind: String,
    /// Where: a JSON path (`$.id`) for bodies, the header or parameter name, else empty.
    pub path: String,
    /// The expected value, when the verifier reports one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// The actual value, when the verifier reports one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
    /// The verifier's own description.
    pub message: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.kind)?;
        if !self.path.is_empty() {
            write!(f, " {}", self.path)?;
        }
        if let (Some(e), Some(a)) = (&self.expected, &self.actual) {
            write!(f, ": expected {e} but was {a}")?;
            if !self.message.is_empty() && self.kind == "body" {
                write!(f, " ({})", self.message)?;
            }
            Ok(())
        } else {
            write!(f, ": {}", self.message)
        }
    }
}

/// The verification of one interaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InteractionResult {
    /// The interaction's description.
    pub description: String,
    /// Provider states it is given.
    #[serde(default)]
    pub provider_states: Vec<String>,
    /// Index in the pact file's `interactions` (or `messages`) array.
    pub index: usize,
    /// True when the provider honoured it.
    pub passed: bool,
    /// Why not (empty when passed).
    #[serde(default)]
    pub mismatches: Vec<Mismatch>,
}

/// The verification of one pact file (one consumer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerResult {
    /// The consumer's name.
    pub consumer: String,
    /// The consumer version: the pact file's content digest.
    pub consumer_version: String,
    /// The provider named in the pact.
    pub provider: String,
    /// The pact file, as found.
    pub pact_file: String,
    /// The pact specification version (`V2`, `V3`, `V4`).
    pub specification: String,
    /// One result per interaction, in file order.
    pub interactions: Vec<InteractionResult>,
}

impl ConsumerResult {
    /// True when every interaction passed.
    pub fn passed(&self) -> bool {
        self.interactions.iter().all(|i| i.passed)
    }
}

/// Every pact in a directory, verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PactReport {
    /// The provider verified.
    pub provider: String,
    /// The provider's base URL.
    pub provider_url: String,
    /// One entry per pact file, sorted by file name.
    pub consumers: Vec<ConsumerResult>,
    /// Digests of the pact files verified.
    pub inputs: Vec<GateInput>,
}

impl PactReport {
    /// True when every interaction of every pact passed.
    pub fn passed(&self) -> bool {
        self.consumers.iter().all(ConsumerResult::passed)
    }

    /// The `contracts-pact` gate report: every interaction a finding; `fail_on` decides.
    pub fn gate_report(
        &self,
        fail_on: Severity,
        started: String,
        duration_ms: u64,
    ) -> tollgate_core::GateReport {
        tollgate_core::GateReport::new(
            "contracts-pact",
            self.inputs.clone(),
            self.findings(),
            fail_on,
            started,
            duration_ms,
        )
    }

    /// One finding per interaction: `pact/interaction-failed` (error) or
    /// `pact/interaction-passed` (info).
    pub fn findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        for consumer in &self.consumers {
            for i in &consumer.interactions {
                let subject = format!(
                    "{} {} -> {}: {}",
                    consumer.consumer, consumer.consumer_version, consumer.provider, i.description
                );
                let location = Location::file(consumer.pact_file.clone())
                    .at_pointer(format!("/interactions/{}", i.index));
                let finding = if i.passed {
                    Finding::new(
                        INTERACTION_PASSED,
                        Severity::Info,
                        format!("{} honours `{}`", consumer.provider, i.description),
                    )
                } else {
                    let details =
                        i.mismatches.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
                    Finding::new(
                        INTERACTION_FAILED,
                        Severity::Error,
                        format!(
                            "{} breaks `{}` expected by {}: {details}",
                            consumer.provider, i.description, consumer.consumer
                        ),
                    )
                    .fix("change the provider to honour the interaction, or agree a new pact with the consumer")
                };
                out.push(finding.at(location).about(subject));
            }
        }
        out
    }
}

fn pact_error(file: &Path, message: impl Into<String>) -> ContractError {
    ContractError::Pact { file: file.display().to_string(), message: message.into() }
}

/// Scheme, host, port and base path of `url` (`http://host:port/base`).
fn provider_info(name: &str, url: &str) -> Result<ProviderInfo, ContractError> {
    let bad = |why: &str| ContractError::Pact {
        file: url.to_owned(),
        message: format!("invalid provider URL: {why}"),
    };
    let (scheme, rest) =
        url.split_once("://").ok_or_else(|| bad("expected http(s)://host[:port][/path]"))?;
    if scheme != "http" && scheme != "https" {
        return Err(bad("the scheme must be http or https"));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
            (h, Some(p.parse::<u16>().map_err(|_| bad("the port is not a number"))?))
        }
        _ => (authority, None),
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = port.or(Some(if scheme == "https" { 443 } else { 80 }));
    #[allow(deprecated)]
    Ok(ProviderInfo {
        name: name.to_owned(),
        protocol: scheme.to_owned(),
        host: host.to_owned(),
        port,
        path: if path.is_empty() { "/".to_owned() } else { path.to_owned() },
        transports: vec![ProviderTransport {
            transport: "http".to_owned(),
            port,
            path: (!path.is_empty()).then(|| path.to_owned()),
            scheme: Some(scheme.to_owned()),
        }],
    })
}

fn convert(mismatch: &pact_matching::Mismatch) -> Mismatch {
    use pact_matching::Mismatch as M;
    let message = mismatch.description();
    let m = |kind: &str, path: &str, expected: Option<String>, actual: Option<String>| Mismatch {
        kind: kind.to_owned(),
        path: path.to_owned(),
        expected,
        actual,
        message: message.clone(),
    };
    match mismatch {
        M::MethodMismatch { expected, actual, .. } => {
            m("method", "", Some(expected.clone()), Some(actual.clone()))
        }
        M::PathMismatch { expected, actual, .. } => {
            m("path", "", Some(expected.clone()), Some(actual.clone()))
        }
        M::StatusMismatch { expected, actual, .. } => {
            m("status", "", Some(expected.to_string()), Some(actual.to_string()))
        }
        M::QueryMismatch { parameter, expected, actual, .. } => {
            m("query", parameter, Some(expected.clone()), Some(actual.clone()))
        }
        M::HeaderMismatch { key, expected, actual, .. } => {
            m("header", key, Some(expected.clone()), Some(actual.clone()))
        }
        M::BodyTypeMismatch { expected, actual, .. } => {
            m("body-type", "", Some(expected.clone()), Some(actual.clone()))
        }
        M::BodyMismatch { path, expected, actual, mismatch } => Mismatch {
            kind: "body".to_owned(),
            path: path.clone(),
            expected: expected.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()),
            actual: actual.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()),
            message: mismatch.clone(),
        },
        M::MetadataMismatch { key, expected, actual, .. } => {
            m("metadata", key, Some(expected.clone()), Some(actual.clone()))
        }
    }
}

fn mismatches_of(result: &MismatchResult) -> Vec<Mismatch> {
    match result {
        MismatchResult::Mismatches { mismatches, .. } => mismatches.iter().map(convert).collect(),
        MismatchResult::Error(message, _) => vec![Mismatch {
            kind: "error".to_owned(),
            path: String::new(),
            expected: None,
            actual: None,
            message: message.clone(),
        }],
    }
}

/// The `*.json` files directly under `dir`, sorted.
fn pact_files(dir: &Path) -> Result<Vec<PathBuf>, ContractError> {
    let entries =
        std::fs::read_dir(dir).map_err(|cause| ContractError::Io { file: dir.into(), cause })?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|cause| ContractError::Io { file: dir.into(), cause })?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "json") {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(pact_error(dir, "no pact files (*.json) in the directory"));
    }
    Ok(files)
}

/// Verifies every pact file in `pact_dir` against the provider running at `provider_url`.
///
/// With `provider_name`, pacts for other providers are skipped; without it, every pact is
/// verified and the provider is named after the first pact.
pub fn verify_pacts(
    provider_url: &str,
    pact_dir: &Path,
    provider_name: Option<&str>,
) -> Result<PactReport, ContractError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|cause| ContractError::Io { file: pact_dir.into(), cause })?;
    pact_matching::matchingrules::configure_core_catalogue();
    let options = VerificationOptions::<NullRequestFilterExecutor> {
        coloured_output: false,
        request_timeout: 10_000,
        follow_redirects: false,
        broker_request_retries: 0,
        ..VerificationOptions::default()
    };
    let states = Arc::new(HttpRequestProviderStateExecutor {
        state_change_url: None,
        retries: 0,
        ..HttpRequestProviderStateExecutor::default()
    });
    let mut provider = provider_name.map(str::to_owned);
    let mut consumers = Vec::new();
    let mut inputs = Vec::new();
    for file in pact_files(pact_dir)? {
        let text = std::fs::read(&file)
            .map_err(|cause| ContractError::Io { file: file.clone(), cause })?;
        let pact = pact_models::pact::read_pact(&file)
            .map_err(|e| pact_error(&file, format!("not a pact file: {e:#}")))?;
        let pact_provider = pact.provider().name;
        match &provider {
            Some(name) if *name != pact_provider => {
                tracing::info!(file = %file.display(), provider = %pact_provider, "skipped: pact for another provider");
                continue;
            }
            Some(_) => {}
            None => provider = Some(pact_provider.clone()),
        }
        let info = provider_info(&pact_provider, provider_url)?;
        let consumer = pact.consumer().name;
        let specification = pact.specification_version().to_string();
        let display = file.to_string_lossy().replace('\\', "/");
        let digest = Digest::sha256(&text);
        let consumer_version = format!("sha256-{}", &digest.hex[..12]);
        let result = runtime
            .block_on(pact_verifier::verify_pact_internal(
                &info,
                &FilterInfo::None,
                pact,
                &options,
                &states,
                false,
                Duration::ZERO,
            ))
            .map_err(|e| pact_error(&file, format!("verification could not run: {e:#}")))?;
        let interactions = result
            .results
            .iter()
            .enumerate()
            .map(|(index, r)| InteractionResult {
                description: r.interaction_description.clone(),
                provider_states: r.provider_states.clone(),
                index,
                passed: r.result.is_ok(),
                mismatches: r.result.as_ref().err().map(mismatches_of).unwrap_or_default(),
            })
            .collect();
        inputs.push(GateInput { name: display.clone(), digest });
        consumers.push(ConsumerResult {
            consumer,
            consumer_version,
            provider: pact_provider,
            pact_file: display,
            specification,
            interactions,
        });
    }
    let provider = provider.unwrap_or_default();
    if consumers.is_empty() {
        return Err(pact_error(
            pact_dir,
            format!("no pact in the directory names provider `{provider}`"),
        ));
    }
    Ok(PactReport { provider, provider_url: provider_url.to_owned(), consumers, inputs })
}

/// A recorded verification result (one JSON file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedResult {
    /// The provider.
    pub provider: String,
    /// The provider version verified.
    pub provider_version: String,
    /// The consumer.
    pub consumer: String,
    /// The consumer version (pact content digest).
    pub consumer_version: String,
    /// `passed` or `failed`.
    pub outcome: String,
    /// When (RFC 3339).
    pub verified_at: String,
    /// The verification itself.
    pub result: ConsumerResult,
}

/// File-name-safe form of a name or version.
fn safe(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+') { c } else { '-' })
        .collect()
}

/// Writes one result file per consumer under
/// `results_dir/<provider>/<provider_version>/<consumer>-<consumer_version>.json`.
pub fn record_results(
    results_dir: &Path,
    report: &PactReport,
    provider_version: &str,
    verified_at: &str,
) -> Result<Vec<PathBuf>, ContractError> {
    let dir = results_dir.join(safe(&report.provider)).join(safe(provider_version));
    std::fs::create_dir_all(&dir)
        .map_err(|cause| ContractError::Io { file: dir.clone(), cause })?;
    let mut written = Vec::new();
    for consumer in &report.consumers {
        let record = RecordedResult {
            provider: report.provider.clone(),
            provider_version: provider_version.to_owned(),
            consumer: consumer.consumer.clone(),
            consumer_version: consumer.consumer_version.clone(),
            outcome: if consumer.passed() { "passed" } else { "failed" }.to_owned(),
            verified_at: verified_at.to_owned(),
            result: consumer.clone(),
        };
        let path = dir.join(format!(
            "{}-{}.json",
            safe(&consumer.consumer),
            safe(&consumer.consumer_version)
        ));
        let mut text = serde_json::to_string_pretty(&record).unwrap_or_default();
        text.push('\n');
        std::fs::write(&path, text)
            .map_err(|cause| ContractError::Io { file: path.clone(), cause })?;
        written.push(path);
    }
    Ok(written)
}

fn read_records(dir: &Path) -> Result<Vec<(RecordedResult, std::time::SystemTime)>, ContractError> {
    let mut out = Vec::new();
    let Ok(versions) = std::fs::read_dir(dir) else { return Ok(out) };
    for version in versions.flatten() {
        let Ok(files) = std::fs::read_dir(version.path()) else { continue };
        for file in files.flatten() {
            let path = file.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|cause| ContractError::Io { file: path.clone(), cause })?;
            let record: RecordedResult = serde_json::from_str(&text)
                .map_err(|e| pact_error(&path, format!("not a recorded result: {e}")))?;
            let mtime = file.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH);
            out.push((record, mtime));
        }
    }
    Ok(out)
}

/// For every consumer with recorded results for `provider`: its latest consumer version
/// verified against `provider_version` and whether that verification passed. A consumer
/// verified only against other provider versions is listed (latest version seen) as not
/// compatible: nothing shows it works with this one.
pub fn can_i_deploy(
    results_dir: &Path,
    provider: &str,
    provider_version: &str,
) -> Result<Vec<(String, String, bool)>, ContractError> {
    let records = read_records(&results_dir.join(safe(provider)))?;
    let mut latest: std::collections::BTreeMap<
        String,
        (String, bool, (String, std::time::SystemTime), bool),
    > = std::collections::BTreeMap::new();
    for (record, mtime) in records {
        if record.provider != provider {
            continue;
        }
        let this_version = record.provider_version == provider_version;
        let key = (record.verified_at.clone(), mtime);
        let entry = latest.entry(record.consumer.clone()).or_insert_with(|| {
            (record.consumer_version.clone(), false, (String::new(), std::time::UNIX_EPOCH), false)
        });
        // Prefer results for this provider version; among those, the latest.
        let better = (this_version && !entry.3) || (this_version == entry.3 && key >= entry.2);
        if better {
            *entry = (
                record.consumer_version.clone(),
                this_version && record.outcome == "passed",
                key,
                this_version,
            );
        }
    }
    Ok(latest.into_iter().map(|(consumer, (version, ok, _, _))| (consumer, version, ok)).collect())
}
