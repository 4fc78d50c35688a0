//! The yarn classic (v1) lockfile syntax: an indentation-based format of its own, not YAML.
//!
//! ```text
//! # yarn lockfile v1
//!
//! "@babel/core@^7.0.0", "@babel/core@^7.1.0":
//!   version "7.1.0"
//!   dependencies:
//!     ms "2.0.0"
//! ```
//!
//! Each line is `key value`, `key: value` or `key:` (a block of deeper-indented lines follows);
//! top-level keys may list several comma-separated descriptors. Strings are bare words or
//! double-quoted with JSON-style escapes. Every node keeps its 1-based line for error messages.

/// One `key value` line or `key:` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Node {
    /// 1-based line of the key.
    pub line: usize,
    /// The key's comma-separated parts (one, except for top-level descriptor lists).
    pub keys: Vec<String>,
    /// The value.
    pub value: Value,
}

/// A node's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Value {
    /// `key value`.
    Scalar(String),
    /// `key:` and the lines indented under it.
    Block(Vec<Node>),
}

impl Node {
    /// The first key.
    pub(super) fn key(&self) -> &str {
        self.keys.first().map_or("", String::as_str)
    }
}

/// A syntax error: 1-based line and message.
pub(super) type SyntaxError = (usize, String);

/// Parses a whole file into its top-level nodes.
pub(super) fn parse(text: &str) -> Result<Vec<Node>, SyntaxError> {
    let mut lines = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let no = i + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let content = raw.trim_start_matches(' ');
        if content.trim().is_empty() || content.starts_with('#') {
            continue;
        }
        if content.starts_with('\t') {
            return Err((no, "indentation must use spaces".to_owned()));
        }
        let indent = raw.len() - content.len();
        let tokens = tokenize(content).map_err(|m| (no, m))?;
        lines.push(Line { no, indent, tokens });
    }
    let mut pos = 0;
    let nodes = block(&lines, &mut pos, 0)?;
    match lines.get(pos) {
        Some(line) => Err((line.no, "unexpected indentation".to_owned())),
        None => Ok(nodes),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Str(String),
    Comma,
    Colon,
}

struct Line {
    no: usize,
    indent: usize,
    tokens: Vec<Token>,
}

fn block(lines: &[Line], pos: &mut usize, indent: usize) -> Result<Vec<Node>, SyntaxError> {
    let mut out = Vec::new();
    while let Some(line) = lines.get(*pos) {
        if line.indent < indent {
            break;
        }
        if line.indent > indent {
            return Err((line.no, "unexpected indentation".to_owned()));
        }
        *pos += 1;
        let mut keys = Vec::new();
        let mut tokens = line.tokens.iter().peekable();
        loop {
            match tokens.next() {
                Some(Token::Str(s)) => keys.push(s.clone()),
                _ => return Err((line.no, "expected a key".to_owned())),
            }
            if tokens.peek() == Some(&&Token::Comma) {
                tokens.next();
                continue;
            }
            break;
        }
        let rest: Vec<&Token> = tokens.collect();
        let value = match rest.as_slice() {
            [Token::Colon] => {
                let child = lines.get(*pos).filter(|l| l.indent > indent).map(|l| l.indent);
                match child {
                    Some(child) => Value::Block(block(lines, pos, child)?),
                    None => Value::Block(Vec::new()),
                }
            }
            [Token::Str(v)] | [Token::Colon, Token::Str(v)] if keys.len() == 1 => {
                Value::Scalar(v.clone())
            }
            [] => return Err((line.no, format!("`{}` has no value", keys[0]))),
            _ => return Err((line.no, "expected `key value` or `key:`".to_owned())),
        };
        out.push(Node { line: line.no, keys, value });
    }
    Ok(out)
}

fn tokenize(content: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let bytes = content.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' => i += 1,
            b',' => {
                tokens.push(Token::Comma);
                i += 1;
            }
            b':' => {
                tokens.push(Token::Colon);
                i += 1;
            }
            b'#' => break,
            b'"' => {
                let (s, end) = quoted(content, i)?;
                tokens.push(Token::Str(s));
                i = end;
            }
            _ => {
                let start = i;
                while i < bytes.len() {
                    match bytes[i] {
                        b' ' | b'\t' | b',' => break,
                        b':' if bytes.get(i + 1).is_none_or(|b| *b == b' ' || *b == b'\t') => break,
                        _ => i += 1,
                    }
                }
                tokens.push(Token::Str(content[start..i].to_owned()));
            }
        }
    }
    Ok(tokens)
}

/// A double-quoted string starting at byte `start`; its value and the offset after it.
fn quoted(content: &str, start: usize) -> Result<(String, usize), String> {
    let mut out = String::new();
    let mut chars = content[start + 1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, start + 1 + i + 1)),
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('/') => out.push('/'),
                Some('b') => out.push('\u{8}'),
                Some('f') => out.push('\u{c}'),
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).map(|(_, c)| c).collect();
                    let c = u32::from_str_radix(&hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or_else(|| format!("bad escape \\u{hex}"))?;
                    out.push(c);
                }
                Some(other) => return Err(format!("bad escape \\{other}")),
                None => break,
            },
            c => out.push(c),
        }
    }
    Err("unterminated string".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entries_blocks_and_descriptor_lists() {
        let text = "# yarn lockfile v1\n\n\n\"@babel/core@^7.0.0\", \"@babel/core@^7.1.0\":\n  version \"7.1.0\"\n  integrity sha512-abc+/==\n  dependencies:\n    ms \"2.0.0\"\n    \"@s/x\" \"^1\"\n\nms@2.0.0:\n  version: \"2.0.0\"\n";
        let nodes = parse(text).unwrap();
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].line, 4);
        assert_eq!(nodes[0].keys, ["@babel/core@^7.0.0", "@babel/core@^7.1.0"]);
        let Value::Block(body) = &nodes[0].value else { panic!() };
        assert_eq!(
            body[0],
            Node { line: 5, keys: vec!["version".into()], value: Value::Scalar("7.1.0".into()) }
        );
        assert_eq!(body[1].value, Value::Scalar("sha512-abc+/==".into()));
        let Value::Block(deps) = &body[2].value else { panic!() };
        assert_eq!(deps[1].keys, ["@s/x"]);
        assert_eq!(deps[1].line, 9);
        assert_eq!(nodes[1].key(), "ms@2.0.0");
        let Value::Block(body) = &nodes[1].value else { panic!() };
        assert_eq!(body[0].value, Value::Scalar("2.0.0".into()));
    }

    #[test]
    fn errors_carry_lines() {
        assert_eq!(
            parse("a@1:\n  version \"1.0.0\n").unwrap_err(),
            (2, "unterminated string".to_owned())
        );
        assert_eq!(parse("a@1:\n  version \"1\"\n      x y\n").unwrap_err().0, 3);
        assert_eq!(parse("  a@1:\n").unwrap_err().0, 1);
        assert_eq!(parse("a@1:\n  version\n").unwrap_err().0, 2);
        assert_eq!(parse("a \"\\u00e9\\n\"\n").unwrap()[0].value, Value::Scalar("é\n".into()));
    }
}
