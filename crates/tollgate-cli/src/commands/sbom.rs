//! `tollgate sbom [PATH]`, `sbom diff OLD NEW`, `sbom baseline [--check]`.

use crate::cli::{
    ReportArgs, SbomArgs, SbomBaselineArgs, SbomCommand, SbomDiffArgs, SbomGenerateArgs,
};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tollgate_core::{Config, Finding, GateInput, GateReport, Severity, Verdict, time_source};
use tollgate_sbom::Inventory;
use tollgate_sbom::catalog::{self, CatalogOptions};
use tollgate_sbom::format::{self, CycloneDxVersion, DocumentInfo, SbomFormat};

pub fn run(args: SbomArgs) -> anyhow::Result<Verdict> {
    match args.command {
        None => generate_command(&args.generate),
        Some(SbomCommand::Diff(d)) => diff_command(&d),
        Some(SbomCommand::Baseline(b)) => baseline_command(&b),
    }
}

/// A catalogued tree, ready to render.
pub struct Scan {
    /// What was found.
    pub inventory: Inventory,
    /// Subject name, timestamp, tool version.
    pub info: DocumentInfo,
}

/// Catalogues a directory (walked).
pub fn scan(root: &Path, timestamp: String) -> anyhow::Result<Scan> {
    scan_paths(&[root.to_path_buf()], timestamp)
}

/// Catalogues one directory (walked), or lockfiles: one (named relative to its directory) or
/// several (named relative to the working directory).
pub fn scan_paths(paths: &[PathBuf], timestamp: String) -> anyhow::Result<Scan> {
    for path in paths {
        anyhow::ensure!(path.exists(), "{}: no such file or directory", path.display());
    }
    let (root, files) = match paths {
        [dir] if dir.is_dir() => (dir.clone(), None),
        [file] => {
            let root =
                file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            (root.to_path_buf(), Some(paths.to_vec()))
        }
        _ => {
            if let Some(dir) = paths.iter().find(|p| p.is_dir()) {
                anyhow::bail!("{}: give one directory, or only lockfiles", dir.display());
            }
            (PathBuf::from("."), Some(paths.to_vec()))
        }
    };
    let config = Config::load(&root)?;
    let options = CatalogOptions { exclude: config.sbom.exclude.clone(), cargo_home: None };
    let inventory = match files {
        Some(files) => catalog::catalog_paths(&root, &files, &options)?,
        None => catalog::catalog_tree(&root, &options)?,
    };
    let subject = config.sbom.name.clone().unwrap_or_else(|| directory_name(&root));
    let info =
        DocumentInfo { subject, timestamp, tool_version: env!("CARGO_PKG_VERSION").to_owned() };
    Ok(Scan { inventory, info })
}

fn directory_name(root: &Path) -> String {
    std::fs::canonicalize(root)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "project".to_owned())
}

fn generate_command(args: &SbomGenerateArgs) -> anyhow::Result<Verdict> {
    let scan = scan_paths(&args.paths, time_source::rfc3339(time_source::now()?))?;
    let text = format::render(&scan.inventory, args.format, args.spec_version, &scan.info);
    crate::output::emit(args.output.as_deref(), &text)?;
    Ok(Verdict::Pass)
}

fn diff_command(args: &SbomDiffArgs) -> anyhow::Result<Verdict> {
    let config = Config::load(&args.root)?;
    let started = Instant::now();
    let start_time = time_source::rfc3339(time_source::now()?);
    let old = tollgate_sbom::read::read_file(&args.old)?;
    let new = tollgate_sbom::read::read_file(&args.new)?;
    let findings = tollgate_sbom::diff::diff(
        &old,
        &new,
        &args.old.display().to_string(),
        &args.new.display().to_string(),
        &config.sbom.diff,
    );
    let inputs = [&args.old, &args.new]
        .into_iter()
        .map(|p| input_of(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let report = GateReport::new(
        "sbom-diff",
        inputs,
        findings,
        config.sbom.diff.fail_on,
        start_time,
        started.elapsed().as_millis() as u64,
    );
    emit_report(&args.report, &report)
}

fn input_of(path: &Path) -> anyhow::Result<GateInput> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    Ok(GateInput {
        name: path.display().to_string(),
        digest: tollgate_core::Digest::sha256(&bytes),
    })
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

/// The baseline files: `(format, path)` under the configured baseline directory.
pub fn baseline_files(root: &Path, config: &Config) -> Vec<(SbomFormat, PathBuf)> {
    [SbomFormat::CycloneDxJson, SbomFormat::SpdxJson]
        .into_iter()
        .map(|f| (f, root.join(&config.sbom.baseline_dir).join(f.file_name())))
        .collect()
}

fn baseline_command(args: &SbomBaselineArgs) -> anyhow::Result<Verdict> {
    let config = Config::load(&args.root)?;
    let files = baseline_files(&args.root, &config);
    if !args.check {
        let scan = scan(&args.root, time_source::rfc3339(time_source::now()?))?;
        for (format, path) in &files {
            let text =
                format::render(&scan.inventory, *format, CycloneDxVersion::default(), &scan.info);
            crate::output::emit(Some(path), &text)?;
            println!("wrote {}", path.display());
        }
        return Ok(Verdict::Pass);
    }
    let mut stale = Vec::new();
    for (format, path) in &files {
        let committed = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                stale.push(format!("{}: missing", path.display()));
                continue;
            }
            Err(e) => return Err(e).with_context(|| format!("{}: cannot read", path.display())),
        };
        // Regenerate with the baseline's own timestamp so only real changes show.
        let doc = tollgate_sbom::read::parse(path, &committed)?;
        let timestamp = doc.timestamp.clone().unwrap_or_default();
        let scan = scan(&args.root, timestamp)?;
        let fresh =
            format::render(&scan.inventory, *format, CycloneDxVersion::default(), &scan.info);
        if fresh != committed {
            let now = tollgate_sbom::read::parse(path, &fresh)?;
            let changes =
                tollgate_sbom::diff::diff(&doc, &now, "baseline", "now", &config.sbom.diff);
            let summary: Vec<String> =
                changes.iter().take(10).map(|f: &Finding| format!("  {}", f.message)).collect();
            let detail = if summary.is_empty() {
                "  (component facts or document metadata changed)".to_owned()
            } else {
                summary.join("\n")
            };
            stale.push(format!("{} is stale:\n{detail}", path.display()));
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

/// The release `sbom` stage: SBOMs into the run directory, compared with the baseline.
pub fn release_stage(
    root: &Path,
    run_dir: &Path,
    config: &Config,
    timestamp: String,
) -> anyhow::Result<GateReport> {
    let started = Instant::now();
    let scan = scan(root, timestamp.clone())?;
    let mut findings = Vec::new();
    for format in [SbomFormat::CycloneDxJson, SbomFormat::SpdxJson] {
        let text = format::render(&scan.inventory, format, CycloneDxVersion::default(), &scan.info);
        crate::output::emit(Some(&run_dir.join("sbom").join(format.file_name())), &text)?;
    }
    let (_, baseline) = &baseline_files(root, config)[0];
    if baseline.exists() {
        let old = tollgate_sbom::read::read_file(baseline)?;
        let new_path = run_dir.join("sbom").join(SbomFormat::CycloneDxJson.file_name());
        let new = tollgate_sbom::read::read_file(&new_path)?;
        let baseline_name = baseline.strip_prefix(root).unwrap_or(baseline).display().to_string();
        findings.extend(tollgate_sbom::diff::diff(
            &old,
            &new,
            &baseline_name,
            "sbom/cyclonedx.json",
            &config.sbom.diff,
        ));
    } else {
        findings.push(
            Finding::new(
                "sbom/no-baseline",
                Severity::Info,
                "no committed baseline SBOM to compare with",
            )
            .fix("run `tollgate sbom baseline` and commit the sbom/ directory"),
        );
    }
    let inputs = scan
        .inventory
        .inputs
        .iter()
        .map(|(name, digest)| GateInput { name: name.clone(), digest: digest.clone() })
        .collect();
    Ok(GateReport::new(
        "sbom",
        inputs,
        findings,
        config.sbom.diff.fail_on,
        timestamp,
        started.elapsed().as_millis() as u64,
    ))
}
