//! Fixtures for the MLOps tests: a fresh PostgreSQL database per test, a
//! moto S3 server, and MariaDB helpers. Real servers only.

#![allow(dead_code)]

use sqlx::{Connection, Executor};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Server URL for administrative statements (CREATE/DROP DATABASE).
pub fn pg_admin_url() -> String {
    std::env::var("QLAT_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/postgres".into())
}

/// A PostgreSQL database created for one test and dropped afterwards, so
/// tests never share migration state (or tables) with each other or with
/// the shared `test` database.
pub struct PgDb {
    pub name: String,
    pub url: String,
}

impl PgDb {
    pub async fn create(tag: &str) -> PgDb {
        let name = format!("qlat_{tag}_{}", uuid::Uuid::now_v7().simple());
        let mut admin = sqlx::PgConnection::connect(&pg_admin_url())
            .await
            .expect("PostgreSQL on 127.0.0.1:5432 (set QLAT_TEST_PG_URL otherwise)");
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("create database");
        let admin_url = pg_admin_url();
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(b, _)| b);
        PgDb {
            url: format!("{base}/{name}"),
            name,
        }
    }

    pub async fn drop_db(self) {
        if let Ok(mut admin) = sqlx::PgConnection::connect(&pg_admin_url()).await {
            let _ = admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                )))
                .await;
        }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A moto S3 server on loopback, killed on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Starts `$QLAT_TEST_MOTO -H 127.0.0.1 -p <free port>`; `None` (with a
    /// loud message) when the variable is unset. `.ci/run` always sets it.
    pub fn start() -> Option<Moto> {
        let Some(bin) = std::env::var_os("QLAT_TEST_MOTO") else {
            eprintln!(
                "\n*** SKIPPING the S3 backend: QLAT_TEST_MOTO is not set. Install moto \
                 (python3 -m venv /tmp/qlat-venv-moto && /tmp/qlat-venv-moto/bin/pip install 'moto[server]') \
                 and export QLAT_TEST_MOTO=/tmp/qlat-venv-moto/bin/moto_server; .ci/run does this. ***\n"
            );
            return None;
        };
        let port = free_port();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.to_string_lossy()));
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(Moto { child, endpoint })
    }

    /// Creates a bucket (moto accepts unsigned requests).
    pub async fn create_bucket(&self, bucket: &str) {
        let resp = reqwest::Client::new()
            .put(format!("{}/{bucket}", self.endpoint))
            .send()
            .await
            .expect("create bucket");
        assert!(
            resp.status().is_success(),
            "create bucket: {}",
            resp.status()
        );
    }

    pub fn s3_config(&self, bucket: &str, prefix: &str) -> qlat::artifact_store::s3::S3Config {
        qlat::artifact_store::s3::S3Config {
            bucket: bucket.into(),
            prefix: prefix.into(),
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".into()),
            access_key_id: Some("testing".into()),
            secret_access_key: Some("testing".into()),
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn mysql_url() -> String {
    std::env::var("QLAT_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}
