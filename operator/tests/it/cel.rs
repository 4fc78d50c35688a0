//! The CRDs' validation rules (`x-kubernetes-validations`, CEL) evaluated by an independent CEL
//! implementation, cel-python (PyPI, in the test venv; `tests/validators/cel_rules.py`), since no
//! kube-apiserver can run here to enforce them. Every rule in the generated CRDs must have a case
//! it accepts and a case it rejects below, so a new rule cannot go untested.
//!
//! What this does not check (the real API server does; `real_cluster` covers some of it): the
//! rule's type-checking against the schema and its estimated cost against the budget.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use tollgate_operator::crd;

/// One rule where it sits: `Kind` and the JSON path of its schema node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Placed {
    kind: String,
    path: String,
    rule: String,
}

fn collect(kind: &str, path: &str, schema: &Value, out: &mut Vec<Placed>) {
    if let Some(rules) = schema.get("x-kubernetes-validations").and_then(Value::as_array) {
        for r in rules {
            out.push(Placed {
                kind: kind.to_owned(),
                path: if path.is_empty() { "/".to_owned() } else { path.to_owned() },
                rule: r["rule"].as_str().expect("a rule is a string").to_owned(),
            });
        }
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            collect(kind, &format!("{path}/{name}"), sub, out);
        }
    }
    if let Some(items) = schema.get("items") {
        collect(kind, &format!("{path}/*"), items, out);
    }
    if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        collect(kind, &format!("{path}/*"), values, out);
    }
}

fn rules_in_crds() -> Vec<Placed> {
    let mut out = Vec::new();
    for crd in crd::all() {
        let kind = crd.spec.names.kind.clone();
        for version in &crd.spec.versions {
            let schema = serde_json::to_value(
                version.schema.as_ref().and_then(|s| s.open_api_v3_schema.as_ref()),
            )
            .expect("the schema as JSON");
            collect(&kind, "", &schema, &mut out);
        }
    }
    out.sort();
    out
}

/// A value the rule must accept (`true`) or reject (`false`); `old` is `oldSelf` for
/// transition rules.
struct Case {
    rule: &'static str,
    value: Value,
    old: Option<Value>,
    accepted: bool,
}

fn case(rule: &'static str, value: Value, accepted: bool) -> Case {
    Case { rule, value, old: None, accepted }
}

fn transition(rule: &'static str, old: Value, value: Value, accepted: bool) -> Case {
    Case { rule, value, old: Some(old), accepted }
}

const RECIPIENTS: &str = "self.size() > 0 && self.all(r, r.startsWith('age1'))";
const KEEP: &str = "self.keepLast + self.keepHourly + self.keepDaily + self.keepWeekly + self.keepMonthly + self.keepYearly > 0";
const CRON: &str = "self.split(' ').filter(f, f != '').size() == 5";
const STORE: &str =
    "self.startsWith('s3://') || self.startsWith('file:///') || self.startsWith('/')";
const IMMUTABLE: &str = "self == oldSelf";
const DURATION: &str = "self.matches('^([0-9]+(s|m|h|d))+$')";
const POINTERS: &str = "self.all(p, p == '' || p.startsWith('/'))";
const UNIQUE_ENVS: &str =
    "self.environments.all(e, self.environments.exists_one(f, f.name == e.name))";
const RESTORE_TARGET: &str = "self.mode == 'Verify' || has(self.targetDatabaseSecretRef)";
const PLAN_HASH: &str = "self.matches('^[0-9a-f]{64}$')";
const COMMIT: &str = "self.matches('^[0-9a-f]{40}$')";
const ONE_SOURCE: &str = "has(self.configMap) != has(self.git)";
const PROBE_URL: &str = "self.startsWith('http://') || self.startsWith('https://')";
const BODY_POINTER: &str = "self == '' || self.startsWith('/')";

fn keep(last: u32, daily: u32) -> Value {
    json!({"keepLast": last, "keepHourly": 0, "keepDaily": daily, "keepWeekly": 0,
           "keepMonthly": 0, "keepYearly": 0})
}

fn cases() -> Vec<Case> {
    let env = |name: &str| json!({"name": name, "namespace": name});
    vec![
        case(RECIPIENTS, json!(["age1qyqszqgpqyqszqgpqyqszqgpqyqszqgp"]), true),
        case(RECIPIENTS, json!([]), false),
        case(RECIPIENTS, json!(["age1abc", "ssh-ed25519 AAAA"]), false),
        case(KEEP, keep(7, 0), true),
        case(KEEP, keep(0, 30), true),
        case(KEEP, keep(0, 0), false),
        case(CRON, json!("0 2 * * *"), true),
        case(CRON, json!("*/15  *  * * 1-5"), true),
        case(CRON, json!("0 2 * *"), false),
        case(CRON, json!("0 0 2 * * *"), false),
        case(STORE, json!("s3://backups/prod"), true),
        case(STORE, json!("file:///var/backups"), true),
        case(STORE, json!("/var/backups"), true),
        case(STORE, json!("gs://backups"), false),
        case(STORE, json!("backups"), false),
        transition(IMMUTABLE, json!("nightly"), json!("nightly"), true),
        transition(IMMUTABLE, json!("nightly"), json!("weekly"), false),
        transition(IMMUTABLE, json!({"mode": "Verify"}), json!({"mode": "Restore"}), false),
        case(DURATION, json!("30m"), true),
        case(DURATION, json!("1d12h"), true),
        case(DURATION, json!("soon"), false),
        case(DURATION, json!("30"), false),
        case(DURATION, json!("-1h"), false),
        case(POINTERS, json!(["", "/configMaps/app/LOG", "/images/*/sidecar"]), true),
        case(POINTERS, json!(["configMaps/app"]), false),
        case(UNIQUE_ENVS, json!({"environments": [env("dev"), env("prod")]}), true),
        case(UNIQUE_ENVS, json!({"environments": [env("dev"), env("prod"), env("dev")]}), false),
        case(RESTORE_TARGET, json!({"mode": "Verify"}), true),
        case(
            RESTORE_TARGET,
            json!({"mode": "Restore", "targetDatabaseSecretRef": {"name": "db", "key": "url"}}),
            true,
        ),
        case(RESTORE_TARGET, json!({"mode": "Restore"}), false),
        case(PLAN_HASH, json!("ab".repeat(32)), true),
        case(PLAN_HASH, json!("AB".repeat(32)), false),
        case(PLAN_HASH, json!("ab".repeat(31)), false),
        case(COMMIT, json!("0123456789abcdef0123456789abcdef01234567"), true),
        case(COMMIT, json!("0123456"), false),
        case(COMMIT, json!("main"), false),
        case(ONE_SOURCE, json!({"configMap": {"name": "sql"}}), true),
        case(ONE_SOURCE, json!({"git": {"repository": "https://example.com/db.git"}}), true),
        case(ONE_SOURCE, json!({}), false),
        case(ONE_SOURCE, json!({"configMap": {"name": "sql"}, "git": {"repository": "x"}}), false),
        case(PROBE_URL, json!("https://shop.example.com/healthz"), true),
        case(PROBE_URL, json!("http://10.0.0.1:8080/ready"), true),
        case(PROBE_URL, json!("ftp://shop.example.com/"), false),
        case(BODY_POINTER, json!("/status"), true),
        case(BODY_POINTER, json!(""), true),
        case(BODY_POINTER, json!("status"), false),
    ]
}

/// Runs the cases through `tests/validators/cel_rules.py`: per case `true`, `false` or an error.
fn evaluate(cases: &[Case]) -> Vec<Value> {
    let python = std::env::var_os("TOLLGATE_PYTHON").expect(
        "TOLLGATE_PYTHON is not set: run the tests through `cargo xtask test`, which installs \
         cel-python into target/venv",
    );
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/validators/cel_rules.py");
    let input: Vec<Value> = cases
        .iter()
        .map(|c| {
            let mut v = json!({"rule": c.rule, "self": c.value});
            if let Some(old) = &c.old {
                v["oldSelf"] = old.clone();
            }
            v
        })
        .collect();
    let mut child = Command::new(python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the CEL evaluator");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&serde_json::to_vec(&input).expect("JSON"))
        .expect("write the cases");
    let out = child.wait_with_output().expect("the evaluator's output");
    assert!(out.status.success(), "cel_rules.py failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("a JSON list of results")
}

#[test]
fn every_crd_rule_accepts_and_rejects_what_it_should() {
    let placed = rules_in_crds();
    let in_crds: BTreeSet<&str> = placed.iter().map(|p| p.rule.as_str()).collect();
    assert!(in_crds.len() >= 12, "the CRDs carry their rules: {placed:#?}");
    let cases = cases();

    // Coverage both ways: each rule has an accepted and a rejected case; no case is stale.
    let mut seen: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
    for c in &cases {
        assert!(in_crds.contains(c.rule), "a case for a rule no CRD has: {}", c.rule);
        let entry = seen.entry(c.rule).or_default();
        if c.accepted { entry.0 = true } else { entry.1 = true }
    }
    for p in &placed {
        assert_eq!(
            seen.get(p.rule.as_str()),
            Some(&(true, true)),
            "{} {}: add an accepted and a rejected case for `{}`",
            p.kind,
            p.path,
            p.rule
        );
    }

    let results = evaluate(&cases);
    assert_eq!(results.len(), cases.len());
    let wrong: Vec<String> = cases
        .iter()
        .zip(&results)
        .filter(|(c, r)| **r != Value::Bool(c.accepted))
        .map(|(c, r)| {
            format!(
                "`{}` on {} (oldSelf {:?}): expected {}, got {r}",
                c.rule, c.value, c.old, c.accepted
            )
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The evaluator itself tells a broken rule and a failing evaluation apart from `false`, so
/// the test above cannot pass on errors.
#[test]
fn the_evaluator_reports_errors_not_false() {
    let results = evaluate(&[
        case("self.size( > 0", json!([]), false),
        case("self.missing == 1", json!({}), false),
        case("self.size()", json!([1]), false),
    ]);
    for r in &results {
        assert!(r.get("error").is_some(), "an error, not a verdict: {r}");
    }
}
