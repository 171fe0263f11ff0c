//! The 22 TPC-H queries with parameters drawn by the specification's
//! substitution rules (TPC-H 3.0.1, clause 2.4), written in the MySQL dialect
//! the way `qgen` emits them for MySQL: `interval 'n' day` arithmetic, `limit`
//! instead of `set rowcount`, derived tables instead of column-aliased ones,
//! and Q15's view as a common table expression (MariaDB has no per-query view
//! substitution, and a CTE keeps the template a single statement).

use rand::seq::IndexedRandom;
use rand::{Rng, RngExt};

/// Nation name, nation key, region name — clause 4.2.3.
pub const NATIONS: [(&str, u32, &str); 25] = [
    ("ALGERIA", 0, "AFRICA"),
    ("ARGENTINA", 1, "AMERICA"),
    ("BRAZIL", 2, "AMERICA"),
    ("CANADA", 3, "AMERICA"),
    ("EGYPT", 4, "MIDDLE EAST"),
    ("ETHIOPIA", 5, "AFRICA"),
    ("FRANCE", 6, "EUROPE"),
    ("GERMANY", 7, "EUROPE"),
    ("INDIA", 8, "ASIA"),
    ("INDONESIA", 9, "ASIA"),
    ("IRAN", 10, "MIDDLE EAST"),
    ("IRAQ", 11, "MIDDLE EAST"),
    ("JAPAN", 12, "ASIA"),
    ("JORDAN", 13, "MIDDLE EAST"),
    ("KENYA", 14, "AFRICA"),
    ("MOROCCO", 15, "AFRICA"),
    ("MOZAMBIQUE", 16, "AFRICA"),
    ("PERU", 17, "AMERICA"),
    ("CHINA", 18, "ASIA"),
    ("ROMANIA", 19, "EUROPE"),
    ("SAUDI ARABIA", 20, "MIDDLE EAST"),
    ("VIETNAM", 21, "ASIA"),
    ("RUSSIA", 22, "EUROPE"),
    ("UNITED KINGDOM", 23, "EUROPE"),
    ("UNITED STATES", 24, "AMERICA"),
];

pub const REGIONS: [&str; 5] = ["AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST"];

const SEGMENTS: [&str; 5] = [
    "AUTOMOBILE",
    "BUILDING",
    "FURNITURE",
    "HOUSEHOLD",
    "MACHINERY",
];
const TYPE_S1: [&str; 6] = ["STANDARD", "SMALL", "MEDIUM", "LARGE", "ECONOMY", "PROMO"];
const TYPE_S2: [&str; 5] = ["ANODIZED", "BURNISHED", "PLATED", "POLISHED", "BRUSHED"];
const TYPE_S3: [&str; 5] = ["TIN", "NICKEL", "BRASS", "STEEL", "COPPER"];
const CONTAINER_S1: [&str; 5] = ["SM", "LG", "MED", "JUMBO", "WRAP"];
const CONTAINER_S2: [&str; 8] = ["CASE", "BOX", "BAG", "JAR", "PKG", "PACK", "CAN", "DRUM"];
const SHIPMODES: [&str; 7] = ["REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB"];
const Q13_WORD1: [&str; 4] = ["special", "pending", "unusual", "express"];
const Q13_WORD2: [&str; 4] = ["packages", "requests", "accounts", "deposits"];

/// The P_NAME colour words (clause 4.2.3), used by Q9 and Q20.
pub const COLORS: [&str; 92] = [
    "almond",
    "antique",
    "aquamarine",
    "azure",
    "beige",
    "bisque",
    "black",
    "blanched",
    "blue",
    "blush",
    "brown",
    "burlywood",
    "burnished",
    "chartreuse",
    "chiffon",
    "chocolate",
    "coral",
    "cornflower",
    "cornsilk",
    "cream",
    "cyan",
    "dark",
    "deep",
    "dim",
    "dodger",
    "drab",
    "firebrick",
    "floral",
    "forest",
    "frosted",
    "gainsboro",
    "ghost",
    "goldenrod",
    "green",
    "grey",
    "honeydew",
    "hot",
    "indian",
    "ivory",
    "khaki",
    "lace",
    "lavender",
    "lawn",
    "lemon",
    "light",
    "lime",
    "linen",
    "magenta",
    "maroon",
    "medium",
    "metallic",
    "midnight",
    "mint",
    "misty",
    "moccasin",
    "navajo",
    "navy",
    "olive",
    "orange",
    "orchid",
    "pale",
    "papaya",
    "peach",
    "peru",
    "pink",
    "plum",
    "powder",
    "puff",
    "purple",
    "red",
    "rose",
    "rosy",
    "royal",
    "saddle",
    "salmon",
    "sandy",
    "seashell",
    "sienna",
    "sky",
    "slate",
    "smoke",
    "snow",
    "spring",
    "steel",
    "tan",
    "thistle",
    "tomato",
    "turquoise",
    "violet",
    "wheat",
    "white",
    "yellow",
];

fn pick<'a, R: Rng + ?Sized>(rng: &mut R, xs: &[&'a str]) -> &'a str {
    xs.choose(rng).copied().unwrap_or_default()
}

/// First day of a month chosen uniformly between (y0, m0) and (y1, m1).
fn month_start<R: Rng + ?Sized>(rng: &mut R, from: (i32, u32), to: (i32, u32)) -> String {
    let a = from.0 * 12 + from.1 as i32 - 1;
    let b = to.0 * 12 + to.1 as i32 - 1;
    let m = rng.random_range(a..=b);
    format!("{:04}-{:02}-01", m / 12, m % 12 + 1)
}

fn year_start<R: Rng + ?Sized>(rng: &mut R) -> String {
    format!("{}-01-01", rng.random_range(1993..=1997))
}

fn brand<R: Rng + ?Sized>(rng: &mut R) -> String {
    format!(
        "Brand#{}{}",
        rng.random_range(1..=5u32),
        rng.random_range(1..=5u32)
    )
}

fn distinct_nations<R: Rng + ?Sized>(rng: &mut R) -> (&'static str, &'static str) {
    let a = rng.random_range(0..NATIONS.len());
    let mut b = rng.random_range(0..NATIONS.len() - 1);
    if b >= a {
        b += 1;
    }
    (NATIONS[a].0, NATIONS[b].0)
}

/// Draws `n` distinct values from `lo..=hi` in draw order.
fn distinct_ints<R: Rng + ?Sized>(rng: &mut R, n: usize, lo: u32, hi: u32) -> Vec<u32> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let v = rng.random_range(lo..=hi);
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// Text of TPC-H query `q` (1..=22) with freshly drawn substitution
/// parameters. `scale_factor` matters only for Q11's FRACTION.
pub fn query<R: Rng + ?Sized>(q: u8, rng: &mut R, scale_factor: f64) -> String {
    match q {
        1 => format!(
            "select\n\tl_returnflag,\n\tl_linestatus,\n\tsum(l_quantity) as sum_qty,\n\tsum(l_extendedprice) as sum_base_price,\n\tsum(l_extendedprice * (1 - l_discount)) as sum_disc_price,\n\tsum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) as sum_charge,\n\tavg(l_quantity) as avg_qty,\n\tavg(l_extendedprice) as avg_price,\n\tavg(l_discount) as avg_disc,\n\tcount(*) as count_order\nfrom\n\tlineitem\nwhere\n\tl_shipdate <= date '1998-12-01' - interval '{}' day\ngroup by\n\tl_returnflag,\n\tl_linestatus\norder by\n\tl_returnflag,\n\tl_linestatus",
            rng.random_range(60..=120)
        ),
        2 => {
            let size = rng.random_range(1..=50);
            let ty = pick(rng, &TYPE_S3);
            let region = pick(rng, &REGIONS);
            format!(
                "select\n\ts_acctbal,\n\ts_name,\n\tn_name,\n\tp_partkey,\n\tp_mfgr,\n\ts_address,\n\ts_phone,\n\ts_comment\nfrom\n\tpart,\n\tsupplier,\n\tpartsupp,\n\tnation,\n\tregion\nwhere\n\tp_partkey = ps_partkey\n\tand s_suppkey = ps_suppkey\n\tand p_size = {size}\n\tand p_type like '%{ty}'\n\tand s_nationkey = n_nationkey\n\tand n_regionkey = r_regionkey\n\tand r_name = '{region}'\n\tand ps_supplycost = (\n\t\tselect\n\t\t\tmin(ps_supplycost)\n\t\tfrom\n\t\t\tpartsupp,\n\t\t\tsupplier,\n\t\t\tnation,\n\t\t\tregion\n\t\twhere\n\t\t\tp_partkey = ps_partkey\n\t\t\tand s_suppkey = ps_suppkey\n\t\t\tand s_nationkey = n_nationkey\n\t\t\tand n_regionkey = r_regionkey\n\t\t\tand r_name = '{region}'\n\t)\norder by\n\ts_acctbal desc,\n\tn_name,\n\ts_name,\n\tp_partkey\nlimit 100"
            )
        }
        3 => {
            let segment = pick(rng, &SEGMENTS);
            let day = rng.random_range(1..=31);
            format!(
                "select\n\tl_orderkey,\n\tsum(l_extendedprice * (1 - l_discount)) as revenue,\n\to_orderdate,\n\to_shippriority\nfrom\n\tcustomer,\n\torders,\n\tlineitem\nwhere\n\tc_mktsegment = '{segment}'\n\tand c_custkey = o_custkey\n\tand l_orderkey = o_orderkey\n\tand o_orderdate < date '1995-03-{day:02}'\n\tand l_shipdate > date '1995-03-{day:02}'\ngroup by\n\tl_orderkey,\n\to_orderdate,\n\to_shippriority\norder by\n\trevenue desc,\n\to_orderdate\nlimit 10"
            )
        }
        4 => {
            let date = month_start(rng, (1993, 1), (1997, 10));
            format!(
                "select\n\to_orderpriority,\n\tcount(*) as order_count\nfrom\n\torders\nwhere\n\to_orderdate >= date '{date}'\n\tand o_orderdate < date '{date}' + interval '3' month\n\tand exists (\n\t\tselect\n\t\t\t*\n\t\tfrom\n\t\t\tlineitem\n\t\twhere\n\t\t\tl_orderkey = o_orderkey\n\t\t\tand l_commitdate < l_receiptdate\n\t)\ngroup by\n\to_orderpriority\norder by\n\to_orderpriority"
            )
        }
        5 => {
            let region = pick(rng, &REGIONS);
            let date = year_start(rng);
            format!(
                "select\n\tn_name,\n\tsum(l_extendedprice * (1 - l_discount)) as revenue\nfrom\n\tcustomer,\n\torders,\n\tlineitem,\n\tsupplier,\n\tnation,\n\tregion\nwhere\n\tc_custkey = o_custkey\n\tand l_orderkey = o_orderkey\n\tand l_suppkey = s_suppkey\n\tand c_nationkey = s_nationkey\n\tand s_nationkey = n_nationkey\n\tand n_regionkey = r_regionkey\n\tand r_name = '{region}'\n\tand o_orderdate >= date '{date}'\n\tand o_orderdate < date '{date}' + interval '1' year\ngroup by\n\tn_name\norder by\n\trevenue desc"
            )
        }
        6 => {
            let date = year_start(rng);
            let discount = rng.random_range(2..=9) as f64 / 100.0;
            let quantity = rng.random_range(24..=25);
            format!(
                "select\n\tsum(l_extendedprice * l_discount) as revenue\nfrom\n\tlineitem\nwhere\n\tl_shipdate >= date '{date}'\n\tand l_shipdate < date '{date}' + interval '1' year\n\tand l_discount between {discount:.2} - 0.01 and {discount:.2} + 0.01\n\tand l_quantity < {quantity}"
            )
        }
        7 => {
            let (n1, n2) = distinct_nations(rng);
            format!(
                "select\n\tsupp_nation,\n\tcust_nation,\n\tl_year,\n\tsum(volume) as revenue\nfrom\n\t(\n\t\tselect\n\t\t\tn1.n_name as supp_nation,\n\t\t\tn2.n_name as cust_nation,\n\t\t\textract(year from l_shipdate) as l_year,\n\t\t\tl_extendedprice * (1 - l_discount) as volume\n\t\tfrom\n\t\t\tsupplier,\n\t\t\tlineitem,\n\t\t\torders,\n\t\t\tcustomer,\n\t\t\tnation n1,\n\t\t\tnation n2\n\t\twhere\n\t\t\ts_suppkey = l_suppkey\n\t\t\tand o_orderkey = l_orderkey\n\t\t\tand c_custkey = o_custkey\n\t\t\tand s_nationkey = n1.n_nationkey\n\t\t\tand c_nationkey = n2.n_nationkey\n\t\t\tand (\n\t\t\t\t(n1.n_name = '{n1}' and n2.n_name = '{n2}')\n\t\t\t\tor (n1.n_name = '{n2}' and n2.n_name = '{n1}')\n\t\t\t)\n\t\t\tand l_shipdate between date '1995-01-01' and date '1996-12-31'\n\t) as shipping\ngroup by\n\tsupp_nation,\n\tcust_nation,\n\tl_year\norder by\n\tsupp_nation,\n\tcust_nation,\n\tl_year"
            )
        }
        8 => {
            let (nation, _, region) = NATIONS[rng.random_range(0..NATIONS.len())];
            let ty = format!(
                "{} {} {}",
                pick(rng, &TYPE_S1),
                pick(rng, &TYPE_S2),
                pick(rng, &TYPE_S3)
            );
            format!(
                "select\n\to_year,\n\tsum(case\n\t\twhen nation = '{nation}' then volume\n\t\telse 0\n\tend) / sum(volume) as mkt_share\nfrom\n\t(\n\t\tselect\n\t\t\textract(year from o_orderdate) as o_year,\n\t\t\tl_extendedprice * (1 - l_discount) as volume,\n\t\t\tn2.n_name as nation\n\t\tfrom\n\t\t\tpart,\n\t\t\tsupplier,\n\t\t\tlineitem,\n\t\t\torders,\n\t\t\tcustomer,\n\t\t\tnation n1,\n\t\t\tnation n2,\n\t\t\tregion\n\t\twhere\n\t\t\tp_partkey = l_partkey\n\t\t\tand s_suppkey = l_suppkey\n\t\t\tand l_orderkey = o_orderkey\n\t\t\tand o_custkey = c_custkey\n\t\t\tand c_nationkey = n1.n_nationkey\n\t\t\tand n1.n_regionkey = r_regionkey\n\t\t\tand r_name = '{region}'\n\t\t\tand s_nationkey = n2.n_nationkey\n\t\t\tand o_orderdate between date '1995-01-01' and date '1996-12-31'\n\t\t\tand p_type = '{ty}'\n\t) as all_nations\ngroup by\n\to_year\norder by\n\to_year"
            )
        }
        9 => {
            let color = pick(rng, &COLORS);
            format!(
                "select\n\tnation,\n\to_year,\n\tsum(amount) as sum_profit\nfrom\n\t(\n\t\tselect\n\t\t\tn_name as nation,\n\t\t\textract(year from o_orderdate) as o_year,\n\t\t\tl_extendedprice * (1 - l_discount) - ps_supplycost * l_quantity as amount\n\t\tfrom\n\t\t\tpart,\n\t\t\tsupplier,\n\t\t\tlineitem,\n\t\t\tpartsupp,\n\t\t\torders,\n\t\t\tnation\n\t\twhere\n\t\t\ts_suppkey = l_suppkey\n\t\t\tand ps_suppkey = l_suppkey\n\t\t\tand ps_partkey = l_partkey\n\t\t\tand p_partkey = l_partkey\n\t\t\tand o_orderkey = l_orderkey\n\t\t\tand s_nationkey = n_nationkey\n\t\t\tand p_name like '%{color}%'\n\t) as profit\ngroup by\n\tnation,\n\to_year\norder by\n\tnation,\n\to_year desc"
            )
        }
        10 => {
            let date = month_start(rng, (1993, 2), (1995, 1));
            format!(
                "select\n\tc_custkey,\n\tc_name,\n\tsum(l_extendedprice * (1 - l_discount)) as revenue,\n\tc_acctbal,\n\tn_name,\n\tc_address,\n\tc_phone,\n\tc_comment\nfrom\n\tcustomer,\n\torders,\n\tlineitem,\n\tnation\nwhere\n\tc_custkey = o_custkey\n\tand l_orderkey = o_orderkey\n\tand o_orderdate >= date '{date}'\n\tand o_orderdate < date '{date}' + interval '3' month\n\tand l_returnflag = 'R'\n\tand c_nationkey = n_nationkey\ngroup by\n\tc_custkey,\n\tc_name,\n\tc_acctbal,\n\tc_phone,\n\tn_name,\n\tc_address,\n\tc_comment\norder by\n\trevenue desc\nlimit 20"
            )
        }
        11 => {
            let nation = NATIONS[rng.random_range(0..NATIONS.len())].0;
            let fraction = 0.0001 / scale_factor.max(1e-9);
            format!(
                "select\n\tps_partkey,\n\tsum(ps_supplycost * ps_availqty) as value\nfrom\n\tpartsupp,\n\tsupplier,\n\tnation\nwhere\n\tps_suppkey = s_suppkey\n\tand s_nationkey = n_nationkey\n\tand n_name = '{nation}'\ngroup by\n\tps_partkey having\n\t\tsum(ps_supplycost * ps_availqty) > (\n\t\t\tselect\n\t\t\t\tsum(ps_supplycost * ps_availqty) * {fraction:.10}\n\t\t\tfrom\n\t\t\t\tpartsupp,\n\t\t\t\tsupplier,\n\t\t\t\tnation\n\t\t\twhere\n\t\t\t\tps_suppkey = s_suppkey\n\t\t\t\tand s_nationkey = n_nationkey\n\t\t\t\tand n_name = '{nation}'\n\t\t)\norder by\n\tvalue desc"
            )
        }
        12 => {
            let modes = distinct_ints(rng, 2, 0, SHIPMODES.len() as u32 - 1);
            let (m1, m2) = (SHIPMODES[modes[0] as usize], SHIPMODES[modes[1] as usize]);
            let date = year_start(rng);
            format!(
                "select\n\tl_shipmode,\n\tsum(case\n\t\twhen o_orderpriority = '1-URGENT'\n\t\t\tor o_orderpriority = '2-HIGH'\n\t\t\tthen 1\n\t\telse 0\n\tend) as high_line_count,\n\tsum(case\n\t\twhen o_orderpriority <> '1-URGENT'\n\t\t\tand o_orderpriority <> '2-HIGH'\n\t\t\tthen 1\n\t\telse 0\n\tend) as low_line_count\nfrom\n\torders,\n\tlineitem\nwhere\n\to_orderkey = l_orderkey\n\tand l_shipmode in ('{m1}', '{m2}')\n\tand l_commitdate < l_receiptdate\n\tand l_shipdate < l_commitdate\n\tand l_receiptdate >= date '{date}'\n\tand l_receiptdate < date '{date}' + interval '1' year\ngroup by\n\tl_shipmode\norder by\n\tl_shipmode"
            )
        }
        13 => {
            let w1 = pick(rng, &Q13_WORD1);
            let w2 = pick(rng, &Q13_WORD2);
            format!(
                "select\n\tc_count,\n\tcount(*) as custdist\nfrom\n\t(\n\t\tselect\n\t\t\tc_custkey,\n\t\t\tcount(o_orderkey) as c_count\n\t\tfrom\n\t\t\tcustomer left outer join orders on\n\t\t\t\tc_custkey = o_custkey\n\t\t\t\tand o_comment not like '%{w1}%{w2}%'\n\t\tgroup by\n\t\t\tc_custkey\n\t) as c_orders\ngroup by\n\tc_count\norder by\n\tcustdist desc,\n\tc_count desc"
            )
        }
        14 => {
            let date = month_start(rng, (1993, 1), (1997, 12));
            format!(
                "select\n\t100.00 * sum(case\n\t\twhen p_type like 'PROMO%'\n\t\t\tthen l_extendedprice * (1 - l_discount)\n\t\telse 0\n\tend) / sum(l_extendedprice * (1 - l_discount)) as promo_revenue\nfrom\n\tlineitem,\n\tpart\nwhere\n\tl_partkey = p_partkey\n\tand l_shipdate >= date '{date}'\n\tand l_shipdate < date '{date}' + interval '1' month"
            )
        }
        15 => {
            let date = month_start(rng, (1993, 1), (1997, 10));
            format!(
                "with revenue0 as (\n\tselect\n\t\tl_suppkey as supplier_no,\n\t\tsum(l_extendedprice * (1 - l_discount)) as total_revenue\n\tfrom\n\t\tlineitem\n\twhere\n\t\tl_shipdate >= date '{date}'\n\t\tand l_shipdate < date '{date}' + interval '3' month\n\tgroup by\n\t\tl_suppkey\n)\nselect\n\ts_suppkey,\n\ts_name,\n\ts_address,\n\ts_phone,\n\ttotal_revenue\nfrom\n\tsupplier,\n\trevenue0\nwhere\n\ts_suppkey = supplier_no\n\tand total_revenue = (\n\t\tselect\n\t\t\tmax(total_revenue)\n\t\tfrom\n\t\t\trevenue0\n\t)\norder by\n\ts_suppkey"
            )
        }
        16 => {
            let b = brand(rng);
            let ty = format!("{} {}", pick(rng, &TYPE_S1), pick(rng, &TYPE_S2));
            let sizes = distinct_ints(rng, 8, 1, 50)
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "select\n\tp_brand,\n\tp_type,\n\tp_size,\n\tcount(distinct ps_suppkey) as supplier_cnt\nfrom\n\tpartsupp,\n\tpart\nwhere\n\tp_partkey = ps_partkey\n\tand p_brand <> '{b}'\n\tand p_type not like '{ty}%'\n\tand p_size in ({sizes})\n\tand ps_suppkey not in (\n\t\tselect\n\t\t\ts_suppkey\n\t\tfrom\n\t\t\tsupplier\n\t\twhere\n\t\t\ts_comment like '%Customer%Complaints%'\n\t)\ngroup by\n\tp_brand,\n\tp_type,\n\tp_size\norder by\n\tsupplier_cnt desc,\n\tp_brand,\n\tp_type,\n\tp_size"
            )
        }
        17 => {
            let b = brand(rng);
            let container = format!("{} {}", pick(rng, &CONTAINER_S1), pick(rng, &CONTAINER_S2));
            format!(
                "select\n\tsum(l_extendedprice) / 7.0 as avg_yearly\nfrom\n\tlineitem,\n\tpart\nwhere\n\tp_partkey = l_partkey\n\tand p_brand = '{b}'\n\tand p_container = '{container}'\n\tand l_quantity < (\n\t\tselect\n\t\t\t0.2 * avg(l_quantity)\n\t\tfrom\n\t\t\tlineitem\n\t\twhere\n\t\t\tl_partkey = p_partkey\n\t)"
            )
        }
        18 => {
            let quantity = rng.random_range(312..=315);
            format!(
                "select\n\tc_name,\n\tc_custkey,\n\to_orderkey,\n\to_orderdate,\n\to_totalprice,\n\tsum(l_quantity)\nfrom\n\tcustomer,\n\torders,\n\tlineitem\nwhere\n\to_orderkey in (\n\t\tselect\n\t\t\tl_orderkey\n\t\tfrom\n\t\t\tlineitem\n\t\tgroup by\n\t\t\tl_orderkey having\n\t\t\t\tsum(l_quantity) > {quantity}\n\t)\n\tand c_custkey = o_custkey\n\tand o_orderkey = l_orderkey\ngroup by\n\tc_name,\n\tc_custkey,\n\to_orderkey,\n\to_orderdate,\n\to_totalprice\norder by\n\to_totalprice desc,\n\to_orderdate\nlimit 100"
            )
        }
        19 => {
            let q1 = rng.random_range(1..=10);
            let q2 = rng.random_range(10..=20);
            let q3 = rng.random_range(20..=30);
            let (b1, b2, b3) = (brand(rng), brand(rng), brand(rng));
            format!(
                "select\n\tsum(l_extendedprice* (1 - l_discount)) as revenue\nfrom\n\tlineitem,\n\tpart\nwhere\n\t(\n\t\tp_partkey = l_partkey\n\t\tand p_brand = '{b1}'\n\t\tand p_container in ('SM CASE', 'SM BOX', 'SM PACK', 'SM PKG')\n\t\tand l_quantity >= {q1} and l_quantity <= {q1} + 10\n\t\tand p_size between 1 and 5\n\t\tand l_shipmode in ('AIR', 'AIR REG')\n\t\tand l_shipinstruct = 'DELIVER IN PERSON'\n\t)\n\tor\n\t(\n\t\tp_partkey = l_partkey\n\t\tand p_brand = '{b2}'\n\t\tand p_container in ('MED BAG', 'MED BOX', 'MED PKG', 'MED PACK')\n\t\tand l_quantity >= {q2} and l_quantity <= {q2} + 10\n\t\tand p_size between 1 and 10\n\t\tand l_shipmode in ('AIR', 'AIR REG')\n\t\tand l_shipinstruct = 'DELIVER IN PERSON'\n\t)\n\tor\n\t(\n\t\tp_partkey = l_partkey\n\t\tand p_brand = '{b3}'\n\t\tand p_container in ('LG CASE', 'LG BOX', 'LG PACK', 'LG PKG')\n\t\tand l_quantity >= {q3} and l_quantity <= {q3} + 10\n\t\tand p_size between 1 and 15\n\t\tand l_shipmode in ('AIR', 'AIR REG')\n\t\tand l_shipinstruct = 'DELIVER IN PERSON'\n\t)"
            )
        }
        20 => {
            let color = pick(rng, &COLORS);
            let date = year_start(rng);
            let nation = NATIONS[rng.random_range(0..NATIONS.len())].0;
            format!(
                "select\n\ts_name,\n\ts_address\nfrom\n\tsupplier,\n\tnation\nwhere\n\ts_suppkey in (\n\t\tselect\n\t\t\tps_suppkey\n\t\tfrom\n\t\t\tpartsupp\n\t\twhere\n\t\t\tps_partkey in (\n\t\t\t\tselect\n\t\t\t\t\tp_partkey\n\t\t\t\tfrom\n\t\t\t\t\tpart\n\t\t\t\twhere\n\t\t\t\t\tp_name like '{color}%'\n\t\t\t)\n\t\t\tand ps_availqty > (\n\t\t\t\tselect\n\t\t\t\t\t0.5 * sum(l_quantity)\n\t\t\t\tfrom\n\t\t\t\t\tlineitem\n\t\t\t\twhere\n\t\t\t\t\tl_partkey = ps_partkey\n\t\t\t\t\tand l_suppkey = ps_suppkey\n\t\t\t\t\tand l_shipdate >= date '{date}'\n\t\t\t\t\tand l_shipdate < date '{date}' + interval '1' year\n\t\t\t)\n\t)\n\tand s_nationkey = n_nationkey\n\tand n_name = '{nation}'\norder by\n\ts_name"
            )
        }
        21 => {
            let nation = NATIONS[rng.random_range(0..NATIONS.len())].0;
            format!(
                "select\n\ts_name,\n\tcount(*) as numwait\nfrom\n\tsupplier,\n\tlineitem l1,\n\torders,\n\tnation\nwhere\n\ts_suppkey = l1.l_suppkey\n\tand o_orderkey = l1.l_orderkey\n\tand o_orderstatus = 'F'\n\tand l1.l_receiptdate > l1.l_commitdate\n\tand exists (\n\t\tselect\n\t\t\t*\n\t\tfrom\n\t\t\tlineitem l2\n\t\twhere\n\t\t\tl2.l_orderkey = l1.l_orderkey\n\t\t\tand l2.l_suppkey <> l1.l_suppkey\n\t)\n\tand not exists (\n\t\tselect\n\t\t\t*\n\t\tfrom\n\t\t\tlineitem l3\n\t\twhere\n\t\t\tl3.l_orderkey = l1.l_orderkey\n\t\t\tand l3.l_suppkey <> l1.l_suppkey\n\t\t\tand l3.l_receiptdate > l3.l_commitdate\n\t)\n\tand s_nationkey = n_nationkey\n\tand n_name = '{nation}'\ngroup by\n\ts_name\norder by\n\tnumwait desc,\n\ts_name\nlimit 100"
            )
        }
        _ => {
            let codes = distinct_ints(rng, 7, 10, 34)
                .iter()
                .map(|c| format!("'{c}'"))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "select\n\tcntrycode,\n\tcount(*) as numcust,\n\tsum(c_acctbal) as totacctbal\nfrom\n\t(\n\t\tselect\n\t\t\tsubstring(c_phone from 1 for 2) as cntrycode,\n\t\t\tc_acctbal\n\t\tfrom\n\t\t\tcustomer\n\t\twhere\n\t\t\tsubstring(c_phone from 1 for 2) in\n\t\t\t\t({codes})\n\t\t\tand c_acctbal > (\n\t\t\t\tselect\n\t\t\t\t\tavg(c_acctbal)\n\t\t\t\tfrom\n\t\t\t\t\tcustomer\n\t\t\t\twhere\n\t\t\t\t\tc_acctbal > 0.00\n\t\t\t\t\tand substring(c_phone from 1 for 2) in\n\t\t\t\t\t\t({codes})\n\t\t\t)\n\t\t\tand not exists (\n\t\t\t\tselect\n\t\t\t\t\t*\n\t\t\t\tfrom\n\t\t\t\t\torders\n\t\t\t\twhere\n\t\t\t\t\to_custkey = c_custkey\n\t\t\t)\n\t) as custsale\ngroup by\n\tcntrycode\norder by\n\tcntrycode"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn same_seed_same_parameters() {
        for q in 1..=22 {
            let a = query(q, &mut ChaCha8Rng::seed_from_u64(7), 0.1);
            let b = query(q, &mut ChaCha8Rng::seed_from_u64(7), 0.1);
            assert_eq!(a, b, "Q{q}");
        }
    }

    #[test]
    fn parameters_follow_the_substitution_rules() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..200 {
            let q1 = query(1, &mut rng, 0.1);
            let delta: u32 = q1
                .split("interval '")
                .nth(1)
                .and_then(|s| s.split('\'').next())
                .and_then(|s| s.parse().ok())
                .expect("Q1 has a DELTA");
            assert!((60..=120).contains(&delta));
            let q22 = query(22, &mut rng, 0.1);
            let codes: Vec<&str> = q22.matches("'").collect();
            assert_eq!(codes.len(), 28, "7 codes, twice, quoted");
        }
    }

    #[test]
    fn q11_fraction_scales_with_the_scale_factor() {
        let q = query(11, &mut ChaCha8Rng::seed_from_u64(3), 0.1);
        assert!(q.contains("* 0.0010000000"), "{q}");
    }
}
