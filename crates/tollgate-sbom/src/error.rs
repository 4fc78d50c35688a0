//! Errors: every variant names the file and, where known, the line.

use std::fmt;
use std::path::PathBuf;

/// A place in an input file, for error messages: `path:line:column`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The file.
    pub path: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
}

impl Place {
    /// A whole file.
    pub fn file(path: impl Into<PathBuf>) -> Place {
        Place { path: path.into(), line: None, column: None }
    }

    /// A line in a file.
    pub fn line(path: impl Into<PathBuf>, line: usize) -> Place {
        Place { path: path.into(), line: Some(line), column: None }
    }

    /// A line and column in a file.
    pub fn line_column(path: impl Into<PathBuf>, line: usize, column: usize) -> Place {
        Place { path: path.into(), line: Some(line), column: Some(column) }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        Ok(())
    }
}

/// Everything that can go wrong producing or comparing an SBOM.
#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    /// A file could not be read or written.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// A lockfile, manifest or SBOM is malformed or truncated.
    #[error("{place}: {message}")]
    Malformed {
        /// Where.
        place: Place,
        /// What is wrong, in the reader's words.
        message: String,
    },
    /// A lockfile format version Tollgate does not understand.
    #[error("{place}: unsupported {what} version {version} (supported: {supported})")]
    UnsupportedVersion {
        /// Where the version is declared.
        place: Place,
        /// Which format (`package-lock.json lockfileVersion`, …).
        what: &'static str,
        /// The version found.
        version: String,
        /// The versions Tollgate reads.
        supported: &'static str,
    },
    /// A lockfile disagrees with its manifest (a dependency missing, a version mismatch).
    #[error("{place}: lockfile disagrees with {manifest}: {message}")]
    OutOfSync {
        /// Where in the lockfile (or manifest) the disagreement shows.
        place: Place,
        /// The manifest the lockfile was checked against.
        manifest: PathBuf,
        /// What disagrees.
        message: String,
    },
    /// No lockfile was found under the given paths.
    #[error(
        "{0}: no supported lockfile found (Cargo.lock, package-lock.json, pnpm-lock.yaml, yarn.lock, uv.lock, poetry.lock, requirements*.txt, go.mod, pubspec.lock)"
    )]
    NothingFound(PathBuf),
    /// A path given to scan cannot be scanned (missing, or a directory among lockfiles).
    #[error("{path}: {message}")]
    BadPath {
        /// The path as given.
        path: PathBuf,
        /// What is wrong with it.
        message: &'static str,
    },
}

impl SbomError {
    /// `Malformed` at a place.
    pub fn malformed(place: Place, message: impl Into<String>) -> SbomError {
        SbomError::Malformed { place, message: message.into() }
    }

    /// `Io` for a path.
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> SbomError {
        SbomError::Io { path: path.into(), cause }
    }

    /// A JSON parse error at its line and column.
    pub fn json(path: impl Into<PathBuf>, err: &serde_json::Error) -> SbomError {
        SbomError::malformed(
            Place::line_column(path, err.line(), err.column()),
            strip_position(&err.to_string()),
        )
    }

    /// A TOML parse error at its line and column (computed from the error's span in `text`).
    pub fn toml(path: impl Into<PathBuf>, text: &str, err: &toml::de::Error) -> SbomError {
        let place = match err.span() {
            Some(span) => {
                let (line, column) = tollgate_core::config::line_column(text, span.start);
                Place::line_column(path, line, column)
            }
            None => Place::file(path),
        };
        SbomError::malformed(place, err.message().to_owned())
    }

    /// A YAML parse error at its line and column.
    pub fn yaml(path: impl Into<PathBuf>, err: &serde_yaml_ng::Error) -> SbomError {
        let place = match err.location() {
            Some(loc) => Place::line_column(path, loc.line(), loc.column()),
            None => Place::file(path),
        };
        SbomError::malformed(place, strip_position(&err.to_string()))
    }
}

/// Parsers add " at line X column Y" (serde_yaml also ", while parsing …"); the place
/// already says where, so drop the position and keep the rest.
fn strip_position(message: &str) -> String {
    let Some(start) = message.find(" at line ") else { return message.to_owned() };
    let digits = |c: char| c.is_ascii_digit();
    let rest = message[start + " at line ".len()..].trim_start_matches(digits);
    let rest = rest.strip_prefix(" column ").unwrap_or(rest).trim_start_matches(digits);
    format!("{}{rest}", &message[..start])
}

#[cfg(test)]
mod tests {
    use super::strip_position;

    #[test]
    fn positions_are_stripped_but_context_kept() {
        assert_eq!(
            strip_position("EOF while parsing a value at line 3 column 1"),
            "EOF while parsing a value"
        );
        assert_eq!(
            strip_position("did not find expected key at line 2 column 5, while parsing a mapping"),
            "did not find expected key, while parsing a mapping"
        );
        assert_eq!(strip_position("plain"), "plain");
    }
}
