//! Every lockfile cataloguer on arbitrary bytes. The first byte picks the format; the rest is
//! `COMPANION \0\0 LOCKFILE` (the manifest beside the lockfile, e.g. `Cargo.toml`) or just the
//! lockfile. Both are written to a scratch directory and catalogued as `tollgate sbom` would.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tollgate_sbom::catalog::{CatalogOptions, catalog_paths};

/// (lockfile name, companion file name) per format.
const FORMATS: &[(&str, &str)] = &[
    ("Cargo.lock", "Cargo.toml"),
    ("package-lock.json", "package.json"),
    ("pnpm-lock.yaml", "package.json"),
    ("yarn.lock", "package.json"),
    ("uv.lock", "pyproject.toml"),
    ("poetry.lock", "pyproject.toml"),
    ("requirements.txt", "pyproject.toml"),
    ("go.mod", "go.sum"),
    ("pubspec.lock", "pubspec.yaml"),
];

fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("tollgate-fuzz-lockfile-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("cargo-home")).expect("scratch directory");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let (lockfile, companion) = FORMATS[usize::from(selector) % FORMATS.len()];
    let (companion_bytes, lock_bytes) = match rest.windows(2).position(|w| w == b"\0\0") {
        Some(at) => (Some(&rest[..at]), &rest[at + 2..]),
        None => (None, rest),
    };
    let dir = scratch();
    for (name, _) in FORMATS {
        let _ = std::fs::remove_file(dir.join(name));
    }
    for (_, name) in FORMATS {
        let _ = std::fs::remove_file(dir.join(name));
    }
    let lock_path = dir.join(lockfile);
    std::fs::write(&lock_path, lock_bytes).expect("write lockfile");
    if let Some(bytes) = companion_bytes {
        std::fs::write(dir.join(companion), bytes).expect("write companion");
    }
    let options =
        CatalogOptions { exclude: Vec::new(), cargo_home: Some(dir.join("cargo-home")) };
    let _ = catalog_paths(dir, &[lock_path], &options);
});
