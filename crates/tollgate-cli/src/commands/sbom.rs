//! `tollgate sbom [PATH]`, `sbom diff OLD NEW`, `sbom baseline [--check]`.

use crate::cli::{
    ReportArgs, SbomArgs, SbomBaselineArgs, SbomCommand, SbomDiffArgs, SbomGenerateArgs,
};
use anyhow::Context;
use std::path::Path;
use std::time::Instant;
use tollgate_core::{GateInput, GateReport, Verdict, time_source};
use tollgate_release::Config;
use tollgate_sbom::format;
use tollgate_sbom::gate::{self, BaselineStatus, ScanTarget};

const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn run(args: SbomArgs) -> anyhow::Result<Verdict> {
    match args.command {
        None => generate_command(&args.generate),
        Some(SbomCommand::Diff(d)) => diff_command(&d),
        Some(SbomCommand::Baseline(b)) => baseline_command(&b),
    }
}

fn generate_command(args: &SbomGenerateArgs) -> anyhow::Result<Verdict> {
    let started = Instant::now();
    let target = ScanTarget::from_paths(&args.paths)?;
    let config = Config::load(&target.root)?;
    let timestamp = time_source::rfc3339(time_source::now()?);
    let scan = target.scan_with(&config.sbom, args.strict, timestamp.clone(), TOOL_VERSION)?;
    if args.explain {
        crate::output::emit(None, &explain(&scan))?;
    }
    if !args.explain || args.output.is_some() {
        let text = format::render(&scan.inventory, args.format, args.spec_version, &scan.info);
        crate::output::emit(args.output.as_deref(), &text)?;
    }
    let report =
        gate::scan_report(&scan, &config.sbom, timestamp, started.elapsed().as_millis() as u64);
    let reports = std::slice::from_ref(&report);
    if let Some(path) = &args.report.report {
        crate::output::emit(Some(path), &args.report.report_format.render(reports))?;
    }
    if !report.findings.is_empty() {
        eprint!("{}", tollgate_core::ReportFormat::Human.render(reports));
    }
    Ok(report.verdict)
}

/// `--explain`: one aligned line per lockfile found, then a count of each outcome.
fn explain(scan: &gate::Scan) -> String {
    let width = scan.lockfiles.iter().map(|l| l.path.len()).max().unwrap_or(0);
    let mut out = String::new();
    let (mut catalogued, mut out_of_date, mut excluded, mut skipped) = (0, 0, 0, 0);
    for lockfile in &scan.lockfiles {
        match lockfile.outcome {
            gate::Outcome::Catalogued => catalogued += 1,
            gate::Outcome::OutOfDate { .. } => out_of_date += 1,
            gate::Outcome::Excluded { .. } => excluded += 1,
            gate::Outcome::Skipped { .. } => skipped += 1,
        }
        out.push_str(&format!("{:width$}  {}\n", lockfile.path, lockfile.outcome.describe()));
    }
    out.push_str(&format!(
        "{} lockfiles: {catalogued} catalogued, {out_of_date} out of date, {excluded} excluded, {skipped} skipped\n",
        scan.lockfiles.len()
    ));
    out
}

fn diff_command(args: &SbomDiffArgs) -> anyhow::Result<Verdict> {
    let config = Config::load(&args.root)?;
    let started = Instant::now();
    let start_time = time_source::rfc3339(time_source::now()?);
    let old = tollgate_sbom::read::read_file(&args.old)?;
    let new = tollgate_sbom::read::read_file(&args.new)?;
    let mut inputs = Vec::new();
    for path in [&args.old, &args.new] {
        let bytes =
            std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
        inputs.push(GateInput::of(path.display().to_string(), &bytes));
    }
    let report = gate::diff_report(
        (&args.old.display().to_string(), &old),
        (&args.new.display().to_string(), &new),
        inputs,
        &config.sbom.diff,
        start_time,
        started.elapsed().as_millis() as u64,
    );
    emit_report(&args.report, &report)
}

/// Renders a gate report as asked and returns its verdict.
pub fn emit_report(args: &ReportArgs, report: &GateReport) -> anyhow::Result<Verdict> {
    let reports = std::slice::from_ref(report);
    crate::output::emit(args.report.as_deref(), &args.report_format.render(reports))?;
    if args.report.is_some() {
        crate::output::emit(None, &tollgate_core::ReportFormat::Human.render(reports))?;
    }
    Ok(report.verdict)
}

fn baseline_command(args: &SbomBaselineArgs) -> anyhow::Result<Verdict> {
    let config = Config::load(&args.root)?;
    let files = gate::baseline_files(&args.root, &config.sbom);
    let target = ScanTarget::tree(&args.root);
    if !args.check {
        let timestamp = time_source::rfc3339(time_source::now()?);
        let scan = target.scan(&config.sbom, timestamp, TOOL_VERSION)?;
        for ((_, path), (_, text)) in files.iter().zip(gate::render_documents(&scan)) {
            crate::output::emit(Some(path), &text)?;
            println!("wrote {}", path.display());
        }
        return Ok(Verdict::Pass);
    }
    let mut stale = Vec::new();
    for (format, path) in &files {
        let committed = read_if_present(path)?;
        let status = gate::baseline_status(
            &target,
            *format,
            path,
            committed.as_deref(),
            &config.sbom,
            TOOL_VERSION,
        )?;
        match status {
            BaselineStatus::Current => {}
            BaselineStatus::Missing => stale.push(format!("{}: missing", path.display())),
            BaselineStatus::Stale(changes) => {
                let detail = if changes.is_empty() {
                    "  (component facts or document metadata changed)".to_owned()
                } else {
                    changes.iter().map(|c| format!("  {c}")).collect::<Vec<_>>().join("\n")
                };
                stale.push(format!("{} is stale:\n{detail}", path.display()));
            }
        }
    }
    if stale.is_empty() {
        println!("SBOM baseline is current ({} files)", files.len());
        Ok(Verdict::Pass)
    } else {
        eprintln!("{}", stale.join("\n"));
        eprintln!(
            "refresh it with `cargo xtask sbom baseline` (or `tollgate sbom baseline`) and commit sbom/"
        );
        Ok(Verdict::Fail)
    }
}

fn read_if_present(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("{}: cannot read", path.display())),
    }
}
