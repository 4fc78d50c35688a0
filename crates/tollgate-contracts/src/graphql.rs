//! GraphQL SDL: breaking, dangerous and safe changes between two schemas.
//!
//! The classification follows graphql-inspector's (`breaking` = [`Level::Error`](crate::change::Level::Error), `dangerous` =
//! [`Level::Warning`](crate::change::Level::Warning), `safe` = [`Level::Info`](crate::change::Level::Info)); [`INSPECTOR_CHANGE_TYPES`] maps each of its
//! change types to the rules reporting it. Output positions (field types) may gain non-null
//! wrappers, input positions (arguments, input fields) may lose them; defaults compare as
//! coerced values (`1` and `1.0` for a `Float`, `[1]` and `1` for a list); every applied
//! directive but `@deprecated` (compared as deprecation) is a directive usage, matched by name
//! in order, `@oneOf` with its own rules. An added type, field or directive is one change, not
//! one per member (what graphql-inspector's CLI reports, without its path-based
//! `simplifyChanges` dropping changes beside additions).
//!
//! Parsing is graphql-parser's, except the schema definition and its extensions, which
//! apollo-compiler reads (graphql-parser knows neither schema descriptions nor `extend schema`);
//! validation is apollo-compiler's (a schema the specification rejects is an input error, not a
//! diff); type extensions are merged into their types before comparing.

use crate::change::Change;
use crate::error::ContractError;
use graphql_parser::schema as ast;
use std::collections::BTreeSet;
use std::path::Path;
use tollgate_core::Location;

mod model;
mod rules;
mod validate;

pub use model::Schema;
pub use rules::{INSPECTOR_CHANGE_TYPES, RULES};

use model::{Applied, Deprecation, FieldDef, InputDef, Kind, TypeDef, TypeRef};

/// Reads and parses an SDL file; the file is named in errors and locations as given.
pub fn load(path: &Path) -> Result<Schema, ContractError> {
    let text = crate::confine::read_limited(path)
        .map_err(|cause| ContractError::Io { file: path.to_path_buf(), cause })?;
    parse(&path.to_string_lossy().replace('\\', "/"), &text)
}

/// Parses SDL text and validates it as a schema (the specification's type-system rules, see
/// `validate`); `name` is the file name used in errors (`file:line:column`) and locations.
pub fn parse(name: &str, text: &str) -> Result<Schema, ContractError> {
    // graphql-parser reads neither schema descriptions nor `extend schema`: apollo-compiler
    // reads those, and graphql-parser the rest of the text with them blanked out.
    let parsed = validate::parse(name, text);
    let (part, rest) = match &parsed {
        Ok(document) | Err(document) => validate::schema_part(document, text),
    };
    let document =
        ast::parse_schema::<&str>(&rest).map_err(|e| syntax_error(name, &e.to_string()))?;
    let defines_one_of = document
        .definitions
        .iter()
        .any(|d| matches!(d, ast::Definition::DirectiveDefinition(d) if d.name == "oneOf"));
    validate::check(name, text, parsed.as_ref().ok(), defines_one_of)?;
    Ok(model::build(name, &document, part))
}

/// graphql-parser's error text is `schema parse error: Parse error at L:C\n…`.
fn syntax_error(name: &str, text: &str) -> ContractError {
    let body = text.strip_prefix("schema parse error: ").unwrap_or(text);
    let (position, message) = match body.strip_prefix("Parse error at ") {
        Some(rest) => rest.split_once('\n').unwrap_or((rest, "")),
        None => ("", body),
    };
    let mut parts = position.trim().split(':').map(|p| p.parse::<u32>().unwrap_or(0));
    let line = parts.next().unwrap_or(0);
    let column = parts.next().unwrap_or(0);
    ContractError::GraphqlSyntax {
        file: name.to_string(),
        line,
        column,
        message: message.trim().replace('\n', "; "),
    }
}

/// Every change from `base` to `revision`, sorted by subject then rule.
///
/// What graphql-inspector reports by default (its CLI's `simplifyChanges`): an added type,
/// field or directive is one change, not one per member; `@deprecated` is compared as
/// deprecation, every other applied directive as a directive usage.
pub fn diff(base: &Schema, revision: &Schema) -> Vec<Change> {
    let mut out = Differ { base, revision, changes: Vec::new() };
    out.schema_roots();
    let lines = (base.schema_line, revision.schema_line);
    out.usages("schema", "/schema", lines, &base.schema_directives, &revision.schema_directives);
    out.types();
    out.directives();
    let mut changes = out.changes;
    changes.sort_by(|a, b| (&a.subject, a.rule, &a.message).cmp(&(&b.subject, b.rule, &b.message)));
    changes
}

/// Which of the two schemas a location points into.
#[derive(Clone, Copy)]
enum Side {
    Base,
    Revision,
}

struct Differ<'a> {
    base: &'a Schema,
    revision: &'a Schema,
    changes: Vec<Change>,
}

impl Differ<'_> {
    fn push(
        &mut self,
        rule: &'static str,
        side: Side,
        line: u32,
        pointer: String,
        subject: String,
        message: String,
    ) {
        let level = rules::level(rule);
        let file = match side {
            Side::Base => &self.base.file,
            Side::Revision => &self.revision.file,
        };
        let mut location = Location::file(file.clone()).at_pointer(pointer);
        if line > 0 {
            location = location.at_line(line);
        }
        self.changes.push(Change { rule, level, message, subject, location });
    }

    fn schema_roots(&mut self) {
        let ops = ["query", "mutation", "subscription"];
        for (i, op) in ops.iter().enumerate() {
            let (old, new) = (&self.base.roots[i], &self.revision.roots[i]);
            let pointer = format!("/schema/{op}");
            match (old, new) {
                (Some(o), Some(n)) if o != n => self.push(
                    "graphql/schema-root-changed",
                    Side::Revision,
                    self.revision.schema_line,
                    pointer,
                    format!("schema.{op}"),
                    format!("Schema {op} root type changed from `{o}` to `{n}`"),
                ),
                (Some(o), None) => self.push(
                    "graphql/schema-root-changed",
                    Side::Base,
                    self.base.schema_line,
                    pointer,
                    format!("schema.{op}"),
                    format!("Schema {op} root type `{o}` was removed"),
                ),
                (None, Some(n)) => self.push(
                    "graphql/schema-root-added",
                    Side::Revision,
                    self.revision.schema_line,
                    pointer,
                    format!("schema.{op}"),
                    format!("Schema {op} root type `{n}` was added"),
                ),
                _ => {}
            }
        }
    }

    fn types(&mut self) {
        let (base, revision) = (self.base, self.revision);
        for (name, old) in &base.types {
            let pointer = format!("/types/{name}");
            let Some(new) = revision.types.get(name) else {
                self.push(
                    "graphql/type-removed",
                    Side::Base,
                    old.line,
                    pointer,
                    name.clone(),
                    format!("Type `{name}` was removed"),
                );
                continue;
            };
            self.description(name, &pointer, new.line, &old.description, &new.description);
            if new.kind == old.kind {
                self.same_kind(name, old, new);
            } else {
                self.push(
                    "graphql/type-kind-changed",
                    Side::Revision,
                    new.line,
                    pointer,
                    name.clone(),
                    format!(
                        "Type `{name}` changed from {} to {}",
                        old.kind.label(),
                        new.kind.label()
                    ),
                );
            }
        }
        for (name, new) in &revision.types {
            if !base.types.contains_key(name) {
                self.push(
                    "graphql/type-added",
                    Side::Revision,
                    new.line,
                    format!("/types/{name}"),
                    name.clone(),
                    format!("{} `{name}` was added", new.kind.label()),
                );
            }
        }
    }

    fn same_kind(&mut self, name: &str, old: &TypeDef, new: &TypeDef) {
        let pointer = format!("/types/{name}");
        match new.kind {
            Kind::Object | Kind::Interface => {
                self.interfaces(name, old, new);
                self.output_fields(name, old, new);
            }
            Kind::InputObject => self.input_fields(name, old, new),
            Kind::Enum => self.enum_values(name, old, new),
            Kind::Union => self.union_members(name, old, new),
            Kind::Scalar => {}
        }
        self.usages(name, &pointer, (old.line, new.line), &old.directives, &new.directives);
    }

    fn description(
        &mut self,
        subject: &str,
        pointer: &str,
        line: u32,
        old: &Option<String>,
        new: &Option<String>,
    ) {
        let message = match (old, new) {
            (None, Some(_)) => format!("Description added to `{subject}`"),
            (Some(_), None) => format!("Description removed from `{subject}`"),
            (Some(o), Some(n)) if o != n => format!("Description of `{subject}` changed"),
            _ => return,
        };
        self.push(
            "graphql/description-changed",
            Side::Revision,
            line,
            format!("{pointer}/description"),
            subject.to_string(),
            message,
        );
    }

    fn deprecation(
        &mut self,
        subject: &str,
        pointer: &str,
        line: u32,
        old: &Deprecation,
        new: &Deprecation,
    ) {
        let (rule, message) = match (old, new) {
            (None, Some(_)) => ("graphql/deprecation-added", format!("`{subject}` was deprecated")),
            (Some(_), None) => {
                ("graphql/deprecation-removed", format!("`{subject}` is no longer deprecated"))
            }
            (Some(o), Some(n)) if o != n => (
                "graphql/deprecation-reason-changed",
                format!("Deprecation reason of `{subject}` changed from \"{o}\" to \"{n}\""),
            ),
            _ => return,
        };
        self.push(
            rule,
            Side::Revision,
            line,
            format!("{pointer}/deprecated"),
            subject.to_string(),
            message,
        );
    }

    /// Directives applied to one element, matched by name in order (a repeatable directive's
    /// second use pairs with the other side's second use), as graphql-inspector matches them.
    fn usages(
        &mut self,
        subject: &str,
        pointer: &str,
        lines: (u32, u32),
        old: &[Applied],
        new: &[Applied],
    ) {
        if old.is_empty() && new.is_empty() {
            return;
        }
        let mut names: Vec<&str> = old.iter().chain(new).map(|a| a.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            let olds: Vec<&Applied> = old.iter().filter(|a| a.name == name).collect();
            let news: Vec<&Applied> = new.iter().filter(|a| a.name == name).collect();
            for i in 0..olds.len().max(news.len()) {
                let at = if i == 0 {
                    format!("{pointer}/directives/{name}")
                } else {
                    format!("{pointer}/directives/{name}/{i}")
                };
                match (olds.get(i), news.get(i)) {
                    (Some(o), None) => {
                        let rule = if name == "oneOf" {
                            "graphql/one-of-removed"
                        } else {
                            "graphql/directive-usage-removed"
                        };
                        let line = if o.line > 0 { o.line } else { lines.0 };
                        self.push(
                            rule,
                            Side::Base,
                            line,
                            at,
                            subject.to_string(),
                            format!("Directive `@{name}` was removed from `{subject}`"),
                        );
                    }
                    (None, Some(n)) => {
                        let (rule, why) = if name == "oneOf" {
                            ("graphql/one-of-added", " (inputs setting several fields now fail)")
                        } else {
                            ("graphql/directive-usage-added", "")
                        };
                        let line = if n.line > 0 { n.line } else { lines.1 };
                        self.push(
                            rule,
                            Side::Revision,
                            line,
                            at,
                            subject.to_string(),
                            format!("Directive `@{name}` was applied to `{subject}`{why}"),
                        );
                    }
                    (Some(o), Some(n)) => self.usage_arguments(subject, &at, o, n),
                    (None, None) => {}
                }
            }
        }
    }

    fn usage_arguments(&mut self, subject: &str, pointer: &str, old: &Applied, new: &Applied) {
        let name = &new.name;
        let find = |args: &[(String, String)], arg: &str| {
            args.iter().find(|(n, _)| n == arg).map(|(_, v)| v.clone())
        };
        for (arg, value) in &old.args {
            let (rule, message) = match find(&new.args, arg) {
                None => (
                    "graphql/directive-usage-argument-removed",
                    format!("Argument `{arg}: {value}` was removed from `@{name}` on `{subject}`"),
                ),
                Some(v) if v != *value => (
                    "graphql/directive-usage-argument-changed",
                    format!(
                        "Argument `{arg}` of `@{name}` on `{subject}` changed from `{value}` to `{v}`"
                    ),
                ),
                Some(_) => continue,
            };
            self.push(
                rule,
                Side::Revision,
                new.line,
                format!("{pointer}/arguments/{arg}"),
                subject.to_string(),
                message,
            );
        }
        for (arg, value) in &new.args {
            if find(&old.args, arg).is_none() {
                self.push(
                    "graphql/directive-usage-argument-added",
                    Side::Revision,
                    new.line,
                    format!("{pointer}/arguments/{arg}"),
                    subject.to_string(),
                    format!("Argument `{arg}: {value}` was added to `@{name}` on `{subject}`"),
                );
            }
        }
    }

    fn output_fields(&mut self, type_name: &str, old: &TypeDef, new: &TypeDef) {
        for (field, of) in &old.fields {
            let subject = format!("{type_name}.{field}");
            let pointer = format!("/types/{type_name}/fields/{field}");
            let Some(nf) = new.fields.get(field) else {
                let deprecated = if of.deprecation.is_some() { " (it was deprecated)" } else { "" };
                self.push(
                    "graphql/field-removed",
                    Side::Base,
                    of.line,
                    pointer,
                    subject.clone(),
                    format!("Field `{subject}` was removed{deprecated}"),
                );
                continue;
            };
            self.field_changed(&subject, &pointer, of, nf);
        }
        for (field, nf) in &new.fields {
            if !old.fields.contains_key(field) {
                let subject = format!("{type_name}.{field}");
                self.push(
                    "graphql/field-added",
                    Side::Revision,
                    nf.line,
                    format!("/types/{type_name}/fields/{field}"),
                    subject.clone(),
                    format!("Field `{subject}: {}` was added", nf.ty),
                );
            }
        }
    }

    fn field_changed(&mut self, subject: &str, pointer: &str, of: &FieldDef, nf: &FieldDef) {
        if of.ty != nf.ty {
            let (rule, how) = if output_change_is_safe(&of.ty, &nf.ty) {
                ("graphql/field-type-changed-safe", "")
            } else {
                ("graphql/field-type-changed", " (clients may receive values they do not expect)")
            };
            self.push(
                rule,
                Side::Revision,
                nf.line,
                format!("{pointer}/type"),
                subject.to_string(),
                format!("Field `{subject}` changed type from `{}` to `{}`{how}", of.ty, nf.ty),
            );
        }
        self.description(subject, pointer, nf.line, &of.description, &nf.description);
        self.deprecation(subject, pointer, nf.line, &of.deprecation, &nf.deprecation);
        self.usages(subject, pointer, (of.line, nf.line), &of.directives, &nf.directives);
        for (arg, oa) in &of.args {
            let arg_subject = format!("{subject}({arg}:)");
            let arg_pointer = format!("{pointer}/arguments/{arg}");
            match nf.args.get(arg) {
                None => self.push(
                    "graphql/argument-removed",
                    Side::Base,
                    oa.line,
                    arg_pointer,
                    arg_subject.clone(),
                    format!("Argument `{arg}` was removed from field `{subject}`"),
                ),
                Some(na) => self.input_value_changed(
                    InputRole::Argument,
                    &arg_subject,
                    &arg_pointer,
                    oa,
                    na,
                ),
            }
        }
        for (arg, na) in &nf.args {
            if !of.args.contains_key(arg) {
                let arg_subject = format!("{subject}({arg}:)");
                let (rule, what) = if na.is_required(self.revision) {
                    ("graphql/argument-required-added", "Required argument")
                } else {
                    ("graphql/argument-optional-added", "Optional argument")
                };
                self.push(
                    rule,
                    Side::Revision,
                    na.line,
                    format!("{pointer}/arguments/{arg}"),
                    arg_subject,
                    format!("{what} `{arg}: {}` was added to field `{subject}`", na.ty),
                );
            }
        }
    }

    fn input_value_changed(
        &mut self,
        role: InputRole,
        subject: &str,
        pointer: &str,
        old: &InputDef,
        new: &InputDef,
    ) {
        if old.ty != new.ty {
            let safe = input_change_is_safe(&old.ty, &new.ty);
            let rule = match (role, safe) {
                (InputRole::Argument, true) => "graphql/argument-type-changed-safe",
                (InputRole::Argument, false) => "graphql/argument-type-changed",
                (InputRole::InputField, true) => "graphql/input-field-type-changed-safe",
                (InputRole::InputField, false) => "graphql/input-field-type-changed",
                (InputRole::DirectiveArgument, true) => {
                    "graphql/directive-argument-type-changed-safe"
                }
                (InputRole::DirectiveArgument, false) => "graphql/directive-argument-type-changed",
            };
            let how = if safe { "" } else { " (clients may send values it no longer accepts)" };
            self.push(
                rule,
                Side::Revision,
                new.line,
                format!("{pointer}/type"),
                subject.to_string(),
                format!("`{subject}` changed type from `{}` to `{}`{how}", old.ty, new.ty),
            );
        }
        let coerce = |schema: &Schema, def: &InputDef| {
            def.default.as_ref().and_then(|d| schema.coerce(&d.value, &def.ty))
        };
        if coerce(self.base, old) != coerce(self.revision, new) {
            let rule = match role {
                InputRole::InputField => "graphql/input-field-default-changed",
                InputRole::Argument => "graphql/argument-default-changed",
                InputRole::DirectiveArgument => "graphql/directive-argument-default-changed",
            };
            let show = |d: &Option<model::DefaultValue>| {
                d.as_ref().map_or_else(|| "none".to_string(), |d| d.text.clone())
            };
            self.push(
                rule,
                Side::Revision,
                new.line,
                format!("{pointer}/defaultValue"),
                subject.to_string(),
                format!(
                    "Default value of `{subject}` changed from {} to {}",
                    show(&old.default),
                    show(&new.default)
                ),
            );
        }
        self.description(subject, pointer, new.line, &old.description, &new.description);
        self.deprecation(subject, pointer, new.line, &old.deprecation, &new.deprecation);
        if !matches!(role, InputRole::DirectiveArgument) {
            self.usages(subject, pointer, (old.line, new.line), &old.directives, &new.directives);
        }
    }

    fn input_fields(&mut self, type_name: &str, old: &TypeDef, new: &TypeDef) {
        for (field, of) in &old.input_fields {
            let subject = format!("{type_name}.{field}");
            let pointer = format!("/types/{type_name}/fields/{field}");
            match new.input_fields.get(field) {
                None => self.push(
                    "graphql/input-field-removed",
                    Side::Base,
                    of.line,
                    pointer,
                    subject.clone(),
                    format!("Input field `{subject}` was removed"),
                ),
                Some(nf) => {
                    self.input_value_changed(InputRole::InputField, &subject, &pointer, of, nf)
                }
            }
        }
        for (field, nf) in &new.input_fields {
            if !old.input_fields.contains_key(field) {
                let subject = format!("{type_name}.{field}");
                let (rule, what) = if nf.has_default(self.revision) {
                    ("graphql/input-field-with-default-added", "Input field with a default")
                } else if nf.is_non_null() {
                    ("graphql/input-field-required-added", "Required input field")
                } else {
                    ("graphql/input-field-optional-added", "Optional input field")
                };
                self.push(
                    rule,
                    Side::Revision,
                    nf.line,
                    format!("/types/{type_name}/fields/{field}"),
                    subject.clone(),
                    format!("{what} `{subject}: {}` was added", nf.ty),
                );
            }
        }
    }

    fn enum_values(&mut self, type_name: &str, old: &TypeDef, new: &TypeDef) {
        for (value, ov) in &old.values {
            let subject = format!("{type_name}.{value}");
            let pointer = format!("/types/{type_name}/values/{value}");
            match new.values.get(value) {
                None => self.push(
                    "graphql/enum-value-removed",
                    Side::Base,
                    ov.line,
                    pointer,
                    subject.clone(),
                    format!("Enum value `{value}` was removed from `{type_name}`"),
                ),
                Some(nv) => {
                    self.description(&subject, &pointer, nv.line, &ov.description, &nv.description);
                    self.deprecation(&subject, &pointer, nv.line, &ov.deprecation, &nv.deprecation);
                    let lines = (ov.line, nv.line);
                    self.usages(&subject, &pointer, lines, &ov.directives, &nv.directives);
                }
            }
        }
        for (value, nv) in &new.values {
            if !old.values.contains_key(value) {
                self.push(
                    "graphql/enum-value-added",
                    Side::Revision,
                    nv.line,
                    format!("/types/{type_name}/values/{value}"),
                    format!("{type_name}.{value}"),
                    format!("Enum value `{value}` was added to `{type_name}` (clients may not handle it)"),
                );
            }
        }
    }

    fn union_members(&mut self, type_name: &str, old: &TypeDef, new: &TypeDef) {
        self.name_set(
            type_name,
            &old.members,
            &new.members,
            (old.line, new.line),
            "members",
            ("graphql/union-member-removed", "graphql/union-member-added"),
            ("was removed from union", "was added to union"),
        );
    }

    fn interfaces(&mut self, type_name: &str, old: &TypeDef, new: &TypeDef) {
        let rules = if new.kind == Kind::Object {
            ("graphql/object-interface-removed", "graphql/object-interface-added")
        } else {
            ("graphql/interface-interface-removed", "graphql/interface-interface-added")
        };
        self.name_set(
            type_name,
            &old.interfaces,
            &new.interfaces,
            (old.line, new.line),
            "interfaces",
            rules,
            ("is no longer implemented by", "is now implemented by"),
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn name_set(
        &mut self,
        type_name: &str,
        old: &BTreeSet<String>,
        new: &BTreeSet<String>,
        lines: (u32, u32),
        key: &str,
        (removed, added): (&'static str, &'static str),
        (removed_text, added_text): (&str, &str),
    ) {
        for name in old.difference(new) {
            self.push(
                removed,
                Side::Base,
                lines.0,
                format!("/types/{type_name}/{key}/{name}"),
                format!("{type_name}.{name}"),
                format!("`{name}` {removed_text} `{type_name}`"),
            );
        }
        for name in new.difference(old) {
            self.push(
                added,
                Side::Revision,
                lines.1,
                format!("/types/{type_name}/{key}/{name}"),
                format!("{type_name}.{name}"),
                format!("`{name}` {added_text} `{type_name}`"),
            );
        }
    }

    fn directives(&mut self) {
        let (base, revision) = (self.base, self.revision);
        for (name, od) in &base.directives {
            let subject = format!("@{name}");
            let pointer = format!("/directives/{name}");
            let Some(nd) = revision.directives.get(name) else {
                self.push(
                    "graphql/directive-removed",
                    Side::Base,
                    od.line,
                    pointer,
                    subject.clone(),
                    format!("Directive `{subject}` was removed"),
                );
                continue;
            };
            self.description(&subject, &pointer, nd.line, &od.description, &nd.description);
            if od.repeatable != nd.repeatable {
                let (rule, message) = if nd.repeatable {
                    ("graphql/directive-repeatable-added", "may now be repeated")
                } else {
                    (
                        "graphql/directive-repeatable-removed",
                        "may no longer be repeated (elements using it twice become invalid)",
                    )
                };
                self.push(
                    rule,
                    Side::Revision,
                    nd.line,
                    format!("{pointer}/repeatable"),
                    subject.clone(),
                    format!("Directive `{subject}` {message}"),
                );
            }
            for loc in od.locations.difference(&nd.locations) {
                self.push(
                    "graphql/directive-location-removed",
                    Side::Revision,
                    nd.line,
                    format!("{pointer}/locations/{loc}"),
                    subject.clone(),
                    format!("Location `{loc}` was removed from directive `{subject}`"),
                );
            }
            for loc in nd.locations.difference(&od.locations) {
                self.push(
                    "graphql/directive-location-added",
                    Side::Revision,
                    nd.line,
                    format!("{pointer}/locations/{loc}"),
                    subject.clone(),
                    format!("Location `{loc}` was added to directive `{subject}`"),
                );
            }
            for (arg, oa) in &od.args {
                let arg_subject = format!("{subject}({arg}:)");
                let arg_pointer = format!("{pointer}/arguments/{arg}");
                match nd.args.get(arg) {
                    None => self.push(
                        "graphql/directive-argument-removed",
                        Side::Base,
                        oa.line,
                        arg_pointer,
                        arg_subject,
                        format!("Argument `{arg}` was removed from directive `{subject}`"),
                    ),
                    Some(na) => self.input_value_changed(
                        InputRole::DirectiveArgument,
                        &arg_subject,
                        &arg_pointer,
                        oa,
                        na,
                    ),
                }
            }
            for (arg, na) in &nd.args {
                if !od.args.contains_key(arg) {
                    // graphql-inspector: any non-null argument breaks existing uses, default or not.
                    let (rule, what) = if na.is_non_null() {
                        ("graphql/directive-argument-required-added", "Non-null argument")
                    } else {
                        ("graphql/directive-argument-optional-added", "Optional argument")
                    };
                    self.push(
                        rule,
                        Side::Revision,
                        na.line,
                        format!("{pointer}/arguments/{arg}"),
                        format!("{subject}({arg}:)"),
                        format!("{what} `{arg}: {}` was added to directive `{subject}`", na.ty),
                    );
                }
            }
        }
        for (name, nd) in &revision.directives {
            if !base.directives.contains_key(name) {
                self.push(
                    "graphql/directive-added",
                    Side::Revision,
                    nd.line,
                    format!("/directives/{name}"),
                    format!("@{name}"),
                    format!("Directive `@{name}` was added"),
                );
            }
        }
    }
}

/// Where an input value sits (decides the rule ids of its changes).
#[derive(Clone, Copy)]
enum InputRole {
    Argument,
    InputField,
    DirectiveArgument,
}
/// Output positions: the server may promise more (add non-null), never less; list shape fixed.
fn output_change_is_safe(old: &TypeRef, new: &TypeRef) -> bool {
    match (old, new) {
        (TypeRef::Named(a), TypeRef::Named(b)) => a == b,
        (_, TypeRef::NonNull(n)) => {
            let inner_old = match old {
                TypeRef::NonNull(o) => o,
                other => other,
            };
            output_change_is_safe(inner_old, n)
        }
        (TypeRef::List(o), TypeRef::List(n)) => output_change_is_safe(o, n),
        _ => false,
    }
}

/// Input positions: the server may accept more (drop non-null), never less; list shape fixed.
fn input_change_is_safe(old: &TypeRef, new: &TypeRef) -> bool {
    match (old, new) {
        (TypeRef::Named(a), TypeRef::Named(b)) => a == b,
        (TypeRef::List(o), TypeRef::List(n)) => input_change_is_safe(o, n),
        (TypeRef::NonNull(o), _) => {
            let inner_new = match new {
                TypeRef::NonNull(n) => n,
                other => other,
            };
            input_change_is_safe(o, inner_new)
        }
        _ => false,
    }
}
