//! Report errors, each naming the file and the place in it.

use std::path::{Path, PathBuf};

/// What went wrong reading a run directory for the report, or rendering it.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be read or written.
    #[error("{}: {cause}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: std::io::Error,
    },
    /// A file is not valid JSON, or not the expected document (a `GateReport`).
    #[error("{}: line {line}, column {column}: {message}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// A value in `release.json` is not what the report needs.
    #[error("{}: {pointer}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// JSON pointer to the value.
        pointer: String,
        /// Why.
        message: String,
    },
    /// The templates failed to render (a bug in the templates, not in the input).
    #[error("rendering report.html: {0}")]
    Template(String),
}

impl ReportError {
    /// True for errors about the inputs (exit 2); false for a template bug.
    pub fn is_input_error(&self) -> bool {
        !matches!(self, ReportError::Template(_))
    }

    pub(crate) fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        ReportError::Io { path: path.into(), cause }
    }

    pub(crate) fn json(path: &Path, e: &serde_json::Error) -> Self {
        ReportError::Json {
            path: path.to_owned(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        }
    }

    /// tera's errors nest their cause; keep the whole chain in the message.
    pub(crate) fn template(e: tera::Error) -> Self {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        ReportError::Template(message)
    }
}
