//! Splitting SQL into statements (quotes, dollar quotes and comments aware) and finding
//! destructive statements.

/// One statement of a migration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The statement text (without the terminating `;`).
    pub text: String,
    /// Character offset (0-based) of the statement's start in the file.
    pub offset: usize,
    /// 1-based line of its first non-blank, non-comment character.
    pub line: u32,
}

/// Splits SQL at top-level `;`, skipping empty statements.
pub fn split(sql: &str) -> Vec<Statement> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let push = |out: &mut Vec<Statement>, from: usize, to: usize| {
        let text: String = chars[from..to].iter().collect();
        if strip_comments(&text).trim().is_empty() {
            return;
        }
        // Where the statement really starts: after blanks and comments.
        let lead = leading_noise(&chars[from..to]);
        let offset = from + lead;
        let line = 1 + chars[..offset].iter().filter(|&&c| c == '\n').count() as u32;
        out.push(Statement { text: chars[offset..to].iter().collect(), offset, line });
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '-' if chars.get(i + 1) == Some(&'-') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                let mut depth = 0;
                while i < chars.len() {
                    if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                        depth += 1;
                        i += 2;
                    } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                continue;
            }
            '\'' | '"' => {
                i += 1;
                while i < chars.len() {
                    if chars[i] == c {
                        if chars.get(i + 1) == Some(&c) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
            }
            '$' => {
                // $tag$ … $tag$
                let mut j = i + 1;
                while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                let tag_is_valid = j < chars.len()
                    && chars[j] == '$'
                    && !chars.get(i + 1).is_some_and(|c| c.is_ascii_digit());
                if tag_is_valid {
                    let tag: Vec<char> = chars[i..=j].to_vec();
                    let mut k = j + 1;
                    while k + tag.len() <= chars.len() && chars[k..k + tag.len()] != tag[..] {
                        k += 1;
                    }
                    i = (k + tag.len()).min(chars.len());
                    continue;
                }
            }
            ';' => {
                push(&mut out, start, i);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    push(&mut out, start, chars.len().max(start));
    out
}

fn leading_noise(chars: &[char]) -> usize {
    let mut i = 0;
    loop {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if chars.get(i) == Some(&'-') && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if chars.get(i) == Some(&'/') && chars.get(i + 1) == Some(&'*') {
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i = (i + 2).min(chars.len());
        } else {
            return i;
        }
    }
}

/// The statement without comments, string literals replaced by `''`, whitespace collapsed,
/// upper-cased: what keyword matching looks at.
fn normalize(text: &str) -> String {
    let stripped = strip_comments(text);
    let mut out = String::new();
    let mut in_quote = false;
    for c in stripped.chars() {
        if c == '\'' {
            in_quote = !in_quote;
            if !in_quote {
                out.push_str("''");
            }
            continue;
        }
        if !in_quote {
            out.push(c);
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ").to_uppercase()
}

fn strip_comments(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '-' && chars.peek() == Some(&'-') {
            for c in chars.by_ref() {
                if c == '\n' {
                    out.push('\n');
                    break;
                }
            }
        } else if c == '/' && chars.peek() == Some(&'*') {
            chars.next();
            let mut prev = ' ';
            for c in chars.by_ref() {
                if prev == '*' && c == '/' {
                    break;
                }
                prev = c;
            }
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// Why a statement is destructive, or `None`.
pub fn destructive_kind(statement: &str) -> Option<String> {
    let s = normalize(statement);
    let words: Vec<&str> = s.split(' ').collect();
    let first = words.first().copied().unwrap_or_default();
    match first {
        "TRUNCATE" => return Some("TRUNCATE".into()),
        "DELETE" if !words.contains(&"WHERE") => return Some("DELETE without WHERE".into()),
        "DROP" => {
            let object = words.get(1).copied().unwrap_or_default();
            let object = match object {
                "MATERIALIZED" | "FOREIGN" => format!("{object} {}", words.get(2).unwrap_or(&"")),
                _ => object.to_owned(),
            };
            if matches!(object.as_str(), "TABLE" | "SCHEMA" | "DATABASE")
                || object.ends_with("TABLE")
            {
                return Some(format!("DROP {object}"));
            }
            if !s.contains(" IF EXISTS ") {
                return Some(format!("DROP {object} without IF EXISTS"));
            }
        }
        "ALTER" if words.get(1) == Some(&"TABLE") => {
            // Every clause of ALTER TABLE, separated by top-level commas (approximation: commas).
            for clause in s.split(',') {
                let w: Vec<&str> = clause.split_whitespace().collect();
                for (i, word) in w.iter().enumerate() {
                    if *word == "DROP"
                        && !matches!(
                            w.get(i + 1),
                            Some(&"CONSTRAINT")
                                | Some(&"DEFAULT")
                                | Some(&"NOT")
                                | Some(&"EXPRESSION")
                                | Some(&"IDENTITY")
                        )
                        && w.get(i.wrapping_sub(1)) != Some(&"SET")
                    {
                        // ALTER TABLE t DROP [COLUMN] c; ALTER COLUMN c DROP DEFAULT/NOT NULL are not.
                        if i >= 2 && w[i - 2] == "ALTER" {
                            continue;
                        }
                        return Some("DROP COLUMN".into());
                    }
                    if *word == "TYPE" && is_type_change(&w, i) {
                        return Some("ALTER COLUMN … TYPE (type change)".into());
                    }
                }
            }
        }
        _ => {}
    }
    None
}

/// `ALTER [COLUMN] c [SET DATA] TYPE` with `TYPE` at `i` (not a column named "type").
fn is_type_change(w: &[&str], i: usize) -> bool {
    let at = |k: usize| if k <= i { w.get(i - k).copied() } else { None };
    (at(1) == Some("DATA") && at(2) == Some("SET"))
        || (at(2) == Some("ALTER") && at(1) != Some("COLUMN"))
        || (at(3) == Some("ALTER") && at(2) == Some("COLUMN"))
        || (at(4) == Some("ALTER") && at(2) == Some("SET") && at(1) == Some("DATA"))
}

/// 1-based (line, column) of a 1-based character position in `text`.
pub fn line_col(text: &str, position: usize) -> (u32, u32) {
    let mut line = 1;
    let mut col = 1;
    for c in text.chars().take(position.saturating_sub(1)) {
        if c == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_respecting_quotes_and_comments() {
        let sql = "-- header; not a statement\nCREATE TABLE a (x text DEFAULT ';');\n\n\
                   /* block; */ INSERT INTO a VALUES ('it''s;');\n\
                   CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n\
                   SELECT $tag$ ; $tag$\n-- trailing";
        let stmts = split(sql);
        let texts: Vec<_> = stmts.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "CREATE TABLE a (x text DEFAULT ';')",
                "INSERT INTO a VALUES ('it''s;')",
                "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql",
                "SELECT $tag$ ; $tag$\n-- trailing",
            ]
        );
        assert_eq!(stmts.iter().map(|s| s.line).collect::<Vec<_>>(), [2, 4, 5, 6]);
        assert!(split("-- only a comment\n").is_empty());
    }

    #[test]
    fn destructive_statements() {
        let cases = [
            ("DROP TABLE users", Some("DROP TABLE")),
            ("drop table if exists users", Some("DROP TABLE")),
            ("DROP SCHEMA app CASCADE", Some("DROP SCHEMA")),
            ("DROP DATABASE x", Some("DROP DATABASE")),
            ("TRUNCATE audit", Some("TRUNCATE")),
            ("ALTER TABLE t DROP COLUMN c", Some("DROP COLUMN")),
            ("ALTER TABLE t DROP c", Some("DROP COLUMN")),
            ("ALTER TABLE t ADD COLUMN d int, DROP COLUMN c", Some("DROP COLUMN")),
            (
                "ALTER TABLE t ALTER COLUMN c TYPE varchar(10)",
                Some("ALTER COLUMN … TYPE (type change)"),
            ),
            ("ALTER TABLE t ALTER c SET DATA TYPE int", Some("ALTER COLUMN … TYPE (type change)")),
            ("DELETE FROM t", Some("DELETE without WHERE")),
            ("DROP INDEX i", Some("DROP INDEX without IF EXISTS")),
            ("DROP VIEW v", Some("DROP VIEW without IF EXISTS")),
            ("DROP INDEX IF EXISTS i", None),
            ("DELETE FROM t WHERE id = 1", None),
            ("ALTER TABLE t ALTER COLUMN c DROP DEFAULT", None),
            ("ALTER TABLE t ALTER COLUMN c DROP NOT NULL", None),
            ("ALTER TABLE t DROP CONSTRAINT k", None),
            ("ALTER TABLE t ADD COLUMN c int", None),
            ("ALTER TABLE t ADD COLUMN type text", None),
            (
                "ALTER TABLE t ALTER COLUMN c SET DATA TYPE bigint",
                Some("ALTER COLUMN … TYPE (type change)"),
            ),
            ("CREATE TABLE t (id int)", None),
            ("INSERT INTO t VALUES ('DROP TABLE x')", None),
            ("-- DROP TABLE x\nSELECT 1", None),
        ];
        for (sql, want) in cases {
            assert_eq!(destructive_kind(sql).as_deref(), want, "{sql}");
        }
    }

    #[test]
    fn positions_to_lines() {
        assert_eq!(line_col("ab\ncd\nef", 1), (1, 1));
        assert_eq!(line_col("ab\ncd\nef", 5), (2, 2));
        assert_eq!(line_col("ab\ncd\nef", 7), (3, 1));
    }
}
