//! Structural checks of YAML lockfiles before they are deserialised: bounded nesting and unique
//! mapping keys.
//!
//! `serde_yaml_ng` loads every event of a document before its own recursion limit applies, and
//! its scanner (unsafe-libyaml) does work proportional to the flow-nesting depth for every token,
//! so a deeply nested flow collection (`[[[[…]]]]`) takes time quadratic in its size: minutes
//! for 200 KB. It also lets a later mapping key silently replace an earlier equal one when the
//! target is a map type. [`check`] walks the document's events with saphyr-parser, which stops
//! at the first collection nested deeper than [`MAX_NESTING`], so the walk is linear in the
//! input, and rejects the second of two equal keys in one mapping (YAML 1.2, 3.2.1.1: keys are
//! unique). Only then is the text handed to `serde_yaml_ng`.

use crate::SbomError;
use crate::error::Place;
use saphyr_parser::{Event, Marker, Parser, ScalarStyle, ScanError, Tag};
use std::collections::HashMap;
use std::path::Path;

/// The deepest collection nesting accepted: the limit `serde_json` and `serde_yaml_ng` apply
/// to JSON and to YAML they deserialise (TOML's parser stops at 80).
pub const MAX_NESTING: usize = 128;

/// Checks that `text` (the YAML file `path`) nests no deeper than [`MAX_NESTING`] collections
/// and repeats no key within a mapping. Errors are [`SbomError::Malformed`] at the offending
/// line and column; syntax errors the scanner meets on the way are reported the same way.
pub fn check(path: &Path, text: &str) -> Result<(), SbomError> {
    let mut walk = Walk::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| scan_error(path, &e))?;
        walk.event(event, span.start).map_err(|(at, message)| malformed(path, at, message))?;
    }
    Ok(())
}

/// One open collection.
enum Frame {
    Sequence,
    Mapping {
        /// Canonical key -> where it first appeared.
        seen: HashMap<String, Marker>,
        /// Whether the next node is a key (else a value).
        at_key: bool,
    },
}

/// A key that is itself a collection, being written out in canonical form.
struct ComplexKey {
    /// `frames.len()` once the key's own collection is open; the key ends when it closes.
    depth: usize,
    text: String,
    start: Marker,
}

#[derive(Default)]
struct Walk {
    frames: Vec<Frame>,
    complex_keys: Vec<ComplexKey>,
}

type Failure = (Marker, String);

impl Walk {
    fn event(&mut self, event: Event<'_>, at: Marker) -> Result<(), Failure> {
        match event {
            Event::Scalar(value, style, _, tag) => {
                let canonical = scalar_key(&value, style, tag.as_deref());
                self.write_complex(&canonical);
                if self.next_is_key() {
                    self.insert_key(canonical, &value, at)?;
                }
            }
            Event::Alias(id) => {
                let canonical = format!("*{id}");
                self.write_complex(&canonical);
                if self.next_is_key() {
                    self.insert_key(canonical, "(alias)", at)?;
                }
            }
            Event::SequenceStart(_, tag) => self.open(false, tag.as_deref(), at)?,
            Event::MappingStart(_, tag) => self.open(true, tag.as_deref(), at)?,
            Event::SequenceEnd => self.close("]")?,
            Event::MappingEnd => self.close("}")?,
            Event::DocumentStart(_) | Event::DocumentEnd => {
                self.frames.clear();
                self.complex_keys.clear();
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd => {}
        }
        Ok(())
    }

    /// A collection starts at `at`.
    fn open(&mut self, is_mapping: bool, tag: Option<&Tag>, at: Marker) -> Result<(), Failure> {
        let is_key = self.next_is_key();
        if self.frames.len() >= MAX_NESTING {
            return Err((
                at,
                format!("recursion limit exceeded: collections nested deeper than {MAX_NESTING}"),
            ));
        }
        let open = if is_mapping { "{" } else { "[" };
        let tag = tag.map(|t| format!("!{}{}", t.handle, t.suffix)).unwrap_or_default();
        self.write_complex(&format!("{tag}{open}"));
        self.frames.push(if is_mapping {
            Frame::Mapping { seen: HashMap::new(), at_key: true }
        } else {
            Frame::Sequence
        });
        if is_key {
            self.complex_keys.push(ComplexKey {
                depth: self.frames.len(),
                text: format!("{tag}{open}"),
                start: at,
            });
        }
        Ok(())
    }

    /// The innermost collection ends (`close` is `]` or `}`).
    fn close(&mut self, close: &str) -> Result<(), Failure> {
        self.write_complex(close);
        let depth = self.frames.len();
        self.frames.pop();
        if let Some(key) = self.complex_keys.pop_if(|k| k.depth == depth) {
            self.insert_key(key.text, "(collection)", key.start)?;
        }
        Ok(())
    }

    /// Whether the node starting now is a mapping key; flips the mapping's key/value turn.
    fn next_is_key(&mut self) -> bool {
        match self.frames.last_mut() {
            Some(Frame::Mapping { at_key, .. }) => {
                let is_key = *at_key;
                *at_key = !*at_key;
                is_key
            }
            _ => false,
        }
    }

    /// Records a key of the innermost open mapping (the one whose turn was just taken).
    fn insert_key(&mut self, canonical: String, shown: &str, at: Marker) -> Result<(), Failure> {
        let Some(Frame::Mapping { seen, .. }) = self.frames.last_mut() else { return Ok(()) };
        if let Some(first) = seen.get(&canonical) {
            let shown: String = shown.chars().take(80).collect();
            return Err((
                at,
                format!(
                    "duplicate mapping key `{shown}` (first at line {}, column {})",
                    first.line(),
                    first.col() + 1
                ),
            ));
        }
        seen.insert(canonical, at);
        Ok(())
    }

    /// Appends to every complex key being written out.
    fn write_complex(&mut self, piece: &str) {
        for key in &mut self.complex_keys {
            key.text.push_str(piece);
            key.text.push('\u{0}');
        }
    }
}

/// The identity of a scalar as a mapping key: its tag (explicit, or resolved by the YAML 1.2
/// core schema for plain scalars) and its text. `a` and `"a"` are the same string; `1` and
/// `"1"` are an integer and a string.
fn scalar_key(value: &str, style: ScalarStyle, tag: Option<&Tag>) -> String {
    match tag {
        Some(t) => format!("!{}{}\u{0}{value}", t.handle, t.suffix),
        None if style == ScalarStyle::Plain && !resolves_to_string(value) => {
            format!("plain\u{0}{value}")
        }
        None => format!("str\u{0}{value}"),
    }
}

/// Whether a plain scalar is a string under the YAML 1.2 core schema (not null, bool, int or
/// float).
fn resolves_to_string(value: &str) -> bool {
    let special = matches!(
        value,
        "" | "~"
            | "null"
            | "Null"
            | "NULL"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | ".nan"
            | ".NaN"
            | ".NAN"
    );
    if special {
        return false;
    }
    let unsigned = value.strip_prefix(['-', '+']).unwrap_or(value);
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") {
        return false;
    }
    let all = |s: &str, f: fn(char) -> bool| !s.is_empty() && s.chars().all(f);
    if let Some(octal) = value.strip_prefix("0o") {
        return !all(octal, |c| c.is_digit(8));
    }
    if let Some(hex) = value.strip_prefix("0x") {
        return !all(hex, |c| c.is_ascii_hexdigit());
    }
    // [0-9]+ | [0-9]+.[0-9]* | .[0-9]+, then an optional exponent.
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            (all(int, |c| c.is_ascii_digit()) && frac.chars().all(|c| c.is_ascii_digit()))
                || (int.is_empty() && all(frac, |c| c.is_ascii_digit()))
        }
        None => all(mantissa, |c| c.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let digits = e.strip_prefix(['-', '+']).unwrap_or(e);
        all(digits, |c| c.is_ascii_digit())
    });
    !(mantissa_ok && exponent_ok)
}

fn malformed(path: &Path, at: Marker, message: String) -> SbomError {
    SbomError::malformed(Place::line_column(path, at.line(), at.col() + 1), message)
}

fn scan_error(path: &Path, err: &ScanError) -> SbomError {
    malformed(path, *err.marker(), err.info().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(text: &str) -> Result<(), String> {
        check(Path::new("x.yaml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn ordinary_lockfile_shapes_pass() {
        let text = "lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies:\n      a:\n        specifier: ^1\n        version: 1.0.0\npackages:\n  a@1.0.0:\n    resolution: {integrity: sha512-x}\n    engines: {node: '>=4'}\n    cpu: [x64, arm64]\n";
        assert_eq!(outcome(text), Ok(()));
        // Keys of different mappings, and equal values, are not duplicates.
        assert_eq!(outcome("a: {x: 1}\nb: {x: 1}\nc: [x, x]\n"), Ok(()));
        // An integer and a string are different keys; so are two documents' keys.
        assert_eq!(outcome("1: a\n'1': b\n"), Ok(()));
        assert_eq!(outcome("a: 1\n---\na: 2\n"), Ok(()));
    }

    #[test]
    fn duplicate_keys_name_the_second_and_the_first() {
        assert_eq!(
            outcome("a: 1\nb:\n  c: 1\n  'c': 2\n"),
            Err("x.yaml:4:3: duplicate mapping key `c` (first at line 3, column 3)".into())
        );
        assert_eq!(
            outcome("x: {k: 1, \"k\": 2}\n"),
            Err("x.yaml:1:11: duplicate mapping key `k` (first at line 1, column 5)".into())
        );
        assert_eq!(
            outcome("? [a, b]\n: 1\n? [a, b]\n: 2\n"),
            Err("x.yaml:3:3: duplicate mapping key `(collection)` (first at line 1, column 3)"
                .into())
        );
        assert_eq!(outcome("? [a, b]\n: 1\n? [a, c]\n: 2\n"), Ok(()));
        assert!(outcome("0x1F: a\n0x1F: b\n").is_err());
    }

    #[test]
    fn nesting_is_bounded_for_flow_and_block_collections() {
        let ok = format!("a: {}{}\n", "[".repeat(MAX_NESTING - 1), "]".repeat(MAX_NESTING - 1));
        assert_eq!(outcome(&ok), Ok(()));
        let deep = format!("a: {}{}\n", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
        let err = outcome(&deep).unwrap_err();
        assert!(err.starts_with("x.yaml:1:"), "{err}");
        assert!(err.contains("recursion limit exceeded"), "{err}");
        let block = format!("{}x\n", "- ".repeat(MAX_NESTING + 1));
        let err = outcome(&block).unwrap_err();
        assert_eq!(
            err,
            format!(
                "x.yaml:1:{}: recursion limit exceeded: collections nested deeper than {MAX_NESTING}",
                2 * MAX_NESTING + 1
            )
        );
    }

    #[test]
    fn core_schema_resolution_of_plain_keys() {
        for not_string in ["1", "-2", "0o17", "0x1f", "1.5", ".5", "1e3", "-.inf", "null", "true"] {
            assert!(!resolves_to_string(not_string), "{not_string}");
        }
        for string in ["1.0.0", "a", "0o9", "1e", "yes", "1_000", "@scope/pkg@1.0.0"] {
            assert!(resolves_to_string(string), "{string}");
        }
    }
}
