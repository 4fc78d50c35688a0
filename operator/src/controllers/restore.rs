//! The Restore controller: restores a Backup into a target database, or (`mode: Verify`) runs
//! a verification drill and records its result.
//!
//! Reconcile = read the Restore, its Backup and the Backup's policy, decide with the pure
//! [`next_step`], run the work through the executor under a lease (as Backups do), and write
//! the result with [`finish`]. A Restore runs once: Succeeded and Failed are final (create a new
//! Restore to try again).
//!
//! - It waits while the Backup is not yet Succeeded, and fails when the Backup failed.
//! - A drill (`Verify`) whose worker was lost is taken over and run again: it only reads the
//!   backup and uses a scratch database that tollgate-db drops afterwards. A real restore whose
//!   worker was lost is **not** re-run: it ran in one transaction (so nothing, or everything,
//!   was committed), and guessing which is not the operator's call. It fails with `WorkerLost`
//!   and `Stalled`, for a human to check the target and create a new Restore.
//! - Passing drills are recorded in the backup's metadata in the store (so retention knows the
//!   backup is verified) and in `LastVerificationSucceeded`; the policy shows the newest result.
//! - No finalizer: deleting a Restore changes nothing outside the cluster.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;

use crate::conditions::{self, LAST_VERIFICATION_SUCCEEDED, READY, RECONCILING, STALLED};
use crate::context::Context;
use crate::controllers::backup::{
    CLAIM_LOST_RECHECK, ClaimedWrites, lease_of, secret_value, store_target, with_lease,
    worker_identity,
};
use crate::controllers::{
    Cas, claim_status, emit_event, publish_transitions, recorder, update_status,
};
use crate::crd::backup::{
    Backup, BackupPhase, BackupPolicy, MAX_LISTED, Restore, RestoreMode, RestorePhase,
    RestoreStatus,
};
use crate::executor::{ExecError, Outcome, SecretString, VerifyTier, Work};

/// This controller's name (metrics label, field manager suffix).
pub const CONTROLLER: &str = "restore";

pub use crate::controllers::Error;

/// What to do with a Restore now (pure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreStep {
    /// Final: nothing to do.
    Done,
    /// Someone holds a live lease: look again then.
    WaitUntil(Timestamp),
    /// Run it (`takeover`: a lost drill worker's lease expired).
    Start {
        /// Whether this takes over from a lost worker.
        takeover: bool,
    },
    /// A real restore lost its worker: fail with `WorkerLost`, do not re-run.
    WorkerLost,
}

/// Decides the next step (see the module documentation).
pub fn next_step(status: Option<&RestoreStatus>, mode: RestoreMode, now: Timestamp) -> RestoreStep {
    let Some(s) = status else { return RestoreStep::Start { takeover: false } };
    match s.phase {
        RestorePhase::Succeeded | RestorePhase::Failed => RestoreStep::Done,
        RestorePhase::Pending => RestoreStep::Start { takeover: false },
        RestorePhase::Running => match &s.lease_expires {
            Some(t) if t.0 > now => RestoreStep::WaitUntil(t.0),
            _ if mode == RestoreMode::Verify => RestoreStep::Start { takeover: true },
            _ => RestoreStep::WorkerLost,
        },
    }
}

/// The status after the work ended with `result` (pure).
pub fn finish(
    mut status: RestoreStatus,
    result: &Result<Outcome, ExecError>,
    generation: Option<i64>,
    now: Timestamp,
) -> RestoreStatus {
    status.worker = None;
    status.lease_expires = None;
    status.finished_time = Some(Time(now));
    let conds = &mut status.conditions;
    conditions::set(conds, RECONCILING, false, "Finished", "", generation, now);
    match result {
        Ok(Outcome::Restored { backup_id, tables, replaced }) => {
            status.phase = RestorePhase::Succeeded;
            status.tables = Some(*tables as u32);
            let msg = format!(
                "restored backup {backup_id}{}: {tables} user tables",
                if *replaced { " over existing objects" } else { "" }
            );
            conditions::set(conds, READY, true, "Restored", &msg, generation, now);
            conditions::set(conds, STALLED, false, "Restored", "", generation, now);
        }
        Ok(Outcome::Verified { verification: v }) => {
            status.passed = Some(v.passed);
            status.tier = Some(v.tier);
            status.problems = v.problems.iter().take(MAX_LISTED).cloned().collect();
            if v.passed {
                status.phase = RestorePhase::Succeeded;
                let msg =
                    format!("drill of backup {} passed tier {}", v.backup_id, v.tier.as_str());
                conditions::set(conds, READY, true, "Verified", &msg, generation, now);
                conditions::set(
                    conds,
                    LAST_VERIFICATION_SUCCEEDED,
                    true,
                    "Verified",
                    &msg,
                    generation,
                    now,
                );
            } else {
                status.phase = RestorePhase::Failed;
                let msg =
                    format!("drill of backup {} failed: {}", v.backup_id, v.problems.join("; "));
                conditions::set(conds, READY, false, "VerificationFailed", &msg, generation, now);
                conditions::set(
                    conds,
                    LAST_VERIFICATION_SUCCEEDED,
                    false,
                    "VerificationFailed",
                    &msg,
                    generation,
                    now,
                );
            }
            conditions::set(conds, STALLED, false, "Finished", "", generation, now);
        }
        Ok(other) => {
            status.phase = RestorePhase::Failed;
            let msg = format!("unexpected outcome {other:?}");
            status.message = Some(msg.clone());
            conditions::set(conds, READY, false, "ExecutorError", &msg, generation, now);
        }
        Err(e) => {
            status.phase = RestorePhase::Failed;
            let msg = e.to_string();
            status.message = Some(crate::executor::truncate(&msg, 1024));
            conditions::set(conds, READY, false, e.reason(), &msg, generation, now);
            conditions::set(conds, STALLED, !e.transient(), e.reason(), &msg, generation, now);
            if status.tier.is_some() {
                conditions::set(
                    conds,
                    LAST_VERIFICATION_SUCCEEDED,
                    false,
                    e.reason(),
                    &msg,
                    generation,
                    now,
                );
            }
        }
    }
    status
}

/// Sets `Stalled`/`Ready=False` with `reason` and looks again after `retry` (the Restore
/// stays Pending: the cause may be fixed without editing it).
async fn blocked(
    restore: &Restore,
    ctx: &Context,
    reason: &str,
    msg: &str,
    retry: Duration,
) -> Result<Action, Error> {
    let (generation, now) = (restore.metadata.generation, ctx.clock.now());
    let old = restore.status.clone().unwrap_or_default();
    let mut new = old.clone();
    new.observed_generation = generation;
    conditions::set(&mut new.conditions, READY, false, reason, msg, generation, now);
    conditions::set(&mut new.conditions, STALLED, true, reason, msg, generation, now);
    update_status(&ctx.client, restore, CONTROLLER, Some(&old), &new).await?;
    Ok(Action::requeue(retry))
}

/// Reconciles one Restore (see the module documentation).
pub async fn reconcile(restore: Arc<Restore>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.metrics.reconcile(CONTROLLER);
    let ns = restore.namespace().unwrap_or_default();
    let name = restore.name_any();
    let api: Api<Restore> = Api::namespaced(ctx.client.clone(), &ns);
    // Fresh, not the cached copy (see `controllers`: read your own writes).
    let Some(restore) = api.get_opt(&name).await? else {
        return Ok(Action::await_change());
    };
    let restore = Arc::new(restore);
    let generation = restore.metadata.generation;
    let now = ctx.clock.now();
    let old = restore.status.clone().unwrap_or_default();
    let mode = restore.spec.mode;

    let takeover = match next_step(restore.status.as_ref(), mode, now) {
        RestoreStep::Done => return Ok(Action::await_change()),
        RestoreStep::WaitUntil(t) => {
            let secs = t.duration_since(now).as_secs().clamp(1, 3600) as u64;
            return Ok(Action::requeue(Duration::from_secs(secs + 1)));
        }
        RestoreStep::WorkerLost => {
            let msg = format!(
                "worker {} stopped renewing its lease; the restore ran in one transaction, so the \
                 target holds all of it or none of it: check the target, then create a new Restore",
                old.worker.clone().unwrap_or_else(|| "(unknown)".into())
            );
            let mut new =
                finish(old.clone(), &Err(ExecError::executor(msg.clone())), generation, now);
            conditions::set(&mut new.conditions, READY, false, "WorkerLost", &msg, generation, now);
            conditions::set(
                &mut new.conditions,
                STALLED,
                true,
                "WorkerLost",
                &msg,
                generation,
                now,
            );
            update_status(&ctx.client, restore.as_ref(), CONTROLLER, Some(&old), &new).await?;
            return Ok(Action::await_change());
        }
        RestoreStep::Start { takeover } => takeover,
    };

    let backups: Api<Backup> = Api::namespaced(ctx.client.clone(), &ns);
    let Some(backup) = backups.get_opt(&restore.spec.backup_ref).await? else {
        let msg = format!("Backup {ns}/{} not found", restore.spec.backup_ref);
        return blocked(&restore, &ctx, "BackupNotFound", &msg, Duration::from_secs(60)).await;
    };
    let bstatus = backup.status.clone().unwrap_or_default();
    match (bstatus.phase, &bstatus.backup_id) {
        (BackupPhase::Succeeded, Some(_)) => {}
        (BackupPhase::Failed, _) => {
            let msg =
                format!("Backup {ns}/{} failed; there is nothing to restore", backup.name_any());
            let mut new =
                finish(old.clone(), &Err(ExecError::executor(msg.clone())), generation, now);
            conditions::set(
                &mut new.conditions,
                READY,
                false,
                "BackupFailed",
                &msg,
                generation,
                now,
            );
            update_status(&ctx.client, restore.as_ref(), CONTROLLER, Some(&old), &new).await?;
            return Ok(Action::await_change());
        }
        _ => {
            let mut new = old.clone();
            let msg = format!("waiting for Backup {ns}/{} to succeed", backup.name_any());
            conditions::set(
                &mut new.conditions,
                RECONCILING,
                true,
                "WaitingForBackup",
                &msg,
                generation,
                now,
            );
            conditions::set(
                &mut new.conditions,
                READY,
                false,
                "WaitingForBackup",
                &msg,
                generation,
                now,
            );
            update_status(&ctx.client, restore.as_ref(), CONTROLLER, Some(&old), &new).await?;
            return Ok(Action::requeue(Duration::from_secs(30)));
        }
    }
    let backup_id = bstatus.backup_id.clone().unwrap_or_default();
    let policies: Api<BackupPolicy> = Api::namespaced(ctx.client.clone(), &ns);
    let Some(policy) = policies.get_opt(&backup.spec.policy_ref).await? else {
        let msg = format!(
            "BackupPolicy {ns}/{} of Backup {} not found",
            backup.spec.policy_ref,
            backup.name_any()
        );
        return blocked(&restore, &ctx, "PolicyNotFound", &msg, Duration::from_secs(60)).await;
    };

    let inputs = async {
        let store = store_target(&ctx.client, &ns, &policy.spec.store).await?;
        let identities = match policy.spec.encryption.as_ref().and_then(|e| e.identity_secret_ref.as_ref()) {
            Some(r) => Some(SecretString::from(secret_value(&ctx.client, &ns, r).await?)),
            None => None,
        };
        let work = match mode {
            RestoreMode::Restore => {
                let Some(r) = &restore.spec.target_database_secret_ref else {
                    return Err("mode Restore needs targetDatabaseSecretRef".to_owned());
                };
                let target = secret_value(&ctx.client, &ns, r).await?;
                Work::Restore {
                    store,
                    backup_id: backup_id.clone(),
                    target_database_url: target.into(),
                    replace: restore.spec.replace,
                    identities,
                }
            }
            RestoreMode::Verify => {
                let tier = restore.spec.tier.unwrap_or(VerifyTier::Restore);
                let v = policy.spec.verification.as_ref();
                let scratch = match v.and_then(|v| v.scratch_server_secret_ref.as_ref()) {
                    Some(r) => Some(SecretString::from(secret_value(&ctx.client, &ns, r).await?)),
                    None if tier == VerifyTier::Restore => {
                        return Err(format!(
                            "a restore drill needs verification.scratchServerSecretRef in BackupPolicy {ns}/{}",
                            policy.name_any()
                        ));
                    }
                    None => None,
                };
                Work::Verify {
                    store,
                    backup_id: backup_id.clone(),
                    tier,
                    scratch_server_url: scratch,
                    identities,
                    queries: v.map(|v| v.queries.clone()).unwrap_or_default(),
                    record: true,
                }
            }
        };
        Ok::<_, String>(work)
    }
    .await;
    let work = match inputs {
        Ok(w) => w,
        Err(msg) => {
            return blocked(&restore, &ctx, "InputMissing", &msg, Duration::from_secs(60)).await;
        }
    };

    let lease = lease_of(&policy.spec);
    let mut status = old.clone();
    status.phase = RestorePhase::Running;
    status.worker = Some(worker_identity().to_owned());
    status.lease_expires = Some(Time(now + lease));
    status.started_time = Some(Time(now));
    status.backup_id = Some(backup_id);
    status.observed_generation = generation;
    if let Work::Verify { tier, .. } = &work {
        status.tier = Some(*tier);
    }
    let msg = format!(
        "{} of backup {}",
        if mode == RestoreMode::Verify { "drill" } else { "restore" },
        status.backup_id.clone().unwrap_or_default()
    );
    conditions::set(&mut status.conditions, RECONCILING, true, "Running", &msg, generation, now);
    conditions::set(&mut status.conditions, STALLED, false, "Running", "", generation, now);
    // A compare-and-swap on the resourceVersion read above: one claim wins (see `backup`).
    let claimed_at =
        match claim_status(&ctx.client, restore.as_ref(), CONTROLLER, Some(&old), &status).await? {
            Cas::Written(rv) => rv,
            Cas::Stale => return Ok(Action::requeue(CLAIM_LOST_RECHECK)),
        };
    if takeover {
        let note = format!(
            "drill worker {} stopped renewing its lease; running the drill again",
            old.worker.clone().unwrap_or_else(|| "(unknown)".into())
        );
        emit_event(&ctx.client, restore.as_ref(), true, "WorkerLost", "Restore", &note).await;
    }
    let mut writes = ClaimedWrites::new(api, &name, CONTROLLER, claimed_at, claimed_by_me);
    let Some(result) = with_lease(&mut writes, &ctx, lease, &mut status, work).await else {
        return Ok(Action::await_change());
    };
    let last_written = status.clone();
    let new = finish(status, &result, generation, ctx.clock.now());
    if writes.write(&new).await? {
        let before = last_written.conditions.as_slice();
        if let Err(e) = publish_transitions(
            &recorder(ctx.client.clone()),
            restore.as_ref(),
            before,
            &new.conditions,
        )
        .await
        {
            tracing::warn!(restore = %name, error = %e, "cannot publish events");
        }
    }
    Ok(Action::await_change())
}

/// Whether this process's claim of `restore` stands (it is Running under this worker).
fn claimed_by_me(restore: &Restore) -> bool {
    restore.status.as_ref().is_some_and(|s| {
        s.phase == RestorePhase::Running && s.worker.as_deref() == Some(worker_identity())
    })
}

/// Counts the error and requeues the object after its per-object backoff delay
/// ([`crate::backoff`]: 5 s doubling to 5 min with jitter; reset by a successful reconcile).
pub fn error_policy(obj: Arc<Restore>, error: &Error, ctx: Arc<Context>) -> Action {
    crate::controllers::backoff_on_error(CONTROLLER, obj.as_ref(), error, &ctx)
}

/// Runs the Restore controller until `shutdown` resolves.
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let api: Api<Restore> = ctx.api();
    Controller::new(api, watcher::Config::default())
        .graceful_shutdown_on(shutdown)
        .run(
            |obj, ctx| crate::controllers::reconcile_with_backoff(CONTROLLER, obj, ctx, reconcile),
            error_policy,
            ctx,
        )
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(error = %e, "restore controller");
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::{FailureReason, VerificationRecord};

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn running(lease: Option<&str>) -> RestoreStatus {
        RestoreStatus {
            phase: RestorePhase::Running,
            worker: Some("operator-0/1-1".into()),
            lease_expires: lease.map(|t| Time(ts(t))),
            ..Default::default()
        }
    }

    const NOW: &str = "2026-11-25T04:00:00Z";

    #[test]
    fn steps() {
        assert_eq!(
            next_step(None, RestoreMode::Restore, ts(NOW)),
            RestoreStep::Start { takeover: false }
        );
        let live = running(Some("2026-11-25T04:01:00Z"));
        assert_eq!(
            next_step(Some(&live), RestoreMode::Restore, ts(NOW)),
            RestoreStep::WaitUntil(ts("2026-11-25T04:01:00Z"))
        );
        let lost = running(Some("2026-11-25T03:59:00Z"));
        assert_eq!(
            next_step(Some(&lost), RestoreMode::Restore, ts(NOW)),
            RestoreStep::WorkerLost,
            "never re-run a restore"
        );
        assert_eq!(
            next_step(Some(&lost), RestoreMode::Verify, ts(NOW)),
            RestoreStep::Start { takeover: true },
            "drills are re-run"
        );
        for p in [RestorePhase::Succeeded, RestorePhase::Failed] {
            let s = RestoreStatus { phase: p, ..Default::default() };
            assert_eq!(
                next_step(Some(&s), RestoreMode::Verify, ts(NOW)),
                RestoreStep::Done,
                "runs once"
            );
        }
    }

    #[test]
    fn drill_results_are_recorded() {
        let ok = Ok(Outcome::Verified {
            verification: VerificationRecord {
                backup_id: "b1".into(),
                tier: VerifyTier::Restore,
                passed: true,
                started: NOW.into(),
                problems: vec![],
            },
        });
        let s = finish(running(None), &ok, Some(1), ts(NOW));
        assert_eq!(
            (s.phase, s.passed, s.tier),
            (RestorePhase::Succeeded, Some(true), Some(VerifyTier::Restore))
        );
        assert_eq!(
            conditions::get(&s.conditions, LAST_VERIFICATION_SUCCEEDED).unwrap().status,
            "True"
        );
        assert_eq!(s.worker, None);
        let bad = Ok(Outcome::Verified {
            verification: VerificationRecord {
                backup_id: "b1".into(),
                tier: VerifyTier::Restore,
                passed: false,
                started: NOW.into(),
                problems: vec!["db-verify/query-failed: SELECT count(*) > 0 FROM users".into()],
            },
        });
        let s = finish(running(None), &bad, Some(1), ts(NOW));
        assert_eq!(s.phase, RestorePhase::Failed);
        let c = conditions::get(&s.conditions, LAST_VERIFICATION_SUCCEEDED).unwrap();
        assert_eq!((c.status.as_str(), c.reason.as_str()), ("False", "VerificationFailed"));
        assert!(c.message.contains("users"));
    }

    #[test]
    fn restores_record_tables_and_refusals_stall() {
        let ok = Ok(Outcome::Restored { backup_id: "b1".into(), tables: 4, replaced: false });
        let s = finish(running(None), &ok, None, ts(NOW));
        assert_eq!((s.phase, s.tables), (RestorePhase::Succeeded, Some(4)));
        let refused =
            Err(ExecError::failed(FailureReason::TargetNotEmpty, "target has 3 user tables"));
        let s = finish(running(None), &refused, None, ts(NOW));
        assert_eq!(s.phase, RestorePhase::Failed);
        let stalled = conditions::get(&s.conditions, STALLED).unwrap();
        assert_eq!((stalled.status.as_str(), stalled.reason.as_str()), ("True", "TargetNotEmpty"));
    }
}
