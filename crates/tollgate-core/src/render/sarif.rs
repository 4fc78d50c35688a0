//! SARIF 2.1.0, for code-scanning tools (GitHub code scanning, Azure DevOps, SonarQube, …).
//!
//! What it promises:
//! - One SARIF log valid against the OASIS SARIF 2.1.0 JSON schema, with one run per report in
//!   the order given. Each run names the tool `tollgate` (with this crate's version and the
//!   project's repository as `informationUri`) and carries `automationDetails.id`
//!   `tollgate/<gate>/`, so that code scanning keeps each gate's results in its own category.
//! - `tool.driver.rules` lists the distinct rule ids of that run's findings, sorted, each with a
//!   `shortDescription` made from the rule's name (`deps/license-denied` → "License denied"), a
//!   `fullDescription` naming the rule id, and a `help` text pointing at the remediation (GitHub
//!   code scanning asks for all three). Every result's `ruleIndex` points at its rule there.
//! - Severity maps to `level`: error → `error`, warning → `warning`, info → `note`.
//! - A finding's location becomes `physicalLocation.artifactLocation.uri` (the relative path,
//!   percent-encoded) with `region.startLine` when the line is known; its JSON pointer, when it
//!   has one, becomes `logicalLocations[0].fullyQualifiedName`. A whole-file finding has no
//!   `region` (SARIF §3.29.4), rather than a made-up line 1.
//! - Every result has a physical location, because GitHub code scanning rejects the whole log
//!   when one result lacks it. A finding without a location of its own is placed at the gate's
//!   first input (or at `tollgate.toml` when the gate read nothing), and that location's
//!   `message` says so.
//! - `subject` and `remediation` go into the result's `properties`.
//! - `partialFingerprints["tollgate/v1"]` is a SHA-256 over the rule, file, JSON pointer and
//!   subject. The line is part of it only when the finding has neither pointer nor subject, so a
//!   finding keeps its identity (and its alert its history) when lines above it move.
//! - `invocations[0].executionSuccessful` is `true`: the gate ran, whatever it found. Start and
//!   end times come from the report's `started` and `duration_ms` when `started` is RFC 3339.
//! - The gate's inputs are the run's `artifacts`, with their digests as `hashes`; the verdict and
//!   duration are in the run's `properties`.
//! - Keys sorted, pretty-printed, newline at the end; equal reports give equal bytes.

use super::json::to_pretty_line;
use crate::artifact::DigestAlgorithm;
use crate::finding::{Finding, Location, Severity};
use crate::report::GateReport;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Where the SARIF 2.1.0 schema is published for editors and validators.
const SARIF_SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// The key of our entry in `partialFingerprints`; the suffix changes when the hashed fields do.
const FINGERPRINT_KEY: &str = "tollgate/v1";
/// Where a finding without location is shown when its gate read no inputs: the project's config.
const FALLBACK_FILE: &str = "tollgate.toml";
/// The message on a location that stands in for a finding without one.
const FALLBACK_MESSAGE: &str = concat!(
    "The finding has no location of its own; ",
    "it is shown at its gate's first input, or at tollgate.toml."
);
/// `help.text` of every rule: the specific advice is per finding.
const RULE_HELP: &str =
    "How to fix or accept a finding of this rule is in the result's `remediation` property.";

/// Renders `reports` as one SARIF 2.1.0 log with a run per report.
pub(crate) fn render(reports: &[GateReport]) -> String {
    let runs: Vec<Value> = reports.iter().map(run).collect();
    let mut log = json!({
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": runs,
    });
    log.sort_all_objects();
    to_pretty_line(&log)
}

fn run(report: &GateReport) -> Value {
    // Sorted and unique, so a rule's index is stable for equal findings.
    let rule_index: BTreeMap<&str, usize> = {
        let mut ids: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter().enumerate().map(|(index, id)| (id, index)).collect()
    };
    let rules: Vec<Value> = rule_index
        .keys()
        .map(|id| {
            let short = describe_rule(id);
            json!({
                "id": id,
                "shortDescription": { "text": short },
                "fullDescription": { "text": format!("{short} (Tollgate rule {id}).") },
                "help": { "text": RULE_HELP },
            })
        })
        .collect();
    // Where findings without a location of their own are shown; see the module documentation.
    let fallback_file = report.inputs.first().map_or(FALLBACK_FILE, |input| input.name.as_str());
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| result(f, rule_index.get(f.rule.as_str()).copied(), fallback_file))
        .collect();
    let artifacts: Vec<Value> = report
        .inputs
        .iter()
        .map(|input| {
            let algorithm = match input.digest.algorithm {
                DigestAlgorithm::Sha256 => "sha-256",
                DigestAlgorithm::Sha512 => "sha-512",
            };
            json!({
                "location": { "uri": uri_reference(&input.name) },
                "hashes": { algorithm: input.digest.hex },
            })
        })
        .collect();

    let mut run = json!({
        "tool": {
            "driver": {
                "name": "tollgate",
                "informationUri": env!("CARGO_PKG_REPOSITORY"),
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }
        },
        "automationDetails": { "id": format!("tollgate/{}/", report.gate) },
        "invocations": [invocation(report)],
        "results": results,
        "properties": {
            "gate": report.gate,
            "verdict": report.verdict.as_str(),
            "durationMs": report.duration_ms,
        },
    });
    if !artifacts.is_empty() {
        run["artifacts"] = Value::Array(artifacts);
    }
    run
}

fn invocation(report: &GateReport) -> Value {
    let mut invocation = json!({ "executionSuccessful": true });
    // SARIF wants UTC date-times; a report whose `started` is not RFC 3339 simply has none.
    if let Ok(started) = OffsetDateTime::parse(&report.started, &Rfc3339) {
        let started = started.to_offset(time::UtcOffset::UTC);
        let ended = started.saturating_add(time::Duration::milliseconds(
            i64::try_from(report.duration_ms).unwrap_or(i64::MAX),
        ));
        if let (Ok(start), Ok(end)) = (started.format(&Rfc3339), ended.format(&Rfc3339)) {
            invocation["startTimeUtc"] = Value::String(start);
            invocation["endTimeUtc"] = Value::String(end);
        }
    }
    invocation
}

fn result(finding: &Finding, rule_index: Option<usize>, fallback_file: &str) -> Value {
    let mut result = json!({
        "ruleId": finding.rule,
        "level": level(finding.severity),
        "message": { "text": finding.message },
        "partialFingerprints": { FINGERPRINT_KEY: fingerprint(finding) },
    });
    if let Some(index) = rule_index {
        result["ruleIndex"] = json!(index);
    }
    let location = match &finding.location {
        Some(location) => sarif_location(location),
        None => json!({
            "physicalLocation": { "artifactLocation": { "uri": uri_reference(fallback_file) } },
            "message": { "text": FALLBACK_MESSAGE },
        }),
    };
    result["locations"] = json!([location]);
    let mut properties = Map::new();
    if let Some(subject) = &finding.subject {
        properties.insert("subject".into(), json!(subject));
    }
    if let Some(remediation) = &finding.remediation {
        properties.insert("remediation".into(), json!(remediation));
    }
    if !properties.is_empty() {
        result["properties"] = Value::Object(properties);
    }
    result
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn sarif_location(location: &Location) -> Value {
    let mut physical = json!({ "artifactLocation": { "uri": uri_reference(&location.file) } });
    // SARIF lines are 1-based; a line 0 would make the log invalid, so it is left out.
    if let Some(line) = location.line.filter(|&line| line >= 1) {
        physical["region"] = json!({ "startLine": line });
    }
    let mut sarif = json!({ "physicalLocation": physical });
    if let Some(pointer) = &location.pointer {
        sarif["logicalLocations"] = json!([{ "fullyQualifiedName": pointer }]);
    }
    sarif
}

/// Stable identity of a finding across runs; see the module documentation for what it covers.
fn fingerprint(finding: &Finding) -> String {
    let location = finding.location.as_ref();
    let pointer = location.and_then(|l| l.pointer.as_deref());
    let line =
        location.and_then(|l| l.line).filter(|_| pointer.is_none() && finding.subject.is_none());
    // A JSON array keeps the fields apart whatever characters they contain.
    let file = location.map(|l| l.file.as_str());
    let identity = json!([finding.rule, file, pointer, finding.subject, line]);
    hex::encode(Sha256::digest(identity.to_string().as_bytes()))
}

/// `deps/license-denied` → `License denied`.
fn describe_rule(id: &str) -> String {
    let name = id.rsplit('/').next().unwrap_or(id).replace(['-', '_'], " ");
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => id.to_owned(),
    }
}

/// A relative path as a URI reference: everything but unreserved characters and `/` is
/// percent-encoded, so spaces, `#`, `%` and a `:` in the first segment keep their meaning.
fn uri_reference(path: &str) -> String {
    let mut uri = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            uri.push(char::from(byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::test_fixtures::*;

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).expect("renderer writes valid JSON")
    }

    #[test]
    fn snapshot_of_fixture_reports() {
        insta::assert_snapshot!(render(&reports()));
    }

    #[test]
    fn one_run_per_report_with_the_log_header() {
        let log = parse(&render(&reports()));
        assert_eq!(log["version"], "2.1.0");
        assert_eq!(log["$schema"], SARIF_SCHEMA_URI);
        let runs = log["runs"].as_array().expect("runs");
        assert_eq!(runs.len(), 3);
        for (run, report) in runs.iter().zip(reports()) {
            assert_eq!(run["tool"]["driver"]["name"], "tollgate");
            assert_eq!(run["tool"]["driver"]["version"], env!("CARGO_PKG_VERSION"));
            assert_eq!(run["invocations"][0]["executionSuccessful"], true);
            assert_eq!(run["properties"]["gate"], report.gate.as_str());
            assert_eq!(run["results"].as_array().map(Vec::len), Some(report.findings.len()));
        }
    }

    #[test]
    fn rule_index_points_at_the_result_rule() {
        let log = parse(&render(&reports()));
        for run in log["runs"].as_array().expect("runs") {
            let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
            let ids: Vec<&str> = rules.iter().filter_map(|r| r["id"].as_str()).collect();
            let mut sorted = ids.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(ids, sorted, "rules are sorted and unique");
            for result in run["results"].as_array().expect("results") {
                let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
                assert_eq!(rules[index]["id"], result["ruleId"]);
            }
        }
        let deps = &log["runs"][1]["tool"]["driver"]["rules"];
        let ids: Vec<&str> =
            deps.as_array().expect("rules").iter().filter_map(|r| r["id"].as_str()).collect();
        assert_eq!(
            ids,
            [
                "deps/advisory-unmaintained",
                "deps/duplicate-version",
                "deps/license-denied",
                "deps/source-untrusted"
            ]
        );
    }

    #[test]
    fn levels_locations_and_properties() {
        let log = parse(&render(&[failing_deps(), failing_contracts()]));
        let deps = &log["runs"][0]["results"];
        assert_eq!(deps[0]["level"], "error");
        assert_eq!(deps[0]["locations"][0]["physicalLocation"]["region"]["startLine"], 42);
        assert_eq!(deps[0]["properties"]["subject"], "pkg:cargo/left-pad@1.0.0");
        assert_eq!(
            deps[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "vendor/a%20b/Cargo.toml"
        );
        assert_eq!(deps[2]["level"], "warning");
        assert_eq!(deps[3]["level"], "note");
        let fallback = &deps[3]["locations"][0];
        assert_eq!(fallback["physicalLocation"]["artifactLocation"]["uri"], "Cargo.lock");
        assert_eq!(fallback["message"]["text"], FALLBACK_MESSAGE);

        let contracts = &log["runs"][1]["results"];
        let removed = &contracts[0]["locations"][0];
        assert!(removed["physicalLocation"].get("region").is_none());
        assert_eq!(
            removed["logicalLocations"][0]["fullyQualifiedName"],
            "/paths/~1users~1{id}/get"
        );
    }

    #[test]
    fn fingerprints_ignore_message_and_moved_lines_of_identified_findings() {
        let base = Finding::new("deps/x", Severity::Error, "one")
            .at(Location::file("Cargo.lock").at_line(1))
            .about("pkg:cargo/a@1");
        let moved = Finding { message: "two".into(), ..base.clone() }
            .at(Location::file("Cargo.lock").at_line(99));
        assert_eq!(fingerprint(&base), fingerprint(&moved));

        let other_subject = base.clone().about("pkg:cargo/b@1");
        assert_ne!(fingerprint(&base), fingerprint(&other_subject));

        let anonymous = Finding::new("deps/x", Severity::Error, "one");
        let at_1 = anonymous.clone().at(Location::file("f").at_line(1));
        let at_2 = anonymous.at(Location::file("f").at_line(2));
        assert_ne!(fingerprint(&at_1), fingerprint(&at_2), "the line is all that tells them apart");
    }

    #[test]
    fn fingerprints_are_unique_in_the_fixture() {
        let log = parse(&render(&reports()));
        let mut seen = std::collections::BTreeSet::new();
        for run in log["runs"].as_array().expect("runs") {
            for result in run["results"].as_array().expect("results") {
                let fingerprint = result["partialFingerprints"][FINGERPRINT_KEY].as_str();
                assert!(seen.insert(fingerprint.expect("fingerprint").to_owned()));
            }
        }
    }

    #[test]
    fn every_result_has_a_physical_location() {
        let mut report = failing_deps();
        report.inputs.clear();
        let log = parse(&render(&[report]));
        for result in log["runs"][0]["results"].as_array().expect("results") {
            let uri = &result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"];
            assert!(uri.is_string(), "{result}");
        }
        let fallback = &log["runs"][0]["results"][3]["locations"][0]["physicalLocation"];
        assert_eq!(fallback["artifactLocation"]["uri"], FALLBACK_FILE);
    }

    #[test]
    fn invocation_times_follow_the_report() {
        let log = parse(&render(&[failing_deps()]));
        let invocation = &log["runs"][0]["invocations"][0];
        assert_eq!(invocation["startTimeUtc"], "2025-01-01T00:00:00Z");
        assert_eq!(invocation["endTimeUtc"], "2025-01-01T00:00:01.534Z");

        let mut report = failing_deps();
        report.started = "not a time".into();
        let log = parse(&render(&[report]));
        assert!(log["runs"][0]["invocations"][0].get("startTimeUtc").is_none());
    }

    #[test]
    fn rule_descriptions_and_uris() {
        assert_eq!(describe_rule("deps/license-denied"), "License denied");
        assert_eq!(describe_rule("plain"), "Plain");
        assert_eq!(uri_reference("src/a b#c%.rs"), "src/a%20b%23c%25.rs");
        assert_eq!(uri_reference("C:/x/ü"), "C%3A/x/%C3%BC");
    }

    #[test]
    fn no_reports_is_a_log_without_runs() {
        let log = parse(&render(&[]));
        assert_eq!(log["runs"], json!([]));
    }
}
