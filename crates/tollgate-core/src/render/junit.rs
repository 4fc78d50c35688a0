//! Placeholder until the junit renderer lands.

use crate::report::GateReport;

pub(crate) fn render(reports: &[GateReport]) -> String {
    serde_json::to_string_pretty(reports).unwrap_or_default()
}
