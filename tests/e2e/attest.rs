//! `tollgate keys generate`, `attest provenance`, `sign` and `verify`: round trips over real
//! files and directories, every tamper case with its own message, policy, cosign-encrypted keys,
//! and DSSE interoperability with securesystemslib (PyPI) in both directions.

use crate::support::{copy_tree, fixture, python, repo_root, run, text, tollgate};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Both signature algorithms, as `--algorithm` spells them.
const ALGORITHMS: [&str; 2] = ["ecdsa-p256", "ed25519"];

/// What the tests attest: three real files (this repository's README, rustfmt.toml and committed
/// CycloneDX SBOM) and a directory (a copy of a real Cargo workspace fixture).
/// Files are named by their file name, files in a directory by their path inside it.
const ARTIFACTS: [&str; 4] = ["README.md", "rustfmt.toml", "cyclonedx.json", "fixture"];

const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const IN_TOTO: &str = "application/vnd.in-toto+json";

/// A temporary directory holding the artifacts; commands run inside it.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        for name in ["README.md", "rustfmt.toml"] {
            std::fs::copy(repo_root().join(name), dir.path().join(name)).unwrap();
        }
        std::fs::copy(repo_root().join("sbom/cyclonedx.json"), dir.path().join("cyclonedx.json"))
            .unwrap();
        copy_tree(&fixture("tollgate-sbom", "cargo-workspace"), &dir.path().join("fixture"));
        Workspace { dir }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn tollgate(&self, args: &[&str]) -> Output {
        run(tollgate(self.dir.path()).args(args))
    }

    /// `keys generate` into `<name>/`; returns the private and public key paths (relative).
    fn keys(&self, name: &str, algorithm: &str) -> (String, String) {
        let output =
            self.tollgate(&["keys", "generate", "--output-dir", name, "--algorithm", algorithm]);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        (format!("{name}/tollgate.key"), format!("{name}/tollgate.pub"))
    }

    /// `attest provenance --key KEY --output OUT [extra] ARTIFACTS`.
    fn attest(&self, key: &str, out: &str, extra: &[&str]) -> Output {
        let mut args = vec!["attest", "provenance", "--key", key, "--output", out];
        args.extend_from_slice(extra);
        args.extend_from_slice(&ARTIFACTS);
        self.tollgate(&args)
    }

    /// `verify --key PUB --bundle FILE [extra] ARTIFACTS`.
    fn verify(&self, public: &str, bundle: &str, extra: &[&str]) -> Output {
        let mut args = vec!["verify", "--key", public, "--bundle", bundle];
        args.extend_from_slice(extra);
        args.extend_from_slice(&ARTIFACTS);
        self.tollgate(&args)
    }

    fn json(&self, relative: &str) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.path(relative)).unwrap()).unwrap()
    }

    fn write_json(&self, relative: &str, value: &Value) {
        std::fs::write(self.path(relative), serde_json::to_string_pretty(value).unwrap()).unwrap();
    }

    /// The subjects the artifacts stand for: (name, file), sorted by name. A file is named by
    /// its file name, a file inside a directory by its `/`-separated path relative to it.
    fn subjects(&self) -> Vec<(String, PathBuf)> {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(root, &path, out);
                } else {
                    let name =
                        path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                    out.push((name, path));
                }
            }
        }
        let mut subjects = Vec::new();
        for artifact in ARTIFACTS {
            let path = self.path(artifact);
            if path.is_dir() {
                walk(&path, &path, &mut subjects);
            } else {
                subjects.push((artifact.to_owned(), path));
            }
        }
        subjects.sort();
        subjects
    }
}

/// The statement inside an envelope.
fn payload(envelope: &Value) -> Value {
    let bytes = B64.decode(envelope["payload"].as_str().unwrap()).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn sha256_hex(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts the exit code and that standard error contains every fragment; returns stderr.
fn expect_failure(output: &Output, code: i32, fragments: &[&str]) -> String {
    assert_eq!(output.status.code(), Some(code), "{}", text(output));
    let err = stderr(output);
    for fragment in fragments {
        assert!(err.contains(fragment), "{fragment:?} missing:\n{}", text(output));
    }
    err
}

fn expect_success(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(0), "{}", text(output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The independent DSSE implementation (tests/validators/dsse_interop.py, securesystemslib).
fn interop(dir: &Path, args: &[&str]) -> Output {
    run(Command::new(python())
        .current_dir(dir)
        .arg(repo_root().join("tests/validators/dsse_interop.py"))
        .args(args))
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `keys generate` writes a PKCS#8 private key only its owner can read and a public key anyone
/// can, prints neither the private key nor any line of it, and refuses to overwrite.
#[test]
fn keys_generate_writes_safe_files_and_refuses_to_overwrite() {
    let ws = Workspace::new();
    for algorithm in ALGORITHMS {
        let output =
            ws.tollgate(&["keys", "generate", "--output-dir", algorithm, "--algorithm", algorithm]);
        let stdout = expect_success(&output);
        let key = ws.path(&format!("{algorithm}/tollgate.key"));
        let public = ws.path(&format!("{algorithm}/tollgate.pub"));
        let key_pem = std::fs::read_to_string(&key).unwrap();
        let pub_pem = std::fs::read_to_string(&public).unwrap();
        assert!(key_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{algorithm}: not PKCS#8");
        assert!(pub_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{algorithm}: not SPKI");
        #[cfg(unix)]
        {
            assert_eq!(mode(&key), 0o600, "{algorithm}: private key mode");
            assert_eq!(mode(&public), 0o644, "{algorithm}: public key mode");
        }
        // Nothing of the private key reaches the terminal.
        let printed = format!("{stdout}{}", stderr(&output));
        assert!(!printed.contains("PRIVATE KEY"), "{printed}");
        for line in key_pem.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!printed.contains(line), "private key material printed:\n{printed}");
        }
        assert!(stdout.contains("tollgate.pub"), "{stdout}");
        assert!(stdout.contains(algorithm), "{stdout}");

        // A second run fails, names the file, and leaves both keys as they were.
        let output = ws.tollgate(&["keys", "generate", "--output-dir", algorithm]);
        expect_failure(&output, 2, &["tollgate.key", "already exists"]);
        assert_eq!(std::fs::read_to_string(&key).unwrap(), key_pem);
        assert_eq!(std::fs::read_to_string(&public).unwrap(), pub_pem);
    }
    // An existing public key alone is enough to refuse.
    std::fs::create_dir(ws.path("half")).unwrap();
    std::fs::write(ws.path("half/tollgate.pub"), "keep me").unwrap();
    let output = ws.tollgate(&["keys", "generate", "--output-dir", "half"]);
    expect_failure(&output, 2, &["tollgate.pub", "already exists"]);
    assert!(!ws.path("half/tollgate.key").exists());
    assert_eq!(std::fs::read_to_string(ws.path("half/tollgate.pub")).unwrap(), "keep me");
}

/// Provenance over three files and a directory, for both algorithms, as a Sigstore bundle and as
/// a bare DSSE envelope: the subjects are exactly the files with their real digests, and both
/// outputs verify.
#[test]
fn attest_and_verify_round_trip_for_both_algorithms() {
    let ws = Workspace::new();
    let expected = ws.subjects();
    assert!(expected.len() > 4, "{expected:?}");
    let files: Vec<&str> = expected.iter().map(|(name, _)| name.as_str()).collect();
    for algorithm in ALGORITHMS {
        let (key, public) = ws.keys(algorithm, algorithm);
        let bundle_file = format!("{algorithm}.sigstore.json");
        let stdout = expect_success(&ws.attest(&key, &bundle_file, &[]));
        assert!(stdout.contains(&format!("{} subject", files.len())), "{stdout}");

        let bundle = ws.json(&bundle_file);
        assert_eq!(bundle["mediaType"], BUNDLE_MEDIA_TYPE);
        assert!(bundle["verificationMaterial"]["publicKey"]["hint"].is_string(), "{bundle:#}");
        let envelope = &bundle["dsseEnvelope"];
        assert_eq!(envelope["payloadType"], IN_TOTO);
        assert_eq!(envelope["signatures"].as_array().unwrap().len(), 1);
        let statement = payload(envelope);
        assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
        assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");
        let subjects = statement["subject"].as_array().unwrap();
        let mut names: Vec<String> =
            subjects.iter().map(|s| s["name"].as_str().unwrap().to_owned()).collect();
        names.sort();
        assert_eq!(names, files, "{algorithm}");
        for (subject, (name, file)) in subjects.iter().zip(&expected) {
            assert_eq!(subject["name"], name.as_str());
            assert_eq!(subject["digest"]["sha256"], sha256_hex(file), "{name}");
            assert_eq!(subject["digest"]["sha512"].as_str().unwrap().len(), 128, "{name}");
        }
        let builder = &statement["predicate"]["runDetails"]["builder"]["id"];
        assert!(builder.as_str().is_some_and(|b| !b.is_empty()), "{statement:#}");

        let stdout = expect_success(&ws.verify(&public, &bundle_file, &[]));
        assert!(stdout.contains("verified"), "{stdout}");

        // The bare envelope: the same statement, verifiable the same way.
        let dsse_file = format!("{algorithm}.dsse.json");
        expect_success(&ws.attest(&key, &dsse_file, &["--envelope", "dsse"]));
        let envelope = ws.json(&dsse_file);
        assert_eq!(envelope["payloadType"], IN_TOTO);
        assert!(envelope.get("mediaType").is_none(), "{envelope:#}");
        assert_eq!(payload(&envelope)["subject"].as_array().unwrap().len(), files.len());
        expect_success(&ws.verify(&public, &dsse_file, &[]));
    }
}

/// One way to spoil a good bundle, and what `verify` must then say.
struct Tamper {
    name: &'static str,
    /// Changes the bundle (or the workspace) and returns the public key to verify with.
    apply: fn(&Workspace, &mut Value, &str) -> String,
    code: i32,
    fragments: &'static [&'static str],
}

fn flip_payload_byte(_: &Workspace, bundle: &mut Value, public: &str) -> String {
    let envelope = &mut bundle["dsseEnvelope"];
    let mut bytes = B64.decode(envelope["payload"].as_str().unwrap()).unwrap();
    // Inside the JSON text, so the payload stays well-formed: only the signature can tell.
    let at = bytes.len() / 2;
    bytes[at] = if bytes[at] == b'a' { b'b' } else { b'a' };
    envelope["payload"] = json!(B64.encode(bytes));
    public.to_owned()
}

fn flip_signature_byte(_: &Workspace, bundle: &mut Value, public: &str) -> String {
    let signature = &mut bundle["dsseEnvelope"]["signatures"][0]["sig"];
    let mut bytes = B64.decode(signature.as_str().unwrap()).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    *signature = json!(B64.encode(bytes));
    public.to_owned()
}

fn change_artifact_on_disk(ws: &Workspace, _: &mut Value, public: &str) -> String {
    let path = ws.path("fixture/Cargo.toml");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[0] ^= 0x20;
    std::fs::write(path, bytes).unwrap();
    public.to_owned()
}

fn change_payload_type(_: &Workspace, bundle: &mut Value, public: &str) -> String {
    bundle["dsseEnvelope"]["payloadType"] = json!("application/json");
    public.to_owned()
}

fn swap_key(ws: &Workspace, _: &mut Value, _: &str) -> String {
    ws.keys("other", "ecdsa-p256").1
}

fn change_media_type(_: &Workspace, bundle: &mut Value, public: &str) -> String {
    bundle["mediaType"] = json!("application/vnd.dev.sigstore.bundle.v0.2+json");
    public.to_owned()
}

/// A signature that does not verify says so; it cannot tell a changed payload from a changed
/// signature (both are just "this signature is not over these bytes"), so those two cases share
/// this message, which names both possibilities and the key.
const BAD_SIGNATURE: &str = "does not verify: the signed content or the signature was changed";

const TAMPERS: &[Tamper] = &[
    Tamper { name: "payload byte", apply: flip_payload_byte, code: 1, fragments: &[BAD_SIGNATURE] },
    Tamper {
        name: "signature byte",
        apply: flip_signature_byte,
        code: 1,
        fragments: &[BAD_SIGNATURE],
    },
    Tamper {
        name: "artifact byte on disk",
        apply: change_artifact_on_disk,
        code: 1,
        fragments: &["subject \"Cargo.toml\": the file's sha256 digest is", "the statement says"],
    },
    Tamper {
        name: "payload type",
        apply: change_payload_type,
        code: 1,
        fragments: &["payload type \"application/json\" is not the expected", IN_TOTO],
    },
    Tamper {
        name: "key swap",
        apply: swap_key,
        code: 1,
        fragments: &["signed by a different key: expected key id"],
    },
    Tamper {
        name: "wrong bundle media type",
        apply: change_media_type,
        code: 1,
        fragments: &["bundle media type", "v0.2+json", BUNDLE_MEDIA_TYPE],
    },
];

/// Each tampered part of a bundle fails verification with exit 1 and its own message, for both
/// algorithms: no two cases fail alike, except a changed payload and a changed signature, which
/// no verifier can tell apart (see [`BAD_SIGNATURE`]). A truncated bundle is an input error
/// (exit 2) naming the file, line and column.
#[test]
fn every_tamper_case_fails_with_its_own_message() {
    for algorithm in ALGORITHMS {
        let mut messages: Vec<(&str, String)> = Vec::new();
        for tamper in TAMPERS {
            let ws = Workspace::new();
            let (key, public) = ws.keys("k", algorithm);
            expect_success(&ws.attest(&key, "good.json", &[]));
            expect_success(&ws.verify(&public, "good.json", &[]));
            let mut bundle = ws.json("good.json");
            let public = (tamper.apply)(&ws, &mut bundle, &public);
            ws.write_json("bad.json", &bundle);
            let output = ws.verify(&public, "bad.json", &[]);
            let err = expect_failure(&output, tamper.code, tamper.fragments);
            assert!(err.contains("bad.json"), "{}: {err}", tamper.name);
            // Key ids and digests differ from run to run; compare the wording.
            let wording: String = err
                .split_whitespace()
                .filter(|w| !w.chars().any(|c| c.is_ascii_digit()))
                .collect::<Vec<_>>()
                .join(" ");
            messages.push((tamper.name, wording));
        }
        for (i, (a, ma)) in messages.iter().enumerate() {
            for (b, mb) in &messages[i + 1..] {
                if ma.contains(BAD_SIGNATURE) && mb.contains(BAD_SIGNATURE) {
                    continue;
                }
                assert_ne!(ma, mb, "{algorithm}: `{a}` and `{b}` fail with the same message");
            }
        }
        let shared = messages.iter().filter(|(_, m)| m.contains(BAD_SIGNATURE)).count();
        assert_eq!(shared, 2, "{messages:#?}");

        let ws = Workspace::new();
        let (key, public) = ws.keys("k", algorithm);
        expect_success(&ws.attest(&key, "good.json", &[]));
        let good = std::fs::read_to_string(ws.path("good.json")).unwrap();
        std::fs::write(ws.path("cut.json"), &good[..good.len() / 2]).unwrap();
        let output = ws.verify(&public, "cut.json", &[]);
        expect_failure(&output, 2, &["cut.json", "not JSON: line"]);
    }
}

/// Unreadable or malformed keys and missing artifacts are input errors (exit 2) naming the file;
/// nothing is written when signing fails.
#[test]
fn bad_input_is_exit_2_and_writes_nothing() {
    let ws = Workspace::new();
    let (key, public) = ws.keys("k", "ecdsa-p256");
    expect_success(&ws.attest(&key, "good.json", &[]));

    let output = ws.attest("missing.key", "out.json", &[]);
    expect_failure(&output, 2, &["missing.key"]);
    std::fs::write(ws.path("garbage.key"), "-----BEGIN PRIVATE KEY-----\nnot base64!\n").unwrap();
    let output = ws.attest("garbage.key", "out.json", &[]);
    expect_failure(&output, 2, &["garbage.key"]);
    // A public key is not a private key.
    let output = ws.attest(&public, "out.json", &[]);
    expect_failure(&output, 2, &["tollgate.pub"]);
    let output = ws.tollgate(&["attest", "provenance", "--key", &key, "-o", "out.json", "nope"]);
    expect_failure(&output, 2, &["nope"]);
    // Two different files that would both be the subject "Cargo.lock".
    std::fs::copy(repo_root().join("Cargo.lock"), ws.path("Cargo.lock")).unwrap();
    let output = ws.tollgate(&[
        "attest",
        "provenance",
        "--key",
        &key,
        "-o",
        "out.json",
        "Cargo.lock",
        "fixture",
    ]);
    expect_failure(&output, 2, &["\"Cargo.lock\""]);
    assert!(!ws.path("out.json").exists(), "a failed attest wrote its output");

    let output = ws.verify("missing.pub", "good.json", &[]);
    expect_failure(&output, 2, &["missing.pub"]);
    let output = ws.verify(&key, "good.json", &[]);
    expect_failure(&output, 2, &["tollgate.key"]);
    let output = ws.verify(&public, "missing.json", &[]);
    expect_failure(&output, 2, &["missing.json"]);
    std::fs::write(ws.path("list.json"), "[1, 2]").unwrap();
    let output = ws.verify(&public, "list.json", &[]);
    expect_failure(&output, 2, &["list.json"]);
    let output = ws.tollgate(&["verify", "--key", &public, "--bundle", "good.json", "nope"]);
    expect_failure(&output, 2, &["nope"]);
    let output = ws.tollgate(&["verify", "--key", &public, "--bundle", "good.json"]);
    expect_failure(&output, 2, &["ARTIFACT"]);
    let output = ws.verify(&public, "good.json", &["--max-age", "30y"]);
    expect_failure(&output, 2, &["30y"]);
}

/// A verifier never says "verified" about what it did not check: every subject must be among
/// the artifacts, so an empty directory or a partial set fails (exit 1) naming each missing
/// subject; `--subset` checks only the files given and lists each subject it did NOT check; an
/// artifact that is not a subject fails either way.
#[test]
fn verify_requires_every_subject_unless_a_subset_is_asked_for() {
    let ws = Workspace::new();
    let (key, public) = ws.keys("k", "ecdsa-p256");
    expect_success(&ws.attest(&key, "good.json", &[]));
    let all: Vec<String> = ws.subjects().into_iter().map(|(name, _)| name).collect();
    let verify = |extra: &[&str], artifacts: &[&str]| {
        let mut args = vec!["verify", "--key", &public, "--bundle", "good.json"];
        args.extend_from_slice(extra);
        args.extend_from_slice(artifacts);
        ws.tollgate(&args)
    };
    let quoted =
        |names: &[String]| names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ");

    // An empty directory: nothing checked, every subject missing.
    std::fs::create_dir(ws.path("empty")).unwrap();
    let output = verify(&[], &["empty"]);
    let err = expect_failure(
        &output,
        1,
        &[&format!(
            "{} subject(s) of the statement not found among the given artifacts: {}",
            all.len(),
            quoted(&all)
        )],
    );
    assert!(!String::from_utf8_lossy(&output.stdout).contains("verified"), "{err}");

    // A partial set: the files given match, the others are named as missing.
    let output = verify(&[], &["README.md", "fixture"]);
    let missing: Vec<String> = all
        .iter()
        .filter(|n| *n != "README.md" && !ws.path("fixture").join(n.as_str()).is_file())
        .cloned()
        .collect();
    assert_eq!(missing, ["cyclonedx.json", "rustfmt.toml"]);
    expect_failure(
        &output,
        1,
        &[&format!(
            "2 subject(s) of the statement not found among the given artifacts: {}",
            quoted(&missing)
        )],
    );

    // The same partial set as an explicit subset: verified, and the unchecked subjects listed.
    let output = verify(&["--subset"], &["README.md", "fixture"]);
    let stdout = expect_success(&output);
    let listed: Vec<&str> =
        stdout.lines().filter_map(|l| l.strip_prefix("not checked: ")).collect();
    assert_eq!(listed, missing, "{stdout}");
    assert!(
        stdout.contains(&format!("only {} of them checked, 2 NOT checked", all.len() - 2)),
        "{stdout}"
    );
    // All of them as a subset: nothing left unchecked, nothing listed.
    let stdout = expect_success(&verify(&["--subset"], &ARTIFACTS));
    assert!(!stdout.contains("not checked"), "{stdout}");
    // A subset of nothing is no verification.
    expect_failure(&verify(&["--subset"], &["empty"]), 1, &["no subject was checked"]);
    // A subset still checks each file it is given.
    std::fs::write(ws.path("rustfmt.toml"), "max_width = 1\n").unwrap();
    expect_failure(&verify(&["--subset"], &["rustfmt.toml"]), 1, &["subject \"rustfmt.toml\""]);

    // A file that is not a subject fails, with or without --subset.
    std::fs::write(ws.path("extra.txt"), "not attested\n").unwrap();
    for extra in [&[][..], &["--subset"][..]] {
        let mut artifacts = ARTIFACTS.to_vec();
        artifacts.push("extra.txt");
        expect_failure(
            &verify(extra, &artifacts),
            1,
            &["artifact \"extra.txt\" is not a subject of the statement"],
        );
    }
}

/// A statement naming one subject twice (validly signed: built with the library, since the
/// CLI never writes one) fails verification naming the duplicated name, even when one of the
/// two digests is the file's.
#[test]
fn verify_rejects_duplicate_subject_names() {
    use tollgate_attest::{bundle::Bundle, dsse, keys, statement, subject};
    let ws = Workspace::new();
    let (key, public) = ws.keys("k", "ed25519");
    let signing = keys::read_signing_key(&ws.path(&key), None).unwrap();
    let files: Vec<PathBuf> = ["README.md", "rustfmt.toml"].map(|f| ws.path(f)).to_vec();
    let mut subjects = subject::subjects_for_paths(&files).unwrap();
    let mut twin = subjects[0].clone();
    twin.digest = [("sha256".to_owned(), "00".repeat(32))].into();
    subjects.insert(0, twin);
    let made = statement::Statement::new(
        subjects,
        statement::SLSA_PROVENANCE_V1,
        json!({"runDetails": {"builder": {"id": "https://example.com/builder"}}}),
    )
    .unwrap();
    let envelope = dsse::sign(statement::PAYLOAD_TYPE, &made.to_payload(), &signing);
    let bundle = Bundle::for_envelope(envelope, &signing.verifying_key());
    std::fs::write(ws.path("dup.json"), bundle.to_json()).unwrap();
    for extra in [&[][..], &["--subset"][..]] {
        let mut args = vec!["verify", "--key", &public, "--bundle", "dup.json"];
        args.extend_from_slice(extra);
        args.extend(["README.md", "rustfmt.toml"]);
        expect_failure(
            &ws.tollgate(&args),
            1,
            &["subject name \"README.md\" appears more than once in the statement"],
        );
    }
}

fn git(dir: &Path, args: &[&str]) {
    let output = run(Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com"));
    assert!(output.status.success(), "git {args:?}: {}", text(&output));
}

/// Policy: the builder id, the source repository, the source ref and the maximum age recorded
/// in the provenance are checked, each failing with a message naming expected and found values.
/// The source is a real git repository made with the `git` command.
#[test]
fn policy_checks_builder_source_and_age() {
    let ws = Workspace::new();
    git(ws.dir.path(), &["init", "--quiet", "--initial-branch", "main"]);
    git(ws.dir.path(), &["add", "README.md", "rustfmt.toml"]);
    git(ws.dir.path(), &["commit", "--quiet", "-m", "initial"]);
    git(ws.dir.path(), &["remote", "add", "origin", "https://example.com/acme/widget.git"]);
    let (key, public) = ws.keys("k", "ed25519");
    expect_success(&ws.attest(&key, "p.json", &[]));
    let statement = payload(&ws.json("p.json")["dsseEnvelope"]);
    let builder =
        statement["predicate"]["runDetails"]["builder"]["id"].as_str().unwrap().to_owned();
    let recorded = statement["predicate"].to_string();
    assert!(recorded.contains("https://example.com/acme/widget"), "{statement:#}");

    expect_success(&ws.verify(&public, "p.json", &["--builder-id", &builder]));
    expect_success(&ws.verify(
        &public,
        "p.json",
        &["--builder-id", "https://example.com/other", "--builder-id", &builder],
    ));
    let output = ws.verify(&public, "p.json", &["--builder-id", "https://example.com/other"]);
    expect_failure(
        &output,
        1,
        &[&format!("builder {builder:?} is not allowed"), "https://example.com/other"],
    );

    expect_success(&ws.verify(
        &public,
        "p.json",
        &["--source-repo", "https://example.com/acme/widget.git"],
    ));
    let output =
        ws.verify(&public, "p.json", &["--source-repo", "https://example.com/acme/gadget"]);
    expect_failure(&output, 1, &["source repository", "https://example.com/acme/gadget"]);

    expect_success(&ws.verify(&public, "p.json", &["--source-ref", "refs/heads/main"]));
    let output = ws.verify(&public, "p.json", &["--source-ref", "refs/tags/v1.0.0"]);
    expect_failure(&output, 1, &["source ref \"refs/heads/main\"", "refs/tags/v1.0.0"]);

    // Made at SOURCE_DATE_EPOCH=1700000000; 31 days later it is too old for --max-age 30d.
    let later = (1_700_000_000 + 31 * 86_400).to_string();
    let aged = |max_age: &str| {
        run(tollgate(ws.dir.path())
            .env("SOURCE_DATE_EPOCH", &later)
            .args(["verify", "--key", &public, "--bundle", "p.json", "--max-age", max_age])
            .args(ARTIFACTS))
    };
    expect_success(&aged("32d"));
    expect_failure(&aged("30d"), 1, &["the build finished 31d 0h 0m 0s ago", "30d"]);
}

/// `sign` writes a bundle with a message signature over the file's SHA-256, for both
/// algorithms; `verify` accepts it for that file only.
#[test]
fn sign_and_verify_a_blob() {
    let ws = Workspace::new();
    for algorithm in ALGORITHMS {
        let (key, public) = ws.keys(algorithm, algorithm);
        let out = format!("{algorithm}.sig.json");
        let stdout = expect_success(&ws.tollgate(&[
            "sign",
            "--key",
            &key,
            "--output",
            &out,
            "cyclonedx.json",
        ]));
        assert!(stdout.contains(&out), "{stdout}");
        let bundle = ws.json(&out);
        assert_eq!(bundle["mediaType"], BUNDLE_MEDIA_TYPE);
        let signature = &bundle["messageSignature"];
        assert_eq!(signature["messageDigest"]["algorithm"], "SHA2_256");
        let digest = B64.decode(signature["messageDigest"]["digest"].as_str().unwrap()).unwrap();
        assert_eq!(hex::encode(digest), sha256_hex(&ws.path("cyclonedx.json")));
        assert!(!B64.decode(signature["signature"].as_str().unwrap()).unwrap().is_empty());

        let verify = |blob: &str, public: &str| {
            ws.tollgate(&["verify", "--key", public, "--bundle", &out, blob])
        };
        expect_success(&verify("cyclonedx.json", &public));
        expect_failure(&verify("README.md", &public), 1, &["README.md"]);
        let (_, other) = ws.keys(&format!("other-{algorithm}"), algorithm);
        expect_failure(&verify("cyclonedx.json", &other), 1, &["signed by a different key"]);
        let output =
            ws.tollgate(&["verify", "--key", &public, "--bundle", &out, "README.md", "Cargo.lock"]);
        expect_failure(&output, 2, &["one file"]);
    }
    // The blob changes after signing.
    let (key, public) = ws.keys("late", "ecdsa-p256");
    std::fs::write(ws.path("notes.txt"), "release notes\n").unwrap();
    expect_success(&ws.tollgate(&["sign", "--key", &key, "-o", "notes.sig", "notes.txt"]));
    std::fs::write(ws.path("notes.txt"), "release notes!\n").unwrap();
    let output = ws.tollgate(&["verify", "--key", &public, "--bundle", "notes.sig", "notes.txt"]);
    expect_failure(&output, 1, &["notes.txt"]);
}

/// A cosign-format encrypted private key (written by the independent Python helper with scrypt
/// and NaCl secretbox, as cosign does) signs with the right password from
/// TOLLGATE_KEY_PASSWORD or COSIGN_PASSWORD, and is rejected (exit 2) with a wrong or missing one.
#[test]
fn encrypted_cosign_key_with_right_and_wrong_password() {
    let ws = Workspace::new();
    for algorithm in ["ecdsa", "ed25519"] {
        let key = format!("{algorithm}-cosign.key");
        let public = format!("{algorithm}-cosign.pub");
        let output = run(Command::new(python())
            .current_dir(ws.dir.path())
            .env("COSIGN_PASSWORD", "correct horse")
            .arg(repo_root().join("tests/validators/dsse_interop.py"))
            .args([
                "cosign-key",
                "--algorithm",
                algorithm,
                "--key-out",
                &key,
                "--pub-out",
                &public,
            ]));
        assert!(output.status.success(), "{}", text(&output));
        assert!(
            std::fs::read_to_string(ws.path(&key))
                .unwrap()
                .starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")
        );

        let sign = |var: Option<(&str, &str)>, out: &str| {
            let mut cmd = tollgate(ws.dir.path());
            cmd.env_remove("TOLLGATE_KEY_PASSWORD").env_remove("COSIGN_PASSWORD");
            if let Some((name, value)) = var {
                cmd.env(name, value);
            }
            run(cmd.args(["sign", "--key", &key, "--output", out, "README.md"]))
        };
        let out = format!("{algorithm}-a.json");
        expect_success(&sign(Some(("TOLLGATE_KEY_PASSWORD", "correct horse")), &out));
        expect_success(&ws.tollgate(&["verify", "--key", &public, "--bundle", &out, "README.md"]));
        let out = format!("{algorithm}-b.json");
        expect_success(&sign(Some(("COSIGN_PASSWORD", "correct horse")), &out));
        expect_success(&ws.tollgate(&["verify", "--key", &public, "--bundle", &out, "README.md"]));

        let output = sign(Some(("TOLLGATE_KEY_PASSWORD", "battery staple")), "wrong.json");
        expect_failure(&output, 2, &[&key, "password"]);
        let output = sign(None, "none.json");
        expect_failure(&output, 2, &[&key, "password"]);
        assert!(!ws.path("wrong.json").exists() && !ws.path("none.json").exists());
        // The password never shows.
        assert!(!stderr(&output).contains("correct horse"));
    }
}

/// Tollgate -> securesystemslib: our envelopes (bare and inside bundles), signed with ECDSA
/// P-256 and Ed25519, verify with securesystemslib's Envelope.verify using our public key, the
/// PAE the Python side computes by hand from the DSSE spec equals securesystemslib's, and every
/// subject digest matches the file. A tampered envelope is rejected there too.
#[test]
fn securesystemslib_verifies_our_envelopes() {
    let ws = Workspace::new();
    for algorithm in ALGORITHMS {
        let (key, public) = ws.keys(algorithm, algorithm);
        let dsse = format!("{algorithm}.dsse.json");
        let bundle = format!("{algorithm}.sigstore.json");
        expect_success(&ws.attest(&key, &dsse, &["--envelope", "dsse"]));
        expect_success(&ws.attest(&key, &bundle, &[]));
        let mut args = vec!["verify", "--pub", &public, &dsse, &bundle];
        for artifact in ARTIFACTS {
            args.extend(["--artifact", artifact]);
        }
        let output = interop(ws.dir.path(), &args);
        assert!(output.status.success(), "{algorithm}: {}", text(&output));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(stdout.lines().filter(|l| l.starts_with("ok ")).count(), 2, "{stdout}");

        // The second implementation is live: it rejects a payload we did not sign.
        let mut envelope = ws.json(&dsse);
        let mut statement = payload(&envelope);
        statement["subject"][0]["digest"]["sha256"] = json!("0".repeat(64));
        envelope["payload"] = json!(B64.encode(statement.to_string()));
        ws.write_json("forged.json", &envelope);
        let output = interop(ws.dir.path(), &["verify", "--pub", &public, "forged.json"]);
        assert_eq!(output.status.code(), Some(1), "{}", text(&output));
        assert!(String::from_utf8_lossy(&output.stdout).contains("INVALID forged.json"));
    }
}

/// securesystemslib -> Tollgate: an in-toto statement signed by securesystemslib (CryptoSigner,
/// key generated in Python, public key exported as PEM), as a bare envelope and in a bundle,
/// verifies with `tollgate verify` for both algorithms, including a builder-id policy; another
/// key is refused.
#[test]
fn tollgate_verifies_securesystemslib_envelopes() {
    let ws = Workspace::new();
    let (_, ours) = ws.keys("ours", "ecdsa-p256");
    for algorithm in ["ecdsa", "ed25519"] {
        let public = format!("py-{algorithm}.pub");
        let dsse = format!("py-{algorithm}.dsse.json");
        let bundle = format!("py-{algorithm}.bundle.json");
        let mut args = vec![
            "sign",
            "--algorithm",
            algorithm,
            "--pub-out",
            &public,
            "--envelope-out",
            &dsse,
            "--bundle-out",
            &bundle,
            "--builder-id",
            "https://example.com/python-builder",
        ];
        args.extend(ARTIFACTS);
        let output = interop(ws.dir.path(), &args);
        assert!(output.status.success(), "{}", text(&output));

        for file in [&dsse, &bundle] {
            let stdout = expect_success(&ws.verify(&public, file, &[]));
            assert!(stdout.contains("verified"), "{stdout}");
            expect_success(&ws.verify(
                &public,
                file,
                &["--builder-id", "https://example.com/python-builder"],
            ));
            let output = ws.verify(&public, file, &["--builder-id", "https://example.com/ours"]);
            expect_failure(&output, 1, &["https://example.com/python-builder"]);
            expect_failure(&ws.verify(&ours, file, &[]), 1, &["signed by a different key"]);
        }
    }
}

/// A hand-made OIDC token: real JWT shape and claims, but an unsigned placeholder signature
/// (nothing here can check it; Fulcio would).
fn fake_identity_token(exp: i64) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
    let claims = json!({
        "iss": "https://token.actions.githubusercontent.com",
        "sub": "repo:acme/widget:ref:refs/heads/main",
        "aud": "sigstore",
        "exp": exp,
    });
    format!(
        "{}.{}.{}",
        B64URL.encode(br#"{"alg":"RS256","typ":"JWT"}"#),
        B64URL.encode(claims.to_string()),
        B64URL.encode(b"placeholder-signature")
    )
}

/// `--keyless` runs everything up to the network — finding and checking the identity token
/// (a hand-made one, see [`fake_identity_token`]), hashing, building the statement, the
/// ephemeral key and the Fulcio request — then sends it over the real HTTPS transport to the
/// Fulcio named by `SIGSTORE_FULCIO_URL`: here a closed port on 127.0.0.1, so it stops with
/// exit 2 and an error naming that URL. Nothing is written and the token is never shown. The
/// public Sigstore services are never contacted (both service URLs point at the closed port).
#[test]
fn keyless_stops_at_the_network_with_a_clear_error() {
    let ws = Workspace::new();
    // A port on 127.0.0.1 with nothing listening: bound, then closed.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let keyless = |token: Option<&str>, args: &[&str]| {
        let mut cmd = tollgate(ws.dir.path());
        for var in [
            "SIGSTORE_ID_TOKEN",
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "GITHUB_ACTIONS",
            "GITLAB_CI",
            "BUILDKITE",
            "ALL_PROXY",
            "HTTPS_PROXY",
            "HTTP_PROXY",
            "all_proxy",
            "https_proxy",
            "http_proxy",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("SIGSTORE_FULCIO_URL", &closed).env("SIGSTORE_REKOR_URL", &closed);
        if let Some(token) = token {
            cmd.env("SIGSTORE_ID_TOKEN", token);
        }
        run(cmd.args(args).args(ARTIFACTS))
    };
    let attest = ["attest", "provenance", "--keyless", "--output", "k.json"];

    let output = keyless(None, &attest);
    expect_failure(&output, 2, &["no OIDC identity token found", "SIGSTORE_ID_TOKEN"]);

    let token = fake_identity_token(4_102_444_800);
    let output = keyless(Some(&token), &attest);
    let err = expect_failure(
        &output,
        2,
        &["keyless signing", &format!("cannot reach POST {closed}/api/v2/signingCert")],
    );
    assert!(err.to_lowercase().contains("refused"), "{err}");
    assert!(!text(&output).contains(&token), "the token was printed:\n{err}");
    assert!(!text(&output).contains(token.split('.').nth(1).unwrap()), "{err}");
    assert!(!ws.path("k.json").exists(), "a failed keyless run wrote its output");

    let output = keyless(Some(&fake_identity_token(1_000_000_000)), &attest);
    expect_failure(&output, 2, &["expired"]);
    let output = keyless(Some("not-a-jwt"), &attest);
    expect_failure(&output, 2, &["not a JWT"]);

    let mut dsse = attest.to_vec();
    dsse.extend(["--envelope", "dsse"]);
    expect_failure(&keyless(Some(&token), &dsse), 2, &["drop --envelope dsse"]);
    let output = ws.tollgate(&["sign", "--keyless", "--output", "k.json", "README.md"]);
    expect_failure(&output, 2, &["keyless signing of plain blobs is not supported"]);
    let (key, _) = ws.keys("k", "ed25519");
    let output = ws.attest(&key, "k.json", &["--keyless"]);
    expect_failure(&output, 2, &["--keyless"]);
    assert!(!ws.path("k.json").exists(), "a failed keyless run wrote its output");
}
