//! `tollgate rules [GATE]`: every gate's rule table.

use crate::cli::RulesArgs;
use tollgate_core::{GateRules, Verdict};

pub fn run(args: &RulesArgs) -> anyhow::Result<Verdict> {
    let mut tables = all_tables();
    if let Some(gate) = &args.gate {
        tables.retain(|t| t.gate == gate);
        if tables.is_empty() {
            let names: Vec<&str> = all_tables().iter().map(|t| t.gate).collect();
            anyhow::bail!("unknown gate {gate:?} (gates: {})", names.join(", "));
        }
    }
    crate::output::emit(None, &tollgate_core::rule::render_tables(&tables))?;
    Ok(Verdict::Pass)
}

/// The release pipeline's gates, then the database gates.
fn all_tables() -> Vec<GateRules> {
    let mut tables = tollgate_release::rule_tables();
    tables.extend(tollgate_db::gate::rules());
    tables
}
