//! The `evidence` gate: the `[evidence]` configuration section, the rule table of everything
//! the evidence commands report, and the release `evidence` check — the release's git range
//! (`git.json`), change evidence from GitHub (`changes.json`, when configured), then the run
//! directory packed into a signed, reproducible bundle and verified back as an auditor would.

use crate::git_range::{self, GitRange, GitRangeError};
use crate::github::{GitHub, GitHubError, GitHubSettings, RepoSlug, changes};
use crate::{BuildOptions, EvidenceError, Summary};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tollgate_attest::keys::SigningKey;
use tollgate_core::{
    ConfigError, ConfigFile, Digest, DigestAlgorithm, Finding, GateInput, GateReport, GateRules,
    Location, Rule, Severity,
};

/// The gate's name in reports.
pub const GATE: &str = "evidence";

/// Rule: the bundle was built and verifies (its size, digest and signer).
pub const BUNDLE: Rule =
    Rule::new("evidence/bundle", Severity::Info, "the evidence bundle, built and verified");
/// Rule: how many controls of a catalog have evidence.
pub const CONTROL_COVERAGE: Rule = Rule::new(
    "evidence/control-coverage",
    Severity::Info,
    "controls of a catalog with and without evidence in the bundle",
);
/// Rule: the bundle just written does not verify.
pub const SELF_CHECK_FAILED: Rule = Rule::new(
    "evidence/self-check-failed",
    Severity::Error,
    "the evidence bundle just written does not verify with the run's key",
);
/// Rule: the run records no git range (not a git checkout, or no commit).
pub const NO_GIT_HISTORY: Rule = Rule::new(
    "evidence/no-git-history",
    Severity::Warning,
    "the bundle records no git range or commit signatures",
);
/// Rule: the release's git range, summarised.
pub const GIT_RANGE: Rule = Rule::new(
    "evidence/git-range",
    Severity::Info,
    "the release's commits, with how many are signed",
);
/// Rule: change-management evidence from GitHub, summarised.
pub const CHANGES: Rule = Rule::new(
    "evidence/changes",
    Severity::Info,
    "how many changes came through an approved pull request with passing checks",
);
/// Rule: a commit of the release range without a signature.
pub const UNSIGNED_COMMIT: Rule = Rule::new(
    git_range::RULE_UNSIGNED,
    Severity::Info,
    "a commit of the release range without a signature (level: [evidence.git] unsigned_commit)",
);
/// Rule: a change that reached the branch without a merged pull request.
pub const NO_PR: Rule =
    Rule::new(changes::RULE_NO_PR, Severity::Error, "a change without a merged pull request");
/// Rule: a change whose pull request no one but its author approved.
pub const NO_INDEPENDENT_APPROVAL: Rule = Rule::new(
    changes::RULE_NO_INDEPENDENT_APPROVAL,
    Severity::Error,
    "a change without an approval by someone other than its author",
);
/// Rule: a required check that did not run on a change.
pub const CHECK_MISSING: Rule = Rule::new(
    changes::RULE_CHECK_MISSING,
    Severity::Error,
    "a required status check that did not run on the change",
);
/// Rule: a required check that failed on a change.
pub const CHECK_FAILED: Rule = Rule::new(
    changes::RULE_CHECK_FAILED,
    Severity::Error,
    "a required status check that did not pass on the change",
);

/// The rule table: the release stage's rules, and those of `evidence git` and `changes`.
pub fn rules() -> GateRules {
    GateRules::new(
        GATE,
        "signed evidence bundle, git range and change-management evidence",
        vec![
            BUNDLE,
            CONTROL_COVERAGE,
            SELF_CHECK_FAILED,
            NO_GIT_HISTORY,
            GIT_RANGE,
            CHANGES,
            UNSIGNED_COMMIT,
            NO_PR,
            NO_INDEPENDENT_APPROVAL,
            CHECK_MISSING,
            CHECK_FAILED,
        ],
    )
}

/// `[evidence]` settings: the control catalogs evidence is mapped to and per-kind overrides.
///
/// The catalog and control ids are checked when the mapping is built
/// ([`crate::controls::Mapping::from_config`]), which names `tollgate.toml` and the key when
/// one is unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvidenceConfig {
    /// Catalog ids coverage is reported for, in this order (`soc2`, `iso27001`, `ssdf`, `slsa`).
    pub catalogs: Vec<String>,
    /// `[evidence.controls]`: evidence kind -> qualified control ids (`"ssdf:PS.3.2"`); a kind
    /// listed here replaces the shipped default mapping for that kind (`[]` maps it to nothing).
    pub controls: BTreeMap<String, Vec<String>>,
    /// `[evidence.git]`: the release range's commit findings.
    pub git: EvidenceGitConfig,
    /// `[evidence.github]`: change-management evidence from GitHub.
    pub github: EvidenceGitHubConfig,
}

impl Default for EvidenceConfig {
    fn default() -> Self {
        EvidenceConfig {
            catalogs: ["soc2", "iso27001", "ssdf", "slsa"].map(String::from).to_vec(),
            controls: BTreeMap::new(),
            git: EvidenceGitConfig::default(),
            github: EvidenceGitHubConfig::default(),
        }
    }
}

impl EvidenceConfig {
    /// Checks what parsing cannot, as building a bundle would: the catalog, evidence kind and
    /// control ids ([`crate::controls::Mapping::from_config`]) and that `[evidence.github]
    /// repo` is `OWNER/NAME`. Errors point at the key in `file`, the configuration this section
    /// was read from.
    pub fn validate(&self, file: &ConfigFile) -> Result<(), ConfigError> {
        match crate::Mapping::from_config(self, &file.path) {
            Err(EvidenceError::Config { key, message, .. }) => {
                let parts = tollgate_core::config::key_parts(&key);
                let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
                return Err(file.invalid_at(&parts, format!("{key}: {message}")));
            }
            Err(other) => return Err(file.invalid_at(&[GATE], other.to_string())),
            Ok(_) => {}
        }
        if let Some(repo) = &self.github.repo
            && let Err(e) = repo.parse::<RepoSlug>()
        {
            return Err(file.invalid_at(
                &[GATE, "github", "repo"],
                format!("evidence.github.repo {repo:?}: {e}"),
            ));
        }
        Ok(())
    }
}

/// `[evidence.git]` settings (`tollgate evidence git`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvidenceGitConfig {
    /// Severity of `git/unsigned-commit` (a commit in the release range without a signature).
    pub unsigned_commit: Severity,
}

impl Default for EvidenceGitConfig {
    fn default() -> Self {
        EvidenceGitConfig { unsigned_commit: UNSIGNED_COMMIT.level }
    }
}

/// `[evidence.github]` settings (`tollgate evidence changes`, `publish --github-release`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvidenceGitHubConfig {
    /// `OWNER/NAME`: when set, the release `evidence` stage collects change-management evidence
    /// (`changes.json`) for the release range from this GitHub repository (token from
    /// `GITHUB_TOKEN`, API from `GITHUB_API_URL`). Unset: no GitHub calls in a release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// The most seconds spent in total waiting out GitHub rate limits before failing.
    pub max_rate_limit_wait_secs: u64,
}

impl Default for EvidenceGitHubConfig {
    fn default() -> Self {
        EvidenceGitHubConfig { repo: None, max_rate_limit_wait_secs: 60 }
    }
}

impl EvidenceGitHubConfig {
    /// A GitHub client from the environment (`GITHUB_TOKEN`, `GITHUB_API_URL`) that waits out
    /// rate limits for at most `max_rate_limit_wait_secs` in total.
    pub fn connect(&self) -> Result<GitHub, GitHubError> {
        let mut settings = GitHubSettings::from_env();
        settings.max_rate_limit_wait = Duration::from_secs(self.max_rate_limit_wait_secs);
        GitHub::connect(settings)
    }
}

/// Why the release `evidence` check could not run (not a verdict).
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// Building the bundle failed (bad run directory, mapping, I/O).
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
    /// The git range could not be read.
    #[error(transparent)]
    GitRange(#[from] GitRangeError),
    /// GitHub could not be asked (unreachable, rejected token, rate limit).
    #[error(transparent)]
    GitHub(Box<GitHubError>),
    /// `[evidence.github] repo` is not `OWNER/NAME`.
    #[error("{file}: evidence.github.repo {repo:?}: {cause}")]
    BadRepo {
        /// The configuration file.
        file: String,
        /// The value.
        repo: String,
        /// Why it is not a repository slug.
        cause: Box<GitHubError>,
    },
    /// Change evidence was configured, but there is no git range to collect it for.
    #[error(
        "[evidence.github] repo is set, but there is no git range to collect change evidence for"
    )]
    NoRange,
    /// A file in the run directory could not be written.
    #[error("{path}: cannot write: {cause}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
}

/// What the release `evidence` check needs: where the run is, where the bundle goes, the key,
/// and how the bundle is built.
pub struct StageInputs<'a> {
    /// The repository root (its git range is recorded).
    pub root: &'a Path,
    /// The run directory the bundle packs.
    pub run_dir: &'a Path,
    /// The bundle to write.
    pub bundle: &'a Path,
    /// The run's signing key.
    pub key: &'a SigningKey,
    /// `true` when `key` was made for this run only.
    pub ephemeral: bool,
    /// Tool version, configuration and policies the bundle records.
    pub options: BuildOptions,
}

/// The release `evidence` gate: collects `git.json` (and `changes.json` when
/// `[evidence.github] repo` is set) into the run directory, builds the bundle and verifies it.
pub fn check(
    inputs: StageInputs<'_>,
    config: &EvidenceConfig,
    started: String,
) -> Result<GateReport, StageError> {
    let clock = std::time::Instant::now();
    let mut findings = Vec::new();
    let range = collect_git(inputs.root, inputs.run_dir, config, &mut findings)?;
    if let Some(repo) = &config.github.repo {
        collect_changes(repo, range.as_ref(), inputs.run_dir, config, &mut findings)?;
    }
    let key = inputs.key;
    let built = crate::build(inputs.run_dir, key, inputs.bundle, inputs.options)?;
    let name =
        inputs.bundle.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match crate::verify(inputs.bundle, &key.verifying_key()) {
        Ok(summary) => {
            findings.push(
                BUNDLE
                    .finding(format!(
                        "evidence bundle {name}: {} file(s), {} bytes, manifest sha256:{} signed \
                         by key {}{}; verified",
                        summary.manifest.files.len(),
                        summary.manifest.total_size(),
                        summary.manifest_sha256,
                        key.verifying_key().key_id(),
                        if inputs.ephemeral { " (ephemeral)" } else { "" },
                    ))
                    .at(Location::file(name.clone())),
            );
            findings.extend(coverage_findings(&summary, &name));
        }
        Err(e) => findings.push(
            SELF_CHECK_FAILED
                .finding(format!("the evidence bundle just written does not verify: {e}"))
                .at(Location::file(name.clone())),
        ),
    }
    let inputs = vec![GateInput {
        name,
        digest: Digest { algorithm: DigestAlgorithm::Sha256, hex: built.archive_sha256 },
    }];
    Ok(GateReport::new(
        GATE,
        inputs,
        findings,
        Severity::Error,
        started,
        clock.elapsed().as_millis() as u64,
    ))
}

/// Writes `git.json` (the commits since the previous release tag, with signature status).
/// Outside a git repository (or in one without commits) the run records no git history and
/// says so; any other git error stops the release.
fn collect_git(
    root: &Path,
    run_dir: &Path,
    config: &EvidenceConfig,
    findings: &mut Vec<Finding>,
) -> Result<Option<GitRange>, StageError> {
    let range = match git_range::collect(root, None) {
        Ok(range) => range,
        Err(e @ (GitRangeError::Repository { .. } | GitRangeError::NoHead { .. })) => {
            findings.push(
                NO_GIT_HISTORY
                    .finding(format!("the bundle records no git range or commit signatures: {e}"))
                    .fix("release from a git checkout with at least one commit"),
            );
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    write(&run_dir.join("git.json"), &range.to_bytes())?;
    let severity = config.git.unsigned_commit;
    if severity == Severity::Info {
        // One line, not one per commit: unsigned commits are the norm in many repositories.
        findings.push(
            GIT_RANGE
                .finding(format!(
                    "git range {}..{}: {} commit(s), {} signed, {} unsigned (signatures recorded, \
                     not verified)",
                    range.range.base.as_deref().unwrap_or("root"),
                    range.range.head,
                    range.summary.commits,
                    range.summary.signed,
                    range.summary.unsigned,
                ))
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
    config: &EvidenceConfig,
    findings: &mut Vec<Finding>,
) -> Result<(), StageError> {
    let slug: RepoSlug = repo.parse().map_err(|cause| StageError::BadRepo {
        file: tollgate_core::config::CONFIG_FILE.to_owned(),
        repo: repo.to_owned(),
        cause: Box::new(cause),
    })?;
    let range = range.ok_or(StageError::NoRange)?;
    let github = config.github.connect().map_err(|e| StageError::GitHub(Box::new(e)))?;
    let evidence =
        changes::collect(&github, &slug, range).map_err(|e| StageError::GitHub(Box::new(e)))?;
    write(&run_dir.join("changes.json"), &evidence.to_bytes())?;
    findings.extend(evidence.findings("changes.json"));
    findings.push(
        CHANGES
            .finding(format!(
                "{} of {} change(s) in {slug} came through an independently approved pull \
                 request with passing required checks",
                evidence.summary.compliant, evidence.summary.changes
            ))
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
            CONTROL_COVERAGE
                .finding(format!(
                    "{}: {} of {} control(s) have evidence{}",
                    catalog.title,
                    catalog.covered,
                    catalog.total,
                    if uncovered.is_empty() {
                        String::new()
                    } else {
                        format!("; without: {}", uncovered.join(", "))
                    }
                ))
                .at(Location::file(bundle.to_owned()))
                .about(catalog.id.clone())
        })
        .collect()
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), StageError> {
    tollgate_core::fs::write_atomic(path, bytes)
        .map_err(|cause| StageError::Write { path: path.to_owned(), cause })
}
