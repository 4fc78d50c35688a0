//! Gate reports: what a gate looked at, what it found, and its verdict.

use crate::Digest;
use crate::finding::{Finding, Severity};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The outcome of a gate (or, for a whole release, go / no-go).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Nothing at or above the failure threshold was found.
    Pass,
    /// At least one finding at or above the failure threshold.
    Fail,
}

impl Verdict {
    /// `Fail` when any finding is at or above `fail_on`, else `Pass`.
    pub fn from_findings(findings: &[Finding], fail_on: Severity) -> Verdict {
        if findings.iter().any(|f| f.severity >= fail_on) { Verdict::Fail } else { Verdict::Pass }
    }

    /// The combined verdict of many gates: `Fail` if any failed.
    pub fn all<'a>(verdicts: impl IntoIterator<Item = &'a Verdict>) -> Verdict {
        if verdicts.into_iter().any(|v| *v == Verdict::Fail) {
            Verdict::Fail
        } else {
            Verdict::Pass
        }
    }

    /// `"pass"` or `"fail"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One input a gate read, identified by content so a report can be tied to exact bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GateInput {
    /// Path (relative to the scanned root where possible) or other name of the input.
    pub name: String,
    /// SHA-256 of the input's bytes.
    pub digest: Digest,
}

impl GateInput {
    /// An input named `name` whose bytes are `bytes` (digested with SHA-256).
    pub fn of(name: impl Into<String>, bytes: &[u8]) -> GateInput {
        GateInput { name: name.into(), digest: Digest::sha256(bytes) }
    }
}

/// Everything one gate run produced. Renderers turn this into every output format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateReport {
    /// The gate's name (`sbom`, `sbom-diff`, `deps`, …).
    pub gate: String,
    /// What it read, sorted by name.
    pub inputs: Vec<GateInput>,
    /// What it found, sorted (severity first, most severe first, then rule, location, message).
    pub findings: Vec<Finding>,
    /// Pass or fail.
    pub verdict: Verdict,
    /// RFC 3339 UTC start time (honours `SOURCE_DATE_EPOCH`).
    pub started: String,
    /// Wall time in milliseconds; 0 under `SOURCE_DATE_EPOCH`, so reports are reproducible.
    pub duration_ms: u64,
}

impl GateReport {
    /// A report whose inputs and findings are sorted and whose verdict follows from `fail_on`.
    /// `duration_ms` is recorded as 0 under `SOURCE_DATE_EPOCH`
    /// ([`time_source::records_durations`](crate::time_source::records_durations)).
    pub fn new(
        gate: impl Into<String>,
        mut inputs: Vec<GateInput>,
        mut findings: Vec<Finding>,
        fail_on: Severity,
        started: String,
        duration_ms: u64,
    ) -> Self {
        inputs.sort();
        inputs.dedup();
        findings.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.cmp(b)));
        let verdict = Verdict::from_findings(&findings, fail_on);
        let duration_ms = if crate::time_source::records_durations() { duration_ms } else { 0 };
        GateReport { gate: gate.into(), inputs, findings, verdict, started, duration_ms }
    }

    /// Number of findings with exactly this severity.
    pub fn count(&self, severity: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == severity).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_follows_threshold() {
        let findings = vec![Finding::new("x/y", Severity::Warning, "w")];
        assert_eq!(Verdict::from_findings(&findings, Severity::Error), Verdict::Pass);
        assert_eq!(Verdict::from_findings(&findings, Severity::Warning), Verdict::Fail);
        assert_eq!(Verdict::from_findings(&[], Severity::Info), Verdict::Pass);
    }

    #[test]
    fn findings_sorted_most_severe_first() {
        let report = GateReport::new(
            "g",
            vec![],
            vec![
                Finding::new("a/info", Severity::Info, "i"),
                Finding::new("a/err", Severity::Error, "e"),
                Finding::new("a/warn", Severity::Warning, "w"),
            ],
            Severity::Error,
            "1970-01-01T00:00:00Z".into(),
            0,
        );
        let rules: Vec<_> = report.findings.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(rules, ["a/err", "a/warn", "a/info"]);
        assert_eq!(report.verdict, Verdict::Fail);
    }
}
