//! `tollgate evidence build|verify|show` on a real `tollgate release` run directory, and
//! `verify` against bundles tampered with (and crafted maliciously) with the `tar` crate.
//!
//! Exit codes: 1 for a bundle that was read and does not verify (including a truncated or
//! corrupt archive), 2 for input that cannot be read at all (a missing bundle, a bad key).

use crate::support::{copy_tree, fixture, python, repo_root, run, text, tollgate};
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
    // The run directory; the release's own evidence bundle lies beside it.
    let runs: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
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
    assert_eq!(manifest["schemaVersion"], "2");
    assert_eq!(manifest["release"]["runId"], "20231114T221320Z");
    assert_eq!(manifest["release"]["verdict"], "go");
    assert_eq!(manifest["producer"]["tool"]["name"], "tollgate");
    for digest in ["configSha256", "policySha256"] {
        let value = manifest["producer"][digest].as_str().unwrap();
        assert!(value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()), "{digest}");
    }
    assert_eq!(manifest["catalogs"], serde_json::json!(["soc2", "iso27001", "ssdf", "slsa"]));
    // What `tollgate release` writes is classified and mapped.
    let file = |path: &str| {
        manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == path)
            .unwrap_or_else(|| panic!("{path} not in the manifest"))
            .clone()
    };
    for (path, kind, control) in [
        ("release.json", "release-summary", "soc2:CC8.1"),
        ("sbom.json", "gate-report", "ssdf:PO.4.1"),
        ("sbom/cyclonedx.json", "sbom", "ssdf:PS.3.2"),
        ("sbom/spdx.json", "sbom", "iso27001:5.9"),
        ("attest/provenance.sigstore.json", "provenance", "slsa:Build-L1"),
        ("oscal/assessment-results.json", "export", ""),
        ("gitlab/release-evidence.json", "export", ""),
    ] {
        let entry = file(path);
        assert_eq!(entry["kind"], kind, "{path}");
        let controls = entry["controls"].as_array().unwrap();
        if control.is_empty() {
            assert!(controls.is_empty(), "{path}: {controls:?}");
        } else {
            assert!(controls.iter().any(|c| c == control), "{path}: {control} not in {controls:?}");
        }
    }
    // Every digest in the manifest is the file's on disk, computed independently; generated
    // exports are checked against the archive's bytes.
    for file in manifest["files"].as_array().unwrap() {
        let path = file["path"].as_str().unwrap();
        if file["kind"] == "export" {
            let (_, _, bytes) = &entries[position(&entries, path)];
            let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes));
            assert_eq!(file["sha256"], sha256.as_str(), "{file}");
            continue;
        }
        let bytes = std::fs::read(release.run_dir.join(path)).unwrap();
        let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
        assert_eq!(file["sha256"], sha256.as_str(), "{file}");
        assert_eq!(file["size"], bytes.len(), "{file}");
    }

    // The GitLab release evidence names the run and digests the run's files as the signed
    // manifest lists them (sha256sum lines, sorted by path).
    let (_, _, gitlab) = &entries[position(&entries, "gitlab/release-evidence.json")];
    let gitlab: serde_json::Value = serde_json::from_slice(gitlab).unwrap();
    assert_eq!(gitlab["release"]["tag_name"], "20231114T221320Z");
    assert_eq!(gitlab["release"]["created_at"], "2023-11-14 22:13:20 UTC");
    let lines: String = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] != "export")
        .map(|f| format!("{}  {}\n", f["sha256"].as_str().unwrap(), f["path"].as_str().unwrap()))
        .collect();
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(lines.as_bytes()));
    assert_eq!(gitlab["tollgate"]["filesSha256"], digest.as_str());

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
    for expected in [
        "20231114T221320Z",
        "verdict:  go",
        "manifest: sha256:",
        "sbom/cyclonedx.json",
        "config:   sha256:",
        "coverage:",
        "soc2 ",
        "/33  controls with evidence",
        "/93  controls with evidence",
        "slsa        2/3   controls with evidence",
        "uncovered: Build-L3",
    ] {
        assert!(stdout.contains(expected), "{expected:?} missing: {}", text(&output));
    }
}

fn extract(bundle: &Path, name: &str, to: &Path) {
    let entries = read_entries(bundle);
    let (_, _, bytes) = &entries[position(&entries, name)];
    std::fs::write(to, bytes).unwrap();
}

fn oscal_validate(path: &Path) -> std::process::Output {
    run(std::process::Command::new(python())
        .arg(repo_root().join("tests/validators/oscal_validate.py"))
        .arg(path))
}

/// The bundle's OSCAL assessment results pass compliance-trestle's OSCAL models (an
/// independent implementation), and the validator rejects a document with a control id that
/// is not an OSCAL token, and one without its required `oscal-version`.
#[test]
fn oscal_export_validates_with_compliance_trestle() {
    let release = release();
    build(&release, Some(&release.run_dir), "a.tar.gz");
    let bundle = release.dir.path().join("a.tar.gz");
    let doc_path = release.dir.path().join("assessment-results.json");
    extract(&bundle, "oscal/assessment-results.json", &doc_path);
    let output = oscal_validate(&doc_path);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("ok "), "{}", text(&output));

    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&doc_path).unwrap()).unwrap();
    let result = &doc["assessment-results"]["results"][0];
    let gates: Vec<&str> = result["observations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["methods"][0] == "TEST")
        .map(|o| o["title"].as_str().unwrap())
        .collect();
    for gate in ["Gate attest: pass", "Gate contracts: pass", "Gate sbom: pass"] {
        assert!(gates.contains(&gate), "{gate} not in {gates:?}");
    }
    assert_eq!(result["findings"].as_array().unwrap().len(), 33 + 93 + 61 + 3);

    let mut broken = doc.clone();
    broken["assessment-results"]["results"][0]["findings"][0]["target"]["target-id"] =
        "soc2:CC1.1".into();
    let broken_path = release.dir.path().join("broken.json");
    std::fs::write(&broken_path, serde_json::to_vec(&broken).unwrap()).unwrap();
    let output = oscal_validate(&broken_path);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("target-id"), "{}", text(&output));

    let mut broken = doc;
    broken["assessment-results"]["metadata"].as_object_mut().unwrap().remove("oscal-version");
    std::fs::write(&broken_path, serde_json::to_vec(&broken).unwrap()).unwrap();
    let output = oscal_validate(&broken_path);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("oscal-version"), "{}", text(&output));
}

/// `[evidence]` in tollgate.toml decides the catalogs and the mapping of `evidence build`
/// and `evidence controls`; an unknown control id is an input error naming the file and key.
#[test]
fn evidence_configuration_drives_build_and_controls() {
    let release = release();
    let config = release.dir.path().join("tollgate.toml");
    let original = std::fs::read_to_string(&config).unwrap_or_default();
    std::fs::write(
        &config,
        format!(
            "{original}\n[evidence]\ncatalogs = [\"slsa\", \"ssdf\"]\n\n[evidence.controls]\nsbom = [\"ssdf:PW.4.4\"]\n"
        ),
    )
    .unwrap();
    build(&release, Some(&release.run_dir), "a.tar.gz");
    let entries = read_entries(&release.dir.path().join("a.tar.gz"));
    let manifest: serde_json::Value = serde_json::from_slice(&entries[0].2).unwrap();
    assert_eq!(manifest["catalogs"], serde_json::json!(["slsa", "ssdf"]));
    let sbom = manifest["files"].as_array().unwrap().iter().find(|f| f["path"] == "sbom/spdx.json");
    assert_eq!(sbom.unwrap()["controls"], serde_json::json!(["ssdf:PW.4.4"]));

    let output =
        run(tollgate(release.dir.path()).args(["evidence", "controls", "--format", "json"]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let ids: Vec<&str> =
        doc["catalogs"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["slsa", "ssdf"]);
    assert_eq!(doc["mapping"]["sbom"]["source"], "tollgate.toml");
    assert_eq!(doc["mapping"]["provenance"]["source"], "default");
    assert!(doc["mapping"]["provenance"]["why"].as_str().unwrap().contains("SLSA"));
    let output = run(tollgate(release.dir.path()).args(["evidence", "controls"]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("* sbom                 ssdf:PW.4.4"), "{stdout}");
    assert!(stdout.contains("  RV.3.4   Review the SDLC process"), "{stdout}");

    std::fs::write(
        &config,
        format!("{original}\n[evidence.controls]\nprovenance = [\"slsa:Build-L9\"]\n"),
    )
    .unwrap();
    for args in [
        &["evidence", "build", "--key", "keys/tollgate.key", "--output", "bad.tar.gz"][..],
        &["evidence", "controls"][..],
    ] {
        let output = run(tollgate(release.dir.path()).args(args));
        assert_eq!(output.status.code(), Some(2), "{}", text(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            // The key's line and column, as for a parse error.
            stderr.starts_with("error: ./tollgate.toml:")
                && stderr.contains(":15: evidence.controls.provenance[0]: ")
                && stderr.contains("has no control \"Build-L9\""),
            "{}",
            text(&output)
        );
    }
    assert!(!release.dir.path().join("bad.tar.gz").exists());
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
