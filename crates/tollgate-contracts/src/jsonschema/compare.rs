//! Walks base and revision side by side and lists each difference with its direction.

use super::{Direction, escape, resolve};
use crate::keywords;
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashSet};
use std::sync::LazyLock;

/// One difference between the two schemas, before the mode decides its level.
pub(crate) struct Difference {
    pub(crate) rule: &'static str,
    /// `None` for differences that never break (e.g. required with a default).
    pub(crate) direction: Option<Direction>,
    pub(crate) message: String,
    /// Data path (`$.user.email`, `$.tags[]`).
    pub(crate) subject: String,
    pub(crate) base_pointer: String,
    pub(crate) revision_pointer: String,
    /// Locate in the base (the element exists only there).
    pub(crate) in_base: bool,
}

/// Every difference from `base` to `revision`.
pub(crate) fn differences(base: &Value, revision: &Value) -> Vec<Difference> {
    let mut walker = Walker {
        base_root: base,
        revision_root: revision,
        out: Vec::new(),
        seen: HashSet::new(),
        negated: false,
    };
    walker.compare(Side::new(base, String::new()), Side::new(revision, String::new()), "$");
    walker.out
}

/// A schema node and where it sits in its document (after following `$ref`s).
#[derive(Clone)]
struct Side<'a> {
    node: &'a Value,
    pointer: String,
}

impl<'a> Side<'a> {
    fn new(node: &'a Value, pointer: String) -> Self {
        Side { node, pointer }
    }

    fn child(&self, node: &'a Value, tokens: &[&str]) -> Side<'a> {
        let mut pointer = self.pointer.clone();
        for t in tokens {
            pointer.push('/');
            pointer.push_str(&escape(t));
        }
        Side { node, pointer }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.node.as_object().and_then(|m| m.get(key))
    }
}

static EMPTY: Value = Value::Bool(true);
static EMPTY_MAP: LazyLock<Map<String, Value>> = LazyLock::new(Map::new);

struct Walker<'a> {
    base_root: &'a Value,
    revision_root: &'a Value,
    out: Vec<Difference>,
    /// Resolved pointer pairs already compared: recursive schemas terminate.
    seen: HashSet<(String, String, bool)>,
    /// Inside an odd number of `not`s: narrowing the sub-schema widens the whole.
    negated: bool,
}

/// The instance types a schema allows; `None` when unconstrained.
fn types(node: &Value) -> Option<BTreeSet<String>> {
    match node.get("type")? {
        Value::String(t) => Some(BTreeSet::from([t.clone()])),
        Value::Array(ts) => Some(ts.iter().filter_map(Value::as_str).map(str::to_string).collect()),
        _ => None,
    }
}

fn covers(set: &BTreeSet<String>, t: &str) -> bool {
    set.contains(t) || (t == "integer" && set.contains("number"))
}

/// Values allowed by `enum` or `const`; `None` when unconstrained.
fn allowed_values(node: &Value) -> Option<Vec<&Value>> {
    if let Some(c) = node.get("const") {
        return Some(vec![c]);
    }
    node.get("enum")?.as_array().map(|vs| vs.iter().collect())
}

fn is_unconstrained(node: &Value) -> bool {
    match node {
        Value::Bool(b) => *b,
        Value::Object(m) => m.keys().all(|k| {
            matches!(
                k.as_str(),
                "description" | "title" | "$comment" | "examples" | "default" | "deprecated"
            )
        }),
        _ => true,
    }
}

/// `additionalProperties` as a content model.
enum Model<'a> {
    Open,
    Closed,
    Schema(&'a Value),
}

fn model(node: &Value) -> Model<'_> {
    match node.get("additionalProperties") {
        None | Some(Value::Bool(true)) => Model::Open,
        Some(Value::Bool(false)) => Model::Closed,
        Some(schema) if is_unconstrained(schema) => Model::Open,
        Some(schema) => Model::Schema(schema),
    }
}

fn show(v: &Value) -> String {
    v.to_string()
}

impl<'a> Walker<'a> {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        rule: &'static str,
        direction: Option<Direction>,
        base: &Side<'_>,
        revision: &Side<'_>,
        subject: &str,
        in_base: bool,
        message: String,
    ) {
        let direction = direction.map(|d| match (self.negated, d) {
            (true, Direction::Narrowed) => Direction::Widened,
            (true, Direction::Widened) => Direction::Narrowed,
            (_, d) => d,
        });
        // Under `not` the named direction turns around too (`enum-widened` inside narrows).
        let rule = if self.negated { negated_rule(rule) } else { rule };
        self.out.push(Difference {
            rule,
            direction,
            message,
            subject: subject.to_string(),
            base_pointer: base.pointer.clone(),
            revision_pointer: revision.pointer.clone(),
            in_base,
        });
    }

    /// Follows `$ref` chains (within the document) to the schema that applies.
    fn deref(root: &'a Value, mut side: Side<'a>) -> Side<'a> {
        for _ in 0..64 {
            let Some(Value::String(r)) = side.get("$ref") else { break };
            match resolve(root, r) {
                Some((node, pointer)) => side = Side::new(node, pointer),
                None => break,
            }
        }
        side
    }

    fn compare(&mut self, base: Side<'a>, revision: Side<'a>, subject: &str) {
        let mut base = Self::deref(self.base_root, base);
        let mut revision = Self::deref(self.revision_root, revision);
        // A schema wrapped into (or unwrapped from) a one-member `anyOf`/`oneOf`/`allOf` is
        // the same schema; when the other side has that keyword, members are compared instead.
        for _ in 0..8 {
            if let Some((key, only)) = single_member(base.node)
                && revision.get(key).is_none()
            {
                base = Self::deref(self.base_root, base.child(only, &[key, "0"]));
            } else if let Some((key, only)) = single_member(revision.node)
                && base.get(key).is_none()
            {
                revision = Self::deref(self.revision_root, revision.child(only, &[key, "0"]));
            } else {
                break;
            }
        }
        if !self.seen.insert((base.pointer.clone(), revision.pointer.clone(), self.negated)) {
            return;
        }
        // Boolean schemas: `false` accepts nothing, `true` everything.
        match (base.node, revision.node) {
            (Value::Bool(false), Value::Bool(false)) => return,
            (Value::Bool(false), _) => {
                self.push(
                    "jsonschema/schema-opened",
                    Some(Direction::Widened),
                    &base,
                    &revision,
                    subject,
                    false,
                    format!("`{subject}` was `false` (no value allowed) and now accepts values"),
                );
                return;
            }
            (_, Value::Bool(false)) => {
                self.push(
                    "jsonschema/schema-closed",
                    Some(Direction::Narrowed),
                    &base,
                    &revision,
                    subject,
                    false,
                    format!("`{subject}` is now `false`: no value is allowed"),
                );
                return;
            }
            _ => {}
        }
        let base_side = if base.node.is_object() {
            base.clone()
        } else {
            Side::new(&EMPTY, base.pointer.clone())
        };
        let revision_side = if revision.node.is_object() {
            revision.clone()
        } else {
            Side::new(&EMPTY, revision.pointer.clone())
        };
        let (base, revision) = (base_side, revision_side);
        if !self.compare_types(&base, &revision, subject) {
            return;
        }
        self.compare_values(&base, &revision, subject);
        self.compare_bounds(&base, &revision, subject);
        self.compare_pattern(&base, &revision, subject);
        self.compare_object(&base, &revision, subject);
        self.compare_items(&base, &revision, subject);
        self.compare_combinators(&base, &revision, subject);
        self.compare_keywords(&base, &revision, subject);
    }

    /// The 2020-12 keywords judged by [`crate::keywords`], and the sub-schemas under them.
    fn compare_keywords(&mut self, base: &Side<'a>, revision: &Side<'a>, subject: &str) {
        let skip = ["additionalProperties"];
        for change in keywords::changes(base.node, revision.node, &skip, false) {
            let rule = match change.direction {
                Direction::Narrowed => "jsonschema/keyword-narrowed",
                Direction::Widened => "jsonschema/keyword-widened",
                Direction::Changed => "jsonschema/keyword-changed",
            };
            let message = format!("`{subject}`: {} ({})", change.message, change.keyword);
            let side = |s: &Side<'a>| match s.get(change.keyword) {
                Some(v) => s.child(v, &[change.keyword]),
                None => s.clone(),
            };
            let (b, r) = (side(base), side(revision));
            self.push(rule, Some(change.direction), &b, &r, subject, false, message);
        }
        for pair in keywords::subschema_pairs(base.node, revision.node, false) {
            let tokens: Vec<&str> = pair.tokens.iter().map(String::as_str).collect();
            let (Some(b), Some(r)) = (lookup(base.node, &tokens), lookup(revision.node, &tokens))
            else {
                continue;
            };
            let child_subject = format!("{subject}({})", pair.label);
            self.negated ^= pair.negated;
            self.compare(base.child(b, &tokens), revision.child(r, &tokens), &child_subject);
            self.negated ^= pair.negated;
        }
    }

    /// Returns false when the type sets are disjoint (nothing deeper is worth comparing).
    fn compare_types(&mut self, base: &Side<'a>, revision: &Side<'a>, subject: &str) -> bool {
        let (old, new) = (types(base.node), types(revision.node));
        let list = |s: &Option<BTreeSet<String>>| match s {
            None => "any type".to_string(),
            Some(s) => s.iter().cloned().collect::<Vec<_>>().join(" | "),
        };
        let narrowed = match (&old, &new) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(o), Some(n)) => o.iter().any(|t| !covers(n, t)),
        };
        let widened = match (&old, &new) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(o), Some(n)) => n.iter().any(|t| !covers(o, t)),
        };
        let (rule, direction) = match (narrowed, widened) {
            (false, false) => return true,
            (true, false) => ("jsonschema/type-narrowed", Direction::Narrowed),
            (false, true) => ("jsonschema/type-widened", Direction::Widened),
            (true, true) => ("jsonschema/type-changed", Direction::Changed),
        };
        let null_note = match (&old, &new) {
            (Some(o), Some(n)) if o.contains("null") && !n.contains("null") => {
                " (no longer nullable)"
            }
            (Some(o), Some(n)) if !o.contains("null") && n.contains("null") => " (now nullable)",
            _ => "",
        };
        self.push(
            rule,
            Some(direction),
            base,
            revision,
            subject,
            false,
            format!("Type of `{subject}` changed from {} to {}{null_note}", list(&old), list(&new)),
        );
        match (&old, &new) {
            (Some(o), Some(n)) => {
                o.iter().any(|t| covers(n, t) || (t == "number" && n.contains("integer")))
            }
            _ => true,
        }
    }

    fn compare_values(&mut self, base: &Side<'a>, revision: &Side<'a>, subject: &str) {
        let (old, new) = (allowed_values(base.node), allowed_values(revision.node));
        let (removed, added): (Vec<String>, Vec<String>) = match (&old, &new) {
            (None, None) => return,
            (Some(_), None) => {
                self.push(
                    "jsonschema/enum-widened",
                    Some(Direction::Widened),
                    base,
                    revision,
                    subject,
                    false,
                    format!("`{subject}` is no longer restricted to an enumeration"),
                );
                return;
            }
            (None, Some(n)) => {
                let values = n.iter().map(|v| show(v)).collect::<Vec<_>>().join(", ");
                self.push(
                    "jsonschema/enum-narrowed",
                    Some(Direction::Narrowed),
                    base,
                    revision,
                    subject,
                    false,
                    format!("`{subject}` is now restricted to [{values}]"),
                );
                return;
            }
            (Some(o), Some(n)) => (
                o.iter().filter(|v| !n.contains(v)).map(|v| show(v)).collect(),
                n.iter().filter(|v| !o.contains(v)).map(|v| show(v)).collect(),
            ),
        };
        let (rule, direction, what) = match (removed.is_empty(), added.is_empty()) {
            (true, true) => return,
            (false, true) => (
                "jsonschema/enum-narrowed",
                Direction::Narrowed,
                format!("lost {}", removed.join(", ")),
            ),
            (true, false) => (
                "jsonschema/enum-widened",
                Direction::Widened,
                format!("gained {}", added.join(", ")),
            ),
            (false, false) => (
                "jsonschema/enum-changed",
                Direction::Changed,
                format!("lost {} and gained {}", removed.join(", "), added.join(", ")),
            ),
        };
        self.push(
            rule,
            Some(direction),
            base,
            revision,
            subject,
            false,
            format!("Allowed values of `{subject}` {what}"),
        );
    }

    fn compare_bounds(&mut self, base: &Side<'a>, revision: &Side<'a>, subject: &str) {
        // (keyword, is a lower bound, rule family)
        self.compare_range(base, revision, subject, true);
        self.compare_range(base, revision, subject, false);
        const BOUNDS: &[(&str, bool, &str)] = &[
            ("minLength", true, "length"),
            ("maxLength", false, "length"),
            ("minItems", true, "length"),
            ("maxItems", false, "length"),
            ("minProperties", true, "length"),
            ("maxProperties", false, "length"),
        ];
        for &(keyword, lower, family) in BOUNDS {
            // An unset lower count bound is 0: `minLength: 0` changes nothing.
            let count = |s: &Side<'a>| {
                s.get(keyword).and_then(Value::as_f64).filter(|v| !(lower && *v == 0.0))
            };
            let old = count(base);
            let new = count(revision);
            let direction = match (old, new) {
                (None, None) => continue,
                (None, Some(_)) => Direction::Narrowed,
                (Some(_), None) => Direction::Widened,
                (Some(o), Some(n)) if o == n => continue,
                (Some(o), Some(n)) => {
                    if (n > o) == lower {
                        Direction::Narrowed
                    } else {
                        Direction::Widened
                    }
                }
            };
            let rule = match (family, direction) {
                ("range", Direction::Narrowed) => "jsonschema/range-tightened",
                ("range", _) => "jsonschema/range-loosened",
                (_, Direction::Narrowed) => "jsonschema/length-tightened",
                _ => "jsonschema/length-loosened",
            };
            let show_bound = |v: Option<&Value>| v.map_or_else(|| "none".to_string(), show);
            let message = format!(
                "`{keyword}` of `{subject}` changed from {} to {}",
                show_bound(base.get(keyword)),
                show_bound(revision.get(keyword))
            );
            let side = if new.is_some() {
                revision.child(revision.node, &[keyword])
            } else {
                revision.clone()
            };
            self.push(
                rule,
                Some(direction),
                &base.child(base.node, &[keyword]),
                &side,
                subject,
                false,
                message,
            );
        }
        self.compare_multiple_of(base, revision, subject);
        let unique = |s: &Side<'a>| s.get("uniqueItems").and_then(Value::as_bool).unwrap_or(false);
        if unique(base) != unique(revision) {
            let (rule, direction) = if unique(revision) {
                ("jsonschema/length-tightened", Direction::Narrowed)
            } else {
                ("jsonschema/length-loosened", Direction::Widened)
            };
            self.push(
                rule,
                Some(direction),
                base,
                revision,
                subject,
                false,
                format!("`uniqueItems` of `{subject}` changed to {}", unique(revision)),
            );
        }
    }

    /// `minimum`/`exclusiveMinimum` (or the maximum pair) as one effective bound, so that
    /// `exclusiveMaximum: 10` -> `maximum: 10` reads as the loosening it is.
    fn compare_range(&mut self, base: &Side<'a>, revision: &Side<'a>, subject: &str, lower: bool) {
        let (plain, exclusive) =
            if lower { ("minimum", "exclusiveMinimum") } else { ("maximum", "exclusiveMaximum") };
        // (limit, exclusive); the tighter of the two keywords when both are present.
        let effective = |s: &Side<'a>| -> Option<(f64, bool)> {
            let p = s.get(plain).and_then(Value::as_f64).map(|v| (v, false));
            let e = s.get(exclusive).and_then(Value::as_f64).map(|v| (v, true));
            match (p, e) {
                (Some(p), Some(e)) => Some(if tighter(e, p, lower) { e } else { p }),
                (p, e) => p.or(e),
            }
        };
        let (old, new) = (effective(base), effective(revision));
        let direction = match (old, new) {
            (None, None) => return,
            (None, Some(_)) => Direction::Narrowed,
            (Some(_), None) => Direction::Widened,
            (Some(o), Some(n)) if o == n => return,
            (Some(o), Some(n)) => {
                if tighter(n, o, lower) {
                    Direction::Narrowed
                } else {
                    Direction::Widened
                }
            }
        };
        let rule = match direction {
            Direction::Narrowed => "jsonschema/range-tightened",
            _ => "jsonschema/range-loosened",
        };
        let show = |b: Option<(f64, bool)>| match b {
            None => "none".to_string(),
            Some((v, true)) => format!("{v} (exclusive)"),
            Some((v, false)) => v.to_string(),
        };
        let keyword = if revision.get(exclusive).is_some() { exclusive } else { plain };
        let message = format!(
            "{} bound of `{subject}` changed from {} to {}",
            if lower { "Lower" } else { "Upper" },
            show(old),
            show(new)
        );
        let side = |s: &Side<'a>| match s.get(keyword) {
            Some(v) => s.child(v, &[keyword]),
            None => s.clone(),
        };
        let (b, r) = (side(base), side(revision));
        self.push(rule, Some(direction), &b, &r, subject, false, message);
    }

    fn compare_multiple_of(&mut self, base: &Side<'a>, revision: &Side<'a>, subject: &str) {
        let old = base.get("multipleOf").and_then(Value::as_f64);
        let new = revision.get("multipleOf").and_then(Value::as_f64);
        let divides = |a: f64, b: f64| b != 0.0 && (a / b - (a / b).round()).abs() < 1e-9;
        let direction = match (old, new) {
            (None, None) => return,
            (Some(o), Some(n)) if o == n => return,
            (None, Some(_)) => Direction::Narrowed,
            (Some(_), None) => Direction::Widened,
            (Some(o), Some(n)) if divides(n, o) => Direction::Narrowed,
            (Some(o), Some(n)) if divides(o, n) => Direction::Widened,
            _ => Direction::Changed,
        };
        let rule = match direction {
            Direction::Narrowed => "jsonschema/range-tightened",
            Direction::Widened => "jsonschema/range-loosened",
            Direction::Changed => "jsonschema/range-changed",
        };
        let show_bound = |v: Option<&Value>| v.map_or_else(|| "none".to_string(), show);
        self.push(
            rule,
            Some(direction),
            base,
            revision,
            subject,
            false,
            format!(
                "`multipleOf` of `{subject}` changed from {} to {}",
                show_bound(base.get("multipleOf")),
                show_bound(revision.get("multipleOf"))
            ),
        );
    }

    fn compare_pattern(&mut self, base: &Side<'a>, revision: &Side<'a>, subject: &str) {
        // The empty regular expression matches every string: it is no pattern.
        let old = base.get("pattern").and_then(Value::as_str).filter(|p| !p.is_empty());
        let new = revision.get("pattern").and_then(Value::as_str).filter(|p| !p.is_empty());
        let (rule, direction, message) = match (old, new) {
            (None, None) => return,
            (Some(o), Some(n)) if o == n => return,
            (None, Some(n)) => (
                "jsonschema/pattern-added",
                Direction::Narrowed,
                format!("`{subject}` must now match /{n}/"),
            ),
            (Some(o), None) => (
                "jsonschema/pattern-removed",
                Direction::Widened,
                format!("`{subject}` no longer has to match /{o}/"),
            ),
            // Regular languages are not compared: any change may reject old or new values.
            (Some(o), Some(n)) => (
                "jsonschema/pattern-changed",
                Direction::Changed,
                format!("Pattern of `{subject}` changed from /{o}/ to /{n}/"),
            ),
        };
        self.push(rule, Some(direction), base, revision, subject, false, message);
    }

    fn compare_object(&mut self, base: &Side<'a>, revision: &Side<'a>, subject: &str) {
        let old_props = base.get("properties").and_then(Value::as_object).unwrap_or(&EMPTY_MAP);
        let new_props = revision.get("properties").and_then(Value::as_object).unwrap_or(&EMPTY_MAP);
        let (old_model, new_model) = (model(base.node), model(revision.node));
        for (name, old) in old_props {
            let child_subject = format!("{subject}.{name}");
            let old_side = base.child(old, &["properties", name]);
            match new_props.get(name) {
                Some(new) => self.compare(old_side, revision.child(new, &["properties", name]), &child_subject),
                None => match new_model {
                    Model::Open if is_unconstrained(old) => {}
                    Model::Open => self.push("jsonschema/property-removed-open-model", Some(Direction::Widened), &old_side, revision, &child_subject, true, format!("Property `{child_subject}` was removed from an open content model: it may now hold any value")),
                    Model::Closed => self.push("jsonschema/property-removed-closed-model", Some(Direction::Narrowed), &old_side, revision, &child_subject, true, format!("Property `{child_subject}` was removed from a closed content model (additionalProperties: false): data carrying it is rejected")),
                    Model::Schema(ap) => {
                        let ap_side = revision.child(ap, &["additionalProperties"]);
                        self.compare(old_side, ap_side, &child_subject);
                    }
                },
            }
        }
        for (name, new) in new_props {
            if old_props.contains_key(name) {
                continue;
            }
            let child_subject = format!("{subject}.{name}");
            let new_side = revision.child(new, &["properties", name]);
            match old_model {
                Model::Open if is_unconstrained(new) => {}
                Model::Open => self.push("jsonschema/property-added-open-model", Some(Direction::Narrowed), base, &new_side, &child_subject, false, format!("Property `{child_subject}` was added to an open content model: data may already carry it with another value")),
                Model::Closed => self.push("jsonschema/property-added-closed-model", Some(Direction::Widened), base, &new_side, &child_subject, false, format!("Property `{child_subject}` was added to a closed content model")),
                Model::Schema(ap) => {
                    let ap_side = base.child(ap, &["additionalProperties"]);
                    self.compare(ap_side, new_side, &child_subject);
                }
            }
        }
        self.compare_model(base, revision, subject, old_model, new_model);
        self.compare_required(base, revision, subject, new_props);
    }

    fn compare_model(
        &mut self,
        base: &Side<'a>,
        revision: &Side<'a>,
        subject: &str,
        old: Model<'a>,
        new: Model<'a>,
    ) {
        let pointer_side = |s: &Side<'a>| match s.get("additionalProperties") {
            Some(v) => s.child(v, &["additionalProperties"]),
            None => s.clone(),
        };
        let (b, r) = (pointer_side(base), pointer_side(revision));
        let (rule, direction, message) = match (old, new) {
            (Model::Open, Model::Open) | (Model::Closed, Model::Closed) => return,
            (Model::Schema(o), Model::Schema(n)) => {
                self.compare(b, r, &format!("{subject}.*"));
                let _ = (o, n);
                return;
            }
            (Model::Open, Model::Closed) => (
                "jsonschema/additional-properties-narrowed",
                Direction::Narrowed,
                format!("`{subject}` no longer allows additional properties"),
            ),
            (Model::Open, Model::Schema(_)) => (
                "jsonschema/additional-properties-narrowed",
                Direction::Narrowed,
                format!("Additional properties of `{subject}` are now constrained by a schema"),
            ),
            (Model::Closed, _) => (
                "jsonschema/additional-properties-widened",
                Direction::Widened,
                format!("`{subject}` now allows additional properties"),
            ),
            (Model::Schema(_), Model::Open) => (
                "jsonschema/additional-properties-widened",
                Direction::Widened,
                format!("Additional properties of `{subject}` are no longer constrained"),
            ),
            (Model::Schema(_), Model::Closed) => (
                "jsonschema/additional-properties-narrowed",
                Direction::Narrowed,
                format!("`{subject}` no longer allows additional properties"),
            ),
        };
        self.push(rule, Some(direction), &b, &r, subject, false, message);
    }

    fn compare_required(
        &mut self,
        base: &Side<'a>,
        revision: &Side<'a>,
        subject: &str,
        new_props: &'a Map<String, Value>,
    ) {
        let required = |s: &Side<'a>| -> BTreeSet<&'a str> {
            s.get("required")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default()
        };
        let (old, new) = (required(base), required(revision));
        for name in new.difference(&old) {
            let child_subject = format!("{subject}.{name}");
            let side = revision.child(revision.node, &["required"]);
            let has_default = new_props
                .get(*name)
                .and_then(|p| {
                    Self::deref(self.revision_root, Side::new(p, String::new())).get("default")
                })
                .is_some();
            if has_default {
                self.push(
                    "jsonschema/required-added-with-default",
                    None,
                    base,
                    &side,
                    &child_subject,
                    false,
                    format!("Property `{child_subject}` is now required and has a default"),
                );
            } else {
                self.push(
                    "jsonschema/required-added",
                    Some(Direction::Narrowed),
                    base,
                    &side,
                    &child_subject,
                    false,
                    format!("Property `{child_subject}` is now required (no default)"),
                );
            }
        }
        for name in old.difference(&new) {
            let child_subject = format!("{subject}.{name}");
            let side = base.child(base.node, &["required"]);
            self.push(
                "jsonschema/required-removed",
                Some(Direction::Widened),
                &side,
                revision,
                &child_subject,
                true,
                format!("Property `{child_subject}` is no longer required"),
            );
        }
    }

    fn compare_items(&mut self, base: &Side<'a>, revision: &Side<'a>, subject: &str) {
        // A single schema for every item: `items` (object/bool); tuples: `prefixItems` (2020-12)
        // or an `items` array (draft-07).
        let single = |s: &Side<'a>| match s.get("items") {
            Some(v) if !v.is_array() => Some(s.child(v, &["items"])),
            _ => None,
        };
        let tuple = |s: &Side<'a>| -> Vec<Side<'a>> {
            let (key, list) = match (s.get("prefixItems"), s.get("items")) {
                (Some(Value::Array(l)), _) => ("prefixItems", l),
                (_, Some(Value::Array(l))) => ("items", l),
                _ => return Vec::new(),
            };
            list.iter().enumerate().map(|(i, v)| s.child(v, &[key, &i.to_string()])).collect()
        };
        match (single(base), single(revision)) {
            (None, None) => {}
            (b, r) => {
                let b = b.unwrap_or_else(|| Side::new(&EMPTY, format!("{}/items", base.pointer)));
                let r =
                    r.unwrap_or_else(|| Side::new(&EMPTY, format!("{}/items", revision.pointer)));
                self.compare(b, r, &format!("{subject}[]"));
            }
        }
        let (old, new) = (tuple(base), tuple(revision));
        for (i, (b, r)) in old.into_iter().zip(new).enumerate() {
            self.compare(b, r, &format!("{subject}[{i}]"));
        }
    }

    fn compare_combinators(&mut self, base: &Side<'a>, revision: &Side<'a>, subject: &str) {
        for keyword in ["anyOf", "oneOf", "allOf"] {
            let branches = |s: &Side<'a>| -> Vec<Side<'a>> {
                s.get(keyword)
                    .and_then(Value::as_array)
                    .map(|l| {
                        l.iter()
                            .enumerate()
                            .map(|(i, v)| s.child(v, &[keyword, &i.to_string()]))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let (mut old, mut new) = (branches(base), branches(revision));
            // An annotation-only conjunct asserts nothing.
            if keyword == "allOf" {
                old.retain(|b| !keywords::is_trivial(b.node));
                new.retain(|b| !keywords::is_trivial(b.node));
            }
            if old.len() == new.len() {
                for (i, (b, r)) in old.into_iter().zip(new).enumerate() {
                    self.compare(b, r, &format!("{subject}|{keyword}[{i}]"));
                }
                continue;
            }
            // More alternatives accept more data; more conjuncts accept less.
            let grew = new.len() > old.len();
            let direction = match (keyword, grew) {
                ("allOf", true) | ("anyOf" | "oneOf", false) => Direction::Narrowed,
                _ => Direction::Widened,
            };
            let rule =
                if grew { "jsonschema/subschema-added" } else { "jsonschema/subschema-removed" };
            let side_b = base.child(base.node, &[keyword]);
            let side_r = revision.child(revision.node, &[keyword]);
            self.push(
                rule,
                Some(direction),
                &side_b,
                &side_r,
                subject,
                !grew,
                format!(
                    "`{keyword}` of `{subject}` went from {} to {} subschemas",
                    old.len(),
                    new.len()
                ),
            );
        }
    }
}

fn lookup<'v>(node: &'v Value, tokens: &[&str]) -> Option<&'v Value> {
    tokens.iter().try_fold(node, |n, t| match n {
        Value::Array(a) => a.get(t.parse::<usize>().ok()?),
        _ => n.get(*t),
    })
}

/// The rule naming the opposite direction, for differences found under `not`.
fn negated_rule(rule: &'static str) -> &'static str {
    const PAIRS: &[(&str, &str)] = &[
        ("jsonschema/type-narrowed", "jsonschema/type-widened"),
        ("jsonschema/enum-narrowed", "jsonschema/enum-widened"),
        ("jsonschema/range-tightened", "jsonschema/range-loosened"),
        ("jsonschema/length-tightened", "jsonschema/length-loosened"),
        ("jsonschema/pattern-added", "jsonschema/pattern-removed"),
        ("jsonschema/additional-properties-narrowed", "jsonschema/additional-properties-widened"),
        ("jsonschema/schema-closed", "jsonschema/schema-opened"),
        ("jsonschema/keyword-narrowed", "jsonschema/keyword-widened"),
    ];
    PAIRS
        .iter()
        .find_map(|&(a, b)| {
            if rule == a {
                Some(b)
            } else if rule == b {
                Some(a)
            } else {
                None
            }
        })
        .unwrap_or(rule)
}

/// Whether bound `new` admits fewer numbers than `old` (a lower bound when `lower`).
fn tighter(new: (f64, bool), old: (f64, bool), lower: bool) -> bool {
    let stricter = if lower { new.0 > old.0 } else { new.0 < old.0 };
    stricter || (new.0 == old.0 && new.1 && !old.1)
}

/// A schema that is only `anyOf`/`oneOf`/`allOf` of one member is that member.
fn single_member(node: &Value) -> Option<(&'static str, &Value)> {
    let map = node.as_object()?;
    let annotation =
        |k: &str| matches!(k, "description" | "title" | "$comment" | "examples" | "default");
    let mut found = None;
    for (k, v) in map {
        match k.as_str() {
            "anyOf" | "oneOf" | "allOf" if found.is_none() => {
                let [only] = v.as_array()?.as_slice() else { return None };
                let key = match k.as_str() {
                    "anyOf" => "anyOf",
                    "oneOf" => "oneOf",
                    _ => "allOf",
                };
                found = Some((key, only));
            }
            k if annotation(k) => {}
            _ => return None,
        }
    }
    found
}
