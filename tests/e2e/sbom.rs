//! `tollgate sbom`: conformance, agreement with `cargo metadata`, determinism, bad input,
//! diff and the committed baseline.

use crate::support::{copy_tree, fixture, python, repo_root, run, text, tollgate};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use tollgate_sbom::catalog::{self, CatalogOptions};

/// Every fixture tree the cataloguers ship, plus this repository.
fn trees() -> Vec<PathBuf> {
    let dir = repo_root().join("crates/tollgate-sbom/tests/fixtures");
    let mut trees: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    trees.sort();
    trees.push(repo_root());
    trees
}

fn generate(tree: &Path, out: &Path, args: &[&str]) {
    let output = run(tollgate(tree).arg("sbom").arg(".").args(args).arg("--output").arg(out));
    assert!(output.status.success(), "{}: {}", tree.display(), text(&output));
}

/// Runs the independent validators on `files` and returns their output.
fn validator(args: &[&str], files: &[PathBuf]) -> std::process::Output {
    run(Command::new(python())
        .arg(repo_root().join("tests/validators/validate_sbom.py"))
        .args(args)
        .args(files))
}

/// Every file passes every validator (SPDX has two: spdx-tools and the official JSON schema).
fn validate(args: &[&str], files: &[PathBuf]) {
    let output = validator(args, files);
    assert!(output.status.success(), "validator rejected output:\n{}", text(&output));
    let checks = if args[0] == "spdx" { 2 } else { 1 };
    let ok_lines =
        String::from_utf8_lossy(&output.stdout).lines().filter(|l| l.starts_with("ok ")).count();
    assert_eq!(ok_lines, files.len() * checks, "{}", text(&output));
}

/// The validators are live: documents broken in ways the standards forbid are rejected.
#[test]
fn independent_validators_reject_broken_documents() {
    let dir = tempfile::tempdir().unwrap();
    let tree = fixture("tollgate-sbom", "cargo-workspace");
    let (cdx, spdx) = (dir.path().join("cdx.json"), dir.path().join("spdx.json"));
    generate(&tree, &cdx, &[]);
    generate(&tree, &spdx, &["--format", "spdx-json"]);
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&cdx).unwrap()).unwrap();
    doc["components"][0]["hashes"] =
        serde_json::json!([{ "alg": "SHA-256", "content": "not-hex" }]);
    std::fs::write(&cdx, doc.to_string()).unwrap();
    let output = validator(&["cyclonedx", "1.6"], &[cdx]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&spdx).unwrap()).unwrap();
    doc["packages"][0].as_object_mut().unwrap().remove("SPDXID");
    std::fs::write(&spdx, doc.to_string()).unwrap();
    let output = validator(&["spdx"], &[spdx]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("SPDXID"), "{}", text(&output));
}

/// CycloneDX 1.5, 1.6 and 1.7 against the official schemas (strict) via cyclonedx-python-lib,
/// and SPDX 2.3 via spdx-tools' parser and validator, for every fixture tree and this repo.
#[test]
fn every_output_passes_independent_validators() {
    let out = tempfile::tempdir().unwrap();
    let trees = trees();
    assert!(trees.len() >= 2, "no fixture trees found");
    for version in ["1.5", "1.6", "1.7"] {
        let mut files = Vec::new();
        for (i, tree) in trees.iter().enumerate() {
            let file = out.path().join(format!("{i}-cdx-{version}.json"));
            generate(tree, &file, &["--spec-version", version]);
            files.push(file);
        }
        validate(&["cyclonedx", version], &files);
    }
    let mut files = Vec::new();
    for (i, tree) in trees.iter().enumerate() {
        let file = out.path().join(format!("{i}-spdx.json"));
        generate(tree, &file, &["--format", "spdx-json"]);
        files.push(file);
    }
    validate(&["spdx"], &files);
}

/// The Cargo components and dependency edges of this workspace are exactly what
/// `cargo metadata --all-features` resolves (Cargo.lock is resolved for all features).
#[test]
fn cargo_graph_equals_cargo_metadata() {
    let root = repo_root();
    let inventory =
        catalog::catalog_paths(&root, &[root.join("Cargo.lock")], &CatalogOptions::default())
            .unwrap();
    let ours: BTreeSet<(String, String)> =
        inventory.components.values().map(|c| (c.name.clone(), c.version.clone())).collect();
    let name_of = |bom_ref: &str| {
        let c = inventory.get(bom_ref).unwrap();
        (c.name.clone(), c.version.clone())
    };
    let our_edges: BTreeSet<((String, String), (String, String))> = inventory
        .dependencies
        .iter()
        .flat_map(|(from, tos)| tos.iter().map(move |to| (from.clone(), to.clone())))
        .map(|(from, to)| (name_of(&from), name_of(&to)))
        .collect();

    let output = run(Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()))
        .current_dir(&root)
        .args(["metadata", "--format-version", "1", "--all-features", "--locked"]));
    assert!(output.status.success(), "{}", text(&output));
    let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut by_id = std::collections::BTreeMap::new();
    for p in metadata["packages"].as_array().unwrap() {
        let key =
            (p["name"].as_str().unwrap().to_owned(), p["version"].as_str().unwrap().to_owned());
        by_id.insert(p["id"].as_str().unwrap().to_owned(), key);
    }
    let theirs: BTreeSet<(String, String)> = by_id.values().cloned().collect();
    let mut their_edges = BTreeSet::new();
    for node in metadata["resolve"]["nodes"].as_array().unwrap() {
        let from = by_id[node["id"].as_str().unwrap()].clone();
        for dep in node["deps"].as_array().unwrap() {
            their_edges.insert((from.clone(), by_id[dep["pkg"].as_str().unwrap()].clone()));
        }
    }
    assert_eq!(ours, theirs, "components differ from cargo metadata");
    assert_eq!(our_edges, their_edges, "dependency edges differ from cargo metadata");
    assert!(ours.len() > 50, "suspiciously few packages: {}", ours.len());
}

/// Same inputs and SOURCE_DATE_EPOCH: byte-identical. Another time: only the timestamp moves.
#[test]
fn output_is_deterministic() {
    let tree = fixture("tollgate-sbom", "cargo-workspace");
    let out = tempfile::tempdir().unwrap();
    for format in ["cyclonedx-json", "spdx-json"] {
        let a = out.path().join(format!("a-{format}.json"));
        let b = out.path().join(format!("b-{format}.json"));
        generate(&tree, &a, &["--format", format]);
        generate(&tree, &b, &["--format", format]);
        assert_eq!(
            std::fs::read(&a).unwrap(),
            std::fs::read(&b).unwrap(),
            "{format} differs between runs"
        );
        let c = out.path().join(format!("c-{format}.json"));
        let output = run(tollgate(&tree)
            .env("SOURCE_DATE_EPOCH", "1800000000")
            .args(["sbom", ".", "--format", format, "--output"])
            .arg(&c));
        assert!(output.status.success(), "{}", text(&output));
        let (a, c) = (std::fs::read_to_string(&a).unwrap(), std::fs::read_to_string(&c).unwrap());
        let changed: Vec<(&str, &str)> = a.lines().zip(c.lines()).filter(|(x, y)| x != y).collect();
        assert_eq!(
            changed.len(),
            1,
            "{format}: expected only the timestamp to change: {changed:?}"
        );
        assert!(changed[0].0.contains("2023-11-14T22:13:20Z"), "{changed:?}");
    }
}

fn fixture_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture("tollgate-sbom", "cargo-workspace"), dir.path());
    dir
}

/// With `--strict`, a lockfile of the tree that cannot be catalogued fails the scan as an input
/// error naming the file, and nothing is written. (Without it, see
/// `a_tree_with_bad_lockfiles_still_gets_an_sbom_and_a_finding_for_each`.)
fn assert_input_error(dir: &Path, expected: &str) {
    let out = dir.join("out.json");
    let output = run(tollgate(dir).args(["sbom", ".", "--strict", "--output"]).arg(&out));
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(expected), "expected {expected:?} in\n{}", text(&output));
    assert!(!out.exists(), "an output file was written despite the error");
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tollgate-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

#[test]
fn truncated_lockfile_is_an_input_error_naming_file_and_line() {
    let dir = fixture_copy();
    let lock = dir.path().join("Cargo.lock");
    let text = std::fs::read_to_string(&lock).unwrap();
    std::fs::write(&lock, &text[..text.len() / 2]).unwrap();
    assert_input_error(dir.path(), "Cargo.lock:");
}

#[test]
fn unknown_lockfile_version_is_an_input_error() {
    let dir = fixture_copy();
    let lock = dir.path().join("Cargo.lock");
    let text = std::fs::read_to_string(&lock).unwrap().replace("version = 4", "version = 7");
    std::fs::write(&lock, text).unwrap();
    assert_input_error(dir.path(), "unsupported Cargo.lock version 7");
}

#[test]
fn lockfile_disagreeing_with_manifest_is_an_input_error() {
    let dir = fixture_copy();
    let manifest = dir.path().join("app/Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("ryu = \"1\"", "ryu = \"1\"\nanyhow = \"1\"");
    std::fs::write(&manifest, text).unwrap();
    assert_input_error(dir.path(), "declares dependency `anyhow`");
}

#[test]
fn missing_path_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(tollgate(dir.path()).args(["sbom", "nowhere"]));
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let output = run(tollgate(dir.path()).args(["sbom", "."]));
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no supported lockfile found"));
}

/// Builds OLD from the fixture and NEW by editing a copy: one upgrade, one licence change,
/// one removal, one addition.
fn old_and_new(dir: &Path) -> (PathBuf, PathBuf) {
    let old = dir.join("old.json");
    generate(&fixture("tollgate-sbom", "cargo-workspace"), &old, &[]);
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&old).unwrap()).unwrap();
    let components = doc["components"].as_array_mut().unwrap();
    for c in components.iter_mut() {
        match c["name"].as_str().unwrap() {
            "ryu" => {
                c["version"] = "1.0.24".into();
                c["purl"] = "pkg:cargo/ryu@1.0.24".into();
            }
            "itoa" => c["licenses"] = serde_json::json!([{ "expression": "GPL-3.0-only" }]),
            _ => {}
        }
    }
    components.retain(|c| c["name"] != "static_assertions");
    components.push(serde_json::json!({ "type": "library", "name": "zerocopy", "version": "0.8.0", "purl": "pkg:cargo/zerocopy@0.8.0", "bom-ref": "pkg:cargo/zerocopy@0.8.0" }));
    let new = dir.join("new.json");
    std::fs::write(&new, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    (old, new)
}

#[test]
fn diff_reports_each_change_and_config_decides_failure() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = old_and_new(dir.path());
    let output = run(tollgate(dir.path()).args(["sbom", "diff"]).arg(&old).arg(&new));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "cargo/ryu upgraded from 1.0.23 to 1.0.24",
        "cargo/itoa 1.0.19: licence changed from MIT OR Apache-2.0 to GPL-3.0-only",
        "cargo/static_assertions 1.1.0 removed",
        "cargo/zerocopy 0.8.0 added",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?}:\n{}", text(&output));
    }

    std::fs::write(dir.path().join("tollgate.toml"), "[sbom.diff]\nadded = \"error\"\n").unwrap();
    let sarif = dir.path().join("diff.sarif");
    let output = run(tollgate(dir.path())
        .args(["sbom", "diff", "--report-format", "sarif", "--report"])
        .arg(&sarif)
        .arg(&old)
        .arg(&new));
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let sarif: Value = serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    let added = results.iter().find(|r| r["ruleId"] == "sbom-diff/component-added").unwrap();
    assert_eq!(added["level"], "error");
    // The SARIF is valid against the official SARIF 2.1.0 schema.
    let schema = repo_root().join("crates/tollgate-core/tests/schemas/sarif-2.1.0-rtm.5.json");
    let output = validator(&["schema", schema.to_str().unwrap()], &[dir.path().join("diff.sarif")]);
    assert!(output.status.success(), "{}", text(&output));
}

#[test]
fn diff_of_spdx_and_cyclonedx_from_the_same_tree_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let tree = fixture("tollgate-sbom", "cargo-workspace");
    let (cdx, spdx) = (dir.path().join("a.cdx.json"), dir.path().join("a.spdx.json"));
    generate(&tree, &cdx, &[]);
    generate(&tree, &spdx, &["--format", "spdx-json"]);
    let output = run(tollgate(dir.path())
        .args(["sbom", "diff", "--report-format", "json"])
        .arg(&cdx)
        .arg(&spdx));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["reports"][0]["findings"].as_array().unwrap().len(), 0, "{}", text(&output));
}

#[test]
fn diff_of_malformed_sbom_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let (old, _) = old_and_new(dir.path());
    let broken = dir.path().join("broken.json");
    let text_ = std::fs::read_to_string(&old).unwrap();
    std::fs::write(&broken, &text_[..text_.len() / 3]).unwrap();
    let output = run(tollgate(dir.path()).args(["sbom", "diff"]).arg(&old).arg(&broken));
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("broken.json:"), "{}", text(&output));
}

/// The committed `sbom/` baseline of this repository is what `tollgate sbom baseline` would
/// write now. When this fails, run `cargo xtask sbom baseline` and commit `sbom/`.
#[test]
fn committed_baseline_is_current() {
    let output = run(tollgate(&repo_root()).args(["sbom", "baseline", "--check"]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
}

#[test]
fn stale_baseline_fails_with_the_refresh_command() {
    let dir = fixture_copy();
    let output = run(tollgate(dir.path()).args(["sbom", "baseline"]));
    assert!(output.status.success(), "{}", text(&output));
    let output = run(tollgate(dir.path()).args(["sbom", "baseline", "--check"]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    // A dependency bump the baseline does not know about.
    let lock = dir.path().join("Cargo.lock");
    let text_ = std::fs::read_to_string(&lock).unwrap().replace("1.0.23", "1.0.22");
    std::fs::write(&lock, text_).unwrap();
    let output = run(tollgate(dir.path()).args(["sbom", "baseline", "--check"]));
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("sbom/cyclonedx.json is stale"), "{stderr}");
    assert!(stderr.contains("cargo/ryu downgraded from 1.0.23 to 1.0.22"), "{stderr}");
    assert!(stderr.contains("cargo xtask sbom baseline"), "{stderr}");
}

/// Explicit lockfiles from different trees are catalogued together, named from the working
/// directory.
#[test]
fn explicit_lockfiles_are_merged() {
    let root = repo_root();
    let output = run(tollgate(&root).args([
        "sbom",
        "crates/tollgate-sbom/tests/fixtures/cargo-workspace/Cargo.lock",
        "crates/tollgate-sbom/tests/fixtures/npm-lock-v3/package-lock.json",
    ]));
    assert!(output.status.success(), "{}", text(&output));
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    let purls: Vec<&str> =
        doc["components"].as_array().unwrap().iter().filter_map(|c| c["purl"].as_str()).collect();
    assert!(purls.iter().any(|p| p.starts_with("pkg:cargo/ryu@")), "{purls:?}");
    assert!(purls.iter().any(|p| p.starts_with("pkg:npm/")), "{purls:?}");
    let found_in: BTreeSet<&str> = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["properties"].as_array().into_iter().flatten())
        .filter(|p| p["name"] == "tollgate:found-in")
        .filter_map(|p| p["value"].as_str())
        .collect();
    assert_eq!(
        found_in,
        BTreeSet::from([
            "crates/tollgate-sbom/tests/fixtures/cargo-workspace/Cargo.lock",
            "crates/tollgate-sbom/tests/fixtures/npm-lock-v3/package-lock.json",
        ])
    );
}

#[test]
fn empty_cargo_lockfile_beside_manifests_with_dependencies_is_an_input_error() {
    for lock in ["", "version = 4\n"] {
        let dir = fixture_copy();
        std::fs::write(dir.path().join("Cargo.lock"), lock).unwrap();
        assert_input_error(dir.path(), "app/Cargo.toml:10: lockfile disagrees with");
    }
}

/// 200 KB of flow nesting in a pnpm lockfile: rejected at once (it took minutes before), at
/// the line and column where nesting passes the limit; a duplicate key likewise.
#[test]
fn deep_or_duplicate_yaml_in_a_lockfile_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture("tollgate-sbom", "npm-pnpm-v9"), dir.path());
    let lock = dir.path().join("pnpm-lock.yaml");
    let original = std::fs::read_to_string(&lock).unwrap();
    let last_line = original.lines().count() + 1;
    let deep = format!("{original}zz-deep: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    std::fs::write(&lock, deep).unwrap();
    assert_input_error(dir.path(), &format!("pnpm-lock.yaml:{last_line}:"));
    assert_input_error(dir.path(), "recursion limit exceeded");

    let duplicate = original.replacen(
        "  ms@2.0.0:\n",
        "  ms@2.0.0:\n    resolution: {integrity: sha512-AAAA}\n\n  ms@2.0.0:\n",
        1,
    );
    std::fs::write(&lock, duplicate).unwrap();
    assert_input_error(dir.path(), "duplicate mapping key `ms@2.0.0`");
}

/// `sbom diff` reads only versions it can read faithfully and documents whose identifiers are
/// unique: anything else is an input error naming the file and the JSON pointer.
#[test]
fn diff_of_unknown_version_or_duplicate_identifiers_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = old_and_new(dir.path());
    let spdx = dir.path().join("spdx.json");
    generate(&fixture("tollgate-sbom", "cargo-workspace"), &spdx, &["--format", "spdx-json"]);
    let edit = |from: &Path, name: &str, change: &dyn Fn(&mut Value)| -> PathBuf {
        let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(from).unwrap()).unwrap();
        change(&mut doc);
        let to = dir.path().join(name);
        std::fs::write(&to, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        to
    };
    let cases = [
        (
            edit(&new, "future.json", &|d| d["specVersion"] = "1.9".into()),
            "future.json: /specVersion: unsupported CycloneDX JSON version \"1.9\"",
        ),
        (
            edit(&new, "dup-ref.json", &|d| {
                let first = d["components"][0]["bom-ref"].clone();
                d["components"][1]["bom-ref"] = first;
            }),
            "dup-ref.json: /components/1/bom-ref: duplicate bom-ref",
        ),
        (
            edit(&spdx, "spdx-2.9.json", &|d| d["spdxVersion"] = "SPDX-2.9".into()),
            "spdx-2.9.json: /spdxVersion: unsupported SPDX JSON version \"SPDX-2.9\"",
        ),
        (
            edit(&spdx, "dup-id.json", &|d| {
                let first = d["packages"][0]["SPDXID"].clone();
                d["packages"][1]["SPDXID"] = first;
            }),
            "dup-id.json: /packages/1/SPDXID: duplicate SPDXID",
        ),
    ];
    for (bad, expected) in cases {
        let output = run(tollgate(dir.path()).args(["sbom", "diff"]).arg(&old).arg(&bad));
        assert_eq!(output.status.code(), Some(2), "{}", text(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "expected {expected:?} in\n{}", text(&output));
    }
}

/// A repository as real ones are: two good lockfiles, one truncated, one of an unsupported
/// version, one of a format Tollgate does not read, one out of date with its manifest, and two
/// in places that do not ship (a fuzz harness, test fixtures).
fn mixed_tree(root: &Path) {
    let write = |path: &str, text: &str| {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    copy_tree(&fixture("tollgate-sbom", "go-basic"), &root.join("go"));
    copy_tree(&fixture("tollgate-sbom", "npm-lock-v3"), &root.join("services/api"));
    copy_tree(&fixture("tollgate-sbom", "npm-lock-v2"), &root.join("broken"));
    let lock = root.join("broken/package-lock.json");
    let text = std::fs::read_to_string(&lock).unwrap();
    std::fs::write(&lock, &text[..text.len() / 2]).unwrap();
    write(
        "next/package-lock.json",
        "{\n  \"name\": \"next\",\n  \"version\": \"1.0.0\",\n  \"lockfileVersion\": 9,\n  \"requires\": true,\n  \"dependencies\": {}\n}\n",
    );
    write("next/package.json", "{\"name\": \"next\", \"version\": \"1.0.0\"}\n");
    write(
        "pods/Podfile.lock",
        "PODS:\n  - Alamofire (5.9.1)\n\nDEPENDENCIES:\n  - Alamofire (~> 5.9)\n\nSPEC REPOS:\n  trunk:\n    - Alamofire\n\nSPEC CHECKSUMS:\n  Alamofire: f36a35757af4587d8e4f4bfa223ad10be2422b8c\n\nPODFILE CHECKSUM: 9ff1a3f5c5c4f2b7e8f6fb3b0a8e1c2d3e4f5a6b\n\nCOCOAPODS: 1.15.2\n",
    );
    copy_tree(&fixture("tollgate-sbom", "cargo-workspace"), &root.join("drift"));
    let manifest = root.join("drift/app/Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("ryu = \"1\"", "ryu = \"1\"\nanyhow = \"1\"");
    std::fs::write(&manifest, text).unwrap();
    write("fuzz/Cargo.lock", "not a lockfile [");
    write("web/test/fixtures/broken/package-lock.json", "{");
}

fn purls(sbom: &Path) -> BTreeSet<String> {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(sbom).unwrap()).unwrap();
    let mut purls: BTreeSet<String> = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["purl"].as_str().unwrap().to_owned())
        .collect();
    if let Some(purl) = doc["metadata"]["component"]["purl"].as_str() {
        purls.insert(purl.to_owned());
    }
    purls
}

/// The proof: the SBOM holds every good lockfile, each bad one is a finding (in the
/// command's report and in the release's `sbom.json`), the documents say what was left out,
/// and the exit code follows the configured level: 0 with warnings by default, 2 with
/// `--strict` or a rule set to `error`.
#[test]
fn a_tree_with_bad_lockfiles_still_gets_an_sbom_and_a_finding_for_each() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    mixed_tree(root);
    let (cdx, spdx, report) =
        (root.join("out.cdx.json"), root.join("out.spdx.json"), root.join("report.json"));
    let output = run(tollgate(root)
        .args(["sbom", ".", "--report-format", "json", "--report"])
        .arg(&report)
        .arg("--output")
        .arg(&cdx));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for rule in
        ["sbom/unreadable-lockfile", "sbom/unsupported-lockfile", "sbom/out-of-date-lockfile"]
    {
        assert!(stderr.contains(rule), "{rule} not shown:\n{}", text(&output));
    }

    // Every good lockfile is in the SBOM: the same components as naming just those two.
    let good = root.join("good.cdx.json");
    let output = run(tollgate(root)
        .args(["sbom", "go/go.mod", "services/api/package-lock.json", "--output"])
        .arg(&good));
    assert!(output.status.success(), "{}", text(&output));
    let (all, good) = (purls(&cdx), purls(&good));
    let missing: Vec<_> = good.difference(&all).collect();
    assert!(missing.is_empty(), "good components missing from the tree's SBOM: {missing:?}");
    assert!(all.iter().all(|p| !p.contains("Alamofire") && !p.contains("alamofire")), "{all:?}");
    // The out-of-date Cargo.lock is catalogued as locked.
    assert!(all.contains("pkg:cargo/ryu@1.0.23"), "{all:?}");

    // Each bad lockfile is one finding, a warning, in the report.
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let mut findings: Vec<(String, String, String)> = doc["reports"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["subject"].as_str().unwrap().to_owned(),
                f["rule"].as_str().unwrap().to_owned(),
                f["severity"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    findings.sort();
    let expected = [
        ("broken/package-lock.json", "sbom/unreadable-lockfile"),
        ("drift/Cargo.lock", "sbom/out-of-date-lockfile"),
        ("next/package-lock.json", "sbom/unsupported-lockfile"),
        ("pods/Podfile.lock", "sbom/unsupported-lockfile"),
    ];
    let expected: Vec<(String, String, String)> =
        expected.iter().map(|(s, r)| (s.to_string(), r.to_string(), "warning".into())).collect();
    assert_eq!(findings, expected);
    assert_eq!(doc["reports"][0]["verdict"], "pass");

    // The SBOM says it is partial and why; so does SPDX; both are valid and reproducible.
    let sbom: Value = serde_json::from_str(&std::fs::read_to_string(&cdx).unwrap()).unwrap();
    let skipped: Vec<&str> = sbom["metadata"]["properties"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == "tollgate:skipped-lockfile")
        .map(|p| p["value"].as_str().unwrap())
        .collect();
    let skipped_paths: Vec<&str> = skipped.iter().map(|v| v.split(": ").next().unwrap()).collect();
    assert_eq!(
        skipped_paths,
        ["broken/package-lock.json", "next/package-lock.json", "pods/Podfile.lock"]
    );
    let out_of_date: Vec<&str> = sbom["metadata"]["properties"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == "tollgate:out-of-date-lockfile")
        .map(|p| p["value"].as_str().unwrap())
        .collect();
    assert_eq!(out_of_date.len(), 1, "{out_of_date:?}");
    assert!(out_of_date[0].starts_with("drift/Cargo.lock: sbom/out-of-date-lockfile: "));
    let first = std::fs::read(&cdx).unwrap();
    let again = root.join("again.cdx.json");
    generate(root, &again, &[]);
    assert_eq!(first, std::fs::read(&again).unwrap(), "same tree, different bytes");
    generate(root, &spdx, &["--format", "spdx-json"]);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&spdx).unwrap()).unwrap();
    let comment = doc["creationInfo"]["comment"].as_str().unwrap();
    let lines: Vec<&str> = comment.lines().collect();
    assert_eq!(lines[1], out_of_date[0]);
    assert_eq!(lines[3..], skipped[..]);
    validate(&["cyclonedx", "1.6"], std::slice::from_ref(&cdx));
    validate(&["spdx"], std::slice::from_ref(&spdx));

    // --explain: every lockfile found and what happened to it.
    let output = run(tollgate(root).args(["sbom", ".", "--explain"]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("excluded by \"**/fuzz/**\""), "{stdout}");
    assert!(stdout.contains("excluded by \"**/test*/fixtures/**\""), "{stdout}");
    assert!(
        stdout.ends_with("9 lockfiles: 3 catalogued, 1 out of date, 2 excluded, 3 skipped\n"),
        "{stdout}"
    );
    assert!(!stdout.contains("bomFormat"), "--explain without --output prints no SBOM");

    // --strict, or a rule at `error`: today's input error, nothing written.
    let strict = root.join("strict.json");
    let output = run(tollgate(root).args(["sbom", ".", "--strict", "--output"]).arg(&strict));
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("broken/package-lock.json:"));
    assert!(!strict.exists());
    std::fs::write(
        root.join("tollgate.toml"),
        "[sbom.levels]\n\"sbom/out-of-date-lockfile\" = \"error\"\n",
    )
    .unwrap();
    let output = run(tollgate(root).args(["sbom", ".", "--output"]).arg(&strict));
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("declares dependency `anyhow`"),
        "{}",
        text(&output)
    );
    assert!(!strict.exists());
    std::fs::remove_file(root.join("tollgate.toml")).unwrap();

    // The release's sbom stage carries the same findings to sbom.json and still goes.
    let output = run(tollgate(root).args(["release", "--stages", "sbom"]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let runs = root.join("target/tollgate");
    let run_dir = std::fs::read_dir(&runs).unwrap().next().unwrap().unwrap().path();
    let gate: Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("sbom.json")).unwrap()).unwrap();
    let mut rules: Vec<&str> = gate["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .filter(|r| r.ends_with("-lockfile"))
        .collect();
    rules.sort();
    assert_eq!(
        rules,
        [
            "sbom/out-of-date-lockfile",
            "sbom/unreadable-lockfile",
            "sbom/unsupported-lockfile",
            "sbom/unsupported-lockfile"
        ]
    );
}
