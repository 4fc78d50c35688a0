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
