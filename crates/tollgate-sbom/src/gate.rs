//! The `sbom` gate: its `[sbom]` configuration section, its rule table, and the checks the
//! CLI and the release pipeline call — catalogue a tree ([`ScanTarget`]), compare two SBOMs
//! ([`diff_report`]), compare a fresh SBOM with the committed baseline ([`check`],
//! [`baseline_status`]).

use crate::catalog::{self, CatalogOptions, Detected, FoundLockfile};
use crate::diff::{self, rules as diff_rules};
use crate::format::{self, CycloneDxVersion, DocumentInfo, SbomFormat, SkippedLockfile};
use crate::read::{self, SbomDocument};
use crate::{Inventory, SbomError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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

/// Rule: a lockfile found in the scanned tree could not be read (malformed, truncated, not
/// UTF-8, unreadable from disk); the SBOM lacks what it locks.
pub const UNREADABLE_LOCKFILE: Rule = Rule::new(
    "sbom/unreadable-lockfile",
    Severity::Warning,
    "a lockfile in the scanned tree cannot be read; the SBOM leaves it out",
);

/// Rule: a lockfile found in the scanned tree is of a format or format version Tollgate does
/// not read; the SBOM lacks what it locks.
pub const UNSUPPORTED_LOCKFILE: Rule = Rule::new(
    "sbom/unsupported-lockfile",
    Severity::Warning,
    "a lockfile in the scanned tree is of a format or version Tollgate does not read",
);

/// Rule: a lockfile disagrees with its manifest (a declared dependency is not locked); what it
/// does lock is catalogued where the cataloguer can tell, otherwise the file is left out.
pub const OUT_OF_DATE_LOCKFILE: Rule = Rule::new(
    "sbom/out-of-date-lockfile",
    Severity::Warning,
    "a lockfile in the scanned tree disagrees with its manifest",
);

/// The rules a tree scan reports instead of failing, each at its configured level; at
/// `error` (or with `--strict`) the scan fails as an input error instead.
pub const SCAN_RULES: [Rule; 3] = [UNREADABLE_LOCKFILE, UNSUPPORTED_LOCKFILE, OUT_OF_DATE_LOCKFILE];

/// The rule table: the baseline rule, the scan rules and every SBOM-diff rule, at their
/// default levels.
pub fn rules() -> GateRules {
    GateRules::new(
        GATE,
        "SBOMs of the tree, and what changed since the committed baseline",
        vec![
            NO_BASELINE,
            UNREADABLE_LOCKFILE,
            UNSUPPORTED_LOCKFILE,
            OUT_OF_DATE_LOCKFILE,
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
    /// Per-rule levels of the scan rules and `sbom/no-baseline`: `"sbom/…" = "error"`. A
    /// scan rule at `error` makes a tree scan fail on that kind of lockfile (exit 2), as
    /// `tollgate sbom --strict` does for all three. The diff rules' levels are `[sbom.diff]`.
    pub levels: BTreeMap<String, Severity>,
    /// `[sbom.diff]`: how much each kind of change between two SBOMs matters.
    pub diff: SbomDiffConfig,
}

impl Default for SbomConfig {
    fn default() -> Self {
        SbomConfig {
            name: None,
            exclude: DEFAULT_EXCLUDE.iter().map(|p| (*p).to_owned()).collect(),
            baseline_dir: PathBuf::from("sbom"),
            levels: BTreeMap::new(),
            diff: SbomDiffConfig::default(),
        }
    }
}

/// Where lockfiles that do not ship usually live: dependency and build directories, test
/// fixtures and test data, fuzz harnesses. `[sbom] exclude` replaces the whole list.
pub const DEFAULT_EXCLUDE: [&str; 8] = [
    "**/node_modules/**",
    "**/target/**",
    "**/test*/fixtures/**",
    "**/testdata/**",
    "**/__fixtures__/**",
    "**/e2e/**/fixtures/**",
    "**/spec/fixtures/**",
    "**/fuzz/**",
];

impl SbomConfig {
    /// The level of `rule` under this configuration (`levels`, else the rule's default).
    pub fn level(&self, rule: &Rule) -> Severity {
        self.levels.get(rule.id).copied().unwrap_or(rule.level)
    }

    /// Checks what parsing cannot: every `exclude` entry is a glob, every `levels` key a rule
    /// of this gate that is not a diff rule. Errors point at the entry in `file`, the
    /// configuration this section was read from.
    pub fn validate(&self, file: &ConfigFile) -> Result<(), ConfigError> {
        let levels = self
            .levels
            .keys()
            .map(|id| (id.as_str(), vec![GATE.into(), "levels".into(), id.clone()]));
        tollgate_core::rule::check_rule_ids(&rules(), file, levels)?;
        for id in self.levels.keys() {
            if !SCAN_RULES.iter().chain([&NO_BASELINE]).any(|r| r.id == id) {
                return Err(file.invalid_at(
                    &[GATE, "levels", id],
                    format!("{id:?} is a diff rule: set its level in [sbom.diff]"),
                ));
            }
        }
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
    /// Subject name, timestamp, tool version, and the lockfiles left out.
    pub info: DocumentInfo,
    /// One finding per lockfile of the tree that was not (fully) catalogued, at its rule's
    /// configured level (never `error`: those fail the scan).
    pub findings: Vec<Finding>,
    /// Every lockfile found and what happened to it, sorted by path (`tollgate sbom --explain`).
    pub lockfiles: Vec<LockfileOutcome>,
}

/// What a scan did with one lockfile it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockfileOutcome {
    /// The lockfile, relative to the scanned root, `/`-separated.
    pub path: String,
    /// What happened to it.
    pub outcome: Outcome,
}

/// What happened to a lockfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Its packages are in the SBOM.
    Catalogued,
    /// Not read: an `[sbom] exclude` pattern matched it.
    Excluded {
        /// The first pattern (in configuration order) that matched.
        pattern: String,
    },
    /// Catalogued as locked, but it disagrees with its manifests: each disagreement is a
    /// finding of `rule` (`sbom/out-of-date-lockfile`).
    OutOfDate {
        /// The rule's id.
        rule: &'static str,
        /// Each disagreement, with the file and place.
        reasons: Vec<String>,
    },
    /// Not read: reported as a finding of `rule`.
    Skipped {
        /// The scan rule's id (`sbom/unreadable-lockfile`, …).
        rule: &'static str,
        /// Why, with the file and place.
        reason: String,
    },
}

impl Outcome {
    /// One line for `tollgate sbom --explain`.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Catalogued => "catalogued".to_owned(),
            Outcome::Excluded { pattern } => format!("excluded by {pattern:?}"),
            Outcome::OutOfDate { rule, reasons } => {
                format!("catalogued, out of date ({rule}): {}", reasons.join("; "))
            }
            Outcome::Skipped { rule, reason } => format!("skipped ({rule}): {reason}"),
        }
    }
}

/// The scan rule that reports a cataloguer's error about a file of the scanned tree.
fn scan_rule(error: &SbomError) -> Rule {
    match error {
        SbomError::UnsupportedVersion { .. } => UNSUPPORTED_LOCKFILE,
        SbomError::OutOfSync { .. } => OUT_OF_DATE_LOCKFILE,
        SbomError::Io { .. }
        | SbomError::Malformed { .. }
        | SbomError::NothingFound(_)
        | SbomError::BadPath { .. } => UNREADABLE_LOCKFILE,
    }
}

/// The finding about `lockfile` for `error` (made relative to `root`), and the reason text.
fn lockfile_finding(
    root: &Path,
    lockfile: &str,
    rule: Rule,
    level: Severity,
    error: SbomError,
    what: &str,
) -> (Finding, String) {
    let error = error.relative_to(root);
    let place = error.place();
    let mut location =
        tollgate_core::Location::file(catalog::relative_name(Path::new(""), &place.path));
    if let Some(line) = place.line {
        location = location.at_line(u32::try_from(line).unwrap_or(u32::MAX));
    }
    let reason = error.to_string();
    let finding = rule
        .finding_at(level, format!("{lockfile} {what}: {reason}"))
        .at(location)
        .about(lockfile.to_owned())
        .fix(remediation(&rule));
    (finding, reason)
}

/// What a finding about a lockfile left out tells the user to do.
fn remediation(rule: &Rule) -> &'static str {
    if rule.id == OUT_OF_DATE_LOCKFILE.id {
        "re-lock with the package manager (cargo update --workspace, npm install, go mod tidy, …) and commit the lockfile, or exclude it in [sbom] exclude"
    } else if rule.id == UNSUPPORTED_LOCKFILE.id {
        "re-lock with a supported tool version, or exclude the file in [sbom] exclude if it does not ship"
    } else {
        "repair or regenerate the lockfile, or exclude it in [sbom] exclude if it does not ship"
    }
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
    /// `tool_version`. A tree scan reports each lockfile it cannot catalogue as a finding at
    /// its rule's configured level (see [`ScanTarget::scan_with`]).
    pub fn scan(
        &self,
        config: &SbomConfig,
        timestamp: String,
        tool_version: &str,
    ) -> Result<Scan, SbomError> {
        self.scan_with(config, false, timestamp, tool_version)
    }

    /// [`ScanTarget::scan`], optionally `strict`.
    ///
    /// Lockfiles named explicitly must all be catalogued: any error is the scan's error. A
    /// tree scan catalogues every lockfile it can; each one it cannot (unreadable, of an
    /// unsupported format or version, out of date with its manifest) becomes a finding of
    /// the matching scan rule, is listed in the documents' metadata, and is left out —
    /// unless `strict` is set or the rule's level is `error`, when the first such lockfile's
    /// error is the scan's error, as before these rules existed.
    pub fn scan_with(
        &self,
        config: &SbomConfig,
        strict: bool,
        timestamp: String,
        tool_version: &str,
    ) -> Result<Scan, SbomError> {
        let options = CatalogOptions { exclude: config.exclude.clone(), cargo_home: None };
        let subject = config.name.clone().unwrap_or_else(|| directory_name(&self.root));
        let info = DocumentInfo {
            subject,
            timestamp,
            tool_version: tool_version.to_owned(),
            ..DocumentInfo::default()
        };
        let Some(files) = &self.files else {
            return self.scan_tree(config, strict, &options, info);
        };
        let inventory = catalog::catalog_paths(&self.root, files, &options)?;
        let lockfiles = files
            .iter()
            .map(|f| LockfileOutcome {
                path: catalog::relative_name(&self.root, f),
                outcome: Outcome::Catalogued,
            })
            .collect();
        Ok(Scan { inventory, info, findings: Vec::new(), lockfiles })
    }

    fn scan_tree(
        &self,
        config: &SbomConfig,
        strict: bool,
        options: &CatalogOptions,
        mut info: DocumentInfo,
    ) -> Result<Scan, SbomError> {
        let root = &self.root;
        let found = catalog::find_all(root, &config.exclude)?;
        let catalogued = |f: &FoundLockfile| {
            f.excluded_by.is_none() && matches!(f.detected, Detected::Supported(_))
        };
        if !found.iter().any(catalogued) {
            return Err(SbomError::NothingFound(root.clone()));
        }
        let mut inventory = Inventory::default();
        let mut findings = Vec::new();
        let mut lockfiles = Vec::new();
        for file in found {
            let FoundLockfile { path, relative, detected, excluded_by } = file;
            if let Some(pattern) = excluded_by {
                lockfiles.push(LockfileOutcome {
                    path: relative,
                    outcome: Outcome::Excluded { pattern },
                });
                continue;
            }
            let drift_level =
                if strict { Severity::Error } else { config.level(&OUT_OF_DATE_LOCKFILE) };
            let result = match detected {
                // Below `error`, drift does not stop the cataloguer: what is locked is kept.
                Detected::Supported(kind) if drift_level < Severity::Error => {
                    let (result, drift) = catalog::drift::collect(|| {
                        catalog::catalog_file(root, kind, &path, options)
                    });
                    result.map(|found| (found, drift)).map_err(|e| (scan_rule(&e), e))
                }
                Detected::Supported(kind) => catalog::catalog_file(root, kind, &path, options)
                    .map(|found| (found, Vec::new()))
                    .map_err(|e| (scan_rule(&e), e)),
                Detected::Unsupported(format) => Err((
                    UNSUPPORTED_LOCKFILE,
                    SbomError::malformed(
                        crate::error::Place::file(&path),
                        format!("{format} is a lockfile format Tollgate does not read"),
                    ),
                )),
            };
            let (rule, error) = match result {
                Ok((found, drift)) => {
                    inventory.extend(found);
                    if drift.is_empty() {
                        lockfiles
                            .push(LockfileOutcome { path: relative, outcome: Outcome::Catalogued });
                        continue;
                    }
                    let mut reasons = Vec::with_capacity(drift.len());
                    for error in drift {
                        let (finding, reason) = lockfile_finding(
                            root,
                            &relative,
                            OUT_OF_DATE_LOCKFILE,
                            drift_level,
                            error,
                            "is out of date; what it locks is in the SBOM",
                        );
                        findings.push(finding);
                        info.out_of_date.push(SkippedLockfile {
                            path: relative.clone(),
                            rule: OUT_OF_DATE_LOCKFILE.id,
                            reason: reason.clone(),
                        });
                        reasons.push(reason);
                    }
                    lockfiles.push(LockfileOutcome {
                        path: relative,
                        outcome: Outcome::OutOfDate { rule: OUT_OF_DATE_LOCKFILE.id, reasons },
                    });
                    continue;
                }
                Err(failed) => failed,
            };
            let level = if strict { Severity::Error } else { config.level(&rule) };
            if level == Severity::Error {
                return Err(error);
            }
            let (finding, reason) =
                lockfile_finding(root, &relative, rule, level, error, "is not in the SBOM");
            findings.push(finding);
            info.skipped.push(SkippedLockfile {
                path: relative.clone(),
                rule: rule.id,
                reason: reason.clone(),
            });
            lockfiles.push(LockfileOutcome {
                path: relative,
                outcome: Outcome::Skipped { rule: rule.id, reason },
            });
        }
        inventory.normalize();
        info.skipped.sort();
        info.out_of_date.sort();
        Ok(Scan { inventory, info, findings, lockfiles })
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

/// `tollgate sbom`'s report: the scan's findings (lockfiles left out) judged by `[sbom.diff]
/// fail_on`, with every file read as an input.
pub fn scan_report(
    scan: &Scan,
    config: &SbomConfig,
    started: String,
    duration_ms: u64,
) -> GateReport {
    GateReport::new(
        GATE,
        scan_inputs(scan),
        scan.findings.clone(),
        config.diff.fail_on,
        started,
        duration_ms,
    )
}

fn scan_inputs(scan: &Scan) -> Vec<GateInput> {
    scan.inventory
        .inputs
        .iter()
        .map(|(name, digest)| GateInput { name: name.clone(), digest: digest.clone() })
        .collect()
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
                .finding_at(config.level(&NO_BASELINE), NO_BASELINE.detects)
                .fix("run `tollgate sbom baseline` and commit the sbom/ directory"),
        ],
    };
    // The lockfiles the scan could not catalogue reach the release report too.
    let findings = findings.into_iter().chain(sbom.scan.findings.iter().cloned()).collect();
    let inputs = scan_inputs(sbom.scan);
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

    fn validate(text: &str) -> Result<(), String> {
        let file = ConfigFile { path: "tollgate.toml".into(), text: text.into() };
        let table: toml::Table = toml::from_str(text).unwrap();
        let config: SbomConfig = table["sbom"].clone().try_into().unwrap();
        config.validate(&file).map_err(|e| e.to_string())
    }

    #[test]
    fn levels_name_scan_rules_or_the_baseline_rule_at_their_place() {
        let ok = "[sbom.levels]\n\"sbom/unreadable-lockfile\" = \"error\"\n\"sbom/no-baseline\" = \"warning\"\n";
        validate(ok).unwrap();
        let err = validate("[sbom.levels]\n\"sbom/unreadable-lockfle\" = \"error\"\n").unwrap_err();
        assert!(
            err.starts_with("tollgate.toml:2:1: unknown rule id \"sbom/unreadable-lockfle\" for the sbom gate; did you mean \"sbom/unreadable-lockfile\"?"),
            "{err}"
        );
        let err = validate("[sbom]\nlevels = { \"sbom-diff/component-added\" = \"error\" }\n")
            .unwrap_err();
        assert_eq!(
            err,
            "tollgate.toml:2:12: \"sbom-diff/component-added\" is a diff rule: set its level in [sbom.diff]"
        );
    }

    #[test]
    fn levels_override_the_scan_rules_defaults() {
        let mut config = SbomConfig::default();
        assert_eq!(config.level(&UNREADABLE_LOCKFILE), Severity::Warning);
        config.levels.insert(UNREADABLE_LOCKFILE.id.into(), Severity::Error);
        assert_eq!(config.level(&UNREADABLE_LOCKFILE), Severity::Error);
        assert_eq!(config.level(&OUT_OF_DATE_LOCKFILE), Severity::Warning);
        assert!(SCAN_RULES.iter().all(|r| rules().get(r.id) == Some(r)));
    }

    #[test]
    fn default_excludes_cover_the_places_that_do_not_ship() {
        let globs: Vec<globset::GlobMatcher> = SbomConfig::default()
            .exclude
            .iter()
            .map(|p| globset::Glob::new(p).unwrap().compile_matcher())
            .collect();
        let excluded = |path: &str| globs.iter().any(|g| g.is_match(path));
        for path in [
            "fuzz/Cargo.lock",
            "crates/x/fuzz/Cargo.lock",
            "packages/a/test/fixtures/yarn.lock",
            "packages/a/tests/fixtures/deep/pnpm-lock.yaml",
            "pkg/testdata/go.mod",
            "web/e2e/app/fixtures/package-lock.json",
            "src/__fixtures__/package-lock.json",
            "spec/fixtures/Gemfile.lock",
            "web/node_modules/x/package-lock.json",
        ] {
            assert!(excluded(path), "{path} should be excluded");
        }
        for path in
            ["Cargo.lock", "web/package-lock.json", "e2e/package-lock.json", "tests/uv.lock"]
        {
            assert!(!excluded(path), "{path} should be catalogued");
        }
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
