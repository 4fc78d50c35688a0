//! Attesting 1 GB of artifacts: 1,000 files of 1 MiB, generated once into a temporary directory.
//!
//! - `hash`: the subjects (SHA-256 and SHA-512 of every file, read once) of the whole directory,
//!   as bytes per second. `sha256sum` on the same files is the yardstick (run side by side with
//!   hyperfine; see the figures in the note).
//! - `attestations/<algorithm>`: sign 1,000 attestations (one in-toto statement per artifact,
//!   each in its own DSSE envelope) and verify their 1,000 signatures, with ECDSA P-256 and with
//!   Ed25519.
//! - `verify_attestation`: the whole check a verifier runs on one attestation over all 1,000
//!   files: signature, payload type, and every subject's digests recomputed from disk.
//!
//! Run with `cargo bench -p tollgate-attest --bench attest`. `TOLLGATE_BENCH_FILES` (default
//! 1000) and `TOLLGATE_BENCH_FILE_KIB` (default 1024) shrink the data set for a quick run.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use std::hint::black_box;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;
use tollgate_attest::bundle::Bundle;
use tollgate_attest::dsse::{self, Envelope};
use tollgate_attest::keys::{KeyAlgorithm, SigningKey};
use tollgate_attest::statement::{self, Statement};
use tollgate_attest::subject::{self, Subject};
use tollgate_attest::verify::{self, Coverage, Policy};

/// The generated artifacts.
struct Artifacts {
    _dir: tempfile::TempDir,
    root: PathBuf,
    bytes: u64,
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// `count` files of `kib` KiB of xorshift bytes: incompressible and the same on every run.
fn generate(count: usize, kib: usize) -> Artifacts {
    let dir = tempfile::Builder::new().prefix("tollgate-bench-").tempdir().expect("temp dir");
    let root = dir.path().join("artifacts");
    std::fs::create_dir(&root).expect("artifacts dir");
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut buffer = vec![0u8; kib << 10];
    for i in 0..count {
        for chunk in buffer.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        let path = root.join(format!("artifact-{i:04}.bin"));
        std::fs::File::create(&path).and_then(|mut f| f.write_all(&buffer)).expect("write");
    }
    Artifacts { _dir: dir, root, bytes: (count * (kib << 10)) as u64 }
}

/// A small SLSA provenance predicate, as a release would sign.
fn predicate() -> serde_json::Value {
    json!({
        "buildDefinition": {
            "buildType": "https://tollgate.dev/buildtypes/release/v1",
            "externalParameters": {},
            "resolvedDependencies": [],
        },
        "runDetails": {
            "builder": { "id": "https://tollgate.dev/builders/local@v1" },
            "metadata": { "finishedOn": "2026-01-01T00:00:00Z" },
        },
    })
}

fn payload(subjects: Vec<Subject>) -> Vec<u8> {
    Statement::new(subjects, statement::SLSA_PROVENANCE_V1, predicate())
        .expect("statement")
        .to_payload()
}

fn benches(c: &mut Criterion) {
    let count = env_usize("TOLLGATE_BENCH_FILES", 1000);
    let kib = env_usize("TOLLGATE_BENCH_FILE_KIB", 1024);
    let artifacts = generate(count, kib);
    let roots = std::slice::from_ref(&artifacts.root);
    let subjects = subject::subjects_for_paths(roots).expect("subjects");
    assert_eq!(subjects.len(), count);
    let size = format!("{count}x{kib}KiB");

    let mut group = c.benchmark_group("hash");
    group.sample_size(10).warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(15));
    group.throughput(Throughput::Bytes(artifacts.bytes));
    group.bench_function(format!("subjects_for_paths/{size}"), |b| {
        b.iter(|| subject::subjects_for_paths(black_box(roots)).expect("subjects"))
    });
    group.finish();

    // One statement per artifact, as 1,000 separate attestations.
    let payloads: Vec<Vec<u8>> = subjects.iter().map(|s| payload(vec![s.clone()])).collect();
    for (name, algorithm) in
        [("ecdsa-p256", KeyAlgorithm::EcdsaP256Sha256), ("ed25519", KeyAlgorithm::Ed25519)]
    {
        let key = SigningKey::generate(algorithm).expect("key");
        let public = key.verifying_key();
        let sign_all = || -> Vec<Envelope> {
            payloads.iter().map(|p| dsse::sign(statement::PAYLOAD_TYPE, p, &key)).collect()
        };
        let envelopes = sign_all();
        for envelope in &envelopes {
            dsse::verify_envelope(envelope, &public).expect("verifies");
        }

        let mut group = c.benchmark_group(format!("attestations/{name}"));
        group.sample_size(10).warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(5));
        group.throughput(Throughput::Elements(count as u64));
        group.bench_function(format!("sign/{count}"), |b| b.iter(|| black_box(sign_all())));
        group.bench_function(format!("verify/{count}"), |b| {
            b.iter(|| {
                for envelope in &envelopes {
                    dsse::verify_envelope(black_box(envelope), &public).expect("verifies");
                }
            })
        });
        group.finish();
    }

    // The whole check of one attestation over every file.
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256Sha256).expect("key");
    let envelope = dsse::sign(statement::PAYLOAD_TYPE, &payload(subjects.clone()), &key);
    let bundle = Bundle::for_envelope(envelope, &key.verifying_key());
    let policy = Policy {
        builder_ids: vec!["https://tollgate.dev/builders/local@v1".to_owned()],
        ..Policy::default()
    };
    verify::verify_attestation(
        &bundle,
        &key.verifying_key(),
        roots,
        Coverage::AllSubjects,
        &policy,
    )
    .expect("verifies");
    let mut group = c.benchmark_group("verify_attestation");
    group.sample_size(10).warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(15));
    group.throughput(Throughput::Bytes(artifacts.bytes));
    group.bench_function(format!("ecdsa-p256/{size}"), |b| {
        b.iter(|| {
            verify::verify_attestation(
                black_box(&bundle),
                &key.verifying_key(),
                roots,
                Coverage::AllSubjects,
                &policy,
            )
            .expect("verifies")
        })
    });
    group.finish();
}

criterion_group!(attest, benches);
criterion_main!(attest);
