//! Schema comparison in the writer (request) or reader (response) direction.

use super::diff::{Node, Out};
use crate::jsonschema::Direction;
use crate::keywords;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Where a schema sits, which decides the rule ids.
#[derive(Clone, Copy)]
pub(super) enum Ctx {
    Parameter,
    Body,
    Response,
}

impl Ctx {
    fn prefix(self) -> &'static str {
        match self {
            Ctx::Parameter => "request-parameter",
            Ctx::Body => "request-property",
            Ctx::Response => "response-property",
        }
    }
}

/// Request: clients write, the new schema must accept all the old one did. Response: clients
/// read, the old schema must accept all the new one produces.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Dir {
    Request,
    Response,
}

/// Schema comparisons per top-level diff; bounds the work on large, highly shared schemas.
const BUDGET: usize = 20_000;
/// Nesting depth followed; deeper (non-cyclic) schemas are not compared further.
const MAX_DEPTH: usize = 64;

struct Walk<'o> {
    out: &'o mut Out,
    subject: &'o str,
    ctx: Ctx,
    dir: Dir,
    root: &'o str,
    /// Pairs on the current recursion stack, so cyclic schemas end.
    stack: HashSet<(usize, String, usize, String)>,
    budget: usize,
    /// A non-JSON body (XML, form data): its text serialisation carries no JSON types, so
    /// type, format and nullability changes are not judged.
    loose: bool,
}

pub(super) fn diff(
    out: &mut Out,
    subject: &str,
    ctx: Ctx,
    dir: Dir,
    root: &str,
    base: &Node<'_>,
    rev: &Node<'_>,
) {
    diff_loose(out, subject, ctx, dir, root, base, rev, false);
}

/// [`diff`], for a body whose media type is not JSON when `loose`.
#[allow(clippy::too_many_arguments)]
pub(super) fn diff_loose(
    out: &mut Out,
    subject: &str,
    ctx: Ctx,
    dir: Dir,
    root: &str,
    base: &Node<'_>,
    rev: &Node<'_>,
    loose: bool,
) {
    let mut walk =
        Walk { out, subject, ctx, dir, root, stack: HashSet::new(), budget: BUDGET, loose };
    walk.compare(base, rev, "");
}

/// A schema with `allOf` merged in and `type`/`nullable` normalised across 3.0 and 3.1.
#[derive(Default)]
struct View<'a> {
    types: Option<BTreeSet<&'a str>>,
    nullable: bool,
    format: Option<&'a str>,
    enumeration: Option<Vec<&'a Value>>,
    /// `x-extensible-enum`: the server may add values, clients must tolerate unknown ones.
    extensible: bool,
    properties: BTreeMap<&'a str, Node<'a>>,
    required: BTreeSet<&'a str>,
    items: Option<Node<'a>>,
    maximum: Option<(f64, bool)>,
    minimum: Option<(f64, bool)>,
    max_length: Option<u64>,
    min_length: Option<u64>,
    max_items: Option<u64>,
    min_items: Option<u64>,
    pattern: Option<&'a str>,
    variants: Vec<Node<'a>>,
}

fn view<'a>(n: &Node<'a>, depth: usize) -> View<'a> {
    let mut v = View::default();
    let s = n.v;
    match s.get("type") {
        Some(Value::String(t)) if t == "null" => {
            v.types = Some(BTreeSet::new());
            v.nullable = true;
        }
        Some(Value::String(t)) => v.types = Some(BTreeSet::from([t.as_str()])),
        Some(Value::Array(ts)) => {
            let mut set = BTreeSet::new();
            for t in ts.iter().filter_map(Value::as_str) {
                if t == "null" {
                    v.nullable = true;
                } else {
                    set.insert(t);
                }
            }
            v.types = Some(set);
        }
        _ => {}
    }
    v.nullable |= n.flag("nullable") || n.flag("x-nullable");
    v.format = n.str("format");
    // `const` is judged on its own (keywords::changes), not as a one-value enum.
    v.enumeration = match (s.get("enum"), s.get("x-extensible-enum")) {
        (Some(Value::Array(e)), _) => Some(e.iter().collect()),
        (None, Some(Value::Array(e))) => {
            v.extensible = true;
            Some(e.iter().collect())
        }
        _ => None,
    };
    if let Some(e) = &mut v.enumeration
        && e.iter().any(|x| x.is_null())
    {
        v.nullable = true;
        e.retain(|x| !x.is_null());
    }
    if let Some(props) = n.get("properties") {
        v.properties = props.entries().into_iter().collect();
    }
    if let Some(Value::Array(req)) = s.get("required") {
        v.required = req.iter().filter_map(Value::as_str).collect();
    }
    v.items = n.get("items");
    let num = |k: &str| s.get(k).and_then(Value::as_f64);
    let uint = |k: &str| s.get(k).and_then(Value::as_u64);
    v.maximum = bound(num("maximum"), s.get("exclusiveMaximum"), true);
    v.minimum = bound(num("minimum"), s.get("exclusiveMinimum"), false);
    v.max_length = uint("maxLength");
    v.min_length = uint("minLength").filter(|&m| m > 0);
    v.max_items = uint("maxItems");
    v.min_items = uint("minItems").filter(|&m| m > 0);
    // An empty pattern matches every string: it is no pattern.
    v.pattern = n.str("pattern").filter(|p| !p.is_empty());
    for key in ["oneOf", "anyOf"] {
        if let Some(list) = n.get(key) {
            v.variants.extend(list.items());
        }
    }
    if depth < 16
        && let Some(all) = n.get("allOf")
    {
        for member in all.items() {
            merge(&mut v, view(&member, depth + 1));
        }
    }
    if depth < 16 && !v.variants.is_empty() {
        // `oneOf: [X, {type: "null"}]` is a nullable X; a single remaining variant is X itself.
        let before = v.variants.len();
        v.variants.retain(|x| x.v.get("type").and_then(Value::as_str) != Some("null"));
        v.nullable |= v.variants.len() < before;
        if v.variants.len() == 1 && before == 2 && v.properties.is_empty() && v.types.is_none() {
            let only = v.variants.remove(0);
            merge(&mut v, view(&only, depth + 1));
        } else if v.types.is_none() {
            // The union of the variants' types, when each has one.
            let mut union = BTreeSet::new();
            for variant in &v.variants {
                match view(variant, depth + 1).types {
                    Some(t) => union.extend(t),
                    None => return v,
                }
            }
            v.types = Some(union);
        }
    }
    if v.types.is_none() {
        if !v.properties.is_empty() {
            v.types = Some(BTreeSet::from(["object"]));
        } else if v.items.is_some() {
            v.types = Some(BTreeSet::from(["array"]));
        }
    }
    v
}

/// `maximum`/`minimum` with 3.0 boolean or 3.1 numeric `exclusive*`, as (limit, exclusive).
fn bound(plain: Option<f64>, exclusive: Option<&Value>, upper: bool) -> Option<(f64, bool)> {
    match (plain, exclusive) {
        (Some(p), Some(Value::Bool(true))) => Some((p, true)),
        (Some(p), Some(Value::Number(e))) => {
            let e = e.as_f64().unwrap_or(p);
            let tighter = if upper { e <= p } else { e >= p };
            Some(if tighter { (e, true) } else { (p, false) })
        }
        (None, Some(Value::Number(e))) => e.as_f64().map(|e| (e, true)),
        (Some(p), _) => Some((p, false)),
        (None, _) => None,
    }
}

fn merge<'a>(into: &mut View<'a>, from: View<'a>) {
    into.types = match (into.types.take(), from.types) {
        (Some(a), Some(b)) => Some(a.intersection(&b).copied().collect()),
        (a, b) => a.or(b),
    };
    into.nullable |= from.nullable;
    into.format = into.format.or(from.format);
    if into.enumeration.is_none() {
        into.extensible = from.extensible;
    }
    into.enumeration = into.enumeration.take().or(from.enumeration);
    for (k, p) in from.properties {
        into.properties.entry(k).or_insert(p);
    }
    into.required.extend(from.required);
    into.items = into.items.take().or(from.items);
    into.maximum = tighter(into.maximum, from.maximum, true);
    into.minimum = tighter(into.minimum, from.minimum, false);
    let min = |a: Option<u64>, b: Option<u64>| a.into_iter().chain(b).min();
    let max = |a: Option<u64>, b: Option<u64>| a.into_iter().chain(b).max();
    into.max_length = min(into.max_length, from.max_length);
    into.min_length = max(into.min_length, from.min_length);
    into.max_items = min(into.max_items, from.max_items);
    into.min_items = max(into.min_items, from.min_items);
    into.pattern = into.pattern.or(from.pattern);
    into.variants.extend(from.variants);
}

fn tighter(a: Option<(f64, bool)>, b: Option<(f64, bool)>, upper: bool) -> Option<(f64, bool)> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if is_tighter(y, x, upper) { y } else { x }),
        (x, y) => x.or(y),
    }
}

/// Whether bound `new` admits fewer values than `old`.
fn is_tighter(new: (f64, bool), old: (f64, bool), upper: bool) -> bool {
    let stricter_value = if upper { new.0 < old.0 } else { new.0 > old.0 };
    stricter_value || (new.0 == old.0 && new.1 && !old.1)
}

/// Whether every type in `inner` is accepted by `outer` (`None` = any type).
fn accepts(outer: &Option<BTreeSet<&str>>, inner: &Option<BTreeSet<&str>>) -> bool {
    match (outer, inner) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(o), Some(i)) => {
            i.iter().all(|t| o.contains(t) || (*t == "integer" && o.contains("number")))
        }
    }
}

/// [`accepts`] for values serialised as text (form fields, XML): a `string` also takes the
/// text of any number or boolean, so only a change away from text (or between unrelated
/// scalars) is observable.
fn accepts_text(outer: &Option<BTreeSet<&str>>, inner: &Option<BTreeSet<&str>>) -> bool {
    let scalar = |t: &str| matches!(t, "integer" | "number" | "boolean");
    match (outer, inner) {
        (Some(o), Some(i)) if o.contains("string") => i.iter().all(|t| o.contains(t) || scalar(t)),
        _ => accepts(outer, inner),
    }
}

fn describe(types: &Option<BTreeSet<&str>>) -> String {
    match types {
        None => "any".into(),
        Some(t) if t.is_empty() => "null".into(),
        Some(t) => t.iter().copied().collect::<Vec<_>>().join("|"),
    }
}

/// Format pairs where the second admits every value of the first.
fn format_widens(from: &str, to: &str) -> bool {
    matches!((from, to), ("int32", "int64") | ("float", "double") | ("date", "date-time"))
        && from != "date"
}

impl Walk<'_> {
    fn label(&self, path: &str) -> String {
        if path.is_empty() {
            self.root.to_string()
        } else if let Some(rest) = path.strip_prefix("[]") {
            format!("{} items{rest}", self.root)
        } else {
            format!("{} property `{path}`", self.root)
        }
    }

    fn report(&mut self, kind: &str, message: String, at: &Node<'_>) {
        let rule = format!("{}-{kind}", self.ctx.prefix());
        self.out.report(&rule, self.subject, message, at);
    }

    /// Property rules always use the request-body / response ids, also inside parameters.
    fn report_property(&mut self, kind: &str, message: String, at: &Node<'_>) {
        let prefix = match self.dir {
            Dir::Request => "request-property",
            Dir::Response => "response",
        };
        let rule = format!("{prefix}-{kind}");
        self.out.report(&rule, self.subject, message, at);
    }

    fn compare(&mut self, b: &Node<'_>, r: &Node<'_>, path: &str) {
        if self.budget == 0 || self.stack.len() > MAX_DEPTH {
            return;
        }
        self.budget -= 1;
        let key = (b.key().0, b.key().1.to_string(), r.key().0, r.key().1.to_string());
        if !self.stack.insert(key.clone()) {
            return;
        }
        self.compare_views(b, r, path);
        self.stack.remove(&key);
    }

    fn compare_views(&mut self, b: &Node<'_>, r: &Node<'_>, path: &str) {
        let bv = view(b, 0);
        let rv = view(r, 0);
        let label = self.label(path);
        let req = self.dir == Dir::Request;
        // The boolean schema `false` (3.1) admits nothing: becoming it narrows, leaving it widens.
        let never = |n: &Node<'_>| n.v == &Value::Bool(false);
        match (never(b), never(r)) {
            (true, true) => return,
            (false, true) => {
                if req {
                    self.report(
                        "keyword-narrowed",
                        format!("{label} no longer admits any value"),
                        r,
                    );
                }
                return;
            }
            (true, false) => {
                if !req {
                    self.report("keyword-widened", format!("{label} admits values now"), r);
                }
                return;
            }
            (false, false) => {}
        }

        // Variants on both sides are compared one by one instead.
        let both_variants = !bv.variants.is_empty() && !rv.variants.is_empty();
        let accepts = |outer: &Option<BTreeSet<&str>>, inner: &Option<BTreeSet<&str>>| {
            if self.loose { accepts_text(outer, inner) } else { accepts(outer, inner) }
        };
        let type_ok = both_variants
            || if req { accepts(&rv.types, &bv.types) } else { accepts(&bv.types, &rv.types) };
        if !type_ok {
            let msg = format!(
                "{label} changed type from {} to {}",
                describe(&bv.types),
                describe(&rv.types)
            );
            self.report("type-changed", msg, r);
            return;
        }
        let format_ok = match (bv.format, rv.format) {
            (x, y) if x == y => true,
            (_, None) if req => true,
            (None, _) if !req => true,
            (Some(x), Some(y)) if req => format_widens(x, y),
            (Some(x), Some(y)) => format_widens(y, x),
            _ => false,
        };
        if !format_ok {
            let msg = format!(
                "{label} changed format from {} to {}",
                bv.format.unwrap_or("none"),
                rv.format.unwrap_or("none")
            );
            self.report("format-changed", msg, r);
        }
        if req && bv.nullable && !rv.nullable && !self.loose {
            self.report("became-not-nullable", format!("{label} no longer accepts null"), r);
        }
        if !req && !bv.nullable && rv.nullable && !self.loose {
            self.report("became-nullable", format!("{label} became nullable"), r);
        }
        self.compare_enums(&bv, &rv, &label, b, r);
        self.compare_bounds(&bv, &rv, &label, r);
        // A schema wrapped into (or unwrapped from) `oneOf`/`anyOf`: compare it with the variant
        // of the same name, if any, rather than with the wrapper's empty property list.
        let name = |n: &Node<'_>| n.ptr.rsplit('/').next().unwrap_or_default().to_string();
        if bv.variants.is_empty() && !rv.variants.is_empty() && rv.properties.is_empty() {
            let same = self.counterpart(b, &bv, &rv.variants);
            if let Some(rn) = same.clone() {
                self.compare(b, &rn, path);
            }
            if !req {
                let is_same = |x: &Node<'_>| same.as_ref().is_some_and(|s| s.ptr == x.ptr);
                for rn in rv.variants.iter().filter(|x| !is_same(x)) {
                    let msg = format!("{label} may now be `{}`", name(rn));
                    self.report("variant-added", msg, rn);
                }
            }
            return;
        }
        if !bv.variants.is_empty() && rv.variants.is_empty() && bv.properties.is_empty() {
            let same = self.counterpart(r, &rv, &bv.variants);
            if let Some(bn) = same.clone() {
                self.compare(&bn, r, path);
            }
            if req {
                let is_same = |x: &Node<'_>| same.as_ref().is_some_and(|s| s.ptr == x.ptr);
                for bn in bv.variants.iter().filter(|x| !is_same(x)) {
                    let msg = format!("{label} no longer accepts `{}`", name(bn));
                    self.report("variant-removed", msg, bn);
                }
            }
            return;
        }
        self.compare_properties(&bv, &rv, path, r);
        let arrays = |v: &View<'_>| v.types.as_ref().is_some_and(|t| t.contains("array"));
        match (&bv.items, &rv.items) {
            (Some(bi), Some(ri)) => self.compare(bi, ri, &format!("{path}[]")),
            // Items constrained where they were not (or the reverse): compare with "anything".
            (Some(bi), None) if arrays(&rv) => {
                let ri = r.absent("items");
                self.compare(bi, &ri, &format!("{path}[]"))
            }
            (None, Some(ri)) if arrays(&bv) => {
                let bi = b.absent("items");
                self.compare(&bi, ri, &format!("{path}[]"))
            }
            _ => {}
        }
        self.compare_variants(&bv, &rv, path, b, r);
        if req {
            self.compare_all_of(b, r, &label);
        }
        self.compare_keywords(b, r, path, &label);
    }

    /// A request schema's `allOf` gained a conjunct that asserts something: every value must
    /// now also match it. Members match by referenced schema name, inline ones by content;
    /// annotation-only conjuncts assert nothing. (Removing a conjunct only widens.)
    fn compare_all_of<'n>(&mut self, b: &Node<'n>, r: &Node<'n>, label: &str) {
        let old = b.get("allOf").map(|a| a.items()).unwrap_or_default();
        let new = r.get("allOf").map(|a| a.items()).unwrap_or_default();
        if old.is_empty() {
            return;
        }
        // `$ref` members are named by the schema they reference (after `deref`, the pointer).
        let named =
            |n: &Node<'_>| n.ptr.rsplit('/').next().is_some_and(|s| s.parse::<usize>().is_err());
        let name = |n: &Node<'_>| n.ptr.rsplit('/').next().unwrap_or_default().to_string();
        for added in &new {
            let known = old.iter().any(|o| {
                if named(added) && named(o) { name(o) == name(added) } else { o.v == added.v }
            });
            if !known && !keywords::is_trivial(added.v) {
                let what =
                    if named(added) { format!("`{}`", name(added)) } else { "a subschema".into() };
                let msg = format!("{label}: {what} added to allOf; values must now match it too");
                self.report("all-of-added", msg, added);
            }
        }
    }

    /// The variant standing for `single` when a schema was wrapped into (or unwrapped from)
    /// `oneOf`/`anyOf`: the one referencing the same schema, else the only one of a type
    /// `single` has.
    fn counterpart<'n>(
        &self,
        single: &Node<'n>,
        single_view: &View<'_>,
        variants: &[Node<'n>],
    ) -> Option<Node<'n>> {
        let name = |n: &Node<'_>| n.ptr.rsplit('/').next().unwrap_or_default().to_string();
        if let Some(found) = variants.iter().find(|x| name(x) == name(single)) {
            return Some(found.clone());
        }
        let types = single_view.types.as_ref()?;
        let mut same_type = variants.iter().filter(|x| {
            view(x, 1).types.as_ref().is_some_and(|t| t.iter().any(|t| types.contains(t)))
        });
        match (same_type.next(), same_type.next()) {
            (Some(only), None) => Some(only.clone()),
            _ => None,
        }
    }

    /// `const` and the JSON Schema 2020-12 keywords ([`keywords`]), then the sub-schemas
    /// under applicators (`contains`, `not`, `then`/`else`, `additionalProperties`, …).
    fn compare_keywords(&mut self, b: &Node<'_>, r: &Node<'_>, path: &str, label: &str) {
        let req = self.dir == Dir::Request;
        let (bc, rc) = (b.v.get("const"), r.v.get("const"));
        if bc.is_some() || rc.is_some() {
            // The values each side admits: `const` is a one-value enum to compare sets with.
            let allowed = |n: &Node<'_>, c: Option<&Value>| -> Option<Vec<Value>> {
                match (c, n.v.get("enum")) {
                    (Some(c), _) => Some(vec![c.clone()]),
                    (None, Some(Value::Array(e))) => Some(e.clone()),
                    _ => None,
                }
            };
            let (ba, ra) = (allowed(b, bc), allowed(r, rc));
            let covers =
                |outer: &Option<Vec<Value>>, inner: &Option<Vec<Value>>| match (outer, inner) {
                    (None, _) => true,
                    (Some(_), None) => false,
                    (Some(o), Some(i)) => i.iter().all(|x| o.contains(x)),
                };
            let breaking = if req { !covers(&ra, &ba) } else { !covers(&ba, &ra) };
            if breaking {
                let show =
                    |v: Option<&Value>| v.map_or_else(|| "none".to_string(), Value::to_string);
                let msg = format!("{label} const changed from {} to {}", show(bc), show(rc));
                self.report("const-changed", msg, r);
            }
        }
        for change in keywords::changes(b.v, r.v, &["const", "additionalProperties"], true) {
            let breaking = match change.direction {
                Direction::Narrowed => req,
                Direction::Widened => !req,
                Direction::Changed => true,
            };
            if breaking {
                let kind = if req { "keyword-narrowed" } else { "keyword-widened" };
                self.report(kind, format!("{label}: {}", change.message), r);
            }
        }
        // A map's value schema set where values were free narrows (requests), and the
        // reverse widens (responses); `additionalProperties: false` toggles are not judged:
        // undeclared properties were never part of the contract.
        let schema_ap = |n: &Node<'_>| {
            n.v.get("additionalProperties")
                .is_some_and(|v| v.is_object() && !keywords::is_trivial(v))
        };
        let free_ap = |n: &Node<'_>| {
            matches!(n.v.get("additionalProperties"), None | Some(Value::Bool(true)))
                || n.v.get("additionalProperties").is_some_and(keywords::is_trivial)
        };
        if req && free_ap(b) && schema_ap(r) {
            let msg = format!("{label}: additionalProperties now constrained");
            self.report("keyword-narrowed", msg, r);
        }
        if !req && schema_ap(b) && free_ap(r) {
            let msg = format!("{label}: additionalProperties no longer constrained");
            self.report("keyword-widened", msg, r);
        }
        for pair in keywords::subschema_pairs(b.v, r.v, true) {
            let (Some(bn), Some(rn)) = (b.descend(&pair.tokens), r.descend(&pair.tokens)) else {
                continue;
            };
            let sub = format!("{path}({})", pair.label);
            // Under `not`, a revision accepting more rejects more: compare the other way.
            if pair.negated {
                self.compare(&rn, &bn, &sub);
            } else {
                self.compare(&bn, &rn, &sub);
            }
        }
    }

    fn compare_enums(
        &mut self,
        bv: &View<'_>,
        rv: &View<'_>,
        label: &str,
        b: &Node<'_>,
        r: &Node<'_>,
    ) {
        // `const` is judged with its own rule (compare_keywords).
        if b.v.get("const").is_some() || r.v.get("const").is_some() {
            return;
        }
        if self.dir == Dir::Response
            && rv.enumeration.is_none()
            && let Some(be) = &bv.enumeration
        {
            let values: Vec<String> = be.iter().map(|x| x.to_string()).collect();
            let msg = format!("{label} is no longer limited to {}", values.join(", "));
            self.report("enum-value-added", msg, r);
        }
        if self.dir == Dir::Request
            && bv.enumeration.is_none()
            && let Some(re) = &rv.enumeration
        {
            let values: Vec<String> = re.iter().map(|x| x.to_string()).collect();
            let msg = format!("{label} now only accepts {}", values.join(", "));
            self.report("became-enum", msg, r);
        }
        let (Some(be), Some(re)) = (&bv.enumeration, &rv.enumeration) else {
            return;
        };
        let removed: Vec<String> =
            be.iter().filter(|x| !re.contains(x)).map(|x| x.to_string()).collect();
        let added: Vec<String> =
            re.iter().filter(|x| !be.contains(x)).map(|x| x.to_string()).collect();
        if !removed.is_empty() {
            let msg = format!("{label} enum values removed: {}", removed.join(", "));
            self.report("enum-value-removed", msg, if self.dir == Dir::Request { r } else { b });
        }
        // Clients of an `x-extensible-enum` must already handle values they do not know.
        let tolerated = self.dir == Dir::Response && rv.extensible;
        if !added.is_empty() && !tolerated {
            let msg = format!("{label} enum values added: {}", added.join(", "));
            self.report("enum-value-added", msg, r);
        }
    }

    fn compare_bounds(&mut self, bv: &View<'_>, rv: &View<'_>, label: &str, r: &Node<'_>) {
        let req = self.dir == Dir::Request;
        // `tightened(old, new)`: the revision admits fewer values.
        let fmt = |x: Option<(f64, bool)>| {
            x.map_or(
                "none".into(),
                |(v, e)| {
                    if e { format!("{v} (exclusive)") } else { v.to_string() }
                },
            )
        };
        let upper_tight = match (bv.maximum, rv.maximum) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(o), Some(n)) => is_tighter(n, o, true),
        };
        let upper_loose = match (bv.maximum, rv.maximum) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(o), Some(n)) => is_tighter(o, n, true),
        };
        let lower_tight = match (bv.minimum, rv.minimum) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(o), Some(n)) => is_tighter(n, o, false),
        };
        let lower_loose = match (bv.minimum, rv.minimum) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(o), Some(n)) => is_tighter(o, n, false),
        };
        let max_msg =
            || format!("{label} maximum changed from {} to {}", fmt(bv.maximum), fmt(rv.maximum));
        let min_msg =
            || format!("{label} minimum changed from {} to {}", fmt(bv.minimum), fmt(rv.minimum));
        if req {
            if upper_tight {
                self.report("max-decreased", max_msg(), r);
            }
            if lower_tight {
                self.report("min-increased", min_msg(), r);
            }
        } else {
            if upper_loose {
                self.report("max-increased", max_msg(), r);
            }
            if lower_loose {
                self.report("min-decreased", min_msg(), r);
            }
        }
        // Unsigned limits: (name, old, new, is upper bound).
        let limits = [
            ("max-length", "maxLength", bv.max_length, rv.max_length, true),
            ("min-length", "minLength", bv.min_length, rv.min_length, false),
            ("max-items", "maxItems", bv.max_items, rv.max_items, true),
            ("min-items", "minItems", bv.min_items, rv.min_items, false),
        ];
        for (kind, keyword, old, new, upper) in limits {
            let tight = match (old, new) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(o), Some(n)) => {
                    if upper {
                        n < o
                    } else {
                        n > o
                    }
                }
            };
            let loose = match (old, new) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(o), Some(n)) => {
                    if upper {
                        n > o
                    } else {
                        n < o
                    }
                }
            };
            let show = |x: Option<u64>| x.map_or("none".into(), |v| v.to_string());
            let direction = match (req, upper) {
                (true, true) if tight => "decreased",
                (true, false) if tight => "increased",
                (false, true) if loose => "increased",
                (false, false) if loose => "decreased",
                _ => continue,
            };
            let msg = format!("{label} {keyword} changed from {} to {}", show(old), show(new));
            self.report(&format!("{kind}-{direction}"), msg, r);
        }
        if req && rv.pattern.is_some() && rv.pattern != bv.pattern {
            let msg = format!(
                "{label} pattern changed from {} to {}",
                bv.pattern.unwrap_or("none"),
                rv.pattern.unwrap_or("none")
            );
            self.report("pattern-changed", msg, r);
        }
        if !req && bv.pattern.is_some() && rv.pattern != bv.pattern {
            let msg = format!(
                "{label}: pattern changed from {} to {}: values of another shape may be sent",
                bv.pattern.unwrap_or("none"),
                rv.pattern.unwrap_or("none")
            );
            self.report("keyword-widened", msg, r);
        }
    }

    fn compare_properties(&mut self, bv: &View<'_>, rv: &View<'_>, path: &str, r: &Node<'_>) {
        let req = self.dir == Dir::Request;
        // Clients never send readOnly properties and never receive writeOnly ones.
        let hidden = |n: &Node<'_>| if req { n.flag("readOnly") } else { n.flag("writeOnly") };
        let join =
            |name: &str| if path.is_empty() { name.to_string() } else { format!("{path}.{name}") };
        for (name, bp) in &bv.properties {
            let full = join(name);
            let label = self.label(&full);
            let b_req = bv.required.contains(name);
            match rv.properties.get(name) {
                None if hidden(bp) => {}
                None if req => self.report_property("removed", format!("{label} removed"), bp),
                None if b_req => {
                    self.report_property("property-removed", format!("{label} removed"), bp)
                }
                None => self.report_property(
                    "optional-property-removed",
                    format!("{label} (optional) removed"),
                    bp,
                ),
                // Became readOnly in a request / writeOnly in a response: gone for clients.
                Some(rp) if !hidden(bp) && hidden(rp) => {
                    let became = if req { "readOnly" } else { "writeOnly" };
                    let msg = format!("{label} became {became}");
                    let kind = match (req, b_req) {
                        (true, _) => "removed",
                        (false, true) => "property-removed",
                        (false, false) => "optional-property-removed",
                    };
                    self.report_property(kind, msg, rp);
                }
                Some(rp) => {
                    let r_req = rv.required.contains(name);
                    if req && !b_req && r_req && !hidden(rp) {
                        self.report_property(
                            "became-required",
                            format!("{label} became required"),
                            rp,
                        );
                    }
                    if !req && b_req && !r_req && !hidden(rp) {
                        self.report_property(
                            "property-became-optional",
                            format!("{label} became optional"),
                            rp,
                        );
                    }
                    if !(hidden(bp) && hidden(rp)) {
                        self.compare(bp, rp, &full);
                    }
                }
            }
        }
        // `required` names no property declares (e.g. in `then` or `dependentSchemas`).
        for name in rv.required.difference(&bv.required) {
            if req && !rv.properties.contains_key(name) && !bv.properties.contains_key(name) {
                let label = self.label(&join(name));
                self.report_property("became-required", format!("{label} became required"), r);
            }
        }
        for name in bv.required.difference(&rv.required) {
            if !req && !rv.properties.contains_key(name) && !bv.properties.contains_key(name) {
                let label = self.label(&join(name));
                let msg = format!("{label} became optional");
                self.report_property("property-became-optional", msg, r);
            }
        }
        for (name, rp) in &rv.properties {
            if bv.properties.contains_key(name) || hidden(rp) {
                continue;
            }
            let label = self.label(&join(name));
            if req && rv.required.contains(name) {
                self.report_property("added-required", format!("required {label} added"), rp);
            } else if req {
                self.report_property("added", format!("optional {label} added"), rp);
            } else {
                self.report_property("property-added", format!("{label} added"), rp);
            }
        }
    }

    /// `oneOf`/`anyOf` variants match by referenced schema name, else by position.
    fn compare_variants(
        &mut self,
        bv: &View<'_>,
        rv: &View<'_>,
        path: &str,
        b: &Node<'_>,
        r: &Node<'_>,
    ) {
        if bv.variants.is_empty() && rv.variants.is_empty() {
            return;
        }
        let name = |n: &Node<'_>| n.ptr.rsplit('/').next().unwrap_or_default().to_string();
        // Referenced variants are named by their schema; inline ones by position.
        let by_name = |vs: &[Node<'_>]| vs.iter().all(|n| name(n).parse::<usize>().is_err());
        let named = by_name(&bv.variants) && by_name(&rv.variants);
        let find = |vs: &[Node<'_>], i: usize, n: &Node<'_>| -> Option<usize> {
            if named {
                vs.iter().position(|x| name(x) == name(n))
            } else {
                (i < vs.len()).then_some(i)
            }
        };
        let label = self.label(path);
        let req = self.dir == Dir::Request;
        for (i, bn) in bv.variants.iter().enumerate() {
            match find(&rv.variants, i, bn) {
                Some(j) => {
                    let rn = rv.variants[j].clone();
                    self.compare(bn, &rn, path);
                }
                None if req && !rv.variants.is_empty() => {
                    let msg = format!("{label} variant `{}` removed", name(bn));
                    self.report("variant-removed", msg, b);
                }
                None => {}
            }
        }
        if !req && !bv.variants.is_empty() {
            for (i, rn) in rv.variants.iter().enumerate() {
                if find(&bv.variants, i, rn).is_none() {
                    let msg = format!("{label} variant `{}` added", name(rn));
                    self.report("variant-added", msg, r);
                }
            }
        }
    }
}
