//! Rule tables: every finding a gate can report has a rule id, a default level and a sentence
//! saying what it detects. Each gate declares its table once ([`GateRules`]); callers use the
//! constants, never string literals, and `tollgate rules` prints every table.

use crate::config::{ConfigError, ConfigFile};
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

/// Checks that every rule id a gate's configuration names (the keys of `[contracts] levels`,
/// an exception's `rule`) is a rule of that gate's table. `ids` are the configured ids with the
/// key each was read from (as [`ConfigFile::invalid_at`] takes it: the `levels` table and the
/// id, or the exception's `rule` key); the first unknown one is an error at that key's line and
/// column, naming the id and suggesting the closest known id, or listing the gate's ids when
/// none is close. This is the one place these ids are checked, so every gate says it alike.
pub fn check_rule_ids<'a>(
    rules: &GateRules,
    file: &ConfigFile,
    ids: impl IntoIterator<Item = (&'a str, Vec<String>)>,
) -> Result<(), ConfigError> {
    for (id, key) in ids {
        if rules.get(id).is_some() {
            continue;
        }
        let known = match closest(rules, id) {
            Some(near) => {
                format!("did you mean {near:?}? (`tollgate rules {}` lists them)", rules.gate)
            }
            None if rules.rules.len() <= LISTED => format!(
                "the {} gate's rules are: {}",
                rules.gate,
                rules.rules.iter().map(|r| r.id).collect::<Vec<_>>().join(", ")
            ),
            None => {
                let mut prefixes: Vec<&str> =
                    rules.rules.iter().filter_map(|r| r.id.split_once('/')).map(|p| p.0).collect();
                prefixes.dedup();
                format!(
                    "the {} gate's {} rule ids start with {}/; `tollgate rules {}` lists them",
                    rules.gate,
                    rules.rules.len(),
                    prefixes.join("/, "),
                    rules.gate
                )
            }
        };
        let key: Vec<&str> = key.iter().map(String::as_str).collect();
        return Err(file.invalid_at(
            &key,
            format!("unknown rule id {id:?} for the {} gate; {known}", rules.gate),
        ));
    }
    Ok(())
}

/// Up to this many rules, an unknown id's message lists them all; beyond, their prefixes.
const LISTED: usize = 12;

/// The known id most like `id`, when one is close enough to be a likely misspelling.
fn closest(rules: &GateRules, id: &str) -> Option<&'static str> {
    rules
        .rules
        .iter()
        .map(|r| (strsim::jaro_winkler(id, r.id), r.id))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, near)| near)
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

    fn levels_key(id: &str) -> (&str, Vec<String>) {
        (id, vec!["g".into(), "levels".into(), id.into()])
    }

    #[test]
    fn known_rule_ids_pass() {
        let table = GateRules::new("g", "checks g", vec![A]);
        let file =
            ConfigFile { path: "t.toml".into(), text: "[g.levels]\n\"g/a\" = \"error\"\n".into() };
        check_rule_ids(&table, &file, [levels_key("g/a")]).unwrap();
        check_rule_ids(&table, &file, []).unwrap();
    }

    #[test]
    fn an_unknown_rule_id_is_an_error_at_its_key_with_the_closest_id() {
        let table = GateRules::new(
            "g",
            "checks g",
            vec![A, Rule::new("g/path-removed", Severity::Error, "p")],
        );
        let file = ConfigFile {
            path: "tollgate.toml".into(),
            text: "[g]\nfail_on = \"error\"\nlevels = { \"g/a\" = \"info\", \"g/path-remved\" = \"info\" }\n".into(),
        };
        let err = check_rule_ids(&table, &file, [levels_key("g/a"), levels_key("g/path-remved")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "tollgate.toml:3:28: unknown rule id \"g/path-remved\" for the g gate; did you mean \
             \"g/path-removed\"? (`tollgate rules g` lists them)"
        );
    }

    #[test]
    fn an_unknown_rule_id_far_from_every_rule_lists_the_gate_s_ids() {
        let table = GateRules::new("g", "checks g", vec![A, Rule::new("g/b", Severity::Info, "b")]);
        let file = ConfigFile {
            path: "t.toml".into(),
            text:
                "[[g.exceptions]]\nrule = \"h/zzzzzz\"\n\n[[g.exceptions]]\nrule = \"openapi/x\"\n"
                    .into(),
        };
        let key = vec!["g".into(), "exceptions".into(), "1".into(), "rule".into()];
        let err = check_rule_ids(&table, &file, [("openapi/x", key)]).unwrap_err().to_string();
        assert_eq!(
            err,
            "t.toml:5:1: unknown rule id \"openapi/x\" for the g gate; the g gate's rules are: \
             g/a, g/b"
        );
    }

    #[test]
    fn a_large_table_is_summed_up_by_its_prefixes() {
        const NAMES: [&str; 13] = [
            "a/1", "a/2", "a/3", "a/4", "a/5", "a/6", "a/7", "b/1", "b/2", "b/3", "c/1", "c/2",
            "c/3",
        ];
        let table = GateRules::new(
            "g",
            "checks g",
            NAMES.iter().map(|id| Rule::new(id, Severity::Info, "x")).collect(),
        );
        let file = ConfigFile { path: "t.toml".into(), text: String::new() };
        let err = check_rule_ids(&table, &file, [levels_key("zzzzzz/q")]).unwrap_err().to_string();
        assert_eq!(
            err,
            "t.toml:1:1: unknown rule id \"zzzzzz/q\" for the g gate; the g gate's 13 rule ids \
             start with a/, b/, c/; `tollgate rules g` lists them"
        );
    }

    #[test]
    fn an_id_the_file_does_not_spell_out_is_reported_at_its_table() {
        let table = GateRules::new("g", "checks g", vec![A]);
        let file = ConfigFile { path: "t.toml".into(), text: "\n[g]\n".into() };
        let err = check_rule_ids(&table, &file, [levels_key("g/c")]).unwrap_err().to_string();
        assert!(err.starts_with("t.toml:2:2: unknown rule id \"g/c\""), "{err}");
    }
}
