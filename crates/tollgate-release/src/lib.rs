//! The main job, `tollgate release`: every stage in order over one run directory, one go /
//! no-go.
//!
//! - [`config`]: the aggregated `tollgate.toml` — one section per gate, each owned by its
//!   capability crate — that `tollgate config show` prints.
//! - [`stage`]: the stage list as data: order, what each stage needs from an earlier one and
//!   what it writes; `[release] stages` / `--stages` narrow it.
//! - [`run_dir`]: the run directory layout (`<out_dir>/<run-id>/`, the bundle beside it).
//! - [`pipeline`]: runs the stages, handing each other values in memory (the SBOM scan, the
//!   contract comparison), writes every `<stage>.json` and `release.json`.
//!
//! **Architecture invariant:** no printing; progress goes to an [`pipeline::Observer`] and the
//! result is returned. Gate findings are built by the capability crates, never here.

pub mod config;
pub mod pipeline;
pub mod run_dir;
pub mod stage;

pub use config::Config;
pub use pipeline::{Observer, Outcome, ReleaseError, ReleaseOptions, run};
pub use stage::Stage;

/// Every gate's rule table, in pipeline order: what `tollgate rules` lists.
pub fn rule_tables() -> Vec<tollgate_core::GateRules> {
    vec![
        tollgate_sbom::gate::rules(),
        tollgate_contracts::gate::rules(),
        tollgate_attest::gate::rules(),
        tollgate_evidence::gate::rules(),
    ]
}

#[cfg(test)]
mod tests {
    /// A rule id names one rule: no two tables (or two rows) share one, and each id starts
    /// with a known prefix.
    #[test]
    fn rule_ids_are_unique_across_gates() {
        let mut seen = std::collections::BTreeSet::new();
        for table in super::rule_tables() {
            assert!(!table.rules.is_empty(), "{}", table.gate);
            for rule in &table.rules {
                assert!(seen.insert(rule.id), "{} twice", rule.id);
                assert!(rule.id.contains('/') && !rule.detects.is_empty(), "{}", rule.id);
            }
        }
    }
}
