//! `tollgate evidence publish`: real bundles (built by `tollgate evidence build`) published to a
//! real local directory and to a real S3-compatible server (moto, `TOLLGATE_TEST_S3_ENDPOINT`,
//! started by `cargo xtask test`), whose stored objects, object lock mode and retain-until date
//! are read back with boto3 (an independent S3 client, from the validators' virtualenv).
//!
//! Exit codes: 0 published / already published, 1 refused (does not verify, or other bytes are
//! published under the key), 2 bad input or an unreachable store.

use crate::support::{python, run, text, tollgate};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const RUN_ID: &str = "20231114T221320Z";
/// `SOURCE_DATE_EPOCH` 1700000000 (`support::tollgate`) plus 30 × 365 days.
const UNTIL_30Y: &str = "2053-11-06T22:13:20Z";

/// A temp dir with keys/ and other/ key pairs and a run directory `run/` (release.json names
/// the run id; `big` adds 10 MiB of incompressible data, so the bundle is uploaded in parts).
fn workspace(big: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for keys in ["keys", "other"] {
        let output = run(tollgate(dir.path()).args(["keys", "generate", "--output-dir", keys]));
        assert!(output.status.success(), "{}", text(&output));
    }
    let run_dir = dir.path().join("run");
    std::fs::create_dir_all(run_dir.join("reports")).unwrap();
    std::fs::write(
        run_dir.join("release.json"),
        format!("{{\"runId\": \"{RUN_ID}\", \"verdict\": \"go\"}}\n"),
    )
    .unwrap();
    std::fs::write(run_dir.join("reports/gate.json"), "{\"verdict\": \"pass\"}\n").unwrap();
    if big {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut data = Vec::with_capacity(10 << 20);
        while data.len() < 10 << 20 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data.extend_from_slice(&x.to_le_bytes());
        }
        std::fs::write(run_dir.join("big.bin"), data).unwrap();
    }
    dir
}

/// `tollgate evidence build run --output NAME`, signed with keys/.
fn build(dir: &Path, name: &str) -> PathBuf {
    let output = run(tollgate(dir).args([
        "evidence",
        "build",
        "run",
        "--key",
        "keys/tollgate.key",
        "--output",
        name,
    ]));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    dir.join(name)
}

fn publish(dir: &Path, bundle: &str, key: &str, store: &str, extra: &[&str]) -> Output {
    run(tollgate(dir)
        .args(["evidence", "publish", bundle, "--key", key, "--store", store])
        .args(extra)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_ENDPOINT_URL"))
}

fn expect(output: &Output, code: i32, needles: &[&str]) {
    assert_eq!(output.status.code(), Some(code), "{}", text(output));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    for needle in needles {
        assert!(all.contains(needle), "expected {needle:?} in {}", text(output));
    }
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Every regular file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                out.push(path.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn local_directory_publish_is_write_once_read_only_and_idempotent() {
    let ws = workspace(false);
    let dir = ws.path();
    let bundle = build(dir, "evidence.tar.gz");
    let bytes = std::fs::read(&bundle).unwrap();
    let output =
        publish(dir, "evidence.tar.gz", "keys/tollgate.pub", "store", &["--retention", "30y"]);
    expect(&output, 0, &["published", UNTIL_30Y]);

    let key = format!("{RUN_ID}/evidence.tar.gz");
    let sidecar_key = format!("{key}.publication.json");
    assert_eq!(files(&dir.join("store")), vec![key.clone(), sidecar_key.clone()]);
    let published = dir.join("store").join(&key);
    assert!(std::fs::read(&published).unwrap() == bytes, "the published bytes are the bundle's");
    let sidecar_path = dir.join("store").join(&sidecar_key);
    #[cfg(unix)]
    for path in [&published, &sidecar_path] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o444, "{} is read-only", path.display());
    }
    let sidecar: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sidecar_path).unwrap()).unwrap();
    assert_eq!(sidecar["sha256"], sha256(&bytes));
    assert_eq!(sidecar["size"], bytes.len());
    assert_eq!(sidecar["runId"], RUN_ID);
    assert_eq!(sidecar["key"], key);
    assert_eq!(sidecar["bundle"], "evidence.tar.gz");
    assert_eq!(sidecar["publishedAt"], "2023-11-14T22:13:20Z");
    assert_eq!(sidecar["retentionUntil"], UNTIL_30Y);
    assert_eq!(sidecar["objectLock"], serde_json::Value::Null);
    assert_eq!(sidecar["schemaVersion"], "1");
    // The manifest digest is the one `evidence show` reports.
    let show = run(tollgate(dir).args(["evidence", "show", "evidence.tar.gz"]));
    let manifest = sidecar["manifestSha256"].as_str().unwrap();
    assert_eq!(manifest.len(), 64);
    assert!(String::from_utf8_lossy(&show.stdout).contains(manifest), "{}", text(&show));
    let sidecar_bytes = std::fs::read(&sidecar_path).unwrap();

    // The same bytes again: nothing written, success.
    let again =
        publish(dir, "evidence.tar.gz", "keys/tollgate.pub", "store", &["--retention", "30y"]);
    expect(&again, 0, &["already published", "nothing written"]);
    assert!(std::fs::read(&sidecar_path).unwrap() == sidecar_bytes);

    // Other bytes under the same run id and file name: refused, original untouched.
    std::fs::write(dir.join("run/reports/late.json"), "{}\n").unwrap();
    let other = build(dir, "evidence.tar.gz");
    assert_ne!(sha256(&std::fs::read(&other).unwrap()), sha256(&bytes));
    let refused = publish(dir, "evidence.tar.gz", "keys/tollgate.pub", "store", &[]);
    expect(&refused, 1, &["already exists with other content", &key, "never overwritten"]);
    assert!(std::fs::read(&published).unwrap() == bytes, "the original is unchanged");
    assert!(std::fs::read(&sidecar_path).unwrap() == sidecar_bytes);
    assert_eq!(files(&dir.join("store")).len(), 2, "no staging files are left behind");
}

#[test]
fn unverifiable_bundles_are_refused_before_anything_is_written() {
    let ws = workspace(false);
    let dir = ws.path();
    let bundle = build(dir, "evidence.tar.gz");
    // Signed by keys/, checked against other/: the signature does not verify.
    let wrong_key = publish(dir, "evidence.tar.gz", "other/tollgate.pub", "store", &[]);
    expect(&wrong_key, 1, &["not published", "signature does not verify"]);
    // A byte of the compressed stream changed: the archive is corrupt.
    let mut bytes = std::fs::read(&bundle).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(dir.join("tampered.tar.gz"), &bytes).unwrap();
    let tampered = publish(dir, "tampered.tar.gz", "keys/tollgate.pub", "store", &[]);
    expect(&tampered, 1, &["not published", "tampered.tar.gz"]);
    assert!(files(&dir.join("store")).is_empty(), "{:?}", files(&dir.join("store")));

    let s3 = S3::new("refused");
    let url = s3.url("evidence");
    let on_s3 = publish(dir, "tampered.tar.gz", "keys/tollgate.pub", &url, &["--retention", "30y"]);
    expect(&on_s3, 1, &["not published"]);
    assert_eq!(s3.inspect(&[])["keys"], serde_json::json!([]), "nothing was uploaded");
}

#[test]
fn bad_input_and_unreachable_stores_exit_2() {
    let ws = workspace(false);
    let dir = ws.path();
    build(dir, "evidence.tar.gz");
    let cases: &[(&str, &[&str], &str)] = &[
        ("store", &["--retention", "30y", "--object-lock", "governance"], "applies to S3"),
        ("store", &["--object-lock", "compliance"], "needs --retention"),
        // SOURCE_DATE_EPOCH is 2023-11-14: 400 days later is in the past.
        ("store", &["--retention", "400d"], "in the past"),
        ("store", &["--retention", "7 years"], "--retention"),
        ("gs://bucket/x", &[], "unsupported scheme"),
        ("s3://bucket?tier=cold", &[], "unknown query parameter"),
        // Nothing listens on port 1.
        (
            "s3://bucket/p?endpoint=http://127.0.0.1:1",
            &[],
            "head p/20231114T221320Z/evidence.tar.gz",
        ),
    ];
    for (store, extra, needle) in cases {
        let output = publish(dir, "evidence.tar.gz", "keys/tollgate.pub", store, extra);
        expect(&output, 2, &[needle]);
    }
    let missing = publish(dir, "missing.tar.gz", "keys/tollgate.pub", "store", &[]);
    expect(&missing, 2, &["missing.tar.gz"]);
    assert!(!dir.join("store").exists() || files(&dir.join("store")).is_empty());
}

#[test]
fn s3_publish_sets_object_lock_and_never_overwrites() {
    let ws = workspace(false);
    let dir = ws.path();
    let bundle = build(dir, "evidence.tar.gz");
    let bytes = std::fs::read(&bundle).unwrap();
    let s3 = S3::new("lock");
    let url = s3.url("evidence");
    let key = format!("evidence/{RUN_ID}/evidence.tar.gz");
    let sidecar_key = format!("{key}.publication.json");

    let args = ["--retention", "30y", "--object-lock", "governance"];
    let output = publish(dir, "evidence.tar.gz", "keys/tollgate.pub", &url, &args);
    expect(&output, 0, &["published", &key, "object lock GOVERNANCE"]);
    let seen = s3.inspect(&[&key, &sidecar_key]);
    assert_eq!(seen["keys"], serde_json::json!([key, sidecar_key]));
    for k in [&key, &sidecar_key] {
        let object = &seen["objects"][k];
        assert_eq!(object["ObjectLockMode"], "GOVERNANCE", "{k}: {seen}");
        assert_eq!(object["ObjectLockRetainUntilDate"], UNTIL_30Y, "{k}: {seen}");
    }
    assert_eq!(seen["objects"][&key]["sha256"], sha256(&bytes));
    let sidecar = &seen["objects"][&sidecar_key]["json"];
    assert_eq!(sidecar["objectLock"], "GOVERNANCE");
    assert_eq!(sidecar["retentionUntil"], UNTIL_30Y);
    assert_eq!(sidecar["sha256"], sha256(&bytes));

    let again = publish(dir, "evidence.tar.gz", "keys/tollgate.pub", &url, &args);
    expect(&again, 0, &["already published"]);

    std::fs::write(dir.join("run/reports/late.json"), "{}\n").unwrap();
    let other = build(dir, "evidence.tar.gz");
    let other_sha = sha256(&std::fs::read(&other).unwrap());
    let refused = publish(dir, "evidence.tar.gz", "keys/tollgate.pub", &url, &args);
    expect(&refused, 1, &["already exists with other content", &other_sha]);
    let after = s3.inspect(&[&key]);
    assert_eq!(after["objects"][&key]["sha256"], sha256(&bytes), "the original is unchanged");
    assert_eq!(after["objects"][&key]["VersionId"], seen["objects"][&key]["VersionId"]);
    assert_eq!(after["keys"].as_array().unwrap().len(), 2, "{after}");

    // The lock is enforced by the server: deleting the locked version is refused.
    let delete = s3.boto("delete-version", &[&key]);
    let delete: serde_json::Value = serde_json::from_slice(&delete.stdout).unwrap();
    assert_eq!(delete["deleted"], false, "{delete}");
}

#[test]
fn s3_large_bundle_is_streamed_in_parts_and_locked_in_compliance_mode_by_default() {
    let ws = workspace(true);
    let dir = ws.path();
    let bundle = build(dir, "evidence.tar.zst");
    let bytes = std::fs::read(&bundle).unwrap();
    assert!(bytes.len() > 8 << 20, "bigger than one part: {}", bytes.len());
    let s3 = S3::new("large");
    let url = s3.url("");
    let key = format!("{RUN_ID}/evidence.tar.zst");
    let output =
        publish(dir, "evidence.tar.zst", "keys/tollgate.pub", &url, &["--retention", "30y"]);
    expect(&output, 0, &["published", "object lock COMPLIANCE"]);
    let seen = s3.inspect(&[&key]);
    let object = &seen["objects"][&key];
    assert_eq!(object["sha256"], sha256(&bytes));
    assert_eq!(object["ContentLength"], bytes.len());
    assert_eq!(object["ObjectLockMode"], "COMPLIANCE", "{seen}");
    assert_eq!(object["ObjectLockRetainUntilDate"], UNTIL_30Y, "{seen}");
    assert_eq!(
        seen["keys"],
        serde_json::json!([key, format!("{key}.publication.json")]),
        "the staging upload is gone"
    );
    let again =
        publish(dir, "evidence.tar.zst", "keys/tollgate.pub", &url, &["--retention", "30y"]);
    expect(&again, 0, &["already published"]);
}

/// A fresh bucket with object lock enabled on the moto server, created and inspected with boto3.
struct S3 {
    endpoint: String,
    bucket: String,
}

const BOTO: &str = r#"
import hashlib, json, sys
import boto3, botocore
endpoint, bucket, action, keys = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
if action == "create":
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    sys.exit(0)
if action == "delete-version":
    version = s3.head_object(Bucket=bucket, Key=keys[0])["VersionId"]
    try:
        s3.delete_object(Bucket=bucket, Key=keys[0], VersionId=version)
        print(json.dumps({"deleted": True}))
    except botocore.exceptions.ClientError as e:
        print(json.dumps({"deleted": False, "code": e.response["Error"]["Code"]}))
    sys.exit(0)
def iso(d):
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")
listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
out = {"keys": sorted(o["Key"] for o in listed), "objects": {}}
for key in keys:
    head = s3.head_object(Bucket=bucket, Key=key)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    obj = {
        "ContentLength": head["ContentLength"],
        "ObjectLockMode": head.get("ObjectLockMode"),
        "ObjectLockRetainUntilDate": iso(head["ObjectLockRetainUntilDate"]),
        "VersionId": head.get("VersionId"),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    if key.endswith(".json"):
        obj["json"] = json.loads(body)
    out["objects"][key] = obj
print(json.dumps(out))
"#;

impl S3 {
    fn new(name: &str) -> S3 {
        let endpoint = std::env::var("TOLLGATE_TEST_S3_ENDPOINT").unwrap_or_else(|_| {
            panic!(
                "TOLLGATE_TEST_S3_ENDPOINT is not set: run `cargo xtask test`, which starts moto"
            )
        });
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let s3 = S3 { endpoint, bucket: format!("tg-{name}-{}-{nanos}", std::process::id()) };
        s3.boto("create", &[]);
        s3
    }

    fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}?endpoint={}", self.bucket, self.endpoint)
    }

    fn boto(&self, action: &str, keys: &[&str]) -> Output {
        let output = run(Command::new(python())
            .args(["-c", BOTO, &self.endpoint, &self.bucket, action])
            .args(keys));
        assert!(output.status.success(), "boto3 {action}: {}", text(&output));
        output
    }

    /// The bucket's keys, and for each of `keys`: HEAD's lock headers and version, the body's
    /// SHA-256 (and its JSON for `.json`). (moto 5.2 does not serve `GET ?retention`.)
    fn inspect(&self, keys: &[&str]) -> serde_json::Value {
        let output = self.boto("inspect", keys);
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&output)))
    }
}
