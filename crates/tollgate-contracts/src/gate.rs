//! The `contracts` gate: its `[contracts]` configuration section, its rule table, and the
//! checks the CLI and the release pipeline call.
//!
//! The decision, in order: every configured spec is loaded from the working tree and from the
//! baseline ref (git objects, no checkout) and compared once ([`compare`]); the changes become
//! findings at their rule's level (or `[contracts] levels`), accepted exceptions lower the ones
//! they cover, and a major version bump lowers the breaking ones ([`check`]). The same
//! comparison renders the changelog ([`changelog`]).

use crate::baseline::{self, BaselineError, GitTree};
use crate::change::{self, Change, Level, RuleDoc};
use crate::confine::{self, RefRoot};
use crate::exceptions::{self, Exceptions};
use crate::{ContractError, graphql, jsonschema, openapi};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tollgate_core::config::{CONFIG_FILE, ConfigError, ConfigFile};
use tollgate_core::time_source::{self, SourceDateEpochError};
use tollgate_core::{Finding, GateInput, GateReport, GateRules, Location, Rule, Severity};

/// The gate's name in reports of `contracts check` and the release stage.
pub const GATE: &str = "contracts";
/// The gate's name in reports of `contracts diff`.
pub const DIFF_GATE: &str = "contracts-diff";

/// Rule: no git ref to compare with.
pub const NO_BASELINE: Rule = Rule::new(
    "contracts/no-baseline",
    Severity::Info,
    "no release tag and no configured ref: nothing to compare the specs with",
);
/// Rule: no spec configured.
pub const NO_SPECS: Rule =
    Rule::new("contracts/no-specs", Severity::Info, "no API specs configured: nothing to compare");
/// Rule: the spec did not exist at the baseline ref.
pub const NEW_SPEC: Rule = Rule::new(
    "contracts/new-spec",
    Severity::Info,
    "a spec that did not exist at the baseline ref: nothing to compare",
);

/// The rule table: the gate's own rules, the exception rules and every spec kind's rules.
pub fn rules() -> GateRules {
    let mut rules = vec![NO_BASELINE, NO_SPECS, NEW_SPEC];
    rules.extend([exceptions::EXPIRED, exceptions::UNUSED, exceptions::INVALID]);
    #[cfg(feature = "pact")]
    rules.extend([
        Rule::new(
            crate::pact::INTERACTION_FAILED,
            Severity::Error,
            "a provider response that breaks an interaction a consumer's pact expects",
        ),
        Rule::new(
            crate::pact::INTERACTION_PASSED,
            Severity::Info,
            "a pact interaction the provider honours",
        ),
    ]);
    for kind in SpecKind::ALL {
        rules.extend(
            kind.rules().iter().map(|doc| Rule::new(doc.id, doc.level.severity(), doc.description)),
        );
    }
    GateRules::new(
        GATE,
        "OpenAPI, GraphQL and JSON Schema compatibility with the last release",
        rules,
    )
}

/// `[contracts]` settings: which specs are gated, against what, and how strictly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContractsConfig {
    /// Findings at or above this severity fail the gate.
    pub fail_on: Severity,
    /// What a major version bump does to breaking changes (OpenAPI `info.version`, or a
    /// spec's configured `version`).
    pub semver: SemverPolicy,
    /// Git ref the specs are compared with (default: the highest `vX.Y.Z` / `X.Y.Z` tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub against: Option<String>,
    /// Per-rule severity overrides: `"openapi/…" = "warning"`.
    pub levels: BTreeMap<String, Severity>,
    /// `[[contracts.specs]]`: the specs to gate.
    pub specs: Vec<ContractSpec>,
    /// `[[contracts.exceptions]]`: accepted, expiring exceptions.
    pub exceptions: Vec<ContractException>,
    /// `[contracts.sunset_notice]`: minimum days between deprecating an OpenAPI operation and
    /// its `x-sunset` date, per `x-stability-level`.
    pub sunset_notice: SunsetNotice,
}

/// `[contracts] semver`: a major version bump lowering breaking changes is a policy choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SemverPolicy {
    /// A major bump lowers breaking changes to info, with a note (the default).
    #[default]
    Downgrade,
    /// Breaking changes stay errors; a major bump is noted on each of them.
    Report,
}

/// `[contracts.sunset_notice]`: minimum deprecation notice in days per stability level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SunsetNotice {
    /// `x-stability-level: draft`.
    pub draft: u32,
    /// `x-stability-level: alpha`.
    pub alpha: u32,
    /// `x-stability-level: beta`.
    pub beta: u32,
    /// `x-stability-level: stable`, and operations without the extension.
    pub stable: u32,
}

impl Default for SunsetNotice {
    fn default() -> Self {
        let policy = openapi::Policy::default();
        let days = |level| policy.notice_days(level);
        use openapi::Stability::*;
        SunsetNotice {
            draft: days(Draft),
            alpha: days(Alpha),
            beta: days(Beta),
            stable: days(Stable),
        }
    }
}

impl SunsetNotice {
    /// The OpenAPI comparison policy these settings make.
    pub fn policy(&self) -> openapi::Policy {
        use openapi::Stability::*;
        openapi::Policy {
            sunset_notice_days: [
                (Draft, self.draft),
                (Alpha, self.alpha),
                (Beta, self.beta),
                (Stable, self.stable),
            ],
        }
    }
}

impl Default for ContractsConfig {
    fn default() -> Self {
        ContractsConfig {
            fail_on: Severity::Error,
            semver: SemverPolicy::Downgrade,
            against: None,
            levels: BTreeMap::new(),
            specs: Vec::new(),
            exceptions: Vec::new(),
            sunset_notice: SunsetNotice::default(),
        }
    }
}

impl ContractsConfig {
    /// Checks what parsing cannot: every `levels` key and every exception's `rule` is a rule
    /// of this gate ([`rules`]). Errors point at the key in `file`, the configuration this
    /// section was read from.
    pub fn validate(&self, file: &ConfigFile) -> Result<(), ConfigError> {
        let levels = self
            .levels
            .keys()
            .map(|id| (id.as_str(), vec![GATE.to_owned(), "levels".to_owned(), id.clone()]));
        let exceptions = self.exceptions.iter().enumerate().map(|(i, e)| {
            let key = vec![GATE.to_owned(), "exceptions".to_owned(), i.to_string(), "rule".into()];
            (e.rule.as_str(), key)
        });
        tollgate_core::rule::check_rule_ids(&rules(), file, levels.chain(exceptions))
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
    /// Every kind, in the order rule tables are listed.
    pub const ALL: [SpecKind; 3] = [SpecKind::Openapi, SpecKind::Graphql, SpecKind::Jsonschema];

    /// The lowercase name used in configuration and rule ids.
    pub fn as_str(self) -> &'static str {
        match self {
            SpecKind::Openapi => "openapi",
            SpecKind::Graphql => "graphql",
            SpecKind::Jsonschema => "jsonschema",
        }
    }

    /// The kind's rule table.
    pub fn rules(self) -> &'static [RuleDoc] {
        match self {
            SpecKind::Openapi => openapi::RULES,
            SpecKind::Graphql => graphql::RULES,
            SpecKind::Jsonschema => jsonschema::RULES,
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
    /// The directory the spec's `$ref`s may read files from, relative to the root holding
    /// tollgate.toml like `path` (OpenAPI; default: the spec's own directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_root: Option<PathBuf>,
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

/// Why a contracts check could not run (bad input, not a verdict).
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// A spec is missing, unreadable or malformed.
    #[error(transparent)]
    Spec(#[from] ContractError),
    /// A spec at the baseline ref is malformed.
    #[error("at {reference}: {cause}")]
    AtRef {
        /// The baseline ref.
        reference: String,
        /// What is wrong with the spec there (boxed: it is the largest variant).
        cause: Box<ContractError>,
    },
    /// The baseline ref or the repository cannot be read.
    #[error(transparent)]
    Baseline(#[from] BaselineError),
    /// A file cannot be read (the message names it).
    #[error("{0}")]
    Read(String),
    /// `SOURCE_DATE_EPOCH` is not a timestamp.
    #[error(transparent)]
    Time(#[from] SourceDateEpochError),
}

/// Where a spec's text comes from: the working tree or a git tree. Relative `$ref`s (OpenAPI)
/// are read from the same place, confined to the spec's root directory.
enum Source<'a> {
    /// Files under a directory; names are relative to it (or absolute).
    Disk(&'a Path),
    /// Files in a git tree; names are relative to `prefix` (where the root sits in the repo).
    Git(&'a GitTree, &'a Path),
}

/// Reads the files a spec's `$ref`s name, or says why it may not.
type RefReader<'a> = Box<dyn Fn(&str) -> Result<String, String> + 'a>;

impl Source<'_> {
    /// A spec file named by the caller or the configuration (size-limited, not confined).
    fn read(&self, name: &str) -> Result<String, String> {
        match self {
            Source::Disk(dir) => {
                let path = dir.join(name);
                confine::read_limited(&path)
                    .map_err(|e| format!("{}: cannot read: {e}", path.display()))
            }
            Source::Git(tree, prefix) => {
                tree.read(&prefix.join(name)).map_err(|e: BaselineError| e.to_string())
            }
        }
    }

    /// The reader for the `$ref`s of spec `name`: only files inside `ref_root` (relative to
    /// this source's directory; default: the spec's own directory).
    fn ref_reader(
        &self,
        name: &str,
        ref_root: Option<&Path>,
    ) -> Result<RefReader<'_>, ContractError> {
        let root = match ref_root {
            Some(root) => root.to_path_buf(),
            None => Path::new(name).parent().map(Path::to_path_buf).unwrap_or_default(),
        };
        match *self {
            Source::Disk(dir) => {
                let confined = RefRoot::new(&dir.join(&root))?;
                Ok(Box::new(move |other: &str| confined.read(&dir.join(other))))
            }
            Source::Git(tree, prefix) => Ok(Box::new(move |other: &str| {
                if !lexically_inside(Path::new(other), &root) {
                    return Err(format!(
                        "`{other}` is outside the spec's root directory `{}` (set ref_root to allow it)",
                        root.display()
                    ));
                }
                tree.read(&prefix.join(other)).map_err(|e| e.to_string())
            })),
        }
    }
}

/// Whether the relative, normalised `path` lies under `root` without climbing out of it.
fn lexically_inside(path: &Path, root: &Path) -> bool {
    use std::path::Component;
    let plain =
        |p: &Path| p.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    plain(path)
        && plain(root)
        && path
            .starts_with(root.components().filter(|c| *c != Component::CurDir).collect::<PathBuf>())
}

/// A loaded spec of any kind.
enum Loaded {
    OpenApi(openapi::Spec),
    Graphql(graphql::Schema),
    JsonSchema(jsonschema::Document),
}

impl Loaded {
    /// Parses `text` (read from `source` as `name`).
    /// `ref_root` confines OpenAPI `$ref`s (see [`Source::ref_reader`]).
    fn parse(
        kind: SpecKind,
        name: &str,
        text: &str,
        source: &Source<'_>,
        ref_root: Option<&Path>,
    ) -> Result<Loaded, ContractError> {
        Ok(match kind {
            SpecKind::Openapi => {
                let reader = source.ref_reader(name, ref_root)?;
                Loaded::OpenApi(openapi::load_str(name, text, reader)?)
            }
            SpecKind::Graphql => Loaded::Graphql(graphql::parse(name, text)?),
            SpecKind::Jsonschema => Loaded::JsonSchema(jsonschema::parse(name, text)?),
        })
    }

    /// The version the semver rule uses (OpenAPI's `info.version`).
    fn version(&self) -> Option<String> {
        match self {
            Loaded::OpenApi(spec) => openapi::version(spec).map(str::to_owned),
            _ => None,
        }
    }

    /// The changes from `self` to `revision` (both of one kind, as loaded for one spec).
    fn diff(
        &self,
        revision: &Loaded,
        compatibility: CompatibilityMode,
        policy: &openapi::Policy,
    ) -> Vec<Change> {
        match (self, revision) {
            (Loaded::OpenApi(b), Loaded::OpenApi(r)) => openapi::diff_with(b, r, policy),
            (Loaded::Graphql(b), Loaded::Graphql(r)) => graphql::diff(b, r),
            (Loaded::JsonSchema(b), Loaded::JsonSchema(r)) => {
                let mode = match compatibility {
                    CompatibilityMode::Backward => jsonschema::Compatibility::Backward,
                    CompatibilityMode::Forward => jsonschema::Compatibility::Forward,
                    CompatibilityMode::Full => jsonschema::Compatibility::Full,
                };
                jsonschema::check(b, r, mode)
            }
            // `Loaded::parse` of one `SpecKind` always yields one variant.
            _ => unreachable!("specs of different kinds compared"),
        }
    }
}

/// `tollgate contracts diff`: two spec files of one kind (paths relative to the working
/// directory), judged by the levels of `config` and the semver rule (OpenAPI); `fail_on`
/// decides the verdict. OpenAPI `$ref`s read only files inside `ref_root` (default: each
/// spec's own directory).
#[allow(clippy::too_many_arguments)]
pub fn diff_files(
    kind: SpecKind,
    base: &Path,
    revision: &Path,
    compatibility: CompatibilityMode,
    ref_root: Option<&Path>,
    config: &ContractsConfig,
    fail_on: Severity,
    started: String,
) -> Result<GateReport, GateError> {
    let clock = std::time::Instant::now();
    let disk = Source::Disk(Path::new(""));
    let mut loaded = Vec::new();
    let mut inputs = Vec::new();
    for path in [base, revision] {
        let name = path.to_string_lossy().replace('\\', "/");
        let text = disk.read(&name).map_err(GateError::Read)?;
        loaded.push(Loaded::parse(kind, &name, &text, &disk, ref_root)?);
        inputs.push(GateInput::of(name.clone(), text.as_bytes()));
    }
    let (base, revision) = (&loaded[0], &loaded[1]);
    let changes = base.diff(revision, compatibility, &config.sunset_notice.policy());
    let mut findings = change::to_findings(&changes, &config.levels);
    if kind == SpecKind::Openapi {
        baseline::apply_semver(
            &mut findings,
            base.version().as_deref(),
            revision.version().as_deref(),
            config.semver == SemverPolicy::Downgrade,
        );
    }
    Ok(GateReport::new(
        DIFF_GATE,
        inputs,
        findings,
        fail_on,
        started,
        clock.elapsed().as_millis() as u64,
    ))
}

/// One spec compared with its baseline.
#[derive(Debug, Clone)]
pub struct SpecResult {
    /// The spec's path as configured, with `/` separators.
    pub spec: String,
    /// Its kind.
    pub kind: SpecKind,
    /// The changes since the baseline; `None` when the spec is new since the baseline.
    pub changes: Option<Vec<Change>>,
    /// The baseline's version (configured at the ref, else in the document).
    pub base_version: Option<String>,
    /// The revision's version (configured, else in the document).
    pub revision_version: Option<String>,
    /// The working-tree file, digested.
    pub input: GateInput,
}

/// What a contracts run compared: nothing (and why), or every spec against a ref.
#[derive(Debug, Clone)]
pub enum Comparison {
    /// No `[[contracts.specs]]`.
    NoSpecs,
    /// Specs, but no release tag and no configured ref.
    NoBaseline,
    /// Every spec loaded and compared once against `reference`.
    Compared {
        /// The baseline ref.
        reference: String,
        /// One result per configured spec, in configuration order.
        results: Vec<SpecResult>,
    },
}

/// The baseline ref: `flag` (`--against`), else `[contracts] against`, else the last release
/// tag of the repository at `root`.
pub fn baseline_ref(root: &Path, flag: Option<&str>, config: &ContractsConfig) -> Option<String> {
    flag.map(str::to_owned)
        .or_else(|| config.against.clone())
        .or_else(|| baseline::last_release_tag(root))
}

/// Loads every configured spec from `root` and from `reference` and compares each once.
pub fn compare(
    root: &Path,
    config: &ContractsConfig,
    reference: Option<&str>,
) -> Result<Comparison, GateError> {
    if config.specs.is_empty() {
        return Ok(Comparison::NoSpecs);
    }
    let Some(reference) = reference else { return Ok(Comparison::NoBaseline) };
    let results = compare_all(root, config, reference)?;
    Ok(Comparison::Compared { reference: reference.to_owned(), results })
}

/// The `[contracts]` section of the configuration at the baseline ref, if it has one that
/// parses (for the versions of GraphQL and JSON Schema specs, which carry none themselves).
fn base_config(tree: &GitTree, prefix: &Path) -> Option<ContractsConfig> {
    let name = prefix.join(CONFIG_FILE);
    let text = tree.read(&name).ok()?;
    tollgate_core::config::parse_section(&name, &text, GATE).ok()
}

fn configured_version(config: Option<&ContractsConfig>, spec: &ContractSpec) -> Option<String> {
    config?
        .specs
        .iter()
        .find(|s| s.path == spec.path && s.kind == spec.kind)
        .and_then(|s| s.version.clone())
}

fn compare_all(
    root: &Path,
    config: &ContractsConfig,
    reference: &str,
) -> Result<Vec<SpecResult>, GateError> {
    let tree = GitTree::open(root, reference)?;
    let prefix = baseline::prefix_in_repo(root)?;
    let old_config = base_config(&tree, &prefix);
    let mut out = Vec::new();
    for spec in &config.specs {
        let name = spec.path.to_string_lossy().replace('\\', "/");
        let disk = Source::Disk(root);
        let text = disk.read(&name).map_err(GateError::Read)?;
        let ref_root = spec.ref_root.as_deref();
        let revision = Loaded::parse(spec.kind, &name, &text, &disk, ref_root)?;
        let git = Source::Git(&tree, &prefix);
        let base = match git.read(&name) {
            Ok(base_text) => Some(
                Loaded::parse(spec.kind, &name, &base_text, &git, ref_root).map_err(|cause| {
                    GateError::AtRef { reference: reference.to_owned(), cause: Box::new(cause) }
                })?,
            ),
            Err(_) => None,
        };
        let policy = config.sunset_notice.policy();
        let changes = base.as_ref().map(|base| base.diff(&revision, spec.compatibility, &policy));
        let base_version = configured_version(old_config.as_ref(), spec)
            .or_else(|| base.as_ref().and_then(Loaded::version));
        let revision_version = spec.version.clone().or_else(|| revision.version());
        out.push(SpecResult {
            spec: name.clone(),
            kind: spec.kind,
            changes,
            base_version,
            revision_version,
            input: GateInput::of(name.clone(), text.as_bytes()),
        });
    }
    Ok(out)
}

/// The `contracts` gate over a comparison: changes at their levels, exceptions, the semver
/// rule; `fail_on` decides the verdict.
pub fn check(
    comparison: &Comparison,
    config: &ContractsConfig,
    fail_on: Severity,
    started: String,
    duration_ms: u64,
) -> Result<GateReport, GateError> {
    let (inputs, findings) = findings(comparison, config)?;
    Ok(GateReport::new(GATE, inputs, findings, fail_on, started, duration_ms))
}

fn findings(
    comparison: &Comparison,
    config: &ContractsConfig,
) -> Result<(Vec<GateInput>, Vec<Finding>), GateError> {
    let (reference, results) = match comparison {
        Comparison::NoSpecs => {
            let finding = NO_SPECS
                .finding(NO_SPECS.detects)
                .fix("list specs under [[contracts.specs]] in tollgate.toml (kind, path)");
            return Ok((Vec::new(), vec![finding]));
        }
        Comparison::NoBaseline => {
            let finding = NO_BASELINE
                .finding(
                    "no baseline: no release tag (vX.Y.Z) and no --against ref, so there is \
                     nothing to compare the specs with",
                )
                .fix("tag a release, or pass --against REF (or set [contracts] against)");
            return Ok((Vec::new(), vec![finding]));
        }
        Comparison::Compared { reference, results } => (reference, results),
    };
    let today = time_source::now()?.date();
    let mut exceptions = Exceptions::new(&config.exceptions, today, CONFIG_FILE);
    let mut inputs = Vec::new();
    let mut findings = Vec::new();
    for result in results {
        inputs.push(result.input.clone());
        let Some(changes) = &result.changes else {
            findings.push(
                NEW_SPEC
                    .finding(format!(
                        "{} is new since {reference}: nothing to compare",
                        result.spec
                    ))
                    .at(Location::file(result.spec.clone())),
            );
            continue;
        };
        let mut spec_findings = change::to_findings(changes, &config.levels);
        exceptions.apply(&result.spec, &mut spec_findings);
        baseline::apply_semver(
            &mut spec_findings,
            result.base_version.as_deref(),
            result.revision_version.as_deref(),
            config.semver == SemverPolicy::Downgrade,
        );
        tracing::info!(spec = %result.spec, kind = result.kind.as_str(), changes = changes.len(), "compared");
        findings.extend(spec_findings);
    }
    findings.extend(exceptions.finish());
    Ok((inputs, findings))
}

/// The Markdown changelog of a comparison against `reference`: breaking, dangerous and safe
/// changes (at the levels of `config`, before exceptions), then new specs.
pub fn changelog(reference: &str, results: &[SpecResult], config: &ContractsConfig) -> String {
    let mut groups: BTreeMap<Severity, Vec<String>> = BTreeMap::new();
    let mut new_specs = Vec::new();
    for result in results {
        let Some(changes) = &result.changes else {
            new_specs.push(format!("- `{}` ({}) is new\n", result.spec, result.kind.as_str()));
            continue;
        };
        for finding in change::to_findings(changes, &config.levels) {
            let subject =
                finding.subject.as_deref().map(|s| format!("`{s}`: ")).unwrap_or_default();
            groups.entry(finding.severity).or_default().push(format!(
                "- {subject}{} (`{}`, {})\n",
                finding.message, finding.rule, result.spec
            ));
        }
    }
    let mut out = format!("# API changes since {reference}\n\n");
    for (severity, title) in [
        (Severity::Error, "Breaking changes"),
        (Severity::Warning, "Dangerous changes"),
        (Severity::Info, "Safe changes"),
    ] {
        let lines = groups.remove(&severity).unwrap_or_default();
        out.push_str(&format!("## {title}\n\n"));
        if lines.is_empty() {
            out.push_str("None.\n");
        } else {
            out.extend(lines);
        }
        out.push('\n');
    }
    if !new_specs.is_empty() {
        out.push_str("## New specs\n\n");
        out.extend(new_specs);
        out.push('\n');
    }
    out
}

/// `tollgate contracts changelog` when there is no baseline ref.
pub const NO_BASELINE_CHANGELOG: &str =
    "# API changes\n\nNo baseline: no release tag and no --against ref.\n";

/// The rule tables of `kinds` as aligned text (`tollgate contracts rules`): a heading per
/// kind, then id, level, area, direction and description per rule.
pub fn render_rule_docs(kinds: &[SpecKind]) -> String {
    let mut text = String::new();
    for kind in kinds {
        let rules = kind.rules();
        let width = rules.iter().map(|r| r.id.len()).max().unwrap_or(0);
        text.push_str(&format!("# {} ({} rules)\n", kind.as_str(), rules.len()));
        for rule in rules {
            text.push_str(&format!(
                "{:width$}  {:7}  {:<14}  {:<8}  {}\n",
                rule.id,
                level_name(rule.level),
                rule.area,
                rule.direction,
                rule.description
            ));
        }
        text.push('\n');
    }
    text
}

fn level_name(level: Level) -> &'static str {
    level.severity().as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexically_inside_keeps_names_under_the_root() {
        let inside = |path: &str, root: &str| lexically_inside(Path::new(path), Path::new(root));
        assert!(inside("api/schemas/user.yaml", "api"));
        assert!(inside("user.yaml", ""));
        assert!(inside("api/user.yaml", "./api"));
        assert!(!inside("shared/user.yaml", "api"));
        assert!(!inside("apis/user.yaml", "api"));
        assert!(!inside("../user.yaml", ""));
        assert!(!inside("/etc/passwd", ""));
        assert!(!inside("api/../../x.yaml", "api"));
    }

    #[test]
    fn ref_root_is_read_from_the_spec_entry() {
        let text = "[[contracts.specs]]\nkind = \"openapi\"\npath = \"api/openapi.yaml\"\nref_root = \".\"\n";
        let config: ContractsConfig =
            tollgate_core::config::parse_section(Path::new(CONFIG_FILE), text, GATE).unwrap();
        assert_eq!(config.specs[0].ref_root.as_deref(), Some(Path::new(".")));
    }

    #[test]
    fn semver_and_sunset_notice_are_read_and_default() {
        let text = "semver = \"report\"\n[sunset_notice]\nstable = 90\n";
        let text = text.replace("[sunset_notice]", "[contracts.sunset_notice]");
        let text = format!("[contracts]\n{text}");
        let config: ContractsConfig =
            tollgate_core::config::parse_section(Path::new(CONFIG_FILE), &text, GATE).unwrap();
        assert_eq!(config.semver, SemverPolicy::Report);
        assert_eq!(config.sunset_notice.stable, 90);
        assert_eq!(config.sunset_notice.beta, 31, "unset levels keep their default");
        let policy = config.sunset_notice.policy();
        assert_eq!(policy.notice_days(openapi::Stability::Stable), 90);
        assert_eq!(ContractsConfig::default().semver, SemverPolicy::Downgrade);
    }

    /// `semver = "report"`: a major bump no longer lowers a breaking change.
    #[test]
    fn semver_report_keeps_breaking_changes_failing() {
        let tmp = tempfile::tempdir().unwrap();
        let spec = |version: &str, path: &str| {
            format!(
                "openapi: 3.1.0\ninfo: {{title: t, version: '{version}'}}\npaths:\n  {path}:\n    get:\n      responses: {{'200': {{description: ok}}}}\n"
            )
        };
        let base = tmp.path().join("base.yaml");
        let revision = tmp.path().join("revision.yaml");
        std::fs::write(&base, spec("1.0.0", "/a")).unwrap();
        std::fs::write(&revision, spec("2.0.0", "/b")).unwrap();
        let run = |semver| {
            let config = ContractsConfig { semver, ..ContractsConfig::default() };
            diff_files(
                SpecKind::Openapi,
                &base,
                &revision,
                CompatibilityMode::Backward,
                Some(tmp.path()),
                &config,
                Severity::Error,
                String::new(),
            )
            .unwrap()
        };
        let removed = |report: &GateReport| {
            report
                .findings
                .iter()
                .find(|f| f.rule == "openapi/paths-path-removed")
                .cloned()
                .unwrap()
        };
        assert_eq!(removed(&run(SemverPolicy::Downgrade)).severity, Severity::Info);
        let reported = removed(&run(SemverPolicy::Report));
        assert_eq!(reported.severity, Severity::Error);
        assert!(reported.message.contains("1.0.0 -> 2.0.0"), "{}", reported.message);
    }
}
