//! Exploration shapes: a seeded pool of query *recipes* over the TPC-H schema.
//!
//! A recipe fixes a statement's structure — tables and join path, projection,
//! which predicates on which columns, grouping, ordering, LIMIT, and the width
//! of every range — and each execution draws fresh literals for it, the way an
//! application or a saved analyst query runs the same shape with new
//! parameters. Real workloads hold hundreds of shapes that are variations of
//! each other; the 22 TPC-H templates and the hand-written ad-hoc shapes alone
//! are too few to measure how a model generalises to a shape it has never
//! seen.

use super::tpch_queries::{COLORS, REGIONS};
use rand::seq::IndexedRandom;
use rand::{Rng, RngExt};
use serde::Serialize;

/// Where a key column's values come from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Domain {
    Order,
    Customer,
    Part,
    Supplier,
    Nation,
    Region,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// A key column; `indexed` is whether an index starts with it.
    Key { domain: Domain, indexed: bool },
    /// A date (no TPC-H date column is indexed).
    Date,
    /// A number uniform-ish between `lo` and `hi`.
    Num { lo: f64, hi: f64, decimals: u8 },
    /// A column with a handful of values.
    Cat(&'static [&'static str]),
    /// Free text searched with LIKE; the words it contains.
    Text(&'static [&'static str]),
}

#[derive(Debug)]
struct Col {
    name: &'static str,
    kind: Kind,
}

#[derive(Debug)]
struct Table {
    name: &'static str,
    alias: &'static str,
    cols: &'static [Col],
}

const fn key(name: &'static str, domain: Domain, indexed: bool) -> Col {
    Col {
        name,
        kind: Kind::Key { domain, indexed },
    }
}
const fn num(name: &'static str, lo: f64, hi: f64, decimals: u8) -> Col {
    Col {
        name,
        kind: Kind::Num { lo, hi, decimals },
    }
}
const fn cat(name: &'static str, values: &'static [&'static str]) -> Col {
    Col {
        name,
        kind: Kind::Cat(values),
    }
}
const fn text(name: &'static str, words: &'static [&'static str]) -> Col {
    Col {
        name,
        kind: Kind::Text(words),
    }
}
const fn date(name: &'static str) -> Col {
    Col {
        name,
        kind: Kind::Date,
    }
}

const COMMENT_WORDS: &[&str] = &[
    "special",
    "pending",
    "express",
    "furiously",
    "carefully",
    "deposits",
    "requests",
    "accounts",
    "packages",
    "ironic",
    "regular",
    "final",
];
const RETURNFLAGS: &[&str] = &["A", "N", "R"];
const LINESTATUS: &[&str] = &["O", "F"];
const SHIPMODES: &[&str] = &["REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB"];
const SHIPINSTRUCT: &[&str] = &[
    "DELIVER IN PERSON",
    "COLLECT COD",
    "NONE",
    "TAKE BACK RETURN",
];
const ORDERSTATUS: &[&str] = &["F", "O", "P"];
const PRIORITIES: &[&str] = &["1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"];
const SEGMENTS: &[&str] = &[
    "AUTOMOBILE",
    "BUILDING",
    "FURNITURE",
    "HOUSEHOLD",
    "MACHINERY",
];
const BRANDS: &[&str] = &[
    "Brand#11", "Brand#12", "Brand#13", "Brand#14", "Brand#15", "Brand#21", "Brand#22", "Brand#23",
    "Brand#24", "Brand#25", "Brand#31", "Brand#32", "Brand#33", "Brand#34", "Brand#35", "Brand#41",
    "Brand#42", "Brand#43", "Brand#44", "Brand#45", "Brand#51", "Brand#52", "Brand#53", "Brand#54",
    "Brand#55",
];
const CONTAINERS: &[&str] = &[
    "SM CASE",
    "SM BOX",
    "SM PACK",
    "MED BAG",
    "MED BOX",
    "MED PKG",
    "LG CASE",
    "LG BOX",
    "LG PACK",
    "JUMBO BOX",
    "JUMBO JAR",
    "WRAP CASE",
    "WRAP DRUM",
];
const MFGRS: &[&str] = &[
    "Manufacturer#1",
    "Manufacturer#2",
    "Manufacturer#3",
    "Manufacturer#4",
    "Manufacturer#5",
];
const NATION_NAMES: &[&str] = &[
    "ALGERIA",
    "ARGENTINA",
    "BRAZIL",
    "CANADA",
    "EGYPT",
    "FRANCE",
    "GERMANY",
    "INDIA",
    "JAPAN",
    "PERU",
    "CHINA",
    "RUSSIA",
    "UNITED KINGDOM",
    "UNITED STATES",
];

use Domain::*;

const TABLES: &[Table] = &[
    Table {
        name: "lineitem",
        alias: "l",
        cols: &[
            key("l_orderkey", Order, true),
            key("l_partkey", Part, true),
            key("l_suppkey", Supplier, true),
            num("l_quantity", 1.0, 50.0, 0),
            num("l_extendedprice", 900.0, 105_000.0, 2),
            num("l_discount", 0.0, 0.10, 2),
            num("l_tax", 0.0, 0.08, 2),
            cat("l_returnflag", RETURNFLAGS),
            cat("l_linestatus", LINESTATUS),
            cat("l_shipmode", SHIPMODES),
            cat("l_shipinstruct", SHIPINSTRUCT),
            date("l_shipdate"),
            date("l_commitdate"),
            date("l_receiptdate"),
            text("l_comment", COMMENT_WORDS),
        ],
    },
    Table {
        name: "orders",
        alias: "o",
        cols: &[
            key("o_orderkey", Order, true),
            key("o_custkey", Customer, true),
            num("o_totalprice", 800.0, 560_000.0, 2),
            cat("o_orderstatus", ORDERSTATUS),
            cat("o_orderpriority", PRIORITIES),
            date("o_orderdate"),
            text("o_comment", COMMENT_WORDS),
        ],
    },
    Table {
        name: "customer",
        alias: "c",
        cols: &[
            key("c_custkey", Customer, true),
            key("c_nationkey", Nation, true),
            num("c_acctbal", -999.99, 9_999.99, 2),
            cat("c_mktsegment", SEGMENTS),
            text("c_comment", COMMENT_WORDS),
            text("c_address", &["a", "e", "x", "Q", "9"]),
        ],
    },
    Table {
        name: "part",
        alias: "p",
        cols: &[
            key("p_partkey", Part, true),
            num("p_retailprice", 900.0, 2_100.0, 2),
            num("p_size", 1.0, 50.0, 0),
            cat("p_brand", BRANDS),
            cat("p_container", CONTAINERS),
            cat("p_mfgr", MFGRS),
            text("p_name", &COLORS),
            text(
                "p_type",
                &["STANDARD", "PROMO", "BRASS", "STEEL", "POLISHED"],
            ),
        ],
    },
    Table {
        name: "partsupp",
        alias: "ps",
        cols: &[
            key("ps_partkey", Part, true),
            key("ps_suppkey", Supplier, true),
            num("ps_availqty", 1.0, 9_999.0, 0),
            num("ps_supplycost", 1.0, 1_000.0, 2),
            text("ps_comment", COMMENT_WORDS),
        ],
    },
    Table {
        name: "supplier",
        alias: "s",
        cols: &[
            key("s_suppkey", Supplier, true),
            key("s_nationkey", Nation, true),
            num("s_acctbal", -999.99, 9_999.99, 2),
            text("s_comment", COMMENT_WORDS),
            text(
                "s_name",
                &["Supplier#0000001", "Supplier#00000", "Supplier#0000009"],
            ),
        ],
    },
    Table {
        name: "nation",
        alias: "n",
        cols: &[
            key("n_nationkey", Nation, true),
            key("n_regionkey", Region, true),
            cat("n_name", NATION_NAMES),
        ],
    },
    Table {
        name: "region",
        alias: "r",
        cols: &[key("r_regionkey", Region, true), cat("r_name", &REGIONS)],
    },
];

/// Foreign-key edges: (table, column) = (table, column).
const EDGES: &[(&str, &str, &str, &str)] = &[
    ("lineitem", "l_orderkey", "orders", "o_orderkey"),
    ("lineitem", "l_partkey", "part", "p_partkey"),
    ("lineitem", "l_suppkey", "supplier", "s_suppkey"),
    ("orders", "o_custkey", "customer", "c_custkey"),
    ("customer", "c_nationkey", "nation", "n_nationkey"),
    ("supplier", "s_nationkey", "nation", "n_nationkey"),
    ("partsupp", "ps_partkey", "part", "p_partkey"),
    ("partsupp", "ps_suppkey", "supplier", "s_suppkey"),
    ("nation", "n_regionkey", "region", "r_regionkey"),
];

/// A column of a table of the recipe: (index into TABLES, index into cols).
type ColRef = (usize, usize);

#[derive(Debug, Clone, Copy, Serialize)]
enum Op {
    Eq,
    /// A range whose width is fixed by the recipe: days for dates, keys for
    /// keys, a fraction of the domain for numbers.
    Range(f64),
    In(usize),
    LikePrefix,
    LikeContains,
}

#[derive(Debug, Clone, Serialize)]
enum Projection {
    CountStar,
    Star,
    Columns(Vec<ColRef>),
    Aggregates(Vec<(&'static str, ColRef)>),
}

/// One exploration shape; literals are drawn anew by [`Recipe::render`].
#[derive(Debug, Clone, Serialize)]
pub struct Recipe {
    /// Tables in join order; each after the first joins an earlier one.
    tables: Vec<usize>,
    /// Join conditions between tables of the recipe.
    joins: Vec<(ColRef, ColRef)>,
    projection: Projection,
    predicates: Vec<(ColRef, Op)>,
    group_by: Option<ColRef>,
    order_by: Option<(String, bool)>,
    limit: Option<u32>,
    /// Whether an application (parameterised, repeated) or an analyst runs it.
    pub by_application: bool,
}

fn table_index(name: &str) -> usize {
    TABLES.iter().position(|t| t.name == name).unwrap_or(0)
}

fn col_index(t: usize, name: &str) -> usize {
    TABLES[t]
        .cols
        .iter()
        .position(|c| c.name == name)
        .unwrap_or(0)
}

fn col(r: ColRef) -> &'static Col {
    &TABLES[r.0].cols[r.1]
}

/// Key ranges at scale factor 1; order keys are sparse (8 of every 32).
fn key_span(domain: Domain, sf: f64) -> u64 {
    let per_sf1 = match domain {
        Order => 6_000_000.0,
        Customer => 150_000.0,
        Part => 200_000.0,
        Supplier => 10_000.0,
        Nation => return 25,
        Region => return 5,
    };
    ((per_sf1 * sf) as u64).max(1)
}

fn key_value<R: Rng + ?Sized>(rng: &mut R, domain: Domain, sf: f64) -> u64 {
    match domain {
        Nation | Region => rng.random_range(0..key_span(domain, sf)),
        Order => {
            let n = (key_span(domain, sf) / 4).max(1);
            let i = rng.random_range(0..n);
            (i / 8) * 32 + (i % 8) + 1
        }
        _ => rng.random_range(1..=key_span(domain, sf)),
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl Recipe {
    /// Draws a recipe; cheap enough to run hundreds of times on SF 0.1 (a
    /// join driven by lineitem or orders always has a predicate or a LIMIT).
    pub fn draw<R: Rng + ?Sized>(rng: &mut R) -> Recipe {
        let weights = [30, 20, 14, 12, 10, 8, 4, 2];
        let total: u32 = weights.iter().sum();
        let mut roll = rng.random_range(0..total);
        let mut base = 0;
        for (i, w) in weights.iter().enumerate() {
            if roll < *w {
                base = i;
                break;
            }
            roll -= w;
        }
        let mut tables = vec![base];
        let mut joins = Vec::new();
        let extra = *[0, 0, 0, 0, 0, 1, 1, 1, 2].choose(rng).unwrap_or(&0);
        for _ in 0..extra {
            let options: Vec<_> = EDGES
                .iter()
                .filter_map(|&(a, ac, b, bc)| {
                    let (ia, ib) = (table_index(a), table_index(b));
                    match (tables.contains(&ia), tables.contains(&ib)) {
                        (true, false) => Some(((ia, col_index(ia, ac)), (ib, col_index(ib, bc)))),
                        (false, true) => Some(((ib, col_index(ib, bc)), (ia, col_index(ia, ac)))),
                        _ => None,
                    }
                })
                .collect();
            let Some(&(from, to)) = options.choose(rng) else {
                break;
            };
            tables.push(to.0);
            joins.push((from, to));
        }
        let all_cols: Vec<ColRef> = tables
            .iter()
            .flat_map(|&t| (0..TABLES[t].cols.len()).map(move |c| (t, c)))
            .collect();

        let n_preds = *[0, 1, 1, 1, 2, 2, 3].choose(rng).unwrap_or(&1);
        let mut predicates: Vec<(ColRef, Op)> = Vec::new();
        for _ in 0..n_preds {
            let Some(&c) = all_cols.choose(rng) else {
                break;
            };
            if predicates.iter().any(|(p, _)| *p == c) {
                continue;
            }
            let op = match col(c).kind {
                Kind::Key { domain, .. } => match rng.random_range(0..3) {
                    0 => Op::Eq,
                    1 if !matches!(domain, Nation | Region) => Op::Range(
                        *[10.0, 100.0, 1_000.0, 10_000.0]
                            .choose(rng)
                            .unwrap_or(&100.0),
                    ),
                    _ => Op::In(*[2, 5, 10, 40].choose(rng).unwrap_or(&5)),
                },
                Kind::Date => {
                    Op::Range(*[1.0, 7.0, 30.0, 90.0, 365.0].choose(rng).unwrap_or(&30.0))
                }
                Kind::Num { .. } => Op::Range(*[0.01, 0.05, 0.2, 0.5].choose(rng).unwrap_or(&0.05)),
                Kind::Cat(values) => {
                    if values.len() > 3 && rng.random_bool(0.4) {
                        Op::In(rng.random_range(2..=3))
                    } else {
                        Op::Eq
                    }
                }
                Kind::Text(_) => {
                    if rng.random_bool(0.5) {
                        Op::LikePrefix
                    } else {
                        Op::LikeContains
                    }
                }
            };
            predicates.push((c, op));
        }

        let groupable: Vec<ColRef> = all_cols
            .iter()
            .copied()
            .filter(|&c| {
                matches!(col(c).kind, Kind::Cat(_))
                    || matches!(
                        col(c).kind,
                        Kind::Key {
                            domain: Nation | Region,
                            ..
                        }
                    )
            })
            .collect();
        let numeric: Vec<ColRef> = all_cols
            .iter()
            .copied()
            .filter(|&c| matches!(col(c).kind, Kind::Num { .. }))
            .collect();
        let aggregates = |rng: &mut R| -> Vec<(&'static str, ColRef)> {
            let n = rng.random_range(1..=3);
            (0..n)
                .filter_map(|_| {
                    let f = *["SUM", "AVG", "MIN", "MAX"].choose(rng)?;
                    Some((f, *numeric.choose(rng)?))
                })
                .collect()
        };

        let mut group_by = None;
        let mut order_by = None;
        let mut limit = None;
        let projection = match rng.random_range(0..10) {
            0..=1 => Projection::CountStar,
            2..=3 if !groupable.is_empty() => {
                let g = *groupable.choose(rng).unwrap_or(&(0, 0));
                group_by = Some(g);
                if rng.random_bool(0.5) {
                    order_by = Some(("n".to_string(), true));
                    if rng.random_bool(0.5) {
                        limit = Some(*[5, 10, 20].choose(rng).unwrap_or(&10));
                    }
                }
                Projection::Aggregates(
                    std::iter::once(("COUNT", g))
                        .chain(aggregates(rng))
                        .collect(),
                )
            }
            4 if !numeric.is_empty() => Projection::Aggregates(aggregates(rng)),
            5 => Projection::Star,
            _ => {
                let n = rng.random_range(1..=5);
                let cols = (0..n).filter_map(|_| all_cols.choose(rng).copied()).fold(
                    Vec::new(),
                    |mut v, c| {
                        if !v.contains(&c) {
                            v.push(c);
                        }
                        v
                    },
                );
                Projection::Columns(cols)
            }
        };
        let rows_out = matches!(projection, Projection::Star | Projection::Columns(_));
        if rows_out {
            if rng.random_bool(0.4) {
                let c = *all_cols.choose(rng).unwrap_or(&(0, 0));
                order_by = Some((qualified(&tables, c), rng.random_bool(0.5)));
            }
            let selective = predicates.iter().any(|(c, op)| {
                matches!(col(*c).kind, Kind::Key { .. })
                    && !matches!(op, Op::Range(s) if *s > 1_000.0)
            });
            if !selective || rng.random_bool(0.3) {
                limit = Some(*[1, 10, 50, 100, 1_000, 5_000].choose(rng).unwrap_or(&100));
            }
        }
        // A join driven by a big table without a selective predicate would
        // take tens of seconds per run; give it a narrow key predicate.
        let big_driver = tables.len() > 1
            && tables
                .iter()
                .any(|&t| matches!(TABLES[t].name, "lineitem" | "orders" | "partsupp"));
        let has_key_pred = predicates.iter().any(|(c, op)| {
            matches!(col(*c).kind, Kind::Key { domain, .. } if !matches!(domain, Nation | Region))
                && match op {
                    Op::Eq | Op::In(_) => true,
                    Op::Range(span) => *span <= 1_000.0,
                    _ => false,
                }
        });
        if big_driver && !has_key_pred {
            let keyed: Vec<ColRef> = all_cols
                .iter()
                .copied()
                .filter(|&c| {
                    matches!(col(c).kind, Kind::Key { domain, .. } if !matches!(domain, Nation | Region))
                })
                .collect();
            if let Some(&c) = keyed.choose(rng) {
                predicates.retain(|(p, _)| *p != c);
                let op = if rng.random_bool(0.5) {
                    Op::Range(*[10.0, 100.0, 1_000.0].choose(rng).unwrap_or(&100.0))
                } else {
                    Op::In(*[2, 5, 10].choose(rng).unwrap_or(&5))
                };
                predicates.push((c, op));
            }
        }
        Recipe {
            tables,
            joins,
            projection,
            predicates,
            group_by,
            order_by,
            limit,
            by_application: rng.random_bool(0.4),
        }
    }

    /// The recipe's label in the capture's bookkeeping.
    pub fn label(&self) -> String {
        let names: Vec<&str> = self.tables.iter().map(|&t| TABLES[t].name).collect();
        format!("explore:{}", names.join("+"))
    }

    /// One statement of this shape with fresh literals.
    pub fn render<R: Rng + ?Sized>(&self, rng: &mut R, sf: f64) -> String {
        let q = |c: ColRef| qualified(&self.tables, c);
        let select = match &self.projection {
            Projection::CountStar => "COUNT(*)".to_string(),
            Projection::Star => "*".to_string(),
            Projection::Columns(cols) => cols.iter().map(|&c| q(c)).collect::<Vec<_>>().join(", "),
            Projection::Aggregates(aggs) => aggs
                .iter()
                .enumerate()
                .map(|(i, (f, c))| match (*f, self.group_by) {
                    ("COUNT", Some(g)) if i == 0 => format!("{}, COUNT(*) AS n", q(g)),
                    _ => format!("{f}({})", q(*c)),
                })
                .collect::<Vec<_>>()
                .join(", "),
        };
        let mut sql = format!("SELECT {select} FROM {}", self.table_sql(0));
        for (i, (from, to)) in self.joins.iter().enumerate() {
            sql.push_str(&format!(
                " JOIN {} ON {} = {}",
                self.table_sql(i + 1),
                q(*to),
                q(*from)
            ));
        }
        let conds: Vec<String> = self
            .predicates
            .iter()
            .map(|&(c, op)| condition(&q(c), col(c).kind, op, rng, sf))
            .collect();
        if !conds.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conds.join(" AND "));
        }
        if let Some(g) = self.group_by {
            sql.push_str(&format!(" GROUP BY {}", q(g)));
        }
        if let Some((by, desc)) = &self.order_by {
            sql.push_str(&format!(
                " ORDER BY {by}{}",
                if *desc { " DESC" } else { "" }
            ));
        }
        if let Some(n) = self.limit {
            sql.push_str(&format!(" LIMIT {n}"));
        }
        sql
    }

    fn table_sql(&self, i: usize) -> String {
        let t = &TABLES[self.tables[i]];
        if self.tables.len() > 1 {
            format!("{} {}", t.name, t.alias)
        } else {
            t.name.to_string()
        }
    }
}

fn qualified(tables: &[usize], c: ColRef) -> String {
    if tables.len() > 1 {
        format!("{}.{}", TABLES[c.0].alias, col(c).name)
    } else {
        col(c).name.to_string()
    }
}

fn day(rng: &mut (impl Rng + ?Sized)) -> chrono::NaiveDate {
    let start = chrono::NaiveDate::from_ymd_opt(1992, 1, 1).unwrap_or_default();
    start + chrono::Duration::days(rng.random_range(0..2_400))
}

fn number(lo: f64, hi: f64, decimals: u8, rng: &mut (impl Rng + ?Sized)) -> String {
    let x = rng.random_range(lo..hi);
    format!("{x:.prec$}", prec = decimals as usize)
}

fn condition<R: Rng + ?Sized>(q: &str, kind: Kind, op: Op, rng: &mut R, sf: f64) -> String {
    let value = |rng: &mut R| -> String {
        match kind {
            Kind::Key { domain, .. } => key_value(rng, domain, sf).to_string(),
            Kind::Date => quote(&day(rng).to_string()),
            Kind::Num { lo, hi, decimals } => number(lo, hi, decimals, rng),
            Kind::Cat(values) | Kind::Text(values) => quote(values.choose(rng).unwrap_or(&"x")),
        }
    };
    match op {
        Op::Eq => format!("{q} = {}", value(rng)),
        Op::In(n) => {
            let vals: Vec<String> = (0..n).map(|_| value(rng)).collect();
            format!("{q} IN ({})", vals.join(", "))
        }
        Op::Range(width) => match kind {
            Kind::Key { domain, .. } => {
                let lo = key_value(rng, domain, sf);
                let span = if domain == Order { width * 4.0 } else { width };
                format!("{q} BETWEEN {lo} AND {}", lo + span as u64)
            }
            Kind::Date => {
                let d = day(rng);
                format!(
                    "{q} >= '{d}' AND {q} < '{}'",
                    d + chrono::Duration::days(width as i64)
                )
            }
            Kind::Num { lo, hi, decimals } => {
                let w = (hi - lo) * width;
                let a = rng.random_range(lo..(hi - w).max(lo + f64::EPSILON));
                let prec = decimals as usize;
                format!("{q} BETWEEN {a:.prec$} AND {:.prec$}", a + w)
            }
            _ => format!("{q} = {}", value(rng)),
        },
        Op::LikePrefix | Op::LikeContains => {
            let w = match kind {
                Kind::Text(words) | Kind::Cat(words) => words.choose(rng).copied().unwrap_or("a"),
                _ => "a",
            };
            if matches!(op, Op::LikePrefix) {
                format!("{q} LIKE {}", quote(&format!("{w}%")))
            } else {
                format!("{q} LIKE {}", quote(&format!("%{w}%")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn recipes_render_parseable_sql_with_many_shapes() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let recipes: Vec<Recipe> = (0..300).map(|_| Recipe::draw(&mut rng)).collect();
        let mut fingerprints = std::collections::HashSet::new();
        for r in &recipes {
            for _ in 0..3 {
                let sql = r.render(&mut rng, 0.1);
                let catalog = crate::sql::catalog::Catalog::default();
                let f = crate::sql::features::extract(&sql, &catalog);
                assert!(f.parsed, "{sql}: {:?}", f.unparsed_reason);
                fingerprints.insert(crate::sql::fingerprint::fingerprint(&sql));
            }
        }
        assert!(fingerprints.len() > 200, "{} shapes", fingerprints.len());
    }

    #[test]
    fn the_same_recipe_keeps_its_fingerprint() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for _ in 0..100 {
            let r = Recipe::draw(&mut rng);
            let a = crate::sql::fingerprint::fingerprint(&r.render(&mut rng, 0.1));
            let b = crate::sql::fingerprint::fingerprint(&r.render(&mut rng, 0.1));
            assert_eq!(a, b, "{r:?}");
        }
    }
}
