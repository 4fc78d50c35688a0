//! JSON Schema compatibility on `tests/fixtures/jsonschema/<case>/{base,revision}.json` under
//! the mode named in `mode` (backward, forward or full).

use crate::fixtures;
use crate::graphql::level;
use tollgate_contracts::jsonschema::{self, Compatibility};

fn run(case: &std::path::Path) -> String {
    let read = |name: &str| std::fs::read_to_string(case.join(name)).expect("fixture file");
    let mode: Compatibility = read("mode").parse().expect("mode");
    let base = jsonschema::parse("base.json", &read("base.json"));
    let revision = jsonschema::parse("revision.json", &read("revision.json"));
    match (base, revision) {
        (Ok(b), Ok(r)) => jsonschema::check(&b, &r, mode)
            .iter()
            .map(|c| format!("{} {} {} @ {}\n", level(c.level), c.rule, c.subject, c.location))
            .collect(),
        (Err(e), _) | (_, Err(e)) => format!("error: {e}\n"),
    }
}

#[test]
fn fixtures_match_expected() {
    let failures: Vec<String> = fixtures::cases("jsonschema")
        .iter()
        .filter_map(|c| fixtures::check_expected(c, &run(c)))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_rule_has_a_failing_and_a_passing_fixture() {
    let ids: Vec<(&str, bool)> = jsonschema::RULES
        .iter()
        .map(|r| (r.id, r.level == tollgate_contracts::change::Level::Error))
        .collect();
    fixtures::check_rule_coverage("jsonschema", &ids);
}

#[test]
fn modes_parse_in_any_case() {
    assert_eq!("BACKWARD".parse::<Compatibility>(), Ok(Compatibility::Backward));
    assert_eq!("full".parse::<Compatibility>(), Ok(Compatibility::Full));
    assert!("transitive".parse::<Compatibility>().is_err());
}
