//! Keyless signing: an OIDC identity token -> a short-lived Fulcio certificate for an ephemeral
//! key -> a DSSE signature with that key -> a Rekor transparency-log entry -> a v0.3 bundle
//! with the certificate and the log entry.
//!
//! Finding the token (`SIGSTORE_ID_TOKEN`, or GitHub Actions' token request), reading its
//! claims, the ephemeral key and proof of possession, the Fulcio and Rekor request bodies,
//! reading their responses and assembling the bundle are pure code here. The network is one
//! call, [`HttpTransport::send`]: [`UreqTransport`] sends it over HTTPS (rustls, Mozilla's root
//! certificates), [`NoTransport`] refuses it. [`SigstoreKeyless::from_env`] uses the public-good
//! Fulcio and Rekor, or the instances named by `SIGSTORE_FULCIO_URL` / `SIGSTORE_REKOR_URL`.
//! The `sigstore` crate was evaluated for the job and does not fit it (it signs only blobs, not
//! DSSE envelopes, and cannot read CI workload tokens, which carry no `email` claim).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::AttestError;
use crate::bundle::{
    BUNDLE_MEDIA_TYPE, Bundle, BundleContent, InclusionProof, KeyMaterial, TransparencyLogEntry,
    VerificationMaterial,
};
use crate::dsse::{self, Envelope};
use crate::keys::{KeyAlgorithm, SigningKey};

/// The environment variable holding an OIDC identity token for Sigstore (audience
/// `sigstore`); GitLab CI sets it through `id_tokens:`, other systems can export it.
pub const SIGSTORE_ID_TOKEN_VAR: &str = "SIGSTORE_ID_TOKEN";
/// The audience a Sigstore identity token must carry.
pub const AUDIENCE: &str = "sigstore";
/// The public-good Fulcio instance.
pub const PUBLIC_FULCIO_URL: &str = "https://fulcio.sigstore.dev";
/// The public-good Rekor instance.
pub const PUBLIC_REKOR_URL: &str = "https://rekor.sigstore.dev";
/// The environment variable naming another Fulcio instance (a private Sigstore).
pub const FULCIO_URL_VAR: &str = "SIGSTORE_FULCIO_URL";
/// The environment variable naming another Rekor instance (a private Sigstore).
pub const REKOR_URL_VAR: &str = "SIGSTORE_REKOR_URL";

/// Signs a DSSE payload without a long-lived key, returning a bundle whose verification
/// material is a certificate and transparency-log entries.
pub trait KeylessSigner {
    /// Signs `payload` of `payload_type`.
    fn sign_envelope(&self, payload_type: &str, payload: &[u8]) -> Result<Bundle, AttestError>;
}

/// One HTTP request, built here and sent by an [`HttpTransport`]. `Debug` hides the
/// `Authorization` header and the body (both may carry a token).
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The full URL.
    pub url: String,
    /// Header name -> value.
    pub headers: Vec<(String, String)>,
    /// The body (empty for GET).
    pub body: Vec<u8>,
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| {
                (k.as_str(), if k.eq_ignore_ascii_case("authorization") { "(redacted)" } else { v })
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Sends a request and returns the response body of a successful (2xx) response.
pub trait HttpTransport {
    /// Sends `request`. Errors say which service failed and why, without the token.
    fn send(&self, request: &HttpRequest) -> Result<Vec<u8>, AttestError>;
}

/// A transport that refuses every request with [`AttestError::KeylessUnavailable`] naming the
/// service it would have called: for callers that must not touch the network.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTransport;

impl HttpTransport for NoTransport {
    fn send(&self, request: &HttpRequest) -> Result<Vec<u8>, AttestError> {
        Err(AttestError::KeylessUnavailable {
            reason: format!(
                "network access is turned off, so it cannot reach {} \
                 (everything before that step was done); sign with --key instead",
                request.url
            ),
        })
    }
}

/// How long one request may take, connecting to reading the whole answer, by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The most of a service's answer that is read (Fulcio's and Rekor's are a few KiB).
const MAX_RESPONSE_BYTES: u64 = 4 * 1024 * 1024;
/// How much of an error answer an error message quotes.
const SNIPPET_CHARS: usize = 200;

/// Sends requests with [`ureq`]: HTTPS through rustls with Mozilla's root certificates (plain
/// `http://` works too, for a local test instance), the proxy from `HTTPS_PROXY` / `ALL_PROXY` /
/// `NO_PROXY`, a timeout for the whole exchange, and no redirects (a 3xx is an error like any
/// non-2xx answer). Errors name the method, URL and status and quote the start of the answer;
/// they never show request headers or bodies, and a token echoed back in an answer is cut out.
#[derive(Debug, Clone)]
pub struct UreqTransport {
    agent: ureq::Agent,
}

impl Default for UreqTransport {
    fn default() -> Self {
        UreqTransport::new(DEFAULT_TIMEOUT)
    }
}

impl UreqTransport {
    /// A transport whose requests each fail after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(concat!("tollgate/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        UreqTransport { agent }
    }
}

impl HttpTransport for UreqTransport {
    fn send(&self, request: &HttpRequest) -> Result<Vec<u8>, AttestError> {
        let unreachable = |e: ureq::Error| {
            AttestError::Keyless(format!(
                "cannot reach {} {}: {}",
                request.method,
                request.url,
                transport_error(&e)
            ))
        };
        let response = match request.method {
            "GET" => {
                let mut builder = self.agent.get(&request.url);
                for (name, value) in &request.headers {
                    builder = builder.header(name.as_str(), value.as_str());
                }
                builder.call()
            }
            "POST" => {
                let mut builder = self.agent.post(&request.url);
                for (name, value) in &request.headers {
                    builder = builder.header(name.as_str(), value.as_str());
                }
                builder.send(request.body.as_slice())
            }
            other => {
                return Err(AttestError::Keyless(format!(
                    "cannot send a {other} request to {}",
                    request.url
                )));
            }
        };
        let mut response = response.map_err(unreachable)?;
        let status = response.status();
        let body =
            response.body_mut().with_config().limit(MAX_RESPONSE_BYTES).read_to_vec().map_err(
                |e| {
                    AttestError::Keyless(format!(
                        "{} {} answered {status} but reading the answer failed: {}",
                        request.method,
                        request.url,
                        transport_error(&e)
                    ))
                },
            )?;
        if !status.is_success() {
            let snippet = error_snippet(&body, &secrets_of(request));
            return Err(AttestError::Keyless(format!(
                "{} {} answered {status}{}",
                request.method,
                request.url,
                if snippet.is_empty() { String::new() } else { format!(": {snippet}") }
            )));
        }
        Ok(body)
    }
}

/// A ureq error as a message; ureq's own text is terse ("io: Connection refused (os error 111)").
fn transport_error(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => format!("no complete answer within the time limit ({e})"),
        ureq::Error::HostNotFound => "host not found (DNS)".to_owned(),
        _ => e.to_string(),
    }
}

/// What in `request` must never reach an error message: the `Authorization` credentials and
/// the OIDC token in a Fulcio request body.
fn secrets_of(request: &HttpRequest) -> Vec<String> {
    let mut secrets = Vec::new();
    for (name, value) in &request.headers {
        if name.eq_ignore_ascii_case("authorization") {
            secrets.push(value.clone());
            if let Some((_, credentials)) = value.split_once(' ') {
                secrets.push(credentials.trim().to_owned());
            }
        }
    }
    if let Ok(body) = serde_json::from_slice::<serde_json::Value>(&request.body)
        && let Some(token) = body.pointer("/credentials/oidcIdentityToken").and_then(|t| t.as_str())
    {
        secrets.push(token.to_owned());
    }
    secrets.retain(|s| s.len() >= 4);
    secrets
}

/// The start of an error answer on one line, with `secrets` and anything shaped like a JWT
/// (`eyJ...` with two dots) replaced by `(redacted)`.
fn error_snippet(body: &[u8], secrets: &[String]) -> String {
    let mut text = String::from_utf8_lossy(body).into_owned();
    for secret in secrets {
        text = text.replace(secret.as_str(), "(redacted)");
    }
    let words: Vec<String> = text
        .split_whitespace()
        .map(|word| {
            let core =
                word.trim_matches(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)));
            if core.starts_with("eyJ") && core.matches('.').count() >= 2 {
                word.replace(core, "(redacted)")
            } else {
                word.chars().filter(|c| !c.is_control()).collect()
            }
        })
        .collect();
    let text = words.join(" ");
    match text.char_indices().nth(SNIPPET_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

/// An OIDC identity token with its (unverified) claims. Fulcio verifies the token; the claims
/// are read here only to choose the proof-of-possession subject and to fail early on an
/// expired token or a wrong audience. `Debug` never shows the token.
#[derive(Clone)]
pub struct IdentityToken {
    raw: Zeroizing<String>,
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `aud` (one or many).
    pub audience: Vec<String>,
    /// `exp`.
    pub expires: OffsetDateTime,
    /// `email`, when the issuer vouches for it (`email_verified` not false).
    pub email: Option<String>,
}

impl fmt::Debug for IdentityToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityToken")
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("audience", &self.audience)
            .field("expires", &self.expires)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: Audience,
    exp: i64,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<bool>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl IdentityToken {
    /// Reads a JWT's claims (without checking its signature: Fulcio does). Needs `iss`,
    /// `sub`, `aud` and `exp`.
    pub fn parse(jwt: &str) -> Result<IdentityToken, AttestError> {
        let jwt = jwt.trim();
        let mut parts = jwt.split('.');
        let (Some(_header), Some(claims), Some(_signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AttestError::Keyless(
                "the identity token is not a JWT (expected three dot-separated parts)".into(),
            ));
        };
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims.trim_end_matches('='))
            .map_err(|_| {
                AttestError::Keyless("the identity token's claims are not base64url".into())
            })?;
        let claims: Claims = serde_json::from_slice(&claims).map_err(|e| {
            AttestError::Keyless(format!("the identity token's claims are not usable: {e}"))
        })?;
        let expires = OffsetDateTime::from_unix_timestamp(claims.exp)
            .map_err(|_| AttestError::Keyless("the identity token's exp is out of range".into()))?;
        Ok(IdentityToken {
            raw: Zeroizing::new(jwt.to_owned()),
            issuer: claims.iss,
            subject: claims.sub,
            audience: match claims.aud {
                Audience::One(a) => vec![a],
                Audience::Many(a) => a,
            },
            expires,
            email: claims.email.filter(|_| claims.email_verified != Some(false)),
        })
    }

    /// What the proof of possession signs: the e-mail address for people, the subject for
    /// workloads (CI tokens have no e-mail) — as cosign does.
    pub fn challenge(&self) -> &str {
        self.email.as_deref().unwrap_or(&self.subject)
    }

    /// Fails unless the token is for Sigstore and still valid at `now`.
    pub fn check_usable(&self, now: OffsetDateTime) -> Result<(), AttestError> {
        if !self.audience.iter().any(|a| a == AUDIENCE) {
            return Err(AttestError::Keyless(format!(
                "the identity token's audience is {:?}, not {AUDIENCE:?}; request it with audience {AUDIENCE}",
                self.audience
            )));
        }
        if self.expires <= now {
            return Err(AttestError::Keyless(format!(
                "the identity token from {} expired at {}",
                self.issuer, self.expires
            )));
        }
        Ok(())
    }

    fn raw(&self) -> &str {
        &self.raw
    }
}

/// Where the identity token comes from.
#[derive(Debug, Clone)]
pub enum TokenSource {
    /// Given in [`SIGSTORE_ID_TOKEN_VAR`].
    Provided(IdentityToken),
    /// To be requested from GitHub Actions' token service with this request.
    GitHubActions(HttpRequest),
}

fn var(env: &BTreeMap<String, String>, key: &str) -> Option<String> {
    env.get(key).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// Finds the identity token in an environment (pure; pass `std::env::vars()`):
/// `SIGSTORE_ID_TOKEN` first, then GitHub Actions' `ACTIONS_ID_TOKEN_REQUEST_URL` /
/// `ACTIONS_ID_TOKEN_REQUEST_TOKEN` (the job needs `permissions: id-token: write`).
pub fn discover_token(env: &BTreeMap<String, String>) -> Result<TokenSource, AttestError> {
    if let Some(jwt) = var(env, SIGSTORE_ID_TOKEN_VAR) {
        return Ok(TokenSource::Provided(IdentityToken::parse(&jwt)?));
    }
    match (var(env, "ACTIONS_ID_TOKEN_REQUEST_URL"), var(env, "ACTIONS_ID_TOKEN_REQUEST_TOKEN")) {
        (Some(url), Some(bearer)) => {
            let separator = if url.contains('?') { '&' } else { '?' };
            Ok(TokenSource::GitHubActions(HttpRequest {
                method: "GET",
                url: format!("{url}{separator}audience={AUDIENCE}"),
                headers: vec![
                    ("Authorization".into(), format!("bearer {bearer}")),
                    ("Accept".into(), "application/json".into()),
                ],
                body: Vec::new(),
            }))
        }
        _ => {
            let hint = if var(env, "GITHUB_ACTIONS").is_some() {
                "on GitHub Actions, give the job `permissions: id-token: write`"
            } else if var(env, "GITLAB_CI").is_some() {
                "on GitLab CI, add `id_tokens: SIGSTORE_ID_TOKEN: aud: sigstore` to the job"
            } else if var(env, "BUILDKITE").is_some() {
                "on Buildkite, export SIGSTORE_ID_TOKEN=$(buildkite-agent oidc request-token --audience sigstore)"
            } else {
                "set SIGSTORE_ID_TOKEN to an OIDC token with audience sigstore"
            };
            Err(AttestError::KeylessUnavailable {
                reason: format!("no OIDC identity token found: {hint}"),
            })
        }
    }
}

/// Reads GitHub Actions' token response (`{"value": "<jwt>"}`).
pub fn token_from_github_response(body: &[u8]) -> Result<IdentityToken, AttestError> {
    #[derive(Deserialize)]
    struct Response {
        value: String,
    }
    let response: Response = serde_json::from_slice(body).map_err(|e| {
        AttestError::Keyless(format!("GitHub Actions' token service answered unexpectedly: {e}"))
    })?;
    IdentityToken::parse(&response.value)
}

fn trim_url(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// The Fulcio v2 `signingCert` request for `key` (an ephemeral P-256 key): the public key as
/// PEM and the proof of possession, a signature over the token's [`IdentityToken::challenge`].
pub fn fulcio_request(
    fulcio_url: &str,
    token: &IdentityToken,
    key: &SigningKey,
) -> Result<HttpRequest, AttestError> {
    if key.algorithm() != KeyAlgorithm::EcdsaP256Sha256 {
        return Err(AttestError::Keyless(
            "Fulcio certificates are requested for P-256 keys".into(),
        ));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let body = json!({
        "credentials": {"oidcIdentityToken": token.raw()},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": key.verifying_key().to_pem()},
            "proofOfPossession": b64.encode(key.sign(token.challenge().as_bytes())),
        }
    });
    Ok(HttpRequest {
        method: "POST",
        url: format!("{}/api/v2/signingCert", trim_url(fulcio_url)),
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("Accept".into(), "application/json".into()),
        ],
        body: serde_json::to_vec(&body).unwrap_or_default(),
    })
}

/// The certificate chain (DER, leaf first) from a Fulcio v2 response, with an embedded or a
/// detached SCT.
pub fn certificate_chain_from_fulcio(body: &[u8]) -> Result<Vec<Vec<u8>>, AttestError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        AttestError::Keyless(format!("Fulcio answered with something that is not JSON: {e}"))
    })?;
    let pems = [
        "/signedCertificateEmbeddedSct/chain/certificates",
        "/signedCertificateDetachedSct/chain/certificates",
    ]
    .iter()
    .find_map(|p| value.pointer(p).and_then(|c| c.as_array()))
    .ok_or_else(|| AttestError::Keyless("Fulcio's answer has no certificate chain".into()))?;
    let mut chain = Vec::new();
    for (i, pem) in pems.iter().enumerate() {
        let pem = pem.as_str().unwrap_or("");
        let (label, der) = pem_rfc7468::decode_vec(pem.trim().as_bytes()).map_err(|e| {
            AttestError::Keyless(format!("Fulcio's certificate {i} is not PEM: {e}"))
        })?;
        if label != "CERTIFICATE" {
            return Err(AttestError::Keyless(format!(
                "Fulcio's certificate {i} is a {label:?} block"
            )));
        }
        chain.push(der);
    }
    if chain.is_empty() {
        return Err(AttestError::Keyless("Fulcio's certificate chain is empty".into()));
    }
    Ok(chain)
}

/// The Rekor request recording `envelope` as a `dsse` v0.0.1 entry, verifiable with the leaf
/// certificate.
pub fn rekor_dsse_request(rekor_url: &str, envelope: &Envelope, leaf_der: &[u8]) -> HttpRequest {
    let b64 = base64::engine::general_purpose::STANDARD;
    let leaf_pem = pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, leaf_der)
        .unwrap_or_default();
    let envelope_json = serde_json::to_string(envelope).unwrap_or_default();
    let body = json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {"proposedContent": {"envelope": envelope_json, "verifiers": [b64.encode(leaf_pem)]}}
    });
    HttpRequest {
        method: "POST",
        url: format!("{}/api/v1/log/entries", trim_url(rekor_url)),
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("Accept".into(), "application/json".into()),
        ],
        body: serde_json::to_vec(&body).unwrap_or_default(),
    }
}

/// The bundle's transparency-log entry from Rekor's answer to an entry creation
/// (`{"<uuid>": {"body", "integratedTime", "logID", "logIndex", "verification": {...}}}`).
pub fn tlog_entry_from_rekor(body: &[u8]) -> Result<TransparencyLogEntry, AttestError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Entry {
        body: String,
        integrated_time: i64,
        #[serde(rename = "logID")]
        log_id: String,
        log_index: i64,
        #[serde(default)]
        verification: Option<Verification>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Verification {
        #[serde(default)]
        signed_entry_timestamp: Option<String>,
        #[serde(default)]
        inclusion_proof: Option<Proof>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Proof {
        log_index: i64,
        root_hash: String,
        tree_size: i64,
        #[serde(default)]
        hashes: Vec<String>,
        #[serde(default)]
        checkpoint: String,
    }
    let bad = |what: String| AttestError::Keyless(format!("Rekor's answer: {what}"));
    let entries: BTreeMap<String, Entry> =
        serde_json::from_slice(body).map_err(|e| bad(format!("not a log entry: {e}")))?;
    let mut entries = entries.into_values();
    let (Some(entry), None) = (entries.next(), entries.next()) else {
        return Err(bad("expected exactly one entry".into()));
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let canonicalized_body =
        b64.decode(&entry.body).map_err(|_| bad("body is not base64".into()))?;
    let kind: serde_json::Value =
        serde_json::from_slice(&canonicalized_body).map_err(|_| bad("body is not JSON".into()))?;
    let unhex = |h: &str, what: &str| hex::decode(h).map_err(|_| bad(format!("{what} is not hex")));
    let verification = entry.verification;
    let inclusion_proof = match verification.as_ref().and_then(|v| v.inclusion_proof.as_ref()) {
        Some(p) => Some(InclusionProof {
            log_index: p.log_index,
            root_hash: unhex(&p.root_hash, "rootHash")?,
            tree_size: p.tree_size,
            hashes: p
                .hashes
                .iter()
                .map(|h| unhex(h, "an inclusion proof hash"))
                .collect::<Result<_, _>>()?,
            checkpoint: p.checkpoint.clone(),
        }),
        None => None,
    };
    let signed_entry_timestamp = match verification.and_then(|v| v.signed_entry_timestamp) {
        Some(set) => {
            Some(b64.decode(set).map_err(|_| bad("signedEntryTimestamp is not base64".into()))?)
        }
        None => None,
    };
    Ok(TransparencyLogEntry {
        log_index: entry.log_index,
        log_id: unhex(&entry.log_id, "logID")?,
        kind: kind["kind"].as_str().unwrap_or("dsse").to_owned(),
        kind_version: kind["apiVersion"].as_str().unwrap_or("0.0.1").to_owned(),
        integrated_time: entry.integrated_time,
        signed_entry_timestamp,
        inclusion_proof,
        canonicalized_body,
    })
}

/// A v0.3 bundle for a keyless signature: the leaf certificate and the log entry.
pub fn keyless_bundle(
    envelope: Envelope,
    leaf_der: Vec<u8>,
    entry: TransparencyLogEntry,
) -> Bundle {
    Bundle {
        media_type: BUNDLE_MEDIA_TYPE.to_owned(),
        verification_material: VerificationMaterial {
            key: KeyMaterial::Certificate { der: leaf_der },
            tlog_entries: vec![entry],
            timestamp_verification_data: None,
        },
        content: BundleContent::Dsse(envelope),
    }
}

/// Keyless signing against Fulcio and Rekor through a transport.
#[derive(Debug)]
pub struct SigstoreKeyless<T: HttpTransport> {
    /// Fulcio's base URL.
    pub fulcio_url: String,
    /// Rekor's base URL.
    pub rekor_url: String,
    /// Where the identity token comes from.
    pub token: TokenSource,
    /// The time token validity is checked against.
    pub now: OffsetDateTime,
    /// What sends requests.
    pub transport: T,
}

impl SigstoreKeyless<UreqTransport> {
    /// Keyless signing over HTTPS ([`UreqTransport`]) with the token found in `env` (see
    /// [`discover_token`]), against the public-good Fulcio and Rekor or the instances in
    /// `SIGSTORE_FULCIO_URL` / `SIGSTORE_REKOR_URL` (a private Sigstore). Sends nothing yet.
    pub fn from_env(env: &BTreeMap<String, String>) -> Result<Self, AttestError> {
        Ok(SigstoreKeyless {
            fulcio_url: service_url(env, FULCIO_URL_VAR, PUBLIC_FULCIO_URL)?,
            rekor_url: service_url(env, REKOR_URL_VAR, PUBLIC_REKOR_URL)?,
            token: discover_token(env)?,
            now: OffsetDateTime::now_utc(),
            transport: UreqTransport::default(),
        })
    }
}

/// A service's base URL from `key` in `env`, or `default`; it must be `https://` or `http://`.
fn service_url(
    env: &BTreeMap<String, String>,
    key: &str,
    default: &str,
) -> Result<String, AttestError> {
    let Some(url) = var(env, key) else { return Ok(default.to_owned()) };
    let lower = url.to_ascii_lowercase();
    let host = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
    if host.is_none_or(|h| h.trim_matches('/').is_empty()) {
        return Err(AttestError::Keyless(format!(
            "{key}={url:?} is not an http:// or https:// URL"
        )));
    }
    Ok(trim_url(&url).to_owned())
}

impl<T: HttpTransport> SigstoreKeyless<T> {
    fn identity(&self) -> Result<IdentityToken, AttestError> {
        let token = match &self.token {
            TokenSource::Provided(token) => token.clone(),
            TokenSource::GitHubActions(request) => {
                token_from_github_response(&self.transport.send(request)?)?
            }
        };
        token.check_usable(self.now)?;
        Ok(token)
    }
}

impl<T: HttpTransport> KeylessSigner for SigstoreKeyless<T> {
    fn sign_envelope(&self, payload_type: &str, payload: &[u8]) -> Result<Bundle, AttestError> {
        let token = self.identity()?;
        let key = SigningKey::generate(KeyAlgorithm::EcdsaP256Sha256)?;
        let chain = certificate_chain_from_fulcio(&self.transport.send(&fulcio_request(
            &self.fulcio_url,
            &token,
            &key,
        )?)?)?;
        let leaf = chain.into_iter().next().unwrap_or_default();
        // The leaf certificate must certify our ephemeral key: its SubjectPublicKeyInfo is
        // embedded verbatim in the certificate's DER.
        let spki = key.verifying_key().to_spki_der();
        if !leaf.windows(spki.len()).any(|w| w == spki.as_slice()) {
            return Err(AttestError::Keyless(
                "Fulcio's certificate is not for the key that requested it".into(),
            ));
        }
        let mut envelope = dsse::sign(payload_type, payload, &key);
        // The certificate identifies the signer; a key id for a key used once says nothing.
        envelope.signatures[0].keyid.clear();
        let entry = tlog_entry_from_rekor(&self.transport.send(&rekor_dsse_request(
            &self.rekor_url,
            &envelope,
            &leaf,
        ))?)?;
        Ok(keyless_bundle(envelope, leaf, entry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

    fn jwt(claims: serde_json::Value) -> String {
        format!(
            "{}.{}.{}",
            B64URL.encode(br#"{"alg":"RS256","typ":"JWT"}"#),
            B64URL.encode(claims.to_string()),
            B64URL.encode(b"not-a-real-signature")
        )
    }

    fn github_claims() -> serde_json::Value {
        json!({
            "iss": "https://token.actions.githubusercontent.com",
            "sub": "repo:acme/app:ref:refs/tags/v1.0.0",
            "aud": "sigstore",
            "exp": 4_102_444_800i64,
            "job_workflow_ref": "acme/app/.github/workflows/release.yml@refs/tags/v1.0.0"
        })
    }

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn workload_tokens_without_email_use_the_subject() {
        let token = IdentityToken::parse(&jwt(github_claims())).unwrap();
        assert_eq!(token.challenge(), "repo:acme/app:ref:refs/tags/v1.0.0");
        token.check_usable(OffsetDateTime::now_utc()).unwrap();
        let person = IdentityToken::parse(&jwt(json!({
            "iss": "https://oauth2.sigstore.dev/auth", "sub": "123", "aud": ["sigstore", "x"],
            "exp": 4_102_444_800i64, "email": "dev@example.com", "email_verified": true
        })))
        .unwrap();
        assert_eq!(person.challenge(), "dev@example.com");
        let unverified = IdentityToken::parse(&jwt(json!({
            "iss": "i", "sub": "s", "aud": "sigstore", "exp": 4_102_444_800i64,
            "email": "x@example.com", "email_verified": false
        })))
        .unwrap();
        assert_eq!(unverified.challenge(), "s");
    }

    #[test]
    fn bad_expired_or_foreign_tokens_are_refused_without_showing_them() {
        let raw = jwt(json!({"iss": "i", "sub": "s", "aud": "other", "exp": 1}));
        let token = IdentityToken::parse(&raw).unwrap();
        let err = token.check_usable(OffsetDateTime::now_utc()).unwrap_err();
        assert!(err.to_string().contains("audience is [\"other\"], not \"sigstore\""), "{err}");
        let expired = IdentityToken::parse(&jwt(
            json!({"iss": "i", "sub": "s", "aud": "sigstore", "exp": 1}),
        ))
        .unwrap();
        assert!(
            expired
                .check_usable(OffsetDateTime::now_utc())
                .unwrap_err()
                .to_string()
                .contains("expired")
        );
        assert!(IdentityToken::parse("abc").is_err());
        assert!(IdentityToken::parse("a.!!!.c").is_err());
        assert!(IdentityToken::parse(&jwt(json!({"sub": "s"}))).is_err());
        assert!(!format!("{token:?}").contains(&raw));
    }

    #[test]
    fn token_discovery_order_and_hints() {
        let given = jwt(github_claims());
        let found = discover_token(&env(&[
            ("SIGSTORE_ID_TOKEN", given.as_str()),
            ("ACTIONS_ID_TOKEN_REQUEST_URL", "https://token.example/x?api-version=2.0"),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "bearer-secret"),
        ]))
        .unwrap();
        assert!(matches!(found, TokenSource::Provided(ref t) if t.raw() == given));

        let found = discover_token(&env(&[
            ("ACTIONS_ID_TOKEN_REQUEST_URL", "https://token.example/x?api-version=2.0"),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "bearer-secret"),
        ]))
        .unwrap();
        let TokenSource::GitHubActions(request) = found else { panic!("expected a request") };
        assert_eq!(request.method, "GET");
        assert_eq!(request.url, "https://token.example/x?api-version=2.0&audience=sigstore");
        assert!(request.headers.contains(&("Authorization".into(), "bearer bearer-secret".into())));
        assert!(!format!("{request:?}").contains("bearer-secret"));

        for (marker, hint) in [
            ("GITHUB_ACTIONS", "id-token: write"),
            ("GITLAB_CI", "id_tokens: SIGSTORE_ID_TOKEN"),
            ("BUILDKITE", "buildkite-agent oidc request-token"),
            ("NOTHING", "set SIGSTORE_ID_TOKEN"),
        ] {
            let err = discover_token(&env(&[(marker, "true")])).unwrap_err();
            assert!(matches!(err, AttestError::KeylessUnavailable { .. }));
            assert!(err.to_string().contains(hint), "{err}");
        }
    }

    #[test]
    fn fulcio_request_carries_key_and_proof_of_possession() {
        let token = IdentityToken::parse(&jwt(github_claims())).unwrap();
        let key = SigningKey::generate(KeyAlgorithm::EcdsaP256Sha256).unwrap();
        let request = fulcio_request("https://fulcio.example/", &token, &key).unwrap();
        assert_eq!(request.url, "https://fulcio.example/api/v2/signingCert");
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["credentials"]["oidcIdentityToken"], token.raw());
        assert_eq!(body["publicKeyRequest"]["publicKey"]["algorithm"], "ECDSA");
        assert_eq!(body["publicKeyRequest"]["publicKey"]["content"], key.verifying_key().to_pem());
        let proof =
            B64.decode(body["publicKeyRequest"]["proofOfPossession"].as_str().unwrap()).unwrap();
        key.verifying_key().verify(token.challenge().as_bytes(), &proof).unwrap();
        let ed = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
        assert!(fulcio_request("https://f", &token, &ed).is_err());
    }

    /// Plays Fulcio, Rekor and GitHub's token service from canned answers, recording requests.
    struct FakeServices {
        requests: RefCell<Vec<HttpRequest>>,
        certify_other_key: bool,
    }

    fn fake_certificate(spki: &[u8]) -> String {
        // Not a real certificate: the flow only needs PEM "CERTIFICATE" bytes that embed the
        // key's SubjectPublicKeyInfo, as a real leaf certificate's DER does.
        let mut der = vec![0x30, 0x82, 0x01, 0x00];
        der.extend_from_slice(spki);
        pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, &der).unwrap()
    }

    impl HttpTransport for FakeServices {
        fn send(&self, request: &HttpRequest) -> Result<Vec<u8>, AttestError> {
            self.requests.borrow_mut().push(request.clone());
            fake_answer(request, self.certify_other_key)
        }
    }

    /// Fulcio's, Rekor's or GitHub's token service's answer to `request`: a "certificate"
    /// for the requested key (or another key), a log entry, a token.
    fn fake_answer(request: &HttpRequest, certify_other_key: bool) -> Result<Vec<u8>, AttestError> {
        if request.url.contains("token") {
            return Ok(json!({"value": jwt(github_claims())}).to_string().into_bytes());
        }
        if request.url.ends_with("/api/v2/signingCert") {
            let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
            let pem = body["publicKeyRequest"]["publicKey"]["content"].as_str().unwrap();
            let key =
                crate::keys::VerifyingKey::from_pem(std::path::Path::new("req"), pem).unwrap();
            let spki = if certify_other_key {
                SigningKey::generate(KeyAlgorithm::EcdsaP256Sha256)
                    .unwrap()
                    .verifying_key()
                    .to_spki_der()
            } else {
                key.to_spki_der()
            };
            let chain = [fake_certificate(&spki), fake_certificate(b"intermediate")];
            return Ok(json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": chain}}})
                .to_string()
                .into_bytes());
        }
        if request.url.ends_with("/api/v1/log/entries") {
            let body = B64.encode(br#"{"apiVersion":"0.0.1","kind":"dsse","spec":{}}"#);
            return Ok(json!({"24296fb24b8ad77a": {
                "body": body, "integratedTime": 1_730_000_000, "logID": "c0d23d6ad406973f",
                "logIndex": 145_000_000,
                "verification": {
                    "signedEntryTimestamp": B64.encode(b"set"),
                    "inclusionProof": {"logIndex": 23_000_000, "rootHash": "aabb", "treeSize": 23_000_001,
                                       "hashes": ["ccdd", "eeff"], "checkpoint": "rekor.sigstore.dev - 1\n"}
                }
            }})
            .to_string()
            .into_bytes());
        }
        Err(AttestError::Keyless(format!("unexpected request to {}", request.url)))
    }

    #[test]
    fn whole_flow_up_to_the_network_with_fake_services() {
        let signer = SigstoreKeyless {
            fulcio_url: "https://fulcio.example".into(),
            rekor_url: "https://rekor.example".into(),
            token: discover_token(&env(&[
                ("ACTIONS_ID_TOKEN_REQUEST_URL", "https://token.example/t"),
                ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "b"),
            ]))
            .unwrap(),
            now: OffsetDateTime::now_utc(),
            transport: FakeServices {
                requests: RefCell::new(Vec::new()),
                certify_other_key: false,
            },
        };
        let bundle =
            signer.sign_envelope(crate::statement::PAYLOAD_TYPE, b"{\"_type\":\"x\"}").unwrap();
        let urls: Vec<String> =
            signer.transport.requests.borrow().iter().map(|r| r.url.clone()).collect();
        assert_eq!(
            urls,
            [
                "https://token.example/t?audience=sigstore",
                "https://fulcio.example/api/v2/signingCert",
                "https://rekor.example/api/v1/log/entries"
            ]
        );
        // The Rekor entry carries the very envelope in the bundle, and the leaf certificate.
        let rekor: serde_json::Value =
            serde_json::from_slice(&signer.transport.requests.borrow()[2].body).unwrap();
        let BundleContent::Dsse(envelope) = &bundle.content else { panic!("not DSSE") };
        let logged: Envelope =
            serde_json::from_str(rekor["spec"]["proposedContent"]["envelope"].as_str().unwrap())
                .unwrap();
        assert_eq!(&logged, envelope);
        assert_eq!(envelope.signatures[0].keyid, "");
        let KeyMaterial::Certificate { der } = &bundle.verification_material.key else { panic!() };
        let verifier_pem =
            B64.decode(rekor["spec"]["proposedContent"]["verifiers"][0].as_str().unwrap()).unwrap();
        assert_eq!(pem_rfc7468::decode_vec(&verifier_pem).unwrap().1, *der);
        let entry = &bundle.verification_material.tlog_entries[0];
        assert_eq!(
            (entry.log_index, entry.integrated_time, entry.kind.as_str()),
            (145_000_000, 1_730_000_000, "dsse")
        );
        assert_eq!(
            entry.inclusion_proof.as_ref().unwrap().hashes,
            [vec![0xcc, 0xdd], vec![0xee, 0xff]]
        );
        // It is a v0.3 bundle that reads back.
        let reread = Bundle::from_json(std::path::Path::new("k.json"), &bundle.to_json()).unwrap();
        assert_eq!(reread, bundle);
    }

    #[test]
    fn a_certificate_for_another_key_is_refused() {
        let signer = SigstoreKeyless {
            fulcio_url: "https://fulcio.example".into(),
            rekor_url: "https://rekor.example".into(),
            token: TokenSource::Provided(IdentityToken::parse(&jwt(github_claims())).unwrap()),
            now: OffsetDateTime::now_utc(),
            transport: FakeServices { requests: RefCell::new(Vec::new()), certify_other_key: true },
        };
        let err = signer.sign_envelope("t", b"p").unwrap_err();
        assert!(err.to_string().contains("not for the key that requested it"), "{err}");
        // Nothing was logged.
        assert_eq!(signer.transport.requests.borrow().len(), 1);
    }

    #[test]
    fn no_transport_stops_at_the_network_with_a_clear_reason() {
        let given = jwt(github_claims());
        let signer = SigstoreKeyless {
            fulcio_url: PUBLIC_FULCIO_URL.into(),
            rekor_url: PUBLIC_REKOR_URL.into(),
            token: TokenSource::Provided(IdentityToken::parse(&given).unwrap()),
            now: OffsetDateTime::now_utc(),
            transport: NoTransport,
        };
        let err = signer.sign_envelope("t", b"p").unwrap_err();
        assert!(matches!(err, AttestError::KeylessUnavailable { .. }));
        assert!(
            err.to_string().contains("cannot reach https://fulcio.sigstore.dev/api/v2/signingCert"),
            "{err}"
        );
        assert!(!err.to_string().contains(&given));
    }

    #[test]
    fn from_env_uses_public_good_or_the_named_instances() {
        let given = jwt(github_claims());
        let signer =
            SigstoreKeyless::from_env(&env(&[("SIGSTORE_ID_TOKEN", given.as_str())])).unwrap();
        assert_eq!(
            (signer.fulcio_url.as_str(), signer.rekor_url.as_str()),
            (PUBLIC_FULCIO_URL, PUBLIC_REKOR_URL)
        );
        let signer = SigstoreKeyless::from_env(&env(&[
            ("SIGSTORE_ID_TOKEN", given.as_str()),
            ("SIGSTORE_FULCIO_URL", " https://fulcio.internal.example/ "),
            ("SIGSTORE_REKOR_URL", "http://rekor.internal.example:3000"),
        ]))
        .unwrap();
        assert_eq!(
            (signer.fulcio_url.as_str(), signer.rekor_url.as_str()),
            ("https://fulcio.internal.example", "http://rekor.internal.example:3000")
        );
        // Empty means unset; anything but an http(s) URL is refused before any request.
        let signer = SigstoreKeyless::from_env(&env(&[
            ("SIGSTORE_ID_TOKEN", given.as_str()),
            ("SIGSTORE_FULCIO_URL", ""),
        ]))
        .unwrap();
        assert_eq!(signer.fulcio_url, PUBLIC_FULCIO_URL);
        for bad in ["fulcio.internal.example", "ftp://f", "https://", "https:///"] {
            let err = SigstoreKeyless::from_env(&env(&[
                ("SIGSTORE_ID_TOKEN", given.as_str()),
                ("SIGSTORE_REKOR_URL", bad),
            ]))
            .unwrap_err();
            assert!(err.to_string().contains("SIGSTORE_REKOR_URL"), "{err}");
        }
    }

    #[test]
    fn error_snippets_are_short_one_line_and_without_tokens() {
        let token = jwt(github_claims());
        let body = format!("{{\"message\":\n\"bad token {token}\", \"bearer\": \"s3cret-b\"}}");
        let snippet = error_snippet(body.as_bytes(), &["s3cret-b".to_owned()]);
        assert_eq!(snippet, r#"{"message": "bad token (redacted)", "bearer": "(redacted)"}"#);
        let long = "x".repeat(1000);
        let snippet = error_snippet(long.as_bytes(), &[]);
        assert_eq!(snippet.len(), SNIPPET_CHARS + 3);
        assert!(snippet.ends_with("..."));
        let request = HttpRequest {
            method: "POST",
            url: "u".into(),
            headers: vec![("authorization".into(), "Bearer abcdef".into())],
            body: serde_json::to_vec(&json!({"credentials": {"oidcIdentityToken": token}}))
                .unwrap(),
        };
        assert_eq!(secrets_of(&request), ["Bearer abcdef", "abcdef", token.as_str()]);
    }

    /// The real transport, over real sockets, against a tiny HTTP/1.1 server on 127.0.0.1.
    mod over_http {
        use super::*;
        use std::io::{BufRead, BufReader, Read, Write};
        use std::net::{TcpListener, TcpStream};
        use std::thread::JoinHandle;
        use std::time::Instant;

        /// A server answering at most a given number of requests, one per connection, for at
        /// most 20 seconds; [`LocalServer::finish`] returns the requests it received.
        struct LocalServer {
            url: String,
            handle: JoinHandle<Vec<HttpRequest>>,
        }

        type Respond = dyn Fn(&HttpRequest) -> (u16, Vec<u8>) + Send;

        impl LocalServer {
            fn start(max_requests: usize, respond: Box<Respond>) -> LocalServer {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let url = format!("http://{}", listener.local_addr().unwrap());
                listener.set_nonblocking(true).unwrap();
                let base = url.clone();
                let handle = std::thread::spawn(move || {
                    let deadline = Instant::now() + Duration::from_secs(20);
                    let mut seen = Vec::new();
                    while seen.len() < max_requests && Instant::now() < deadline {
                        match listener.accept() {
                            Ok((stream, _)) => {
                                if let Some(request) = serve_one(stream, &base, &*respond) {
                                    seen.push(request);
                                }
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                                std::thread::sleep(Duration::from_millis(5));
                            }
                            Err(e) => panic!("accept: {e}"),
                        }
                    }
                    seen
                });
                LocalServer { url, handle }
            }

            fn finish(self) -> Vec<HttpRequest> {
                self.handle.join().unwrap()
            }
        }

        /// Reads one request (request line, headers, a Content-Length body) and answers it.
        fn serve_one(stream: TcpStream, base: &str, respond: &Respond) -> Option<HttpRequest> {
            stream.set_nonblocking(false).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).ok()?;
            let mut parts = line.split_whitespace();
            let method = match parts.next()? {
                "GET" => "GET",
                "POST" => "POST",
                _ => return None,
            };
            let target = parts.next()?.to_owned();
            let mut headers = Vec::new();
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).ok()?;
                let header = header.trim_end();
                if header.is_empty() {
                    break;
                }
                let (name, value) = header.split_once(':')?;
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
            let length = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .map_or(0, |(_, v)| v.parse().unwrap());
            let mut body = vec![0; length];
            reader.read_exact(&mut body).ok()?;
            let request = HttpRequest { method, url: format!("{base}{target}"), headers, body };
            let (status, answer) = respond(&request);
            let mut stream = stream;
            write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                answer.len()
            )
            .unwrap();
            stream.write_all(&answer).unwrap();
            stream.flush().unwrap();
            Some(request)
        }

        fn fake_sigstore(request: &HttpRequest) -> (u16, Vec<u8>) {
            match fake_answer(request, false) {
                Ok(body) => (200, body),
                Err(e) => (404, e.to_string().into_bytes()),
            }
        }

        fn header<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
            request
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }

        /// A port on 127.0.0.1 with nothing listening (bound, then closed).
        fn closed_port_url() -> String {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            drop(listener);
            url
        }

        #[test]
        fn keyless_signing_through_local_fulcio_and_rekor() {
            let server = LocalServer::start(3, Box::new(fake_sigstore));
            let token_url = format!("{}/token?api-version=2.0", server.url);
            let signer = SigstoreKeyless::from_env(&env(&[
                ("ACTIONS_ID_TOKEN_REQUEST_URL", token_url.as_str()),
                ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "gh-request-secret"),
                ("SIGSTORE_FULCIO_URL", server.url.as_str()),
                ("SIGSTORE_REKOR_URL", &format!("{}/", server.url)),
            ]))
            .unwrap();
            let payload = br#"{"_type":"https://in-toto.io/Statement/v1"}"#;
            let bundle = signer.sign_envelope(crate::statement::PAYLOAD_TYPE, payload).unwrap();
            let base = server.url.clone();
            let requests = server.finish();

            // What crossed the socket: the token request with its bearer credentials, then
            // the certificate request with the token, then the log entry.
            let lines: Vec<String> =
                requests.iter().map(|r| format!("{} {}", r.method, r.url)).collect();
            assert_eq!(
                lines,
                [
                    format!("GET {}/token?api-version=2.0&audience=sigstore", base),
                    format!("POST {}/api/v2/signingCert", base),
                    format!("POST {}/api/v1/log/entries", base),
                ]
            );
            assert_eq!(header(&requests[0], "authorization"), Some("bearer gh-request-secret"));
            assert!(header(&requests[0], "user-agent").unwrap().starts_with("tollgate/"));
            for request in &requests[1..] {
                assert_eq!(header(request, "content-type"), Some("application/json"));
                assert_eq!(header(request, "authorization"), None);
            }
            let fulcio: serde_json::Value = serde_json::from_slice(&requests[1].body).unwrap();
            let TokenSource::GitHubActions(_) = &signer.token else { panic!() };
            assert_eq!(fulcio["credentials"]["oidcIdentityToken"], jwt(github_claims()));

            // The bundle: the certificate Fulcio issued, the entry Rekor logged, and an
            // envelope that verifies with the certificate's key and carries the payload.
            assert_eq!(bundle.media_type, BUNDLE_MEDIA_TYPE);
            let KeyMaterial::Certificate { der } = &bundle.verification_material.key else {
                panic!("not a certificate")
            };
            let pem = fulcio["publicKeyRequest"]["publicKey"]["content"].as_str().unwrap();
            let requested = crate::keys::VerifyingKey::from_pem(std::path::Path::new("r"), pem)
                .unwrap()
                .to_spki_der();
            assert_eq!(der[4..], requested[..], "the leaf certifies the requested key");
            let certified =
                crate::keys::VerifyingKey::from_spki_der(std::path::Path::new("leaf"), &der[4..])
                    .unwrap();
            let BundleContent::Dsse(envelope) = &bundle.content else { panic!("not DSSE") };
            assert_eq!(dsse::verify_envelope(envelope, &certified).unwrap(), payload);
            let other = SigningKey::generate(KeyAlgorithm::EcdsaP256Sha256).unwrap();
            assert!(dsse::verify_envelope(envelope, &other.verifying_key()).is_err());
            let rekor: serde_json::Value = serde_json::from_slice(&requests[2].body).unwrap();
            let logged: Envelope = serde_json::from_str(
                rekor["spec"]["proposedContent"]["envelope"].as_str().unwrap(),
            )
            .unwrap();
            assert_eq!(&logged, envelope);
            let [entry] = bundle.verification_material.tlog_entries.as_slice() else {
                panic!("expected one log entry")
            };
            assert_eq!((entry.log_index, entry.integrated_time), (145_000_000, 1_730_000_000));
            assert_eq!(entry.log_id, hex::decode("c0d23d6ad406973f").unwrap());
            assert_eq!(entry.signed_entry_timestamp.as_deref(), Some(&b"set"[..]));
            let reread =
                Bundle::from_json(std::path::Path::new("k.json"), &bundle.to_json()).unwrap();
            assert_eq!(reread, bundle);
        }

        #[test]
        fn a_fulcio_error_names_url_and_status_without_the_token() {
            let token = jwt(github_claims());
            let echoed = token.clone();
            let server = LocalServer::start(
                1,
                Box::new(move |_| {
                    let body = json!({"code": 13, "message": format!("error processing the identity token {echoed}")});
                    (500, body.to_string().into_bytes())
                }),
            );
            let signer = SigstoreKeyless::from_env(&env(&[
                ("SIGSTORE_ID_TOKEN", token.as_str()),
                ("SIGSTORE_FULCIO_URL", server.url.as_str()),
                ("SIGSTORE_REKOR_URL", server.url.as_str()),
            ]))
            .unwrap();
            let err = signer.sign_envelope("t", b"p").unwrap_err().to_string();
            let base = server.url.clone();
            let requests = server.finish();
            assert_eq!(requests.len(), 1, "Rekor must not be called after Fulcio failed");
            assert!(
                err.contains(&format!("POST {}/api/v2/signingCert answered 500", base)),
                "{err}"
            );
            assert!(err.contains("error processing the identity token (redacted)"), "{err}");
            assert!(!err.contains(&token), "{err}");
            assert!(!err.contains(token.split('.').nth(1).unwrap()), "{err}");
        }

        #[test]
        fn a_closed_port_is_a_clear_error_without_the_token() {
            let token = jwt(github_claims());
            let fulcio = closed_port_url();
            let signer = SigstoreKeyless::from_env(&env(&[
                ("SIGSTORE_ID_TOKEN", token.as_str()),
                ("SIGSTORE_FULCIO_URL", fulcio.as_str()),
            ]))
            .unwrap();
            let err = signer.sign_envelope("t", b"p").unwrap_err().to_string();
            assert!(
                err.contains(&format!("cannot reach POST {fulcio}/api/v2/signingCert")),
                "{err}"
            );
            assert!(err.to_lowercase().contains("refused"), "{err}");
            assert!(!err.contains(&token), "{err}");
        }

        #[test]
        fn a_silent_service_times_out() {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!("http://{}/api/v2/signingCert", listener.local_addr().unwrap());
            // Accepts (through the backlog) but never answers.
            let transport = UreqTransport::new(Duration::from_millis(300));
            let request = HttpRequest {
                method: "POST",
                url: url.clone(),
                headers: vec![("Authorization".into(), "Bearer never-shown".into())],
                body: b"{}".to_vec(),
            };
            let started = Instant::now();
            let err = transport.send(&request).unwrap_err().to_string();
            assert!(started.elapsed() < Duration::from_secs(10));
            assert!(err.contains(&format!("cannot reach POST {url}")), "{err}");
            assert!(err.contains("time limit"), "{err}");
            assert!(!err.contains("never-shown"), "{err}");
            drop(listener);
        }

        #[test]
        fn non_2xx_answers_including_redirects_are_errors() {
            let server = LocalServer::start(
                2,
                Box::new(|r| {
                    if r.url.ends_with("/moved") {
                        (302, Vec::new())
                    } else {
                        (404, b"<html>\n  <body>no such   route</body>\n</html>".to_vec())
                    }
                }),
            );
            let transport = UreqTransport::default();
            let get = |path: &str| HttpRequest {
                method: "GET",
                url: format!("{}{path}", server.url),
                headers: vec![("Authorization".into(), "bearer gh-secret".into())],
                body: Vec::new(),
            };
            let moved = transport.send(&get("/moved")).unwrap_err().to_string();
            let missing = transport.send(&get("/missing")).unwrap_err().to_string();
            let url = server.url.clone();
            assert_eq!(server.finish().len(), 2);
            assert!(moved.contains(&format!("GET {url}/moved answered 302")), "{moved}");
            assert!(
                missing.ends_with(&format!(
                    "GET {url}/missing answered 404 Not Found: <html> <body>no such route</body> </html>"
                )),
                "{missing}"
            );
            assert!(!moved.contains("gh-secret") && !missing.contains("gh-secret"));
        }
    }

    #[test]
    fn malformed_service_answers_are_errors() {
        assert!(certificate_chain_from_fulcio(b"{}").is_err());
        assert!(
            certificate_chain_from_fulcio(
                br#"{"signedCertificateDetachedSct":{"chain":{"certificates":["x"]}}}"#
            )
            .is_err()
        );
        assert!(tlog_entry_from_rekor(b"{}").is_err());
        assert!(tlog_entry_from_rekor(b"[]").is_err());
        assert!(token_from_github_response(b"{\"count\":1}").is_err());
    }
}
