//! `tollgate release`: the main job, on fixture trees and on this repository.

use crate::support::{copy_tree, fixture, repo_root, run, text, tollgate};
use serde_json::Value;
use std::path::Path;
use tollgate_core::{Config, Severity};

fn fixture_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture("tollgate-sbom", "cargo-workspace"), dir.path());
    dir
}

fn only_run_dir(out: &Path) -> std::path::PathBuf {
    let runs: Vec<_> = std::fs::read_dir(out).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].clone()
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
}
