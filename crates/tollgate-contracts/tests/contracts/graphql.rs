//! GraphQL SDL diff on `tests/fixtures/graphql/<case>/{base,revision}.graphql`.

use crate::fixtures;
use tollgate_contracts::change::{Change, Level};
use tollgate_contracts::graphql;

fn render(changes: &[Change]) -> String {
    changes
        .iter()
        .map(|c| format!("{} {} {} @ {}\n", level(c.level), c.rule, c.subject, c.location))
        .collect()
}

pub fn level(l: Level) -> &'static str {
    match l {
        Level::Info => "info",
        Level::Warning => "warning",
        Level::Error => "error",
    }
}

fn run(case: &std::path::Path) -> String {
    let read = |name: &str| std::fs::read_to_string(case.join(name)).expect("fixture file");
    let base = graphql::parse("base.graphql", &read("base.graphql"));
    let revision = graphql::parse("revision.graphql", &read("revision.graphql"));
    match (base, revision) {
        (Ok(b), Ok(r)) => render(&graphql::diff(&b, &r)),
        (Err(e), _) | (_, Err(e)) => format!("error: {e}\n"),
    }
}

#[test]
fn fixtures_match_expected() {
    let failures: Vec<String> = fixtures::cases("graphql")
        .iter()
        .filter_map(|c| fixtures::check_expected(c, &run(c)))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_rule_has_a_failing_and_a_passing_fixture() {
    let ids: Vec<(&str, bool)> = graphql::RULES.iter().map(|r| (r.id, false)).collect();
    fixtures::check_rule_coverage("graphql", &ids);
}

#[test]
fn rule_ids_are_unique_and_namespaced() {
    let mut ids: Vec<&str> = graphql::RULES.iter().map(|r| r.id).collect();
    assert!(ids.iter().all(|id| id.starts_with("graphql/")));
    ids.sort_unstable();
    let before = ids.len();
    ids.dedup();
    assert_eq!(before, ids.len());
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
