//! Why a spec could not be read: every variant names the file and the place in it.

use std::path::PathBuf;

/// A spec that could not be read or understood.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// The file could not be read.
    #[error("{}: cannot read: {cause}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The underlying error.
        cause: std::io::Error,
    },
    /// GraphQL SDL that does not parse.
    #[error("{file}:{line}:{column}: GraphQL syntax error: {message}")]
    GraphqlSyntax {
        /// The file (as named by the caller).
        file: String,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// What the parser expected.
        message: String,
    },
    /// GraphQL SDL that parses but is not a valid schema (an undefined or duplicate type, an
    /// input object cycle, a type of the wrong kind, an undefined directive).
    #[error("{file}:{line}:{column}: invalid GraphQL schema: {message}")]
    GraphqlInvalid {
        /// The file (as named by the caller).
        file: String,
        /// 1-based line of the first violation.
        line: u32,
        /// 1-based column of the first violation.
        column: u32,
        /// What the specification's validation rejects there (and how many more violations).
        message: String,
    },
    /// JSON that does not parse.
    #[error("{file}:{line}:{column}: malformed JSON: {message}")]
    MalformedJson {
        /// The file (as named by the caller).
        file: String,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// What serde_json reported.
        message: String,
    },
    /// A JSON Schema whose `$schema` names a draft we do not judge.
    #[error(
        "{file}#{pointer}: unsupported JSON Schema draft `{found}` (supported: draft-07, 2019-09, 2020-12)"
    )]
    UnsupportedDraft {
        /// The file.
        file: String,
        /// JSON pointer of the `$schema` keyword.
        pointer: String,
        /// The `$schema` value found.
        found: String,
    },
    /// A JSON Schema document that its draft's meta-schema rejects (`null`, a string, a
    /// keyword of the wrong type).
    #[error("{file}#{pointer}: not a valid JSON Schema ({draft}): {message}")]
    InvalidSchema {
        /// The file.
        file: String,
        /// JSON pointer of the offending value (empty: the whole document).
        pointer: String,
        /// The draft the document was checked against.
        draft: String,
        /// What the meta-schema requires there.
        message: String,
    },
    /// A `$ref` that does not resolve inside the document.
    #[error(
        "{file}#{pointer}: cannot resolve $ref `{reference}` (only references within the document are followed)"
    )]
    UnresolvedRef {
        /// The file.
        file: String,
        /// JSON pointer of the `$ref` keyword.
        pointer: String,
        /// The reference.
        reference: String,
    },
    /// YAML that does not parse (OpenAPI documents).
    #[error("{file}:{line}:{column}: malformed YAML: {message}")]
    MalformedYaml {
        /// The file (as named by the caller).
        file: String,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// What the YAML parser reported.
        message: String,
    },
    /// An OpenAPI document whose `openapi` field is missing or not 3.0.x / 3.1.x.
    #[error("{file}#{pointer}: unsupported OpenAPI version `{found}` (supported: 3.0.x, 3.1.x)")]
    UnsupportedOpenApiVersion {
        /// The file.
        file: String,
        /// JSON pointer of the version field (`/openapi`).
        pointer: String,
        /// The version found (empty when missing).
        found: String,
    },
    /// An OpenAPI `$ref` (within the document or to a relative file) that does not resolve.
    #[error("{file}#{pointer}: broken $ref `{reference}`: {reason}")]
    BrokenRef {
        /// The file holding the `$ref`.
        file: String,
        /// JSON pointer of the `$ref` keyword.
        pointer: String,
        /// The reference as written.
        reference: String,
        /// Why it does not resolve.
        reason: String,
    },
    /// A pact file, pact directory, provider URL or recorded result that cannot be used.
    #[error("{file}: {message}")]
    Pact {
        /// The file, directory or URL.
        file: String,
        /// What is wrong.
        message: String,
    },
}
