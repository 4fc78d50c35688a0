//! `tollgate evidence build|verify|show` on a real `tollgate release` run directory, and
//! `verify` against bundles tampered with (and crafted maliciously) with the `tar` crate.
//!
//! Exit codes: 1 for a bundle that was read and does not verify (including a truncated or
//! corrupt archive), 2 for input that cannot be read at all (a missing bundle, a bad key).

use crate::support::{copy_tree, fixture, run, text, tollgate};
use std::io::Read;
use std::path::{Path, PathBuf};

struct Release {
    dir: tempfile::TempDir,
    run_dir: PathBuf,
}

/// A `tollgate release` of the cargo-workspace fixture, signed with keys/tollgate.key, into
/// the default `target/tollgate`; a second key pair in other/.
fn release() -> Release {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture("tollgate-sbom", "cargo-workspace"), dir.path());
    for keys in ["keys", "other"] {
        let output = run(tollgate(dir.path()).args(["keys", "generate", "--output-dir", keys]));
        assert!(output.status.success(), "{}", text(&output));
    }
    let output = run(tollgate(dir.path()).args(["release", "--key", "keys/tollgate.key"]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let out = dir.path().join("target/tollgate");
    let runs: Vec<_> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let run_dir = runs[0].clone();
    Release { dir, run_dir }
}

fn build(release: &Release, run_dir: Option<&Path>, output: &str) {
    let mut cmd = tollgate(release.dir.path());
    cmd.args(["evidence", "build"]);
    if let Some(run_dir) = run_dir {
        cmd.arg(run_dir);
    }
    let output = run(cmd.args(["--key", "keys/tollgate.key", "--output", output]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
}

fn verify(release: &Release, key: &str, bundle: &str) -> std::process::Output {
    run(tollgate(release.dir.path()).args(["evidence", "verify", "--key", key, bundle]))
}

fn verify_fails(release: &Release, bundle: &str, code: i32, expected: &str) {
    let output = verify(release, "keys/tollgate.pub", bundle);
    assert_eq!(output.status.code(), Some(code), "{expected}: {}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(expected), "expected {expected:?} in {}", text(&output));
    assert!(stderr.contains(bundle), "the bundle is named: {}", text(&output));
}

type Entries = Vec<(String, tar::Header, Vec<u8>)>;

fn read_entries(path: &Path) -> Entries {
    let file = std::fs::File::open(path).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let header = entry.header().clone();
        let name = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        out.push((name, header, data));
    }
    out
}

/// Writes entries with their names written raw into the header (so `../x` and `/x` survive;
/// the `tar` crate's own path setters refuse them).
fn write_entries(path: &Path, entries: &Entries) {
    let file = std::fs::File::create(path).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut builder = tar::Builder::new(gz);
    for (name, header, data) in entries {
        let mut header = header.clone();
        header.set_size(data.len() as u64);
        if name.len() < 100 {
            let field = &mut header.as_old_mut().name;
            field.fill(0);
            field[..name.len()].copy_from_slice(name.as_bytes());
            header.set_cksum();
            builder.append(&header, data.as_slice()).unwrap();
        } else {
            builder.append_data(&mut header, name, data.as_slice()).unwrap();
        }
    }
    builder.into_inner().unwrap().finish().unwrap();
}

fn tamper(release: &Release, name: &str, change: impl FnOnce(&mut Entries)) -> String {
    let mut entries = read_entries(&release.dir.path().join("a.tar.gz"));
    change(&mut entries);
    write_entries(&release.dir.path().join(name), &entries);
    name.to_owned()
}

fn position(entries: &Entries, name: &str) -> usize {
    entries.iter().position(|(n, _, _)| n == name).unwrap_or_else(|| panic!("{name} not found"))
}

#[test]
fn bundle_of_a_release_is_reproducible_and_verifies() {
    let release = release();
    // Default RUN_DIR (the newest run under target/tollgate) and an explicit one.
    build(&release, None, "a.tar.gz");
    build(&release, Some(&release.run_dir), "b.tar.gz");
    let a = std::fs::read(release.dir.path().join("a.tar.gz")).unwrap();
    let b = std::fs::read(release.dir.path().join("b.tar.gz")).unwrap();
    assert!(a == b, "two builds of the same run differ");

    let entries = read_entries(&release.dir.path().join("a.tar.gz"));
    let names: Vec<&str> = entries.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names[..2], ["manifest.json", "manifest.dsse.json"]);
    for expected in ["release.json", "sbom.json", "sbom/cyclonedx.json", "attest/"] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    for (name, header, _) in &entries {
        assert_eq!(header.mtime().unwrap(), 1_700_000_000, "{name}");
        assert_eq!((header.uid().unwrap(), header.gid().unwrap()), (0, 0), "{name}");
        assert_eq!(header.username().unwrap(), Some(""), "{name}");
    }
    let manifest: serde_json::Value = serde_json::from_slice(&entries[0].2).unwrap();
    assert_eq!(manifest["schemaVersion"], "1");
    assert_eq!(manifest["release"]["runId"], "20231114T221320Z");
    assert_eq!(manifest["release"]["verdict"], "go");
    assert_eq!(manifest["tool"]["name"], "tollgate");
    // Every digest in the manifest is the file's on disk, computed independently.
    for file in manifest["files"].as_array().unwrap() {
        let bytes = std::fs::read(release.run_dir.join(file["path"].as_str().unwrap())).unwrap();
        let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
        assert_eq!(file["sha256"], sha256.as_str(), "{file}");
        assert_eq!(file["size"], bytes.len(), "{file}");
    }

    let output = verify(&release, "keys/tollgate.pub", "a.tar.gz");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("verified a.tar.gz"));

    // .tar.zst: also reproducible, and verifies.
    build(&release, None, "a.tar.zst");
    build(&release, Some(&release.run_dir), "b.tar.zst");
    let a = std::fs::read(release.dir.path().join("a.tar.zst")).unwrap();
    assert!(a == std::fs::read(release.dir.path().join("b.tar.zst")).unwrap());
    let output = verify(&release, "keys/tollgate.pub", "a.tar.zst");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));

    let output = run(tollgate(release.dir.path()).args(["evidence", "show", "a.tar.gz"]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for expected in ["20231114T221320Z", "verdict:  go", "manifest: sha256:", "sbom/cyclonedx.json"]
    {
        assert!(stdout.contains(expected), "{expected} missing: {}", text(&output));
    }
}

#[test]
fn every_kind_of_tampering_fails_with_its_own_message() {
    let release = release();
    build(&release, Some(&release.run_dir), "a.tar.gz");

    let bundle = tamper(&release, "content.tar.gz", |e| {
        let i = position(e, "sbom.json");
        e[i].2[0] = b' ';
    });
    verify_fails(&release, &bundle, 1, "file \"sbom.json\": sha256 is");

    let bundle = tamper(&release, "manifest.tar.gz", |e| {
        let text = String::from_utf8(e[0].2.clone()).unwrap();
        e[0].2 = text.replacen("\"go\"", "\"GO\"", 1).into_bytes();
    });
    verify_fails(&release, &bundle, 1, "manifest.json differs from the payload signed");

    let bundle = tamper(&release, "signature.tar.gz", |e| {
        let mut envelope: serde_json::Value = serde_json::from_slice(&e[1].2).unwrap();
        let sig = envelope["signatures"][0]["sig"].as_str().unwrap().to_owned();
        let flipped = if sig.starts_with('A') { "B" } else { "A" };
        envelope["signatures"][0]["sig"] = format!("{flipped}{}", &sig[1..]).into();
        e[1].2 = serde_json::to_vec(&envelope).unwrap();
    });
    verify_fails(&release, &bundle, 1, "manifest.dsse.json: signature does not verify");

    let output = verify(&release, "other/tollgate.pub", "a.tar.gz");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("signature does not verify"));

    let bundle = tamper(&release, "extra.tar.gz", |e| {
        let header = e[0].1.clone();
        e.push(("sbom/extra.json".into(), header, b"{}".to_vec()));
    });
    verify_fails(&release, &bundle, 1, "extra file \"sbom/extra.json\"");

    let bundle = tamper(&release, "missing.tar.gz", |e| {
        let i = position(e, "sbom/cyclonedx.json");
        e.remove(i);
    });
    verify_fails(&release, &bundle, 1, "missing file \"sbom/cyclonedx.json\"");

    let bundle = tamper(&release, "traversal.tar.gz", |e| {
        let header = e[0].1.clone();
        e.insert(2, ("../x".into(), header, b"owned".to_vec()));
    });
    verify_fails(&release, &bundle, 1, "entry \"../x\" escapes the archive");

    let bundle = tamper(&release, "absolute.tar.gz", |e| {
        let header = e[0].1.clone();
        e.insert(2, ("/tmp/x".into(), header, b"owned".to_vec()));
    });
    verify_fails(&release, &bundle, 1, "entry \"/tmp/x\" has an absolute path");

    let bundle = tamper(&release, "symlink.tar.gz", |e| {
        let mut header = e[0].1.clone();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_link_name("/etc/passwd").unwrap();
        e.insert(2, ("sbom/link".into(), header, Vec::new()));
    });
    verify_fails(
        &release,
        &bundle,
        1,
        "entry \"sbom/link\" is a symbolic link (to \"/etc/passwd\")",
    );

    let bundle = tamper(&release, "hardlink.tar.gz", |e| {
        let mut header = e[0].1.clone();
        header.set_entry_type(tar::EntryType::Link);
        header.set_link_name("release.json").unwrap();
        e.insert(2, ("hard".into(), header, Vec::new()));
    });
    verify_fails(&release, &bundle, 1, "entry \"hard\" is a hard link");

    let bundle = tamper(&release, "device.tar.gz", |e| {
        let mut header = e[0].1.clone();
        header.set_entry_type(tar::EntryType::Char);
        e.insert(2, ("dev".into(), header, Vec::new()));
    });
    verify_fails(&release, &bundle, 1, "entry \"dev\" is a character device");

    let bytes = std::fs::read(release.dir.path().join("a.tar.gz")).unwrap();
    std::fs::write(release.dir.path().join("truncated.tar.gz"), &bytes[..bytes.len() / 2]).unwrap();
    verify_fails(&release, "truncated.tar.gz", 1, "truncated or corrupt archive");

    // Input errors: a bundle that is not there, a key that is not a key.
    verify_fails(&release, "absent.tar.gz", 2, "absent.tar.gz");
    let output = verify(&release, "release.json", "a.tar.gz");
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
}
