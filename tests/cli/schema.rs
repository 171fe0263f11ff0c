//! Schema sources against the real MariaDB: a live server's
//! information_schema, a default-options `mariadb-dump --no-data` file, two
//! databases at once, and none; and commands run from a directory outside
//! the repository, which must leave it as they found it.

use std::process::Command;

use qlat::schema::{SchemaSource, live};
use qlat::sql::catalog::{Catalog, IndexUse};

use crate::support::cli::{qlat, test_home};

fn mariadb(database: &str, sql: &str) {
    let out = Command::new("mariadb")
        .args(["-uroot", "-h127.0.0.1", database, "-e", sql])
        .output()
        .expect("the mariadb client runs");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn server() -> String {
    std::env::var("QLAT_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

/// A small application schema in database `name`, with rows and fresh
/// statistics.
fn create_shop(name: &str) {
    mariadb(
        "",
        &format!(
            "DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name}; USE {name};
             CREATE TABLE customer (id INT UNSIGNED NOT NULL PRIMARY KEY, email VARCHAR(80) NOT NULL,
               region TINYINT NOT NULL, UNIQUE KEY uq_email (email), KEY k_region (region));
             CREATE TABLE purchase (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
               customer_id INT UNSIGNED NOT NULL, placed DATE NOT NULL, total DECIMAL(10,2) NOT NULL,
               note TEXT, KEY k_cust_placed (customer_id, placed), FULLTEXT KEY ft_note (note),
               CONSTRAINT fk_cust FOREIGN KEY (customer_id) REFERENCES customer (id));
             INSERT INTO customer SELECT seq, CONCAT('c', seq, '@x'), seq % 7 FROM seq_1_to_500;
             INSERT INTO purchase (customer_id, placed, total)
               SELECT 1 + seq % 500, '2024-01-01' + INTERVAL seq % 300 DAY, seq FROM seq_1_to_3000;
             ANALYZE TABLE customer, purchase;"
        ),
    );
}

fn drop_db(name: &str) {
    mariadb("", &format!("DROP DATABASE IF EXISTS {name}"));
}

/// The structure both sources must agree on: columns, keys, foreign keys.
fn structure(c: &Catalog) -> Vec<String> {
    c.tables
        .values()
        .map(|t| {
            let cols: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
            let idx: Vec<String> = t
                .indexes
                .iter()
                .map(|i| format!("{}{:?}{}", i.name, i.columns, i.unique))
                .collect();
            let fks: Vec<String> = t
                .foreign_keys
                .iter()
                .map(|f| {
                    format!(
                        "{:?}->{}{:?}",
                        f.columns, f.referenced_table, f.referenced_columns
                    )
                })
                .collect();
            format!("{} {cols:?} pk{:?} {idx:?} {fks:?}", t.name, t.primary_key)
        })
        .collect()
}

#[tokio::test]
async fn live_server_and_its_dump_give_the_same_catalog() {
    let name = format!("qlat_test_schema_{}", std::process::id());
    create_shop(&name);
    let url = format!("{}/{name}", server());
    let live = live::read(&url).await.expect("live schema");
    let dir = tempfile::tempdir().expect("temp dir");
    let dump_path = dir.path().join("dump.sql");
    let dump = Command::new("mariadb-dump")
        .args(["-uroot", "-h127.0.0.1", "--no-data", &name])
        .output()
        .expect("mariadb-dump runs");
    assert!(dump.status.success());
    std::fs::write(&dump_path, &dump.stdout).expect("write dump");
    let from_dump = qlat::schema::read_file(&dump_path).expect("default-options dump reads");
    drop_db(&name);

    assert_eq!(structure(&live), structure(&from_dump));
    let p = live.table("purchase").expect("purchase");
    assert_eq!(p.database.as_deref(), Some(name.as_str()));
    assert!(
        p.indexes.iter().all(|i| i.name != "ft_note"),
        "FULLTEXT is no lookup index"
    );
    assert_eq!(
        live.is_indexed("purchase", "customer_id"),
        IndexUse::Leading
    );
    assert_eq!(live.is_indexed("purchase", "placed"), IndexUse::NonLeading);
    // Row counts are the engine's estimates: within a factor of 2.
    let rows = p.row_count.expect("row estimate");
    assert!(
        (1500..=6000).contains(&rows),
        "purchase rows ~3000, got {rows}"
    );
    // Leading index columns carry the server's cardinality and range.
    let region = live
        .table("customer")
        .and_then(|t| t.column("region"))
        .and_then(|c| c.stats)
        .expect("region stats");
    assert_eq!((region.min, region.max), (Some(0.0), Some(6.0)));
    assert!((3..=20).contains(&region.distinct), "{region:?}");
    let id = p.column("id").and_then(|c| c.stats).expect("id stats");
    assert_eq!((id.min, id.max), (Some(1.0), Some(3000.0)));
}

#[tokio::test]
async fn two_databases_at_once_keep_same_named_tables_apart() {
    let (a, b) = (
        format!("qlat_test_schema_a_{}", std::process::id()),
        format!("qlat_test_schema_b_{}", std::process::id()),
    );
    create_shop(&a);
    mariadb(
        "",
        &format!(
            "DROP DATABASE IF EXISTS {b}; CREATE DATABASE {b};
             CREATE TABLE {b}.customer (code CHAR(3) PRIMARY KEY, name TEXT);"
        ),
    );
    let sources = [
        SchemaSource::parse(&format!("{}/{a}", server())),
        SchemaSource::parse(&format!("{}/{b}", server())),
    ];
    let cat = qlat::schema::load(&sources, None).await.expect("both read");
    drop_db(&a);
    drop_db(&b);
    assert_eq!(cat.default_database.as_deref(), Some(a.as_str()));
    assert_eq!(cat.tables.len(), 3);
    let first = cat
        .table("customer")
        .expect("bare name: the first database");
    assert!(first.column("email").is_some());
    let second = cat.table(&format!("{b}.customer")).expect("qualified name");
    assert_eq!(second.primary_key, ["code"]);
    assert!(
        cat.table(&format!("{a}.customer"))
            .and_then(|t| t.column("email"))
            .is_some()
    );
}

#[tokio::test]
async fn a_server_url_without_database_or_an_unknown_one_is_refused_by_name() {
    let err = live::read(&server()).await.expect_err("no database");
    assert!(err.to_string().contains("name the database"), "{err}");
    let err = live::read(&format!("{}/qlat_no_such_db_here", server()))
        .await
        .expect_err("unknown database");
    assert!(err.to_string().contains("does not exist"), "{err}");
}

/// Files under `dir`, recursively.
fn files_in(dir: &std::path::Path) -> Vec<String> {
    walk(dir)
        .into_iter()
        .map(|p| p.display().to_string())
        .collect()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn from_outside_the_repository_commands_need_no_flags_and_leave_no_files() {
    let cwd = tempfile::tempdir().expect("temp dir");
    let home = tempfile::tempdir().expect("temp home");
    let repo = env!("CARGO_MANIFEST_DIR");
    let run = |args: &[&str]| {
        let mut c = qlat();
        c.current_dir(cwd.path()).env("QLAT_HOME", home.path());
        c.env_remove("QLAT_ARTIFACTS")
            .env_remove("QLAT_DATABASE_URL");
        c.args(args).output().expect("qlat runs")
    };
    let slow = format!("{repo}/data/native/slow.log");
    let out = run(&["analyze", &slow, "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(v["query_count"].as_u64().unwrap_or(0) > 1000);

    let out = run(&["predict", "select count(*) from lineitem"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("model: the built-in model"), "{err}");

    // Reading commands never create the database they read.
    let out = run(&["runs"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no database at") && err.contains("--database-url"),
        "{err}"
    );
    assert_eq!(err.matches("no database at").count(), 1, "{err}");

    assert!(
        files_in(cwd.path()).is_empty(),
        "{:?}",
        files_in(cwd.path())
    );
    assert!(
        files_in(home.path()).is_empty(),
        "{:?}",
        files_in(home.path())
    );
    let _ = test_home();
}
