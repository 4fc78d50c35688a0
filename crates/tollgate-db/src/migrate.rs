//! Versioned SQL migrations: `V<version>__<name>.sql` (and optional `U<version>__<name>.sql`
//! downs) from a directory, a ConfigMap-shaped YAML document or a git commit ([`source`]),
//! applied under a PostgreSQL advisory lock with `lock_timeout` and `statement_timeout`, each in
//! its own transaction unless marked `-- tollgate:no-transaction`, recorded with a SHA-256
//! checksum in a history table.
//!
//! Before anything is applied the run computes a [`Plan`]: drift (an applied migration edited or
//! missing, a pending version below the highest applied) stops it; destructive statements stop
//! it unless allowed or approved by the plan hash. Nothing is applied on a guess.
//!
//! The connection is rust-postgres' synchronous client; the runner is ours (see Cargo.toml).

pub mod source;
pub mod sql;
pub mod version;

use postgres::{Client, NoTls};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};
use tollgate_core::{Finding, Location, Severity};

pub use source::{from_configmap_yaml, from_dir, from_git};
pub use version::MigrationVersion;

/// The history table.
pub const HISTORY_TABLE: &str = "tollgate_schema_history";

/// The advisory lock key: the first 8 bytes of sha256("tollgate-db migrate").
fn lock_key() -> i64 {
    let d = Sha256::digest(b"tollgate-db migrate");
    i64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// One migration from a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// Version (from `V<version>__`).
    pub version: MigrationVersion,
    /// Name (after `__`).
    pub name: String,
    /// The SQL.
    pub sql: String,
    /// SHA-256 (hex) of the SQL.
    pub checksum: String,
    /// Marked `-- tollgate:no-transaction`.
    pub no_transaction: bool,
    /// Where it came from (a path, `file#data.key`, `repo@commit:path`), for messages.
    pub origin: String,
    /// The `U<version>__` down migration, when present.
    pub down: Option<String>,
}

impl Migration {
    /// Destructive statements in this migration.
    pub fn destructive(&self) -> Vec<Destructive> {
        sql::split(&self.sql)
            .into_iter()
            .flat_map(|s| {
                let statement = s.text.split_whitespace().collect::<Vec<_>>().join(" ");
                sql::destructive_kinds(&s.text).into_iter().map(move |kind| Destructive {
                    version: self.version.clone(),
                    origin: self.origin.clone(),
                    line: s.line,
                    kind,
                    statement: statement.clone(),
                })
            })
            .collect()
    }
}

/// A destructive statement.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Destructive {
    /// Its migration's version.
    pub version: MigrationVersion,
    /// Its migration's origin.
    pub origin: String,
    /// 1-based line in the file.
    pub line: u32,
    /// What kind (`DROP TABLE`, `TRUNCATE`, `ALTER COLUMN … TYPE (type change)`…).
    pub kind: String,
    /// The statement, whitespace collapsed.
    pub statement: String,
}

/// A row of the history table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppliedMigration {
    /// Version.
    pub version: MigrationVersion,
    /// Name.
    pub name: String,
    /// SHA-256 recorded when applied.
    pub checksum: String,
    /// When (RFC 3339).
    pub applied_at: String,
    /// How long it took.
    pub duration_ms: u64,
    /// Who applied it.
    pub applied_by: String,
}

/// Why the recorded history and the source disagree.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Drift {
    /// An applied migration's file was edited after it was applied.
    ChecksumChanged {
        /// Version.
        version: MigrationVersion,
        /// Origin of the file.
        origin: String,
        /// Recorded checksum.
        applied: String,
        /// Checksum of the file now.
        source: String,
    },
    /// An applied migration is missing from the source.
    Missing {
        /// Version.
        version: MigrationVersion,
        /// Recorded name.
        name: String,
    },
    /// A pending migration's version is lower than the highest applied one.
    OutOfOrder {
        /// Version.
        version: MigrationVersion,
        /// Origin of the file.
        origin: String,
        /// The highest applied version.
        highest_applied: MigrationVersion,
    },
}

impl Drift {
    fn message(&self) -> String {
        match self {
            Drift::ChecksumChanged { version, origin, applied, source } => format!(
                "{origin}: V{version} was edited after it was applied (checksum {source}, recorded {applied})"
            ),
            Drift::Missing { version, name } => {
                format!("V{version}__{name} was applied but is missing from the source")
            }
            Drift::OutOfOrder { version, origin, highest_applied } => format!(
                "{origin}: V{version} is pending but V{highest_applied} is already applied (out of order)"
            ),
        }
    }
}

/// A pending migration in a plan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pending {
    /// Version.
    pub version: MigrationVersion,
    /// Name.
    pub name: String,
    /// Origin.
    pub origin: String,
    /// SHA-256 of the SQL.
    pub checksum: String,
    /// Runs outside a transaction.
    pub no_transaction: bool,
    /// Its destructive statements.
    pub destructive: Vec<Destructive>,
}

/// What a run would do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Plan {
    /// Already applied (from the history table).
    pub applied: Vec<AppliedMigration>,
    /// Not yet applied, in order.
    pub pending: Vec<Pending>,
    /// SHA-256 over the pending versions and checksums; what `--approve` takes.
    pub hash: String,
    /// Disagreements between history and source; any stops a run.
    pub drift: Vec<Drift>,
}

impl Plan {
    /// Computes the plan from the source and the recorded history.
    pub fn new(migrations: &[Migration], applied: Vec<AppliedMigration>) -> Plan {
        let mut drift = Vec::new();
        let highest = applied.iter().map(|a| &a.version).max().cloned();
        for a in &applied {
            match migrations.iter().find(|m| m.version == a.version) {
                None => {
                    drift.push(Drift::Missing { version: a.version.clone(), name: a.name.clone() })
                }
                Some(m) if m.checksum != a.checksum => drift.push(Drift::ChecksumChanged {
                    version: a.version.clone(),
                    origin: m.origin.clone(),
                    applied: a.checksum.clone(),
                    source: m.checksum.clone(),
                }),
                Some(_) => {}
            }
        }
        let mut pending: Vec<Pending> = migrations
            .iter()
            .filter(|m| !applied.iter().any(|a| a.version == m.version))
            .map(|m| Pending {
                version: m.version.clone(),
                name: m.name.clone(),
                origin: m.origin.clone(),
                checksum: m.checksum.clone(),
                no_transaction: m.no_transaction,
                destructive: m.destructive(),
            })
            .collect();
        pending.sort_by(|a, b| a.version.cmp(&b.version));
        if let Some(highest) = highest {
            for p in pending.iter().filter(|p| p.version < highest) {
                drift.push(Drift::OutOfOrder {
                    version: p.version.clone(),
                    origin: p.origin.clone(),
                    highest_applied: highest.clone(),
                });
            }
        }
        let hash = plan_hash(&pending);
        Plan { applied, pending, hash, drift }
    }

    /// Every destructive statement of the pending migrations.
    pub fn destructive(&self) -> impl Iterator<Item = &Destructive> {
        self.pending.iter().flat_map(|p| &p.destructive)
    }

    /// The plan as findings: drift and destructive statements (errors unless `allowed`), and one
    /// info finding per pending migration.
    pub fn findings(&self, destructive_allowed: bool) -> Vec<Finding> {
        use crate::gate::migration_rules as rules;
        let mut out = Vec::new();
        for d in &self.drift {
            let (rule, version) = match d {
                Drift::ChecksumChanged { version, .. } => (rules::DRIFT_CHECKSUM, version),
                Drift::Missing { version, .. } => (rules::DRIFT_MISSING, version),
                Drift::OutOfOrder { version, .. } => (rules::DRIFT_OUT_OF_ORDER, version),
            };
            let mut f = rule
                .finding(d.message())
                .about(format!("V{version}"))
                .fix("restore the applied file as it was, or repair the history table by hand; nothing was applied");
            if let Drift::ChecksumChanged { origin, .. } | Drift::OutOfOrder { origin, .. } = d {
                f = f.at(Location::file(origin.clone()));
            }
            out.push(f);
        }
        for d in self.destructive() {
            let severity = if destructive_allowed { Severity::Warning } else { Severity::Error };
            out.push(
                rules::DESTRUCTIVE
                    .finding_at(severity, format!("{}: {}", d.kind, d.statement))
                    .at(Location::file(d.origin.clone()).at_line(d.line))
                    .about(format!("V{}", d.version))
                    .fix(format!(
                        "review it, then run with --approve {} (or --allow-destructive)",
                        self.hash
                    )),
            );
        }
        for p in &self.pending {
            out.push(
                rules::PENDING
                    .finding(format!(
                        "V{}__{} pending{}",
                        p.version,
                        p.name,
                        if p.no_transaction { " (no transaction)" } else { "" }
                    ))
                    .at(Location::file(p.origin.clone()))
                    .about(format!("V{}", p.version)),
            );
        }
        out
    }
}

/// SHA-256 (hex) over `version:checksum\n` of each pending migration, in order.
pub fn plan_hash(pending: &[Pending]) -> String {
    let mut h = Sha256::new();
    for p in pending {
        h.update(format!("{}:{}\n", p.version, p.checksum).as_bytes());
    }
    hex::encode(h.finalize())
}

/// How to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Longest wait for the advisory lock, and PostgreSQL's `lock_timeout`.
    pub lock_timeout: Duration,
    /// PostgreSQL's `statement_timeout`.
    pub statement_timeout: Duration,
    /// Apply destructive statements without approval.
    pub allow_destructive: bool,
    /// Approve destructive statements of the plan with this hash.
    pub approve: Option<String>,
    /// Recorded as `applied_by` (default: the database user and the host name).
    pub applied_by: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            lock_timeout: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(300),
            allow_destructive: false,
            approve: None,
            applied_by: None,
        }
    }
}

/// A migration this run applied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppliedNow {
    /// Version.
    pub version: MigrationVersion,
    /// Name.
    pub name: String,
    /// How long it took.
    pub duration_ms: u64,
}

/// What [`migrate`] did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    /// The plan it followed.
    pub plan: Plan,
    /// Applied in this run, in order.
    pub applied: Vec<AppliedNow>,
    /// How long it waited for the advisory lock.
    pub lock_wait_ms: u64,
    /// Another run held the lock when this one first asked for it.
    pub lock_contended: bool,
}

/// Migration errors.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// A bad source: unreadable, misnamed file, duplicate version.
    #[error("{0}")]
    Source(String),
    /// The database cannot be reached.
    #[error("cannot connect to the database at {url}: {message}")]
    Connect {
        /// URL without a password.
        url: String,
        /// Why.
        message: String,
    },
    /// Another run holds the lock.
    #[error(
        "another migration run holds the lock on this database; gave up after {0:?} (--lock-timeout)"
    )]
    LockTimeout(Duration),
    /// The history disagrees with the source; nothing applied.
    #[error("migration drift, nothing applied:\n{}", .0.drift.iter().map(|d| format!("  - {}", d.message())).collect::<Vec<_>>().join("\n"))]
    Drift(Box<Plan>),
    /// Destructive statements without approval; nothing applied.
    #[error("destructive statements in the plan, nothing applied (approve with --approve {hash} after review, or --allow-destructive):\n{}", .list.join("\n"))]
    Destructive {
        /// The plan hash that would approve it.
        hash: String,
        /// `origin:line: kind: statement` lines.
        list: Vec<String>,
    },
    /// `--approve` names another plan.
    #[error(
        "--approve {given} does not match this plan ({actual}); run `tollgate db plan` again and review it"
    )]
    ApprovalMismatch {
        /// Given hash.
        given: String,
        /// The plan's hash.
        actual: String,
    },
    /// A migration failed; it was rolled back (unless it ran outside a transaction).
    #[error("{location}: V{version} failed{rolled_back}: {message}")]
    Apply {
        /// Version.
        version: MigrationVersion,
        /// `origin:line:column` (or the origin alone).
        location: String,
        /// The database's message.
        message: String,
        /// Note about the rollback.
        rolled_back: &'static str,
    },
    /// Another database error.
    #[error("database error: {0}")]
    Database(String),
}

fn db_err(e: postgres::Error) -> MigrateError {
    MigrateError::Database(error_text(&e))
}

fn error_text(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{} ({})", db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                s.push_str(&format!("; {detail}"));
            }
            s
        }
        None => e.to_string(),
    }
}

/// `url` with any password replaced by `***`, also when it does not parse (see
/// [`crate::conninfo::redact`]).
pub fn redact(url: &str) -> String {
    crate::conninfo::redact(url)
}

/// Connects (with a 10 s connect timeout unless the URL sets one).
pub fn connect(url: &str) -> Result<Client, MigrateError> {
    let mut config: postgres::Config = url.parse().map_err(|e: postgres::Error| {
        MigrateError::Connect { url: redact(url), message: e.to_string() }
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    if config.get_application_name().is_none() {
        config.application_name("tollgate-db");
    }
    config.connect(NoTls).map_err(|e| MigrateError::Connect {
        url: redact(url),
        message: std::error::Error::source(&e)
            .map_or_else(|| e.to_string(), |s| format!("{e}: {s}")),
    })
}

fn history_exists(client: &mut Client) -> Result<bool, MigrateError> {
    let row = client
        .query_one(&format!("SELECT to_regclass('{HISTORY_TABLE}') IS NOT NULL"), &[])
        .map_err(db_err)?;
    Ok(row.get(0))
}

fn read_history(client: &mut Client) -> Result<Vec<AppliedMigration>, MigrateError> {
    if !history_exists(client)? {
        return Ok(Vec::new());
    }
    let rows = client
        .query(
            &format!(
                "SELECT version::text, name, checksum, \
                 to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
                 duration_ms, applied_by FROM {HISTORY_TABLE}"
            ),
            &[],
        )
        .map_err(db_err)?;
    let mut history = rows
        .iter()
        .map(|r| {
            let version: String = r.get(0);
            Ok(AppliedMigration {
                version: MigrationVersion::parse(&version).map_err(|e| {
                    MigrateError::Source(format!(
                        "{HISTORY_TABLE}: a recorded version is not one: {e}"
                    ))
                })?,
                name: r.get(1),
                checksum: r.get(2),
                applied_at: r.get(3),
                duration_ms: r.get::<_, i64>(4) as u64,
                applied_by: r.get(5),
            })
        })
        .collect::<Result<Vec<_>, MigrateError>>()?;
    history.sort_by(|a, b| a.version.cmp(&b.version));
    Ok(history)
}

/// The type of the history table's `version` column: `bigint` in tables created before dotted
/// versions, `text` since. A `bigint` column is widened to `text` (every integer keeps its
/// value) only when a dotted version is about to be recorded.
fn version_column(client: &mut Client, pending: &[Pending]) -> Result<String, MigrateError> {
    let column: String = client
        .query_one(
            &format!(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute \
                 WHERE attrelid = '{HISTORY_TABLE}'::regclass AND attname = 'version'"
            ),
            &[],
        )
        .map_err(db_err)?
        .get(0);
    if column == "bigint" && pending.iter().any(|p| p.version.as_integer().is_none()) {
        tracing::info!("widening {HISTORY_TABLE}.version from bigint to text for dotted versions");
        client
            .batch_execute(&format!(
                "ALTER TABLE {HISTORY_TABLE} ALTER COLUMN version TYPE text USING version::text"
            ))
            .map_err(db_err)?;
        return Ok("text".into());
    }
    Ok(column)
}

/// The plan against the database at `url`; reads only.
pub fn plan(url: &str, migrations: &[Migration]) -> Result<Plan, MigrateError> {
    let mut client = connect(url)?;
    let applied = read_history(&mut client)?;
    Ok(Plan::new(migrations, applied))
}

/// Applies the pending migrations; see the module documentation.
pub fn migrate(
    url: &str,
    migrations: &[Migration],
    options: &Options,
) -> Result<Outcome, MigrateError> {
    let mut client = connect(url)?;
    client
        .batch_execute(&format!(
            "SET lock_timeout = '{}ms'; SET statement_timeout = '{}ms'",
            options.lock_timeout.as_millis().max(1),
            options.statement_timeout.as_millis()
        ))
        .map_err(db_err)?;
    let waited = Instant::now();
    let key = lock_key();
    let mut lock_contended = false;
    loop {
        let got: bool =
            client.query_one("SELECT pg_try_advisory_lock($1)", &[&key]).map_err(db_err)?.get(0);
        if got {
            break;
        }
        if waited.elapsed() >= options.lock_timeout {
            return Err(MigrateError::LockTimeout(options.lock_timeout));
        }
        lock_contended = true;
        tracing::info!("waiting for the migration lock held by another run");
        std::thread::sleep(Duration::from_millis(100));
    }
    let lock_wait_ms = waited.elapsed().as_millis() as u64;
    let result = migrate_locked(&mut client, migrations, options, lock_wait_ms)
        .map(|outcome| Outcome { lock_contended, ..outcome });
    // The session lock also goes with the connection; release it explicitly when we can.
    let _ = client.query_one("SELECT pg_advisory_unlock($1)", &[&key]);
    result
}

fn migrate_locked(
    client: &mut Client,
    migrations: &[Migration],
    options: &Options,
    lock_wait_ms: u64,
) -> Result<Outcome, MigrateError> {
    client
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {HISTORY_TABLE} (
                version text PRIMARY KEY,
                name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now(),
                duration_ms bigint NOT NULL,
                applied_by text NOT NULL
            )"
        ))
        .map_err(db_err)?;
    let plan = Plan::new(migrations, read_history(client)?);
    if !plan.drift.is_empty() {
        return Err(MigrateError::Drift(Box::new(plan)));
    }
    let column = version_column(client, &plan.pending)?;
    let destructive: Vec<String> = plan
        .destructive()
        .map(|d| format!("  - {}:{}: {}: {}", d.origin, d.line, d.kind, d.statement))
        .collect();
    if let Some(given) = &options.approve
        && given != &plan.hash
    {
        return Err(MigrateError::ApprovalMismatch {
            given: given.clone(),
            actual: plan.hash.clone(),
        });
    }
    if !destructive.is_empty() && !options.allow_destructive && options.approve.is_none() {
        return Err(MigrateError::Destructive { hash: plan.hash.clone(), list: destructive });
    }
    let applied_by = match &options.applied_by {
        Some(who) => who.clone(),
        None => {
            let user: String =
                client.query_one("SELECT current_user::text", &[]).map_err(db_err)?.get(0);
            let host = std::env::var("HOSTNAME")
                .ok()
                .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "unknown-host".into());
            format!("{user}@{host} (tollgate {})", env!("CARGO_PKG_VERSION"))
        }
    };
    let mut applied = Vec::new();
    for pending in &plan.pending {
        let Some(m) = migrations.iter().find(|m| m.version == pending.version) else { continue };
        let started = Instant::now();
        tracing::info!(version = %m.version, name = %m.name, "applying");
        let record = format!(
            "INSERT INTO {HISTORY_TABLE} (version, name, checksum, duration_ms, applied_by) \
             VALUES ($1::text::{column}, $2, $3, $4, $5)"
        );
        let version = m.version.to_string();
        if m.no_transaction {
            // Statement by statement: a multi-statement query is an implicit transaction, which
            // CREATE INDEX CONCURRENTLY refuses.
            for statement in sql::split(&m.sql) {
                client.batch_execute(&statement.text).map_err(|e| {
                    apply_error(
                        m,
                        &e,
                        statement.offset,
                        " (no transaction: earlier statements of this file stay applied)",
                    )
                })?;
            }
            let ms = started.elapsed().as_millis() as i64;
            client
                .execute(&record, &[&version, &m.name, &m.checksum, &ms, &applied_by])
                .map_err(db_err)?;
        } else {
            let mut tx = client.transaction().map_err(db_err)?;
            tx.batch_execute(&m.sql).map_err(|e| apply_error(m, &e, 0, " and was rolled back"))?;
            let ms = started.elapsed().as_millis() as i64;
            tx.execute(&record, &[&version, &m.name, &m.checksum, &ms, &applied_by])
                .map_err(db_err)?;
            tx.commit().map_err(|e| apply_error(m, &e, 0, " at commit and was rolled back"))?;
        }
        applied.push(AppliedNow {
            version: m.version.clone(),
            name: m.name.clone(),
            duration_ms: started.elapsed().as_millis() as u64,
        });
    }
    Ok(Outcome { plan, applied, lock_wait_ms, lock_contended: false })
}

/// An apply error naming the file and, when PostgreSQL reports a position, line and column.
fn apply_error(
    m: &Migration,
    e: &postgres::Error,
    offset: usize,
    rolled_back: &'static str,
) -> MigrateError {
    let position = e.as_db_error().and_then(|db| match db.position() {
        Some(postgres::error::ErrorPosition::Original(p)) => Some(*p as usize),
        _ => None,
    });
    let location = match position {
        Some(p) => {
            let (line, col) = sql::line_col(&m.sql, offset + p);
            format!("{}:{line}:{col}", m.origin)
        }
        None => m.origin.clone(),
    };
    MigrateError::Apply {
        version: m.version.clone(),
        location,
        message: error_text(e),
        rolled_back,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(version: u64, sql: &str) -> Migration {
        Migration {
            version: version.into(),
            name: format!("m{version}"),
            sql: sql.into(),
            checksum: source::checksum(sql),
            no_transaction: false,
            origin: format!("V{version}__m{version}.sql"),
            down: None,
        }
    }

    fn applied(version: u64, checksum: &str) -> AppliedMigration {
        AppliedMigration {
            version: version.into(),
            name: format!("m{version}"),
            checksum: checksum.into(),
            applied_at: String::new(),
            duration_ms: 0,
            applied_by: String::new(),
        }
    }

    #[test]
    fn plan_hash_covers_versions_and_checksums() {
        let a = Plan::new(&[m(1, "A"), m(2, "B")], vec![]);
        let b = Plan::new(&[m(1, "A"), m(2, "B2")], vec![]);
        let c = Plan::new(&[m(1, "A"), m(3, "B")], vec![]);
        assert_eq!(a.hash, Plan::new(&[m(1, "A"), m(2, "B")], vec![]).hash);
        assert_ne!(a.hash, b.hash);
        assert_ne!(a.hash, c.hash);
        assert_eq!(a.hash.len(), 64);
        // Only the pending part counts.
        let later = Plan::new(&[m(1, "A"), m(2, "B")], vec![applied(1, &source::checksum("A"))]);
        assert_eq!(later.pending.len(), 1);
        assert_ne!(later.hash, a.hash);
    }

    #[test]
    fn drift_kinds() {
        let plan = Plan::new(
            &[m(1, "SELECT 'edited'"), m(2, "SELECT 'late'"), m(4, "SELECT 'new'")],
            vec![applied(1, "old"), applied(3, &source::checksum("SELECT 'x'"))],
        );
        assert_eq!(plan.drift.len(), 3, "{:?}", plan.drift);
        let v = |n: u64| MigrationVersion::from(n);
        assert!(
            matches!(&plan.drift[0], Drift::ChecksumChanged { version, .. } if *version == v(1))
        );
        assert!(matches!(&plan.drift[1], Drift::Missing { version, .. } if *version == v(3)));
        assert!(matches!(
            &plan.drift[2],
            Drift::OutOfOrder { version, highest_applied, .. }
                if *version == v(2) && *highest_applied == v(3)
        ));
        let findings = plan.findings(false);
        assert_eq!(findings.iter().filter(|f| f.severity == Severity::Error).count(), 3);
    }

    #[test]
    fn dotted_versions_order_like_flyway() {
        let dotted = |v: &str, sql: &str| Migration {
            version: MigrationVersion::parse(v).unwrap(),
            ..m(1, sql)
        };
        // Applied 1.10; 1.9 arriving later is out of order, 1.10.1 and 2 are pending in order.
        let plan = Plan::new(
            &[dotted("2", "D"), dotted("1.10.1", "C"), dotted("1_9", "B"), dotted("1.10", "A")],
            vec![AppliedMigration {
                version: MigrationVersion::parse("1.10").unwrap(),
                ..applied(1, &source::checksum("A"))
            }],
        );
        let pending: Vec<_> = plan.pending.iter().map(|p| p.version.to_string()).collect();
        assert_eq!(pending, ["1.9", "1.10.1", "2"]);
        assert_eq!(plan.drift.len(), 1, "{:?}", plan.drift);
        assert_eq!(
            plan.drift[0].message(),
            "V1__m1.sql: V1.9 is pending but V1.10 is already applied (out of order)"
        );
    }

    #[test]
    fn destructive_findings_carry_lines() {
        let plan = Plan::new(&[m(1, "CREATE TABLE t (x int);\n\nDROP TABLE t;")], vec![]);
        let d: Vec<_> = plan.destructive().collect();
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].line, d[0].kind.as_str()), (3, "DROP TABLE"));
        let f = plan.findings(false);
        let e = f.iter().find(|f| f.rule == "db/destructive").unwrap();
        assert_eq!(e.severity, Severity::Error);
        assert_eq!(e.location.as_ref().unwrap().line, Some(3));
        assert_eq!(plan.findings(true).iter().filter(|f| f.severity == Severity::Error).count(), 0);
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h/d"), "postgres://u:***@h/d");
        assert_eq!(redact("postgres://u@h/d"), "postgres://u@h/d");
    }
}
