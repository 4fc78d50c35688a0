//! `SchemaMigration`: versioned SQL migrations applied to one PostgreSQL database by
//! `tollgate-db`, gated on drift, destructive changes and approval by plan hash, optionally after
//! a pre-migration backup.

// `printcolumn(...)` entries repeat `type_ = …` by design; clippy reads them as duplicates.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

pub use super::parity::SecretKeyRef;

/// Default `lockTimeoutSeconds`.
pub const DEFAULT_LOCK_TIMEOUT_SECONDS: u64 = 10;
/// Default `statementTimeoutSeconds`.
pub const DEFAULT_STATEMENT_TIMEOUT_SECONDS: u64 = 300;
/// Most entries kept in each list of the status.
pub const MAX_LISTED: usize = 10;

/// Apply versioned SQL migrations (`V<version>__<name>.sql`) to a PostgreSQL database.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "tollgate.dev",
    version = "v1alpha1",
    kind = "SchemaMigration",
    namespaced,
    status = "SchemaMigrationStatus",
    shortname = "smig",
    category = "tollgate",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Applied", type_ = "string", json_path = ".status.appliedVersion"),
    printcolumn(name = "Pending", type_ = "integer", json_path = ".status.pendingTotal"),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct SchemaMigrationSpec {
    /// A Secret key (in this namespace) holding the libpq connection URL of the database.
    pub database_secret_ref: SecretKeyRef,
    /// Where the migrations come from.
    pub source: MigrationSourceSpec,
    /// Longest wait for the advisory lock, and PostgreSQL's `lock_timeout` (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub lock_timeout_seconds: Option<u64>,
    /// PostgreSQL's `statement_timeout` (default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 86400))]
    pub statement_timeout_seconds: Option<u64>,
    /// Apply destructive statements (DROP, TRUNCATE, …) without approval.
    #[serde(default)]
    pub allow_destructive: bool,
    /// Require `approvedPlanHash` for every plan, destructive or not.
    #[serde(default)]
    pub require_approval: bool,
    /// The plan hash (`status.planHash`) a human reviewed and approved. Needed when the plan
    /// is destructive (unless `allowDestructive`) or when `requireApproval`; a hash of another
    /// plan approves nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    #[x_kube(validation = Rule::new("self.matches('^[0-9a-f]{64}$')").message("a plan hash: 64 lowercase hex digits"))]
    pub approved_plan_hash: Option<String>,
    /// Take a backup (through a BackupPolicy's settings) and wait for it to succeed before
    /// applying anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_migration_backup: Option<PreMigrationBackup>,
}

/// The migration source: exactly one of `configMap` and `git`.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new("has(self.configMap) != has(self.git)").message("set exactly one of configMap and git"))]
#[serde(rename_all = "camelCase")]
pub struct MigrationSourceSpec {
    /// A ConfigMap in this namespace whose `data` maps file names (`V1__init.sql`) to SQL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<ConfigMapSource>,
    /// A git repository at a pinned commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitSource>,
}

/// A ConfigMap source.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapSource {
    /// The ConfigMap's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// A git source, read from git objects (no checkout) at a pinned commit.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GitSource {
    /// Path of the repository on the worker's disk (e.g. a volume synced by git-sync); the
    /// operator has no network transports for git.
    #[schemars(length(min = 1))]
    pub repository: String,
    /// The full commit id (40 hex digits): a moving branch would apply migrations on a guess.
    #[schemars(length(max = 40))]
    #[x_kube(validation = Rule::new("self.matches('^[0-9a-f]{40}$')").message("a full 40-digit commit id"))]
    pub commit: String,
    /// Directory of the migrations inside the repository (`""`: the root).
    #[serde(default)]
    pub path: String,
}

/// A backup to take before migrating.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PreMigrationBackup {
    /// A BackupPolicy in this namespace (its store, database and encryption are used).
    #[schemars(length(min = 1, max = 253))]
    pub backup_policy_ref: String,
}

/// Observed state of a SchemaMigration.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct SchemaMigrationStatus {
    /// Ready, Reconciling, Stalled, DestructiveChangeDetected, Approved, BackupCompleted.
    #[serde(default)]
    #[schemars(schema_with = "crate::crd::conditions_schema")]
    pub conditions: Vec<Condition>,
    /// The generation the status was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Hash of the pending plan (what `approvedPlanHash` takes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_hash: Option<String>,
    /// Highest applied version (the schema version EnvironmentParity compares): `7`, or a
    /// Flyway dotted version such as `1.5`. Written as a number before dotted versions; both
    /// forms are read.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "version_text::optional"
    )]
    #[schemars(length(max = 64))]
    pub applied_version: Option<String>,
    /// The first pending versions, in order (at most 10).
    #[serde(default, deserialize_with = "version_text::list")]
    #[schemars(length(max = 10), inner(length(max = 64)))]
    pub pending_versions: Vec<String>,
    /// How many migrations are pending.
    #[serde(default)]
    pub pending_total: u32,
    /// Destructive statements of the plan (`V3: DROP TABLE: …`, at most 10).
    #[serde(default)]
    pub destructive_statements: Vec<String>,
    /// Drift between history and source (at most 10); any drift stops the migration.
    #[serde(default)]
    pub drift: Vec<String>,
    /// The Backup object taken before migrating the current plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_migration_backup: Option<String>,
    /// Versions applied by the last run (at most 10).
    #[serde(default, deserialize_with = "version_text::list")]
    #[schemars(length(max = 10), inner(length(max = 64)))]
    pub last_applied_versions: Vec<String>,
    /// When the last run applied anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_time: Option<Time>,
}

impl SchemaMigration {
    /// `lockTimeoutSeconds` or its default.
    pub fn lock_timeout_seconds(&self) -> u64 {
        self.spec.lock_timeout_seconds.unwrap_or(DEFAULT_LOCK_TIMEOUT_SECONDS)
    }

    /// `statementTimeoutSeconds` or its default.
    pub fn statement_timeout_seconds(&self) -> u64 {
        self.spec.statement_timeout_seconds.unwrap_or(DEFAULT_STATEMENT_TIMEOUT_SECONDS)
    }
}

/// Versions in status: strings now, numbers in objects written before dotted versions.
mod version_text {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Version {
        Number(u64),
        Text(String),
    }

    impl From<Version> for String {
        fn from(v: Version) -> String {
            match v {
                Version::Number(n) => n.to_string(),
                Version::Text(s) => s,
            }
        }
    }

    pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(Option::<Version>::deserialize(d)?.map(String::from))
    }

    pub fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        Ok(Vec::<Version>::deserialize(d)?.into_iter().map(String::from).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::CustomResourceExt;

    #[test]
    fn the_crd_carries_its_validation_rules_and_columns() {
        let crd = serde_json::to_string(&SchemaMigration::crd()).unwrap();
        for needle in [
            r#""name":"schemamigrations.tollgate.dev""#,
            "has(self.configMap) != has(self.git)",
            "self.matches('^[0-9a-f]{64}$')",
            "self.matches('^[0-9a-f]{40}$')",
            r#"".status.appliedVersion""#,
            r#""shortNames":["smig"]"#,
        ] {
            assert!(crd.contains(needle), "missing {needle} in {crd}");
        }
    }

    #[test]
    fn status_versions_read_as_numbers_and_as_text() {
        let old: SchemaMigrationStatus = serde_json::from_value(serde_json::json!({
            "appliedVersion": 7, "pendingVersions": [8, 9], "lastAppliedVersions": [6, 7]
        }))
        .unwrap();
        assert_eq!(old.applied_version.as_deref(), Some("7"));
        assert_eq!(old.pending_versions, ["8", "9"]);
        assert_eq!(old.last_applied_versions, ["6", "7"]);
        let new: SchemaMigrationStatus = serde_json::from_value(serde_json::json!({
            "appliedVersion": "1.5", "pendingVersions": ["1.10"]
        }))
        .unwrap();
        assert_eq!(new.applied_version.as_deref(), Some("1.5"));
        assert_eq!(new.pending_versions, ["1.10"]);
        assert!(new.last_applied_versions.is_empty());
        let json = serde_json::to_value(&new).unwrap();
        assert_eq!(json["appliedVersion"], "1.5");
        assert!(
            serde_json::from_value::<SchemaMigrationStatus>(
                serde_json::json!({"appliedVersion": true})
            )
            .is_err()
        );
    }

    #[test]
    fn a_sample_reads_with_defaults() {
        let m: SchemaMigration = serde_json::from_value(serde_json::json!({
            "apiVersion": "tollgate.dev/v1alpha1",
            "kind": "SchemaMigration",
            "metadata": { "name": "app", "namespace": "ops" },
            "spec": {
                "databaseSecretRef": { "name": "app-db", "key": "url" },
                "source": { "git": { "repository": "/repos/app", "commit": "0123456789abcdef0123456789abcdef01234567", "path": "db/migrations" } },
                "preMigrationBackup": { "backupPolicyRef": "nightly" }
            }
        }))
        .unwrap();
        assert_eq!(m.lock_timeout_seconds(), DEFAULT_LOCK_TIMEOUT_SECONDS);
        assert_eq!(m.statement_timeout_seconds(), DEFAULT_STATEMENT_TIMEOUT_SECONDS);
        assert!(!m.spec.allow_destructive && !m.spec.require_approval);
        let e = serde_json::from_value::<SchemaMigration>(serde_json::json!({
            "apiVersion": "tollgate.dev/v1alpha1", "kind": "SchemaMigration",
            "metadata": { "name": "x" },
            "spec": { "source": {} }
        }))
        .unwrap_err();
        assert!(e.to_string().contains("databaseSecretRef"), "{e}");
    }
}
