//! Renderers: one per output format, each turning gate reports into a `String`.
//!
//! Gates never format their own output; the CLI picks a renderer with `--report-format`.

mod human;
mod json;
mod junit;
mod markdown;
mod sarif;
#[cfg(test)]
mod test_fixtures;

use crate::report::GateReport;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The report formats every gate command accepts (`--report-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    /// Plain text for a terminal.
    Human,
    /// The `GateReport`s as JSON.
    Json,
    /// SARIF 2.1.0, for code-scanning tools.
    Sarif,
    /// GitHub-flavoured Markdown, for a pull-request comment.
    Markdown,
    /// JUnit XML, for CI test tabs.
    Junit,
}

impl ReportFormat {
    /// Every format, in the order `--help` lists them.
    pub const ALL: [ReportFormat; 5] = [
        ReportFormat::Human,
        ReportFormat::Json,
        ReportFormat::Sarif,
        ReportFormat::Markdown,
        ReportFormat::Junit,
    ];

    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportFormat::Human => "human",
            ReportFormat::Json => "json",
            ReportFormat::Sarif => "sarif",
            ReportFormat::Markdown => "markdown",
            ReportFormat::Junit => "junit",
        }
    }

    /// Renders `reports` in this format. Output is deterministic for equal reports.
    pub fn render(self, reports: &[GateReport]) -> String {
        match self {
            ReportFormat::Human => human::render(reports),
            ReportFormat::Json => json::render(reports),
            ReportFormat::Sarif => sarif::render(reports),
            ReportFormat::Markdown => markdown::render(reports),
            ReportFormat::Junit => junit::render(reports),
        }
    }
}

impl fmt::Display for ReportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReportFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReportFormat::ALL.into_iter().find(|f| f.as_str() == s).ok_or_else(|| {
            format!("unknown report format {s:?} (expected human, json, sarif, markdown or junit)")
        })
    }
}
