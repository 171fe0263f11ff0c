//! One conformance suite for every artifact store backend: the local
//! filesystem, S3 (a real moto server on loopback) and the database table
//! (the machine's PostgreSQL, and SQLite).

use crate::support::mlops::{Moto, PgDb};
use bytes::Bytes;
use qlat::artifact_store::{
    ArtifactStore, ArtifactStoreError, ArtifactStoreExt, db::DbStore, local::LocalStore,
    s3::S3Store,
};
use std::sync::Arc;

/// `len` bytes cycling through every byte value, shifted by `seed`.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_add(seed)).collect()
}

fn chunks(parts: Vec<Result<Bytes, std::io::Error>>) -> qlat::artifact_store::ByteStream<'static> {
    Box::pin(futures_util::stream::iter(parts))
}

async fn basics(s: &dyn ArtifactStore) {
    assert!(s.list("").await.expect("list").is_empty(), "starts empty");
    assert!(!s.exists("a/b").await.expect("exists"));
    assert!(matches!(
        s.get("a/b").await,
        Err(ArtifactStoreError::NotFound { .. })
    ));
    let all_bytes = pattern(256 * 3, 0);
    s.put("a/b", Bytes::from(all_bytes.clone()))
        .await
        .expect("put");
    assert_eq!(s.get("a/b").await.expect("get"), all_bytes);
    assert!(s.exists("a/b").await.expect("exists"));
    s.put("a/b", Bytes::from_static(b""))
        .await
        .expect("overwrite");
    assert_eq!(
        s.get("a/b").await.expect("get").len(),
        0,
        "empty objects exist"
    );
    assert!(s.exists("a/b").await.expect("exists"));
    s.delete("a/b").await.expect("delete");
    s.delete("a/b").await.expect("delete again");
    assert!(!s.exists("a/b").await.expect("exists"));
    assert!(matches!(
        s.put("../x", Bytes::new()).await,
        Err(ArtifactStoreError::BadKey { .. })
    ));
}

async fn listing(s: &dyn ArtifactStore) {
    for k in [
        "runs/b/y",
        "runs/a/x",
        "runs/ab",
        "models/m1/model.json",
        "runsx",
        "v1.2_done+x",
    ] {
        s.put(k, Bytes::from(k.as_bytes().to_vec()))
            .await
            .expect("put");
    }
    assert_eq!(
        s.list("runs/").await.expect("list"),
        ["runs/a/x", "runs/ab", "runs/b/y"]
    );
    assert_eq!(
        s.list("runs/a").await.expect("list"),
        ["runs/a/x", "runs/ab"]
    );
    assert_eq!(
        s.list("runs").await.expect("list"),
        ["runs/a/x", "runs/ab", "runs/b/y", "runsx"]
    );
    assert_eq!(s.list("v1.2_").await.expect("list"), ["v1.2_done+x"]);
    assert!(matches!(
        s.put("100%", Bytes::new()).await,
        Err(ArtifactStoreError::BadKey { .. })
    ));
    assert_eq!(s.list("").await.expect("list").len(), 6);
    assert!(s.list("nothing/").await.expect("list").is_empty());
    for k in s.list("").await.expect("list") {
        s.delete(&k).await.expect("delete");
    }
    assert!(s.list("").await.expect("list").is_empty());
}

async fn streaming(s: &dyn ArtifactStore) {
    // Big enough for several database appends and S3 multipart parts.
    let parts: Vec<Vec<u8>> = (0..11u8).map(|i| pattern(1 << 20, i)).collect();
    let expected: Vec<u8> = parts.concat();
    let n = s
        .put_stream(
            "big/blob",
            chunks(parts.into_iter().map(|p| Ok(Bytes::from(p))).collect()),
        )
        .await
        .expect("put_stream");
    assert_eq!(n, expected.len() as u64);
    let got = s.get("big/blob").await.expect("get");
    assert!(
        got == expected,
        "streamed object differs ({} bytes)",
        got.len()
    );
    s.delete("big/blob").await.expect("delete");
}

/// A write whose source fails midway leaves the previous object, and a
/// failed first write leaves nothing.
async fn interrupted(s: &dyn ArtifactStore) {
    s.put("k/old", Bytes::from_static(b"the old value"))
        .await
        .expect("put");
    let failing = chunks(vec![
        Ok(Bytes::from(pattern(1 << 20, 1))),
        Ok(Bytes::from(pattern(1 << 20, 2))),
        Err(std::io::Error::other("the source died midway")),
        Ok(Bytes::from_static(b"never written")),
    ]);
    let err = s.put_stream("k/old", failing).await;
    assert!(
        matches!(err, Err(ArtifactStoreError::Source { .. })),
        "{err:?}"
    );
    assert_eq!(
        s.get("k/old").await.expect("old value kept"),
        &b"the old value"[..]
    );
    let failing = chunks(vec![
        Ok(Bytes::from(pattern(1 << 20, 3))),
        Err(std::io::Error::other("boom")),
    ]);
    assert!(s.put_stream("k/new", failing).await.is_err());
    assert!(
        !s.exists("k/new").await.expect("exists"),
        "no partial object"
    );
    assert_eq!(
        s.list("").await.expect("list"),
        ["k/old"],
        "nothing else appeared"
    );
    s.delete("k/old").await.expect("delete");
}

/// Writers racing on one key and on their own keys, readers checking that
/// every read is one whole version.
async fn concurrent(s: Arc<dyn ArtifactStore>) {
    const WRITERS: u8 = 6;
    const ROUNDS: usize = 4;
    const LEN: usize = 200_000;
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            for round in 0..ROUNDS {
                // Every byte of a version is the writer's id: a torn read
                // would mix ids or be short.
                let body = Bytes::from(vec![w; LEN]);
                s.put("shared/key", body.clone()).await.expect("shared put");
                s.put(&format!("own/{w}/{round}"), body)
                    .await
                    .expect("own put");
            }
        }));
    }
    for _ in 0..2 {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            for _ in 0..(WRITERS as usize * ROUNDS) {
                match s.get("shared/key").await {
                    Ok(b) => {
                        assert_eq!(b.len(), LEN, "torn read: wrong length");
                        assert!(b.iter().all(|x| *x == b[0]), "torn read: mixed versions");
                    }
                    Err(ArtifactStoreError::NotFound { .. }) => {}
                    Err(e) => panic!("read failed: {e}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let last = s.get("shared/key").await.expect("final value");
    assert_eq!(last.len(), LEN);
    assert!(last[0] < WRITERS && last.iter().all(|x| *x == last[0]));
    let own = s.list("own/").await.expect("list");
    assert_eq!(
        own.len(),
        WRITERS as usize * ROUNDS,
        "every writer's keys exist"
    );
    for k in s.list("").await.expect("list") {
        s.delete(&k).await.expect("delete");
    }
}

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct Row {
    query: String,
    seconds: f64,
    rows: Option<u64>,
}

/// Typed helpers and whole model directories, with checksum verification.
async fn helpers(s: &dyn ArtifactStore) {
    let report = serde_json::json!({"rows": 3, "nested": {"ok": true, "f": 0.1}});
    s.put_json("r/report.json", &report).await.expect("json");
    let back: serde_json::Value = s.get_json("r/report.json").await.expect("json");
    assert_eq!(back, report);
    let rows = vec![
        Row {
            query: "SELECT 'a,b' FROM t WHERE x = \"y\"\n".into(),
            seconds: 1.5e-6,
            rows: None,
        },
        Row {
            query: "SELECT 1".into(),
            seconds: 12.0,
            rows: Some(7),
        },
    ];
    s.put_records("r/rows.csv", &rows).await.expect("csv");
    let back: Vec<Row> = s.get_records("r/rows.csv").await.expect("csv");
    assert_eq!(back, rows);

    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    let keys = s.put_dir("models/v1", &model).await.expect("put_dir");
    assert_eq!(
        keys.last().map(String::as_str),
        Some("models/v1/model.json"),
        "the manifest goes last"
    );
    assert!(
        keys.iter().any(|k| k == "models/v1/eval/eval.json"),
        "subfolders too"
    );
    let out = tempfile::tempdir().expect("tempdir");
    let manifest = s
        .get_dir("models/v1", out.path())
        .await
        .expect("get_dir")
        .expect("a model directory");
    assert_eq!(manifest.training_samples, 21_426);
    qlat::train::TrainedModels::load(out.path()).expect("downloaded model loads");

    // A flipped byte in the stored copy is refused on download.
    let mut ridge = s.get("models/v1/ridge.json").await.expect("get").to_vec();
    let i = ridge.len() / 2;
    ridge[i] = if ridge[i] == b'1' { b'2' } else { b'1' };
    s.put("models/v1/ridge.json", Bytes::from(ridge))
        .await
        .expect("put");
    let out2 = tempfile::tempdir().expect("tempdir");
    let err = s.get_dir("models/v1", out2.path()).await;
    assert!(
        matches!(&err, Err(ArtifactStoreError::BadModel { message, .. }) if message.contains("ridge.json")),
        "{err:?}"
    );
    assert!(matches!(
        s.get_dir("models/none", out2.path()).await,
        Err(ArtifactStoreError::NotFound { .. })
    ));
    for k in s.list("").await.expect("list") {
        s.delete(&k).await.expect("delete");
    }
}

async fn conformance(s: Arc<dyn ArtifactStore>) {
    basics(s.as_ref()).await;
    listing(s.as_ref()).await;
    streaming(s.as_ref()).await;
    interrupted(s.as_ref()).await;
    concurrent(Arc::clone(&s)).await;
    helpers(s.as_ref()).await;
}

/// Every file under `dir`, hidden ones included.
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_backend_conforms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn ArtifactStore> = Arc::new(LocalStore::new(dir.path()).expect("store"));
    conformance(Arc::clone(&store)).await;
    // After the interrupted and concurrent writes: no temporary litter.
    assert!(
        files_under(dir.path()).is_empty(),
        "{:?}",
        files_under(dir.path())
    );
    // The URL form opens the same directory.
    let opened = qlat::artifact_store::open(&format!("file://{}", dir.path().display()))
        .await
        .expect("open");
    opened
        .put("x", Bytes::from_static(b"1"))
        .await
        .expect("put");
    assert!(store.exists("x").await.expect("exists"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_backend_conforms_against_moto() {
    let Some(moto) = Moto::start() else { return };
    moto.create_bucket("qlat-artifacts").await;
    let store: Arc<dyn ArtifactStore> =
        Arc::new(S3Store::new(moto.s3_config("qlat-artifacts", "team/qlat")).expect("s3 store"));
    assert_eq!(store.describe(), "s3://qlat-artifacts/team/qlat");
    conformance(Arc::clone(&store)).await;
    // The prefix keeps the store's keys apart from the rest of the bucket.
    let other: Arc<dyn ArtifactStore> =
        Arc::new(S3Store::new(moto.s3_config("qlat-artifacts", "")).expect("s3 store"));
    store
        .put("inside", Bytes::from_static(b"1"))
        .await
        .expect("put");
    assert_eq!(other.list("").await.expect("list"), ["team/qlat/inside"]);
    assert!(store.list("").await.expect("list") == ["inside"]);

    // The CLI opens s3:// URLs from the standard AWS_* variables.
    moto.create_bucket("qlat-cli").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    crate::support::mlops::write_json_array(
        &logs.join("slow.json"),
        &crate::support::mlops::slow_records()[..600],
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_qlat"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["pipeline", "--once", "--epochs", "2", "--source"])
        .arg(&logs)
        .arg("--database-url")
        .arg(format!("sqlite://{}", dir.path().join("q.db").display()))
        .args(["--artifact-store", "s3://qlat-cli/pipeline"])
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("TMPDIR", dir.path())
        .output()
        .expect("qlat runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli: Arc<dyn ArtifactStore> =
        Arc::new(S3Store::new(moto.s3_config("qlat-cli", "pipeline")).expect("s3 store"));
    let keys = cli.list("models/").await.expect("list");
    assert!(keys.iter().any(|k| k.ends_with("/model.json")), "{keys:?}");
    assert!(!cli.list("runs/").await.expect("list").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_backend_conforms() {
    let pg = PgDb::create("artifacts").await;
    let store: Arc<dyn ArtifactStore> =
        Arc::new(DbStore::connect(&pg.url).await.expect("postgres store"));
    conformance(Arc::clone(&store)).await;
    // open() picks the same backend from the URL.
    let opened = qlat::artifact_store::open(&pg.url).await.expect("open");
    opened
        .put("via/open", Bytes::from_static(b"x"))
        .await
        .expect("put");
    assert!(store.exists("via/open").await.expect("exists"));
    drop((store, opened));
    pg.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_backend_conforms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("artifacts.db").display());
    let store: Arc<dyn ArtifactStore> =
        Arc::new(DbStore::connect(&url).await.expect("sqlite store"));
    conformance(store).await;
}
