//! `tollgate contracts diff|check|rules|changelog`, and the release `contracts` stage.

use crate::cli::{
    CompatibilityArg, ContractsChangelogArgs, ContractsCheckArgs, ContractsDiffArgs,
    ContractsRulesArgs, SpecKindArg,
};
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;
use tollgate_contracts::baseline::{self, BaselineError, GitTree};
use tollgate_contracts::change::{self, Change, Level, RuleDoc};
use tollgate_contracts::exceptions::Exceptions;
use tollgate_contracts::{graphql, jsonschema, openapi};
use tollgate_core::config::CONFIG_FILE as CONFIG_FILE_NAME;
use tollgate_core::config::{CompatibilityMode, ContractSpec, SpecKind};
use tollgate_core::{
    Config, Digest, Finding, GateInput, GateReport, Severity, Verdict, time_source,
};

/// Rule id: no git ref to compare with.
const NO_BASELINE: &str = "contracts/no-baseline";
/// Rule id: no spec configured.
const NO_SPECS: &str = "contracts/no-specs";
/// Rule id: the spec did not exist at the baseline ref.
const NEW_SPEC: &str = "contracts/new-spec";

fn kind_of(arg: SpecKindArg) -> SpecKind {
    match arg {
        SpecKindArg::Openapi => SpecKind::Openapi,
        SpecKindArg::Graphql => SpecKind::Graphql,
        SpecKindArg::Jsonschema => SpecKind::Jsonschema,
    }
}

fn compatibility_of(arg: CompatibilityArg) -> CompatibilityMode {
    match arg {
        CompatibilityArg::Backward => CompatibilityMode::Backward,
        CompatibilityArg::Forward => CompatibilityMode::Forward,
        CompatibilityArg::Full => CompatibilityMode::Full,
    }
}

/// Where a spec's text comes from: the working tree or a git tree. Relative `$ref`s (OpenAPI)
/// are read from the same place.
enum Source<'a> {
    /// Files under a directory; names are relative to it (or absolute).
    Disk(&'a Path),
    /// Files in a git tree; names are relative to `prefix` (where the root sits in the repo).
    Git(&'a GitTree, &'a Path),
}

impl Source<'_> {
    fn read(&self, name: &str) -> Result<String, String> {
        match self {
            Source::Disk(dir) => {
                let path = dir.join(name);
                std::fs::read_to_string(&path)
                    .map_err(|e| format!("{}: cannot read: {e}", path.display()))
            }
            Source::Git(tree, prefix) => {
                tree.read(&prefix.join(name)).map_err(|e: BaselineError| e.to_string())
            }
        }
    }
}

/// A loaded spec of any kind, with the version the semver rule uses.
enum Loaded {
    OpenApi(openapi::Spec),
    Graphql(graphql::Schema),
    JsonSchema(jsonschema::Document),
}

fn load(kind: SpecKind, name: &str, source: &Source<'_>) -> anyhow::Result<Loaded> {
    let text = source.read(name).map_err(anyhow::Error::msg)?;
    Ok(match kind {
        SpecKind::Openapi => {
            let spec = openapi::load_str(name, &text, |other| source.read(other).ok())?;
            Loaded::OpenApi(spec)
        }
        SpecKind::Graphql => Loaded::Graphql(graphql::parse(name, &text)?),
        SpecKind::Jsonschema => Loaded::JsonSchema(jsonschema::parse(name, &text)?),
    })
}

impl Loaded {
    fn version(&self) -> Option<String> {
        match self {
            Loaded::OpenApi(spec) => openapi::version(spec).map(str::to_owned),
            _ => None,
        }
    }
}

fn diff_loaded(
    base: &Loaded,
    revision: &Loaded,
    compatibility: CompatibilityMode,
) -> anyhow::Result<Vec<Change>> {
    Ok(match (base, revision) {
        (Loaded::OpenApi(b), Loaded::OpenApi(r)) => openapi::diff(b, r),
        (Loaded::Graphql(b), Loaded::Graphql(r)) => graphql::diff(b, r),
        (Loaded::JsonSchema(b), Loaded::JsonSchema(r)) => {
            let mode = match compatibility {
                CompatibilityMode::Backward => jsonschema::Compatibility::Backward,
                CompatibilityMode::Forward => jsonschema::Compatibility::Forward,
                CompatibilityMode::Full => jsonschema::Compatibility::Full,
            };
            jsonschema::check(b, r, mode)
        }
        _ => anyhow::bail!("internal error: specs of different kinds"),
    })
}

fn digest_input(name: &str, text: &str) -> GateInput {
    GateInput { name: name.to_owned(), digest: Digest::sha256(text.as_bytes()) }
}

/// `tollgate contracts diff --kind K BASE REVISION`.
pub fn diff(args: &ContractsDiffArgs) -> anyhow::Result<Verdict> {
    let config = Config::load(&args.root)?;
    let started = Instant::now();
    let start_time = time_source::rfc3339(time_source::now()?);
    let kind = kind_of(args.kind);
    let cwd = Path::new("");
    let base_name = args.base.to_string_lossy().replace('\\', "/");
    let rev_name = args.revision.to_string_lossy().replace('\\', "/");
    let base = load(kind, &base_name, &Source::Disk(cwd))?;
    let revision = load(kind, &rev_name, &Source::Disk(cwd))?;
    let changes = diff_loaded(&base, &revision, compatibility_of(args.compatibility))?;
    let mut findings = change::to_findings(&changes, &config.contracts.levels);
    if kind == SpecKind::Openapi {
        baseline::apply_semver(
            &mut findings,
            base.version().as_deref(),
            revision.version().as_deref(),
        );
    }
    let inputs = [&base_name, &rev_name]
        .into_iter()
        .map(|name| {
            let text =
                std::fs::read_to_string(name).with_context(|| format!("{name}: cannot read"))?;
            Ok(digest_input(name, &text))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let fail_on = args.fail_on.map_or(config.contracts.fail_on, |f| f.severity());
    let report = GateReport::new(
        "contracts-diff",
        inputs,
        findings,
        fail_on,
        start_time,
        started.elapsed().as_millis() as u64,
    );
    super::sbom::emit_report(&args.report, &report)
}

/// One spec compared with its baseline.
struct SpecResult {
    spec: String,
    kind: SpecKind,
    /// None when the spec is new since the baseline.
    changes: Option<Vec<Change>>,
    base_version: Option<String>,
    revision_version: Option<String>,
    input: GateInput,
}

/// The spec's `version` in the configuration found at the baseline ref (for GraphQL and JSON
/// Schema, which carry none in the document).
fn base_config(tree: &GitTree, prefix: &Path) -> Option<Config> {
    let name = prefix.join(CONFIG_FILE_NAME);
    let text = tree.read(&name).ok()?;
    Config::parse(&name, &text).ok()
}

fn configured_version(config: Option<&Config>, spec: &ContractSpec) -> Option<String> {
    config?
        .contracts
        .specs
        .iter()
        .find(|s| s.path == spec.path && s.kind == spec.kind)
        .and_then(|s| s.version.clone())
}

/// The baseline ref: the flag, else `[contracts] against`, else the last release tag.
fn baseline_ref(root: &Path, flag: Option<&str>, config: &Config) -> Option<String> {
    flag.map(str::to_owned)
        .or_else(|| config.contracts.against.clone())
        .or_else(|| baseline::last_release_tag(root))
}

fn compare_all(root: &Path, config: &Config, reference: &str) -> anyhow::Result<Vec<SpecResult>> {
    let tree = GitTree::open(root, reference)?;
    let prefix = baseline::prefix_in_repo(root)?;
    let old_config = base_config(&tree, &prefix);
    let mut out = Vec::new();
    for spec in &config.contracts.specs {
        let name = spec.path.to_string_lossy().replace('\\', "/");
        let disk = Source::Disk(root);
        let text = disk.read(&name).map_err(anyhow::Error::msg)?;
        let revision = load(spec.kind, &name, &disk)?;
        let git = Source::Git(&tree, &prefix);
        let base = match git.read(&name) {
            Ok(_) => Some(load(spec.kind, &name, &git).with_context(|| format!("at {reference}"))?),
            Err(_) => None,
        };
        let changes = match &base {
            Some(base) => Some(diff_loaded(base, &revision, spec.compatibility)?),
            None => None,
        };
        let base_version = configured_version(old_config.as_ref(), spec)
            .or_else(|| base.as_ref().and_then(Loaded::version));
        let revision_version = spec.version.clone().or_else(|| revision.version());
        out.push(SpecResult {
            spec: name.clone(),
            kind: spec.kind,
            changes,
            base_version,
            revision_version,
            input: digest_input(&name, &text),
        });
    }
    Ok(out)
}

/// Compares every configured spec with `reference` and judges the result.
fn check_findings(
    root: &Path,
    config: &Config,
    reference: Option<&str>,
) -> anyhow::Result<(Vec<GateInput>, Vec<Finding>)> {
    if config.contracts.specs.is_empty() {
        let finding =
            Finding::new(NO_SPECS, Severity::Info, "no API specs configured: nothing to compare")
                .fix("list specs under [[contracts.specs]] in tollgate.toml (kind, path)");
        return Ok((Vec::new(), vec![finding]));
    }
    let Some(reference) = reference else {
        let finding = Finding::new(
            NO_BASELINE,
            Severity::Info,
            "no baseline: no release tag (vX.Y.Z) and no --against ref, so there is nothing to \
             compare the specs with",
        )
        .fix("tag a release, or pass --against REF (or set [contracts] against)");
        return Ok((Vec::new(), vec![finding]));
    };
    let today = time_source::now()?.date();
    let mut exceptions = Exceptions::new(&config.contracts.exceptions, today, CONFIG_FILE_NAME);
    let mut inputs = Vec::new();
    let mut findings = Vec::new();
    for result in compare_all(root, config, reference)? {
        inputs.push(result.input);
        let Some(changes) = result.changes else {
            findings.push(
                Finding::new(
                    NEW_SPEC,
                    Severity::Info,
                    format!("{} is new since {reference}: nothing to compare", result.spec),
                )
                .at(tollgate_core::Location::file(result.spec.clone())),
            );
            continue;
        };
        let mut spec_findings = change::to_findings(&changes, &config.contracts.levels);
        exceptions.apply(&result.spec, &mut spec_findings);
        baseline::apply_semver(
            &mut spec_findings,
            result.base_version.as_deref(),
            result.revision_version.as_deref(),
        );
        tracing::info!(spec = %result.spec, kind = result.kind.as_str(), changes = changes.len(), "compared");
        findings.extend(spec_findings);
    }
    findings.extend(exceptions.finish());
    Ok((inputs, findings))
}

/// `tollgate contracts check [--against REF]`.
pub fn check(args: &ContractsCheckArgs) -> anyhow::Result<Verdict> {
    let config = Config::load(&args.root)?;
    let started = Instant::now();
    let start_time = time_source::rfc3339(time_source::now()?);
    let reference = baseline_ref(&args.root, args.against.as_deref(), &config);
    let (inputs, findings) = check_findings(&args.root, &config, reference.as_deref())?;
    let fail_on = args.fail_on.map_or(config.contracts.fail_on, |f| f.severity());
    let report = GateReport::new(
        "contracts",
        inputs,
        findings,
        fail_on,
        start_time,
        started.elapsed().as_millis() as u64,
    );
    super::sbom::emit_report(&args.report, &report)
}

/// The release `contracts` stage: every configured spec against the last release tag (or
/// `[contracts] against`); a Markdown changelog goes next to the report.
pub fn release_stage(
    root: &Path,
    run_dir: &Path,
    config: &Config,
    timestamp: String,
) -> anyhow::Result<GateReport> {
    let started = Instant::now();
    let reference = baseline_ref(root, None, config);
    let (inputs, findings) = check_findings(root, config, reference.as_deref())?;
    if let (Some(reference), false) = (&reference, config.contracts.specs.is_empty()) {
        let results = compare_all(root, config, reference)?;
        let text = render_changelog(reference, &results, &config.contracts.levels);
        crate::output::emit(Some(&run_dir.join("contracts").join("CHANGELOG.md")), &text)?;
    }
    Ok(GateReport::new(
        "contracts",
        inputs,
        findings,
        config.contracts.fail_on,
        timestamp,
        started.elapsed().as_millis() as u64,
    ))
}

fn rules_of(kind: SpecKind) -> &'static [RuleDoc] {
    match kind {
        SpecKind::Openapi => openapi::RULES,
        SpecKind::Graphql => graphql::RULES,
        SpecKind::Jsonschema => jsonschema::RULES,
    }
}

fn level_name(level: Level) -> &'static str {
    level.severity().as_str()
}

/// `tollgate contracts rules [--kind K]`.
pub fn rules(args: &ContractsRulesArgs) -> anyhow::Result<Verdict> {
    let kinds = match args.kind {
        Some(k) => vec![kind_of(k)],
        None => vec![SpecKind::Openapi, SpecKind::Graphql, SpecKind::Jsonschema],
    };
    let mut text = String::new();
    for kind in kinds {
        let rules = rules_of(kind);
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
    crate::output::emit(None, &text)?;
    Ok(Verdict::Pass)
}

fn render_changelog(
    reference: &str,
    results: &[SpecResult],
    overrides: &BTreeMap<String, Severity>,
) -> String {
    let mut groups: BTreeMap<Severity, Vec<String>> = BTreeMap::new();
    let mut new_specs = Vec::new();
    for result in results {
        let Some(changes) = &result.changes else {
            new_specs.push(format!("- `{}` ({}) is new\n", result.spec, result.kind.as_str()));
            continue;
        };
        for finding in change::to_findings(changes, overrides) {
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

/// `tollgate contracts changelog [--against REF]`.
pub fn changelog(args: &ContractsChangelogArgs) -> anyhow::Result<Verdict> {
    let config = Config::load(&args.root)?;
    let text = match baseline_ref(&args.root, args.against.as_deref(), &config) {
        Some(reference) => {
            let results = compare_all(&args.root, &config, &reference)?;
            render_changelog(&reference, &results, &config.contracts.levels)
        }
        None => "# API changes\n\nNo baseline: no release tag and no --against ref.\n".to_owned(),
    };
    crate::output::emit(args.output.as_deref(), &text)?;
    Ok(Verdict::Pass)
}
