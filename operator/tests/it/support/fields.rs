//! Field sets for server-side apply: which leaf fields a manager owns, and the JSON surgery
//! apply needs (merge, remove, compare at a path).
//!
//! Simplifications versus the real structured-merge-diff: every list is atomic (owned and
//! replaced as a whole, like `x-kubernetes-list-type: atomic`; real built-in types merge some
//! lists by key, e.g. containers by `name`), and in `metadata` only `labels`, `annotations`,
//! `finalizers` and `ownerReferences` are owned.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// A path of object keys from the root to a leaf.
pub type Path = Vec<String>;

/// The metadata fields that can be owned.
const OWNED_METADATA: [&str; 4] = ["labels", "annotations", "finalizers", "ownerReferences"];

/// Leaf paths under `value`: scalars, lists and empty objects are leaves; objects recurse.
fn leaves(value: &Value, prefix: &mut Path, out: &mut BTreeSet<Path>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                prefix.push(key.clone());
                leaves(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Null => {}
        _ => {
            out.insert(prefix.clone());
        }
    }
}

/// The part of an object whose fields can be owned: everything but `apiVersion`, `kind` and
/// the server-managed metadata. `scope` keeps only `status` (`Some(true)`), everything but
/// `status` (`Some(false)`) or everything (`None`).
pub fn ownable(object: &Value, status_scope: Option<bool>) -> Value {
    let mut out = Map::new();
    let Some(map) = object.as_object() else { return Value::Object(out) };
    for (key, value) in map {
        let keep = match (key.as_str(), status_scope) {
            ("apiVersion" | "kind", _) => false,
            ("status", Some(false)) => false,
            ("status", _) => true,
            (_, Some(true)) => false,
            _ => true,
        };
        if !keep {
            continue;
        }
        if key == "metadata" {
            let mut meta = Map::new();
            for field in OWNED_METADATA {
                if let Some(v) = value.get(field) {
                    meta.insert(field.to_owned(), v.clone());
                }
            }
            if !meta.is_empty() {
                out.insert(key.clone(), Value::Object(meta));
            }
        } else {
            out.insert(key.clone(), value.clone());
        }
    }
    Value::Object(out)
}

/// The leaf paths of an ownable value.
pub fn field_set(ownable: &Value) -> BTreeSet<Path> {
    let mut out = BTreeSet::new();
    leaves(ownable, &mut Vec::new(), &mut out);
    out
}

/// The value at `path`, if present.
pub fn get<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(key))
}

/// Removes the field at `path` (and nothing else).
pub fn remove(value: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut cursor = value;
    for key in parents {
        match cursor.get_mut(key) {
            Some(next) => cursor = next,
            None => return,
        }
    }
    if let Some(map) = cursor.as_object_mut() {
        map.remove(last);
    }
}

/// Whether one path is a prefix of the other (they name overlapping fields).
pub fn overlaps(a: &[String], b: &[String]) -> bool {
    a.iter().zip(b).all(|(x, y)| x == y)
}

/// Deep-merges `patch` into `target`: objects merge key by key, `null` removes a key, anything
/// else (scalars, lists) replaces. This is also RFC 7386 JSON merge patch.
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Some(target_map) = target.as_object_mut() else { return };
    for (key, value) in patch_map {
        if value.is_null() {
            target_map.remove(key);
        } else {
            merge(target_map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// Leaf paths whose values differ between `old` and `new` (added, changed or removed).
pub fn changed_paths(old: &Value, new: &Value) -> BTreeSet<Path> {
    let mut all = field_set(old);
    all.extend(field_set(new));
    all.into_iter().filter(|p| get(old, p) != get(new, p)).collect()
}

/// The managedFields `fieldsV1` rendering of a field set (`{"f:spec": {"f:replicas": {}}}`).
pub fn fields_v1(set: &BTreeSet<Path>) -> Value {
    let mut root = Value::Object(Map::new());
    for path in set {
        let mut cursor = &mut root;
        for key in path {
            let Some(map) = cursor.as_object_mut() else { break };
            cursor = map.entry(format!("f:{key}")).or_insert_with(|| Value::Object(Map::new()));
        }
    }
    root
}
