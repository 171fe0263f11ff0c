//! Throughput of `qlat::sql::fingerprint::fingerprint` on a realistic mix of
//! OLTP statements and long TPC-H analytics queries. Prints fingerprints per
//! second; no timing assertions (run with `cargo bench --bench fingerprint`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use qlat::sql::fingerprint::{fingerprint, query_id};

const TPCH_Q1: &str = "select l_returnflag, l_linestatus, sum(l_quantity) as sum_qty, sum(l_extendedprice) as sum_base_price, sum(l_extendedprice * (1 - l_discount)) as sum_disc_price, sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) as sum_charge, avg(l_quantity) as avg_qty, avg(l_extendedprice) as avg_price, avg(l_discount) as avg_disc, count(*) as count_order from lineitem where l_shipdate <= date '1998-12-01' - interval '90' day group by l_returnflag, l_linestatus order by l_returnflag, l_linestatus";
const TPCH_Q2: &str = "select s_acctbal, s_name, n_name, p_partkey, p_mfgr, s_address, s_phone, s_comment from part, supplier, partsupp, nation, region where p_partkey = ps_partkey and s_suppkey = ps_suppkey and p_size = 15 and p_type like '%BRASS' and s_nationkey = n_nationkey and n_regionkey = r_regionkey and r_name = 'EUROPE' and ps_supplycost = ( select min(ps_supplycost) from partsupp, supplier, nation, region where p_partkey = ps_partkey and s_suppkey = ps_suppkey and s_nationkey = n_nationkey and n_regionkey = r_regionkey and r_name = 'EUROPE' ) order by s_acctbal desc, n_name, s_name, p_partkey limit 100";
const TPCH_Q3: &str = "SELECT l_orderkey, SUM(l_extendedprice * (1 - l_discount)) AS revenue, o_orderdate, o_shippriority FROM customer, orders, lineitem WHERE c_mktsegment = 'BUILDING' AND c_custkey = o_custkey AND l_orderkey = o_orderkey AND o_orderdate < DATE '1995-03-15' AND l_shipdate > DATE '1995-03-15' GROUP BY l_orderkey, o_orderdate, o_shippriority ORDER BY revenue DESC, o_orderdate LIMIT 10";
const TPCH_Q5: &str = "select n_name, sum(l_extendedprice * (1 - l_discount)) as revenue from customer, orders, lineitem, supplier, nation, region where c_custkey = o_custkey and l_orderkey = o_orderkey and l_suppkey = s_suppkey and c_nationkey = s_nationkey and s_nationkey = n_nationkey and n_regionkey = r_regionkey and r_name = 'ASIA' and o_orderdate >= date '1994-01-01' and o_orderdate < date '1994-01-01' + interval '1' year group by n_name order by revenue desc";
const TPCH_Q7: &str = "select supp_nation, cust_nation, l_year, sum(volume) as revenue from ( select n1.n_name as supp_nation, n2.n_name as cust_nation, extract(year from l_shipdate) as l_year, l_extendedprice * (1 - l_discount) as volume from supplier, lineitem, orders, customer, nation n1, nation n2 where s_suppkey = l_suppkey and o_orderkey = l_orderkey and c_custkey = o_custkey and s_nationkey = n1.n_nationkey and c_nationkey = n2.n_nationkey and ( (n1.n_name = 'FRANCE' and n2.n_name = 'GERMANY') or (n1.n_name = 'GERMANY' and n2.n_name = 'FRANCE') ) and l_shipdate between date '1995-01-01' and date '1996-12-31' ) as shipping group by supp_nation, cust_nation, l_year order by supp_nation, cust_nation, l_year";
const TPCH_Q8: &str = "select o_year, sum(case when nation = 'BRAZIL' then volume else 0 end) / sum(volume) as mkt_share from ( select extract(year from o_orderdate) as o_year, l_extendedprice * (1 - l_discount) as volume, n2.n_name as nation from part, supplier, lineitem, orders, customer, nation n1, nation n2, region where p_partkey = l_partkey and s_suppkey = l_suppkey and l_orderkey = o_orderkey and o_custkey = c_custkey and c_nationkey = n1.n_nationkey and n1.n_regionkey = r_regionkey and r_name = 'AMERICA' and s_nationkey = n2.n_nationkey and o_orderdate between date '1995-01-01' and date '1996-12-31' and p_type = 'ECONOMY ANODIZED STEEL' ) as all_nations group by o_year order by o_year";
const TPCH_Q9: &str = "select nation, o_year, sum(amount) as sum_profit from ( select n_name as nation, extract(year from o_orderdate) as o_year, l_extendedprice * (1 - l_discount) - ps_supplycost * l_quantity as amount from part, supplier, lineitem, partsupp, orders, nation where s_suppkey = l_suppkey and ps_suppkey = l_suppkey and ps_partkey = l_partkey and p_partkey = l_partkey and o_orderkey = l_orderkey and s_nationkey = n_nationkey and p_name like '%green%' ) as profit group by nation, o_year order by nation, o_year desc";
const TPCH_Q10: &str = "select c_custkey, c_name, sum(l_extendedprice * (1 - l_discount)) as revenue, c_acctbal, n_name, c_address, c_phone, c_comment from customer, orders, lineitem, nation where c_custkey = o_custkey and l_orderkey = o_orderkey and o_orderdate >= date '1993-10-01' and o_orderdate < date '1993-10-01' + interval '3' month and l_returnflag = 'R' and c_nationkey = n_nationkey group by c_custkey, c_name, c_acctbal, c_phone, n_name, c_address, c_comment order by revenue desc limit 20";
const TPCH_Q12: &str = "select l_shipmode, sum(case when o_orderpriority = '1-URGENT' or o_orderpriority = '2-HIGH' then 1 else 0 end) as high_line_count, sum(case when o_orderpriority <> '1-URGENT' and o_orderpriority <> '2-HIGH' then 1 else 0 end) as low_line_count from orders, lineitem where o_orderkey = l_orderkey and l_shipmode in ('MAIL', 'SHIP') and l_commitdate < l_receiptdate and l_shipdate < l_commitdate and l_receiptdate >= date '1994-01-01' and l_receiptdate < date '1994-01-01' + interval '1' year group by l_shipmode order by l_shipmode";
const TPCH_Q16: &str = "select p_brand, p_type, p_size, count(distinct ps_suppkey) as supplier_cnt from partsupp, part where p_partkey = ps_partkey and p_brand <> 'Brand#45' and p_type not like 'MEDIUM POLISHED%' and p_size in (49, 14, 23, 45, 19, 3, 36, 9) and ps_suppkey not in ( select s_suppkey from supplier where s_comment like '%Customer%Complaints%' ) group by p_brand, p_type, p_size order by supplier_cnt desc, p_brand, p_type, p_size";
const TPCH_Q18: &str = "select c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice, sum(l_quantity) from customer, orders, lineitem where o_orderkey in ( select l_orderkey from lineitem group by l_orderkey having sum(l_quantity) > 300 ) and c_custkey = o_custkey and o_orderkey = l_orderkey group by c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice order by o_totalprice desc, o_orderdate limit 100";
const TPCH_Q21: &str = "select s_name, count(*) as numwait from supplier, lineitem l1, orders, nation where s_suppkey = l1.l_suppkey and o_orderkey = l1.l_orderkey and o_orderstatus = 'F' and l1.l_receiptdate > l1.l_commitdate and exists ( select * from lineitem l2 where l2.l_orderkey = l1.l_orderkey and l2.l_suppkey <> l1.l_suppkey ) and not exists ( select * from lineitem l3 where l3.l_orderkey = l1.l_orderkey and l3.l_suppkey <> l1.l_suppkey and l3.l_receiptdate > l3.l_commitdate ) and s_nationkey = n_nationkey and n_name = 'SAUDI ARABIA' group by s_name order by numwait desc, s_name limit 100";
const TPCH_Q22: &str = "select cntrycode, count(*) as numcust, sum(c_acctbal) as totacctbal from ( select substring(c_phone from 1 for 2) as cntrycode, c_acctbal from customer where substring(c_phone from 1 for 2) in ('13', '31', '23', '29', '30', '18', '17') and c_acctbal > ( select avg(c_acctbal) from customer where c_acctbal > 0.00 and substring(c_phone from 1 for 2) in ('13', '31', '23', '29', '30', '18', '17') ) and not exists ( select * from orders where o_custkey = c_custkey ) ) as custsale group by cntrycode order by numcust desc";

const OLTP: &[&str] = &[
    "SELECT * FROM orders WHERE o_orderkey = 4711",
    "SELECT c_name, c_acctbal FROM customer WHERE c_custkey = 1234 LIMIT 1",
    "UPDATE customer SET c_acctbal = c_acctbal - 12.50 WHERE c_custkey = 99",
    "INSERT INTO orders (o_orderkey, o_custkey, o_orderstatus, o_totalprice, o_orderdate) VALUES (600001, 17, 'O', 1234.56, '1998-08-02')",
    "INSERT INTO lineitem VALUES (1, 155190, 7706, 1, 17, 21168.23, 0.04, 0.02, 'N', 'O', '1996-03-13', '1996-02-12', '1996-03-22', 'DELIVER IN PERSON', 'TRUCK', 'egular courts above the'), (1, 67310, 7311, 2, 36, 45983.16, 0.09, 0.06, 'N', 'O', '1996-04-12', '1996-02-28', '1996-04-20', 'TAKE BACK RETURN', 'MAIL', 'ly final dependencies')",
    "DELETE FROM lineitem WHERE l_orderkey = 42 AND l_linenumber = 3",
    "select o_orderkey, o_totalprice from orders where o_custkey in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10) order by o_orderdate desc limit 20, 10",
    "/* app:checkout */ SELECT p_name, p_retailprice FROM part WHERE p_partkey = 17 AND p_brand = \"Brand#13\"",
    "SELECT COUNT(*) FROM orders WHERE o_orderstatus = 'F' AND o_orderdate >= '1995-01-01' -- nightly report\n",
    "BEGIN",
    "COMMIT",
    "SET autocommit=1",
    "SHOW STATUS LIKE 'Threads_running'",
    "USE `tpch`",
    "CALL refresh_stats(42, 'x')",
    "select n_name from nation where n_regionkey = 1 union select n_name from nation where n_regionkey = 1",
    "SELECT ps_availqty FROM partsupp WHERE ps_partkey = 101 AND ps_suppkey = 7 FOR UPDATE",
];

fn main() {
    let tpch = [
        TPCH_Q1, TPCH_Q2, TPCH_Q3, TPCH_Q5, TPCH_Q7, TPCH_Q8, TPCH_Q9, TPCH_Q10, TPCH_Q12,
        TPCH_Q16, TPCH_Q18, TPCH_Q21, TPCH_Q22,
    ];
    let mix: Vec<&str> = OLTP.iter().copied().chain(tpch).collect();
    let bytes: usize = mix.iter().map(|q| q.len()).sum();
    println!(
        "fingerprint bench: {} statements, {} bytes avg",
        mix.len(),
        bytes / mix.len()
    );

    for (name, set) in [("mix", &mix[..]), ("oltp", OLTP), ("tpch", &tpch[..])] {
        measure(name, set, |q| fingerprint(q).len());
    }
    measure("mix+query_id", &mix, |q| query_id(&fingerprint(q)).len());
}

fn measure(name: &str, set: &[&str], f: impl Fn(&str) -> usize) {
    // Warm up, then run whole passes over the set for about a second.
    for q in set {
        black_box(f(black_box(q)));
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(1) {
        for q in set {
            black_box(f(black_box(q)));
        }
        n += set.len() as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name:>14}: {:>10.0} statements/s ({:.2} us/statement)",
        n as f64 / secs,
        secs * 1e6 / n as f64
    );
}
