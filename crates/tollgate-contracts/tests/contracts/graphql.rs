//! GraphQL SDL diff: `tests/fixtures/graphql/<group>/<case>/{base,revision}.graphql` (see
//! `fixtures` for the convention) plus what the fixtures cannot say.

use crate::fixtures::{self, Inputs, Kind, Outcome};
use tollgate_contracts::graphql;

const KIND: Kind = Kind {
    name: "graphql",
    extensions: &["graphql"],
    extra_inputs: &[],
    diff,
    rules: graphql::RULES,
    topics: &["parse"],
    uncovered: &[],
};

fn diff(inputs: &Inputs) -> Result<Outcome, String> {
    let parse = |input: &fixtures::Input| graphql::parse(&input.name, &input.text);
    Ok(parse(&inputs.base).and_then(|b| parse(&inputs.revision).map(|r| graphql::diff(&b, &r))))
}

#[test]
fn fixtures_match_expected() {
    fixtures::assert_fixtures(&KIND);
}

#[test]
fn every_rule_has_fixtures() {
    fixtures::assert_coverage(&KIND);
}

#[test]
fn rule_ids_are_unique_and_prefixed() {
    fixtures::assert_rule_table(&KIND);
}

#[test]
fn load_names_the_file_in_syntax_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broken.graphql");
    std::fs::write(&path, "type Query {\n  user(id: ID!): User\n  name String\n}\n")
        .expect("write");
    let err = graphql::load(&path).expect_err("syntax error").to_string();
    assert!(err.contains("broken.graphql:3:"), "{err}");
}

#[allow(dead_code)] // shared with examples/graphql_diff.rs, which uses all of it
#[path = "../../benches/support/inspector_cmp.rs"]
mod inspector_cmp;
#[allow(dead_code)] // shared with the benchmark
#[path = "../../benches/support/realistic_gen.rs"]
mod realistic_gen;

/// The side-by-side as a test: with `TOLLGATE_GRAPHQL_INSPECTOR` naming a `node_modules`
/// directory holding `@graphql-inspector/core` 8 and `graphql` 16 (and `node` on the PATH),
/// every fixture pair that loads and the realistic ~780-type pair get graphql-inspector's
/// verdicts (its changes without `simplifyChanges`, see `inspector_cmp`). Without it, nothing
/// is checked: the test command decides whether to install them.
#[test]
fn verdicts_match_graphql_inspector() {
    let Some(modules) = std::env::var_os("TOLLGATE_GRAPHQL_INSPECTOR") else { return };
    let modules = modules.to_string_lossy().into_owned();
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut pairs = Vec::new();
    for group in std::fs::read_dir(fixtures::root(&KIND)).expect("fixtures") {
        for case in std::fs::read_dir(group.expect("group").path()).expect("cases") {
            let dir = case.expect("case").path();
            pairs.push((dir.join("base.graphql"), dir.join("revision.graphql")));
        }
    }
    let (old, new) = (tmp.path().join("old.graphql"), tmp.path().join("new.graphql"));
    std::fs::write(&old, realistic_gen::schema(false)).expect("write");
    std::fs::write(&new, realistic_gen::schema(true)).expect("write");
    pairs.push((old, new));
    let mut failures = Vec::new();
    for (base, revision) in &pairs {
        let (Ok(b), Ok(r)) = (graphql::load(base), graphql::load(revision)) else { continue };
        let changes = graphql::diff(&b, &r);
        let (base, revision) = (base.to_string_lossy(), revision.to_string_lossy());
        match inspector_cmp::compare(
            inspector_cmp::Mode::Precise,
            &modules,
            &base,
            &revision,
            &changes,
        ) {
            Ok(c) if c.verdicts_agree() => {}
            Ok(c) => failures.push(format!("{revision}:\n{}", c.render())),
            Err(e) => failures.push(format!("{revision}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
