//! `tollgate.toml`: every key has a default, unknown keys are rejected with their place.

use crate::finding::Severity;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The file name Tollgate looks for at the repository root.
pub const CONFIG_FILE: &str = "tollgate.toml";

/// Errors loading `tollgate.toml`. Each names the file and, where known, the line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The configuration file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not match the schema.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// The configuration file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

/// The effective configuration: defaults overlaid with `tollgate.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[release]`: the main job.
    pub release: ReleaseConfig,
    /// `[sbom]`: software bills of materials.
    pub sbom: SbomConfig,
    /// `[attest]`: signed provenance in the release run.
    pub attest: AttestConfig,
    /// `[contracts]`: API contract gates (OpenAPI, GraphQL, JSON Schema).
    pub contracts: ContractsConfig,
    /// `[evidence]`: which control catalogs evidence bundles map to, and the mapping overrides.
    pub evidence: EvidenceConfig,
}

/// `[release]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReleaseConfig {
    /// Where run directories (`<out_dir>/<run-id>/<stage>.json`) are written, relative to the root.
    pub out_dir: PathBuf,
}

impl Default for ReleaseConfig {
    fn default() -> Self {
        ReleaseConfig { out_dir: PathBuf::from("target/tollgate") }
    }
}

/// `[evidence]` settings: the control catalogs evidence is mapped to and per-kind overrides.
///
/// Core only carries the values; `tollgate-evidence` checks the catalog and control ids and
/// names `tollgate.toml` and the key when one is unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvidenceConfig {
    /// Catalog ids coverage is reported for, in this order (`soc2`, `iso27001`, `ssdf`, `slsa`).
    pub catalogs: Vec<String>,
    /// `[evidence.controls]`: evidence kind -> qualified control ids (`"ssdf:PS.3.2"`); a kind
    /// listed here replaces the shipped default mapping for that kind (`[]` maps it to nothing).
    pub controls: std::collections::BTreeMap<String, Vec<String>>,
    /// `[evidence.git]`: the release range's commit findings.
    pub git: EvidenceGitConfig,
    /// `[evidence.github]`: change-management evidence from GitHub.
    pub github: EvidenceGitHubConfig,
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
        EvidenceGitConfig { unsigned_commit: Severity::Info }
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

impl Default for EvidenceConfig {
    fn default() -> Self {
        EvidenceConfig {
            catalogs: ["soc2", "iso27001", "ssdf", "slsa"].map(String::from).to_vec(),
            controls: std::collections::BTreeMap::new(),
            git: EvidenceGitConfig::default(),
            github: EvidenceGitHubConfig::default(),
        }
    }
}

/// `[sbom]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SbomConfig {
    /// Name of the SBOM's subject when the tree has several roots (default: the directory name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Globs (relative to the scanned root) of lockfiles never catalogued, on top of `.gitignore`.
    pub exclude: Vec<String>,
    /// Directory holding the committed baseline SBOMs (`cyclonedx.json`, `spdx.json`).
    pub baseline_dir: PathBuf,
    /// `[sbom.diff]`: how much each kind of change between two SBOMs matters.
    pub diff: SbomDiffConfig,
}

impl Default for SbomConfig {
    fn default() -> Self {
        SbomConfig {
            name: None,
            exclude: vec![
                "**/node_modules/**".into(),
                "**/target/**".into(),
                "**/tests/fixtures/**".into(),
                "**/testdata/**".into(),
            ],
            baseline_dir: PathBuf::from("sbom"),
            diff: SbomDiffConfig::default(),
        }
    }
}

/// `[attest]` settings: how the release `attest` stage signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttestConfig {
    /// Private key (PKCS#8 PEM or cosign's encrypted format, relative to the root) that signs
    /// the release provenance; `tollgate release --key` overrides it. Unset: an ephemeral key is
    /// generated for the run and reported with the `ephemeral_key` severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// Severity of the finding that the provenance was signed with an ephemeral key.
    pub ephemeral_key: Severity,
    /// Findings at or above this severity fail the stage.
    pub fail_on: Severity,
}

impl Default for AttestConfig {
    fn default() -> Self {
        AttestConfig { key: None, ephemeral_key: Severity::Warning, fail_on: Severity::Error }
    }
}

/// `[contracts]` settings: which specs are gated, against what, and how strictly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContractsConfig {
    /// Findings at or above this severity fail the gate.
    pub fail_on: Severity,
    /// Git ref the specs are compared with (default: the highest `vX.Y.Z` / `X.Y.Z` tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub against: Option<String>,
    /// Per-rule severity overrides: `"openapi/…" = "warning"`.
    pub levels: std::collections::BTreeMap<String, Severity>,
    /// `[[contracts.specs]]`: the specs to gate.
    pub specs: Vec<ContractSpec>,
    /// `[[contracts.exceptions]]`: accepted, expiring exceptions.
    pub exceptions: Vec<ContractException>,
}

impl Default for ContractsConfig {
    fn default() -> Self {
        ContractsConfig {
            fail_on: Severity::Error,
            against: None,
            levels: std::collections::BTreeMap::new(),
            specs: Vec::new(),
            exceptions: Vec::new(),
        }
    }
}

/// The kind of an API spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpecKind {
    /// OpenAPI 3.0 / 3.1 (JSON or YAML).
    Openapi,
    /// GraphQL SDL.
    Graphql,
    /// JSON Schema (draft-07, 2020-12).
    Jsonschema,
}

impl SpecKind {
    /// The lowercase name used in configuration and rule ids.
    pub fn as_str(self) -> &'static str {
        match self {
            SpecKind::Openapi => "openapi",
            SpecKind::Graphql => "graphql",
            SpecKind::Jsonschema => "jsonschema",
        }
    }
}

/// JSON Schema compatibility mode, as a schema registry judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CompatibilityMode {
    /// New readers can read data written with the old schema.
    #[default]
    Backward,
    /// Old readers can read data written with the new schema.
    Forward,
    /// Both.
    Full,
}

/// One `[[contracts.specs]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractSpec {
    /// The spec's kind.
    pub kind: SpecKind,
    /// Path of the spec relative to the repository root.
    pub path: PathBuf,
    /// JSON Schema compatibility mode (only for `jsonschema`).
    #[serde(default)]
    pub compatibility: CompatibilityMode,
    /// The spec's version (GraphQL / JSON Schema have none in the document; OpenAPI uses
    /// `info.version` unless this is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// One `[[contracts.exceptions]]` entry: an accepted breaking change, with owner and expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractException {
    /// The rule id it covers.
    pub rule: String,
    /// The operation / schema element it covers (default: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The spec file it covers (default: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    /// Who accepted it.
    pub owner: String,
    /// Why.
    pub reason: String,
    /// Last day it applies (`YYYY-MM-DD`).
    pub expires: String,
}

/// `[sbom.diff]`: the severity given to each kind of change, and the failure threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SbomDiffConfig {
    /// A component present only in the new SBOM.
    pub added: Severity,
    /// A component present only in the old SBOM.
    pub removed: Severity,
    /// A component whose version went up.
    pub upgraded: Severity,
    /// A component whose version went down.
    pub downgraded: Severity,
    /// A component whose declared licence changed.
    pub licence_changed: Severity,
    /// A component whose content hash changed while its version did not.
    pub hash_changed: Severity,
    /// Findings at or above this severity fail the gate.
    pub fail_on: Severity,
}

impl Default for SbomDiffConfig {
    fn default() -> Self {
        SbomDiffConfig {
            added: Severity::Info,
            removed: Severity::Info,
            upgraded: Severity::Info,
            downgraded: Severity::Warning,
            licence_changed: Severity::Warning,
            hash_changed: Severity::Error,
            fail_on: Severity::Error,
        }
    }
}

impl Config {
    /// Loads `<root>/tollgate.toml` over the defaults; a missing file means all defaults.
    pub fn load(root: &Path) -> Result<Config, ConfigError> {
        let path = root.join(CONFIG_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Config::parse(&path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }

    /// Parses configuration text; `path` is only used to name the file in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let (line, column) =
                e.span().map(|span| line_column(text, span.start)).unwrap_or((1, 1));
            ConfigError::Invalid {
                path: path.to_path_buf(),
                line,
                column,
                message: e.message().to_owned(),
            }
        })
    }

    /// The effective configuration as TOML, every key present (`tollgate config show`).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

/// 1-based line and column of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_all_defaults() {
        assert_eq!(Config::parse(Path::new("t.toml"), "").unwrap(), Config::default());
    }

    #[test]
    fn overrides_one_key_and_keeps_the_rest() {
        let cfg = Config::parse(Path::new("t.toml"), "[sbom.diff]\nadded = \"error\"\n").unwrap();
        assert_eq!(cfg.sbom.diff.added, Severity::Error);
        assert_eq!(cfg.sbom.diff.removed, Severity::Info);
        assert_eq!(cfg.release, ReleaseConfig::default());
    }

    #[test]
    fn unknown_key_names_file_and_line() {
        let err =
            Config::parse(Path::new("tollgate.toml"), "[sbom]\n\nbaseline = 1\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("tollgate.toml:3:"), "{text}");
        assert!(text.contains("baseline"), "{text}");
    }

    #[test]
    fn bad_severity_is_rejected() {
        let err =
            Config::parse(Path::new("t.toml"), "[sbom.diff]\nadded = \"fatal\"\n").unwrap_err();
        assert!(err.to_string().contains("t.toml:2:"), "{err}");
    }

    #[test]
    fn attest_defaults_and_overrides() {
        let cfg = Config::default();
        assert_eq!(cfg.attest.key, None);
        assert_eq!(cfg.attest.ephemeral_key, Severity::Warning);
        assert_eq!(cfg.attest.fail_on, Severity::Error);
        let cfg = Config::parse(
            Path::new("t.toml"),
            "[attest]\nkey = \"keys/release.key\"\nephemeral_key = \"error\"\n",
        )
        .unwrap();
        assert_eq!(cfg.attest.key, Some(PathBuf::from("keys/release.key")));
        assert_eq!(cfg.attest.ephemeral_key, Severity::Error);
        assert_eq!(cfg.attest.fail_on, Severity::Error);
        assert_eq!(Config::parse(Path::new("t"), &cfg.to_toml()).unwrap(), cfg);
        let err = Config::parse(Path::new("t.toml"), "[attest]\nkeyfile = \"k\"\n").unwrap_err();
        assert!(err.to_string().starts_with("t.toml:2:"), "{err}");
    }

    #[test]
    fn contracts_defaults_and_specs() {
        let cfg = Config::default();
        assert_eq!(cfg.contracts.fail_on, Severity::Error);
        assert!(cfg.contracts.specs.is_empty() && cfg.contracts.against.is_none());
        let cfg = Config::parse(
            Path::new("t.toml"),
            r#"
[contracts]
fail_on = "warning"
levels = { "openapi/x" = "info" }

[[contracts.specs]]
kind = "openapi"
path = "api/openapi.yaml"

[[contracts.specs]]
kind = "jsonschema"
path = "events/order.json"
compatibility = "full"
version = "2.0.0"

[[contracts.exceptions]]
rule = "openapi/x"
owner = "team-x"
reason = "r"
expires = "2026-12-31"
"#,
        )
        .unwrap();
        assert_eq!(cfg.contracts.fail_on, Severity::Warning);
        assert_eq!(cfg.contracts.levels["openapi/x"], Severity::Info);
        assert_eq!(cfg.contracts.specs[0].compatibility, CompatibilityMode::Backward);
        assert_eq!(cfg.contracts.specs[1].kind, SpecKind::Jsonschema);
        assert_eq!(cfg.contracts.specs[1].compatibility, CompatibilityMode::Full);
        assert_eq!(cfg.contracts.exceptions[0].owner, "team-x");
        assert_eq!(Config::parse(Path::new("t"), &cfg.to_toml()).unwrap(), cfg);
        let err = Config::parse(
            Path::new("t.toml"),
            "[[contracts.specs]]\nkind = \"soap\"\npath = \"x\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("t.toml:2:"), "{err}");
    }

    #[test]
    fn evidence_defaults_overrides_and_unknown_keys() {
        let cfg = Config::default();
        assert_eq!(cfg.evidence.catalogs, ["soc2", "iso27001", "ssdf", "slsa"]);
        assert!(cfg.evidence.controls.is_empty());
        let cfg = Config::parse(
            Path::new("t.toml"),
            "[evidence]\ncatalogs = [\"ssdf\"]\n\n[evidence.controls]\nsbom = [\"ssdf:PS.3.2\"]\n",
        )
        .unwrap();
        assert_eq!(cfg.evidence.catalogs, ["ssdf"]);
        assert_eq!(cfg.evidence.controls["sbom"], ["ssdf:PS.3.2"]);
        assert_eq!(Config::parse(Path::new("t"), &cfg.to_toml()).unwrap(), cfg);
        let err =
            Config::parse(Path::new("tollgate.toml"), "[evidence]\ncatalog = []\n").unwrap_err();
        assert!(err.to_string().starts_with("tollgate.toml:2:"), "{err}");
        let err = Config::parse(Path::new("tollgate.toml"), "[evidence.controls]\nsbom = \"x\"\n")
            .unwrap_err();
        assert!(err.to_string().starts_with("tollgate.toml:2:"), "{err}");
    }

    /// `tollgate config show` of the defaults, pinned: a new key is a reviewed change.
    #[test]
    fn default_configuration_snapshot() {
        insta::assert_snapshot!(Config::default().to_toml());
    }

    #[test]
    fn show_round_trips() {
        let cfg = Config::default();
        assert_eq!(Config::parse(Path::new("t"), &cfg.to_toml()).unwrap(), cfg);
    }
}
