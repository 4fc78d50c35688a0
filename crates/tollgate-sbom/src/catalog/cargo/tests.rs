//! The fixture workspace was made with `cargo generate-lockfile` (cargo 1.95): members `app`
//! and `lib`, an excluded path dependency `tools/gen`, registry crates as normal, build and dev
//! dependencies, a renamed workspace dependency, and a Cargo home holding the unpacked
//! manifests of all registry crates but `static_assertions`.

use super::*;
use crate::{ComponentKind, Scope};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cargo-workspace");

fn fixture() -> Inventory {
    let root = Path::new(FIXTURE);
    catalog(root, &root.join("Cargo.lock"), Some(&root.join("cargo-home"))).unwrap()
}

fn copy_fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in ignore::WalkBuilder::new(FIXTURE).hidden(false).build() {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(FIXTURE).unwrap();
        let to = dir.path().join(rel);
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
    dir
}

#[test]
fn lists_every_locked_package_with_purl_and_checksum() {
    let inv = fixture();
    let refs: Vec<&str> = inv.components.keys().map(String::as_str).collect();
    assert_eq!(
        refs,
        [
            "pkg:cargo/app@0.3.0",
            "pkg:cargo/cfg-if@1.0.5",
            "pkg:cargo/gen@0.1.0",
            "pkg:cargo/itoa@1.0.19",
            "pkg:cargo/lib@0.3.0",
            "pkg:cargo/ryu@1.0.23",
            "pkg:cargo/static_assertions@1.1.0",
        ]
    );
    let itoa = inv.get("pkg:cargo/itoa@1.0.19").unwrap();
    assert_eq!(
        itoa.hashes[0].hex,
        "3bd1574e617a9a6c1f8f8181bd7e841e1f20e4277607ef28945765188d6284d4"
    );
    assert_eq!(itoa.license.as_deref(), Some("MIT OR Apache-2.0"));
    assert_eq!(itoa.authors, ["David Tolnay <dtolnay@gmail.com>"]);
    assert_eq!(itoa.repository.as_deref(), Some("https://github.com/dtolnay/itoa"));
    assert_eq!(
        itoa.source.as_deref(),
        Some("registry+https://github.com/rust-lang/crates.io-index")
    );
    assert_eq!(itoa.found_in.iter().next().unwrap(), "Cargo.lock");
}

#[test]
fn members_are_applications_with_inherited_facts() {
    let inv = fixture();
    let app = inv.get("pkg:cargo/app@0.3.0").unwrap();
    assert_eq!(app.kind, ComponentKind::Application);
    assert_eq!(app.license.as_deref(), Some("MIT OR Apache-2.0"));
    assert_eq!(app.authors, ["Example Team <team@example.com>"]);
    assert_eq!(app.description.as_deref(), Some("The example application."));
    assert_eq!(inv.get("pkg:cargo/lib@0.3.0").unwrap().license.as_deref(), Some("MIT"));
    // The excluded path dependency is a library, not a member.
    let gen_ = inv.get("pkg:cargo/gen@0.1.0").unwrap();
    assert_eq!(gen_.kind, ComponentKind::Library);
    assert_eq!(gen_.license.as_deref(), Some("Apache-2.0"));
    assert_eq!(
        inv.roots.iter().collect::<Vec<_>>(),
        ["pkg:cargo/app@0.3.0", "pkg:cargo/lib@0.3.0"]
    );
}

#[test]
fn graph_and_scopes_follow_dependency_kinds() {
    let inv = fixture();
    let deps: Vec<&str> =
        inv.dependencies["pkg:cargo/app@0.3.0"].iter().map(String::as_str).collect();
    assert_eq!(
        deps,
        [
            "pkg:cargo/cfg-if@1.0.5",
            "pkg:cargo/gen@0.1.0",
            "pkg:cargo/lib@0.3.0",
            "pkg:cargo/ryu@1.0.23",
            "pkg:cargo/static_assertions@1.1.0",
        ]
    );
    // `numfmt` is a workspace rename of itoa: the edge is to itoa.
    assert!(inv.dependencies["pkg:cargo/lib@0.3.0"].contains("pkg:cargo/itoa@1.0.19"));
    let kind =
        |r: &str| inv.get(r).unwrap().properties.get("tollgate:cargo:dependency-kind").cloned();
    let scope = |r: &str| inv.get(r).unwrap().scope;
    assert_eq!(kind("pkg:cargo/ryu@1.0.23").as_deref(), Some("normal"));
    assert_eq!(scope("pkg:cargo/ryu@1.0.23"), Scope::Required);
    assert_eq!(kind("pkg:cargo/itoa@1.0.19").as_deref(), Some("normal"));
    assert_eq!(kind("pkg:cargo/cfg-if@1.0.5").as_deref(), Some("build"));
    assert_eq!(scope("pkg:cargo/cfg-if@1.0.5"), Scope::Excluded);
    assert_eq!(kind("pkg:cargo/static_assertions@1.1.0").as_deref(), Some("dev"));
    assert_eq!(scope("pkg:cargo/static_assertions@1.1.0"), Scope::Excluded);
}

#[test]
fn crate_without_unpacked_sources_is_listed_without_licence() {
    let inv = fixture();
    let sa = inv.get("pkg:cargo/static_assertions@1.1.0").unwrap();
    assert_eq!(sa.license, None);
    assert_eq!(sa.hashes.len(), 1);
}

#[test]
fn inputs_are_the_lockfile_and_the_manifests_used() {
    let inv = fixture();
    let inputs: Vec<&str> = inv.inputs.keys().map(String::as_str).collect();
    assert_eq!(
        inputs,
        ["Cargo.lock", "Cargo.toml", "app/Cargo.toml", "lib/Cargo.toml", "tools/gen/Cargo.toml"]
    );
}

#[test]
fn truncated_lockfile_names_file_and_line() {
    let dir = copy_fixture();
    let lock = dir.path().join("Cargo.lock");
    let text = std::fs::read_to_string(&lock).unwrap();
    std::fs::write(&lock, &text[..text.find("checksum = \"3bd1").unwrap() + 14]).unwrap();
    let err = catalog(dir.path(), &lock, None).unwrap_err().to_string();
    assert!(err.contains("Cargo.lock:30:"), "{err}");
}

/// Found by the `lockfile` fuzz target: cargo-lock panicked slicing a checksum with a
/// multi-byte character. Written directly and as a TOML escape, both are input errors.
#[test]
fn a_checksum_with_a_multibyte_character_is_an_input_error_not_a_panic() {
    for bad in ["\u{2da}", "\\u02DA"] {
        let dir = copy_fixture();
        let lock = dir.path().join("Cargo.lock");
        let text = std::fs::read_to_string(&lock).unwrap();
        let at = text.find("checksum = \"").unwrap() + "checksum = \"".len() + 29;
        // Two hex digits become one two-byte character: still 64 bytes, as in the crash.
        let text = format!("{}{bad}{}", &text[..at], &text[at + 2..]);
        std::fs::write(&lock, text).unwrap();
        let err = catalog(dir.path(), &lock, None).unwrap_err();
        assert!(matches!(err, SbomError::Malformed { .. }), "{err}");
        assert!(err.to_string().contains("is not hexadecimal"), "{err}");
    }
}

#[test]
fn unknown_lockfile_version_is_refused() {
    let dir = copy_fixture();
    let lock = dir.path().join("Cargo.lock");
    let text = std::fs::read_to_string(&lock).unwrap().replace("version = 4", "version = 9");
    std::fs::write(&lock, text).unwrap();
    let err = catalog(dir.path(), &lock, None).unwrap_err();
    assert!(matches!(err, SbomError::UnsupportedVersion { .. }), "{err}");
    assert!(err.to_string().contains("Cargo.lock:3: unsupported Cargo.lock version 9"), "{err}");
}

#[test]
fn dependency_missing_from_lockfile_is_out_of_sync() {
    let dir = copy_fixture();
    let manifest = dir.path().join("lib/Cargo.toml");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push_str("semver = \"1\"\n");
    std::fs::write(&manifest, text).unwrap();
    let err = catalog(dir.path(), &dir.path().join("Cargo.lock"), None).unwrap_err();
    assert!(matches!(err, SbomError::OutOfSync { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("lib/Cargo.toml:9:"), "{msg}");
    assert!(msg.contains("`semver`"), "{msg}");
}

#[test]
fn member_version_bump_without_relock_is_out_of_sync() {
    let dir = copy_fixture();
    let manifest = dir.path().join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap().replace("0.3.0", "0.4.0");
    std::fs::write(&manifest, text).unwrap();
    let err = catalog(dir.path(), &dir.path().join("Cargo.lock"), None).unwrap_err().to_string();
    assert!(err.contains("Cargo.lock has app 0.3.0, the manifest says version 0.4.0"), "{err}");
}

#[test]
fn missing_workspace_manifest_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(Path::new(FIXTURE).join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();
    let err = catalog(dir.path(), &dir.path().join("Cargo.lock"), None).unwrap_err().to_string();
    assert!(err.contains("no Cargo.toml beside Cargo.lock"), "{err}");
}

#[test]
fn licences_are_normalised_to_spdx() {
    assert_eq!(normalize_license("MIT/Apache-2.0"), "MIT OR Apache-2.0");
    assert_eq!(normalize_license("MIT OR Apache-2.0"), "MIT OR Apache-2.0");
    assert_eq!(normalize_license("Some custom terms"), "Some custom terms");
}

/// A lockfile with no packages beside manifests that declare dependencies disagrees with them;
/// the error names the first member manifest's first dependency the lockfile lacks.
#[test]
fn empty_lockfile_of_a_workspace_is_out_of_sync() {
    for lock_text in
        ["", "version = 4\n", "# This file is automatically @generated by Cargo.\nversion = 4\n"]
    {
        let dir = copy_fixture();
        let lock = dir.path().join("Cargo.lock");
        std::fs::write(&lock, lock_text).unwrap();
        let err = catalog(dir.path(), &lock, None).unwrap_err();
        let SbomError::OutOfSync { place, manifest, message } = &err else { panic!("{err}") };
        assert!(manifest.ends_with("app/Cargo.toml"), "{err}");
        assert_eq!(place.path, dir.path().join("app/Cargo.toml"), "{err}");
        // `lib = { path = "../lib" }`, the first declaration in app/Cargo.toml.
        assert_eq!(place.line, Some(10), "{err}");
        assert!(message.contains("Cargo.lock does not list workspace member `app` 0.3.0"), "{err}");
        assert!(message.contains("`lib`"), "{err}");
    }
}

/// A single package (no `[workspace]`) with dependencies and a lockfile lacking them, renamed
/// and target-specific ones included; a lockfile listing the package but not its dependency
/// names the dependency.
#[test]
fn lockfile_without_the_declared_dependencies_of_a_package_is_out_of_sync() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"solo\"\nversion = \"1.0.0\"\n\n[target.'cfg(unix)'.dependencies]\nnum = { package = \"itoa\", version = \"1\" }\n",
    )
    .unwrap();
    let lock = dir.path().join("Cargo.lock");
    std::fs::write(&lock, "version = 4\n").unwrap();
    let err = catalog(dir.path(), &lock, None).unwrap_err();
    assert!(matches!(err, SbomError::OutOfSync { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("Cargo.toml:6: lockfile disagrees with"), "{msg}");
    assert!(msg.contains("workspace member `solo` 1.0.0"), "{msg}");
    assert!(msg.contains("`itoa`"), "{msg}");

    std::fs::write(&lock, "version = 4\n\n[[package]]\nname = \"solo\"\nversion = \"1.0.0\"\n")
        .unwrap();
    let msg = catalog(dir.path(), &lock, None).unwrap_err().to_string();
    assert!(msg.contains("declares dependency `itoa`"), "{msg}");
}

/// A package without dependencies and a lockfile without it still disagree (Cargo always
/// locks every workspace member); with the member locked, all is well.
#[test]
fn member_without_dependencies_must_be_locked_too() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"solo\"\nversion = \"1.0.0\"\n",
    )
    .unwrap();
    let lock = dir.path().join("Cargo.lock");
    std::fs::write(&lock, "").unwrap();
    let err = catalog(dir.path(), &lock, None).unwrap_err();
    let SbomError::OutOfSync { place, .. } = &err else { panic!("{err}") };
    assert_eq!(place.line, Some(1), "{err}");
    assert!(err.to_string().contains("workspace member `solo` 1.0.0"), "{err}");

    std::fs::write(&lock, "version = 4\n\n[[package]]\nname = \"solo\"\nversion = \"1.0.0\"\n")
        .unwrap();
    let inv = catalog(dir.path(), &lock, None).unwrap();
    assert_eq!(inv.components.keys().collect::<Vec<_>>(), ["pkg:cargo/solo@1.0.0"]);
}

/// Only the members `[workspace] members` names (and the root package) must be locked: a
/// manifest elsewhere in the tree (a fixture, an excluded path package no member uses) need not.
#[test]
fn manifests_outside_the_members_need_not_be_locked() {
    let dir = copy_fixture();
    let stray = dir.path().join("lib/tests/fixtures/other/Cargo.toml");
    std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
    std::fs::write(
        &stray,
        "[package]\nname = \"other\"\nversion = \"9.9.9\"\n\n[dependencies]\nserde = \"1\"\n",
    )
    .unwrap();
    let excluded = dir.path().join("tools/unused/Cargo.toml");
    std::fs::create_dir_all(excluded.parent().unwrap()).unwrap();
    std::fs::write(
        &excluded,
        "[package]\nname = \"unused\"\nversion = \"0.1.0\"\n\n[dependencies]\nserde = \"1\"\n",
    )
    .unwrap();
    let inv = catalog(dir.path(), &dir.path().join("Cargo.lock"), None).unwrap();
    assert_eq!(inv.components.len(), 7);
}

/// `cargo-outside-path/harness` is its own workspace (lockfile by `cargo generate-lockfile`)
/// depending on `../lib`, which inherits its version, licence and a `{ workspace = true }` path
/// dependency from the enclosing workspace
/// — as cargo-fuzz crates depend on `..`.
#[test]
fn path_dependencies_outside_the_workspace_are_read_from_their_manifests() {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cargo-outside-path"));
    let inv = catalog(root, &root.join("harness/Cargo.lock"), None).unwrap();
    let refs: Vec<&str> = inv.components.keys().map(String::as_str).collect();
    assert_eq!(
        refs,
        ["pkg:cargo/outharness@0.1.0", "pkg:cargo/outlib-inner@0.2.0", "pkg:cargo/outlib@0.4.0"]
    );
    let lib = inv.get("pkg:cargo/outlib@0.4.0").unwrap();
    assert_eq!(lib.license.as_deref(), Some("MIT"));
    assert_eq!(lib.kind, ComponentKind::Library);
    assert_eq!(
        inv.get("pkg:cargo/outlib-inner@0.2.0").unwrap().license.as_deref(),
        Some("Apache-2.0")
    );
    assert_eq!(
        inv.dependencies["pkg:cargo/outlib@0.4.0"].iter().collect::<Vec<_>>(),
        ["pkg:cargo/outlib-inner@0.2.0"]
    );
    assert_eq!(inv.roots.iter().collect::<Vec<_>>(), ["pkg:cargo/outharness@0.1.0"]);
    let inputs: Vec<&str> = inv.inputs.keys().map(String::as_str).collect();
    assert_eq!(
        inputs,
        ["harness/Cargo.lock", "harness/Cargo.toml", "lib/Cargo.toml", "lib/inner/Cargo.toml"]
    );

    // Scanned from the harness itself, the manifests outside are named with `..`.
    let harness = root.join("harness");
    let inv = catalog(&harness, &harness.join("Cargo.lock"), None).unwrap();
    let inputs: Vec<&str> = inv.inputs.keys().map(String::as_str).collect();
    assert_eq!(
        inputs,
        ["../lib/Cargo.toml", "../lib/inner/Cargo.toml", "Cargo.lock", "Cargo.toml"]
    );

    // A lockfile naming a path package no manifest declares is still out of date.
    let dir = tempfile::tempdir().unwrap();
    for entry in ignore::WalkBuilder::new(root).hidden(false).build() {
        let entry = entry.unwrap();
        let to = dir.path().join(entry.path().strip_prefix(root).unwrap());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
    std::fs::remove_file(dir.path().join("lib/inner/Cargo.toml")).unwrap();
    let err = catalog(dir.path(), &dir.path().join("harness/Cargo.lock"), None).unwrap_err();
    assert!(matches!(err, SbomError::OutOfSync { .. }), "{err}");
    assert!(err.to_string().contains("outlib-inner 0.2.0"), "{err}");
}
