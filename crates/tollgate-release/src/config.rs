//! The effective configuration: the defaults of every section, overlaid with `tollgate.toml`.
//!
//! Each section type belongs to the crate whose gate reads it; this type only gathers them,
//! in the order `tollgate config show` prints them. A misspelt key is rejected by the section
//! that owns it, with `tollgate.toml:line:column`; what parsing cannot check (an unknown rule
//! id in `[contracts] levels`, a stage list that cannot run, an unknown control id) is checked
//! by [`Config::validate`], with the same `file:line:column`. [`Config::load`] does both, so
//! every command — `tollgate config show` included — accepts and rejects the same files.

use crate::stage::Stage;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tollgate_attest::gate::AttestConfig;
use tollgate_contracts::gate::ContractsConfig;
use tollgate_core::{ConfigError, ConfigFile};
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

impl ReleaseConfig {
    /// Checks what parsing cannot: the stage list can run ([`Stage::plan`]). Errors point at
    /// the key in `file`.
    pub fn validate(&self, file: &ConfigFile) -> Result<(), ConfigError> {
        Stage::plan(&self.stages)
            .map(drop)
            .map_err(|e| file.invalid_at(&["release", "stages"], format!("release.stages: {e}")))
    }
}

impl Config {
    /// Loads `<root>/tollgate.toml` over the defaults and validates it; a missing file means
    /// all defaults. The one way commands read their configuration.
    pub fn load(root: &Path) -> Result<Config, ConfigError> {
        Config::from_file(&ConfigFile::read(root)?)
    }

    /// Parses and validates configuration text; `path` only names the file in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        Config::from_file(&ConfigFile { path: path.to_owned(), text: text.to_owned() })
    }

    /// Parses and validates a read configuration file.
    pub fn from_file(file: &ConfigFile) -> Result<Config, ConfigError> {
        let config: Config = file.parse()?;
        config.validate(file)?;
        Ok(config)
    }

    /// Every check parsing cannot make, section by section, each by the crate that owns the
    /// section; the first failure, at its `file:line:column`. `file` is the text this
    /// configuration was parsed from (errors point into it).
    pub fn validate(&self, file: &ConfigFile) -> Result<(), ConfigError> {
        self.release.validate(file)?;
        self.sbom.validate(file)?;
        self.contracts.validate(file)?;
        self.evidence.validate(file)
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
levels = { "openapi/paths-path-removed" = "info" }

[[contracts.specs]]
kind = "openapi"
path = "api/openapi.yaml"

[[contracts.specs]]
kind = "jsonschema"
path = "events/order.json"
compatibility = "full"
version = "2.0.0"

[[contracts.exceptions]]
rule = "openapi/paths-path-removed"
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
        assert_eq!(cfg.contracts.levels["openapi/paths-path-removed"], Severity::Info);
        assert_eq!(cfg.contracts.specs[0].compatibility, CompatibilityMode::Backward);
        assert_eq!(cfg.contracts.specs[1].kind, SpecKind::Jsonschema);
        assert_eq!(cfg.contracts.specs[1].compatibility, CompatibilityMode::Full);
        assert_eq!(cfg.contracts.exceptions[0].owner, "team-x");
        assert_eq!(cfg.evidence.catalogs, ["ssdf"]);
        assert_eq!(cfg.evidence.controls["sbom"], ["ssdf:PS.3.2"]);
        assert_eq!(Config::parse(Path::new("t"), &cfg.to_toml()).unwrap(), cfg);
    }

    #[test]
    fn checks_beyond_parsing_name_the_file_line_and_column() {
        for (text, at, says) in [
            (
                "[contracts]\nlevels = { \"openapi/paths-path-remved\" = \"info\" }\n",
                "2:12",
                "did you mean \"openapi/paths-path-removed\"",
            ),
            ("[contracts.levels]\n\"lint/x\" = \"info\"\n", "2:1", "unknown rule id \"lint/x\""),
            (
                "[[contracts.exceptions]]\nrule = \"openapi/nope\"\nowner = \"o\"\nreason = \"r\"\nexpires = \"2030-01-01\"\n",
                "2:1",
                "unknown rule id \"openapi/nope\"",
            ),
            ("\n[release]\nstages = [\"attest\"]\n", "3:1", "needs the output of stage `sbom`"),
            ("[release]\nstages = []\n", "2:1", "no stages to run"),
            ("[evidence]\ncatalogs = [\"ssdf\", \"pci\"]\n", "2:21", "unknown catalog \"pci\""),
            (
                "[evidence.controls]\nsbom = [\"ssdf:PS.3.2\", \"nope\"]\n",
                "2:24",
                "evidence.controls.sbom[1]",
            ),
            ("[evidence.github]\nrepo = \"no-slash\"\n", "2:1", "evidence.github.repo"),
            ("[sbom]\nexclude = [\"a/**\", \"b/[\"]\n", "2:20", "not a glob"),
        ] {
            let err = Config::parse(Path::new("tollgate.toml"), text).unwrap_err().to_string();
            assert!(err.starts_with(&format!("tollgate.toml:{at}: ")), "{text:?}: {err}");
            assert!(err.contains(says), "{text:?}: {err}");
        }
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
