//! Throughput of `extract` (parse + features) and `tokens` on one core, over
//! a mix resembling a captured log: ~60% short chatter and point queries,
//! ~40% TPC-H-sized queries. Prints statements per second.
//!
//! Run with `cargo bench --bench features`.

#[path = "../tests/support/tpch.rs"]
mod tpch;

use std::hint::black_box;
use std::time::Instant;

use qlat::sql::catalog::Catalog;
use qlat::sql::features::extract;
use qlat::sql::tokens::tokens;

/// Builds the statement mix: 33 short statements per 22 TPC-H queries
/// (60% / 40%).
fn mix() -> Vec<String> {
    let mut out = Vec::new();
    for (i, (_, sql)) in tpch::TPCH.iter().enumerate() {
        out.push((*sql).to_owned());
        out.push(tpch::CHATTER[i % tpch::CHATTER.len()].to_owned());
        if i % 2 == 0 {
            // Vary literals so nothing benefits from identical input.
            out.push(format!(
                "SELECT o_totalprice FROM orders WHERE o_orderkey = {}",
                i * 7919
            ));
        }
    }
    out
}

fn measure(name: &str, stmts: &[String], mut f: impl FnMut(&str)) {
    // `cargo bench --bench features -- <filter>` runs only matching lines
    // (cargo itself passes `--bench`, which is ignored).
    let filter = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    if filter.is_some_and(|f| !name.contains(f.as_str())) {
        return;
    }
    // Warm up, then run for about two seconds (0.2 s per single query).
    for s in stmts {
        f(s);
    }
    let budget = if name.starts_with("per-query") {
        0.2
    } else {
        2.0
    };
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < budget {
        for s in stmts {
            f(s);
        }
        n += stmts.len() as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name:<28} {:>10.0} statements/s  ({:.2} µs/statement, {n} statements)",
        n as f64 / secs,
        secs * 1e6 / n as f64
    );
}

fn main() {
    let catalog = Catalog::tpch().with_tpch_row_counts(1.0);
    let all = mix();
    let is_tpch = |s: &String| tpch::TPCH.iter().any(|(_, q)| q == s);
    let long: Vec<String> = all.iter().filter(|s| is_tpch(s)).cloned().collect();
    let short: Vec<String> = all.iter().filter(|s| !is_tpch(s)).cloned().collect();
    println!(
        "mix: {} statements, {:.0}% short, {:.0}% TPC-H",
        all.len(),
        100.0 * short.len() as f64 / all.len() as f64,
        100.0 * long.len() as f64 / all.len() as f64
    );
    measure("extract (mix)", &all, |s| {
        black_box(extract(black_box(s), &catalog));
    });
    measure("extract (short only)", &short, |s| {
        black_box(extract(black_box(s), &catalog));
    });
    measure("extract (TPC-H only)", &long, |s| {
        black_box(extract(black_box(s), &catalog));
    });
    let dialect = sqlparser::dialect::MySqlDialect {};
    measure("sqlparser only (TPC-H only)", &long, |s| {
        let _ = black_box(sqlparser::parser::Parser::parse_sql(&dialect, black_box(s)));
    });
    measure("sqlparser tokenizer (TPC-H)", &long, |s| {
        let _ = black_box(
            sqlparser::tokenizer::Tokenizer::new(&dialect, black_box(s)).tokenize_with_location(),
        );
    });
    for (name, sql) in tpch::TPCH {
        let one = [sql.to_owned()];
        measure(&format!("per-query analyze {name}"), &one, |s| {
            black_box(extract(black_box(s), &catalog));
        });
    }
    measure("tokens (mix)", &all, |s| {
        black_box(tokens(black_box(s)));
    });
}
