//! `tollgate contracts diff|check|rules|changelog`: arguments in, the contracts gate
//! (`tollgate_contracts::gate`) called, its report rendered.

use crate::cli::{
    CompatibilityArg, ContractsChangelogArgs, ContractsCheckArgs, ContractsDiffArgs,
    ContractsRulesArgs, SpecKindArg,
};
use std::time::Instant;
use tollgate_contracts::gate::{self, Comparison, CompatibilityMode, SpecKind};
use tollgate_core::{Verdict, time_source};
use tollgate_release::Config;

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

/// `tollgate contracts diff --kind K BASE REVISION`.
pub fn diff(args: &ContractsDiffArgs) -> anyhow::Result<Verdict> {
    let config = Config::load(&args.root)?;
    let start_time = time_source::rfc3339(time_source::now()?);
    let fail_on = args.fail_on.map_or(config.contracts.fail_on, |f| f.severity());
    let report = gate::diff_files(
        kind_of(args.kind),
        &args.base,
        &args.revision,
        compatibility_of(args.compatibility),
        args.ref_root.as_deref(),
        &config.contracts,
        fail_on,
        start_time,
    )?;
    super::sbom::emit_report(&args.report, &report)
}

/// `tollgate contracts check [--against REF]`.
pub fn check(args: &ContractsCheckArgs) -> anyhow::Result<Verdict> {
    let config = Config::load(&args.root)?;
    let started = Instant::now();
    let start_time = time_source::rfc3339(time_source::now()?);
    let reference = gate::baseline_ref(&args.root, args.against.as_deref(), &config.contracts);
    let comparison = gate::compare(&args.root, &config.contracts, reference.as_deref())?;
    let fail_on = args.fail_on.map_or(config.contracts.fail_on, |f| f.severity());
    let report = gate::check(
        &comparison,
        &config.contracts,
        fail_on,
        start_time,
        started.elapsed().as_millis() as u64,
    )?;
    super::sbom::emit_report(&args.report, &report)
}

/// `tollgate contracts rules [--kind K]`.
pub fn rules(args: &ContractsRulesArgs) -> anyhow::Result<Verdict> {
    let kinds = match args.kind {
        Some(k) => vec![kind_of(k)],
        None => SpecKind::ALL.to_vec(),
    };
    crate::output::emit(None, &gate::render_rule_docs(&kinds))?;
    Ok(Verdict::Pass)
}

/// `tollgate contracts changelog [--against REF]`.
pub fn changelog(args: &ContractsChangelogArgs) -> anyhow::Result<Verdict> {
    let config = Config::load(&args.root)?;
    let text = match gate::baseline_ref(&args.root, args.against.as_deref(), &config.contracts) {
        Some(reference) => {
            // The changelog lists every spec, so compare even with none configured.
            let results = match gate::compare(&args.root, &config.contracts, Some(&reference))? {
                Comparison::Compared { results, .. } => results,
                Comparison::NoSpecs | Comparison::NoBaseline => Vec::new(),
            };
            gate::changelog(&reference, &results, &config.contracts)
        }
        None => gate::NO_BASELINE_CHANGELOG.to_owned(),
    };
    crate::output::emit(args.output.as_deref(), &text)?;
    Ok(Verdict::Pass)
}
