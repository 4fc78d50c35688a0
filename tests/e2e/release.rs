//! `tollgate release`: the main job, on fixture trees and on this repository.

use crate::support::{copy_tree, fixture, list_files, repo_root, run, text, tollgate};
use serde_json::Value;
use std::path::Path;
use tollgate_core::Severity;
use tollgate_release::Config;

fn fixture_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture("tollgate-sbom", "cargo-workspace"), dir.path());
    dir
}

/// The one run directory in `out`; its evidence bundle lies beside it.
fn only_run_dir(out: &Path) -> std::path::PathBuf {
    let runs: Vec<_> =
        std::fs::read_dir(out).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].clone()
}

/// The evidence bundle the release wrote beside `run_dir`.
fn bundle_of(run_dir: &Path) -> std::path::PathBuf {
    let name = run_dir.file_name().unwrap().to_string_lossy();
    let bundle = run_dir.with_file_name(format!("{name}.evidence.tar.gz"));
    assert!(bundle.is_file(), "no evidence bundle at {}", bundle.display());
    bundle
}

#[test]
fn release_writes_stage_reports_and_says_go() {
    let dir = fixture_copy();
    let output = run(tollgate(dir.path()).args(["release", "--out", "out"]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains(": GO"), "{}", text(&output));
    let run_dir = only_run_dir(&dir.path().join("out"));
    assert_eq!(run_dir.file_name().unwrap(), "20231114T221320Z");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("sbom.json")).unwrap()).unwrap();
    assert_eq!(report["gate"], "sbom");
    assert_eq!(report["verdict"], "pass");
    let inputs: Vec<&str> =
        report["inputs"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert!(inputs.contains(&"Cargo.lock"), "{inputs:?}");
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("release.json")).unwrap())
            .unwrap();
    assert_eq!(summary["verdict"], "go");
    let sbom: Value = serde_json::from_str(
        &std::fs::read_to_string(run_dir.join("sbom/cyclonedx.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(sbom["components"].as_array().unwrap().len(), 7);
    // Plain progress lines, not a spinner, when not on a terminal.
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("[sbom] started"),
        "{}",
        text(&output)
    );
}

#[test]
fn failing_gate_makes_the_release_no_go() {
    let dir = fixture_copy();
    let output = run(tollgate(dir.path()).args(["sbom", "baseline"]));
    assert!(output.status.success(), "{}", text(&output));
    // The baseline knows a component the tree no longer has, and removals are errors here.
    let baseline = dir.path().join("sbom/cyclonedx.json");
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&baseline).unwrap()).unwrap();
    doc["components"].as_array_mut().unwrap().push(serde_json::json!({
        "type": "library", "name": "left-pad", "version": "1.0.0", "purl": "pkg:cargo/left-pad@1.0.0"
    }));
    std::fs::write(&baseline, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    std::fs::write(dir.path().join("tollgate.toml"), "[sbom.diff]\nremoved = \"error\"\n").unwrap();
    let output = run(tollgate(dir.path()).args(["release", "--out", "out"]));
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("NO-GO"), "{}", text(&output));
    assert!(stdout.contains("left-pad"), "{}", text(&output));
}

#[test]
fn bad_configuration_is_an_input_error_naming_its_line() {
    let dir = fixture_copy();
    std::fs::write(dir.path().join("tollgate.toml"), "[sbom]\nname = \"x\"\nbaseline = \"y\"\n")
        .unwrap();
    let output = run(tollgate(dir.path()).args(["release", "--out", "out"]));
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("tollgate.toml:3:"),
        "{}",
        text(&output)
    );
    assert!(
        !dir.path().join("out").exists(),
        "a run directory was created for a bad configuration"
    );
}

#[test]
fn config_show_prints_the_effective_configuration() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tollgate.toml"), "[sbom.diff]\nadded = \"error\"\n").unwrap();
    let output = run(tollgate(dir.path()).args(["config", "show"]));
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    // Every key is shown, and what is shown reads back as the effective configuration.
    for key in [
        "[release]",
        "out_dir = \"target/tollgate\"",
        "[sbom.diff]",
        "added = \"error\"",
        "removed = \"info\"",
    ] {
        assert!(stdout.contains(key), "{key} missing from\n{stdout}");
    }
    let shown = Config::parse(Path::new("shown"), &stdout).unwrap();
    assert_eq!(shown.sbom.diff.added, Severity::Error);
    assert_eq!(shown.sbom.diff.removed, Config::default().sbom.diff.removed);
}

/// The main job on this repository, as `cargo xtask release` runs it.
#[test]
fn release_of_this_repository_is_go() {
    let out = tempfile::tempdir().unwrap();
    let output = run(tollgate(&repo_root()).args(["release", "--out"]).arg(out.path()));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let run_dir = only_run_dir(out.path());
    assert!(run_dir.join("sbom/spdx.json").exists());
    // This repository is a git checkout: the provenance records the commit it was built from.
    let bundle = read_json(&run_dir.join("attest/provenance.sigstore.json"));
    let payload = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        bundle["dsseEnvelope"]["payload"].as_str().unwrap(),
    )
    .unwrap();
    let statement: Value = serde_json::from_slice(&payload).unwrap();
    let commits: Vec<&str> = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["digest"]["gitCommit"].as_str())
        .collect();
    assert_eq!(commits.len(), 1, "{statement:#}");
    assert!(commits[0].len() == 40 && commits[0].bytes().all(|b| b.is_ascii_hexdigit()));
    let found = rules(&read_json(&run_dir.join("attest.json")));
    assert!(!found.iter().any(|(rule, _)| rule == "attest/no-source"), "{found:?}");
    // The evidence stage recorded the release's git range, ending at the same commit.
    let git = read_json(&run_dir.join("git.json"));
    assert_eq!(git["range"]["headSha"], commits[0], "{git:#}");
    assert!(!git["commits"].as_array().unwrap().is_empty());
    let found = rules(&read_json(&run_dir.join("evidence.json")));
    assert!(found.contains(&("evidence/git-range".into(), "info".into())), "{found:?}");
    assert!(bundle_of(&run_dir).is_file());
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn rules(report: &Value) -> Vec<(String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (f["rule"].as_str().unwrap().to_owned(), f["severity"].as_str().unwrap().to_owned())
        })
        .collect()
}

/// `tollgate verify` on a run directory's provenance bundle over its SBOMs.
fn verify_run(dir: &Path, run_dir: &Path, public: &Path) -> std::process::Output {
    run(tollgate(dir)
        .args(["verify", "--key"])
        .arg(public)
        .arg("--bundle")
        .arg(run_dir.join("attest/provenance.sigstore.json"))
        .arg(run_dir.join("sbom")))
}

/// With no key configured, the `attest` stage signs the SBOMs' provenance with an ephemeral key,
/// writes its public key into the run directory and says so in a warning; the bundle verifies
/// with that public key, over the SBOM files on disk.
#[test]
fn release_attests_with_a_labelled_ephemeral_key_by_default() {
    let dir = fixture_copy();
    let output = run(tollgate(dir.path()).args(["release", "--out", "out"]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("EPHEMERAL KEY"), "{}", text(&output));
    let run_dir = only_run_dir(&dir.path().join("out"));
    let summary = read_json(&run_dir.join("release.json"));
    let gates: Vec<&str> =
        summary["stages"].as_array().unwrap().iter().map(|s| s["gate"].as_str().unwrap()).collect();
    assert_eq!(gates, ["sbom", "contracts", "attest"]);
    let report = read_json(&run_dir.join("attest.json"));
    assert_eq!(report["gate"], "attest");
    assert_eq!(report["verdict"], "pass");
    let found = rules(&report);
    assert!(found.contains(&("attest/ephemeral-key".into(), "warning".into())), "{found:?}");
    assert!(found.contains(&("attest/signed".into(), "info".into())), "{found:?}");
    let inputs: Vec<&str> =
        report["inputs"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(inputs, ["sbom/cyclonedx.json", "sbom/spdx.json"]);

    let public = run_dir.join("attest/ephemeral.pub");
    assert!(std::fs::read_to_string(&public).unwrap().starts_with("-----BEGIN PUBLIC KEY-----"));
    let output = verify_run(dir.path(), &run_dir, &public);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));

    // The evidence stage packed the run directory, signed with the same ephemeral key.
    let evidence = read_json(&run_dir.join("evidence.json"));
    assert_eq!(evidence["gate"], "evidence");
    assert_eq!(evidence["verdict"], "pass");
    assert!(rules(&evidence).contains(&("evidence/bundle".into(), "info".into())));
    let bundle = bundle_of(&run_dir);
    let output = run(tollgate(dir.path())
        .arg("evidence")
        .arg("verify")
        .arg("--key")
        .arg(&public)
        .arg(&bundle));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let output = run(tollgate(dir.path()).arg("evidence").arg("show").arg(&bundle));
    let shown = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        shown.contains("release.json") && shown.contains("attest/provenance.sigstore.json"),
        "{shown}"
    );
    assert!(
        !shown.lines().any(|l| l.trim_end().ends_with(" evidence.json")),
        "the bundle cannot hold its own report: {shown}"
    );
    assert!(shown.contains("report.html") && shown.contains("oscal/assessment-results.json"));
    // The fixture copy is no git checkout: the bundle says it records no git history.
    assert!(rules(&evidence).contains(&("evidence/no-git-history".into(), "warning".into())));
    assert!(rules(&evidence).contains(&("evidence/control-coverage".into(), "info".into())));
    // The subjects are the SBOMs: change one and the provenance no longer verifies.
    std::fs::write(run_dir.join("sbom/spdx.json"), "{}").unwrap();
    let output = verify_run(dir.path(), &run_dir, &public);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("subject \"spdx.json\""));
}

/// `--key` (or `[attest] key`) signs with the team's key: no ephemeral key, and the bundle
/// verifies with the matching public key only. `[attest] ephemeral_key = "error"` makes a run
/// without a key no-go; an unreadable key is an input error.
#[test]
fn release_signs_with_the_configured_key() {
    let dir = fixture_copy();
    let output = run(tollgate(dir.path()).args(["keys", "generate", "--output-dir", "keys"]));
    assert!(output.status.success(), "{}", text(&output));
    let output = run(tollgate(dir.path()).args(["keys", "generate", "--output-dir", "other"]));
    assert!(output.status.success(), "{}", text(&output));

    let output =
        run(tollgate(dir.path()).args(["release", "--out", "out", "--key", "keys/tollgate.key"]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let run_dir = only_run_dir(&dir.path().join("out"));
    let found = rules(&read_json(&run_dir.join("attest.json")));
    // The fixture copy is not a git checkout, so no source commit is recorded (a warning).
    assert_eq!(
        found,
        [
            ("attest/no-source".to_owned(), "warning".to_owned()),
            ("attest/signed".to_owned(), "info".to_owned())
        ]
    );
    assert!(!run_dir.join("attest/ephemeral.pub").exists());
    let output = verify_run(dir.path(), &run_dir, &dir.path().join("keys/tollgate.pub"));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let output = verify_run(dir.path(), &run_dir, &dir.path().join("other/tollgate.pub"));
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    // The evidence bundle is signed with the release key too, and only with it.
    let bundle = bundle_of(&run_dir);
    for (key, code) in [("keys/tollgate.pub", 0), ("other/tollgate.pub", 1)] {
        let output =
            run(tollgate(dir.path()).args(["evidence", "verify", "--key", key]).arg(&bundle));
        assert_eq!(output.status.code(), Some(code), "{key}: {}", text(&output));
    }

    // The same key from tollgate.toml.
    std::fs::write(dir.path().join("tollgate.toml"), "[attest]\nkey = \"keys/tollgate.key\"\n")
        .unwrap();
    let output = run(tollgate(dir.path()).args(["release", "--out", "out2"]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let run_dir = only_run_dir(&dir.path().join("out2"));
    let output = verify_run(dir.path(), &run_dir, &dir.path().join("keys/tollgate.pub"));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));

    // Teams that require a real key make the ephemeral one an error.
    std::fs::write(dir.path().join("tollgate.toml"), "[attest]\nephemeral_key = \"error\"\n")
        .unwrap();
    let output = run(tollgate(dir.path()).args(["release", "--out", "out3"]));
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("NO-GO"), "{}", text(&output));

    let output = run(tollgate(dir.path()).args(["release", "--out", "out4", "--key", "nope.key"]));
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("nope.key"), "{}", text(&output));
}

/// A stage that fails on bad input leaves no run directory, not even a partial one. (A
/// broken lockfile fails the sbom stage only at level `error`; by default it is a warning,
/// see `sbom::a_tree_with_bad_lockfiles_still_gets_an_sbom_and_a_finding_for_each`.)
#[test]
fn stage_input_error_leaves_no_run_directory() {
    let dir = fixture_copy();
    let lock = dir.path().join("Cargo.lock");
    let text_ = std::fs::read_to_string(&lock).unwrap();
    std::fs::write(&lock, &text_[..text_.len() / 2]).unwrap();
    std::fs::write(
        dir.path().join("tollgate.toml"),
        "[sbom.levels]\n\"sbom/unreadable-lockfile\" = \"error\"\n",
    )
    .unwrap();
    let output = run(tollgate(dir.path()).args(["release", "--out", "out"]));
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("Cargo.lock:"), "{}", text(&output));
    let left: Vec<_> = std::fs::read_dir(dir.path().join("out")).unwrap().collect();
    assert!(left.is_empty(), "run directory left behind: {left:?}");
}

/// Makes `dir` a git repository with one commit of everything in it, at a fixed time, so the
/// release records a source commit and a git range.
fn commit_all(dir: &Path) {
    let repo = git2::Repository::init(dir).unwrap();
    let mut index = repo.index().unwrap();
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None).unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let at = git2::Time::new(1_700_000_000, 0);
    let who = git2::Signature::new("Release Bot", "bot@example.com", &at).unwrap();
    repo.commit(Some("HEAD"), &who, &who, "initial", &tree, &[]).unwrap();
}

/// With `SOURCE_DATE_EPOCH` and the same key, two releases of the same repository into two
/// different output directories are byte-identical: the signed evidence bundle, and every file
/// of the run directory (stage reports, `release.json`, SBOMs, provenance, `git.json`). Stage
/// durations, which no two runs share, are not recorded; without `SOURCE_DATE_EPOCH` they are.
#[test]
fn release_is_reproducible_under_source_date_epoch() {
    let dir = fixture_copy();
    let output = run(tollgate(dir.path()).args(["keys", "generate", "--output-dir", "keys"]));
    assert!(output.status.success(), "{}", text(&output));
    // The outputs and the key stay out of git, so both runs see the same clean checkout.
    std::fs::write(dir.path().join(".gitignore"), "/out-*/\n/keys/\n").unwrap();
    commit_all(dir.path());
    let mut runs = Vec::new();
    for out in ["out-a", "out-b"] {
        let output =
            run(tollgate(dir.path()).args(["release", "--out", out, "--key", "keys/tollgate.key"]));
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        runs.push(only_run_dir(&dir.path().join(out)));
    }
    let (a, b) = (&runs[0], &runs[1]);
    assert_eq!(a.file_name(), b.file_name(), "the run id comes from SOURCE_DATE_EPOCH");

    let bundle = std::fs::read(bundle_of(a)).unwrap();
    assert!(bundle == std::fs::read(bundle_of(b)).unwrap(), "the evidence bundles differ");

    let mut files = Vec::new();
    list_files(a, "", &mut files);
    files.sort();
    let mut other = Vec::new();
    list_files(b, "", &mut other);
    other.sort();
    assert_eq!(files, other);
    for expected in ["release.json", "sbom.json", "attest.json", "evidence.json", "git.json"] {
        assert!(files.iter().any(|f| f == expected), "{expected} missing from {files:?}");
    }
    for file in &files {
        let (one, two) =
            (std::fs::read(a.join(file)).unwrap(), std::fs::read(b.join(file)).unwrap());
        assert!(
            one == two,
            "{file} differs:\n{}\n---\n{}",
            String::from_utf8_lossy(&one),
            String::from_utf8_lossy(&two)
        );
    }

    // No duration is recorded, and the summary says so (the HTML report shows "not recorded").
    let summary = read_json(&a.join("release.json"));
    assert_eq!(summary["durationsRecorded"], false, "{summary:#}");
    for stage in ["sbom", "contracts", "attest", "evidence"] {
        assert_eq!(read_json(&a.join(format!("{stage}.json")))["duration_ms"], 0, "{stage}");
    }
    // The provenance records the commit, and the bundle verifies.
    let found = rules(&read_json(&a.join("attest.json")));
    assert!(!found.iter().any(|(rule, _)| rule == "attest/no-source"), "{found:?}");
    let provenance = read_json(&a.join("attest/provenance.sigstore.json"));
    let payload = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        provenance["dsseEnvelope"]["payload"].as_str().unwrap(),
    )
    .unwrap();
    let statement: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(
        statement["predicate"]["buildDefinition"]["internalParameters"]["source"]["dirty"], false,
        "{statement:#}"
    );
    let output = run(tollgate(dir.path())
        .args(["evidence", "verify", "--key", "keys/tollgate.pub"])
        .arg(bundle_of(a)));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));

    // Without SOURCE_DATE_EPOCH, durations are recorded as before.
    let output = run(tollgate(dir.path()).env_remove("SOURCE_DATE_EPOCH").args([
        "release",
        "--out",
        "out-now",
        "--key",
        "keys/tollgate.key",
    ]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let summary = read_json(&only_run_dir(&dir.path().join("out-now")).join("release.json"));
    assert!(summary.get("durationsRecorded").is_none(), "{summary:#}");
}

/// Standalone gate commands honour `SOURCE_DATE_EPOCH` too: their `--report` files record no
/// wall time (`duration_ms` 0), so two runs give the same bytes.
#[test]
fn standalone_gate_reports_are_reproducible_under_source_date_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let root = repo_root();
    let sbom = root.join("sbom/cyclonedx.json");
    let schemas =
        root.join("crates/tollgate-contracts/tests/fixtures/jsonschema/enum-changed/fail");
    let commands: [(&str, Vec<std::ffi::OsString>); 2] = [
        ("sbom-diff", vec!["sbom".into(), "diff".into(), sbom.clone().into(), sbom.into()]),
        (
            "contracts-diff",
            vec![
                "contracts".into(),
                "diff".into(),
                "--kind".into(),
                "jsonschema".into(),
                schemas.join("base.json").into(),
                schemas.join("revision.json").into(),
            ],
        ),
    ];
    for (name, args) in commands {
        let reports: Vec<Vec<u8>> = ["a", "b"]
            .iter()
            .map(|run_name| {
                let report = dir.path().join(format!("{name}-{run_name}.json"));
                let output = run(tollgate(dir.path())
                    .args(&args)
                    .args(["--report-format", "json", "--report"])
                    .arg(&report));
                assert!(output.status.code().is_some_and(|c| c < 2), "{name}: {}", text(&output));
                std::fs::read(&report).unwrap()
            })
            .collect();
        assert_eq!(reports[0], reports[1], "{name}: the two reports differ");
        let document: Value = serde_json::from_slice(&reports[0]).unwrap();
        let gates = document["reports"].as_array().expect("a reports array");
        assert!(!gates.is_empty(), "{name}: {document}");
        for report in gates {
            assert_eq!(report["duration_ms"], 0, "{name}: {report}");
        }
    }
}
