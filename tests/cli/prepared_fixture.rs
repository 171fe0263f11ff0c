//! Writes `tests/fixtures/prepared/`: what the real MariaDB logs for a small
//! workload of server-side prepared statements, text statements, `USE`,
//! `Init DB`, SQL-level `PREPARE`/`EXECUTE`, tables whose names differ only
//! by digits (`shelf1`..`shelf4`) and one table name in two databases
//! (`qlat_prep_a.shelf1`, `qlat_prep_b.shelf1`).
//!
//! Run by hand, never in CI (it switches the server's global log settings
//! for a few seconds and restores them):
//! `cargo test --test cli -- --ignored write_prepared_fixture`.
//! The fixture's README says what is in it and how the tests use it.

use serde_json::{Map, Value};
use sqlx::{AssertSqlSafe, Connection, Executor, MySqlConnection, Row};
use std::path::{Path, PathBuf};
use std::process::Command;

const SERVER: &str = "mysql://root@127.0.0.1:3306";
const SETTINGS: [&str; 8] = [
    "general_log",
    "slow_query_log",
    "log_output",
    "general_log_file",
    "slow_query_log_file",
    "long_query_time",
    "min_examined_row_limit",
    "log_slow_admin_statements",
];

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/prepared")
}

async fn exec(c: &mut MySqlConnection, sql: &str) {
    c.execute(AssertSqlSafe(sql.to_string()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn global(c: &mut MySqlConnection, name: &str) -> String {
    let sql = format!("SELECT CAST(@@GLOBAL.{name} AS CHAR)");
    let row = c
        .fetch_one(AssertSqlSafe(sql))
        .await
        .expect("global variable");
    row.try_get::<String, _>(0).expect("text")
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

async fn setup(admin: &mut MySqlConnection) {
    for db in ["qlat_prep_a", "qlat_prep_b"] {
        exec(admin, &format!("DROP DATABASE IF EXISTS {db}")).await;
        exec(admin, &format!("CREATE DATABASE {db}")).await;
    }
    let tables = [
        "qlat_prep_a.shelf1",
        "qlat_prep_a.shelf2",
        "qlat_prep_a.shelf3",
        "qlat_prep_a.shelf4",
        "qlat_prep_b.shelf1",
    ];
    for t in tables {
        exec(
            admin,
            &format!("CREATE TABLE {t} (id INT PRIMARY KEY, qty INT NOT NULL)"),
        )
        .await;
        let rows: Vec<String> = (1..=20).map(|i| format!("({i}, {})", i * 7 % 13)).collect();
        exec(admin, &format!("INSERT INTO {t} VALUES {}", rows.join(","))).await;
    }
}

/// The workload. Session A works in `qlat_prep_a`, then switches to
/// `qlat_prep_b` with `USE`; session B works in `qlat_prep_b`; a `mariadb`
/// client session reaches `qlat_prep_a` with `Init DB`.
async fn workload() -> Vec<u64> {
    let mut a = MySqlConnection::connect(&format!("{SERVER}/qlat_prep_a"))
        .await
        .expect("session A");
    let mut ids = vec![connection_id(&mut a).await];
    for (table, runs) in [("shelf1", 6), ("shelf2", 3), ("shelf3", 2), ("shelf4", 1)] {
        let sql = format!("SELECT id, qty FROM {table} WHERE id = ?");
        for i in 0..runs {
            sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(i + 1)
                .fetch_all(&mut a)
                .await
                .expect("prepared select");
        }
    }
    for i in 0..2 {
        sqlx::query("UPDATE shelf3 SET qty = qty + ? WHERE id = ?")
            .bind(1)
            .bind(i + 4)
            .execute(&mut a)
            .await
            .expect("prepared update");
    }
    sqlx::query(
        "SELECT a.id FROM shelf1 a JOIN qlat_prep_b.shelf1 b ON a.id = b.id WHERE a.qty < ?",
    )
    .bind(5)
    .fetch_all(&mut a)
    .await
    .expect("cross-database join");
    exec(&mut a, "SELECT COUNT(*) FROM shelf2").await;
    exec(
        &mut a,
        "PREPARE s FROM 'SELECT qty FROM shelf4 WHERE id = ?'",
    )
    .await;
    exec(&mut a, "SET @x = 2").await;
    exec(&mut a, "EXECUTE s USING @x").await;
    exec(&mut a, "DEALLOCATE PREPARE s").await;
    exec(&mut a, "USE qlat_prep_b").await;
    sqlx::query("SELECT qty FROM shelf1 WHERE id = ?")
        .bind(3)
        .fetch_all(&mut a)
        .await
        .expect("prepared select after USE");
    a.close().await.expect("close A");

    let mut b = MySqlConnection::connect(&format!("{SERVER}/qlat_prep_b"))
        .await
        .expect("session B");
    ids.push(connection_id(&mut b).await);
    for q in [3, 8, 11] {
        sqlx::query("SELECT id FROM shelf1 WHERE qty > ?")
            .bind(q)
            .fetch_all(&mut b)
            .await
            .expect("prepared select in B");
    }
    exec(&mut b, "SELECT COUNT(*) FROM shelf1").await;
    b.close().await.expect("close B");

    let out = Command::new("mariadb")
        .args(["-uroot", "-h127.0.0.1", "-N", "-B", "-e"])
        .arg("SELECT CONNECTION_ID(); use qlat_prep_a; SELECT COUNT(*) FROM shelf4 WHERE qty > 3;")
        .output()
        .expect("the mariadb client runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    ids.push(
        text.lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .expect("connection id"),
    );
    ids
}

async fn connection_id(c: &mut MySqlConnection) -> u64 {
    let row = c
        .fetch_one("SELECT CONNECTION_ID()")
        .await
        .expect("connection id");
    row.try_get::<u64, _>(0).expect("id")
}

/// Rows of `mysql.{table}` of the given threads, exported as `qlat capture`
/// does: integers as numbers, everything else in the server's text form.
async fn export(admin: &mut MySqlConnection, table: &str, time: &str, ids: &[u64]) -> String {
    let cols_sql = format!(
        "SELECT CAST(column_name AS CHAR), CAST(data_type AS CHAR) FROM information_schema.columns WHERE table_schema = 'mysql' AND table_name = '{table}' ORDER BY ordinal_position"
    );
    let cols: Vec<(String, String)> = admin
        .fetch_all(AssertSqlSafe(cols_sql))
        .await
        .expect("columns")
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let select: Vec<String> = cols
        .iter()
        .map(|(c, t)| {
            if t.contains("blob") || t.contains("text") {
                format!("CONVERT(`{c}` USING utf8mb4)")
            } else {
                format!("CAST(`{c}` AS CHAR)")
            }
        })
        .collect();
    let list: Vec<String> = ids.iter().map(u64::to_string).collect();
    let sql = format!(
        "SELECT {} FROM mysql.{table} WHERE thread_id IN ({}) ORDER BY {time}",
        select.join(", "),
        list.join(",")
    );
    let rows = admin.fetch_all(AssertSqlSafe(sql)).await.expect("export");
    let mut out = String::from("[\n");
    for (n, row) in rows.iter().enumerate() {
        let mut obj = Map::new();
        for (i, (name, ty)) in cols.iter().enumerate() {
            let text: Option<String> = row.try_get(i).ok().flatten();
            let value = match text {
                None => Value::Null,
                Some(s) if ty.contains("int") => s
                    .parse::<u64>()
                    .map(Value::from)
                    .unwrap_or(Value::String(s)),
                Some(s) => Value::String(s),
            };
            obj.insert(name.clone(), value);
        }
        out.push_str(&serde_json::to_string(&obj).expect("json"));
        out.push_str(if n + 1 < rows.len() { ",\n" } else { "\n" });
    }
    out.push_str("]\n");
    out
}

/// Thread ids named in a native log: general-log entry lines
/// (`time\t    12 Query\t...`) and slow-log `# Thread_id: 12` headers.
fn thread_ids(text: &str, slow: bool) -> Vec<u64> {
    let mut ids = Vec::new();
    for line in text.lines() {
        let id = if slow {
            line.strip_prefix("# Thread_id: ")
                .and_then(|r| r.split_whitespace().next())
                .and_then(|n| n.parse().ok())
        } else {
            line.split_once('\t')
                .map(|(_, r)| r.trim_start())
                .and_then(|r| r.split_once(' '))
                .and_then(|(n, cmd)| {
                    let known = [
                        "Connect",
                        "Query",
                        "Quit",
                        "Init DB",
                        "Prepare",
                        "Execute",
                        "Close stmt",
                    ];
                    known
                        .iter()
                        .any(|k| cmd.starts_with(k))
                        .then_some(n)?
                        .parse()
                        .ok()
                })
        };
        if let Some(id) = id
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    ids
}

#[tokio::test]
#[ignore]
async fn write_prepared_fixture() {
    let mut admin = MySqlConnection::connect(SERVER).await.expect("MariaDB");
    // The admin session itself stays out of both logs.
    exec(&mut admin, "SET SESSION sql_log_off = 1").await;
    exec(&mut admin, "SET SESSION long_query_time = 1000").await;
    setup(&mut admin).await;
    let mut before = Vec::new();
    for s in SETTINGS {
        before.push(global(&mut admin, s).await);
    }
    let datadir = global(&mut admin, "datadir").await;
    let general_file = format!("{datadir}qlat-prep-fixture-general.log");
    let slow_file = format!("{datadir}qlat-prep-fixture-slow.log");
    let _ = std::fs::remove_file(&general_file);
    let _ = std::fs::remove_file(&slow_file);
    for sql in [
        "SET GLOBAL log_output = 'TABLE,FILE'".to_string(),
        format!("SET GLOBAL general_log_file = {}", quote(&general_file)),
        format!("SET GLOBAL slow_query_log_file = {}", quote(&slow_file)),
        "SET GLOBAL long_query_time = 0".to_string(),
        "SET GLOBAL min_examined_row_limit = 0".to_string(),
        "SET GLOBAL log_slow_admin_statements = ON".to_string(),
        "SET GLOBAL slow_query_log = ON".to_string(),
        "SET GLOBAL general_log = ON".to_string(),
    ] {
        exec(&mut admin, &sql).await;
    }
    let ids = workload().await;
    for (name, value) in SETTINGS.iter().zip(&before) {
        let value = match *name {
            "log_output" | "general_log_file" | "slow_query_log_file" => quote(value),
            _ => value.clone(),
        };
        exec(&mut admin, &format!("SET GLOBAL {name} = {value}")).await;
    }

    let dir = fixture_dir();
    std::fs::create_dir_all(&dir).expect("fixture dir");
    for (table, time, file) in [
        ("general_log", "event_time", "general_log.json"),
        ("slow_log", "start_time", "slow_log.json"),
    ] {
        let json = export(&mut admin, table, time, &ids).await;
        std::fs::write(dir.join(file), json).expect("write export");
    }
    for (src, name, slow) in [
        (&general_file, "general.log", false),
        (&slow_file, "slow.log", true),
    ] {
        let text = std::fs::read_to_string(src).expect("native log");
        let found = thread_ids(&text, slow);
        assert!(
            found.iter().all(|id| ids.contains(id)),
            "{src} holds other sessions' threads {found:?} (ours: {ids:?}): run again"
        );
        std::fs::write(dir.join(name), text).expect("write native log");
        let _ = std::fs::remove_file(src);
    }
    exec(&mut admin, "DROP DATABASE qlat_prep_a").await;
    exec(&mut admin, "DROP DATABASE qlat_prep_b").await;
}
