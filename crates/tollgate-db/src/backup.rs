//! Backups: `pg_dump -Fc` streamed through SHA-256 and optional age encryption into an object
//! store, with one metadata document per backup.
//!
//! Layout under the store: `<db>/<id>.dump` (or `<id>.dump.age` when encrypted) and, written
//! last, `<db>/<id>.json`. The dump is a multipart upload, which the store makes visible only
//! when it is completed (S3 CompleteMultipartUpload, a rename for local directories): a failed or
//! interrupted `pg_dump` aborts it and leaves nothing. (Uploading to a temporary key and copying
//! would add a server-side copy, which S3 caps at 5 GiB.) A backup exists for [`list`] only once
//! its metadata document exists, and that is written only after the dump object is complete;
//! a dump without metadata is listed as incomplete.

use crate::conninfo::ConnInfo;
use crate::store::{Store, StoreError};
use rand_core::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::str::FromStr;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Read size of the dump stream.
const CHUNK: usize = 256 * 1024;

/// Errors of backups, restores and verification.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The object store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An external PostgreSQL tool failed or could not be run.
    #[error("{tool}: {message}")]
    Tool {
        /// `pg_dump`, `pg_restore`, `psql`.
        tool: &'static str,
        /// What went wrong (exit status and its stderr).
        message: String,
    },
    /// `pg_dump` is older than the server.
    #[error(
        "pg_dump {pg_dump} is older than the server ({server}); install a pg_dump of major version {server_major} or newer"
    )]
    VersionMismatch {
        /// pg_dump's version.
        pg_dump: String,
        /// The server's version.
        server: String,
        /// The server's major version.
        server_major: u32,
    },
    /// Encryption setup or a recipient failed.
    #[error("encryption: {0}")]
    Encryption(String),
    /// Decryption failed (wrong identity, not an age file, corrupt).
    #[error("decryption: {0}")]
    Decryption(String),
    /// No backup with this id.
    #[error("no backup {0:?} in the store")]
    NotFound(String),
    /// A metadata document is unreadable.
    #[error("metadata {key}: {message}")]
    Metadata {
        /// The object key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// Restore target holds user tables and replacing was not asked for.
    #[error(
        "target database {database:?} is not empty ({tables} user tables); pass --replace to restore over it"
    )]
    TargetNotEmpty {
        /// The target database.
        database: String,
        /// How many user tables it has.
        tables: usize,
    },
    /// The stored bytes are not what the metadata says.
    #[error("integrity: {0}")]
    Integrity(String),
    /// Anything else that is wrong with the input.
    #[error("{0}")]
    Invalid(String),
}

/// Whether a stored backup is whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupStatus {
    /// A metadata document and its object exist.
    #[default]
    Complete,
    /// Something is there but not a complete backup (a temporary upload, an object without
    /// metadata, an unreadable metadata document). Never deleted on a guess.
    Incomplete,
    /// The staging file of an upload that stopped ([`crate::store::StagedUpload`]). Kept while
    /// it may still be written; `retention --apply` removes it once it is older than the grace
    /// period.
    Staging,
}

/// The latest result of one verification tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierResult {
    /// Whether that run of the tier passed.
    pub passed: bool,
    /// RFC 3339 time of that run.
    pub at: String,
}

/// What is known about a backup's verifications: the latest result of each tier, each with
/// its own time. A run of a tier also runs the tiers below it and updates their results, never
/// those above it (a checksum-only pass leaves the restore result and its time alone).
///
/// Stored as `{"checksum": {"passed": …, "at": …}, "toc": …, "restore": …}`; the older
/// `{"tier": T, "at": A}` (the highest tier that passed) is still read, as every tier up to T
/// passed at A.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "VerificationDocument")]
pub struct Verification {
    /// The latest checksum result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<TierResult>,
    /// The latest table-of-contents result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toc: Option<TierResult>,
    /// The latest test-restore result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<TierResult>,
}

/// The tier names, lowest first.
pub const TIERS: [&str; 3] = ["checksum", "toc", "restore"];

impl Verification {
    /// The latest result of tier `name` (`checksum`, `toc`, `restore`).
    pub fn tier(&self, name: &str) -> Option<&TierResult> {
        match name {
            "checksum" => self.checksum.as_ref(),
            "toc" => self.toc.as_ref(),
            "restore" => self.restore.as_ref(),
            _ => None,
        }
    }

    /// Sets the latest result of tier `name`; unknown names are ignored.
    pub fn set(&mut self, name: &str, result: TierResult) {
        match name {
            "checksum" => self.checksum = Some(result),
            "toc" => self.toc = Some(result),
            "restore" => self.restore = Some(result),
            _ => {}
        }
    }

    /// Whether the backup counts as verified: some tier has a result and no tier's latest
    /// result is a failure (a failed restore is not undone by a later checksum pass).
    pub fn passed(&self) -> bool {
        let results: Vec<_> = TIERS.iter().filter_map(|t| self.tier(t)).collect();
        !results.is_empty() && results.iter().all(|r| r.passed)
    }

    /// The highest tier the backup is verified to, when it [passes](Self::passed).
    pub fn claim(&self) -> Option<&'static str> {
        if !self.passed() {
            return None;
        }
        TIERS.iter().rev().copied().find(|t| self.tier(t).is_some())
    }
}

/// Both stored shapes of [`Verification`].
#[derive(Deserialize)]
#[serde(untagged)]
enum VerificationDocument {
    /// Before per-tier results: the highest tier that passed and when.
    Legacy { tier: String, at: String },
    /// Per-tier results.
    Tiers {
        #[serde(default)]
        checksum: Option<TierResult>,
        #[serde(default)]
        toc: Option<TierResult>,
        #[serde(default)]
        restore: Option<TierResult>,
    },
}

impl From<VerificationDocument> for Verification {
    fn from(d: VerificationDocument) -> Self {
        match d {
            VerificationDocument::Tiers { checksum, toc, restore } => {
                Verification { checksum, toc, restore }
            }
            VerificationDocument::Legacy { tier, at } => {
                let mut v = Verification::default();
                let upto = TIERS.iter().position(|t| *t == tier).unwrap_or(0);
                for t in &TIERS[..=upto] {
                    v.set(t, TierResult { passed: true, at: at.clone() });
                }
                v
            }
        }
    }
}

/// A backup's metadata document (`<db>/<id>.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupInfo {
    /// `YYYYMMDDTHHMMSSZ-<hex>`.
    pub id: String,
    /// The database dumped.
    pub database: String,
    /// Object key of the dump, relative to the store.
    pub key: String,
    /// Always `pg_dump-custom`.
    pub format: String,
    /// Server version (`SHOW server_version`).
    pub server_version: String,
    /// `pg_dump --version`.
    pub pg_dump_version: String,
    /// Highest version in `tollgate_schema_history`, if that table exists.
    pub schema_version: Option<String>,
    /// Size in bytes of the stored object.
    pub size: u64,
    /// SHA-256 (hex) of the stored bytes.
    pub sha256: String,
    /// SHA-256 (hex) of the plain `pg_dump` output.
    pub plain_sha256: String,
    /// RFC 3339 UTC start.
    pub started: String,
    /// RFC 3339 UTC completion.
    pub completed: String,
    /// age X25519 recipients the dump is encrypted to; empty when not encrypted.
    pub recipients: Vec<String>,
    /// The latest verification result of each tier, if any ran.
    #[serde(default)]
    pub verified: Option<Verification>,
    /// Not stored: whether this entry is a complete backup.
    #[serde(skip)]
    pub status: BackupStatus,
    /// Not stored: for a [`BackupStatus::Staging`] entry, when its file was last written.
    #[serde(skip)]
    pub last_written: Option<OffsetDateTime>,
}

impl BackupInfo {
    /// When the backup started, if the timestamp parses.
    pub fn started_at(&self) -> Option<OffsetDateTime> {
        OffsetDateTime::parse(&self.started, &Rfc3339).ok()
    }

    /// Whether the stored object is age-encrypted.
    pub fn encrypted(&self) -> bool {
        !self.recipients.is_empty()
    }

    /// Key of the metadata document.
    pub fn metadata_key(&self) -> String {
        format!("{}/{}.json", self.database, self.id)
    }

    fn incomplete(database: &str, id: &str, key: &str, size: u64) -> BackupInfo {
        BackupInfo {
            id: id.to_string(),
            database: database.to_string(),
            key: key.to_string(),
            format: String::new(),
            server_version: String::new(),
            pg_dump_version: String::new(),
            schema_version: None,
            size,
            sha256: String::new(),
            plain_sha256: String::new(),
            started: timestamp_of_id(id).unwrap_or_default(),
            completed: String::new(),
            recipients: Vec::new(),
            verified: None,
            status: BackupStatus::Incomplete,
            last_written: None,
        }
    }

    #[cfg(test)]
    pub(crate) fn for_tests(db: &str, t: OffsetDateTime, n: usize) -> BackupInfo {
        let id = format!("{}-{n:06x}", id_time(t));
        let mut b = BackupInfo::incomplete(db, &id, &format!("{db}/{id}.dump"), 1);
        b.started = t.format(&Rfc3339).unwrap();
        b.completed = b.started.clone();
        b.status = BackupStatus::Complete;
        b
    }
}

fn id_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn timestamp_of_id(id: &str) -> Option<String> {
    let s = id.get(..16)?;
    let b = s.as_bytes();
    if b.get(8) != Some(&b'T') || b.get(15) != Some(&b'Z') {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<u32>().ok();
    let out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        n(0..4)?,
        n(4..6)?,
        n(6..8)?,
        n(9..11)?,
        n(11..13)?,
        n(13..15)?
    );
    OffsetDateTime::parse(&out, &Rfc3339).ok().map(|_| out)
}

/// A new backup id for a backup starting at `t`: `YYYYMMDDTHHMMSSZ-` and 6 random hex digits.
pub fn new_id(t: OffsetDateTime) -> String {
    format!("{}-{:06x}", id_time(t), rand_core::OsRng.next_u32() & 0xff_ffff)
}

/// What to back up and how.
#[derive(Debug, Clone)]
pub struct BackupOptions {
    /// libpq connection string (URI or `key=value`) of the database to dump.
    pub database_url: String,
    /// age X25519 recipients (`age1…`); empty for no encryption.
    pub recipients: Vec<String>,
}

/// Path of a PostgreSQL client tool: `$TOLLGATE_PG_BINDIR/<tool>` when set, else from `PATH`.
pub(crate) fn pg_tool(tool: &str) -> PathBuf {
    match std::env::var_os("TOLLGATE_PG_BINDIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join(tool),
        _ => PathBuf::from(tool),
    }
}

/// Runs one SQL statement with `psql` and returns its unaligned, tuples-only output. The
/// password travels in psql's environment, never on its command line.
pub(crate) fn psql(conn: &ConnInfo, sql: &str) -> Result<String, BackupError> {
    let out = conn
        .command("psql")
        .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d", conn.without_password()])
        .args(["-c", sql])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| BackupError::Tool { tool: "psql", message: format!("cannot run: {e}") })?;
    if !out.status.success() {
        return Err(BackupError::Tool {
            tool: "psql",
            message: conn.scrub(&format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end_matches('\n').to_string())
}

/// Parses a connection string for the client tools; a malformed one is
/// [`BackupError::Invalid`] with the password redacted.
pub(crate) fn conn_info(url: &str) -> Result<ConnInfo, BackupError> {
    ConnInfo::parse(url).map_err(|e| BackupError::Invalid(e.to_string()))
}

/// The same connection string pointing at another database.
pub(crate) fn with_database(url: &str, database: &str) -> String {
    for scheme in ["postgresql://", "postgres://"] {
        if let Some(rest) = url.strip_prefix(scheme) {
            let (main, query) = match rest.split_once('?') {
                Some((m, q)) => (m, format!("?{q}")),
                None => (rest, String::new()),
            };
            let authority = main.split_once('/').map_or(main, |(a, _)| a);
            return format!("{scheme}{authority}/{database}{query}");
        }
    }
    format!("{url} dbname={database}")
}

/// Major version (`15`) of a version string such as `15.14 (Debian …)` or `17devel`.
fn major(version: &str) -> Option<u32> {
    let digits: String = version.trim().chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// `pg_dump --version`'s version number.
fn pg_dump_version() -> Result<String, BackupError> {
    let out = Command::new(pg_tool("pg_dump"))
        .arg("--version")
        .output()
        .map_err(|e| BackupError::Tool { tool: "pg_dump", message: format!("cannot run: {e}") })?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_once(") ")
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| major(v).is_some())
        .ok_or_else(|| BackupError::Tool {
            tool: "pg_dump",
            message: format!("unexpected --version output {:?}", text.trim()),
        })
}

/// Highest applied version in `tollgate_schema_history` in migration order (`1.10` above
/// `1.9`; the column is `text` once dotted versions were applied), `None` when the table is
/// missing or empty.
pub(crate) fn schema_version(url: &ConnInfo) -> Result<Option<String>, BackupError> {
    let exists = psql(url, "SELECT to_regclass('tollgate_schema_history') IS NOT NULL")?;
    if exists.trim() != "t" {
        return Ok(None);
    }
    let versions = psql(url, "SELECT version::text FROM tollgate_schema_history")?;
    Ok(versions
        .lines()
        .filter_map(|v| crate::migrate::MigrationVersion::parse(v.trim()).ok())
        .max()
        .map(|v| v.to_string()))
}

fn now() -> OffsetDateTime {
    tollgate_core::time_source::now().unwrap_or_else(|_| OffsetDateTime::now_utc())
}

/// Parses age X25519 recipients.
pub fn parse_recipients(recipients: &[String]) -> Result<Vec<age::x25519::Recipient>, BackupError> {
    recipients
        .iter()
        .map(|r| {
            age::x25519::Recipient::from_str(r.trim()).map_err(|e| {
                BackupError::Encryption(format!("recipient {r:?} is not an age X25519 key: {e}"))
            })
        })
        .collect()
}

/// Writes through to `inner`, hashing and counting what passes.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Dumps the database into the store and returns its metadata (also written to the store).
pub fn backup(store: &Store, opts: &BackupOptions) -> Result<BackupInfo, BackupError> {
    let started = now();
    let recipients = parse_recipients(&opts.recipients)?;
    let url = &conn_info(&opts.database_url)?;
    let info = psql(url, "SELECT current_database() || '|' || current_setting('server_version')")?;
    let (database, server_version) = info
        .split_once('|')
        .map(|(d, v)| (d.to_string(), v.to_string()))
        .ok_or_else(|| BackupError::Invalid(format!("unexpected server answer {info:?}")))?;
    if database.contains('/') || database.starts_with('.') {
        return Err(BackupError::Invalid(format!("database name {database:?} cannot be a key")));
    }
    let dump_version = pg_dump_version()?;
    let (dump_major, server_major) = (major(&dump_version), major(&server_version));
    if let (Some(d), Some(s)) = (dump_major, server_major)
        && d < s
    {
        return Err(BackupError::VersionMismatch {
            pg_dump: dump_version,
            server: server_version,
            server_major: s,
        });
    }
    let schema_version = schema_version(url)?;
    let id = new_id(started);
    let final_key =
        format!("{database}/{id}.dump{}", if recipients.is_empty() { "" } else { ".age" });
    tracing::info!(%database, %id, "backup started");

    // On any error the multipart upload is aborted: no object appears under `final_key`.
    let (size, sha256, plain_sha256) = stream_dump(store, url, &final_key, &recipients)?;
    let info = BackupInfo {
        id,
        database,
        key: final_key.clone(),
        format: "pg_dump-custom".into(),
        server_version,
        pg_dump_version: dump_version,
        schema_version,
        size,
        sha256,
        plain_sha256,
        started: started.format(&Rfc3339).unwrap_or_default(),
        completed: now().format(&Rfc3339).unwrap_or_default(),
        recipients: opts.recipients.iter().map(|r| r.trim().to_string()).collect(),
        verified: None,
        status: BackupStatus::Complete,
        last_written: None,
    };
    if let Err(e) = write_metadata(store, &info) {
        let _ = store.delete(&final_key);
        return Err(e);
    }
    tracing::info!(id = %info.id, size, "backup complete");
    Ok(info)
}

/// Writes (or rewrites) a backup's metadata document.
pub fn write_metadata(store: &Store, info: &BackupInfo) -> Result<(), BackupError> {
    let json = serde_json::to_vec_pretty(info)
        .map_err(|e| BackupError::Invalid(format!("serialising metadata: {e}")))?;
    Ok(store.put(&info.metadata_key(), json)?)
}

/// Runs pg_dump into a multipart upload of `key`; returns (stored size, stored sha256, plain sha256).
fn stream_dump(
    store: &Store,
    url: &ConnInfo,
    key: &str,
    recipients: &[age::x25519::Recipient],
) -> Result<(u64, String, String), BackupError> {
    let mut child = url
        .command("pg_dump")
        .args(["-Fc", "--no-password", "-d", url.without_password()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| BackupError::Tool { tool: "pg_dump", message: format!("cannot run: {e}") })?;
    let mut stderr = child.stderr.take().expect("piped");
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut stdout = child.stdout.take().expect("piped");
    let upload = store.upload(key)?;
    let mut sink = Hashing { inner: upload, hasher: Sha256::new(), size: 0 };
    let mut plain = Sha256::new();
    let mut plain_size = 0u64;
    let pumped: Result<Hashing<_>, BackupError> = (|| {
        let io_err = |e: io::Error| BackupError::Tool { tool: "pg_dump", message: e.to_string() };
        let mut buf = vec![0u8; CHUNK];
        if recipients.is_empty() {
            loop {
                let n = stdout.read(&mut buf).map_err(io_err)?;
                if n == 0 {
                    break;
                }
                plain.update(&buf[..n]);
                plain_size += n as u64;
                sink.write_all(&buf[..n]).map_err(io_err)?;
            }
            Ok(sink)
        } else {
            let encryptor = age::Encryptor::with_recipients(
                recipients.iter().map(|r| r as &dyn age::Recipient),
            )
            .map_err(|e| BackupError::Encryption(e.to_string()))?;
            let mut w =
                encryptor.wrap_output(sink).map_err(|e| BackupError::Encryption(e.to_string()))?;
            loop {
                let n = stdout.read(&mut buf).map_err(io_err)?;
                if n == 0 {
                    break;
                }
                plain.update(&buf[..n]);
                plain_size += n as u64;
                w.write_all(&buf[..n]).map_err(io_err)?;
            }
            w.finish().map_err(|e| BackupError::Encryption(e.to_string()))
        }
    })();
    let status = match &pumped {
        Ok(_) => child.wait(),
        Err(_) => {
            let _ = child.kill();
            child.wait()
        }
    };
    let stderr_text = err_thread.join().unwrap_or_default();
    let sink = pumped?;
    let status =
        status.map_err(|e| BackupError::Tool { tool: "pg_dump", message: e.to_string() })?;
    if !status.success() {
        let _ = sink.inner.abort();
        return Err(BackupError::Tool {
            tool: "pg_dump",
            message: url.scrub(&format!("{status}: {}", stderr_text.trim())),
        });
    }
    if plain_size == 0 {
        let _ = sink.inner.abort();
        return Err(BackupError::Tool { tool: "pg_dump", message: "produced no output".into() });
    }
    let Hashing { inner, hasher, size } = sink;
    inner.finish()?;
    Ok((size, hex::encode(hasher.finalize()), hex::encode(plain.finalize())))
}

/// Every backup in the store, newest first. Complete backups come from metadata documents;
/// temporary uploads, dumps without metadata and unreadable metadata are listed as
/// [`BackupStatus::Incomplete`]; the staging files of interrupted uploads to a local store as
/// [`BackupStatus::Staging`].
pub fn list(store: &Store) -> Result<Vec<BackupInfo>, BackupError> {
    let objects = store.list("")?;
    let mut out = Vec::new();
    let mut with_meta = std::collections::BTreeSet::new();
    for (key, _) in objects.iter().filter(|(k, _)| k.ends_with(".json")) {
        let Some((db, file)) = key.rsplit_once('/') else { continue };
        let id = file.trim_end_matches(".json");
        with_meta.insert(format!("{db}/{id}"));
        let parsed = store
            .get_bytes(key)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<BackupInfo>(&b).map_err(|e| e.to_string()));
        match parsed {
            Ok(mut info) if info.database == db && info.id == id => {
                let exists = objects.iter().any(|(k, _)| *k == info.key);
                info.status =
                    if exists { BackupStatus::Complete } else { BackupStatus::Incomplete };
                out.push(info);
            }
            Ok(_) => {
                tracing::warn!(%key, "metadata names another backup");
                out.push(BackupInfo::incomplete(db, id, key, 0));
            }
            Err(e) => {
                tracing::warn!(%key, error = %e, "unreadable metadata");
                out.push(BackupInfo::incomplete(db, id, key, 0));
            }
        }
    }
    for (key, size) in &objects {
        let Some((db, file)) = key.rsplit_once('/') else { continue };
        let Some((id, temporary)) = dump_id(file) else { continue };
        if !temporary && with_meta.contains(&format!("{db}/{id}")) {
            continue;
        }
        out.push(BackupInfo::incomplete(db, id, key, *size));
    }
    for staged in store.staged_uploads("")? {
        let Some((db, file)) = staged.target.rsplit_once('/') else { continue };
        let id = dump_id(file).map_or(file, |(id, _)| id);
        let mut info = BackupInfo::incomplete(db, id, &staged.key, staged.size);
        info.status = BackupStatus::Staging;
        info.last_written = Some(staged.modified);
        out.push(info);
    }
    out.sort_by(|a, b| {
        b.started_at()
            .cmp(&a.started_at())
            .then_with(|| b.id.cmp(&a.id))
            .then_with(|| a.key.cmp(&b.key))
    });
    Ok(out)
}

/// The backup id of a dump object's file name, and whether it is a temporary upload:
/// `.tmp-<id>` (temporary), `<id>.dump` or `<id>.dump.age`; `None` for anything else.
fn dump_id(file: &str) -> Option<(&str, bool)> {
    if let Some(id) = file.strip_prefix(".tmp-") {
        return Some((id, true));
    }
    file.strip_suffix(".dump.age").or_else(|| file.strip_suffix(".dump")).map(|id| (id, false))
}

/// The complete backup with this id.
pub fn find(store: &Store, id: &str) -> Result<BackupInfo, BackupError> {
    list(store)?
        .into_iter()
        .find(|b| b.id == id && b.status == BackupStatus::Complete)
        .ok_or_else(|| BackupError::NotFound(id.to_string()))
}

/// Deletes a backup: the object first, the metadata document last. A
/// [`BackupStatus::Staging`] entry is its staging file alone.
pub fn delete(store: &Store, info: &BackupInfo) -> Result<(), BackupError> {
    if info.status == BackupStatus::Staging {
        return Ok(store.delete_staged(&info.key)?);
    }
    store.delete(&info.key)?;
    if info.status == BackupStatus::Complete {
        store.delete(&info.metadata_key())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn ids_and_timestamps() {
        let id = new_id(datetime!(2026-11-25 09:10:11 UTC));
        assert!(id.starts_with("20261125T091011Z-") && id.len() == 23, "{id}");
        assert_eq!(timestamp_of_id(&id).as_deref(), Some("2026-11-25T09:10:11Z"));
        assert_eq!(timestamp_of_id("garbage"), None);
    }

    #[test]
    fn database_in_url() {
        assert_eq!(
            with_database("postgresql://u:p@h:5/app?sslmode=disable", "x"),
            "postgresql://u:p@h:5/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
        assert_eq!(with_database("host=h dbname=a", "x"), "host=h dbname=a dbname=x");
        assert_eq!(major("15.14 (Debian 15.14-0+deb12u1)"), Some(15));
        assert_eq!(major("17devel"), Some(17));
    }

    #[test]
    fn verification_records_old_and_new() {
        let legacy: Verification =
            serde_json::from_str(r#"{"tier":"toc","at":"2026-11-25T09:00:00Z"}"#).unwrap();
        let pass = |at: &str| Some(TierResult { passed: true, at: at.into() });
        assert_eq!(
            legacy,
            Verification {
                checksum: pass("2026-11-25T09:00:00Z"),
                toc: pass("2026-11-25T09:00:00Z"),
                restore: None
            }
        );
        assert_eq!(legacy.claim(), Some("toc"));
        let mut v = legacy.clone();
        v.set("restore", TierResult { passed: false, at: "2026-11-26T00:00:00Z".into() });
        assert!(!v.passed() && v.claim().is_none());
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(serde_json::from_str::<Verification>(&json).unwrap(), v);
        assert!(json.contains(r#""restore":{"passed":false"#), "{json}");
        assert!(!Verification::default().passed());
        // A metadata document written before per-tier results still reads.
        let mut info = BackupInfo::for_tests("app", datetime!(2026-11-25 09:00 UTC), 1);
        let mut doc = serde_json::to_value(&info).unwrap();
        doc["verified"] = serde_json::json!({"tier": "restore", "at": "2026-11-25T10:00:00Z"});
        let back: BackupInfo = serde_json::from_value(doc).unwrap();
        info.verified = Some(Verification {
            checksum: pass("2026-11-25T10:00:00Z"),
            toc: pass("2026-11-25T10:00:00Z"),
            restore: pass("2026-11-25T10:00:00Z"),
        });
        assert_eq!(back, info);
    }

    #[test]
    fn listing_marks_orphans_incomplete() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().to_str().unwrap()).unwrap();
        let mut info = BackupInfo::for_tests("app", datetime!(2026-11-25 09:00 UTC), 1);
        store.put(&info.key, b"x".to_vec()).unwrap();
        info.size = 1;
        write_metadata(&store, &info).unwrap();
        store.put("app/.tmp-20261125T100000Z-000002", b"y".to_vec()).unwrap();
        store.put("app/20261125T080000Z-000003.dump", b"z".to_vec()).unwrap();
        store.put("app/20261125T070000Z-000004.json", b"{not json".to_vec()).unwrap();
        let l = list(&store).unwrap();
        let got: Vec<_> = l.iter().map(|b| (b.id.as_str(), b.status)).collect();
        assert_eq!(
            got,
            vec![
                ("20261125T100000Z-000002", BackupStatus::Incomplete),
                ("20261125T090000Z-000001", BackupStatus::Complete),
                ("20261125T080000Z-000003", BackupStatus::Incomplete),
                ("20261125T070000Z-000004", BackupStatus::Incomplete),
            ]
        );
        assert_eq!(find(&store, "20261125T090000Z-000001").unwrap(), l[1]);
        assert!(matches!(find(&store, "20261125T080000Z-000003"), Err(BackupError::NotFound(_))));
    }
}
