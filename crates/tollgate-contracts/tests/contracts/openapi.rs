//! OpenAPI diff: `tests/fixtures/openapi/<group>/<case>/{base,revision}.{yaml,json}` (see
//! `fixtures` for the convention) plus loading and error cases on `tests/fixtures/openapi-load/`.

use crate::fixtures::{self, Inputs, Kind, Outcome};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use tollgate_contracts::ContractError;
use tollgate_contracts::confine::RefRoot;
use tollgate_contracts::openapi::{self, RULES};

const KIND: Kind = Kind {
    name: "openapi",
    extensions: &["yaml", "json"],
    extra_inputs: &[],
    diff,
    rules: RULES,
    topics: &[
        "cyclic-schema",
        "identical",
        "openapi-3-1",
        "paths-deprecated-path-removed",
        "response-all-of",
    ],
    // Info rules without a group of their own: each is reported by the `pass*` case of the
    // breaking rule it is the compatible twin of (e.g. `request-body-added` by
    // `request-body-added-required/pass-optional`), and five have an `info` case but no `pass`.
    uncovered: &[
        "openapi/paths-deprecated-operation-removed",
        "openapi/paths-operation-added",
        "openapi/paths-operation-deprecated",
        "openapi/paths-path-added",
        "openapi/request-body-added",
        "openapi/request-body-media-type-added",
        "openapi/request-deprecated-parameter-removed",
        "openapi/request-parameter-added",
        "openapi/request-parameter-became-optional",
        "openapi/request-parameter-enum-value-added",
        "openapi/request-property-added",
        "openapi/request-property-enum-value-added",
        "openapi/response-property-added",
        "openapi/response-property-enum-value-removed",
        "openapi/response-status-added",
    ],
};

/// Loads both specs under their file names; `$ref`s to other files resolve in the case
/// directory and may not leave it.
fn diff(inputs: &Inputs) -> Result<Outcome, String> {
    let root = RefRoot::new(&inputs.dir).map_err(|e| e.to_string())?;
    let resolve = |name: &str| root.read(&inputs.dir.join(name));
    let load = |input: &fixtures::Input| openapi::load_str(&input.name, &input.text, resolve);
    Ok(load(&inputs.base).and_then(|b| load(&inputs.revision).map(|r| openapi::diff(&b, &r))))
}

fn fixture(case: &str) -> PathBuf {
    fixtures::root(&KIND).join(case)
}

fn spec_file(dir: &Path, stem: &str) -> PathBuf {
    let name = fixtures::find_input(dir, stem, KIND.extensions)
        .unwrap_or_else(|| panic!("{} has no {stem}.yaml or {stem}.json", dir.display()));
    dir.join(name)
}

fn openapi_load(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/openapi-load").join(name)
}

fn rule_ids(base: &Path, revision: &Path) -> BTreeSet<String> {
    let base = openapi::load(base).unwrap();
    let revision = openapi::load(revision).unwrap();
    openapi::diff(&base, &revision).iter().map(|c| c.rule.to_string()).collect()
}

#[test]
fn fixtures_match_expected() {
    fixtures::assert_fixtures(&KIND);
}

#[test]
fn every_rule_has_fixtures() {
    fixtures::assert_coverage(&KIND);
}

#[test]
fn rule_ids_are_unique_and_prefixed() {
    fixtures::assert_rule_table(&KIND);
}

#[test]
fn messages_name_the_operation_and_point_into_the_revision() {
    let dir = fixture("request-property-type-changed/fail");
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
    let dir = fixture("paths-path-removed/fail");
    let base = openapi::load(&spec_file(&dir, "base")).unwrap();
    let rev = openapi::load(&spec_file(&dir, "revision")).unwrap();
    let changes = openapi::diff(&base, &rev);
    assert_eq!(changes.len(), 1);
    assert!(changes[0].location.file.contains("/base."));
    assert_eq!(changes[0].location.pointer.as_deref(), Some("/paths/~1users"));
}

#[test]
fn refs_across_files_with_cycles() {
    let dir = openapi_load("cross-file");
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
    let dir = openapi_load("cross-file");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).map_err(|e| e.to_string());
    let text = read("base.yaml").unwrap();
    let spec = openapi::load_str("base.yaml", &text, |name| read(name)).unwrap();
    let same = openapi::load_str("base.yaml", &text, |name| read(name)).unwrap();
    assert!(openapi::diff(&spec, &same).is_empty());
    let err = openapi::load_str("base.yaml", &text, |_| Err("unreadable".into())).unwrap_err();
    assert!(
        matches!(&err, ContractError::BrokenRef { file, pointer, .. }
            if file == "base.yaml" && pointer == "/paths/~1pets~1{id}/$ref"),
        "{err}"
    );
}

#[test]
fn malformed_yaml_names_file_and_line() {
    let path = openapi_load("errors/malformed.yaml");
    let err = openapi::load(&path).unwrap_err();
    let ContractError::MalformedYaml { file, line, .. } = &err else { panic!("{err}") };
    assert!(file.ends_with("malformed.yaml"));
    assert!((4..=5).contains(line), "{err}");
}

#[test]
fn malformed_json_names_file_and_line() {
    let err = openapi::load_str("api.json", "{\n  \"openapi\": \"3.0.0\",\n  oops\n}", |_| {
        Err("unreadable".into())
    })
    .unwrap_err();
    assert!(matches!(err, ContractError::MalformedJson { line: 3, .. }), "{err}");
}

#[test]
fn broken_ref_names_file_and_pointer() {
    let path = openapi_load("errors/broken-ref.yaml");
    let err = openapi::load(&path).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("broken-ref.yaml"), "{text}");
    assert!(
        text.contains("/paths/~1a/get/responses/200/content/application~1json/schema/$ref"),
        "{text}"
    );
    let path = openapi_load("errors/missing-file.yaml");
    let err = openapi::load(&path).unwrap_err();
    assert!(err.to_string().contains("nowhere.yaml"), "{err}");
}

#[test]
fn unknown_versions_are_rejected_at_openapi() {
    for name in ["swagger.yaml", "version-4.json"] {
        let path = openapi_load("errors").join(name);
        let err = openapi::load(&path).unwrap_err();
        assert!(
            matches!(&err, ContractError::UnsupportedOpenApiVersion { file, pointer, .. }
                if file.ends_with(name) && pointer == "/openapi"),
            "{err}"
        );
    }
}

/// Where the spec's `$ref`s may read: only regular files inside the spec's root directory, up
/// to a size limit. Each case writes `root/api/openapi.yaml` with one `$ref` to `reference`.
mod ref_root {
    use super::*;

    /// The `$ref` keyword's pointer in [`spec_with_ref`]'s document.
    const REF_POINTER: &str = "/paths/~1a/get/responses/200/content/application~1json/schema/$ref";

    fn spec_with_ref(root: &Path, reference: &str) -> PathBuf {
        let text = format!(
            "openapi: 3.0.3\ninfo: {{title: t, version: 1.0.0}}\npaths:\n  /a:\n    get:\n      \
             responses:\n        \"200\":\n          description: ok\n          content:\n            \
             application/json:\n              schema:\n                $ref: '{reference}'\n"
        );
        let path = root.join("api/openapi.yaml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Loads a spec whose one `$ref` is `reference` and expects it refused, naming the spec,
    /// the `$ref`'s pointer and the reference; returns the reason.
    fn refused(root: &Path, reference: &str) -> String {
        let spec = spec_with_ref(root, reference);
        let err = openapi::load(&spec).expect_err(reference);
        let ContractError::BrokenRef { file, pointer, reference: named, reason } = &err else {
            panic!("{reference}: {err}")
        };
        assert!(file.ends_with("api/openapi.yaml"), "{err}");
        assert_eq!(pointer, REF_POINTER, "{err}");
        assert_eq!(named, reference, "{err}");
        reason.clone()
    }

    #[test]
    fn dev_zero_is_refused_without_reading_it() {
        let tmp = tempfile::tempdir().unwrap();
        let reason = refused(tmp.path(), "/dev/zero");
        assert!(reason.contains("outside"), "{reason}");
    }

    #[test]
    fn an_absolute_system_file_is_refused_and_not_shown() {
        let tmp = tempfile::tempdir().unwrap();
        let reason = refused(tmp.path(), "/etc/passwd#/root");
        assert!(reason.contains("outside"), "{reason}");
        assert!(!reason.contains("/bin/"), "{reason}");
        let reason = refused(tmp.path(), "/proc/self/environ");
        assert!(reason.contains("outside"), "{reason}");
    }

    #[test]
    fn a_relative_traversal_out_of_the_root_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("outside.yaml"), "type: string\n").unwrap();
        let reason = refused(tmp.path(), "../outside.yaml");
        assert!(reason.contains("outside"), "{reason}");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_pointing_out_of_the_root_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let secret = tmp.path().join("secret.yaml");
        std::fs::write(&secret, "type: string\n").unwrap();
        std::fs::create_dir_all(tmp.path().join("api")).unwrap();
        std::os::unix::fs::symlink(&secret, tmp.path().join("api/link.yaml")).unwrap();
        let reason = refused(tmp.path(), "link.yaml");
        assert!(reason.contains("outside"), "{reason}");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_inside_the_root_is_refused_without_blocking() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("api")).unwrap();
        let fifo = tmp.path().join("api/pipe.yaml");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(status.success());
        let reason = refused(tmp.path(), "pipe.yaml");
        assert!(reason.contains("not a regular file"), "{reason}");
    }

    #[test]
    fn a_file_over_the_size_limit_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("api")).unwrap();
        let big = std::fs::File::create(tmp.path().join("api/big.yaml")).unwrap();
        big.set_len(tollgate_contracts::confine::MAX_SPEC_FILE_BYTES + 1).unwrap();
        let reason = refused(tmp.path(), "big.yaml");
        assert!(reason.contains("larger than"), "{reason}");
    }

    #[test]
    fn a_relative_ref_into_a_subfolder_still_resolves() {
        let tmp = tempfile::tempdir().unwrap();
        let spec = spec_with_ref(tmp.path(), "schemas/user.yaml#/User");
        std::fs::create_dir_all(tmp.path().join("api/schemas")).unwrap();
        std::fs::write(tmp.path().join("api/schemas/user.yaml"), "User:\n  type: string\n")
            .unwrap();
        let loaded = openapi::load(&spec).unwrap();
        assert!(openapi::diff(&loaded, &loaded).is_empty());
    }

    #[test]
    fn a_wider_ref_root_admits_a_sibling_folder() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("common")).unwrap();
        std::fs::write(tmp.path().join("common/user.yaml"), "type: string\n").unwrap();
        let spec = spec_with_ref(tmp.path(), "../common/user.yaml");
        assert!(openapi::load(&spec).is_err(), "outside the spec's own folder");
        let loaded = openapi::load_within(&spec, tmp.path()).unwrap();
        assert_eq!(openapi::version(&loaded), Some("1.0.0"));
    }
}
