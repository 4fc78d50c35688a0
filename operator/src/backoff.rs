//! Per-object exponential backoff for failed reconciles: the first failure of an object requeues
//! it after `base` (5 s by default), each further consecutive failure doubles the delay up to
//! `max` (5 min), every delay is jittered by ±`jitter` (20 %) so objects that failed together
//! do not retry together, and a successful reconcile resets the object's count.
//!
//! One [`ErrorBackoff`] is shared by the controllers through the
//! [`Context`](crate::context::Context); objects are keyed by controller, namespace and name.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// The delays of a backoff schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffPolicy {
    /// Delay after the first failure.
    pub base: Duration,
    /// Longest delay.
    pub max: Duration,
    /// Relative jitter: each delay is scaled by a factor in `[1 - jitter, 1 + jitter]`
    /// (and still capped at `max`).
    pub jitter: f64,
}

/// 5 s doubling to 5 min, ±20 %.
impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy { base: Duration::from_secs(5), max: Duration::from_secs(300), jitter: 0.2 }
    }
}

impl BackoffPolicy {
    /// The delay without jitter after `failures` consecutive failures (1 = the first):
    /// `base × 2^(failures-1)`, at most `max`.
    pub fn nominal(&self, failures: u32) -> Duration {
        let exponent = failures.saturating_sub(1).min(30);
        self.base.saturating_mul(1u32 << exponent).min(self.max)
    }

    /// [`BackoffPolicy::nominal`] scaled by `1 + jitter × (2u - 1)` for `u` in `[0, 1)`,
    /// capped at `max`.
    pub fn delay(&self, failures: u32, u: f64) -> Duration {
        let factor = 1.0 + self.jitter.clamp(0.0, 1.0) * (2.0 * u.clamp(0.0, 1.0) - 1.0);
        self.nominal(failures).mul_f64(factor).min(self.max)
    }
}

/// Consecutive failures per object, and the delay each failure earns.
#[derive(Debug, Default)]
pub struct ErrorBackoff {
    policy: BackoffPolicy,
    failures: Mutex<HashMap<String, u32>>,
}

/// The key of one object of one controller.
pub fn object_key(controller: &str, namespace: Option<&str>, name: &str) -> String {
    format!("{controller}/{}/{name}", namespace.unwrap_or(""))
}

impl ErrorBackoff {
    /// A backoff with `policy`.
    pub fn new(policy: BackoffPolicy) -> ErrorBackoff {
        ErrorBackoff { policy, failures: Mutex::new(HashMap::new()) }
    }

    /// The policy.
    pub fn policy(&self) -> BackoffPolicy {
        self.policy
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts one more failure of `key` and returns how long to wait before retrying it.
    pub fn failed(&self, key: &str) -> Duration {
        let failures = {
            let mut map = self.lock();
            let n = map.entry(key.to_owned()).or_insert(0);
            *n = n.saturating_add(1);
            *n
        };
        self.policy.delay(failures, fastrand::f64())
    }

    /// Forgets the failures of `key` (it reconciled successfully, or is gone).
    pub fn succeeded(&self, key: &str) {
        self.lock().remove(key);
    }

    /// Consecutive failures of `key` so far.
    pub fn failures(&self, key: &str) -> u32 {
        self.lock().get(key).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_doubles_from_five_seconds_to_five_minutes() {
        let p = BackoffPolicy::default();
        let secs: Vec<u64> = (1..=9).map(|n| p.nominal(n).as_secs()).collect();
        assert_eq!(secs, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(p.nominal(0), Duration::from_secs(5), "no failure yet: the base");
        assert_eq!(p.nominal(u32::MAX), Duration::from_secs(300), "no overflow");
    }

    #[test]
    fn jitter_stays_within_its_band_and_under_the_cap() {
        let p = BackoffPolicy::default();
        assert_eq!(p.delay(1, 0.0), Duration::from_secs(4));
        assert_eq!(p.delay(1, 0.5), Duration::from_secs(5));
        assert_eq!(p.delay(2, 1.0), Duration::from_secs(12));
        assert_eq!(p.delay(12, 1.0), Duration::from_secs(300), "capped after jitter");
        assert_eq!(p.delay(12, 0.0), Duration::from_secs(240));
        let b = ErrorBackoff::new(p);
        for n in 1..=10 {
            let d = b.failed("k");
            let nominal = p.nominal(n);
            assert!(
                d >= nominal.mul_f64(0.8) && d <= nominal.mul_f64(1.2).min(p.max),
                "{n}: {d:?}"
            );
        }
    }

    #[test]
    fn failures_are_counted_per_object_and_reset_on_success() {
        let b = ErrorBackoff::new(BackoffPolicy { jitter: 0.0, ..BackoffPolicy::default() });
        let a = object_key("backup", Some("ns"), "a");
        let other = object_key("backup", Some("ns"), "b");
        assert_eq!(b.failed(&a), Duration::from_secs(5));
        assert_eq!(b.failed(&a), Duration::from_secs(10));
        assert_eq!(b.failed(&other), Duration::from_secs(5), "per object");
        assert_eq!(b.failed(&a), Duration::from_secs(20));
        assert_eq!(b.failures(&a), 3);
        b.succeeded(&a);
        assert_eq!(b.failures(&a), 0);
        assert_eq!(b.failed(&a), Duration::from_secs(5), "reset by a success");
        assert_ne!(object_key("backup", Some("ns"), "a"), object_key("restore", Some("ns"), "a"));
    }
}
