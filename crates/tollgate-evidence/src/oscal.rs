//! The OSCAL 1.1.2 assessment-results export (`oscal/assessment-results.json`).
//!
//! One `result` for the release run:
//! - **observations**: each gate result (a `<stage>.json` `GateReport`) is one observation with
//!   method `TEST`, its verdict and finding counts; the other evidence is one observation per
//!   evidence kind with method `EXAMINE`. `relevant-evidence` links to the archive files
//!   (hrefs relative to this document) with their SHA-256 in a `sha256` prop.
//! - **findings**: one per control of every catalog in use, its target the control
//!   (`objective-id`), state `satisfied` when the control has evidence and no related gate
//!   failed, else `not-satisfied` (reason `no-evidence` or `gate-failed`).
//! - **reviewed-controls**: one control selection per catalog listing all its controls.
//!
//! OSCAL ids are tokens (a letter first, no `:`), so a qualified id `soc2:CC8.1` becomes the
//! control id `soc2_CC8.1` ([`control_id`]); the qualified id is kept in a `control` prop.
//!
//! `import-ap` must point at an assessment plan. Tollgate's plan is the release gates and the
//! effective configuration, not an OSCAL document, so `import-ap` links (`#uuid`) to a
//! back-matter resource that says so and records the configuration and policy-set digests
//! from the manifest's producer block.
//!
//! Deterministic: `last-modified` is `SOURCE_DATE_EPOCH` (else the Unix epoch), and every UUID
//! is a version-5 UUID of the content it identifies.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use tollgate_core::{GateReport, Severity, Verdict};
use uuid::Uuid;

use crate::{EvidenceError, EvidenceKind, FileEntry, Generation};

/// The document's path in the bundle.
pub const ASSESSMENT_RESULTS: &str = "oscal/assessment-results.json";
/// The OSCAL version written.
pub const OSCAL_VERSION: &str = "1.1.2";
/// The namespace of Tollgate's OSCAL props.
pub const NS: &str = "https://tollgate.dev/ns/oscal";

fn namespace() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://tollgate.dev/ns/oscal")
}

fn uuid_of(content: &str) -> String {
    Uuid::new_v5(&namespace(), content.as_bytes()).to_string()
}

/// The OSCAL control id (a token) of a qualified id: `soc2:CC8.1` → `soc2_CC8.1`; characters
/// other than letters, digits, `.`, `-` and `_` become `-`.
pub fn control_id(qualified: &str) -> String {
    qualified
        .replacen(':', "_", 1)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '-' })
        .collect()
}

/// RFC 3339 UTC time of `secs` since the Unix epoch (proleptic Gregorian calendar).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn prop(name: &str, value: impl Into<String>) -> Value {
    json!({ "name": name, "ns": NS, "value": value.into() })
}

fn evidence(file: &FileEntry, prefix: &str) -> Value {
    json!({
        "href": format!("{prefix}{}", file.path),
        "description": format!("{} ({}, {} bytes)", file.path, file.media_type, file.size),
        "props": [prop("sha256", file.sha256.clone())],
    })
}

struct Observation {
    uuid: String,
    value: Value,
    failed: bool,
    files: Vec<usize>,
}

/// A gate report file's observation; `None` when the file is not a `GateReport`.
fn gate_observation(
    g: &Generation<'_>,
    index: usize,
    prefix: &str,
    fallback_time: &str,
) -> Option<Observation> {
    let file = &g.files[index];
    let text = std::fs::read_to_string(g.run_dir.join(&file.path)).ok()?;
    let report: GateReport = serde_json::from_str(&text).ok()?;
    let failed = report.verdict == Verdict::Fail;
    let verdict = if failed { "fail" } else { "pass" };
    let uuid = uuid_of(&format!("observation\ngate\n{}\n{}", file.path, file.sha256));
    let collected = if report.started.is_empty() { fallback_time } else { &report.started };
    let value = json!({
        "uuid": uuid,
        "title": format!("Gate {}: {verdict}", report.gate),
        "description": format!(
            "Tollgate gate `{}` ran over {} input(s): verdict {verdict}; {} error(s), {} warning(s), {} info finding(s).",
            report.gate,
            report.inputs.len(),
            report.count(Severity::Error),
            report.count(Severity::Warning),
            report.count(Severity::Info),
        ),
        "props": [prop("gate", report.gate.clone()), prop("verdict", verdict)],
        "methods": ["TEST"],
        "collected": collected,
        "relevant-evidence": [evidence(file, prefix)],
    });
    Some(Observation { uuid, value, failed, files: vec![index] })
}

/// The assessment-results document of `g` (see the module documentation).
pub fn document(g: &Generation<'_>) -> Value {
    let prefix = "../".repeat(ASSESSMENT_RESULTS.matches('/').count());
    let last_modified = rfc3339(g.source_date_epoch);
    let started = g.release.started.clone().unwrap_or_else(|| last_modified.clone());

    let mut observations = Vec::new();
    let mut by_kind: BTreeMap<EvidenceKind, Vec<usize>> = BTreeMap::new();
    for (index, file) in g.files.iter().enumerate() {
        if file.kind == EvidenceKind::GateReport
            && let Some(observation) = gate_observation(g, index, &prefix, &started)
        {
            observations.push(observation);
            continue;
        }
        if !matches!(file.kind, EvidenceKind::Export) {
            by_kind.entry(file.kind).or_default().push(index);
        }
    }
    for (kind, indices) in &by_kind {
        let digests: Vec<&str> = indices.iter().map(|&i| g.files[i].sha256.as_str()).collect();
        let uuid = uuid_of(&format!("observation\n{}\n{}", kind.as_str(), digests.join("\n")));
        let value = json!({
            "uuid": uuid,
            "title": format!("Evidence: {}", kind.as_str()),
            "description": format!(
                "{} file(s) of kind `{}` in the evidence bundle, each recorded with its SHA-256 in the signed manifest.",
                indices.len(),
                kind.as_str()
            ),
            "props": [prop("evidence-kind", kind.as_str())],
            "methods": ["EXAMINE"],
            "collected": started,
            "relevant-evidence": indices.iter().map(|&i| evidence(&g.files[i], &prefix)).collect::<Vec<_>>(),
        });
        observations.push(Observation { uuid, value, failed: false, files: indices.clone() });
    }

    // Qualified control id -> (related observations, any failed).
    let mut related: BTreeMap<&str, (BTreeSet<&str>, bool)> = BTreeMap::new();
    for observation in &observations {
        for &i in &observation.files {
            for control in &g.files[i].controls {
                let entry = related.entry(control.as_str()).or_default();
                entry.0.insert(observation.uuid.as_str());
                entry.1 |= observation.failed;
            }
        }
    }

    let mut findings = Vec::new();
    let mut selections = Vec::new();
    for catalog in &g.coverage.catalogs {
        selections.push(json!({
            "description": format!("{} ({})", catalog.title, catalog.version),
            "include-controls": catalog.controls.iter()
                .map(|c| json!({ "control-id": control_id(&c.qualified_id) }))
                .collect::<Vec<_>>(),
        }));
        for control in &catalog.controls {
            let (uuids, failed) =
                related.get(control.qualified_id.as_str()).cloned().unwrap_or_default();
            let (state, reason) = if control.evidence.is_empty() {
                ("not-satisfied", Some("no-evidence"))
            } else if failed {
                ("not-satisfied", Some("gate-failed"))
            } else {
                ("satisfied", None)
            };
            let description = if control.evidence.is_empty() {
                "No evidence in this bundle supports this control.".to_owned()
            } else {
                format!(
                    "Supported by {} evidence file(s): {}.",
                    control.evidence.len(),
                    control.evidence.join(", ")
                )
            };
            let mut status = json!({ "state": state });
            if let Some(reason) = reason {
                status["reason"] = reason.into();
            }
            let mut finding = json!({
                "uuid": uuid_of(&format!("finding\n{}\n{state}\n{}", control.qualified_id, uuids.iter().copied().collect::<Vec<_>>().join("\n"))),
                "title": format!("{}: {}", control.qualified_id, control.title),
                "description": description,
                "props": [prop("control", control.qualified_id.clone())],
                "target": {
                    "type": "objective-id",
                    "target-id": control_id(&control.qualified_id),
                    "title": control.title,
                    "status": status,
                },
            });
            if !uuids.is_empty() {
                finding["related-observations"] = uuids
                    .iter()
                    .map(|u| json!({ "observation-uuid": u }))
                    .collect::<Vec<_>>()
                    .into();
            }
            findings.push(finding);
        }
    }
    if selections.is_empty() {
        selections.push(json!({ "description": "No control catalogs are in use ([evidence] catalogs is empty)." }));
    }

    let verdict = g.release.verdict.clone().unwrap_or_else(|| "not recorded".to_owned());
    let covered: Vec<String> =
        g.coverage.catalogs.iter().map(|c| format!("{} {}/{}", c.id, c.covered, c.total)).collect();
    let content_key: Vec<&str> = observations.iter().map(|o| o.uuid.as_str()).collect();
    let mut result = json!({
        "uuid": uuid_of(&format!("result\n{}\n{}", g.release.run_id, content_key.join("\n"))),
        "title": format!("Release {}", g.release.run_id),
        "description": format!(
            "Tollgate release run {}: verdict {verdict}. Controls with evidence: {}.",
            g.release.run_id,
            if covered.is_empty() { "none (no catalogs)".to_owned() } else { covered.join(", ") }
        ),
        "start": started,
        "props": [prop("run-id", g.release.run_id.clone()), prop("verdict", verdict.clone())],
        "reviewed-controls": { "control-selections": selections },
    });
    if !observations.is_empty() {
        result["observations"] =
            observations.into_iter().map(|o| o.value).collect::<Vec<_>>().into();
    }
    if !findings.is_empty() {
        result["findings"] = findings.into();
    }

    let plan_uuid = uuid_of(&format!(
        "assessment-plan\n{}\n{}",
        g.producer.config_sha256, g.producer.policy_sha256
    ));
    let mut doc = json!({
        "assessment-results": {
            "uuid": "",
            "metadata": {
                "title": format!("Tollgate evidence: release {}", g.release.run_id),
                "last-modified": last_modified,
                "version": g.release.run_id,
                "oscal-version": OSCAL_VERSION,
                "props": [prop("tool", format!("{} {}", g.producer.tool.name, g.producer.tool.version))],
            },
            "import-ap": { "href": format!("#{plan_uuid}") },
            "results": [result],
            "back-matter": {
                "resources": [{
                    "uuid": plan_uuid,
                    "title": "Tollgate release gates (placeholder for an OSCAL assessment plan)",
                    "description": "There is no separate OSCAL assessment plan: the plan is the stages of `tollgate release` and the effective tollgate.toml, whose SHA-256 and the policy set's (control catalogs, evidence mapping, policies/) are recorded in the bundle's signed manifest.json and below.",
                    "props": [
                        prop("config-sha256", g.producer.config_sha256.clone()),
                        prop("policy-sha256", g.producer.policy_sha256.clone()),
                    ],
                }],
            },
        }
    });
    let without_uuid = serde_json::to_string(&doc).unwrap_or_default();
    doc["assessment-results"]["uuid"] =
        uuid_of(&format!("assessment-results\n{without_uuid}")).into();
    doc
}

/// [`document`] as pretty JSON with a final newline (the [`crate::GeneratedDocument`] hook).
pub fn generate(g: &Generation<'_>) -> Result<Vec<u8>, EvidenceError> {
    let mut bytes = serde_json::to_vec_pretty(&document(g)).map_err(|e| {
        EvidenceError::Generate { path: ASSESSMENT_RESULTS.to_owned(), message: e.to_string() }
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}
