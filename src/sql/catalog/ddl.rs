//! Reading a schema from DDL as people have it: `SHOW CREATE TABLE`
//! output, a hand-written file, or a `mysqldump` / `mariadb-dump
//! --no-data` file exactly as written (`--` and `#` comments, `/*!40101 …*/`
//! directives, `DROP TABLE`, `LOCK TABLES`, `SET`, views, triggers between
//! `DELIMITER ;;` lines, `USE` between several databases).
//!
//! The text is first cut into statements by a small scanner that knows
//! quotes, comments and the client's `DELIMITER` command; only `CREATE
//! TABLE` statements go to sqlparser, so everything else a dump holds is
//! skipped without being parsed. Versioned comments (`/*!50100 PARTITION BY
//! …*/`, view and trigger bodies) are dropped: they never declare a base
//! table's columns or keys. A `CREATE TABLE` that cannot be read is an error
//! naming its table and line, since silently dropping a table would make
//! every statement on it look like an unknown-table statement.

use sqlparser::ast::{
    ColumnOption, Expr, IndexColumn, ObjectName, ObjectNamePart, Statement, TableConstraint,
};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

use super::{Catalog, CatalogError, Column, ForeignKey, Index, Table};

/// One statement of a DDL text, comments removed, with the 1-based line it
/// starts on.
#[derive(Debug, PartialEq)]
struct Chunk {
    text: String,
    line: usize,
}

/// Statements being collected: the text so far and where it began.
#[derive(Default)]
struct Chunks {
    out: Vec<Chunk>,
    cur: String,
    line: usize,
}

impl Chunks {
    fn push(&mut self, text: &str, line: usize) {
        if self.cur.trim().is_empty() && !text.trim().is_empty() {
            self.cur.clear();
            self.line = line;
        }
        self.cur.push_str(text);
    }

    fn flush(&mut self) {
        let text = self.cur.trim();
        if !text.is_empty() {
            self.out.push(Chunk {
                text: text.to_owned(),
                line: self.line,
            });
        }
        self.cur.clear();
    }
}

/// Cuts `ddl` into statements: at the current delimiter (`;` unless a
/// `DELIMITER` line changed it) and at blank lines (hand-written DDL often
/// separates `CREATE TABLE`s by blank lines only), outside quotes and
/// comments. Comments are removed; see the module doc.
fn statements(ddl: &str) -> Vec<Chunk> {
    let mut chunks = Chunks::default();
    let mut delimiter = ";".to_owned();
    let mut line = 1;
    let bytes = ddl.as_bytes();
    let newlines = |from: usize, to: usize| bytes[from..to].iter().filter(|&&c| c == b'\n').count();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &ddl[i..];
        let at_line_start = i == 0 || bytes[i - 1] == b'\n';
        if at_line_start && chunks.cur.trim().is_empty() && starts_with_word(rest, "DELIMITER") {
            let end = line_comment_len(rest);
            let new = rest["DELIMITER".len()..end].trim();
            if !new.is_empty() {
                delimiter = new.to_owned();
            }
            i += end;
            continue;
        }
        if rest.starts_with(&delimiter) {
            chunks.flush();
            i += delimiter.len();
            continue;
        }
        let b = bytes[i];
        let comment = match b {
            b'\n' => {
                line += 1;
                if at_blank_line(&bytes[i + 1..]) {
                    chunks.flush();
                }
                chunks.push("\n", line);
                i += 1;
                continue;
            }
            b'\'' | b'"' | b'`' => {
                let n = quoted_len(&bytes[i..], b);
                chunks.push(&ddl[i..i + n], line);
                line += newlines(i, i + n);
                i += n;
                continue;
            }
            b'#' => line_comment_len(rest),
            b'-' if rest.starts_with("--")
                && rest[2..].chars().next().is_none_or(char::is_whitespace) =>
            {
                line_comment_len(rest)
            }
            b'/' if rest.starts_with("/*") => rest.find("*/").map_or(rest.len(), |e| e + 2),
            _ => 0,
        };
        if comment > 0 {
            line += newlines(i, i + comment);
            chunks.push(" ", line);
            i += comment;
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        let mut buf = [0u8; 4];
        chunks.push(c.encode_utf8(&mut buf), line);
        i += c.len_utf8();
    }
    chunks.flush();
    chunks.out
}

/// Length of a comment running to the end of its line (the newline is
/// left for the caller to count).
fn line_comment_len(rest: &str) -> usize {
    rest.find('\n').unwrap_or(rest.len())
}

/// Length of the quoted literal or identifier at the start of `bytes`,
/// quotes included; an unterminated one runs to the end. Backslash escapes
/// count inside string quotes, doubled quotes everywhere.
fn quoted_len(bytes: &[u8], quote: u8) -> usize {
    let mut j = 1;
    while j < bytes.len() {
        match bytes[j] {
            b'\\' if quote != b'`' => j += 2,
            q if q == quote => {
                if bytes.get(j + 1) == Some(&quote) {
                    j += 2;
                } else {
                    return j + 1;
                }
            }
            _ => j += 1,
        }
    }
    bytes.len()
}

/// True when the line starting at `bytes` is empty or whitespace only.
fn at_blank_line(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .take_while(|&&b| b != b'\n')
        .all(|b| b.is_ascii_whitespace())
}

/// Whether `text` starts with the keyword `word` (any case) followed by a
/// non-identifier character.
fn starts_with_word(text: &str, word: &str) -> bool {
    text.get(..word.len())
        .is_some_and(|w| w.eq_ignore_ascii_case(word))
        && text[word.len()..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
}

/// The statement's leading keywords, upper-cased and single-spaced, up to
/// `n` words: enough to tell `CREATE TABLE` from `CREATE VIEW`.
fn leading_words(text: &str, n: usize) -> Vec<String> {
    text.split_whitespace()
        .take(n)
        .map(|w| w.to_ascii_uppercase())
        .collect()
}

/// An identifier as written (`` `db` ``, `"db"` or bare), unquoted and
/// lower-cased.
fn unquote(name: &str) -> String {
    let t = name.trim().trim_end_matches(';');
    let t = t
        .strip_prefix('`')
        .and_then(|s| s.strip_suffix('`'))
        .or_else(|| t.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
        .unwrap_or(t);
    t.replace("``", "`").to_ascii_lowercase()
}

/// What a DDL statement is, as far as the catalog cares.
enum Kind {
    CreateTable,
    Use(String),
    Other,
}

fn kind(text: &str) -> Kind {
    let words = leading_words(text, 6);
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    match w.as_slice() {
        ["USE", db, ..] => Kind::Use(unquote(db)),
        ["CREATE", "TABLE", ..]
        | ["CREATE", "TEMPORARY", "TABLE", ..]
        | ["CREATE", "OR", "REPLACE", "TABLE", ..]
        | ["CREATE", "OR", "REPLACE", "TEMPORARY", "TABLE", ..] => Kind::CreateTable,
        _ => Kind::Other,
    }
}

impl Catalog {
    /// Builds a catalog from MySQL DDL: `SHOW CREATE TABLE` output, a
    /// hand-written file or a `mysqldump` / `mariadb-dump --no-data` file as
    /// written. Tables created after `USE db` (or named `db.t`) belong to
    /// that database; see the module doc for what is skipped.
    pub fn from_ddl(ddl: &str) -> Result<Catalog, CatalogError> {
        let mut catalog = Catalog::default();
        let mut database: Option<String> = None;
        for chunk in statements(ddl) {
            match kind(&chunk.text) {
                Kind::Use(db) => {
                    if catalog.default_database.is_none() {
                        catalog.default_database = Some(db.clone());
                    }
                    database = Some(db);
                }
                Kind::CreateTable => {
                    let mut table = parse_create(&chunk)?;
                    if table.database.is_none() {
                        table.database = database.clone();
                    }
                    if catalog.default_database.is_none() {
                        catalog.default_database = table.database.clone();
                    }
                    catalog.insert(table);
                }
                Kind::Other => {}
            }
        }
        if catalog.tables.is_empty() {
            return Err(CatalogError::Empty);
        }
        Ok(catalog)
    }
}

/// Parses one `CREATE TABLE`. When sqlparser does not know one of the
/// table options after the column list (MariaDB has many), it is tried
/// again without them: the options never declare columns or keys.
fn parse_create(chunk: &Chunk) -> Result<Table, CatalogError> {
    let dialect = MySqlDialect {};
    let first = match Parser::parse_sql(&dialect, &chunk.text) {
        Ok(statements) => statements,
        Err(e) => match without_table_options(&chunk.text)
            .and_then(|t| Parser::parse_sql(&dialect, t).ok())
        {
            Some(statements) => statements,
            None => {
                return Err(CatalogError::Parse {
                    line: chunk.line,
                    table: table_name_guess(&chunk.text),
                    message: e.to_string(),
                });
            }
        },
    };
    first
        .iter()
        .find_map(|s| match s {
            Statement::CreateTable(create) => Some(table_from_create(create)),
            _ => None,
        })
        .ok_or_else(|| CatalogError::Parse {
            line: chunk.line,
            table: table_name_guess(&chunk.text),
            message:
                "not a CREATE TABLE with columns (CREATE TABLE … LIKE / AS SELECT are not read)"
                    .to_owned(),
        })
}

/// The statement cut after the parenthesis that closes its column list.
fn without_table_options(text: &str) -> Option<&str> {
    let open = text.find('(')?;
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' | b'`' => {
                i += quoted_len(&bytes[i..], bytes[i]);
                continue;
            }
            b'(' => depth += 1,
            b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(&text[..=i]);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The table name of a `CREATE TABLE` for error messages.
fn table_name_guess(text: &str) -> String {
    text.split_whitespace()
        .map(|w| w.split('(').next().unwrap_or(w))
        .find(|w| {
            !w.is_empty()
                && ![
                    "CREATE",
                    "OR",
                    "REPLACE",
                    "TEMPORARY",
                    "TABLE",
                    "IF",
                    "NOT",
                    "EXISTS",
                ]
                .contains(&w.to_ascii_uppercase().as_str())
        })
        .map(unquote)
        .unwrap_or_default()
}

/// The database of a qualified name (`db.t`), lower-cased.
fn object_name_database(name: &ObjectName) -> Option<String> {
    let n = name.0.len();
    (n >= 2).then(|| match &name.0[n - 2] {
        ObjectNamePart::Identifier(ident) => ident.value.to_ascii_lowercase(),
        part => part.to_string().to_ascii_lowercase(),
    })
}

fn object_name_last(name: &ObjectName) -> String {
    match name.0.last() {
        Some(ObjectNamePart::Identifier(ident)) => ident.value.to_ascii_lowercase(),
        Some(part) => part.to_string().to_ascii_lowercase(),
        None => String::new(),
    }
}

fn index_columns(columns: &[IndexColumn]) -> Vec<String> {
    columns
        .iter()
        .map(|c| match &c.column.expr {
            Expr::Identifier(ident) => ident.value.to_ascii_lowercase(),
            Expr::CompoundIdentifier(parts) => parts
                .last()
                .map(|p| p.value.to_ascii_lowercase())
                .unwrap_or_default(),
            // Prefix indexes (`KEY (c(10))`) parse as function calls.
            Expr::Function(f) => object_name_last(&f.name),
            other => other.to_string().to_ascii_lowercase(),
        })
        .collect()
}

fn ident_name(ident: Option<&sqlparser::ast::Ident>) -> String {
    ident
        .map(|i| i.value.to_ascii_lowercase())
        .unwrap_or_default()
}

fn table_from_create(create: &sqlparser::ast::CreateTable) -> Table {
    let mut table = Table {
        database: object_name_database(&create.name),
        name: object_name_last(&create.name),
        columns: Vec::with_capacity(create.columns.len()),
        primary_key: Vec::new(),
        indexes: Vec::new(),
        foreign_keys: Vec::new(),
        row_count: None,
    };
    for col in &create.columns {
        add_column(&mut table, col);
    }
    for constraint in &create.constraints {
        add_constraint(&mut table, constraint);
    }
    for pk_col in &table.primary_key {
        if let Some(c) = table.columns.iter_mut().find(|c| &c.name == pk_col) {
            c.nullable = false;
        }
    }
    table
}

/// A column definition, with the key and index its inline options
/// (`PRIMARY KEY`, `UNIQUE`) declare.
fn add_column(table: &mut Table, col: &sqlparser::ast::ColumnDef) {
    let name = col.name.value.to_ascii_lowercase();
    let mut nullable = true;
    for opt in &col.options {
        match &opt.option {
            ColumnOption::NotNull => nullable = false,
            ColumnOption::PrimaryKey(_) => {
                nullable = false;
                table.primary_key = vec![name.clone()];
            }
            ColumnOption::Unique(_) => table.indexes.push(Index {
                name: name.clone(),
                columns: vec![name.clone()],
                unique: true,
            }),
            _ => {}
        }
    }
    table.columns.push(Column {
        stats: None,
        name,
        data_type: col.data_type.to_string().to_ascii_lowercase(),
        nullable,
    });
}

/// A table constraint: primary key, index, unique key or foreign key.
fn add_constraint(table: &mut Table, constraint: &TableConstraint) {
    match constraint {
        TableConstraint::PrimaryKey(pk) => {
            table.primary_key = index_columns(&pk.columns);
        }
        TableConstraint::Index(idx) => table.indexes.push(Index {
            name: ident_name(idx.name.as_ref()),
            columns: index_columns(&idx.columns),
            unique: false,
        }),
        TableConstraint::Unique(u) => table.indexes.push(Index {
            name: ident_name(u.index_name.as_ref().or(u.name.as_ref())),
            columns: index_columns(&u.columns),
            unique: true,
        }),
        TableConstraint::ForeignKey(fk) => table.foreign_keys.push(ForeignKey {
            name: ident_name(fk.name.as_ref()),
            columns: fk
                .columns
                .iter()
                .map(|c| c.value.to_ascii_lowercase())
                .collect(),
            referenced_table: object_name_last(&fk.foreign_table),
            referenced_columns: fk
                .referred_columns
                .iter()
                .map(|c| c.value.to_ascii_lowercase())
                .collect(),
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::catalog::IndexUse;

    /// `mariadb-dump --no-data qlat_dumpdemo` (MariaDB 10.11, default
    /// options) of a schema with a trigger, a view, a partitioned table, a
    /// JSON column, a generated column, a FULLTEXT and a prefix index.
    const DUMP: &str = include_str!("testdata/mariadb-dump-no-data.sql");

    #[test]
    fn a_default_options_dump_is_read_as_written() {
        let cat = Catalog::from_ddl(DUMP).expect("dump reads");
        let names: Vec<&str> = cat.tables.keys().map(String::as_str).collect();
        assert_eq!(names, ["account", "event_archive", "log", "order"]);
        let account = cat.table("account").expect("account");
        assert_eq!(account.primary_key, ["id"]);
        assert_eq!(account.columns.len(), 5);
        let idx: Vec<(&str, bool)> = account
            .indexes
            .iter()
            .map(|i| (i.name.as_str(), i.unique))
            .collect();
        assert_eq!(idx, [("uq_email", true), ("k_created", false)]);
        let order = cat
            .table("`order`")
            .or_else(|| cat.table("order"))
            .expect("order");
        assert_eq!(order.foreign_keys[0].referenced_table, "account");
        assert_eq!(order.indexes[0].columns, ["account_id", "status"]);
        assert_eq!(cat.is_indexed("log", "msg"), IndexUse::Leading);
        let archive = cat.table("event_archive").expect("partitioned table");
        assert_eq!(archive.primary_key, ["id", "at"]);
        assert!(cat.table("paid_orders").is_none(), "views are not tables");
    }

    #[test]
    fn statements_skip_comments_and_follow_delimiter() {
        let text = "-- c;\n# d;\n/*!40101 SET x=1 */;\nDELIMITER ;;\nA 'q;;' `b;`;;\nDELIMITER ;\n\
                    B /* ; */ c;\n\nCREATE TABLE t (x int)\n\nCREATE TABLE u (y int)";
        let chunks = statements(text);
        let texts: Vec<&str> = chunks.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "A 'q;;' `b;`",
                "B   c",
                "CREATE TABLE t (x int)",
                "CREATE TABLE u (y int)"
            ]
        );
        assert_eq!(chunks[0].line, 5);
        assert_eq!(chunks[3].line, 11);
    }

    #[test]
    fn use_and_qualified_names_set_the_database() {
        let cat = Catalog::from_ddl(
            "CREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop`;\nUSE `shop`;\n\
             CREATE TABLE item (id int PRIMARY KEY);\nUSE crm;\n\
             CREATE TABLE item (id int, name text);\nCREATE TABLE other.z (a int);",
        )
        .expect("reads");
        assert_eq!(cat.default_database.as_deref(), Some("shop"));
        assert_eq!(cat.databases(), ["crm", "other", "shop"]);
        assert_eq!(cat.table("item").map(|t| t.columns.len()), Some(1));
        assert_eq!(cat.table("shop.item").map(|t| t.columns.len()), Some(1));
        assert_eq!(cat.table("CRM.Item").map(|t| t.columns.len()), Some(2));
        assert_eq!(cat.table("z").map(|t| t.name.as_str()), Some("z"));
        assert!(cat.table("crm.z").is_none());
    }

    #[test]
    fn unreadable_create_table_names_table_and_line() {
        let err =
            Catalog::from_ddl("USE a;\n\nCREATE TABLE `broken` (x int,,)").expect_err("fails");
        let text = err.to_string();
        assert!(
            text.starts_with("line 3: cannot read CREATE TABLE broken"),
            "{text}"
        );
    }
}
