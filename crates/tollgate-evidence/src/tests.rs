use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use flate2::Compression;
use sha2::{Digest as _, Sha256};
use tollgate_attest::keys::{KeyAlgorithm, SigningKey};

use super::*;
use crate::container::open;

fn run_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("sbom")).unwrap();
    std::fs::create_dir_all(root.join("attest")).unwrap();
    std::fs::write(root.join("sbom/cyclonedx.json"), "{\"bomFormat\":\"CycloneDX\"}\n").unwrap();
    std::fs::write(root.join("attest/provenance.sigstore.json"), "{}\n").unwrap();
    std::fs::write(root.join("sbom.json"), "{\"gate\":\"sbom\"}\n").unwrap();
    std::fs::write(
        root.join("release.json"),
        r#"{"runId":"20231114T221320Z","started":"2023-11-14T22:13:20Z","verdict":"go"}"#,
    )
    .unwrap();
    // Long enough to need a GNU long-name entry.
    let deep = format!("{}/{}", "d".repeat(60), "e".repeat(60));
    std::fs::create_dir_all(root.join(&deep)).unwrap();
    std::fs::write(root.join(&deep).join("x.txt"), vec![b'x'; 70_000]).unwrap();
    dir
}

fn key() -> SigningKey {
    SigningKey::generate(KeyAlgorithm::Ed25519).unwrap()
}

type Entries = Vec<(String, tar::Header, Vec<u8>)>;

fn entries(bundle: &Path) -> Entries {
    let mut archive = tar::Archive::new(open(bundle).unwrap());
    let mut out = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let header = entry.header().clone();
        let path = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        out.push((path, header, data));
    }
    out
}

fn set_raw_path(header: &mut tar::Header, path: &str) {
    let name = &mut header.as_old_mut().name;
    name.fill(0);
    name[..path.len()].copy_from_slice(path.as_bytes());
    header.set_cksum();
}

fn write(out: &Path, entries: &Entries) {
    let file = File::create(out).unwrap();
    let gz = flate2::write::GzEncoder::new(file, Compression::default());
    let mut builder = tar::Builder::new(gz);
    for (path, header, data) in entries {
        let mut header = header.clone();
        header.set_size(data.len() as u64);
        if path.len() < 100 {
            set_raw_path(&mut header, path);
            builder.append(&header, data.as_slice()).unwrap();
        } else {
            builder.append_data(&mut header, path, data.as_slice()).unwrap();
        }
    }
    builder.into_inner().unwrap().finish().unwrap();
}

/// A built bundle, its temp dirs (run dir, output dir) and the key that signed it.
fn built() -> ((tempfile::TempDir, tempfile::TempDir), PathBuf, SigningKey) {
    let dir = run_dir();
    let out = tempfile::tempdir().unwrap();
    let bundle = out.path().join("evidence.tar.gz");
    let key = key();
    build(dir.path(), &key, &bundle, "0.1.0").unwrap();
    ((dir, out), bundle, key)
}

fn tampered(bundle: &Path, change: impl FnOnce(&mut Entries)) -> PathBuf {
    let mut all = entries(bundle);
    change(&mut all);
    let out = bundle.with_file_name("tampered.tar.gz");
    write(&out, &all);
    out
}

fn index_of(all: &Entries, path: &str) -> usize {
    all.iter().position(|(p, _, _)| p == path).unwrap()
}

#[test]
fn builds_reproducibly_and_verifies() {
    let dir = run_dir();
    let out = tempfile::tempdir().unwrap();
    let key = key();
    let a = out.path().join("a.tar.gz");
    let b = out.path().join("b.tar.gz");
    let built = build(dir.path(), &key, &a, "0.1.0").unwrap();
    build(dir.path(), &key, &b, "0.1.0").unwrap();
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let manifest = &built.manifest;
    assert_eq!(manifest.release.run_id, "20231114T221320Z");
    assert_eq!(manifest.release.verdict.as_deref(), Some("go"));
    let paths: Vec<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
    assert_eq!(paths.len(), 8, "5 run files + the OSCAL, GitLab and HTML exports: {paths:?}");
    let sbom = manifest.files.iter().find(|f| f.path == "sbom/cyclonedx.json").unwrap();
    assert_eq!(sbom.media_type, "application/vnd.cyclonedx+json");
    assert_eq!(sbom.kind, EvidenceKind::Sbom);
    assert!(sbom.controls.contains(&"ssdf:PS.3.2".to_owned()), "{:?}", sbom.controls);
    let kind_of = |path: &str| manifest.files.iter().find(|f| f.path == path).unwrap().kind;
    assert_eq!(kind_of("sbom.json"), EvidenceKind::GateReport);
    assert_eq!(kind_of("release.json"), EvidenceKind::ReleaseSummary);
    assert_eq!(kind_of("attest/provenance.sigstore.json"), EvidenceKind::Provenance);
    assert_eq!(kind_of(oscal::ASSESSMENT_RESULTS), EvidenceKind::Export);
    assert_eq!(kind_of(gitlab::RELEASE_EVIDENCE), EvidenceKind::Export);
    assert_eq!(manifest.schema_version, "2");
    assert_eq!(manifest.catalogs, ["soc2", "iso27001", "ssdf", "slsa"]);
    assert_eq!(manifest.producer.tool.version, "0.1.0");
    assert_eq!(manifest.producer.config_sha256, hex::encode(Sha256::digest(b"{}")));
    assert_eq!(manifest.producer.policy_sha256, Mapping::default().policy_sha256(&[]));
    let coverage = manifest.coverage();
    let slsa = coverage.catalogs.iter().find(|c| c.id == "slsa").unwrap();
    assert_eq!((slsa.covered, slsa.total), (2, 3));
    assert_eq!(sbom.sha256, hex::encode(Sha256::digest(b"{\"bomFormat\":\"CycloneDX\"}\n")));
    let summary = verify(&a, &key.verifying_key()).unwrap();
    assert_eq!(summary.manifest, built.manifest);
    assert_eq!(summary.manifest_sha256, built.manifest_sha256);
    let shown = show(&a).unwrap();
    assert_eq!(shown.manifest_sha256, built.manifest_sha256);
    // Fixed header fields.
    for (_, header, _) in entries(&a) {
        assert_eq!(header.mtime().unwrap(), 0);
        assert_eq!(header.uid().unwrap(), 0);
        assert_eq!(header.username().unwrap(), Some(""));
        let mode = header.mode().unwrap();
        assert!(mode == 0o644 || mode == 0o755, "{mode:o}");
    }
    // The gzip header has no mtime and no file name.
    let bytes = std::fs::read(&a).unwrap();
    assert_eq!(&bytes[4..8], &[0, 0, 0, 0]);
    assert_eq!(bytes[3] & 0x08, 0);
}

#[test]
fn run_dir_problems_are_input_errors() {
    let dir = run_dir();
    let out = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(MANIFEST), "{}").unwrap();
    let err = build(dir.path(), &key(), &out.path().join("e.tar.gz"), "0").unwrap_err();
    assert!(err.is_input_error() && err.to_string().contains("reserved"), "{err}");
    std::fs::remove_file(dir.path().join(MANIFEST)).unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link")).unwrap();
        let err = build(dir.path(), &key(), &out.path().join("e.tar.gz"), "0").unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
    }
    let err = build(dir.path(), &key(), &out.path().join("e.zip"), "0").unwrap_err();
    assert!(matches!(err, EvidenceError::UnsupportedFormat { .. }), "{err}");
}

#[test]
fn every_tampering_is_named() {
    let (_out, bundle, key) = built();
    let public = key.verifying_key();
    let check = |path: PathBuf, want: &str| {
        let err = verify(&path, &public).unwrap_err();
        assert!(!err.is_input_error(), "{err}");
        assert!(err.to_string().contains(want), "{want}: {err}");
        err
    };
    let err = check(
        tampered(&bundle, |all| {
            let i = index_of(all, "sbom.json");
            all[i].2[2] = b'G';
        }),
        "\"sbom.json\": sha256 is",
    );
    assert!(matches!(err, EvidenceError::DigestMismatch { .. }));
    check(
        tampered(&bundle, |all| {
            let i = index_of(all, "sbom.json");
            all[i].2.push(b' ');
        }),
        "\"sbom.json\": size is",
    );
    check(tampered(&bundle, |all| all[0].2[5] ^= 1), "manifest tampered");
    check(
        tampered(&bundle, |all| {
            let mut env: serde_json::Value = serde_json::from_slice(&all[1].2).unwrap();
            env["signatures"][0]["sig"] = "AAAA".into();
            all[1].2 = serde_json::to_vec(&env).unwrap();
        }),
        "signature does not verify",
    );
    let err = verify(&bundle, &self::key().verifying_key()).unwrap_err();
    assert!(matches!(err, EvidenceError::BadSignature { .. }), "{err}");
    check(
        tampered(&bundle, |all| {
            let mut h = all[0].1.clone();
            h.set_entry_type(tar::EntryType::Regular);
            all.push(("extra.txt".into(), h, b"x".to_vec()));
        }),
        "extra file \"extra.txt\"",
    );
    check(
        tampered(&bundle, |all| {
            let i = index_of(all, "sbom.json");
            all.remove(i);
        }),
        "missing file \"sbom.json\"",
    );
    check(
        tampered(&bundle, |all| {
            let i = index_of(all, "sbom.json");
            let dup = all[i].clone();
            all.push(dup);
        }),
        "more than once",
    );
    let special = |kind: tar::EntryType, name: &str, want: &str| {
        check(
            tampered(&bundle, |all| {
                let mut h = all[0].1.clone();
                h.set_entry_type(kind);
                h.set_link_name("sbom.json").unwrap();
                all.insert(2, (name.to_owned(), h, Vec::new()));
            }),
            want,
        )
    };
    special(tar::EntryType::Regular, "../x", "\"../x\" escapes the archive");
    special(tar::EntryType::Regular, "a/../../x", "escapes the archive");
    special(tar::EntryType::Regular, "/etc/x", "absolute path");
    special(tar::EntryType::Symlink, "s", "\"s\" is a symbolic link");
    special(tar::EntryType::Link, "h", "\"h\" is a hard link");
    special(tar::EntryType::Fifo, "f", "\"f\" is a FIFO");
    special(tar::EntryType::Char, "c", "character device");
    special(tar::EntryType::Regular, "./x", "unsafe path");
    // Manifest not first.
    check(tampered(&bundle, |all| all.swap(0, 1)), "expected manifest.json as entry 0");
}

#[test]
fn truncated_and_corrupt_archives_are_named() {
    let (_out, bundle, key) = built();
    let bytes = std::fs::read(&bundle).unwrap();
    for cut in [bytes.len() / 2, bytes.len() - 10, 30] {
        let path = bundle.with_file_name("cut.tar.gz");
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let err = verify(&path, &key.verifying_key()).unwrap_err();
        assert!(
            matches!(err, EvidenceError::Corrupt { .. } | EvidenceError::ManifestMissing { .. }),
            "{cut}: {err}"
        );
        assert!(err.to_string().contains("cut.tar.gz"), "{err}");
    }
    // Not a bundle at all (no gzip magic number, or empty): an input error naming the file,
    // for verify and show alike. A file that starts like the magic number is a truncated one.
    let path = bundle.with_file_name("junk.tar.gz");
    for (bytes, found) in [
        (&b"not a gzip file at all"[..], "found a file starting with 6e 6f 74 20"),
        (&b""[..], "found an empty file"),
    ] {
        std::fs::write(&path, bytes).unwrap();
        for err in [verify(&path, &key.verifying_key()).unwrap_err(), show(&path).unwrap_err()] {
            assert!(err.is_input_error(), "{err}");
            assert!(matches!(err, EvidenceError::NotABundle { .. }), "{err}");
            assert!(err.to_string().contains("junk.tar.gz: not a bundle"), "{err}");
            assert!(err.to_string().contains(found), "{err}");
            assert!(err.to_string().contains("magic number 1f 8b"), "{err}");
        }
    }
    std::fs::write(&path, [0x1f]).unwrap();
    let err = verify(&path, &key.verifying_key()).unwrap_err();
    assert!(matches!(err, EvidenceError::Corrupt { .. }), "{err}");
    // A zstd bundle holding gzip is not a zstd bundle.
    let path = bundle.with_file_name("gzip.tar.zst");
    std::fs::copy(&bundle, &path).unwrap();
    let err = verify(&path, &key.verifying_key()).unwrap_err();
    assert!(err.is_input_error() && err.to_string().contains("zstd stream"), "{err}");
    let err = verify(&bundle.with_file_name("nope.tar.gz"), &key.verifying_key()).unwrap_err();
    assert!(err.is_input_error(), "{err}");
}

#[test]
fn zstd_bundles_are_reproducible_verify_and_detect_truncation() {
    let dir = run_dir();
    let out = tempfile::tempdir().unwrap();
    let key = key();
    let a = out.path().join("a.tar.zst");
    let b = out.path().join("b.tzst");
    build(dir.path(), &key, &a, "0.1.0").unwrap();
    build(dir.path(), &key, &b, "0.1.0").unwrap();
    let bytes = std::fs::read(&a).unwrap();
    assert_eq!(bytes, std::fs::read(&b).unwrap());
    assert_eq!(&bytes[..4], &[0x28, 0xb5, 0x2f, 0xfd], "zstd magic");
    assert_eq!(verify(&a, &key.verifying_key()).unwrap().manifest.files.len(), 8);
    assert_eq!(show(&b).unwrap().manifest.release.run_id, "20231114T221320Z");
    let cut = out.path().join("cut.tar.zst");
    std::fs::write(&cut, &bytes[..bytes.len() - 3]).unwrap();
    let err = verify(&cut, &key.verifying_key()).unwrap_err();
    assert!(matches!(err, EvidenceError::Corrupt { .. }), "{err}");
    let mut junk = bytes.clone();
    junk.extend_from_slice(b"trailing junk");
    std::fs::write(&cut, &junk).unwrap();
    let err = verify(&cut, &key.verifying_key()).unwrap_err();
    assert!(matches!(err, EvidenceError::Corrupt { .. }), "{err}");
}

#[test]
fn data_after_the_gzip_stream_is_rejected() {
    let (_dirs, bundle, key) = built();
    let mut bytes = std::fs::read(&bundle).unwrap();
    bytes.extend_from_slice(b"hidden");
    std::fs::write(&bundle, &bytes).unwrap();
    let err = verify(&bundle, &key.verifying_key()).unwrap_err();
    assert!(err.to_string().contains("data after the end of the gzip stream"), "{err}");
}

#[test]
fn configuration_policies_and_generated_documents_shape_the_manifest() {
    let dir = run_dir();
    let out = tempfile::tempdir().unwrap();
    let key = key();
    let policies = out.path().join("repo/policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::write(policies.join("release.rego"), "package release\n").unwrap();
    let text = "[evidence]\ncatalogs = [\"slsa\"]\n[evidence.controls]\ngate-report = [\"slsa:Build-L3\"]\n";
    let config = evidence_config(text);
    let options = BuildOptions::new("9.9.9")
        .config(config.clone(), text.as_bytes().to_vec(), "repo/tollgate.toml")
        .policies_dir(&policies)
        .document(GeneratedDocument::new("report.html", |g: &Generation<'_>| {
            Ok(format!("<p>{} files</p>\n", g.files.len()).into_bytes())
        }));
    let bundle = out.path().join("c.tar.gz");
    let built = build(dir.path(), &key, &bundle, options).unwrap();
    let m = &built.manifest;
    assert_eq!(m.catalogs, ["slsa"]);
    let gate = m.files.iter().find(|f| f.path == "sbom.json").unwrap();
    assert_eq!(gate.controls, ["slsa:Build-L3"]);
    let sbom = m.files.iter().find(|f| f.path == "sbom/cyclonedx.json").unwrap();
    assert!(sbom.controls.is_empty(), "no slsa control for SBOMs: {:?}", sbom.controls);
    let report = m.files.iter().find(|f| f.path == "report.html").unwrap();
    assert_eq!((report.kind, report.media_type.as_str()), (EvidenceKind::Export, "text/html"));
    assert_eq!(m.producer.policies.len(), 1);
    assert_eq!(m.producer.policies[0].path, "policies/release.rego");
    assert_eq!(m.producer.policies[0].sha256, hex::encode(Sha256::digest(b"package release\n")));
    // Config and policy set are digested: a different config, a different policy file, a
    // different digest.
    assert_eq!(m.producer.config_sha256, hex::encode(Sha256::digest(text.as_bytes())));
    let before = m.producer.policy_sha256.clone();
    std::fs::write(policies.join("release.rego"), "package release2\n").unwrap();
    let options = BuildOptions::new("9.9.9")
        .config(config, text.as_bytes().to_vec(), "repo/tollgate.toml")
        .policies_dir(&policies);
    let again = build(dir.path(), &key, &out.path().join("d.tar.gz"), options).unwrap();
    assert_ne!(again.manifest.producer.policy_sha256, before);
    // Everything, generated documents included, verifies; the report's bytes are the generator's.
    let summary = verify(&bundle, &key.verifying_key()).unwrap();
    assert_eq!(summary.manifest, built.manifest);
    let all = entries(&bundle);
    let html = all.iter().find(|(p, _, _)| p == "report.html").unwrap();
    assert_eq!(html.2, b"<p>5 files</p>\n");
    // Directories of generated documents are entries of their own, before their files.
    let names: Vec<&str> = all.iter().map(|(p, _, _)| p.as_str()).collect();
    let oscal_dir = names.iter().position(|n| *n == "oscal/").unwrap();
    assert_eq!(names[oscal_dir + 1], oscal::ASSESSMENT_RESULTS);
}

#[test]
fn bad_evidence_config_and_reserved_paths_are_input_errors() {
    let dir = run_dir();
    let out = tempfile::tempdir().unwrap();
    let config = evidence_config("[evidence.controls]\nsbom = [\"soc2:CC99.1\"]\n");
    let options = BuildOptions::new("0").config(config, b"{}".to_vec(), "repo/tollgate.toml");
    let err = build(dir.path(), &key(), &out.path().join("e.tar.gz"), options).unwrap_err();
    assert!(err.is_input_error(), "{err}");
    assert_eq!(
        err.to_string(),
        "repo/tollgate.toml: evidence.controls.sbom[0]: \"soc2:CC99.1\": catalog soc2 (SOC 2: \
         2017 Trust Services Criteria, Common Criteria (CC series)) has no control \"CC99.1\""
    );
    assert!(!out.path().join("e.tar.gz").exists());
    std::fs::create_dir_all(dir.path().join("oscal")).unwrap();
    std::fs::write(dir.path().join(oscal::ASSESSMENT_RESULTS), "{}").unwrap();
    let err = build(dir.path(), &key(), &out.path().join("e.tar.gz"), "0").unwrap_err();
    assert!(err.is_input_error() && err.to_string().contains("reserved"), "{err}");
    std::fs::remove_dir_all(dir.path().join("oscal")).unwrap();
    std::fs::write(dir.path().join("gitlab"), "a file where a directory is generated").unwrap();
    let err = build(dir.path(), &key(), &out.path().join("e.tar.gz"), "0").unwrap_err();
    assert!(err.to_string().contains("reserved"), "{err}");
}

#[test]
fn other_manifest_schema_versions_are_rejected_by_name() {
    let (_dirs, bundle, _key) = built();
    for (from, to) in [
        ("\"schemaVersion\": \"2\"", "\"schemaVersion\": \"1\""),
        ("\"schemaVersion\": \"2\"", "\"schemaVersion\": 3"),
    ] {
        let path = tampered(&bundle, |all| {
            let text = String::from_utf8(all[0].2.clone()).unwrap();
            assert!(text.contains(from), "{text}");
            all[0].2 = text.replacen(from, to, 1).into_bytes();
        });
        let err = show(&path).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("/schemaVersion is") && text.contains("this tollgate reads \"2\""),
            "{text}"
        );
        assert!(text.contains("tampered.tar.gz: manifest.json"), "{text}");
    }
}

/// A small run directory with fixed contents: one passing and one failing gate, an SBOM,
/// provenance, a JUnit report and git.json, at SOURCE_DATE_EPOCH-like time 1700000000.
fn small_generation_inputs() -> (tempfile::TempDir, Vec<FileEntry>, ReleaseIdentity, Producer) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Real GateReports, serialized as `tollgate release` writes them.
    let gate = |name: &str, _verdict: &str, severity: &str| {
        let severity = match severity {
            "error" => tollgate_core::Severity::Error,
            _ => tollgate_core::Severity::Info,
        };
        let report = tollgate_core::GateReport::new(
            name,
            vec![tollgate_core::GateInput {
                name: "Cargo.lock".into(),
                digest: tollgate_core::Digest::sha256(b"lock"),
            }],
            vec![tollgate_core::Finding::new(format!("{name}/x"), severity, "m")],
            tollgate_core::Severity::Error,
            "2023-11-14T22:13:20Z".into(),
            0,
        );
        serde_json::to_string_pretty(&report).unwrap()
    };
    let files: Vec<(&str, String)> = vec![
        ("attest/provenance.sigstore.json", "{}".into()),
        ("contracts.json", gate("contracts", "fail", "error")),
        ("git.json", r#"{"range":{"head":"v1.2.0"}}"#.into()),
        ("junit.xml", "<testsuites/>".into()),
        ("notes.txt", "n".into()),
        ("sbom.json", gate("sbom", "pass", "info")),
        (
            "sbom/cyclonedx.json",
            r#"{"metadata":{"component":{"name":"shop","description":"The shop"}}}"#.into(),
        ),
    ];
    let mapping = Mapping::default();
    let mut entries = Vec::new();
    for (path, text) in files {
        std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
        std::fs::write(root.join(path), &text).unwrap();
        let kind = classify(path);
        entries.push(FileEntry {
            path: path.into(),
            size: text.len() as u64,
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
            sha512: String::new(),
            media_type: media_type(path).into(),
            kind,
            controls: mapping.controls(kind).to_vec(),
        });
    }
    let release = ReleaseIdentity {
        run_id: "20231114T221320Z".into(),
        started: Some("2023-11-14T22:13:20Z".into()),
        verdict: Some("no-go".into()),
    };
    let producer = Producer {
        tool: Tool { name: "tollgate".into(), version: "0.1.0".into() },
        config_sha256: "c".repeat(64),
        policy_sha256: "p".repeat(64),
        policies: Vec::new(),
    };
    (dir, entries, release, producer)
}

fn with_generation<T>(catalogs: &str, f: impl FnOnce(&Generation<'_>) -> T) -> T {
    let (dir, files, release, producer) = small_generation_inputs();
    let mapping = Mapping::from_config(&evidence_config(catalogs), Path::new("t.toml")).unwrap();
    let files: Vec<FileEntry> = files
        .into_iter()
        .map(|mut f| {
            f.controls = mapping.controls(f.kind).to_vec();
            f
        })
        .collect();
    let coverage = controls::coverage_of(
        &mapping.catalogs,
        files.iter().map(|f| (f.path.as_str(), f.controls.as_slice())),
    );
    let g = Generation {
        run_dir: dir.path(),
        release: &release,
        producer: &producer,
        files: &files,
        mapping: &mapping,
        coverage: &coverage,
        source_date_epoch: 1_700_000_000,
    };
    f(&g)
}

#[test]
fn oscal_document_snapshot() {
    let text = with_generation("[evidence]\ncatalogs = [\"slsa\"]\n", |g| {
        String::from_utf8(oscal::generate(g).unwrap()).unwrap()
    });
    insta::assert_snapshot!(text);
}

#[test]
fn oscal_findings_follow_evidence_and_gate_verdicts() {
    let doc = with_generation("", oscal::document);
    let ar = &doc["assessment-results"];
    assert_eq!(ar["metadata"]["last-modified"], "2023-11-14T22:13:20Z");
    assert_eq!(ar["metadata"]["oscal-version"], "1.1.2");
    let result = &ar["results"][0];
    let findings = result["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 33 + 93 + 61 + 3, "one finding per control of every catalog");
    let finding = |id: &str| {
        findings.iter().find(|f| f["target"]["target-id"] == id).unwrap_or_else(|| panic!("{id}"))
    };
    // Provenance only: satisfied.
    assert_eq!(finding("slsa_Build-L1")["target"]["status"]["state"], "satisfied");
    // No evidence.
    let l3 = &finding("slsa_Build-L3")["target"]["status"];
    assert_eq!(
        (l3["state"].as_str(), l3["reason"].as_str()),
        (Some("not-satisfied"), Some("no-evidence"))
    );
    // Gate reports support ssdf:PO.4.1 and the contracts gate failed.
    let po41 = &finding("ssdf_PO.4.1")["target"]["status"];
    assert_eq!(
        (po41["state"].as_str(), po41["reason"].as_str()),
        (Some("not-satisfied"), Some("gate-failed"))
    );
    // Each gate is a TEST observation, each other kind an EXAMINE one; evidence links carry sha256.
    let observations = result["observations"].as_array().unwrap();
    let tests: Vec<&str> = observations
        .iter()
        .filter(|o| o["methods"][0] == "TEST")
        .map(|o| o["title"].as_str().unwrap())
        .collect();
    assert_eq!(tests, ["Gate contracts: fail", "Gate sbom: pass"]);
    let sbom = observations.iter().find(|o| o["title"] == "Evidence: sbom").unwrap();
    assert_eq!(sbom["methods"][0], "EXAMINE");
    assert_eq!(sbom["relevant-evidence"][0]["href"], "../sbom/cyclonedx.json");
    assert_eq!(sbom["relevant-evidence"][0]["props"][0]["name"], "sha256");
    // Findings point at existing observations.
    let uuids: Vec<&str> = observations.iter().map(|o| o["uuid"].as_str().unwrap()).collect();
    for f in findings {
        for r in f["related-observations"].as_array().into_iter().flatten() {
            assert!(uuids.contains(&r["observation-uuid"].as_str().unwrap()), "{f}");
        }
    }
    // import-ap resolves to a back-matter resource.
    let href = ar["import-ap"]["href"].as_str().unwrap();
    assert_eq!(format!("#{}", ar["back-matter"]["resources"][0]["uuid"].as_str().unwrap()), href);
    // Deterministic, and content-derived: a different file changes the document's UUID.
    let again = with_generation("", oscal::document);
    assert_eq!(doc, again);
    let other = with_generation("", |g| {
        let mut files = g.files.to_vec();
        files[0].sha256 = "0".repeat(64);
        oscal::document(&Generation { files: &files, ..*g })
    });
    assert_ne!(ar["uuid"], other["assessment-results"]["uuid"]);
}

const NIST_EXAMPLE: &str =
    include_str!("../tests/fixtures/nist/ifa_assessment-results-example.json");

/// Our document has the structure NIST's published example has: the same top-level and
/// result-level keys that OSCAL requires, and each observation and finding with the required
/// keys of the example's.
#[test]
fn oscal_shape_matches_nists_example() {
    let nist: serde_json::Value = serde_json::from_str(NIST_EXAMPLE).unwrap();
    let ours = with_generation("", oscal::document);
    let keys =
        |v: &serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    let check = |pointer: &str, required: &[&str]| {
        for (name, doc) in [("NIST example", &nist), ("ours", &ours)] {
            let v = doc.pointer(pointer).unwrap_or_else(|| panic!("{name}: {pointer} missing"));
            let present = keys(v);
            for key in required {
                assert!(
                    present.iter().any(|k| k == key),
                    "{name}: {pointer} has no {key}: {present:?}"
                );
            }
        }
    };
    assert_eq!(keys(&nist), keys(&ours));
    check("/assessment-results", &["uuid", "metadata", "import-ap", "results"]);
    check("/assessment-results/metadata", &["title", "last-modified", "version", "oscal-version"]);
    check("/assessment-results/import-ap", &["href"]);
    check(
        "/assessment-results/results/0",
        &["uuid", "title", "description", "start", "reviewed-controls", "observations", "findings"],
    );
    check(
        "/assessment-results/results/0/reviewed-controls/control-selections/0/include-controls/0",
        &["control-id"],
    );
    check(
        "/assessment-results/results/0/observations/0",
        &["uuid", "title", "description", "methods", "collected"],
    );
    check("/assessment-results/results/0/findings/0", &["uuid", "title", "description", "target"]);
    check("/assessment-results/results/0/findings/0/target", &["type", "target-id", "status"]);
    check("/assessment-results/results/0/findings/0/target/status", &["state"]);
    // The first of our findings that has evidence (NIST's only finding has some).
    let index = ours["assessment-results"]["results"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .position(|f| f.get("related-observations").is_some())
        .unwrap();
    for (doc, i) in [(&nist, 0), (&ours, index)] {
        let related = doc
            .pointer(&format!("/assessment-results/results/0/findings/{i}/related-observations/0"))
            .unwrap();
        assert!(related.get("observation-uuid").is_some(), "{related}");
    }
    assert_eq!(
        nist.pointer("/assessment-results/metadata/oscal-version").unwrap(),
        oscal::OSCAL_VERSION
    );
    assert_eq!(
        nist.pointer("/assessment-results/results/0/findings/0/target/type"),
        ours.pointer("/assessment-results/results/0/findings/0/target/type")
    );
}

#[test]
fn gitlab_document_snapshot() {
    let text = with_generation("[evidence]\ncatalogs = [\"slsa\", \"ssdf\"]\n", |g| {
        String::from_utf8(gitlab::generate(g).unwrap()).unwrap()
    });
    insta::assert_snapshot!(text);
}

#[test]
fn gitlab_document_falls_back_to_the_run() {
    let doc = with_generation("", |g| {
        let files: Vec<FileEntry> = g
            .files
            .iter()
            .filter(|f| !f.path.contains("git.json") && !f.path.starts_with("sbom/"))
            .cloned()
            .collect();
        let release = ReleaseIdentity { started: None, ..g.release.clone() };
        gitlab::document(&Generation { files: &files, release: &release, ..*g })
    });
    assert_eq!(doc["release"]["tag_name"], "20231114T221320Z");
    assert_eq!(doc["release"]["project"]["name"], serde_json::Value::Null);
    assert_eq!(doc["release"]["created_at"], "2023-11-14 22:13:20 UTC", "from SOURCE_DATE_EPOCH");
    assert_eq!(gitlab::gitlab_time("2019-06-28T13:23:40.5Z"), "2019-06-28 13:23:40 UTC");
    assert_eq!(oscal::rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(oscal::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
}

/// The `[evidence]` section of configuration text.
fn evidence_config(text: &str) -> crate::gate::EvidenceConfig {
    tollgate_core::config::parse_section(Path::new("tollgate.toml"), text, "evidence").unwrap()
}

/// Counts the bytes the verifier pulls from a (decompressed) stream.
struct Counted<R> {
    inner: R,
    count: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: std::io::Read> std::io::Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Verifies the tar stream `tar` followed by `tail` (read lazily); returns the result and
/// the bytes the verifier read.
fn verify_counted(
    bundle: &Path,
    key: &SigningKey,
    tar: &[u8],
    tail: impl std::io::Read,
) -> (Result<Summary, EvidenceError>, u64) {
    use std::io::Read as _;
    let count = std::rc::Rc::new(std::cell::Cell::new(0));
    let stream = Counted { inner: tar.chain(tail), count: count.clone() };
    let result = crate::verify::verify_stream(bundle, stream, &key.verifying_key(), |_, _| Ok(()));
    (result, count.get())
}

/// The decompressed tar stream of a bundle.
fn tar_of(bundle: &Path) -> Vec<u8> {
    let mut tar = Vec::new();
    open(bundle).unwrap().read_to_end(&mut tar).unwrap();
    tar
}

/// Rewrites the header of the entry named `name` (a name that fits the header) in `tar`.
fn patch_header(tar: &mut [u8], name: &str, change: impl FnOnce(&mut tar::Header)) {
    let field = format!("{name}\0");
    let at = (0..tar.len())
        .step_by(512)
        .find(|&i| tar[i..].starts_with(field.as_bytes()))
        .unwrap_or_else(|| panic!("no header for {name}"));
    let mut header = tar::Header::new_old();
    header.as_mut_bytes().copy_from_slice(&tar[at..at + 512]);
    change(&mut header);
    header.set_cksum();
    tar[at..at + 512].copy_from_slice(header.as_bytes());
}

#[test]
fn reading_stops_at_the_padding_bound() {
    let (_dirs, bundle, key) = built();
    let tar = tar_of(&bundle);
    let len = tar.len() as u64;
    let (result, read) = verify_counted(&bundle, &key, &tar, std::io::empty());
    assert_eq!(result.unwrap().manifest.files.len(), 8);
    assert_eq!(read, len);
    // 2 GiB of zeros after the end marker: rejected after at most one record more.
    let (result, read) = verify_counted(&bundle, &key, &tar, std::io::repeat(0).take(2 << 30));
    let err = result.unwrap_err();
    assert!(err.to_string().contains("bytes of zero padding after the end of the tar"), "{err}");
    let record_end = len.next_multiple_of(10240);
    assert_eq!(read, record_end + 1, "read up to the record's end and one byte more");
}

#[test]
fn headers_are_checked_before_their_data_is_read() {
    let (_dirs, bundle, key) = built();
    let tar = tar_of(&bundle);
    let header_end = |name: &str| {
        let field = format!("{name}\0");
        (0..tar.len()).step_by(512).find(|&i| tar[i..].starts_with(field.as_bytes())).unwrap()
            as u64
            + 512
    };
    // A file whose header claims 1 TiB (the manifest says 16 bytes), then endless zeros.
    let mut big = tar.clone();
    patch_header(&mut big, "sbom.json", |h| h.set_size(1 << 40));
    let at = header_end("sbom.json") as usize;
    let (result, read) =
        verify_counted(&bundle, &key, &big[..at], std::io::repeat(0).take(1 << 40));
    let err = result.unwrap_err();
    assert!(
        matches!(&err, EvidenceError::SizeMismatch { found, expected: 16, .. } if *found == 1 << 40),
        "{err}"
    );
    assert_eq!(read, at as u64, "nothing after the header was read");
    // A directory declaring 1 TiB of data.
    let mut dir = tar.clone();
    patch_header(&mut dir, "sbom/", |h| h.set_size(1 << 40));
    let at = header_end("sbom/") as usize;
    let (result, read) =
        verify_counted(&bundle, &key, &dir[..at], std::io::repeat(0).take(1 << 40));
    assert!(matches!(result, Err(EvidenceError::DirectoryData { .. })), "{result:?}");
    assert_eq!(read, at as u64);
    // The manifest declaring 1 TiB.
    let mut manifest = tar.clone();
    patch_header(&mut manifest, MANIFEST, |h| h.set_size(1 << 40));
    let (result, read) =
        verify_counted(&bundle, &key, &manifest[..512], std::io::repeat(0).take(1 << 40));
    assert!(matches!(result, Err(EvidenceError::ManifestInvalid { .. })), "{result:?}");
    assert_eq!(read, 512);
}

#[test]
fn empty_directories_are_left_out_and_the_bundle_verifies() {
    let dir = run_dir();
    std::fs::create_dir_all(dir.path().join("empty/inner")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let bundle = out.path().join("e.tar.gz");
    let key = key();
    build(dir.path(), &key, &bundle, "0.1.0").unwrap();
    verify(&bundle, &key.verifying_key()).unwrap();
    let names: Vec<String> = entries(&bundle).into_iter().map(|(n, _, _)| n).collect();
    assert!(names.contains(&"sbom/".to_owned()), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("empty")), "{names:?}");
}
