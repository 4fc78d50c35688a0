//! The BackupPolicy controller: schedules Backups, applies retention, schedules drills, and
//! summarises the results.
//!
//! Reconcile = read the policy and its Backups and drills (label
//! [`POLICY_LABEL`](crate::crd::backup::POLICY_LABEL)), compute a [`PolicyPlan`] with the pure
//! [`plan_policy`], carry it out, write status by server-side apply, return an `Action`
//! (requeue at the next scheduled time, at most 5 minutes away).
//!
//! - **One Backup per run.** A due run creates the Backup `<policy>-<yyyymmddhhmm>` (scheduled
//!   time, UTC). If that name exists already (a previous reconcile created it and then failed
//!   to write status, or two replicas raced) it is adopted when it belongs to this policy;
//!   a same-named Backup of another policy stops the policy (`Stalled`, `NameTaken`). While a
//!   run is Pending or Running no new one starts; a run missed meanwhile is caught up once
//!   afterwards (see [`crate::schedule`]: at most one catch-up, never a burst).
//! - **Retention** runs once after each new successful backup, as executor work
//!   ([`Work::Retention`]) over the store's listing of the policy's database. The listing must
//!   contain the newest successful backup; otherwise, or when the store cannot be listed,
//!   nothing is deleted and the policy is `Stalled` with the reason. tollgate-db's GFS selection
//!   always keeps the newest verified backup and a floor (default 1). After deleting stored
//!   backups, their Backup objects are deleted too (nothing else ever deletes a stored backup).
//! - **Drills** (`verification.drillSchedule`) create a Restore `<policy>-drill-<yyyymmddhhmm>`
//!   in `Verify` mode for the newest successful backup.
//! - **History** is bounded: failed Backup objects beyond the newest
//!   [`FAILED_HISTORY`] are deleted (a failed backup stored nothing).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use crate::conditions::{
    self, LAST_BACKUP_SUCCEEDED, LAST_VERIFICATION_SUCCEEDED, READY, RECONCILING, STALLED,
};
use crate::context::Context;
use crate::controllers::backup::store_target;
use crate::controllers::{emit_event, update_status};
use crate::crd::backup::{
    Backup, BackupPhase, BackupPolicy, BackupPolicySpec, BackupPolicyStatus, BackupSpec,
    MAX_LISTED, POLICY_LABEL, Restore, RestoreMode, RestorePhase, RestoreSpec, RetentionSpec,
    RetentionStatus,
};
use crate::executor::{Outcome, RetentionPolicy, Work};
use crate::schedule::{Schedule, run_name};

/// This controller's name (metrics label, field manager suffix).
pub const CONTROLLER: &str = "backup-policy";
/// Failed Backup objects kept per policy.
pub const FAILED_HISTORY: usize = 3;
/// Longest wait between reconciles of a policy.
pub const MAX_REQUEUE: Duration = Duration::from_secs(300);

pub use crate::controllers::Error;

/// What the policy controller knows about one of its Backups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupView {
    /// Object name.
    pub name: String,
    /// Phase.
    pub phase: BackupPhase,
    /// Scheduled time (or creation time for on-demand backups).
    pub time: Option<Timestamp>,
    /// When it finished.
    pub finished: Option<Timestamp>,
    /// Id in the store.
    pub backup_id: Option<String>,
    /// Database name in the store.
    pub database: Option<String>,
    /// Verification result: (passed, when, message).
    pub verification: Option<(bool, Option<Timestamp>, String)>,
    /// The last error.
    pub message: Option<String>,
}

impl BackupView {
    /// The view of a Backup object.
    pub fn of(b: &Backup) -> BackupView {
        let s = b.status.clone().unwrap_or_default();
        BackupView {
            name: b.name_any(),
            phase: s.phase,
            time: b
                .spec
                .scheduled_time
                .as_ref()
                .map(|t| t.0)
                .or_else(|| b.metadata.creation_timestamp.as_ref().map(|t| t.0)),
            finished: s.finished_time.map(|t| t.0),
            backup_id: s.backup_id,
            database: s.database,
            verification: s.verification.map(|v| {
                (
                    v.passed,
                    v.time.map(|t| t.0),
                    if v.passed {
                        format!("tier {} passed", v.tier.as_str())
                    } else {
                        v.problems.join("; ")
                    },
                )
            }),
            message: s.message,
        }
    }
}

/// What the policy controller knows about one of its drills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrillView {
    /// Object name.
    pub name: String,
    /// Finished with this result: (passed, when, message).
    pub result: Option<(bool, Timestamp, String)>,
}

impl DrillView {
    /// The view of a Restore object.
    pub fn of(r: &Restore) -> DrillView {
        let s = r.status.clone().unwrap_or_default();
        let result = match (s.phase, s.finished_time) {
            (RestorePhase::Succeeded | RestorePhase::Failed, Some(t)) => Some((
                s.phase == RestorePhase::Succeeded,
                t.0,
                s.message.clone().unwrap_or_else(|| s.problems.join("; ")),
            )),
            _ => None,
        };
        DrillView { name: r.name_any(), result }
    }
}

/// A retention run to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionRequest {
    /// Database whose backups are judged.
    pub database: String,
    /// The newest successful backup's id (the listing must contain it).
    pub must_include: String,
    /// The Backup object it follows.
    pub after_backup: String,
    /// Rules.
    pub rules: RetentionPolicy,
}

/// The rules tollgate-db applies for a spec's retention: the floor defaults to, and is at
/// least, one.
pub fn retention_policy(spec: &RetentionSpec) -> RetentionPolicy {
    let n = |v: u32| v as usize;
    RetentionPolicy {
        keep_last: n(spec.keep_last),
        keep_hourly: n(spec.keep_hourly),
        keep_daily: n(spec.keep_daily),
        keep_weekly: n(spec.keep_weekly),
        keep_monthly: n(spec.keep_monthly),
        keep_yearly: n(spec.keep_yearly),
        floor: n(spec.floor.unwrap_or(1).max(1)),
        ..RetentionPolicy::default()
    }
}

/// What to do for a policy now (the output of [`plan_policy`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyPlan {
    /// The new status (before the effects of retention, which the reconcile adds).
    pub status: BackupPolicyStatus,
    /// A Backup to create: (name, scheduled time).
    pub create_backup: Option<(String, Timestamp)>,
    /// A drill to create: (name, Backup to verify).
    pub create_drill: Option<(String, String)>,
    /// Retention to run.
    pub retention: Option<RetentionRequest>,
    /// Backup objects to delete (failed ones beyond the history limit).
    pub prune: Vec<String>,
    /// When to look again.
    pub requeue_after: Duration,
    /// Unix seconds of the last successful backup (for the metric).
    pub last_success_unix: Option<i64>,
}

/// Inputs of [`plan_policy`].
#[derive(Debug, Clone, Copy)]
pub struct PolicyInputs<'a> {
    /// The policy's name.
    pub name: &'a str,
    /// Its spec.
    pub spec: &'a BackupPolicySpec,
    /// Its current status.
    pub status: &'a BackupPolicyStatus,
    /// Its generation.
    pub generation: Option<i64>,
    /// Its creation time (missed runs count from here when it never ran).
    pub created: Timestamp,
    /// Now.
    pub now: Timestamp,
    /// Its Backups.
    pub backups: &'a [BackupView],
    /// Its drills.
    pub drills: &'a [DrillView],
}

fn stalled(
    mut status: BackupPolicyStatus,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: Timestamp,
) -> BackupPolicyStatus {
    conditions::set(&mut status.conditions, READY, false, reason, message, generation, now);
    conditions::set(&mut status.conditions, STALLED, true, reason, message, generation, now);
    conditions::set(&mut status.conditions, RECONCILING, false, reason, "", generation, now);
    status.next_schedule_time = None;
    status.observed_generation = generation;
    status
}

/// Decides what to do for a policy (pure; see the module documentation).
pub fn plan_policy(i: PolicyInputs<'_>) -> PolicyPlan {
    let (now, generation) = (i.now, i.generation);
    let mut status = i.status.clone();
    status.observed_generation = generation;
    let mut plan = PolicyPlan {
        status: BackupPolicyStatus::default(),
        create_backup: None,
        create_drill: None,
        retention: None,
        prune: Vec::new(),
        requeue_after: MAX_REQUEUE,
        last_success_unix: None,
    };
    let zone = i.spec.time_zone.as_deref();
    let schedule = match Schedule::new(&i.spec.schedule, zone) {
        Ok(s) => s,
        Err(e) => {
            plan.status = stalled(status, "InvalidSchedule", &e.to_string(), generation, now);
            plan.requeue_after = Duration::MAX;
            return plan;
        }
    };
    let drill_schedule =
        match i.spec.verification.as_ref().and_then(|v| v.drill_schedule.as_deref()) {
            None => None,
            Some(p) => match Schedule::new(p, zone) {
                Ok(s) => Some(s),
                Err(e) => {
                    plan.status =
                        stalled(status, "InvalidDrillSchedule", &e.to_string(), generation, now);
                    plan.requeue_after = Duration::MAX;
                    return plan;
                }
            },
        };
    let deadline = i.spec.starting_deadline_seconds.map(SignedDuration::from_secs);

    // Results of past runs.
    let mut succeeded: Vec<&BackupView> =
        i.backups.iter().filter(|b| b.phase == BackupPhase::Succeeded).collect();
    succeeded.sort_by_key(|b| (b.finished.or(b.time), b.name.clone()));
    if let Some(last) = succeeded.last() {
        status.last_successful_backup = Some(last.name.clone());
        status.last_successful_backup_id = last.backup_id.clone();
        status.database = last.database.clone().or(status.database);
        status.last_successful_time = last.finished.map(Time);
        plan.last_success_unix = last.finished.map(|t| t.as_second());
    }
    let mut finished: Vec<&BackupView> = i
        .backups
        .iter()
        .filter(|b| matches!(b.phase, BackupPhase::Succeeded | BackupPhase::Failed))
        .collect();
    finished.sort_by_key(|b| (b.finished.or(b.time), b.name.clone()));
    if let Some(last) = finished.last() {
        let ok = last.phase == BackupPhase::Succeeded;
        let (reason, msg) = if ok {
            (
                "BackupStored",
                format!(
                    "{} stored backup {}",
                    last.name,
                    last.backup_id.clone().unwrap_or_default()
                ),
            )
        } else {
            (
                "BackupFailed",
                format!("{} failed: {}", last.name, last.message.clone().unwrap_or_default()),
            )
        };
        conditions::set(
            &mut status.conditions,
            LAST_BACKUP_SUCCEEDED,
            ok,
            reason,
            &msg,
            generation,
            now,
        );
    }
    // The newest verification: of a backup or of a drill.
    let mut verifications: Vec<(Timestamp, bool, String)> = i
        .backups
        .iter()
        .filter_map(|b| {
            b.verification.as_ref().map(|(ok, t, m)| {
                (t.or(b.finished).unwrap_or(now), *ok, format!("{}: {m}", b.name))
            })
        })
        .collect();
    verifications.extend(i.drills.iter().filter_map(|d| {
        d.result.as_ref().map(|(ok, t, m)| (*t, *ok, format!("drill {}: {m}", d.name)))
    }));
    verifications.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.2.cmp(&b.2)));
    if let Some((_, ok, msg)) = verifications.last() {
        let reason = if *ok { "Verified" } else { "VerificationFailed" };
        conditions::set(
            &mut status.conditions,
            LAST_VERIFICATION_SUCCEEDED,
            *ok,
            reason,
            msg,
            generation,
            now,
        );
    }

    // Bounded history: failed objects beyond the newest few.
    let mut failed: Vec<&BackupView> =
        i.backups.iter().filter(|b| b.phase == BackupPhase::Failed).collect();
    failed.sort_by_key(|b| std::cmp::Reverse((b.finished.or(b.time), b.name.clone())));
    plan.prune = failed.iter().skip(FAILED_HISTORY).map(|b| b.name.clone()).collect();

    // Retention after each new successful backup.
    if let (Some(rules), Some(last)) = (&i.spec.retention, succeeded.last())
        && let (Some(id), Some(db)) = (&last.backup_id, &last.database)
        && status.retention.as_ref().and_then(|r| r.after_backup.as_deref())
            != Some(last.name.as_str())
    {
        plan.retention = Some(RetentionRequest {
            database: db.clone(),
            must_include: id.clone(),
            after_backup: last.name.clone(),
            rules: retention_policy(rules),
        });
    }

    // Scheduling.
    let active: Vec<&BackupView> = i
        .backups
        .iter()
        .filter(|b| matches!(b.phase, BackupPhase::Pending | BackupPhase::Running))
        .collect();
    let last = status.last_schedule_time.as_ref().map(|t| t.0);
    let mut next_wake =
        now + SignedDuration::try_from(MAX_REQUEUE).unwrap_or(SignedDuration::from_mins(5));
    if i.spec.suspend {
        status.next_schedule_time = None;
        conditions::set(
            &mut status.conditions,
            READY,
            true,
            "Suspended",
            "the schedule is suspended",
            generation,
            now,
        );
    } else {
        match schedule.due(last, i.created, now, deadline) {
            Err(e) => {
                plan.status = stalled(status, "InvalidSchedule", &e.to_string(), generation, now);
                plan.requeue_after = Duration::MAX;
                return plan;
            }
            Ok(due) => {
                status.next_schedule_time = Some(Time(due.next));
                next_wake = next_wake.min(due.next);
                match due.run {
                    // One run at a time: a due run waits for the active one, then at most one
                    // catch-up starts.
                    Some(_) if !active.is_empty() => {}
                    Some(t) => {
                        plan.create_backup = Some((run_name(i.name, t), t));
                        status.last_schedule_time = Some(Time(t));
                        status.missed_runs = status.missed_runs.saturating_add(due.skipped);
                    }
                    None if due.skipped > 0 => {
                        // Missed beyond the starting deadline: recorded as handled.
                        status.last_schedule_time = schedule.last_at_or_before(now).map(Time);
                        status.missed_runs = status.missed_runs.saturating_add(due.skipped);
                    }
                    None => {}
                }
                let msg = format!("next run at {}", due.next);
                conditions::set(
                    &mut status.conditions,
                    READY,
                    true,
                    "Scheduled",
                    &msg,
                    generation,
                    now,
                );
            }
        }
    }
    if let Some(drills) = &drill_schedule
        && !i.spec.suspend
    {
        let last = status.last_drill_time.as_ref().map(|t| t.0);
        if let Ok(due) = drills.due(last, i.created, now, deadline) {
            next_wake = next_wake.min(due.next);
            if let Some(t) = due.run {
                status.last_drill_time = Some(Time(t));
                if let Some(b) = succeeded.last() {
                    plan.create_drill =
                        Some((run_name(&format!("{}-drill", i.name), t), b.name.clone()));
                }
            }
        }
    }
    let reconciling = !active.is_empty() || plan.create_backup.is_some();
    let msg = match active.first() {
        Some(b) => format!("backup {} is {:?}", b.name, b.phase),
        None => String::new(),
    };
    conditions::set(
        &mut status.conditions,
        RECONCILING,
        reconciling,
        if reconciling { "BackupRunning" } else { "Idle" },
        &msg,
        generation,
        now,
    );
    conditions::set(&mut status.conditions, STALLED, false, "Scheduled", "", generation, now);
    plan.requeue_after = Duration::from_secs(
        next_wake.duration_since(now).as_secs().clamp(1, MAX_REQUEUE.as_secs() as i64) as u64,
    );
    plan.status = status;
    plan
}

fn labels(policy: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(POLICY_LABEL.to_owned(), policy.to_owned())])
}

/// Reconciles one BackupPolicy (see the module documentation).
pub async fn reconcile(policy: Arc<BackupPolicy>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.metrics.reconcile(CONTROLLER);
    let ns = policy.namespace().unwrap_or_default();
    let name = policy.name_any();
    let policies: Api<BackupPolicy> = Api::namespaced(ctx.client.clone(), &ns);
    // Fresh, not the cached copy (see `controllers`: read your own writes).
    let Some(policy) = policies.get_opt(&name).await? else {
        return Ok(Action::await_change());
    };
    let policy = Arc::new(policy);
    let now = ctx.clock.now();
    let generation = policy.metadata.generation;
    let backups_api: Api<Backup> = Api::namespaced(ctx.client.clone(), &ns);
    let restores_api: Api<Restore> = Api::namespaced(ctx.client.clone(), &ns);
    let selector = ListParams::default().labels(&format!("{POLICY_LABEL}={name}"));
    let backups = backups_api.list(&selector).await?;
    let drills = restores_api.list(&selector).await?;
    let views: Vec<BackupView> = backups.items.iter().map(BackupView::of).collect();
    let drill_views: Vec<DrillView> = drills.items.iter().map(DrillView::of).collect();
    let old = policy.status.clone().unwrap_or_default();
    let created = policy.metadata.creation_timestamp.as_ref().map(|t| t.0).unwrap_or(now);
    let plan = plan_policy(PolicyInputs {
        name: &name,
        spec: &policy.spec,
        status: &old,
        generation,
        created,
        now,
        backups: &views,
        drills: &drill_views,
    });
    let mut status = plan.status.clone();
    let owner = policy.controller_owner_ref(&());

    if let Some((backup_name, t)) = &plan.create_backup {
        let mut b = Backup::new(
            backup_name,
            BackupSpec { policy_ref: name.clone(), scheduled_time: Some(Time(*t)) },
        );
        b.metadata = ObjectMeta {
            name: Some(backup_name.clone()),
            namespace: Some(ns.clone()),
            labels: Some(labels(&name)),
            owner_references: owner.clone().map(|o| vec![o]),
            ..ObjectMeta::default()
        };
        match backups_api.create(&PostParams::default(), &b).await {
            Ok(_) => {
                tracing::info!(policy = %name, backup = %backup_name, "scheduled a backup");
            }
            Err(kube::Error::Api(s)) if s.code == 409 => {
                let existing = backups_api.get(backup_name).await?;
                if existing.spec.policy_ref == name {
                    tracing::info!(policy = %name, backup = %backup_name, "adopted the existing backup of this run");
                } else {
                    let msg = format!(
                        "Backup {ns}/{backup_name} exists and belongs to BackupPolicy {}; not taking this run",
                        existing.spec.policy_ref
                    );
                    status = stalled(old.clone(), "NameTaken", &msg, generation, now);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }

    if let Some((drill_name, backup_name)) = &plan.create_drill {
        let mut r = Restore::new(
            drill_name,
            RestoreSpec {
                backup_ref: backup_name.clone(),
                mode: RestoreMode::Verify,
                target_database_secret_ref: None,
                replace: false,
                tier: None,
            },
        );
        r.metadata = ObjectMeta {
            name: Some(drill_name.clone()),
            namespace: Some(ns.clone()),
            labels: Some(labels(&name)),
            owner_references: owner.clone().map(|o| vec![o]),
            ..ObjectMeta::default()
        };
        match restores_api.create(&PostParams::default(), &r).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
    }

    if let Some(req) = &plan.retention {
        match store_target(&ctx.client, &ns, &policy.spec.store).await {
            Err(msg) => status = stalled(status, "SecretNotFound", &msg, generation, now),
            Ok(store) => {
                let work = Work::Retention {
                    store,
                    database: req.database.clone(),
                    rules: req.rules,
                    must_include: vec![req.must_include.clone()],
                    now: now.to_string(),
                    dry_run: false,
                };
                match ctx.executor.run(work).await {
                    Ok(Outcome::RetentionApplied { retention }) => {
                        status.retention = Some(RetentionStatus {
                            time: Some(Time(now)),
                            after_backup: Some(req.after_backup.clone()),
                            kept: retention.kept_total as u32,
                            deleted: retention.deleted.iter().take(MAX_LISTED).cloned().collect(),
                            deleted_total: retention.deleted_total as u32,
                        });
                        for b in backups.items.iter().filter(|b| {
                            b.status
                                .as_ref()
                                .and_then(|s| s.backup_id.as_ref())
                                .is_some_and(|id| retention.deleted.contains(id))
                        }) {
                            delete_object(&backups_api, &b.name_any()).await;
                        }
                        if retention.deleted_total > 0 {
                            let note = format!(
                                "retention deleted {} backup(s) of {}, kept {}",
                                retention.deleted_total, retention.database, retention.kept_total
                            );
                            emit_event(
                                &ctx.client,
                                policy.as_ref(),
                                false,
                                "RetentionApplied",
                                "Retention",
                                &note,
                            )
                            .await;
                        }
                    }
                    Ok(other) => {
                        let msg = format!("retention returned an unexpected outcome: {other:?}");
                        status = stalled(status, "ExecutorError", &msg, generation, now);
                    }
                    Err(e) => {
                        let msg = format!("retention stopped, nothing deleted: {e}");
                        status = stalled(status, e.reason(), &msg, generation, now);
                    }
                }
            }
        }
    }

    for b in &plan.prune {
        delete_object(&backups_api, b).await;
    }
    if let Some(unix) = plan.last_success_unix {
        ctx.metrics.set_last_backup_success(&ns, &name, unix);
    }
    keep_transition_times(&old.conditions, &mut status.conditions);
    update_status(&ctx.client, policy.as_ref(), CONTROLLER, Some(&old), &status).await?;
    Ok(if plan.requeue_after == Duration::MAX {
        Action::await_change()
    } else {
        Action::requeue(plan.requeue_after)
    })
}

/// Restores `lastTransitionTime` of conditions whose status equals the one last written: a
/// condition set one way by the plan and back by a failed effect (retention) in the same
/// reconcile did not transition, and must not make the status look changed.
pub fn keep_transition_times(
    old: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    new: &mut [k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
) {
    for c in new.iter_mut() {
        if let Some(o) = conditions::get(old, &c.type_)
            && o.status == c.status
        {
            c.last_transition_time = o.last_transition_time.clone();
        }
    }
}

async fn delete_object(api: &Api<Backup>, name: &str) {
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => tracing::info!(backup = %name, "deleted the Backup object"),
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => tracing::warn!(backup = %name, error = %e, "cannot delete the Backup object"),
    }
}

/// Counts the error and requeues the object after its per-object backoff delay
/// ([`crate::backoff`]: 5 s doubling to 5 min with jitter; reset by a successful reconcile).
pub fn error_policy(obj: Arc<BackupPolicy>, error: &Error, ctx: Arc<Context>) -> Action {
    crate::controllers::backoff_on_error(CONTROLLER, obj.as_ref(), error, &ctx)
}

/// Runs the BackupPolicy controller (watching its Backups and drills too) until `shutdown`.
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let policies: Api<BackupPolicy> = ctx.api();
    let backups: Api<Backup> = ctx.api();
    let restores: Api<Restore> = ctx.api();
    Controller::new(policies, watcher::Config::default())
        .owns(backups, watcher::Config::default())
        .owns(restores, watcher::Config::default())
        .graceful_shutdown_on(shutdown)
        .run(
            |obj, ctx| crate::controllers::reconcile_with_backoff(CONTROLLER, obj, ctx, reconcile),
            error_policy,
            ctx,
        )
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(error = %e, "backup policy controller");
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::backup::{
        RetentionSpec, SecretKeyRef, StoreSpec, VerificationSpec, VerifyTier,
    };

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn spec() -> BackupPolicySpec {
        BackupPolicySpec {
            database_secret_ref: SecretKeyRef { name: "db".into(), key: "url".into() },
            store: StoreSpec { url: "s3://b/p".into(), credentials_secret_ref: None },
            schedule: "0 3 * * *".into(),
            time_zone: Some("Europe/Berlin".into()),
            starting_deadline_seconds: None,
            suspend: false,
            retention: None,
            encryption: None,
            verification: None,
            lease_seconds: None,
            max_attempts: None,
        }
    }

    fn view(name: &str, phase: BackupPhase, finished: Option<&str>) -> BackupView {
        BackupView {
            name: name.into(),
            phase,
            time: finished.map(ts),
            finished: finished.map(ts),
            backup_id: (phase == BackupPhase::Succeeded).then(|| format!("id-{name}")),
            database: (phase == BackupPhase::Succeeded).then(|| "app".into()),
            verification: None,
            message: (phase == BackupPhase::Failed).then(|| "ConnectFailed: down".into()),
        }
    }

    fn plan(
        spec: &BackupPolicySpec,
        status: &BackupPolicyStatus,
        now: &str,
        backups: &[BackupView],
    ) -> PolicyPlan {
        plan_policy(PolicyInputs {
            name: "nightly",
            spec,
            status,
            generation: Some(1),
            created: ts("2026-11-20T12:00:00Z"),
            now: ts(now),
            backups,
            drills: &[],
        })
    }

    fn cond(s: &BackupPolicyStatus, t: &str) -> (String, String) {
        let c = conditions::get(&s.conditions, t).unwrap();
        (c.status.clone(), c.reason.clone())
    }

    #[test]
    fn a_due_run_creates_one_backup_with_a_utc_name() {
        // 03:00 Europe/Berlin in winter = 02:00 UTC.
        let status = BackupPolicyStatus {
            last_schedule_time: Some(Time(ts("2026-11-24T02:00:00Z"))),
            ..Default::default()
        };
        let p = plan(&spec(), &status, "2026-11-25T02:00:30Z", &[]);
        assert_eq!(
            p.create_backup,
            Some(("nightly-202611250200".into(), ts("2026-11-25T02:00:00Z")))
        );
        assert_eq!(p.status.last_schedule_time, Some(Time(ts("2026-11-25T02:00:00Z"))));
        assert_eq!(p.status.next_schedule_time, Some(Time(ts("2026-11-26T02:00:00Z"))));
        assert_eq!(cond(&p.status, READY), ("True".into(), "Scheduled".into()));
        assert_eq!(cond(&p.status, RECONCILING).0, "True");
        // Re-planning with the written status creates nothing more.
        let again = plan(
            &spec(),
            &p.status,
            "2026-11-25T02:01:00Z",
            &[view("nightly-202611250200", BackupPhase::Running, None)],
        );
        assert_eq!(again.create_backup, None);
        assert_eq!(again.status.last_schedule_time, p.status.last_schedule_time);
    }

    #[test]
    fn after_an_outage_only_the_latest_missed_run_is_taken() {
        let status = BackupPolicyStatus {
            last_schedule_time: Some(Time(ts("2026-11-20T02:00:00Z"))),
            ..Default::default()
        };
        let p = plan(&spec(), &status, "2026-11-25T09:00:00Z", &[]);
        assert_eq!(p.create_backup.as_ref().map(|c| c.0.as_str()), Some("nightly-202611250200"));
        assert_eq!(p.status.missed_runs, 4);
        // With a one-hour starting deadline the 02:00 run is too old: skipped, counted.
        let mut late = spec();
        late.starting_deadline_seconds = Some(3600);
        let p = plan(&late, &status, "2026-11-25T09:00:00Z", &[]);
        assert_eq!(p.create_backup, None);
        assert_eq!(p.status.missed_runs, 5);
        assert_eq!(p.status.last_schedule_time, Some(Time(ts("2026-11-25T02:00:00Z"))));
    }

    #[test]
    fn a_due_run_waits_for_the_active_one() {
        let status = BackupPolicyStatus {
            last_schedule_time: Some(Time(ts("2026-11-24T02:00:00Z"))),
            ..Default::default()
        };
        let p = plan(
            &spec(),
            &status,
            "2026-11-25T02:00:30Z",
            &[view("nightly-202611240200", BackupPhase::Running, None)],
        );
        assert_eq!(p.create_backup, None);
        assert_eq!(p.status.last_schedule_time, status.last_schedule_time, "still due later");
    }

    #[test]
    fn suspended_policies_schedule_nothing() {
        let mut s = spec();
        s.suspend = true;
        let p = plan(&s, &BackupPolicyStatus::default(), "2026-11-25T02:00:30Z", &[]);
        assert_eq!(p.create_backup, None);
        assert_eq!(p.status.next_schedule_time, None);
        assert_eq!(cond(&p.status, READY), ("True".into(), "Suspended".into()));
    }

    #[test]
    fn a_bad_schedule_stalls_without_creating_anything() {
        let mut s = spec();
        s.schedule = "0 3 * *".into();
        let p = plan(&s, &BackupPolicyStatus::default(), "2026-11-25T02:00:30Z", &[]);
        assert_eq!(p.create_backup, None);
        assert_eq!(cond(&p.status, STALLED), ("True".into(), "InvalidSchedule".into()));
        assert_eq!(cond(&p.status, READY).0, "False");
        s.schedule = "0 3 * * *".into();
        s.time_zone = Some("Nowhere/Atlantis".into());
        let p = plan(&s, &BackupPolicyStatus::default(), "2026-11-25T02:00:30Z", &[]);
        assert_eq!(cond(&p.status, STALLED), ("True".into(), "InvalidSchedule".into()));
    }

    #[test]
    fn results_and_retention_follow_the_newest_success() {
        let mut s = spec();
        s.retention = Some(RetentionSpec { keep_last: 2, ..Default::default() });
        let backups = [
            view("nightly-202611230200", BackupPhase::Succeeded, Some("2026-11-23T02:05:00Z")),
            view("nightly-202611240200", BackupPhase::Failed, Some("2026-11-24T02:05:00Z")),
            view("nightly-202611250200", BackupPhase::Succeeded, Some("2026-11-25T02:05:00Z")),
        ];
        let status = BackupPolicyStatus {
            last_schedule_time: Some(Time(ts("2026-11-25T02:00:00Z"))),
            ..Default::default()
        };
        let p = plan(&s, &status, "2026-11-25T02:06:00Z", &backups);
        assert_eq!(p.status.last_successful_backup.as_deref(), Some("nightly-202611250200"));
        assert_eq!(p.status.last_successful_backup_id.as_deref(), Some("id-nightly-202611250200"));
        assert_eq!(p.last_success_unix, Some(ts("2026-11-25T02:05:00Z").as_second()));
        assert_eq!(cond(&p.status, LAST_BACKUP_SUCCEEDED), ("True".into(), "BackupStored".into()));
        let r = p.retention.clone().unwrap();
        assert_eq!(
            (r.database.as_str(), r.must_include.as_str()),
            ("app", "id-nightly-202611250200")
        );
        assert_eq!(r.rules.keep_last, 2);
        assert_eq!(r.rules.floor, 1, "a floor of one by default");
        // Once recorded for that backup, retention does not run again.
        let mut done = p.status.clone();
        done.retention = Some(RetentionStatus {
            after_backup: Some("nightly-202611250200".into()),
            ..Default::default()
        });
        assert_eq!(plan(&s, &done, "2026-11-25T02:07:00Z", &backups).retention, None);
        // Without retention rules nothing is ever deleted.
        assert_eq!(plan(&spec(), &status, "2026-11-25T02:06:00Z", &backups).retention, None);
    }

    #[test]
    fn a_newer_failure_turns_last_backup_succeeded_false() {
        let backups = [
            view("a", BackupPhase::Succeeded, Some("2026-11-23T02:05:00Z")),
            view("b", BackupPhase::Failed, Some("2026-11-24T02:05:00Z")),
        ];
        let p = plan(&spec(), &BackupPolicyStatus::default(), "2026-11-24T03:00:00Z", &backups);
        assert_eq!(cond(&p.status, LAST_BACKUP_SUCCEEDED), ("False".into(), "BackupFailed".into()));
        assert_eq!(p.status.last_successful_backup.as_deref(), Some("a"));
    }

    #[test]
    fn failed_history_is_bounded() {
        let backups: Vec<BackupView> = (1..=5)
            .map(|d| {
                view(
                    &format!("f{d}"),
                    BackupPhase::Failed,
                    Some(&format!("2026-11-0{d}T02:05:00Z")),
                )
            })
            .collect();
        let p = plan(&spec(), &BackupPolicyStatus::default(), "2026-11-24T03:00:00Z", &backups);
        assert_eq!(p.prune, ["f2", "f1"]);
    }

    #[test]
    fn drills_verify_the_newest_success_and_report_back() {
        let mut s = spec();
        s.verification = Some(VerificationSpec {
            tier: VerifyTier::Checksum,
            scratch_server_secret_ref: None,
            queries: vec![],
            drill_schedule: Some("0 4 * * SUN".into()),
        });
        let backups =
            [view("nightly-202611280200", BackupPhase::Succeeded, Some("2026-11-28T02:05:00Z"))];
        let status = BackupPolicyStatus {
            last_schedule_time: Some(Time(ts("2026-11-29T02:00:00Z"))),
            last_drill_time: Some(Time(ts("2026-11-22T03:00:00Z"))),
            ..Default::default()
        };
        // Sunday 2026-11-29 04:00 Berlin = 03:00 UTC.
        let p = plan(&s, &status, "2026-11-29T03:00:10Z", &backups);
        assert_eq!(
            p.create_drill,
            Some(("nightly-drill-202611290300".into(), "nightly-202611280200".into()))
        );
        assert_eq!(p.status.last_drill_time, Some(Time(ts("2026-11-29T03:00:00Z"))));
        let drills = [DrillView {
            name: "nightly-drill-202611290300".into(),
            result: Some((false, ts("2026-11-29T03:10:00Z"), "restore failed".into())),
        }];
        let p = plan_policy(PolicyInputs {
            name: "nightly",
            spec: &s,
            status: &p.status,
            generation: Some(1),
            created: ts("2026-11-20T12:00:00Z"),
            now: ts("2026-11-29T03:11:00Z"),
            backups: &backups,
            drills: &drills,
        });
        assert_eq!(p.create_drill, None);
        assert_eq!(
            cond(&p.status, LAST_VERIFICATION_SUCCEEDED),
            ("False".into(), "VerificationFailed".into())
        );
    }

    #[test]
    fn a_condition_flipped_back_within_a_reconcile_keeps_its_transition_time() {
        let mut old = Vec::new();
        conditions::set(
            &mut old,
            STALLED,
            true,
            "UntrustedListing",
            "x",
            None,
            ts("2026-11-25T01:00:00Z"),
        );
        let mut new = old.clone();
        conditions::set(
            &mut new,
            STALLED,
            false,
            "Scheduled",
            "",
            None,
            ts("2026-11-25T02:00:00Z"),
        );
        conditions::set(
            &mut new,
            STALLED,
            true,
            "UntrustedListing",
            "x",
            None,
            ts("2026-11-25T02:00:00Z"),
        );
        assert_ne!(new, old);
        keep_transition_times(&old, &mut new);
        assert_eq!(new, old, "no change, so no status write");
        conditions::set(&mut new, READY, true, "Scheduled", "", None, ts("2026-11-25T02:00:00Z"));
        keep_transition_times(&old, &mut new);
        assert_eq!(
            conditions::get(&new, READY).unwrap().last_transition_time.0,
            ts("2026-11-25T02:00:00Z")
        );
    }

    #[test]
    fn requeue_is_bounded_by_the_next_run() {
        let status = BackupPolicyStatus {
            last_schedule_time: Some(Time(ts("2026-11-25T02:00:00Z"))),
            ..Default::default()
        };
        let p = plan(&spec(), &status, "2026-11-26T01:59:00Z", &[]);
        assert_eq!(p.requeue_after, Duration::from_secs(60));
        let p = plan(&spec(), &status, "2026-11-25T12:00:00Z", &[]);
        assert_eq!(p.requeue_after, MAX_REQUEUE);
    }

    mod simulation {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]

            /// Driving the policy through random clock jumps (and backups finishing at random):
            /// at most one run is active at a time, every created run is a real fire time of the
            /// schedule, not in the future, strictly later than the previous one, and uniquely
            /// named; a reconcile never creates more than one Backup.
            #[test]
            fn runs_are_unique_ordered_and_never_a_burst(
                pattern in prop_oneof![Just("*/5 * * * *"), Just("0 * * * *"), Just("30 2 * * *"), Just("0 3 * * MON")],
                zone in prop_oneof![Just("UTC"), Just("Europe/Berlin"), Just("America/New_York")],
                deadline in proptest::option::of(60i64..7200),
                steps in proptest::collection::vec((0i64..20_000, any::<bool>()), 1..40),
            ) {
                let mut s = spec();
                s.schedule = pattern.into();
                s.time_zone = Some(zone.into());
                s.starting_deadline_seconds = deadline;
                let schedule = Schedule::new(pattern, Some(zone)).unwrap();
                let created = ts("2026-03-28T20:00:00Z"); // across a DST change in Europe and the US
                let mut now = created;
                let mut status = BackupPolicyStatus::default();
                let mut backups: Vec<BackupView> = Vec::new();
                let mut last: Option<Timestamp> = None;
                for (advance, finish) in steps {
                    now += SignedDuration::from_secs(advance);
                    let p = plan_policy(PolicyInputs {
                        name: "p", spec: &s, status: &status, generation: Some(1), created, now,
                        backups: &backups, drills: &[],
                    });
                    if let Some((name, t)) = &p.create_backup {
                        prop_assert!(*t <= now);
                        prop_assert!(*t > created);
                        prop_assert!(last.is_none_or(|l| *t > l), "{t} after {last:?}");
                        prop_assert_eq!(schedule.next_after(*t - SignedDuration::from_secs(1)).unwrap(), *t);
                        prop_assert!(backups.iter().all(|b| &b.name != name), "duplicate {name}");
                        prop_assert!(backups.iter().all(|b| !matches!(b.phase, BackupPhase::Pending | BackupPhase::Running)));
                        if let Some(d) = deadline {
                            prop_assert!(now.duration_since(*t) <= SignedDuration::from_secs(d));
                        }
                        last = Some(*t);
                        backups.push(BackupView {
                            name: name.clone(), phase: BackupPhase::Running, time: Some(*t), finished: None,
                            backup_id: None, database: None, verification: None, message: None,
                        });
                    }
                    prop_assert!(p.requeue_after >= Duration::from_secs(1) && p.requeue_after <= MAX_REQUEUE);
                    if let Some(next) = &p.status.next_schedule_time {
                        prop_assert!(next.0 > now);
                    }
                    status = p.status;
                    if finish {
                        for b in backups.iter_mut().filter(|b| b.phase == BackupPhase::Running) {
                            b.phase = BackupPhase::Succeeded;
                            b.finished = Some(now);
                            b.backup_id = Some(format!("id-{}", b.name));
                            b.database = Some("app".into());
                        }
                    }
                }
            }
        }
    }
}
