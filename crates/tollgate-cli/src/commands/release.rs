//! `tollgate release`: every stage that exists, one run directory, one go / no-go.
//!
//! The gate stages write `<run-id>/<stage>.json` and `release.json` (the gates' verdict); the
//! `evidence` stage then packs that directory into `<run-id>.evidence.tar.gz` beside it and
//! records what it built in `<run-id>/evidence.json` (outside the bundle it describes).

use crate::cli::ReleaseArgs;
use crate::progress::Progress;
use anyhow::Context;
use serde_json::json;
use std::path::Path;
use tollgate_core::{Config, GateReport, ReportFormat, Verdict, time_source};

/// The gate stages, in the order they run; `evidence` follows them.
const STAGES: &[&str] = &["sbom", "contracts", "attest"];

pub fn run(args: &ReleaseArgs) -> anyhow::Result<Verdict> {
    let config = Config::load(&args.root)?;
    let now = time_source::now()?;
    let timestamp = time_source::rfc3339(now);
    let out_dir = args.out.clone().unwrap_or_else(|| args.root.join(&config.release.out_dir));
    let run_id = run_id(&out_dir, &timestamp);
    let final_dir = out_dir.join(&run_id);
    // Stages write into a hidden directory that is renamed into place only when every stage
    // ran: an input error leaves no half-written run directory behind.
    let run_dir = out_dir.join(format!(".{run_id}.partial"));
    let bundle = out_dir.join(format!("{run_id}.evidence.tar.gz"));
    if run_dir.exists() {
        std::fs::remove_dir_all(&run_dir)
            .with_context(|| format!("{}: cannot clear", run_dir.display()))?;
    }
    std::fs::create_dir_all(&run_dir)
        .with_context(|| format!("{}: cannot create", run_dir.display()))?;
    let outcome = run_stages(args, &config, &run_dir, &bundle, &run_id, &timestamp);
    match outcome {
        Ok(reports) => {
            std::fs::rename(&run_dir, &final_dir).with_context(|| {
                format!("{}: cannot move into place as {}", run_dir.display(), final_dir.display())
            })?;
            summarize(&reports, &run_id, &final_dir, &bundle)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&run_dir);
            let _ = std::fs::remove_file(&bundle);
            Err(e)
        }
    }
}

/// Runs every gate stage into `run_dir`, writing each report and `release.json`, then the
/// `evidence` stage, which writes `bundle` and `evidence.json`.
fn run_stages(
    args: &ReleaseArgs,
    config: &Config,
    run_dir: &Path,
    bundle: &Path,
    run_id: &str,
    timestamp: &str,
) -> anyhow::Result<Vec<GateReport>> {
    let timestamp = timestamp.to_owned();

    let key = super::attest::ReleaseKey::resolve(&args.root, config, args.key.as_deref())?;
    let progress = Progress::new();
    let mut reports: Vec<GateReport> = Vec::new();
    for stage in STAGES {
        let bar = progress.start(stage);
        let result = match *stage {
            "sbom" => super::sbom::release_stage(&args.root, run_dir, config, timestamp.clone()),
            "contracts" => {
                super::contracts::release_stage(&args.root, run_dir, config, timestamp.clone())
            }
            "attest" => {
                super::attest::release_stage(&args.root, run_dir, config, &key, timestamp.clone())
            }
            other => Err(anyhow::anyhow!("unknown stage {other}")),
        };
        let report = match result {
            Ok(report) => report,
            Err(e) => {
                bar.fail();
                return Err(e.context(format!("release stage `{stage}`")));
            }
        };
        let json = serde_json::to_string_pretty(&report)? + "\n";
        crate::output::emit(Some(&run_dir.join(format!("{stage}.json"))), &json)?;
        bar.finish(report.verdict, report.duration_ms);
        reports.push(report);
    }

    let verdict = Verdict::all(reports.iter().map(|r| &r.verdict));
    let summary = json!({
        "runId": run_id,
        "started": timestamp,
        "verdict": if verdict == Verdict::Pass { "go" } else { "no-go" },
        "stages": reports.iter().map(|r| json!({
            "gate": r.gate,
            "verdict": r.verdict,
            "errors": r.count(tollgate_core::Severity::Error),
            "warnings": r.count(tollgate_core::Severity::Warning),
            "info": r.count(tollgate_core::Severity::Info),
            "report": format!("{}.json", r.gate),
        })).collect::<Vec<_>>(),
    });
    crate::output::emit(
        Some(&run_dir.join("release.json")),
        &(serde_json::to_string_pretty(&summary)? + "\n"),
    )?;

    let bar = progress.start("evidence");
    let report = match super::evidence_stage::release_stage(
        &args.root, run_dir, bundle, config, &key, timestamp,
    ) {
        Ok(report) => report,
        Err(e) => {
            bar.fail();
            return Err(e.context("release stage `evidence`"));
        }
    };
    let json = serde_json::to_string_pretty(&report)? + "\n";
    crate::output::emit(Some(&run_dir.join("evidence.json")), &json)?;
    bar.finish(report.verdict, report.duration_ms);
    reports.push(report);
    Ok(reports)
}

/// Prints every report and the go / no-go line; returns the release verdict.
fn summarize(
    reports: &[GateReport],
    run_id: &str,
    run_dir: &Path,
    bundle: &Path,
) -> anyhow::Result<Verdict> {
    let verdict = Verdict::all(reports.iter().map(|r| &r.verdict));
    let mut text = ReportFormat::Human.render(reports);
    text.push_str(&format!(
        "\nrelease {run_id}: {}\nrun:      {}\nevidence: {}\n",
        if verdict == Verdict::Pass { "GO" } else { "NO-GO" },
        run_dir.display(),
        bundle.display(),
    ));
    crate::output::emit(None, &text)?;
    Ok(verdict)
}

/// `20240501T120000Z`, with `-2`, `-3`… when that directory already exists.
fn run_id(out_dir: &Path, timestamp: &str) -> String {
    let base: String = timestamp.chars().filter(|c| *c != '-' && *c != ':').collect();
    let mut id = base.clone();
    let mut n = 1;
    while out_dir.join(&id).exists() || out_dir.join(format!("{id}.evidence.tar.gz")).exists() {
        n += 1;
        id = format!("{base}-{n}");
    }
    id
}
