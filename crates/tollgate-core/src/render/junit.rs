//! JUnit XML, for the test tabs of CI systems (Jenkins, GitLab, GitHub test-report actions).
//!
//! JUnit has no schema of record; this writes the shape those tools all accept:
//! `<testsuites>` with `tests`, `failures`, `errors` and `time` (seconds) totals, holding one
//! `<testsuite name="<gate>">` per report in the order given, with the same counts, a
//! `timestamp` (UTC, no zone, when the report's `started` is RFC 3339) and `<properties>` for
//! the verdict and start time.
//!
//! The mapping, chosen so that a suite is red exactly when its gate failed:
//! - Every finding is one `<testcase classname="tollgate.<gate>">`, named
//!   `<rule> at <location> (<subject>)` (the parts it has), in report order.
//! - In a failed gate, the findings at the most severe level present are failures: every
//!   error-severity finding, or, in a gate configured to fail on warnings (or info) that has no
//!   errors, every finding at its most severe level. Each gets
//!   `<failure type="<rule>" message="<message>">` whose text is the whole finding.
//! - Every other finding is a passing testcase whose `<system-out>` holds the whole finding.
//! - A gate with no findings is one testcase named after the gate: passing, or, if the gate
//!   failed anyway, failing with `type="tollgate/gate-failed"`.
//! - Findings take no time of their own (`time="0.000"`); a gate's one no-findings testcase
//!   takes the gate's duration.
//!
//! All text is escaped by quick-xml. Attribute values are kept to one line (line breaks become
//! spaces, since XML parsers fold them anyway); element text keeps them. Characters XML 1.0
//! cannot carry at all (most control characters) become U+FFFD. The document starts with an
//! XML declaration and ends with a newline; equal reports give equal bytes.

use crate::finding::{Finding, Severity};
use crate::report::{GateReport, Verdict};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use std::borrow::Cow;
use std::io;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// The `type` of the failure given to a failed gate that reported no findings.
const GATE_FAILED_TYPE: &str = "tollgate/gate-failed";

/// Renders `reports` as a JUnit XML document with a test suite per report.
pub(crate) fn render(reports: &[GateReport]) -> String {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    // Writing into a Vec cannot fail, and every piece written is a `&str`, so the bytes are
    // UTF-8; the fallbacks below are never taken.
    if write_document(&mut writer, reports).is_err() {
        return String::new();
    }
    let mut text = String::from_utf8(writer.into_inner()).unwrap_or_default();
    text.push('\n');
    text
}

/// One testcase to write: its name and what became of it.
struct Case<'a> {
    name: String,
    time_ms: u64,
    outcome: Outcome<'a>,
}

enum Outcome<'a> {
    Passed,
    /// A finding that fails its gate.
    Failed(&'a Finding),
    /// A finding that does not fail its gate, reported as output.
    Noted(&'a Finding),
    /// A failed gate without findings.
    GateFailed,
}

impl Case<'_> {
    fn is_failure(&self) -> bool {
        matches!(self.outcome, Outcome::Failed(_) | Outcome::GateFailed)
    }
}

fn cases(report: &GateReport) -> Vec<Case<'_>> {
    if report.findings.is_empty() {
        let outcome = match report.verdict {
            Verdict::Pass => Outcome::Passed,
            Verdict::Fail => Outcome::GateFailed,
        };
        return vec![Case { name: report.gate.clone(), time_ms: report.duration_ms, outcome }];
    }
    let failing_severity: Option<Severity> = match report.verdict {
        Verdict::Fail => report.findings.iter().map(|f| f.severity).max(),
        Verdict::Pass => None,
    };
    report
        .findings
        .iter()
        .map(|finding| {
            let outcome = if Some(finding.severity) == failing_severity {
                Outcome::Failed(finding)
            } else {
                Outcome::Noted(finding)
            };
            Case { name: case_name(finding), time_ms: 0, outcome }
        })
        .collect()
}

fn case_name(finding: &Finding) -> String {
    let mut name = finding.rule.clone();
    if let Some(location) = &finding.location {
        name.push_str(" at ");
        name.push_str(&location.to_string());
    }
    if let Some(subject) = &finding.subject {
        name.push_str(" (");
        name.push_str(subject);
        name.push(')');
    }
    name
}

fn write_document(writer: &mut Writer<Vec<u8>>, reports: &[GateReport]) -> io::Result<()> {
    let suites: Vec<(&GateReport, Vec<Case<'_>>)> = reports.iter().map(|r| (r, cases(r))).collect();
    let tests: usize = suites.iter().map(|(_, cases)| cases.len()).sum();
    let failures: usize = suites.iter().map(|(_, cases)| failure_count(cases)).sum();
    let time_ms: u64 = reports.iter().map(|r| r.duration_ms).sum();

    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let mut root = BytesStart::new("testsuites");
    root.push_attribute(("name", "tollgate"));
    push_counts(&mut root, tests, failures, time_ms);
    writer.write_event(Event::Start(root))?;
    for (report, cases) in &suites {
        write_suite(writer, report, cases)?;
    }
    writer.write_event(Event::End(BytesEnd::new("testsuites")))
}

fn failure_count(cases: &[Case<'_>]) -> usize {
    cases.iter().filter(|case| case.is_failure()).count()
}

fn push_counts(element: &mut BytesStart<'_>, tests: usize, failures: usize, time_ms: u64) {
    element.push_attribute(("tests", tests.to_string().as_str()));
    element.push_attribute(("failures", failures.to_string().as_str()));
    element.push_attribute(("errors", "0"));
    element.push_attribute(("skipped", "0"));
    element.push_attribute(("time", seconds(time_ms).as_str()));
}

fn write_suite(
    writer: &mut Writer<Vec<u8>>,
    report: &GateReport,
    cases: &[Case<'_>],
) -> io::Result<()> {
    let mut suite = BytesStart::new("testsuite");
    suite.push_attribute(("name", attribute_text(&report.gate).as_ref()));
    push_counts(&mut suite, cases.len(), failure_count(cases), report.duration_ms);
    if let Some(timestamp) = junit_timestamp(&report.started) {
        suite.push_attribute(("timestamp", timestamp.as_str()));
    }
    writer.write_event(Event::Start(suite))?;

    writer.write_event(Event::Start(BytesStart::new("properties")))?;
    for (name, value) in
        [("verdict", report.verdict.as_str()), ("started", report.started.as_str())]
    {
        let mut property = BytesStart::new("property");
        property.push_attribute(("name", name));
        property.push_attribute(("value", attribute_text(value).as_ref()));
        writer.write_event(Event::Empty(property))?;
    }
    writer.write_event(Event::End(BytesEnd::new("properties")))?;

    let classname = attribute_text(&format!("tollgate.{}", report.gate)).into_owned();
    for case in cases {
        let mut testcase = BytesStart::new("testcase");
        testcase.push_attribute(("name", attribute_text(&case.name).as_ref()));
        testcase.push_attribute(("classname", classname.as_str()));
        testcase.push_attribute(("time", seconds(case.time_ms).as_str()));
        match &case.outcome {
            Outcome::Passed => writer.write_event(Event::Empty(testcase))?,
            Outcome::Failed(finding) => {
                writer.write_event(Event::Start(testcase))?;
                let mut failure = BytesStart::new("failure");
                failure.push_attribute(("type", attribute_text(&finding.rule).as_ref()));
                failure.push_attribute(("message", attribute_text(&finding.message).as_ref()));
                write_text_element(writer, failure, &finding_text(finding))?;
                writer.write_event(Event::End(BytesEnd::new("testcase")))?;
            }
            Outcome::Noted(finding) => {
                writer.write_event(Event::Start(testcase))?;
                write_text_element(writer, BytesStart::new("system-out"), &finding_text(finding))?;
                writer.write_event(Event::End(BytesEnd::new("testcase")))?;
            }
            Outcome::GateFailed => {
                writer.write_event(Event::Start(testcase))?;
                let message = format!("gate {} failed without reporting a finding", report.gate);
                let mut failure = BytesStart::new("failure");
                failure.push_attribute(("type", GATE_FAILED_TYPE));
                failure.push_attribute(("message", attribute_text(&message).as_ref()));
                writer.write_event(Event::Empty(failure))?;
                writer.write_event(Event::End(BytesEnd::new("testcase")))?;
            }
        }
    }
    writer.write_event(Event::End(BytesEnd::new("testsuite")))
}

fn write_text_element(
    writer: &mut Writer<Vec<u8>>,
    start: BytesStart<'_>,
    text: &str,
) -> io::Result<()> {
    let end = start.to_end().into_owned();
    writer.write_event(Event::Start(start))?;
    writer.write_event(Event::Text(BytesText::new(&xml_text(text))))?;
    writer.write_event(Event::End(end))
}

/// The whole finding as the text of a `<failure>` or `<system-out>`.
fn finding_text(finding: &Finding) -> String {
    let mut text = format!("{}: {}\nrule: {}", finding.severity, finding.message, finding.rule);
    if let Some(location) = &finding.location {
        text.push_str(&format!("\nlocation: {location}"));
    }
    if let Some(subject) = &finding.subject {
        text.push_str(&format!("\nsubject: {subject}"));
    }
    if let Some(remediation) = &finding.remediation {
        text.push_str(&format!("\nhelp: {remediation}"));
    }
    text
}

/// Text an attribute can hold as it is: one line, only characters XML allows.
fn attribute_text(text: &str) -> Cow<'_, str> {
    if !text.contains(['\n', '\r', '\t']) {
        return xml_text(text);
    }
    let one_line: String = text.lines().collect::<Vec<_>>().join(" ").replace(['\r', '\t'], " ");
    Cow::Owned(xml_text(&one_line).into_owned())
}

/// `text` with the characters XML 1.0 cannot carry, even escaped, replaced by U+FFFD.
fn xml_text(text: &str) -> Cow<'_, str> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
            || c >= '\u{10000}'
    };
    if text.chars().all(allowed) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.chars().map(|c| if allowed(c) { c } else { '\u{FFFD}' }).collect())
    }
}

/// Milliseconds as JUnit's seconds with three decimals.
fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// An RFC 3339 time as the zone-less UTC timestamp JUnit consumers parse.
fn junit_timestamp(started: &str) -> Option<String> {
    let utc = OffsetDateTime::parse(started, &Rfc3339).ok()?.to_offset(time::UtcOffset::UTC);
    utc.format(format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Location;
    use crate::render::test_fixtures::*;
    use quick_xml::Reader;
    use std::collections::BTreeMap;

    /// What a consumer reads back: per suite name, its counts and its testcases' outcomes.
    #[derive(Debug, Default)]
    struct Parsed {
        root: BTreeMap<String, String>,
        suites: Vec<ParsedSuite>,
    }

    #[derive(Debug, Default)]
    struct ParsedSuite {
        attributes: BTreeMap<String, String>,
        /// (testcase name, failure message if it failed, text of failure or system-out)
        cases: Vec<(String, Option<String>, String)>,
    }

    fn attributes(element: &BytesStart<'_>) -> BTreeMap<String, String> {
        element
            .attributes()
            .map(|a| {
                let a = a.expect("well-formed attribute");
                let key = String::from_utf8(a.key.as_ref().to_vec()).expect("UTF-8 key");
                (key, a.unescape_value().expect("escaped value").into_owned())
            })
            .collect()
    }

    fn parse(xml: &str) -> Parsed {
        let mut reader = Reader::from_str(xml);
        let mut parsed = Parsed::default();
        let mut text = String::new();
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                    b"testsuites" => parsed.root = attributes(&e),
                    b"testsuite" => parsed
                        .suites
                        .push(ParsedSuite { attributes: attributes(&e), cases: vec![] }),
                    b"testcase" => {
                        let name = attributes(&e).remove("name").expect("testcase name");
                        let suite = parsed.suites.last_mut().expect("testcase inside a suite");
                        suite.cases.push((name, None, String::new()));
                    }
                    b"failure" => {
                        let message = attributes(&e).remove("message").expect("failure message");
                        let suite = parsed.suites.last_mut().expect("suite");
                        suite.cases.last_mut().expect("case").1 = Some(message);
                        text.clear();
                    }
                    _ => text.clear(),
                },
                Event::Text(e) => text.push_str(&e.xml_content().expect("UTF-8 text")),
                Event::GeneralRef(e) => {
                    let c = e.resolve_char_ref().expect("char ref").or_else(|| match &*e {
                        b"lt" => Some('<'),
                        b"gt" => Some('>'),
                        b"amp" => Some('&'),
                        b"quot" => Some('"'),
                        b"apos" => Some('\''),
                        _ => None,
                    });
                    text.push(c.expect("known entity"));
                }
                Event::End(e) if matches!(e.name().as_ref(), b"failure" | b"system-out") => {
                    let suite = parsed.suites.last_mut().expect("suite");
                    suite.cases.last_mut().expect("case").2 = std::mem::take(&mut text);
                }
                Event::Eof => break,
                _ => {}
            }
        }
        parsed
    }

    #[test]
    fn snapshot_of_fixture_reports() {
        insta::assert_snapshot!(render(&reports()));
    }

    #[test]
    fn counts_match_what_a_consumer_reads_back() {
        let parsed = parse(&render(&reports()));
        assert_eq!(parsed.root["tests"], "7");
        assert_eq!(parsed.root["failures"], "3");
        assert_eq!(parsed.root["errors"], "0");
        assert_eq!(parsed.root["time"], "1.796");
        let total_failures: usize =
            parsed.suites.iter().map(|s| s.cases.iter().filter(|c| c.1.is_some()).count()).sum();
        assert_eq!(total_failures, 3);
        for suite in &parsed.suites {
            let failed = suite.cases.iter().filter(|c| c.1.is_some()).count();
            assert_eq!(suite.attributes["failures"], failed.to_string());
            assert_eq!(suite.attributes["tests"], suite.cases.len().to_string());
        }
        let names: Vec<&str> =
            parsed.suites.iter().map(|s| s.attributes["name"].as_str()).collect();
        assert_eq!(names, ["sbom", "deps", "contracts"]);
        assert_eq!(parsed.suites[0].cases, [("sbom".to_owned(), None, String::new())]);
        assert_eq!(parsed.suites[1].attributes["timestamp"], "2025-01-01T00:00:00");
        assert_eq!(parsed.suites[1].attributes["time"], "1.534");
    }

    #[test]
    fn special_characters_survive_the_round_trip() {
        let report = failing_deps();
        let parsed = parse(&render(std::slice::from_ref(&report)));
        let untrusted = &report.findings[1];
        let (name, message, text) = &parsed.suites[0].cases[1];
        assert_eq!(name, &case_name(untrusted));
        // Attributes are one line; the element text keeps the lines.
        assert_eq!(message.as_deref(), Some(untrusted.message.replace('\n', " ").as_str()));
        assert_eq!(text, &finding_text(untrusted));
        assert!(text.contains("<git+https://example.com/a.git?rev=1&x=2> isn't \"trusted\" |"));
    }

    #[test]
    fn warnings_fail_a_gate_that_failed_on_them() {
        let findings = vec![
            Finding::new("x/warn", Severity::Warning, "w"),
            Finding::new("x/info", Severity::Info, "i"),
        ];
        let report = GateReport::new(
            "x",
            vec![],
            findings,
            Severity::Warning,
            "2025-01-01T00:00:00Z".into(),
            5,
        );
        let parsed = parse(&render(&[report]));
        assert_eq!(parsed.suites[0].attributes["failures"], "1");
        assert!(parsed.suites[0].cases[0].1.is_some());
        assert!(parsed.suites[0].cases[1].1.is_none());
    }

    #[test]
    fn passing_gate_with_findings_has_no_failures() {
        let report = GateReport::new(
            "x",
            vec![],
            vec![Finding::new("x/warn", Severity::Warning, "w").at(Location::file("f"))],
            Severity::Error,
            "whenever".into(),
            5,
        );
        let xml = render(&[report]);
        let parsed = parse(&xml);
        assert_eq!(parsed.root["failures"], "0");
        assert_eq!(parsed.suites[0].cases[0].2, "warning: w\nrule: x/warn\nlocation: f");
        assert!(!xml.contains("timestamp="), "no timestamp from a `started` that is not RFC 3339");
    }

    #[test]
    fn failed_gate_without_findings_is_one_failure() {
        let mut report = passing_sbom();
        report.verdict = Verdict::Fail;
        let xml = render(&[report]);
        let parsed = parse(&xml);
        assert_eq!(parsed.root["failures"], "1");
        assert!(xml.contains(&format!("type=\"{GATE_FAILED_TYPE}\"")));
    }

    #[test]
    fn many_findings_counted() {
        let parsed = parse(&render(&[many_findings("big", 30, 70)]));
        assert_eq!(parsed.root["tests"], "100");
        assert_eq!(parsed.root["failures"], "30");
        assert_eq!(parsed.root["time"], "1000.001");
    }

    #[test]
    fn characters_xml_cannot_carry_are_replaced() {
        assert_eq!(xml_text("a\u{1}b\u{b}c\td\n"), "a\u{FFFD}b\u{FFFD}c\td\n");
        assert_eq!(attribute_text("one\r\ntwo\tthree"), "one two three");
    }

    #[test]
    fn no_reports_is_an_empty_root() {
        assert_eq!(
            render(&[]),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"tollgate\" tests=\"0\" \
             failures=\"0\" errors=\"0\" skipped=\"0\" time=\"0.000\">\n</testsuites>\n"
        );
    }
}
