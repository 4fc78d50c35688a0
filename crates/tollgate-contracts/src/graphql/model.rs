//! The comparable view of a schema: types by name with extensions merged, lines kept.

use graphql_parser::schema as ast;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A parsed SDL document, reduced to what the diff compares.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// The file name given to [`super::parse`].
    pub(crate) file: String,
    /// Root operation types: query, mutation, subscription.
    pub(crate) roots: [Option<String>; 3],
    /// Line of the `schema { … }` definition, 0 when implicit.
    pub(crate) schema_line: u32,
    /// Directives applied to the schema definition, in order.
    pub(crate) schema_directives: Vec<Applied>,
    pub(crate) types: BTreeMap<String, TypeDef>,
    pub(crate) directives: BTreeMap<String, DirectiveDef>,
}

impl Schema {
    /// The file name the schema was parsed as.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Number of named types defined (extensions merged).
    pub fn type_count(&self) -> usize {
        self.types.len()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Scalar,
    Object,
    Interface,
    Union,
    Enum,
    InputObject,
}

impl Kind {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Kind::Scalar => "scalar",
            Kind::Object => "object type",
            Kind::Interface => "interface",
            Kind::Union => "union",
            Kind::Enum => "enum",
            Kind::InputObject => "input object",
        }
    }
}

/// `Some(reason)` when `@deprecated` is present.
pub(crate) type Deprecation = Option<String>;

/// A directive applied to a schema element (`@key(fields: "id")`), other than `@deprecated`,
/// which the diff compares as deprecation instead.
#[derive(Debug, Clone)]
pub(crate) struct Applied {
    pub(crate) name: String,
    pub(crate) line: u32,
    /// Arguments in source order, values printed.
    pub(crate) args: Vec<(String, String)>,
}

/// A constant input value (a default), as it compares: numbers by value, object fields by
/// name, a single value where a list is expected as a one-item list (input coercion).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Const {
    Null,
    Number(f64),
    String(String),
    Boolean(bool),
    Enum(String),
    List(Vec<Const>),
    Object(BTreeMap<String, Const>),
    /// A variable (invalid in SDL) or a value nested beyond the coercion depth, as printed.
    Other(String),
}

/// A default value: the literal as written and parsed.
#[derive(Debug, Clone)]
pub(crate) struct DefaultValue {
    pub(crate) text: String,
    pub(crate) value: ast::Value<'static, String>,
}

#[derive(Debug, Clone)]
pub(crate) struct TypeDef {
    pub(crate) kind: Kind,
    pub(crate) line: u32,
    pub(crate) description: Option<String>,
    pub(crate) fields: BTreeMap<String, FieldDef>,
    pub(crate) input_fields: BTreeMap<String, InputDef>,
    pub(crate) values: BTreeMap<String, EnumValueDef>,
    pub(crate) members: BTreeSet<String>,
    pub(crate) interfaces: BTreeSet<String>,
    pub(crate) directives: Vec<Applied>,
}

#[derive(Debug, Clone)]
pub(crate) struct FieldDef {
    pub(crate) line: u32,
    pub(crate) ty: TypeRef,
    pub(crate) description: Option<String>,
    pub(crate) deprecation: Deprecation,
    pub(crate) args: BTreeMap<String, InputDef>,
    pub(crate) directives: Vec<Applied>,
}

#[derive(Debug, Clone)]
pub(crate) struct InputDef {
    pub(crate) line: u32,
    pub(crate) ty: TypeRef,
    pub(crate) default: Option<DefaultValue>,
    pub(crate) description: Option<String>,
    pub(crate) deprecation: Deprecation,
    pub(crate) directives: Vec<Applied>,
}

impl InputDef {
    /// Non-null without a default: every caller must now supply it. A default its type
    /// rejects is no default (`schema` is the one defining this value).
    pub(crate) fn is_required(&self, schema: &Schema) -> bool {
        self.is_non_null() && !self.has_default(schema)
    }

    /// Has a default its type accepts.
    pub(crate) fn has_default(&self, schema: &Schema) -> bool {
        self.default.as_ref().and_then(|d| schema.coerce(&d.value, &self.ty)).is_some()
    }

    pub(crate) fn is_non_null(&self) -> bool {
        matches!(self.ty, TypeRef::NonNull(_))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct EnumValueDef {
    pub(crate) line: u32,
    pub(crate) description: Option<String>,
    pub(crate) deprecation: Deprecation,
    pub(crate) directives: Vec<Applied>,
}

#[derive(Debug, Clone)]
pub(crate) struct DirectiveDef {
    pub(crate) line: u32,
    pub(crate) description: Option<String>,
    pub(crate) repeatable: bool,
    pub(crate) locations: BTreeSet<&'static str>,
    pub(crate) args: BTreeMap<String, InputDef>,
}

/// A type reference: `[User!]!` is `NonNull(List(NonNull(Named("User"))))`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TypeRef {
    Named(String),
    List(Box<TypeRef>),
    NonNull(Box<TypeRef>),
}

impl fmt::Display for TypeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeRef::Named(n) => f.write_str(n),
            TypeRef::List(t) => write!(f, "[{t}]"),
            TypeRef::NonNull(t) => write!(f, "{t}!"),
        }
    }
}

type Doc<'a> = ast::Document<'a, &'a str>;

/// Directives the specification defines: a schema restating them changes nothing.
const BUILT_IN_DIRECTIVES: [&str; 5] = ["skip", "include", "deprecated", "specifiedBy", "oneOf"];

/// How deep input coercion follows nested input objects' defaults (they may refer to
/// themselves through nullable fields).
const COERCION_DEPTH: usize = 32;

impl Schema {
    /// `value` coerced to `ty` as an executor would (GraphQL spec, "Input Coercion"): a single
    /// value where a list is expected becomes a one-item list, and an input object literal gains
    /// the defaults of the fields it omits. `None` when the type rejects the value (a default
    /// that cannot be coerced is no default, as graphql-js reads it).
    pub(crate) fn coerce(
        &self,
        value: &ast::Value<'static, String>,
        ty: &TypeRef,
    ) -> Option<Const> {
        self.coerce_at(value, ty, 0)
    }

    fn coerce_at(
        &self,
        value: &ast::Value<'static, String>,
        ty: &TypeRef,
        depth: usize,
    ) -> Option<Const> {
        if depth > COERCION_DEPTH {
            return Some(Const::Other(value.to_string()));
        }
        match (ty, value) {
            (TypeRef::NonNull(_), ast::Value::Null) => None,
            (TypeRef::NonNull(inner), _) => self.coerce_at(value, inner, depth),
            (_, ast::Value::Null) => Some(Const::Null),
            (TypeRef::List(item), ast::Value::List(items)) => items
                .iter()
                .map(|v| self.coerce_at(v, item, depth + 1))
                .collect::<Option<Vec<_>>>()
                .map(Const::List),
            (TypeRef::List(item), _) => {
                self.coerce_at(value, item, depth + 1).map(|v| Const::List(vec![v]))
            }
            (TypeRef::Named(name), _) => self.coerce_named(name, value, depth),
        }
    }

    fn coerce_named(
        &self,
        name: &str,
        value: &ast::Value<'static, String>,
        depth: usize,
    ) -> Option<Const> {
        use ast::Value as V;
        match (name, value) {
            ("Int", V::Int(_))
            | ("Float", V::Int(_) | V::Float(_))
            | ("String", V::String(_))
            | ("Boolean", V::Boolean(_)) => Some(literal(value)),
            // ID accepts strings and integers, both as the string.
            ("ID", V::String(s)) => Some(Const::String(s.clone())),
            ("ID", V::Int(n)) => Some(Const::String(n.as_i64().unwrap_or_default().to_string())),
            ("Int" | "Float" | "String" | "Boolean" | "ID", _) => None,
            _ => match self.types.get(name).map(|t| (t.kind, t)) {
                Some((Kind::Enum, t)) => match value {
                    V::Enum(e) if t.values.contains_key(e) => Some(Const::Enum(e.clone())),
                    _ => None,
                },
                Some((Kind::InputObject, t)) => {
                    let V::Object(fields) = value else { return None };
                    let mut out = BTreeMap::new();
                    for (key, f) in &t.input_fields {
                        let coerced = match (fields.get(key), &f.default) {
                            (Some(v), _) => self.coerce_at(v, &f.ty, depth + 1)?,
                            (None, Some(d)) => match self.coerce_at(&d.value, &f.ty, depth + 1) {
                                Some(v) => v,
                                None => continue,
                            },
                            (None, None) if matches!(f.ty, TypeRef::NonNull(_)) => return None,
                            (None, None) => continue,
                        };
                        out.insert(key.clone(), coerced);
                    }
                    Some(Const::Object(out))
                }
                // Custom scalars take any literal; undefined types (rejected before) as written.
                _ => Some(literal(value)),
            },
        }
    }
}

/// A value as written, without a type to coerce it to.
fn literal(value: &ast::Value<'static, String>) -> Const {
    match value {
        ast::Value::Null => Const::Null,
        #[allow(clippy::cast_precision_loss)] // GraphQL Int is 32-bit; graphql-js compares f64s
        ast::Value::Int(n) => Const::Number(n.as_i64().unwrap_or_default() as f64),
        ast::Value::Float(f) => Const::Number(*f),
        ast::Value::String(s) => Const::String(s.clone()),
        ast::Value::Boolean(b) => Const::Boolean(*b),
        ast::Value::Enum(e) => Const::Enum(e.clone()),
        ast::Value::List(items) => Const::List(items.iter().map(literal).collect()),
        ast::Value::Object(fields) => {
            Const::Object(fields.iter().map(|(k, v)| (k.clone(), literal(v))).collect())
        }
        ast::Value::Variable(_) => Const::Other(value.to_string()),
    }
}

fn line(pos: graphql_parser::Pos) -> u32 {
    u32::try_from(pos.line).unwrap_or(u32::MAX)
}

fn type_ref<'a>(t: &ast::Type<'a, &'a str>) -> TypeRef {
    match t {
        ast::Type::NamedType(n) => TypeRef::Named((*n).to_string()),
        ast::Type::ListType(inner) => TypeRef::List(Box::new(type_ref(inner))),
        ast::Type::NonNullType(inner) => TypeRef::NonNull(Box::new(type_ref(inner))),
    }
}

fn deprecation<'a>(directives: &[ast::Directive<'a, &'a str>]) -> Deprecation {
    let d = directives.iter().find(|d| d.name == "deprecated")?;
    let reason = d.arguments.iter().find(|(name, _)| *name == "reason").map(|(_, v)| match v {
        ast::Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    // The spec's default reason, so an explicit default and an implicit one compare equal.
    Some(reason.unwrap_or_else(|| "No longer supported".to_string()))
}

/// The directives applied to an element, without `@deprecated`.
fn applied<'a>(directives: &[ast::Directive<'a, &'a str>]) -> Vec<Applied> {
    directives
        .iter()
        .filter(|d| d.name != "deprecated")
        .map(|d| Applied {
            name: d.name.to_string(),
            line: line(d.position),
            args: d.arguments.iter().map(|(n, v)| ((*n).to_string(), v.to_string())).collect(),
        })
        .collect()
}

/// An empty description is no description (graphql-js reads both as absent).
fn description(d: &Option<String>) -> Option<String> {
    d.clone().filter(|d| !d.is_empty())
}

fn input<'a>(v: &ast::InputValue<'a, &'a str>) -> (String, InputDef) {
    let def = InputDef {
        line: line(v.position),
        ty: type_ref(&v.value_type),
        default: v
            .default_value
            .as_ref()
            .map(|d| DefaultValue { text: d.to_string(), value: d.into_static() }),
        description: description(&v.description),
        deprecation: deprecation(&v.directives),
        directives: applied(&v.directives),
    };
    (v.name.to_string(), def)
}

fn field<'a>(f: &ast::Field<'a, &'a str>) -> (String, FieldDef) {
    let def = FieldDef {
        line: line(f.position),
        ty: type_ref(&f.field_type),
        description: description(&f.description),
        deprecation: deprecation(&f.directives),
        args: f.arguments.iter().map(input).collect(),
        directives: applied(&f.directives),
    };
    (f.name.to_string(), def)
}

fn enum_value<'a>(v: &ast::EnumValue<'a, &'a str>) -> (String, EnumValueDef) {
    let def = EnumValueDef {
        line: line(v.position),
        description: description(&v.description),
        deprecation: deprecation(&v.directives),
        directives: applied(&v.directives),
    };
    (v.name.to_string(), def)
}

fn empty(kind: Kind, line: u32, text: &Option<String>) -> TypeDef {
    TypeDef {
        kind,
        line,
        description: description(text),
        fields: BTreeMap::new(),
        input_fields: BTreeMap::new(),
        values: BTreeMap::new(),
        members: BTreeSet::new(),
        interfaces: BTreeSet::new(),
        directives: Vec::new(),
    }
}

fn names(v: &[&str]) -> impl Iterator<Item = String> {
    v.iter().map(|s| (*s).to_string())
}

/// Builds the comparable schema; extensions are applied after all definitions. The schema
/// definition and extensions come from `part` (graphql-parser does not read them all).
pub(crate) fn build<'a>(file: &str, doc: &Doc<'a>, part: super::validate::SchemaPart) -> Schema {
    let mut schema = Schema {
        file: file.to_string(),
        schema_line: part.line,
        schema_directives: part.directives,
        ..Schema::default()
    };
    for def in &doc.definitions {
        match def {
            // Blanked out before parsing; `part` has what they say.
            ast::Definition::SchemaDefinition(_) => {}
            ast::Definition::TypeDefinition(t) => {
                let (name, def) = type_def(t);
                schema.types.insert(name, def);
            }
            ast::Definition::DirectiveDefinition(d) if BUILT_IN_DIRECTIVES.contains(&d.name) => {}
            ast::Definition::DirectiveDefinition(d) => {
                let def = DirectiveDef {
                    line: line(d.position),
                    description: description(&d.description),
                    repeatable: d.repeatable,
                    locations: d.locations.iter().map(|l| l.as_str()).collect(),
                    args: d.arguments.iter().map(input).collect(),
                };
                schema.directives.insert(d.name.to_string(), def);
            }
            ast::Definition::TypeExtension(_) => {}
        }
    }
    for def in &doc.definitions {
        if let ast::Definition::TypeExtension(e) = def {
            extend(&mut schema.types, e);
        }
    }
    if !part.defined {
        // No `schema { … }`: the conventionally named types are the roots (GraphQL spec,
        // "Default Root Operation Type Names"), and extensions may add others.
        for (i, name) in ["Query", "Mutation", "Subscription"].iter().enumerate() {
            if schema.types.contains_key(*name) {
                schema.roots[i] = Some((*name).to_string());
            }
        }
    }
    for (i, root) in part.roots.into_iter().enumerate() {
        if root.is_some() {
            schema.roots[i] = root;
        }
    }
    schema
}

fn type_def<'a>(t: &ast::TypeDefinition<'a, &'a str>) -> (String, TypeDef) {
    match t {
        ast::TypeDefinition::Scalar(s) => (s.name.to_string(), {
            let mut def = empty(Kind::Scalar, line(s.position), &s.description);
            def.directives = applied(&s.directives);
            def
        }),
        ast::TypeDefinition::Object(o) => {
            let mut def = empty(Kind::Object, line(o.position), &o.description);
            def.directives = applied(&o.directives);
            def.fields = o.fields.iter().map(field).collect();
            def.interfaces = names(&o.implements_interfaces).collect();
            (o.name.to_string(), def)
        }
        ast::TypeDefinition::Interface(o) => {
            let mut def = empty(Kind::Interface, line(o.position), &o.description);
            def.directives = applied(&o.directives);
            def.fields = o.fields.iter().map(field).collect();
            def.interfaces = names(&o.implements_interfaces).collect();
            (o.name.to_string(), def)
        }
        ast::TypeDefinition::Union(u) => {
            let mut def = empty(Kind::Union, line(u.position), &u.description);
            def.directives = applied(&u.directives);
            def.members = names(&u.types).collect();
            (u.name.to_string(), def)
        }
        ast::TypeDefinition::Enum(e) => {
            let mut def = empty(Kind::Enum, line(e.position), &e.description);
            def.directives = applied(&e.directives);
            def.values = e.values.iter().map(enum_value).collect();
            (e.name.to_string(), def)
        }
        ast::TypeDefinition::InputObject(i) => {
            let mut def = empty(Kind::InputObject, line(i.position), &i.description);
            def.directives = applied(&i.directives);
            def.input_fields = i.fields.iter().map(input).collect();
            (i.name.to_string(), def)
        }
    }
}

/// Merges an extension into its type; an extension of an undefined type defines it.
fn extend<'a>(types: &mut BTreeMap<String, TypeDef>, e: &ast::TypeExtension<'a, &'a str>) {
    let (name, kind, pos) = match e {
        ast::TypeExtension::Scalar(x) => (x.name, Kind::Scalar, x.position),
        ast::TypeExtension::Object(x) => (x.name, Kind::Object, x.position),
        ast::TypeExtension::Interface(x) => (x.name, Kind::Interface, x.position),
        ast::TypeExtension::Union(x) => (x.name, Kind::Union, x.position),
        ast::TypeExtension::Enum(x) => (x.name, Kind::Enum, x.position),
        ast::TypeExtension::InputObject(x) => (x.name, Kind::InputObject, x.position),
    };
    let def = types.entry(name.to_string()).or_insert_with(|| empty(kind, line(pos), &None));
    match e {
        ast::TypeExtension::Scalar(x) => def.directives.extend(applied(&x.directives)),
        ast::TypeExtension::Object(x) => {
            def.fields.extend(x.fields.iter().map(field));
            def.interfaces.extend(names(&x.implements_interfaces));
            def.directives.extend(applied(&x.directives));
        }
        ast::TypeExtension::Interface(x) => {
            def.fields.extend(x.fields.iter().map(field));
            def.interfaces.extend(names(&x.implements_interfaces));
            def.directives.extend(applied(&x.directives));
        }
        ast::TypeExtension::Union(x) => {
            def.members.extend(names(&x.types));
            def.directives.extend(applied(&x.directives));
        }
        ast::TypeExtension::Enum(x) => {
            def.values.extend(x.values.iter().map(enum_value));
            def.directives.extend(applied(&x.directives));
        }
        ast::TypeExtension::InputObject(x) => {
            def.input_fields.extend(x.fields.iter().map(input));
            def.directives.extend(applied(&x.directives));
        }
    }
}
