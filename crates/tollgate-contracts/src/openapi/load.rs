//! Parsing (JSON or YAML by content), the version check and `$ref` resolution across files.

use super::{Doc, Spec};
use crate::error::ContractError;
use serde_json::{Map, Number, Value};
use std::collections::HashMap;

pub(super) fn load(
    name: &str,
    text: &str,
    resolver: &dyn Fn(&str) -> Result<String, String>,
) -> Result<Spec, ContractError> {
    // `./api.yaml` and a reference back to `api.yaml` must name the same document.
    let name = &normalise(name);
    let root = parse(name, text)?;
    check_version(name, &root)?;
    let mut spec = Spec {
        docs: vec![Doc { name: name.to_string(), value: root }],
        index: HashMap::from([(name.to_string(), 0)]),
    };
    // Breadth-first over documents: each newly reached file is parsed once, so reference
    // cycles between files terminate.
    let mut next = 0;
    while next < spec.docs.len() {
        let mut refs = Vec::new();
        collect_refs(&spec.docs[next].value, &mut String::new(), &mut refs);
        let from = spec.docs[next].name.clone();
        for (pointer, reference) in refs {
            let broken = |reason: String| ContractError::BrokenRef {
                file: from.clone(),
                pointer: pointer.clone(),
                reference: reference.clone(),
                reason,
            };
            let Some((file, fragment)) = split_ref(&from, &reference) else {
                return Err(broken("remote references are not followed".into()));
            };
            let target = match spec.index.get(&file) {
                Some(&i) => i,
                None => {
                    let text = resolver(&file).map_err(&broken)?;
                    let value = parse(&file, &text)?;
                    spec.docs.push(Doc { name: file.clone(), value });
                    spec.index.insert(file.clone(), spec.docs.len() - 1);
                    spec.docs.len() - 1
                }
            };
            if resolve_pointer(&spec.docs[target].value, &fragment).is_none() {
                return Err(broken(format!("`{file}` has nothing at `{fragment}`")));
            }
        }
        next += 1;
    }
    Ok(spec)
}

fn check_version(name: &str, root: &Value) -> Result<(), ContractError> {
    let found = match root.get("openapi") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let supported =
        ["3.0", "3.1"].iter().any(|v| found == *v || found.starts_with(&format!("{v}.")));
    if supported {
        Ok(())
    } else {
        Err(ContractError::UnsupportedOpenApiVersion {
            file: name.to_string(),
            pointer: "/openapi".into(),
            found,
        })
    }
}

/// JSON when the text starts with `{`, YAML otherwise.
fn parse(name: &str, text: &str) -> Result<Value, ContractError> {
    let value = if text.trim_start().starts_with('{') {
        serde_json::from_str::<Value>(text).map_err(|e| ContractError::MalformedJson {
            file: name.to_string(),
            line: e.line() as u32,
            column: e.column() as u32,
            message: e.to_string(),
        })?
    } else {
        let mut yaml: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(|e| {
            let (line, column) =
                e.location().map(|l| (l.line() as u32, l.column() as u32)).unwrap_or((0, 0));
            ContractError::MalformedYaml {
                file: name.to_string(),
                line,
                column,
                message: e.to_string(),
            }
        })?;
        // `<<` merge keys are common in hand-written specs; a failed merge leaves them as keys.
        let _ = yaml.apply_merge();
        yaml_to_json(yaml)
    };
    if !value.is_object() {
        let (file, message) = (name.to_string(), "the document is not an object".to_string());
        return Err(if text.trim_start().starts_with('[') {
            ContractError::MalformedJson { file, line: 1, column: 1, message }
        } else {
            ContractError::MalformedYaml { file, line: 1, column: 1, message }
        });
    }
    Ok(value)
}

fn yaml_to_json(v: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64().and_then(Number::from_f64).map_or(Value::Null, Value::Number)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    Y::Null => "null".into(),
                    other => serde_yaml_ng::to_string(&other).unwrap_or_default().trim().into(),
                };
                out.insert(key, yaml_to_json(v));
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => yaml_to_json(tagged.value),
    }
}

/// Every `$ref` string with the pointer of its `$ref` keyword; literal data (`example`,
/// `enum`, `default`, `const`) is skipped.
fn collect_refs(v: &Value, at: &mut String, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push((format!("{at}/$ref"), r.clone()));
            }
            for (k, child) in map {
                if matches!(k.as_str(), "example" | "enum" | "default" | "const" | "$ref") {
                    continue;
                }
                let len = at.len();
                at.push('/');
                push_escaped(at, k);
                collect_refs(child, at, out);
                at.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let len = at.len();
                at.push('/');
                at.push_str(&i.to_string());
                collect_refs(child, at, out);
                at.truncate(len);
            }
        }
        _ => {}
    }
}

/// Appends `key` to a JSON pointer, escaped per RFC 6901.
pub(super) fn push_escaped(pointer: &mut String, key: &str) {
    for c in key.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// Splits a reference into the (joined, normalised) document name and the pointer fragment.
/// `None` for remote (`scheme://`) references.
pub(super) fn split_ref(from: &str, reference: &str) -> Option<(String, String)> {
    let (file, fragment) = match reference.split_once('#') {
        Some((f, frag)) => (f, frag),
        None => (reference, ""),
    };
    if file.contains("://") {
        return None;
    }
    let fragment = percent_decode(fragment);
    if file.is_empty() {
        return Some((from.to_string(), fragment));
    }
    let dir = match from.rfind('/') {
        Some(i) => &from[..=i],
        None => "",
    };
    let joined = if file.starts_with('/') { file.to_string() } else { format!("{dir}{file}") };
    Some((normalise(&joined), fragment))
}

fn normalise(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "." => {}
            ".." if parts.last().is_some_and(|p| *p != ".." && !p.is_empty()) => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    parts.join("/")
}

fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |j: usize| bytes.get(j).and_then(|b| (*b as char).to_digit(16));
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (hex(i + 1), hex(i + 2))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Resolves an RFC 6901 pointer (empty = the whole document).
pub(super) fn resolve_pointer<'a>(v: &'a Value, pointer: &str) -> Option<&'a Value> {
    if pointer.is_empty() { Some(v) } else { v.pointer(pointer) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_join_relative_to_the_referring_document() {
        let split = |from, r| split_ref(from, r).unwrap();
        assert_eq!(split("api/root.yaml", "#/a/b"), ("api/root.yaml".into(), "/a/b".into()));
        assert_eq!(
            split("api/paths/p.yaml", "../schemas/s.yaml#/S"),
            ("api/schemas/s.yaml".into(), "/S".into())
        );
        assert_eq!(split("root.yaml", "./s.yaml"), ("s.yaml".into(), String::new()));
        assert_eq!(
            split("r.yaml", "#/paths/~1a%7Bid%7D"),
            ("r.yaml".into(), "/paths/~1a{id}".into())
        );
        assert!(split_ref("r.yaml", "https://example.com/s.yaml#/S").is_none());
    }

    #[test]
    fn yaml_integer_keys_become_strings() {
        let v = parse("a.yaml", "openapi: 3.0.0\nresponses:\n  200: {description: ok}\n").unwrap();
        assert!(v.pointer("/responses/200/description").is_some());
    }
}
