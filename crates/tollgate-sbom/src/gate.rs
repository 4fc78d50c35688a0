//! The `sbom` gate: its `[sbom]` configuration section, its rule table, and the checks the
//! CLI and the release pipeline call — catalogue a tree ([`ScanTarget`]), compare two SBOMs
//! ([`diff_report`]), compare a fresh SBOM with the committed baseline ([`check`],
//! [`baseline_status`]).

use crate::catalog::{self, CatalogOptions};
use crate::diff::{self, rules as diff_rules};
use crate::format::{self, CycloneDxVersion, DocumentInfo, SbomFormat};
use crate::read::{self, SbomDocument};
use crate::{Inventory, SbomError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tollgate_core::{
    ConfigError, ConfigFile, Finding, GateInput, GateReport, GateRules, Rule, Severity,
};

/// The gate's name in reports of the release stage.
pub const GATE: &str = "sbom";
/// The gate's name in reports of `tollgate sbom diff`.
pub const DIFF_GATE: &str = "sbom-diff";

/// Rule: no committed baseline SBOM to compare the release's SBOM with.
pub const NO_BASELINE: Rule =
    Rule::new("sbom/no-baseline", Severity::Info, "no committed baseline SBOM to compare with");

/// The rule table: the baseline rule and every SBOM-diff rule, at their default levels.
pub fn rules() -> GateRules {
    GateRules::new(
        GATE,
        "SBOMs of the tree, and what changed since the committed baseline",
        vec![
            NO_BASELINE,
            diff_rules::ADDED,
            diff_rules::REMOVED,
            diff_rules::UPGRADED,
            diff_rules::DOWNGRADED,
            diff_rules::LICENCE_CHANGED,
            diff_rules::HASH_CHANGED,
        ],
    )
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

impl SbomConfig {
    /// Checks what parsing cannot: every `exclude` entry is a glob. Errors point at the entry
    /// in `file`, the configuration this section was read from.
    pub fn validate(&self, file: &ConfigFile) -> Result<(), ConfigError> {
        for (i, pattern) in self.exclude.iter().enumerate() {
            if let Err(e) = globset::Glob::new(pattern) {
                let index = i.to_string();
                return Err(file.invalid_at(
                    &[GATE, "exclude", &index],
                    format!("sbom.exclude[{i}]: {pattern:?} is not a glob: {}", e.kind()),
                ));
            }
        }
        Ok(())
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
            added: diff_rules::ADDED.level,
            removed: diff_rules::REMOVED.level,
            upgraded: diff_rules::UPGRADED.level,
            downgraded: diff_rules::DOWNGRADED.level,
            licence_changed: diff_rules::LICENCE_CHANGED.level,
            hash_changed: diff_rules::HASH_CHANGED.level,
            fail_on: Severity::Error,
        }
    }
}

/// What to catalogue: one directory (walked), or lockfiles — one (named relative to its
/// directory) or several (named relative to the working directory). Its `root` holds the
/// `tollgate.toml` that configures the scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanTarget {
    /// The directory scanned, or the lockfiles' directory.
    pub root: PathBuf,
    /// The lockfiles, when not walking `root`.
    pub files: Option<Vec<PathBuf>>,
}

/// A catalogued tree, ready to render.
#[derive(Debug, Clone)]
pub struct Scan {
    /// What was found.
    pub inventory: Inventory,
    /// Subject name, timestamp, tool version.
    pub info: DocumentInfo,
}

impl ScanTarget {
    /// A whole tree.
    pub fn tree(root: impl Into<PathBuf>) -> ScanTarget {
        ScanTarget { root: root.into(), files: None }
    }

    /// The target of `tollgate sbom PATH...`: every path must exist, and a directory must be
    /// the only path.
    pub fn from_paths(paths: &[PathBuf]) -> Result<ScanTarget, SbomError> {
        for path in paths {
            if !path.exists() {
                return Err(SbomError::BadPath {
                    path: path.clone(),
                    message: "no such file or directory",
                });
            }
        }
        Ok(match paths {
            [dir] if dir.is_dir() => ScanTarget::tree(dir),
            [file] => {
                let root =
                    file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
                ScanTarget { root: root.to_path_buf(), files: Some(paths.to_vec()) }
            }
            _ => {
                if let Some(dir) = paths.iter().find(|p| p.is_dir()) {
                    return Err(SbomError::BadPath {
                        path: dir.clone(),
                        message: "give one directory, or only lockfiles",
                    });
                }
                ScanTarget { root: PathBuf::from("."), files: Some(paths.to_vec()) }
            }
        })
    }

    /// Catalogues the target with `config`; the documents will carry `timestamp` and
    /// `tool_version`.
    pub fn scan(
        &self,
        config: &SbomConfig,
        timestamp: String,
        tool_version: &str,
    ) -> Result<Scan, SbomError> {
        let options = CatalogOptions { exclude: config.exclude.clone(), cargo_home: None };
        let inventory = match &self.files {
            Some(files) => catalog::catalog_paths(&self.root, files, &options)?,
            None => catalog::catalog_tree(&self.root, &options)?,
        };
        let subject = config.name.clone().unwrap_or_else(|| directory_name(&self.root));
        let info = DocumentInfo { subject, timestamp, tool_version: tool_version.to_owned() };
        Ok(Scan { inventory, info })
    }
}

fn directory_name(root: &Path) -> String {
    std::fs::canonicalize(root)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "project".to_owned())
}

/// The formats of the baseline and of a release's SBOMs, in the order they are written.
pub const BASELINE_FORMATS: [SbomFormat; 2] = [SbomFormat::CycloneDxJson, SbomFormat::SpdxJson];

/// The baseline files: `(format, path)` under `<root>/<baseline_dir>`.
pub fn baseline_files(root: &Path, config: &SbomConfig) -> Vec<(SbomFormat, PathBuf)> {
    BASELINE_FORMATS
        .into_iter()
        .map(|f| (f, root.join(&config.baseline_dir).join(f.file_name())))
        .collect()
}

/// Renders `scan` in every baseline format (CycloneDX at the default version).
pub fn render_documents(scan: &Scan) -> Vec<(SbomFormat, String)> {
    BASELINE_FORMATS
        .into_iter()
        .map(|f| (f, format::render(&scan.inventory, f, CycloneDxVersion::default(), &scan.info)))
        .collect()
}

/// `tollgate sbom diff OLD NEW`: the changes from `old` to `new` as an `sbom-diff` report.
/// `inputs` are the two files' names and digests.
pub fn diff_report(
    old: (&str, &SbomDocument),
    new: (&str, &SbomDocument),
    inputs: Vec<GateInput>,
    config: &SbomDiffConfig,
    started: String,
    duration_ms: u64,
) -> GateReport {
    let findings = diff::diff(old.1, new.1, old.0, new.0, config);
    GateReport::new(DIFF_GATE, inputs, findings, config.fail_on, started, duration_ms)
}

/// The release's SBOM, as the `sbom` stage hands it on: the scan and its CycloneDX text.
pub struct ReleaseSbom<'a> {
    /// The catalogued tree (its inputs become the report's inputs).
    pub scan: &'a Scan,
    /// The CycloneDX document written for the release, compared with the baseline.
    pub cyclonedx: &'a str,
    /// Its name in findings (`sbom/cyclonedx.json`).
    pub name: &'a str,
}

/// The committed baseline: its CycloneDX document (if committed) and its name in findings.
pub struct Baseline {
    /// The parsed baseline document; `None` when none is committed.
    pub document: Option<SbomDocument>,
    /// Its path relative to the repository root.
    pub name: String,
}

impl Baseline {
    /// Reads the committed CycloneDX baseline under `root`, if there is one.
    pub fn load(root: &Path, config: &SbomConfig) -> Result<Baseline, SbomError> {
        let (_, path) = &baseline_files(root, config)[0];
        let name = path.strip_prefix(root).unwrap_or(path).display().to_string();
        let document = if path.exists() { Some(read::read_file(path)?) } else { None };
        Ok(Baseline { document, name })
    }
}

/// The release `sbom` gate: the release's SBOM compared with the committed baseline.
pub fn check(
    sbom: &ReleaseSbom<'_>,
    baseline: &Baseline,
    config: &SbomConfig,
    started: String,
    duration_ms: u64,
) -> Result<GateReport, SbomError> {
    let findings = match &baseline.document {
        Some(old) => {
            let new = read::parse(Path::new(sbom.name), sbom.cyclonedx)?;
            diff::diff(old, &new, &baseline.name, sbom.name, &config.diff)
        }
        None => vec![
            NO_BASELINE
                .finding(NO_BASELINE.detects)
                .fix("run `tollgate sbom baseline` and commit the sbom/ directory"),
        ],
    };
    let inputs = sbom
        .scan
        .inventory
        .inputs
        .iter()
        .map(|(name, digest)| GateInput { name: name.clone(), digest: digest.clone() })
        .collect();
    Ok(GateReport::new(GATE, inputs, findings, config.diff.fail_on, started, duration_ms))
}

/// Whether one committed baseline file matches what would be written now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaselineStatus {
    /// Byte for byte what would be written.
    Current,
    /// Not committed.
    Missing,
    /// Differs: up to ten lines saying how.
    Stale(Vec<String>),
}

/// Compares the committed baseline file `path` (`committed` is its text, `None` when missing)
/// with a fresh scan of `target`, regenerated with the baseline's own timestamp so only real
/// changes show.
pub fn baseline_status(
    target: &ScanTarget,
    format: SbomFormat,
    path: &Path,
    committed: Option<&str>,
    config: &SbomConfig,
    tool_version: &str,
) -> Result<BaselineStatus, SbomError> {
    let Some(committed) = committed else { return Ok(BaselineStatus::Missing) };
    let doc = read::parse(path, committed)?;
    let timestamp = doc.timestamp.clone().unwrap_or_default();
    let scan = target.scan(config, timestamp, tool_version)?;
    let fresh = format::render(&scan.inventory, format, CycloneDxVersion::default(), &scan.info);
    if fresh == committed {
        return Ok(BaselineStatus::Current);
    }
    let now = read::parse(path, &fresh)?;
    let changes = diff::diff(&doc, &now, "baseline", "now", &config.diff);
    Ok(BaselineStatus::Stale(
        changes.iter().take(10).map(|f: &Finding| f.message.clone()).collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_table_has_every_rule_once_with_the_default_levels_of_the_config() {
        let table = rules();
        let ids: Vec<_> = table.rules.iter().map(|r| r.id).collect();
        let mut unique = ids.clone();
        unique.dedup();
        assert_eq!(ids, unique);
        let config = SbomDiffConfig::default();
        assert_eq!(table.get(diff_rules::HASH_CHANGED.id).unwrap().level, config.hash_changed);
        assert_eq!(table.get(diff_rules::DOWNGRADED.id).unwrap().level, config.downgraded);
    }

    #[test]
    fn scan_targets_reject_missing_paths_and_mixed_directories() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.lock");
        let err = ScanTarget::from_paths(std::slice::from_ref(&missing)).unwrap_err();
        assert_eq!(err.to_string(), format!("{}: no such file or directory", missing.display()));
        let lock = dir.path().join("Cargo.lock");
        std::fs::write(&lock, "").unwrap();
        let err = ScanTarget::from_paths(&[lock.clone(), dir.path().to_path_buf()]).unwrap_err();
        assert!(err.to_string().ends_with("give one directory, or only lockfiles"), "{err}");
        assert_eq!(ScanTarget::from_paths(std::slice::from_ref(&lock)).unwrap().root, dir.path());
        assert!(ScanTarget::from_paths(&[dir.path().to_path_buf()]).unwrap().files.is_none());
    }
}
