//! The data-driven layout shared by the spec kinds: `tests/fixtures/<kind>/<case>/` holds the
//! inputs and `expected.txt`. `UPDATE_EXPECT=1 cargo test` rewrites the expectations.

use std::path::{Path, PathBuf};

/// The case directories of one kind, sorted.
pub fn cases(kind: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(kind);
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// Compares `actual` with the case's `expected.txt`; returns a failure description.
pub fn check_expected(case: &Path, actual: &str) -> Option<String> {
    let path = case.join("expected.txt");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, actual).expect("write expected.txt");
        return None;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    (expected != actual)
        .then(|| format!("{}\n--- expected\n{expected}--- actual\n{actual}", case.display()))
}

/// Reads a case's `expected.txt` (after any update).
pub fn expected(case: &Path) -> String {
    std::fs::read_to_string(case.join("expected.txt")).unwrap_or_default()
}

/// Every rule id must have a case named after it that fails (reports it at `error`, or at
/// all for rules whose default level is lower) and a `-ok` case that passes (does not).
pub fn check_rule_coverage(kind: &str, ids: &[(&str, bool)]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(kind);
    let mut missing = Vec::new();
    for &(id, error_level) in ids {
        let short = id.split_once('/').map_or(id, |(_, s)| s);
        let fires = |text: &str| {
            text.lines().any(|l| {
                let mut words = l.split(' ');
                let level = words.next().unwrap_or("");
                words.next() == Some(id) && (!error_level || level == "error")
            })
        };
        if !fires(&expected(&root.join(short))) {
            missing.push(format!("{short}: does not report {id}"));
        }
        let ok = root.join(format!("{short}-ok"));
        if !ok.is_dir() || fires(&expected(&ok)) {
            missing.push(format!("{short}-ok: missing, or reports {id}"));
        }
    }
    assert!(missing.is_empty(), "rule fixtures:\n{}", missing.join("\n"));
}
