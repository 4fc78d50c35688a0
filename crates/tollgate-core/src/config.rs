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
    #[error("{path}: cannot read: {cause}")]
    Read {
        /// The configuration file.
        path: PathBuf,
        /// The I/O error (in the message, not a `source()`).
        cause: std::io::Error,
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
    ConfigFile::read(root)?.parse()
}

/// A configuration file as read: its path (what errors name) and its text (what errors point
/// into). Checks that parsing cannot make (a rule id that no rule has, a stage list that
/// cannot run) use it to report `file:line:column` of the offending key, like parse errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    /// The file, as errors name it.
    pub path: PathBuf,
    /// Its text; empty when the file does not exist.
    pub text: String,
}

impl ConfigFile {
    /// Reads `<root>/tollgate.toml`; a missing file reads as an empty one (all defaults).
    pub fn read(root: &Path) -> Result<ConfigFile, ConfigError> {
        let path = root.join(CONFIG_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(ConfigFile { path, text }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(ConfigFile { path, text: String::new() })
            }
            Err(cause) => Err(ConfigError::Read { path, cause }),
        }
    }

    /// The text as `T` ([`parse`]).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        parse(&self.path, &self.text)
    }

    /// An [`ConfigError::Invalid`] about the value at `key` (table keys and array indices, as
    /// in `["evidence", "catalogs", "1"]`), at the line and column of the deepest part of `key`
    /// the file spells out: the key itself, an array element, or else its table. A key the
    /// file does not hold (a default) is reported at line 1, column 1.
    pub fn invalid_at(&self, key: &[&str], message: impl Into<String>) -> ConfigError {
        let (line, column) = self.position(key);
        ConfigError::Invalid { path: self.path.clone(), line, column, message: message.into() }
    }

    /// 1-based line and column of `key` in the text (see [`ConfigFile::invalid_at`]).
    pub fn position(&self, key: &[&str]) -> (usize, usize) {
        let offset = toml::de::DeTable::parse(&self.text)
            .ok()
            .and_then(|root| key_offset(root.get_ref(), key))
            .unwrap_or(0);
        line_column(&self.text, offset)
    }
}

/// Byte offset of the deepest part of `key` found under `table` (`None`: not even the first).
fn key_offset(table: &toml::de::DeTable<'_>, key: &[&str]) -> Option<usize> {
    let (first, rest) = key.split_first()?;
    let (name, value) = table.iter().find(|(name, _)| name.get_ref().as_ref() == *first)?;
    let mut offset = name.span().start;
    let mut value = value;
    for part in rest {
        let next = match value.get_ref() {
            toml::de::DeValue::Table(t) => t
                .iter()
                .find(|(name, _)| name.get_ref().as_ref() == *part)
                .map(|(name, v)| (name.span().start, v)),
            toml::de::DeValue::Array(items) => part
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get(i))
                .map(|item| (item.span().start, item)),
            _ => None,
        };
        match next {
            Some((start, v)) => {
                offset = start;
                value = v;
            }
            None => break,
        }
    }
    Some(offset)
}

/// A dotted key as [`ConfigFile::invalid_at`] takes it: `evidence.controls.sbom[1]` ->
/// `["evidence", "controls", "sbom", "1"]`.
pub fn key_parts(dotted: &str) -> Vec<String> {
    let mut parts = Vec::new();
    for segment in dotted.split('.') {
        let mut pieces = segment.split('[');
        if let Some(name) = pieces.next().filter(|n| !n.is_empty()) {
            parts.push(name.to_owned());
        }
        parts.extend(pieces.map(|index| index.trim_end_matches(']').to_owned()));
    }
    parts
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
    fn invalid_at_points_at_the_deepest_part_of_the_key_the_file_spells_out() {
        let file = ConfigFile {
            path: "tollgate.toml".into(),
            text: "[release]\nstages = [\"sbom\",\n  \"attest\"]\n\n[contracts.levels]\n\"openapi/x\" = \"info\"\n"
                .into(),
        };
        assert_eq!(file.position(&["release", "stages"]), (2, 1));
        assert_eq!(file.position(&["release", "stages", "1"]), (3, 3));
        assert_eq!(file.position(&["contracts", "levels", "openapi/x"]), (6, 1));
        // Not in the file: its table, else the start.
        assert_eq!(file.position(&["release", "out_dir"]), (1, 2));
        assert_eq!(file.position(&["sbom", "exclude"]), (1, 1));
        let err = file.invalid_at(&["release", "stages", "9"], "no such stage").to_string();
        assert_eq!(err, "tollgate.toml:2:1: no such stage");
    }

    #[test]
    fn dotted_keys_split_into_parts() {
        assert_eq!(key_parts("evidence.controls.sbom[1]"), ["evidence", "controls", "sbom", "1"]);
        assert_eq!(key_parts("evidence.catalogs[0]"), ["evidence", "catalogs", "0"]);
        assert_eq!(key_parts("release"), ["release"]);
    }

    #[test]
    fn a_missing_file_reads_as_empty_and_parses_as_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = ConfigFile::read(dir.path()).unwrap();
        assert_eq!((file.path, file.text.as_str()), (dir.path().join(CONFIG_FILE), ""));
    }

    #[test]
    fn unreadable_file_is_a_read_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(CONFIG_FILE)).unwrap();
        let err = load::<File>(dir.path()).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }), "{err}");
        // The OS error is in the message once and is not repeated as a source.
        assert_eq!(err.to_string().matches("(os error").count(), 1, "{err}");
        assert!(std::error::Error::source(&err).is_none());
    }
}
