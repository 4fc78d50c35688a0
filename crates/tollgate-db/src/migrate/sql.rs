//! Splitting SQL into statements (quotes, dollar quotes and comments aware) and finding
//! destructive statements with a PostgreSQL-dialect SQL parser (sqlparser).

use sqlparser::ast::{
    AlterColumnOperation, AlterTableOperation, CreateFunctionBody, Expr, Statement as Ast, Value,
    visit_statements,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};
use std::ops::ControlFlow;

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

/// The upper-cased keywords and identifiers of a statement, as PostgreSQL's lexer sees them
/// (comments, string and dollar-quoted literals are not words); `Err` when it does not lex.
fn words(statement: &str) -> Result<Vec<String>, String> {
    let tokens =
        Tokenizer::new(&PostgreSqlDialect {}, statement).tokenize().map_err(|e| e.to_string())?;
    Ok(tokens
        .into_iter()
        .filter_map(|t| match t {
            Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_uppercase()),
            _ => None,
        })
        .collect())
}

/// Why a statement is destructive, or possibly destructive, each reason once; empty when it
/// is not. The statement is parsed with a PostgreSQL grammar and every statement nested in it
/// is looked at (a `DELETE` in a `WITH` query, the body of a `LANGUAGE sql` function).
/// Destructive: `DROP TABLE|SCHEMA|DATABASE|… TABLE` (also with `IF EXISTS`), any other `DROP`
/// without `IF EXISTS`, `TRUNCATE`, `DELETE` without `WHERE`, `ALTER TABLE … DROP COLUMN`,
/// `… DROP CONSTRAINT`, `… ALTER COLUMN … TYPE`. Possibly destructive, because the code is not
/// analysed: `DO` blocks, function and procedure bodies in other languages, and statements the
/// parser cannot read — none of them passes silently.
pub fn destructive_kinds(statement: &str) -> Vec<String> {
    let words = match words(statement) {
        Ok(w) => w,
        Err(e) => return vec![format!("unparseable statement, review it by hand ({e})")],
    };
    if words.first().map(String::as_str) == Some("DO") {
        return vec!["DO block (code not analysed, possibly destructive)".into()];
    }
    let parsed = match Parser::parse_sql(&PostgreSqlDialect {}, statement) {
        Ok(p) => p,
        Err(e) => return vec![format!("unparseable statement, review it by hand ({e})")],
    };
    let mut kinds = Vec::new();
    let mut add = |kind: String| {
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    };
    let _ = visit_statements(&parsed, |s| {
        for kind in statement_kinds(s, &words) {
            add(kind);
        }
        ControlFlow::<()>::Continue(())
    });
    kinds
}

/// The destructive kinds of one (possibly nested) statement; `words` are the words of the
/// whole top-level statement.
fn statement_kinds(s: &Ast, words: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    match s {
        Ast::Drop { object_type, if_exists, .. } => {
            let object = object_type.to_string().to_uppercase();
            if matches!(object.as_str(), "TABLE" | "SCHEMA" | "DATABASE")
                || object.ends_with("TABLE")
            {
                out.push(format!("DROP {object}"));
            } else if !if_exists {
                out.push(format!("DROP {object} without IF EXISTS"));
            }
        }
        Ast::Truncate { .. } => out.push("TRUNCATE".into()),
        Ast::Delete(delete) if delete.selection.is_none() => {
            out.push("DELETE without WHERE".into())
        }
        Ast::AlterTable(alter) => {
            for op in &alter.operations {
                match op {
                    AlterTableOperation::DropColumn { .. } => out.push("DROP COLUMN".into()),
                    AlterTableOperation::DropConstraint { .. }
                    | AlterTableOperation::DropPrimaryKey { .. }
                    | AlterTableOperation::DropForeignKey { .. } => {
                        out.push("DROP CONSTRAINT".into())
                    }
                    AlterTableOperation::AlterColumn {
                        op: AlterColumnOperation::SetDataType { .. },
                        ..
                    } => out.push("ALTER COLUMN … TYPE (type change)".into()),
                    _ => {}
                }
            }
        }
        Ast::CreateFunction(f) => out.extend(function_body_kinds(f)),
        Ast::CreateProcedure { .. } => {
            out.push("procedure body (code not analysed, possibly destructive)".into())
        }
        // Other DROP statements (functions, triggers, types, extensions…) have their own
        // syntax trees; the rule is the same: without IF EXISTS they are destructive.
        _ if words.first().map(String::as_str) == Some("DROP")
            && !words.windows(2).any(|w| w[0] == "IF" && w[1] == "EXISTS") =>
        {
            let object = words.get(1).map_or("", String::as_str);
            out.push(format!("DROP {object} without IF EXISTS"));
        }
        _ => {}
    }
    out
}

/// A `LANGUAGE sql` body is parsed and classified like a migration statement; a body in any
/// other language (PL/pgSQL…) cannot be analysed and is possibly destructive.
fn function_body_kinds(f: &sqlparser::ast::CreateFunction) -> Vec<String> {
    let language = f.language.as_ref().map(|l| l.value.to_lowercase());
    let body = match &f.function_body {
        Some(
            CreateFunctionBody::AsBeforeOptions { body, .. }
            | CreateFunctionBody::AsAfterOptions(body),
        ) => match body {
            Expr::Value(v) => match &v.value {
                Value::SingleQuotedString(s) => Some(s.clone()),
                Value::DollarQuotedString(d) => Some(d.value.clone()),
                _ => None,
            },
            _ => None,
        },
        // `RETURN expr` and `BEGIN ATOMIC …` bodies are SQL the parser already walked.
        Some(_) => return Vec::new(),
        None => None,
    };
    match (language.as_deref(), body) {
        (Some("sql"), Some(body)) => split(&body)
            .iter()
            .flat_map(|s| destructive_kinds(&s.text))
            .map(|k| format!("{k} (in a function body)"))
            .collect(),
        (language, _) => vec![format!(
            "function body in {} (code not analysed, possibly destructive)",
            language.unwrap_or("an unknown language")
        )],
    }
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
        let cases: &[(&str, &[&str])] = &[
            ("DROP TABLE users", &["DROP TABLE"]),
            ("drop table if exists users", &["DROP TABLE"]),
            ("DROP SCHEMA app CASCADE", &["DROP SCHEMA"]),
            ("DROP DATABASE x", &["DROP DATABASE"]),
            ("TRUNCATE audit", &["TRUNCATE"]),
            ("ALTER TABLE t DROP COLUMN c", &["DROP COLUMN"]),
            ("ALTER TABLE t DROP c", &["DROP COLUMN"]),
            ("ALTER TABLE t ADD COLUMN d int, DROP COLUMN c", &["DROP COLUMN"]),
            (
                "ALTER TABLE t ALTER COLUMN c TYPE varchar(10)",
                &["ALTER COLUMN … TYPE (type change)"],
            ),
            ("ALTER TABLE t ALTER c SET DATA TYPE int", &["ALTER COLUMN … TYPE (type change)"]),
            ("ALTER TABLE t DROP CONSTRAINT k", &["DROP CONSTRAINT"]),
            (
                "ALTER TABLE t DROP CONSTRAINT IF EXISTS k, DROP COLUMN c",
                &["DROP CONSTRAINT", "DROP COLUMN"],
            ),
            ("DELETE FROM t", &["DELETE without WHERE"]),
            (
                "WITH gone AS (DELETE FROM users RETURNING id) INSERT INTO audit SELECT id FROM gone",
                &["DELETE without WHERE"],
            ),
            (
                "DO $$ BEGIN DELETE FROM t; END $$",
                &["DO block (code not analysed, possibly destructive)"],
            ),
            (
                "do language plpgsql $body$ BEGIN NULL; END $body$",
                &["DO block (code not analysed, possibly destructive)"],
            ),
            (
                "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN TRUNCATE t; END $$",
                &["function body in plpgsql (code not analysed, possibly destructive)"],
            ),
            (
                "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ DELETE FROM t $$",
                &["DELETE without WHERE (in a function body)"],
            ),
            ("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", &[]),
            ("DROP INDEX i", &["DROP INDEX without IF EXISTS"]),
            ("DROP VIEW v", &["DROP VIEW without IF EXISTS"]),
            ("DROP FUNCTION f(int)", &["DROP FUNCTION without IF EXISTS"]),
            ("DROP FUNCTION IF EXISTS f(int)", &[]),
            ("DROP INDEX IF EXISTS i", &[]),
            ("CREATE INDEX CONCURRENTLY i ON t (x)", &[]),
            ("DELETE FROM t WHERE id = 1", &[]),
            ("ALTER TABLE t ALTER COLUMN c DROP DEFAULT", &[]),
            ("ALTER TABLE t ALTER COLUMN c DROP NOT NULL", &[]),
            ("ALTER TABLE t ADD COLUMN c int", &[]),
            ("ALTER TABLE t ADD COLUMN type text", &[]),
            ("CREATE TABLE t (id int)", &[]),
            ("INSERT INTO t VALUES ('DROP TABLE x')", &[]),
            ("INSERT INTO t VALUES ($$DROP TABLE x; TRUNCATE y$$)", &[]),
            ("SELECT $tag$ DELETE FROM t $tag$", &[]),
            ("-- DROP TABLE x\nSELECT 1", &[]),
            ("/* DROP TABLE x */ SELECT 1", &[]),
            ("COMMENT ON TABLE t IS 'we DROP nothing'", &[]),
            ("DROPP TABLE t", &["unparseable statement, review it by hand"]),
            ("SELECT 'unterminated", &["unparseable statement, review it by hand"]),
        ];
        for (sql, want) in cases {
            let got = destructive_kinds(sql);
            let got: Vec<_> = got
                .iter()
                .map(|k| k.split(" (").next().filter(|_| k.starts_with("unparseable")).unwrap_or(k))
                .collect();
            let want: Vec<_> = want
                .iter()
                .map(|w| w.split(" (").next().filter(|_| w.starts_with("unparseable")).unwrap_or(w))
                .collect();
            assert_eq!(got, want, "{sql}");
        }
    }

    #[test]
    fn positions_to_lines() {
        assert_eq!(line_col("ab\ncd\nef", 1), (1, 1));
        assert_eq!(line_col("ab\ncd\nef", 5), (2, 2));
        assert_eq!(line_col("ab\ncd\nef", 7), (3, 1));
    }
}
