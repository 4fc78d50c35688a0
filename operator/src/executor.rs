//! Where long work runs: in-process (the default) or as a Kubernetes Job running the same
//! binary. Both produce the same [`Outcome`] (or the same [`ExecError`]), so the controllers do
//! not care which.
//!
//! A [`Work`] item is plain data: connection URLs read from Secrets by the controller, the store
//! URL, ids. It serialises to JSON, which is how [`JobExecutor`](job::JobExecutor) hands it to
//! `tollgate-operator work --work-file <mounted Secret>` and how the worker hands the result
//! back. How many run at once is bounded per class by [`limits`].
//!
//! - [`InProcessExecutor`] runs [`run_blocking`] on tokio's blocking pool.
//! - [`job::JobExecutor`] runs the same function in a `batch/v1` Job (see [`job`]).
//! - [`run_work_from_json`] / [`run_work_command`] are the `work` subcommand's entry points.
//!
//! **Architecture invariant:** nothing here decides to delete, drop or apply on a guess; the
//! work items only do what their fields say, and every refusal of `tollgate-db` comes back as
//! [`ExecError::Failed`] with a [`FailureReason`] the controllers turn into conditions.

pub mod job;
pub mod limits;
mod run;

use std::collections::BTreeMap;
use std::fmt;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
/// GFS retention rules as tollgate-db applies them, carried by [`Work::Retention`].
pub use tollgate_db::migrate::MigrationVersion;
pub use tollgate_db::retention::RetentionPolicy;
/// How thoroughly to verify a backup (part of the Backup CRDs, shared with the work items).
pub use tollgate_operator_api::crd::backup::VerifyTier;

pub use run::{run_blocking, run_work_command, run_work_from_json, termination_message};

/// Runs work items for the controllers.
pub trait Executor: Send + Sync {
    /// Runs `work` to completion. `Err(ExecError::Failed)` when the work itself failed (the same
    /// work will fail the same way until something changes); `Err(ExecError::Executor)` when it
    /// could not be run or followed (retry later).
    fn run(&self, work: Work) -> BoxFuture<'static, Result<Outcome, ExecError>>;
}

/// A string that must not appear in logs or `Debug` output (database URLs with passwords, age
/// identities, store credentials). Serialises as the plain string: work items travel to Job
/// workers through a Secret, never through the pod spec.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> SecretString {
        SecretString(value.into())
    }

    /// The secret value; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl From<&str> for SecretString {
    fn from(s: &str) -> Self {
        SecretString(s.to_owned())
    }
}

impl From<String> for SecretString {
    fn from(s: String) -> Self {
        SecretString(s)
    }
}

/// Static S3 credentials for a store (from a BackupPolicy's credentials Secret).
///
/// Both executors pass them to `tollgate_db::store::Store::open_with_credentials`, so they sign
/// the store's requests and the process environment's `AWS_*` credentials are not used. An
/// empty key id or secret is refused (reason [`FailureReason::Credentials`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreCredentials {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: SecretString,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: SecretString,
    /// `AWS_SESSION_TOKEN`, when the credentials are temporary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<SecretString>,
}

/// An object store: a URL as `tollgate_db::store::Store::open` takes it, and optional
/// credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreTarget {
    /// `file:///dir`, a path, or `s3://bucket[/prefix][?endpoint=…&region=…]`.
    pub url: String,
    /// Credentials for S3; `None` uses the worker's environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<StoreCredentials>,
}

/// Where migrations come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum MigrationSource {
    /// Files by name (`V1__init.sql` → SQL), e.g. a ConfigMap's `data`; `origin` names the
    /// source in messages (`configmap/ns/name`).
    #[serde(rename_all = "camelCase")]
    Files {
        /// Names the source in messages.
        origin: String,
        /// File name → SQL.
        files: BTreeMap<String, String>,
    },
    /// The `*.sql` files of `subdir` at `commit` in a git repository on the worker's disk.
    #[serde(rename_all = "camelCase")]
    Git {
        /// Path of the repository (bare or not) on the worker.
        repository: String,
        /// The pinned commit.
        commit: String,
        /// Directory inside the repository (`""` for the root).
        #[serde(default)]
        subdir: String,
    },
}

/// One work item. Plain data, serialisable, with secrets in [`SecretString`]s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Work {
    /// Compute the migration plan of a database (reads only).
    #[serde(rename_all = "camelCase")]
    Plan {
        /// libpq URL of the database.
        database_url: SecretString,
        /// The migrations.
        source: MigrationSource,
    },
    /// Apply pending migrations under the advisory lock (`tollgate_db::migrate::migrate`).
    #[serde(rename_all = "camelCase")]
    Migrate {
        /// libpq URL of the database.
        database_url: SecretString,
        /// The migrations.
        source: MigrationSource,
        /// Longest wait for the advisory lock (and PostgreSQL's `lock_timeout`), seconds.
        lock_timeout_secs: u64,
        /// PostgreSQL's `statement_timeout`, seconds.
        statement_timeout_secs: u64,
        /// Apply destructive statements without approval.
        #[serde(default)]
        allow_destructive: bool,
        /// Approve a destructive plan with this hash.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        approve: Option<String>,
        /// Recorded as `applied_by` in the history table.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        applied_by: Option<String>,
    },
    /// Dump a database into a store (`tollgate_db::backup::backup`).
    #[serde(rename_all = "camelCase")]
    Backup {
        /// libpq URL of the database to dump.
        database_url: SecretString,
        /// Where the dump goes.
        store: StoreTarget,
        /// age X25519 recipients (`age1…`); empty for no encryption.
        #[serde(default)]
        recipients: Vec<String>,
    },
    /// Verify a stored backup up to a tier (`tollgate_db::restore::verify`).
    #[serde(rename_all = "camelCase")]
    Verify {
        /// The store holding the backup.
        store: StoreTarget,
        /// The backup id in the store.
        backup_id: String,
        /// Highest tier to run.
        tier: VerifyTier,
        /// Server for the scratch database of the `restore` tier.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scratch_server_url: Option<SecretString>,
        /// age identities (`AGE-SECRET-KEY-1…` lines) for encrypted backups.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        identities: Option<SecretString>,
        /// SQL queries that must each return `true` in the restored database.
        #[serde(default)]
        queries: Vec<String>,
        /// Record a pass in the backup's metadata document.
        #[serde(default)]
        record: bool,
    },
    /// Restore a stored backup into a target database (`tollgate_db::restore::restore_into`).
    #[serde(rename_all = "camelCase")]
    Restore {
        /// The store holding the backup.
        store: StoreTarget,
        /// The backup id in the store.
        backup_id: String,
        /// libpq URL of the target database.
        target_database_url: SecretString,
        /// Restore over existing objects (`pg_restore --clean --if-exists`); otherwise a
        /// target with user tables is refused.
        #[serde(default)]
        replace: bool,
        /// age identities for encrypted backups.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        identities: Option<SecretString>,
    },
    /// Apply GFS retention to one database's backups in a store
    /// (`tollgate_db::retention::select_for_deletion`, then `tollgate_db::backup::delete`).
    #[serde(rename_all = "camelCase")]
    Retention {
        /// The store.
        store: StoreTarget,
        /// The database whose backups are judged (the first segment of their keys).
        database: String,
        /// How many to keep.
        rules: RetentionPolicy,
        /// Backup ids the listing must contain (e.g. the newest known successful backup); when
        /// one is missing the listing is not trusted and nothing is deleted
        /// ([`FailureReason::UntrustedListing`]).
        #[serde(default)]
        must_include: Vec<String>,
        /// "Now" for the judgement (RFC 3339, from the controller's clock).
        now: String,
        /// Decide only; delete nothing.
        #[serde(default)]
        dry_run: bool,
    },
}

impl Work {
    /// `plan`, `migrate`, `backup`, `verify` or `restore` (labels, Job names, logs); also `retention`.
    pub fn kind(&self) -> &'static str {
        match self {
            Work::Plan { .. } => "plan",
            Work::Migrate { .. } => "migrate",
            Work::Backup { .. } => "backup",
            Work::Verify { .. } => "verify",
            Work::Restore { .. } => "restore",
            Work::Retention { .. } => "retention",
        }
    }

    /// The store credentials the work needs, if any.
    pub fn store_credentials(&self) -> Option<&StoreCredentials> {
        match self {
            Work::Backup { store, .. }
            | Work::Verify { store, .. }
            | Work::Restore { store, .. }
            | Work::Retention { store, .. } => store.credentials.as_ref(),
            Work::Plan { .. } | Work::Migrate { .. } => None,
        }
    }
}

/// Most entries of a list kept in an outcome (outcomes must fit a Job's 4 KiB termination
/// message; totals are always kept).
pub const MAX_LISTED: usize = 10;
/// Longest text kept in an outcome's messages, in bytes.
pub const MAX_TEXT: usize = 240;

/// A pending migration in a [`PlanSummary`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingSummary {
    /// Version.
    pub version: MigrationVersion,
    /// Name.
    pub name: String,
    /// Destructive statements (`kind: statement`, truncated).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destructive: Vec<String>,
}

/// A migration plan, bounded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanSummary {
    /// The plan hash (approve destructive plans with it).
    pub hash: String,
    /// Highest applied version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub highest_applied: Option<MigrationVersion>,
    /// How many migrations are applied.
    pub applied_total: usize,
    /// The first [`MAX_LISTED`] pending migrations.
    pub pending: Vec<PendingSummary>,
    /// How many migrations are pending.
    pub pending_total: usize,
    /// How many destructive statements the pending migrations hold.
    pub destructive_total: usize,
    /// Drift messages (the first [`MAX_LISTED`]); any drift stops a migration.
    pub drift: Vec<String>,
    /// How many drifts there are.
    pub drift_total: usize,
}

/// A migration applied by a [`Work::Migrate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedSummary {
    /// Version.
    pub version: MigrationVersion,
    /// Name.
    pub name: String,
    /// How long it took.
    pub duration_ms: u64,
}

/// A backup as recorded in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupRecord {
    /// The backup id in the store.
    pub id: String,
    /// The database dumped.
    pub database: String,
    /// Object key of the dump.
    pub key: String,
    /// Stored size in bytes.
    pub size: u64,
    /// SHA-256 (hex) of the stored bytes.
    pub sha256: String,
    /// RFC 3339 start.
    pub started: String,
    /// RFC 3339 completion.
    pub completed: String,
    /// Whether the dump is age-encrypted.
    pub encrypted: bool,
    /// Highest applied migration version at dump time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<String>,
}

/// The result of a verification (a failed verification is an outcome, not an error).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationRecord {
    /// The backup verified.
    pub backup_id: String,
    /// The tier asked for.
    pub tier: VerifyTier,
    /// Whether every check up to the tier passed.
    pub passed: bool,
    /// RFC 3339 time the verification started.
    pub started: String,
    /// Error findings (`rule: message`, the first [`MAX_LISTED`], truncated).
    pub problems: Vec<String>,
}

/// What a work item did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Outcome {
    /// [`Work::Plan`].
    Planned {
        /// The plan.
        plan: PlanSummary,
    },
    /// [`Work::Migrate`].
    #[serde(rename_all = "camelCase")]
    Migrated {
        /// The plan followed.
        plan: PlanSummary,
        /// Applied in this run (the first [`MAX_LISTED`]; `plan.pending_total` says how many).
        applied: Vec<AppliedSummary>,
        /// How long the run waited for the advisory lock.
        lock_wait_ms: u64,
    },
    /// [`Work::Backup`].
    BackedUp {
        /// The new backup.
        backup: BackupRecord,
    },
    /// [`Work::Verify`].
    Verified {
        /// The result.
        verification: VerificationRecord,
    },
    /// [`Work::Retention`].
    RetentionApplied {
        /// The result.
        retention: RetentionRecord,
    },
    /// [`Work::Restore`].
    #[serde(rename_all = "camelCase")]
    Restored {
        /// The backup restored.
        backup_id: String,
        /// User tables in the target afterwards.
        tables: usize,
        /// Whether existing objects were replaced.
        replaced: bool,
    },
}

/// What retention did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetentionRecord {
    /// The database judged.
    pub database: String,
    /// Backups kept (complete and incomplete).
    pub kept_total: usize,
    /// Deleted (or, in a dry run, to be deleted) backup ids, the first [`MAX_LISTED`].
    pub deleted: Vec<String>,
    /// How many were deleted (or would be).
    pub deleted_total: usize,
    /// Whether this was a dry run.
    pub dry_run: bool,
}

/// Why a work item failed; each is a `CamelCase` condition reason ([`FailureReason::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailureReason {
    /// The migration source is unreadable or misnamed.
    MigrationSource,
    /// The database cannot be reached.
    ConnectFailed,
    /// Another run held the migration lock until the timeout.
    LockTimeout,
    /// The history disagrees with the source (edited/missing/out-of-order migrations).
    MigrationDrift,
    /// Destructive statements without approval.
    DestructiveChange,
    /// The approval names another plan.
    ApprovalMismatch,
    /// A migration failed (rolled back unless it ran outside a transaction).
    MigrationFailed,
    /// The object store failed.
    StoreFailed,
    /// The store credentials are unusable (an empty key id or secret).
    Credentials,
    /// A PostgreSQL tool (`pg_dump`, `pg_restore`, `psql`) failed.
    ToolFailed,
    /// `pg_dump` is older than the server.
    VersionMismatch,
    /// Encryption setup failed (a bad recipient).
    Encryption,
    /// Decryption failed (no or wrong identity).
    Decryption,
    /// No such backup in the store.
    BackupNotFound,
    /// The stored bytes are not what the metadata says.
    Integrity,
    /// The restore target has user tables and replacing was not asked for.
    TargetNotEmpty,
    /// The store listing lacks a backup it must contain: nothing deleted.
    UntrustedListing,
    /// The database refused a statement outside a migration (permissions, a broken history).
    DatabaseError,
    /// A Job's worker pod never started (image pull failure, unschedulable) within the stall
    /// timeout: someone must fix the image, the pull secret or the cluster's capacity.
    WorkerStalled,
    /// Anything else wrong with the input.
    Invalid,
}

impl FailureReason {
    /// The reason as a condition reason (`CamelCase`).
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::MigrationSource => "MigrationSource",
            FailureReason::ConnectFailed => "ConnectFailed",
            FailureReason::LockTimeout => "LockTimeout",
            FailureReason::MigrationDrift => "MigrationDrift",
            FailureReason::DestructiveChange => "DestructiveChange",
            FailureReason::ApprovalMismatch => "ApprovalMismatch",
            FailureReason::MigrationFailed => "MigrationFailed",
            FailureReason::StoreFailed => "StoreFailed",
            FailureReason::Credentials => "Credentials",
            FailureReason::ToolFailed => "ToolFailed",
            FailureReason::VersionMismatch => "VersionMismatch",
            FailureReason::Encryption => "Encryption",
            FailureReason::Decryption => "Decryption",
            FailureReason::BackupNotFound => "BackupNotFound",
            FailureReason::Integrity => "Integrity",
            FailureReason::TargetNotEmpty => "TargetNotEmpty",
            FailureReason::UntrustedListing => "UntrustedListing",
            FailureReason::DatabaseError => "DatabaseError",
            FailureReason::WorkerStalled => "WorkerStalled",
            FailureReason::Invalid => "Invalid",
        }
    }

    /// Whether retrying the same work later may succeed without anyone changing anything
    /// (unreachable database or store, a held lock, a failing tool). Drift, destructive plans,
    /// bad input and integrity failures are not transient: the controller stops (Stalled).
    pub fn transient(self) -> bool {
        matches!(
            self,
            FailureReason::ConnectFailed
                | FailureReason::LockTimeout
                | FailureReason::StoreFailed
                | FailureReason::ToolFailed
        )
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why [`Executor::run`] returned no outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ExecError {
    /// The work ran and failed (`reason` says how; `message` is tollgate-db's, without secrets).
    #[error("{reason}: {message}")]
    Failed {
        /// Machine-readable reason.
        reason: FailureReason,
        /// What went wrong.
        message: String,
    },
    /// The work could not be run or followed (Job API errors, a lost worker, a panicked task):
    /// retry later.
    #[error("executor: {message}")]
    Executor {
        /// What went wrong.
        message: String,
    },
}

impl ExecError {
    /// A [`ExecError::Failed`].
    pub fn failed(reason: FailureReason, message: impl Into<String>) -> ExecError {
        ExecError::Failed { reason, message: message.into() }
    }

    /// A [`ExecError::Executor`].
    pub fn executor(message: impl Into<String>) -> ExecError {
        ExecError::Executor { message: message.into() }
    }

    /// The condition reason: the failure reason, or `ExecutorError`.
    pub fn reason(&self) -> &'static str {
        match self {
            ExecError::Failed { reason, .. } => reason.as_str(),
            ExecError::Executor { .. } => "ExecutorError",
        }
    }

    /// Whether retrying later may succeed without a change (see [`FailureReason::transient`]).
    pub fn transient(&self) -> bool {
        match self {
            ExecError::Failed { reason, .. } => reason.transient(),
            ExecError::Executor { .. } => true,
        }
    }
}

/// Runs work on tokio's blocking pool, in the operator process (the default executor).
#[derive(Debug, Clone, Copy, Default)]
pub struct InProcessExecutor;

impl Executor for InProcessExecutor {
    fn run(&self, work: Work) -> BoxFuture<'static, Result<Outcome, ExecError>> {
        Box::pin(async move {
            let kind = work.kind();
            match tokio::task::spawn_blocking(move || run_blocking(&work)).await {
                Ok(result) => result,
                Err(e) => Err(ExecError::executor(format!("{kind} work did not finish: {e}"))),
            }
        })
    }
}

/// `s` cut to at most `max` bytes at a character boundary, with `…` when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backup_work() -> Work {
        Work::Backup {
            database_url: "postgresql://app:hunter2@db:5432/app".into(),
            store: StoreTarget {
                url: "s3://backups/app".into(),
                credentials: Some(StoreCredentials {
                    access_key_id: "AKIAEXAMPLE".into(),
                    secret_access_key: "s3cr3t".into(),
                    session_token: None,
                }),
            },
            recipients: vec![
                "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq".into(),
            ],
        }
    }

    #[test]
    fn work_round_trips_as_json_with_a_kind_tag() {
        let work = backup_work();
        let json = serde_json::to_value(&work).unwrap();
        assert_eq!(json["kind"], "backup");
        assert_eq!(json["databaseUrl"], "postgresql://app:hunter2@db:5432/app");
        assert_eq!(json["store"]["credentials"]["accessKeyId"], "AKIAEXAMPLE");
        let back: Work = serde_json::from_value(json).unwrap();
        assert_eq!(back, work);
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let shown = format!("{:?}", backup_work());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(!shown.contains("AKIAEXAMPLE"), "{shown}");
        assert!(shown.contains("s3://backups/app"), "{shown}");
    }

    #[test]
    fn errors_and_outcomes_round_trip() {
        let e = ExecError::failed(FailureReason::MigrationDrift, "V2 was edited");
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<ExecError>(&json).unwrap(), e);
        assert_eq!(e.reason(), "MigrationDrift");
        assert!(!e.transient());
        assert!(ExecError::failed(FailureReason::ConnectFailed, "x").transient());
        assert!(ExecError::executor("api down").transient());
        assert_eq!(e.to_string(), "MigrationDrift: V2 was edited");
        let o = Outcome::Restored { backup_id: "b".into(), tables: 3, replaced: false };
        let json = serde_json::to_value(&o).unwrap();
        assert_eq!(json["kind"], "restored");
        assert_eq!(json["backupId"], "b");
        assert_eq!(serde_json::from_value::<Outcome>(json).unwrap(), o);
    }

    #[test]
    fn unknown_work_is_rejected_with_the_field() {
        let e = serde_json::from_str::<Work>(r#"{"kind":"dropDatabase"}"#).unwrap_err();
        assert!(e.to_string().contains("dropDatabase"), "{e}");
        let e =
            serde_json::from_str::<Work>(r#"{"kind":"backup","store":{"url":"x"}}"#).unwrap_err();
        assert!(e.to_string().contains("databaseUrl"), "{e}");
    }

    #[test]
    fn truncate_marks_cuts() {
        assert_eq!(truncate("short", 10), "short");
        let t = truncate(&"é".repeat(100), 11);
        assert!(t.len() <= 11 && t.ends_with('…'), "{t}");
    }
}
