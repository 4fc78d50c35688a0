//! What a user sees: the human output and the error messages of each command's typical success
//! and failure, pinned with insta. Each case runs the real binary in a temp directory with
//! relative paths; durations, key ids and digests that change from run to run are redacted.

use crate::support::{fixture, run, tollgate};
use std::path::Path;
use std::process::Output;

/// Exit code, stdout and stderr as one text.
fn shown(output: &Output) -> String {
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        output.status.code().map_or("signal".to_owned(), |c| c.to_string()),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `tollgate ARGS` in `dir` and snapshots what it showed.
fn check(name: &str, dir: &Path, args: &[&str]) -> Output {
    let output = run(tollgate(dir).args(args));
    insta::with_settings!({
        description => format!("tollgate {}", args.join(" ")),
        omit_expression => true,
        filters => vec![
            (r"in \d+ ?ms", "in [ms]"),
            (r"\b[0-9a-f]{64}\b", "[sha256]"),
            (r"\(os error \d+\)", "(os error)"),
        ],
    }, {
        insta::assert_snapshot!(name, shown(&output));
    });
    output
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to).unwrap();
}

#[test]
fn rules_lists_every_gate_and_rejects_an_unknown_one() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(check("rules_all", dir.path(), &["rules"]).status.code(), Some(0));
    assert_eq!(check("rules_one_gate", dir.path(), &["rules", "attest"]).status.code(), Some(0));
    assert_eq!(check("rules_unknown_gate", dir.path(), &["rules", "lint"]).status.code(), Some(2));
}

#[test]
fn config_show_and_a_misspelt_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tollgate.toml"), "[contracts]\nfail_on = \"warning\"\n")
        .unwrap();
    assert_eq!(check("config_show", dir.path(), &["config", "show"]).status.code(), Some(0));
    std::fs::write(dir.path().join("tollgate.toml"), "[sbom]\nexlude = []\n").unwrap();
    assert_eq!(check("config_bad_key", dir.path(), &["config", "show"]).status.code(), Some(2));
}

#[test]
fn sbom_of_a_lockfile_a_missing_path_and_a_diff() {
    let dir = tempfile::tempdir().unwrap();
    let go = fixture("tollgate-sbom", "go-basic");
    copy(&go.join("go.mod"), &dir.path().join("old/go.mod"));
    copy(&go.join("go.sum"), &dir.path().join("old/go.sum"));
    let out = run(tollgate(dir.path()).args(["sbom", "old", "-o", "old.cdx.json"]));
    assert!(out.status.success(), "{}", shown(&out));
    assert_eq!(
        check("sbom_missing_path", dir.path(), &["sbom", "nope/Cargo.lock"]).status.code(),
        Some(2)
    );
    // The same SBOM with one component at another version: a version change.
    let text = std::fs::read_to_string(dir.path().join("old.cdx.json")).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let component = &mut doc["components"][0];
    let version = component["version"].as_str().unwrap().to_owned();
    component["version"] = serde_json::Value::from(format!("0.0.0-{version}"));
    std::fs::write(dir.path().join("new.cdx.json"), doc.to_string()).unwrap();
    assert_eq!(
        check("sbom_diff", dir.path(), &["sbom", "diff", "old.cdx.json", "new.cdx.json"])
            .status
            .code(),
        Some(0)
    );
    std::fs::write(
        dir.path().join("bad.cdx.json"),
        "{\"bomFormat\": \"CycloneDX\",\n  \"components\": [",
    )
    .unwrap();
    assert_eq!(
        check("sbom_diff_malformed", dir.path(), &["sbom", "diff", "old.cdx.json", "bad.cdx.json"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn contracts_diff_compatible_breaking_and_malformed() {
    let dir = tempfile::tempdir().unwrap();
    let case = fixture("tollgate-contracts", "openapi/paths-path-removed/fail");
    copy(&case.join("base.yaml"), &dir.path().join("api/v1.yaml"));
    copy(&case.join("revision.yaml"), &dir.path().join("api/v2.yaml"));
    let args = ["contracts", "diff", "--kind", "openapi"];
    let same = [&args[..], &["api/v1.yaml", "api/v1.yaml"]].concat();
    assert_eq!(check("contracts_diff_identical", dir.path(), &same).status.code(), Some(0));
    let breaking = [&args[..], &["api/v1.yaml", "api/v2.yaml"]].concat();
    assert_eq!(check("contracts_diff_breaking", dir.path(), &breaking).status.code(), Some(1));
    // Relative paths are the caller's: run from the spec directory itself.
    let from_api =
        run(tollgate(&dir.path().join("api")).args([&args[..], &["v1.yaml", "v2.yaml"]].concat()));
    assert_eq!(from_api.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&from_api.stdout).contains(" v1.yaml#/paths/~1users"));
    std::fs::write(dir.path().join("api/bad.yaml"), "openapi: 3.1.0\npaths: [\n").unwrap();
    let malformed = [&args[..], &["api/v1.yaml", "api/bad.yaml"]].concat();
    assert_eq!(check("contracts_diff_malformed", dir.path(), &malformed).status.code(), Some(2));
    assert_eq!(
        check("contracts_check_no_specs", dir.path(), &["contracts", "check"]).status.code(),
        Some(0)
    );
}

#[test]
fn keys_sign_and_verify_with_the_right_and_a_wrong_key() {
    let dir = tempfile::tempdir().unwrap();
    let generate =
        |d: &str| run(tollgate(dir.path()).args(["keys", "generate", "--output-dir", d]));
    assert!(generate("keys").status.success());
    assert!(generate("other").status.success());
    assert_eq!(
        check(
            "keys_generate_refuses_overwrite",
            dir.path(),
            &["keys", "generate", "--output-dir", "keys"]
        )
        .status
        .code(),
        Some(2)
    );
    std::fs::write(dir.path().join("notes.md"), "release notes\n").unwrap();
    let sign =
        ["sign", "--key", "keys/tollgate.key", "--output", "notes.sigstore.json", "notes.md"];
    assert_eq!(check("sign", dir.path(), &sign).status.code(), Some(0));
    let verify = |key: &str| {
        ["verify", "--key", key, "--bundle", "notes.sigstore.json", "notes.md"].map(str::to_owned)
    };
    let ok = verify("keys/tollgate.pub");
    let ok: Vec<&str> = ok.iter().map(String::as_str).collect();
    assert_eq!(check("verify", dir.path(), &ok).status.code(), Some(0));
    let wrong = verify("other/tollgate.pub");
    let wrong: Vec<&str> = wrong.iter().map(String::as_str).collect();
    assert_eq!(check("verify_wrong_key", dir.path(), &wrong).status.code(), Some(1));
    let missing = verify("nope.pub");
    let missing: Vec<&str> = missing.iter().map(String::as_str).collect();
    assert_eq!(check("verify_missing_key", dir.path(), &missing).status.code(), Some(2));
}

/// Provenance over a directory of three files, verified against two of them: without
/// `--subset` the missing subject fails the check; with it, the unchecked subject is listed.
#[test]
fn verify_a_partial_set_with_and_without_subset() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        run(tollgate(dir.path()).args(["keys", "generate", "--output-dir", "keys"]))
            .status
            .success()
    );
    std::fs::create_dir(dir.path().join("dist")).unwrap();
    for name in ["app", "app.cdx.json", "app.spdx.json"] {
        std::fs::write(dir.path().join("dist").join(name), name).unwrap();
    }
    let attest = ["attest", "provenance", "--key", "keys/tollgate.key", "-o", "p.json", "dist"];
    assert!(run(tollgate(dir.path()).args(attest)).status.success());
    let verify = ["verify", "--key", "keys/tollgate.pub", "--bundle", "p.json"];
    let partial = [&verify[..], &["dist/app", "dist/app.cdx.json"]].concat();
    assert_eq!(check("verify_partial_set", dir.path(), &partial).status.code(), Some(1));
    let subset = [&verify[..], &["--subset", "dist/app", "dist/app.cdx.json"]].concat();
    assert_eq!(check("verify_subset", dir.path(), &subset).status.code(), Some(0));
}

#[test]
fn release_stage_lists_that_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("release_stage_without_its_input", &["release", "--stages", "attest"][..]),
        ("release_unknown_stage", &["release", "--stages", "sbom,lint"][..]),
    ];
    for (name, args) in cases {
        assert_eq!(check(name, dir.path(), args).status.code(), Some(2), "{name}");
    }
    std::fs::write(dir.path().join("tollgate.toml"), "[release]\nstages = [\"attest\"]\n").unwrap();
    assert_eq!(
        check("release_configured_stage_without_its_input", dir.path(), &["release"]).status.code(),
        Some(2)
    );
    // Nothing was written for a run that could not start.
    assert!(!dir.path().join("target/tollgate").exists());
}

#[test]
fn evidence_verify_of_a_missing_bundle_and_db_status_of_an_unreachable_database() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        run(tollgate(dir.path()).args(["keys", "generate", "--output-dir", "k"])).status.success()
    );
    assert_eq!(
        check(
            "evidence_verify_missing_bundle",
            dir.path(),
            &["evidence", "verify", "--key", "k/tollgate.pub", "nope.tar.gz"]
        )
        .status
        .code(),
        Some(2)
    );
    std::fs::create_dir(dir.path().join("migrations")).unwrap();
    assert_eq!(
        check(
            "db_status_unreachable",
            dir.path(),
            &[
                "db",
                "status",
                "--database-url",
                "postgres://tollgate@127.0.0.1:1/none?connect_timeout=2",
                "--dir",
                "migrations"
            ]
        )
        .status
        .code(),
        Some(2)
    );
}

#[test]
fn operator_manifests_are_written() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        check(
            "operator_manifests",
            dir.path(),
            &["operator", "manifests", "--output-dir", "deploy"]
        )
        .status
        .code(),
        Some(0)
    );
}

/// `--stages` narrows the run: only the SBOM and its provenance, no bundle; `release.json`
/// lists exactly the stages that ran.
#[test]
fn release_of_narrowed_stages_runs_only_those() {
    let dir = tempfile::tempdir().unwrap();
    let go = fixture("tollgate-sbom", "go-basic");
    copy(&go.join("go.mod"), &dir.path().join("go.mod"));
    copy(&go.join("go.sum"), &dir.path().join("go.sum"));
    let out = run(tollgate(dir.path()).args(["release", "--stages", "attest,sbom"]));
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let runs = dir.path().join("target/tollgate");
    let run_dir = std::fs::read_dir(&runs).unwrap().next().unwrap().unwrap().path();
    let mut files: Vec<String> = Vec::new();
    crate::support::list_files(&run_dir, "", &mut files);
    files.sort();
    assert_eq!(
        files,
        [
            "attest.json",
            "attest/ephemeral.pub",
            "attest/provenance.sigstore.json",
            "release.json",
            "sbom.json",
            "sbom/cyclonedx.json",
            "sbom/spdx.json",
        ]
    );
    assert_eq!(std::fs::read_dir(&runs).unwrap().count(), 1, "no bundle beside the run");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("release.json")).unwrap()).unwrap();
    let gates: Vec<&str> =
        summary["stages"].as_array().unwrap().iter().map(|s| s["gate"].as_str().unwrap()).collect();
    assert_eq!(gates, ["sbom", "attest"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(": GO\n") && !stdout.contains("evidence:"), "{stdout}");
}

/// `config show` reads `tollgate.toml` through the same load and validation as every other
/// command: each kind of rejected file makes `config show`, `release` and `contracts check`
/// exit 2 with the same `file:line:column` message.
#[test]
fn config_show_rejects_what_every_command_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("unknown key", "[sbom]\nexlude = []\n", "2:1"),
        ("bad value type", "[release]\nstages = \"sbom\"\n", "2:10"),
        ("unknown stage", "[release]\nstages = [\"sbom\", \"lint\"]\n", "2:19"),
        ("stage without its input", "[release]\nstages = [\"attest\"]\n", "2:1"),
        ("empty stage list", "[release]\nstages = []\n", "2:1"),
        ("unknown levels rule", "[contracts]\nlevels = { \"openapi/nope\" = \"info\" }\n", "2:12"),
        (
            "unknown exception rule",
            "[[contracts.exceptions]]\nrule = \"lint/x\"\nowner = \"o\"\nreason = \"r\"\n\
             expires = \"2030-01-01\"\n",
            "2:1",
        ),
        ("unknown catalog", "[evidence]\ncatalogs = [\"pci\"]\n", "2:13"),
        ("bad exclude glob", "[sbom]\nexclude = [\"[\"]\n", "2:12"),
    ];
    for (what, text, at) in cases {
        std::fs::write(dir.path().join("tollgate.toml"), text).unwrap();
        let show = run(tollgate(dir.path()).args(["config", "show"]));
        let stderr = String::from_utf8_lossy(&show.stderr).into_owned();
        assert_eq!(show.status.code(), Some(2), "{what}: {}", shown(&show));
        assert!(show.stdout.is_empty(), "{what}: {}", shown(&show));
        assert!(stderr.starts_with(&format!("error: ./tollgate.toml:{at}: ")), "{what}: {stderr}");
        for args in [&["release"][..], &["contracts", "check"][..]] {
            let other = run(tollgate(dir.path()).args(args));
            assert_eq!(other.status.code(), Some(2), "{what}: {args:?}: {}", shown(&other));
            assert_eq!(String::from_utf8_lossy(&other.stderr), stderr, "{what}: {args:?}");
        }
    }
    assert!(!dir.path().join("target/tollgate").exists(), "no run started");
}

/// An unknown rule id in `[contracts] levels` names the file, line:column and the id, with the
/// closest known id, or the gate's ids when none is close.
#[test]
fn an_unknown_rule_id_in_levels_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let write = |text: &str| std::fs::write(dir.path().join("tollgate.toml"), text).unwrap();
    write(
        "[contracts]\nfail_on = \"error\"\n\n[contracts.levels]\n\"openapi/paths-path-remved\" = \"info\"\n",
    );
    assert_eq!(
        check("config_unknown_level_rule", dir.path(), &["config", "show"]).status.code(),
        Some(2)
    );
    write("[contracts]\nlevels = { \"openapi/paths-path-removed\" = \"info\" }\n");
    let known = run(tollgate(dir.path()).args(["config", "show"]));
    assert_eq!(known.status.code(), Some(0), "{}", shown(&known));
    assert!(
        String::from_utf8_lossy(&known.stdout)
            .contains("\"openapi/paths-path-removed\" = \"info\"")
    );
    write("[contracts.levels]\n\"sbom/added\" = \"info\"\n");
    let other_gate = run(tollgate(dir.path()).args(["release"]));
    let stderr = String::from_utf8_lossy(&other_gate.stderr);
    assert_eq!(other_gate.status.code(), Some(2), "{}", shown(&other_gate));
    assert!(
        stderr.starts_with(
            "error: ./tollgate.toml:2:1: unknown rule id \"sbom/added\" for the contracts gate; "
        ) && stderr.contains("rule ids start with contracts/, graphql/, jsonschema/, openapi/"),
        "{stderr}"
    );
}

/// Error lines show each OS error once: paths that are directories, files where a directory
/// is needed, an unreadable `tollgate.toml`, and (when not running as root) unreadable files.
#[test]
fn os_errors_are_shown_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    assert!(run(tollgate(root).args(["keys", "generate", "--output-dir", "k"])).status.success());
    std::fs::write(root.join("afile"), "text\n").unwrap();
    std::fs::create_dir(root.join("adir")).unwrap();
    std::fs::create_dir_all(root.join("cfg/tollgate.toml")).unwrap();
    let mut cases: Vec<Vec<&str>> = vec![
        vec!["config", "show", "--root", "cfg"],
        vec!["release", "--root", "cfg"],
        vec!["sbom", "diff", "adir", "afile"],
        vec!["sign", "--key", "k/tollgate.key", "--output", "adir", "afile"],
        vec!["sign", "--key", "adir", "--output", "s.json", "afile"],
        vec!["verify", "--key", "k/tollgate.pub", "--bundle", "adir", "afile"],
        vec!["keys", "generate", "--output-dir", "afile/sub"],
        vec!["contracts", "diff", "--kind", "openapi", "adir", "afile"],
        vec!["evidence", "build", "adir", "--key", "k/tollgate.key", "--output", "afile/x.tar.gz"],
        vec!["operator", "manifests", "--output-dir", "afile"],
    ];
    // Permissions only bind a user other than root.
    let locked = root.join("locked.json");
    std::fs::write(&locked, "{}").unwrap();
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    if std::fs::read(&locked).is_err() {
        cases.push(vec!["sbom", "diff", "locked.json", "afile"]);
        cases.push(vec!["verify", "--key", "k/tollgate.pub", "--bundle", "locked.json", "afile"]);
    }
    for args in &cases {
        let output = run(tollgate(root).args(args));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", shown(&output));
        assert!(stderr.contains("(os error "), "{args:?}: an OS error is shown: {stderr}");
        for line in stderr.lines() {
            assert!(line.matches("(os error ").count() <= 1, "{args:?}: {line}");
        }
    }
    assert_eq!(
        check("config_unreadable", root, &["config", "show", "--root", "cfg"]).status.code(),
        Some(2)
    );
    assert_eq!(
        check(
            "sign_output_is_a_directory",
            root,
            &["sign", "--key", "k/tollgate.key", "--output", "adir", "afile"]
        )
        .status
        .code(),
        Some(2)
    );
}
