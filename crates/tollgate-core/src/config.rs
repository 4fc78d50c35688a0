//! The generic `tollgate.toml` loader: a TOML table read into any section type, every key
//! with a default, unknown keys rejected with `file:line:column`.
//!
//! Core knows no particular section: each capability crate owns its section type (with
//! `#[serde(deny_unknown_fields, default)]`, so the section that owns a key is the one that
//! rejects a misspelt one), and `tollgate-release` aggregates them into the configuration
//! `tollgate config show` prints.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// The file name Tollgate looks for at the repository root.
pub const CONFIG_FILE: &str = "tollgate.toml";

/// Errors loading `tollgate.toml`. Each names the file and, where known, the line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The configuration file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not match the schema.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// The configuration file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

/// Loads `<root>/tollgate.toml` as `T` over its defaults; a missing file means all defaults.
pub fn load<T: DeserializeOwned + Default>(root: &Path) -> Result<T, ConfigError> {
    let path = root.join(CONFIG_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(&path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(source) => Err(ConfigError::Read { path, source }),
    }
}

/// Parses configuration text as `T`; `path` is only used to name the file in errors, which
/// carry the line and column of the offending key or value.
pub fn parse<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map(|span| line_column(text, span.start)).unwrap_or((1, 1));
        ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            column,
            message: e.message().to_owned(),
        }
    })
}

/// One top-level section (`[contracts]`, …) of configuration text, as `T`; its default when
/// the section is absent. Keys of other sections are not looked at, so this reads the section
/// of a file written by another Tollgate version (e.g. at an earlier git ref). A syntax error
/// carries its line and column; an error inside the section names the section only (the
/// section is deserialized from a parsed value, which has no positions).
pub fn parse_section<T: DeserializeOwned + Default>(
    path: &Path,
    text: &str,
    section: &str,
) -> Result<T, ConfigError> {
    let mut table: toml::Table = parse(path, text)?;
    match table.remove(section) {
        Some(value) => value.try_into().map_err(|e: toml::de::Error| ConfigError::Invalid {
            path: path.to_path_buf(),
            line: 1,
            column: 1,
            message: format!("[{section}]: {}", e.message()),
        }),
        None => Ok(T::default()),
    }
}

/// `value` as pretty TOML, every key present (`tollgate config show`).
pub fn to_toml<T: Serialize>(value: &T) -> String {
    toml::to_string_pretty(value).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
}

/// 1-based line and column of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Severity;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct Section {
        level: Severity,
        names: Vec<String>,
    }

    impl Default for Section {
        fn default() -> Self {
            Section { level: Severity::Warning, names: vec!["a".into()] }
        }
    }

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct File {
        section: Section,
    }

    #[test]
    fn empty_text_and_missing_file_are_all_defaults() {
        assert_eq!(parse::<File>(Path::new("t.toml"), "").unwrap(), File::default());
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load::<File>(dir.path()).unwrap(), File::default());
    }

    #[test]
    fn overrides_one_key_and_keeps_the_rest() {
        let file: File = parse(Path::new("t.toml"), "[section]\nlevel = \"error\"\n").unwrap();
        assert_eq!(file.section.level, Severity::Error);
        assert_eq!(file.section.names, ["a"]);
    }

    #[test]
    fn unknown_key_names_file_line_and_column() {
        let err = parse::<File>(Path::new("tollgate.toml"), "[section]\n\n  nmes = []\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("tollgate.toml:3:3: "), "{err}");
        assert!(err.contains("nmes"), "{err}");
        let err = parse::<File>(Path::new("t.toml"), "[other]\n").unwrap_err().to_string();
        assert!(err.starts_with("t.toml:1:"), "{err}");
    }

    #[test]
    fn bad_value_and_bad_toml_are_rejected_with_their_place() {
        let err = parse::<File>(Path::new("t.toml"), "[section]\nlevel = \"fatal\"\n").unwrap_err();
        assert!(err.to_string().starts_with("t.toml:2:"), "{err}");
        let err = parse::<File>(Path::new("t.toml"), "[section\n").unwrap_err();
        assert!(err.to_string().starts_with("t.toml:1:"), "{err}");
    }

    #[test]
    fn a_section_alone_ignores_the_other_sections() {
        let text = "[future]\nkey = 1\n\n[section]\nlevel = \"info\"\n";
        let section: Section = parse_section(Path::new("t.toml"), text, "section").unwrap();
        assert_eq!(section.level, Severity::Info);
        let absent: Section = parse_section(Path::new("t.toml"), "", "section").unwrap();
        assert_eq!(absent, Section::default());
        assert!(
            parse_section::<Section>(Path::new("t.toml"), "[section]\nx = 1\n", "section").is_err()
        );
    }

    #[test]
    fn to_toml_round_trips() {
        let file = File::default();
        assert_eq!(parse::<File>(Path::new("t"), &to_toml(&file)).unwrap(), file);
    }

    #[test]
    fn unreadable_file_is_a_read_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(CONFIG_FILE)).unwrap();
        let err = load::<File>(dir.path()).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }), "{err}");
    }
}
