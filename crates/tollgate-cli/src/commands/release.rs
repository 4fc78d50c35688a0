//! `tollgate release`: runs the pipeline (`tollgate-release`) with progress on stderr, then
//! prints every report and the go / no-go line.

use crate::cli::ReleaseArgs;
use crate::progress::{Progress, StageProgress};
use tollgate_core::{GateReport, ReportFormat, Verdict};
use tollgate_release::{Config, Observer, Outcome, ReleaseOptions, Stage};

pub fn run(args: &ReleaseArgs) -> anyhow::Result<Verdict> {
    let config = Config::load(&args.root)?;
    let options = ReleaseOptions {
        root: args.root.clone(),
        out: args.out.clone(),
        key: args.key.clone(),
        stages: args.stages.clone(),
    };
    let mut progress = Bars { progress: Progress::new(), running: None };
    let outcome = tollgate_release::run(&options, &config, &mut progress)?;
    summarize(&outcome)
}

/// One progress line (or spinner) per stage.
struct Bars {
    progress: Progress,
    running: Option<StageProgress>,
}

impl Observer for Bars {
    fn started(&mut self, stage: Stage) {
        self.running = Some(self.progress.start(stage.name()));
    }

    fn finished(&mut self, _: Stage, report: &GateReport, elapsed: std::time::Duration) {
        if let Some(bar) = self.running.take() {
            // The measured time: a reproducible run's reports record none.
            bar.finish(report.verdict, elapsed.as_millis() as u64);
        }
    }

    fn failed(&mut self, _: Stage) {
        if let Some(bar) = self.running.take() {
            bar.fail();
        }
    }
}

/// Prints every report and the go / no-go line; returns the release verdict.
fn summarize(outcome: &Outcome) -> anyhow::Result<Verdict> {
    let mut text = ReportFormat::Human.render(&outcome.reports);
    text.push_str(&format!(
        "\nrelease {}: {}\nrun:      {}\n",
        outcome.run_id,
        if outcome.verdict == Verdict::Pass { "GO" } else { "NO-GO" },
        outcome.run_dir.display(),
    ));
    if let Some(bundle) = &outcome.bundle {
        text.push_str(&format!("evidence: {}\n", bundle.display()));
    }
    crate::output::emit(None, &text)?;
    Ok(outcome.verdict)
}
