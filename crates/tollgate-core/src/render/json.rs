//! The gate reports as JSON, for other programs.
//!
//! What it promises: one pretty-printed object `{"reports": [...], "schemaVersion": "1"}`, where
//! each report is the serde form of [`GateReport`] (the same form the stage files
//! `target/tollgate/<run-id>/<stage>.json` hold), in the order given. Object keys are sorted at
//! every level whatever serde_json's features, so equal reports give equal bytes. The text ends
//! with a newline. `schemaVersion` changes when a field is removed or changes meaning; adding a
//! field does not change it.

use crate::report::GateReport;
use serde_json::{Value, json};

/// The version of this document's shape; see the module documentation.
const SCHEMA_VERSION: &str = "1";

/// Renders `reports` as the versioned JSON document described in the module documentation.
pub(crate) fn render(reports: &[GateReport]) -> String {
    let mut document = json!({
        "schemaVersion": SCHEMA_VERSION,
        "reports": reports,
    });
    // With serde_json's `preserve_order` feature switched on anywhere in the build, maps keep
    // insertion order; sorting here keeps the promise either way.
    document.sort_all_objects();
    to_pretty_line(&document)
}

/// Pretty JSON followed by a newline.
pub(super) fn to_pretty_line(document: &Value) -> String {
    // A `Value` has only string keys and finite numbers, so serializing it cannot fail.
    let mut text = serde_json::to_string_pretty(document).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::test_fixtures::*;

    #[test]
    fn snapshot_of_fixture_reports() {
        insta::assert_snapshot!(render(&reports()));
    }

    #[test]
    fn reports_round_trip() {
        let text = render(&reports());
        let document: Value = serde_json::from_str(&text).expect("renderer writes valid JSON");
        assert_eq!(document["schemaVersion"], "1");
        let back: Vec<GateReport> =
            serde_json::from_value(document["reports"].clone()).expect("reports deserialize");
        assert_eq!(back, reports());
    }

    #[test]
    fn keys_are_sorted_and_text_ends_with_newline() {
        let text = render(&[failing_deps()]);
        assert!(text.ends_with("}\n"));
        assert!(text.find("\"reports\"") < text.find("\"schemaVersion\""));
        assert!(text.find("\"duration_ms\"") < text.find("\"findings\""));
        assert!(text.find("\"message\"") < text.find("\"rule\""));
    }

    #[test]
    fn no_reports_is_an_empty_list() {
        assert_eq!(render(&[]), "{\n  \"reports\": [],\n  \"schemaVersion\": \"1\"\n}\n");
    }
}
