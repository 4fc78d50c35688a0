//! DSSE (Dead Simple Signing Envelope) v1: the signature wrapper around in-toto statements.
//!
//! The signature covers `PAE(payloadType, payload)`, never the payload alone, so a payload
//! cannot be re-labelled as another type. Key ids in the envelope are hints only (the spec
//! says they must not decide anything): verification tries the given key on every signature.

use std::path::Path;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::AttestError;
use crate::keys::{SigningKey, VerifyingKey};
use crate::verify::VerifyError;

/// A DSSE envelope in its JSON form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The payload, base64 (standard alphabet, padded, when written here; either alphabet is
    /// accepted when read).
    pub payload: String,
    /// How to interpret the payload, e.g. [`crate::statement::PAYLOAD_TYPE`].
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// The signatures over `PAE(payloadType, payload)`.
    pub signatures: Vec<Signature>,
}

/// One signature in an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// A hint naming the key (here: [`VerifyingKey::key_id`]); may be empty.
    #[serde(default)]
    pub keyid: String,
    /// The signature, base64.
    pub sig: String,
}

/// The Pre-Authentication Encoding:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths as ASCII decimal byte counts.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload_type.len() + payload.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// Signs `payload` of `payload_type` with `key`: an envelope with one signature whose key id
/// is the key's [`VerifyingKey::key_id`].
pub fn sign(payload_type: &str, payload: &[u8], key: &SigningKey) -> Envelope {
    let b64 = base64::engine::general_purpose::STANDARD;
    let signature = key.sign(&pae(payload_type, payload));
    Envelope {
        payload: b64.encode(payload),
        payload_type: payload_type.to_owned(),
        signatures: vec![Signature {
            keyid: key.verifying_key().key_id(),
            sig: b64.encode(signature),
        }],
    }
}

/// Checks that at least one signature in `env` is by `key` over the envelope's PAE, and
/// returns the decoded payload. The payload type is not judged here (the caller knows which
/// types it accepts); see [`crate::verify::verify_attestation`] for the whole check.
///
/// Errors ([`AttestError::Verify`]): [`VerifyError::KeyMismatch`] when no signature verifies
/// and none claims to be by `key` (it names the expected key id and the ones present);
/// [`VerifyError::BadSignature`] when a signature claims `key` (or names no key) but does not
/// verify; [`VerifyError::Malformed`] when the payload is not base64.
pub fn verify_envelope(env: &Envelope, key: &VerifyingKey) -> Result<Vec<u8>, AttestError> {
    Ok(verify_envelope_signatures(env, key)?)
}

pub(crate) fn verify_envelope_signatures(
    env: &Envelope,
    key: &VerifyingKey,
) -> Result<Vec<u8>, VerifyError> {
    let payload = decode_base64(&env.payload)
        .ok_or_else(|| VerifyError::Malformed { message: "/payload is not base64".into() })?;
    let message = pae(&env.payload_type, &payload);
    let verified = env
        .signatures
        .iter()
        .any(|s| decode_base64(&s.sig).is_some_and(|sig| key.verify(&message, &sig).is_ok()));
    if verified {
        return Ok(payload);
    }
    let key_id = key.key_id();
    let claims_key = env.signatures.iter().any(|s| s.keyid == key_id || s.keyid.is_empty());
    if claims_key {
        Err(VerifyError::BadSignature { key_id })
    } else {
        Err(VerifyError::KeyMismatch {
            expected_key_id: key_id,
            found_key_ids: env.signatures.iter().map(|s| s.keyid.clone()).collect(),
        })
    }
}

/// Decodes standard or URL-safe base64, padded or not (DSSE verifiers must accept either).
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD].iter().find_map(|e| e.decode(text).ok())
}

impl Envelope {
    /// Parses an envelope from JSON; errors name `path` and the line and column.
    pub fn from_json(path: &Path, text: &str) -> Result<Envelope, AttestError> {
        let envelope: Envelope = serde_json::from_str(text).map_err(|e| {
            AttestError::malformed(
                path,
                format!("not a DSSE envelope: {}", crate::error::json_error_place(&e)),
            )
        })?;
        if decode_base64(&envelope.payload).is_none() {
            return Err(AttestError::malformed(path, "/payload is not base64"));
        }
        if envelope.signatures.is_empty() {
            return Err(AttestError::malformed(path, "/signatures is empty: nothing is signed"));
        }
        for (i, signature) in envelope.signatures.iter().enumerate() {
            if decode_base64(&signature.sig).is_none() {
                return Err(AttestError::malformed(
                    path,
                    format!("/signatures/{i}/sig is not base64"),
                ));
            }
        }
        Ok(envelope)
    }

    /// The envelope as pretty-printed JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// The decoded payload, if it is valid base64.
    pub fn payload_bytes(&self) -> Option<Vec<u8>> {
        decode_base64(&self.payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyAlgorithm;

    #[test]
    fn pae_matches_the_spec_example() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
        // Lengths are bytes, not characters; an empty body still has its separator.
        assert_eq!(pae("é", b""), "DSSEv1 2 é 0 ".as_bytes());
    }

    /// The DSSE project's vectors (tests/fixtures/dsse/vectors.json): PAE bytes, and
    /// signatures made by other implementations that must verify (or not).
    #[test]
    fn dsse_test_vectors() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dsse/vectors.json");
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let key_for = |name: &str| -> VerifyingKey {
            let spec = &doc["keys"][name];
            match spec["algorithm"].as_str().unwrap() {
                "ed25519" => {
                    let seed: [u8; 32] =
                        hex::decode(spec["seed"].as_str().unwrap()).unwrap().try_into().unwrap();
                    let key = SigningKey::test_ed25519(&seed).verifying_key();
                    let public = hex::decode(spec["public"].as_str().unwrap()).unwrap();
                    assert!(key.to_spki_der().ends_with(&public));
                    key
                }
                _ => SigningKey::test_p256(&hex::decode(spec["d_hex"].as_str().unwrap()).unwrap())
                    .verifying_key(),
            }
        };
        let vectors = doc["vectors"].as_array().unwrap();
        assert!(vectors.len() >= 7);
        for vector in vectors {
            let id = vector["id"].as_str().unwrap();
            let envelope: Envelope = serde_json::from_value(vector["envelope"].clone()).unwrap();
            let payload = envelope.payload_bytes().unwrap();
            if let Some(expected) = vector["pae"].as_str() {
                assert_eq!(hex::encode(pae(&envelope.payload_type, &payload)), expected, "{id}");
            }
            if let Some(expected) = vector["pae_text"].as_str() {
                assert_eq!(pae(&envelope.payload_type, &payload), expected.as_bytes(), "{id}");
            }
            let key = key_for(vector["key"].as_str().unwrap());
            let result = verify_envelope(&envelope, &key);
            match vector["expect"].as_str().unwrap() {
                "accept" => assert_eq!(result.unwrap(), payload, "{id}"),
                _ => assert!(result.is_err(), "{id} must be rejected"),
            }
        }
    }

    #[test]
    fn ecdsa_is_deterministic_rfc6979_like_the_spec_example() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dsse/vectors.json");
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let key = SigningKey::test_p256(
            &hex::decode(doc["keys"]["protocol-ecdsa"]["d_hex"].as_str().unwrap()).unwrap(),
        );
        let envelope = sign("http://example.com/HelloWorld", b"hello world", &key);
        let der = decode_base64(&envelope.signatures[0].sig).unwrap();
        let ours = p256::ecdsa::Signature::from_der(&der).unwrap().to_bytes();
        let spec = decode_base64("A3JqsQGtVsJ2O2xqrI5IcnXip5GToJ3F+FnZ+O88SjtR6rDAajabZKciJTfUiHqJPcIAriEGAHTVeCUjW2JIZA==").unwrap();
        assert_eq!(ours.as_slice(), spec.as_slice());
    }

    /// Envelopes made by Python's `cryptography` (OpenSSL), whose ECDSA uses a random nonce
    /// and so gives high-S signatures half the time; their key id is not ours.
    #[test]
    fn envelopes_made_by_another_implementation_verify() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dsse");
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
        for (public, envelopes) in [
            (
                "python-p256.pub",
                &["python-p256-high-s.dsse.json", "python-p256-low-s.dsse.json"][..],
            ),
            ("python-ed25519.pub", &["python-ed25519.dsse.json"][..]),
        ] {
            let key = VerifyingKey::from_pem(&dir.join(public), &read(public)).unwrap();
            for name in envelopes {
                let envelope = Envelope::from_json(&dir.join(name), &read(name)).unwrap();
                assert_eq!(envelope.signatures[0].keyid, "python-key");
                let payload = verify_envelope(&envelope, &key).unwrap();
                assert!(payload.starts_with(b"{\"i\": "), "{name}");
            }
        }
    }

    #[test]
    fn sign_then_verify_both_algorithms() {
        for alg in [KeyAlgorithm::EcdsaP256Sha256, KeyAlgorithm::Ed25519] {
            let key = SigningKey::generate(alg).unwrap();
            let envelope = sign("application/vnd.in-toto+json", b"{\"a\":1}", &key);
            assert_eq!(envelope.signatures[0].keyid, key.verifying_key().key_id());
            let json = envelope.to_json();
            let again = Envelope::from_json(Path::new("e.json"), &json).unwrap();
            assert_eq!(again, envelope);
            assert_eq!(verify_envelope(&again, &key.verifying_key()).unwrap(), b"{\"a\":1}");
        }
    }

    #[test]
    fn wrong_key_names_expected_and_present_key_ids() {
        let key = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
        let other = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap().verifying_key();
        let envelope = sign("t", b"p", &key);
        let err = verify_envelope(&envelope, &other).unwrap_err();
        let AttestError::Verify(VerifyError::KeyMismatch { expected_key_id, found_key_ids }) = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!(*expected_key_id, other.key_id());
        assert_eq!(*found_key_ids, [key.verifying_key().key_id()]);
        let text = err.to_string();
        assert!(text.contains(&other.key_id()) && text.contains(&key.verifying_key().key_id()));
    }

    #[test]
    fn malformed_envelopes_name_the_place() {
        let err = Envelope::from_json(Path::new("env.json"), "{\n  \"payload\": 1\n}").unwrap_err();
        assert!(
            err.to_string().starts_with("env.json: not a DSSE envelope: line 2, column"),
            "{err}"
        );
        let err = Envelope::from_json(
            Path::new("env.json"),
            r#"{"payload":"aGk=","payloadType":"t","signatures":[{"keyid":"","sig":"***"}]}"#,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "env.json: /signatures/0/sig is not base64");
    }
}
