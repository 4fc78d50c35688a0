//! Running one work item with `tollgate-db` (blocking), and the `work` subcommand's entry
//! points: JSON in, an [`Outcome`] or [`ExecError`] out.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tollgate_core::store_url::S3Credentials;
use tollgate_db::backup::{self, BackupError, BackupInfo};
use tollgate_db::migrate::{self, MigrateError, Migration, Plan};
use tollgate_db::restore::{self, Tier, VerifyOptions};
use tollgate_db::store::Store;

use super::{
    AppliedSummary, BackupRecord, ExecError, FailureReason, MAX_LISTED, MAX_TEXT, MigrationSource,
    Outcome, PendingSummary, PlanSummary, RetentionPolicy, RetentionRecord, StoreTarget,
    VerificationRecord, VerifyTier, Work, truncate,
};

/// The largest termination message Kubernetes keeps (bytes).
pub const TERMINATION_MESSAGE_LIMIT: usize = 4096;

/// What a worker reports: `{"outcome": …}` or `{"error": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WorkResult {
    /// The work succeeded.
    Outcome(Outcome),
    /// The work failed.
    Error(ExecError),
}

impl From<Result<Outcome, ExecError>> for WorkResult {
    fn from(r: Result<Outcome, ExecError>) -> Self {
        match r {
            Ok(o) => WorkResult::Outcome(o),
            Err(e) => WorkResult::Error(e),
        }
    }
}

impl From<WorkResult> for Result<Outcome, ExecError> {
    fn from(r: WorkResult) -> Self {
        match r {
            WorkResult::Outcome(o) => Ok(o),
            WorkResult::Error(e) => Err(e),
        }
    }
}

/// Runs `work` to completion on the current thread with `tollgate-db`. Blocking (it drives
/// `pg_dump`, PostgreSQL connections and the store's own runtime): call it from
/// `spawn_blocking` or outside any async runtime. Error messages never contain the work's
/// secrets.
pub fn run_blocking(work: &Work) -> Result<Outcome, ExecError> {
    tracing::info!(kind = work.kind(), "work started");
    let result = dispatch(work).map_err(|e| scrub_error(e, work));
    match &result {
        Ok(_) => tracing::info!(kind = work.kind(), "work succeeded"),
        Err(e) => tracing::warn!(kind = work.kind(), error = %e, "work failed"),
    }
    result
}

fn dispatch(work: &Work) -> Result<Outcome, ExecError> {
    match work {
        Work::Plan { database_url, source } => {
            let migrations = load_migrations(source)?;
            let plan = migrate::plan(database_url.expose(), &migrations).map_err(migrate_err)?;
            Ok(Outcome::Planned { plan: summarize_plan(&plan) })
        }
        Work::Migrate {
            database_url,
            source,
            lock_timeout_secs,
            statement_timeout_secs,
            allow_destructive,
            approve,
            applied_by,
        } => {
            let migrations = load_migrations(source)?;
            let options = migrate::Options {
                lock_timeout: std::time::Duration::from_secs(*lock_timeout_secs),
                statement_timeout: std::time::Duration::from_secs(*statement_timeout_secs),
                allow_destructive: *allow_destructive,
                approve: approve.clone(),
                applied_by: applied_by.clone(),
            };
            let out = migrate::migrate(database_url.expose(), &migrations, &options)
                .map_err(migrate_err)?;
            Ok(Outcome::Migrated {
                plan: summarize_plan(&out.plan),
                applied: out
                    .applied
                    .iter()
                    .take(MAX_LISTED)
                    .map(|a| AppliedSummary {
                        version: a.version.clone(),
                        name: truncate(&a.name, MAX_TEXT),
                        duration_ms: a.duration_ms,
                    })
                    .collect(),
                lock_wait_ms: out.lock_wait_ms,
            })
        }
        Work::Backup { database_url, store, recipients } => {
            let store = open_store(store)?;
            let opts = backup::BackupOptions {
                database_url: database_url.expose().to_owned(),
                recipients: recipients.clone(),
            };
            let info = backup::backup(&store, &opts).map_err(backup_err)?;
            Ok(Outcome::BackedUp { backup: record_of(&info) })
        }
        Work::Verify {
            store,
            backup_id,
            tier,
            scratch_server_url,
            identities,
            queries,
            record,
        } => {
            let store = open_store(store)?;
            let info = backup::find(&store, backup_id).map_err(backup_err)?;
            let identities = match identities {
                Some(text) if info.encrypted() => {
                    restore::parse_identities(text.expose()).map_err(backup_err)?
                }
                _ => Vec::new(),
            };
            let opts = VerifyOptions {
                tier: match tier {
                    VerifyTier::Checksum => Tier::Checksum,
                    VerifyTier::Toc => Tier::Toc,
                    VerifyTier::Restore => Tier::Restore,
                },
                database_url: scratch_server_url.as_ref().map(|u| u.expose().to_owned()),
                identities,
                queries: queries.clone(),
                record: *record,
            };
            let report = restore::verify(&store, &info, &opts).map_err(backup_err)?;
            let problems: Vec<String> = report
                .findings
                .iter()
                .filter(|f| f.severity == tollgate_core::Severity::Error)
                .map(|f| truncate(&format!("{}: {}", f.rule, f.message), MAX_TEXT))
                .collect();
            Ok(Outcome::Verified {
                verification: VerificationRecord {
                    backup_id: info.id.clone(),
                    tier: *tier,
                    passed: problems.is_empty(),
                    started: report.started.clone(),
                    problems: problems.into_iter().take(MAX_LISTED).collect(),
                },
            })
        }
        Work::Restore { store, backup_id, target_database_url, replace, identities } => {
            let store = open_store(store)?;
            let info = backup::find(&store, backup_id).map_err(backup_err)?;
            let identities = match identities {
                Some(text) if info.encrypted() => {
                    restore::parse_identities(text.expose()).map_err(backup_err)?
                }
                _ => Vec::new(),
            };
            let summary = restore::restore_into(
                &store,
                &info,
                target_database_url.expose(),
                *replace,
                &identities,
            )
            .map_err(backup_err)?;
            Ok(Outcome::Restored {
                backup_id: info.id,
                tables: summary.tables,
                replaced: summary.replaced,
            })
        }
        Work::Retention { store, database, rules, must_include, now, dry_run } => {
            let store = open_store(store)?;
            retention(&store, database, rules, must_include, now, *dry_run)
        }
    }
}

/// Retention over one database's backups; refuses to delete when the listing looks wrong.
fn retention(
    store: &Store,
    database: &str,
    rules: &RetentionPolicy,
    must_include: &[String],
    now: &str,
    dry_run: bool,
) -> Result<Outcome, ExecError> {
    let now = time::OffsetDateTime::parse(now, &time::format_description::well_known::Rfc3339)
        .map_err(|e| ExecError::failed(FailureReason::Invalid, format!("now {now:?}: {e}")))?;
    let listed: Vec<BackupInfo> = backup::list(store)
        .map_err(backup_err)?
        .into_iter()
        .filter(|b| b.database == database)
        .collect();
    for id in must_include {
        let present =
            listed.iter().any(|b| &b.id == id && b.status == backup::BackupStatus::Complete);
        if !present {
            return Err(ExecError::failed(
                FailureReason::UntrustedListing,
                format!(
                    "store {}: the listing of {database:?} lacks backup {id}, which is known to \
                     exist; not deleting anything on a listing that may be partial",
                    store.url()
                ),
            ));
        }
    }
    let decisions = tollgate_db::retention::select_for_deletion(&listed, rules, now);
    let mut deleted = Vec::new();
    let mut kept_total = 0;
    for d in decisions.iter().filter(|d| d.database == database) {
        if d.keep {
            kept_total += 1;
            continue;
        }
        // Only complete backups are ever judged deletable; look the entry up again to delete
        // exactly what was listed.
        let Some(info) = listed.iter().find(|b| b.id == d.id) else { continue };
        if !dry_run {
            backup::delete(store, info).map_err(|e| {
                let mut e = backup_err(e);
                if let ExecError::Failed { message, .. } = &mut e {
                    *message = format!(
                        "deleting backup {} (after deleting {} others): {message}",
                        info.id,
                        deleted.len()
                    );
                }
                e
            })?;
            tracing::info!(id = %info.id, %database, "retention deleted a backup");
        }
        deleted.push(info.id.clone());
    }
    let deleted_total = deleted.len();
    deleted.truncate(MAX_LISTED);
    Ok(Outcome::RetentionApplied {
        retention: RetentionRecord {
            database: database.to_owned(),
            kept_total,
            deleted,
            deleted_total,
            dry_run,
        },
    })
}

fn load_migrations(source: &MigrationSource) -> Result<Vec<Migration>, ExecError> {
    match source {
        MigrationSource::Files { origin, files } => migrate::source::from_files(
            files.iter().map(|(name, sql)| (name.clone(), format!("{origin}#{name}"), sql.clone())),
        ),
        MigrationSource::Git { repository, commit, subdir } => {
            migrate::from_git(Path::new(repository), commit, subdir)
        }
    }
    .map_err(migrate_err)
}

/// Opens the store. A policy's own credentials (`credentialsSecretRef`) are handed to
/// tollgate-db explicitly, so they sign the store's requests wherever the work runs (in-process
/// or in a Job) and the process's `AWS_*` credentials are not consulted; without them the
/// environment's are used. Credentials with an empty key id or secret are refused (reason
/// [`FailureReason::Credentials`]) before anything runs.
fn open_store(target: &StoreTarget) -> Result<Store, ExecError> {
    let credentials = match &target.credentials {
        None => None,
        Some(c) => {
            if c.access_key_id.expose().is_empty() || c.secret_access_key.expose().is_empty() {
                return Err(ExecError::failed(
                    FailureReason::Credentials,
                    format!(
                        "store {}: the credentials Secret has an empty AWS_ACCESS_KEY_ID or \
                         AWS_SECRET_ACCESS_KEY",
                        target.url
                    ),
                ));
            }
            Some(S3Credentials {
                access_key_id: c.access_key_id.expose().to_owned(),
                secret_access_key: c.secret_access_key.expose().to_owned(),
                session_token: c.session_token.as_ref().map(|t| t.expose().to_owned()),
            })
        }
    };
    Store::open_with_credentials(&target.url, credentials.as_ref())
        .map_err(|e| ExecError::failed(FailureReason::StoreFailed, truncate(&e.to_string(), 1024)))
}

fn record_of(info: &BackupInfo) -> BackupRecord {
    BackupRecord {
        id: info.id.clone(),
        database: info.database.clone(),
        key: info.key.clone(),
        size: info.size,
        sha256: info.sha256.clone(),
        started: info.started.clone(),
        completed: info.completed.clone(),
        encrypted: info.encrypted(),
        schema_version: info.schema_version.clone(),
    }
}

/// A plan, bounded for status fields and termination messages.
pub fn summarize_plan(plan: &Plan) -> PlanSummary {
    PlanSummary {
        hash: plan.hash.clone(),
        highest_applied: plan.applied.iter().map(|a| &a.version).max().cloned(),
        applied_total: plan.applied.len(),
        pending: plan
            .pending
            .iter()
            .take(MAX_LISTED)
            .map(|p| PendingSummary {
                version: p.version.clone(),
                name: truncate(&p.name, 80),
                destructive: p
                    .destructive
                    .iter()
                    .take(2)
                    .map(|d| truncate(&format!("{}: {}", d.kind, d.statement), 120))
                    .collect(),
            })
            .collect(),
        pending_total: plan.pending.len(),
        destructive_total: plan.destructive().count(),
        drift: plan
            .drift
            .iter()
            .take(MAX_LISTED)
            .map(|d| truncate(&drift_text(d), MAX_TEXT))
            .collect(),
        drift_total: plan.drift.len(),
    }
}

fn drift_text(d: &migrate::Drift) -> String {
    match d {
        migrate::Drift::ChecksumChanged { version, origin, .. } => {
            format!("{origin}: V{version} was edited after it was applied")
        }
        migrate::Drift::Missing { version, name } => {
            format!("V{version}__{name} was applied but is missing from the source")
        }
        migrate::Drift::OutOfOrder { version, origin, highest_applied } => {
            format!("{origin}: V{version} is pending but V{highest_applied} is already applied")
        }
    }
}

fn migrate_err(e: MigrateError) -> ExecError {
    let reason = match &e {
        MigrateError::Source(_) => FailureReason::MigrationSource,
        MigrateError::Connect { .. } => FailureReason::ConnectFailed,
        MigrateError::LockTimeout(_) => FailureReason::LockTimeout,
        MigrateError::Drift(_) => FailureReason::MigrationDrift,
        MigrateError::Destructive { .. } => FailureReason::DestructiveChange,
        MigrateError::ApprovalMismatch { .. } => FailureReason::ApprovalMismatch,
        MigrateError::Apply { .. } => FailureReason::MigrationFailed,
        MigrateError::Database(_) => FailureReason::DatabaseError,
    };
    ExecError::failed(reason, truncate(&e.to_string(), 1024))
}

fn backup_err(e: BackupError) -> ExecError {
    let reason = match &e {
        BackupError::Store(_) => FailureReason::StoreFailed,
        BackupError::Tool { .. } => FailureReason::ToolFailed,
        BackupError::VersionMismatch { .. } => FailureReason::VersionMismatch,
        BackupError::Encryption(_) => FailureReason::Encryption,
        BackupError::Decryption(_) => FailureReason::Decryption,
        BackupError::NotFound(_) => FailureReason::BackupNotFound,
        BackupError::Metadata { .. } | BackupError::Integrity(_) => FailureReason::Integrity,
        BackupError::TargetNotEmpty { .. } => FailureReason::TargetNotEmpty,
        BackupError::Invalid(_) => FailureReason::Invalid,
    };
    ExecError::failed(reason, truncate(&e.to_string(), 1024))
}

/// Every secret of `work` (and the password inside each URL).
fn secrets_of(work: &Work) -> Vec<String> {
    let mut out = Vec::new();
    let mut url = |u: &str| {
        out.push(u.to_owned());
        if let Some(rest) = u.split_once("://").map(|(_, r)| r)
            && let Some((userinfo, _)) = rest.split_once('@')
            && let Some((_, password)) = userinfo.split_once(':')
            && !password.is_empty()
        {
            out.push(password.to_owned());
        }
    };
    match work {
        Work::Plan { database_url, .. } | Work::Migrate { database_url, .. } => {
            url(database_url.expose())
        }
        Work::Backup { database_url, .. } => url(database_url.expose()),
        Work::Verify { scratch_server_url, .. } => {
            if let Some(u) = scratch_server_url {
                url(u.expose());
            }
        }
        Work::Restore { target_database_url, .. } => url(target_database_url.expose()),
        Work::Retention { .. } => {}
    }
    if let Some(c) = work.store_credentials() {
        out.push(c.access_key_id.expose().to_owned());
        out.push(c.secret_access_key.expose().to_owned());
        if let Some(t) = &c.session_token {
            out.push(t.expose().to_owned());
        }
    }
    out.retain(|s| s.len() >= 4);
    // Longest first, so a URL is replaced whole before its password is looked for.
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

fn scrub_error(e: ExecError, work: &Work) -> ExecError {
    let secrets = secrets_of(work);
    let scrub = |m: String| secrets.iter().fold(m, |m, s| m.replace(s.as_str(), "***"));
    match e {
        ExecError::Failed { reason, message } => {
            ExecError::Failed { reason, message: scrub(message) }
        }
        ExecError::Executor { message } => ExecError::Executor { message: scrub(message) },
    }
}

/// The `work` subcommand's core: parses a [`Work`] from JSON, runs it ([`run_blocking`]) and
/// returns the [`Outcome`] as JSON. Blocking. Unparseable JSON is
/// `ExecError::Failed { reason: Invalid }` naming the line and column.
pub fn run_work_from_json(json: &str) -> Result<String, ExecError> {
    let work: Work = serde_json::from_str(json).map_err(|e| {
        ExecError::failed(
            FailureReason::Invalid,
            format!("work JSON, line {} column {}: {e}", e.line(), e.column()),
        )
    })?;
    let outcome = run_blocking(&work)?;
    serde_json::to_string(&outcome)
        .map_err(|e| ExecError::executor(format!("serialising the outcome: {e}")))
}

/// The JSON a worker reports for `result` (`{"outcome": …}` or `{"error": …}`), shrunk to fit
/// the [`TERMINATION_MESSAGE_LIMIT`]: lists are halved until it fits (totals stay), then
/// messages are cut.
pub fn termination_message(result: &Result<String, ExecError>) -> String {
    let mut value: WorkResult = match result {
        Ok(json) => match serde_json::from_str::<Outcome>(json) {
            Ok(o) => WorkResult::Outcome(o),
            Err(e) => WorkResult::Error(ExecError::executor(format!("unreadable outcome: {e}"))),
        },
        Err(e) => WorkResult::Error(e.clone()),
    };
    loop {
        let text = serde_json::to_string(&value).unwrap_or_else(|e| {
            format!(r#"{{"error":{{"kind":"executor","message":"serialising: {e}"}}}}"#)
        });
        if text.len() <= TERMINATION_MESSAGE_LIMIT || !shrink(&mut value) {
            return text;
        }
    }
}

/// Makes `r` smaller; `false` when nothing is left to shrink.
fn shrink(r: &mut WorkResult) -> bool {
    fn halve<T>(v: &mut Vec<T>) -> bool {
        if v.is_empty() {
            return false;
        }
        v.truncate(v.len() / 2);
        true
    }
    fn plan(p: &mut PlanSummary) -> bool {
        halve(&mut p.drift) || halve(&mut p.pending)
    }
    match r {
        WorkResult::Outcome(Outcome::Planned { plan: p }) => plan(p),
        WorkResult::Outcome(Outcome::Migrated { plan: p, applied, .. }) => {
            plan(p) || halve(applied)
        }
        WorkResult::Outcome(Outcome::Verified { verification }) => {
            halve(&mut verification.problems)
        }
        WorkResult::Outcome(Outcome::RetentionApplied { retention }) => {
            halve(&mut retention.deleted)
        }
        WorkResult::Outcome(_) => false,
        WorkResult::Error(ExecError::Failed { message, .. })
        | WorkResult::Error(ExecError::Executor { message }) => {
            if message.len() <= 64 {
                return false;
            }
            *message = truncate(message, message.len() / 2);
            true
        }
    }
}

/// The whole `work` subcommand: runs the work in `json`, writes [`termination_message`] to
/// `termination_log` (a Job's `/dev/termination-log`, which the Job executor reads back) and
/// returns the exit code: 0 success, 1 the work failed, 2 unreadable work JSON or the message
/// could not be written. Blocking; call it before starting an async runtime.
pub fn run_work_command(json: &str, termination_log: &Path) -> i32 {
    let result = run_work_from_json(json);
    let message = termination_message(&result);
    // A plain write: /dev/termination-log is a file the kubelet mounts, not a directory entry
    // that a temp-file-and-rename could replace.
    if let Err(e) = std::fs::write(termination_log, message.as_bytes()) {
        tracing::error!(path = %termination_log.display(), error = %e, "cannot write the result");
        return 2;
    }
    match result {
        Ok(_) => 0,
        Err(ExecError::Failed { reason: FailureReason::Invalid, .. }) => 2,
        Err(_) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::{SecretString, StoreCredentials};

    #[test]
    fn bad_json_names_line_and_column() {
        let e = run_work_from_json("{\n  \"kind\": 3\n}").unwrap_err();
        match e {
            ExecError::Failed { reason: FailureReason::Invalid, message } => {
                assert!(message.contains("line 2"), "{message}")
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn migration_source_errors_are_failures_with_the_origin() {
        let work = Work::Plan {
            database_url: "postgresql://u:pw@127.0.0.1:1/x".into(),
            source: MigrationSource::Files {
                origin: "configmap/ns/m".into(),
                files: [("V1_bad.sql".to_owned(), "SELECT 1".to_owned())].into(),
            },
        };
        let e = run_blocking(&work).unwrap_err();
        assert_eq!(e.reason(), "MigrationSource");
        assert!(e.to_string().contains("configmap/ns/m#V1_bad.sql"), "{e}");
    }

    #[test]
    fn unreachable_database_is_transient_and_hides_the_password() {
        let work = Work::Plan {
            database_url: "postgresql://u:pa55word@127.0.0.1:1/x?connect_timeout=2".into(),
            source: MigrationSource::Files { origin: "cm".into(), files: Default::default() },
        };
        let e = run_blocking(&work).unwrap_err();
        assert_eq!(e.reason(), "ConnectFailed");
        assert!(e.transient());
        assert!(!e.to_string().contains("pa55word"), "{e}");
    }

    fn verify_missing(url: &str, credentials: Option<StoreCredentials>) -> Work {
        Work::Verify {
            store: StoreTarget { url: url.to_owned(), credentials },
            backup_id: "20260101T000000Z-000000".into(),
            tier: VerifyTier::Checksum,
            scratch_server_url: None,
            identities: None,
            queries: vec![],
            record: false,
        }
    }

    fn credentials(key: &str, secret: &str) -> Option<StoreCredentials> {
        Some(StoreCredentials {
            access_key_id: SecretString::new(key),
            secret_access_key: SecretString::new(secret),
            session_token: None,
        })
    }

    #[test]
    fn empty_credentials_are_refused_before_anything_runs() {
        let url = "s3://b/p?endpoint=http://127.0.0.1:1";
        let e = run_blocking(&verify_missing(url, credentials("AKIDPOLICY", ""))).unwrap_err();
        assert_eq!(e.reason(), "Credentials");
        assert!(e.to_string().contains(url), "{e}");
        assert!(!e.transient());
        let e = run_blocking(&verify_missing(url, credentials("", "policy-secret"))).unwrap_err();
        assert_eq!(e.reason(), "Credentials");
        assert!(!e.to_string().contains("policy-secret"), "{e}");
    }

    #[test]
    fn credentials_for_a_directory_store_are_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let work = Work::Backup {
            database_url: "postgresql://127.0.0.1:1/x".into(),
            store: StoreTarget {
                url: store.display().to_string(),
                credentials: credentials("AKIDPOLICY", "not-for-a-directory"),
            },
            recipients: vec![],
        };
        let e = run_blocking(&work).unwrap_err();
        assert_eq!(e.reason(), "StoreFailed");
        assert!(e.to_string().contains("local directory"), "{e}");
        assert!(!e.to_string().contains("not-for-a-directory"), "{e}");
        assert!(!store.exists(), "nothing written");
    }

    /// In-process work with a policy's own credentials (different from this process's
    /// `AWS_ACCESS_KEY_ID`) reaches the store on moto (`TOLLGATE_TEST_S3_ENDPOINT`) instead of
    /// being refused; tollgate-db's store tests show the requests are signed with them.
    #[test]
    fn policy_credentials_unlike_the_environment_reach_the_store() {
        let endpoint = tollgate_db::testing::s3_endpoint();
        let env_key = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_default();
        assert_ne!(env_key, "AKIDPOLICY");
        let bucket = tollgate_db::testing::create_bucket("run-credentials");
        let url = format!("s3://{bucket}/backups?endpoint={endpoint}");
        let work = verify_missing(&url, credentials("AKIDPOLICY", "policy-secret"));
        let e = run_blocking(&work).unwrap_err();
        assert_eq!(e.reason(), "BackupNotFound", "the store was opened and read: {e}");
        assert!(!e.to_string().contains("policy-secret"), "{e}");
    }

    #[test]
    fn missing_backup_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let work = verify_missing(&dir.path().display().to_string(), None);
        let e = run_blocking(&work).unwrap_err();
        assert_eq!(e.reason(), "BackupNotFound");
        assert!(!e.transient());
    }

    #[test]
    fn termination_messages_fit_and_round_trip() {
        let big = ExecError::failed(FailureReason::MigrationFailed, "x".repeat(20_000));
        let msg = termination_message(&Err(big));
        assert!(msg.len() <= TERMINATION_MESSAGE_LIMIT, "{}", msg.len());
        let back: WorkResult = serde_json::from_str(&msg).unwrap();
        assert!(matches!(back, WorkResult::Error(ExecError::Failed { .. })));

        let plan = PlanSummary {
            hash: "h".repeat(64),
            highest_applied: Some(3.into()),
            applied_total: 3,
            pending: (1..=10)
                .map(|v| PendingSummary {
                    version: v.into(),
                    name: "n".repeat(80),
                    destructive: vec!["d".repeat(120), "e".repeat(120)],
                })
                .collect(),
            pending_total: 500,
            destructive_total: 20,
            drift: (0..10).map(|_| "z".repeat(240)).collect(),
            drift_total: 42,
        };
        let outcome = Outcome::Planned { plan };
        let msg = termination_message(&Ok(serde_json::to_string(&outcome).unwrap()));
        assert!(msg.len() <= TERMINATION_MESSAGE_LIMIT, "{}", msg.len());
        let WorkResult::Outcome(Outcome::Planned { plan }) = serde_json::from_str(&msg).unwrap()
        else {
            panic!("{msg}")
        };
        assert_eq!((plan.pending_total, plan.drift_total), (500, 42), "totals survive");
        assert!(plan.drift.len() < 10);
    }

    #[test]
    fn work_command_writes_the_result_and_picks_the_exit_code() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("termination-log");
        assert_eq!(run_work_command("not json", &log), 2);
        let r: WorkResult = serde_json::from_slice(&std::fs::read(&log).unwrap()).unwrap();
        assert!(matches!(
            r,
            WorkResult::Error(ExecError::Failed { reason: FailureReason::Invalid, .. })
        ));

        let work = Work::Verify {
            store: StoreTarget {
                url: dir.path().join("store").display().to_string(),
                credentials: None,
            },
            backup_id: "nope".into(),
            tier: VerifyTier::Checksum,
            scratch_server_url: None,
            identities: None,
            queries: vec![],
            record: false,
        };
        assert_eq!(run_work_command(&serde_json::to_string(&work).unwrap(), &log), 1);
        let r: WorkResult = serde_json::from_slice(&std::fs::read(&log).unwrap()).unwrap();
        assert!(matches!(
            r,
            WorkResult::Error(ExecError::Failed { reason: FailureReason::BackupNotFound, .. })
        ));
        assert_eq!(run_work_command("{}", &dir.path().join("no/such/dir/log")), 2);
    }
}
