//! The bundles `tollgate evidence verify` accepts are what standard extractors produce: the
//! bundles of a real `tollgate release` run, `.tar.gz` and `.tar.zst`, extracted with the
//! system's GNU `tar` and with Python's `tarfile` (`$TOLLGATE_PYTHON` or `python3` from PATH,
//! standard library only), give exactly the signed manifest's files, byte for byte. A bundle
//! that smuggles a `report.html` into a directory entry's data (which both extractors write)
//! fails verification and is not published; a file that is not a bundle at all is an input
//! error for `verify` and `show`.
//!
//! Exit codes: 0 verified, 1 the bundle does not verify (or, for `show`, its manifest cannot be
//! read), 2 not a bundle at all.

use crate::support::{copy_tree, fixture, run, text, tollgate};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A `tollgate release` of the cargo-workspace fixture; returns the workspace and run dir.
fn release() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture("tollgate-sbom", "cargo-workspace"), dir.path());
    let output = run(tollgate(dir.path()).args(["keys", "generate", "--output-dir", "keys"]));
    assert!(output.status.success(), "{}", text(&output));
    let output = run(tollgate(dir.path()).args(["release", "--key", "keys/tollgate.key"]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let out = dir.path().join("target/tollgate");
    let run_dir = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .expect("a run directory");
    (dir, run_dir)
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Every regular file under `dir` (relative path → SHA-256); nothing but files and dirs.
fn files_under(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                walk(root, &path, out);
            } else {
                assert!(meta.is_file(), "{}: not a regular file", path.display());
                let name = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(name, sha256(&std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// What GNU tar extracts (it recognises gzip and zstd itself), and the extracted
/// `manifest.json`, if any.
fn gnu_tar(bundle: &Path) -> (BTreeMap<String, String>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let output = run(Command::new("tar").arg("-xf").arg(bundle).arg("-C").arg(dir.path()));
    assert!(output.status.success(), "tar -xf {}: {}", bundle.display(), text(&output));
    let manifest = std::fs::read(dir.path().join("manifest.json")).unwrap_or_default();
    (files_under(dir.path()), manifest)
}

/// What Python's `tarfile` extracts with the `data` filter.
fn python_tarfile(bundle: &Path) -> BTreeMap<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let mut input = bundle.to_owned();
    if bundle.to_string_lossy().ends_with(".zst") {
        // tarfile reads zstd only from Python 3.14: the zstd program decompresses it first.
        input = dir.path().join("plain.tar");
        let output =
            run(Command::new("zstd").args(["-q", "-d", "-f", "-o"]).arg(&input).arg(bundle));
        assert!(output.status.success(), "{}", text(&output));
    }
    let python = std::env::var_os("TOLLGATE_PYTHON").map(PathBuf::from).unwrap_or("python3".into());
    let target = dir.path().join("out");
    let output = run(Command::new(python)
        .arg("-c")
        .arg(
            "import sys, tarfile\n\
             with tarfile.open(sys.argv[1]) as t:\n    t.extractall(sys.argv[2], filter='data')\n",
        )
        .arg(&input)
        .arg(&target));
    assert!(output.status.success(), "tarfile: {}", text(&output));
    files_under(&target)
}

/// The decompressed tar stream of a `.tar.gz`.
fn tar_stream(bundle: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(bundle).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// The bundle's raw members (header, data), GNU long-name entries included.
fn members(bundle: &Path) -> Vec<(tar::Header, Vec<u8>)> {
    let stream = tar_stream(bundle);
    let mut archive = tar::Archive::new(stream.as_slice());
    let mut out = Vec::new();
    for entry in archive.entries().unwrap().raw(true) {
        let mut entry = entry.unwrap();
        let header = entry.header().clone();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        out.push((header, data));
    }
    out
}

fn assemble(members: &[(tar::Header, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (header, data) in members {
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(512), 0);
    }
    out
}

#[test]
fn release_bundles_extract_to_exactly_their_manifest() {
    let (dir, run_dir) = release();
    let root = dir.path();
    for name in ["evidence.tar.gz", "evidence.tar.zst"] {
        let output = run(tollgate(root).args(["evidence", "build"]).arg(&run_dir).args([
            "--key",
            "keys/tollgate.key",
            "--output",
            name,
        ]));
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        let output =
            run(tollgate(root).args(["evidence", "verify", "--key", "keys/tollgate.pub", name]));
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));

        let (extracted, manifest) = gnu_tar(&root.join(name));
        let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
        let mut expected: BTreeMap<String, String> = manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (f["path"].as_str().unwrap().to_owned(), f["sha256"].as_str().unwrap().to_owned())
            })
            .collect();
        assert!(expected.len() > 10, "{expected:?}");
        for own in ["manifest.json", "manifest.dsse.json"] {
            expected.insert(own.to_owned(), extracted[own].clone());
        }
        assert_eq!(extracted, expected, "{name}: GNU tar");
        assert_eq!(python_tarfile(&root.join(name)), expected, "{name}: Python tarfile");
    }
}

#[test]
fn smuggling_and_non_bundles_are_refused_with_their_exit_codes() {
    let (dir, run_dir) = release();
    let root = dir.path();
    let output = run(tollgate(root).args(["evidence", "build"]).arg(&run_dir).args([
        "--key",
        "keys/tollgate.key",
        "--output",
        "a.tar.gz",
    ]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));

    // The `sbom/` directory entry, moved to the end, carries a tar header and an HTML page.
    let mut all = members(&root.join("a.tar.gz"));
    let i = all
        .iter()
        .position(|(h, _)| h.path_bytes().as_ref() == b"sbom/")
        .expect("an sbom/ directory entry");
    let (mut dir_header, _) = all.remove(i);
    let mut evil = tar::Header::new_gnu();
    evil.set_path("report.html").unwrap();
    evil.set_mode(0o644);
    evil.set_size(26);
    evil.set_cksum();
    let data = assemble(&[(evil, b"<h1>all controls pass</h1>"[..26].to_vec())]);
    dir_header.set_size(data.len() as u64);
    dir_header.set_cksum();
    all.push((dir_header, data));
    let mut stream = assemble(&all);
    stream.extend_from_slice(&[0; 1024]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &stream).unwrap();
    std::fs::write(root.join("smuggled.tar.gz"), gz.finish().unwrap()).unwrap();
    // Both extractors write the attacker's report.
    let evil_sha = sha256(b"<h1>all controls pass</h1>");
    assert_eq!(gnu_tar(&root.join("smuggled.tar.gz")).0["report.html"], evil_sha);
    assert_eq!(python_tarfile(&root.join("smuggled.tar.gz"))["report.html"], evil_sha);
    let output = run(tollgate(root).args([
        "evidence",
        "verify",
        "--key",
        "keys/tollgate.pub",
        "smuggled.tar.gz",
    ]));
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("verification failed: smuggled.tar.gz: directory entry \"sbom/\" carries"),
        "{}",
        text(&output)
    );
    let output = run(tollgate(root).args([
        "evidence",
        "publish",
        "smuggled.tar.gz",
        "--key",
        "keys/tollgate.pub",
        "--store",
        "store",
    ]));
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("directory entry \"sbom/\""), "{}", text(&output));
    assert!(
        !root.join("store").exists()
            || std::fs::read_dir(root.join("store")).unwrap().next().is_none()
    );

    // Not a bundle at all: exit 2 naming the file, for verify and show.
    std::fs::write(root.join("notes.tar.gz"), "just text\n").unwrap();
    for args in [
        &["evidence", "verify", "--key", "keys/tollgate.pub", "notes.tar.gz"][..],
        &["evidence", "show", "notes.tar.gz"][..],
    ] {
        let output = run(tollgate(root).args(args));
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", text(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("notes.tar.gz: not a bundle: expected a gzip stream"),
            "{}",
            text(&output)
        );
        assert!(!stderr.contains("verification failed"), "{}", text(&output));
    }
    // A truncated bundle is a bundle that does not verify (exit 1); show cannot read it (1).
    let bytes = std::fs::read(root.join("a.tar.gz")).unwrap();
    std::fs::write(root.join("cut.tar.gz"), &bytes[..bytes.len() / 2]).unwrap();
    let output = run(tollgate(root).args([
        "evidence",
        "verify",
        "--key",
        "keys/tollgate.pub",
        "cut.tar.gz",
    ]));
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("verification failed: cut.tar.gz: truncated or corrupt"));
    std::fs::write(root.join("head.tar.gz"), &bytes[..40]).unwrap();
    let output = run(tollgate(root).args(["evidence", "show", "head.tar.gz"]));
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output)
            .contains("cannot read the bundle's manifest: head.tar.gz: truncated or corrupt"),
        "{}",
        text(&output)
    );
}
