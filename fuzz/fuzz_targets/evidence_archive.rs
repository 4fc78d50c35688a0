//! The evidence bundle reader (`evidence verify` and `evidence show`) on arbitrary archives. The
//! first byte picks `.tar.gz` or `.tar.zst`; verification uses the fuzz key
//! (`fuzz/keys/fuzz.pub`), which signed the seed bundles.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tollgate_attest::keys::VerifyingKey;

fn key() -> &'static VerifyingKey {
    static KEY: OnceLock<VerifyingKey> = OnceLock::new();
    KEY.get_or_init(|| {
        VerifyingKey::from_pem(Path::new("fuzz.pub"), include_str!("../keys/fuzz.pub"))
            .expect("fuzz key")
    })
}

fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("tollgate-fuzz-evidence-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, archive)) = data.split_first() else { return };
    let name = if selector % 2 == 0 { "bundle.tar.gz" } else { "bundle.tar.zst" };
    let path = scratch().join(name);
    std::fs::write(&path, archive).expect("write bundle");
    let verified = tollgate_evidence::verify(&path, key());
    let shown = tollgate_evidence::show(&path);
    // What verifies must also read.
    if verified.is_ok() {
        assert!(shown.is_ok(), "verified but show failed: {shown:?}");
    }
});
