//! The release `evidence` stage: the release's git range (`git.json`) and, when
//! `[evidence.github] repo` is set, change-management evidence from GitHub (`changes.json`) are
//! added to the run directory; then the directory is packed into a signed, reproducible bundle
//! next to it (`<out_dir>/<run-id>.evidence.tar.gz`) with the control mapping of
//! `tollgate.toml`, and verified as an auditor would.

use super::attest::ReleaseKey;
use anyhow::Context;
use std::path::Path;
use std::time::Instant;
use tollgate_core::{
    Config, Digest, DigestAlgorithm, Finding, GateInput, GateReport, Location, Severity,
};
use tollgate_evidence::git_range::{self, GitRange, GitRangeError};
use tollgate_evidence::github::{RepoSlug, changes};
use tollgate_evidence::{BuildOptions, Summary};

/// Collects git and change evidence into `run_dir`, builds the bundle at `bundle`, signed with
/// the run's key, and re-verifies it.
pub fn release_stage(
    root: &Path,
    run_dir: &Path,
    bundle: &Path,
    config: &Config,
    release_key: &ReleaseKey,
    timestamp: String,
) -> anyhow::Result<GateReport> {
    let started = Instant::now();
    let mut findings = Vec::new();
    let range = collect_git(root, run_dir, config, &mut findings)?;
    if let Some(repo) = &config.evidence.github.repo {
        collect_changes(repo, range.as_ref(), run_dir, config, &mut findings)?;
    }

    let key = &release_key.key;
    let options = BuildOptions::new(env!("CARGO_PKG_VERSION"))
        .config(config.clone(), root.join(tollgate_core::config::CONFIG_FILE))
        .policies_dir(root.join("policies"));
    let built = tollgate_evidence::build(run_dir, key, bundle, options)?;
    let name = bundle.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match tollgate_evidence::verify(bundle, &key.verifying_key()) {
        Ok(summary) => {
            findings.push(
                Finding::new(
                    "evidence/bundle",
                    Severity::Info,
                    format!(
                        "evidence bundle {name}: {} file(s), {} bytes, manifest sha256:{} signed \
                         by key {}{}; verified",
                        summary.manifest.files.len(),
                        summary.manifest.total_size(),
                        summary.manifest_sha256,
                        key.verifying_key().key_id(),
                        if release_key.configured.is_some() { "" } else { " (ephemeral)" },
                    ),
                )
                .at(Location::file(name.clone())),
            );
            findings.extend(coverage_findings(&summary, &name));
        }
        Err(e) => findings.push(
            Finding::new(
                "evidence/self-check-failed",
                Severity::Error,
                format!("the evidence bundle just written does not verify: {e}"),
            )
            .at(Location::file(name.clone())),
        ),
    }
    let inputs = vec![GateInput {
        name,
        digest: Digest { algorithm: DigestAlgorithm::Sha256, hex: built.archive_sha256 },
    }];
    Ok(GateReport::new(
        "evidence",
        inputs,
        findings,
        Severity::Error,
        timestamp,
        started.elapsed().as_millis() as u64,
    ))
}

/// Writes `git.json` (the commits since the previous release tag, with signature status).
/// Outside a git repository (or in one without commits) the run records no git history and
/// says so; any other git error stops the release.
fn collect_git(
    root: &Path,
    run_dir: &Path,
    config: &Config,
    findings: &mut Vec<Finding>,
) -> anyhow::Result<Option<GitRange>> {
    let range = match git_range::collect(root, None) {
        Ok(range) => range,
        Err(e @ (GitRangeError::Repository { .. } | GitRangeError::NoHead { .. })) => {
            findings.push(
                Finding::new(
                    "evidence/no-git-history",
                    Severity::Warning,
                    format!("the bundle records no git range or commit signatures: {e}"),
                )
                .fix("release from a git checkout with at least one commit"),
            );
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    write(&run_dir.join("git.json"), &range.to_bytes())?;
    let severity = config.evidence.git.unsigned_commit;
    if severity == Severity::Info {
        // One line, not one per commit: unsigned commits are the norm in many repositories.
        findings.push(
            Finding::new(
                "evidence/git-range",
                Severity::Info,
                format!(
                    "git range {}..{}: {} commit(s), {} signed, {} unsigned (signatures recorded, \
                     not verified)",
                    range.range.base.as_deref().unwrap_or("root"),
                    range.range.head,
                    range.summary.commits,
                    range.summary.signed,
                    range.summary.unsigned,
                ),
            )
            .at(Location::file("git.json")),
        );
    } else {
        findings.extend(range.findings("git.json", severity));
    }
    Ok(Some(range))
}

/// Writes `changes.json`: for each commit of the range, its pull request, independent approval
/// and required checks on GitHub. Non-compliant changes are the stage's findings.
fn collect_changes(
    repo: &str,
    range: Option<&GitRange>,
    run_dir: &Path,
    config: &Config,
    findings: &mut Vec<Finding>,
) -> anyhow::Result<()> {
    let repo: RepoSlug =
        repo.parse().with_context(|| format!("tollgate.toml: evidence.github.repo {repo:?}"))?;
    let range = range.context(
        "[evidence.github] repo is set, but there is no git range to collect change evidence for",
    )?;
    let github = super::evidence_changes::connect(config.evidence.github.max_rate_limit_wait_secs)?;
    let evidence = changes::collect(&github, &repo, range)?;
    write(&run_dir.join("changes.json"), &evidence.to_bytes())?;
    findings.extend(evidence.findings("changes.json"));
    findings.push(
        Finding::new(
            "evidence/changes",
            Severity::Info,
            format!(
                "{} of {} change(s) in {repo} came through an independently approved pull \
                 request with passing required checks",
                evidence.summary.compliant, evidence.summary.changes
            ),
        )
        .at(Location::file("changes.json")),
    );
    Ok(())
}

/// One info finding per catalog: how many controls have evidence, and which do not.
fn coverage_findings(summary: &Summary, bundle: &str) -> Vec<Finding> {
    summary
        .manifest
        .coverage()
        .catalogs
        .iter()
        .map(|catalog| {
            let uncovered = catalog.uncovered();
            Finding::new(
                "evidence/control-coverage",
                Severity::Info,
                format!(
                    "{}: {} of {} control(s) have evidence{}",
                    catalog.title,
                    catalog.covered,
                    catalog.total,
                    if uncovered.is_empty() {
                        String::new()
                    } else {
                        format!("; without: {}", uncovered.join(", "))
                    }
                ),
            )
            .at(Location::file(bundle.to_owned()))
            .about(catalog.id.clone())
        })
        .collect()
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    tollgate_core::fs::write_atomic(path, bytes)
        .with_context(|| format!("{}: cannot write", path.display()))
}
