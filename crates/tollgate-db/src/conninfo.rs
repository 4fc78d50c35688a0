//! libpq connection strings: redaction for messages, and the split of a connection string into
//! a password-free part and the password, so the PostgreSQL client tools get the password the
//! way libpq intends (`PGPASSWORD` in the child's environment, readable only by the same user)
//! and their command lines — which every local user can read in `/proc/<pid>/cmdline` — carry
//! no secret.
//!
//! Both libpq syntaxes are understood: URIs (`postgresql://user:password@host/db?k=v`, the
//! password also as a `password=` query parameter) and `keyword=value` strings (values quoted
//! with `'`, backslash escapes), as in the libpq documentation, "Connection Strings".

use std::process::Command;

/// A connection string that cannot be split into a password and the rest. The message never
/// contains the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("database URL {redacted}: {reason}")]
pub struct ConnInfoError {
    /// The connection string with any password replaced by `***`.
    pub redacted: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A parsed connection string: everything but the password, and the password.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnInfo {
    /// The connection string without any password (URI or `keyword=value`, as given).
    without_password: String,
    /// The password, decoded, if the string had one.
    password: Option<String>,
    /// How the password was written in the string (percent-encoded, quoted), for scrubbing.
    raw_password: Option<String>,
}

impl std::fmt::Debug for ConnInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnInfo")
            .field("without_password", &self.without_password)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

const URI_SCHEMES: [&str; 2] = ["postgresql://", "postgres://"];

impl ConnInfo {
    /// Splits `conn` (a libpq URI or `keyword=value` string). Errors name the string redacted.
    pub fn parse(conn: &str) -> Result<ConnInfo, ConnInfoError> {
        let err = |reason: &str| ConnInfoError { redacted: redact(conn), reason: reason.into() };
        if let Some(scheme) = URI_SCHEMES.iter().find(|s| conn.starts_with(**s)) {
            parse_uri(conn, scheme).map_err(|r| err(&r))
        } else if conn.contains('=') {
            parse_keywords(conn).map_err(|r| err(&r))
        } else if conn.contains("://") {
            Err(err("not a postgresql:// or postgres:// URI"))
        } else {
            // A bare database name, as libpq takes it.
            Ok(ConnInfo { without_password: conn.to_owned(), password: None, raw_password: None })
        }
    }

    /// The connection string without its password: safe on a command line and in messages.
    pub fn without_password(&self) -> &str {
        &self.without_password
    }

    /// The password, if the string had one.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// A command for a PostgreSQL client tool connecting with this string: `-d` gets the
    /// string without its password, the child's environment gets `PGPASSWORD` (only when the
    /// string had a password; an inherited `PGPASSWORD` is otherwise left alone).
    pub(crate) fn command(&self, tool: &str) -> Command {
        let mut cmd = Command::new(crate::backup::pg_tool(tool));
        if let Some(p) = &self.password {
            cmd.env("PGPASSWORD", p);
        }
        cmd.env("PGCONNECT_TIMEOUT", "10");
        cmd
    }

    /// `text` with every spelling of the password replaced by `***` (tools' error messages may
    /// quote parts of the connection string).
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in [&self.raw_password, &self.password].into_iter().flatten() {
            if !secret.is_empty() {
                out = out.replace(secret.as_str(), "***");
            }
        }
        out
    }

    /// The same connection pointing at another database.
    pub fn with_database(&self, database: &str) -> ConnInfo {
        let without_password = crate::backup::with_database(&self.without_password, database);
        ConnInfo { without_password, ..self.clone() }
    }
}

/// `conn` with any password replaced by `***`. Works on strings that do not parse too: in a
/// URI everything between the first `:` of the user part and the last `@` is hidden (a
/// malformed password may hold `/`, `?` or `@`), and every `password=` value is hidden
/// (in a `keyword=value` string up to its closing quote or the next blank, in a URI query up
/// to the next `&`). When in doubt it hides too much, never too little.
pub fn redact(conn: &str) -> String {
    let mut out = conn.to_owned();
    let (scheme_end, has_scheme) = match out.find("://") {
        Some(i) => (i + 3, true),
        None => (0, false),
    };
    if let Some(at) = out.rfind('@').filter(|&at| at >= scheme_end) {
        // Without a scheme, only a `user:password@host` shape (no `=`) is a URI-like userinfo.
        let looks_like_uri = has_scheme || !out[..at].contains('=');
        if looks_like_uri && let Some(colon) = out[scheme_end..at].find(':') {
            out.replace_range(scheme_end + colon + 1..at, "***");
        }
    }
    redact_password_values(&out)
}

/// Hides the value of every `password` keyword (`password=…`, `password = '…'`, `&password=…`).
fn redact_password_values(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = find_password_keyword(rest) {
        let after_key = &rest[i + "password".len()..];
        let eq = after_key.len() - after_key.trim_start().len();
        let value_part = &after_key[eq + 1..];
        out.push_str(&rest[..i]);
        out.push_str("password=");
        let blanks = value_part.len() - value_part.trim_start().len();
        let value = &value_part[blanks..];
        let end = if let Some(quoted) = value.strip_prefix('\'') {
            // Up to the closing quote (backslash escapes), or the end.
            let mut chars = quoted.char_indices();
            let mut end = value.len();
            while let Some((j, c)) = chars.next() {
                match c {
                    '\\' => {
                        chars.next();
                    }
                    '\'' => {
                        end = j + 2;
                        break;
                    }
                    _ => {}
                }
            }
            end
        } else {
            value.find(|c: char| c.is_whitespace() || c == '&' || c == '#').unwrap_or(value.len())
        };
        out.push_str("***");
        rest = &value[end..];
    }
    out.push_str(rest);
    out
}

/// Byte index of the next `password` keyword followed by optional blanks and `=`, at a word
/// start (the start, after a blank, `?` or `&`).
fn find_password_keyword(s: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = s[from..].find("password") {
        let i = from + found;
        let starts_word =
            i == 0 || s[..i].ends_with(|c: char| c.is_whitespace() || "?&".contains(c));
        let after = s[i + "password".len()..].trim_start();
        if starts_word && after.starts_with('=') {
            return Some(i);
        }
        from = i + "password".len();
    }
    None
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
            let Some(hex) = hex else { return Err("invalid percent-encoded token".into()) };
            out.push(u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "percent-encoded text is not UTF-8".into())
}

/// libpq's URI rules: the user part ends at the first `@` before any `/`; the password follows
/// the first `:` in it; `password` may also be a query parameter.
fn parse_uri(conn: &str, scheme: &str) -> Result<ConnInfo, String> {
    let rest = &conn[scheme.len()..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (userinfo, after_user) = match rest.find(['@', '/']) {
        Some(at) if rest.as_bytes()[at] == b'@' => (Some(&rest[..at]), &rest[at + 1..]),
        _ => (None, rest),
    };
    if userinfo.is_none() && rest[..authority_end].contains('@') {
        return Err("unexpected '@' in the host part".into());
    }
    let mut password = None;
    let mut raw_password = None;
    let mut out = scheme.to_owned();
    if let Some(userinfo) = userinfo {
        let (user, pass) = match userinfo.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (userinfo, None),
        };
        out.push_str(user);
        out.push('@');
        if let Some(p) = pass {
            password = Some(percent_decode(p)?);
            raw_password = Some(p.to_owned());
        }
    }
    let (main, query) = match after_user.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (after_user, None),
    };
    if main.contains('@') {
        return Err("unexpected '@' after the user part".into());
    }
    out.push_str(main);
    if let Some(query) = query {
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').ok_or("a query parameter without '='")?;
            if percent_decode(k)? == "password" {
                password = Some(percent_decode(v)?);
                raw_password = Some(v.to_owned());
            } else {
                kept.push(pair);
            }
        }
        if !kept.is_empty() {
            out.push('?');
            out.push_str(&kept.join("&"));
        }
    }
    Ok(ConnInfo { without_password: out, password, raw_password })
}

/// libpq's `keyword=value` rules: blanks around `=` allowed; a value is single-quoted (with
/// `\'` and `\\`) or runs to the next blank (backslash escapes any character).
fn parse_keywords(conn: &str) -> Result<ConnInfo, String> {
    let mut pairs: Vec<(String, String, String)> = Vec::new(); // (key, value, raw value)
    let mut chars = conn.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(key_start, _)) = chars.peek() else { break };
        let mut key_end = conn.len();
        while let Some(&(i, c)) = chars.peek() {
            if c.is_whitespace() || c == '=' {
                key_end = i;
                break;
            }
            chars.next();
        }
        let key = &conn[key_start..key_end];
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if chars.next().map(|(_, c)| c) != Some('=') {
            return Err(format!("missing \"=\" after keyword {key:?}"));
        }
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let value_start = chars.peek().map_or(conn.len(), |(i, _)| *i);
        let mut value = String::new();
        let mut value_end = conn.len();
        if chars.next_if(|(_, c)| *c == '\'').is_some() {
            let mut closed = false;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next().map(|(_, c)| c)),
                    '\'' => {
                        value_end = i + 1;
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return Err("unterminated quoted value".into());
            }
        } else {
            while let Some(&(i, c)) = chars.peek() {
                if c.is_whitespace() {
                    value_end = i;
                    break;
                }
                chars.next();
                if c == '\\' {
                    value.extend(chars.next().map(|(_, c)| c));
                } else {
                    value.push(c);
                }
            }
        }
        pairs.push((key.to_owned(), value, conn[value_start..value_end].to_owned()));
    }
    let mut password = None;
    let mut raw_password = None;
    let mut kept = Vec::new();
    for (key, value, raw) in pairs {
        if key == "password" {
            password = Some(value);
            raw_password = Some(raw);
        } else {
            kept.push(format!("{key}='{}'", value.replace('\\', "\\\\").replace('\'', "\\'")));
        }
    }
    Ok(ConnInfo { without_password: kept.join(" "), password, raw_password })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_uris() {
        let c = ConnInfo::parse("postgresql://app:s%40cr%3At@db.example:5433/shop?sslmode=require")
            .unwrap();
        assert_eq!(c.without_password(), "postgresql://app@db.example:5433/shop?sslmode=require");
        assert_eq!(c.password(), Some("s@cr:t"));
        let c = ConnInfo::parse("postgres://h/db?password=pw&application_name=x").unwrap();
        assert_eq!(
            (c.without_password(), c.password()),
            ("postgres://h/db?application_name=x", Some("pw"))
        );
        let c = ConnInfo::parse("postgres://u@h1:1,h2:2/db").unwrap();
        assert_eq!((c.without_password(), c.password()), ("postgres://u@h1:1,h2:2/db", None));
        let c = ConnInfo::parse("postgres://u:@h").unwrap();
        assert_eq!((c.without_password(), c.password()), ("postgres://u@h", Some("")));
        assert!(ConnInfo::parse("postgres://u:p%zz@h/db").is_err());
        assert!(ConnInfo::parse("postgres://u:pa/ss@h/db").is_err());
    }

    #[test]
    fn splits_keyword_strings() {
        let c = ConnInfo::parse(r"host=h password = 'a b\'c' dbname=d\ x").unwrap();
        assert_eq!(c.password(), Some("a b'c"));
        assert_eq!(c.without_password(), r"host='h' dbname='d x'");
        assert_eq!(c.scrub(r"at 'a b\'c' or a b'c"), "at *** or ***");
        let e = ConnInfo::parse("host=h password=hunter2 dbname").unwrap_err().to_string();
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn redacts_well_formed_and_malformed() {
        for (given, want) in [
            ("postgres://u:secret@h/d", "postgres://u:***@h/d"),
            ("postgres://u@h/d", "postgres://u@h/d"),
            ("postgres://h:5432/d", "postgres://h:5432/d"),
            ("postgres://u:pa/ss@h/d", "postgres://u:***@h/d"),
            ("postgres://u:p@ss?x@h/d", "postgres://u:***@h/d"),
            ("postgres://u:p%zz@h/d", "postgres://u:***@h/d"),
            ("postgre://u:typo@h/d", "postgre://u:***@h/d"),
            ("u:bare@h/d", "u:***@h/d"),
            (
                "postgres://h/d?sslmode=x&password=pw&a=b",
                "postgres://h/d?sslmode=x&password=***&a=b",
            ),
            ("host=h password=pw user=u", "host=h password=*** user=u"),
            ("host=h password = 'p w' user=u", "host=h password=*** user=u"),
            ("host=h password='unterminated user=u", "host=h password=***"),
            ("host=h mypassword=x", "host=h mypassword=x"),
        ] {
            assert_eq!(redact(given), want, "{given}");
        }
    }
}
