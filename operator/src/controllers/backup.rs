//! The Backup controller: runs one backup (and its verification) through the executor, under
//! a lease, and records the result.
//!
//! Reconcile = read the Backup (and its policy and Secrets), decide with the pure
//! [`next_step`], write status by server-side apply, return an `Action`:
//!
//! - **Pending** → claim it: `phase: Running`, `worker` (this process), `leaseExpires`
//!   (`now + leaseSeconds`), `attempts + 1`, written as a compare-and-swap on the
//!   `resourceVersion` the reconcile read ([`claim_status`]): of two workers that read the same
//!   Backup, one claims it and the other gets 409 Conflict and leaves it alone. Then wait for a
//!   slot of the work's class (`executor::limits`; `Reconciling`/`Queued` with the position
//!   meanwhile) and run the work while a heartbeat renews the lease every third of its length
//!   (renewals and the result are compare-and-swap writes too: [`ClaimedWrites`]). Backup
//!   first, then verification at the policy's tier (recorded in the store's metadata, so
//!   retention knows the backup is verified).
//! - **Running** with a live lease → someone else (or this process before a restart) holds it:
//!   look again when the lease runs out.
//! - **Running** with an expired lease → the worker died: a `WorkerLost` warning event, then
//!   another attempt takes over (the Job executor re-adopts a Job still running the same work),
//!   or, when the attempts are used up, `Failed` with reason `WorkerLost`. A Backup therefore
//!   never stays Running after its worker died.
//! - Transient failures (unreachable database or store, a failing tool) go back to Pending with
//!   `retryAfter` (1, 2, 4… minutes) until `maxAttempts`; other failures (bad credentials,
//!   pg_dump older than the server, bad recipients) fail at once and set `Stalled`.
//!
//! **No finalizer, on purpose.** Deleting a Backup object must never delete the stored backup
//! (the operator never deletes a backup implicitly), and the stored backup stays governed by
//! the policy's retention, which judges the store's own listing, not these objects. With nothing
//! to clean up outside the cluster there is nothing for a finalizer to do, and none is added.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::conditions::{
    self, LAST_BACKUP_SUCCEEDED, LAST_VERIFICATION_SUCCEEDED, READY, RECONCILING, STALLED,
};
use crate::context::Context;
use crate::controllers::{
    Cas, claim_status, emit_event, publish_transitions, recorder, update_status, write_status_cas,
};
use crate::crd::backup::{
    Backup, BackupPhase, BackupPolicy, BackupPolicySpec, BackupStatus, DEFAULT_LEASE_SECONDS,
    DEFAULT_MAX_ATTEMPTS, MAX_LISTED, SecretKeyRef, StoreSpec, VerificationStatus,
};
use crate::executor::limits::WorkClass;
use crate::executor::{
    ExecError, Outcome, SecretString, StoreCredentials, StoreTarget, VerifyTier, Work,
};

/// This controller's name (metrics label, field manager suffix).
pub const CONTROLLER: &str = "backup";

pub use crate::controllers::Error;

/// This process's identity as a worker: `POD_NAME` (or `HOSTNAME`), the process id and its
/// start time, so a restarted operator never mistakes an old lease for its own.
pub fn worker_identity() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let host = std::env::var("POD_NAME")
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| "operator".to_owned());
        format!("{host}/{}-{}", std::process::id(), Timestamp::now().as_second())
    })
}

/// What to do with a Backup now (pure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupStep {
    /// Finished (Succeeded or Failed): nothing to do.
    Done,
    /// Look again at this time (a retry delay or someone else's live lease).
    WaitUntil(Timestamp),
    /// Start an attempt; `takeover` when a lost worker's lease expired.
    Start {
        /// Whether this takes over from a lost worker.
        takeover: bool,
    },
    /// The lease of the last allowed attempt expired: fail with `WorkerLost`.
    GiveUp,
}

/// Decides the next step for a Backup with `status` at `now`.
pub fn next_step(status: Option<&BackupStatus>, now: Timestamp, max_attempts: u32) -> BackupStep {
    let Some(s) = status else { return BackupStep::Start { takeover: false } };
    match s.phase {
        BackupPhase::Succeeded | BackupPhase::Failed => BackupStep::Done,
        BackupPhase::Pending => match &s.retry_after {
            Some(t) if t.0 > now => BackupStep::WaitUntil(t.0),
            _ if s.attempts >= max_attempts => BackupStep::GiveUp,
            _ => BackupStep::Start { takeover: false },
        },
        BackupPhase::Running => match &s.lease_expires {
            Some(t) if t.0 > now => BackupStep::WaitUntil(t.0),
            _ if s.attempts >= max_attempts => BackupStep::GiveUp,
            _ => BackupStep::Start { takeover: true },
        },
    }
}

/// Delay before retry number `attempts` (1 min, 2 min, 4 min…, at most 30 min).
pub fn retry_delay(attempts: u32) -> SignedDuration {
    let minutes = 1i64 << attempts.saturating_sub(1).min(5);
    SignedDuration::from_mins(minutes.min(30))
}

/// The status after an attempt ended with `result` (pure). `verify` says whether a
/// verification result is expected in `result` (see [`record_outcome`]).
pub fn finish_attempt(
    mut status: BackupStatus,
    result: Result<(), ExecError>,
    max_attempts: u32,
    generation: Option<i64>,
    now: Timestamp,
) -> BackupStatus {
    status.worker = None;
    status.lease_expires = None;
    let conds = &mut status.conditions;
    conditions::set(conds, RECONCILING, false, "Finished", "", generation, now);
    match result {
        Ok(()) => {
            status.phase = BackupPhase::Succeeded;
            status.finished_time = Some(Time(now));
            status.retry_after = None;
            status.message = None;
            let msg = format!(
                "backup {} stored ({} bytes)",
                status.backup_id.clone().unwrap_or_default(),
                status.size.unwrap_or(0)
            );
            let conds = &mut status.conditions;
            conditions::set(
                conds,
                LAST_BACKUP_SUCCEEDED,
                true,
                "BackupStored",
                &msg,
                generation,
                now,
            );
            conditions::set(conds, STALLED, false, "Succeeded", "", generation, now);
            match &status.verification {
                Some(v) if !v.passed => {
                    let m = format!(
                        "verification ({}) failed: {}",
                        v.tier.as_str(),
                        v.problems.join("; ")
                    );
                    conditions::set(conds, READY, false, "VerificationFailed", &m, generation, now);
                }
                _ => {
                    conditions::set(conds, READY, true, "Succeeded", &msg, generation, now);
                }
            }
        }
        Err(e) => {
            let reason = e.reason();
            let message = e.to_string();
            status.message = Some(crate::executor::truncate(&message, 1024));
            let retry = e.transient() && status.attempts < max_attempts;
            let conds = &mut status.conditions;
            if retry {
                status.phase = BackupPhase::Pending;
                status.retry_after = Some(Time(now + retry_delay(status.attempts)));
                let m = format!("attempt {} failed, will retry: {message}", status.attempts);
                conditions::set(conds, READY, false, reason, &m, generation, now);
                conditions::set(conds, STALLED, false, reason, "", generation, now);
            } else {
                status.phase = BackupPhase::Failed;
                status.finished_time = Some(Time(now));
                status.retry_after = None;
                conditions::set(conds, READY, false, reason, &message, generation, now);
                conditions::set(
                    conds,
                    LAST_BACKUP_SUCCEEDED,
                    false,
                    reason,
                    &message,
                    generation,
                    now,
                );
                // Out of attempts on a transient error is not a human's problem; anything else is.
                conditions::set(conds, STALLED, !e.transient(), reason, &message, generation, now);
            }
        }
    }
    status
}

/// Copies a work outcome into the status (pure): the stored backup's record, or a
/// verification's result.
pub fn record_outcome(
    status: &mut BackupStatus,
    outcome: &Outcome,
    generation: Option<i64>,
    now: Timestamp,
) {
    match outcome {
        Outcome::BackedUp { backup } => {
            status.backup_id = Some(backup.id.clone());
            status.database = Some(backup.database.clone());
            status.key = Some(backup.key.clone());
            status.sha256 = Some(backup.sha256.clone());
            status.size = Some(backup.size);
            status.encrypted = backup.encrypted;
        }
        Outcome::Verified { verification } => {
            status.verification = Some(VerificationStatus {
                tier: verification.tier,
                passed: verification.passed,
                time: Some(Time(now)),
                problems: verification.problems.iter().take(MAX_LISTED).cloned().collect(),
            });
            let (reason, msg) = if verification.passed {
                ("Verified", format!("tier {} passed", verification.tier.as_str()))
            } else {
                ("VerificationFailed", verification.problems.join("; "))
            };
            conditions::set(
                &mut status.conditions,
                LAST_VERIFICATION_SUCCEEDED,
                verification.passed,
                reason,
                &msg,
                generation,
                now,
            );
        }
        _ => {}
    }
}

/// Reads one key of a Secret in `namespace`; the error names the Secret and key.
pub async fn secret_value(
    client: &Client,
    namespace: &str,
    r: &SecretKeyRef,
) -> Result<String, String> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = api
        .get_opt(&r.name)
        .await
        .map_err(|e| format!("reading Secret {namespace}/{}: {e}", r.name))?
        .ok_or_else(|| format!("Secret {namespace}/{} not found", r.name))?;
    secret_key(&secret, &r.key)
        .ok_or_else(|| format!("Secret {namespace}/{} has no key {:?}", r.name, r.key))
}

fn secret_key(secret: &Secret, key: &str) -> Option<String> {
    if let Some(v) = secret.data.as_ref().and_then(|d| d.get(key)) {
        return String::from_utf8(v.0.clone()).ok().map(|s| s.trim().to_owned());
    }
    secret.string_data.as_ref().and_then(|d| d.get(key)).map(|s| s.trim().to_owned())
}

/// The store of a policy, with credentials from its Secret.
pub async fn store_target(
    client: &Client,
    namespace: &str,
    store: &StoreSpec,
) -> Result<StoreTarget, String> {
    let credentials = match &store.credentials_secret_ref {
        None => None,
        Some(r) => {
            let key = |k: &str| SecretKeyRef { name: r.name.clone(), key: k.to_owned() };
            let id = secret_value(client, namespace, &key("AWS_ACCESS_KEY_ID")).await?;
            let secret = secret_value(client, namespace, &key("AWS_SECRET_ACCESS_KEY")).await?;
            let token = secret_value(client, namespace, &key("AWS_SESSION_TOKEN")).await.ok();
            Some(StoreCredentials {
                access_key_id: id.into(),
                secret_access_key: secret.into(),
                session_token: token.map(SecretString::from),
            })
        }
    };
    Ok(StoreTarget { url: store.url.clone(), credentials })
}

/// The lease length of a policy.
pub fn lease_of(spec: &BackupPolicySpec) -> SignedDuration {
    SignedDuration::from_secs(spec.lease_seconds.unwrap_or(DEFAULT_LEASE_SECONDS).max(10))
}

/// A status with a worker lease.
pub trait Leased {
    /// Sets when the lease runs out.
    fn set_lease(&mut self, expires: Timestamp);
    /// Shows that the work waits for a slot (`Reconciling` with reason `Queued` and `message`,
    /// e.g. the queue position), or, with `None`, that it runs (reason `Running`).
    fn set_queued(&mut self, message: Option<&str>, now: Timestamp);
}

fn show_queued(
    conds: &mut Vec<Condition>,
    generation: Option<i64>,
    message: Option<&str>,
    now: Timestamp,
) {
    let (reason, message) = match message {
        Some(m) => ("Queued", format!("waiting for a work slot: {m}")),
        None => ("Running", String::new()),
    };
    let message = match conditions::get(conds, RECONCILING) {
        // Keep the attempt message of a running claim.
        Some(c) if reason == "Running" && c.reason == "Running" => c.message.clone(),
        _ => message,
    };
    conditions::set(conds, RECONCILING, true, reason, &message, generation, now);
}

impl Leased for BackupStatus {
    fn set_lease(&mut self, expires: Timestamp) {
        self.lease_expires = Some(Time(expires));
    }
    fn set_queued(&mut self, message: Option<&str>, now: Timestamp) {
        show_queued(&mut self.conditions, self.observed_generation, message, now);
    }
}

impl Leased for crate::crd::backup::RestoreStatus {
    fn set_lease(&mut self, expires: Timestamp) {
        self.lease_expires = Some(Time(expires));
    }
    fn set_queued(&mut self, message: Option<&str>, now: Timestamp) {
        show_queued(&mut self.conditions, self.observed_generation, message, now);
    }
}

/// The status writes of an object this worker claimed: each one a compare-and-swap
/// ([`write_status_cas`]) against the `resourceVersion` of the previous write, so a worker whose
/// claim was taken over (its lease expired and another worker claimed the object) can never
/// overwrite the new owner's status. When the object moved on for another reason (a label or
/// annotation edit), it is read again and the write retried as long as `still_ours` says the
/// claim is still this worker's.
pub struct ClaimedWrites<K> {
    api: Api<K>,
    name: String,
    controller: &'static str,
    resource_version: Option<String>,
    still_ours: fn(&K) -> bool,
    lost: bool,
}

impl<K> ClaimedWrites<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    /// Writes after a claim that left the object at `resource_version`.
    pub fn new(
        api: Api<K>,
        name: &str,
        controller: &'static str,
        resource_version: Option<String>,
        still_ours: fn(&K) -> bool,
    ) -> Self {
        ClaimedWrites {
            api,
            name: name.to_owned(),
            controller,
            resource_version,
            still_ours,
            lost: false,
        }
    }

    /// Whether another worker took the object over (no write is made any more).
    pub fn lost(&self) -> bool {
        self.lost
    }

    /// Writes `status` unless the claim was lost; `Ok(false)` when it was (now or before).
    pub async fn write<S: Serialize>(&mut self, status: &S) -> Result<bool, kube::Error> {
        for _ in 0..5 {
            if self.lost {
                return Ok(false);
            }
            let rv = self.resource_version.as_deref();
            match write_status_cas(&self.api, &self.name, self.controller, rv, status).await? {
                Cas::Written(rv) => {
                    self.resource_version = rv;
                    return Ok(true);
                }
                Cas::Stale => match self.api.get_opt(&self.name).await? {
                    Some(fresh) if (self.still_ours)(&fresh) => {
                        self.resource_version = fresh.meta().resource_version.clone();
                    }
                    _ => {
                        tracing::warn!(name = %self.name, controller = self.controller,
                            "another worker took over this claim; not writing any more");
                        self.lost = true;
                    }
                },
            }
        }
        Ok(false)
    }
}

/// Writes `status` through `writes` when it differs from the last `written` one (a failed
/// write is logged: the next renewal tries again).
async fn renew<K, S>(status: &S, written: &mut S, writes: &mut ClaimedWrites<K>)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize + PartialEq + Clone,
{
    if status != written {
        match writes.write(status).await {
            Ok(_) => *written = status.clone(),
            Err(e) => tracing::warn!(error = %e, "cannot renew the worker lease"),
        }
    }
}

/// How often a queued claim refreshes its queue position in status.
const QUEUE_REFRESH: Duration = Duration::from_secs(10);

/// Runs `work` for a claimed object: first waits for a slot of the work's class
/// ([`crate::executor::limits`]; the status shows `Reconciling`/`Queued` with the position
/// meanwhile), then runs it, renewing the lease in `status` every third of `lease` throughout.
/// Every write goes through `writes` (compare-and-swap). `None` when the claim was lost to
/// another worker: the work was not started (when lost while queued), or its result must not
/// be recorded (the new owner runs it and records its own).
pub async fn with_lease<K, S>(
    writes: &mut ClaimedWrites<K>,
    ctx: &Context,
    lease: SignedDuration,
    status: &mut S,
    work: Work,
) -> Option<Result<Outcome, ExecError>>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize + PartialEq + Clone + Leased,
{
    let period = Duration::from_secs((lease.as_secs() / 3).max(1) as u64);
    let mut written = status.clone();
    let _slot = match WorkClass::of(&work) {
        None => None,
        Some(class) => {
            let mut ticket = ctx.limits.enter(class);
            let mut queued = false;
            let slot = loop {
                if let Some(slot) = ticket.admit().now_or_never() {
                    break slot;
                }
                let position = ticket.position().map(|p| p.describe(class));
                status.set_queued(position.as_deref(), ctx.clock.now());
                queued = true;
                renew(status, &mut written, writes).await;
                if writes.lost() {
                    return None;
                }
                tokio::select! {
                    slot = ticket.admit() => break slot,
                    _ = tokio::time::sleep(period.min(QUEUE_REFRESH)) => {
                        status.set_lease(ctx.clock.now() + lease);
                    }
                }
            };
            if queued {
                status.set_queued(None, ctx.clock.now());
                status.set_lease(ctx.clock.now() + lease);
                renew(status, &mut written, writes).await;
            }
            Some(slot)
        }
    };
    if writes.lost() {
        return None;
    }
    let run = ctx.executor.run(work);
    tokio::pin!(run);
    let result = loop {
        tokio::select! {
            r = &mut run => break r,
            _ = tokio::time::sleep(period) => {
                status.set_lease(ctx.clock.now() + lease);
                renew(status, &mut written, writes).await;
            }
        }
    };
    (!writes.lost()).then_some(result)
}

/// Writes `new` (when changed) and publishes events for condition transitions.
fn requeue_at(t: Timestamp, now: Timestamp) -> Action {
    let secs = t.duration_since(now).as_secs().clamp(1, 3600);
    Action::requeue(Duration::from_secs(secs as u64 + 1))
}

/// Reconciles one Backup (see the module documentation).
pub async fn reconcile(backup: Arc<Backup>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.metrics.reconcile(CONTROLLER);
    let ns = backup.namespace().unwrap_or_default();
    let name = backup.name_any();
    let api: Api<Backup> = Api::namespaced(ctx.client.clone(), &ns);
    // Fresh, not the cached copy (see `controllers`: read your own writes): a stale copy of a
    // finished Backup still says Pending, and would be claimed and run again.
    let Some(backup) = api.get_opt(&name).await? else {
        return Ok(Action::await_change());
    };
    let backup = Arc::new(backup);
    let generation = backup.metadata.generation;
    let now = ctx.clock.now();
    let old = backup.status.clone().unwrap_or_default();

    let policies: Api<BackupPolicy> = Api::namespaced(ctx.client.clone(), &ns);
    let Some(policy) = policies.get_opt(&backup.spec.policy_ref).await? else {
        if matches!(old.phase, BackupPhase::Succeeded | BackupPhase::Failed) {
            return Ok(Action::await_change());
        }
        let mut new = old.clone();
        let msg = format!("BackupPolicy {ns}/{} not found", backup.spec.policy_ref);
        conditions::set(&mut new.conditions, READY, false, "PolicyNotFound", &msg, generation, now);
        conditions::set(
            &mut new.conditions,
            STALLED,
            true,
            "PolicyNotFound",
            &msg,
            generation,
            now,
        );
        update_status(&ctx.client, backup.as_ref(), CONTROLLER, Some(&old), &new).await?;
        return Ok(Action::requeue(Duration::from_secs(300)));
    };
    let max_attempts = policy.spec.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS).max(1);

    let takeover = match next_step(backup.status.as_ref(), now, max_attempts) {
        BackupStep::Done => return Ok(Action::await_change()),
        BackupStep::WaitUntil(t) => return Ok(requeue_at(t, now)),
        BackupStep::GiveUp => {
            let (reason, msg) = if old.phase == BackupPhase::Running {
                let worker = old.worker.clone().unwrap_or_else(|| "(unknown)".into());
                (
                    "WorkerLost",
                    format!(
                        "worker {worker} stopped renewing its lease and all {max_attempts} attempts are used"
                    ),
                )
            } else {
                ("AttemptsExhausted", format!("all {max_attempts} attempts are used"))
            };
            emit_event(&ctx.client, backup.as_ref(), true, reason, "Backup", &msg).await;
            let mut new = finish_attempt(
                old.clone(),
                Err(ExecError::executor(msg.clone())),
                0,
                generation,
                now,
            );
            conditions::set(&mut new.conditions, READY, false, reason, &msg, generation, now);
            conditions::set(
                &mut new.conditions,
                LAST_BACKUP_SUCCEEDED,
                false,
                reason,
                &msg,
                generation,
                now,
            );
            update_status(&ctx.client, backup.as_ref(), CONTROLLER, Some(&old), &new).await?;
            return Ok(Action::await_change());
        }
        BackupStep::Start { takeover } => takeover,
    };

    // Everything the work needs, before claiming: a missing Secret is not an attempt.
    let inputs = async {
        let url = secret_value(&ctx.client, &ns, &policy.spec.database_secret_ref).await?;
        let store = store_target(&ctx.client, &ns, &policy.spec.store).await?;
        let identities =
            match policy.spec.encryption.as_ref().and_then(|e| e.identity_secret_ref.as_ref()) {
                Some(r) => Some(secret_value(&ctx.client, &ns, r).await?),
                None => None,
            };
        let scratch = match policy
            .spec
            .verification
            .as_ref()
            .and_then(|v| v.scratch_server_secret_ref.as_ref())
        {
            Some(r) => Some(secret_value(&ctx.client, &ns, r).await?),
            None => None,
        };
        Ok::<_, String>((url, store, identities, scratch))
    }
    .await;
    let (url, store, identities, scratch) = match inputs {
        Ok(v) => v,
        Err(msg) => {
            let mut new = old.clone();
            conditions::set(
                &mut new.conditions,
                READY,
                false,
                "SecretNotFound",
                &msg,
                generation,
                now,
            );
            conditions::set(
                &mut new.conditions,
                STALLED,
                true,
                "SecretNotFound",
                &msg,
                generation,
                now,
            );
            update_status(&ctx.client, backup.as_ref(), CONTROLLER, Some(&old), &new).await?;
            return Ok(Action::requeue(Duration::from_secs(60)));
        }
    };

    let lease = lease_of(&policy.spec);
    let mut status = old.clone();
    status.phase = BackupPhase::Running;
    status.worker = Some(worker_identity().to_owned());
    status.lease_expires = Some(Time(now + lease));
    status.attempts += 1;
    status.started_time = Some(Time(now));
    status.retry_after = None;
    status.observed_generation = generation;
    let msg = format!("attempt {} of {max_attempts}", status.attempts);
    conditions::set(&mut status.conditions, RECONCILING, true, "Running", &msg, generation, now);
    conditions::set(&mut status.conditions, STALLED, false, "Running", "", generation, now);
    // The claim is a compare-and-swap on the resourceVersion read above: of two workers that
    // read the same Pending (or expired) Backup, exactly one claims it and runs it.
    let claimed_at =
        match claim_status(&ctx.client, backup.as_ref(), CONTROLLER, Some(&old), &status).await? {
            Cas::Written(rv) => rv,
            Cas::Stale => return Ok(Action::requeue(CLAIM_LOST_RECHECK)),
        };
    if takeover {
        let msg = format!(
            "worker {} stopped renewing its lease (expired {}); taking over",
            old.worker.clone().unwrap_or_else(|| "(unknown)".into()),
            old.lease_expires.as_ref().map(|t| t.0.to_string()).unwrap_or_default()
        );
        emit_event(&ctx.client, backup.as_ref(), true, "WorkerLost", "Backup", &msg).await;
    }
    let mut writes = ClaimedWrites::new(api, &name, CONTROLLER, claimed_at, claimed_by_me);

    let recipients =
        policy.spec.encryption.as_ref().map(|e| e.recipients.clone()).unwrap_or_default();
    let work = Work::Backup { database_url: url.into(), store: store.clone(), recipients };
    let Some(result) = with_lease(&mut writes, &ctx, lease, &mut status, work).await else {
        return Ok(Action::await_change());
    };
    let result = match result {
        Ok(outcome) => {
            record_outcome(&mut status, &outcome, generation, ctx.clock.now());
            if let Some(v) = &policy.spec.verification {
                // Make the stored backup visible before verification starts.
                if let Err(e) = writes.write(&status).await {
                    tracing::warn!(backup = %name, error = %e, "cannot record the stored backup yet");
                }
                let verify = Work::Verify {
                    store,
                    backup_id: status.backup_id.clone().unwrap_or_default(),
                    tier: v.tier,
                    scratch_server_url: scratch.map(SecretString::from),
                    identities: identities.map(SecretString::from),
                    queries: v.queries.clone(),
                    record: true,
                };
                match with_lease(&mut writes, &ctx, lease, &mut status, verify).await {
                    None => return Ok(Action::await_change()),
                    Some(Ok(outcome)) => {
                        record_outcome(&mut status, &outcome, generation, ctx.clock.now());
                        Ok(())
                    }
                    // The dump is stored; a verification that could not run is recorded as
                    // failed, not retried as a new backup.
                    Some(Err(e)) => {
                        let failed = Outcome::Verified {
                            verification: crate::executor::VerificationRecord {
                                backup_id: status.backup_id.clone().unwrap_or_default(),
                                tier: v.tier,
                                passed: false,
                                started: ctx.clock.now().to_string(),
                                problems: vec![e.to_string()],
                            },
                        };
                        record_outcome(&mut status, &failed, generation, ctx.clock.now());
                        Ok(())
                    }
                }
            } else {
                Ok(())
            }
        }
        Err(e) => Err(e),
    };
    let last_written = status.clone();
    let new = finish_attempt(status, result, max_attempts, generation, ctx.clock.now());
    if writes.write(&new).await? {
        let before = last_written.conditions.as_slice();
        if let Err(e) = publish_transitions(
            &recorder(ctx.client.clone()),
            backup.as_ref(),
            before,
            &new.conditions,
        )
        .await
        {
            tracing::warn!(backup = %name, error = %e, "cannot publish events");
        }
    }
    Ok(match (&new.phase, &new.retry_after) {
        (BackupPhase::Pending, Some(t)) => requeue_at(t.0, ctx.clock.now()),
        _ => Action::await_change(),
    })
}

/// Whether this process's claim of `backup` stands (it is Running under this worker).
fn claimed_by_me(backup: &Backup) -> bool {
    backup.status.as_ref().is_some_and(|s| {
        s.phase == BackupPhase::Running && s.worker.as_deref() == Some(worker_identity())
    })
}

/// When a claim was lost to another worker: look again after this (the winner's status write
/// wakes the controller anyway).
pub const CLAIM_LOST_RECHECK: Duration = Duration::from_secs(5);

/// Counts the error and requeues the object after its per-object backoff delay
/// ([`crate::backoff`]: 5 s doubling to 5 min with jitter; reset by a successful reconcile).
pub fn error_policy(obj: Arc<Backup>, error: &Error, ctx: Arc<Context>) -> Action {
    crate::controllers::backoff_on_error(CONTROLLER, obj.as_ref(), error, &ctx)
}

/// Runs the Backup controller until `shutdown` resolves.
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let api: Api<Backup> = ctx.api();
    Controller::new(api, watcher::Config::default())
        .graceful_shutdown_on(shutdown)
        .run(
            |obj, ctx| crate::controllers::reconcile_with_backoff(CONTROLLER, obj, ctx, reconcile),
            error_policy,
            ctx,
        )
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(error = %e, "backup controller");
            }
        })
        .await;
}

/// Conditions of the newest finished Backup, for the policy (pure helper): the
/// `LastBackupSucceeded` and `LastVerificationSucceeded` conditions as they stand.
pub fn latest_conditions(status: &BackupStatus) -> (Option<&Condition>, Option<&Condition>) {
    (
        conditions::get(&status.conditions, LAST_BACKUP_SUCCEEDED),
        conditions::get(&status.conditions, LAST_VERIFICATION_SUCCEEDED),
    )
}

/// The tier a policy verifies at (`None`: no verification).
pub fn policy_tier(spec: &BackupPolicySpec) -> Option<VerifyTier> {
    spec.verification.as_ref().map(|v| v.tier)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::{BackupRecord, FailureReason, VerificationRecord};

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// Fixtures that read as sentences: `status().running().lease_until("…")`.
    trait Fixture: Sized {
        fn running(self) -> Self;
        fn lease_until(self, t: &str) -> Self;
        fn attempts(self, n: u32) -> Self;
        fn retry_after(self, t: &str) -> Self;
        fn phase(self, p: BackupPhase) -> Self;
    }

    impl Fixture for BackupStatus {
        fn running(mut self) -> Self {
            self.phase = BackupPhase::Running;
            self.worker = Some("operator-0/1-1".into());
            self
        }
        fn lease_until(mut self, t: &str) -> Self {
            self.lease_expires = Some(Time(ts(t)));
            self
        }
        fn attempts(mut self, n: u32) -> Self {
            self.attempts = n;
            self
        }
        fn retry_after(mut self, t: &str) -> Self {
            self.retry_after = Some(Time(ts(t)));
            self
        }
        fn phase(mut self, p: BackupPhase) -> Self {
            self.phase = p;
            self
        }
    }

    fn status() -> BackupStatus {
        BackupStatus::default()
    }

    const NOW: &str = "2026-11-25T03:10:00Z";

    #[test]
    fn new_and_pending_backups_start() {
        assert_eq!(next_step(None, ts(NOW), 3), BackupStep::Start { takeover: false });
        assert_eq!(next_step(Some(&status()), ts(NOW), 3), BackupStep::Start { takeover: false });
        assert_eq!(
            next_step(Some(&status().attempts(1).retry_after("2026-11-25T03:11:00Z")), ts(NOW), 3),
            BackupStep::WaitUntil(ts("2026-11-25T03:11:00Z"))
        );
        assert_eq!(
            next_step(Some(&status().attempts(1).retry_after("2026-11-25T03:09:00Z")), ts(NOW), 3),
            BackupStep::Start { takeover: false }
        );
    }

    #[test]
    fn a_live_lease_is_respected_and_an_expired_one_taken_over() {
        let live = status().running().attempts(1).lease_until("2026-11-25T03:11:00Z");
        assert_eq!(
            next_step(Some(&live), ts(NOW), 3),
            BackupStep::WaitUntil(ts("2026-11-25T03:11:00Z"))
        );
        let stale = status().running().attempts(1).lease_until("2026-11-25T03:09:59Z");
        assert_eq!(next_step(Some(&stale), ts(NOW), 3), BackupStep::Start { takeover: true });
        let no_lease = status().running().attempts(1);
        assert_eq!(next_step(Some(&no_lease), ts(NOW), 3), BackupStep::Start { takeover: true });
        let exhausted = status().running().attempts(3).lease_until("2026-11-25T03:00:00Z");
        assert_eq!(next_step(Some(&exhausted), ts(NOW), 3), BackupStep::GiveUp);
    }

    #[test]
    fn finished_backups_are_left_alone() {
        for p in [BackupPhase::Succeeded, BackupPhase::Failed] {
            assert_eq!(next_step(Some(&status().phase(p)), ts(NOW), 3), BackupStep::Done);
        }
    }

    #[test]
    fn success_records_the_backup_and_clears_the_lease() {
        let mut s = status().running().attempts(1).lease_until("2026-11-25T03:12:00Z");
        record_outcome(
            &mut s,
            &Outcome::BackedUp {
                backup: BackupRecord {
                    id: "20261125T030000Z-abcdef".into(),
                    database: "app".into(),
                    key: "app/20261125T030000Z-abcdef.dump".into(),
                    size: 1234,
                    sha256: "ab".repeat(32),
                    started: "2026-11-25T03:00:00Z".into(),
                    completed: "2026-11-25T03:01:00Z".into(),
                    encrypted: false,
                    schema_version: None,
                },
            },
            Some(1),
            ts(NOW),
        );
        let s = finish_attempt(s, Ok(()), 3, Some(1), ts(NOW));
        assert_eq!(s.phase, BackupPhase::Succeeded);
        assert_eq!(s.backup_id.as_deref(), Some("20261125T030000Z-abcdef"));
        assert_eq!((s.worker.as_ref(), s.lease_expires.as_ref()), (None, None));
        let c = |t| conditions::get(&s.conditions, t).map(|c| c.status.clone());
        assert_eq!(c(READY).as_deref(), Some("True"));
        assert_eq!(c(LAST_BACKUP_SUCCEEDED).as_deref(), Some("True"));
        assert_eq!(c(RECONCILING).as_deref(), Some("False"));
    }

    #[test]
    fn a_failed_verification_keeps_the_backup_but_not_ready() {
        let mut s = status().running().attempts(1);
        record_outcome(
            &mut s,
            &Outcome::Verified {
                verification: VerificationRecord {
                    backup_id: "b".into(),
                    tier: VerifyTier::Toc,
                    passed: false,
                    started: NOW.into(),
                    problems: vec!["db-verify/toc-unreadable: truncated".into()],
                },
            },
            None,
            ts(NOW),
        );
        let s = finish_attempt(s, Ok(()), 3, None, ts(NOW));
        assert_eq!(s.phase, BackupPhase::Succeeded);
        let ready = conditions::get(&s.conditions, READY).unwrap();
        assert_eq!((ready.status.as_str(), ready.reason.as_str()), ("False", "VerificationFailed"));
        let v = conditions::get(&s.conditions, LAST_VERIFICATION_SUCCEEDED).unwrap();
        assert_eq!(v.status, "False");
        assert!(v.message.contains("truncated"));
    }

    #[test]
    fn transient_failures_retry_with_backoff_then_fail() {
        let err = || Err(ExecError::failed(FailureReason::ConnectFailed, "db down"));
        let s = finish_attempt(status().running().attempts(1), err(), 3, None, ts(NOW));
        assert_eq!(s.phase, BackupPhase::Pending);
        assert_eq!(s.retry_after, Some(Time(ts("2026-11-25T03:11:00Z"))));
        let s = finish_attempt(status().running().attempts(2), err(), 3, None, ts(NOW));
        assert_eq!(s.retry_after, Some(Time(ts("2026-11-25T03:12:00Z"))));
        let s = finish_attempt(status().running().attempts(3), err(), 3, None, ts(NOW));
        assert_eq!(s.phase, BackupPhase::Failed);
        assert_eq!(conditions::get(&s.conditions, STALLED).unwrap().status, "False");
        assert_eq!(s.message.as_deref(), Some("ConnectFailed: db down"));
    }

    #[test]
    fn permanent_failures_stall_at_once() {
        let e = Err(ExecError::failed(FailureReason::VersionMismatch, "pg_dump 15 < server 17"));
        let s = finish_attempt(status().running().attempts(1), e, 3, None, ts(NOW));
        assert_eq!(s.phase, BackupPhase::Failed);
        let stalled = conditions::get(&s.conditions, STALLED).unwrap();
        assert_eq!((stalled.status.as_str(), stalled.reason.as_str()), ("True", "VersionMismatch"));
        assert_eq!(conditions::get(&s.conditions, LAST_BACKUP_SUCCEEDED).unwrap().status, "False");
    }

    #[test]
    fn retry_delays_grow_and_are_capped() {
        let mins: Vec<i64> = (1..=8).map(|a| retry_delay(a).as_mins()).collect();
        assert_eq!(mins, [1, 2, 4, 8, 16, 30, 30, 30]);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn phase() -> impl Strategy<Value = BackupPhase> {
            prop_oneof![
                Just(BackupPhase::Pending),
                Just(BackupPhase::Running),
                Just(BackupPhase::Succeeded),
                Just(BackupPhase::Failed)
            ]
        }

        proptest! {
            /// Finished backups are never restarted; a wait is always for a future time; a
            /// takeover happens only for a Running backup whose lease ran out; no attempt
            /// starts beyond the limit.
            #[test]
            fn steps_are_safe(
                p in phase(),
                attempts in 0u32..6,
                max in 1u32..5,
                lease in proptest::option::of(-600i64..600),
                retry in proptest::option::of(-600i64..600),
            ) {
                let now = ts(NOW);
                let s = BackupStatus {
                    phase: p,
                    attempts,
                    lease_expires: lease.map(|d| Time(now + SignedDuration::from_secs(d))),
                    retry_after: retry.map(|d| Time(now + SignedDuration::from_secs(d))),
                    ..Default::default()
                };
                match next_step(Some(&s), now, max) {
                    BackupStep::Done => prop_assert!(matches!(p, BackupPhase::Succeeded | BackupPhase::Failed)),
                    BackupStep::WaitUntil(t) => prop_assert!(t > now),
                    BackupStep::Start { takeover } => {
                        prop_assert!(attempts < max);
                        prop_assert!(matches!(p, BackupPhase::Pending | BackupPhase::Running));
                        prop_assert_eq!(takeover, p == BackupPhase::Running);
                        if takeover {
                            prop_assert!(lease.is_none_or(|d| d <= 0));
                        }
                    }
                    BackupStep::GiveUp => prop_assert!(attempts >= max),
                }
            }
        }
    }
}
