//! Tree scans through the gate's entry point (what `tollgate sbom` and the release use): every
//! lockfile that can be catalogued is, each one that cannot is a finding at its rule's level,
//! the documents record what was left out, and `strict` / level `error` fail the scan.

use super::FIXTURES;
use serde_json::Value;
use std::path::Path;
use tollgate_core::Severity;
use tollgate_sbom::format::{self, CycloneDxVersion, SbomFormat};
use tollgate_sbom::gate::{Outcome, SbomConfig, ScanTarget};

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn copy_into(root: &Path, fixture: &str, to: &str) {
    copy_dir(&Path::new(FIXTURES).join(fixture), &root.join(to)).unwrap();
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in ignore::WalkBuilder::new(from).hidden(false).build() {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// A repository with two good lockfiles, one truncated, one of an unsupported version, one
/// of an unsupported format, one out of date with its manifest, and two in places that do not
/// ship (excluded by default).
pub fn mixed_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    copy_into(root, "go-basic", "go");
    copy_into(root, "npm-lock-v3", "services/api");
    copy_into(root, "npm-lock-v2", "broken");
    let lock = root.join("broken/package-lock.json");
    let text = std::fs::read_to_string(&lock).unwrap();
    std::fs::write(&lock, &text[..text.len() / 2]).unwrap();
    write(
        root,
        "next/package-lock.json",
        "{\n  \"name\": \"next\",\n  \"version\": \"1.0.0\",\n  \"lockfileVersion\": 9,\n  \"requires\": true,\n  \"dependencies\": {}\n}\n",
    );
    write(root, "next/package.json", "{\"name\": \"next\", \"version\": \"1.0.0\"}\n");
    write(
        root,
        "pods/Podfile.lock",
        "PODS:\n  - Alamofire (5.9.1)\n\nDEPENDENCIES:\n  - Alamofire (~> 5.9)\n\nSPEC REPOS:\n  trunk:\n    - Alamofire\n\nSPEC CHECKSUMS:\n  Alamofire: f36a35757af4587d8e4f4bfa223ad10be2422b8c\n\nPODFILE CHECKSUM: 9ff1a3f5c5c4f2b7e8f6fb3b0a8e1c2d3e4f5a6b\n\nCOCOAPODS: 1.15.2\n",
    );
    copy_into(root, "cargo-workspace", "drift");
    let manifest = root.join("drift/app/Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("ryu = \"1\"", "ryu = \"1\"\nanyhow = \"1\"");
    std::fs::write(&manifest, text).unwrap();
    write(root, "fuzz/Cargo.lock", "not a lockfile [");
    write(root, "web/test/fixtures/broken/package-lock.json", "{");
    dir
}

fn scan(
    root: &Path,
    config: &SbomConfig,
    strict: bool,
) -> Result<tollgate_sbom::gate::Scan, tollgate_sbom::SbomError> {
    ScanTarget::tree(root).scan_with(config, strict, "2026-01-01T00:00:00Z".into(), "0.0.0-test")
}

#[test]
fn a_tree_scan_keeps_every_good_lockfile_and_reports_each_bad_one() {
    let dir = mixed_tree();
    let scan = scan(dir.path(), &SbomConfig::default(), false).unwrap();

    let outcomes: Vec<(&str, String)> =
        scan.lockfiles.iter().map(|l| (l.path.as_str(), l.outcome.describe())).collect();
    let summary: Vec<(&str, &str)> = outcomes
        .iter()
        .map(|(p, o)| (*p, o.split_once(':').map_or(o.as_str(), |(head, _)| head)))
        .collect();
    assert_eq!(
        summary,
        [
            ("broken/package-lock.json", "skipped (sbom/unreadable-lockfile)"),
            ("drift/Cargo.lock", "catalogued, out of date (sbom/out-of-date-lockfile)"),
            ("fuzz/Cargo.lock", "excluded by \"**/fuzz/**\""),
            ("go/go.mod", "catalogued"),
            ("go/localmod/go.mod", "catalogued"),
            ("next/package-lock.json", "skipped (sbom/unsupported-lockfile)"),
            ("pods/Podfile.lock", "skipped (sbom/unsupported-lockfile)"),
            ("services/api/package-lock.json", "catalogued"),
            ("web/test/fixtures/broken/package-lock.json", "excluded by \"**/test*/fixtures/**\""),
        ],
        "{outcomes:#?}"
    );

    // Every good lockfile is in the inventory, nothing from the bad ones.
    let found_in: std::collections::BTreeSet<&str> = scan
        .inventory
        .components
        .values()
        .flat_map(|c| c.found_in.iter().map(String::as_str))
        .collect();
    assert!(found_in.contains("go/go.mod"), "{found_in:?}");
    assert!(found_in.contains("services/api/package-lock.json"), "{found_in:?}");
    // The out-of-date lockfile's packages are in too: it is catalogued as locked.
    assert!(found_in.contains("drift/Cargo.lock"), "{found_in:?}");
    assert!(
        found_in.iter().all(|f| ["go/", "services/", "drift/"].iter().any(|p| f.starts_with(p))),
        "{found_in:?}"
    );
    assert!(scan.inventory.components.keys().any(|k| k == "pkg:cargo/ryu@1.0.23"));

    // One finding per bad lockfile, at the default level, pointing at the file and place.
    let findings: Vec<(&str, Severity, String, Option<u32>)> = scan
        .findings
        .iter()
        .map(|f| {
            let loc = f.location.as_ref().unwrap();
            (f.rule.as_str(), f.severity, loc.file.clone(), loc.line)
        })
        .collect();
    assert_eq!(findings.len(), 4, "{findings:#?}");
    assert!(findings.iter().all(|f| f.1 == Severity::Warning));
    assert!(findings.contains(&(
        "sbom/out-of-date-lockfile",
        Severity::Warning,
        "drift/app/Cargo.toml".into(),
        Some(13)
    )));
    assert!(findings.contains(&(
        "sbom/unsupported-lockfile",
        Severity::Warning,
        "next/package-lock.json".into(),
        Some(4)
    )));
    assert!(findings.contains(&(
        "sbom/unsupported-lockfile",
        Severity::Warning,
        "pods/Podfile.lock".into(),
        None
    )));
    let unreadable = scan.findings.iter().find(|f| f.rule == "sbom/unreadable-lockfile").unwrap();
    assert_eq!(unreadable.location.as_ref().unwrap().file, "broken/package-lock.json");
    assert!(
        unreadable
            .message
            .starts_with("broken/package-lock.json is not in the SBOM: broken/package-lock.json:"),
        "{}",
        unreadable.message
    );
    assert!(
        !unreadable.message.contains(&dir.path().display().to_string()),
        "absolute path in {}",
        unreadable.message
    );
    assert!(unreadable.remediation.as_deref().unwrap().contains("[sbom] exclude"));
}

#[test]
fn the_documents_record_what_was_left_out_sorted_and_deterministically() {
    let dir = mixed_tree();
    let config = SbomConfig::default();
    let first = scan(dir.path(), &config, false).unwrap();
    let second = scan(dir.path(), &config, false).unwrap();
    for format in [SbomFormat::CycloneDxJson, SbomFormat::SpdxJson] {
        let a = format::render(&first.inventory, format, CycloneDxVersion::default(), &first.info);
        let b =
            format::render(&second.inventory, format, CycloneDxVersion::default(), &second.info);
        assert_eq!(a, b, "{format}: same tree, different bytes");
    }
    let cdx = format::render(
        &first.inventory,
        SbomFormat::CycloneDxJson,
        CycloneDxVersion::V1_6,
        &first.info,
    );
    let doc: Value = serde_json::from_str(&cdx).unwrap();
    let props = doc["metadata"]["properties"].as_array().unwrap();
    let named = |name: &str| -> Vec<&str> {
        props.iter().filter(|p| p["name"] == name).map(|p| p["value"].as_str().unwrap()).collect()
    };
    let skipped = named("tollgate:skipped-lockfile");
    let out_of_date = named("tollgate:out-of-date-lockfile");
    assert_eq!(props.len(), skipped.len() + out_of_date.len());
    let paths: Vec<&str> = skipped.iter().map(|v| v.split(": ").next().unwrap()).collect();
    assert_eq!(paths, ["broken/package-lock.json", "next/package-lock.json", "pods/Podfile.lock"]);
    assert_eq!(out_of_date.len(), 1, "{out_of_date:?}");
    assert!(out_of_date[0].starts_with("drift/Cargo.lock: sbom/out-of-date-lockfile: drift/app/Cargo.toml:13: lockfile disagrees with drift/app/Cargo.toml"), "{}", out_of_date[0]);
    assert_eq!(
        skipped[2],
        "pods/Podfile.lock: sbom/unsupported-lockfile: pods/Podfile.lock: CocoaPods Podfile.lock is a lockfile format Tollgate does not read"
    );

    let spdx =
        format::render(&first.inventory, SbomFormat::SpdxJson, CycloneDxVersion::V1_6, &first.info);
    let doc: Value = serde_json::from_str(&spdx).unwrap();
    let comment = doc["creationInfo"]["comment"].as_str().unwrap();
    let lines: Vec<&str> = comment.lines().collect();
    assert_eq!(lines[0], "tollgate: lockfiles out of date with their manifests:");
    assert_eq!(lines[1], out_of_date[0]);
    assert_eq!(lines[2], "tollgate: partial SBOM; lockfiles left out:");
    assert_eq!(&lines[3..], &skipped[..]);
}

/// Drift in every ecosystem that checks its manifests: the lockfile is catalogued as locked
/// and each declared-but-unlocked dependency is a finding at its place.
#[test]
fn out_of_date_lockfiles_are_catalogued_as_locked_in_every_ecosystem() {
    let cases: [(&str, &str, &str, &str, &str); 6] = [
        (
            "npm-lock-v3",
            "package.json",
            "\"debug\": \"2.6.9\"",
            "\"debug\": \"2.6.9\",\n    \"left-pad\": \"^1.3.0\"",
            "left-pad",
        ),
        (
            "npm-pnpm-v9",
            "package.json",
            "\"debug\": \"2.6.9\"",
            "\"debug\": \"2.6.9\",\n    \"left-pad\": \"^1.3.0\"",
            "left-pad",
        ),
        (
            "npm-yarn-classic",
            "package.json",
            "\"debug\": \"2.6.9\"",
            "\"debug\": \"2.6.9\",\n    \"left-pad\": \"^1.3.0\"",
            "left-pad",
        ),
        (
            "python-uv",
            "pyproject.toml",
            "dependencies = [",
            "dependencies = [\n    \"left-pad-py>=1\",",
            "left-pad-py",
        ),
        (
            "python-poetry",
            "pyproject.toml",
            "[tool.poetry.dependencies]",
            "[tool.poetry.dependencies]\nleft-pad-py = \"^1\"",
            "left-pad-py",
        ),
        (
            "dart-flutter-app",
            "pubspec.yaml",
            "dependencies:",
            "dependencies:\n  left_pad: ^1.0.0",
            "left_pad",
        ),
    ];
    for (fixture, manifest, anchor, replacement, missing) in cases {
        let dir = tempfile::tempdir().unwrap();
        copy_into(dir.path(), fixture, "p");
        let path = dir.path().join("p").join(manifest);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(anchor), "{fixture}: {anchor:?} not in {manifest}");
        std::fs::write(&path, text.replacen(anchor, replacement, 1)).unwrap();
        let strict = scan(dir.path(), &SbomConfig::default(), true).unwrap_err();
        assert!(
            matches!(strict, tollgate_sbom::SbomError::OutOfSync { .. }),
            "{fixture}: {strict}"
        );
        let scan = scan(dir.path(), &SbomConfig::default(), false)
            .unwrap_or_else(|e| panic!("{fixture}: {e}"));
        assert!(scan.inventory.components.len() > 2, "{fixture}: nothing catalogued");
        let drift: Vec<&str> = scan
            .findings
            .iter()
            .filter(|f| f.rule == "sbom/out-of-date-lockfile")
            .map(|f| f.message.as_str())
            .collect();
        assert_eq!(drift.len(), 1, "{fixture}: {drift:?}");
        assert!(drift[0].contains(missing), "{fixture}: {}", drift[0]);
        let location = scan.findings[0].location.as_ref().unwrap();
        assert_eq!(location.file, format!("p/{manifest}"), "{fixture}");
        assert!(location.line.is_some(), "{fixture}");
    }
}

#[test]
fn strict_or_level_error_fails_the_scan_with_the_lockfiles_own_error() {
    let dir = mixed_tree();
    let err = scan(dir.path(), &SbomConfig::default(), true).unwrap_err().to_string();
    assert!(err.contains("broken/package-lock.json:"), "{err}");

    let mut config = SbomConfig::default();
    config.levels.insert("sbom/out-of-date-lockfile".into(), Severity::Error);
    let err = scan(dir.path(), &config, false).unwrap_err().to_string();
    assert!(err.contains("drift/app/Cargo.toml:13: lockfile disagrees with"), "{err}");
    assert!(err.contains("declares dependency `anyhow`"), "{err}");

    let mut config = SbomConfig::default();
    config.levels.insert("sbom/unsupported-lockfile".into(), Severity::Info);
    let scan = scan(dir.path(), &config, false).unwrap();
    let levels: Vec<(&str, Severity)> =
        scan.findings.iter().map(|f| (f.rule.as_str(), f.severity)).collect();
    assert_eq!(levels.iter().filter(|l| l.1 == Severity::Info).count(), 2, "{levels:?}");
    assert!(levels.iter().all(|l| l.1 == Severity::Info || l.0 != "sbom/unsupported-lockfile"));
}

#[test]
fn explicitly_named_lockfiles_stay_strict() {
    let dir = mixed_tree();
    let broken = dir.path().join("broken/package-lock.json");
    let target = ScanTarget::from_paths(std::slice::from_ref(&broken)).unwrap();
    let err = target.scan(&SbomConfig::default(), "t".into(), "0").unwrap_err().to_string();
    assert!(err.contains("package-lock.json:"), "{err}");
    let gemfile = dir.path().join("pods/Podfile.lock");
    let target = ScanTarget::from_paths(std::slice::from_ref(&gemfile)).unwrap();
    let err = target.scan(&SbomConfig::default(), "t".into(), "0").unwrap_err().to_string();
    assert!(
        err.ends_with("Podfile.lock: CocoaPods Podfile.lock is not a format Tollgate reads"),
        "{err}"
    );
}

#[test]
fn a_tree_of_only_excluded_or_unsupported_lockfiles_is_still_nothing_found() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "fuzz/Cargo.lock", "");
    write(dir.path(), "Podfile.lock", "");
    let err = scan(dir.path(), &SbomConfig::default(), false).unwrap_err().to_string();
    assert!(err.contains("no supported lockfile found"), "{err}");
    // Outcome is public for the CLI's --explain.
    assert_eq!(Outcome::Excluded { pattern: "x".into() }.describe(), "excluded by \"x\"");
}

#[test]
fn package_json_with_a_byte_order_mark_reads_like_without() {
    for (fixture, lockfile) in
        [("npm-lock-v3", "package-lock.json"), ("npm-pnpm-v9", "pnpm-lock.yaml")]
    {
        let dir = tempfile::tempdir().unwrap();
        copy_into(dir.path(), fixture, "w");
        let root = dir.path().join("w");
        let plain = tollgate_sbom::catalog::catalog_paths(
            &root,
            &[root.join(lockfile)],
            &Default::default(),
        )
        .unwrap();
        for entry in ignore::WalkBuilder::new(&root).build() {
            let entry = entry.unwrap();
            if entry.file_name() == "package.json" {
                let text = std::fs::read_to_string(entry.path()).unwrap();
                std::fs::write(entry.path(), format!("\u{feff}{text}")).unwrap();
            }
        }
        let with_bom = tollgate_sbom::catalog::catalog_paths(
            &root,
            &[root.join(lockfile)],
            &Default::default(),
        )
        .unwrap_or_else(|e| panic!("{fixture}: {e}"));
        assert_eq!(plain.components, with_bom.components, "{fixture}");
        assert_eq!(plain.dependencies, with_bom.dependencies, "{fixture}");
    }
}

#[test]
fn go_sum_named_directly_stands_for_its_module() {
    let dir = tempfile::tempdir().unwrap();
    copy_into(dir.path(), "go-basic", "m");
    let root = dir.path().join("m");
    let options = Default::default();
    let by_sum =
        tollgate_sbom::catalog::catalog_paths(&root, &[root.join("go.sum")], &options).unwrap();
    let by_mod =
        tollgate_sbom::catalog::catalog_paths(&root, &[root.join("go.mod")], &options).unwrap();
    assert_eq!(by_sum, by_mod);
    let both = tollgate_sbom::catalog::catalog_paths(
        &root,
        &[root.join("go.mod"), root.join("go.sum")],
        &options,
    )
    .unwrap();
    assert_eq!(both, by_mod);
    std::fs::remove_file(root.join("go.mod")).unwrap();
    let err =
        tollgate_sbom::catalog::catalog_paths(&root, &[root.join("go.sum")], &options).unwrap_err();
    assert!(err.to_string().contains("go.mod"), "{err}");
}
