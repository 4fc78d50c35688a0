//! `EnvironmentParity`: environments in promotion order, compared dimension by dimension.
//!
//! The spec says what to compare and what to tolerate; the status lists the drifts found
//! (capped at [`MAX_LISTED_DRIFTS`], with `totalDrifts` the full count) and sets `InSync` /
//! `Drifted`. The comparison itself is the operator's (`tollgate_operator::parity`, pure).

// `printcolumn(...)` entries repeat `type_ = …` by design; clippy reads them as duplicates.
#![allow(clippy::duplicated_attributes)]

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

/// Most drifts listed in the status (`totalDrifts` counts them all).
pub const MAX_LISTED_DRIFTS: usize = 100;
/// Most environments in one EnvironmentParity.
pub const MAX_ENVIRONMENTS: usize = 10;
/// Default re-comparison interval, seconds.
pub const DEFAULT_INTERVAL_SECONDS: u32 = 300;

/// Compare environments (namespaces, possibly in other clusters) in promotion order and report
/// where a later environment differs from the one before it.
#[derive(CustomResource, KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[kube(
    group = "tollgate.dev",
    version = "v1alpha1",
    kind = "EnvironmentParity",
    namespaced,
    status = "EnvironmentParityStatus",
    shortname = "envparity",
    category = "tollgate",
    printcolumn(
        name = "InSync",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"InSync\")].status"
    ),
    printcolumn(name = "Drifts", type_ = "integer", json_path = ".status.totalDrifts"),
    printcolumn(name = "Compared", type_ = "date", json_path = ".status.lastCompared"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[x_kube(validation = Rule::new("self.environments.all(e, self.environments.exists_one(f, f.name == e.name))").message("environment names must be unique"))]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentParitySpec {
    /// Environments in promotion order (e.g. dev, staging, prod): each is compared with the one
    /// before it.
    #[schemars(length(min = 2, max = 10))]
    pub environments: Vec<Environment>,
    /// What to compare; all dimensions when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 5))]
    pub dimensions: Vec<Dimension>,
    /// JSON pointers into the snapshot whose drifts are ignored: a pointer ignores itself and
    /// everything below it; a `*` segment matches any one segment. Snapshot layout:
    /// `/images/<deployment>/<container>`, `/configMaps/<name>/<key>`,
    /// `/secrets/<name>/<key>`, `/featureFlags/<flag>`, `/schemaVersion/<schemaMigration>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100), inner(length(max = 512)))]
    #[x_kube(validation = Rule::new("self.all(p, p == '' || p.startsWith('/'))").message("ignore entries are JSON pointers: empty or starting with '/'"))]
    pub ignore: Vec<String>,
    /// How far a later environment may lag behind the one before it without counting as drift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_lag: Option<AllowedLag>,
    /// Seconds between comparisons (default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 10, max = 86400))]
    pub interval_seconds: Option<u32>,
}

/// One environment: a namespace, in this cluster or another one.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    /// Name used in drifts and messages (e.g. `staging`).
    #[schemars(length(min = 1, max = 63))]
    pub name: String,
    /// The namespace holding the environment's objects.
    #[schemars(length(min = 1, max = 63))]
    pub namespace: String,
    /// A Secret in the EnvironmentParity's namespace holding a kubeconfig for another cluster;
    /// this cluster when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig_secret_ref: Option<SecretKeyRef>,
    /// Which objects of the namespace belong to the environment (all when absent). Applies to
    /// Deployments, ConfigMaps, Secrets and SchemaMigrations alike.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// An HTTP(S) health probe of the environment, run by the operator every
    /// `health.intervalSeconds`; an unhealthy environment keeps the parity from being InSync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthProbe>,
}

/// Default seconds between health probes of one environment.
pub const DEFAULT_PROBE_INTERVAL_SECONDS: u32 = 30;
/// Default seconds a health probe may take before it counts as failed.
pub const DEFAULT_PROBE_TIMEOUT_SECONDS: u32 = 5;
/// Default expected HTTP status of a health probe.
pub const DEFAULT_EXPECTED_STATUS: u16 = 200;

/// An HTTP(S) GET of a URL whose answer says whether the environment is healthy: the expected
/// status, within the timeout and the latency budget, and optionally a value at a JSON pointer
/// of the body. Redirects are not followed (a 3xx is a status like any other).
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HealthProbe {
    /// The `http://` or `https://` URL to GET (HTTPS is verified against the system roots).
    #[schemars(length(min = 8, max = 2048))]
    #[x_kube(validation = Rule::new("self.startsWith('http://') || self.startsWith('https://')").message("an http:// or https:// URL"))]
    pub url: String,
    /// The status the answer must have (default 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 100, max = 599))]
    pub expected_status: Option<u16>,
    /// Seconds the whole exchange (connect, headers, body) may take (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 60))]
    pub timeout_seconds: Option<u32>,
    /// Milliseconds the exchange should take: a slower answer counts as unhealthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 60000))]
    pub latency_budget_ms: Option<u32>,
    /// Seconds between probes (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 5, max = 3600))]
    pub interval_seconds: Option<u32>,
    /// A value the JSON body must hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<JsonCheck>,
}

impl HealthProbe {
    /// The expected status (default 200).
    pub fn expected_status(&self) -> u16 {
        self.expected_status.unwrap_or(DEFAULT_EXPECTED_STATUS)
    }

    /// The timeout (default 5 s).
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(
            self.timeout_seconds.unwrap_or(DEFAULT_PROBE_TIMEOUT_SECONDS),
        ))
    }

    /// Seconds between probes (default 30).
    pub fn interval_seconds(&self) -> u32 {
        self.interval_seconds.unwrap_or(DEFAULT_PROBE_INTERVAL_SECONDS)
    }
}

/// A check of the body: the value at `pointer` (RFC 6901) must equal `value` — a string is
/// compared as text, any other JSON value by its compact JSON text (`true`, `3`, `null`).
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct JsonCheck {
    /// A JSON pointer into the body, e.g. `/status`.
    #[schemars(length(max = 512))]
    #[x_kube(validation = Rule::new("self == '' || self.startsWith('/')").message("a JSON pointer: empty or starting with '/'"))]
    pub pointer: String,
    /// The expected value.
    #[schemars(length(max = 1024))]
    pub value: String,
}

/// The last health probe of one environment.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HealthStatus {
    /// Whether the probe passed every check.
    pub healthy: bool,
    /// When the probe ran.
    pub last_check_time: Time,
    /// The answer's HTTP status, when there was an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// How long the exchange took, in milliseconds (absent when it timed out or failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// What was found, e.g. `200 in 12 ms` or `status 503, expected 200`.
    pub message: String,
}

/// A key of a Secret in the resource's own namespace.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// The Secret's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The key inside the Secret's data.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// A dimension of comparison.
#[derive(
    schemars::JsonSchema,
    Deserialize,
    Serialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
)]
#[serde(rename_all = "camelCase")]
pub enum Dimension {
    /// Container images of Deployments (the digest when pinned, else the reference).
    Images,
    /// ConfigMap keys and value hashes (feature-flag manifests excluded).
    ConfigMaps,
    /// Secret keys and value hashes (values never leave the operator).
    Secrets,
    /// Flags from ConfigMaps labelled `tollgate.dev/feature-flags: "true"`.
    FeatureFlags,
    /// The applied version of each SchemaMigration.
    SchemaVersion,
}

impl Dimension {
    /// Every dimension, in report order.
    pub const ALL: [Dimension; 5] = [
        Dimension::Images,
        Dimension::ConfigMaps,
        Dimension::Secrets,
        Dimension::FeatureFlags,
        Dimension::SchemaVersion,
    ];

    /// The first JSON pointer segment of the dimension in the snapshot (`images`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Images => "images",
            Dimension::ConfigMaps => "configMaps",
            Dimension::Secrets => "secrets",
            Dimension::FeatureFlags => "featureFlags",
            Dimension::SchemaVersion => "schemaVersion",
        }
    }
}

/// Tolerated lag of a later environment behind the one before it.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct AllowedLag {
    /// How many schema versions a later environment may be behind (never ahead), for integer
    /// migration versions (`V7__…`); a later environment behind on Flyway dotted versions
    /// (`V1_5__…`) is drift unless `duration` covers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub schema_versions: Option<u64>,
    /// How long any drift may exist (since first seen) before it counts, e.g. `2h`, `30m`,
    /// `1d` (a promotion in progress).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    #[x_kube(validation = Rule::new("self.matches('^([0-9]+(s|m|h|d))+$')").message("a duration such as 30m, 2h or 1d"))]
    pub duration: Option<String>,
}

/// How a later environment differs.
#[derive(
    schemars::JsonSchema,
    Deserialize,
    Serialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
)]
pub enum DriftKind {
    /// Present in the earlier environment, absent in the later one.
    Missing,
    /// Absent in the earlier environment, present in the later one.
    Extra,
    /// Present in both with different values.
    Changed,
}

impl DriftKind {
    /// The same difference seen from the other side (Missing ↔ Extra).
    pub fn reversed(self) -> DriftKind {
        match self {
            DriftKind::Missing => DriftKind::Extra,
            DriftKind::Extra => DriftKind::Missing,
            DriftKind::Changed => DriftKind::Changed,
        }
    }
}

/// One difference between two consecutive environments.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Drift {
    /// The dimension.
    pub dimension: Dimension,
    /// What differs.
    pub kind: DriftKind,
    /// The object (`deployment/web`, `configmap/app`, `featureflag`, `schemamigration/app`).
    pub object: String,
    /// JSON pointer into the snapshot (see `spec.ignore`).
    pub pointer: String,
    /// The earlier environment.
    pub from: String,
    /// The later environment.
    pub to: String,
    /// Human-readable; never contains a Secret value or hash.
    pub description: String,
    /// When this drift was first seen (kept across comparisons while it persists).
    pub since: Time,
    /// Within `spec.allowedLag`: listed but not counted as drift.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub within_allowed_lag: bool,
}

/// Per-environment result of the last comparison.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentStatus {
    /// The environment's name.
    pub name: String,
    /// Objects taken into the snapshot (Deployments + ConfigMaps + Secrets + SchemaMigrations).
    pub objects: u32,
    /// Why the environment could not be read (e.g. a bad kubeconfig Secret), if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The last health probe (environments with `health` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthStatus>,
}

/// Observed state of an EnvironmentParity.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentParityStatus {
    /// Ready, Reconciling, Stalled, InSync, Drifted, and Healthy when an environment has a
    /// health probe.
    #[serde(default)]
    #[schemars(schema_with = "crate::crd::conditions_schema")]
    pub conditions: Vec<Condition>,
    /// The generation the status was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The drifts, in promotion order (at most 100).
    #[serde(default)]
    pub drifts: Vec<Drift>,
    /// How many drifts there are (listed or not, including those within the allowed lag).
    #[serde(default)]
    pub total_drifts: u32,
    /// How many of them are within the allowed lag.
    #[serde(default)]
    pub tolerated_drifts: u32,
    /// Per environment: what was read.
    #[serde(default)]
    pub environments: Vec<EnvironmentStatus>,
    /// When the environments were last compared (refreshed at most once per interval unless
    /// the result changed, so status writes stay rare).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_compared: Option<Time>,
}

impl EnvironmentParity {
    /// The spec's dimensions, or all of them when the list is empty; sorted and deduplicated.
    pub fn dimensions(&self) -> Vec<Dimension> {
        let mut d = if self.spec.dimensions.is_empty() {
            Dimension::ALL.to_vec()
        } else {
            self.spec.dimensions.clone()
        };
        d.sort();
        d.dedup();
        d
    }

    /// Seconds between comparisons.
    pub fn interval_seconds(&self) -> u32 {
        self.spec.interval_seconds.unwrap_or(DEFAULT_INTERVAL_SECONDS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::CustomResourceExt;

    #[test]
    fn the_crd_carries_its_validation_rules_and_columns() {
        let crd = serde_json::to_string(&EnvironmentParity::crd()).unwrap();
        for needle in [
            r#""name":"environmentparities.tollgate.dev""#,
            "environment names must be unique",
            "self.all(p, p == '' || p.startsWith('/'))",
            r#""maxItems":10"#,
            r#""maxLength":512"#,
            r#""shortNames":["envparity"]"#,
            r#"".status.totalDrifts""#,
        ] {
            assert!(crd.contains(needle), "missing {needle} in {crd}");
        }
    }

    #[test]
    fn a_sample_reads_with_defaults() {
        let p: EnvironmentParity = serde_json::from_value(serde_json::json!({
            "apiVersion": "tollgate.dev/v1alpha1",
            "kind": "EnvironmentParity",
            "metadata": { "name": "shop", "namespace": "ops" },
            "spec": {
                "environments": [
                    { "name": "staging", "namespace": "shop-staging",
                      "selector": { "matchLabels": { "app": "shop" } } },
                    { "name": "prod", "namespace": "shop",
                      "kubeconfigSecretRef": { "name": "prod-cluster", "key": "kubeconfig" } }
                ],
                "dimensions": ["images", "secrets", "images"],
                "ignore": ["/images/*/istio-proxy"],
                "allowedLag": { "schemaVersions": 1, "duration": "2h" }
            }
        }))
        .unwrap();
        assert_eq!(p.dimensions(), [Dimension::Images, Dimension::Secrets]);
        assert_eq!(p.interval_seconds(), DEFAULT_INTERVAL_SECONDS);
        let e = serde_json::from_value::<EnvironmentParity>(serde_json::json!({
            "apiVersion": "tollgate.dev/v1alpha1", "kind": "EnvironmentParity",
            "metadata": { "name": "x" },
            "spec": { "environments": [], "dimensions": ["everything"] }
        }))
        .unwrap_err();
        assert!(e.to_string().contains("everything"), "{e}");
    }
}
