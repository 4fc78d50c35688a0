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
    fn show_round_trips() {
        let cfg = Config::default();
        assert_eq!(Config::parse(Path::new("t"), &cfg.to_toml()).unwrap(), cfg);
    }
}
