//! Publishing a verified bundle to object storage (a local directory or S3), never overwriting.
//!
//! A bundle is published under `<prefix>/<run id>/<bundle file name>` (the run id from its
//! manifest), next to a JSON sidecar `<…>.publication.json` ([`PublicationRecord`]: sizes and
//! digests, when, and the retention). Publishing is idempotent and write-once:
//!
//! - the bundle is verified (signature and every file) before anything is sent;
//! - the object is created with [`PutMode::Create`] (small bundles), or uploaded in parts to a
//!   staging key and then copied with `copy_if_not_exists` (large bundles; S3 `CopyObject` with
//!   `If-None-Match: *`, a hard link on a local directory), so an existing key is never replaced,
//!   also under a race;
//! - when the key exists, its bytes are hashed: the same SHA-256 is "already published" (nothing
//!   written), another is a [`PublishError::Conflict`].
//!
//! Retention: on S3, `x-amz-object-lock-mode` and `x-amz-object-lock-retain-until-date` (with
//! `Content-MD5`, which S3 requires alongside them) are sent with the request that creates the
//! object and the sidecar (the bucket must have object lock enabled). object_store 0.12 has no
//! per-request headers, and its `ClientOptions::with_default_headers` adds them after SigV4
//! signing, which S3 rejects (unsigned `x-amz-*` headers), so those two requests (`PutObject`
//! with `If-None-Match: *`, `CopyObject` with `If-None-Match: *`) are built here, signed with
//! object_store's [`AwsAuthorizer`] and the store's own credentials, and sent through its
//! HTTP client. Everything else (HEAD, GET, multipart upload to the staging key, DELETE) is
//! plain object_store. On a local directory the retention is recorded in the sidecar and both
//! files are made read-only (0444).
//!
//! Store URLs have the syntax of `tollgate db … --store`, parsed by the one shared parser
//! [`tollgate_core::store_url::StoreUrl`]: a path, `file:///dir`, or
//! `s3://bucket[/prefix][?endpoint=URL&region=R]` with the endpoint also from
//! `AWS_ENDPOINT_URL` and credentials and region from the usual `AWS_*` variables.
//!
//! **Architecture invariant:** memory stays flat: the bundle is streamed (parts of
//! [`PART_SIZE`], at most [`MAX_IN_FLIGHT`] in flight); only a bundle of at most
//! [`SINGLE_PUT_LIMIT`] bytes is read whole, for a single conditional request.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use futures::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder, AwsAuthorizer};
use object_store::client::{HttpClient, HttpConnector as _, HttpRequestBody, ReqwestConnector};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjPath;
use object_store::{ClientOptions, ObjectStore, PutMode, PutOptions, RetryConfig, WriteMultipart};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use tokio::runtime::Runtime;
use tollgate_attest::keys::VerifyingKey;
use tollgate_core::store_url::{S3Location, StoreUrl};
use tollgate_core::time_source;

use crate::EvidenceError;

/// Part size of multipart uploads (S3's minimum is 5 MiB).
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts in flight at once; memory is bounded by about `PART_SIZE * (MAX_IN_FLIGHT + 1)`.
pub const MAX_IN_FLIGHT: usize = 2;
/// Bundles up to this size are sent in one conditional `PUT` (`If-None-Match: *`).
pub const SINGLE_PUT_LIMIT: u64 = PART_SIZE as u64;
/// S3 `CopyObject` copies at most 5 GiB, so larger bundles cannot be published to S3 (yet).
pub const S3_MAX_COPY: u64 = 5 * 1024 * 1024 * 1024;
/// The sidecar's schema version.
pub const RECORD_SCHEMA_VERSION: &str = "1";
/// The sidecar's name suffix.
pub const SIDECAR_SUFFIX: &str = ".publication.json";

/// S3 object lock mode (`x-amz-object-lock-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// `GOVERNANCE`: users with a special permission may shorten or remove the retention.
    Governance,
    /// `COMPLIANCE`: nobody, the root account included, can delete the object before its
    /// retain-until date.
    Compliance,
}

impl LockMode {
    /// The header value: `GOVERNANCE` or `COMPLIANCE`.
    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::Governance => "GOVERNANCE",
            LockMode::Compliance => "COMPLIANCE",
        }
    }
}

impl std::str::FromStr for LockMode {
    type Err = String;

    /// `governance` or `compliance`, in any case.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "governance" => Ok(LockMode::Governance),
            "compliance" => Ok(LockMode::Compliance),
            _ => Err(format!("{s:?}: expected governance or compliance")),
        }
    }
}

/// Where and how to publish.
#[derive(Debug, Clone, Default)]
pub struct PublishOptions {
    /// The store URL (see the module documentation).
    pub store: String,
    /// Keep the bundle at least this long (from the publication time).
    pub retention: Option<std::time::Duration>,
    /// S3 object lock mode; defaults to [`LockMode::Compliance`] on S3 when a retention is set.
    /// Requires a retention and an S3 store.
    pub object_lock: Option<LockMode>,
}

/// The sidecar `<bundle key>.publication.json`. Keys are in alphabetical order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicationRecord {
    /// The bundle's file name.
    pub bundle: String,
    /// The bundle's key in the store (with the store prefix).
    pub key: String,
    /// SHA-256 of the bundle's `manifest.json`.
    pub manifest_sha256: String,
    /// S3 object lock mode, when the objects carry one.
    pub object_lock: Option<String>,
    /// When it was published (RFC 3339; `SOURCE_DATE_EPOCH` when set).
    pub published_at: String,
    /// Retained at least until (RFC 3339), when a retention was asked for.
    pub retention_until: Option<String>,
    /// The release run id from the manifest.
    pub run_id: String,
    /// [`RECORD_SCHEMA_VERSION`].
    pub schema_version: String,
    /// SHA-256 of the bundle file.
    pub sha256: String,
    /// Key id of the public key the bundle verified with.
    pub signing_key_id: String,
    /// Size of the bundle file in bytes.
    pub size: u64,
}

impl PublicationRecord {
    /// Pretty JSON with a final newline, as stored.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }
}

/// What [`publish`] did.
#[derive(Debug, Clone)]
pub struct Publication {
    /// The store URL.
    pub store: String,
    /// The sidecar's key.
    pub sidecar_key: String,
    /// The sidecar as stored (for an already published bundle: the one found, when readable).
    pub record: PublicationRecord,
    /// True when the same bytes were already there and nothing was written.
    pub already_published: bool,
}

/// Why a bundle was not published.
///
/// [`PublishError::is_refusal`] tells refusals (exit 1: the bundle does not verify, or another
/// bundle is already published under its key) from input and store errors (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The bundle does not verify or cannot be read.
    #[error(transparent)]
    Bundle(#[from] EvidenceError),
    /// The store URL cannot be used.
    #[error("store URL {url:?}: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// Why.
        reason: String,
    },
    /// The options contradict each other or the store.
    #[error("{0}")]
    BadOptions(String),
    /// The bundle file cannot be read.
    #[error("{}: {cause}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
    /// A store operation failed (unreachable endpoint, no such bucket, permissions, …).
    #[error("store {url}: {op} {key}: {cause}")]
    Store {
        /// The store URL.
        url: String,
        /// `head`, `get`, `put`, `copy`.
        op: &'static str,
        /// The key.
        key: String,
        /// The cause.
        cause: Box<object_store::Error>,
    },
    /// Another bundle is published under the key; it was left unchanged.
    #[error(
        "store {url}: {key} already exists with other content (sha256:{existing}, this bundle \
         sha256:{ours}); published bundles are never overwritten"
    )]
    Conflict {
        /// The store URL.
        url: String,
        /// The key.
        key: String,
        /// SHA-256 of the object in the store.
        existing: String,
        /// SHA-256 of the bundle being published.
        ours: String,
    },
    /// The sidecar in the store cannot be parsed.
    #[error("store {url}: {key}: not a publication record: {message}")]
    BadSidecar {
        /// The store URL.
        url: String,
        /// The sidecar key.
        key: String,
        /// Why.
        message: String,
    },
}

impl PublishError {
    /// True for refusals (exit 1): the bundle does not verify, or other bytes are published
    /// under its key.
    pub fn is_refusal(&self) -> bool {
        match self {
            PublishError::Bundle(e) => !e.is_input_error(),
            PublishError::Conflict { .. } => true,
            _ => false,
        }
    }
}

/// Verifies `bundle` with `key` and publishes it (with its sidecar) to `options.store`.
/// Returns [`Publication::already_published`] when the same bytes are there already;
/// never replaces an existing object.
pub fn publish(
    bundle: &Path,
    key: &VerifyingKey,
    options: &PublishOptions,
) -> Result<Publication, PublishError> {
    let target = StoreUrl::parse(&options.store)
        .map_err(|e| PublishError::BadUrl { url: e.url, reason: e.reason })?;
    let published_at = time_source::now().map_err(|e| PublishError::BadOptions(e.to_string()))?;
    let lock = lock_settings(options, &target, published_at)?;
    let bundle_name = bundle
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| PublishError::BadOptions(format!("{}: no file name", bundle.display())))?
        .to_owned();

    let summary = crate::verify(bundle, key)?;
    let run_id = summary.manifest.release.run_id.clone();
    if run_id.is_empty()
        || run_id == "."
        || run_id == ".."
        || run_id.contains(['/', '\\'])
        || run_id.chars().any(char::is_control)
    {
        return Err(PublishError::BadOptions(format!(
            "{}: manifest.json /release/runId {run_id:?} cannot be used as a key segment",
            bundle.display()
        )));
    }
    let (size, sha256) = hash_file(bundle)?;
    let dest = Destination::open(&options.store, target, lock.as_ref())?;
    let object_key = dest.key(&format!("{run_id}/{bundle_name}"));
    let sidecar_key = ObjPath::from(format!("{object_key}{SIDECAR_SUFFIX}"));
    if dest.s3.is_some() && size > S3_MAX_COPY {
        return Err(PublishError::BadOptions(format!(
            "{}: {size} bytes; bundles over 5 GiB cannot be published to S3 yet (CopyObject limit)",
            bundle.display()
        )));
    }
    let record = PublicationRecord {
        bundle: bundle_name,
        key: object_key.to_string(),
        manifest_sha256: summary.manifest_sha256.clone(),
        object_lock: lock.as_ref().and_then(|l| l.mode).map(|m| m.as_str().to_owned()),
        published_at: time_source::rfc3339(published_at),
        retention_until: lock.as_ref().map(|l| time_source::rfc3339(l.until)),
        run_id,
        schema_version: RECORD_SCHEMA_VERSION.to_owned(),
        sha256: sha256.clone(),
        signing_key_id: key.key_id(),
        size,
    };

    let created = match dest.head(&object_key)? {
        true => false,
        false => dest.create(&object_key, bundle, size)?,
    };
    if !created {
        let existing = dest.sha256_of(&object_key)?;
        if existing != sha256 {
            return Err(PublishError::Conflict {
                url: dest.url.clone(),
                key: object_key.to_string(),
                existing,
                ours: sha256,
            });
        }
        let record = match dest.read_sidecar(&sidecar_key)? {
            Some(found) => found,
            // Published before, but the sidecar was not written (interrupted): write it now.
            None => {
                dest.create_sidecar(&sidecar_key, &record)?;
                record
            }
        };
        return Ok(Publication {
            store: dest.url.clone(),
            sidecar_key: sidecar_key.to_string(),
            record,
            already_published: true,
        });
    }
    dest.create_sidecar(&sidecar_key, &record)?;
    dest.make_read_only(&object_key)?;
    dest.make_read_only(&sidecar_key)?;
    Ok(Publication {
        store: dest.url.clone(),
        sidecar_key: sidecar_key.to_string(),
        record,
        already_published: false,
    })
}

/// The retention: until when, and (on S3) the object lock mode sent with the writes.
struct Lock {
    mode: Option<LockMode>,
    until: OffsetDateTime,
}

fn lock_settings(
    options: &PublishOptions,
    target: &StoreUrl,
    published_at: OffsetDateTime,
) -> Result<Option<Lock>, PublishError> {
    let Some(retention) = options.retention else {
        if options.object_lock.is_some() {
            return Err(PublishError::BadOptions(
                "--object-lock needs --retention (the retain-until date)".into(),
            ));
        }
        return Ok(None);
    };
    let until = time::Duration::try_from(retention)
        .ok()
        .and_then(|d| published_at.checked_add(d))
        .filter(|u| u.year() <= 9999)
        .ok_or_else(|| PublishError::BadOptions(format!("retention {retention:?} is too long")))?;
    if until <= OffsetDateTime::now_utc() {
        return Err(PublishError::BadOptions(format!(
            "retention until {} is in the past (publication time {} from SOURCE_DATE_EPOCH); \
             object stores reject a retain-until date in the past",
            time_source::rfc3339(until),
            time_source::rfc3339(published_at)
        )));
    }
    match target {
        StoreUrl::S3(_) => Ok(Some(Lock {
            mode: Some(options.object_lock.unwrap_or(LockMode::Compliance)),
            until,
        })),
        StoreUrl::Local(_) if options.object_lock.is_some() => Err(PublishError::BadOptions(
            "--object-lock applies to S3 stores; a local directory records the retention in \
             the sidecar and makes the files read-only"
                .into(),
        )),
        StoreUrl::Local(_) => Ok(Some(Lock { mode: None, until })),
    }
}

fn hash_file(path: &Path) -> Result<(u64, String), PublishError> {
    let io = |cause| PublishError::Io { path: path.to_owned(), cause };
    let mut file = File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// An opened store: object_store for reads, staging uploads and local writes; on S3, an
/// [`S3Writer`] for the requests that create published objects.
struct Destination {
    url: String,
    rt: Runtime,
    store: Arc<dyn ObjectStore>,
    s3: Option<S3Writer>,
    prefix: String,
    local: Option<LocalFileSystem>,
}

impl Destination {
    fn open(url: &str, target: StoreUrl, lock: Option<&Lock>) -> Result<Self, PublishError> {
        let bad = |reason: String| PublishError::BadUrl { url: url.into(), reason };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| bad(format!("cannot start the I/O runtime: {e}")))?;
        match target {
            StoreUrl::Local(root) => {
                std::fs::create_dir_all(&root)
                    .map_err(|e| bad(format!("{}: {e}", root.display())))?;
                let fs = || LocalFileSystem::new_with_prefix(&root).map_err(|e| bad(e.to_string()));
                Ok(Destination {
                    url: url.to_owned(),
                    rt,
                    store: Arc::new(fs()?),
                    s3: None,
                    prefix: String::new(),
                    local: Some(fs()?),
                })
            }
            StoreUrl::S3(S3Location { bucket, prefix, endpoint, region, allow_http }) => {
                let mut client = ClientOptions::new()
                    .with_connect_timeout(std::time::Duration::from_secs(10))
                    .with_timeout(std::time::Duration::from_secs(300));
                let mut builder = AmazonS3Builder::from_env()
                    .with_bucket_name(&bucket)
                    .with_region(&region)
                    .with_retry(RetryConfig {
                        max_retries: 3,
                        retry_timeout: std::time::Duration::from_secs(30),
                        ..RetryConfig::default()
                    });
                let base = match &endpoint {
                    Some(e) => {
                        client = client.with_allow_http(allow_http);
                        builder = builder.with_virtual_hosted_style_request(false).with_endpoint(e);
                        format!("{}/{bucket}", e.trim_end_matches('/'))
                    }
                    None => format!("https://{bucket}.s3.{region}.amazonaws.com"),
                };
                let s3 = Arc::new(
                    builder
                        .with_client_options(client.clone())
                        .build()
                        .map_err(|e| bad(e.to_string()))?,
                );
                let http =
                    ReqwestConnector::default().connect(&client).map_err(|e| bad(e.to_string()))?;
                let writer = S3Writer {
                    s3: s3.clone(),
                    http,
                    base,
                    bucket,
                    region,
                    lock: lock.and_then(|l| Some((l.mode?, time_source::rfc3339(l.until)))),
                };
                Ok(Destination {
                    url: url.to_owned(),
                    rt,
                    store: s3,
                    s3: Some(writer),
                    prefix,
                    local: None,
                })
            }
        }
    }

    fn key(&self, rel: &str) -> ObjPath {
        if self.prefix.is_empty() {
            ObjPath::from(rel)
        } else {
            ObjPath::from(format!("{}/{rel}", self.prefix))
        }
    }

    fn err(
        &self,
        op: &'static str,
        key: &ObjPath,
    ) -> impl FnOnce(object_store::Error) -> PublishError {
        let (url, key) = (self.url.clone(), key.to_string());
        move |cause| PublishError::Store { url, op, key, cause: Box::new(cause) }
    }

    /// Whether `key` exists.
    fn head(&self, key: &ObjPath) -> Result<bool, PublishError> {
        match self.rt.block_on(self.store.head(key)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.err("head", key)(e)),
        }
    }

    /// SHA-256 of an object, streamed.
    fn sha256_of(&self, key: &ObjPath) -> Result<String, PublishError> {
        self.rt
            .block_on(async {
                let mut stream = self.store.get(key).await?.into_stream();
                let mut hasher = Sha256::new();
                while let Some(chunk) = stream.next().await {
                    hasher.update(&chunk?);
                }
                Ok(hex::encode(hasher.finalize()))
            })
            .map_err(self.err("get", key))
    }

    /// Creates `key` holding `bytes` unless it exists: false when it does (nothing replaced).
    fn put_create(&self, key: &ObjPath, bytes: Vec<u8>) -> Result<bool, PublishError> {
        let result = match &self.s3 {
            Some(s3) => self.rt.block_on(s3.put_create(key, bytes)),
            None => {
                let opts = PutOptions { mode: PutMode::Create, ..PutOptions::default() };
                self.rt.block_on(self.store.put_opts(key, bytes.into(), opts)).map(|_| ())
            }
        };
        match result {
            Ok(()) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(e) => Err(self.err("put", key)(e)),
        }
    }

    /// Creates `key` from the file; false when the key exists (nothing replaced).
    fn create(&self, key: &ObjPath, file: &Path, size: u64) -> Result<bool, PublishError> {
        if size <= SINGLE_PUT_LIMIT {
            let bytes = std::fs::read(file)
                .map_err(|cause| PublishError::Io { path: file.to_owned(), cause })?;
            return self.put_create(key, bytes);
        }
        let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
        let staging = ObjPath::from(format!("{key}.upload-{}-{nanos}", std::process::id()));
        self.upload_parts(&staging, file)?;
        let copied = match &self.s3 {
            Some(s3) => self.rt.block_on(s3.copy_create(&staging, key)),
            None => self.rt.block_on(self.store.copy_if_not_exists(&staging, key)),
        };
        let removed = self.rt.block_on(self.store.delete(&staging));
        match copied {
            Ok(()) => {}
            Err(object_store::Error::AlreadyExists { .. }) => return Ok(false),
            Err(e) => return Err(self.err("copy", key)(e)),
        }
        match removed {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(true),
            Err(e) => Err(self.err("delete", &staging)(e)),
        }
    }

    /// Streams the file to `key` in parts; aborted on error.
    fn upload_parts(&self, key: &ObjPath, file: &Path) -> Result<(), PublishError> {
        let io = |cause| PublishError::Io { path: file.to_owned(), cause };
        let mut reader = File::open(file).map_err(io)?;
        let upload =
            self.rt.block_on(self.store.put_multipart(key)).map_err(self.err("put", key))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut buf = vec![0u8; 1024 * 1024];
        let result: Result<(), PublishError> = (|| loop {
            let n = reader.read(&mut buf).map_err(io)?;
            if n == 0 {
                return Ok(());
            }
            let _guard = self.rt.enter();
            writer.write(&buf[..n]);
            self.rt
                .block_on(writer.wait_for_capacity(MAX_IN_FLIGHT))
                .map_err(self.err("put", key))?;
        })();
        let _guard = self.rt.enter();
        match result {
            Ok(()) => self.rt.block_on(writer.finish()).map(|_| ()).map_err(self.err("put", key)),
            Err(e) => {
                let _ = self.rt.block_on(writer.abort());
                Err(e)
            }
        }
    }

    fn read_sidecar(&self, key: &ObjPath) -> Result<Option<PublicationRecord>, PublishError> {
        let bytes = match self.rt.block_on(async { self.store.get(key).await?.bytes().await }) {
            Ok(bytes) => bytes,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.err("get", key)(e)),
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| PublishError::BadSidecar {
            url: self.url.clone(),
            key: key.to_string(),
            message: format!("line {}, column {}: {e}", e.line(), e.column()),
        })
    }

    /// Writes the sidecar once; an existing one must describe the same bundle bytes.
    fn create_sidecar(
        &self,
        key: &ObjPath,
        record: &PublicationRecord,
    ) -> Result<(), PublishError> {
        if self.put_create(key, record.to_bytes())? {
            return Ok(());
        }
        match self.read_sidecar(key)? {
            Some(found) if found.sha256 == record.sha256 => Ok(()),
            found => Err(PublishError::Conflict {
                url: self.url.clone(),
                key: key.to_string(),
                existing: found.map(|f| f.sha256).unwrap_or_default(),
                ours: record.sha256.clone(),
            }),
        }
    }

    /// On a local directory: mode 0444.
    fn make_read_only(&self, key: &ObjPath) -> Result<(), PublishError> {
        let Some(fs) = &self.local else {
            return Ok(());
        };
        let path = fs.path_to_filesystem(key).map_err(self.err("chmod", key))?;
        let io = |cause| PublishError::Io { path: path.clone(), cause };
        let mut permissions = std::fs::metadata(&path).map_err(io)?.permissions();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            permissions.set_mode(0o444);
        }
        #[cfg(not(unix))]
        permissions.set_readonly(true);
        std::fs::set_permissions(&path, permissions).map_err(io)
    }
}

/// The two S3 requests that create published objects, with `If-None-Match: *`, object lock
/// headers and `Content-MD5`, SigV4-signed (all headers) with the store's credentials.
struct S3Writer {
    s3: Arc<AmazonS3>,
    http: HttpClient,
    /// `https://bucket.s3.region.amazonaws.com` or `endpoint/bucket` (path style).
    base: String,
    bucket: String,
    region: String,
    /// Mode and RFC 3339 retain-until date.
    lock: Option<(LockMode, String)>,
}

impl S3Writer {
    /// `PutObject` with `If-None-Match: *`.
    async fn put_create(&self, key: &ObjPath, bytes: Vec<u8>) -> object_store::Result<()> {
        let md5 = md5::Md5::digest(&bytes);
        self.send(key, HttpRequestBody::from(bytes), &md5, None).await
    }

    /// `CopyObject` from `from` with `If-None-Match: *` (at most 5 GiB).
    async fn copy_create(&self, from: &ObjPath, to: &ObjPath) -> object_store::Result<()> {
        let md5 = md5::Md5::digest(b"");
        let source = format!("{}/{}", self.bucket, encode_key(from));
        self.send(to, HttpRequestBody::empty(), &md5, Some(source)).await
    }

    async fn send(
        &self,
        key: &ObjPath,
        body: HttpRequestBody,
        md5: &[u8],
        copy_source: Option<String>,
    ) -> object_store::Result<()> {
        let generic = |e: Box<dyn std::error::Error + Send + Sync>| object_store::Error::Generic {
            store: "S3",
            source: e,
        };
        let mut request = http::Request::builder()
            .method(http::Method::PUT)
            .uri(format!("{}/{}", self.base, encode_key(key)))
            .header("if-none-match", "*")
            .header("content-md5", base64::engine::general_purpose::STANDARD.encode(md5))
            .header(http::header::CONTENT_LENGTH, body.content_length());
        if let Some(source) = copy_source {
            request = request.header("x-amz-copy-source", source);
        }
        if let Some((mode, until)) = &self.lock {
            request = request
                .header("x-amz-object-lock-mode", mode.as_str())
                .header("x-amz-object-lock-retain-until-date", until.as_str());
        }
        let mut request = request.body(body).map_err(|e| generic(Box::new(e)))?;
        let credential = self.s3.credentials().get_credential().await?;
        AwsAuthorizer::new(&credential, "s3", &self.region).authorize(&mut request, None);
        let response = self.http.execute(request).await.map_err(|e| generic(Box::new(e)))?;
        let status = response.status();
        let body = response.into_body().bytes().await.unwrap_or_default();
        let message = || String::from_utf8_lossy(&body).into_owned();
        match status.as_u16() {
            200..=299 => Ok(()),
            412 => Err(object_store::Error::AlreadyExists {
                path: key.to_string(),
                source: message().into(),
            }),
            404 => Err(object_store::Error::NotFound {
                path: key.to_string(),
                source: message().into(),
            }),
            _ => Err(generic(format!("PUT {}: HTTP {status}: {}", key, message()).into())),
        }
    }
}

/// A key as an S3 URL path (and `x-amz-copy-source`): RFC 3986 unreserved bytes and `/` kept,
/// everything else percent-encoded.
fn encode_key(key: &ObjPath) -> String {
    let mut out = String::new();
    for byte in key.as_ref().bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shared parser's refusals surface as `BadUrl`, naming the URL, before anything runs.
    #[test]
    fn bad_store_urls_are_refused_with_the_url() {
        let temp = tempfile::tempdir().unwrap();
        let bundle = temp.path().join("missing.tar.zst");
        let key = tollgate_attest::keys::SigningKey::generate(
            tollgate_attest::keys::KeyAlgorithm::EcdsaP256Sha256,
        )
        .unwrap();
        for url in ["gs://x", "s3:///p", "s3://b/p?x=1", ""] {
            let options = PublishOptions { store: url.into(), retention: None, object_lock: None };
            let e = publish(&bundle, &key.verifying_key(), &options).unwrap_err();
            assert!(matches!(&e, PublishError::BadUrl { url: u, .. } if u == url), "{url}: {e}");
        }
    }

    #[test]
    fn lock_modes_and_key_encoding() {
        assert_eq!("Governance".parse::<LockMode>(), Ok(LockMode::Governance));
        assert_eq!("compliance".parse::<LockMode>(), Ok(LockMode::Compliance));
        assert!("legal-hold".parse::<LockMode>().is_err());
        assert_eq!(LockMode::Governance.as_str(), "GOVERNANCE");
        let key = ObjPath::from("pre/20250101T000000Z/evidence+1 (a).tar.gz");
        assert_eq!(encode_key(&key), "pre/20250101T000000Z/evidence%2B1%20%28a%29.tar.gz");
    }

    /// A bundle bigger than one part takes the staging + hard-link path on a real directory.
    #[test]
    fn large_bundle_to_a_directory_is_staged_linked_and_never_replaced() {
        use tollgate_attest::keys::{KeyAlgorithm, SigningKey};
        let temp = tempfile::tempdir().unwrap();
        let run = temp.path().join("run");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join("release.json"), "{\"runId\": \"r-1\"}").unwrap();
        let mut x: u64 = 7;
        let data: Vec<u8> = (0..(SINGLE_PUT_LIMIT as usize + (1 << 20)) / 8)
            .flat_map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x.to_le_bytes()
            })
            .collect();
        std::fs::write(run.join("artifact.bin"), &data).unwrap();
        let key = SigningKey::generate(KeyAlgorithm::EcdsaP256Sha256).unwrap();
        let bundle = temp.path().join("b.tar.zst");
        crate::build(&run, &key, &bundle, "test").unwrap();
        assert!(std::fs::metadata(&bundle).unwrap().len() > SINGLE_PUT_LIMIT);
        let store = temp.path().join("store");
        let options = PublishOptions {
            store: format!("file://{}", store.display()),
            retention: Some(std::time::Duration::from_secs(86_400)),
            object_lock: None,
        };
        let first = publish(&bundle, &key.verifying_key(), &options).unwrap();
        assert!(!first.already_published);
        assert_eq!(first.record.key, "r-1/b.tar.zst");
        assert_eq!(first.record.object_lock, None);
        let published = store.join("r-1/b.tar.zst");
        assert!(std::fs::read(&published).unwrap() == std::fs::read(&bundle).unwrap());
        let mut names: Vec<String> = std::fs::read_dir(store.join("r-1"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["b.tar.zst", "b.tar.zst.publication.json"], "no staging file left");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&published).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o444);
        }
        let again = publish(&bundle, &key.verifying_key(), &options).unwrap();
        assert!(again.already_published);
        assert_eq!(again.record, first.record, "the stored record is returned");

        std::fs::write(run.join("late.txt"), "late").unwrap();
        crate::build(&run, &key, &bundle, "test").unwrap();
        let refused = publish(&bundle, &key.verifying_key(), &options).unwrap_err();
        assert!(refused.is_refusal(), "{refused}");
        assert!(matches!(refused, PublishError::Conflict { .. }), "{refused}");
        let other = SigningKey::generate(KeyAlgorithm::EcdsaP256Sha256).unwrap();
        let unverified = publish(&bundle, &other.verifying_key(), &options).unwrap_err();
        assert!(unverified.is_refusal() && matches!(unverified, PublishError::Bundle(_)));
    }

    #[test]
    fn lock_needs_retention_and_s3_and_a_future_date() {
        let s3 = StoreUrl::parse("s3://b").unwrap();
        let local = StoreUrl::parse("/tmp/x").unwrap();
        let now = OffsetDateTime::now_utc();
        let year = std::time::Duration::from_secs(365 * 86_400);
        let opts = |retention, object_lock| PublishOptions {
            store: String::new(),
            retention,
            object_lock,
        };
        let err = |r: Result<Option<Lock>, PublishError>| r.err().map(|e| e.to_string());
        assert!(
            err(lock_settings(&opts(None, Some(LockMode::Compliance)), &s3, now))
                .is_some_and(|m| m.contains("needs --retention"))
        );
        assert!(
            err(lock_settings(&opts(Some(year), Some(LockMode::Governance)), &local, now))
                .is_some_and(|m| m.contains("applies to S3"))
        );
        let past = OffsetDateTime::from_unix_timestamp(1_000_000_000).unwrap();
        assert!(
            err(lock_settings(&opts(Some(year), None), &s3, past))
                .is_some_and(|m| m.contains("in the past"))
        );
        let lock = lock_settings(&opts(Some(year), None), &s3, now).unwrap().unwrap();
        assert_eq!(lock.mode, Some(LockMode::Compliance), "the default with a retention");
        assert_eq!((lock.until - now).whole_days(), 365);
        let local_lock = lock_settings(&opts(Some(year), None), &local, now).unwrap().unwrap();
        assert_eq!(local_lock.mode, None, "a directory records the retention, no lock mode");
        assert!(lock_settings(&opts(None, None), &s3, now).unwrap().is_none());
    }
}
