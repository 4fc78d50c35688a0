//! The auditor's HTML report: one self-contained page (`report.html`) summarising a release
//! run — verdict, gates, control coverage, findings, a risk heatmap and every artifact.
//!
//! [`ReportInput::from_run_dir`] reads a run directory (`release.json` and the `GateReport`
//! of every stage); [`render`] turns it into HTML with the tera templates in `templates/`
//! (embedded, autoescaped). The page needs no server, no network and no JavaScript: CSS is
//! inline, the heatmap is inline SVG, a Content-Security-Policy forbids everything else, and
//! every artifact link is relative to the archive root, so it works once the bundle is
//! extracted and `report.html` is opened from there.
//!
//! **Architecture invariant:** the same input renders the same bytes — lists are sorted (gates
//! keep `release.json`'s stage order), and the only times shown are those recorded in the run.
//! Colours (all at least 4.5:1 against their background): text `#1a1a1a` on `#ffffff`, links
//! `#0b57a4`, GO `#ffffff` on `#1e6b34`, NO-GO `#ffffff` on `#a4161a`, heatmap cells `#1a1a1a`
//! on `#f2f2f2`/`#fde3c8`/`#f8a46b` and `#ffffff` on `#c2410c`/`#7f1d1d`. Status is always
//! written out in words as well.

mod error;
mod view;

pub use error::ReportError;

use std::path::Path;

use serde::Serialize;
use tollgate_core::{GateReport, Verdict};

use crate::{FileEntry, Tool};

/// The report's file name at the root of a bundle.
pub const REPORT_HTML: &str = "report.html";

const TEMPLATE_HTML: &str = include_str!("../templates/report.html");
const TEMPLATE_CSS: &str = include_str!("../templates/report.css");

/// Everything the report shows, as plain data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportInput {
    /// The run id (`release.json` `runId`, else the run directory's name).
    pub run_id: String,
    /// When the run started (RFC 3339), if recorded.
    pub started: Option<String>,
    /// False when `release.json` says `"durationsRecorded": false` (a reproducible run, made
    /// under `SOURCE_DATE_EPOCH`): the gates' durations are then shown as not recorded.
    pub durations_recorded: bool,
    /// The release verdict: [`Verdict::Pass`] is GO, [`Verdict::Fail`] is NO-GO.
    pub verdict: Verdict,
    /// What produced the run and the bundle (`tollgate 0.1.0`).
    pub tool: String,
    /// One entry per gate, in the order the release ran them.
    pub gates: Vec<ReportGate>,
    /// Control coverage rows; [`render`] groups them by catalog and sorts them.
    pub controls: Vec<ReportControl>,
    /// Every file of the bundle; [`render`] sorts them by path.
    pub artifacts: Vec<ReportArtifact>,
}

/// One gate of the run: its report and where that report is in the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportGate {
    /// The report's path in the bundle (`sbom.json`).
    pub path: String,
    /// The report itself.
    pub report: GateReport,
}

/// One control of a catalog and the artifacts that support it (none: not covered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportControl {
    /// The catalog's id (`soc2`, `iso27001-2022`, …).
    pub catalog: String,
    /// The catalog's name for people (`SOC 2 (2017 TSC)`).
    pub catalog_title: String,
    /// The control id in the catalog (`CC8.1`).
    pub id: String,
    /// The control's title.
    pub title: String,
    /// Bundle paths of the supporting artifacts. The control counts as covered when at least
    /// one of them is a file of the bundle; others are shown as "not in the bundle".
    pub evidence: Vec<String>,
}

/// One file of the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportArtifact {
    /// Path in the archive (relative, `/`-separated); also the link target.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Lowercase hex SHA-256.
    pub sha256: String,
    /// IANA media type.
    pub media_type: String,
}

impl From<&FileEntry> for ReportArtifact {
    fn from(file: &FileEntry) -> Self {
        ReportArtifact {
            path: file.path.clone(),
            size: file.size,
            sha256: file.sha256.clone(),
            media_type: file.media_type.clone(),
        }
    }
}

impl ReportInput {
    /// Reads the run directory `run_dir`: `release.json` (run id, start, verdict, and the
    /// report file of each stage, in order) and each stage's `GateReport`. Without
    /// `release.json`, every top-level `*.json` that is a `GateReport` is a gate (sorted by
    /// name), the run id is the directory's name and the verdict follows from the gates.
    /// `artifacts` are the bundle's files (from the manifest: `files.iter().map(Into::into)`),
    /// `tool` what built it, `controls` the coverage rows. Errors name the file and the
    /// line/column or JSON pointer.
    pub fn from_run_dir(
        run_dir: &Path,
        artifacts: Vec<ReportArtifact>,
        tool: &Tool,
        controls: Vec<ReportControl>,
    ) -> Result<ReportInput, ReportError> {
        let release_path = run_dir.join("release.json");
        let release = match std::fs::read_to_string(&release_path) {
            Ok(text) => read_release(run_dir, &release_path, &text)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let gates = discover_gates(run_dir)?;
                let verdict = Verdict::all(gates.iter().map(|g| &g.report.verdict));
                Release {
                    run_id: dir_name(run_dir),
                    started: None,
                    durations_recorded: true,
                    verdict,
                    gates,
                }
            }
            Err(e) => return Err(ReportError::io(&release_path, e)),
        };
        let Release { run_id, started, durations_recorded, verdict, gates } = release;
        Ok(ReportInput {
            run_id,
            started,
            durations_recorded,
            verdict,
            tool: format!("{} {}", tool.name, tool.version),
            gates,
            controls,
            artifacts,
        })
    }
}

/// What `release.json` (or, without it, the run directory) says about the run.
struct Release {
    run_id: String,
    started: Option<String>,
    durations_recorded: bool,
    verdict: Verdict,
    gates: Vec<ReportGate>,
}

fn read_release(run_dir: &Path, path: &Path, text: &str) -> Result<Release, ReportError> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ReportError::json(path, &e))?;
    let invalid = |pointer: &str, message: &str| ReportError::Invalid {
        path: path.to_owned(),
        pointer: pointer.to_owned(),
        message: message.to_owned(),
    };
    let string = |name: &str| -> Result<Option<String>, ReportError> {
        match doc.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(invalid(&format!("/{name}"), "not a string")),
        }
    };
    let run_id = string("runId")?.unwrap_or_else(|| dir_name(run_dir));
    let started = string("started")?;
    let durations_recorded = match doc.get("durationsRecorded") {
        None | Some(serde_json::Value::Null) => true,
        Some(serde_json::Value::Bool(recorded)) => *recorded,
        Some(_) => return Err(invalid("/durationsRecorded", "not a boolean")),
    };
    let stages = match doc.get("stages") {
        None => Vec::new(),
        Some(serde_json::Value::Array(stages)) => stages.clone(),
        Some(_) => return Err(invalid("/stages", "not an array")),
    };
    let mut gates = Vec::with_capacity(stages.len());
    for (i, stage) in stages.iter().enumerate() {
        let pointer = format!("/stages/{i}/report");
        let Some(report) = stage.get("report").and_then(|r| r.as_str()) else {
            return Err(invalid(&pointer, "missing, or not a string"));
        };
        if !is_safe_relative(report) {
            return Err(invalid(
                &pointer,
                &format!("{report:?} is not a relative path inside the run directory"),
            ));
        }
        let report_path = run_dir.join(report);
        let text = std::fs::read_to_string(&report_path)
            .map_err(|e| ReportError::Io { path: report_path.clone(), cause: e })?;
        let report_doc: GateReport =
            serde_json::from_str(&text).map_err(|e| ReportError::json(&report_path, &e))?;
        gates.push(ReportGate { path: report.to_owned(), report: report_doc });
    }
    let verdict = match string("verdict")?.as_deref() {
        Some("go") => Verdict::Pass,
        Some("no-go") => Verdict::Fail,
        None => Verdict::all(gates.iter().map(|g| &g.report.verdict)),
        Some(other) => {
            return Err(invalid("/verdict", &format!("{other:?} is neither \"go\" nor \"no-go\"")));
        }
    };
    Ok(Release { run_id, started, durations_recorded, verdict, gates })
}

/// Every top-level `*.json` of `run_dir` that parses as a `GateReport`, sorted by name.
fn discover_gates(run_dir: &Path) -> Result<Vec<ReportGate>, ReportError> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(run_dir).map_err(|e| ReportError::io(run_dir, e))? {
        let entry = entry.map_err(|e| ReportError::io(run_dir, e))?;
        let is_file = entry.file_type().map_err(|e| ReportError::io(entry.path(), e))?.is_file();
        if let Some(name) = entry.file_name().to_str().filter(|n| n.ends_with(".json") && is_file) {
            names.push(name.to_owned());
        }
    }
    names.sort();
    let mut gates = Vec::new();
    for name in names {
        let path = run_dir.join(&name);
        let text = std::fs::read_to_string(&path).map_err(|e| ReportError::io(&path, e))?;
        // Other JSON files (SBOMs, provenance) are artifacts, not gate reports.
        if let Ok(report) = serde_json::from_str::<GateReport>(&text) {
            gates.push(ReportGate { path: name, report });
        }
    }
    Ok(gates)
}

fn dir_name(run_dir: &Path) -> String {
    run_dir
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default()
}

/// A `/`-separated relative path with no empty, `.` or `..` component and no backslash.
fn is_safe_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && path.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

/// The bundle's `report.html`, as a [`crate::GeneratedDocument`]: the run directory's gates,
/// its files and the coverage of the mapping's catalogs, rendered by [`render`].
pub fn generate(g: &crate::Generation<'_>) -> Result<Vec<u8>, crate::EvidenceError> {
    let controls = g
        .coverage
        .catalogs
        .iter()
        .flat_map(|catalog| {
            catalog.controls.iter().map(|control| ReportControl {
                catalog: catalog.id.clone(),
                catalog_title: catalog.title.clone(),
                id: control.id.clone(),
                title: control.title.clone(),
                evidence: control.evidence.clone(),
            })
        })
        .collect();
    let artifacts = g.files.iter().map(ReportArtifact::from).collect();
    let generation_error = |e: ReportError| crate::EvidenceError::Generate {
        path: REPORT_HTML.to_owned(),
        message: e.to_string(),
    };
    let input = ReportInput::from_run_dir(g.run_dir, artifacts, &g.producer.tool, controls)
        .map_err(generation_error)?;
    Ok(render(&input).map_err(generation_error)?.into_bytes())
}

/// Renders the report page. The same input gives the same bytes.
pub fn render(input: &ReportInput) -> Result<String, ReportError> {
    let view = view::View::new(input);
    let mut tera = tera::Tera::default();
    // `.html` templates are autoescaped: every value from the input is HTML-escaped.
    tera.set_escape_fn(escape_html);
    tera.add_raw_templates([("report.css", TEMPLATE_CSS), ("report.html", TEMPLATE_HTML)])
        .map_err(ReportError::template)?;
    let context = tera::Context::from_serialize(&view).map_err(ReportError::template)?;
    tera.render("report.html", &context).map_err(ReportError::template)
}

/// Escapes text and quoted attribute values: `&`, `<`, `>`, `"` and `'`. (tera's default
/// also escapes `/`, which only makes every path in the page source unreadable; all attribute
/// values in the templates are quoted.)
fn escape_html(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + input.len() / 8);
    for c in input.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders the report and writes it to `path` atomically (temp file + rename).
pub fn write(input: &ReportInput, path: &Path) -> Result<(), ReportError> {
    let html = render(input)?;
    tollgate_core::fs::write_atomic(path, html.as_bytes()).map_err(|e| ReportError::io(path, e))
}

#[cfg(test)]
mod tests;
