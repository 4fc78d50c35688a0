//! Signing keys: ECDSA P-256 (SHA-256) and Ed25519.
//!
//! Private keys are read from PKCS#8 PEM (`PRIVATE KEY`, both algorithms), SEC1 PEM
//! (`EC PRIVATE KEY`, P-256) and cosign's encrypted format (`ENCRYPTED SIGSTORE PRIVATE KEY`,
//! `ENCRYPTED COSIGN PRIVATE KEY`: scrypt + NaCl secretbox around PKCS#8 DER), and written as
//! PKCS#8 PEM. Public keys are SubjectPublicKeyInfo PEM (`PUBLIC KEY`).
//!
//! Signatures are what DSSE, cosign and securesystemslib produce: ECDSA signatures are ASN.1
//! DER over SHA-256 of the message; Ed25519 signatures are the raw 64 bytes.
//!
//! **Key ids** are the lowercase hex SHA-256 of the public key's DER SubjectPublicKeyInfo —
//! the same bytes `openssl pkey -pubin -outform DER | sha256sum` hashes — so anyone holding the
//! `.pub` file can recompute one.
//!
//! **Invariant:** key material never appears in `Debug` output, errors or logs; `Debug` shows
//! the algorithm and the key id only.

use std::cell::RefCell;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::ecdsa::signature::{Signer, Verifier};
use pkcs8::der::pem::LineEnding;
use pkcs8::{ObjectIdentifier, PrivateKeyInfo};
use rand_core::OsRng;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::AttestError;
use crate::verify::VerifyError;

/// `id-ecPublicKey` (RFC 5480).
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `prime256v1` / `secp256r1` (RFC 5480).
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// `id-Ed25519` (RFC 8410).
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// `rsaEncryption`, named only to say it is not supported.
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// Largest scrypt cost accepted from a cosign key file (cosign itself uses 2^15): a hostile
/// file must not make us allocate gigabytes.
const MAX_SCRYPT_LOG_N: u8 = 20;

/// File names [`write_key_pair`] writes.
pub const PRIVATE_KEY_FILE: &str = "tollgate.key";
/// File names [`write_key_pair`] writes.
pub const PUBLIC_KEY_FILE: &str = "tollgate.pub";

/// A signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-256 over SHA-256 (DSSE's and cosign's default).
    EcdsaP256Sha256,
    /// Ed25519 (pure EdDSA, RFC 8032).
    Ed25519,
}

impl KeyAlgorithm {
    /// A stable lowercase name: `ecdsa-p256-sha256` or `ed25519`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::EcdsaP256Sha256 => "ecdsa-p256-sha256",
            KeyAlgorithm::Ed25519 => "ed25519",
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone)]
enum SigningInner {
    P256(p256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

/// A private signing key. Zeroized when dropped; never printed.
#[derive(Clone)]
pub struct SigningKey {
    inner: SigningInner,
}

#[derive(Clone, PartialEq, Eq)]
enum VerifyingInner {
    P256(p256::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// A public key that checks signatures.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyingKey {
    inner: VerifyingInner,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm())
            .field("key_id", &self.verifying_key().key_id())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("algorithm", &self.algorithm())
            .field("key_id", &self.key_id())
            .finish()
    }
}

impl SigningKey {
    /// A new random key from the operating system's generator.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<SigningKey, AttestError> {
        // OsRng panics if the OS generator fails; ask it once first so that becomes an error.
        let mut probe = [0u8; 1];
        rand_core::RngCore::try_fill_bytes(&mut OsRng, &mut probe)
            .map_err(|e| AttestError::Random(e.to_string()))?;
        let inner = match algorithm {
            KeyAlgorithm::EcdsaP256Sha256 => {
                SigningInner::P256(p256::ecdsa::SigningKey::random(&mut OsRng))
            }
            KeyAlgorithm::Ed25519 => {
                SigningInner::Ed25519(ed25519_dalek::SigningKey::generate(&mut OsRng))
            }
        };
        Ok(SigningKey { inner })
    }

    /// Reads a private key from PEM text. `path` is used only in error messages; `password`
    /// decrypts cosign's encrypted format (an empty password is a password).
    ///
    /// Accepted: PKCS#8 `PRIVATE KEY` (P-256 or Ed25519), SEC1 `EC PRIVATE KEY` (P-256), and
    /// cosign's `ENCRYPTED SIGSTORE PRIVATE KEY` / `ENCRYPTED COSIGN PRIVATE KEY`. Other blocks
    /// in the file (such as `EC PARAMETERS` from `openssl ecparam -genkey`) are skipped.
    pub fn from_pem(
        path: &Path,
        pem: &str,
        password: Option<&[u8]>,
    ) -> Result<SigningKey, AttestError> {
        let blocks = pem_blocks(path, pem)?;
        let Some((label, der)) = blocks.into_iter().find(|(label, _)| label != "EC PARAMETERS")
        else {
            return Err(AttestError::malformed(
                path,
                "no PEM block found (expected -----BEGIN PRIVATE KEY-----)",
            ));
        };
        match label.as_str() {
            "PRIVATE KEY" => Self::from_pkcs8_der(path, &der),
            "EC PRIVATE KEY" => {
                let secret = p256::SecretKey::from_sec1_der(&der).map_err(|_| {
                    AttestError::malformed(
                        path,
                        "EC PRIVATE KEY: not a valid SEC1 key on curve P-256 (only P-256 is supported)",
                    )
                })?;
                Ok(SigningKey { inner: SigningInner::P256(secret.into()) })
            }
            "ENCRYPTED SIGSTORE PRIVATE KEY" | "ENCRYPTED COSIGN PRIVATE KEY" => {
                let password = password
                    .ok_or(AttestError::PasswordRequired { path: path.into(), format: "cosign" })?;
                let plaintext = decrypt_cosign(path, &der, password)?;
                Self::from_pkcs8_der(path, &plaintext)
            }
            "ENCRYPTED PRIVATE KEY" => Err(AttestError::malformed(
                path,
                "PKCS#8-encrypted keys (ENCRYPTED PRIVATE KEY) are not supported; use an unencrypted \
                 PKCS#8 key or cosign's encrypted format",
            )),
            "PUBLIC KEY" => Err(AttestError::malformed(
                path,
                "this is a public key (PUBLIC KEY); signing needs the private key",
            )),
            other => Err(AttestError::malformed(
                path,
                format!(
                    "unsupported PEM block {other:?}: expected PRIVATE KEY, EC PRIVATE KEY or \
                     ENCRYPTED SIGSTORE PRIVATE KEY"
                ),
            )),
        }
    }

    fn from_pkcs8_der(path: &Path, der: &[u8]) -> Result<SigningKey, AttestError> {
        let info = PrivateKeyInfo::try_from(der)
            .map_err(|e| AttestError::malformed(path, format!("PKCS#8: {e}")))?;
        let oid = info.algorithm.oid;
        let inner = if oid == OID_EC_PUBLIC_KEY {
            require_p256(path, info.algorithm.parameters_oid().ok(), "PKCS#8: EC key")?;
            let secret = p256::SecretKey::from_pkcs8_der(der)
                .map_err(|e| AttestError::malformed(path, format!("PKCS#8 P-256 key: {e}")))?;
            SigningInner::P256(secret.into())
        } else if oid == OID_ED25519 {
            let key = ed25519_dalek::SigningKey::from_pkcs8_der(der)
                .map_err(|e| AttestError::malformed(path, format!("PKCS#8 Ed25519 key: {e}")))?;
            SigningInner::Ed25519(key)
        } else {
            return Err(unsupported_algorithm(path, oid));
        };
        Ok(SigningKey { inner })
    }

    /// The key as unencrypted PKCS#8 PEM (`PRIVATE KEY`), in memory that is wiped on drop.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, AttestError> {
        let encoded = match &self.inner {
            SigningInner::P256(key) => {
                p256::SecretKey::from(key.as_nonzero_scalar()).to_pkcs8_pem(LineEnding::LF)
            }
            SigningInner::Ed25519(key) => key.to_pkcs8_pem(LineEnding::LF),
        };
        encoded.map_err(|e| AttestError::Serialize { what: "private key", message: e.to_string() })
    }

    /// The matching public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        let inner = match &self.inner {
            SigningInner::P256(key) => VerifyingInner::P256(*key.verifying_key()),
            SigningInner::Ed25519(key) => VerifyingInner::Ed25519(key.verifying_key()),
        };
        VerifyingKey { inner }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self.inner {
            SigningInner::P256(_) => KeyAlgorithm::EcdsaP256Sha256,
            SigningInner::Ed25519(_) => KeyAlgorithm::Ed25519,
        }
    }

    /// Signs `msg`: ECDSA gives an ASN.1 DER signature over SHA-256(`msg`) (deterministic,
    /// RFC 6979); Ed25519 gives the raw 64-byte signature.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        match &self.inner {
            SigningInner::P256(key) => {
                let signature: p256::ecdsa::Signature = key.sign(msg);
                signature.to_der().as_bytes().to_vec()
            }
            SigningInner::Ed25519(key) => key.sign(msg).to_bytes().to_vec(),
        }
    }

    /// Signs the contents of the file at `path` without holding it in memory, and returns the
    /// signature with the file's SHA-256. ECDSA signs the SHA-256 digest (what cosign's
    /// `sign-blob` does); Ed25519 is pure EdDSA over the contents, which reads the file twice —
    /// if it changes in between, this is an error rather than a bad signature.
    pub(crate) fn sign_file(&self, path: &Path) -> Result<(Vec<u8>, [u8; 32]), AttestError> {
        match &self.inner {
            SigningInner::P256(key) => {
                let digest = sha256_file(path, |_| {})?;
                let signature: p256::ecdsa::Signature = key.sign_prehash(&digest).map_err(|e| {
                    AttestError::Serialize { what: "signature", message: e.to_string() }
                })?;
                Ok((signature.to_der().as_bytes().to_vec(), digest))
            }
            SigningInner::Ed25519(key) => {
                let expanded = ed25519_dalek::hazmat::ExpandedSecretKey::from(key.as_bytes());
                let digests: RefCell<Vec<[u8; 32]>> = RefCell::new(Vec::new());
                let error: RefCell<Option<AttestError>> = RefCell::new(None);
                let feed = |h: &mut sha2::Sha512| match sha256_file(path, |chunk| {
                    sha2::Digest::update(h, chunk)
                }) {
                    Ok(d) => {
                        digests.borrow_mut().push(d);
                        Ok(())
                    }
                    Err(e) => {
                        *error.borrow_mut() = Some(e);
                        Err(ed25519_dalek::SignatureError::new())
                    }
                };
                let signature = ed25519_dalek::hazmat::raw_sign_byupdate::<sha2::Sha512, _>(
                    &expanded,
                    feed,
                    &key.verifying_key(),
                );
                if let Some(e) = error.into_inner() {
                    return Err(e);
                }
                let signature = signature.map_err(|e| AttestError::Serialize {
                    what: "signature",
                    message: e.to_string(),
                })?;
                let digests = digests.into_inner();
                match digests.as_slice() {
                    [first, rest @ ..] if rest.iter().all(|d| d == first) => {
                        Ok((signature.to_bytes().to_vec(), *first))
                    }
                    _ => Err(AttestError::ChangedWhileSigning { path: path.into() }),
                }
            }
        }
    }
}

impl VerifyingKey {
    /// Reads a public key from SubjectPublicKeyInfo PEM (`PUBLIC KEY`). `path` is used only in
    /// error messages.
    pub fn from_pem(path: &Path, pem: &str) -> Result<VerifyingKey, AttestError> {
        let blocks = pem_blocks(path, pem)?;
        let Some((label, der)) = blocks.into_iter().next() else {
            return Err(AttestError::malformed(
                path,
                "no PEM block found (expected -----BEGIN PUBLIC KEY-----)",
            ));
        };
        match label.as_str() {
            "PUBLIC KEY" => Self::from_spki_der(path, &der),
            l if l.contains("PRIVATE KEY") => Err(AttestError::malformed(
                path,
                format!("this is a private key ({l}); verifying needs the public key (PUBLIC KEY)"),
            )),
            other => Err(AttestError::malformed(
                path,
                format!("unsupported PEM block {other:?}: expected PUBLIC KEY"),
            )),
        }
    }

    /// Reads a public key from DER SubjectPublicKeyInfo. `path` is used only in error messages.
    pub fn from_spki_der(path: &Path, der: &[u8]) -> Result<VerifyingKey, AttestError> {
        let info = pkcs8::spki::SubjectPublicKeyInfoRef::try_from(der)
            .map_err(|e| AttestError::malformed(path, format!("SubjectPublicKeyInfo: {e}")))?;
        let oid = info.algorithm.oid;
        let inner = if oid == OID_EC_PUBLIC_KEY {
            require_p256(path, info.algorithm.parameters_oid().ok(), "EC public key")?;
            let key = p256::PublicKey::from_public_key_der(der)
                .map_err(|e| AttestError::malformed(path, format!("P-256 public key: {e}")))?;
            VerifyingInner::P256(key.into())
        } else if oid == OID_ED25519 {
            let key = ed25519_dalek::VerifyingKey::from_public_key_der(der)
                .map_err(|e| AttestError::malformed(path, format!("Ed25519 public key: {e}")))?;
            VerifyingInner::Ed25519(key)
        } else {
            return Err(unsupported_algorithm(path, oid));
        };
        Ok(VerifyingKey { inner })
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn to_spki_der(&self) -> Vec<u8> {
        let document = match &self.inner {
            VerifyingInner::P256(key) => p256::PublicKey::from(key).to_public_key_der(),
            VerifyingInner::Ed25519(key) => key.to_public_key_der(),
        };
        // Encoding a valid in-memory key cannot fail.
        document.map(|d| d.as_bytes().to_vec()).unwrap_or_default()
    }

    /// The key as SubjectPublicKeyInfo PEM (`PUBLIC KEY`), ending in a newline.
    pub fn to_pem(&self) -> String {
        pem_rfc7468::encode_string("PUBLIC KEY", pem_rfc7468::LineEnding::LF, &self.to_spki_der())
            .unwrap_or_default()
    }

    /// The key id: lowercase hex SHA-256 of the DER SubjectPublicKeyInfo.
    pub fn key_id(&self) -> String {
        hex::encode(Sha256::digest(self.to_spki_der()))
    }

    /// The algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self.inner {
            VerifyingInner::P256(_) => KeyAlgorithm::EcdsaP256Sha256,
            VerifyingInner::Ed25519(_) => KeyAlgorithm::Ed25519,
        }
    }

    /// Checks `sig` over `msg`. ECDSA accepts ASN.1 DER (and, for other producers, the fixed
    /// 64-byte r‖s form); Ed25519 checks strictly (no malleable signatures).
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), AttestError> {
        let ok = match &self.inner {
            VerifyingInner::P256(key) => {
                ecdsa_signature(sig).is_some_and(|s| key.verify(msg, &s).is_ok())
            }
            VerifyingInner::Ed25519(key) => ed25519_dalek::Signature::from_slice(sig)
                .is_ok_and(|s| key.verify_strict(msg, &s).is_ok()),
        };
        if ok { Ok(()) } else { Err(VerifyError::BadSignature { key_id: self.key_id() }.into()) }
    }

    /// Checks `sig` over the contents of the file at `path`, streaming it, and returns the
    /// file's SHA-256 (see [`SigningKey`]'s blob signing for what is signed). `Ok(Err(()))`
    /// means the signature does not verify.
    pub(crate) fn verify_file(
        &self,
        path: &Path,
        sig: &[u8],
    ) -> Result<(Result<(), ()>, [u8; 32]), AttestError> {
        match &self.inner {
            VerifyingInner::P256(key) => {
                let digest = sha256_file(path, |_| {})?;
                let ok =
                    ecdsa_signature(sig).is_some_and(|s| key.verify_prehash(&digest, &s).is_ok());
                Ok((if ok { Ok(()) } else { Err(()) }, digest))
            }
            VerifyingInner::Ed25519(key) => {
                let stream = ed25519_dalek::Signature::from_slice(sig)
                    .ok()
                    .and_then(|s| key.verify_stream(&s).ok());
                match stream {
                    Some(mut stream) => {
                        let digest = sha256_file(path, |chunk| stream.update(chunk))?;
                        let ok = stream.finalize_and_verify().is_ok();
                        Ok((if ok { Ok(()) } else { Err(()) }, digest))
                    }
                    None => Ok((Err(()), sha256_file(path, |_| {})?)),
                }
            }
        }
    }
}

/// Reads `path` once with a large buffer, passing each chunk to `each` and returning SHA-256.
fn sha256_file(path: &Path, mut each: impl FnMut(&[u8])) -> Result<[u8; 32], AttestError> {
    let mut file = std::fs::File::open(path).map_err(|e| AttestError::io(path, e))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut sha256 = Sha256::new();
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(AttestError::io(path, e)),
        };
        sha256.update(&buf[..n]);
        each(&buf[..n]);
    }
    Ok(sha256.finalize().into())
}

fn ecdsa_signature(sig: &[u8]) -> Option<p256::ecdsa::Signature> {
    p256::ecdsa::Signature::from_der(sig).ok().or_else(|| {
        (sig.len() == 64).then(|| p256::ecdsa::Signature::from_slice(sig).ok()).flatten()
    })
}

/// Only P-256 EC keys are supported; `what` names the key in the error.
fn require_p256(
    path: &Path,
    curve: Option<pkcs8::ObjectIdentifier>,
    what: &str,
) -> Result<(), AttestError> {
    if curve == Some(OID_P256) {
        return Ok(());
    }
    let curve = curve.map_or_else(|| "(unnamed)".to_owned(), |c| c.to_string());
    Err(AttestError::malformed(
        path,
        format!("{what} on curve {curve} is not supported (only P-256)"),
    ))
}

fn unsupported_algorithm(path: &Path, oid: ObjectIdentifier) -> AttestError {
    let name = if oid == OID_RSA { "RSA".to_owned() } else { format!("algorithm {oid}") };
    AttestError::malformed(
        path,
        format!("{name} keys are not supported; use ECDSA P-256 or Ed25519"),
    )
}

/// A PEM block: its label and decoded contents (wiped on drop: it may be a private key).
type PemBlock = (String, Zeroizing<Vec<u8>>);

/// Every PEM block in `text`. Text around the blocks is ignored.
fn pem_blocks(path: &Path, text: &str) -> Result<Vec<PemBlock>, AttestError> {
    const BEGIN: &str = "-----BEGIN ";
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let block = &rest[start..];
        let line = text[..text.len() - block.len()].lines().count() + 1;
        let label_end = block[BEGIN.len()..].find("-----").ok_or_else(|| {
            AttestError::malformed(path, format!("line {line}: unterminated PEM BEGIN line"))
        })?;
        let label = &block[BEGIN.len()..BEGIN.len() + label_end];
        let end_marker = format!("-----END {label}-----");
        let end = block.find(&end_marker).ok_or_else(|| {
            AttestError::malformed(
                path,
                format!("line {line}: PEM block {label:?} has no END line"),
            )
        })?;
        let whole = &block[..end + end_marker.len()];
        let (decoded_label, der) =
            pem_rfc7468::decode_vec(whole.trim().as_bytes()).map_err(|e| {
                AttestError::malformed(path, format!("line {line}: PEM {label:?}: {e}"))
            })?;
        blocks.push((decoded_label.to_owned(), Zeroizing::new(der)));
        rest = &block[whole.len()..];
    }
    Ok(blocks)
}

/// cosign's encrypted private key (go-securesystemslib `encrypted` package): JSON with the
/// scrypt parameters, a NaCl secretbox nonce and the ciphertext (tag first) of PKCS#8 DER.
#[derive(serde::Deserialize)]
struct CosignEncrypted {
    kdf: CosignKdf,
    cipher: CosignCipher,
    ciphertext: String,
}

#[derive(serde::Deserialize)]
struct CosignKdf {
    name: String,
    params: CosignScryptParams,
    salt: String,
}

#[derive(serde::Deserialize)]
struct CosignScryptParams {
    #[serde(rename = "N")]
    n: u64,
    r: u32,
    p: u32,
}

#[derive(serde::Deserialize)]
struct CosignCipher {
    name: String,
    nonce: String,
}

fn decrypt_cosign(
    path: &Path,
    json: &[u8],
    password: &[u8],
) -> Result<Zeroizing<Vec<u8>>, AttestError> {
    use crypto_secretbox::aead::{Aead, KeyInit};

    let malformed = |what: String| AttestError::malformed(path, format!("cosign key: {what}"));
    let data: CosignEncrypted = serde_json::from_slice(json).map_err(|e| {
        malformed(format!("encrypted key JSON, {}", crate::error::json_error_place(&e)))
    })?;
    if data.kdf.name != "scrypt" {
        return Err(malformed(format!(
            "unsupported key derivation {:?} (expected scrypt)",
            data.kdf.name
        )));
    }
    if data.cipher.name != "nacl/secretbox" {
        return Err(malformed(format!(
            "unsupported cipher {:?} (expected nacl/secretbox)",
            data.cipher.name
        )));
    }
    let CosignScryptParams { n, r, p } = data.kdf.params;
    let log_n = if n.is_power_of_two() { n.trailing_zeros() } else { u32::MAX };
    let log_n = u8::try_from(log_n).ok().filter(|l| (1..=MAX_SCRYPT_LOG_N).contains(l));
    let params = log_n
        .filter(|_| (1..=32).contains(&r) && (1..=16).contains(&p))
        .and_then(|log_n| scrypt::Params::new(log_n, r, p, 32).ok())
        .ok_or_else(|| {
            malformed(format!(
                "unsupported scrypt parameters N={n} r={r} p={p} (N must be a power of two up to \
                 2^{MAX_SCRYPT_LOG_N}, r at most 32, p at most 16)"
            ))
        })?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let salt = b64.decode(&data.kdf.salt).map_err(|e| malformed(format!("/kdf/salt: {e}")))?;
    let nonce =
        b64.decode(&data.cipher.nonce).map_err(|e| malformed(format!("/cipher/nonce: {e}")))?;
    let ciphertext =
        b64.decode(&data.ciphertext).map_err(|e| malformed(format!("/ciphertext: {e}")))?;
    if nonce.len() != 24 {
        return Err(malformed(format!("/cipher/nonce is {} bytes, expected 24", nonce.len())));
    }
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, &salt, &params, key.as_mut())
        .map_err(|e| malformed(format!("scrypt: {e}")))?;
    let cipher = crypto_secretbox::XSalsa20Poly1305::new(key.as_ref().into());
    let plaintext = cipher
        .decrypt(crypto_secretbox::Nonce::from_slice(&nonce), ciphertext.as_slice())
        .map_err(|_| AttestError::WrongPassword { path: path.into() })?;
    Ok(Zeroizing::new(plaintext))
}

/// Environment variables holding the password of an encrypted private key, in order.
pub const PASSWORD_VARS: [&str; 2] = ["TOLLGATE_KEY_PASSWORD", "COSIGN_PASSWORD"];

/// The password for an encrypted private key: `TOLLGATE_KEY_PASSWORD`, else `COSIGN_PASSWORD`.
pub fn password_from_env() -> Option<Vec<u8>> {
    PASSWORD_VARS.iter().find_map(std::env::var_os).map(std::ffi::OsString::into_encoded_bytes)
}

/// Reads a private key file (PKCS#8 PEM, or cosign's encrypted format with `password`).
pub fn read_signing_key(path: &Path, password: Option<&[u8]>) -> Result<SigningKey, AttestError> {
    let pem = std::fs::read_to_string(path).map_err(|cause| AttestError::ReadKey {
        path: path.to_owned(),
        what: "private key",
        cause,
    })?;
    SigningKey::from_pem(path, &pem, password)
}

/// Reads a public key file (SubjectPublicKeyInfo PEM).
pub fn read_verifying_key(path: &Path) -> Result<VerifyingKey, AttestError> {
    let pem = std::fs::read_to_string(path).map_err(|cause| AttestError::ReadKey {
        path: path.to_owned(),
        what: "public key",
        cause,
    })?;
    VerifyingKey::from_pem(path, &pem)
}

/// Writes `key` as `DIR/tollgate.key` (PKCS#8 PEM, mode 0600) and its public half as
/// `DIR/tollgate.pub` (mode 0644), creating `DIR` if needed. Returns both paths.
///
/// Never overwrites: if either file exists this fails with [`AttestError::KeyExists`] and
/// writes nothing. Each file is written to a temporary file in `DIR` and moved into place with
/// a no-clobber rename, so a reader never sees half a key and a concurrent run cannot replace
/// one; if the public key cannot be written, the private key is removed again.
pub fn write_key_pair(dir: &Path, key: &SigningKey) -> Result<(PathBuf, PathBuf), AttestError> {
    let key_path = dir.join(PRIVATE_KEY_FILE);
    let pub_path = dir.join(PUBLIC_KEY_FILE);
    for path in [&key_path, &pub_path] {
        if path.symlink_metadata().is_ok() {
            return Err(AttestError::KeyExists { path: path.clone() });
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| AttestError::io(dir, e))?;
    let private_pem = key.to_pkcs8_pem()?;
    write_new(dir, &key_path, private_pem.as_bytes(), 0o600)?;
    if let Err(e) = write_new(dir, &pub_path, key.verifying_key().to_pem().as_bytes(), 0o644) {
        let _ = std::fs::remove_file(&key_path);
        return Err(e);
    }
    Ok((key_path, pub_path))
}

/// Writes a new file at `path` through a temporary file in `dir`; fails if `path` exists.
fn write_new(dir: &Path, path: &Path, bytes: &[u8], mode: u32) -> Result<(), AttestError> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".tollgate-key-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| AttestError::io(dir, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| AttestError::io(path, e))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.write_all(bytes).map_err(|e| AttestError::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| AttestError::io(path, e))?;
    tmp.persist_noclobber(path).map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            AttestError::KeyExists { path: path.into() }
        } else {
            AttestError::io(path, e.error)
        }
    })?;
    Ok(())
}

#[cfg(test)]
impl SigningKey {
    /// An Ed25519 key from a known seed (test vectors).
    pub(crate) fn test_ed25519(seed: &[u8; 32]) -> SigningKey {
        SigningKey { inner: SigningInner::Ed25519(ed25519_dalek::SigningKey::from_bytes(seed)) }
    }

    /// A P-256 key from a known big-endian scalar (test vectors).
    pub(crate) fn test_p256(scalar: &[u8]) -> SigningKey {
        let key = p256::ecdsa::SigningKey::from_slice(scalar).expect("valid test scalar");
        SigningKey { inner: SigningInner::P256(key) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> (PathBuf, String) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keys").join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        (path, text)
    }

    #[test]
    fn sign_verify_round_trip_both_algorithms() {
        for alg in [KeyAlgorithm::EcdsaP256Sha256, KeyAlgorithm::Ed25519] {
            let key = SigningKey::generate(alg).unwrap();
            assert_eq!(key.algorithm(), alg);
            let public = key.verifying_key();
            let sig = key.sign(b"message");
            public.verify(b"message", &sig).unwrap();
            let err = public.verify(b"messagf", &sig).unwrap_err();
            assert!(
                matches!(&err, AttestError::Verify(VerifyError::BadSignature { key_id }) if *key_id == public.key_id())
            );
            let other = SigningKey::generate(alg).unwrap().verifying_key();
            assert!(other.verify(b"message", &sig).is_err());
            if alg == KeyAlgorithm::Ed25519 {
                assert_eq!(sig.len(), 64);
            } else {
                // ASN.1 DER: SEQUENCE { INTEGER r, INTEGER s }.
                assert_eq!(sig[0], 0x30);
                assert_eq!(sig[1] as usize, sig.len() - 2);
            }
        }
    }

    #[test]
    fn pem_round_trip_keeps_the_key_and_its_id() {
        for alg in [KeyAlgorithm::EcdsaP256Sha256, KeyAlgorithm::Ed25519] {
            let key = SigningKey::generate(alg).unwrap();
            let pem = key.to_pkcs8_pem().unwrap();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
            let again = SigningKey::from_pem(Path::new("k.pem"), &pem, None).unwrap();
            assert_eq!(again.verifying_key(), key.verifying_key());
            let public_pem = key.verifying_key().to_pem();
            assert!(public_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
            assert!(public_pem.ends_with("-----END PUBLIC KEY-----\n"));
            let public = VerifyingKey::from_pem(Path::new("k.pub"), &public_pem).unwrap();
            assert_eq!(public.key_id(), key.verifying_key().key_id());
            assert_eq!(public.key_id().len(), 64);
            // The documented definition of a key id.
            assert_eq!(public.key_id(), hex::encode(Sha256::digest(public.to_spki_der())));
        }
    }

    #[test]
    fn debug_output_never_shows_key_material() {
        let key = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
        let pem = key.to_pkcs8_pem().unwrap();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let debug = format!("{key:?}");
        assert!(debug.contains("Ed25519") && debug.contains(&key.verifying_key().key_id()));
        assert!(!debug.contains(&body[..20]), "{debug}");
        let secret_hex = match &key.inner {
            SigningInner::Ed25519(k) => hex::encode(k.to_bytes()),
            SigningInner::P256(_) => unreachable!(),
        };
        assert!(!debug.contains(&secret_hex));
    }

    #[test]
    fn openssl_made_keys_are_read() {
        // Generated by `openssl genpkey` / `openssl ecparam -genkey` (see the fixtures README).
        for (private, public) in [
            ("openssl-p256-pkcs8.pem", "openssl-p256.pub"),
            ("openssl-p256-sec1.pem", "openssl-p256.pub"),
            ("openssl-ed25519-pkcs8.pem", "openssl-ed25519.pub"),
        ] {
            let (path, pem) = fixture(private);
            let key = SigningKey::from_pem(&path, &pem, None).unwrap();
            let (pub_path, pub_pem) = fixture(public);
            let public = VerifyingKey::from_pem(&pub_path, &pub_pem).unwrap();
            assert_eq!(key.verifying_key(), public, "{private}");
            public.verify(b"x", &key.sign(b"x")).unwrap();
        }
    }

    #[test]
    fn openssl_signatures_verify() {
        // `openssl dgst -sha256 -sign` (DER ECDSA) and `openssl pkeyutl -sign` (Ed25519) over
        // tests/fixtures/keys/message.txt.
        let message = fixture("message.txt").1;
        for (public, sig) in [
            ("openssl-p256.pub", "message.p256.sig"),
            ("openssl-ed25519.pub", "message.ed25519.sig"),
        ] {
            let (path, pem) = fixture(public);
            let key = VerifyingKey::from_pem(&path, &pem).unwrap();
            let sig_path =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/keys").join(sig);
            let sig = std::fs::read(sig_path).unwrap();
            key.verify(message.as_bytes(), &sig).unwrap();
            assert!(key.verify(b"other", &sig).is_err());
        }
    }

    #[test]
    fn cosign_encrypted_key_right_and_wrong_password() {
        for (name, public) in
            [("cosign-p256.key", "cosign-p256.pub"), ("cosign-ed25519.key", "cosign-ed25519.pub")]
        {
            let (path, pem) = fixture(name);
            let key = SigningKey::from_pem(&path, &pem, Some(b"correct horse")).unwrap();
            let (pub_path, pub_pem) = fixture(public);
            assert_eq!(key.verifying_key(), VerifyingKey::from_pem(&pub_path, &pub_pem).unwrap());

            let err = SigningKey::from_pem(&path, &pem, Some(b"wrong horse")).unwrap_err();
            assert!(matches!(err, AttestError::WrongPassword { .. }));
            assert_eq!(
                err.to_string(),
                format!(
                    "{}: wrong password for the encrypted private key (or the file is corrupted)",
                    path.display()
                )
            );
            let err = SigningKey::from_pem(&path, &pem, None).unwrap_err();
            assert!(err.to_string().contains("is encrypted (cosign) and no password was given"));
        }
    }

    #[test]
    fn legacy_cosign_label_and_empty_password() {
        let (path, pem) = fixture("cosign-legacy-empty-password.key");
        assert!(pem.contains("ENCRYPTED COSIGN PRIVATE KEY"));
        let key = SigningKey::from_pem(&path, &pem, Some(b"")).unwrap();
        let (pub_path, pub_pem) = fixture("cosign-legacy-empty-password.pub");
        assert_eq!(key.verifying_key(), VerifyingKey::from_pem(&pub_path, &pub_pem).unwrap());
        assert!(matches!(
            SigningKey::from_pem(&path, &pem, Some(b"x")),
            Err(AttestError::WrongPassword { .. })
        ));
    }

    #[test]
    fn key_made_by_cosign_itself_decrypts() {
        // Written by `cosign generate-key-pair` with an empty password (N=65536); see README.
        let (path, pem) = fixture("cosign-generated-empty-password.key");
        let key = SigningKey::from_pem(&path, &pem, Some(b"")).unwrap();
        assert_eq!(key.algorithm(), KeyAlgorithm::EcdsaP256Sha256);
        key.verifying_key().verify(b"m", &key.sign(b"m")).unwrap();
    }

    #[test]
    fn hostile_scrypt_parameters_are_refused_before_any_work() {
        let json = br#"{"kdf":{"name":"scrypt","params":{"N":4294967296,"r":8,"p":1},"salt":"AAAA"},"cipher":{"name":"nacl/secretbox","nonce":"AAAA"},"ciphertext":"AAAA"}"#;
        let pem = pem_rfc7468::encode_string(
            "ENCRYPTED SIGSTORE PRIVATE KEY",
            pem_rfc7468::LineEnding::LF,
            json,
        )
        .unwrap();
        let err = SigningKey::from_pem(Path::new("evil.key"), &pem, Some(b"x")).unwrap_err();
        assert!(
            err.to_string().starts_with("evil.key: cosign key: unsupported scrypt parameters"),
            "{err}"
        );
    }

    #[test]
    fn wrong_kinds_of_pem_say_what_they_are() {
        let key = SigningKey::generate(KeyAlgorithm::EcdsaP256Sha256).unwrap();
        let public_pem = key.verifying_key().to_pem();
        let err = SigningKey::from_pem(Path::new("a.pub"), &public_pem, None).unwrap_err();
        assert!(err.to_string().contains("this is a public key"), "{err}");
        let private_pem = key.to_pkcs8_pem().unwrap();
        let err = VerifyingKey::from_pem(Path::new("a.key"), &private_pem).unwrap_err();
        assert!(err.to_string().contains("this is a private key"), "{err}");
        let err = SigningKey::from_pem(Path::new("x"), "hello", None).unwrap_err();
        assert_eq!(err.to_string(), "x: no PEM block found (expected -----BEGIN PRIVATE KEY-----)");
        let (path, pem) = fixture("openssl-rsa-pkcs8.pem");
        let err = SigningKey::from_pem(&path, &pem, None).unwrap_err();
        assert!(
            err.to_string().ends_with("RSA keys are not supported; use ECDSA P-256 or Ed25519")
        );
        let truncated = &public_pem[..public_pem.len() - 30];
        let err = VerifyingKey::from_pem(Path::new("t.pub"), truncated).unwrap_err();
        assert!(err.to_string().contains("has no END line"), "{err}");
    }

    #[test]
    fn blob_signatures_stream_for_both_algorithms() {
        let dir = tempfile::tempdir().unwrap();
        let blob = dir.path().join("blob");
        let data: Vec<u8> = (0..2_500_000u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(&blob, &data).unwrap();
        for alg in [KeyAlgorithm::EcdsaP256Sha256, KeyAlgorithm::Ed25519] {
            let key = SigningKey::generate(alg).unwrap();
            let (sig, digest) = key.sign_file(&blob).unwrap();
            assert_eq!(digest.as_slice(), Sha256::digest(&data).as_slice());
            // The same signature as signing the contents in memory (Ed25519 is deterministic;
            // ECDSA over the digest is what verify over the contents checks).
            key.verifying_key().verify(&data, &sig).unwrap();
            let (ok, _) = key.verifying_key().verify_file(&blob, &sig).unwrap();
            assert!(ok.is_ok());
            let other = SigningKey::generate(alg).unwrap().verifying_key();
            assert!(other.verify_file(&blob, &sig).unwrap().0.is_err());
        }
    }

    #[test]
    fn key_pair_is_written_privately_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("keys");
        let key = SigningKey::generate(KeyAlgorithm::EcdsaP256Sha256).unwrap();
        let (private, public) = write_key_pair(&out, &key).unwrap();
        assert_eq!(private, out.join("tollgate.key"));
        assert_eq!(public, out.join("tollgate.pub"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&private), 0o600);
            assert_eq!(mode(&public), 0o644);
        }
        let read =
            SigningKey::from_pem(&private, &std::fs::read_to_string(&private).unwrap(), None)
                .unwrap();
        assert_eq!(read.verifying_key(), key.verifying_key());
        let before = std::fs::read(&private).unwrap();
        let other = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
        let err = write_key_pair(&out, &other).unwrap_err();
        assert!(matches!(err, AttestError::KeyExists { .. }));
        assert_eq!(std::fs::read(&private).unwrap(), before);
        // Only the two files: no temporaries left behind.
        let mut names: Vec<_> =
            std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["tollgate.key", "tollgate.pub"]);
        // A stray public key alone also stops it.
        let third = dir.path().join("third");
        std::fs::create_dir(&third).unwrap();
        std::fs::write(third.join("tollgate.pub"), "x").unwrap();
        assert!(write_key_pair(&third, &other).is_err());
        assert!(!third.join("tollgate.key").exists());
    }
}
