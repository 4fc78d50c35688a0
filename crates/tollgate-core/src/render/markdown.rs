//! GitHub-flavoured Markdown, for a pull-request comment.
//!
//! What it promises:
//! - A heading with the combined verdict, one summary line, then a table
//!   `Gate | Verdict | Errors | Warnings | Info` with one row per report, in the order given.
//! - For every report with findings, a `<details>` section (open when the gate failed) with a
//!   table `Severity | Rule | Location | Message`, most severe first. A finding's subject and
//!   remediation follow its message in the same cell, on their own lines.
//! - The comment stays inside GitHub's 65,536-character limit: at most
//!   [`MAX_FINDINGS_PER_GATE`] rows per gate, each text truncated to [`MAX_CELL_CHARS`]
//!   characters, and no row once the whole text would pass [`COMMENT_BUDGET`] bytes. Findings
//!   left out are counted in a `… and N more findings not shown.` line under their table.
//! - Text from findings cannot break the table or the page: line breaks become `<br>`, `|` is
//!   escaped, `<`, `>` and `&` become entities, backticks and the other Markdown punctuation are
//!   backslash-escaped. Rule ids, locations and subjects are shown as `<code>`; an `@name` or
//!   `#123` inside a message gets a zero-width space after its `@`/`#`, so a package scope in a
//!   message never notifies a GitHub user or team and a number never links an issue.
//! - The same reports give the same bytes; the text ends with a newline.

use crate::finding::{Finding, Severity};
use crate::report::{GateReport, Verdict};
use std::fmt::Write as _;

/// Rows shown per gate at most; the rest are counted.
pub(crate) const MAX_FINDINGS_PER_GATE: usize = 200;
/// Characters kept from one message, remediation, subject, rule or location.
pub(crate) const MAX_CELL_CHARS: usize = 1_000;
/// Bytes the whole comment may take: GitHub's 65,536-character limit less room for whatever a
/// bot adds around it. Bytes are never fewer than characters, so counting bytes is safe.
pub(crate) const COMMENT_BUDGET: usize = 60_000;
/// Room kept, per gate section still to write, for its header, table head and closing lines.
const SECTION_RESERVE: usize = 600;

/// Renders `reports` as a pull-request comment that fits GitHub's size limit.
pub(crate) fn render(reports: &[GateReport]) -> String {
    let mut out = String::new();
    if reports.is_empty() {
        out.push_str("### Tollgate\n\nNo gates ran.\n");
        return out;
    }
    push_summary(&mut out, reports);
    let mut sections_left = reports.iter().filter(|r| !r.findings.is_empty()).count();
    for report in reports.iter().filter(|r| !r.findings.is_empty()) {
        sections_left -= 1;
        push_section(&mut out, report, sections_left * SECTION_RESERVE);
    }
    out
}

fn push_summary(out: &mut String, reports: &[GateReport]) {
    let verdict = Verdict::all(reports.iter().map(|r| &r.verdict));
    let failed = reports.iter().filter(|r| r.verdict == Verdict::Fail).count();
    let count = |severity| reports.iter().map(|r| r.count(severity)).sum::<usize>();
    let _ = writeln!(out, "### {} Tollgate: {}\n", verdict_icon(verdict), verdict_word(verdict));
    let gates = if reports.len() == 1 { "gate" } else { "gates" };
    let outcome = match failed {
        0 => format!("{} {gates} passed", reports.len()),
        _ => format!("{failed} of {} {gates} failed", reports.len()),
    };
    let _ = writeln!(
        out,
        "{outcome}: {}, {}, {} info.\n",
        plural(count(Severity::Error), "error", "errors"),
        plural(count(Severity::Warning), "warning", "warnings"),
        count(Severity::Info),
    );
    out.push_str("| Gate | Verdict | Errors | Warnings | Info |\n");
    out.push_str("| :--- | :--- | ---: | ---: | ---: |\n");
    for report in reports {
        let _ = writeln!(
            out,
            "| {} | {} {} | {} | {} | {} |",
            code_cell(&report.gate),
            verdict_icon(report.verdict),
            verdict_word(report.verdict),
            report.count(Severity::Error),
            report.count(Severity::Warning),
            report.count(Severity::Info),
        );
    }
}

/// One gate's findings. `reserve` bytes are kept free for the sections after this one.
fn push_section(out: &mut String, report: &GateReport, reserve: usize) {
    let open = if report.verdict == Verdict::Fail { " open" } else { "" };
    let _ = writeln!(
        out,
        "\n<details{open}>\n<summary><code>{}</code>: {} {}, {}</summary>\n",
        html_escape(&report.gate),
        verdict_icon(report.verdict),
        verdict_word(report.verdict),
        plural(report.findings.len(), "finding", "findings"),
    );
    out.push_str("| Severity | Rule | Location | Message |\n");
    out.push_str("| :--- | :--- | :--- | :--- |\n");

    // Most severe first whatever order the report came in, so a cap never hides an error
    // behind an info finding; otherwise the report's own order is kept.
    let mut findings: Vec<&Finding> = report.findings.iter().collect();
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let mut shown = 0;
    for finding in findings.iter().take(MAX_FINDINGS_PER_GATE) {
        let row = finding_row(finding);
        if out.len() + row.len() + SECTION_RESERVE + reserve > COMMENT_BUDGET {
            break;
        }
        out.push_str(&row);
        shown += 1;
    }
    let hidden = findings.len() - shown;
    if hidden > 0 {
        let noun = if hidden == 1 { "finding" } else { "findings" };
        let _ = writeln!(out, "\n… and {hidden} more {noun} not shown.");
    }
    out.push_str("\n</details>\n");
}

fn finding_row(finding: &Finding) -> String {
    let location = finding.location.as_ref().map(|l| code_cell(&l.to_string()));
    let mut message = text_cell(&finding.message);
    if let Some(subject) = &finding.subject {
        let _ = write!(message, "<br>Subject: {}", code_cell(subject));
    }
    if let Some(remediation) = &finding.remediation {
        let _ = write!(message, "<br>Help: {}", text_cell(remediation));
    }
    format!(
        "| {} | {} | {} | {message} |\n",
        finding.severity,
        code_cell(&finding.rule),
        location.as_deref().unwrap_or("—"),
    )
}

/// Free text in a table cell: one line, nothing that Markdown or HTML would interpret.
fn text_cell(text: &str) -> String {
    escape_inline(text, "<br>", true)
}

/// An identifier in a table cell, as `<code>` (which also stops GitHub @-mentions).
fn code_cell(text: &str) -> String {
    format!("<code>{}</code>", escape_inline(text, " ", false))
}

/// Escapes `text` for a GFM table cell, truncated to [`MAX_CELL_CHARS`] characters.
///
/// Line breaks become `line_break`; with `break_references`, a zero-width space follows each
/// `@` or `#` that would otherwise start a mention or an issue reference. Web addresses become
/// `<…>` autolinks: GitHub's bare-URL autolinking reads the raw source, so a backslash or entity
/// escape inside a bare URL would end up in the link.
fn escape_inline(text: &str, line_break: &str, break_references: bool) -> String {
    let kept = match text.char_indices().nth(MAX_CELL_CHARS) {
        Some((end, _)) => &text[..end],
        None => text,
    };
    let mut out = String::with_capacity(kept.len() + 16);
    let mut rest = kept;
    let mut previous: Option<char> = None;
    while let Some(c) = rest.chars().next() {
        if let Some(url) = url_at(rest).filter(|_| !previous.is_some_and(char::is_alphanumeric)) {
            push_autolink(&mut out, url);
            rest = &rest[url.len()..];
            previous = url.chars().last();
            continue;
        }
        rest = &rest[c.len_utf8()..];
        let next = rest.chars().next();
        match c {
            '\r' if next == Some('\n') => {}
            '\n' | '\r' => out.push_str(line_break),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // Inside a table GFM needs `\|` even within code; the rest are Markdown syntax.
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '@' | '#' if break_references && next.is_some_and(|n| n.is_ascii_alphanumeric()) => {
                out.push(c);
                out.push_str("&#8203;");
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
        previous = Some(c);
    }
    if kept.len() < text.len() {
        out.push('…');
    }
    out
}

/// The `http://` or `https://` address `text` starts with, without trailing punctuation.
fn url_at(text: &str) -> Option<&str> {
    let scheme = ["https://", "http://"]
        .into_iter()
        .find(|scheme| text.get(..scheme.len()).is_some_and(|s| s.eq_ignore_ascii_case(scheme)))?;
    let end = text
        .find(|c: char| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | '`' | '|')
        })
        .unwrap_or(text.len());
    let mut url = &text[..end];
    loop {
        let mut trimmed = url.trim_end_matches(['.', ',', ':', ';', '!', '?', '\'', '*', '_', '~']);
        if trimmed.ends_with(')') && trimmed.matches(')').count() > trimmed.matches('(').count() {
            trimmed = &trimmed[..trimmed.len() - 1];
        }
        if trimmed.len() == url.len() {
            break;
        }
        url = trimmed;
    }
    (url.len() > scheme.len()).then_some(url)
}

/// `<url>`: inside an autolink only entities are interpreted (and `url_at` stops at `|`).
fn push_autolink(out: &mut String, url: &str) {
    out.push('<');
    out.push_str(&url.replace('&', "&amp;"));
    out.push('>');
}

/// Escapes text for raw HTML (the `<summary>` line is an HTML block, not Markdown).
fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn verdict_icon(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "✅",
        Verdict::Fail => "❌",
    }
}

fn verdict_word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "PASS",
        Verdict::Fail => "FAIL",
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Location;
    use crate::render::test_fixtures::*;

    /// Rows of findings tables: lines that start with a severity cell.
    fn finding_rows(text: &str) -> usize {
        text.lines()
            .filter(|l| ["| error |", "| warning |", "| info |"].iter().any(|p| l.starts_with(p)))
            .count()
    }

    #[test]
    fn snapshot_of_fixture_reports() {
        insta::assert_snapshot!(render(&reports()));
    }

    #[test]
    fn all_passing_has_no_details() {
        let text = render(&[passing_sbom()]);
        assert!(text.starts_with("### ✅ Tollgate: PASS\n\n1 gate passed: 0 errors"), "{text}");
        assert!(!text.contains("<details"));
    }

    #[test]
    fn no_reports_says_so() {
        assert_eq!(render(&[]), "### Tollgate\n\nNo gates ran.\n");
    }

    #[test]
    fn cells_escape_table_and_markdown_syntax() {
        assert_eq!(
            text_cell("a|b <i>&amp; `x` *y* [l](u) \\ @user #12\nnext\r\nlast"),
            concat!(
                "a\\|b &lt;i&gt;&amp;amp; \\`x\\` \\*y\\* \\[l\\](u) \\\\ ",
                "@&#8203;user #&#8203;12<br>next<br>last"
            )
        );
        assert_eq!(code_cell("pkg:npm/@s/n?a=1|2\nx"), "<code>pkg:npm/@s/n?a=1\\|2 x</code>");
        assert_eq!(
            text_cell("see https://e.com/a_b?x=1&y=2. Or (http://e.com/(c)), git+https://e.com."),
            "see <https://e.com/a_b?x=1&amp;y=2>. Or (<http://e.com/(c)>), git+<https://e.com>."
        );
        assert_eq!(text_cell("xhttps://e.com https://"), "xhttps://e.com https://");
        // Every `|` a renderer writes in a findings row is either a cell border or escaped.
        let row = finding_row(&failing_deps().findings[1]);
        let borders = row.match_indices('|').filter(|(i, _)| !row[..*i].ends_with('\\')).count();
        assert_eq!(borders, 5, "{row}");
    }

    #[test]
    fn long_cells_are_truncated() {
        let long = "x".repeat(MAX_CELL_CHARS + 50);
        let cell = text_cell(&long);
        assert_eq!(cell.chars().count(), MAX_CELL_CHARS + 1);
        assert!(cell.ends_with('…'));
        assert_eq!(text_cell("short"), "short");
    }

    #[test]
    fn findings_per_gate_are_capped() {
        let report = many_findings("big", 150, 100);
        let text = render(&[report]);
        assert_eq!(finding_rows(&text), MAX_FINDINGS_PER_GATE);
        assert!(text.contains("\n… and 50 more findings not shown.\n"), "{text}");
        // The cap keeps the most severe: all 150 errors are shown.
        assert_eq!(text.lines().filter(|l| l.starts_with("| error |")).count(), 150);
        assert!(text.ends_with("</details>\n"));
    }

    #[test]
    fn whole_comment_stays_within_budget() {
        let long_message = "m".repeat(900);
        let gates: Vec<GateReport> = (0..8)
            .map(|g| {
                let findings = (0..300)
                    .map(|n| {
                        Finding::new(format!("g{g}/rule"), Severity::Error, long_message.clone())
                            .at(Location::file("f").at_line(n + 1))
                    })
                    .collect();
                GateReport::new(
                    format!("g{g}"),
                    vec![],
                    findings,
                    Severity::Error,
                    "2025-01-01T00:00:00Z".into(),
                    1,
                )
            })
            .collect();
        let text = render(&gates);
        assert!(text.len() <= COMMENT_BUDGET, "{} bytes", text.len());
        // Every gate still has its section, closed, with the hidden findings counted.
        assert_eq!(text.matches("<details open>").count(), 8);
        assert_eq!(text.matches("</details>").count(), 8);
        let shown = finding_rows(&text);
        let hidden: usize = text
            .lines()
            .filter_map(|l| l.strip_prefix("… and ")?.split(' ').next()?.parse::<usize>().ok())
            .sum();
        assert_eq!(shown + hidden, 8 * 300);
    }

    #[test]
    fn equal_reports_render_equal_text() {
        assert_eq!(render(&reports()), render(&reports()));
    }
}
