//! JSON Schema compatibility: `tests/fixtures/jsonschema/<group>/<case>/{base,revision}.json`
//! judged under the mode in the case's `mode` file (backward, forward or full); see `fixtures`
//! for the convention.

use crate::fixtures::{self, Inputs, Kind, Outcome};
use tollgate_contracts::jsonschema::{self, Compatibility};

const KIND: Kind = Kind {
    name: "jsonschema",
    extensions: &["json"],
    extra_inputs: &["mode"],
    diff,
    rules: jsonschema::RULES,
    topics: &["identical", "load", "traversal"],
    uncovered: &[],
};

fn diff(inputs: &Inputs) -> Result<Outcome, String> {
    let mode: Compatibility = inputs.extra("mode").parse().map_err(|e| format!("mode: {e}"))?;
    let parse = |input: &fixtures::Input| jsonschema::parse(&input.name, &input.text);
    Ok(parse(&inputs.base)
        .and_then(|b| parse(&inputs.revision).map(|r| jsonschema::check(&b, &r, mode))))
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
fn modes_parse_in_any_case() {
    assert_eq!("BACKWARD".parse::<Compatibility>(), Ok(Compatibility::Backward));
    assert_eq!("full".parse::<Compatibility>(), Ok(Compatibility::Full));
    assert!("transitive".parse::<Compatibility>().is_err());
}
