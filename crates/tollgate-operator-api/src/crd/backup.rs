//! `BackupPolicy`, `Backup` and `Restore`: scheduled, retained, encrypted and verified
//! PostgreSQL backups (`pg_dump` through `tollgate-db` into an object store).
//!
//! A BackupPolicy creates one Backup object per scheduled run, named
//! `<policy>-<yyyymmddhhmm>` (UTC) so a run is never taken twice; a Backup records one dump and
//! its verification; a Restore restores a Backup into a database, or (`mode: Verify`) runs a
//! verification drill whose result is recorded. Deleting any of these objects never deletes a
//! stored backup: only retention does that.

// `printcolumn(...)` entries repeat `type_ = …` by design; clippy reads them as duplicates.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

pub use super::parity::SecretKeyRef;

/// Label on every Backup naming the BackupPolicy that created it.
pub const POLICY_LABEL: &str = "tollgate.dev/backup-policy";
/// Default `leaseSeconds` of a Backup's worker.
pub const DEFAULT_LEASE_SECONDS: i64 = 120;
/// Default `maxAttempts` of a Backup.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// Most entries kept in each list of a status.
pub const MAX_LISTED: usize = 10;

/// Back up a PostgreSQL database on a cron schedule into an object store, keep the backups
/// by GFS retention, and verify them.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "tollgate.dev",
    version = "v1alpha1",
    kind = "BackupPolicy",
    namespaced,
    status = "BackupPolicyStatus",
    shortname = "bp",
    shortname = "backuppol",
    category = "tollgate",
    printcolumn(name = "Schedule", type_ = "string", json_path = ".spec.schedule"),
    printcolumn(name = "Suspend", type_ = "boolean", json_path = ".spec.suspend"),
    printcolumn(name = "Last Success", type_ = "date", json_path = ".status.lastSuccessfulTime"),
    printcolumn(name = "Next", type_ = "date", json_path = ".status.nextScheduleTime"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct BackupPolicySpec {
    /// A Secret key (in this namespace) holding the libpq connection URL of the database.
    pub database_secret_ref: SecretKeyRef,
    /// Where backups are stored.
    pub store: StoreSpec,
    /// A 5-field cron pattern (`minute hour day-of-month month day-of-week`).
    #[schemars(length(min = 1, max = 128))]
    #[x_kube(validation = Rule::new("self.split(' ').filter(f, f != '').size() == 5").message("a 5-field cron pattern: minute hour day-of-month month day-of-week"))]
    pub schedule: String,
    /// IANA time zone of the schedule (`Europe/Berlin`); UTC when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// A run missed by more than this (operator down) is skipped rather than started late.
    /// At most one missed run is ever caught up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub starting_deadline_seconds: Option<i64>,
    /// Stop scheduling new runs (running ones finish).
    #[serde(default)]
    pub suspend: bool,
    /// Which backups to keep. Without it nothing is ever deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionSpec>,
    /// Encrypt backups with age.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<EncryptionSpec>,
    /// Verify each backup, and run restore drills.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<VerificationSpec>,
    /// How long a Backup's worker may go without renewing its lease before another reconcile
    /// takes the run over (default 120).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 10, max = 3600))]
    pub lease_seconds: Option<i64>,
    /// Attempts per Backup before it fails for good (default 3): transient errors and lost
    /// workers are retried, other failures are not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10))]
    pub max_attempts: Option<u32>,
}

/// An object store.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StoreSpec {
    /// `s3://bucket[/prefix][?endpoint=…&region=…]`, or a path / `file:///dir` on the
    /// operator's disk.
    #[schemars(length(min = 1, max = 2048))]
    #[x_kube(validation = Rule::new("self.startsWith('s3://') || self.startsWith('file:///') || self.startsWith('/')").message("s3://bucket[/prefix], file:///dir or an absolute path"))]
    pub url: String,
    /// A Secret (in this namespace) with `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
    /// optionally `AWS_SESSION_TOKEN`. Without it the operator's own credentials are used;
    /// with it, the store client signs with these credentials only, in either executor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretRef>,
}

/// A Secret in the resource's own namespace.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SecretRef {
    /// The Secret's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// GFS retention: a backup is kept when any rule keeps it. The newest verified backup is always
/// kept, never fewer than `floor` backups are kept, and incomplete backups are never deleted.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
#[x_kube(validation = Rule::new("self.keepLast + self.keepHourly + self.keepDaily + self.keepWeekly + self.keepMonthly + self.keepYearly > 0").message("keep at least one backup by some rule"))]
#[serde(rename_all = "camelCase")]
pub struct RetentionSpec {
    /// Keep the N newest.
    #[serde(default)]
    pub keep_last: u32,
    /// Keep the newest of each of the N most recent hours (UTC) with a backup.
    #[serde(default)]
    pub keep_hourly: u32,
    /// The same per day (UTC).
    #[serde(default)]
    pub keep_daily: u32,
    /// The same per ISO week.
    #[serde(default)]
    pub keep_weekly: u32,
    /// The same per month.
    #[serde(default)]
    pub keep_monthly: u32,
    /// The same per year.
    #[serde(default)]
    pub keep_yearly: u32,
    /// Never keep fewer than this many (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<u32>,
}

/// age encryption of backups.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EncryptionSpec {
    /// age X25519 public keys (`age1…`) the backups are encrypted to.
    #[schemars(length(max = 32), inner(length(max = 128)))]
    #[x_kube(validation = Rule::new("self.size() > 0 && self.all(r, r.startsWith('age1'))").message("one or more age X25519 recipients (age1…)"))]
    pub recipients: Vec<String>,
    /// A Secret key holding age identities (`AGE-SECRET-KEY-1…`), needed to verify beyond the
    /// checksum tier and to restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_secret_ref: Option<SecretKeyRef>,
}

/// Verification of backups.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VerificationSpec {
    /// Tier run after every backup: `checksum`, `toc` or `restore` (default `checksum`).
    #[serde(default = "default_tier")]
    pub tier: VerifyTier,
    /// A Secret key holding the URL of a server for scratch databases (needs CREATEDB);
    /// required for the `restore` tier and for drills.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scratch_server_secret_ref: Option<SecretKeyRef>,
    /// SQL queries that must each return `true` in a test-restored database.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub queries: Vec<String>,
    /// A 5-field cron pattern (same time zone) for restore drills of the newest successful
    /// backup: each creates a Restore in `Verify` mode whose result is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill_schedule: Option<String>,
}

fn default_tier() -> VerifyTier {
    VerifyTier::Checksum
}

/// How thoroughly to verify a backup; each tier includes the ones before it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum VerifyTier {
    /// Stored bytes match the recorded SHA-256 and size.
    Checksum,
    /// `pg_restore --list` reads the archive and its plain SHA-256 matches.
    Toc,
    /// A full test restore into a scratch database (dropped afterwards), with SQL checks.
    Restore,
}

impl VerifyTier {
    /// `checksum`, `toc` or `restore`.
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyTier::Checksum => "checksum",
            VerifyTier::Toc => "toc",
            VerifyTier::Restore => "restore",
        }
    }
}

/// Observed state of a BackupPolicy.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct BackupPolicyStatus {
    /// Ready, Reconciling, Stalled, LastBackupSucceeded, LastVerificationSucceeded.
    #[serde(default)]
    #[schemars(schema_with = "crate::crd::conditions_schema")]
    pub conditions: Vec<Condition>,
    /// The generation the status was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The last scheduled time handled: started, or skipped as missed beyond the deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<Time>,
    /// The next scheduled run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_schedule_time: Option<Time>,
    /// The scheduled time of the last drill started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_drill_time: Option<Time>,
    /// The newest Backup object that succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_backup: Option<String>,
    /// Its id in the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_backup_id: Option<String>,
    /// The database name it was stored under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_time: Option<Time>,
    /// Scheduled runs skipped (missed while the operator was down, beyond the one catch-up).
    #[serde(default)]
    pub missed_runs: u32,
    /// The last retention run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionStatus>,
}

/// What the last retention run did.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct RetentionStatus {
    /// When it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Time>,
    /// After which successful backup (retention runs once per new backup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_backup: Option<String>,
    /// Backups kept.
    #[serde(default)]
    pub kept: u32,
    /// Backup ids deleted (the first 10).
    #[serde(default)]
    pub deleted: Vec<String>,
    /// How many were deleted.
    #[serde(default)]
    pub deleted_total: u32,
}

/// One backup run of a BackupPolicy.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "tollgate.dev",
    version = "v1alpha1",
    kind = "Backup",
    namespaced,
    status = "BackupStatus",
    shortname = "tgbackup",
    category = "tollgate",
    printcolumn(name = "Policy", type_ = "string", json_path = ".spec.policyRef"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Backup ID", type_ = "string", json_path = ".status.backupId"),
    printcolumn(name = "Size", type_ = "integer", json_path = ".status.size"),
    printcolumn(
        name = "Verified",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"LastVerificationSucceeded\")].status"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct BackupSpec {
    /// The BackupPolicy (in this namespace) whose database, store, encryption and verification
    /// are used.
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("policyRef is immutable"))]
    pub policy_ref: String,
    /// The scheduled time of this run (absent for on-demand backups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_time: Option<Time>,
}

/// Where a Backup is.
#[derive(
    schemars::JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default,
)]
pub enum BackupPhase {
    /// Not started yet (or waiting to retry).
    #[default]
    Pending,
    /// A worker holds the run (see `worker` and `leaseExpires`).
    Running,
    /// The dump is stored (see the verification condition for its check).
    Succeeded,
    /// It failed for good.
    Failed,
}

/// Observed state of a Backup.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct BackupStatus {
    /// Ready, Reconciling, Stalled, LastBackupSucceeded, LastVerificationSucceeded.
    #[serde(default)]
    #[schemars(schema_with = "crate::crd::conditions_schema")]
    pub conditions: Vec<Condition>,
    /// The generation the status was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Pending, Running, Succeeded or Failed.
    #[serde(default)]
    pub phase: BackupPhase,
    /// Attempts started.
    #[serde(default)]
    pub attempts: u32,
    /// The worker holding a Running backup (operator pod and process).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// When the worker's lease runs out unless renewed; after it, another reconcile takes over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_expires: Option<Time>,
    /// When a Pending backup may be retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<Time>,
    /// When the current or last attempt started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_time: Option<Time>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_time: Option<Time>,
    /// The backup id in the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_id: Option<String>,
    /// The database name it is stored under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// Object key of the dump.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// SHA-256 (hex) of the stored bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Stored size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Whether the dump is age-encrypted.
    #[serde(default)]
    pub encrypted: bool,
    /// The last verification of this backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<VerificationStatus>,
    /// The last error, when failed or retrying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A verification result.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VerificationStatus {
    /// The tier run.
    pub tier: VerifyTier,
    /// Whether every check passed.
    pub passed: bool,
    /// When it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Time>,
    /// What failed (the first 10).
    #[serde(default)]
    pub problems: Vec<String>,
}

/// Restore a Backup into a database, or run a verification drill of it.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "tollgate.dev",
    version = "v1alpha1",
    kind = "Restore",
    namespaced,
    status = "RestoreStatus",
    shortname = "tgrestore",
    category = "tollgate",
    printcolumn(name = "Backup", type_ = "string", json_path = ".spec.backupRef"),
    printcolumn(name = "Mode", type_ = "string", json_path = ".spec.mode"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Passed", type_ = "boolean", json_path = ".status.passed"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(validation = Rule::new("self.mode == 'Verify' || has(self.targetDatabaseSecretRef)").message("mode Restore needs targetDatabaseSecretRef"))]
#[x_kube(validation = Rule::new("self == oldSelf").message("a Restore is immutable; create a new one"))]
#[serde(rename_all = "camelCase")]
pub struct RestoreSpec {
    /// The Backup object (in this namespace) to restore.
    #[schemars(length(min = 1, max = 253))]
    pub backup_ref: String,
    /// `Restore` into the target, or `Verify` (a drill: test restore into a scratch database
    /// that is dropped afterwards, result recorded).
    #[serde(default)]
    pub mode: RestoreMode,
    /// A Secret key holding the target database's URL (mode Restore).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_database_secret_ref: Option<SecretKeyRef>,
    /// Restore over existing objects; otherwise a target with user tables is refused.
    #[serde(default)]
    pub replace: bool,
    /// Tier of a drill (mode Verify; default `restore`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<VerifyTier>,
}

/// What a Restore does.
#[derive(
    schemars::JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default,
)]
pub enum RestoreMode {
    /// Restore into the target database.
    #[default]
    Restore,
    /// A drill: verify the backup (by default with a full test restore) and record the result.
    Verify,
}

/// Where a Restore is.
#[derive(
    schemars::JsonSchema, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Default,
)]
pub enum RestorePhase {
    /// Not started.
    #[default]
    Pending,
    /// Running.
    Running,
    /// Done, and (mode Verify) the drill passed.
    Succeeded,
    /// Failed (mode Verify: the drill failed; see `problems`).
    Failed,
}

/// Observed state of a Restore.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct RestoreStatus {
    /// Ready, Reconciling, Stalled, LastVerificationSucceeded (drills).
    #[serde(default)]
    #[schemars(schema_with = "crate::crd::conditions_schema")]
    pub conditions: Vec<Condition>,
    /// The generation the status was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Pending, Running, Succeeded or Failed.
    #[serde(default)]
    pub phase: RestorePhase,
    /// The worker running it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// When the worker's lease runs out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_expires: Option<Time>,
    /// The backup id in the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_id: Option<String>,
    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_time: Option<Time>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_time: Option<Time>,
    /// Mode Restore: user tables in the target afterwards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<u32>,
    /// Mode Verify: whether the drill passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passed: Option<bool>,
    /// Mode Verify: the tier run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<VerifyTier>,
    /// What failed (the first 10).
    #[serde(default)]
    pub problems: Vec<String>,
    /// The error, when failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::CustomResourceExt;

    fn rules(
        crd: &k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    ) -> String {
        serde_json::to_string(&crd.spec.versions[0].schema).unwrap()
    }

    #[test]
    fn crds_carry_names_columns_and_cel_rules() {
        let bp = BackupPolicy::crd();
        assert_eq!(bp.metadata.name.as_deref(), Some("backuppolicies.tollgate.dev"));
        assert_eq!(bp.spec.names.short_names.as_deref().unwrap(), ["bp", "backuppol"]);
        let text = rules(&bp);
        assert!(text.contains("keep at least one backup by some rule"), "{text}");
        assert!(text.contains("a 5-field cron pattern"), "{text}");
        assert!(text.contains("age1"), "{text}");
        let b = Backup::crd();
        assert_eq!(b.metadata.name.as_deref(), Some("backups.tollgate.dev"));
        assert!(rules(&b).contains("policyRef is immutable"));
        let cols = b.spec.versions[0].additional_printer_columns.clone().unwrap();
        assert!(cols.iter().any(|c| c.json_path == ".status.phase"));
        let r = Restore::crd();
        assert!(rules(&r).contains("mode Restore needs targetDatabaseSecretRef"));
    }

    #[test]
    fn specs_read_their_yaml_shape() {
        let policy: BackupPolicy = serde_json::from_value(serde_json::json!({
            "apiVersion": "tollgate.dev/v1alpha1", "kind": "BackupPolicy",
            "metadata": {"name": "nightly", "namespace": "db"},
            "spec": {
                "databaseSecretRef": {"name": "app-db", "key": "url"},
                "store": {"url": "s3://backups/app?endpoint=http://127.0.0.1:9000"},
                "schedule": "0 3 * * *", "timeZone": "Europe/Berlin",
                "retention": {"keepLast": 3, "keepDaily": 7},
                "verification": {"tier": "toc", "drillSchedule": "0 4 * * SUN"}
            }
        }))
        .unwrap();
        assert_eq!(policy.spec.retention.as_ref().unwrap().keep_daily, 7);
        assert_eq!(policy.spec.verification.as_ref().unwrap().tier, VerifyTier::Toc);
        assert!(!policy.spec.suspend);
        let status = BackupStatus { phase: BackupPhase::Running, ..Default::default() };
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["phase"], "Running");
        let restore: RestoreSpec = serde_json::from_value(
            serde_json::json!({"backupRef": "nightly-202611250200", "mode": "Verify"}),
        )
        .unwrap();
        assert_eq!(restore.mode, RestoreMode::Verify);
    }
}
