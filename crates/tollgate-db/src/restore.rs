//! Verification tiers and restores.
//!
//! [`verify`] checks a stored backup and returns a `GateReport` (gate `db-verify`) usable as
//! evidence: `checksum` re-reads the stored object and compares SHA-256 and size with the
//! metadata; `toc` decrypts if needed and pipes the archive into `pg_restore --list` (the plain
//! SHA-256 is compared on the way, so a truncated archive fails even when its table of contents
//! is intact); `restore` restores into a scratch database `tollgate_verify_<id>` and runs SQL
//! checks there. The scratch database is always dropped afterwards, also on failure.
//!
//! [`restore_into`] restores a backup into a target database; it refuses a target with user
//! tables unless told to replace, never drops the target database itself, and checks the
//! decryption identity and the stored checksum before touching the target.

use crate::backup::{BackupError, BackupInfo, TierResult, conn_info, pg_tool, psql};
use crate::conninfo::ConnInfo;
use crate::store::Store;
use sha2::{Digest as _, Sha256};
use std::io::{self, Read, Write};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::Instant;
use tollgate_core::{Finding, GateReport, Severity};

/// The gate name of verification reports.
pub const GATE: &str = "db-verify";

/// How thoroughly to verify; each tier includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    /// Stored bytes match the metadata's SHA-256 and size.
    Checksum,
    /// `pg_restore --list` reads the archive, whose plain SHA-256 matches the metadata.
    Toc,
    /// A full restore into a scratch database, with SQL checks.
    Restore,
}

impl Tier {
    /// `checksum`, `toc` or `restore`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Checksum => "checksum",
            Tier::Toc => "toc",
            Tier::Restore => "restore",
        }
    }
}

/// Options of [`verify`].
#[derive(Clone)]
pub struct VerifyOptions {
    /// Highest tier to run.
    pub tier: Tier,
    /// Server for the scratch database (any database on it; needs CREATEDB). Required for
    /// [`Tier::Restore`].
    pub database_url: Option<String>,
    /// age identities for encrypted backups.
    pub identities: Vec<age::x25519::Identity>,
    /// Extra SQL queries that must each return `true` in the restored database.
    pub queries: Vec<String>,
    /// Record each tier's result (passed or failed) in the backup's metadata document.
    pub record: bool,
}

impl std::fmt::Debug for VerifyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyOptions")
            .field("tier", &self.tier)
            .field("database_url", &self.database_url)
            .field("identities", &self.identities.len())
            .field("queries", &self.queries)
            .field("record", &self.record)
            .finish()
    }
}

/// Parses age identities (`AGE-SECRET-KEY-1…` lines; `#` comments and blank lines ignored).
pub fn parse_identities(text: &str) -> Result<Vec<age::x25519::Identity>, BackupError> {
    let ids = text
        .lines()
        .map(str::trim)
        .enumerate()
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .map(|(n, l)| {
            age::x25519::Identity::from_str(l).map_err(|_| {
                BackupError::Decryption(format!(
                    "line {}: not an age X25519 identity (AGE-SECRET-KEY-1…)",
                    n + 1
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if ids.is_empty() {
        return Err(BackupError::Decryption("no age identity found".into()));
    }
    Ok(ids)
}

/// Reads identities from a file (errors name the file).
pub fn load_identities(path: &std::path::Path) -> Result<Vec<age::x25519::Identity>, BackupError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| BackupError::Decryption(format!("{}: {e}", path.display())))?;
    parse_identities(&text).map_err(|e| BackupError::Decryption(format!("{}: {e}", path.display())))
}

/// The plain archive of a backup as a stream, decrypting when needed. A wrong identity fails
/// here, before anything reads the archive.
pub fn open_archive<'a>(
    store: &'a Store,
    info: &BackupInfo,
    identities: &[age::x25519::Identity],
) -> Result<Box<dyn Read + 'a>, BackupError> {
    let reader = store.reader(&info.key)?;
    if !info.encrypted() {
        return Ok(Box::new(reader));
    }
    if identities.is_empty() {
        return Err(BackupError::Decryption(format!(
            "backup {} is encrypted to {}; pass an age identity (--identity FILE)",
            info.id,
            info.recipients.join(", ")
        )));
    }
    let decryptor = age::Decryptor::new(reader).map_err(|e| {
        BackupError::Decryption(format!("{}: not a readable age file: {e}", info.key))
    })?;
    let stream = decryptor.decrypt(identities.iter().map(|i| i as &dyn age::Identity)).map_err(
        |e| match e {
            age::DecryptError::NoMatchingKeys => BackupError::Decryption(format!(
                "no given identity matches a recipient of backup {} (encrypted to {})",
                info.id,
                info.recipients.join(", ")
            )),
            e => BackupError::Decryption(format!("{}: {e}", info.key)),
        },
    )?;
    Ok(Box::new(stream))
}

/// What came of piping an archive into a tool.
struct Piped {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
    sha256: String,
    size: u64,
    /// Reading the archive failed (store error, decryption/truncation).
    read_error: Option<String>,
}

/// Streams `input` into `tool args…`'s stdin, hashing it; keeps reading (and hashing) to the end
/// even when the tool stops reading early.
fn pipe_into(
    tool: &'static str,
    mut command: Command,
    mut input: impl Read,
) -> Result<Piped, BackupError> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| BackupError::Tool { tool, message: format!("cannot run: {e}") })?;
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut s);
            }
            String::from_utf8_lossy(&s).into_owned()
        })
    };
    let out = drain(child.stdout.take().map(|r| Box::new(r) as Box<dyn Read + Send>));
    let err = drain(child.stderr.take().map(|r| Box::new(r) as Box<dyn Read + Send>));
    let mut stdin = child.stdin.take();
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut read_error = None;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                read_error = Some(e.to_string());
                break;
            }
        };
        hasher.update(&buf[..n]);
        size += n as u64;
        if let Some(w) = stdin.as_mut()
            && w.write_all(&buf[..n]).is_err()
        {
            stdin = None; // the tool stopped reading; keep hashing
        }
    }
    drop(stdin);
    let status =
        child.wait().map_err(|e| BackupError::Tool { tool, message: format!("wait: {e}") })?;
    Ok(Piped {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        sha256: hex::encode(hasher.finalize()),
        size,
        read_error,
    })
}

fn first_lines(s: &str) -> String {
    let lines: Vec<_> = s.lines().filter(|l| !l.trim().is_empty()).take(5).collect();
    lines.join("; ")
}

/// Stored bytes against the metadata; `Err` carries the finding message.
fn check_checksum(store: &Store, info: &BackupInfo) -> Result<Result<(), String>, BackupError> {
    let mut reader = store.reader(&info.key)?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = reader.read(&mut buf).map_err(|e| BackupError::Integrity(e.to_string()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    let sha = hex::encode(hasher.finalize());
    if sha == info.sha256 && size == info.size {
        Ok(Ok(()))
    } else {
        Ok(Err(format!(
            "stored object {} is corrupted or truncated: {size} bytes with sha256 {sha}, metadata says {} bytes with sha256 {}",
            info.key, info.size, info.sha256
        )))
    }
}

/// Verifies a backup up to `opts.tier` and returns the report (gate `db-verify`). Errors are
/// for what prevents verifying at all (store unreachable); problems with the backup are
/// findings with severity error.
pub fn verify(
    store: &Store,
    info: &BackupInfo,
    opts: &VerifyOptions,
) -> Result<GateReport, BackupError> {
    let started = tollgate_core::time_source::rfc3339(
        tollgate_core::time_source::now().unwrap_or_else(|_| time::OffsetDateTime::now_utc()),
    );
    let clock = Instant::now();
    let mut findings = Vec::new();
    let subject = info.id.clone();
    let f = |rule: &str, sev: Severity, msg: String| {
        Finding::new(format!("{GATE}/{rule}"), sev, msg).about(subject.clone())
    };
    // The outcome of each tier that ran: `None` when it did not run.
    let mut results: Vec<(&str, bool)> = Vec::new();

    let checksum_ok = match check_checksum(store, info)? {
        Ok(()) => {
            findings.push(f(
                "checksum",
                Severity::Info,
                format!("sha256 {} and size {} match the metadata", info.sha256, info.size),
            ));
            true
        }
        Err(msg) => {
            findings.push(f("checksum-mismatch", Severity::Error, msg));
            false
        }
    };
    results.push(("checksum", checksum_ok));
    let mut ok = checksum_ok;

    if opts.tier >= Tier::Toc {
        let toc_ok = match toc(store, info, &opts.identities) {
            Ok(entries) => {
                findings.push(f(
                    "toc",
                    Severity::Info,
                    format!("pg_restore --list read {entries} table-of-contents entries"),
                ));
                true
            }
            Err(msg) => {
                findings.push(f("toc-unreadable", Severity::Error, msg));
                false
            }
        };
        results.push(("toc", toc_ok));
        ok &= toc_ok;
    }

    if opts.tier >= Tier::Restore {
        if !ok {
            findings.push(f(
                "restore-skipped",
                Severity::Error,
                "test restore skipped: the archive failed an earlier tier".into(),
            ));
            // An archive that fails a lower tier cannot be restored either.
            results.push(("restore", false));
        } else {
            match &opts.database_url {
                None => {
                    // Not a result about the backup: nothing recorded for this tier.
                    ok = false;
                    findings.push(f(
                        "restore-no-server",
                        Severity::Error,
                        "the restore tier needs --database-url of a server for the scratch database".into(),
                    ));
                }
                Some(url) => {
                    let before = findings.len();
                    test_restore(store, info, url, opts, &mut findings, &f)?;
                    let restore_ok =
                        !findings[before..].iter().any(|x| x.severity == Severity::Error);
                    results.push(("restore", restore_ok));
                    ok &= restore_ok;
                }
            }
        }
    }
    let _ = ok;

    if opts.record && !results.is_empty() {
        // Re-read the document: another run may have recorded since `info` was read.
        let mut updated = crate::backup::find(store, &info.id).unwrap_or_else(|_| info.clone());
        let verified = updated.verified.get_or_insert_with(Default::default);
        for (tier, passed) in results {
            verified.set(tier, TierResult { passed, at: started.clone() });
        }
        crate::backup::write_metadata(store, &updated)?;
    }
    let inputs = vec![crate::gate::backup_input(store, info)];
    Ok(GateReport::new(
        GATE,
        inputs,
        findings,
        Severity::Error,
        started,
        clock.elapsed().as_millis() as u64,
    ))
}

/// The `toc` tier; `Ok(number of TOC entries)` or the finding message.
fn toc(store: &Store, info: &BackupInfo, ids: &[age::x25519::Identity]) -> Result<usize, String> {
    let archive = open_archive(store, info, ids).map_err(|e| e.to_string())?;
    let mut command = Command::new(pg_tool("pg_restore"));
    command.arg("--list");
    let piped = pipe_into("pg_restore", command, archive).map_err(|e| e.to_string())?;
    if let Some(e) = piped.read_error {
        return Err(format!("archive {} cannot be read to the end: {e}", info.key));
    }
    if !piped.status.success() {
        return Err(format!(
            "pg_restore --list cannot read archive {} (corrupted or truncated?): {}",
            info.key,
            first_lines(&piped.stderr)
        ));
    }
    if piped.sha256 != info.plain_sha256 {
        return Err(format!(
            "archive {} is corrupted or truncated: plain dump is {} bytes with sha256 {}, metadata says sha256 {}",
            info.key, piped.size, piped.sha256, info.plain_sha256
        ));
    }
    Ok(piped.stdout.lines().filter(|l| !l.starts_with(';') && !l.trim().is_empty()).count())
}

/// Scratch databases of runs that started longer ago than this, marked as ours and with no
/// connection, are left-overs of interrupted runs: the next run drops them.
pub const STALE_SCRATCH_AFTER: time::Duration = time::Duration::hours(1);

/// The first word of the comment that marks a scratch database as made by a verification run.
pub const SCRATCH_MARKER: &str = "tollgate-verify";

/// Name of the scratch database of one verification run (`run`, a nonce) of a backup:
/// `tollgate_verify_<id>_<run>`, at most 63 bytes (PostgreSQL's identifier limit).
pub fn scratch_name(id: &str, run: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
            .collect()
    };
    let run: String = clean(run).chars().take(12).collect();
    let room = 63 - "tollgate_verify_".len() - 1 - run.len();
    let id: String = clean(id).chars().take(room).collect();
    format!("tollgate_verify_{id}_{run}")
}

/// The comment that marks a scratch database: `tollgate-verify run=<run> backup=<id>
/// started=<RFC 3339>`.
pub fn scratch_marker(run: &str, backup_id: &str, started: time::OffsetDateTime) -> String {
    let started =
        started.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    format!("{SCRATCH_MARKER} run={run} backup={backup_id} started={started}")
}

/// When the run that made a scratch database started, if `comment` is our marker.
pub fn marker_started(comment: &str) -> Option<time::OffsetDateTime> {
    let mut words = comment.split_whitespace();
    if words.next() != Some(SCRATCH_MARKER) {
        return None;
    }
    let started = words.find_map(|w| w.strip_prefix("started="))?;
    time::OffsetDateTime::parse(started, &time::format_description::well_known::Rfc3339).ok()
}

/// `"name"`, with embedded quotes doubled.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'`, with embedded quotes doubled.
fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Drops the scratch databases of interrupted runs on the server: named `tollgate_verify_…`,
/// marked by [`scratch_marker`], started before `now - STALE_SCRATCH_AFTER`, with no
/// connection. A database that is not marked as ours is never dropped. Returns the names
/// dropped. An unreachable server is an error; a database that cannot be dropped is logged
/// and left.
pub fn drop_stale_scratch(
    admin: &ConnInfo,
    now: time::OffsetDateTime,
) -> Result<Vec<String>, BackupError> {
    let out = psql(
        admin,
        "SELECT coalesce(json_agg(json_build_array(d.datname, \
             coalesce(shobj_description(d.oid, 'pg_database'), ''), \
             (SELECT count(*) FROM pg_stat_activity a WHERE a.datid = d.oid)) ORDER BY d.datname), '[]') \
         FROM pg_database d WHERE d.datname LIKE 'tollgate\\_verify\\_%'",
    )?;
    let rows: Vec<(String, String, i64)> = serde_json::from_str(out.trim()).map_err(|e| {
        BackupError::Tool { tool: "psql", message: format!("unexpected scratch listing: {e}") }
    })?;
    let mut dropped = Vec::new();
    for (name, comment, connections) in rows {
        let Some(started) = marker_started(&comment) else { continue };
        if started + STALE_SCRATCH_AFTER > now || connections > 0 {
            continue;
        }
        match psql(admin, &format!("DROP DATABASE IF EXISTS {}", quote_ident(&name))) {
            Ok(_) => {
                tracing::info!(database = %name, %comment, "dropped a stale scratch database");
                dropped.push(name);
            }
            Err(e) => {
                tracing::warn!(database = %name, error = %e, "cannot drop a stale scratch database");
            }
        }
    }
    Ok(dropped)
}

/// Drops the scratch database when dropped (also on panic or early return).
struct Scratch {
    admin: ConnInfo,
    name: String,
    dropped: bool,
}

impl Scratch {
    fn drop_now(&mut self) -> Result<(), BackupError> {
        self.dropped = true;
        psql(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(&self.name)),
        )
        .map(|_| ())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.dropped
            && let Err(e) = self.drop_now()
        {
            tracing::error!(database = %self.name, error = %e, "cannot drop scratch database");
        }
    }
}

/// User tables (`schema.table`, quoted) of a database.
fn user_tables(conn: &ConnInfo) -> Result<Vec<String>, BackupError> {
    let out = psql(
        conn,
        "SELECT format('%I.%I', table_schema, table_name) FROM information_schema.tables \
         WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') \
         ORDER BY 1",
    )?;
    Ok(out.lines().filter(|l| !l.is_empty()).map(str::to_string).collect())
}

/// An infrastructure failure of the scratch server: not the backup's fault, so an error
/// (exit 2), not a finding.
fn scratch_server_error(what: &str, e: BackupError) -> BackupError {
    BackupError::Tool { tool: "psql", message: format!("scratch server: {what}: {e}") }
}

fn test_restore(
    store: &Store,
    info: &BackupInfo,
    admin_url: &str,
    opts: &VerifyOptions,
    findings: &mut Vec<Finding>,
    f: &dyn Fn(&str, Severity, String) -> Finding,
) -> Result<(), BackupError> {
    let admin = conn_info(admin_url)?;
    // Decrypt first: a wrong identity creates nothing.
    let archive = match open_archive(store, info, &opts.identities) {
        Ok(a) => a,
        Err(e) => {
            findings.push(f("restore-failed", Severity::Error, e.to_string()));
            return Ok(());
        }
    };
    let now = time::OffsetDateTime::now_utc();
    drop_stale_scratch(&admin, now)
        .map_err(|e| scratch_server_error("cannot list scratch databases", e))?;
    let run = format!("{:08x}", rand_core::RngCore::next_u32(&mut rand_core::OsRng));
    let name = scratch_name(&info.id, &run);
    psql(&admin, &format!("CREATE DATABASE {}", quote_ident(&name)))
        .map_err(|e| scratch_server_error(&format!("cannot create scratch database {name}"), e))?;
    let mut scratch = Scratch { admin: admin.clone(), name: name.clone(), dropped: false };
    let marker = scratch_marker(&run, &info.id, now);
    psql(
        &admin,
        &format!("COMMENT ON DATABASE {} IS {}", quote_ident(&name), quote_literal(&marker)),
    )
    .map_err(|e| scratch_server_error(&format!("cannot mark scratch database {name}"), e))?;
    let url = admin.with_database(&name);
    let checks = (|| -> Result<(), String> {
        let mut command = url.command("pg_restore");
        command.args(["--no-owner", "--exit-on-error", "-d", url.without_password()]);
        let piped = pipe_into("pg_restore", command, archive).map_err(|e| e.to_string())?;
        if let Some(e) = piped.read_error {
            return Err(format!("archive {} cannot be read to the end: {e}", info.key));
        }
        if !piped.status.success() {
            return Err(format!(
                "pg_restore into scratch database {name} failed: {}",
                url.scrub(&first_lines(&piped.stderr))
            ));
        }
        let tables = user_tables(&url).map_err(|e| e.to_string())?;
        if tables.is_empty() {
            return Err(format!("restored database {name} has no user tables"));
        }
        findings.push(f(
            "restore",
            Severity::Info,
            format!("restored {} user tables into scratch database {name}", tables.len()),
        ));
        for chunk in tables.chunks(200) {
            let sql = chunk
                .iter()
                .map(|t| format!("SELECT '{}', count(*) FROM {t}", t.replace('\'', "''")))
                .collect::<Vec<_>>()
                .join(" UNION ALL ");
            let out = psql(&url, &sql).map_err(|e| e.to_string())?;
            for line in out.lines() {
                if let Some((t, n)) = line.rsplit_once('|') {
                    findings.push(
                        Finding::new(
                            format!("{GATE}/row-count"),
                            Severity::Info,
                            format!("{t}: {n} rows"),
                        )
                        .about(format!("{}:{t}", info.id)),
                    );
                }
            }
        }
        let restored_version = crate::backup::schema_version(&url).map_err(|e| e.to_string())?;
        if restored_version == info.schema_version {
            findings.push(f(
                "schema-version",
                Severity::Info,
                format!("schema version {} matches the metadata", show(&restored_version)),
            ));
        } else {
            findings.push(f(
                "schema-version-mismatch",
                Severity::Error,
                format!(
                    "restored schema version {} differs from the metadata's {}",
                    show(&restored_version),
                    show(&info.schema_version)
                ),
            ));
        }
        for q in &opts.queries {
            match psql(&url, q) {
                Ok(out) if out.trim() == "t" => {
                    findings.push(f("query", Severity::Info, format!("query returned true: {q}")))
                }
                Ok(out) => findings.push(f(
                    "query-failed",
                    Severity::Error,
                    format!("query returned {:?}, expected true: {q}", out.trim()),
                )),
                Err(e) => findings.push(f("query-failed", Severity::Error, format!("{q}: {e}"))),
            }
        }
        Ok(())
    })();
    if let Err(msg) = checks {
        findings.push(f("restore-failed", Severity::Error, msg));
    }
    if let Err(e) = scratch.drop_now() {
        findings.push(f(
            "scratch-not-dropped",
            Severity::Error,
            format!("cannot drop scratch database {name}: {e}"),
        ));
    }
    Ok(())
}

fn show(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "(none)".into())
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreSummary {
    /// User tables in the target afterwards.
    pub tables: usize,
    /// Whether existing objects were replaced.
    pub replaced: bool,
}

/// Restores a backup into `target_url`. Refuses a target with user tables unless `replace`
/// (then `pg_restore --clean --if-exists`); runs in one transaction; never drops the target
/// database. The identity and the stored checksum are checked before the target is touched.
pub fn restore_into(
    store: &Store,
    info: &BackupInfo,
    target_url: &str,
    replace: bool,
    identities: &[age::x25519::Identity],
) -> Result<RestoreSummary, BackupError> {
    let target = &conn_info(target_url)?;
    drop(open_archive(store, info, identities)?);
    let existing = user_tables(target)?;
    if !existing.is_empty() && !replace {
        let database = psql(target, "SELECT current_database()")?;
        return Err(BackupError::TargetNotEmpty { database, tables: existing.len() });
    }
    if let Err(msg) = check_checksum(store, info)? {
        return Err(BackupError::Integrity(msg));
    }
    let archive = open_archive(store, info, identities)?;
    let mut command = target.command("pg_restore");
    command.args(["--no-owner", "--exit-on-error", "--single-transaction"]);
    if replace {
        command.args(["--clean", "--if-exists"]);
    }
    command.args(["-d", target.without_password()]);
    let piped = pipe_into("pg_restore", command, archive)?;
    if let Some(e) = piped.read_error {
        return Err(BackupError::Integrity(format!(
            "archive {} cannot be read to the end (nothing was committed): {e}",
            info.key
        )));
    }
    if !piped.status.success() {
        return Err(BackupError::Tool {
            tool: "pg_restore",
            message: format!(
                "{} (nothing was committed): {}",
                piped.status,
                target.scrub(&first_lines(&piped.stderr))
            ),
        });
    }
    Ok(RestoreSummary { tables: user_tables(target)?.len(), replaced: replace })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_and_names() {
        let id = age::x25519::Identity::generate();
        use age::secrecy::ExposeSecret;
        let text = format!("# created: now\n\n{}\n", id.to_string().expose_secret());
        assert_eq!(parse_identities(&text).unwrap().len(), 1);
        let e = parse_identities("# nothing\n").err().unwrap().to_string();
        assert!(e.contains("no age identity"), "{e}");
        let e = parse_identities("AGE-SECRET-KEY-1BAD\n").err().unwrap().to_string();
        assert!(e.contains("line 1"), "{e}");
        assert_eq!(
            scratch_name("20261125T091011Z-a1B2c3", "0f1e2d3c"),
            "tollgate_verify_20261125t091011z_a1b2c3_0f1e2d3c"
        );
        assert_eq!(scratch_name(&"x".repeat(100), "0f1e2d3c").len(), 63);
        let t = time::macros::datetime!(2026-11-25 09:10:11 UTC);
        let marker = scratch_marker("0f1e2d3c", "20261125T091011Z-a1b2c3", t);
        assert_eq!(
            marker,
            "tollgate-verify run=0f1e2d3c backup=20261125T091011Z-a1b2c3 started=2026-11-25T09:10:11Z"
        );
        assert_eq!(marker_started(&marker), Some(t));
        assert_eq!(marker_started("made by hand started=2026-11-25T09:10:11Z"), None);
        assert_eq!(marker_started("tollgate-verify run=x"), None);
    }
}
