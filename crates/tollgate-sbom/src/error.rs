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
        "{0}: no supported lockfile found (Cargo.lock, package-lock.json, pnpm-lock.yaml, yarn.lock, uv.lock, poetry.lock, Pipfile.lock, requirements*.txt, go.mod, pubspec.lock, Gemfile.lock, composer.lock)"
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

    /// The same error with every path in it made relative to `root` (paths outside `root`
    /// are kept as they are), so messages about a scanned tree read the same wherever the
    /// tree lies.
    pub fn relative_to(self, root: &std::path::Path) -> SbomError {
        let rel = |path: PathBuf| match path.strip_prefix(root) {
            Ok(stripped) if !stripped.as_os_str().is_empty() => stripped.to_path_buf(),
            _ => path,
        };
        let rel_place = |place: Place| Place { path: rel(place.path), ..place };
        let prefix = format!("{}{}", root.display(), std::path::MAIN_SEPARATOR);
        let rel_text = |text: String| strip_path_prefix(&text, &prefix);
        match self {
            SbomError::Io { path, cause } => SbomError::Io { path: rel(path), cause },
            SbomError::Malformed { place, message } => {
                SbomError::Malformed { place: rel_place(place), message: rel_text(message) }
            }
            SbomError::UnsupportedVersion { place, what, version, supported } => {
                SbomError::UnsupportedVersion { place: rel_place(place), what, version, supported }
            }
            SbomError::OutOfSync { place, manifest, message } => SbomError::OutOfSync {
                place: rel_place(place),
                manifest: rel(manifest),
                message: rel_text(message),
            },
            SbomError::NothingFound(path) => SbomError::NothingFound(rel(path)),
            SbomError::BadPath { path, message } => SbomError::BadPath { path: rel(path), message },
        }
    }

    /// Where the error is: the file and, when known, the line and column.
    pub fn place(&self) -> Place {
        match self {
            SbomError::Malformed { place, .. }
            | SbomError::UnsupportedVersion { place, .. }
            | SbomError::OutOfSync { place, .. } => place.clone(),
            SbomError::Io { path, .. }
            | SbomError::NothingFound(path)
            | SbomError::BadPath { path, .. } => Place::file(path),
        }
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

/// `text` with `prefix` removed wherever it starts a path: at the start or after a space,
/// quote, backtick or opening parenthesis (so `./` is not taken out of `../`).
fn strip_path_prefix(text: &str, prefix: &str) -> String {
    if prefix.len() <= 1 {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (at, _) in text.match_indices(prefix) {
        if at < copied {
            continue;
        }
        let starts_path = text[..at]
            .chars()
            .next_back()
            .is_none_or(|c| matches!(c, ' ' | '"' | '\'' | '`' | '(' | '\n'));
        if starts_path {
            out.push_str(&text[copied..at]);
            copied = at + prefix.len();
        }
    }
    out.push_str(&text[copied..]);
    out
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
    use super::*;
    use std::path::Path;

    #[test]
    fn paths_are_made_relative_to_the_scanned_root() {
        let root = Path::new("/scan/root");
        let err = SbomError::OutOfSync {
            place: Place::line(root.join("app/Cargo.toml"), 10),
            manifest: root.join("app/Cargo.toml"),
            message: "declares dependency `anyhow`".into(),
        }
        .relative_to(root);
        assert_eq!(
            err.to_string(),
            "app/Cargo.toml:10: lockfile disagrees with app/Cargo.toml: declares dependency `anyhow`"
        );
        assert_eq!(err.place(), Place::line("app/Cargo.toml", 10));
        let outside = SbomError::malformed(Place::file("/elsewhere/Cargo.toml"), "x");
        assert_eq!(outside.relative_to(root).to_string(), "/elsewhere/Cargo.toml: x");
        let dot = SbomError::malformed(
            Place::file("./web/yarn.lock"),
            "./web/package.json names ../../x and ./web/b",
        );
        assert_eq!(
            dot.relative_to(Path::new(".")).to_string(),
            "web/yarn.lock: web/package.json names ../../x and web/b"
        );
        let io = SbomError::io(root.join("a/uv.lock"), std::io::Error::other("denied"));
        assert_eq!(io.relative_to(root).to_string(), "a/uv.lock: denied");
    }

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
