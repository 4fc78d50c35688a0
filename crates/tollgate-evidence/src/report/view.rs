//! What the template sees: the input sorted, grouped, counted and laid out (the heatmap's
//! geometry and colours), so the template only prints.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use tollgate_core::{Finding, Severity, Verdict};

use super::{REPORT_HTML, ReportInput};

/// Severity columns of the heatmap and the order findings are listed in.
const SEVERITIES: [Severity; 3] = [Severity::Error, Severity::Warning, Severity::Info];

#[derive(Debug, Serialize)]
pub(super) struct View {
    run_id: String,
    started: Option<String>,
    go: bool,
    tool: String,
    gates: Vec<GateRow>,
    gates_failed: usize,
    totals: Counts,
    heatmap: Heatmap,
    catalogs: Vec<Catalog>,
    controls_covered: usize,
    controls_total: usize,
    artifacts: Vec<ArtifactRow>,
    artifacts_size: u64,
}

#[derive(Debug, Default, Serialize)]
struct Counts {
    errors: usize,
    warnings: usize,
    info: usize,
}

#[derive(Debug, Serialize)]
struct GateRow {
    gate: String,
    pass: bool,
    counts: Counts,
    started: String,
    /// Milliseconds, or "not recorded" for a reproducible run.
    duration: String,
    report: Link,
    findings: Vec<FindingRow>,
}

#[derive(Debug, Serialize)]
struct FindingRow {
    severity: &'static str,
    rule: String,
    message: String,
    subject: Option<String>,
    remediation: Option<String>,
    location: Option<Link>,
}

/// A path shown as text, linked when it is a file of the bundle.
#[derive(Debug, Serialize)]
struct Link {
    text: String,
    href: Option<String>,
}

#[derive(Debug, Serialize)]
struct Catalog {
    catalog: String,
    title: String,
    covered: usize,
    total: usize,
    controls: Vec<ControlRow>,
}

#[derive(Debug, Serialize)]
struct ControlRow {
    id: String,
    title: String,
    covered: bool,
    evidence: Vec<Link>,
}

#[derive(Debug, Serialize)]
struct ArtifactRow {
    path: String,
    href: String,
    size: u64,
    sha256: String,
    media_type: String,
}

#[derive(Debug, Serialize)]
struct Heatmap {
    width: u32,
    height: u32,
    columns: Vec<HeatmapColumn>,
    rows: Vec<HeatmapRow>,
    legend: Vec<LegendEntry>,
}

#[derive(Debug, Serialize)]
struct HeatmapColumn {
    label: &'static str,
    x: u32,
}

#[derive(Debug, Serialize)]
struct HeatmapRow {
    gate: String,
    y: u32,
    text_y: u32,
    cells: Vec<HeatmapCell>,
}

#[derive(Debug, Serialize)]
struct HeatmapCell {
    x: u32,
    text_x: u32,
    count: usize,
    fill: &'static str,
    ink: &'static str,
    label: String,
}

#[derive(Debug, Serialize)]
struct LegendEntry {
    range: &'static str,
    fill: &'static str,
    ink: &'static str,
}

const LABEL_WIDTH: u32 = 180;
const CELL_WIDTH: u32 = 120;
const CELL_HEIGHT: u32 = 40;
const HEADER_HEIGHT: u32 = 32;

/// Count buckets: (lowest count, range text, fill, ink). Each ink/fill pair is ≥ 4.5:1.
const BUCKETS: [(usize, &str, &str, &str); 5] = [
    (0, "0", "#f2f2f2", "#1a1a1a"),
    (1, "1", "#fde3c8", "#1a1a1a"),
    (2, "2–4", "#f8a46b", "#1a1a1a"),
    (5, "5–9", "#c2410c", "#ffffff"),
    (10, "10 or more", "#7f1d1d", "#ffffff"),
];

fn bucket(count: usize) -> (&'static str, &'static str) {
    let (_, _, fill, ink) =
        BUCKETS.iter().rev().find(|(low, ..)| count >= *low).copied().unwrap_or(BUCKETS[0]);
    (fill, ink)
}

fn severity_name(severity: Severity, count: usize) -> &'static str {
    match (severity, count == 1) {
        (Severity::Error, true) => "error",
        (Severity::Error, false) => "errors",
        (Severity::Warning, true) => "warning",
        (Severity::Warning, false) => "warnings",
        (Severity::Info, _) => "info",
    }
}

/// Percent-encodes an archive path for an `href`: everything but unreserved characters and
/// `/`, so names with spaces, `#`, `?` or `:` still point at the file (and never at a scheme).
pub(super) fn href(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl View {
    pub(super) fn new(input: &ReportInput) -> View {
        let files: BTreeSet<&str> =
            input.artifacts.iter().map(|a| a.path.as_str()).filter(|p| *p != REPORT_HTML).collect();
        let link = |path: &str| Link {
            text: path.to_owned(),
            href: files.contains(path).then(|| href(path)),
        };

        let mut totals = Counts::default();
        let mut gates = Vec::with_capacity(input.gates.len());
        for gate in &input.gates {
            let report = &gate.report;
            let counts = Counts {
                errors: report.count(Severity::Error),
                warnings: report.count(Severity::Warning),
                info: report.count(Severity::Info),
            };
            totals.errors += counts.errors;
            totals.warnings += counts.warnings;
            totals.info += counts.info;
            let mut findings: Vec<&Finding> = report.findings.iter().collect();
            findings.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.cmp(b)));
            gates.push(GateRow {
                gate: report.gate.clone(),
                pass: report.verdict == Verdict::Pass,
                counts,
                started: report.started.clone(),
                duration: if input.durations_recorded {
                    report.duration_ms.to_string()
                } else {
                    "not recorded".to_owned()
                },
                report: link(&gate.path),
                findings: findings
                    .into_iter()
                    .map(|f| FindingRow {
                        severity: f.severity.as_str(),
                        rule: f.rule.clone(),
                        message: f.message.clone(),
                        subject: f.subject.clone(),
                        remediation: f.remediation.clone(),
                        location: f.location.as_ref().map(|l| Link {
                            text: l.to_string(),
                            href: files.contains(l.file.as_str()).then(|| href(&l.file)),
                        }),
                    })
                    .collect(),
            });
        }

        let mut by_catalog: BTreeMap<&str, Catalog> = BTreeMap::new();
        for control in &input.controls {
            let catalog = by_catalog.entry(control.catalog.as_str()).or_insert_with(|| Catalog {
                catalog: control.catalog.clone(),
                title: control.catalog_title.clone(),
                covered: 0,
                total: 0,
                controls: Vec::new(),
            });
            let mut evidence: Vec<&str> = control.evidence.iter().map(String::as_str).collect();
            evidence.sort_unstable();
            evidence.dedup();
            let evidence: Vec<Link> = evidence.into_iter().map(link).collect();
            catalog.controls.push(ControlRow {
                id: control.id.clone(),
                title: control.title.clone(),
                // Evidence that is not in the bundle cannot be checked: it does not count.
                covered: evidence.iter().any(|l| l.href.is_some()),
                evidence,
            });
        }
        let mut catalogs: Vec<Catalog> = by_catalog.into_values().collect();
        for catalog in &mut catalogs {
            catalog.controls.sort_by(|a, b| crate::controls::natural_cmp(&a.id, &b.id));
            catalog.total = catalog.controls.len();
            catalog.covered = catalog.controls.iter().filter(|c| c.covered).count();
        }

        let mut artifacts: Vec<ArtifactRow> = input
            .artifacts
            .iter()
            .map(|a| ArtifactRow {
                path: a.path.clone(),
                href: href(&a.path),
                size: a.size,
                sha256: a.sha256.clone(),
                media_type: a.media_type.clone(),
            })
            .collect();
        artifacts.sort_by(|a, b| a.path.cmp(&b.path));

        View {
            run_id: input.run_id.clone(),
            started: input.started.clone(),
            go: input.verdict == Verdict::Pass,
            tool: input.tool.clone(),
            gates_failed: gates.iter().filter(|g| !g.pass).count(),
            heatmap: Heatmap::new(&input.gates.iter().map(|g| &g.report).collect::<Vec<_>>()),
            gates,
            totals,
            controls_covered: catalogs.iter().map(|c| c.covered).sum(),
            controls_total: catalogs.iter().map(|c| c.total).sum(),
            catalogs,
            artifacts_size: artifacts.iter().map(|a| a.size).sum(),
            artifacts,
        }
    }
}

impl Heatmap {
    fn new(reports: &[&tollgate_core::GateReport]) -> Heatmap {
        let columns = SEVERITIES
            .iter()
            .enumerate()
            .map(|(i, s)| HeatmapColumn {
                label: s.as_str(),
                x: LABEL_WIDTH + i as u32 * CELL_WIDTH + CELL_WIDTH / 2,
            })
            .collect();
        let rows = reports
            .iter()
            .enumerate()
            .map(|(r, report)| {
                let y = HEADER_HEIGHT + r as u32 * CELL_HEIGHT;
                let cells = SEVERITIES
                    .iter()
                    .enumerate()
                    .map(|(c, severity)| {
                        let count = report.count(*severity);
                        let (fill, ink) = bucket(count);
                        let x = LABEL_WIDTH + c as u32 * CELL_WIDTH;
                        HeatmapCell {
                            x,
                            text_x: x + CELL_WIDTH / 2,
                            count,
                            fill,
                            ink,
                            label: format!(
                                "{}: {count} {}",
                                report.gate,
                                severity_name(*severity, count)
                            ),
                        }
                    })
                    .collect();
                HeatmapRow { gate: report.gate.clone(), y, text_y: y + CELL_HEIGHT / 2 + 5, cells }
            })
            .collect::<Vec<_>>();
        Heatmap {
            width: LABEL_WIDTH + SEVERITIES.len() as u32 * CELL_WIDTH + 2,
            height: HEADER_HEIGHT + reports.len() as u32 * CELL_HEIGHT + 2,
            columns,
            rows,
            legend: BUCKETS
                .iter()
                .map(|(_, range, fill, ink)| LegendEntry { range, fill, ink })
                .collect(),
        }
    }
}
