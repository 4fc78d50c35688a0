//! The Sigstore bundle and DSSE envelope readers, then signature verification with the fuzz
//! key (`fuzz/keys/fuzz.pub`; seeds signed with it reach past the signature check).
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tollgate_attest::bundle::Bundle;
use tollgate_attest::dsse::{self, Envelope};
use tollgate_attest::keys::VerifyingKey;
use tollgate_attest::verify::{Coverage, Policy, verify_attestation};

fn key() -> &'static VerifyingKey {
    static KEY: OnceLock<VerifyingKey> = OnceLock::new();
    KEY.get_or_init(|| {
        VerifyingKey::from_pem(Path::new("fuzz.pub"), include_str!("../keys/fuzz.pub"))
            .expect("fuzz key")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(envelope) = Envelope::from_json(Path::new("envelope.json"), text) {
        let _ = dsse::verify_envelope(&envelope, key());
    }
    if let Ok(bundle) = Bundle::from_json(Path::new("bundle.json"), text) {
        let policy = Policy {
            builder_ids: Vec::new(),
            source_repo: None,
            source_ref: None,
            max_age: None,
            now: time::OffsetDateTime::UNIX_EPOCH,
        };
        // No artifact given: nothing was checked, so nothing may verify.
        for coverage in [Coverage::AllSubjects, Coverage::Subset] {
            let verified = verify_attestation(&bundle, key(), &[], coverage, &policy);
            assert!(verified.is_err(), "verified with no artifacts: {verified:?}");
        }
    }
});
