//! Runs the release: the planned stages in order over one run directory, each stage's output
//! handed to the next in memory, every report written as `<stage>.json`, the gates' verdict as
//! `release.json`, then the evidence bundle.
//!
//! With `SOURCE_DATE_EPOCH` set the run is reproducible: the same inputs and key give the same
//! bytes. Wall-clock durations are the one measurement that cannot repeat, so such a run records
//! none: every report's `duration_ms` is 0 and `release.json` says `"durationsRecorded": false`
//! (the [`Observer`] is still told the measured time, for the terminal).

use crate::config::Config;
use crate::run_dir::RunDir;
use crate::stage::{PlanError, Stage};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tollgate_attest::gate::ReleaseKey;
use tollgate_contracts::gate::Comparison;
use tollgate_core::config::CONFIG_FILE;
use tollgate_core::{ConfigError, GateReport, Severity, Verdict, time_source};
use tollgate_evidence::BuildOptions;
use tollgate_evidence::gate::StageInputs;
use tollgate_sbom::format::SbomFormat;
use tollgate_sbom::gate::{self as sbom_gate, Baseline, ReleaseSbom, Scan};

/// What the caller asks of one release run.
#[derive(Debug, Clone, Default)]
pub struct ReleaseOptions {
    /// The repository root to release.
    pub root: PathBuf,
    /// Where run directories go (default: `[release] out_dir` under the root).
    pub out: Option<PathBuf>,
    /// The signing key (default: `[attest] key`, else an ephemeral key).
    pub key: Option<PathBuf>,
    /// The stages to run (default: `[release] stages`).
    pub stages: Option<Vec<Stage>>,
}

/// Told about each stage as it runs (the CLI draws progress with it).
pub trait Observer {
    /// A stage starts.
    fn started(&mut self, stage: Stage);
    /// A stage produced its report, after `elapsed` (measured, even when the report records
    /// no duration).
    fn finished(&mut self, stage: Stage, report: &GateReport, elapsed: Duration);
    /// A stage stopped with an error; the run ends.
    fn failed(&mut self, stage: Stage);
}

/// An observer that ignores everything.
impl Observer for () {
    fn started(&mut self, _: Stage) {}
    fn finished(&mut self, _: Stage, _: &GateReport, _: Duration) {}
    fn failed(&mut self, _: Stage) {}
}

/// A finished run.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The run's id (`20240501T120000Z`).
    pub run_id: String,
    /// The run directory, in place.
    pub run_dir: PathBuf,
    /// The evidence bundle, when the `evidence` stage ran.
    pub bundle: Option<PathBuf>,
    /// Every stage's report, in stage order.
    pub reports: Vec<GateReport>,
    /// Go (`Pass`) when every stage passed.
    pub verdict: Verdict,
}

/// Why a release could not run (bad input or I/O, not a no-go).
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// `tollgate.toml` is unreadable or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The stage list cannot run.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// `SOURCE_DATE_EPOCH` is not a timestamp.
    #[error(transparent)]
    Time(#[from] time_source::SourceDateEpochError),
    /// The signing key cannot be read or made.
    #[error(transparent)]
    Key(tollgate_attest::AttestError),
    /// A stage failed on its input.
    #[error("release stage `{stage}`: {cause}")]
    Stage {
        /// The stage.
        stage: Stage,
        /// What went wrong.
        cause: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The run directory or a report could not be written.
    #[error("{path}: {message}: {cause}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done (`cannot write`, …).
        message: &'static str,
        /// The I/O error.
        cause: std::io::Error,
    },
}

impl ReleaseError {
    fn io(path: &Path, message: &'static str) -> impl FnOnce(std::io::Error) -> ReleaseError {
        let path = path.to_owned();
        move |cause| ReleaseError::Io { path, message, cause }
    }
}

/// Runs the release described by `options` with `config` (loaded from the root), telling
/// `observer` about each stage. On any error the partial run directory and bundle are removed.
pub fn run(
    options: &ReleaseOptions,
    config: &Config,
    observer: &mut dyn Observer,
) -> Result<Outcome, ReleaseError> {
    let plan = Stage::plan(options.stages.as_deref().unwrap_or(&config.release.stages))?;
    let timestamp = time_source::rfc3339(time_source::now()?);
    // `now()` accepted SOURCE_DATE_EPOCH if it is set: this run must be reproducible.
    let record_durations = tollgate_core::time_source::records_durations();
    let out_dir = options.out.clone().unwrap_or_else(|| options.root.join(&config.release.out_dir));
    let run = RunDir::reserve(&out_dir, &timestamp)
        .map_err(ReleaseError::io(&out_dir, "cannot create a run directory in"))?;
    let mut pipeline =
        Pipeline { options, config, run: &run, timestamp, record_durations, key: None, sbom: None };
    match pipeline.run_all(&plan, observer) {
        Ok(reports) => {
            run.commit().map_err(ReleaseError::io(&run.partial, "cannot move into place"))?;
            let verdict = Verdict::all(reports.iter().map(|r| &r.verdict));
            Ok(Outcome {
                run_id: run.run_id.clone(),
                run_dir: run.path.clone(),
                bundle: plan.contains(&Stage::Evidence).then(|| run.bundle.clone()),
                reports,
                verdict,
            })
        }
        Err(e) => {
            run.discard();
            Err(e)
        }
    }
}

/// One run in progress: what the stages share.
struct Pipeline<'a> {
    options: &'a ReleaseOptions,
    config: &'a Config,
    run: &'a RunDir,
    /// Every report's start time (the run's).
    timestamp: String,
    /// False under `SOURCE_DATE_EPOCH`: reports then carry `duration_ms` 0.
    record_durations: bool,
    /// The run's key, resolved by the first stage that signs.
    key: Option<ReleaseKey>,
    /// The `sbom` stage's output, for `attest`.
    sbom: Option<SbomOutput>,
}

/// What the `sbom` stage hands on.
struct SbomOutput {
    /// The directory holding the release's SBOM files (what `attest` signs).
    dir: PathBuf,
}

impl Pipeline<'_> {
    fn run_all(
        &mut self,
        plan: &[Stage],
        observer: &mut dyn Observer,
    ) -> Result<Vec<GateReport>, ReleaseError> {
        if plan.iter().any(|s| s.signs()) {
            let key = ReleaseKey::resolve(
                &self.options.root,
                &self.config.attest,
                self.options.key.as_deref(),
            )
            .map_err(ReleaseError::Key)?;
            self.key = Some(key);
        }
        let mut reports = Vec::new();
        for &stage in plan {
            if stage == Stage::Evidence {
                self.write_summary(&reports)?;
            }
            observer.started(stage);
            let clock = Instant::now();
            let mut report = match self.run_stage(stage) {
                Ok(report) => report,
                Err(cause) => {
                    observer.failed(stage);
                    return Err(ReleaseError::Stage { stage, cause });
                }
            };
            let elapsed = clock.elapsed();
            report.duration_ms = tollgate_core::time_source::recorded_ms(elapsed);
            self.write_json(&format!("{}.json", stage.name()), &report)?;
            observer.finished(stage, &report, elapsed);
            reports.push(report);
        }
        if !plan.contains(&Stage::Evidence) {
            self.write_summary(&reports)?;
        }
        Ok(reports)
    }

    fn run_stage(
        &mut self,
        stage: Stage,
    ) -> Result<GateReport, Box<dyn std::error::Error + Send + Sync>> {
        match stage {
            Stage::Sbom => self.sbom(),
            Stage::Contracts => self.contracts(),
            Stage::Attest => self.attest(),
            Stage::Evidence => self.evidence(),
        }
    }

    /// SBOMs of the tree into `sbom/`, the CycloneDX one compared (in memory) with the
    /// committed baseline.
    fn sbom(&mut self) -> Result<GateReport, Box<dyn std::error::Error + Send + Sync>> {
        let root = &self.options.root;
        let config = &self.config.sbom;
        let scan: Scan = sbom_gate::ScanTarget::tree(root).scan(
            config,
            self.timestamp.clone(),
            env!("CARGO_PKG_VERSION"),
        )?;
        let dir = self.run.partial.join("sbom");
        let documents = sbom_gate::render_documents(&scan);
        for (format, text) in &documents {
            let path = dir.join(format.file_name());
            tollgate_core::fs::write_atomic(&path, text.as_bytes())
                .map_err(ReleaseError::io(&path, "cannot write"))?;
        }
        let cyclonedx = documents
            .iter()
            .find(|(f, _)| *f == SbomFormat::CycloneDxJson)
            .map(|(_, text)| text.as_str())
            .ok_or("no CycloneDX document was rendered to compare with the baseline")?;
        let name = format!("sbom/{}", SbomFormat::CycloneDxJson.file_name());
        let release = ReleaseSbom { scan: &scan, cyclonedx, name: &name };
        let baseline = Baseline::load(root, config)?;
        let report = sbom_gate::check(&release, &baseline, config, self.timestamp.clone(), 0)?;
        self.sbom = Some(SbomOutput { dir });
        Ok(report)
    }

    /// Every configured spec compared once with the baseline ref; the changelog from the same
    /// comparison.
    fn contracts(&mut self) -> Result<GateReport, Box<dyn std::error::Error + Send + Sync>> {
        use tollgate_contracts::gate;
        let root = &self.options.root;
        let config = &self.config.contracts;
        let reference = gate::baseline_ref(root, None, config);
        let comparison = gate::compare(root, config, reference.as_deref())?;
        let report = gate::check(&comparison, config, config.fail_on, self.timestamp.clone(), 0)?;
        if let Comparison::Compared { reference, results } = &comparison {
            let path = self.run.partial.join("contracts").join("CHANGELOG.md");
            let text = gate::changelog(reference, results, config);
            tollgate_core::fs::write_atomic(&path, text.as_bytes())
                .map_err(ReleaseError::io(&path, "cannot write"))?;
        }
        Ok(report)
    }

    /// SLSA provenance over the `sbom` stage's files, signed with the run's key.
    fn attest(&mut self) -> Result<GateReport, Box<dyn std::error::Error + Send + Sync>> {
        let sbom = self
            .sbom
            .as_ref()
            .ok_or(PlanError::MissingInput { stage: Stage::Attest, needs: Stage::Sbom })?;
        let key = self.key.as_ref().ok_or("no signing key resolved")?;
        Ok(tollgate_attest::gate::check(
            &self.options.root,
            &self.run.partial,
            &sbom.dir,
            key,
            &self.config.attest,
            self.timestamp.clone(),
        )?)
    }

    /// The run directory as a signed bundle beside it, verified back.
    fn evidence(&mut self) -> Result<GateReport, Box<dyn std::error::Error + Send + Sync>> {
        let root = &self.options.root;
        let key = self.key.as_ref().ok_or("no signing key resolved")?;
        let options = BuildOptions::new(env!("CARGO_PKG_VERSION"))
            .config(self.config.evidence.clone(), self.config.to_json(), root.join(CONFIG_FILE))
            .policies_dir(root.join("policies"));
        let inputs = StageInputs {
            root,
            run_dir: &self.run.partial,
            bundle: &self.run.bundle,
            key: &key.key,
            ephemeral: key.is_ephemeral(),
            options,
        };
        Ok(tollgate_evidence::gate::check(inputs, &self.config.evidence, self.timestamp.clone())?)
    }

    /// `release.json`: the run id, start, go / no-go and each gate's counts (and, in a
    /// reproducible run, `"durationsRecorded": false`).
    fn write_summary(&self, reports: &[GateReport]) -> Result<(), ReleaseError> {
        let verdict = Verdict::all(reports.iter().map(|r| &r.verdict));
        let mut summary = json!({
            "runId": self.run.run_id,
            "started": self.timestamp,
            "verdict": if verdict == Verdict::Pass { "go" } else { "no-go" },
            "stages": reports.iter().map(|r| json!({
                "gate": r.gate,
                "verdict": r.verdict,
                "errors": r.count(Severity::Error),
                "warnings": r.count(Severity::Warning),
                "info": r.count(Severity::Info),
                "report": format!("{}.json", r.gate),
            })).collect::<Vec<_>>(),
        });
        if !self.record_durations {
            summary["durationsRecorded"] = json!(false);
        }
        self.write_json("release.json", &summary)
    }

    fn write_json(&self, name: &str, value: &impl serde::Serialize) -> Result<(), ReleaseError> {
        let path = self.run.partial.join(name);
        let text = serde_json::to_string_pretty(value).unwrap_or_default() + "\n";
        tollgate_core::fs::write_atomic(&path, text.as_bytes())
            .map_err(ReleaseError::io(&path, "cannot write"))
    }
}
