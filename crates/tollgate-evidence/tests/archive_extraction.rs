//! What `verify` accepts is what standard extractors produce.
//!
//! Every bundle the verifier accepts (built `.tar.gz` and `.tar.zst`, and one repacked with
//! GNU tar's record padding) is extracted with the system's GNU `tar` and with Python's
//! `tarfile` (`$TOLLGATE_PYTHON` or `python3` from PATH, standard library only); the extracted
//! files and their bytes are exactly the signed manifest's files (plus the manifest and its
//! envelope). Archives tampered with at the tar or compression layer, rebuilt here block by
//! block with the `tar` crate's raw header API, are rejected with their precise reason; for
//! the smuggling cases the test also shows what GNU tar or Python would have extracted.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest as _, Sha256};
use tollgate_attest::keys::{KeyAlgorithm, SigningKey};
use tollgate_evidence::{EvidenceError, MANIFEST, MANIFEST_DSSE, Manifest, build, show, verify};

/// A run directory with nested directories, an empty directory and a path long enough to need
/// a GNU long-name entry.
fn run_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("sbom")).unwrap();
    std::fs::create_dir_all(root.join("attest")).unwrap();
    std::fs::create_dir_all(root.join("empty/inner")).unwrap();
    std::fs::write(root.join("sbom/cyclonedx.json"), "{\"bomFormat\":\"CycloneDX\"}\n").unwrap();
    std::fs::write(root.join("attest/provenance.sigstore.json"), "{}\n").unwrap();
    std::fs::write(root.join("sbom.json"), "{\"gate\":\"sbom\"}\n").unwrap();
    std::fs::write(
        root.join("release.json"),
        r#"{"runId":"20231114T221320Z","started":"2023-11-14T22:13:20Z","verdict":"go"}"#,
    )
    .unwrap();
    let deep = format!("{}/{}", "d".repeat(60), "e".repeat(60));
    std::fs::create_dir_all(root.join(&deep)).unwrap();
    std::fs::write(root.join(&deep).join("x.txt"), vec![b'x'; 70_000]).unwrap();
    dir
}

struct Built {
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    out: PathBuf,
    key: SigningKey,
    manifest: Manifest,
}

impl Built {
    fn new() -> Built {
        let run = run_dir();
        let out = tempfile::tempdir().unwrap();
        let key = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
        let mut manifest = None;
        for name in ["evidence.tar.gz", "evidence.tar.zst"] {
            let built = build(run.path(), &key, &out.path().join(name), "0.1.0").unwrap();
            manifest = Some(built.manifest);
        }
        let out_path = out.path().to_owned();
        Built { _dirs: (run, out), out: out_path, key, manifest: manifest.unwrap() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.out.join(name)
    }

    fn verify(&self, name: &str) -> Result<Manifest, EvidenceError> {
        verify(&self.path(name), &self.key.verifying_key()).map(|s| s.manifest)
    }

    /// What extraction must produce: every manifest file, the manifest and its envelope.
    fn expected(&self, name: &str) -> BTreeMap<String, String> {
        let mut files: BTreeMap<String, String> =
            self.manifest.files.iter().map(|f| (f.path.clone(), f.sha256.clone())).collect();
        for member in members(&self.path(name)).iter().take(2) {
            files.insert(member.name(), sha256(&member.data));
        }
        files
    }
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The decompressed tar stream of a bundle, decoded by the compressor's own crate.
fn tar_stream(bundle: &Path) -> Vec<u8> {
    let file = std::fs::File::open(bundle).unwrap();
    let mut out = Vec::new();
    if bundle.to_string_lossy().ends_with(".zst") {
        zstd::Decoder::new(file).unwrap().read_to_end(&mut out).unwrap();
    } else {
        flate2::read::GzDecoder::new(file).read_to_end(&mut out).unwrap();
    }
    out
}

/// One tar member as it is stored: its header block and its data (GNU long-name entries are
/// members of their own).
#[derive(Clone)]
struct Member {
    header: tar::Header,
    data: Vec<u8>,
}

impl Member {
    fn name(&self) -> String {
        String::from_utf8(self.header.path_bytes().into_owned()).unwrap()
    }

    fn new(kind: tar::EntryType, name: &str, mode: u32, data: &[u8]) -> Member {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_size(data.len() as u64);
        let field = &mut header.as_old_mut().name;
        field.fill(0);
        field[..name.len()].copy_from_slice(name.as_bytes());
        header.set_cksum();
        Member { header, data: data.to_vec() }
    }

    fn file(name: &str, data: &[u8]) -> Member {
        Member::new(tar::EntryType::Regular, name, 0o644, data)
    }
}

/// The raw members of a bundle, up to the end-of-archive marker.
fn members(bundle: &Path) -> Vec<Member> {
    let stream = tar_stream(bundle);
    let mut archive = tar::Archive::new(stream.as_slice());
    let mut out = Vec::new();
    for entry in archive.entries().unwrap().raw(true) {
        let mut entry = entry.unwrap();
        let header = entry.header().clone();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        out.push(Member { header, data });
    }
    out
}

fn position(members: &[Member], name: &str) -> usize {
    members.iter().position(|m| m.name() == name).unwrap_or_else(|| panic!("{name} not found"))
}

/// A tar stream of `members`, each header written as is (its size field is not touched),
/// data padded to 512 bytes, then `end` (the end-of-archive marker and what follows it).
fn assemble(members: &[Member], end: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in members {
        out.extend_from_slice(m.header.as_bytes());
        out.extend_from_slice(&m.data);
        out.resize(out.len().next_multiple_of(512), 0);
    }
    out.extend_from_slice(end);
    out
}

const END: [u8; 1024] = [0; 1024];

fn gzip(tar: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(tar).unwrap();
    gz.finish().unwrap()
}

fn zstd(tar: &[u8]) -> Vec<u8> {
    zstd::encode_all(tar, 3).unwrap()
}

/// A zstd skippable frame (magic 0x184D2A5?) holding `data`.
fn skippable(data: &[u8]) -> Vec<u8> {
    let mut frame = 0x184D_2A53u32.to_le_bytes().to_vec();
    frame.extend_from_slice(&(data.len() as u32).to_le_bytes());
    frame.extend_from_slice(data);
    frame
}

/// Python's `tarfile`, standard library only.
fn python() -> PathBuf {
    std::env::var_os("TOLLGATE_PYTHON").map(PathBuf::from).unwrap_or_else(|| "python3".into())
}

/// The regular files under `dir` (relative paths, SHA-256); panics on anything but regular
/// files and directories.
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

/// What GNU tar extracts from `bundle` (it recognises gzip and zstd itself).
fn gnu_tar(bundle: &Path) -> BTreeMap<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new("tar")
        .arg("-xf")
        .arg(bundle)
        .arg("-C")
        .arg(dir.path())
        .output()
        .expect("GNU tar runs");
    assert!(
        output.status.success(),
        "tar -xf {}: {}",
        bundle.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    files_under(dir.path())
}

/// What Python's `tarfile` extracts from `bundle` with the `data` filter; zstd is first
/// decompressed by the `zstd` program (tarfile reads it only from Python 3.14).
fn python_tarfile(bundle: &Path) -> BTreeMap<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let mut input = bundle.to_owned();
    if bundle.to_string_lossy().ends_with(".zst") {
        input = dir.path().join("plain.tar");
        let status =
            Command::new("zstd").args(["-q", "-d", "-f", "-o"]).arg(&input).arg(bundle).status();
        assert!(status.expect("zstd runs").success());
    }
    let target = dir.path().join("out");
    let output = Command::new(python())
        .arg("-c")
        .arg(
            "import sys, tarfile\n\
             with tarfile.open(sys.argv[1]) as t:\n    t.extractall(sys.argv[2], filter='data')\n",
        )
        .arg(&input)
        .arg(&target)
        .output()
        .expect("python runs");
    assert!(output.status.success(), "tarfile: {}", String::from_utf8_lossy(&output.stderr));
    files_under(&target)
}

#[test]
fn every_accepted_bundle_extracts_to_exactly_its_manifest() {
    let built = Built::new();
    // GNU tar's own padding: the end marker, then zeros up to a 10240-byte record.
    let mut padded = assemble(&members(&built.path("evidence.tar.gz")), &END);
    padded.resize(padded.len().next_multiple_of(10240), 0);
    std::fs::write(built.path("record.tar.gz"), gzip(&padded)).unwrap();
    std::fs::write(built.path("record.tar.zst"), zstd(&padded)).unwrap();
    for name in ["evidence.tar.gz", "evidence.tar.zst", "record.tar.gz", "record.tar.zst"] {
        let manifest = built.verify(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(manifest, built.manifest, "{name}");
        let expected = built.expected(name);
        assert_eq!(expected.len(), built.manifest.files.len() + 2);
        assert_eq!(gnu_tar(&built.path(name)), expected, "{name}: GNU tar");
        assert_eq!(python_tarfile(&built.path(name)), expected, "{name}: Python tarfile");
    }
}

/// The attack of issue 13: a directory entry whose data holds a further tar header, for
/// `report.html`. Our reader skips a member's data whatever its type; GNU tar and Python read
/// a directory's "data" as the next headers.
fn directory_with_data(built: &Built) -> Vec<u8> {
    let mut all = members(&built.path("evidence.tar.gz"));
    let i = position(&all, "sbom/");
    let mut dir = all.remove(i);
    let evil = Member::file("report.html", b"<h1>all controls pass</h1>");
    dir.data = assemble(&[evil], &[]);
    dir.header.set_size(dir.data.len() as u64);
    dir.header.set_cksum();
    all.push(dir);
    assemble(&all, &END)
}

#[test]
fn a_directory_entry_with_data_is_rejected() {
    let built = Built::new();
    std::fs::write(built.path("smuggled.tar.gz"), gzip(&directory_with_data(&built))).unwrap();
    let bundle = built.path("smuggled.tar.gz");
    let evil = sha256(b"<h1>all controls pass</h1>");
    // What the standard extractors make of it: the attacker's report.
    assert_eq!(gnu_tar(&bundle)["report.html"], evil, "GNU tar");
    assert_eq!(python_tarfile(&bundle)["report.html"], evil, "Python tarfile");
    let err = built.verify("smuggled.tar.gz").unwrap_err();
    assert!(!err.is_input_error(), "{err}");
    assert!(err.to_string().contains("directory entry \"sbom/\" carries 1024 bytes"), "{err}");
}

/// Changes the header of the member `name` with `change` (its checksum is recomputed).
fn edit_header(all: &mut [Member], name: &str, change: impl FnOnce(&mut tar::Header)) {
    let i = position(all, name);
    change(&mut all[i].header);
    all[i].header.set_cksum();
}

/// A member whose data is a pax extended header record `key=value`.
fn pax(kind: u8, key: &str, value: &str) -> Member {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while format!("{len}{body}").len() != len {
        len += 1;
    }
    Member::new(tar::EntryType::new(kind), "PaxHeaders/x", 0o644, format!("{len}{body}").as_bytes())
}

#[test]
fn archives_tampered_below_the_manifest_are_rejected() {
    let built = Built::new();
    let all = members(&built.path("evidence.tar.gz"));
    let stream = assemble(&all, &END);
    let with = |change: &dyn Fn(&mut Vec<Member>)| {
        let mut all = all.clone();
        change(&mut all);
        assemble(&all, &END)
    };
    let report = Member::file("report.html", b"<h1>all controls pass</h1>");
    // The offset of the padding after sbom.json's 16 bytes of data.
    let sbom_padding = {
        let i = position(&all, "sbom.json");
        assemble(&all[..i], &[]).len() + 512 + 16
    };
    let mut bad_padding = stream.clone();
    bad_padding[sbom_padding + 3] = b'X';
    let mut long_with_nul = all.clone();
    let i = long_with_nul.iter().position(|m| m.header.entry_type().as_byte() == b'L').unwrap();
    long_with_nul[i].data[5] = 0;
    let record_end = stream.len().next_multiple_of(10240);
    let mut cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "directory not implied by the manifest",
            "gz",
            with(&|all| all.push(Member::new(tar::EntryType::Directory, "extra/", 0o755, &[]))),
            "extra directory \"extra\"",
        ),
        (
            "directory twice",
            "gz",
            with(&|all| all.push(all[position(all, "sbom/")].clone())),
            "entry \"sbom/\" appears more than once",
        ),
        (
            "directory entry with a huge size",
            "gz",
            with(&|all| edit_header(all, "sbom/", |h| h.set_size(1 << 40))),
            "directory entry \"sbom/\" carries 1099511627776 bytes",
        ),
        (
            "directory name without '/'",
            "gz",
            with(&|all| all.push(Member::new(tar::EntryType::Directory, "sbom", 0o755, &[]))),
            "a directory's name must end with '/'",
        ),
        (
            "pax extended header renaming a file",
            "gz",
            with(&|all| all.insert(2, pax(b'x', "path", "report.html"))),
            "is a pax extended header",
        ),
        (
            "pax global header",
            "gz",
            with(&|all| all.insert(2, pax(b'g', "comment", "x"))),
            "is a pax global header",
        ),
        (
            "GNU long link name",
            "gz",
            with(&|all| {
                let mut m = Member::new(tar::EntryType::new(b'K'), "././@LongLink", 0o644, b"x\0");
                m.header.set_cksum();
                all.insert(2, m);
            }),
            "is a GNU long link name",
        ),
        (
            "GNU long name with a NUL inside",
            "gz",
            assemble(&long_with_nul, &END),
            "not one NUL-terminated string",
        ),
        (
            "pre-POSIX regular file type",
            "gz",
            with(&|all| edit_header(all, "sbom.json", |h| h.as_mut_bytes()[156] = 0)),
            "pre-POSIX regular file",
        ),
        (
            "setuid mode",
            "gz",
            with(&|all| edit_header(all, "sbom.json", |h| h.set_mode(0o4755))),
            "mode field is \"0004755\" where bundles write \"0000644\"",
        ),
        (
            "owner name",
            "gz",
            with(&|all| {
                edit_header(all, "sbom.json", |h| {
                    h.as_mut_bytes()[265..269].copy_from_slice(b"root")
                })
            }),
            "user name field is \"root\"",
        ),
        (
            "size field with spaces",
            "gz",
            with(&|all| {
                edit_header(all, "sbom.json", |h| {
                    h.as_mut_bytes()[124..127].copy_from_slice(b"   ")
                })
            }),
            "size field is",
        ),
        (
            "header size larger than the manifest's",
            "gz",
            with(&|all| edit_header(all, "sbom.json", |h| h.set_size(1 << 40))),
            "\"sbom.json\": size is 1099511627776 bytes, the signed manifest says 16",
        ),
        (
            "manifest larger than accepted",
            "gz",
            with(&|all| edit_header(all, "manifest.json", |h| h.set_size(1 << 40))),
            "more than the 67108864 accepted",
        ),
        ("non-zero padding after a file's data", "gz", bad_padding, "non-zero bytes pad its data"),
        (
            "a second report.html",
            "gz",
            with(&|all| all.push(report.clone())),
            "entry \"report.html\" appears more than once",
        ),
        (
            "extra file",
            "gz",
            with(&|all| all.push(Member::file("extra.html", b"x"))),
            "extra file \"extra.html\"",
        ),
        (
            "entries after the end-of-archive marker",
            "gz",
            {
                let mut s = stream.clone();
                s.extend_from_slice(&assemble(std::slice::from_ref(&report), &END));
                s
            },
            "data after the end of the tar archive",
        ),
        (
            "one zero block as the end marker",
            "gz",
            assemble(&all, &[0; 512]),
            "incomplete end-of-archive marker",
        ),
        ("no end marker", "gz", assemble(&all, &[]), "no end-of-archive marker"),
        (
            "zero padding beyond the record",
            "gz",
            {
                let mut s = stream.clone();
                s.resize(record_end + 512, 0);
                s
            },
            "bytes of zero padding after the end of the tar archive",
        ),
        (
            "64 MiB of zero padding",
            "gz",
            {
                let mut s = stream.clone();
                s.resize(s.len() + (64 << 20), 0);
                s
            },
            "bytes of zero padding after the end of the tar archive",
        ),
        (
            "64 MiB of zero padding (zstd)",
            "zst",
            {
                let mut s = stream.clone();
                s.resize(s.len() + (64 << 20), 0);
                s
            },
            "bytes of zero padding after the end of the tar archive",
        ),
    ];
    for case in &mut cases {
        let (_, format, tar, _) = case;
        *tar = if *format == "gz" { gzip(tar) } else { zstd(tar) };
    }
    // At the compression layer.
    let gz = gzip(&stream);
    let zst = zstd(&stream);
    let cat = |a: &[u8], b: &[u8]| [a, b].concat();
    let second = assemble(std::slice::from_ref(&report), &END);
    cases.extend([
        (
            "a second gzip member",
            "gz",
            cat(&gz, &gzip(&second)),
            "data after the end of the gzip stream",
        ),
        (
            "bytes after the gzip member",
            "gz",
            cat(&gz, b"\0\0\0\0"),
            "data after the end of the gzip stream",
        ),
        (
            "a zstd skippable frame after",
            "zst",
            cat(&zst, &skippable(b"hidden")),
            "a zstd skippable frame follows the zstd frame",
        ),
        (
            "a zstd skippable frame before",
            "zst",
            cat(&skippable(b"hidden"), &zst),
            "starts with a zstd skippable frame",
        ),
        (
            "a second zstd frame",
            "zst",
            cat(&zst, &zstd(&second)),
            "data after the end of the zstd frame",
        ),
    ]);
    for (i, (case, format, bytes, expected)) in cases.iter().enumerate() {
        let name = format!("case{i}.tar.{format}");
        std::fs::write(built.path(&name), bytes).unwrap();
        let err = match built.verify(&name) {
            Ok(_) => panic!("{case}: verified"),
            Err(e) => e,
        };
        assert!(!err.is_input_error(), "{case}: {err}");
        let message = err.to_string();
        assert!(message.contains(expected), "{case}: expected {expected:?} in {message}");
        assert!(message.contains(&name), "{case}: the bundle is named: {message}");
    }
}

/// Bytes in the GNU header's extension area are a ustar prefix to Python: the verifier would
/// see `sbom.json`, Python extracts `evil/sbom.json`.
#[test]
fn header_bytes_extractors_read_differently_are_rejected() {
    let built = Built::new();
    let mut all = members(&built.path("evidence.tar.gz"));
    edit_header(&mut all, "sbom.json", |h| h.as_mut_bytes()[345..349].copy_from_slice(b"evil"));
    std::fs::write(built.path("prefix.tar.gz"), gzip(&assemble(&all, &END))).unwrap();
    let extracted = python_tarfile(&built.path("prefix.tar.gz"));
    assert!(extracted.contains_key("evil/sbom.json"), "{extracted:?}");
    assert!(!extracted.contains_key("sbom.json"), "{extracted:?}");
    let err = built.verify("prefix.tar.gz").unwrap_err();
    assert!(
        err.to_string().contains(
            "entry \"sbom.json\": its tar header's GNU extension area (ustar prefix) field is"
        ),
        "{err}"
    );
}

/// `show` reads the manifest as strictly, and calls a file that is not a bundle an input error.
#[test]
fn show_is_as_strict_about_the_manifest_entry() {
    let built = Built::new();
    let mut all = members(&built.path("evidence.tar.gz"));
    assert_eq!(show(&built.path("evidence.tar.gz")).unwrap().manifest, built.manifest);
    edit_header(&mut all, MANIFEST, |h| h.set_mode(0o4755));
    std::fs::write(built.path("mode.tar.gz"), gzip(&assemble(&all, &END))).unwrap();
    let err = show(&built.path("mode.tar.gz")).unwrap_err();
    assert!(!err.is_input_error() && err.to_string().contains("mode field"), "{err}");
    std::fs::write(built.path("text.tar.gz"), "manifest.json\n").unwrap();
    let err = show(&built.path("text.tar.gz")).unwrap_err();
    assert!(err.is_input_error() && err.to_string().contains("text.tar.gz: not a bundle"), "{err}");
    // The empty directory of the run directory is not in the archive.
    let names: Vec<String> =
        members(&built.path("evidence.tar.zst")).iter().map(Member::name).collect();
    assert!(!names.iter().any(|n| n.starts_with("empty")), "{names:?}");
    assert_eq!(names.iter().filter(|n| *n == MANIFEST_DSSE).count(), 1);
}
