//! Snapshots → drifts: consecutive environments compared, ignore rules and allowed lag applied,
//! the list capped.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::pointer::{IgnoreRule, pointer};
use super::snapshot::{Snapshot, Value};
use crate::crd::parity::{Dimension, Drift, DriftKind, EnvironmentParitySpec, MAX_LISTED_DRIFTS};
use tollgate_db::migrate::MigrationVersion;

/// The comparison settings of a spec, parsed.
#[derive(Debug, Clone, Default)]
pub struct CompareOptions {
    /// Dimensions compared.
    pub dimensions: Vec<Dimension>,
    /// Drifts these match are dropped (not counted at all).
    pub ignore: Vec<IgnoreRule>,
    /// How many schema versions a later environment may be behind.
    pub lag_schema_versions: Option<u64>,
    /// How long a drift may exist before it counts.
    pub lag_duration: Option<jiff::SignedDuration>,
}

impl CompareOptions {
    /// Parses a spec's settings; errors name the JSON pointer of the bad field.
    pub fn from_spec(spec: &EnvironmentParitySpec) -> Result<CompareOptions, String> {
        let mut dimensions = if spec.dimensions.is_empty() {
            Dimension::ALL.to_vec()
        } else {
            spec.dimensions.clone()
        };
        dimensions.sort();
        dimensions.dedup();
        let ignore = spec
            .ignore
            .iter()
            .enumerate()
            .map(|(i, p)| IgnoreRule::parse(p, i))
            .collect::<Result<_, _>>()?;
        let lag = spec.allowed_lag.clone().unwrap_or_default();
        let lag_duration = lag
            .duration
            .as_deref()
            .map(|d| {
                parse_lag_duration(d).ok_or_else(|| {
                    format!(
                        "/spec/allowedLag/duration: {d:?} is not a duration such as 30m, 2h or 1d"
                    )
                })
            })
            .transpose()?;
        Ok(CompareOptions {
            dimensions,
            ignore,
            lag_schema_versions: lag.schema_versions,
            lag_duration,
        })
    }
}

/// Parses `1d2h30m10s`-style durations (units s, m, h, d; at least one part).
pub fn parse_lag_duration(s: &str) -> Option<jiff::SignedDuration> {
    let mut total: i64 = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: i64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            _ => return None,
        };
        let n: i64 = digits.parse().ok()?;
        digits.clear();
        total = total.checked_add(n.checked_mul(unit)?)?;
    }
    if !digits.is_empty() || s.is_empty() {
        return None;
    }
    Some(jiff::SignedDuration::from_secs(total))
}

/// The result of comparing all environments.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The first [`MAX_LISTED_DRIFTS`] drifts in promotion order.
    pub drifts: Vec<Drift>,
    /// Every drift after ignore rules (listed or not).
    pub total: usize,
    /// How many of them are within the allowed lag.
    pub tolerated: usize,
}

impl Comparison {
    /// Drifts that count (outside the allowed lag).
    pub fn counted(&self) -> usize {
        self.total - self.tolerated
    }
}

fn object_label(dim: Dimension, object: &str) -> String {
    let kind = match dim {
        Dimension::Images => "deployment",
        Dimension::ConfigMaps => "configmap",
        Dimension::Secrets => "secret",
        Dimension::FeatureFlags => "featureflag",
        Dimension::SchemaVersion => "schemamigration",
    };
    format!("{kind}/{object}")
}

fn what(dim: Dimension, object: &str, key: &str) -> String {
    let label = object_label(dim, object);
    match dim {
        Dimension::Images => format!("{label} container {key}"),
        Dimension::ConfigMaps | Dimension::Secrets => format!("{label} key {key}"),
        Dimension::FeatureFlags | Dimension::SchemaVersion => label,
    }
}

fn shown(v: &Value) -> Option<String> {
    v.display()
}

/// Every drift from environment `from` to the next environment `to` in the given dimensions,
/// ordered by dimension, then pointer. `since` is `now` for all of them.
///
/// An object absent on one side is one drift at the object's pointer; otherwise each differing
/// key is one drift at the key's pointer.
pub fn diff_pair(
    from_name: &str,
    from: &Snapshot,
    to_name: &str,
    to: &Snapshot,
    dimensions: &[Dimension],
    now: jiff::Timestamp,
) -> Vec<Drift> {
    let empty = BTreeMap::new();
    let mut out = Vec::new();
    let mut push = |dim: Dimension, kind, object: &str, key: Option<&str>, description: String| {
        let ptr = match key {
            Some(k) if !k.is_empty() => pointer([dim.as_str(), object, k]),
            _ => pointer([dim.as_str(), object]),
        };
        out.push(Drift {
            dimension: dim,
            kind,
            object: object_label(dim, object),
            pointer: ptr,
            from: from_name.to_owned(),
            to: to_name.to_owned(),
            description,
            since: Time(now),
            within_allowed_lag: false,
        });
    };
    let mut dims = dimensions.to_vec();
    dims.sort();
    dims.dedup();
    for dim in dims {
        let a = from.objects.get(&dim).unwrap_or(&empty);
        let b = to.objects.get(&dim).unwrap_or(&empty);
        for (name, in_a, in_b) in merge(a, b) {
            match (in_a, in_b) {
                (Some(_), None) => {
                    let label = object_label(dim, name);
                    let description = format!("{label} exists in {from_name} but not in {to_name}");
                    push(dim, DriftKind::Missing, name, None, description);
                }
                (None, Some(_)) => {
                    let label = object_label(dim, name);
                    let description = format!("{label} exists in {to_name} but not in {from_name}");
                    push(dim, DriftKind::Extra, name, None, description);
                }
                (Some(ka), Some(kb)) => {
                    for (key, va, vb) in merge(ka, kb) {
                        match (va, vb) {
                            (Some(_), None) => {
                                let w = what(dim, name, key);
                                let description =
                                    format!("{w} is set in {from_name} but not in {to_name}");
                                push(dim, DriftKind::Missing, name, Some(key), description);
                            }
                            (None, Some(_)) => {
                                let w = what(dim, name, key);
                                let description =
                                    format!("{w} is set in {to_name} but not in {from_name}");
                                push(dim, DriftKind::Extra, name, Some(key), description);
                            }
                            (Some(va), Some(vb)) if va.compare != vb.compare => {
                                let w = what(dim, name, key);
                                let description = match (shown(va), shown(vb)) {
                                    (Some(x), Some(y)) => {
                                        format!("{w}: {from_name} has {x}, {to_name} has {y}")
                                    }
                                    _ => format!(
                                        "{w} differs between {from_name} and {to_name} (values are not shown)"
                                    ),
                                };
                                push(dim, DriftKind::Changed, name, Some(key), description);
                            }
                            _ => {}
                        }
                    }
                }
                (None, None) => {}
            }
        }
    }
    out
}

/// The union of two sorted maps' keys in order, with each side's value (a merge join: no
/// allocation, linear in the sizes).
fn merge<'a, V>(
    a: &'a BTreeMap<String, V>,
    b: &'a BTreeMap<String, V>,
) -> impl Iterator<Item = (&'a String, Option<&'a V>, Option<&'a V>)> {
    let mut a = a.iter().peekable();
    let mut b = b.iter().peekable();
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some((ka, _)), Some((kb, _))) => match ka.cmp(kb) {
            std::cmp::Ordering::Less => a.next().map(|(k, v)| (k, Some(v), None)),
            std::cmp::Ordering::Greater => b.next().map(|(k, v)| (k, None, Some(v))),
            std::cmp::Ordering::Equal => {
                let (k, va) = a.next()?;
                let (_, vb) = b.next()?;
                Some((k, Some(va), Some(vb)))
            }
        },
        (Some(_), None) => a.next().map(|(k, v)| (k, Some(v), None)),
        (None, Some(_)) => b.next().map(|(k, v)| (k, None, Some(v))),
        (None, None) => None,
    })
}

fn within_schema_lag(d: &Drift, from: &Snapshot, to: &Snapshot, allowed: u64) -> bool {
    if d.dimension != Dimension::SchemaVersion || d.kind != DriftKind::Changed {
        return false;
    }
    let name = d.object.trim_start_matches("schemamigration/");
    let version = |s: &Snapshot| {
        s.objects
            .get(&Dimension::SchemaVersion)
            .and_then(|o| o.get(name))
            .and_then(|k| k.get(""))
            .and_then(|v| MigrationVersion::parse(&v.compare).ok())
    };
    match (version(from), version(to)) {
        // The later environment is behind (never ahead), by at most `allowed` versions. The
        // distance of Flyway dotted versions (`1.5` to `1.10`) is not a count of migrations:
        // those lags are drift unless the `duration` lag covers them.
        (Some(f), Some(t)) => t < f && f.integer_distance(&t).is_some_and(|n| n <= allowed),
        _ => false,
    }
}

/// Compares environments in promotion order (each with the one before it; a `None` snapshot is
/// an unreadable environment and the pairs it is part of are skipped). Drops drifts matched by
/// an ignore rule, carries `since` over from `previous` drifts (same pointer, environments and
/// kind), marks drifts within the allowed lag, and lists at most [`MAX_LISTED_DRIFTS`].
pub fn compare(
    envs: &[(&str, Option<&Snapshot>)],
    options: &CompareOptions,
    previous: &[Drift],
    now: jiff::Timestamp,
) -> Comparison {
    let first_seen: BTreeMap<(&str, &str, &str, DriftKind), &Time> = previous
        .iter()
        .map(|d| ((d.pointer.as_str(), d.from.as_str(), d.to.as_str(), d.kind), &d.since))
        .collect();
    let mut all = Vec::new();
    for pair in envs.windows(2) {
        let ((from_name, Some(from)), (to_name, Some(to))) = (pair[0], pair[1]) else {
            continue;
        };
        for mut d in diff_pair(from_name, from, to_name, to, &options.dimensions, now) {
            if options.ignore.iter().any(|r| r.matches(&d.pointer)) {
                continue;
            }
            if let Some(since) =
                first_seen.get(&(d.pointer.as_str(), d.from.as_str(), d.to.as_str(), d.kind))
                && since.0 <= now
            {
                d.since = (*since).clone();
            }
            let by_version =
                options.lag_schema_versions.is_some_and(|n| within_schema_lag(&d, from, to, n));
            let by_time =
                options.lag_duration.is_some_and(|lag| now.duration_since(d.since.0) < lag);
            d.within_allowed_lag = by_version || by_time;
            all.push(d);
        }
    }
    let total = all.len();
    let tolerated = all.iter().filter(|d| d.within_allowed_lag).count();
    all.truncate(MAX_LISTED_DRIFTS);
    Comparison { drifts: all, total, tolerated }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::parity::{AllowedLag, Environment};
    use proptest::prelude::*;

    fn t(secs: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(secs).expect("valid timestamp")
    }

    /// A snapshot from `(dimension, object, key, value)` rows (Secrets hide their values).
    fn snap(rows: &[(Dimension, &str, &str, &str)]) -> Snapshot {
        let mut s = Snapshot::default();
        for (dim, obj, key, val) in rows {
            let v = if *dim == Dimension::Secrets {
                Value { compare: val.to_string(), shown: crate::parity::Shown::Hidden }
            } else {
                Value::plain(*val)
            };
            s.objects
                .entry(*dim)
                .or_default()
                .entry(obj.to_string())
                .or_default()
                .insert(key.to_string(), v);
        }
        s
    }

    fn all() -> CompareOptions {
        CompareOptions { dimensions: Dimension::ALL.to_vec(), ..Default::default() }
    }

    fn spec(ignore: &[&str], lag: Option<AllowedLag>) -> EnvironmentParitySpec {
        let env = |n: &str| Environment {
            name: n.into(),
            namespace: n.into(),
            kubeconfig_secret_ref: None,
            selector: None,
            health: None,
        };
        EnvironmentParitySpec {
            environments: vec![env("dev"), env("prod")],
            dimensions: vec![],
            ignore: ignore.iter().map(|s| s.to_string()).collect(),
            allowed_lag: lag,
            interval_seconds: None,
        }
    }

    use Dimension::*;

    #[test]
    fn each_kind_of_difference_is_one_drift_with_its_pointer() {
        let dev = snap(&[
            (Images, "web", "app", "app@sha256:1"),
            (ConfigMaps, "app", "LOG", "h1"),
            (ConfigMaps, "app", "ONLY_DEV", "h2"),
            (ConfigMaps, "dev-only", "k", "h"),
            (Secrets, "db", "password", "s1"),
            (FeatureFlags, "checkout", "", "on"),
            (SchemaVersion, "app", "", "5"),
        ]);
        let prod = snap(&[
            (Images, "web", "app", "app@sha256:2"),
            (ConfigMaps, "app", "LOG", "h1"),
            (ConfigMaps, "prod-only", "k", "h"),
            (Secrets, "db", "password", "s2"),
            (FeatureFlags, "checkout", "", "off"),
            (SchemaVersion, "app", "", "5"),
        ]);
        let got = diff_pair("dev", &dev, "prod", &prod, &Dimension::ALL, t(0));
        let summary: Vec<_> =
            got.iter().map(|d| (d.pointer.as_str(), d.kind, d.object.as_str())).collect();
        assert_eq!(
            summary,
            [
                ("/images/web/app", DriftKind::Changed, "deployment/web"),
                ("/configMaps/app/ONLY_DEV", DriftKind::Missing, "configmap/app"),
                ("/configMaps/dev-only", DriftKind::Missing, "configmap/dev-only"),
                ("/configMaps/prod-only", DriftKind::Extra, "configmap/prod-only"),
                ("/secrets/db/password", DriftKind::Changed, "secret/db"),
                ("/featureFlags/checkout", DriftKind::Changed, "featureflag/checkout"),
            ]
        );
        assert_eq!(
            got[0].description,
            "deployment/web container app: dev has app@sha256:1, prod has app@sha256:2"
        );
        assert_eq!(
            got[4].description,
            "secret/db key password differs between dev and prod (values are not shown)"
        );
        assert!(got.iter().all(|d| d.from == "dev" && d.to == "prod"));
        assert!(got.iter().all(|d| !d.description.contains("s1") && !d.description.contains("s2")));
    }

    #[test]
    fn only_the_chosen_dimensions_are_compared() {
        let a = snap(&[(Images, "web", "app", "1"), (Secrets, "db", "p", "x")]);
        let b = snap(&[(Images, "web", "app", "2"), (Secrets, "db", "p", "y")]);
        let got = diff_pair("a", &a, "b", &b, &[Secrets], t(0));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].dimension, Secrets);
    }

    #[test]
    fn environments_are_compared_pairwise_in_promotion_order() {
        let dev = snap(&[(Images, "web", "app", "3")]);
        let staging = snap(&[(Images, "web", "app", "2")]);
        let prod = snap(&[(Images, "web", "app", "1")]);
        let c = compare(
            &[("dev", Some(&dev)), ("staging", Some(&staging)), ("prod", Some(&prod))],
            &all(),
            &[],
            t(0),
        );
        let pairs: Vec<_> = c.drifts.iter().map(|d| (d.from.as_str(), d.to.as_str())).collect();
        assert_eq!(pairs, [("dev", "staging"), ("staging", "prod")]);
        // An unreadable environment skips the pairs it is part of.
        let c = compare(
            &[("dev", Some(&dev)), ("staging", None), ("prod", Some(&prod))],
            &all(),
            &[],
            t(0),
        );
        assert_eq!(c.total, 0);
    }

    #[test]
    fn ignore_rules_come_from_the_spec_and_drop_matches() {
        let dev = snap(&[(Images, "web", "istio-proxy", "1"), (Images, "web", "app", "1")]);
        let prod = snap(&[(Images, "web", "istio-proxy", "2"), (Images, "web", "app", "2")]);
        let opts = CompareOptions::from_spec(&spec(&["/images/*/istio-proxy"], None)).unwrap();
        let c = compare(&[("dev", Some(&dev)), ("prod", Some(&prod))], &opts, &[], t(0));
        assert_eq!(c.total, 1);
        assert_eq!(c.drifts[0].pointer, "/images/web/app");
        let e = CompareOptions::from_spec(&spec(&["/ok", "bad"], None)).unwrap_err();
        assert!(e.starts_with("/spec/ignore/1:"), "{e}");
    }

    #[test]
    fn schema_lag_tolerates_a_later_environment_behind_not_ahead() {
        let lag = AllowedLag { schema_versions: Some(2), duration: None };
        let opts = CompareOptions::from_spec(&spec(&[], Some(lag))).unwrap();
        let run = |from: &str, to: &str| {
            let a = snap(&[(SchemaVersion, "app", "", from)]);
            let b = snap(&[(SchemaVersion, "app", "", to)]);
            compare(&[("dev", Some(&a)), ("prod", Some(&b))], &opts, &[], t(0))
        };
        let behind_2 = run("7", "5");
        assert_eq!((behind_2.total, behind_2.tolerated, behind_2.counted()), (1, 1, 0));
        assert!(behind_2.drifts[0].within_allowed_lag);
        let behind_3 = run("8", "5");
        assert_eq!(behind_3.counted(), 1);
        let ahead = run("5", "6");
        assert_eq!(ahead.counted(), 1, "a later environment ahead is always drift");
        let unknown = run("5", "none");
        assert_eq!(unknown.counted(), 1);
        // Flyway dotted versions order numerically per part, but their distance is no count.
        let dotted = run("1.10", "1.9");
        assert_eq!(dotted.counted(), 1, "dotted versions behind are drift");
        let dotted_ahead = run("1.9", "1.10");
        assert_eq!(dotted_ahead.counted(), 1);
    }

    #[test]
    fn time_lag_counts_from_first_seen_and_since_is_carried_over() {
        let lag = AllowedLag { schema_versions: None, duration: Some("1h".into()) };
        let opts = CompareOptions::from_spec(&spec(&[], Some(lag))).unwrap();
        let a = snap(&[(Images, "web", "app", "2")]);
        let b = snap(&[(Images, "web", "app", "1")]);
        let envs = [("dev", Some(&a)), ("prod", Some(&b))];
        let first = compare(&envs, &opts, &[], t(1_000));
        assert_eq!(first.tolerated, 1);
        assert_eq!(first.drifts[0].since, Time(t(1_000)));
        let later = compare(&envs, &opts, &first.drifts, t(1_000 + 3_599));
        assert_eq!(later.tolerated, 1);
        assert_eq!(later.drifts[0].since, Time(t(1_000)), "first-seen time is kept");
        let late = compare(&envs, &opts, &later.drifts, t(1_000 + 3_600));
        assert_eq!((late.tolerated, late.counted()), (0, 1));
    }

    #[test]
    fn lag_durations_parse() {
        assert_eq!(parse_lag_duration("90s"), Some(jiff::SignedDuration::from_secs(90)));
        assert_eq!(parse_lag_duration("1d2h"), Some(jiff::SignedDuration::from_secs(93_600)));
        assert_eq!(parse_lag_duration(""), None);
        assert_eq!(parse_lag_duration("5"), None);
        assert_eq!(parse_lag_duration("5w"), None);
        assert_eq!(parse_lag_duration("99999999999999999999d"), None);
        let bad = AllowedLag { schema_versions: None, duration: Some("soon".into()) };
        let e = CompareOptions::from_spec(&spec(&[], Some(bad))).unwrap_err();
        assert!(e.starts_with("/spec/allowedLag/duration"), "{e}");
    }

    #[test]
    fn the_list_is_capped_but_the_total_is_not() {
        let rows_a: Vec<_> = (0..250).map(|i| format!("k{i:03}")).collect();
        let a =
            snap(&rows_a.iter().map(|k| (ConfigMaps, "app", k.as_str(), "x")).collect::<Vec<_>>());
        let b = snap(&[(ConfigMaps, "app", "other", "y")]);
        let c = compare(&[("dev", Some(&a)), ("prod", Some(&b))], &all(), &[], t(0));
        assert_eq!(c.total, 251);
        assert_eq!(c.drifts.len(), MAX_LISTED_DRIFTS);
        assert_eq!(c.drifts[0].pointer, "/configMaps/app/k000");
    }

    // --- properties ---

    fn dims() -> impl Strategy<Value = Dimension> {
        prop::sample::select(Dimension::ALL.to_vec())
    }

    fn snapshot() -> impl Strategy<Value = Snapshot> {
        prop::collection::vec((dims(), "[ab]", "[xy/~]{0,2}", "[12]"), 0..12).prop_map(|rows| {
            let rows: Vec<(Dimension, &str, &str, &str)> =
                rows.iter().map(|(d, o, k, v)| (*d, o.as_str(), k.as_str(), v.as_str())).collect();
            let mut s = Snapshot::default();
            for (dim, obj, key, val) in rows {
                s.objects
                    .entry(dim)
                    .or_default()
                    .entry(obj.to_owned())
                    .or_default()
                    .insert(key.to_owned(), Value::plain(val));
            }
            s
        })
    }

    proptest! {
        #[test]
        fn identical_environments_never_drift(s in snapshot()) {
            let c = compare(&[("a", Some(&s)), ("b", Some(&s)), ("c", Some(&s))], &all(), &[], t(0));
            prop_assert_eq!(c.total, 0);
            prop_assert!(c.drifts.is_empty());
        }

        /// a→b and b→a report the same pointers; Missing and Extra swap, Changed stays.
        #[test]
        fn the_diff_is_symmetric(a in snapshot(), b in snapshot()) {
            let ab = diff_pair("a", &a, "b", &b, &Dimension::ALL, t(0));
            let ba = diff_pair("b", &b, "a", &a, &Dimension::ALL, t(0));
            let fwd: Vec<_> = ab.iter().map(|d| (d.pointer.clone(), d.kind)).collect();
            let back: Vec<_> = ba.iter().map(|d| (d.pointer.clone(), d.kind.reversed())).collect();
            prop_assert_eq!(fwd, back);
        }

        /// Drifts are empty exactly when the compared snapshots are equal.
        #[test]
        fn no_drift_iff_equal(a in snapshot(), b in snapshot()) {
            let ab = diff_pair("a", &a, "b", &b, &Dimension::ALL, t(0));
            let norm = |s: &Snapshot| s.objects.iter().filter(|(_, o)| !o.is_empty()).map(|(d, o)| (*d, o.clone())).collect::<Vec<_>>();
            prop_assert_eq!(ab.is_empty(), norm(&a) == norm(&b));
        }

        /// Ignore rules remove exactly the drifts they match, and nothing else.
        #[test]
        fn ignore_removes_exactly_the_matches(
            a in snapshot(),
            b in snapshot(),
            rule in prop::sample::select(vec!["", "/images", "/configMaps/a", "/*/b", "/secrets/*/x", "/featureFlags/a/zz", "/*/*/~1"]),
        ) {
            let plain = compare(&[("a", Some(&a)), ("b", Some(&b))], &all(), &[], t(0));
            let r = IgnoreRule::parse(rule, 0).unwrap();
            let opts = CompareOptions { ignore: vec![r.clone()], ..all() };
            let ignored = compare(&[("a", Some(&a)), ("b", Some(&b))], &opts, &[], t(0));
            let expected: Vec<_> = plain.drifts.iter().filter(|d| !r.matches(&d.pointer)).cloned().collect();
            prop_assert_eq!(ignored.drifts, expected);
            prop_assert_eq!(ignored.total, plain.total - plain.drifts.iter().filter(|d| r.matches(&d.pointer)).count());
        }

        /// The cap bounds the list, never the total, and keeps the order.
        #[test]
        fn cap_and_total(n in 0usize..300) {
            let keys: Vec<String> = (0..n).map(|i| format!("k{i:04}")).collect();
            let a = snap(&keys.iter().map(|k| (ConfigMaps, "app", k.as_str(), "1")).collect::<Vec<_>>());
            let b = snap(&keys.iter().map(|k| (ConfigMaps, "app", k.as_str(), "2")).collect::<Vec<_>>());
            let c = compare(&[("a", Some(&a)), ("b", Some(&b))], &all(), &[], t(0));
            prop_assert_eq!(c.total, n);
            prop_assert_eq!(c.drifts.len(), n.min(MAX_LISTED_DRIFTS));
            prop_assert!(c.drifts.windows(2).all(|w| w[0].pointer < w[1].pointer));
        }
    }
}
