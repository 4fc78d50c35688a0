//! The SchemaMigration controller.
//!
//! Reconcile: read the database URL (Secret) and the migrations (ConfigMap through the API, or a
//! git repository at a pinned commit on the worker's disk), plan through the executor
//! (`Work::Plan`, reads only), decide with [`decide`] (pure), then either stop (`Stalled` with a
//! reason and an event: drift, missing approval), take the pre-migration backup (a `Backup`
//! object of O3's kind, waited on until it succeeded and, when its policy verifies, passed
//! verification), or apply (`Work::Migrate`). Status by server-side apply, only when changed.
//!
//! The approval is by plan hash: `spec.approvedPlanHash` must equal the plan's hash when the plan
//! is destructive (and `allowDestructive` is off) or when `requireApproval` is set. The hash is
//! also handed to `tollgate-db`, which recomputes the plan under the advisory lock and refuses
//! if it changed in between — an approval never covers a plan nobody saw.
//!
//! No finalizer: deleting a SchemaMigration must not touch the database, and the pre-migration
//! Backup objects are not owned (no ownerReference) so deleting the migration never garbage-
//! collects a backup; they are found again by the label [`MIGRATION_LABEL`].
//!
//! What wakes a migration is listed on [`run`]; every reconcile starts from the object as the API
//! server has it (one GET), not from the watch cache's copy, see [`reconcile`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};

use crate::conditions::{self, Summary};
use crate::context::Context;
use crate::controllers::backup::secret_value;
use crate::controllers::update_status;
use crate::crd::backup::{Backup, BackupPhase, BackupPolicy, BackupSpec};
use crate::crd::migration::{
    MAX_LISTED, SchemaMigration, SchemaMigrationSpec, SchemaMigrationStatus,
};
use crate::executor::limits::WorkClass;
use crate::executor::{ExecError, MigrationSource, Outcome, PlanSummary, SecretString, Work};

/// The controller's name: metric label and field-manager suffix.
pub const CONTROLLER: &str = "migration";
/// Label on pre-migration Backups naming their SchemaMigration.
pub const MIGRATION_LABEL: &str = "tollgate.dev/schema-migration";
/// Label on pre-migration Backups holding the (shortened) plan hash they were taken for.
pub const PLAN_LABEL: &str = "tollgate.dev/plan-hash";
/// How often an up-to-date or stalled migration is planned again. A change to its ConfigMap
/// wakes it at once (see [`run`]); this periodic re-plan remains because the database (another
/// tool applying or editing migrations, a restore) and a git source's reachability change
/// without any event reaching this controller.
const RECHECK: Duration = Duration::from_secs(300);
/// Retry delay after a transient failure (database or executor unreachable, lock held).
const RETRY: Duration = Duration::from_secs(30);
/// Poll delay while waiting for a pre-migration backup (its status changes also wake us).
const BACKUP_POLL: Duration = Duration::from_secs(15);

pub use crate::controllers::Error;

/// Where the pre-migration backup of the current plan stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreBackup {
    /// The spec asks for none.
    NotConfigured,
    /// Not created yet.
    Missing,
    /// Created, not finished (or finished, waiting for its verification).
    InProgress,
    /// Succeeded (and verified, when its policy verifies).
    Done,
    /// Failed, or failed verification: the message says why.
    Failed(String),
}

/// What to do about a plan (the pure part of the reconcile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing pending.
    UpToDate,
    /// Stop until a human acts: `reason` is a condition reason.
    Stall {
        /// `CamelCase` reason.
        reason: &'static str,
        /// What is wrong and what to do.
        message: String,
    },
    /// Create the pre-migration Backup.
    CreateBackup,
    /// Wait for the pre-migration Backup.
    WaitForBackup,
    /// Apply the plan; `approve` is handed to `tollgate-db` (which re-checks it).
    Migrate {
        /// The approved plan hash, when approval was required.
        approve: Option<String>,
    },
}

/// Whether the plan needs `approvedPlanHash`.
pub fn approval_required(spec: &SchemaMigrationSpec, plan: &PlanSummary) -> bool {
    spec.require_approval || (plan.destructive_total > 0 && !spec.allow_destructive)
}

/// Decides what to do about `plan` (pure). Order: drift stops everything; nothing pending is
/// done; a required approval must name this plan; then the pre-migration backup; then apply.
pub fn decide(spec: &SchemaMigrationSpec, plan: &PlanSummary, backup: &PreBackup) -> Decision {
    if plan.drift_total > 0 {
        return Decision::Stall {
            reason: "MigrationDrift",
            message: format!(
                "{} drift(s) between the history table and the source; nothing applied: {}",
                plan.drift_total,
                plan.drift.join("; ")
            ),
        };
    }
    if plan.pending_total == 0 {
        return Decision::UpToDate;
    }
    let mut approve = None;
    if approval_required(spec, plan) {
        let why = if plan.destructive_total > 0 && !spec.allow_destructive {
            format!("the plan has {} destructive statement(s)", plan.destructive_total)
        } else {
            "spec.requireApproval is set".to_owned()
        };
        match spec.approved_plan_hash.as_deref() {
            None => {
                return Decision::Stall {
                    reason: "ApprovalRequired",
                    message: format!(
                        "{why}; review it and set spec.approvedPlanHash: {}",
                        plan.hash
                    ),
                };
            }
            Some(given) if given != plan.hash => {
                return Decision::Stall {
                    reason: "ApprovalMismatch",
                    message: format!(
                        "{why}; spec.approvedPlanHash {given} approves another plan, this one is {}",
                        plan.hash
                    ),
                };
            }
            Some(given) => approve = Some(given.to_owned()),
        }
    }
    match backup {
        PreBackup::NotConfigured | PreBackup::Done => Decision::Migrate { approve },
        PreBackup::Missing => Decision::CreateBackup,
        PreBackup::InProgress => Decision::WaitForBackup,
        PreBackup::Failed(m) => Decision::Stall {
            reason: "PreMigrationBackupFailed",
            message: format!("{m}; nothing applied (delete the Backup to take a new one)"),
        },
    }
}

/// Where a Backup stands, for a policy that verifies (`verifies`) or not.
pub fn pre_backup_state(backup: Option<&Backup>, verifies: bool) -> PreBackup {
    let Some(b) = backup else { return PreBackup::Missing };
    let name = b.name_any();
    let Some(status) = &b.status else { return PreBackup::InProgress };
    match status.phase {
        BackupPhase::Pending | BackupPhase::Running => PreBackup::InProgress,
        BackupPhase::Failed => PreBackup::Failed(format!(
            "pre-migration Backup {name} failed: {}",
            status.message.as_deref().unwrap_or("no message")
        )),
        BackupPhase::Succeeded if !verifies => PreBackup::Done,
        BackupPhase::Succeeded => match &status.verification {
            None => PreBackup::InProgress,
            Some(v) if v.passed => PreBackup::Done,
            Some(v) => PreBackup::Failed(format!(
                "pre-migration Backup {name} failed verification ({}): {}",
                v.tier.as_str(),
                v.problems.join("; ")
            )),
        },
    }
}

/// The deterministic name of the pre-migration Backup of `migration` for plan `hash`.
pub fn backup_name(migration: &str, hash: &str) -> String {
    let suffix = format!("-pre-{}", &hash[..hash.len().min(12)]);
    let mut base: String = migration.chars().take(253 - suffix.len()).collect();
    while base.ends_with(['-', '.']) {
        base.pop();
    }
    format!("{base}{suffix}")
}

/// Fills the plan fields of a status from a plan summary.
pub fn record_plan(status: &mut SchemaMigrationStatus, plan: &PlanSummary) {
    status.plan_hash = (plan.pending_total > 0).then(|| plan.hash.clone());
    status.applied_version = plan.highest_applied.as_ref().map(ToString::to_string);
    status.pending_versions =
        plan.pending.iter().take(MAX_LISTED).map(|p| p.version.to_string()).collect();
    status.pending_total = u32::try_from(plan.pending_total).unwrap_or(u32::MAX);
    status.destructive_statements = plan
        .pending
        .iter()
        .flat_map(|p| p.destructive.iter().map(move |d| format!("V{}: {d}", p.version)))
        .take(MAX_LISTED)
        .collect();
    status.drift = plan.drift.iter().take(MAX_LISTED).cloned().collect();
}

/// The status for a decision (pure): conditions Ready/Reconciling/Stalled, Approved and
/// DestructiveChangeDetected, and the plan fields.
pub fn status_for_decision(
    old: Option<&SchemaMigrationStatus>,
    spec: &SchemaMigrationSpec,
    generation: Option<i64>,
    plan: &PlanSummary,
    decision: &Decision,
    now: jiff::Timestamp,
) -> SchemaMigrationStatus {
    let mut s = old.cloned().unwrap_or_default();
    conditions::normalise(&mut s.conditions);
    s.observed_generation = generation;
    record_plan(&mut s, plan);
    let c = &mut s.conditions;
    let destructive = plan.destructive_total > 0;
    conditions::set(
        c,
        conditions::DESTRUCTIVE_CHANGE_DETECTED,
        destructive,
        if destructive { "DestructiveStatements" } else { "NoDestructiveStatements" },
        &if destructive {
            format!("{} destructive statement(s) pending", plan.destructive_total)
        } else {
            String::new()
        },
        generation,
        now,
    );
    if plan.pending_total == 0 || plan.drift_total > 0 {
        // Approval is about a pending plan; with none (or with drift) there is nothing to approve.
        conditions::remove(c, conditions::APPROVED);
    } else {
        let (ok, reason, message) = if !approval_required(spec, plan) {
            (true, "NotRequired", String::new())
        } else if spec.approved_plan_hash.as_deref() == Some(plan.hash.as_str()) {
            (true, "PlanApproved", format!("plan {} approved", plan.hash))
        } else if spec.approved_plan_hash.is_some() {
            (false, "ApprovalMismatch", format!("set spec.approvedPlanHash: {}", plan.hash))
        } else {
            (false, "ApprovalRequired", format!("set spec.approvedPlanHash: {}", plan.hash))
        };
        conditions::set(c, conditions::APPROVED, ok, reason, &message, generation, now);
    }
    match decision {
        Decision::UpToDate => {
            let at = plan
                .highest_applied
                .as_ref()
                .map_or("no migrations".to_owned(), |v| format!("at version {v}"));
            conditions::set_summary(c, Summary::Ready, "UpToDate", &at, generation, now);
        }
        Decision::Stall { reason, message } => {
            conditions::set_summary(c, Summary::Stalled, reason, message, generation, now);
        }
        Decision::CreateBackup | Decision::WaitForBackup => {
            let name = s.pre_migration_backup.clone().unwrap_or_default();
            conditions::set(
                &mut s.conditions,
                conditions::BACKUP_COMPLETED,
                false,
                "BackupInProgress",
                &format!("waiting for pre-migration Backup {name}"),
                generation,
                now,
            );
            conditions::set_summary(
                &mut s.conditions,
                Summary::Reconciling,
                "WaitingForBackup",
                &format!("waiting for pre-migration Backup {name}"),
                generation,
                now,
            );
        }
        Decision::Migrate { .. } => {
            if spec.pre_migration_backup.is_some() {
                let name = s.pre_migration_backup.clone().unwrap_or_default();
                conditions::set(
                    &mut s.conditions,
                    conditions::BACKUP_COMPLETED,
                    true,
                    "BackupSucceeded",
                    &format!("pre-migration Backup {name} succeeded"),
                    generation,
                    now,
                );
            }
            conditions::set_summary(
                &mut s.conditions,
                Summary::Reconciling,
                "Migrating",
                &format!("applying {} migration(s)", plan.pending_total),
                generation,
                now,
            );
        }
    }
    s
}

/// The status after an executor run of `Work::Migrate` (pure).
pub fn status_after_migrate(
    mut s: SchemaMigrationStatus,
    generation: Option<i64>,
    result: &Result<Outcome, ExecError>,
    now: jiff::Timestamp,
) -> SchemaMigrationStatus {
    match result {
        Ok(Outcome::Migrated { plan, applied, .. }) => {
            let last = applied.iter().map(|a| &a.version).max();
            s.applied_version = last.max(plan.highest_applied.as_ref()).map(ToString::to_string);
            s.last_applied_versions =
                applied.iter().map(|a| a.version.to_string()).take(MAX_LISTED).collect();
            if !applied.is_empty() {
                s.last_applied_time = Some(Time(now));
            }
            s.pending_versions.clear();
            s.pending_total = 0;
            s.plan_hash = None;
            s.destructive_statements.clear();
            let message = format!(
                "applied {} migration(s); at version {}",
                plan.pending_total,
                s.applied_version.as_deref().unwrap_or("none")
            );
            conditions::set(
                &mut s.conditions,
                conditions::DESTRUCTIVE_CHANGE_DETECTED,
                false,
                "NoDestructiveStatements",
                "",
                generation,
                now,
            );
            conditions::set_summary(
                &mut s.conditions,
                Summary::Ready,
                "Migrated",
                &message,
                generation,
                now,
            );
        }
        Ok(other) => {
            let message = format!("the executor answered a migration with {other:?}");
            conditions::set_summary(
                &mut s.conditions,
                Summary::Stalled,
                "UnexpectedOutcome",
                &message,
                generation,
                now,
            );
        }
        Err(e) if e.transient() => {
            conditions::set_summary(
                &mut s.conditions,
                Summary::Reconciling,
                e.reason(),
                &e.to_string(),
                generation,
                now,
            );
        }
        Err(e) => {
            conditions::set_summary(
                &mut s.conditions,
                Summary::Stalled,
                e.reason(),
                &e.to_string(),
                generation,
                now,
            );
        }
    }
    s
}

fn stall_status(
    old: Option<&SchemaMigrationStatus>,
    generation: Option<i64>,
    summary: Summary,
    reason: &str,
    message: &str,
    now: jiff::Timestamp,
) -> SchemaMigrationStatus {
    let mut s = old.cloned().unwrap_or_default();
    conditions::normalise(&mut s.conditions);
    s.observed_generation = generation;
    conditions::set_summary(&mut s.conditions, summary, reason, message, generation, now);
    s
}

async fn read_source(
    client: &Client,
    namespace: &str,
    spec: &SchemaMigrationSpec,
) -> Result<MigrationSource, String> {
    if let Some(cm) = &spec.source.config_map {
        let map = Api::<ConfigMap>::namespaced(client.clone(), namespace)
            .get_opt(&cm.name)
            .await
            .map_err(|e| format!("reading ConfigMap {namespace}/{}: {e}", cm.name))?
            .ok_or_else(|| format!("ConfigMap {namespace}/{} not found", cm.name))?;
        return Ok(MigrationSource::Files {
            origin: format!("configmap/{namespace}/{}", cm.name),
            files: map.data.unwrap_or_default(),
        });
    }
    if let Some(git) = &spec.source.git {
        return Ok(MigrationSource::Git {
            repository: git.repository.clone(),
            commit: git.commit.clone(),
            subdir: git.path.clone(),
        });
    }
    Err("/spec/source: set exactly one of configMap and git".to_owned())
}

/// Reconciles one SchemaMigration.
///
/// `obj` only names the migration: the reconcile reads it again from the API server first and
/// works from that copy (spec, generation and status), so a stale `obj` never rolls the status
/// back. A migration deleted in the meantime is left alone.
pub async fn reconcile(obj: Arc<SchemaMigration>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.metrics.reconcile(CONTROLLER);
    let name = obj.name_any();
    let namespace =
        obj.namespace().ok_or_else(|| Error::NoNamespace(format!("SchemaMigration {name}")))?;
    let api: Api<SchemaMigration> = Api::namespaced(ctx.client.clone(), &namespace);
    // Why not `obj` as given: it comes from the controller's watch cache, which may not have seen
    // this controller's own last status write yet. After `Work::Migrate` wrote
    // `lastAppliedVersions`, the requeue one second later (or the reconcile triggered by that
    // write's own watch event) can receive the copy from before the write; the status below is
    // built on the old one and force-applied whole, so starting from the stale copy would clear
    // `lastAppliedVersions`/`lastAppliedTime` (and could roll back any other field). One GET
    // beside the Secret/ConfigMap GETs and the database plan this reconcile makes anyway. The
    // main resource, not `/status`: same object, and the RBAC grants `get` on the main resource
    // only (`/status` is `patch`-only).
    let obj = match api.get(&name).await {
        Ok(fresh) => Arc::new(fresh),
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(Action::await_change()),
        Err(e) => return Err(e.into()),
    };
    let generation = obj.metadata.generation;
    let old = obj.status.as_ref();
    let spec = &obj.spec;

    // Writes `new` if it changed and publishes events for the transitions.
    let write = |new: SchemaMigrationStatus, before: Option<SchemaMigrationStatus>| {
        let obj = obj.clone();
        let client = ctx.client.clone();
        async move {
            update_status(&client, obj.as_ref(), CONTROLLER, before.as_ref(), &new).await?;
            Ok::<SchemaMigrationStatus, Error>(new)
        }
    };
    // Stops here with `summary` (Stalled or Reconciling) and a reason; looks again after `after`.
    let stop = |summary: Summary, reason: &str, message: &str, after: Duration| {
        let status = stall_status(old, generation, summary, reason, message, ctx.clock.now());
        let write = write(status, old.cloned());
        async move { write.await.map(|_| Action::requeue(after)) }
    };

    let url = match secret_value(&ctx.client, &namespace, &spec.database_secret_ref).await {
        Ok(u) => u,
        Err(m) => return stop(Summary::Stalled, "DatabaseSecretUnavailable", &m, RETRY).await,
    };
    let source = match read_source(&ctx.client, &namespace, spec).await {
        Ok(s) => s,
        Err(m) => return stop(Summary::Stalled, "MigrationSourceUnavailable", &m, RETRY).await,
    };

    let planned = ctx
        .executor
        .run(Work::Plan { database_url: SecretString::new(url.clone()), source: source.clone() })
        .await;
    let plan = match planned {
        Ok(Outcome::Planned { plan }) => plan,
        Ok(other) => {
            let m = format!("the executor answered a plan with {other:?}");
            return stop(Summary::Stalled, "UnexpectedOutcome", &m, RECHECK).await;
        }
        Err(e) => {
            let summary = if e.transient() { Summary::Reconciling } else { Summary::Stalled };
            let after = if e.transient() { RETRY } else { RECHECK };
            return stop(summary, e.reason(), &e.to_string(), after).await;
        }
    };

    // The pre-migration backup of this plan, if one is asked for.
    let mut backup_ref = None;
    let backup_state = match &spec.pre_migration_backup {
        None => PreBackup::NotConfigured,
        Some(_) if plan.pending_total == 0 || plan.drift_total > 0 => PreBackup::NotConfigured,
        Some(pre) => {
            let policies: Api<BackupPolicy> = Api::namespaced(ctx.client.clone(), &namespace);
            match policies.get_opt(&pre.backup_policy_ref).await? {
                None => PreBackup::Failed(format!(
                    "BackupPolicy {namespace}/{} not found",
                    pre.backup_policy_ref
                )),
                Some(policy) => {
                    let bname = backup_name(&name, &plan.hash);
                    let backups: Api<Backup> = Api::namespaced(ctx.client.clone(), &namespace);
                    let existing = backups.get_opt(&bname).await?;
                    backup_ref = Some((bname, pre.backup_policy_ref.clone()));
                    pre_backup_state(existing.as_ref(), policy.spec.verification.is_some())
                }
            }
        }
    };
    let decision = decide(spec, &plan, &backup_state);
    let now = ctx.clock.now();
    let mut base = old.cloned();
    if let Some((bname, _)) = &backup_ref {
        base.get_or_insert_with(Default::default).pre_migration_backup = Some(bname.clone());
    }
    let next = status_for_decision(base.as_ref(), spec, generation, &plan, &decision, now);

    match decision {
        Decision::UpToDate | Decision::Stall { .. } => {
            write(next, old.cloned()).await?;
            Ok(Action::requeue(RECHECK))
        }
        Decision::CreateBackup => {
            let (bname, policy) = backup_ref.unwrap_or_default();
            let backup = Backup {
                metadata: ObjectMeta {
                    name: Some(bname.clone()),
                    namespace: Some(namespace.clone()),
                    labels: Some(
                        [
                            (MIGRATION_LABEL.to_owned(), label_value(&name)),
                            (
                                PLAN_LABEL.to_owned(),
                                plan.hash[..plan.hash.len().min(12)].to_owned(),
                            ),
                        ]
                        .into(),
                    ),
                    ..Default::default()
                },
                spec: BackupSpec { policy_ref: policy, scheduled_time: None },
                status: None,
            };
            match Api::<Backup>::namespaced(ctx.client.clone(), &namespace)
                .create(&PostParams::default(), &backup)
                .await
            {
                Ok(_) => {}
                // Created by an earlier reconcile whose status write was lost: adopt it.
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => return Err(e.into()),
            }
            write(next, old.cloned()).await?;
            Ok(Action::requeue(BACKUP_POLL))
        }
        Decision::WaitForBackup => {
            write(next, old.cloned()).await?;
            Ok(Action::requeue(BACKUP_POLL))
        }
        Decision::Migrate { approve } => {
            let before = write(next, old.cloned()).await?;
            let work = Work::Migrate {
                database_url: SecretString::new(url),
                source,
                lock_timeout_secs: obj.lock_timeout_seconds(),
                statement_timeout_secs: obj.statement_timeout_seconds(),
                allow_destructive: spec.allow_destructive,
                approve,
                applied_by: Some(format!("tollgate-operator schemamigration/{namespace}/{name}")),
            };
            // At most `--max-concurrent-migrations` run at once; the rest wait here, shown as
            // Reconciling/Queued with their position (taken when they join the queue).
            let mut ticket = ctx.limits.enter(WorkClass::Migration);
            let (_slot, before) = match ticket.admit().now_or_never() {
                Some(slot) => (slot, before),
                None => {
                    let position = ticket
                        .position()
                        .map(|p| p.describe(WorkClass::Migration))
                        .unwrap_or_default();
                    let mut queued = before.clone();
                    conditions::set(
                        &mut queued.conditions,
                        conditions::RECONCILING,
                        true,
                        "Queued",
                        &format!("waiting for a work slot: {position}"),
                        generation,
                        ctx.clock.now(),
                    );
                    let queued = write(queued, Some(before)).await?;
                    (ticket.admit().await, queued)
                }
            };
            let result = ctx.executor.run(work).await;
            if let Err(e) = &result {
                tracing::warn!(%namespace, %name, error = %e, "migration did not apply");
            }
            let transient = matches!(&result, Err(e) if e.transient());
            let after = status_after_migrate(before.clone(), generation, &result, ctx.clock.now());
            write(after, Some(before)).await?;
            Ok(match result {
                Ok(_) => Action::requeue(Duration::from_secs(1)),
                Err(_) if transient => Action::requeue(RETRY),
                Err(_) => Action::requeue(RECHECK),
            })
        }
    }
}

/// A label value from a name: at most 63 characters, ending alphanumeric.
fn label_value(name: &str) -> String {
    let mut v: String = name.chars().take(63).collect();
    while v.ends_with(['-', '.', '_']) {
        v.pop();
    }
    v
}

/// Counts the error and requeues the object after its per-object backoff delay
/// ([`crate::backoff`]: 5 s doubling to 5 min with jitter; reset by a successful reconcile).
pub fn error_policy(obj: Arc<SchemaMigration>, error: &Error, ctx: Arc<Context>) -> Action {
    crate::controllers::backoff_on_error(CONTROLLER, obj.as_ref(), error, &ctx)
}

/// The SchemaMigrations among `migrations` that read their migrations from ConfigMap
/// `namespace/config_map` (`spec.source.configMap.name`, same namespace), in `migrations` order.
pub fn migrations_using(
    migrations: &[Arc<SchemaMigration>],
    namespace: &str,
    config_map: &str,
) -> Vec<ObjectRef<SchemaMigration>> {
    migrations
        .iter()
        .filter(|m| m.metadata.namespace.as_deref() == Some(namespace))
        .filter(|m| m.spec.source.config_map.as_ref().is_some_and(|c| c.name == config_map))
        .map(|m| ObjectRef::from_obj(m.as_ref()))
        .collect()
}

/// Runs the controller until `shutdown` resolves.
///
/// A SchemaMigration is reconciled when
/// - it changes (spec, metadata or status);
/// - one of its pre-migration Backups changes (found through [`MIGRATION_LABEL`]);
/// - the ConfigMap its `spec.source.configMap.name` names in its namespace is created, changed
///   or deleted. That watch is metadata-only (`PartialObjectMeta<ConfigMap>`: the API server
///   sends names, labels and resourceVersions, never `data`), so the operator does not hold the
///   migration SQL of every ConfigMap of the cluster; the reconcile GETs its one ConfigMap. The
///   ConfigMap is mapped to migrations through this controller's own SchemaMigration cache;
/// - [`reconcile`] asked for it: `RECHECK` (5 min) after an up-to-date or stalled plan (the
///   database can change without an event), `RETRY` after a transient failure, one second after a
///   migration was applied, `BACKUP_POLL` while a pre-migration backup runs.
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let controller =
        Controller::new(ctx.api::<SchemaMigration>(), watcher::Config::default().any_semantic());
    // Taken before the watch is added: the mapper reads the cache the controller fills.
    let migrations = controller.store();
    // `watcher` over `Api<PartialObjectMeta<_>>` is kube's metadata-only watch: list and watch
    // go out with `Accept: application/json;as=PartialObjectMetadata[List];g=meta.k8s.io;v=v1`
    // (what the deprecated `kube::runtime::metadata_watcher` does).
    let config_maps = watcher(
        ctx.api::<PartialObjectMeta<ConfigMap>>(),
        watcher::Config::default().any_semantic(),
    )
    .touched_objects();
    controller
        .watches(
            ctx.api::<Backup>(),
            watcher::Config::default().labels(MIGRATION_LABEL).any_semantic(),
            |b: Backup| {
                let ns = b.namespace()?;
                let name = b.labels().get(MIGRATION_LABEL)?.clone();
                Some(ObjectRef::<SchemaMigration>::new(&name).within(&ns))
            },
        )
        .watches_stream(config_maps, move |cm: PartialObjectMeta<ConfigMap>| {
            let namespace = cm.namespace().unwrap_or_default();
            migrations_using(&migrations.state(), &namespace, &cm.name_any())
        })
        .graceful_shutdown_on(shutdown)
        .run(
            |obj, ctx| crate::controllers::reconcile_with_backoff(CONTROLLER, obj, ctx, reconcile),
            error_policy,
            ctx,
        )
        .for_each(|result| {
            if let Err(e) = result {
                tracing::debug!(error = %e, "migration controller");
            }
            futures::future::ready(())
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::backup::{BackupStatus, VerificationStatus};
    use crate::crd::migration::{
        ConfigMapSource, MigrationSourceSpec, PreMigrationBackup, SecretKeyRef,
    };
    use crate::executor::{AppliedSummary, FailureReason, PendingSummary, VerifyTier};

    const HASH: &str = "aaaaaaaaaaaabbbbbbbbbbbbccccccccccccddddddddddddeeeeeeeeeeeeffff";
    const OTHER: &str = "1111111111112222222222223333333333334444444444445555555555556666";

    fn t(secs: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(secs).expect("valid timestamp")
    }

    fn spec() -> SchemaMigrationSpec {
        SchemaMigrationSpec {
            database_secret_ref: SecretKeyRef { name: "db".into(), key: "url".into() },
            source: MigrationSourceSpec {
                config_map: Some(ConfigMapSource { name: "sql".into() }),
                git: None,
            },
            lock_timeout_seconds: None,
            statement_timeout_seconds: None,
            allow_destructive: false,
            require_approval: false,
            approved_plan_hash: None,
            pre_migration_backup: None,
        }
    }

    /// A plan with `pending` migrations after version 2, `destructive` of them destructive.
    fn plan(pending: u64, destructive: usize) -> PlanSummary {
        PlanSummary {
            hash: HASH.into(),
            highest_applied: Some(2.into()),
            applied_total: 2,
            pending: (3..3 + pending)
                .map(|v| PendingSummary {
                    version: v.into(),
                    name: format!("m{v}"),
                    destructive: if (v - 3) < destructive as u64 {
                        vec!["DROP TABLE: DROP TABLE old".into()]
                    } else {
                        vec![]
                    },
                })
                .collect(),
            pending_total: pending as usize,
            destructive_total: destructive,
            drift: vec![],
            drift_total: 0,
        }
    }

    fn drifted() -> PlanSummary {
        PlanSummary {
            drift: vec!["V1 was edited after it was applied".into()],
            drift_total: 1,
            ..plan(1, 0)
        }
    }

    #[test]
    fn drift_stops_before_anything_else() {
        let mut s = spec();
        s.allow_destructive = true;
        s.approved_plan_hash = Some(HASH.into());
        match decide(&s, &drifted(), &PreBackup::Done) {
            Decision::Stall { reason, message } => {
                assert_eq!(reason, "MigrationDrift");
                assert!(message.contains("V1 was edited"), "{message}");
            }
            d => panic!("expected a stall, got {d:?}"),
        }
    }

    #[test]
    fn nothing_pending_is_up_to_date() {
        assert_eq!(decide(&spec(), &plan(0, 0), &PreBackup::Missing), Decision::UpToDate);
    }

    #[test]
    fn safe_plans_apply_without_approval() {
        assert_eq!(
            decide(&spec(), &plan(2, 0), &PreBackup::NotConfigured),
            Decision::Migrate { approve: None }
        );
    }

    #[test]
    fn destructive_plans_need_the_hash_of_this_plan() {
        let p = plan(2, 1);
        let d = decide(&spec(), &p, &PreBackup::NotConfigured);
        assert!(
            matches!(&d, Decision::Stall { reason: "ApprovalRequired", message } if message.contains(HASH)),
            "{d:?}"
        );
        let mut s = spec();
        s.approved_plan_hash = Some(OTHER.into());
        let d = decide(&s, &p, &PreBackup::NotConfigured);
        assert!(matches!(&d, Decision::Stall { reason: "ApprovalMismatch", .. }), "{d:?}");
        s.approved_plan_hash = Some(HASH.into());
        assert_eq!(
            decide(&s, &p, &PreBackup::NotConfigured),
            Decision::Migrate { approve: Some(HASH.into()) }
        );
    }

    #[test]
    fn allow_destructive_skips_approval_unless_approval_is_required() {
        let mut s = spec();
        s.allow_destructive = true;
        assert_eq!(
            decide(&s, &plan(1, 1), &PreBackup::NotConfigured),
            Decision::Migrate { approve: None }
        );
        s.require_approval = true;
        assert!(matches!(
            decide(&s, &plan(1, 1), &PreBackup::NotConfigured),
            Decision::Stall { reason: "ApprovalRequired", .. }
        ));
        assert!(matches!(
            decide(&s, &plan(1, 0), &PreBackup::NotConfigured),
            Decision::Stall { reason: "ApprovalRequired", .. }
        ));
    }

    #[test]
    fn a_stale_approval_of_a_safe_plan_is_not_passed_on() {
        // A hash left over from an earlier plan must not make tollgate-db refuse a safe plan.
        let mut s = spec();
        s.approved_plan_hash = Some(OTHER.into());
        assert_eq!(
            decide(&s, &plan(1, 0), &PreBackup::NotConfigured),
            Decision::Migrate { approve: None }
        );
    }

    #[test]
    fn the_backup_comes_after_approval_and_before_migrating() {
        let mut s = spec();
        s.pre_migration_backup = Some(PreMigrationBackup { backup_policy_ref: "nightly".into() });
        // Approval first: no backup is taken for a plan nobody approved.
        assert!(matches!(
            decide(&s, &plan(1, 1), &PreBackup::Missing),
            Decision::Stall { reason: "ApprovalRequired", .. }
        ));
        assert_eq!(decide(&s, &plan(1, 0), &PreBackup::Missing), Decision::CreateBackup);
        assert_eq!(decide(&s, &plan(1, 0), &PreBackup::InProgress), Decision::WaitForBackup);
        assert_eq!(decide(&s, &plan(1, 0), &PreBackup::Done), Decision::Migrate { approve: None });
        assert!(matches!(
            decide(&s, &plan(1, 0), &PreBackup::Failed("x".into())),
            Decision::Stall { reason: "PreMigrationBackupFailed", .. }
        ));
    }

    fn backup(phase: BackupPhase, verification: Option<bool>) -> Backup {
        let mut b = Backup::new(
            "app-pre-aaaaaaaaaaaa",
            BackupSpec { policy_ref: "nightly".into(), scheduled_time: None },
        );
        b.status = Some(BackupStatus {
            phase,
            message: Some("pg_dump exited 1".into()),
            verification: verification.map(|passed| VerificationStatus {
                tier: VerifyTier::Checksum,
                passed,
                time: None,
                problems: if passed { vec![] } else { vec!["sha256 mismatch".into()] },
            }),
            ..Default::default()
        });
        b
    }

    #[test]
    fn backup_states_follow_phase_and_verification() {
        assert_eq!(pre_backup_state(None, true), PreBackup::Missing);
        assert_eq!(
            pre_backup_state(Some(&backup(BackupPhase::Running, None)), false),
            PreBackup::InProgress
        );
        assert_eq!(
            pre_backup_state(Some(&backup(BackupPhase::Succeeded, None)), false),
            PreBackup::Done
        );
        assert_eq!(
            pre_backup_state(Some(&backup(BackupPhase::Succeeded, None)), true),
            PreBackup::InProgress
        );
        assert_eq!(
            pre_backup_state(Some(&backup(BackupPhase::Succeeded, Some(true))), true),
            PreBackup::Done
        );
        assert!(
            matches!(pre_backup_state(Some(&backup(BackupPhase::Succeeded, Some(false))), true), PreBackup::Failed(m) if m.contains("sha256 mismatch"))
        );
        assert!(
            matches!(pre_backup_state(Some(&backup(BackupPhase::Failed, None)), false), PreBackup::Failed(m) if m.contains("pg_dump exited 1"))
        );
    }

    #[test]
    fn backup_names_are_deterministic_and_valid() {
        assert_eq!(backup_name("app", HASH), "app-pre-aaaaaaaaaaaa");
        let long = "a".repeat(300);
        let n = backup_name(&long, HASH);
        assert!(n.len() <= 253 && n.ends_with("-pre-aaaaaaaaaaaa"));
        assert_eq!(label_value(&format!("{}-x", "b".repeat(62))), "b".repeat(62));
    }

    fn migration(namespace: &str, name: &str, config_map: Option<&str>) -> Arc<SchemaMigration> {
        let mut s = spec();
        s.source.config_map = config_map.map(|c| ConfigMapSource { name: c.into() });
        if config_map.is_none() {
            s.source.git = Some(crate::crd::migration::GitSource {
                repository: "/srv/git/app".into(),
                commit: "0".repeat(40),
                path: String::new(),
            });
        }
        let mut m = SchemaMigration::new(name, s);
        m.metadata.namespace = Some(namespace.into());
        Arc::new(m)
    }

    #[test]
    fn a_config_map_maps_to_the_migrations_of_its_namespace_that_name_it() {
        let all = [
            migration("ops", "app", Some("sql")),
            migration("ops", "billing", Some("billing-sql")),
            migration("ops", "again", Some("sql")),
            migration("dev", "app", Some("sql")),
            migration("ops", "from-git", None),
        ];
        let names = |refs: Vec<ObjectRef<SchemaMigration>>| -> Vec<String> {
            refs.into_iter()
                .map(|r| format!("{}/{}", r.namespace.unwrap_or_default(), r.name))
                .collect()
        };
        assert_eq!(names(migrations_using(&all, "ops", "sql")), ["ops/app", "ops/again"]);
        assert_eq!(names(migrations_using(&all, "dev", "sql")), ["dev/app"]);
        assert_eq!(names(migrations_using(&all, "ops", "billing-sql")), ["ops/billing"]);
        assert!(migrations_using(&all, "ops", "unrelated").is_empty());
        assert!(migrations_using(&all, "prod", "sql").is_empty());
        assert!(migrations_using(&[], "ops", "sql").is_empty());
    }

    #[test]
    fn status_records_the_plan_and_the_gates() {
        let p = plan(3, 1);
        let d = decide(&spec(), &p, &PreBackup::NotConfigured);
        let s = status_for_decision(None, &spec(), Some(7), &p, &d, t(10));
        assert_eq!(s.plan_hash.as_deref(), Some(HASH));
        assert_eq!(s.pending_versions, ["3", "4", "5"]);
        assert_eq!(s.pending_total, 3);
        assert_eq!(s.applied_version.as_deref(), Some("2"));
        assert_eq!(s.destructive_statements, ["V3: DROP TABLE: DROP TABLE old"]);
        assert_eq!(s.observed_generation, Some(7));
        assert!(conditions::is_true(&s.conditions, conditions::DESTRUCTIVE_CHANGE_DETECTED));
        assert!(conditions::is_true(&s.conditions, conditions::STALLED));
        assert!(!conditions::is_true(&s.conditions, conditions::APPROVED));
        assert_eq!(
            conditions::get(&s.conditions, conditions::STALLED).unwrap().reason,
            "ApprovalRequired"
        );
        // Same inputs later: no change, so no status write.
        let again = status_for_decision(Some(&s), &spec(), Some(7), &p, &d, t(99));
        assert_eq!(again, s);
    }

    #[test]
    fn status_after_a_migration() {
        let p = plan(2, 0);
        let d = decide(&spec(), &p, &PreBackup::NotConfigured);
        let before = status_for_decision(None, &spec(), Some(1), &p, &d, t(10));
        assert!(conditions::is_true(&before.conditions, conditions::RECONCILING));
        let ok = Ok(Outcome::Migrated {
            plan: p.clone(),
            applied: vec![
                AppliedSummary { version: 3.into(), name: "m3".into(), duration_ms: 5 },
                AppliedSummary { version: 4.into(), name: "m4".into(), duration_ms: 6 },
            ],
            lock_wait_ms: 0,
        });
        let s = status_after_migrate(before.clone(), Some(1), &ok, t(20));
        assert_eq!(s.applied_version.as_deref(), Some("4"));
        assert_eq!(s.last_applied_versions, ["3", "4"]);
        assert_eq!(s.last_applied_time, Some(Time(t(20))));
        assert_eq!(s.pending_total, 0);
        assert!(conditions::is_true(&s.conditions, conditions::READY));
        assert_eq!(conditions::get(&s.conditions, conditions::READY).unwrap().reason, "Migrated");

        let drift = Err(ExecError::failed(FailureReason::MigrationDrift, "V2 edited"));
        let s = status_after_migrate(before.clone(), Some(1), &drift, t(20));
        let stalled = conditions::get(&s.conditions, conditions::STALLED).unwrap();
        assert_eq!((stalled.status.as_str(), stalled.reason.as_str()), ("True", "MigrationDrift"));
        assert_eq!(s.applied_version.as_deref(), Some("2"), "nothing recorded as applied");

        let lock = Err(ExecError::failed(FailureReason::LockTimeout, "held"));
        let s = status_after_migrate(before, Some(1), &lock, t(20));
        assert!(conditions::is_true(&s.conditions, conditions::RECONCILING));
        assert!(!conditions::is_true(&s.conditions, conditions::STALLED));
    }
}
