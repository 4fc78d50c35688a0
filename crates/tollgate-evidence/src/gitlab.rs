//! Release evidence in the shape GitLab publishes for a release (`gitlab/release-evidence.json`).
//!
//! GitLab's release evidence (docs: *Releases → Release evidence*) is
//! `{"release": {"id", "tag_name", "name", "project": {"id", "name", "created_at",
//! "description"}, "created_at", "description", "milestones": [...], "report_artifacts": [...]}}`
//! with times as `YYYY-MM-DD HH:MM:SS UTC`. Tollgate fills it from the run:
//! - `tag_name`: the head of the release range in `git.json` when it is not `HEAD`, else the
//!   run id; `name`: `Release <tag_name>`;
//! - `project.name` / `project.description`: the SBOM's subject (`metadata.component` of
//!   `sbom/cyclonedx.json`) when there is one;
//! - `created_at`: the run's start; `description`: verdict and control coverage;
//! - `report_artifacts`: the JUnit test reports, as URLs relative to this document;
//! - `milestones` and `issues`: empty (they live in GitLab, not in the run);
//! - `id` and `project.id`: `null` — GitLab's numeric ids are not known outside GitLab.
//!
//! A top-level `tollgate` object (ignored by GitLab tooling) points at the signed manifest.
//! The manifest lists this file, so it cannot carry the manifest's own digest; it carries the
//! SHA-256 of the run-directory file list instead (`filesSha256`: SHA-256 over
//! `<sha256>  <path>\n` lines, sorted by path, as `sha256sum` prints them), which the
//! manifest's entries reproduce.

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::{EvidenceError, EvidenceKind, Generation, MANIFEST, MANIFEST_DSSE};

/// The document's path in the bundle.
pub const RELEASE_EVIDENCE: &str = "gitlab/release-evidence.json";

/// `2019-06-28 13:23:40 UTC` from an RFC 3339 UTC time (`2019-06-28T13:23:40Z`); other
/// strings are returned unchanged.
pub fn gitlab_time(rfc3339: &str) -> String {
    match rfc3339.strip_suffix('Z').and_then(|t| t.split_once('T')) {
        Some((date, time)) => format!("{date} {} UTC", time.split('.').next().unwrap_or(time)),
        None => rfc3339.to_owned(),
    }
}

fn read_json(g: &Generation<'_>, path: &str) -> Option<Value> {
    g.files.iter().find(|f| f.path == path)?;
    let text = std::fs::read_to_string(g.run_dir.join(path)).ok()?;
    serde_json::from_str(&text).ok()
}

/// SHA-256 over the `sha256sum`-style lines of the run directory's files.
pub fn files_sha256(g: &Generation<'_>) -> String {
    let mut hasher = Sha256::new();
    for file in g.files {
        hasher.update(format!("{}  {}\n", file.sha256, file.path).as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The release-evidence document of `g` (see the module documentation).
pub fn document(g: &Generation<'_>) -> Value {
    let head = read_json(g, "git.json")
        .and_then(|git| git.pointer("/range/head").and_then(Value::as_str).map(str::to_owned))
        .filter(|head| head != "HEAD" && !head.is_empty());
    let tag_name = head.unwrap_or_else(|| g.release.run_id.clone());
    let component = read_json(g, "sbom/cyclonedx.json")
        .and_then(|bom| bom.pointer("/metadata/component").cloned())
        .unwrap_or(Value::Null);
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let created_at = g
        .release
        .started
        .as_deref()
        .map(gitlab_time)
        .unwrap_or_else(|| gitlab_time(&crate::oscal::rfc3339(g.source_date_epoch)));
    let verdict = g.release.verdict.clone().unwrap_or_else(|| "not recorded".to_owned());
    let coverage: Vec<String> = g
        .coverage
        .catalogs
        .iter()
        .map(|c| format!("{} {}/{} controls with evidence", c.id, c.covered, c.total))
        .collect();
    let prefix = "../".repeat(RELEASE_EVIDENCE.matches('/').count());
    let reports: Vec<Value> = g
        .files
        .iter()
        .filter(|f| f.kind == EvidenceKind::TestReport)
        .map(|f| json!({ "url": format!("{prefix}{}", f.path) }))
        .collect();
    json!({
        "release": {
            "id": Value::Null,
            "tag_name": tag_name,
            "name": format!("Release {tag_name}"),
            "project": {
                "id": Value::Null,
                "name": text(&component, "name"),
                "created_at": Value::Null,
                "description": text(&component, "description"),
            },
            "created_at": created_at,
            "description": format!(
                "Tollgate release run {}: verdict {verdict}. {}.",
                g.release.run_id,
                if coverage.is_empty() { "No control catalogs in use".to_owned() } else { coverage.join("; ") }
            ),
            "milestones": [],
            "issues": [],
            "report_artifacts": reports,
        },
        "tollgate": {
            "runId": g.release.run_id,
            "verdict": g.release.verdict,
            "manifest": MANIFEST,
            "signature": MANIFEST_DSSE,
            "files": g.files.len(),
            "filesSha256": files_sha256(g),
            "tool": format!("{} {}", g.producer.tool.name, g.producer.tool.version),
        },
    })
}

/// [`document`] as pretty JSON with a final newline (the [`crate::GeneratedDocument`] hook).
pub fn generate(g: &Generation<'_>) -> Result<Vec<u8>, EvidenceError> {
    let mut bytes = serde_json::to_vec_pretty(&document(g)).map_err(|e| {
        EvidenceError::Generate { path: RELEASE_EVIDENCE.to_owned(), message: e.to_string() }
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}
