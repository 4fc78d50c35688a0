//! Is the SDL a valid schema? The GraphQL specification's type-system validation, as
//! apollo-compiler implements it, runs before anything is compared: every referenced type and
//! directive defined (or built in), no duplicate types, fields, arguments or enum values,
//! implemented interfaces that exist and are interfaces, union members that are object types,
//! input types only in input positions and output types only in output positions, no input
//! object cycle through non-null singular fields, extensions only of defined types.

use crate::error::ContractError;

/// `@oneOf` (GraphQL, September 2025) is built in; apollo-compiler 1.x predates it, so it is
/// supplied unless the document defines it itself.
const ONE_OF: &str = "directive @oneOf on INPUT_OBJECT\n";

/// `Ok` when `text` (SDL named `file`, already parsed) is a valid schema; otherwise the first
/// violation by `file:line:column`, with how many more there are.
pub(super) fn check(
    file: &str,
    text: &str,
    parsed: Option<&apollo_compiler::ast::Document>,
    defines_one_of: bool,
) -> Result<(), ContractError> {
    // A document that parsed is reused; one that did not is parsed again to keep its errors.
    let mut builder = match parsed {
        Some(document) => apollo_compiler::Schema::builder().add_ast(document),
        None => apollo_compiler::Schema::builder().parse(text, file),
    };
    if !defines_one_of {
        builder = builder.parse(ONE_OF, "built-in @oneOf");
    }
    let (partial, errors) = match builder.build().map(apollo_compiler::Schema::validate) {
        Ok(Ok(_)) => return Ok(()),
        Ok(Err(with_errors)) | Err(with_errors) => (with_errors.partial, with_errors.errors),
    };
    let count = errors.len();
    let Some(first) = errors.iter().next() else { return Ok(()) };
    let (line, column) = first
        .line_column_range()
        .map(|range| (range.start.line, range.start.column))
        .unwrap_or((0, 0));
    let mut message = clarify(&partial, first.error.to_string());
    if count > 1 {
        message.push_str(&format!(" (and {} more)", count - 1));
    }
    Err(ContractError::GraphqlInvalid {
        file: file.to_string(),
        line: u32::try_from(line).unwrap_or(u32::MAX),
        column: u32::try_from(column).unwrap_or(u32::MAX),
        message,
    })
}

/// apollo-compiler looks up an implemented interface among interfaces only, so implementing a
/// defined object (or enum, …) reads "cannot find type": say what the type is instead.
fn clarify(schema: &apollo_compiler::Schema, message: String) -> String {
    let missing = message
        .strip_prefix("cannot find type `")
        .and_then(|rest| rest.strip_suffix("` in this document"));
    let kind = missing.and_then(|name| schema.types.get(name)).map(|ty| match ty {
        apollo_compiler::schema::ExtendedType::Scalar(_) => "a scalar",
        apollo_compiler::schema::ExtendedType::Object(_) => "an object type",
        apollo_compiler::schema::ExtendedType::Interface(_) => "an interface",
        apollo_compiler::schema::ExtendedType::Union(_) => "a union",
        apollo_compiler::schema::ExtendedType::Enum(_) => "an enum",
        apollo_compiler::schema::ExtendedType::InputObject(_) => "an input object",
    });
    match (missing, kind) {
        (Some(name), Some(kind)) => {
            format!("`{name}` is {kind}, not an interface: only interfaces can be implemented")
        }
        _ => message,
    }
}

/// The schema definition and its extensions (`schema { … }`, `"…" schema { … }`,
/// `extend schema @link(…)`), which graphql-parser does not read: what they say, and the text
/// with them blanked out (newlines kept, so every other position stays where it was).
pub(super) struct SchemaPart {
    /// Whether a `schema { … }` definition is present (else the roots are the types named
    /// `Query`, `Mutation` and `Subscription`, plus what extensions add).
    pub(super) defined: bool,
    /// Line of the definition (or first extension), 0 when there is none.
    pub(super) line: u32,
    /// Root operation types named by the definition and its extensions.
    pub(super) roots: [Option<String>; 3],
    /// Directives applied by the definition and its extensions, in order.
    pub(super) directives: Vec<super::model::Applied>,
}

/// `text` parsed by apollo-compiler: the document, or what it made of an invalid one.
pub(super) fn parse(
    file: &str,
    text: &str,
) -> Result<apollo_compiler::ast::Document, apollo_compiler::ast::Document> {
    apollo_compiler::ast::Document::parse(text, file).map_err(|e| e.partial)
}

/// Reads the schema definition and extensions of `document` (parsed from `text`); returns them
/// and the SDL without them.
pub(super) fn schema_part(
    document: &apollo_compiler::ast::Document,
    text: &str,
) -> (SchemaPart, String) {
    use apollo_compiler::ast;
    let mut part =
        SchemaPart { defined: false, line: 0, roots: [None, None, None], directives: Vec::new() };
    let line_of = |offset: usize| {
        let before = text.get(..offset).unwrap_or(text);
        u32::try_from(before.matches('\n').count() + 1).unwrap_or(u32::MAX)
    };
    let mut spans = Vec::new();
    for definition in &document.definitions {
        let (directives, roots, location) = match definition {
            ast::Definition::SchemaDefinition(d) => {
                part.defined = true;
                (&d.directives, &d.root_operations, d.location())
            }
            ast::Definition::SchemaExtension(e) => {
                (&e.directives, &e.root_operations, e.location())
            }
            _ => continue,
        };
        if let Some(span) = location {
            spans.push((span.offset(), span.end_offset()));
            if part.line == 0 || matches!(definition, ast::Definition::SchemaDefinition(_)) {
                part.line = line_of(span.offset());
            }
        }
        for root in roots {
            let (operation, name) = &**root;
            let i = match operation {
                ast::OperationType::Query => 0,
                ast::OperationType::Mutation => 1,
                ast::OperationType::Subscription => 2,
            };
            part.roots[i] = Some(name.to_string());
        }
        for d in directives.iter().filter(|d| d.name != "deprecated") {
            part.directives.push(super::model::Applied {
                name: d.name.to_string(),
                line: d.location().map_or(0, |span| line_of(span.offset())),
                args: d
                    .arguments
                    .iter()
                    .map(|a| (a.name.to_string(), a.value.to_string()))
                    .collect(),
            });
        }
    }
    if spans.is_empty() {
        return (part, text.to_string());
    }
    let mut rest = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        let blank = spans.iter().any(|&(start, end)| i >= start && i < end);
        rest.push(if blank && c != '\n' && c != '\r' { ' ' } else { c });
    }
    (part, rest)
}
