//! JSON Schema (draft-07, 2019-09, 2020-12) compatibility of event schemas, judged the way a
//! schema registry (Confluent's JSON Schema checker) judges a new version.
//!
//! Every difference between base and revision is classified by what it does to the set of
//! valid documents: *narrowed* (the revision rejects some data the base accepted), *widened*
//! (the revision accepts data the base rejected) or *changed* (both). `BACKWARD` (consumers on
//! the revision read data written with the base) breaks on narrowing, `FORWARD` (consumers on
//! the base read data written with the revision) on widening, `FULL` on either. A difference
//! that breaks the chosen mode is a [`Level::Error`] change; one that does not is
//! [`Level::Info`], for the changelog.
//!
//! As in the registry, adding an optional property is backward compatible only in a closed
//! content model (`additionalProperties: false`), because in an open one old data may already
//! carry that name with any value; a new required property with a `default` does not break.

use crate::change::{Change, Level};
use crate::error::ContractError;
use serde_json::Value;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

mod compare;
mod meta;
mod rules;

pub use rules::RULES;

/// Which readers must keep working, as in a schema registry's compatibility setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compatibility {
    /// Consumers using the revision can read data written with the base.
    Backward,
    /// Consumers using the base can read data written with the revision.
    Forward,
    /// Both.
    Full,
}

impl Compatibility {
    /// Whether a difference of this direction breaks the mode.
    fn breaks(self, direction: Direction) -> bool {
        match (self, direction) {
            (Compatibility::Full, _) | (_, Direction::Changed) => true,
            (Compatibility::Backward, d) => d == Direction::Narrowed,
            (Compatibility::Forward, d) => d == Direction::Widened,
        }
    }
}

impl fmt::Display for Compatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compatibility::Backward => "BACKWARD",
            Compatibility::Forward => "FORWARD",
            Compatibility::Full => "FULL",
        })
    }
}

impl FromStr for Compatibility {
    type Err = String;

    /// `backward`, `forward` or `full`, in any case (registries spell them in capitals).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "backward" => Ok(Compatibility::Backward),
            "forward" => Ok(Compatibility::Forward),
            "full" => Ok(Compatibility::Full),
            other => Err(format!(
                "unknown compatibility mode `{other}` (expected backward, forward or full)"
            )),
        }
    }
}

/// What a difference does to the set of valid documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// The revision rejects some data the base accepted.
    Narrowed,
    /// The revision accepts some data the base rejected.
    Widened,
    /// Both.
    Changed,
}

/// The JSON Schema drafts this module judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Draft {
    /// `http://json-schema.org/draft-07/schema#`.
    Draft07,
    /// `https://json-schema.org/draft/2019-09/schema`.
    Draft2019_09,
    /// `https://json-schema.org/draft/2020-12/schema` (also assumed when `$schema` is absent).
    Draft2020_12,
}

/// A parsed schema document whose `$ref`s all resolve inside it.
#[derive(Debug, Clone)]
pub struct Document {
    file: String,
    draft: Draft,
    root: Value,
}

impl Document {
    /// The file name the document was parsed as.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The draft named by `$schema`.
    pub fn draft(&self) -> Draft {
        self.draft
    }
}

/// Reads and parses a schema file.
pub fn load(path: &Path) -> Result<Document, ContractError> {
    let text = crate::confine::read_limited(path)
        .map_err(|cause| ContractError::Io { file: path.to_path_buf(), cause })?;
    parse(&path.to_string_lossy().replace('\\', "/"), &text)
}

/// Parses schema text: malformed JSON names line and column; an unknown `$schema`, a document
/// its draft's meta-schema rejects (`null`, `{"type": 5}`) or a `$ref` that does not resolve
/// within the document names its JSON pointer.
pub fn parse(name: &str, text: &str) -> Result<Document, ContractError> {
    let root: Value = serde_json::from_str(text).map_err(|e| ContractError::MalformedJson {
        file: name.to_string(),
        line: u32::try_from(e.line()).unwrap_or(u32::MAX),
        column: u32::try_from(e.column()).unwrap_or(u32::MAX),
        message: e.to_string(),
    })?;
    let draft = match root.get("$schema") {
        None => Draft::Draft2020_12,
        Some(v) => draft_of(v).ok_or_else(|| ContractError::UnsupportedDraft {
            file: name.to_string(),
            pointer: "/$schema".to_string(),
            found: v.as_str().map_or_else(|| v.to_string(), str::to_string),
        })?,
    };
    meta::check(name, draft, &root)?;
    let mut pointer = String::new();
    check_refs(name, &root, &root, &mut pointer)?;
    Ok(Document { file: name.to_string(), draft, root })
}

fn draft_of(v: &Value) -> Option<Draft> {
    let uri = v.as_str()?.trim_end_matches('#');
    let uri = uri.strip_prefix("https://").or_else(|| uri.strip_prefix("http://"))?;
    match uri {
        "json-schema.org/draft-07/schema" => Some(Draft::Draft07),
        "json-schema.org/draft/2019-09/schema" => Some(Draft::Draft2019_09),
        "json-schema.org/draft/2020-12/schema" => Some(Draft::Draft2020_12),
        _ => None,
    }
}

/// Fails on the first `$ref` that does not resolve within the document.
fn check_refs(
    file: &str,
    root: &Value,
    node: &Value,
    pointer: &mut String,
) -> Result<(), ContractError> {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref")
                && resolve(root, reference).is_none()
            {
                return Err(ContractError::UnresolvedRef {
                    file: file.to_string(),
                    pointer: format!("{pointer}/$ref"),
                    reference: reference.clone(),
                });
            }
            for (key, child) in map {
                // `enum`, `const`, `default` and `examples` hold data, not schemas.
                if matches!(key.as_str(), "enum" | "const" | "default" | "examples") {
                    continue;
                }
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&escape(key));
                check_refs(file, root, child, pointer)?;
                pointer.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let len = pointer.len();
                pointer.push_str(&format!("/{i}"));
                check_refs(file, root, child, pointer)?;
                pointer.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Resolves `#` and `#/json/pointer` references; returns the target and its pointer.
pub(crate) fn resolve<'a>(root: &'a Value, reference: &str) -> Option<(&'a Value, String)> {
    let fragment = reference.strip_prefix('#')?;
    let fragment = percent_decode(fragment);
    if fragment.is_empty() {
        return Some((root, String::new()));
    }
    root.pointer(&fragment).map(|v| (v, fragment))
}

fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => hex(h).zip(hex(l)).map(|(h, l)| (h * 16 + l) as u8),
            _ => None,
        };
        match decoded {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// RFC 6901 escaping of one reference token.
pub(crate) fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Judges `revision` against `base` under `mode`; changes are sorted by pointer then rule.
pub fn check(base: &Document, revision: &Document, mode: Compatibility) -> Vec<Change> {
    let differences = compare::differences(&base.root, &revision.root);
    let mut changes: Vec<Change> = differences
        .into_iter()
        .map(|d| {
            let breaks = d.direction.is_some_and(|dir| mode.breaks(dir));
            let level = if breaks { Level::Error } else { Level::Info };
            let consequence = match (d.direction, breaks) {
                (None, _) => String::new(),
                (Some(Direction::Narrowed), true) => {
                    format!("; breaks {mode}: the revision rejects data written with the base")
                }
                (Some(Direction::Widened), true) => {
                    format!(
                        "; breaks {mode}: readers on the base reject data written with the revision"
                    )
                }
                (Some(Direction::Changed), _) => {
                    format!("; breaks {mode}: neither schema accepts all data of the other")
                }
                (Some(_), false) => format!("; compatible under {mode}"),
            };
            let (file, pointer) = if d.in_base {
                (&base.file, d.base_pointer)
            } else {
                (&revision.file, d.revision_pointer)
            };
            Change {
                rule: d.rule,
                level,
                message: format!("{}{consequence}", d.message),
                subject: d.subject,
                location: tollgate_core::Location::file(file.clone()).at_pointer(pointer),
            }
        })
        .collect();
    changes.sort_by(|a, b| {
        (&a.location.pointer, a.rule, &a.message).cmp(&(&b.location.pointer, b.rule, &b.message))
    });
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pointer a schema is refused at, or `None` when it parses.
    fn refused_at(text: &str) -> Option<String> {
        match parse("s.json", text) {
            Ok(_) => None,
            Err(ContractError::InvalidSchema { file, pointer, .. }) => {
                assert_eq!(file, "s.json");
                Some(pointer)
            }
            Err(other) => panic!("{text}: {other}"),
        }
    }

    #[test]
    fn documents_that_are_not_schemas_are_refused_at_the_root() {
        for text in ["null", "\"a string\"", "42", "[{\"type\": \"string\"}]"] {
            assert_eq!(refused_at(text).as_deref(), Some(""), "{text}");
        }
    }

    #[test]
    fn wrong_typed_keywords_are_refused_at_their_pointer() {
        assert_eq!(refused_at(r#"{"type": 5}"#).as_deref(), Some("/type"));
        assert_eq!(refused_at(r#"{"required": "a"}"#).as_deref(), Some("/required"));
        let nested = r#"{"properties": {"a": {"minLength": -1}}}"#;
        assert_eq!(refused_at(nested).as_deref(), Some("/properties/a/minLength"));
        let draft7 = r#"{"$schema": "http://json-schema.org/draft-07/schema#", "items": 3}"#;
        assert_eq!(refused_at(draft7).as_deref(), Some("/items"));
    }

    #[test]
    fn boolean_and_ordinary_schemas_are_accepted() {
        assert_eq!(refused_at("true"), None);
        assert_eq!(refused_at("false"), None);
        assert_eq!(refused_at(r#"{"type": "object", "required": ["a"]}"#), None);
        // 2019-09's `items` may be an array; 2020-12's may not.
        let tuple = r#"{"$schema": "https://json-schema.org/draft/2019-09/schema", "items": [{}]}"#;
        assert_eq!(refused_at(tuple), None);
        assert_eq!(refused_at(r#"{"items": [{}]}"#).as_deref(), Some("/items"));
    }
}
