//! What a statement touches, in the terms the workload profile counts:
//! kind, tables, columns and operations, with tables named `db.table`.
//!
//! Parsing every event would dominate `qlat analyze`, so shapes are cached.
//! Not per fingerprint alone: pt-query-digest folds digits inside
//! identifiers, so `shelf1` .. `shelf4` share a class, and crediting the
//! class's first table with all its statements misstates where time goes.
//! The cache key is the fingerprint plus the statement's digit-bearing
//! identifiers (cheap to scan), and the labels are qualified with the
//! event's session database (cached per database).

use std::borrow::Cow;
use std::collections::HashMap;

use crate::sql::catalog::Catalog;
use crate::sql::features::{self, StatementKind, TableAccess};

/// Identifier variants remembered per fingerprint. A log whose statements
/// name ever-new tables (`tmp_20261207_1`, ...) would otherwise grow the
/// cache with every event; beyond this, such statements are parsed each
/// time instead (correct, only slower).
const MAX_VARIANTS: usize = 256;
/// Databases whose labels are remembered per variant.
const MAX_DATABASES: usize = 16;
/// Tables listed for one class (the digest's `tables`).
const MAX_CLASS_TABLES: usize = 32;

/// The profile-relevant facts of one statement, tables as it names them.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    pub kind: &'static str,
    pub parsed: bool,
    /// (database the statement names, if any; lower-case table name).
    pub tables: Vec<(Option<String>, String)>,
    /// (index into `tables` of the column's table, if it is one of them;
    /// the column, without that table when there is one).
    pub columns: Vec<(Option<usize>, String)>,
    /// Operations other than full scans.
    pub operations: Vec<String>,
    /// Indexes into `tables` of the tables read in full.
    pub full_scans: Vec<usize>,
}

/// A statement's labels with tables qualified by database.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Labels {
    pub tables: Vec<String>,
    pub columns: Vec<String>,
    pub operations: Vec<String>,
}

pub(crate) fn kind_name(kind: StatementKind) -> &'static str {
    match kind {
        StatementKind::Select => "SELECT",
        StatementKind::Insert => "INSERT",
        StatementKind::Update => "UPDATE",
        StatementKind::Delete => "DELETE",
        StatementKind::Replace => "REPLACE",
        StatementKind::Set => "SET",
        StatementKind::Show => "SHOW",
        StatementKind::Use => "USE",
        StatementKind::Begin => "BEGIN",
        StatementKind::Commit => "COMMIT",
        StatementKind::Rollback => "ROLLBACK",
        StatementKind::Create => "CREATE",
        StatementKind::Drop => "DROP",
        StatementKind::Alter => "ALTER",
        StatementKind::Call => "CALL",
        StatementKind::Explain => "EXPLAIN",
        StatementKind::Admin => "ADMIN",
        StatementKind::Other => "OTHER",
    }
}

fn push_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_string());
    }
}

impl Shape {
    pub fn of(sql: &str, catalog: &Catalog) -> Shape {
        let f = features::extract(sql, catalog);
        let mut tables: Vec<(Option<String>, String)> = Vec::new();
        let mut full_scans = Vec::new();
        for t in &f.tables {
            let key = (t.schema.clone(), t.name.clone());
            let i = match tables.iter().position(|x| *x == key) {
                Some(i) => i,
                None => {
                    tables.push(key);
                    tables.len() - 1
                }
            };
            if t.access == TableAccess::FullScan && !full_scans.contains(&i) {
                full_scans.push(i);
            }
        }
        let mut columns: Vec<(Option<usize>, String)> = Vec::new();
        let c = &f.columns;
        for col in c
            .select
            .iter()
            .chain(&c.where_)
            .chain(&c.join)
            .chain(&c.group_by)
            .chain(&c.order_by)
        {
            if col == "*" || col.ends_with(".*") {
                continue;
            }
            let owner = col.split_once('.').and_then(|(table, column)| {
                let i = tables.iter().position(|(_, name)| name == table)?;
                Some((i, column))
            });
            let entry = match owner {
                Some((i, column)) => (Some(i), column.to_string()),
                None => (None, col.clone()),
            };
            if !columns.contains(&entry) {
                columns.push(entry);
            }
        }
        Shape {
            kind: kind_name(f.kind),
            parsed: f.parsed,
            operations: operations(&f),
            tables,
            columns,
            full_scans,
        }
    }

    /// The labels with each table named `db.table`: the database the
    /// statement names, else `session_db`; bare when neither is known.
    pub fn labels(&self, session_db: Option<&str>) -> Labels {
        let tables: Vec<String> = self
            .tables
            .iter()
            .map(|(schema, name)| match schema.as_deref().or(session_db) {
                Some(db) if !db.is_empty() => format!("{db}.{name}"),
                _ => name.clone(),
            })
            .collect();
        let columns = self
            .columns
            .iter()
            .map(|(table, column)| match table.and_then(|i| tables.get(i)) {
                Some(t) => format!("{t}.{column}"),
                None => column.clone(),
            })
            .collect();
        let mut operations: Vec<String> = self
            .full_scans
            .iter()
            .filter_map(|i| tables.get(*i))
            .map(|t| format!("full scan of {t}"))
            .collect();
        operations.extend(self.operations.iter().cloned());
        Labels {
            tables,
            columns,
            operations,
        }
    }
}

/// What the statement does, apart from full scans.
fn operations(f: &features::StatementFeatures) -> Vec<String> {
    let mut operations = Vec::new();
    let p = &f.predicates;
    let mut op = |cond: bool, name: &str| {
        if cond {
            push_unique(&mut operations, name);
        }
    };
    op(f.joins.count > 0, "join");
    op(
        f.joins.left + f.joins.right + f.joins.full > 0,
        "outer join",
    );
    op(f.joins.keys_unindexed > 0, "join on non-indexed key");
    op(f.aggregate_count > 0, "aggregate");
    op(f.group_by > 0, "GROUP BY");
    op(f.order_by > 0, "ORDER BY");
    op(f.having, "HAVING");
    op(f.distinct, "DISTINCT");
    op(f.limit.is_some(), "LIMIT");
    op(f.subqueries.count > 0, "subquery");
    op(f.subqueries.correlated > 0, "correlated subquery");
    op(
        f.subqueries.derived_tables + f.subqueries.ctes > 0,
        "derived table / CTE",
    );
    op(!f.set_operations.is_empty(), "UNION / set operation");
    op(p.ops.like + p.ops.not_like > 0, "LIKE");
    op(p.like_leading_wildcard > 0, "LIKE with leading wildcard");
    op(p.in_list_max > 0, "IN list");
    op(!p.ranges.is_empty() || p.ops.between > 0, "range predicate");
    op(f.case_count > 0, "CASE");
    op(f.select_star, "SELECT *");
    operations
}

/// Appends the words of `sql` that the fingerprint changes but that name
/// things: identifiers holding digits (`shelf1`, `db2`, `` `t_3` ``), each
/// followed by a NUL. Quoted strings and comments are skipped: their
/// contents are values, which vary from one execution to the next.
pub(crate) fn digit_identifiers(sql: &str, out: &mut String) {
    let b = sql.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = memchr::memmem::find(&b[i + 2..], b"*/").map_or(b.len(), |j| i + j + 4);
            }
            b'#' => i = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |j| i + j),
            b'-' if b.get(i + 1) == Some(&b'-')
                && b.get(i + 2).is_none_or(|c| c.is_ascii_whitespace()) =>
            {
                i = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |j| i + j);
            }
            c if word(c) || c == b'`' => {
                let quoted = c == b'`';
                let start = if quoted { i + 1 } else { i };
                let mut end = start;
                while end < b.len() && (if quoted { b[end] != b'`' } else { word(b[end]) }) {
                    end += 1;
                }
                let w = &b[start..end];
                if w.first().is_some_and(|c| !c.is_ascii_digit())
                    && w.iter().any(u8::is_ascii_digit)
                {
                    out.push_str(&String::from_utf8_lossy(w));
                    out.push('\0');
                }
                i = if quoted { end + 1 } else { end };
            }
            _ => i += 1,
        }
    }
}

/// A statement as the profile counts it.
pub(crate) struct Seen<'a> {
    pub kind: &'static str,
    pub parsed: bool,
    pub labels: Cow<'a, Labels>,
}

/// One digest class: its first statement's kind, whether that parsed, and
/// the tables its statements touched.
#[derive(Debug)]
pub(crate) struct ClassShapes {
    pub kind: &'static str,
    pub parsed: bool,
    pub tables: Vec<String>,
    variants: HashMap<String, Variant>,
}

#[derive(Debug)]
struct Variant {
    shape: Shape,
    labels: Vec<(Option<String>, Labels)>,
}

/// Shapes per fingerprint, identifier variant and database.
#[derive(Debug, Default)]
pub(crate) struct ShapeCache {
    classes: HashMap<String, ClassShapes>,
    key: String,
}

impl ClassShapes {
    fn new(shape: Shape, key: &str) -> ClassShapes {
        let mut class = ClassShapes {
            kind: shape.kind,
            parsed: shape.parsed,
            tables: Vec::new(),
            variants: HashMap::new(),
        };
        class.variants.insert(key.to_owned(), Variant::new(shape));
        class
    }

    fn add_tables(&mut self, labels: &Labels) {
        add_tables(&mut self.tables, labels);
    }

    /// The labels of variant `key` in `db` (cached when there is room).
    fn seen(&mut self, key: &str, db: Option<&str>) -> Option<Seen<'_>> {
        let variant = self.variants.get_mut(key)?;
        let index = match variant.labels.iter().position(|(d, _)| d.as_deref() == db) {
            Some(i) => i,
            None => {
                let labels = variant.shape.labels(db);
                add_tables(&mut self.tables, &labels);
                if variant.labels.len() >= MAX_DATABASES {
                    return Some(Seen {
                        kind: variant.shape.kind,
                        parsed: variant.shape.parsed,
                        labels: Cow::Owned(labels),
                    });
                }
                variant.labels.push((db.map(str::to_owned), labels));
                variant.labels.len() - 1
            }
        };
        let variant = &*variant;
        Some(Seen {
            kind: variant.shape.kind,
            parsed: variant.shape.parsed,
            labels: Cow::Borrowed(&variant.labels[index].1),
        })
    }
}

fn add_tables(tables: &mut Vec<String>, labels: &Labels) {
    for t in &labels.tables {
        if tables.len() < MAX_CLASS_TABLES && !tables.contains(t) {
            tables.push(t.clone());
        }
    }
}

impl Variant {
    fn new(shape: Shape) -> Variant {
        Variant {
            shape,
            labels: Vec::new(),
        }
    }
}

impl ShapeCache {
    /// The class of fingerprint `fp`, once a statement of it was seen.
    pub(crate) fn class(&self, fp: &str) -> Option<&ClassShapes> {
        self.classes.get(fp)
    }

    /// What the statement `sql` of class `fp`, run in `db`, touches.
    pub(crate) fn see(
        &mut self,
        fp: &str,
        sql: &str,
        db: Option<&str>,
        catalog: &Catalog,
    ) -> Seen<'_> {
        let Self { classes, key } = self;
        key.clear();
        digit_identifiers(sql, key);
        if !classes.contains_key(fp) {
            let class = ClassShapes::new(Shape::of(sql, catalog), key);
            classes.insert(fp.to_owned(), class);
        }
        let Some(class) = classes.get_mut(fp) else {
            return Seen::owned(Shape::of(sql, catalog), db);
        };
        if !class.variants.contains_key(key.as_str()) {
            if class.variants.len() >= MAX_VARIANTS {
                let seen = Seen::owned(Shape::of(sql, catalog), db);
                class.add_tables(&seen.labels);
                return seen;
            }
            let variant = Variant::new(Shape::of(sql, catalog));
            class.variants.insert(key.clone(), variant);
        }
        match class.seen(key, db) {
            Some(seen) => seen,
            None => Seen::owned(Shape::of(sql, catalog), db),
        }
    }
}

impl Seen<'static> {
    fn owned(shape: Shape, db: Option<&str>) -> Seen<'static> {
        let labels = shape.labels(db);
        Seen {
            kind: shape.kind,
            parsed: shape.parsed,
            labels: Cow::Owned(labels),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_join_with_grouping() {
        let s = Shape::of(
            "SELECT n_name, COUNT(*) FROM customer JOIN nation ON c_nationkey = n_nationkey GROUP BY n_name",
            &Catalog::tpch(),
        );
        assert_eq!(s.kind, "SELECT");
        assert!(s.parsed);
        let l = s.labels(Some("tpch"));
        assert_eq!(l.tables, vec!["tpch.customer", "tpch.nation"]);
        assert!(l.operations.iter().any(|o| o == "join"));
        assert!(l.operations.iter().any(|o| o == "GROUP BY"));
        assert!(l.columns.iter().any(|c| c == "tpch.nation.n_name"), "{l:?}");
        assert_eq!(s.labels(None).tables, vec!["customer", "nation"]);
    }

    #[test]
    fn a_named_database_wins_over_the_session_one() {
        let s = Shape::of(
            "SELECT a.id FROM shelf1 a JOIN qlat_prep_b.shelf1 b ON a.id = b.id WHERE a.qty < 5",
            &Catalog::tpch(),
        );
        let l = s.labels(Some("qlat_prep_a"));
        assert_eq!(l.tables, vec!["qlat_prep_a.shelf1", "qlat_prep_b.shelf1"]);
    }

    #[test]
    fn chatter_has_a_kind_and_nothing_else() {
        let s = Shape::of("SHOW WARNINGS", &Catalog::tpch());
        assert_eq!(s.kind, "SHOW");
        assert!(s.tables.is_empty());
    }

    #[test]
    fn digit_identifiers_skip_values_and_comments() {
        let mut k = String::new();
        digit_identifiers(
            "SELECT c2 FROM `t_3` /* run 42 x9 */ WHERE a = 'v1' AND b = \"w\\\"2\" AND n = 0x1f -- q7\n AND t4.x = 12",
            &mut k,
        );
        assert_eq!(k, "c2\0t_3\0t4\0");
    }

    #[test]
    fn statements_of_one_class_credit_their_own_tables() {
        let catalog = Catalog::tpch();
        let mut cache = ShapeCache::default();
        let fp = crate::sql::fingerprint::fingerprint("SELECT qty FROM shelf1 WHERE id = 1");
        for (sql, db, table) in [
            ("SELECT qty FROM shelf1 WHERE id = 1", "a", "a.shelf1"),
            ("SELECT qty FROM shelf2 WHERE id = 7", "a", "a.shelf2"),
            ("SELECT qty FROM shelf1 WHERE id = 3", "b", "b.shelf1"),
            ("SELECT qty FROM shelf1 WHERE id = 9", "a", "a.shelf1"),
        ] {
            assert_eq!(crate::sql::fingerprint::fingerprint(sql), fp);
            let seen = cache.see(&fp, sql, Some(db), &catalog);
            assert_eq!(seen.labels.tables, vec![table], "{sql} in {db}");
        }
        let class = cache.class(&fp).expect("class");
        assert_eq!(class.tables, vec!["a.shelf1", "a.shelf2", "b.shelf1"]);
        assert_eq!(class.variants.len(), 2);
    }
}
