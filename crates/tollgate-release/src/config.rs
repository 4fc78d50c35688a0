//! The effective configuration: the defaults of every section, overlaid with `tollgate.toml`.
//!
//! Each section type belongs to the crate whose gate reads it; this type only gathers them,
//! in the order `tollgate config show` prints them. A misspelt key is rejected by the section
//! that owns it, with `tollgate.toml:line:column`.

use crate::stage::Stage;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tollgate_attest::gate::AttestConfig;
use tollgate_contracts::gate::ContractsConfig;
use tollgate_core::ConfigError;
use tollgate_evidence::gate::EvidenceConfig;
use tollgate_sbom::gate::SbomConfig;

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
    /// The stages `tollgate release` runs (always in pipeline order); `--stages` overrides.
    pub stages: Vec<Stage>,
}

impl Default for ReleaseConfig {
    fn default() -> Self {
        ReleaseConfig { out_dir: PathBuf::from("target/tollgate"), stages: Stage::ALL.to_vec() }
    }
}

impl Config {
    /// Loads `<root>/tollgate.toml` over the defaults; a missing file means all defaults.
    pub fn load(root: &Path) -> Result<Config, ConfigError> {
        tollgate_core::config::load(root)
    }

    /// Parses configuration text; `path` only names the file in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        tollgate_core::config::parse(path, text)
    }

    /// The effective configuration as TOML, every key present (`tollgate config show`).
    pub fn to_toml(&self) -> String {
        tollgate_core::config::to_toml(self)
    }

    /// The effective configuration as compact JSON: what an evidence bundle's manifest digests.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_contracts::gate::{CompatibilityMode, SpecKind};
    use tollgate_core::Severity;

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
    fn unknown_keys_are_rejected_by_their_section_with_file_and_line() {
        for (text, line) in [
            ("[sbom]\n\nbaseline = 1\n", 3),
            ("[attest]\nkeyfile = \"k\"\n", 2),
            ("[evidence]\ncatalog = []\n", 2),
            ("[evidence.controls]\nsbom = \"x\"\n", 2),
            ("[release]\nstages = [\"sbom\", \"lint\"]\n", 2),
            ("[[contracts.specs]]\nkind = \"soap\"\npath = \"x\"\n", 2),
            ("[sbom.diff]\nadded = \"fatal\"\n", 2),
            ("\n[deps]\n", 2),
        ] {
            let err = Config::parse(Path::new("tollgate.toml"), text).unwrap_err().to_string();
            assert!(err.starts_with(&format!("tollgate.toml:{line}:")), "{text:?}: {err}");
        }
    }

    #[test]
    fn every_section_parses_and_round_trips() {
        let cfg = Config::parse(
            Path::new("t.toml"),
            r#"
[release]
stages = ["attest", "sbom"]

[attest]
key = "keys/release.key"
ephemeral_key = "error"

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

[evidence]
catalogs = ["ssdf"]

[evidence.controls]
sbom = ["ssdf:PS.3.2"]
"#,
        )
        .unwrap();
        assert_eq!(cfg.release.stages, [Stage::Attest, Stage::Sbom]);
        assert_eq!(cfg.attest.key, Some(PathBuf::from("keys/release.key")));
        assert_eq!(cfg.attest.ephemeral_key, Severity::Error);
        assert_eq!(cfg.contracts.fail_on, Severity::Warning);
        assert_eq!(cfg.contracts.levels["openapi/x"], Severity::Info);
        assert_eq!(cfg.contracts.specs[0].compatibility, CompatibilityMode::Backward);
        assert_eq!(cfg.contracts.specs[1].kind, SpecKind::Jsonschema);
        assert_eq!(cfg.contracts.specs[1].compatibility, CompatibilityMode::Full);
        assert_eq!(cfg.contracts.exceptions[0].owner, "team-x");
        assert_eq!(cfg.evidence.catalogs, ["ssdf"]);
        assert_eq!(cfg.evidence.controls["sbom"], ["ssdf:PS.3.2"]);
        assert_eq!(Config::parse(Path::new("t"), &cfg.to_toml()).unwrap(), cfg);
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
