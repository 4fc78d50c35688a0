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
    #[error("store {url}: {op} {key}: {source}")]
    Op {
        /// The store URL.
        url: String,
        /// The operation (`get`, `put`, …).
        op: &'static str,
        /// The key.
        key: String,
        /// The underlying error.
        #[source]
        source: Box<object_store::Error>,
    },
    /// Local I/O (the runtime, a directory) failed.
    #[error("store {url}: {source}")]
    Io {
        /// The store URL.
        url: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// An object store rooted at a prefix. Keys passed to its methods are relative to the prefix.
pub struct Store {
    rt: Runtime,
    inner: Arc<dyn ObjectStore>,
    prefix: String,
    url: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("url", &self.url).finish()
    }
}

impl Store {
    /// Opens a store from a URL: `file:///dir`, a plain path, or
    /// `s3://bucket[/prefix][?endpoint=http://host:port&region=R]`. S3 credentials and the
    /// region come from the usual `AWS_*` variables; the endpoint from the URL or
    /// `AWS_ENDPOINT_URL`. An `http://` endpoint is allowed (local S3-compatible servers).
    pub fn open(url: &str) -> Result<Store, StoreError> {
        let bad = |reason: &str| StoreError::BadUrl { url: url.into(), reason: reason.into() };
        let io_err = |source| StoreError::Io { url: url.into(), source };
        let rt =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(io_err)?;
        let (inner, prefix): (Arc<dyn ObjectStore>, String) =
            if let Some(rest) = url.strip_prefix("s3://") {
                let (loc, query) = rest.split_once('?').unwrap_or((rest, ""));
                let (bucket, prefix) = loc.split_once('/').unwrap_or((loc, ""));
                if bucket.is_empty() {
                    return Err(bad("no bucket name"));
                }
                let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
                let mut endpoint = std::env::var("AWS_ENDPOINT_URL").ok().filter(|e| !e.is_empty());
                let mut region = None;
                for pair in query.split('&').filter(|p| !p.is_empty()) {
                    match pair.split_once('=') {
                        Some(("endpoint", v)) => endpoint = Some(v.to_string()),
                        Some(("region", v)) => region = Some(v.to_string()),
                        _ => return Err(bad(&format!("unknown query parameter {pair:?}"))),
                    }
                }
                if let Some(e) = endpoint {
                    b = b
                        .with_allow_http(e.starts_with("http://"))
                        .with_virtual_hosted_style_request(false)
                        .with_endpoint(e);
                }
                let region = region
                    .or_else(|| std::env::var("AWS_REGION").ok())
                    .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
                    .unwrap_or_else(|| "us-east-1".into());
                b = b.with_region(region);
                let s3 = b.build().map_err(|e| bad(&e.to_string()))?;
                (Arc::new(s3), prefix.trim_matches('/').to_string())
            } else {
                let path = match url.strip_prefix("file://") {
                    Some(p) => p,
                    None if url.contains("://") => return Err(bad("unsupported scheme")),
                    None => url,
                };
                if path.is_empty() {
                    return Err(bad("empty path"));
                }
                std::fs::create_dir_all(path).map_err(io_err)?;
                let fs = LocalFileSystem::new_with_prefix(path).map_err(|e| bad(&e.to_string()))?;
                (Arc::new(fs), String::new())
            };
        Ok(Store { rt, inner, prefix, url: url.to_string() })
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
        move |source| StoreError::Op { url, op, key, source: Box::new(source) }
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
    }
}
