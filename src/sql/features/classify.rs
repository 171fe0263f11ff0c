//! What kind of statement this is, from its first keywords (no parse
//! needed) or from its AST.

use super::*;

/// Strips leading whitespace, `/* ... */`, `-- ...` and `# ...` comments.
/// MySQL executable comments (`/*!40101 SET NAMES utf8 */`) are the
/// statement itself, so their content is returned instead.
pub fn strip_leading_comments(sql: &str) -> &str {
    let mut s = sql.trim_start();
    loop {
        if let Some(rest) = s.strip_prefix("/*!") {
            let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
            let inner = rest.rfind("*/").map_or(rest, |end| &rest[..end]);
            return inner.trim();
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest
                .find("*/")
                .map_or("", |end| &rest[end + 2..])
                .trim_start();
        } else if s.starts_with("--") || s.starts_with('#') {
            s = s.find('\n').map_or("", |end| &s[end + 1..]).trim_start();
        } else {
            return s.trim_end_matches(|c: char| c.is_whitespace() || c == ';');
        }
    }
}

/// True when `s` contains the word `select` in any case.
pub(super) fn contains_select(s: &str) -> bool {
    s.as_bytes()
        .windows(6)
        .any(|w| w.eq_ignore_ascii_case(b"select"))
}

/// First keywords of protocol and administrative commands: their cost is a
/// round trip or server-side work the catalog says nothing about.
const ADMIN_KEYWORDS: [&str; 31] = [
    "quit",
    "ping",
    "connect",
    "administrator",
    "kill",
    "shutdown",
    "flush",
    "reset",
    "init",
    "statistics",
    "processlist",
    "change",
    "binlog",
    "field",
    "grant",
    "revoke",
    "analyze",
    "optimize",
    "check",
    "checksum",
    "repair",
    "lock",
    "unlock",
    "purge",
    "install",
    "uninstall",
    "start",
    "stop",
    "xa",
    "help",
    "cache",
];

/// Classifies a statement by its first keyword(s). Used for chatter (no
/// parse needed), for text sqlparser rejects, and for statement types whose
/// AST variant we do not distinguish.
pub fn kind_from_keywords(body: &str) -> StatementKind {
    let body = body.trim_start_matches(|c: char| c == '(' || c.is_whitespace());
    let mut words = body
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty());
    let first = words.next().unwrap_or("");
    let second = words.next().unwrap_or("");
    let is = |w: &str, k: &str| w.eq_ignore_ascii_case(k);
    let any = |w: &str, ks: &[&str]| ks.iter().any(|k| w.eq_ignore_ascii_case(k));
    if any(first, &["select", "with", "values", "table"]) {
        StatementKind::Select
    } else if any(first, &["insert", "load"]) {
        StatementKind::Insert
    } else if is(first, "update") {
        StatementKind::Update
    } else if is(first, "delete") {
        StatementKind::Delete
    } else if is(first, "replace") {
        StatementKind::Replace
    } else if is(first, "set") {
        StatementKind::Set
    } else if is(first, "show") {
        StatementKind::Show
    } else if is(first, "use") {
        StatementKind::Use
    } else if is(first, "begin") || (is(first, "start") && is(second, "transaction")) {
        StatementKind::Begin
    } else if is(first, "commit") {
        StatementKind::Commit
    } else if is(first, "rollback") {
        StatementKind::Rollback
    } else if is(first, "create") {
        StatementKind::Create
    } else if any(first, &["drop", "truncate"]) {
        StatementKind::Drop
    } else if any(first, &["alter", "rename"]) {
        StatementKind::Alter
    } else if is(first, "call") {
        StatementKind::Call
    } else if any(first, &["explain", "describe", "desc"]) {
        StatementKind::Explain
    } else if any(first, &ADMIN_KEYWORDS) {
        StatementKind::Admin
    } else {
        StatementKind::Other
    }
}

/// Whether a `SHOW` statement is answered by filling an
/// `information_schema` table (MariaDB's `prepare_schema_table` path):
/// lists of variables, status counters, databases, tables, columns,
/// indexes, processes, plugins, engines, character sets, routines,
/// triggers, events. `SHOW WARNINGS/ERRORS`, `SHOW CREATE ...`, `SHOW
/// GRANTS` and replication status read in-memory structures directly.
pub(super) fn show_reads_server_metadata(body: &str) -> bool {
    const MODIFIERS: [&str; 6] = ["full", "global", "session", "local", "extended", "open"];
    const TARGETS: [&str; 21] = [
        "variables",
        "status",
        "databases",
        "schemas",
        "tables",
        "table",
        "columns",
        "fields",
        "index",
        "indexes",
        "keys",
        "processlist",
        "plugins",
        "engines",
        "charset",
        "character",
        "collation",
        "procedure",
        "function",
        "triggers",
        "events",
    ];
    body.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .skip(1)
        .find(|w| !MODIFIERS.iter().any(|m| w.eq_ignore_ascii_case(m)))
        .is_some_and(|w| TARGETS.iter().any(|t| w.eq_ignore_ascii_case(t)))
}

/// Kind from the AST, falling back to the keyword guess for the many
/// statement variants that do not need distinguishing.
pub(super) fn kind_of(s: &Statement, guess: StatementKind) -> StatementKind {
    match s {
        Statement::Query(_) => StatementKind::Select,
        Statement::Insert(i) if i.replace_into => StatementKind::Replace,
        Statement::Insert(_) => {
            if guess == StatementKind::Replace {
                StatementKind::Replace
            } else {
                StatementKind::Insert
            }
        }
        Statement::Update(_) => StatementKind::Update,
        Statement::Delete(_) => StatementKind::Delete,
        Statement::Set(_) => StatementKind::Set,
        Statement::Use(_) => StatementKind::Use,
        Statement::StartTransaction { .. } => StatementKind::Begin,
        Statement::Commit { .. } => StatementKind::Commit,
        Statement::Rollback { .. } => StatementKind::Rollback,
        Statement::Call(_) => StatementKind::Call,
        Statement::Explain { .. } | Statement::ExplainTable { .. } => StatementKind::Explain,
        _ => guess,
    }
}
