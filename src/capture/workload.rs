//! A seeded, reproducible workload: which client sends which statements in
//! which session. Generation is pure so the same seed always yields the same
//! statements; only the interleaving of concurrent sessions varies per run.

use super::explore::Recipe;
use super::tpch_queries::{self, COLORS};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// A database account the workload connects as; each has its own habits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// An application server: point lookups, writes, health checks.
    App,
    /// A person in an IDE: ad-hoc exploration with tool-generated prefixes.
    Analyst,
    /// A reporting job: the TPC-H decision-support queries.
    Report,
    /// The DBA: administrative statements, as root.
    Dba,
    /// The `app` dataset's web shop backend: prepared point lookups,
    /// carts and checkouts.
    Web,
    /// The `app` dataset's support desk: ticket queues and text searches.
    Support,
    /// The `app` dataset's reporting and housekeeping jobs.
    Batch,
}

impl Profile {
    pub const ALL: [Profile; 4] = [
        Profile::App,
        Profile::Analyst,
        Profile::Report,
        Profile::Dba,
    ];

    /// The accounts of the `app` dataset's workload.
    pub const SHOP: [Profile; 4] = [Profile::Web, Profile::Support, Profile::Batch, Profile::Dba];

    /// Account name; `None` means the capture's own (root) credentials.
    pub fn user(self) -> Option<&'static str> {
        match self {
            Profile::App => Some("qlat_app"),
            Profile::Analyst => Some("qlat_analyst"),
            Profile::Report => Some("qlat_report"),
            Profile::Dba => None,
            Profile::Web => Some("shop_web"),
            Profile::Support => Some("shop_support"),
            Profile::Batch => Some("shop_batch"),
        }
    }
}

/// One client action.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// A statement sent over the text protocol; `label` names its template
    /// (`tpch:q07`, `adhoc:point_orders`, `chatter:set_names`) for the
    /// capture's own bookkeeping only — the server never sees it.
    Sql { label: String, text: String },
    /// A server-side prepared statement (COM_STMT_PREPARE once per
    /// connection and text, then COM_STMT_EXECUTE with `params`): the
    /// general log shows `Prepare` and `Execute` rows.
    Prepared {
        label: String,
        text: String,
        params: Vec<Param>,
    },
    /// COM_PING.
    Ping,
}

/// A value bound to a prepared statement's placeholder.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Param {
    Int(i64),
    Num(f64),
    Text(String),
}

/// Statements one connection sends between connect and quit.
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    pub profile: Profile,
    pub actions: Vec<Action>,
}

/// Shape of the workload; the defaults produced the committed dataset.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadSpec {
    pub seed: u64,
    pub scale_factor: f64,
    /// Executions of each of the 22 TPC-H templates.
    pub tpch_runs_per_template: usize,
    /// Ad-hoc (non-TPC-H) statements in total, spread over all shapes.
    pub adhoc_statements: usize,
    /// Share of TPC-H texts carrying qgen's `-- using N as a seed` line.
    pub qgen_seed_comment_share: f64,
    /// Distinct exploration shapes ([`explore::Recipe`]) in the pool.
    pub explore_recipes: usize,
    /// Executions of exploration shapes in total, spread over the pool.
    pub explore_statements: usize,
}

/// TPC-H row counts at scale factor 1, to keep generated keys in range.
const ORDERS_SF1: f64 = 1_500_000.0;
const CUSTOMERS_SF1: f64 = 150_000.0;
const PARTS_SF1: f64 = 200_000.0;
const SUPPLIERS_SF1: f64 = 10_000.0;

/// Order keys are sparse in TPC-H: only the first 8 of every 32 are used.
fn order_key<R: Rng + ?Sized>(rng: &mut R, sf: f64) -> u64 {
    let n = ((ORDERS_SF1 * sf) as u64).max(1);
    let i = rng.random_range(0..n);
    (i / 8) * 32 + (i % 8) + 1
}

fn key<R: Rng + ?Sized>(rng: &mut R, per_sf1: f64, sf: f64) -> u64 {
    rng.random_range(1..=((per_sf1 * sf) as u64).max(1))
}

fn date<R: Rng + ?Sized>(rng: &mut R) -> chrono::NaiveDate {
    let start = chrono::NaiveDate::from_ymd_opt(1992, 1, 1).unwrap_or_default();
    start + chrono::Duration::days(rng.random_range(0..2400))
}

/// Number of distinct ad-hoc shapes [`adhoc`] can produce.
pub const ADHOC_SHAPES: usize = 38;

/// An ad-hoc statement of shape `shape` with fresh literals.
pub fn adhoc<R: Rng + ?Sized>(shape: usize, rng: &mut R, sf: f64) -> (String, String) {
    let (name, text) = match shape {
        0 => (
            "point_orders",
            format!(
                "SELECT * FROM orders WHERE o_orderkey = {}",
                order_key(rng, sf)
            ),
        ),
        1 => (
            "point_customer",
            format!(
                "SELECT c_name, c_address, c_phone, c_acctbal FROM customer WHERE c_custkey = {}",
                key(rng, CUSTOMERS_SF1, sf)
            ),
        ),
        2 => {
            let n = rng.random_range(2..=40);
            let keys: Vec<String> = (0..n)
                .map(|_| key(rng, CUSTOMERS_SF1, sf).to_string())
                .collect();
            (
                "customer_in_list",
                format!(
                    "SELECT c_custkey, c_name, c_acctbal FROM customer WHERE c_custkey IN ({})",
                    keys.join(", ")
                ),
            )
        }
        3 => (
            "lineitems_of_order",
            format!(
                "SELECT l_linenumber, l_partkey, l_quantity, l_extendedprice FROM lineitem WHERE l_orderkey = {} ORDER BY l_linenumber",
                order_key(rng, sf)
            ),
        ),
        4 => {
            let d = date(rng);
            let days = *[1, 7, 30, 90, 365].choose(rng).unwrap_or(&7);
            (
                "count_lineitem_shipdate_range",
                format!(
                    "SELECT COUNT(*) FROM lineitem WHERE l_shipdate BETWEEN '{d}' AND '{}'",
                    d + chrono::Duration::days(days)
                ),
            )
        }
        5 => {
            let d = date(rng);
            let days = *[1, 7, 30, 90, 365, 730].choose(rng).unwrap_or(&30);
            (
                "count_orders_date_range",
                format!(
                    "SELECT COUNT(*), SUM(o_totalprice) FROM orders WHERE o_orderdate >= '{d}' AND o_orderdate < '{}'",
                    d + chrono::Duration::days(days)
                ),
            )
        }
        6 => (
            "orders_of_customer",
            format!(
                "SELECT o_orderkey, o_orderdate, o_totalprice, o_orderstatus FROM orders WHERE o_custkey = {} ORDER BY o_orderdate DESC",
                key(rng, CUSTOMERS_SF1, sf)
            ),
        ),
        7 => {
            let p = key(rng, PARTS_SF1, sf);
            (
                "partsupp_point",
                format!(
                    "SELECT ps_availqty, ps_supplycost FROM partsupp WHERE ps_partkey = {p} AND ps_suppkey = {}",
                    tpchgen::generators::PartSuppGeneratorIterator::select_part_supplier(
                        p as i64,
                        rng.random_range(0..4),
                        sf
                    )
                ),
            )
        }
        8 => (
            "lineitem_by_part",
            format!(
                "SELECT l_orderkey, l_quantity, l_shipdate FROM lineitem WHERE l_partkey = {}",
                key(rng, PARTS_SF1, sf)
            ),
        ),
        9 => (
            "lineitem_by_supplier",
            format!(
                "SELECT COUNT(*), SUM(l_quantity) FROM lineitem WHERE l_suppkey = {}",
                key(rng, SUPPLIERS_SF1, sf)
            ),
        ),
        10 => (
            "top_orders_by_price",
            format!(
                "SELECT o_orderkey, o_custkey, o_totalprice FROM orders ORDER BY o_totalprice DESC LIMIT {}",
                [5, 10, 20, 50, 100].choose(rng).unwrap_or(&10)
            ),
        ),
        11 => (
            "top_customers_by_balance",
            format!(
                "SELECT c_custkey, c_name, c_acctbal FROM customer ORDER BY c_acctbal DESC LIMIT {}",
                [10, 25, 100].choose(rng).unwrap_or(&10)
            ),
        ),
        12 => (
            "lineitem_by_returnflag",
            "SELECT l_returnflag, l_linestatus, COUNT(*) FROM lineitem GROUP BY l_returnflag, l_linestatus".to_string(),
        ),
        13 => (
            "orders_by_priority_since",
            format!(
                "SELECT o_orderpriority, COUNT(*), AVG(o_totalprice) FROM orders WHERE o_orderdate >= '{}' GROUP BY o_orderpriority ORDER BY o_orderpriority",
                date(rng)
            ),
        ),
        14 => (
            "customers_by_segment",
            "SELECT c_mktsegment, COUNT(*), AVG(c_acctbal) FROM customer GROUP BY c_mktsegment".to_string(),
        ),
        15 => (
            "customers_per_nation",
            "SELECT n_name, COUNT(*) AS customers FROM customer JOIN nation ON c_nationkey = n_nationkey GROUP BY n_name ORDER BY customers DESC".to_string(),
        ),
        16 => {
            let lo = order_key(rng, sf);
            let span = *[10u64, 100, 1000, 10000].choose(rng).unwrap_or(&100);
            (
                "orders_join_customer_key_range",
                format!(
                    "SELECT o.o_orderkey, o.o_totalprice, c.c_name FROM orders o JOIN customer c ON o.o_custkey = c.c_custkey WHERE o.o_orderkey BETWEEN {lo} AND {}",
                    lo + span
                ),
            )
        }
        17 => (
            "customer_orders_nation_3way",
            format!(
                "SELECT c.c_name, n.n_name, o.o_orderkey, o.o_totalprice FROM customer c JOIN orders o ON o.o_custkey = c.c_custkey JOIN nation n ON n.n_nationkey = c.c_nationkey WHERE c.c_custkey = {}",
                key(rng, CUSTOMERS_SF1, sf)
            ),
        ),
        18 => (
            "part_lineitems_join",
            format!(
                "SELECT p.p_name, l.l_orderkey, l.l_quantity FROM part p JOIN lineitem l ON l.l_partkey = p.p_partkey WHERE p.p_partkey = {}",
                key(rng, PARTS_SF1, sf)
            ),
        ),
        19 => (
            "part_name_contains",
            format!(
                "SELECT p_partkey, p_name, p_retailprice FROM part WHERE p_name LIKE '%{}%' LIMIT 50",
                COLORS.choose(rng).unwrap_or(&"green")
            ),
        ),
        20 => (
            "part_name_prefix",
            format!(
                "SELECT COUNT(*) FROM part WHERE p_name LIKE '{}%'",
                COLORS.choose(rng).unwrap_or(&"green")
            ),
        ),
        21 => (
            "customer_phone_prefix",
            format!(
                "SELECT COUNT(*) FROM customer WHERE c_phone LIKE '{}-%'",
                rng.random_range(10..=34)
            ),
        ),
        22 => ("count_orders", "SELECT COUNT(*) FROM orders".to_string()),
        23 => ("count_lineitem", "SELECT COUNT(*) FROM lineitem".to_string()),
        24 => (
            "select_star_lineitem_limit",
            format!(
                "SELECT * FROM lineitem LIMIT {}",
                [1, 10, 100, 500, 1000, 5000, 20000].choose(rng).unwrap_or(&10)
            ),
        ),
        25 => (
            "select_star_orders_limit",
            format!(
                "SELECT * FROM orders LIMIT {}",
                [1, 10, 50, 200, 1000, 10000].choose(rng).unwrap_or(&10)
            ),
        ),
        26 => (
            "suppliers_of_nation",
            format!(
                "SELECT s_suppkey, s_name, s_acctbal FROM supplier WHERE s_nationkey = {} ORDER BY s_acctbal DESC",
                rng.random_range(0..25)
            ),
        ),
        27 => {
            let lo = rng.random_range(1..=45);
            (
                "part_brand_type_histogram",
                format!(
                    "SELECT p_brand, p_type, COUNT(*) AS n FROM part WHERE p_size BETWEEN {lo} AND {} GROUP BY p_brand, p_type ORDER BY n DESC LIMIT 20",
                    lo + rng.random_range(0..=5)
                ),
            )
        }
        28 => (
            "distinct_shipmodes",
            format!(
                "SELECT DISTINCT l_shipmode FROM lineitem WHERE l_orderkey < {}",
                order_key(rng, sf)
            ),
        ),
        29 => (
            "supplier_availability",
            "SELECT s.s_name, SUM(ps.ps_availqty) AS avail FROM supplier s JOIN partsupp ps ON s.s_suppkey = ps.ps_suppkey GROUP BY s.s_name ORDER BY avail DESC LIMIT 10".to_string(),
        ),
        30 => {
            let d = date(rng);
            let disc = rng.random_range(0..=8);
            (
                "lineitem_stats_window",
                format!(
                    "SELECT AVG(l_quantity), MAX(l_extendedprice) FROM lineitem WHERE l_shipdate >= '{d}' AND l_shipdate < '{}' AND l_discount BETWEEN 0.0{disc} AND 0.0{}",
                    d + chrono::Duration::days(rng.random_range(7..=120)),
                    disc + 1
                ),
            )
        }
        31 => {
            let lo = rng.random_range(-999..9000);
            (
                "customers_balance_range",
                format!(
                    "SELECT c_custkey, c_name, c_acctbal FROM customer WHERE c_acctbal BETWEEN {lo} AND {} ORDER BY c_acctbal LIMIT 50",
                    lo + rng.random_range(10..500)
                ),
            )
        }
        32 => (
            "order_status_of_nation",
            format!(
                "SELECT o_orderstatus, COUNT(*) FROM orders WHERE o_custkey IN (SELECT c_custkey FROM customer WHERE c_nationkey = {}) GROUP BY o_orderstatus",
                rng.random_range(0..25)
            ),
        ),
        33 => (
            "customers_with_big_orders",
            format!(
                "SELECT c.c_name FROM customer c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.o_custkey = c.c_custkey AND o.o_totalprice > {}) LIMIT 20",
                rng.random_range(100_000..500_000)
            ),
        ),
        34 => {
            let n = rng.random_range(0..25);
            (
                "names_in_nation_union",
                format!(
                    "SELECT s_name AS name FROM supplier WHERE s_nationkey = {n} UNION SELECT c_name FROM customer WHERE c_nationkey = {n} LIMIT 50"
                ),
            )
        }
        35 => {
            let rows = rng.random_range(1..=5);
            let values: Vec<String> = (0..rows)
                .map(|_| {
                    format!(
                        "({}, '{}', NOW())",
                        rng.random_range(0..1000),
                        COLORS.choose(rng).unwrap_or(&"red")
                    )
                })
                .collect();
            (
                "scratch_insert",
                format!(
                    "INSERT INTO qlat_scratch (k, v, created) VALUES {}",
                    values.join(", ")
                ),
            )
        }
        36 => (
            "scratch_update",
            format!(
                "UPDATE qlat_scratch SET v = '{}' WHERE k = {}",
                COLORS.choose(rng).unwrap_or(&"red"),
                rng.random_range(0..1000)
            ),
        ),
        _ => (
            "scratch_delete",
            format!(
                "DELETE FROM qlat_scratch WHERE k = {}",
                rng.random_range(0..1000)
            ),
        ),
    };
    (format!("adhoc:{name}"), text)
}

/// Session-opening statements client libraries and tools send.
fn connect_chatter<R: Rng + ?Sized>(profile: Profile, rng: &mut R, out: &mut Vec<Action>) {
    let mut push = |label: &str, text: &str| {
        out.push(Action::Sql {
            label: format!("chatter:{label}"),
            text: text.to_string(),
        })
    };
    match profile {
        Profile::App => {
            push("set_names", "SET NAMES utf8mb4");
            push("set_autocommit", "SET autocommit=1");
            if rng.random_bool(0.5) {
                push(
                    "select_session_vars",
                    "SELECT @@session.auto_increment_increment AS auto_increment_increment, @@max_allowed_packet AS max_allowed_packet",
                );
            }
        }
        Profile::Analyst => {
            push(
                "ide_version",
                "/* ApplicationName=DBeaver 24.1.0 - Main */ SELECT @@version_comment LIMIT 1",
            );
            push(
                "ide_show_variables",
                "/* ApplicationName=DBeaver 24.1.0 - Metadata */ SHOW VARIABLES LIKE 'lower_case_table_names'",
            );
            push(
                "ide_select_database",
                "/* ApplicationName=DBeaver 24.1.0 - Metadata */ SELECT DATABASE()",
            );
            if rng.random_bool(0.3) {
                push(
                    "ide_show_tables",
                    "/* ApplicationName=DBeaver 24.1.0 - Metadata */ SHOW FULL TABLES",
                );
            }
        }
        Profile::Report => {
            push("set_names", "SET NAMES utf8mb4");
            push("select_version", "SELECT @@version");
        }
        Profile::Dba | Profile::Web | Profile::Support | Profile::Batch => {
            push("select_version_comment", "SELECT @@version_comment LIMIT 1");
        }
    }
}

/// A statement chatter-heavy clients interleave with real work.
fn interleaved_chatter<R: Rng + ?Sized>(profile: Profile, rng: &mut R) -> Action {
    let options: &[(&str, &str)] = match profile {
        Profile::App => &[
            ("select_1", "SELECT 1"),
            ("select_1", "SELECT 1"),
            ("show_warnings", "SHOW WARNINGS"),
            ("set_autocommit", "SET autocommit=0"),
            ("commit", "COMMIT"),
            ("set_autocommit", "SET autocommit=1"),
        ],
        Profile::Analyst => &[
            ("show_warnings", "SHOW WARNINGS"),
            (
                "ide_show_columns",
                "/* ApplicationName=DBeaver 24.1.0 - Metadata */ SHOW FULL COLUMNS FROM `orders`",
            ),
            (
                "ide_transaction_isolation",
                "/* ApplicationName=DBeaver 24.1.0 - Main */ SELECT @@tx_isolation",
            ),
        ],
        Profile::Report => &[("show_warnings", "SHOW WARNINGS")],
        Profile::Dba | Profile::Web | Profile::Support | Profile::Batch => &[
            ("show_processlist", "SHOW FULL PROCESSLIST"),
            ("show_status", "SHOW GLOBAL STATUS LIKE 'Threads_%'"),
            (
                "show_variables",
                "SHOW VARIABLES LIKE 'innodb_buffer_pool%'",
            ),
            ("show_table_status", "SHOW TABLE STATUS"),
            (
                "information_schema_tables",
                "SELECT table_name, table_rows, data_length FROM information_schema.tables WHERE table_schema = DATABASE()",
            ),
        ],
    };
    if rng.random_bool(0.1) {
        return Action::Ping;
    }
    let (label, text) = options
        .choose(rng)
        .copied()
        .unwrap_or(("select_1", "SELECT 1"));
    Action::Sql {
        label: format!("chatter:{label}"),
        text: text.to_string(),
    }
}

/// One unit of non-TPC-H work: a hand-written shape or an exploration recipe.
#[derive(Debug, Clone, Copy)]
enum Work {
    Shape(usize),
    Recipe(usize),
}

/// Which ad-hoc shapes each profile uses.
fn profile_shapes(profile: Profile) -> &'static [usize] {
    match profile {
        Profile::App => &[0, 1, 2, 3, 6, 7, 8, 17, 18, 26, 35, 35, 36, 37],
        Profile::Analyst => &[
            4, 5, 9, 10, 11, 12, 13, 14, 15, 16, 19, 20, 21, 22, 23, 24, 25, 27, 28, 29, 30, 31,
            32, 33, 34,
        ],
        _ => &[12, 14, 15, 22, 23],
    }
}

/// Builds every session of the workload, deterministically from the seed.
pub fn generate(spec: &WorkloadSpec) -> Vec<Session> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let sf = spec.scale_factor;

    // The reporting job runs every TPC-H template the requested number of
    // times, in shuffled order, a handful per session.
    let mut tpch: Vec<u8> = (1..=22u8)
        .flat_map(|q| std::iter::repeat_n(q, spec.tpch_runs_per_template))
        .collect();
    tpch.shuffle(&mut rng);

    // Ad-hoc statements: every shape is used (the first pass guarantees it),
    // then profiles draw from their own habits.
    let mut adhoc_work: Vec<(Profile, Work)> = Vec::with_capacity(spec.adhoc_statements);
    for shape in 0..ADHOC_SHAPES.min(spec.adhoc_statements) {
        let profile = if profile_shapes(Profile::App).contains(&shape) {
            Profile::App
        } else {
            Profile::Analyst
        };
        adhoc_work.push((profile, Work::Shape(shape)));
    }
    while adhoc_work.len() < spec.adhoc_statements {
        let profile = if rng.random_bool(0.6) {
            Profile::App
        } else if rng.random_bool(0.9) {
            Profile::Analyst
        } else {
            Profile::Dba
        };
        let shape = *profile_shapes(profile).choose(&mut rng).unwrap_or(&0);
        adhoc_work.push((profile, Work::Shape(shape)));
    }

    // Exploration shapes: every recipe runs at least once, then recipes are
    // drawn with Zipf-like weights, as a few saved queries run far more often
    // than the rest.
    let recipes: Vec<Recipe> = (0..spec.explore_recipes)
        .map(|_| Recipe::draw(&mut rng))
        .collect();
    let owner = |r: &Recipe| {
        if r.by_application {
            Profile::App
        } else {
            Profile::Analyst
        }
    };
    let weights: Vec<f64> = (0..recipes.len())
        .map(|i| 1.0 / (1.0 + i as f64).sqrt())
        .collect();
    let total: f64 = weights.iter().sum();
    for i in 0..spec.explore_statements {
        let r = if i < recipes.len() {
            i
        } else {
            let mut x = rng.random_range(0.0..total.max(f64::MIN_POSITIVE));
            weights
                .iter()
                .position(|w| {
                    x -= w;
                    x < 0.0
                })
                .unwrap_or(0)
        };
        if let Some(recipe) = recipes.get(r) {
            adhoc_work.push((owner(recipe), Work::Recipe(r)));
        }
    }
    adhoc_work.shuffle(&mut rng);

    let mut sessions = Vec::new();
    let mut tpch_iter = tpch.into_iter().peekable();
    while tpch_iter.peek().is_some() {
        let mut actions = Vec::new();
        connect_chatter(Profile::Report, &mut rng, &mut actions);
        for _ in 0..rng.random_range(1..=6) {
            let Some(q) = tpch_iter.next() else { break };
            let mut text = tpch_queries::query(q, &mut rng, sf);
            if rng.random_bool(spec.qgen_seed_comment_share) {
                text = format!(
                    "-- using {} as a seed to the RNG\n\n\n{text}",
                    rng.random_range(100_000_000u64..2_000_000_000)
                );
            }
            actions.push(Action::Sql {
                label: format!("tpch:q{q:02}"),
                text,
            });
            if rng.random_bool(0.2) {
                actions.push(interleaved_chatter(Profile::Report, &mut rng));
            }
        }
        sessions.push(Session {
            profile: Profile::Report,
            actions,
        });
    }

    for profile in [Profile::App, Profile::Analyst, Profile::Dba] {
        let mut mine = adhoc_work
            .iter()
            .filter(|(p, _)| *p == profile)
            .map(|(_, s)| *s)
            .peekable();
        while mine.peek().is_some() {
            let mut actions = Vec::new();
            connect_chatter(profile, &mut rng, &mut actions);
            let len = match profile {
                Profile::App => rng.random_range(3..=25),
                Profile::Analyst => rng.random_range(2..=12),
                _ => rng.random_range(1..=4),
            };
            for _ in 0..len {
                let Some(work) = mine.next() else { break };
                let (label, text) = match work {
                    Work::Shape(shape) => adhoc(shape, &mut rng, sf),
                    Work::Recipe(r) => (recipes[r].label(), recipes[r].render(&mut rng, sf)),
                };
                actions.push(Action::Sql { label, text });
                let chatter_rate = if profile == Profile::App { 0.5 } else { 0.25 };
                if rng.random_bool(chatter_rate) {
                    actions.push(interleaved_chatter(profile, &mut rng));
                }
            }
            sessions.push(Session { profile, actions });
        }
    }
    sessions.shuffle(&mut rng);
    sessions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> WorkloadSpec {
        WorkloadSpec {
            seed: 42,
            scale_factor: 0.1,
            tpch_runs_per_template: 3,
            adhoc_statements: 200,
            qgen_seed_comment_share: 0.3,
            explore_recipes: 20,
            explore_statements: 50,
        }
    }

    fn labels(sessions: &[Session]) -> Vec<String> {
        sessions
            .iter()
            .flat_map(|s| s.actions.iter())
            .filter_map(|a| match a {
                Action::Sql { label, .. } => Some(label.clone()),
                Action::Prepared { .. } | Action::Ping => None,
            })
            .collect()
    }

    #[test]
    fn reproducible_from_the_seed() {
        let a = serde_json::to_string(&generate(&spec())).unwrap_or_default();
        let b = serde_json::to_string(&generate(&spec())).unwrap_or_default();
        assert!(!a.is_empty());
        assert_eq!(a, b);
        let other = WorkloadSpec { seed: 43, ..spec() };
        assert_ne!(
            a,
            serde_json::to_string(&generate(&other)).unwrap_or_default()
        );
    }

    #[test]
    fn every_template_and_shape_is_present() {
        let labels = labels(&generate(&spec()));
        for q in 1..=22 {
            let want = format!("tpch:q{q:02}");
            assert_eq!(labels.iter().filter(|l| **l == want).count(), 3, "{want}");
        }
        let shapes: std::collections::HashSet<_> =
            labels.iter().filter(|l| l.starts_with("adhoc:")).collect();
        assert_eq!(shapes.len(), ADHOC_SHAPES);
        assert_eq!(
            labels.iter().filter(|l| l.starts_with("adhoc:")).count(),
            200
        );
        assert!(labels.iter().any(|l| l.starts_with("chatter:")));
    }

    #[test]
    fn order_keys_exist_in_tpch() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for _ in 0..1000 {
            let k = order_key(&mut rng, 0.01);
            assert!(k >= 1 && (k - 1) % 32 < 8, "{k}");
            assert!(k <= 15_000 / 8 * 32);
        }
    }
}
