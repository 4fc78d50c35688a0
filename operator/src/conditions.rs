//! Status conditions (Ready, Reconciling, Stalled and kind-specific ones) and their transitions.
//!
//! Every custom resource of the operator keeps `status.conditions` as a list of the standard
//! Kubernetes [`Condition`]s. This module is pure: it edits such a list and says whether anything
//! changed, so a controller can skip the status write when nothing did.
//!
//! Invariants kept by [`set`]:
//! - at most one condition per type, and the list is sorted by type (stable serialisation, so
//!   "changed" means changed);
//! - `lastTransitionTime` moves only when the status flips (True ↔ False), never when only the
//!   reason, message or observed generation are refreshed;
//! - messages are bounded (the API server rejects messages over 32 KiB) and reasons are
//!   sanitised to the `CamelCase` identifier the API requires.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// The resource is fully reconciled and serving its purpose.
pub const READY: &str = "Ready";
/// The controller is working towards the desired state (work in progress).
pub const RECONCILING: &str = "Reconciling";
/// The controller stopped and will not continue without a human (reason says why).
pub const STALLED: &str = "Stalled";
/// EnvironmentParity: every environment matches the one before it (within the allowed lag).
pub const IN_SYNC: &str = "InSync";
/// EnvironmentParity: at least one drift between environments was found.
pub const DRIFTED: &str = "Drifted";
/// Every environment with a health probe passed its last probe (EnvironmentParity).
pub const HEALTHY: &str = "Healthy";
/// SchemaMigration: the pending plan contains destructive statements.
pub const DESTRUCTIVE_CHANGE_DETECTED: &str = "DestructiveChangeDetected";
/// SchemaMigration: the pending plan is approved (or needs no approval).
pub const APPROVED: &str = "Approved";
/// SchemaMigration: the pre-migration backup has completed.
pub const BACKUP_COMPLETED: &str = "BackupCompleted";
/// BackupPolicy / Backup: the most recent backup succeeded.
pub const LAST_BACKUP_SUCCEEDED: &str = "LastBackupSucceeded";
/// BackupPolicy / Backup / Restore: the most recent verification succeeded.
pub const LAST_VERIFICATION_SUCCEEDED: &str = "LastVerificationSucceeded";

/// The largest message kept in a condition, in bytes (the API server's limit is 32768).
pub const MAX_MESSAGE_BYTES: usize = 32_768;
/// The largest reason kept in a condition, in bytes (the API server's limit is 1024).
pub const MAX_REASON_BYTES: usize = 1_024;

/// `"True"` or `"False"`: the wire form of a condition status.
pub fn status_str(status: bool) -> &'static str {
    if status { "True" } else { "False" }
}

/// Sets condition `type_` to `status` with `reason` and `message`, inserting it (in type order)
/// when absent. Returns whether the list changed.
///
/// `lastTransitionTime` becomes `now` when the condition is new or its status flips; otherwise the
/// previous transition time is kept even when reason, message or generation change.
pub fn set(
    conds: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: jiff::Timestamp,
) -> bool {
    let status = status_str(status);
    let reason = sanitise_reason(reason);
    let message = truncate_message(message);
    match conds.binary_search_by(|c| c.type_.as_str().cmp(type_)) {
        Ok(i) => {
            let c = &mut conds[i];
            if c.status == status
                && c.reason == reason
                && c.message == message
                && c.observed_generation == generation
            {
                return false;
            }
            if c.status != status {
                c.last_transition_time = Time(now);
                c.status = status.to_owned();
            }
            c.reason = reason;
            c.message = message;
            c.observed_generation = generation;
            true
        }
        Err(i) => {
            conds.insert(
                i,
                Condition {
                    last_transition_time: Time(now),
                    message,
                    observed_generation: generation,
                    reason,
                    status: status.to_owned(),
                    type_: type_.to_owned(),
                },
            );
            true
        }
    }
}

/// Puts a list read from the API into the order [`set`] maintains (sorted by type, one entry per
/// type: the first one wins). Returns whether it changed anything.
pub fn normalise(conds: &mut Vec<Condition>) -> bool {
    let before = conds.clone();
    conds.sort_by(|a, b| a.type_.cmp(&b.type_));
    conds.dedup_by(|later, earlier| later.type_ == earlier.type_);
    *conds != before
}

/// The condition of type `type_`, if present.
pub fn get<'a>(conds: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conds.iter().find(|c| c.type_ == type_)
}

/// Whether condition `type_` is present with status `True`.
pub fn is_true(conds: &[Condition], type_: &str) -> bool {
    get(conds, type_).is_some_and(|c| c.status == "True")
}

/// Removes condition `type_`. Returns whether it was present.
pub fn remove(conds: &mut Vec<Condition>, type_: &str) -> bool {
    let before = conds.len();
    conds.retain(|c| c.type_ != type_);
    conds.len() != before
}

/// Sets the three standard conditions from one summary state, so they never contradict each
/// other: `Ready` true only in [`Summary::Ready`], `Reconciling` only in
/// [`Summary::Reconciling`], `Stalled` only in [`Summary::Stalled`]. Returns whether anything
/// changed.
pub fn set_summary(
    conds: &mut Vec<Condition>,
    summary: Summary,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: jiff::Timestamp,
) -> bool {
    let (ready, reconciling, stalled) = match summary {
        Summary::Ready => (true, false, false),
        Summary::Reconciling => (false, true, false),
        Summary::Stalled => (false, false, true),
    };
    let mut changed = false;
    for (type_, on) in [(READY, ready), (RECONCILING, reconciling), (STALLED, stalled)] {
        let (r, m) = if on { (reason, message) } else { (reason, "") };
        changed |= set(conds, type_, on, r, m, generation, now);
    }
    changed
}

/// The overall state of a resource, as told by the standard conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Summary {
    /// Done; nothing left to do until the spec or the world changes.
    Ready,
    /// Work in progress.
    Reconciling,
    /// Stopped; needs a human.
    Stalled,
}

/// Reasons must match `^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`: other characters are dropped,
/// an empty result becomes `Unknown`.
fn sanitise_reason(reason: &str) -> String {
    let mut out: String = reason
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ',' | ':'))
        .skip_while(|c| !c.is_ascii_alphabetic())
        .take(MAX_REASON_BYTES)
        .collect();
    while out.ends_with([',', ':']) {
        out.pop();
    }
    if out.is_empty() { "Unknown".to_owned() } else { out }
}

fn truncate_message(message: &str) -> String {
    if message.len() <= MAX_MESSAGE_BYTES {
        return message.to_owned();
    }
    const MARK: &str = "…";
    let mut end = MAX_MESSAGE_BYTES - MARK.len();
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{MARK}", &message[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(secs: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(secs).expect("valid timestamp")
    }

    #[test]
    fn new_condition_is_inserted_with_transition_time_now() {
        let mut c = Vec::new();
        assert!(set(&mut c, READY, true, "Done", "all good", Some(3), t(100)));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].type_, "Ready");
        assert_eq!(c[0].status, "True");
        assert_eq!(c[0].reason, "Done");
        assert_eq!(c[0].message, "all good");
        assert_eq!(c[0].observed_generation, Some(3));
        assert_eq!(c[0].last_transition_time, Time(t(100)));
    }

    #[test]
    fn same_values_change_nothing() {
        let mut c = Vec::new();
        set(&mut c, READY, true, "Done", "m", Some(1), t(100));
        let before = c.clone();
        assert!(!set(&mut c, READY, true, "Done", "m", Some(1), t(200)));
        assert_eq!(c, before);
    }

    #[test]
    fn message_change_keeps_transition_time() {
        let mut c = Vec::new();
        set(&mut c, READY, true, "Done", "m1", Some(1), t(100));
        assert!(set(&mut c, READY, true, "Done", "m2", Some(2), t(200)));
        assert_eq!(c[0].message, "m2");
        assert_eq!(c[0].observed_generation, Some(2));
        assert_eq!(c[0].last_transition_time, Time(t(100)));
    }

    #[test]
    fn status_flip_moves_transition_time() {
        let mut c = Vec::new();
        set(&mut c, READY, true, "Done", "", None, t(100));
        assert!(set(&mut c, READY, false, "Failed", "boom", None, t(300)));
        assert_eq!(c[0].status, "False");
        assert_eq!(c[0].last_transition_time, Time(t(300)));
    }

    #[test]
    fn list_is_sorted_by_type() {
        let mut c = Vec::new();
        set(&mut c, STALLED, false, "Ok", "", None, t(1));
        set(&mut c, DRIFTED, true, "Found", "", None, t(1));
        set(&mut c, READY, true, "Ok", "", None, t(1));
        set(&mut c, IN_SYNC, false, "Found", "", None, t(1));
        let types: Vec<_> = c.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(types, ["Drifted", "InSync", "Ready", "Stalled"]);
    }

    #[test]
    fn reasons_are_sanitised_and_messages_bounded() {
        let mut c = Vec::new();
        set(&mut c, READY, false, "9 plan hash mismatch!", "", None, t(1));
        assert_eq!(c[0].reason, "planhashmismatch");
        set(&mut c, READY, false, "", "", None, t(1));
        assert_eq!(c[0].reason, "Unknown");
        let long = "é".repeat(MAX_MESSAGE_BYTES);
        set(&mut c, READY, false, "Long", &long, None, t(1));
        assert!(c[0].message.len() <= MAX_MESSAGE_BYTES);
        assert!(c[0].message.ends_with('…'));
    }

    #[test]
    fn summary_sets_exactly_one_standard_condition_true() {
        let mut c = Vec::new();
        assert!(set_summary(&mut c, Summary::Stalled, "PlanNotApproved", "why", Some(1), t(5)));
        assert!(is_true(&c, STALLED));
        assert!(!is_true(&c, READY));
        assert!(!is_true(&c, RECONCILING));
        assert_eq!(get(&c, STALLED).map(|c| c.message.as_str()), Some("why"));
        assert!(!set_summary(&mut c, Summary::Stalled, "PlanNotApproved", "why", Some(1), t(9)));
        assert!(set_summary(&mut c, Summary::Ready, "Applied", "", Some(1), t(10)));
        assert!(is_true(&c, READY));
        assert!(!is_true(&c, STALLED));
        assert_eq!(get(&c, STALLED).map(|c| c.last_transition_time.clone()), Some(Time(t(10))));
    }

    #[test]
    fn normalise_sorts_and_dedups() {
        let mut c = Vec::new();
        set(&mut c, READY, true, "A", "", None, t(1));
        set(&mut c, STALLED, true, "B", "", None, t(1));
        let mut shuffled = vec![c[1].clone(), c[0].clone(), c[1].clone()];
        assert!(normalise(&mut shuffled));
        assert_eq!(shuffled, c);
        assert!(!normalise(&mut shuffled));
        assert!(remove(&mut shuffled, READY));
        assert!(!remove(&mut shuffled, READY));
        assert_eq!(shuffled.len(), 1);
    }

    fn types() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![READY, RECONCILING, STALLED, IN_SYNC, DRIFTED])
    }

    #[derive(Debug, Clone)]
    struct Op {
        type_: &'static str,
        status: bool,
        reason: String,
        message: String,
        generation: Option<i64>,
    }

    fn op() -> impl Strategy<Value = Op> {
        (types(), any::<bool>(), "[A-Z][a-z]{0,3}", "[a-z ]{0,6}", prop::option::of(0i64..4))
            .prop_map(|(type_, status, reason, message, generation)| Op {
                type_,
                status,
                reason,
                message,
                generation,
            })
    }

    proptest! {
        /// After any sequence of sets: the list is sorted, one entry per type, each entry holds
        /// the last values set for it, and its transition time is the time of the last flip.
        #[test]
        fn transitions_follow_the_rules(ops in prop::collection::vec(op(), 0..40)) {
            let mut c = Vec::new();
            let mut last_flip: std::collections::BTreeMap<&str, (bool, i64)> = Default::default();
            for (i, o) in ops.iter().enumerate() {
                let now = t(1_000 + i as i64);
                let before = c.clone();
                let changed = set(&mut c, o.type_, o.status, &o.reason, &o.message, o.generation, now);
                prop_assert_eq!(changed, c != before, "the return value says whether the list changed");
                match last_flip.get(o.type_) {
                    Some((s, _)) if *s == o.status => {}
                    _ => { last_flip.insert(o.type_, (o.status, 1_000 + i as i64)); }
                }
                let got = get(&c, o.type_).expect("just set");
                prop_assert_eq!(&got.status, status_str(o.status));
                prop_assert_eq!(&got.reason, &o.reason);
                prop_assert_eq!(&got.message, &o.message);
                prop_assert_eq!(got.observed_generation, o.generation);
            }
            prop_assert!(c.windows(2).all(|w| w[0].type_ < w[1].type_));
            prop_assert_eq!(c.len(), last_flip.len());
            for cond in &c {
                let (s, at) = last_flip[cond.type_.as_str()];
                prop_assert_eq!(&cond.status, status_str(s));
                prop_assert_eq!(&cond.last_transition_time, &Time(t(at)));
            }
        }

        /// Setting the same values twice is idempotent.
        #[test]
        fn set_is_idempotent(ops in prop::collection::vec(op(), 1..20)) {
            let mut c = Vec::new();
            for (i, o) in ops.iter().enumerate() {
                set(&mut c, o.type_, o.status, &o.reason, &o.message, o.generation, t(i as i64));
                let snapshot = c.clone();
                prop_assert!(!set(&mut c, o.type_, o.status, &o.reason, &o.message, o.generation, t(10_000)));
                prop_assert_eq!(&c, &snapshot);
            }
        }
    }
}
