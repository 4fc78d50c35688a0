//! Building and verifying an evidence bundle, next to plain SHA-256 over the same files.
//!
//! The run directory is generated once in a temp dir by a fixed-seed generator: by default
//! 1,000 files totalling 200 MB of incompressible data, mixed sizes (many small reports, a few
//! large artifacts); `TOLLGATE_BENCH_FILES` and `TOLLGATE_BENCH_MB` change that. Throughput is
//! reported in bytes of the run directory, so `verify` can be read against `sha256` directly
//! (the target: verify at no less than 70% of sha256's throughput). The full
//! 10,000 files / 2 GB comparison against `sha256sum` is `benches/compare.sh`.
//!
//! Run with `cargo bench -p tollgate-evidence --bench bundle`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sha2::{Digest, Sha256, Sha512};
use tollgate_attest::keys::{KeyAlgorithm, SigningKey};

/// xorshift64*: a fast fixed-seed generator; its output does not compress.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// Sizes for `files` files summing to `total` bytes: 90% small (1–64 KiB), the rest share
/// what is left in proportion to random weights (the large artifacts).
fn sizes(rng: &mut Rng, files: usize, total: u64) -> Vec<u64> {
    let small = files * 9 / 10;
    let mut sizes: Vec<u64> = (0..small).map(|_| 1024 + rng.next() % (63 * 1024)).collect();
    let used: u64 = sizes.iter().sum();
    let rest = total.saturating_sub(used);
    let weights: Vec<u64> = (small..files).map(|_| 1 + rng.next() % 1000).collect();
    let sum: u64 = weights.iter().sum::<u64>().max(1);
    sizes.extend(weights.iter().map(|w| rest * w / sum));
    sizes
}

/// Writes the run directory: `release.json` and `files` files under 100 subdirectories.
fn generate(dir: &Path, files: usize, total: u64) {
    let mut rng = Rng(0x7011_6a7e_5eed_0001);
    std::fs::write(dir.join("release.json"), "{\"runId\": \"bench\", \"verdict\": \"go\"}\n")
        .unwrap();
    let mut buf = vec![0u8; 1 << 20];
    for (i, size) in sizes(&mut rng, files, total).into_iter().enumerate() {
        let sub = dir.join(format!("d{:02}", i % 100));
        std::fs::create_dir_all(&sub).unwrap();
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(sub.join(format!("f{i:05}.bin"))).unwrap(),
        );
        let mut left = size as usize;
        while left > 0 {
            let n = left.min(buf.len());
            rng.fill(&mut buf[..n]);
            out.write_all(&buf[..n]).unwrap();
            left -= n;
        }
        out.flush().unwrap();
    }
}

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            all_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// What `sha256sum` does: SHA-256 of every file, one after the other; with `sha512`, also
/// SHA-512 of the same bytes (the hashing `verify` does, without decompression or tar).
fn hash_all(files: &[PathBuf], sha512: bool) -> Vec<Vec<u8>> {
    let mut buf = vec![0u8; 256 * 1024];
    files
        .iter()
        .map(|path| {
            let mut file = std::fs::File::open(path).unwrap();
            let mut sha256 = Sha256::new();
            let mut sha512_hasher = Sha512::new();
            loop {
                let n = file.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                sha256.update(&buf[..n]);
                if sha512 {
                    sha512_hasher.update(&buf[..n]);
                }
            }
            let mut digest = sha256.finalize().to_vec();
            if sha512 {
                digest.extend_from_slice(&sha512_hasher.finalize());
            }
            digest
        })
        .collect()
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn bundle(c: &mut Criterion) {
    let files = env_number("TOLLGATE_BENCH_FILES", 1_000) as usize;
    let total = env_number("TOLLGATE_BENCH_MB", 200) * 1_000_000;
    let temp = tempfile::tempdir().unwrap();
    let run_dir = temp.path().join("run");
    std::fs::create_dir_all(&run_dir).unwrap();
    generate(&run_dir, files, total);
    let mut paths = Vec::new();
    all_files(&run_dir, &mut paths);
    let bytes: u64 = paths.iter().map(|p| std::fs::metadata(p).unwrap().len()).sum();
    let key = SigningKey::generate(KeyAlgorithm::EcdsaP256Sha256).unwrap();
    let public = key.verifying_key();

    let mut group =
        c.benchmark_group(format!("bundle_{}files_{}MB", paths.len(), bytes / 1_000_000));
    group.throughput(Throughput::Bytes(bytes));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(20));

    group.bench_function("sha256_files", |b| b.iter(|| hash_all(&paths, false)));
    group.bench_function("sha256_sha512_files", |b| b.iter(|| hash_all(&paths, true)));
    for name in ["bundle.tar.gz", "bundle.tar.zst"] {
        let output = temp.path().join(name);
        group.bench_function(format!("build_{name}"), |b| {
            b.iter(|| tollgate_evidence::build(&run_dir, &key, &output, "bench").unwrap())
        });
        group.bench_function(format!("verify_{name}"), |b| {
            b.iter(|| tollgate_evidence::verify(&output, &public).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bundle);
criterion_main!(benches);
