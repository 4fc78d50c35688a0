//! Sigstore bundle v0.3: a signature (a DSSE envelope, or a signature over a blob's digest)
//! with what is needed to check it — a public-key hint for key-based signing, or a
//! certificate and transparency-log entries for keyless signing.
//!
//! The JSON follows the protobuf-specs JSON mapping: camelCase names, bytes as standard
//! base64, 64-bit integers as strings (numbers are accepted too when reading), empty lists
//! left out.

use std::path::Path;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::AttestError;
use crate::dsse::{Envelope, decode_base64};
use crate::keys::{SigningKey, VerifyingKey};

/// The media type of the bundles this crate writes and reads.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// What a bundle signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleContent {
    /// An attestation: a DSSE envelope (JSON `dsseEnvelope`).
    Dsse(Envelope),
    /// A blob signature (JSON `messageSignature`): the blob's SHA-256 and the signature over
    /// the blob (ECDSA: over its SHA-256; Ed25519: over its contents).
    MessageSignature {
        /// The blob's SHA-256, lowercase hex.
        digest_sha256: String,
        /// The raw signature bytes.
        signature: Vec<u8>,
    },
}

/// Who signed: the `content` of `verificationMaterial`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    /// Key-based signing: a hint naming the key (here, [`VerifyingKey::key_id`]); the verifier
    /// brings the key itself.
    PublicKey {
        /// The key hint.
        hint: String,
    },
    /// Keyless signing: the signing certificate (DER), as v0.3 bundles carry it.
    Certificate {
        /// The leaf certificate, DER.
        der: Vec<u8>,
    },
    /// A certificate chain (DER, leaf first), as older bundles carry it; read, never written.
    CertificateChain {
        /// The certificates, leaf first.
        ders: Vec<Vec<u8>>,
    },
}

/// A transparency-log (Rekor) inclusion proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// The entry's index in the log tree.
    pub log_index: i64,
    /// The tree's root hash.
    pub root_hash: Vec<u8>,
    /// The tree size the proof is for.
    pub tree_size: i64,
    /// The audit path hashes.
    pub hashes: Vec<Vec<u8>>,
    /// The signed checkpoint (a signed note).
    pub checkpoint: String,
}

/// One transparency-log entry (`verificationMaterial.tlogEntries[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransparencyLogEntry {
    /// The entry's global index.
    pub log_index: i64,
    /// The log's id (SHA-256 of its public key).
    pub log_id: Vec<u8>,
    /// The entry kind, e.g. `dsse` or `hashedrekord`.
    pub kind: String,
    /// The entry kind's version, e.g. `0.0.1`.
    pub kind_version: String,
    /// When the log integrated the entry (Unix seconds).
    pub integrated_time: i64,
    /// The log's signed entry timestamp (inclusion promise), if given.
    pub signed_entry_timestamp: Option<Vec<u8>>,
    /// The inclusion proof, if given.
    pub inclusion_proof: Option<InclusionProof>,
    /// The canonicalized entry body the log stored.
    pub canonicalized_body: Vec<u8>,
}

/// `verificationMaterial`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationMaterial {
    /// The key hint or the certificate.
    pub key: KeyMaterial,
    /// Transparency-log entries (keyless signing); empty for key-based bundles.
    pub tlog_entries: Vec<TransparencyLogEntry>,
    /// RFC 3161 timestamps, kept as read (not interpreted here).
    pub timestamp_verification_data: Option<serde_json::Value>,
}

/// A Sigstore bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// [`BUNDLE_MEDIA_TYPE`] for bundles written or accepted here.
    pub media_type: String,
    /// The key hint or certificate, and log entries.
    pub verification_material: VerificationMaterial,
    /// The signed content.
    pub content: BundleContent,
}

impl Bundle {
    /// A key-based bundle around a DSSE envelope, with `key`'s id as the public-key hint.
    pub fn for_envelope(envelope: Envelope, key: &VerifyingKey) -> Bundle {
        Bundle {
            media_type: BUNDLE_MEDIA_TYPE.to_owned(),
            verification_material: VerificationMaterial::public_key(key),
            content: BundleContent::Dsse(envelope),
        }
    }

    /// Parses a bundle. Errors name `path` and the place: line and column for JSON that does
    /// not parse or does not fit, a JSON pointer for bad values, and a message of its own
    /// ([`AttestError::UnsupportedMediaType`]) for a document with another media type.
    pub fn from_json(path: &Path, text: &str) -> Result<Bundle, AttestError> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            AttestError::malformed(
                path,
                format!("not JSON: {}", crate::error::json_error_place(&e)),
            )
        })?;
        match value.get("mediaType") {
            None => {
                return Err(AttestError::malformed(
                    path,
                    "/mediaType is missing: not a Sigstore bundle",
                ));
            }
            Some(serde_json::Value::String(m)) if m == BUNDLE_MEDIA_TYPE => {}
            Some(other) => {
                return Err(AttestError::UnsupportedMediaType {
                    path: path.into(),
                    found: other.as_str().map_or_else(|| other.to_string(), str::to_owned),
                    expected: BUNDLE_MEDIA_TYPE,
                });
            }
        }
        let wire: WireBundle = serde_json::from_str(text).map_err(|e| {
            AttestError::malformed(
                path,
                format!("not a Sigstore bundle: {}", crate::error::json_error_place(&e)),
            )
        })?;
        wire.into_bundle().map_err(|message| AttestError::malformed(path, message))
    }

    /// The bundle as pretty-printed JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut text =
            serde_json::to_string_pretty(&WireBundle::from_bundle(self)).unwrap_or_default();
        text.push('\n');
        text
    }
}

impl VerificationMaterial {
    /// Key-based material: `key`'s id as the hint, no log entries.
    pub fn public_key(key: &VerifyingKey) -> VerificationMaterial {
        VerificationMaterial {
            key: KeyMaterial::PublicKey { hint: key.key_id() },
            tlog_entries: Vec::new(),
            timestamp_verification_data: None,
        }
    }
}

/// Signs the file at `blob_path` with `key`, reading it as a stream, and returns a bundle with
/// a message signature (what `cosign sign-blob --bundle` makes for a key).
pub fn sign_blob(blob_path: &Path, key: &SigningKey) -> Result<Bundle, AttestError> {
    let (signature, digest) = key.sign_file(blob_path)?;
    Ok(Bundle {
        media_type: BUNDLE_MEDIA_TYPE.to_owned(),
        verification_material: VerificationMaterial::public_key(&key.verifying_key()),
        content: BundleContent::MessageSignature { digest_sha256: hex::encode(digest), signature },
    })
}

// The JSON shapes, kept apart from the public types so the public types hold decoded bytes.

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str, pointer: &str) -> Result<Vec<u8>, String> {
    decode_base64(text).ok_or_else(|| format!("{pointer} is not base64"))
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// protobuf JSON int64: written as a string, read from a string or a number.
mod int64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&value.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Number(i64),
            Text(String),
        }
        match Either::deserialize(d)? {
            Either::Number(n) => Ok(n),
            Either::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireBundle {
    media_type: String,
    verification_material: WireVerificationMaterial,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dsse_envelope: Option<WireEnvelope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message_signature: Option<WireMessageSignature>,
}

/// The envelope inside a bundle: as DSSE's JSON, but an empty key id is left out (protobuf
/// JSON omits empty strings), where a bare envelope always carries it.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEnvelope {
    payload: String,
    payload_type: String,
    signatures: Vec<WireDsseSignature>,
}

#[derive(Serialize, Deserialize)]
struct WireDsseSignature {
    sig: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    keyid: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireVerificationMaterial {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    public_key: Option<WirePublicKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    certificate: Option<WireCertificate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    x509_certificate_chain: Option<WireCertificateChain>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tlog_entries: Vec<WireTlogEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timestamp_verification_data: Option<serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
struct WirePublicKey {
    #[serde(default)]
    hint: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireCertificate {
    raw_bytes: String,
}

#[derive(Serialize, Deserialize)]
struct WireCertificateChain {
    certificates: Vec<WireCertificate>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireMessageSignature {
    message_digest: WireHashOutput,
    signature: String,
}

#[derive(Serialize, Deserialize)]
struct WireHashOutput {
    algorithm: String,
    digest: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireTlogEntry {
    #[serde(with = "int64")]
    log_index: i64,
    log_id: WireLogId,
    kind_version: WireKindVersion,
    // Absent in Rekor v2 entries (protobuf's default 0 is not written).
    #[serde(default, with = "int64", skip_serializing_if = "is_zero")]
    integrated_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    inclusion_promise: Option<WireInclusionPromise>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    inclusion_proof: Option<WireInclusionProof>,
    canonicalized_body: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireLogId {
    key_id: String,
}

#[derive(Serialize, Deserialize)]
struct WireKindVersion {
    kind: String,
    version: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireInclusionPromise {
    signed_entry_timestamp: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireInclusionProof {
    #[serde(with = "int64")]
    log_index: i64,
    root_hash: String,
    #[serde(with = "int64")]
    tree_size: i64,
    #[serde(default)]
    hashes: Vec<String>,
    checkpoint: WireCheckpoint,
}

#[derive(Serialize, Deserialize)]
struct WireCheckpoint {
    envelope: String,
}

impl WireBundle {
    fn from_bundle(bundle: &Bundle) -> WireBundle {
        let material = &bundle.verification_material;
        let mut vm = WireVerificationMaterial {
            public_key: None,
            certificate: None,
            x509_certificate_chain: None,
            tlog_entries: material.tlog_entries.iter().map(WireTlogEntry::from_entry).collect(),
            timestamp_verification_data: material.timestamp_verification_data.clone(),
        };
        match &material.key {
            KeyMaterial::PublicKey { hint } => {
                vm.public_key = Some(WirePublicKey { hint: hint.clone() })
            }
            KeyMaterial::Certificate { der } => {
                vm.certificate = Some(WireCertificate { raw_bytes: b64(der) })
            }
            KeyMaterial::CertificateChain { ders } => {
                vm.x509_certificate_chain = Some(WireCertificateChain {
                    certificates: ders
                        .iter()
                        .map(|d| WireCertificate { raw_bytes: b64(d) })
                        .collect(),
                })
            }
        }
        let (dsse_envelope, message_signature) = match &bundle.content {
            BundleContent::Dsse(envelope) => (
                Some(WireEnvelope {
                    payload: envelope.payload.clone(),
                    payload_type: envelope.payload_type.clone(),
                    signatures: envelope
                        .signatures
                        .iter()
                        .map(|s| WireDsseSignature { sig: s.sig.clone(), keyid: s.keyid.clone() })
                        .collect(),
                }),
                None,
            ),
            BundleContent::MessageSignature { digest_sha256, signature } => (
                None,
                Some(WireMessageSignature {
                    message_digest: WireHashOutput {
                        algorithm: "SHA2_256".to_owned(),
                        digest: b64(&hex::decode(digest_sha256).unwrap_or_default()),
                    },
                    signature: b64(signature),
                }),
            ),
        };
        WireBundle {
            media_type: bundle.media_type.clone(),
            verification_material: vm,
            dsse_envelope,
            message_signature,
        }
    }

    fn into_bundle(self) -> Result<Bundle, String> {
        let vm = self.verification_material;
        let key = match (vm.public_key, vm.certificate, vm.x509_certificate_chain) {
            (Some(p), None, None) => KeyMaterial::PublicKey { hint: p.hint },
            (None, Some(c), None) => KeyMaterial::Certificate {
                der: unb64(&c.raw_bytes, "/verificationMaterial/certificate/rawBytes")?,
            },
            (None, None, Some(chain)) => KeyMaterial::CertificateChain {
                ders: chain
                    .certificates
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        unb64(
                            &c.raw_bytes,
                            &format!("/verificationMaterial/x509CertificateChain/certificates/{i}/rawBytes"),
                        )
                    })
                    .collect::<Result<_, _>>()?,
            },
            (None, None, None) => {
                return Err("/verificationMaterial has no publicKey, certificate or \
                            x509CertificateChain"
                    .to_owned());
            }
            _ => {
                return Err("/verificationMaterial has more than one of publicKey, certificate \
                            and x509CertificateChain"
                    .to_owned());
            }
        };
        let tlog_entries = vm
            .tlog_entries
            .into_iter()
            .enumerate()
            .map(|(i, e)| e.into_entry(&format!("/verificationMaterial/tlogEntries/{i}")))
            .collect::<Result<_, _>>()?;
        let content = match (self.dsse_envelope, self.message_signature) {
            (Some(wire), None) => {
                let envelope = Envelope {
                    payload: wire.payload,
                    payload_type: wire.payload_type,
                    signatures: wire
                        .signatures
                        .into_iter()
                        .map(|s| crate::dsse::Signature { keyid: s.keyid, sig: s.sig })
                        .collect(),
                };
                if decode_base64(&envelope.payload).is_none() {
                    return Err("/dsseEnvelope/payload is not base64".to_owned());
                }
                if envelope.signatures.is_empty() {
                    return Err("/dsseEnvelope/signatures is empty: nothing is signed".to_owned());
                }
                for (i, s) in envelope.signatures.iter().enumerate() {
                    unb64(&s.sig, &format!("/dsseEnvelope/signatures/{i}/sig"))?;
                }
                BundleContent::Dsse(envelope)
            }
            (None, Some(m)) => {
                if m.message_digest.algorithm != "SHA2_256" {
                    return Err(format!(
                        "/messageSignature/messageDigest/algorithm {:?} is not supported (only SHA2_256)",
                        m.message_digest.algorithm
                    ));
                }
                let digest =
                    unb64(&m.message_digest.digest, "/messageSignature/messageDigest/digest")?;
                if digest.len() != 32 {
                    return Err(format!(
                        "/messageSignature/messageDigest/digest is {} bytes, a SHA-256 is 32",
                        digest.len()
                    ));
                }
                BundleContent::MessageSignature {
                    digest_sha256: hex::encode(digest),
                    signature: unb64(&m.signature, "/messageSignature/signature")?,
                }
            }
            (None, None) => {
                return Err("the bundle has neither /dsseEnvelope nor /messageSignature".to_owned());
            }
            (Some(_), Some(_)) => {
                return Err("the bundle has both /dsseEnvelope and /messageSignature".to_owned());
            }
        };
        Ok(Bundle {
            media_type: self.media_type,
            verification_material: VerificationMaterial {
                key,
                tlog_entries,
                timestamp_verification_data: vm.timestamp_verification_data,
            },
            content,
        })
    }
}

impl WireTlogEntry {
    fn from_entry(e: &TransparencyLogEntry) -> WireTlogEntry {
        WireTlogEntry {
            log_index: e.log_index,
            log_id: WireLogId { key_id: b64(&e.log_id) },
            kind_version: WireKindVersion { kind: e.kind.clone(), version: e.kind_version.clone() },
            integrated_time: e.integrated_time,
            inclusion_promise: e
                .signed_entry_timestamp
                .as_ref()
                .map(|s| WireInclusionPromise { signed_entry_timestamp: b64(s) }),
            inclusion_proof: e.inclusion_proof.as_ref().map(|p| WireInclusionProof {
                log_index: p.log_index,
                root_hash: b64(&p.root_hash),
                tree_size: p.tree_size,
                hashes: p.hashes.iter().map(|h| b64(h)).collect(),
                checkpoint: WireCheckpoint { envelope: p.checkpoint.clone() },
            }),
            canonicalized_body: b64(&e.canonicalized_body),
        }
    }

    fn into_entry(self, at: &str) -> Result<TransparencyLogEntry, String> {
        let inclusion_proof = match self.inclusion_proof {
            None => None,
            Some(p) => Some(InclusionProof {
                log_index: p.log_index,
                root_hash: unb64(&p.root_hash, &format!("{at}/inclusionProof/rootHash"))?,
                tree_size: p.tree_size,
                hashes: p
                    .hashes
                    .iter()
                    .enumerate()
                    .map(|(i, h)| unb64(h, &format!("{at}/inclusionProof/hashes/{i}")))
                    .collect::<Result<_, _>>()?,
                checkpoint: p.checkpoint.envelope,
            }),
        };
        Ok(TransparencyLogEntry {
            log_index: self.log_index,
            log_id: unb64(&self.log_id.key_id, &format!("{at}/logId/keyId"))?,
            kind: self.kind_version.kind,
            kind_version: self.kind_version.version,
            integrated_time: self.integrated_time,
            signed_entry_timestamp: self
                .inclusion_promise
                .map(|p| {
                    unb64(
                        &p.signed_entry_timestamp,
                        &format!("{at}/inclusionPromise/signedEntryTimestamp"),
                    )
                })
                .transpose()?,
            inclusion_proof,
            canonicalized_body: unb64(
                &self.canonicalized_body,
                &format!("{at}/canonicalizedBody"),
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyAlgorithm;

    fn fixture(name: &str) -> (std::path::PathBuf, String) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bundles").join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        (path, text)
    }

    #[test]
    fn envelope_bundle_json_has_the_protobuf_names() {
        let key = SigningKey::generate(KeyAlgorithm::EcdsaP256Sha256).unwrap();
        let envelope = crate::dsse::sign("application/vnd.in-toto+json", b"{}", &key);
        let bundle = Bundle::for_envelope(envelope.clone(), &key.verifying_key());
        let json: serde_json::Value = serde_json::from_str(&bundle.to_json()).unwrap();
        assert_eq!(json["mediaType"], BUNDLE_MEDIA_TYPE);
        assert_eq!(json["verificationMaterial"]["publicKey"]["hint"], key.verifying_key().key_id());
        assert!(json["verificationMaterial"].get("tlogEntries").is_none());
        assert_eq!(json["dsseEnvelope"]["payloadType"], "application/vnd.in-toto+json");
        assert_eq!(json["dsseEnvelope"]["payload"], "e30=");
        assert_eq!(json["dsseEnvelope"]["signatures"][0]["keyid"], key.verifying_key().key_id());
        assert!(json.get("messageSignature").is_none());
        let again = Bundle::from_json(Path::new("b.json"), &bundle.to_json()).unwrap();
        assert_eq!(again, bundle);
    }

    #[test]
    fn blob_bundle_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let blob = dir.path().join("blob.bin");
        std::fs::write(&blob, b"abc").unwrap();
        let key = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
        let bundle = sign_blob(&blob, &key).unwrap();
        let json: serde_json::Value = serde_json::from_str(&bundle.to_json()).unwrap();
        assert_eq!(json["messageSignature"]["messageDigest"]["algorithm"], "SHA2_256");
        // base64 of SHA-256("abc").
        assert_eq!(
            json["messageSignature"]["messageDigest"]["digest"],
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
        assert_eq!(Bundle::from_json(Path::new("b.json"), &bundle.to_json()).unwrap(), bundle);
        let BundleContent::MessageSignature { signature, .. } = &bundle.content else {
            panic!("not a message signature")
        };
        key.verifying_key().verify(b"abc", signature).unwrap();
    }

    #[test]
    fn keyless_bundle_made_by_another_implementation_reads_and_writes_back() {
        // A v0.3 bundle with a certificate and a Rekor entry (see tests/fixtures/README.md).
        let (path, text) = fixture("keyless-dsse.sigstore.json");
        let bundle = Bundle::from_json(&path, &text).unwrap();
        let KeyMaterial::Certificate { der } = &bundle.verification_material.key else {
            panic!("expected a certificate")
        };
        assert_eq!(der[0], 0x30);
        let entry = &bundle.verification_material.tlog_entries[0];
        assert_eq!(entry.kind, "dsse");
        // A Rekor v2 entry: no integrated time, no inclusion promise, a proof instead.
        assert_eq!(
            (entry.kind_version.as_str(), entry.log_index, entry.integrated_time),
            ("0.0.2", 689, 0)
        );
        assert!(entry.signed_entry_timestamp.is_none());
        assert!(entry.inclusion_proof.as_ref().is_some_and(|p| !p.hashes.is_empty()));
        // Writing it back gives the same JSON values (int64s as strings).
        let original: serde_json::Value = serde_json::from_str(&text).unwrap();
        let written: serde_json::Value = serde_json::from_str(&bundle.to_json()).unwrap();
        assert_eq!(written, original);
    }

    #[test]
    fn wrong_media_type_has_its_own_message() {
        let key = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
        let bundle = Bundle::for_envelope(crate::dsse::sign("t", b"p", &key), &key.verifying_key());
        let text = bundle
            .to_json()
            .replace(BUNDLE_MEDIA_TYPE, "application/vnd.dev.sigstore.bundle+json;version=0.1");
        let err = Bundle::from_json(Path::new("old.json"), &text).unwrap_err();
        assert!(matches!(err, AttestError::UnsupportedMediaType { .. }));
        assert_eq!(
            err.to_string(),
            "old.json: bundle media type \"application/vnd.dev.sigstore.bundle+json;version=0.1\" \
             at /mediaType is not supported (expected \"application/vnd.dev.sigstore.bundle.v0.3+json\")"
        );
    }

    #[test]
    fn truncated_and_malformed_bundles_name_the_place() {
        let key = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
        let text = Bundle::for_envelope(crate::dsse::sign("t", b"p", &key), &key.verifying_key())
            .to_json();
        let err = Bundle::from_json(Path::new("b.json"), &text[..text.len() / 2]).unwrap_err();
        assert!(err.to_string().starts_with("b.json: not JSON: line "), "{err}");
        let err = Bundle::from_json(
            Path::new("b.json"),
            &text.replace("\"payloadType\"", "\"payloadKind\""),
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("b.json: not a Sigstore bundle: line ")
                && err.to_string().contains("payloadType"),
            "{err}"
        );
        let err =
            Bundle::from_json(Path::new("b.json"), &text.replace("\"dsseEnvelope\"", "\"other\""))
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            "b.json: the bundle has neither /dsseEnvelope nor /messageSignature"
        );
        let err = Bundle::from_json(Path::new("b.json"), r#"{"payload":"x"}"#).unwrap_err();
        assert_eq!(err.to_string(), "b.json: /mediaType is missing: not a Sigstore bundle");
    }
}
