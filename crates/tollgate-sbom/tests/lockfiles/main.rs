//! YAML lockfiles (pnpm-lock.yaml, yarn berry's yarn.lock, pubspec.lock) through the public
//! cataloguing API: deep nesting and duplicate keys are input errors naming the file, line and
//! column; a large but ordinary lockfile parses.

mod scan;

#[path = "../../benches/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use tollgate_sbom::SbomError;
use tollgate_sbom::catalog::{self, CatalogOptions};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// The three YAML lockfile fixtures: (fixture directory, lockfile name).
const YAML_LOCKFILES: [(&str, &str); 3] = [
    ("npm-pnpm-v9", "pnpm-lock.yaml"),
    ("npm-yarn-berry", "yarn.lock"),
    ("dart-flutter-app", "pubspec.lock"),
];

/// A copy of fixture `name` in a temporary directory.
fn copy_fixture(name: &str) -> tempfile::TempDir {
    let from = Path::new(FIXTURES).join(name);
    let dir = tempfile::tempdir().unwrap();
    for entry in ignore::WalkBuilder::new(&from).hidden(false).build() {
        let entry = entry.unwrap();
        let to = dir.path().join(entry.path().strip_prefix(&from).unwrap());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
    dir
}

fn catalog_lockfile(dir: &Path, lockfile: &str) -> Result<tollgate_sbom::Inventory, SbomError> {
    catalog::catalog_paths(dir, &[dir.join(lockfile)], &CatalogOptions::default())
}

/// Rewrites `lockfile` in `dir` with `edit` and catalogues it; the error it must give.
fn malformed_after(
    dir: &Path,
    lockfile: &str,
    edit: impl Fn(&str) -> String,
) -> (PathBuf, usize, usize, String) {
    let path = dir.join(lockfile);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, edit(&text)).unwrap();
    match catalog_lockfile(dir, lockfile) {
        Err(SbomError::Malformed { place, message }) => {
            (place.path, place.line.unwrap(), place.column.unwrap(), message)
        }
        Err(other) => panic!("{lockfile}: expected a malformed-input error, got: {other}"),
        Ok(_) => panic!("{lockfile}: accepted"),
    }
}

fn line_count(text: &str) -> usize {
    text.lines().count()
}

#[test]
fn fixtures_still_parse() {
    for (fixture, lockfile) in YAML_LOCKFILES {
        let dir = copy_fixture(fixture);
        let inventory = catalog_lockfile(dir.path(), lockfile).unwrap();
        assert!(!inventory.components.is_empty(), "{fixture}");
    }
}

#[test]
fn deep_flow_sequences_are_rejected_at_their_place() {
    for (fixture, lockfile) in YAML_LOCKFILES {
        let dir = copy_fixture(fixture);
        // 10 KB of `[`: minutes' worth of scanning at 200 KB before the fix.
        let (path, line, column, message) = malformed_after(dir.path(), lockfile, |text| {
            format!("{text}zz-deep: {}{}\n", "[".repeat(5_000), "]".repeat(5_000))
        });
        let original = std::fs::read_to_string(Path::new(FIXTURES).join(fixture).join(lockfile));
        assert!(path.ends_with(lockfile), "{}", path.display());
        assert_eq!(line, line_count(&original.unwrap()) + 1, "{lockfile}: {message}");
        assert!(column > 128 && column <= 9 + 256, "{lockfile}: column {column}");
        assert!(message.contains("recursion limit exceeded"), "{lockfile}: {message}");
    }
}

#[test]
fn deep_flow_mappings_and_block_sequences_are_rejected() {
    for (fixture, lockfile) in YAML_LOCKFILES {
        let dir = copy_fixture(fixture);
        let (_, _, _, message) = malformed_after(dir.path(), lockfile, |text| {
            format!("{text}zz-deep: {}{}\n", "{a: ".repeat(2_000), "}".repeat(2_000))
        });
        assert!(message.contains("recursion limit exceeded"), "{lockfile}: {message}");

        let dir = copy_fixture(fixture);
        let (_, line, column, message) = malformed_after(dir.path(), lockfile, |text| {
            format!("{text}zz-deep:\n  {}x\n", "- ".repeat(500))
        });
        let original = std::fs::read_to_string(Path::new(FIXTURES).join(fixture).join(lockfile));
        assert_eq!(line, line_count(&original.unwrap()) + 2, "{lockfile}: {message}");
        // The 128th `- ` opens the 129th collection (the top-level mapping is the first).
        assert_eq!(column, 3 + 2 * 127, "{lockfile}: {message}");
        assert!(message.contains("recursion limit exceeded"), "{lockfile}: {message}");
    }
}

/// Duplicate entries: `block` is inserted before the first line equal to `anchor`, so that line
/// becomes the second occurrence of the same key.
#[test]
fn duplicate_mapping_keys_are_rejected_at_the_second() {
    let cases = [
        (
            "npm-pnpm-v9",
            "pnpm-lock.yaml",
            "  ms@2.0.0:",
            "  ms@2.0.0:\n    resolution: {integrity: sha512-AAAA}\n\n",
            3,
        ),
        (
            "npm-yarn-berry",
            "yarn.lock",
            "\"debug@npm:2.6.9\":",
            "\"debug@npm:2.6.9\":\n  version: 2.6.9\n  resolution: \"debug@npm:2.6.9\"\n  languageName: node\n  linkType: hard\n\n",
            1,
        ),
        (
            "dart-flutter-app",
            "pubspec.lock",
            "  collection:",
            "  collection:\n    dependency: transitive\n    description:\n      name: collection\n      sha256: \"00\"\n      url: \"https://pub.dev\"\n    source: hosted\n    version: \"1.0.0\"\n",
            3,
        ),
    ];
    for (fixture, lockfile, anchor, block, key_column) in cases {
        let dir = copy_fixture(fixture);
        let original =
            std::fs::read_to_string(Path::new(FIXTURES).join(fixture).join(lockfile)).unwrap();
        let anchor_line = original.lines().position(|l| l == anchor).unwrap() + 1;
        let (path, line, column, message) = malformed_after(dir.path(), lockfile, |text| {
            text.replacen(&format!("{anchor}\n"), &format!("{block}{anchor}\n"), 1)
        });
        assert!(path.ends_with(lockfile), "{}", path.display());
        assert_eq!(
            (line, column),
            (anchor_line + line_count(block), key_column),
            "{lockfile}: {message}"
        );
        assert!(message.starts_with("duplicate mapping key"), "{lockfile}: {message}");
        assert!(message.contains(&format!("first at line {anchor_line}")), "{lockfile}: {message}");
    }
}

/// Several megabytes of ordinary, wide pnpm lockfile parse (and in linear time: the whole test
/// takes about a second; no timing is asserted).
#[test]
fn large_wide_pnpm_lockfile_parses() {
    let dir = tempfile::tempdir().unwrap();
    let packages = support::write_pnpm_project(dir.path(), 20_000, 0x9a9a).unwrap();
    let size = std::fs::metadata(dir.path().join("pnpm-lock.yaml")).unwrap().len();
    assert!(size > 4_000_000, "only {size} bytes");
    let inventory = catalog_lockfile(dir.path(), "pnpm-lock.yaml").unwrap();
    // Every package, plus the root project.
    assert_eq!(inventory.components.len(), packages + 1);
}
