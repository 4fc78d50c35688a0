//! Rule tables: every finding a gate can report has a rule id, a default level and a sentence
//! saying what it detects. Each gate declares its table once ([`GateRules`]); callers use the
//! constants, never string literals, and `tollgate rules` prints every table.

use crate::finding::{Finding, Severity};
use serde::Serialize;

/// One rule of a gate: what [`Finding::rule`] holds, and the level it reports at unless the
/// gate's configuration says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Stable id, `<gate>/<name>` (`sbom/no-baseline`).
    pub id: &'static str,
    /// The severity it reports at by default.
    pub level: Severity,
    /// What it detects, one sentence.
    pub detects: &'static str,
}

impl Rule {
    /// A rule table entry.
    pub const fn new(id: &'static str, level: Severity, detects: &'static str) -> Rule {
        Rule { id, level, detects }
    }

    /// A finding of this rule at its default level.
    pub fn finding(&self, message: impl Into<String>) -> Finding {
        Finding::new(self.id, self.level, message)
    }

    /// A finding of this rule at a configured level.
    pub fn finding_at(&self, level: Severity, message: impl Into<String>) -> Finding {
        Finding::new(self.id, level, message)
    }
}

/// A gate's rule table, as `tollgate rules [GATE]` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateRules {
    /// The gate's name (the `gate` of its reports and the argument of `tollgate rules`).
    pub gate: &'static str,
    /// What the gate checks, one line.
    pub summary: &'static str,
    /// Its rules, sorted by id.
    pub rules: Vec<Rule>,
}

impl GateRules {
    /// A table; the rules are sorted by id.
    pub fn new(gate: &'static str, summary: &'static str, mut rules: Vec<Rule>) -> GateRules {
        rules.sort_by_key(|r| r.id);
        GateRules { gate, summary, rules }
    }

    /// The rule with this id, if the table has it.
    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }
}

/// The tables as aligned text: a `# gate (n rules): summary` heading, then one line per rule
/// (id, level, what it detects).
pub fn render_tables(tables: &[GateRules]) -> String {
    let mut out = String::new();
    for table in tables {
        let width = table.rules.iter().map(|r| r.id.len()).max().unwrap_or(0);
        out.push_str(&format!(
            "# {} ({} rules): {}\n",
            table.gate,
            table.rules.len(),
            table.summary
        ));
        for rule in &table.rules {
            out.push_str(&format!(
                "{:width$}  {:7}  {}\n",
                rule.id,
                rule.level.as_str(),
                rule.detects
            ));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Rule = Rule::new("g/a", Severity::Warning, "a thing");

    #[test]
    fn findings_carry_the_rule_id_and_level() {
        let f = A.finding("m");
        assert_eq!((f.rule.as_str(), f.severity), ("g/a", Severity::Warning));
        assert_eq!(A.finding_at(Severity::Error, "m").severity, Severity::Error);
    }

    #[test]
    fn tables_sort_and_render_aligned() {
        let table =
            GateRules::new("g", "checks g", vec![Rule::new("g/zz", Severity::Error, "zz"), A]);
        assert_eq!(table.rules[0].id, "g/a");
        assert_eq!(table.get("g/zz").unwrap().level, Severity::Error);
        assert!(table.get("g/none").is_none());
        assert_eq!(
            render_tables(&[table]),
            "# g (2 rules): checks g\ng/a   warning  a thing\ng/zz  error    zz\n\n"
        );
    }
}
