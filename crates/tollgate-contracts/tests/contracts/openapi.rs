//! OpenAPI gate: data-driven rule fixtures (`tests/fixtures/openapi/<rule>/<case>/` holding
//! `base.{yaml,json}`, `revision.{yaml,json}` and `expected.txt`, the rule ids the diff must
//! report, one per line) plus loading and error cases.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use tollgate_contracts::ContractError;
use tollgate_contracts::change::Level;
use tollgate_contracts::openapi::{self, RULES};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn spec_file(dir: &Path, stem: &str) -> PathBuf {
    ["yaml", "json"]
        .iter()
        .map(|ext| dir.join(format!("{stem}.{ext}")))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{} has no {stem}.yaml or {stem}.json", dir.display()))
}

fn cases(dir: &Path, out: &mut Vec<PathBuf>) {
    if dir.join("expected.txt").exists() {
        out.push(dir.to_path_buf());
        return;
    }
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for entry in entries.into_iter().filter(|p| p.is_dir()) {
        cases(&entry, out);
    }
}

fn rule_ids(base: &Path, revision: &Path) -> BTreeSet<String> {
    let base = openapi::load(base).unwrap();
    let revision = openapi::load(revision).unwrap();
    openapi::diff(&base, &revision).iter().map(|c| c.rule.to_string()).collect()
}

#[test]
fn rule_fixtures() {
    let mut dirs = Vec::new();
    cases(&fixtures().join("openapi"), &mut dirs);
    assert!(dirs.len() > 50, "found only {} fixture cases", dirs.len());
    let mut failures = Vec::new();
    for dir in &dirs {
        let expected: BTreeSet<String> = std::fs::read_to_string(dir.join("expected.txt"))
            .unwrap()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect();
        let actual = rule_ids(&spec_file(dir, "base"), &spec_file(dir, "revision"));
        if actual != expected {
            failures.push(format!(
                "{}:\n  expected {expected:?}\n  actual   {actual:?}",
                dir.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every rule is expected by some fixture; every error or warning rule also has its own
/// directory with a breaking case (`fail*`/`warn*`) and a compatible twin (`pass*`).
#[test]
fn every_rule_has_fixtures() {
    let root = fixtures().join("openapi");
    let mut dirs = Vec::new();
    cases(&root, &mut dirs);
    let mut missing = Vec::new();
    for rule in RULES {
        let short = rule.id.strip_prefix("openapi/").unwrap();
        let expecting = dirs.iter().any(|d| {
            std::fs::read_to_string(d.join("expected.txt")).unwrap().lines().any(|l| l == rule.id)
        });
        if !expecting {
            missing.push(format!("{short}: no fixture expects it"));
        }
        if rule.level == Level::Info {
            continue;
        }
        let names: Vec<String> = std::fs::read_dir(root.join(short))
            .map(|entries| {
                entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
            })
            .unwrap_or_default();
        if !names.iter().any(|n| n.starts_with("fail") || n.starts_with("warn")) {
            missing.push(format!("{short}: no failing case in its directory"));
        }
        if !names.iter().any(|n| n.starts_with("pass")) {
            missing.push(format!("{short}: no passing case in its directory"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn rule_ids_are_unique_and_prefixed() {
    let ids: BTreeSet<_> = RULES.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), RULES.len());
    assert!(RULES.iter().all(|r| r.id.starts_with("openapi/") && !r.description.is_empty()));
}

#[test]
fn messages_name_the_operation_and_point_into_the_revision() {
    let dir = fixtures().join("openapi/request-property-type-changed/fail");
    let base = openapi::load(&spec_file(&dir, "base")).unwrap();
    let rev = openapi::load(&spec_file(&dir, "revision")).unwrap();
    let changes = openapi::diff(&base, &rev);
    let change =
        changes.iter().find(|c| c.rule == "openapi/request-property-type-changed").unwrap();
    assert_eq!(change.subject, "POST /users");
    assert!(change.message.contains("POST /users"), "{}", change.message);
    assert!(change.message.contains("`age`"), "{}", change.message);
    assert!(change.location.file.contains("/revision."), "{}", change.location);
    assert_eq!(
        change.location.pointer.as_deref(),
        Some("/components/schemas/NewUser/properties/age")
    );
}

#[test]
fn removals_point_into_the_base() {
    let dir = fixtures().join("openapi/paths-path-removed/fail");
    let base = openapi::load(&spec_file(&dir, "base")).unwrap();
    let rev = openapi::load(&spec_file(&dir, "revision")).unwrap();
    let changes = openapi::diff(&base, &rev);
    assert_eq!(changes.len(), 1);
    assert!(changes[0].location.file.contains("/base."));
    assert_eq!(changes[0].location.pointer.as_deref(), Some("/paths/~1users"));
}

#[test]
fn refs_across_files_with_cycles() {
    let dir = fixtures().join("openapi-load/cross-file");
    let actual = rule_ids(&dir.join("base.yaml"), &dir.join("revision.yaml"));
    let expected: BTreeSet<String> =
        ["openapi/response-optional-property-removed", "openapi/response-property-removed"]
            .map(String::from)
            .into();
    assert_eq!(actual, expected);
    let base = openapi::load(&dir.join("base.yaml")).unwrap();
    assert_eq!(openapi::version(&base), Some("1.0.0"));
}

#[test]
fn load_str_resolves_relative_refs_through_the_resolver() {
    let dir = fixtures().join("openapi-load/cross-file");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
    let text = read("base.yaml").unwrap();
    let spec = openapi::load_str("base.yaml", &text, |name| read(name)).unwrap();
    let same = openapi::load_str("base.yaml", &text, |name| read(name)).unwrap();
    assert!(openapi::diff(&spec, &same).is_empty());
    let err = openapi::load_str("base.yaml", &text, |_| None).unwrap_err();
    assert!(
        matches!(&err, ContractError::BrokenRef { file, pointer, .. }
            if file == "base.yaml" && pointer == "/paths/~1pets~1{id}/$ref"),
        "{err}"
    );
}

#[test]
fn malformed_yaml_names_file_and_line() {
    let path = fixtures().join("openapi-load/errors/malformed.yaml");
    let err = openapi::load(&path).unwrap_err();
    let ContractError::MalformedYaml { file, line, .. } = &err else { panic!("{err}") };
    assert!(file.ends_with("malformed.yaml"));
    assert!((4..=5).contains(line), "{err}");
}

#[test]
fn malformed_json_names_file_and_line() {
    let err = openapi::load_str("api.json", "{\n  \"openapi\": \"3.0.0\",\n  oops\n}", |_| None)
        .unwrap_err();
    assert!(matches!(err, ContractError::MalformedJson { line: 3, .. }), "{err}");
}

#[test]
fn broken_ref_names_file_and_pointer() {
    let path = fixtures().join("openapi-load/errors/broken-ref.yaml");
    let err = openapi::load(&path).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("broken-ref.yaml"), "{text}");
    assert!(
        text.contains("/paths/~1a/get/responses/200/content/application~1json/schema/$ref"),
        "{text}"
    );
    let path = fixtures().join("openapi-load/errors/missing-file.yaml");
    let err = openapi::load(&path).unwrap_err();
    assert!(err.to_string().contains("nowhere.yaml"), "{err}");
}

#[test]
fn unknown_versions_are_rejected_at_openapi() {
    for name in ["swagger.yaml", "version-4.json"] {
        let path = fixtures().join("openapi-load/errors").join(name);
        let err = openapi::load(&path).unwrap_err();
        assert!(
            matches!(&err, ContractError::UnsupportedOpenApiVersion { file, pointer, .. }
                if file.ends_with(name) && pointer == "/openapi"),
            "{err}"
        );
    }
}
