//! The verdict corpus: `tests/corpus/<kind>/<case>.yaml`, one change per case, each labelled
//! `breaking` or `non-breaking` from the OpenAPI 3.0/3.1 and JSON Schema 2020-12 semantics of
//! the change (not from what the gate reports). A case holds `base` and `revision` (whole
//! documents), `expected`, a `description` saying why, the `reference` section it follows, and
//! `placement` (OpenAPI: `request` or `response`) or `mode` (JSON Schema: `backward`,
//! `forward`). The gate's verdict is "breaking" when it reports any error.
//!
//! Recall (breaking changes found) and precision (reported breaking changes that are) must both
//! stay at or above 0.95; every misjudged case is listed.

use serde_json::Value;
use std::path::{Path, PathBuf};
use tollgate_contracts::change::{Change, Level};
use tollgate_contracts::jsonschema::{self, Compatibility};
use tollgate_contracts::openapi;

const FLOOR: f64 = 0.95;

struct Case {
    name: String,
    doc: Value,
}

fn cases(kind: &str) -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus").join(kind);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable case");
            let doc: Value = serde_yaml_ng::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let name = path.file_stem().expect("file name").to_string_lossy().into_owned();
            Case { name, doc }
        })
        .collect()
}

fn text(case: &Case, key: &str) -> String {
    let value = case.doc.get(key).unwrap_or_else(|| panic!("{}: no `{key}`", case.name));
    serde_json::to_string(value).expect("JSON")
}

fn expected(case: &Case) -> bool {
    match case.doc.get("expected").and_then(Value::as_str) {
        Some("breaking") => true,
        Some("non-breaking") => false,
        other => panic!("{}: expected is {other:?}, not breaking|non-breaking", case.name),
    }
}

fn breaking(changes: &[Change]) -> bool {
    changes.iter().any(|c| c.level == Level::Error)
}

/// Counts, prints and checks the verdicts: `(case, expected, actual, what was reported)`.
fn score(kind: &str, verdicts: &[(String, bool, bool, String)]) {
    let count = |e: bool, a: bool| verdicts.iter().filter(|v| v.1 == e && v.2 == a).count();
    let (tp, fp, fn_, tn) =
        (count(true, true), count(false, true), count(true, false), count(false, false));
    let recall = tp as f64 / (tp + fn_).max(1) as f64;
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let mut report = format!(
        "{kind} corpus: {} cases ({} breaking): recall {recall:.3}, precision {precision:.3} \
         (tp {tp}, fp {fp}, fn {fn_}, tn {tn})\n",
        verdicts.len(),
        tp + fn_
    );
    for (name, e, a, found) in verdicts.iter().filter(|v| v.1 != v.2) {
        let label = |b: bool| if b { "breaking" } else { "non-breaking" };
        report.push_str(&format!(
            "  {name}: expected {}, judged {}: {found}\n",
            label(*e),
            label(*a)
        ));
    }
    // The figures are the point of this test: show them even when it passes.
    #[allow(clippy::print_stderr)]
    {
        eprint!("{report}");
    }
    assert!(verdicts.len() >= 100, "{kind} corpus has only {} cases", verdicts.len());
    assert!(recall >= FLOOR && precision >= FLOOR, "{report}");
}

fn summary(changes: &[Change]) -> String {
    let shown: Vec<String> = changes.iter().map(|c| format!("{:?} {}", c.level, c.rule)).collect();
    if shown.is_empty() { "nothing reported".into() } else { shown.join(", ") }
}

#[test]
fn openapi_corpus_recall_and_precision() {
    let mut verdicts = Vec::new();
    for case in cases("openapi") {
        let no_refs = |other: &str| Err(format!("`{other}`: corpus cases are single documents"));
        let base = openapi::load_str("base.json", &text(&case, "base"), no_refs)
            .unwrap_or_else(|e| panic!("{}: base: {e}", case.name));
        let revision = openapi::load_str("revision.json", &text(&case, "revision"), no_refs)
            .unwrap_or_else(|e| panic!("{}: revision: {e}", case.name));
        let changes = openapi::diff(&base, &revision);
        verdicts.push((case.name.clone(), expected(&case), breaking(&changes), summary(&changes)));
    }
    score("openapi", &verdicts);
}

#[test]
fn jsonschema_corpus_recall_and_precision() {
    let mut verdicts = Vec::new();
    for case in cases("jsonschema") {
        let mode: Compatibility = case
            .doc
            .get("mode")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{}: no mode", case.name))
            .parse()
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let base = jsonschema::parse("base.json", &text(&case, "base"))
            .unwrap_or_else(|e| panic!("{}: base: {e}", case.name));
        let revision = jsonschema::parse("revision.json", &text(&case, "revision"))
            .unwrap_or_else(|e| panic!("{}: revision: {e}", case.name));
        let changes = jsonschema::check(&base, &revision, mode);
        verdicts.push((case.name.clone(), expected(&case), breaking(&changes), summary(&changes)));
    }
    score("jsonschema", &verdicts);
}
