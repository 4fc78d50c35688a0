//! The stage list as data: the order stages run in, what each needs from an earlier stage, and
//! what each writes into the run directory. `docs/architecture.md` shows the same table; a
//! test holds the two together.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One stage of `tollgate release`. The variants are in pipeline order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// CycloneDX and SPDX of the tree, compared with the committed baseline.
    Sbom,
    /// Every configured API spec compared once with the last release tag.
    Contracts,
    /// SLSA provenance over the SBOMs, signed with the run's key.
    Attest,
    /// The git range and change evidence, then the signed bundle of the run directory.
    Evidence,
}

/// Why a stage list cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A name that is no stage.
    #[error("unknown stage {0:?} (stages: sbom, contracts, attest, evidence)")]
    Unknown(String),
    /// A stage without the earlier stage whose output it reads.
    #[error("stage `{stage}` needs the output of stage `{needs}`: add `{needs}` to the stages")]
    MissingInput {
        /// The stage.
        stage: Stage,
        /// The stage it needs.
        needs: Stage,
    },
    /// No stage at all.
    #[error("no stages to run")]
    Empty,
}

impl Stage {
    /// Every stage, in pipeline order.
    pub const ALL: [Stage; 4] = [Stage::Sbom, Stage::Contracts, Stage::Attest, Stage::Evidence];

    /// The stage's name (`--stages`, `[release] stages`, `<name>.json`).
    pub fn name(self) -> &'static str {
        match self {
            Stage::Sbom => "sbom",
            Stage::Contracts => "contracts",
            Stage::Attest => "attest",
            Stage::Evidence => "evidence",
        }
    }

    /// The earlier stages whose output this one reads (in memory).
    pub fn needs(self) -> &'static [Stage] {
        match self {
            Stage::Attest => &[Stage::Sbom],
            Stage::Sbom | Stage::Contracts | Stage::Evidence => &[],
        }
    }

    /// What the stage writes into the run directory (besides its `<name>.json` report), or
    /// beside it for the bundle.
    pub fn writes(self) -> &'static [&'static str] {
        match self {
            Stage::Sbom => &["sbom/cyclonedx.json", "sbom/spdx.json"],
            Stage::Contracts => &["contracts/CHANGELOG.md"],
            Stage::Attest => &["attest/provenance.sigstore.json", "attest/ephemeral.pub"],
            Stage::Evidence => &["git.json", "changes.json", "../<run-id>.evidence.tar.gz"],
        }
    }

    /// `true` for the stages that sign with the run's key.
    pub fn signs(self) -> bool {
        matches!(self, Stage::Attest | Stage::Evidence)
    }

    /// `stages` in pipeline order without repeats, checked so that every stage has the
    /// stages it needs.
    pub fn plan(stages: &[Stage]) -> Result<Vec<Stage>, PlanError> {
        let mut plan = stages.to_vec();
        plan.sort();
        plan.dedup();
        if plan.is_empty() {
            return Err(PlanError::Empty);
        }
        for stage in &plan {
            if let Some(needs) = stage.needs().iter().find(|n| !plan.contains(n)) {
                return Err(PlanError::MissingInput { stage: *stage, needs: *needs });
            }
        }
        Ok(plan)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Stage {
    type Err = PlanError;

    fn from_str(s: &str) -> Result<Stage, PlanError> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.name() == s.trim())
            .ok_or_else(|| PlanError::Unknown(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_run_in_pipeline_order_once() {
        let plan = Stage::plan(&[Stage::Attest, Stage::Sbom, Stage::Attest]).unwrap();
        assert_eq!(plan, [Stage::Sbom, Stage::Attest]);
        assert_eq!(Stage::plan(&Stage::ALL).unwrap(), Stage::ALL);
        assert_eq!(Stage::plan(&[Stage::Evidence]).unwrap(), [Stage::Evidence]);
    }

    #[test]
    fn a_stage_without_its_input_is_refused() {
        let err = Stage::plan(&[Stage::Attest, Stage::Evidence]).unwrap_err();
        assert_eq!(err, PlanError::MissingInput { stage: Stage::Attest, needs: Stage::Sbom });
        assert_eq!(
            err.to_string(),
            "stage `attest` needs the output of stage `sbom`: add `sbom` to the stages"
        );
        assert_eq!(Stage::plan(&[]).unwrap_err(), PlanError::Empty);
    }

    #[test]
    fn names_parse_and_unknown_names_are_refused() {
        for stage in Stage::ALL {
            assert_eq!(stage.name().parse::<Stage>().unwrap(), stage);
        }
        assert_eq!("lint".parse::<Stage>().unwrap_err(), PlanError::Unknown("lint".into()));
    }

    #[test]
    fn every_need_is_an_earlier_stage() {
        for stage in Stage::ALL {
            assert!(stage.needs().iter().all(|n| *n < stage), "{stage}");
        }
    }

    /// `docs/architecture.md`'s stage table says what the pipeline does: the same stages in
    /// the same order, the same needs, and every file each stage writes.
    #[test]
    fn the_architecture_doc_shows_the_stage_list() {
        let doc = include_str!("../../../docs/architecture.md");
        let start = doc.find("| stage | needs |").expect("the stage table");
        let rows: Vec<Vec<&str>> = doc[start..]
            .lines()
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| l.trim_matches('|').split('|').map(str::trim).collect())
            .collect();
        let names: Vec<&str> = rows.iter().map(|r| r[0]).collect();
        let expected: Vec<&str> = Stage::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(names, expected);
        for (row, stage) in rows.iter().zip(Stage::ALL) {
            let needs: Vec<&str> = stage.needs().iter().map(|s| s.name()).collect();
            let shown: Vec<&str> = row[1].split(',').map(str::trim).filter(|n| *n != "-").collect();
            assert_eq!(shown, needs, "{stage}");
            for file in stage.writes() {
                assert!(row[2].contains(file), "{stage}: {file} not in {:?}", row[2]);
            }
        }
    }
}
