//! Object storage for backups, behind a synchronous API.
//!
//! Backed by the `object_store` crate (a local directory, or S3 including S3-compatible servers
//! on a custom endpoint). `object_store` is async; a [`Store`] owns a small current-thread tokio
//! runtime and drives it with `block_on`, so callers (the CLI, the operator's executor) stay
//! synchronous. Large objects are written with multipart uploads and read as streams: nothing is
//! fully buffered in memory.

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, PutPayload, WriteMultipart};
use std::io::{self, Read, Write};
use std::sync::Arc;
use tokio::runtime::Runtime;
use tollgate_core::store_url::{S3Credentials, StoreUrl};

/// Part size of multipart uploads (S3's minimum is 5 MiB).
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts in flight at once; memory use is bounded by about `PART_SIZE * (MAX_IN_FLIGHT + 1)`.
pub const MAX_IN_FLIGHT: usize = 2;

/// Errors of the object store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store URL could not be understood.
    #[error("store URL {url:?}: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An operation on the store failed.
    #[error("store {url}: {op} {key}: {cause}")]
    Op {
        /// The store URL.
        url: String,
        /// The operation (`get`, `put`, …).
        op: &'static str,
        /// The key.
        key: String,
        /// The underlying error.
        cause: Box<object_store::Error>,
    },
    /// Local I/O (the runtime, a directory) failed.
    #[error("store {url}: {cause}")]
    Io {
        /// The store URL.
        url: String,
        /// The underlying error.
        cause: io::Error,
    },
}

/// An object store rooted at a prefix. Keys passed to its methods are relative to the prefix.
pub struct Store {
    rt: Runtime,
    inner: Arc<dyn ObjectStore>,
    prefix: String,
    url: String,
    /// The directory of a local store (where interrupted uploads leave staging files).
    local_root: Option<std::path::PathBuf>,
}

/// What an interrupted multipart upload left in a local store: the staging file
/// `<key>#<n>` that `object_store` writes before renaming it to `<key>`. The store's listing
/// never shows these files; a process killed mid-upload leaves them behind.
///
/// On S3 an interrupted upload leaves an incomplete multipart upload instead, which is not an
/// object and cannot be listed through `object_store`: the bucket's
/// `AbortIncompleteMultipartUpload` lifecycle rule removes those (see docs/operator.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedUpload {
    /// The staging file's key relative to the store (`<db>/<id>.dump#3`).
    pub key: String,
    /// The key the upload was writing (`<db>/<id>.dump`).
    pub target: String,
    /// Bytes written before the upload stopped.
    pub size: u64,
    /// When the file was last written (a running upload keeps this recent).
    pub modified: time::OffsetDateTime,
}

/// `<key>#<digits>`: the name `object_store`'s local multipart uploads stage under.
fn staged_target(name: &str) -> Option<&str> {
    let (target, n) = name.rsplit_once('#')?;
    (!target.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then_some(target)
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("url", &self.url).finish()
    }
}

impl Store {
    /// Opens a store from a URL (the syntax of [`StoreUrl`]): `file:///dir`, a plain path, or
    /// `s3://bucket[/prefix][?endpoint=http://host:port&region=R]`. S3 credentials come from the
    /// usual `AWS_*` variables; the region and endpoint from the URL or the environment. An
    /// `http://` endpoint is allowed (local S3-compatible servers).
    pub fn open(url: &str) -> Result<Store, StoreError> {
        Store::open_with_credentials(url, None)
    }

    /// Like [`Store::open`]; with `Some(credentials)` every S3 request is signed with them and
    /// no `AWS_*` credential variable (nor any other credential source) is consulted — the
    /// region and endpoint still come from the URL or the environment. Credentials for a local
    /// directory are refused ([`StoreError::BadUrl`]): they would be silently unused.
    pub fn open_with_credentials(
        url: &str,
        credentials: Option<&S3Credentials>,
    ) -> Result<Store, StoreError> {
        let bad = |reason: String| StoreError::BadUrl { url: url.into(), reason };
        let io_err = |cause| StoreError::Io { url: url.into(), cause };
        let target = StoreUrl::parse(url).map_err(|e| bad(e.reason))?;
        let rt =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(io_err)?;
        let mut local_root = None;
        let (inner, prefix): (Arc<dyn ObjectStore>, String) = match target {
            StoreUrl::S3(s3) => {
                let mut b = match credentials {
                    Some(c) => {
                        let b = AmazonS3Builder::new()
                            .with_access_key_id(&c.access_key_id)
                            .with_secret_access_key(&c.secret_access_key);
                        match &c.session_token {
                            Some(token) => b.with_token(token),
                            None => b,
                        }
                    }
                    None => AmazonS3Builder::from_env(),
                };
                b = b.with_bucket_name(&s3.bucket).with_region(&s3.region);
                if let Some(e) = &s3.endpoint {
                    b = b
                        .with_allow_http(s3.allow_http)
                        .with_virtual_hosted_style_request(false)
                        .with_endpoint(e);
                }
                let s3_store = b.build().map_err(|e| bad(e.to_string()))?;
                (Arc::new(s3_store), s3.prefix)
            }
            StoreUrl::Local(_) if credentials.is_some() => {
                return Err(bad("S3 credentials given for a local directory".into()));
            }
            StoreUrl::Local(path) => {
                std::fs::create_dir_all(&path).map_err(io_err)?;
                let fs = LocalFileSystem::new_with_prefix(&path).map_err(|e| bad(e.to_string()))?;
                local_root = Some(path);
                (Arc::new(fs), String::new())
            }
        };
        Ok(Store { rt, inner, prefix, url: url.to_string(), local_root })
    }

    /// The URL this store was opened from.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn path(&self, key: &str) -> ObjPath {
        if self.prefix.is_empty() {
            ObjPath::from(key)
        } else {
            ObjPath::from(format!("{}/{key}", self.prefix))
        }
    }

    fn rel(&self, p: &ObjPath) -> String {
        let s = p.as_ref();
        if self.prefix.is_empty() {
            s.to_string()
        } else {
            s.strip_prefix(&self.prefix).unwrap_or(s).trim_start_matches('/').to_string()
        }
    }

    fn op_err(
        &self,
        op: &'static str,
        key: &str,
    ) -> impl FnOnce(object_store::Error) -> StoreError {
        let (url, key) = (self.url.clone(), key.to_string());
        move |cause| StoreError::Op { url, op, key, cause: Box::new(cause) }
    }

    /// Writes a small object in one request.
    pub fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let p = self.path(key);
        self.rt
            .block_on(self.inner.put(&p, PutPayload::from(bytes)))
            .map(|_| ())
            .map_err(self.op_err("put", key))
    }

    /// Reads a small object whole.
    pub fn get_bytes(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let p = self.path(key);
        self.rt
            .block_on(async { self.inner.get(&p).await?.bytes().await })
            .map(|b| b.to_vec())
            .map_err(self.op_err("get", key))
    }

    /// Opens an object for streaming reads.
    pub fn reader(&self, key: &str) -> Result<StoreReader<'_>, StoreError> {
        let p = self.path(key);
        let stream =
            self.rt.block_on(self.inner.get(&p)).map_err(self.op_err("get", key))?.into_stream();
        Ok(StoreReader { store: self, stream, buf: Bytes::new(), key: key.to_string() })
    }

    /// Size of an object, `None` when it does not exist.
    pub fn size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        match self.rt.block_on(self.inner.head(&self.path(key))) {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.op_err("head", key)(e)),
        }
    }

    /// Copies an object (server-side where the store can).
    pub fn copy(&self, from: &str, to: &str) -> Result<(), StoreError> {
        self.rt
            .block_on(self.inner.copy(&self.path(from), &self.path(to)))
            .map_err(self.op_err("copy", from))
    }

    /// Deletes an object; a missing object is not an error.
    pub fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.rt.block_on(self.inner.delete(&self.path(key))) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.op_err("delete", key)(e)),
        }
    }

    /// Keys (relative to the store prefix) under `dir`, with sizes, sorted.
    pub fn list(&self, dir: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let p = if dir.is_empty() && self.prefix.is_empty() { None } else { Some(self.path(dir)) };
        let mut out = self.rt.block_on(async {
            let mut s = self.inner.list(p.as_ref());
            let mut out = Vec::new();
            while let Some(m) = s.next().await {
                let m = m?;
                out.push((self.rel(&m.location), m.size));
            }
            Ok::<_, object_store::Error>(out)
        });
        if let Err(object_store::Error::NotFound { .. }) = out {
            out = Ok(Vec::new());
        }
        let mut out = out.map_err(self.op_err("list", dir))?;
        out.sort();
        Ok(out)
    }

    /// The staging files of interrupted uploads under `dir` (see [`StagedUpload`]), sorted by
    /// key; always empty for S3.
    pub fn staged_uploads(&self, dir: &str) -> Result<Vec<StagedUpload>, StoreError> {
        let Some(root) = &self.local_root else { return Ok(Vec::new()) };
        let io_err = |cause| StoreError::Io { url: self.url.clone(), cause };
        let mut out = Vec::new();
        let mut pending = vec![root.join(dir)];
        while let Some(d) = pending.pop() {
            let entries = match std::fs::read_dir(&d) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(e)),
            };
            for entry in entries {
                let entry = entry.map_err(io_err)?;
                let kind = entry.file_type().map_err(io_err)?;
                if kind.is_dir() {
                    pending.push(entry.path());
                    continue;
                }
                let path = entry.path();
                let Some(rel) = path.strip_prefix(root).ok().and_then(|r| r.to_str()) else {
                    continue;
                };
                let rel = rel.replace(std::path::MAIN_SEPARATOR, "/");
                let Some(target) = staged_target(&rel) else { continue };
                if !kind.is_file() {
                    continue;
                }
                let meta = entry.metadata().map_err(io_err)?;
                let modified = meta.modified().map_err(io_err)?;
                out.push(StagedUpload {
                    target: target.to_string(),
                    key: rel.clone(),
                    size: meta.len(),
                    modified: time::OffsetDateTime::from(modified),
                });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// Removes one staging file [`staged_uploads`](Self::staged_uploads) listed. Refuses any
    /// key that is not a staging file's (`<key>#<digits>`), so no backup can go this way.
    pub fn delete_staged(&self, key: &str) -> Result<(), StoreError> {
        let io_err = |cause| StoreError::Io { url: self.url.clone(), cause };
        let Some(root) = &self.local_root else {
            return Err(io_err(io::Error::other("an S3 store has no staging files")));
        };
        if staged_target(key).is_none() || key.split('/').any(|p| p.is_empty() || p == "..") {
            return Err(io_err(io::Error::other(format!("{key:?} is not a staging file"))));
        }
        match std::fs::remove_file(root.join(key)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(e)),
        }
    }

    /// Starts a multipart upload to `key`. Write to the returned writer, then
    /// [`Upload::finish`] or [`Upload::abort`].
    pub fn upload(&self, key: &str) -> Result<Upload<'_>, StoreError> {
        let p = self.path(key);
        let mp = self.rt.block_on(self.inner.put_multipart(&p)).map_err(self.op_err("put", key))?;
        Ok(Upload {
            store: self,
            key: key.to_string(),
            writer: Some(WriteMultipart::new_with_chunk_size(mp, PART_SIZE)),
        })
    }
}

/// A streaming multipart upload; implements [`Write`]. Dropped without `finish`, it is aborted.
pub struct Upload<'a> {
    store: &'a Store,
    key: String,
    writer: Option<WriteMultipart>,
}

impl Upload<'_> {
    /// Completes the upload.
    pub fn finish(mut self) -> Result<(), StoreError> {
        let w = self.writer.take().expect("upload still open");
        let _guard = self.store.rt.enter();
        self.store.rt.block_on(w.finish()).map(|_| ()).map_err(self.store.op_err("put", &self.key))
    }

    /// Abandons the upload and its parts.
    pub fn abort(mut self) -> Result<(), StoreError> {
        match self.writer.take() {
            Some(w) => {
                let _guard = self.store.rt.enter();
                self.store.rt.block_on(w.abort()).map_err(self.store.op_err("abort", &self.key))
            }
            None => Ok(()),
        }
    }
}

impl Drop for Upload<'_> {
    fn drop(&mut self) {
        if let Some(w) = self.writer.take() {
            let _guard = self.store.rt.enter();
            let _ = self.store.rt.block_on(w.abort());
        }
    }
}

impl Write for Upload<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let w = self.writer.as_mut().ok_or_else(|| io::Error::other("upload closed"))?;
        let _guard = self.store.rt.enter();
        w.write(buf);
        // Drive the uploads of full parts and bound the parts held in memory.
        self.store.rt.block_on(w.wait_for_capacity(MAX_IN_FLIGHT)).map_err(io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A streaming reader of one object; implements [`Read`].
pub struct StoreReader<'a> {
    store: &'a Store,
    stream: BoxStream<'static, object_store::Result<Bytes>>,
    buf: Bytes,
    key: String,
}

impl Read for StoreReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.buf.is_empty() {
            match self.store.rt.block_on(self.stream.next()) {
                None => return Ok(0),
                Some(Ok(b)) => self.buf = b,
                Some(Err(e)) => {
                    return Err(io::Error::other(format!("reading {}: {e}", self.key)));
                }
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf.split_to(n));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_roundtrip_multipart_copy_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("file://{}", dir.path().display())).unwrap();
        let mut up = store.upload("db/.tmp-x").unwrap();
        let data: Vec<u8> = (0..(PART_SIZE * 2 + 123)).map(|i| (i % 251) as u8).collect();
        for chunk in data.chunks(64 * 1024) {
            up.write_all(chunk).unwrap();
        }
        up.finish().unwrap();
        store.copy("db/.tmp-x", "db/x.dump").unwrap();
        store.delete("db/.tmp-x").unwrap();
        assert_eq!(store.size("db/x.dump").unwrap(), Some(data.len() as u64));
        assert_eq!(store.size("db/.tmp-x").unwrap(), None);
        let mut back = Vec::new();
        store.reader("db/x.dump").unwrap().read_to_end(&mut back).unwrap();
        assert!(back == data);
        assert_eq!(store.list("db").unwrap(), vec![("db/x.dump".to_string(), data.len() as u64)]);
        store.delete("db/x.dump").unwrap();
        store.delete("db/x.dump").unwrap();
        assert!(store.list("db").unwrap().is_empty());
    }

    #[test]
    fn aborted_upload_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().to_str().unwrap()).unwrap();
        let mut up = store.upload("db/.tmp-y").unwrap();
        up.write_all(&vec![7u8; PART_SIZE + 5]).unwrap();
        up.abort().unwrap();
        assert_eq!(store.size("db/.tmp-y").unwrap(), None);
        assert!(store.list("").unwrap().is_empty(), "{:?}", store.list("").unwrap());
    }

    #[test]
    fn bad_urls() {
        assert!(matches!(Store::open("gs://x"), Err(StoreError::BadUrl { .. })));
        assert!(matches!(Store::open("s3:///p"), Err(StoreError::BadUrl { .. })));
        assert!(matches!(Store::open("s3://b/p?x=1"), Err(StoreError::BadUrl { .. })));
        let e = Store::open("s3://b?region=").unwrap_err().to_string();
        assert!(e.contains("\"s3://b?region=\"") && e.contains("has no value"), "{e}");
    }

    /// A TCP relay in front of `upstream` that keeps every byte the client sends, so a test can
    /// read the `Authorization` headers the store really signed with. Returns its endpoint.
    fn recording_relay(upstream: &str) -> (String, std::sync::Arc<std::sync::Mutex<Vec<u8>>>) {
        use std::net::{TcpListener, TcpStream};
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = sent.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { return };
                let mut server = TcpStream::connect(&upstream).unwrap();
                let (mut client_r, mut server_w) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                let record = record.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16 * 1024];
                    while let Ok(n @ 1..) = client_r.read(&mut buf) {
                        record.lock().unwrap().extend_from_slice(&buf[..n]);
                        if server_w.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = server_w.shutdown(std::net::Shutdown::Write);
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut server, &mut client);
                    let _ = client.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        (endpoint, sent)
    }

    /// Against moto (`TOLLGATE_TEST_S3_ENDPOINT`) through a recording relay: explicit
    /// credentials sign every request (key id and session token on the wire) and the `AWS_*`
    /// credentials of the process are not used; without them, the environment's key id is.
    #[test]
    fn explicit_credentials_sign_the_requests_instead_of_the_environment() {
        let moto = crate::testing::s3_endpoint();
        let env_key = std::env::var("AWS_ACCESS_KEY_ID")
            .expect("AWS_ACCESS_KEY_ID is not set: run `cargo xtask test` (it sets AWS_*)");
        let bucket = crate::testing::create_bucket("f1-credentials");

        let (relay, sent) = recording_relay(&moto);
        let url = format!("s3://{bucket}/pre?endpoint={relay}");
        let credentials = S3Credentials {
            access_key_id: "AKIDF1EXPLICIT".into(),
            secret_access_key: "explicit-secret".into(),
            session_token: Some("explicit-session-token".into()),
        };
        assert_ne!(env_key, credentials.access_key_id, "the test needs a different env key");
        let store = Store::open_with_credentials(&url, Some(&credentials)).unwrap();
        store.put("a/one", b"hello".to_vec()).unwrap();
        assert_eq!(store.get_bytes("a/one").unwrap(), b"hello");
        assert_eq!(store.list("a").unwrap(), vec![("a/one".to_string(), 5)]);
        let wire = String::from_utf8_lossy(&sent.lock().unwrap()).to_ascii_lowercase();
        let signed = wire.matches("credential=akidf1explicit/").count();
        assert!(signed >= 3, "put, get and list signed with the explicit key: {signed}");
        assert_eq!(signed, wire.matches("authorization:").count(), "every request");
        assert!(wire.contains("x-amz-security-token: explicit-session-token"));
        let env_marker = format!("credential={}/", env_key.to_ascii_lowercase());
        assert!(!wire.contains(&env_marker), "the environment's key was used");
        assert!(!wire.contains("explicit-secret"), "the secret never travels");

        sent.lock().unwrap().clear();
        let from_env = Store::open(&url).unwrap();
        assert_eq!(from_env.get_bytes("a/one").unwrap(), b"hello");
        let wire = String::from_utf8_lossy(&sent.lock().unwrap()).to_ascii_lowercase();
        assert!(wire.contains(&env_marker), "without credentials the environment signs");
        assert!(!wire.contains("akidf1explicit"));
    }

    #[test]
    fn credentials_for_a_directory_are_refused_before_it_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let credentials = S3Credentials {
            access_key_id: "AKIDDIR".into(),
            secret_access_key: "dir-secret".into(),
            session_token: None,
        };
        let e =
            Store::open_with_credentials(path.to_str().unwrap(), Some(&credentials)).unwrap_err();
        assert!(
            matches!(&e, StoreError::BadUrl { reason, .. } if reason.contains("local directory")),
            "{e}"
        );
        assert!(!path.exists(), "nothing created");
    }
}
