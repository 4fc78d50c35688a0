//! JSON Schema 2020-12 keyword semantics shared by the OpenAPI 3.1 schema walk and the JSON
//! Schema registry check: what a change to one keyword does to the set of valid instances, and
//! which sub-schemas (applicators) the walkers descend into.
//!
//! **Architecture Invariant**: this module only classifies; it never decides a level. Each
//! caller maps a [`Direction`] to its own rule ids: OpenAPI requests break on narrowing
//! (clients write), responses on widening (clients read); a registry mode decides for JSON
//! Schema.

use crate::jsonschema::Direction;
use serde_json::Value;
use std::collections::BTreeSet;

/// One keyword whose change alters the set of valid instances.
pub(crate) struct KeywordChange {
    /// The keyword (`minContains`, `dependentRequired`, …).
    pub(crate) keyword: &'static str,
    pub(crate) direction: Direction,
    /// What changed, without the subject (`minContains changed from 1 to 2`).
    pub(crate) message: String,
}

/// Keywords whose value is one sub-schema and whose *absence* means "no constraint": adding one
/// narrows, removing one widens. `if` alone asserts nothing (its effect is through
/// `then`/`else`), so it is judged separately.
const SINGLE_APPLICATORS: &[&str] = &[
    "contains",
    "propertyNames",
    "not",
    "then",
    "else",
    "unevaluatedProperties",
    "unevaluatedItems",
    "contentSchema",
    "additionalProperties",
];

/// Keywords whose value maps names (or patterns) to sub-schemas.
const MAP_APPLICATORS: &[&str] = &["dependentSchemas", "patternProperties"];

/// A sub-schema pair both sides have: where it sits and whether it is negated (`not`), in
/// which case the caller compares it with base and revision swapped.
pub(crate) struct SubschemaPair {
    /// JSON pointer tokens from the schema to the sub-schema (`["dependentSchemas", "card"]`).
    pub(crate) tokens: Vec<String>,
    /// A short label for messages (`contains`, `dependentSchemas.card`, `prefixItems[0]`).
    pub(crate) label: String,
    pub(crate) negated: bool,
}

/// Whether a sub-schema value constrains nothing (`true`, `{}` or annotations only).
pub(crate) fn is_trivial(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Object(m) => m.keys().all(|k| {
            matches!(
                k.as_str(),
                "description"
                    | "title"
                    | "$comment"
                    | "examples"
                    | "example"
                    | "default"
                    | "deprecated"
                    | "readOnly"
                    | "writeOnly"
            )
        }),
        _ => true,
    }
}

fn present<'v>(schema: &'v Value, key: &str) -> Option<&'v Value> {
    schema.get(key).filter(|v| !is_trivial(v))
}

fn direction_of(narrowed: bool, widened: bool) -> Option<Direction> {
    match (narrowed, widened) {
        (false, false) => None,
        (true, false) => Some(Direction::Narrowed),
        (false, true) => Some(Direction::Widened),
        (true, true) => Some(Direction::Changed),
    }
}

/// Every change of a 2020-12 keyword between two (dereferenced) schema objects, except the
/// keywords in `skip` (those a caller judges in its own way). `basic` adds `multipleOf`,
/// `uniqueItems`, `minProperties`, `maxProperties` and `const`, which the JSON Schema walk
/// has long judged itself.
pub(crate) fn changes(base: &Value, rev: &Value, skip: &[&str], basic: bool) -> Vec<KeywordChange> {
    let mut out = Vec::new();
    let mut push = |keyword: &'static str, direction: Option<Direction>, message: String| {
        if let Some(direction) = direction
            && !skip.contains(&keyword)
        {
            out.push(KeywordChange { keyword, direction, message });
        }
    };
    let show = |v: Option<&Value>| v.map_or_else(|| "none".to_string(), Value::to_string);
    if basic {
        let old = base.get("const");
        let new = rev.get("const");
        if old != new {
            let d = direction_of(new.is_some(), old.is_some());
            push("const", d, format!("const changed from {} to {}", show(old), show(new)));
        }
        let (o, n) = (num(base, "multipleOf"), num(rev, "multipleOf"));
        let divides = |a: f64, b: f64| b != 0.0 && (a / b - (a / b).round()).abs() < 1e-9;
        let d = match (o, n) {
            (None, None) => None,
            (Some(o), Some(n)) if o == n => None,
            (None, Some(_)) => Some(Direction::Narrowed),
            (Some(_), None) => Some(Direction::Widened),
            (Some(o), Some(n)) if divides(n, o) => Some(Direction::Narrowed),
            (Some(o), Some(n)) if divides(o, n) => Some(Direction::Widened),
            _ => Some(Direction::Changed),
        };
        let msg = format!(
            "multipleOf changed from {} to {}",
            show(base.get("multipleOf")),
            show(rev.get("multipleOf"))
        );
        push("multipleOf", d, msg);
        let unique = |s: &Value| s.get("uniqueItems").and_then(Value::as_bool).unwrap_or(false);
        let (o, n) = (unique(base), unique(rev));
        push("uniqueItems", direction_of(n && !o, o && !n), format!("uniqueItems changed to {n}"));
        bound(&mut push, base, rev, "minProperties", true, 0.0);
        bound(&mut push, base, rev, "maxProperties", false, 0.0);
    }
    // `minContains` (default 1) and `maxContains` only count while `contains` is present.
    if base.get("contains").is_some() && rev.get("contains").is_some() {
        bound(&mut push, base, rev, "minContains", true, 1.0);
        bound(&mut push, base, rev, "maxContains", false, 0.0);
    }
    for keyword in ["contentEncoding", "contentMediaType"] {
        let (o, n) = (base.get(keyword), rev.get(keyword));
        if o != n {
            let keyword: &'static str =
                if keyword == "contentEncoding" { "contentEncoding" } else { "contentMediaType" };
            let d = direction_of(n.is_some(), o.is_some());
            push(keyword, d, format!("{keyword} changed from {} to {}", show(o), show(n)));
        }
    }
    dependent_required(&mut push, base, rev);
    for &keyword in SINGLE_APPLICATORS {
        // `then`/`else` only apply under an `if`.
        let applies = |s: &Value| !matches!(keyword, "then" | "else") || s.get("if").is_some();
        let o = present(base, keyword).filter(|_| applies(base));
        let n = present(rev, keyword).filter(|_| applies(rev));
        let d = match (o, n) {
            (None, Some(_)) => Some(Direction::Narrowed),
            (Some(_), None) => Some(Direction::Widened),
            _ => None,
        };
        let what = if o.is_none() { "added" } else { "removed" };
        push(keyword, d, format!("`{keyword}` {what}"));
    }
    if let (Some(o), Some(n)) = (base.get("if"), rev.get("if"))
        && o != n
        && (has_branch(base) || has_branch(rev))
    {
        // Which instances take which branch moved: some are judged differently either way.
        push("if", Some(Direction::Changed), "the `if` condition changed".to_string());
    }
    for &keyword in MAP_APPLICATORS {
        let keys = |s: &Value| -> BTreeSet<String> {
            s.get(keyword)
                .and_then(Value::as_object)
                .map(|m| m.iter().filter(|(_, v)| !is_trivial(v)).map(|(k, _)| k.clone()).collect())
                .unwrap_or_default()
        };
        let (o, n) = (keys(base), keys(rev));
        // In a closed object (`additionalProperties: false`) a new pattern admits names that
        // were rejected: widening; elsewhere it constrains values: narrowing.
        let closed = |s: &Value| s.get("additionalProperties") == Some(&Value::Bool(false));
        for k in n.difference(&o) {
            let d = if keyword == "patternProperties" && closed(rev) {
                Direction::Widened
            } else {
                Direction::Narrowed
            };
            push(keyword, Some(d), format!("{keyword} entry `{k}` added"));
        }
        for k in o.difference(&n) {
            let d = if keyword == "patternProperties" && closed(base) {
                Direction::Narrowed
            } else {
                Direction::Widened
            };
            push(keyword, Some(d), format!("{keyword} entry `{k}` removed"));
        }
    }
    let prefix_len = |s: &Value| s.get("prefixItems").and_then(Value::as_array).map_or(0, Vec::len);
    let (o, n) = (prefix_len(base), prefix_len(rev));
    if o != n {
        // A new leading position constrains that item, unless items past the tuple were
        // forbidden (`items: false`), where it admits longer arrays.
        let closed = |s: &Value| s.get("items") == Some(&Value::Bool(false));
        let d = if n > o {
            if closed(base) { Direction::Widened } else { Direction::Narrowed }
        } else if closed(rev) {
            Direction::Narrowed
        } else {
            Direction::Widened
        };
        push("prefixItems", Some(d), format!("prefixItems went from {o} to {n} positions"));
    }
    out
}

fn has_branch(s: &Value) -> bool {
    s.get("then").is_some() || s.get("else").is_some()
}

fn num(s: &Value, key: &str) -> Option<f64> {
    s.get(key).and_then(Value::as_f64)
}

/// A count bound: a lower one (`min*`, default `unset`) narrows when raised, an upper one when
/// lowered or set.
fn bound(
    push: &mut impl FnMut(&'static str, Option<Direction>, String),
    base: &Value,
    rev: &Value,
    keyword: &'static str,
    lower: bool,
    unset: f64,
) {
    let (o, n) = (num(base, keyword), num(rev, keyword));
    let d = if lower {
        let (o, n) = (o.unwrap_or(unset), n.unwrap_or(unset));
        direction_of(n > o, n < o)
    } else {
        match (o, n) {
            (None, None) => None,
            (None, Some(_)) => Some(Direction::Narrowed),
            (Some(_), None) => Some(Direction::Widened),
            (Some(o), Some(n)) => direction_of(n < o, n > o),
        }
    };
    let show = |v: Option<f64>| v.map_or_else(|| "none".to_string(), |v| v.to_string());
    push(keyword, d, format!("{keyword} changed from {} to {}", show(o), show(n)));
}

fn dependent_required(
    push: &mut impl FnMut(&'static str, Option<Direction>, String),
    base: &Value,
    rev: &Value,
) {
    let deps = |s: &Value| -> Vec<(String, BTreeSet<String>)> {
        s.get("dependentRequired")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let names = v
                            .as_array()
                            .map(|a| a.iter().filter_map(Value::as_str).map(String::from).collect())
                            .unwrap_or_default();
                        (k.clone(), names)
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let (o, n) = (deps(base), deps(rev));
    let find = |list: &[(String, BTreeSet<String>)], k: &str| {
        list.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone()).unwrap_or_default()
    };
    let keys: BTreeSet<&String> = o.iter().chain(&n).map(|(k, _)| k).collect();
    for k in keys {
        let (before, after) = (find(&o, k), find(&n, k));
        let added: Vec<&String> = after.difference(&before).collect();
        let removed: Vec<&String> = before.difference(&after).collect();
        let d = direction_of(!added.is_empty(), !removed.is_empty());
        let list =
            |v: &[&String]| v.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ");
        let msg = match (added.is_empty(), removed.is_empty()) {
            (false, true) => format!("with `{k}` present, {} now required too", list(&added)),
            (true, false) => format!("with `{k}` present, {} no longer required", list(&removed)),
            _ => format!(
                "with `{k}` present, {} now required and {} no longer",
                list(&added),
                list(&removed)
            ),
        };
        push("dependentRequired", d, msg);
    }
}

/// The sub-schemas both sides have, for the walkers to compare recursively (`items`,
/// `properties`, `allOf`/`anyOf`/`oneOf` and `$defs` are walked by the callers themselves).
/// `additionalProperties` is listed only when `with_additional` (JSON Schema models it apart).
pub(crate) fn subschema_pairs(
    base: &Value,
    rev: &Value,
    with_additional: bool,
) -> Vec<SubschemaPair> {
    let mut out = Vec::new();
    for &keyword in SINGLE_APPLICATORS {
        if keyword == "additionalProperties" && !with_additional {
            continue;
        }
        if base.get(keyword).is_some_and(Value::is_object)
            && rev.get(keyword).is_some_and(Value::is_object)
        {
            out.push(SubschemaPair {
                tokens: vec![keyword.to_string()],
                label: keyword.to_string(),
                negated: keyword == "not",
            });
        }
    }
    for &keyword in MAP_APPLICATORS {
        let (Some(o), Some(n)) = (
            base.get(keyword).and_then(Value::as_object),
            rev.get(keyword).and_then(Value::as_object),
        ) else {
            continue;
        };
        for k in o.keys().filter(|k| n.contains_key(*k)) {
            out.push(SubschemaPair {
                tokens: vec![keyword.to_string(), k.clone()],
                label: format!("{keyword}.{k}"),
                negated: false,
            });
        }
    }
    if let (Some(o), Some(n)) = (
        base.get("prefixItems").and_then(Value::as_array),
        rev.get("prefixItems").and_then(Value::as_array),
    ) {
        for i in 0..o.len().min(n.len()) {
            out.push(SubschemaPair {
                tokens: vec!["prefixItems".to_string(), i.to_string()],
                label: format!("prefixItems[{i}]"),
                negated: false,
            });
        }
    }
    out
}
