use super::*;
use tollgate_attest::keys::KeyAlgorithm;

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
    let mut archive = open(bundle).unwrap();
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
    assert_eq!(paths.len(), 5);
    let sbom = manifest.files.iter().find(|f| f.path == "sbom/cyclonedx.json").unwrap();
    assert_eq!(sbom.media_type, "application/vnd.cyclonedx+json");
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
    let path = bundle.with_file_name("junk.tar.gz");
    std::fs::write(&path, b"not a gzip file at all").unwrap();
    let err = verify(&path, &key.verifying_key()).unwrap_err();
    assert!(err.to_string().contains("truncated or corrupt"), "{err}");
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
    assert_eq!(verify(&a, &key.verifying_key()).unwrap().manifest.files.len(), 5);
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
