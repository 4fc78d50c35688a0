//! Prometheus metrics of the operator (the official `prometheus-client` crate).
//!
//! One [`Metrics`] is shared by every controller through the
//! [`Context`](crate::context::Context); the HTTP server serves [`Metrics::render`] on
//! `/metrics`. Every series is labelled by values the operator controls (controller names,
//! error reasons, namespaces and object names), so the label sets stay bounded by the number of
//! objects in the cluster; [`Metrics::forget_parity`] and [`Metrics::forget_policy`] drop the series of a deleted
//! object.

use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`Metrics::render`]'s output (OpenMetrics text 1.0.0, which
/// Prometheus scrapes natively).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Labels of the per-controller series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabels {
    controller: String,
}

/// Labels of the reconcile error counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    controller: String,
    reason: String,
}

/// Labels of a BackupPolicy's series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PolicyLabels {
    namespace: String,
    policy: String,
}

/// Labels of the work queue series (`kind`: a `WorkClass` name).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkLabels {
    kind: String,
}

/// Labels of an EnvironmentParity's series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ObjectLabels {
    namespace: String,
    name: String,
}

fn environment_labels(namespace: &str, name: &str, environment: &str) -> EnvironmentLabels {
    EnvironmentLabels {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        environment: environment.to_owned(),
    }
}

/// Labels of one environment of an EnvironmentParity.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EnvironmentLabels {
    namespace: String,
    name: String,
    environment: String,
}

/// Health probes are expected between a millisecond and their 60 s maximum timeout: 1 ms
/// doubling to ~65 s.
fn probe_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Reconcile durations are expected between a millisecond (a cache read) and about a minute
/// (a slow API server): 1 ms doubling to ~65 s.
fn reconcile_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// The operator's metrics registry and its series.
///
/// Series (all prefixed `tollgate_operator_`):
/// - `reconcile_total{controller}` — reconciles run (counted when the timer drops);
/// - `reconcile_duration_seconds{controller}` — histogram of reconcile durations;
/// - `reconcile_errors_total{controller,reason}` — reconciles that failed, by error label;
/// - `last_backup_success_timestamp_seconds{namespace,policy}` — Unix time of the newest
///   successful backup of a BackupPolicy;
/// - `drifts{namespace,name}` — drifts currently reported by an EnvironmentParity;
/// - `remote_clusters` — other clusters watched through kubeconfig Secrets;
/// - `work_queued{kind}` / `work_running{kind}` — work items waiting for / holding a slot of
///   their class (`backup`, `restore-verify`, `migration`; see `executor::limits`).
/// - `environment_healthy{namespace,name,environment}` — 1 when the environment's last health
///   probe passed, else 0 (environments with a probe only);
/// - `environment_probe_latency_seconds{namespace,name,environment}` — histogram of health
///   probe latencies (answers only; a probe without an answer in time is not observed).
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ControllerLabels, Counter>,
    durations: HistogramFamily<ControllerLabels>,
    errors: Family<ErrorLabels, Counter>,
    last_backup_success: Family<PolicyLabels, Gauge>,
    drifts: Family<ObjectLabels, Gauge>,
    remote_clusters: Gauge,
    work_queued: Family<WorkLabels, Gauge>,
    work_running: Family<WorkLabels, Gauge>,
    environment_healthy: Family<EnvironmentLabels, Gauge>,
    probe_latency: HistogramFamily<EnvironmentLabels>,
    /// Environment names with series, per parity (to drop them when it goes).
    probed: std::sync::Mutex<std::collections::HashMap<(String, String), Vec<String>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every series registered (and no samples yet).
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("tollgate_operator");
        let reconciles = Family::<ControllerLabels, Counter>::default();
        let durations: HistogramFamily<ControllerLabels> =
            Family::new_with_constructor(reconcile_histogram);
        let errors = Family::<ErrorLabels, Counter>::default();
        let last_backup_success = Family::<PolicyLabels, Gauge>::default();
        let drifts = Family::<ObjectLabels, Gauge>::default();
        registry.register("reconcile", "Reconciles run, by controller", reconciles.clone());
        registry.register(
            "reconcile_duration_seconds",
            "Duration of reconciles, by controller",
            durations.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Reconciles that returned an error, by controller and error reason",
            errors.clone(),
        );
        registry.register(
            "last_backup_success_timestamp_seconds",
            "Unix time of the newest successful backup of a BackupPolicy",
            last_backup_success.clone(),
        );
        registry.register(
            "drifts",
            "Drifts currently reported by an EnvironmentParity",
            drifts.clone(),
        );
        let remote_clusters = Gauge::default();
        registry.register(
            "remote_clusters",
            "Other clusters watched through kubeconfig Secrets",
            remote_clusters.clone(),
        );
        let work_queued = Family::<WorkLabels, Gauge>::default();
        let work_running = Family::<WorkLabels, Gauge>::default();
        registry.register(
            "work_queued",
            "Work items waiting for a slot, by kind (backup, restore-verify, migration)",
            work_queued.clone(),
        );
        registry.register(
            "work_running",
            "Work items holding a slot, by kind (backup, restore-verify, migration)",
            work_running.clone(),
        );
        let environment_healthy = Family::<EnvironmentLabels, Gauge>::default();
        registry.register(
            "environment_healthy",
            "1 when the last health probe of an EnvironmentParity environment passed, else 0",
            environment_healthy.clone(),
        );
        let probe_latency: HistogramFamily<EnvironmentLabels> =
            Family::new_with_constructor(probe_histogram);
        registry.register(
            "environment_probe_latency_seconds",
            "Latency of the health probes of EnvironmentParity environments",
            probe_latency.clone(),
        );
        Self {
            registry,
            reconciles,
            durations,
            errors,
            last_backup_success,
            drifts,
            remote_clusters,
            work_queued,
            work_running,
            environment_healthy,
            probe_latency,
            probed: std::sync::Mutex::default(),
        }
    }

    /// Starts timing one reconcile of `controller`; when the returned guard drops, the reconcile
    /// is counted and its duration observed (also on early returns and `?`).
    #[must_use = "the reconcile is recorded when the timer drops; bind it to a variable"]
    pub fn reconcile(&self, controller: &str) -> ReconcileTimer {
        let labels = ControllerLabels { controller: controller.to_owned() };
        ReconcileTimer {
            start: Instant::now(),
            counter: self.reconciles.get_or_create_owned(&labels),
            histogram: self.durations.get_or_create_owned(&labels),
        }
    }

    /// Counts one failed reconcile of `controller`; `reason` is the error's stable metric label
    /// (for example `Error::metric_label()`), never a free-form message.
    pub fn reconcile_error(&self, controller: &str, reason: &str) {
        self.errors
            .get_or_create(&ErrorLabels {
                controller: controller.to_owned(),
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Records that the newest successful backup of BackupPolicy `namespace/policy` finished at
    /// `unix_secs`.
    pub fn set_last_backup_success(&self, namespace: &str, policy: &str, unix_secs: i64) {
        self.last_backup_success
            .get_or_create(&PolicyLabels {
                namespace: namespace.to_owned(),
                policy: policy.to_owned(),
            })
            .set(unix_secs);
    }

    /// Records that EnvironmentParity `namespace/name` currently reports `count` drifts (the
    /// total, not the capped list length).
    pub fn set_drifts(&self, namespace: &str, name: &str, count: u64) {
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        self.drifts
            .get_or_create(&ObjectLabels { namespace: namespace.to_owned(), name: name.to_owned() })
            .set(count);
    }

    /// Sets how many other clusters the parity controller watches.
    pub fn set_remote_clusters(&self, count: usize) {
        self.remote_clusters.set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// Records how many work items of `kind` wait for a slot and how many hold one.
    pub fn set_work(&self, kind: &str, queued: usize, running: usize) {
        let labels = WorkLabels { kind: kind.to_owned() };
        self.work_queued.get_or_create(&labels).set(i64::try_from(queued).unwrap_or(i64::MAX));
        self.work_running.get_or_create(&labels).set(i64::try_from(running).unwrap_or(i64::MAX));
    }

    /// Records whether the last health probe of `environment` of EnvironmentParity
    /// `namespace/name` passed.
    pub fn set_environment_health(
        &self,
        namespace: &str,
        name: &str,
        environment: &str,
        healthy: bool,
    ) {
        self.remember_environment(namespace, name, environment);
        self.environment_healthy
            .get_or_create(&environment_labels(namespace, name, environment))
            .set(i64::from(healthy));
    }

    /// Observes the latency of one health probe of `environment` of `namespace/name`.
    pub fn observe_probe_latency(
        &self,
        namespace: &str,
        name: &str,
        environment: &str,
        latency_ms: u64,
    ) {
        self.remember_environment(namespace, name, environment);
        #[allow(clippy::cast_precision_loss)] // milliseconds far below 2^52
        let seconds = latency_ms as f64 / 1000.0;
        self.probe_latency
            .get_or_create(&environment_labels(namespace, name, environment))
            .observe(seconds);
    }

    fn remember_environment(&self, namespace: &str, name: &str, environment: &str) {
        let mut probed = self.probed.lock().unwrap_or_else(|p| p.into_inner());
        let envs = probed.entry((namespace.to_owned(), name.to_owned())).or_default();
        if !envs.iter().any(|e| e == environment) {
            envs.push(environment.to_owned());
        }
    }

    /// Drops the drift and health series of a deleted EnvironmentParity, so they do not linger
    /// in scrapes.
    pub fn forget_parity(&self, namespace: &str, name: &str) {
        self.drifts
            .remove(&ObjectLabels { namespace: namespace.to_owned(), name: name.to_owned() });
        let envs = self
            .probed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(namespace.to_owned(), name.to_owned()))
            .unwrap_or_default();
        for env in envs {
            let labels = environment_labels(namespace, name, &env);
            self.environment_healthy.remove(&labels);
            self.probe_latency.remove(&labels);
        }
    }

    /// Drops the last-backup series of a deleted BackupPolicy, so it does not linger in scrapes.
    pub fn forget_policy(&self, namespace: &str, policy: &str) {
        self.last_backup_success
            .remove(&PolicyLabels { namespace: namespace.to_owned(), policy: policy.to_owned() });
    }

    /// The whole registry in the OpenMetrics text format (serve it with [`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail; an encoding error would be a bug in a label value
        // type, and an empty scrape is the safe answer to it.
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Times one reconcile; records its count and duration when dropped.
#[derive(Debug)]
pub struct ReconcileTimer {
    start: Instant,
    counter: Counter,
    histogram: Histogram,
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        self.counter.inc();
        self.histogram.observe(self.start.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
            .map(|value| value.trim().parse().expect("a numeric sample"))
    }

    #[test]
    fn timer_counts_and_observes_on_drop() {
        let metrics = Metrics::new();
        {
            let _timer = metrics.reconcile("backup");
            let _again = metrics.reconcile("backup");
        }
        let _ = metrics.reconcile("parity");
        let text = metrics.render();
        assert_eq!(
            sample(&text, r#"tollgate_operator_reconcile_total{controller="backup"}"#),
            Some(2.0)
        );
        assert_eq!(
            sample(&text, r#"tollgate_operator_reconcile_total{controller="parity"}"#),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                r#"tollgate_operator_reconcile_duration_seconds_count{controller="backup"}"#
            ),
            Some(2.0)
        );
        assert!(text.ends_with("# EOF\n"), "OpenMetrics output ends with EOF: {text}");
    }

    #[test]
    fn errors_are_counted_per_reason() {
        let metrics = Metrics::new();
        metrics.reconcile_error("migration", "kube");
        metrics.reconcile_error("migration", "kube");
        metrics.reconcile_error("migration", "drift");
        let text = metrics.render();
        assert_eq!(
            sample(
                &text,
                r#"tollgate_operator_reconcile_errors_total{controller="migration",reason="kube"}"#
            ),
            Some(2.0)
        );
        assert_eq!(
            sample(
                &text,
                r#"tollgate_operator_reconcile_errors_total{controller="migration",reason="drift"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                r#"tollgate_operator_reconcile_errors_total{controller="backup",reason="kube"}"#
            ),
            None
        );
    }

    #[test]
    fn environment_health_series_are_set_and_forgotten_with_their_parity() {
        let metrics = Metrics::new();
        metrics.set_environment_health("ops", "shop", "prod", false);
        metrics.observe_probe_latency("ops", "shop", "prod", 250);
        metrics.set_environment_health("ops", "shop", "dev", true);
        let text = metrics.render();
        let healthy = |env: &str| {
            format!(
                r#"tollgate_operator_environment_healthy{{namespace="ops",name="shop",environment="{env}"}}"#
            )
        };
        assert_eq!(sample(&text, &healthy("prod")), Some(0.0));
        assert_eq!(sample(&text, &healthy("dev")), Some(1.0));
        assert_eq!(
            sample(
                &text,
                r#"tollgate_operator_environment_probe_latency_seconds_sum{namespace="ops",name="shop",environment="prod"}"#
            ),
            Some(0.25)
        );
        metrics.forget_parity("ops", "shop");
        let text = metrics.render();
        assert!(!text.contains("environment=\""), "{text}");
    }

    #[test]
    fn gauges_are_set_replaced_and_forgotten() {
        let metrics = Metrics::new();
        metrics.set_last_backup_success("prod", "nightly", 1_700_000_000);
        metrics.set_last_backup_success("prod", "nightly", 1_700_086_400);
        metrics.set_drifts("prod", "parity", 7);
        metrics.set_drifts("prod", "parity", 3);
        let text = metrics.render();
        assert_eq!(
            sample(
                &text,
                r#"tollgate_operator_last_backup_success_timestamp_seconds{namespace="prod",policy="nightly"}"#
            ),
            Some(1_700_086_400.0)
        );
        assert_eq!(
            sample(&text, r#"tollgate_operator_drifts{namespace="prod",name="parity"}"#),
            Some(3.0)
        );

        assert_eq!(sample(&text, "tollgate_operator_remote_clusters"), Some(0.0));
        metrics.set_remote_clusters(2);
        assert_eq!(sample(&metrics.render(), "tollgate_operator_remote_clusters"), Some(2.0));

        metrics.forget_parity("prod", "parity");
        metrics.forget_policy("prod", "nightly");
        let text = metrics.render();
        assert_eq!(
            sample(&text, r#"tollgate_operator_drifts{namespace="prod",name="parity"}"#),
            None
        );
        assert_eq!(
            sample(
                &text,
                r#"tollgate_operator_last_backup_success_timestamp_seconds{namespace="prod",policy="nightly"}"#
            ),
            None
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
