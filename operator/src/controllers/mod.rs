//! One reconciler per kind, and the plumbing they share: writing status with server-side apply
//! only when it changed, and publishing Kubernetes events on transitions.
//!
//! **Read your own writes.** The object a Controller hands to a reconcile comes from its watch
//! cache, which may not have seen this controller's own last status write yet (the requeue, or
//! the write's own watch event, can arrive first). The stateful reconcilers (SchemaMigration,
//! BackupPolicy, Backup, Restore) build the next status on the current one and force-apply it
//! whole, so starting from a stale copy would roll their last write back: a finished Backup
//! claimed and run again, a retention report replaced by an empty re-run, `lastAppliedVersions`
//! cleared. They therefore start with one GET of the object (the main resource: same object,
//! and the RBAC grants `get` on it, not on `/status`) and work from that copy; a 404 means it was
//! deleted meanwhile and there is nothing to do. EnvironmentParity does not need it: its status
//! is a function of the caches, recomputed every time.

pub mod backup;
pub mod backup_policy;
pub mod cache_changes;
pub mod migration;
pub mod parity;
pub mod restore;

use std::fmt::Debug;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::crd::backup::{BackupPolicyStatus, BackupStatus, RestoreStatus};
use crate::crd::migration::SchemaMigrationStatus;
use crate::crd::parity::EnvironmentParityStatus;

/// The name events are reported under, and the prefix of every controller's field manager.
pub const OPERATOR_NAME: &str = "tollgate-operator";

/// Errors that fail a reconcile, for every controller (everything else becomes a condition).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API server refused a write or a read.
    #[error("kubernetes API: {0}")]
    Kube(kube::Error),
    /// A namespaced object without a namespace (the API would not allow it): `Kind name`.
    #[error("{0} has no namespace")]
    NoNamespace(String),
}

/// By hand rather than `#[from]`: the message already carries the API error, so it is not also
/// returned as the source (printing the chain would show it twice).
impl From<kube::Error> for Error {
    fn from(error: kube::Error) -> Self {
        Error::Kube(error)
    }
}

impl Error {
    /// A stable label for the `reconcile_errors_total` metric.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube(_) => "kube",
            Error::NoNamespace(_) => "no_namespace",
        }
    }
}

/// The error policy every stateful controller shares: counts the error under `controller`
/// and requeues `obj` after its next per-object backoff delay ([`crate::backoff`]: 5 s doubling
/// to 5 min with jitter by default).
pub fn backoff_on_error<K: Resource>(
    controller: &str,
    obj: &K,
    error: &Error,
    ctx: &crate::context::Context,
) -> kube::runtime::controller::Action {
    ctx.metrics.reconcile_error(controller, error.metric_label());
    let key =
        crate::backoff::object_key(controller, obj.meta().namespace.as_deref(), &obj.name_any());
    let delay = ctx.backoff.failed(&key);
    tracing::warn!(%controller, object = %key, %error, retry_in = ?delay, "reconcile failed");
    kube::runtime::controller::Action::requeue(delay)
}

/// Runs `reconcile` for `obj` and, when it succeeds, resets the object's error backoff (the
/// reconcile wrapper every controller's `run` uses with [`backoff_on_error`]). `C` is the
/// controller's context: the shared [`Context`](crate::context::Context) or one that holds it.
pub async fn reconcile_with_backoff<K, C, F>(
    controller: &'static str,
    obj: std::sync::Arc<K>,
    ctx: std::sync::Arc<C>,
    reconcile: impl FnOnce(std::sync::Arc<K>, std::sync::Arc<C>) -> F,
) -> Result<kube::runtime::controller::Action, Error>
where
    K: Resource,
    C: AsRef<crate::context::Context>,
    F: std::future::Future<Output = Result<kube::runtime::controller::Action, Error>>,
{
    let key =
        crate::backoff::object_key(controller, obj.meta().namespace.as_deref(), &obj.name_any());
    let result = reconcile(obj, ctx.clone()).await;
    if result.is_ok() {
        (*ctx).as_ref().backoff.succeeded(&key);
    }
    result
}

/// A status that carries conditions (every tollgate.dev kind's does).
pub trait Conditioned {
    /// The conditions, sorted by type.
    fn conditions(&self) -> &[Condition];
}

macro_rules! conditioned {
    ($($status:ty),*) => {
        $(impl Conditioned for $status {
            fn conditions(&self) -> &[Condition] {
                &self.conditions
            }
        })*
    };
}
conditioned!(
    BackupPolicyStatus,
    BackupStatus,
    EnvironmentParityStatus,
    RestoreStatus,
    SchemaMigrationStatus
);

/// Writes `new` with [`apply_status`] (only when it differs from `old`, the status the
/// reconcile started from), then publishes an event per condition transition
/// ([`publish_transitions`]). A failed event is logged, not returned: events are not reconcile
/// failures. Returns whether a write was made.
pub async fn update_status<K, S>(
    client: &Client,
    obj: &K,
    controller: &str,
    old: Option<&S>,
    new: &S,
) -> Result<bool, kube::Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug,
    S: Serialize + PartialEq + Conditioned,
{
    let name = obj.name_any();
    let api: Api<K> = Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default());
    if !apply_status(&api, &name, controller, old, new).await? {
        return Ok(false);
    }
    let before = old.map(Conditioned::conditions).unwrap_or_default();
    if let Err(e) =
        publish_transitions(&recorder(client.clone()), obj, before, new.conditions()).await
    {
        tracing::warn!(%controller, %name, error = %e, "cannot publish events");
    }
    Ok(true)
}

/// [`publish_event`] with a fresh [`recorder`], logging (not returning) a failure: events are
/// not reconcile failures.
pub async fn emit_event<K>(
    client: &Client,
    obj: &K,
    warning: bool,
    reason: &str,
    action: &str,
    note: &str,
) where
    K: Resource<DynamicType = ()>,
{
    if let Err(e) =
        publish_event(&recorder(client.clone()), obj, warning, reason, action, note).await
    {
        tracing::warn!(name = %obj.name_any(), %reason, error = %e, "cannot publish an event");
    }
}

/// The server-side-apply field manager of one controller, e.g. `tollgate-operator/parity`.
/// Each controller owns the status fields it writes under its own manager.
pub fn field_manager(controller: &str) -> String {
    format!("{OPERATOR_NAME}/{controller}")
}

/// Whether `new` differs from the status last read from the API (`None`: no status yet), i.e.
/// whether a status write is needed.
pub fn status_changed<S: PartialEq>(old: Option<&S>, new: &S) -> bool {
    old != Some(new)
}

/// Writes `new` as the `/status` subresource of object `name` with server-side apply under
/// [`field_manager`]`(controller)`, but only when [`status_changed`] says it differs from `old`.
/// Returns whether a write was made.
///
/// The patch carries `apiVersion` and `kind` (required by apply) and nothing but `status`, and
/// is forced: the status belongs to this controller alone.
pub async fn apply_status<K, S>(
    api: &Api<K>,
    name: &str,
    controller: &str,
    old: Option<&S>,
    new: &S,
) -> Result<bool, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
    S: Serialize + PartialEq,
{
    if !status_changed(old, new) {
        return Ok(false);
    }
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": new,
    });
    let params = PatchParams::apply(&field_manager(controller)).force();
    api.patch_status(name, &params, &Patch::Apply(&patch)).await?;
    Ok(true)
}

/// How a compare-and-swap status write ([`write_status_cas`]) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cas {
    /// Written; the object's new `resourceVersion` (the precondition of the next write).
    Written(Option<String>),
    /// The object changed since `resourceVersion` (HTTP 409 Conflict): nothing was written.
    Stale,
}

/// Writes `new` as the `/status` of object `name` with server-side apply under
/// [`field_manager`]`(controller)`, **only if** the object is still at `resource_version`: the
/// applied configuration carries `metadata.resourceVersion`, which the API server checks as a
/// precondition and answers 409 Conflict when the object moved on ([`Cas::Stale`]). This is
/// what makes a claim (Pending → Running, a takeover, a lease renewal) safe against a second
/// writer that read the same state, independently of leader election. `None` as
/// `resource_version` writes unconditionally.
pub async fn write_status_cas<K, S>(
    api: &Api<K>,
    name: &str,
    controller: &str,
    resource_version: Option<&str>,
    new: &S,
) -> Result<Cas, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
    S: Serialize,
{
    let mut patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": new,
    });
    if let Some(rv) = resource_version {
        patch["metadata"] = serde_json::json!({ "resourceVersion": rv });
    }
    let params = PatchParams::apply(&field_manager(controller)).force();
    match api.patch_status(name, &params, &Patch::Apply(&patch)).await {
        Ok(written) => Ok(Cas::Written(written.meta().resource_version.clone())),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(Cas::Stale),
        Err(e) => Err(e),
    }
}

/// Claims `obj` for this worker: writes `new` (the Running status with this worker's lease)
/// with [`write_status_cas`] against the `resourceVersion` `obj` was read at, then publishes
/// the condition transitions from `old`. [`Cas::Stale`] means another worker claimed (or
/// otherwise changed) the object first: the caller must not run the work.
pub async fn claim_status<K, S>(
    client: &Client,
    obj: &K,
    controller: &str,
    old: Option<&S>,
    new: &S,
) -> Result<Cas, kube::Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug,
    S: Serialize + PartialEq + Conditioned,
{
    let name = obj.name_any();
    let api: Api<K> = Api::namespaced(client.clone(), &obj.namespace().unwrap_or_default());
    let cas =
        write_status_cas(&api, &name, controller, obj.meta().resource_version.as_deref(), new)
            .await?;
    if cas == Cas::Stale {
        tracing::info!(%controller, %name, "claim lost: the object changed since it was read");
        return Ok(cas);
    }
    let before = old.map(Conditioned::conditions).unwrap_or_default();
    if let Err(e) =
        publish_transitions(&recorder(client.clone()), obj, before, new.conditions()).await
    {
        tracing::warn!(%controller, %name, error = %e, "cannot publish events");
    }
    Ok(cas)
}

/// An event recorder reporting as [`OPERATOR_NAME`] (instance: the `POD_NAME` environment
/// variable when set). Cheap: intended to be made per reconcile.
pub fn recorder(client: Client) -> Recorder {
    Recorder::new(
        client,
        Reporter { controller: OPERATOR_NAME.to_owned(), instance: std::env::var("POD_NAME").ok() },
    )
}

/// Publishes one event about `obj` (`warning`: type Warning, else Normal). `reason` is a short
/// `CamelCase` word, `action` what the controller did (`Reconcile`, `Migrate`, …); `note` is
/// truncated to the 1 KiB the API accepts.
///
/// Event failures are not reconcile failures: callers usually log and continue.
pub async fn publish_event<K>(
    recorder: &Recorder,
    obj: &K,
    warning: bool,
    reason: &str,
    action: &str,
    note: &str,
) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = ()>,
{
    let reference: ObjectReference = obj.object_ref(&());
    let event = Event {
        type_: if warning { EventType::Warning } else { EventType::Normal },
        reason: truncate(reason, 128),
        note: (!note.is_empty()).then(|| truncate(note, 1024)),
        action: truncate(action, 128),
        secondary: None,
    };
    recorder.publish(&event, &reference).await
}

/// Publishes one event for each condition whose status flipped between `old` and `new`
/// (or that appeared with status True), naming the condition and its new reason. Returns how
/// many events were published; the first API error stops the loop.
pub async fn publish_transitions<K>(
    recorder: &Recorder,
    obj: &K,
    old: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    new: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
) -> Result<usize, kube::Error>
where
    K: Resource<DynamicType = ()>,
{
    let mut published = 0;
    for t in transitions(old, new) {
        publish_event(recorder, obj, t.warning, &t.reason, &t.action, &t.note).await?;
        published += 1;
    }
    Ok(published)
}

/// One condition transition worth an event (pure; see [`transitions`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// Whether the event is a Warning (a `Stalled`/`Drifted`/`DestructiveChangeDetected`
    /// condition turned True, or `Ready` turned False while `Stalled` is True).
    pub warning: bool,
    /// The condition's new reason.
    pub reason: String,
    /// `<Type><True|False>`, e.g. `ReadyTrue`.
    pub action: String,
    /// `<Type> is now <Status>: <message>`.
    pub note: String,
}

/// The transitions from `old` to `new` conditions, in type order: conditions whose status
/// changed, and new conditions whose status is True (a condition first appearing as False is not
/// a transition worth an event).
pub fn transitions(
    old: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    new: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
) -> Vec<Transition> {
    use crate::conditions;
    let mut out = Vec::new();
    for c in new {
        let before = conditions::get(old, &c.type_).map(|o| o.status.as_str());
        let is_true = c.status == "True";
        let flipped = match before {
            Some(b) => b != c.status,
            None => is_true,
        };
        if !flipped {
            continue;
        }
        let bad_when_true = matches!(
            c.type_.as_str(),
            conditions::STALLED | conditions::DRIFTED | conditions::DESTRUCTIVE_CHANGE_DETECTED
        );
        // Not ready because work is in progress is normal; not ready because stalled is not.
        let warning = if c.type_ == conditions::READY {
            !is_true && conditions::is_true(new, conditions::STALLED)
        } else {
            bad_when_true && is_true
        };
        let note = if c.message.is_empty() {
            format!("{} is now {}", c.type_, c.status)
        } else {
            format!("{} is now {}: {}", c.type_, c.status, c.message)
        };
        out.push(Transition {
            warning,
            reason: c.reason.clone(),
            action: format!("{}{}", c.type_, c.status),
            note,
        });
    }
    out
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conditions::{self, set};

    fn t(secs: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(secs).expect("valid timestamp")
    }

    #[test]
    fn status_changed_compares_values() {
        assert!(status_changed(None, &1));
        assert!(status_changed(Some(&1), &2));
        assert!(!status_changed(Some(&2), &2));
    }

    #[test]
    fn field_manager_is_per_controller() {
        assert_eq!(field_manager("parity"), "tollgate-operator/parity");
        assert_ne!(field_manager("parity"), field_manager("migration"));
    }

    #[test]
    fn transitions_report_flips_and_new_true_conditions_only() {
        let mut old = Vec::new();
        set(&mut old, conditions::READY, true, "Synced", "", None, t(1));
        set(&mut old, conditions::STALLED, false, "Synced", "", None, t(1));
        let mut new = old.clone();
        // Unchanged status, new message: no event.
        set(&mut new, conditions::READY, true, "Synced", "again", None, t(2));
        // Flip to True of a bad condition: warning.
        set(&mut new, conditions::STALLED, true, "DriftDetected", "0003 edited", None, t(2));
        // New condition appearing False: no event; appearing True: event.
        set(&mut new, conditions::IN_SYNC, false, "Drift", "", None, t(2));
        set(&mut new, conditions::DRIFTED, true, "Drift", "2 drifts", None, t(2));
        let got = transitions(&old, &new);
        assert_eq!(
            got,
            vec![
                Transition {
                    warning: true,
                    reason: "Drift".into(),
                    action: "DriftedTrue".into(),
                    note: "Drifted is now True: 2 drifts".into(),
                },
                Transition {
                    warning: true,
                    reason: "DriftDetected".into(),
                    action: "StalledTrue".into(),
                    note: "Stalled is now True: 0003 edited".into(),
                },
            ]
        );
        let mut recovered = new.clone();
        set(&mut recovered, conditions::READY, false, "Migrating", "", None, t(3));
        set(&mut recovered, conditions::STALLED, false, "Resolved", "", None, t(3));
        let got = transitions(&new, &recovered);
        assert_eq!(got.len(), 2);
        assert!(!got[0].warning, "Ready turning False while working is normal");
        assert_eq!(got[0].action, "ReadyFalse");
        assert!(!got[1].warning, "Stalled clearing is normal");
        assert!(transitions(&recovered, &recovered).is_empty());
        let mut ready = recovered.clone();
        set(&mut ready, conditions::READY, true, "Ok", "", None, t(4));
        let mut stalled = ready.clone();
        set(&mut stalled, conditions::READY, false, "MigrationDrift", "", None, t(5));
        set(&mut stalled, conditions::STALLED, true, "MigrationDrift", "", None, t(5));
        let got = transitions(&ready, &stalled);
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|t| t.warning), "Ready lost to a stall is a warning: {got:?}");
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("ééé", 3), "é");
        assert_eq!(truncate("abc", 5), "abc");
    }
}
