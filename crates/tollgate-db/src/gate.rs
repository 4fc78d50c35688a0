//! The database gates: the rule tables of `db migrate|plan|status` (gate `db`), `db backup`
//! (`db-backup`), `db retention` (`db-retention`) and `db verify` (`db-verify`), and the reports
//! the CLI renders. Retention deletes here, and only what the GFS selection names.

use crate::backup::{self, BackupInfo, BackupStatus};
use crate::migrate::{Migration, Outcome, Plan};
use crate::retention::{RetentionPolicy, select_for_deletion};
use crate::store::Store;
use time::OffsetDateTime;
use tollgate_core::{
    Digest, DigestAlgorithm, Finding, GateInput, GateReport, GateRules, Location, Rule, Severity,
};

/// Migration rules (`db migrate|plan|status`).
pub mod migration_rules {
    use tollgate_core::{Rule, Severity};

    /// An applied migration's file changed since it was applied.
    pub const DRIFT_CHECKSUM: Rule = Rule::new(
        "db/drift-checksum",
        Severity::Error,
        "an applied migration whose file was edited after it was applied",
    );
    /// An applied migration's file is gone.
    pub const DRIFT_MISSING: Rule =
        Rule::new("db/drift-missing", Severity::Error, "an applied migration whose file is gone");
    /// A pending migration below the highest applied version.
    pub const DRIFT_OUT_OF_ORDER: Rule = Rule::new(
        "db/drift-out-of-order",
        Severity::Error,
        "a pending migration older than the newest applied one",
    );
    /// A destructive statement (an error unless approved).
    pub const DESTRUCTIVE: Rule = Rule::new(
        "db/destructive",
        Severity::Error,
        "a destructive statement (DROP, TRUNCATE, ALTER … TYPE, DELETE without WHERE) or one that may be (DO blocks, non-SQL function bodies, unparseable SQL) not approved",
    );
    /// A migration not applied yet.
    pub const PENDING: Rule =
        Rule::new("db/pending", Severity::Info, "a migration not applied yet");
    /// The plan's hash, to approve it with.
    pub const PLAN_HASH: Rule =
        Rule::new("db/plan-hash", Severity::Info, "the plan's hash, which --approve names");
    /// A migration that is applied.
    pub const APPLIED: Rule =
        Rule::new("db/applied", Severity::Info, "a migration that is applied");
    /// Nothing to apply.
    pub const UP_TO_DATE: Rule =
        Rule::new("db/up-to-date", Severity::Info, "nothing to apply: the database is up to date");
    /// Another run held the migration lock for a while.
    pub const LOCK_WAIT: Rule = Rule::new(
        "db/lock-wait",
        Severity::Info,
        "the run waited for another run's migration lock",
    );
    /// `--approve` names another plan.
    pub const APPROVAL_MISMATCH: Rule = Rule::new(
        "db/approval-mismatch",
        Severity::Error,
        "--approve names a plan hash other than the plan's",
    );
}

/// Backup rule: a backup was written.
pub const BACKUP_CREATED: Rule =
    Rule::new("db-backup/created", Severity::Info, "a backup was written to the store");

/// Retention rules.
pub mod retention_rules {
    use tollgate_core::{Rule, Severity};

    /// A backup the policy keeps.
    pub const KEEP: Rule =
        Rule::new("db-retention/keep", Severity::Info, "a backup the policy keeps");
    /// A backup the policy would delete (dry run).
    pub const DELETE: Rule = Rule::new(
        "db-retention/delete",
        Severity::Info,
        "a backup the policy would delete (without --apply)",
    );
    /// A backup deleted by the policy.
    pub const DELETED: Rule =
        Rule::new("db-retention/deleted", Severity::Info, "a backup the policy deleted");
    /// A deletion that failed.
    pub const DELETE_FAILED: Rule = Rule::new(
        "db-retention/delete-failed",
        Severity::Error,
        "a backup the policy selected that could not be deleted",
    );
}

/// The rule tables of the database gates.
pub fn rules() -> Vec<GateRules> {
    use migration_rules::*;
    let verify = |name: &'static str, level, detects| Rule::new(name, level, detects);
    vec![
        GateRules::new(
            "db",
            "versioned SQL migrations: drift, destructive statements, what was applied",
            vec![
                DRIFT_CHECKSUM,
                DRIFT_MISSING,
                DRIFT_OUT_OF_ORDER,
                DESTRUCTIVE,
                PENDING,
                PLAN_HASH,
                APPLIED,
                UP_TO_DATE,
                LOCK_WAIT,
                APPROVAL_MISMATCH,
            ],
        ),
        GateRules::new("db-backup", "pg_dump backups into an object store", vec![BACKUP_CREATED]),
        GateRules::new(
            "db-retention",
            "GFS retention that never deletes the newest verified backup",
            vec![
                retention_rules::KEEP,
                retention_rules::DELETE,
                retention_rules::DELETED,
                retention_rules::DELETE_FAILED,
            ],
        ),
        GateRules::new(
            crate::restore::GATE,
            "backups verified by checksum, table of contents and test restore",
            vec![
                verify("db-verify/checksum", Severity::Info, "size and SHA-256 match the metadata"),
                verify(
                    "db-verify/checksum-mismatch",
                    Severity::Error,
                    "the stored archive differs from its metadata",
                ),
                verify("db-verify/toc", Severity::Info, "pg_restore reads the table of contents"),
                verify(
                    "db-verify/toc-unreadable",
                    Severity::Error,
                    "pg_restore cannot read the table of contents",
                ),
                verify("db-verify/restore", Severity::Info, "the test restore succeeded"),
                verify("db-verify/restore-failed", Severity::Error, "the test restore failed"),
                verify(
                    "db-verify/restore-skipped",
                    Severity::Error,
                    "no test restore: the archive failed an earlier tier",
                ),
                verify(
                    "db-verify/restore-no-server",
                    Severity::Error,
                    "the restore tier was asked for without a server",
                ),
                verify("db-verify/row-count", Severity::Info, "rows of a restored table"),
                verify("db-verify/query", Severity::Info, "a check query returned true"),
                verify(
                    "db-verify/query-failed",
                    Severity::Error,
                    "a check query failed or was false",
                ),
            ],
        ),
    ]
}

/// The migrations read, as report inputs.
fn migration_inputs(migrations: &[Migration]) -> Vec<GateInput> {
    migrations.iter().map(|m| GateInput::of(m.origin.clone(), m.sql.as_bytes())).collect()
}

/// A migration report (`gate` is `db plan`, `db status` or `db migrate`), failing on errors.
pub fn migration_report(
    gate: &str,
    migrations: &[Migration],
    findings: Vec<Finding>,
    started: String,
    duration_ms: u64,
) -> GateReport {
    GateReport::new(
        gate,
        migration_inputs(migrations),
        findings,
        Severity::Error,
        started,
        duration_ms,
    )
}

fn hash_finding(plan: &Plan) -> Finding {
    migration_rules::PLAN_HASH
        .finding(format!("plan {} ({} pending)", plan.hash, plan.pending.len()))
        .about("plan")
}

/// `db plan`: drift, destructive statements (errors unless `allowed`), pending, the hash.
pub fn plan_findings(plan: &Plan, allowed: bool) -> Vec<Finding> {
    let mut findings = plan.findings(allowed);
    findings.push(hash_finding(plan));
    findings
}

/// `db status`: drift, pending and applied migrations, the hash (destructive statements are
/// the plan's business).
pub fn status_findings(plan: &Plan) -> Vec<Finding> {
    let mut findings: Vec<Finding> = plan
        .findings(true)
        .into_iter()
        .filter(|f| f.rule != migration_rules::DESTRUCTIVE.id)
        .collect();
    for a in &plan.applied {
        findings.push(
            migration_rules::APPLIED
                .finding(format!(
                    "V{}__{} applied {} by {} in {} ms",
                    a.version, a.name, a.applied_at, a.applied_by, a.duration_ms
                ))
                .about(format!("V{}", a.version)),
        );
    }
    findings.push(hash_finding(plan));
    findings
}

/// `db migrate` that ran: approved destructive statements, what was applied, lock waits.
pub fn migrated_findings(outcome: &Outcome) -> Vec<Finding> {
    let mut findings: Vec<Finding> = outcome
        .plan
        .destructive()
        .map(|d| {
            migration_rules::DESTRUCTIVE
                .finding_at(Severity::Warning, format!("{} (approved): {}", d.kind, d.statement))
                .at(Location::file(d.origin.clone()).at_line(d.line))
                .about(format!("V{}", d.version))
        })
        .collect();
    for a in &outcome.applied {
        findings.push(
            migration_rules::APPLIED
                .finding(format!("V{}__{} applied in {} ms", a.version, a.name, a.duration_ms))
                .about(format!("V{}", a.version)),
        );
    }
    if outcome.applied.is_empty() {
        findings.push(
            migration_rules::UP_TO_DATE.finding("nothing to apply: up to date").about("database"),
        );
    }
    if outcome.lock_contended {
        findings.push(
            migration_rules::LOCK_WAIT
                .finding(format!(
                    "waited {} ms for another run's migration lock",
                    outcome.lock_wait_ms
                ))
                .about("database"),
        );
    }
    findings
}

/// `db migrate` refused for destructive statements or an approval of another plan: the plan
/// as unapproved findings, the mismatch (`given`, `actual`) if any, the hash.
pub fn refused_findings(plan: &Plan, mismatch: Option<(&str, &str)>) -> Vec<Finding> {
    let mut findings = plan.findings(false);
    if let Some((given, actual)) = mismatch {
        findings.push(
            migration_rules::APPROVAL_MISMATCH
                .finding(format!("--approve {given} does not match the plan {actual}"))
                .about("plan"),
        );
    }
    findings.push(hash_finding(plan));
    findings
}

/// A stored backup as a report input: its URL in the store and its SHA-256.
pub(crate) fn backup_input(store: &Store, info: &BackupInfo) -> GateInput {
    GateInput {
        name: format!("{}/{}", store.url().trim_end_matches('/'), info.key),
        digest: Digest { algorithm: DigestAlgorithm::Sha256, hex: info.sha256.clone() },
    }
}

/// The `db-backup` report of a backup just written.
pub fn backup_report(
    store: &Store,
    info: &BackupInfo,
    started: String,
    duration_ms: u64,
) -> GateReport {
    let finding = BACKUP_CREATED
        .finding(format!(
            "backup {} of {}: {} bytes at {} (sha256 {}, schema version {}, pg_dump {}, server {}{})",
            info.id,
            info.database,
            info.size,
            info.key,
            info.sha256,
            info.schema_version.as_deref().unwrap_or("none"),
            info.pg_dump_version,
            info.server_version,
            if info.encrypted() {
                format!(", encrypted to {}", info.recipients.join(", "))
            } else {
                String::new()
            },
        ))
        .about(info.id.clone());
    GateReport::new(
        "db-backup",
        vec![backup_input(store, info)],
        vec![finding],
        Severity::Error,
        started,
        duration_ms,
    )
}

/// `db retention`: the GFS selection over the store's complete backups at `now`; with
/// `apply`, the backups it selects are deleted (only complete ones, and staging files of
/// interrupted uploads past the grace period). Returns the
/// `db-retention` report; a failed deletion is an error finding.
pub fn retention(
    store: &Store,
    policy: &RetentionPolicy,
    now: OffsetDateTime,
    apply: bool,
    duration_since: std::time::Instant,
) -> Result<GateReport, crate::backup::BackupError> {
    use retention_rules::*;
    let backups = backup::list(store)?;
    let decisions = select_for_deletion(&backups, policy, now);
    let mut findings = Vec::new();
    let mut failed = Vec::new();
    for d in &decisions {
        let info = backups.iter().find(|b| b.id == d.id && b.database == d.database);
        let (rule, verb) = match (d.keep, apply) {
            (true, _) => (KEEP, "keep"),
            (false, false) => (DELETE, "would delete"),
            (false, true) => (DELETED, "deleted"),
        };
        if !d.keep && apply {
            let Some(info) = info else { continue };
            // Never on a guess: only complete backups and stale staging files the selection
            // names.
            if info.status == BackupStatus::Incomplete {
                continue;
            }
            if let Err(e) = backup::delete(store, info) {
                failed.push(
                    DELETE_FAILED
                        .finding(format!("{}/{}: cannot delete: {e}", d.database, d.id))
                        .about(format!("{}/{}", d.database, d.id)),
                );
                continue;
            }
        }
        findings.push(
            rule.finding(format!("{verb} {}/{}: {}", d.database, d.id, d.reasons.join("; ")))
                .about(format!("{}/{}", d.database, d.id)),
        );
    }
    findings.extend(failed);
    let inputs = backups
        .iter()
        .filter(|b| b.status == BackupStatus::Complete)
        .map(|b| backup_input(store, b))
        .collect();
    Ok(GateReport::new(
        "db-retention",
        inputs,
        findings,
        Severity::Error,
        tollgate_core::time_source::rfc3339(now),
        duration_since.elapsed().as_millis() as u64,
    ))
}
