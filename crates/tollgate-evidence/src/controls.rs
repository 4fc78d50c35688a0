//! Control catalogs shipped as data, evidence kinds, the kind → control mapping, and coverage.
//!
//! The catalogs (`controls/{soc2,iso27001,ssdf,slsa}.json`) and the default mapping
//! (`controls/mapping.json`, each kind with the reason for its controls) are embedded in the
//! binary and parsed once. A control is named across catalogs by its *qualified id*,
//! `catalog:control` (`soc2:CC8.1`, `iso27001:8.32`, `ssdf:PS.3.2`, `slsa:Build-L2`).
//!
//! [`classify`] gives each archive path an [`EvidenceKind`] from its name alone; a [`Mapping`]
//! (the default, or `[evidence]` of `tollgate.toml` over it) gives each kind its controls;
//! [`coverage`] is the pure function from a file list to what each catalog's controls have as
//! evidence.
//!
//! Control ids are ordered *naturally*: digit runs compare as numbers (`5.9` < `5.10`).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::OnceLock;

use crate::gate::EvidenceConfig;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::EvidenceError;

const CATALOG_FILES: [(&str, &str); 4] = [
    ("controls/soc2.json", include_str!("../controls/soc2.json")),
    ("controls/iso27001.json", include_str!("../controls/iso27001.json")),
    ("controls/ssdf.json", include_str!("../controls/ssdf.json")),
    ("controls/slsa.json", include_str!("../controls/slsa.json")),
];
const MAPPING_FILE: (&str, &str) =
    ("controls/mapping.json", include_str!("../controls/mapping.json"));

/// A control catalog: a framework's controls with their short official titles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Short id used in qualified control ids (`soc2`, `iso27001`, `ssdf`, `slsa`).
    pub id: String,
    /// The framework's name.
    pub title: String,
    /// The edition of the framework.
    pub version: String,
    /// Where the framework is published.
    pub source: String,
    /// Every control, unique ids in natural order.
    pub controls: Vec<Control>,
}

/// One control of a [`Catalog`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    /// The id within its catalog (`CC8.1`).
    pub id: String,
    /// Its short title.
    pub title: String,
}

impl Catalog {
    /// The control with id `id`, if the catalog has it.
    pub fn control(&self, id: &str) -> Option<&Control> {
        self.controls.iter().find(|c| c.id == id)
    }
}

/// Every shipped catalog, parsed once, in the order `soc2`, `iso27001`, `ssdf`, `slsa`.
///
/// The embedded files are checked by this crate's tests; a file that did not parse would be
/// a build defect, so it yields no catalog rather than an error at run time.
pub fn catalogs() -> &'static [Catalog] {
    static CATALOGS: OnceLock<Vec<Catalog>> = OnceLock::new();
    CATALOGS.get_or_init(|| {
        CATALOG_FILES.iter().filter_map(|(_, text)| serde_json::from_str(text).ok()).collect()
    })
}

/// The shipped catalog with id `id`.
pub fn catalog(id: &str) -> Option<&'static Catalog> {
    catalogs().iter().find(|c| c.id == id)
}

/// Compares control ids naturally: runs of ASCII digits compare as numbers, the rest as bytes.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    fn runs(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ra, rb) = (runs(a), runs(b));
    for ((da, sa), (db, sb)) in ra.iter().zip(rb.iter()) {
        let order = if *da && *db {
            let (ta, tb) = (sa.trim_start_matches('0'), sb.trim_start_matches('0'));
            ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb)).then_with(|| sa.len().cmp(&sb.len()))
        } else {
            sa.cmp(sb)
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    ra.len().cmp(&rb.len())
}

/// What a file of a run directory is evidence of.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "kebab-case")]
pub enum EvidenceKind {
    /// A CycloneDX or SPDX SBOM (`cyclonedx*.json`, `spdx*.json`, `*.cdx.json`, `*.spdx.json`).
    Sbom,
    /// Signed provenance (`*.sigstore.json`, `*.dsse.json`, `*.intoto.jsonl`).
    Provenance,
    /// A stage's `GateReport` (`<stage>.json` at the top of the run directory).
    GateReport,
    /// The release run's summary and verdict (`release.json`).
    ReleaseSummary,
    /// Test results in JUnit XML (`*.xml` with a word `junit*`, `test` or `tests` in the name:
    /// `junit.xml`, `TEST-core.xml`, `unit-tests.xml`).
    TestReport,
    /// Release checklist sign-offs (under `signoffs/` or `checklist/`, or named `*signoff*`).
    Signoff,
    /// Schema migration reports (`db-migrate.json`, `migrat*.json`, under `migrations/`).
    MigrationReport,
    /// Backup verification / restore drill reports (`db-verify.json`, `backup*.json`,
    /// `restore*.json`).
    BackupVerification,
    /// The release's commit range and commit signatures (`git.json`).
    GitHistory,
    /// Pull requests, reviews and checks of the release's changes (`changes.json`).
    ChangeManagement,
    /// A public key (`*.pub`).
    PublicKey,
    /// A document the bundle build generated (OSCAL, GitLab release evidence, report).
    Export,
    /// Anything else.
    #[default]
    Other,
}

impl EvidenceKind {
    /// Every kind, in declaration order.
    pub const ALL: [EvidenceKind; 13] = [
        EvidenceKind::Sbom,
        EvidenceKind::Provenance,
        EvidenceKind::GateReport,
        EvidenceKind::ReleaseSummary,
        EvidenceKind::TestReport,
        EvidenceKind::Signoff,
        EvidenceKind::MigrationReport,
        EvidenceKind::BackupVerification,
        EvidenceKind::GitHistory,
        EvidenceKind::ChangeManagement,
        EvidenceKind::PublicKey,
        EvidenceKind::Export,
        EvidenceKind::Other,
    ];

    /// The kebab-case name used in manifests and `[evidence.controls]` (`gate-report`).
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::Sbom => "sbom",
            EvidenceKind::Provenance => "provenance",
            EvidenceKind::GateReport => "gate-report",
            EvidenceKind::ReleaseSummary => "release-summary",
            EvidenceKind::TestReport => "test-report",
            EvidenceKind::Signoff => "signoff",
            EvidenceKind::MigrationReport => "migration-report",
            EvidenceKind::BackupVerification => "backup-verification",
            EvidenceKind::GitHistory => "git-history",
            EvidenceKind::ChangeManagement => "change-management",
            EvidenceKind::PublicKey => "public-key",
            EvidenceKind::Export => "export",
            EvidenceKind::Other => "other",
        }
    }

    /// The kind named `name` (as [`EvidenceKind::as_str`] writes it).
    pub fn parse(name: &str) -> Option<EvidenceKind> {
        EvidenceKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// The evidence kind of a run-directory file, from its archive path (`/`-separated) alone.
///
/// Matches what `tollgate release` writes: `release.json`, `<stage>.json` gate reports,
/// `sbom/cyclonedx.json`, `sbom/spdx.json`, `attest/provenance.sigstore.json`,
/// `attest/ephemeral.pub`, `git.json`, `changes.json`. More specific rules win: a
/// top-level `db-verify.json` is a backup verification, not a generic gate report.
pub fn classify(path: &str) -> EvidenceKind {
    let lower = path.to_ascii_lowercase();
    let (dir, name) = match lower.rsplit_once('/') {
        Some((dir, name)) => (dir, name),
        None => ("", lower.as_str()),
    };
    let in_dir = |d: &str| dir.split('/').any(|c| c == d);
    let json = name.ends_with(".json");
    if dir.is_empty() && name == "release.json" {
        EvidenceKind::ReleaseSummary
    } else if dir.is_empty() && name == "git.json" {
        EvidenceKind::GitHistory
    } else if dir.is_empty() && name == "changes.json" {
        EvidenceKind::ChangeManagement
    } else if name.ends_with(".sigstore.json")
        || name.ends_with(".dsse.json")
        || name.ends_with(".intoto.jsonl")
        || name.ends_with(".intoto.json")
    {
        EvidenceKind::Provenance
    } else if json
        && (name.starts_with("cyclonedx")
            || name.starts_with("spdx")
            || name.ends_with(".cdx.json")
            || name.ends_with(".spdx.json"))
    {
        EvidenceKind::Sbom
    } else if name.ends_with(".pub") {
        EvidenceKind::PublicKey
    } else if in_dir("signoffs") || in_dir("checklist") || name.contains("signoff") {
        EvidenceKind::Signoff
    } else if json
        && (name.starts_with("db-verify")
            || name.starts_with("backup")
            || name.starts_with("restore"))
    {
        EvidenceKind::BackupVerification
    } else if json
        && (name.starts_with("db-migrate") || name.starts_with("migrat") || in_dir("migrations"))
    {
        EvidenceKind::MigrationReport
    } else if name.ends_with(".xml")
        && name
            .trim_end_matches(".xml")
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|word| word.starts_with("junit") || word == "test" || word == "tests")
    {
        EvidenceKind::TestReport
    } else if dir.is_empty() && json {
        EvidenceKind::GateReport
    } else {
        EvidenceKind::Other
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    #[allow(dead_code)]
    description: String,
    kinds: BTreeMap<String, MappingEntry>,
}

/// One kind's controls in the shipped default mapping, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingEntry {
    /// Qualified control ids.
    pub controls: Vec<String>,
    /// Why this evidence supports those controls.
    pub why: String,
}

/// The shipped default mapping (`controls/mapping.json`), kind name → entry.
pub fn default_mapping_entries() -> &'static BTreeMap<String, MappingEntry> {
    static MAPPING: OnceLock<BTreeMap<String, MappingEntry>> = OnceLock::new();
    MAPPING.get_or_init(|| {
        serde_json::from_str::<MappingFile>(MAPPING_FILE.1).map(|m| m.kinds).unwrap_or_default()
    })
}

/// Orders qualified ids: by catalog (shipped order), then control id naturally.
pub fn qualified_cmp(a: &str, b: &str) -> Ordering {
    let rank = |q: &str| {
        let (cat, id) = q.split_once(':').unwrap_or((q, ""));
        (
            catalogs().iter().position(|c| c.id == cat).unwrap_or(usize::MAX),
            cat.to_owned(),
            id.to_owned(),
        )
    };
    let (ra, rb) = (rank(a), rank(b));
    ra.0.cmp(&rb.0).then_with(|| ra.1.cmp(&rb.1)).then_with(|| natural_cmp(&ra.2, &rb.2))
}

/// Which catalogs are in use and which controls each evidence kind supports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mapping {
    /// The catalog ids in use, in the configured order.
    pub catalogs: Vec<String>,
    /// Kind → qualified control ids, restricted to the catalogs in use, sorted
    /// ([`qualified_cmp`]); every kind is present.
    pub kinds: BTreeMap<EvidenceKind, Vec<String>>,
    /// The kinds whose list came from `[evidence.controls]` rather than the default.
    pub overridden: BTreeSet<EvidenceKind>,
}

impl Default for Mapping {
    /// Every shipped catalog, the shipped mapping.
    fn default() -> Self {
        Mapping::from_config(
            &EvidenceConfig::default(),
            Path::new(tollgate_core::config::CONFIG_FILE),
        )
        .unwrap_or_else(|_| Mapping {
            catalogs: Vec::new(),
            kinds: BTreeMap::new(),
            overridden: BTreeSet::new(),
        })
    }
}

impl Mapping {
    /// The mapping `[evidence]` describes: its catalogs, the shipped mapping with the kinds of
    /// `[evidence.controls]` replaced. `source` names the configuration file in errors, which
    /// name the key: an unknown catalog, kind, or control id, or a malformed qualified id.
    /// Controls of known catalogs that are not in use are dropped, not errors.
    pub fn from_config(config: &EvidenceConfig, source: &Path) -> Result<Mapping, EvidenceError> {
        let err = |key: String, message: String| EvidenceError::Config {
            path: source.to_owned(),
            key,
            message,
        };
        let known: Vec<&str> = catalogs().iter().map(|c| c.id.as_str()).collect();
        let mut in_use = Vec::new();
        for (i, id) in config.catalogs.iter().enumerate() {
            if catalog(id).is_none() {
                return Err(err(
                    format!("evidence.catalogs[{i}]"),
                    format!("unknown catalog {id:?}; known: {}", known.join(", ")),
                ));
            }
            if !in_use.contains(id) {
                in_use.push(id.clone());
            }
        }
        let mut kinds = BTreeMap::new();
        let mut overridden = BTreeSet::new();
        for (name, ids) in &config.controls {
            let Some(kind) = EvidenceKind::parse(name) else {
                let names: Vec<&str> = EvidenceKind::ALL.iter().map(|k| k.as_str()).collect();
                return Err(err(
                    format!("evidence.controls.{name}"),
                    format!("unknown evidence kind {name:?}; known: {}", names.join(", ")),
                ));
            };
            for (i, id) in ids.iter().enumerate() {
                check_qualified(id)
                    .map_err(|message| err(format!("evidence.controls.{name}[{i}]"), message))?;
            }
            kinds.insert(kind, ids.clone());
            overridden.insert(kind);
        }
        for kind in EvidenceKind::ALL {
            kinds.entry(kind).or_insert_with(|| {
                default_mapping_entries()
                    .get(kind.as_str())
                    .map(|e| e.controls.clone())
                    .unwrap_or_default()
            });
        }
        for ids in kinds.values_mut() {
            ids.retain(|q| {
                q.split_once(':').is_some_and(|(cat, _)| in_use.iter().any(|c| c == cat))
            });
            ids.sort_by(|a, b| qualified_cmp(a, b));
            ids.dedup();
        }
        Ok(Mapping { catalogs: in_use, kinds, overridden })
    }

    /// The qualified control ids `kind` supports.
    pub fn controls(&self, kind: EvidenceKind) -> &[String] {
        self.kinds.get(&kind).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The catalogs in use, in order.
    pub fn used_catalogs(&self) -> Vec<&'static Catalog> {
        self.catalogs.iter().filter_map(|id| catalog(id)).collect()
    }

    /// The policy set as canonical JSON (compact, keys in a fixed order): the catalogs in use,
    /// whole, and the mapping, plus `policies` (path and SHA-256 of each policy file).
    pub fn policy_json(&self, policies: &[(String, String)]) -> Vec<u8> {
        #[derive(Serialize)]
        struct Policy<'a> {
            catalogs: Vec<&'a Catalog>,
            mapping: BTreeMap<&'a str, &'a [String]>,
            policies: Vec<PolicyFile<'a>>,
        }
        #[derive(Serialize)]
        struct PolicyFile<'a> {
            path: &'a str,
            sha256: &'a str,
        }
        let policy = Policy {
            catalogs: self.used_catalogs(),
            mapping: self.kinds.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect(),
            policies: policies.iter().map(|(path, sha256)| PolicyFile { path, sha256 }).collect(),
        };
        serde_json::to_vec(&policy).unwrap_or_default()
    }

    /// SHA-256 (hex) of [`Mapping::policy_json`].
    pub fn policy_sha256(&self, policies: &[(String, String)]) -> String {
        hex::encode(Sha256::digest(self.policy_json(policies)))
    }
}

/// Checks a qualified id names a shipped catalog and one of its controls.
pub fn check_qualified(id: &str) -> Result<(&'static Catalog, &'static Control), String> {
    let Some((cat, control)) = id.split_once(':') else {
        return Err(format!(
            "{id:?} is not a qualified control id (catalog:control, e.g. \"soc2:CC8.1\")"
        ));
    };
    let Some(catalog) = catalog(cat) else {
        let known: Vec<&str> = catalogs().iter().map(|c| c.id.as_str()).collect();
        return Err(format!("{id:?}: unknown catalog {cat:?}; known: {}", known.join(", ")));
    };
    match catalog.control(control) {
        Some(c) => Ok((catalog, c)),
        None => {
            Err(format!("{id:?}: catalog {cat} ({}) has no control {control:?}", catalog.title))
        }
    }
}

/// Coverage of every catalog in use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// One entry per catalog, in the mapping's order.
    pub catalogs: Vec<CatalogCoverage>,
}

/// One catalog's controls and their evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogCoverage {
    /// Catalog id (`soc2`).
    pub id: String,
    /// Catalog title.
    pub title: String,
    /// Catalog version.
    pub version: String,
    /// Controls with at least one evidence file.
    pub covered: usize,
    /// All controls of the catalog.
    pub total: usize,
    /// Every control of the catalog, in catalog order.
    pub controls: Vec<ControlCoverage>,
}

/// One control and the files supporting it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControlCoverage {
    /// Control id within the catalog (`CC8.1`).
    pub id: String,
    /// Qualified id (`soc2:CC8.1`).
    pub qualified_id: String,
    /// Title.
    pub title: String,
    /// Archive paths of the supporting files, sorted; empty: not covered.
    pub evidence: Vec<String>,
}

impl CatalogCoverage {
    /// Ids of the controls without evidence, in catalog order.
    pub fn uncovered(&self) -> Vec<&str> {
        self.controls.iter().filter(|c| c.evidence.is_empty()).map(|c| c.id.as_str()).collect()
    }
}

/// Coverage of `mapping`'s catalogs by the files at `paths` (archive paths), each classified
/// with [`classify`] and mapped with `mapping`. Pure: the files are not read.
pub fn coverage<'a>(paths: impl IntoIterator<Item = &'a str>, mapping: &Mapping) -> Coverage {
    let files: Vec<(String, Vec<String>)> =
        paths.into_iter().map(|p| (p.to_owned(), mapping.controls(classify(p)).to_vec())).collect();
    coverage_of(&mapping.catalogs, files.iter().map(|(p, c)| (p.as_str(), c.as_slice())))
}

/// Coverage of the catalogs `catalog_ids` by files each listing the qualified ids they
/// support (as a manifest's entries do). Unknown catalogs are skipped.
pub fn coverage_of<'a>(
    catalog_ids: &[String],
    files: impl IntoIterator<Item = (&'a str, &'a [String])>,
) -> Coverage {
    let mut by_control: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (path, controls) in files {
        for control in controls {
            by_control.entry(control.as_str()).or_default().insert(path);
        }
    }
    let catalogs = catalog_ids
        .iter()
        .filter_map(|id| catalog(id))
        .map(|catalog| {
            let controls: Vec<ControlCoverage> = catalog
                .controls
                .iter()
                .map(|c| {
                    let qualified_id = format!("{}:{}", catalog.id, c.id);
                    let evidence = by_control
                        .get(qualified_id.as_str())
                        .map(|s| s.iter().map(|p| (*p).to_owned()).collect())
                        .unwrap_or_default();
                    ControlCoverage {
                        id: c.id.clone(),
                        qualified_id,
                        title: c.title.clone(),
                        evidence,
                    }
                })
                .collect();
            CatalogCoverage {
                id: catalog.id.clone(),
                title: catalog.title.clone(),
                version: catalog.version.clone(),
                covered: controls.iter().filter(|c| !c.evidence.is_empty()).count(),
                total: controls.len(),
                controls,
            }
        })
        .collect();
    Coverage { catalogs }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_parses_with_unique_sorted_ids() {
        assert_eq!(catalogs().len(), CATALOG_FILES.len(), "a catalog file does not parse");
        for (file, text) in CATALOG_FILES {
            let catalog: Catalog =
                serde_json::from_str(text).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(!catalog.controls.is_empty(), "{file}");
            for pair in catalog.controls.windows(2) {
                assert_eq!(
                    natural_cmp(&pair[0].id, &pair[1].id),
                    Ordering::Less,
                    "{file}: {} then {} (ids must be unique and in natural order)",
                    pair[0].id,
                    pair[1].id
                );
            }
            for control in &catalog.controls {
                assert!(
                    !control.title.trim().is_empty() && !control.id.contains(':'),
                    "{file}: {control:?}"
                );
            }
        }
        let count = |id: &str| catalog(id).unwrap().controls.len();
        assert_eq!(count("soc2"), 33, "CC1.1–CC9.2");
        assert_eq!(count("iso27001"), 93, "Annex A 5.1–8.34");
        assert_eq!(count("slsa"), 3);
        let ssdf = catalog("ssdf").unwrap();
        assert_eq!(ssdf.controls.first().unwrap().id, "PO.1");
        assert_eq!(ssdf.controls.last().unwrap().id, "RV.3.4");
        assert!(ssdf.control("PW.4.3").is_none(), "moved to PO.1.3 in SSDF 1.1");
        let iso = catalog("iso27001").unwrap();
        assert_eq!(iso.control("8.32").unwrap().title, "Change management");
        assert_eq!(iso.controls.last().unwrap().id, "8.34");
    }

    #[test]
    fn default_mapping_names_real_controls_and_every_kind() {
        let entries = default_mapping_entries();
        assert_eq!(entries.len(), EvidenceKind::ALL.len());
        for (kind, entry) in entries {
            assert!(EvidenceKind::parse(kind).is_some(), "{kind}");
            assert!(!entry.why.is_empty(), "{kind}");
            for id in &entry.controls {
                check_qualified(id).unwrap_or_else(|e| panic!("mapping.json {kind}: {e}"));
            }
        }
        let mapping = Mapping::default();
        assert_eq!(mapping.catalogs, ["soc2", "iso27001", "ssdf", "slsa"]);
        assert!(mapping.controls(EvidenceKind::Provenance).contains(&"slsa:Build-L1".to_owned()));
        assert!(
            mapping.controls(EvidenceKind::ChangeManagement).contains(&"soc2:CC8.1".to_owned())
        );
        assert!(mapping.controls(EvidenceKind::Other).is_empty());
        let sbom = mapping.controls(EvidenceKind::Sbom);
        let mut sorted = sbom.to_vec();
        sorted.sort_by(|a, b| qualified_cmp(a, b));
        assert_eq!(sbom, sorted);
        assert_eq!(sbom[0], "soc2:CC7.1", "soc2 first, then iso27001 5.9 before 5.21: {sbom:?}");
        assert_eq!(&sbom[1..3], ["iso27001:5.9", "iso27001:5.21"]);
    }

    #[test]
    fn natural_order() {
        assert_eq!(natural_cmp("5.9", "5.10"), Ordering::Less);
        assert_eq!(natural_cmp("PO.1", "PO.1.1"), Ordering::Less);
        assert_eq!(natural_cmp("CC9.2", "CC10.1"), Ordering::Less);
        assert_eq!(natural_cmp("8.34", "8.34"), Ordering::Equal);
        assert_eq!(natural_cmp("PW.9.2", "RV.1"), Ordering::Less);
    }

    #[test]
    fn classifies_what_a_release_writes() {
        let cases = [
            ("release.json", EvidenceKind::ReleaseSummary),
            ("sbom.json", EvidenceKind::GateReport),
            ("contracts.json", EvidenceKind::GateReport),
            ("attest.json", EvidenceKind::GateReport),
            ("sbom/cyclonedx.json", EvidenceKind::Sbom),
            ("sbom/spdx.json", EvidenceKind::Sbom),
            ("images/app.cdx.json", EvidenceKind::Sbom),
            ("attest/provenance.sigstore.json", EvidenceKind::Provenance),
            ("attest/provenance.dsse.json", EvidenceKind::Provenance),
            ("attest/build.intoto.jsonl", EvidenceKind::Provenance),
            ("attest/ephemeral.pub", EvidenceKind::PublicKey),
            ("git.json", EvidenceKind::GitHistory),
            ("changes.json", EvidenceKind::ChangeManagement),
            ("tests/junit.xml", EvidenceKind::TestReport),
            ("TEST-core.xml", EvidenceKind::TestReport),
            ("reports/unit-tests.xml", EvidenceKind::TestReport),
            ("junit-e2e.xml", EvidenceKind::TestReport),
            ("latest.xml", EvidenceKind::Other),
            ("signoffs/qa.json", EvidenceKind::Signoff),
            ("checklist/release.yaml", EvidenceKind::Signoff),
            ("db-migrate.json", EvidenceKind::MigrationReport),
            ("db/migrations/plan.json", EvidenceKind::MigrationReport),
            ("db-verify.json", EvidenceKind::BackupVerification),
            ("db/backup-2024.json", EvidenceKind::BackupVerification),
            ("contracts/CHANGELOG.md", EvidenceKind::Other),
            ("pom.xml", EvidenceKind::Other),
            ("nested/git.json", EvidenceKind::Other),
            ("nested/report.json", EvidenceKind::Other),
        ];
        for (path, kind) in cases {
            assert_eq!(classify(path), kind, "{path}");
        }
    }

    fn config(toml: &str) -> EvidenceConfig {
        tollgate_core::config::parse_section(Path::new("tollgate.toml"), toml, "evidence").unwrap()
    }

    #[test]
    fn overrides_replace_a_kind_and_catalogs_restrict() {
        let mapping = Mapping::from_config(
            &config("[evidence]\ncatalogs = [\"ssdf\", \"slsa\"]\n[evidence.controls]\nsbom = [\"ssdf:PW.4.4\", \"soc2:CC9.2\"]\nother = [\"slsa:Build-L3\"]\n"),
            Path::new("tollgate.toml"),
        )
        .unwrap();
        assert_eq!(mapping.catalogs, ["ssdf", "slsa"]);
        // soc2 is not in use: dropped, not an error; the default for sbom is replaced whole.
        assert_eq!(mapping.controls(EvidenceKind::Sbom), ["ssdf:PW.4.4"]);
        assert_eq!(mapping.controls(EvidenceKind::Other), ["slsa:Build-L3"]);
        assert_eq!(
            mapping.controls(EvidenceKind::Provenance),
            ["ssdf:PO.3.3", "ssdf:PS.2.1", "ssdf:PS.3.2", "slsa:Build-L1", "slsa:Build-L2"]
        );
        assert_eq!(mapping.overridden.len(), 2);
        assert_ne!(mapping.policy_sha256(&[]), Mapping::default().policy_sha256(&[]));
        assert_ne!(
            mapping.policy_sha256(&[]),
            mapping.policy_sha256(&[("policies/a.rego".into(), "00".into())])
        );
    }

    #[test]
    fn config_errors_name_the_file_and_key() {
        let check = |toml: &str, key: &str, want: &str| {
            let err =
                Mapping::from_config(&config(toml), Path::new("repo/tollgate.toml")).unwrap_err();
            let text = err.to_string();
            assert!(text.starts_with("repo/tollgate.toml: evidence."), "{text}");
            assert!(text.contains(key) && text.contains(want), "{key} / {want}: {text}");
            assert!(err.is_input_error());
        };
        check(
            "[evidence]\ncatalogs = [\"soc2\", \"pci\"]\n",
            "evidence.catalogs[1]",
            "unknown catalog \"pci\"",
        );
        check(
            "[evidence.controls]\nsbom = [\"ssdf:PS.9.9\"]\n",
            "evidence.controls.sbom[0]",
            "has no control \"PS.9.9\"",
        );
        check(
            "[evidence.controls]\nsbom = [\"nist:AC-1\"]\n",
            "evidence.controls.sbom[0]",
            "unknown catalog \"nist\"",
        );
        check(
            "[evidence.controls]\nsbom = [\"CC8.1\"]\n",
            "evidence.controls.sbom[0]",
            "not a qualified control id",
        );
        check(
            "[evidence.controls]\nbinaries = []\n",
            "evidence.controls.binaries",
            "unknown evidence kind",
        );
    }

    #[test]
    fn coverage_counts_controls_with_evidence() {
        let mapping = Mapping::from_config(
            &config("[evidence]\ncatalogs = [\"slsa\", \"soc2\"]\n"),
            Path::new("tollgate.toml"),
        )
        .unwrap();
        let paths =
            ["attest/provenance.sigstore.json", "changes.json", "notes.txt", "attest/b.dsse.json"];
        let coverage = coverage(paths, &mapping);
        let ids: Vec<&str> = coverage.catalogs.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["slsa", "soc2"]);
        let slsa = &coverage.catalogs[0];
        assert_eq!((slsa.covered, slsa.total), (2, 3));
        assert_eq!(slsa.uncovered(), ["Build-L3"]);
        assert_eq!(
            slsa.controls[0].evidence,
            ["attest/b.dsse.json", "attest/provenance.sigstore.json"]
        );
        let soc2 = &coverage.catalogs[1];
        // provenance -> CC6.8, change-management -> CC8.1.
        assert_eq!((soc2.covered, soc2.total), (2, 33));
        let cc81 = soc2.controls.iter().find(|c| c.id == "CC8.1").unwrap();
        assert_eq!(cc81.evidence, ["changes.json"]);
        assert_eq!(cc81.qualified_id, "soc2:CC8.1");
        // No files: nothing covered; every control still listed.
        let empty = super::coverage([], &mapping);
        assert_eq!(empty.catalogs[1].covered, 0);
        assert_eq!(empty.catalogs[1].uncovered().len(), 33);
    }
}
