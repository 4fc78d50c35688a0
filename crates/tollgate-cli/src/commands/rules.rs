//! `tollgate rules [GATE]`: every gate's rule table.

use crate::cli::RulesArgs;
use tollgate_core::Verdict;

pub fn run(args: &RulesArgs) -> anyhow::Result<Verdict> {
    let mut tables = tollgate_release::rule_tables();
    if let Some(gate) = &args.gate {
        tables.retain(|t| t.gate == gate);
        if tables.is_empty() {
            let names: Vec<&str> = tollgate_release::rule_tables().iter().map(|t| t.gate).collect();
            anyhow::bail!("unknown gate {gate:?} (gates: {})", names.join(", "));
        }
    }
    crate::output::emit(None, &tollgate_core::rule::render_tables(&tables))?;
    Ok(Verdict::Pass)
}
