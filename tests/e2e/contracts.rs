//! `tollgate contracts diff|check|rules|changelog` and the release `contracts` stage, on real
//! git repositories (created with git2) holding real spec files.

use crate::support::{run, text, tollgate};
use serde_json::Value;
use std::path::Path;
use std::process::Output;

const OPENAPI_V1: &str = r#"openapi: 3.0.3
info:
  title: Users
  version: 1.0.0
paths:
  /users/{id}:
    get:
      operationId: getUser
      parameters:
        - name: id
          in: path
          required: true
          schema:
            type: string
      responses:
        "200":
          description: a user
          content:
            application/json:
              schema:
                $ref: "./schemas/user.yaml"
  /users:
    get:
      operationId: listUsers
      responses:
        "200":
          description: users
"#;

const USER_SCHEMA: &str = r#"type: object
required: [id, email]
properties:
  id:
    type: string
  email:
    type: string
"#;

/// `GET /users` removed: breaking.
fn openapi_v2(version: &str) -> String {
    let cut = OPENAPI_V1.find("  /users:\n").unwrap();
    OPENAPI_V1[..cut].replace("version: 1.0.0", &format!("version: {version}"))
}

const GRAPHQL_V1: &str = "type Query {\n  user(id: ID!): User\n}\n\ntype User {\n  id: ID!\n  email: String!\n  name: String\n}\n";
const GRAPHQL_V2: &str = "type Query {\n  user(id: ID!): User\n}\n\ntype User {\n  id: ID!\n  name: String\n  nickname: String\n}\n";

const EVENT_V1: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "properties": {
    "orderId": { "type": "string" },
    "amount": { "type": "number" }
  },
  "required": ["orderId"]
}
"#;

/// A new required property: new readers cannot read old events (backward-incompatible).
const EVENT_V2: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "properties": {
    "orderId": { "type": "string" },
    "amount": { "type": "number" },
    "currency": { "type": "string" }
  },
  "required": ["orderId", "currency"]
}
"#;

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn commit_all(repo: &git2::Repository, message: &str) -> git2::Oid {
    let mut index = repo.index().unwrap();
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None).unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::now("Tester", "tester@example.com").unwrap();
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents).unwrap()
}

fn tag(repo: &git2::Repository, name: &str, oid: git2::Oid) {
    let object = repo.find_object(oid, None).unwrap();
    repo.tag_lightweight(name, &object, false).unwrap();
}

const CONFIG: &str = r#"[[contracts.specs]]
kind = "openapi"
path = "api/openapi.yaml"
"#;

/// A repository whose `v1.0.0` tag holds the v1 spec (with a `$ref` to another file); the
/// working tree then gets `config` and the spec returned by `revision`.
fn repo_with_release(config: &str, revision: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(dir.path()).unwrap();
    write(dir.path(), "api/openapi.yaml", OPENAPI_V1);
    write(dir.path(), "api/schemas/user.yaml", USER_SCHEMA);
    write(dir.path(), "tollgate.toml", CONFIG);
    let first = commit_all(&repo, "v1");
    tag(&repo, "v1.0.0", first);
    // An older release tag that must not be picked as "the last release".
    tag(&repo, "v0.9.0", first);
    write(dir.path(), "tollgate.toml", config);
    write(dir.path(), "api/openapi.yaml", revision);
    dir
}

fn contracts(dir: &Path, args: &[&str]) -> Output {
    run(tollgate(dir).arg("contracts").args(args))
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn diff_with_a_breaking_openapi_change_fails_and_renders() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "old/openapi.yaml", OPENAPI_V1);
    write(dir.path(), "old/schemas/user.yaml", USER_SCHEMA);
    write(dir.path(), "new/openapi.yaml", &openapi_v2("1.1.0"));
    write(dir.path(), "new/schemas/user.yaml", USER_SCHEMA);
    let diff = ["diff", "--kind", "openapi", "old/openapi.yaml", "new/openapi.yaml"];

    let output = contracts(dir.path(), &diff);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(stdout(&output).contains("openapi/paths-path-removed"), "{}", text(&output));
    assert!(stdout(&output).contains("/users"), "{}", text(&output));

    let output = contracts(dir.path(), &[&diff[..], &["--report-format", "sarif"]].concat());
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let sarif: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(
        results
            .iter()
            .any(|r| r["ruleId"] == "openapi/paths-path-removed" && r["level"] == "error"),
        "{sarif:#}"
    );

    let output = contracts(
        dir.path(),
        &[&diff[..], &["--report-format", "markdown", "--report", "out/pr.md"]].concat(),
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let markdown = std::fs::read_to_string(dir.path().join("out/pr.md")).unwrap();
    assert!(markdown.contains("openapi/paths-path-removed"), "{markdown}");

    // [contracts] levels lower the rule; --fail-on decides whether a warning fails.
    write(
        dir.path(),
        "tollgate.toml",
        "[contracts.levels]\n\"openapi/paths-path-removed\" = \"warning\"\n",
    );
    let output = contracts(dir.path(), &diff);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let output = contracts(dir.path(), &[&diff[..], &["--fail-on", "warning"]].concat());
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    // Safe changes only (a path added): passes at error, fails at --fail-on info.
    let output = contracts(
        dir.path(),
        &["diff", "--kind", "openapi", "new/openapi.yaml", "old/openapi.yaml", "--fail-on", "info"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(stdout(&output).contains("openapi/paths-path-added"), "{}", text(&output));
}

#[test]
fn check_against_a_tag_fails_on_a_breaking_change() {
    let dir = repo_with_release(CONFIG, &openapi_v2("1.1.0"));
    let output = contracts(dir.path(), &["check", "--report-format", "json"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let report = &report["reports"][0];
    let findings = report["findings"].as_array().unwrap();
    let removed = findings
        .iter()
        .find(|f| f["rule"] == "openapi/paths-path-removed")
        .unwrap_or_else(|| panic!("{report:#}"));
    assert_eq!(removed["severity"], "error");
    assert!(removed["remediation"].as_str().unwrap().contains("major"), "{removed:#}");

    // Same result with an explicit ref.
    let output = contracts(dir.path(), &["check", "--against", "v1.0.0"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    // An unknown ref is an input error naming it.
    let output = contracts(dir.path(), &["check", "--against", "no-such-ref"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no-such-ref"), "{}", text(&output));
}

#[test]
fn check_passes_after_a_major_version_bump() {
    let dir = repo_with_release(CONFIG, &openapi_v2("2.0.0"));
    let output = contracts(dir.path(), &["check"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(stdout(&output).contains("1.0.0 -> 2.0.0"), "{}", text(&output));
}

#[test]
fn check_passes_with_an_exception_in_force_and_fails_naming_the_owner_when_expired() {
    let exception = |expires: &str| {
        format!(
            "{CONFIG}\n[[contracts.exceptions]]\nrule = \"openapi/paths-path-removed\"\n\
             subject = \"/users\"\nspec = \"api/openapi.yaml\"\nowner = \"team-identity\"\n\
             reason = \"listing moved to the search API\"\nexpires = \"{expires}\"\n"
        )
    };
    // The tests' clock is SOURCE_DATE_EPOCH=1700000000 (2023-11-14).
    let dir = repo_with_release(&exception("2099-12-31"), &openapi_v2("1.1.0"));
    let output = contracts(dir.path(), &["check", "--report-format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let out = stdout(&output);
    assert!(out.contains("team-identity"), "{}", text(&output));

    let dir = repo_with_release(&exception("2023-01-31"), &openapi_v2("1.1.0"));
    let output = contracts(dir.path(), &["check"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let out = stdout(&output);
    assert!(out.contains("contracts/exception-expired"), "{}", text(&output));
    assert!(out.contains("team-identity"), "{}", text(&output));

    // An exception for a change that does not happen: stale (warning), the gate still passes.
    let stale = exception("2099-12-31").replace("paths-path-removed", "paths-operation-removed");
    let dir = repo_with_release(&stale, OPENAPI_V1);
    let output = contracts(dir.path(), &["check"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(stdout(&output).contains("contracts/exception-unused"), "{}", text(&output));
}

#[test]
fn check_without_a_baseline_passes_with_an_info_finding() {
    let dir = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(dir.path()).unwrap();
    write(dir.path(), "api/openapi.yaml", OPENAPI_V1);
    write(dir.path(), "api/schemas/user.yaml", USER_SCHEMA);
    write(dir.path(), "tollgate.toml", CONFIG);
    commit_all(&repo, "first");
    let output = contracts(dir.path(), &["check"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(stdout(&output).contains("contracts/no-baseline"), "{}", text(&output));
}

#[test]
fn graphql_and_jsonschema_diffs_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "old.graphql", GRAPHQL_V1);
    write(dir.path(), "new.graphql", GRAPHQL_V2);
    let output =
        contracts(dir.path(), &["diff", "--kind", "graphql", "old.graphql", "new.graphql"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let out = stdout(&output);
    assert!(out.contains("graphql/field-removed"), "{}", text(&output));
    assert!(out.contains("User.email"), "{}", text(&output));
    // Identical schemas: nothing to report.
    let output =
        contracts(dir.path(), &["diff", "--kind", "graphql", "old.graphql", "old.graphql"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));

    write(dir.path(), "old.json", EVENT_V1);
    write(dir.path(), "new.json", EVENT_V2);
    let jsonschema = ["diff", "--kind", "jsonschema", "old.json", "new.json"];
    let output = contracts(dir.path(), &jsonschema);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(stdout(&output).contains("jsonschema/"), "{}", text(&output));
    // Forward: old readers ignore the new property; compatible.
    let output =
        contracts(dir.path(), &[&jsonschema[..], &["--compatibility", "forward"]].concat());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let output = contracts(dir.path(), &[&jsonschema[..], &["--compatibility", "full"]].concat());
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
}

#[test]
fn rules_lists_every_id() {
    let dir = tempfile::tempdir().unwrap();
    let output = contracts(dir.path(), &["rules"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let out = stdout(&output);
    for id in ["openapi/paths-path-removed", "graphql/field-removed", "jsonschema/"] {
        assert!(out.contains(id), "{id}\n{out}");
    }
    let output = contracts(dir.path(), &["rules", "--kind", "graphql"]);
    let out = stdout(&output);
    assert!(out.contains("graphql/type-removed") && !out.contains("openapi/"), "{out}");
    assert!(out.contains("error") && out.contains("response"), "{out}");
}

#[test]
fn changelog_groups_changes() {
    let mut revision = openapi_v2("1.1.0");
    revision.push_str(
        "  /teams:\n    get:\n      operationId: listTeams\n      responses:\n        \"200\":\n          description: teams\n",
    );
    let dir = repo_with_release(CONFIG, &revision);
    let output = contracts(dir.path(), &["changelog"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let out = stdout(&output);
    assert!(out.starts_with("# API changes since v1.0.0"), "{out}");
    let breaking = out.find("## Breaking changes").unwrap();
    let dangerous = out.find("## Dangerous changes").unwrap();
    let safe = out.find("## Safe changes").unwrap();
    assert!(breaking < dangerous && dangerous < safe, "{out}");
    let removed = out.find("openapi/paths-path-removed").unwrap();
    let added = out.find("openapi/paths-path-added").unwrap();
    assert!(breaking < removed && removed < dangerous, "{out}");
    assert!(safe < added, "{out}");
}

#[test]
fn malformed_spec_is_an_input_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "old.yaml", OPENAPI_V1);
    write(dir.path(), "schemas/user.yaml", USER_SCHEMA);
    write(dir.path(), "bad.yaml", "openapi: 3.0.3\ninfo: [unclosed\n");
    let output = contracts(dir.path(), &["diff", "--kind", "openapi", "old.yaml", "bad.yaml"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("bad.yaml:"), "{}", text(&output));

    write(dir.path(), "bad.graphql", "type Query {\n  user(: ID): User\n}\n");
    write(dir.path(), "old.graphql", GRAPHQL_V1);
    let output =
        contracts(dir.path(), &["diff", "--kind", "graphql", "old.graphql", "bad.graphql"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("bad.graphql:2:"),
        "{}",
        text(&output)
    );

    // A broken $ref names the file and the pointer.
    write(
        dir.path(),
        "broken.yaml",
        &OPENAPI_V1.replace("./schemas/user.yaml", "./schemas/none.yaml"),
    );
    let output = contracts(dir.path(), &["diff", "--kind", "openapi", "old.yaml", "broken.yaml"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("broken.yaml#/paths"), "{}", text(&output));
}

#[test]
fn release_stage_gates_the_configured_spec() {
    // Breaking change without a major bump: the release is no-go.
    let dir = repo_with_release(CONFIG, &openapi_v2("1.1.0"));
    write(dir.path(), "requirements.txt", "requests==2.31.0\n");
    let output = run(tollgate(dir.path()).args(["release", "--out", "out"]));
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let run_dir =
        std::fs::read_dir(dir.path().join("out")).unwrap().next().unwrap().unwrap().path();
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("contracts.json")).unwrap())
            .unwrap();
    assert_eq!(report["gate"], "contracts");
    assert_eq!(report["verdict"], "fail");
    let changelog = std::fs::read_to_string(run_dir.join("contracts/CHANGELOG.md")).unwrap();
    assert!(changelog.contains("openapi/paths-path-removed"), "{changelog}");

    // No specs configured: the stage passes with an info finding.
    let dir = repo_with_release("", OPENAPI_V1);
    write(dir.path(), "requirements.txt", "requests==2.31.0\n");
    let output = run(tollgate(dir.path()).args(["release", "--out", "out"]));
    let run_dir =
        std::fs::read_dir(dir.path().join("out")).unwrap().next().unwrap().unwrap().path();
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("contracts.json")).unwrap())
            .unwrap();
    assert_eq!(report["verdict"], "pass", "{}", text(&output));
    assert_eq!(report["findings"][0]["rule"], "contracts/no-specs");
}

/// The `$ref` pointer in [`OPENAPI_V1`]'s `GET /users/{id}` response.
const USER_REF_POINTER: &str =
    "#/paths/~1users~1{id}/get/responses/200/content/application~1json/schema/$ref";

#[test]
fn refs_leaving_the_spec_root_are_input_errors_that_show_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "old/openapi.yaml", OPENAPI_V1);
    write(dir.path(), "old/schemas/user.yaml", USER_SCHEMA);
    write(dir.path(), "secret.yaml", "type: object\ndescription: TOP-SECRET-MARKER\n");
    for reference in ["/etc/passwd", "../secret.yaml", "/dev/zero", "/proc/self/environ"] {
        write(
            dir.path(),
            "new/openapi.yaml",
            &OPENAPI_V1.replace("./schemas/user.yaml", reference),
        );
        let output = contracts(
            dir.path(),
            &["diff", "--kind", "openapi", "old/openapi.yaml", "new/openapi.yaml"],
        );
        assert_eq!(output.status.code(), Some(2), "{reference}: {}", text(&output));
        let all = text(&output);
        assert!(all.contains(&format!("new/openapi.yaml{USER_REF_POINTER}")), "{all}");
        assert!(all.contains(&format!("`{reference}`")), "{all}");
        assert!(all.contains("outside the spec's root"), "{all}");
        assert!(!all.contains("TOP-SECRET-MARKER") && !all.contains("root:x:0"), "{all}");
    }
}

#[test]
fn ref_root_widens_where_refs_may_read() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "old/openapi.yaml", OPENAPI_V1);
    write(dir.path(), "old/schemas/user.yaml", USER_SCHEMA);
    write(dir.path(), "common/user.yaml", USER_SCHEMA);
    write(
        dir.path(),
        "new/openapi.yaml",
        &OPENAPI_V1.replace("./schemas/user.yaml", "../common/user.yaml"),
    );
    let diff = ["diff", "--kind", "openapi", "old/openapi.yaml", "new/openapi.yaml"];
    let output = contracts(dir.path(), &diff);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let output = contracts(dir.path(), &[&diff[..], &["--ref-root", "."]].concat());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    // Still nothing outside the wider root.
    let output = contracts(dir.path(), &[&diff[..], &["--ref-root", "new"]].concat());
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let output = contracts(dir.path(), &[&diff[..], &["--ref-root", "missing"]].concat());
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
}

#[test]
fn check_confines_refs_in_the_tree_and_at_the_baseline_ref() {
    // A release whose spec reads a shared folder beside it: refused at the tag unless
    // `ref_root` allows it.
    let dir = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(dir.path()).unwrap();
    let shared_spec = OPENAPI_V1.replace("./schemas/user.yaml", "../shared/user.yaml");
    write(dir.path(), "api/openapi.yaml", &shared_spec);
    write(dir.path(), "shared/user.yaml", USER_SCHEMA);
    write(dir.path(), "tollgate.toml", CONFIG);
    let first = commit_all(&repo, "v1");
    tag(&repo, "v1.0.0", first);
    let output = contracts(dir.path(), &["check"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("api/openapi.yaml#/paths"), "{}", text(&output));
    assert!(stderr.contains("outside the spec's root"), "{}", text(&output));

    write(dir.path(), "tollgate.toml", &format!("{CONFIG}ref_root = \".\"\n"));
    let output = contracts(dir.path(), &["check"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
}

#[test]
fn schemas_that_are_not_schemas_are_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "v1.json", EVENT_V1);
    write(dir.path(), "null.json", "null\n");
    write(dir.path(), "type5.json", "{\n  \"type\": 5\n}\n");
    for (file, place) in [("null.json", "null.json#:"), ("type5.json", "type5.json#/type:")] {
        let output = contracts(dir.path(), &["diff", "--kind", "jsonschema", "v1.json", file]);
        assert_eq!(output.status.code(), Some(2), "{}", text(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(place), "{}", text(&output));
    }

    write(dir.path(), "v1.graphql", GRAPHQL_V1);
    write(dir.path(), "undefined.graphql", &GRAPHQL_V1.replace("name: String\n", "org: Org\n"));
    let output =
        contracts(dir.path(), &["diff", "--kind", "graphql", "v1.graphql", "undefined.graphql"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("undefined.graphql:8:8: invalid GraphQL schema"), "{}", text(&output));
    assert!(stderr.contains("`Org`"), "{}", text(&output));
}
