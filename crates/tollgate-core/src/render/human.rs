//! Plain text for a terminal.
//!
//! What it promises:
//! - One block per report, in the order given: a header line
//!   `gate <name>: PASS|FAIL (N errors, N warnings, N info) in Xms`, then one line per finding
//!   in report order, `  <severity>[<rule>] <location>: <message>`, followed by indented
//!   `subject:` and `help:` lines when the finding has them. Continuation lines of multi-line
//!   text are indented under their field. Blocks with findings are followed by a blank line.
//! - With more than one report, a closing `total:` line with the combined verdict and counts.
//! - No colour and no other escape sequences: the CLI decides how to colour. Control characters
//!   (other than line breaks and tabs) and Unicode bidirectional overrides inside findings are
//!   written as `\u{…}` escapes, so a finding read from an untrusted file cannot drive the
//!   terminal or disguise the text around it.
//! - The same reports give the same bytes; the text ends with a newline.

use crate::finding::{Finding, Severity};
use crate::report::{GateReport, Verdict};
use std::borrow::Cow;
use std::fmt::Write as _;

/// Findings' detail lines (`subject:`, `help:`, message continuations) start here.
const DETAIL_INDENT: &str = "      ";

/// Renders `reports` as terminal text; see the module documentation for the layout.
pub(crate) fn render(reports: &[GateReport]) -> String {
    let mut out = String::new();
    if reports.is_empty() {
        out.push_str("no gates ran\n");
        return out;
    }
    for report in reports {
        push_report(&mut out, report);
    }
    if reports.len() > 1 {
        let failed = reports.iter().filter(|r| r.verdict == Verdict::Fail).count();
        let verdict = Verdict::all(reports.iter().map(|r| &r.verdict));
        let count = |severity| reports.iter().map(|r| r.count(severity)).sum();
        let _ = writeln!(
            out,
            "total: {}, {failed} of {} gates failed ({})",
            verdict_label(verdict),
            reports.len(),
            counts(count(Severity::Error), count(Severity::Warning), count(Severity::Info)),
        );
    }
    out
}

fn push_report(out: &mut String, report: &GateReport) {
    let _ = writeln!(
        out,
        "gate {}: {} ({}) in {}ms",
        sanitize(&report.gate),
        verdict_label(report.verdict),
        counts(
            report.count(Severity::Error),
            report.count(Severity::Warning),
            report.count(Severity::Info)
        ),
        report.duration_ms,
    );
    for finding in &report.findings {
        push_finding(out, finding);
    }
    if !report.findings.is_empty() {
        out.push('\n');
    }
}

fn push_finding(out: &mut String, finding: &Finding) {
    let mut head = format!("  {}[{}]", finding.severity, sanitize(&finding.rule));
    if let Some(location) = &finding.location {
        head.push(' ');
        head.push_str(&sanitize(&location.to_string()));
    }
    head.push_str(": ");
    push_lines(out, &head, DETAIL_INDENT, &finding.message);
    if let Some(subject) = &finding.subject {
        push_lines(out, &format!("{DETAIL_INDENT}subject: "), DETAIL_INDENT, subject);
    }
    if let Some(remediation) = &finding.remediation {
        let label = format!("{DETAIL_INDENT}help: ");
        let continuation = " ".repeat(label.len());
        push_lines(out, &label, &continuation, remediation);
    }
}

/// Writes `text` with `first` before its first line and `continuation` before every other.
fn push_lines(out: &mut String, first: &str, continuation: &str, text: &str) {
    let mut lines = text.lines();
    let _ = writeln!(out, "{first}{}", sanitize(lines.next().unwrap_or("")));
    for line in lines {
        let _ = writeln!(out, "{continuation}{}", sanitize(line));
    }
}

/// Writes control characters (except tab) and bidi overrides as `\u{…}` escapes.
fn sanitize(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| (c.is_control() && c != '\t') || is_bidi_control(c);
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut clean = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            let _ = write!(clean, "{}", c.escape_unicode());
        } else {
            clean.push(c);
        }
    }
    Cow::Owned(clean)
}

/// Characters that reorder the text around them ("Trojan Source", CVE-2021-42574).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

fn verdict_label(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
    }
}

fn counts(errors: usize, warnings: usize, info: usize) -> String {
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    format!(
        "{}, {}, {info} info",
        plural(errors, "error", "errors"),
        plural(warnings, "warning", "warnings")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Finding, Location};
    use crate::render::test_fixtures::*;

    #[test]
    fn snapshot_of_fixture_reports() {
        insta::assert_snapshot!(render(&reports()));
    }

    #[test]
    fn single_report_has_no_total_line() {
        let text = render(&[passing_sbom()]);
        assert_eq!(text, "gate sbom: PASS (0 errors, 0 warnings, 0 info) in 12ms\n");
    }

    #[test]
    fn no_reports_says_so() {
        assert_eq!(render(&[]), "no gates ran\n");
    }

    #[test]
    fn control_characters_cannot_reach_the_terminal() {
        let finding =
            Finding::new("x/escape", Severity::Error, "red \u{1b}[31mtext\r\u{202E}olleh")
                .at(Location::file("a\u{7}.txt"));
        let report = GateReport::new(
            "x",
            vec![],
            vec![finding],
            Severity::Error,
            "2025-01-01T00:00:00Z".into(),
            1,
        );
        let text = render(&[report]);
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
        assert!(text.contains(r"red \u{1b}[31mtext\u{d}\u{202e}olleh"), "{text}");
        assert!(text.contains(r"a\u{7}.txt"), "{text}");
    }

    #[test]
    fn equal_reports_render_equal_text() {
        assert_eq!(render(&reports()), render(&reports()));
    }
}
