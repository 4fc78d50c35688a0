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
}

#[derive(Debug, Clone)]
pub(crate) struct FieldDef {
    pub(crate) line: u32,
    pub(crate) ty: TypeRef,
    pub(crate) description: Option<String>,
    pub(crate) deprecation: Deprecation,
    pub(crate) args: BTreeMap<String, InputDef>,
}

#[derive(Debug, Clone)]
pub(crate) struct InputDef {
    pub(crate) line: u32,
    pub(crate) ty: TypeRef,
    pub(crate) default: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) deprecation: Deprecation,
}

impl InputDef {
    /// Non-null without a default: every caller must now supply it.
    pub(crate) fn is_required(&self) -> bool {
        matches!(self.ty, TypeRef::NonNull(_)) && self.default.is_none()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct EnumValueDef {
    pub(crate) line: u32,
    pub(crate) description: Option<String>,
    pub(crate) deprecation: Deprecation,
}

#[derive(Debug, Clone)]
pub(crate) struct DirectiveDef {
    pub(crate) line: u32,
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

fn input<'a>(v: &ast::InputValue<'a, &'a str>) -> (String, InputDef) {
    let def = InputDef {
        line: line(v.position),
        ty: type_ref(&v.value_type),
        default: v.default_value.as_ref().map(|d| d.to_string()),
        description: v.description.clone(),
        deprecation: deprecation(&v.directives),
    };
    (v.name.to_string(), def)
}

fn field<'a>(f: &ast::Field<'a, &'a str>) -> (String, FieldDef) {
    let def = FieldDef {
        line: line(f.position),
        ty: type_ref(&f.field_type),
        description: f.description.clone(),
        deprecation: deprecation(&f.directives),
        args: f.arguments.iter().map(input).collect(),
    };
    (f.name.to_string(), def)
}

fn enum_value<'a>(v: &ast::EnumValue<'a, &'a str>) -> (String, EnumValueDef) {
    let def = EnumValueDef {
        line: line(v.position),
        description: v.description.clone(),
        deprecation: deprecation(&v.directives),
    };
    (v.name.to_string(), def)
}

fn empty(kind: Kind, line: u32, description: Option<String>) -> TypeDef {
    TypeDef {
        kind,
        line,
        description,
        fields: BTreeMap::new(),
        input_fields: BTreeMap::new(),
        values: BTreeMap::new(),
        members: BTreeSet::new(),
        interfaces: BTreeSet::new(),
    }
}

fn names(v: &[&str]) -> impl Iterator<Item = String> {
    v.iter().map(|s| (*s).to_string())
}

/// Builds the comparable schema; extensions are applied after all definitions.
pub(crate) fn build<'a>(file: &str, doc: &Doc<'a>) -> Schema {
    let mut schema = Schema { file: file.to_string(), ..Schema::default() };
    let mut explicit_roots = false;
    for def in &doc.definitions {
        match def {
            ast::Definition::SchemaDefinition(s) => {
                explicit_roots = true;
                schema.schema_line = line(s.position);
                schema.roots = [
                    s.query.map(str::to_string),
                    s.mutation.map(str::to_string),
                    s.subscription.map(str::to_string),
                ];
            }
            ast::Definition::TypeDefinition(t) => {
                let (name, def) = type_def(t);
                schema.types.insert(name, def);
            }
            ast::Definition::DirectiveDefinition(d) => {
                let def = DirectiveDef {
                    line: line(d.position),
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
    if !explicit_roots {
        for (i, name) in ["Query", "Mutation", "Subscription"].iter().enumerate() {
            if schema.types.contains_key(*name) {
                schema.roots[i] = Some((*name).to_string());
            }
        }
    }
    schema
}

fn type_def<'a>(t: &ast::TypeDefinition<'a, &'a str>) -> (String, TypeDef) {
    match t {
        ast::TypeDefinition::Scalar(s) => {
            (s.name.to_string(), empty(Kind::Scalar, line(s.position), s.description.clone()))
        }
        ast::TypeDefinition::Object(o) => {
            let mut def = empty(Kind::Object, line(o.position), o.description.clone());
            def.fields = o.fields.iter().map(field).collect();
            def.interfaces = names(&o.implements_interfaces).collect();
            (o.name.to_string(), def)
        }
        ast::TypeDefinition::Interface(o) => {
            let mut def = empty(Kind::Interface, line(o.position), o.description.clone());
            def.fields = o.fields.iter().map(field).collect();
            def.interfaces = names(&o.implements_interfaces).collect();
            (o.name.to_string(), def)
        }
        ast::TypeDefinition::Union(u) => {
            let mut def = empty(Kind::Union, line(u.position), u.description.clone());
            def.members = names(&u.types).collect();
            (u.name.to_string(), def)
        }
        ast::TypeDefinition::Enum(e) => {
            let mut def = empty(Kind::Enum, line(e.position), e.description.clone());
            def.values = e.values.iter().map(enum_value).collect();
            (e.name.to_string(), def)
        }
        ast::TypeDefinition::InputObject(i) => {
            let mut def = empty(Kind::InputObject, line(i.position), i.description.clone());
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
    let def = types.entry(name.to_string()).or_insert_with(|| empty(kind, line(pos), None));
    match e {
        ast::TypeExtension::Scalar(_) => {}
        ast::TypeExtension::Object(x) => {
            def.fields.extend(x.fields.iter().map(field));
            def.interfaces.extend(names(&x.implements_interfaces));
        }
        ast::TypeExtension::Interface(x) => {
            def.fields.extend(x.fields.iter().map(field));
            def.interfaces.extend(names(&x.implements_interfaces));
        }
        ast::TypeExtension::Union(x) => def.members.extend(names(&x.types)),
        ast::TypeExtension::Enum(x) => def.values.extend(x.values.iter().map(enum_value)),
        ast::TypeExtension::InputObject(x) => def.input_fields.extend(x.fields.iter().map(input)),
    }
}
