//! Training and serving cost of the latency models on the shipped dataset.
//!
//! Prints training wall time and peak memory (VmHWM) once, then criterion
//! measures one TPC-H prediction with and without explanation (featurize
//! cache off, i.e. parse + features + forward every time; and cache on, a
//! repeated statement) and a batch of 1,000 logged statements.
//!
//! Run with `cargo bench --bench model`.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use qlat::model::LatencyModel;
use qlat::sql::catalog::Catalog;
use qlat::train::{TrainConfig, TrainedModels, fit_all, samples_from_events};

const Q3: &str = "select l_orderkey, sum(l_extendedprice * (1 - l_discount)) as revenue, o_orderdate, o_shippriority from customer, orders, lineitem where c_mktsegment = 'BUILDING' and c_custkey = o_custkey and l_orderkey = o_orderkey and o_orderdate < date '1995-03-15' and l_shipdate > date '1995-03-15' group by l_orderkey, o_orderdate, o_shippriority order by revenue desc, o_orderdate limit 10";

/// The catalog `qlat train` uses: the DDL with the shipped capture's row
/// counts and column statistics.
fn catalog() -> Catalog {
    let mut c = Catalog::tpch();
    qlat::schema::stats::apply_meta(&mut c, std::path::Path::new("data/capture.json"))
        .expect("data/capture.json");
    c
}

fn vm_hwm() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap_or("VmHWM: unknown")
        .to_owned()
}

fn train() -> (TrainedModels, Vec<String>) {
    let events = qlat::ingest::read_paths(["data/slow_log.json"])
        .expect("data/slow_log.json")
        .filter_map(Result::ok);
    let samples = samples_from_events(events);
    let start = Instant::now();
    let models = fit_all(&samples, &catalog(), &TrainConfig::default()).expect("training");
    println!(
        "training on {} statements: {:.1} s (MLP best epoch {}), {}",
        samples.len(),
        start.elapsed().as_secs_f64(),
        models.mlp.best_epoch,
        vm_hwm()
    );
    let batch = samples
        .iter()
        .step_by(16)
        .take(1_000)
        .map(|s| s.sql.clone())
        .collect();
    (models, batch)
}

fn bench(c: &mut Criterion) {
    let (models, batch) = train();
    let spec = &models.spec;
    for (model, name) in [
        (
            models.mlp.clone() as std::sync::Arc<dyn LatencyModel>,
            "mlp",
        ),
        (models.ridge.clone(), "ridge"),
    ] {
        spec.set_cache(false);
        c.bench_function(&format!("{name}: predict TPC-H Q3 (uncached)"), |b| {
            b.iter(|| model.predict_featurized(&spec.featurize(black_box(Q3)).1, false))
        });
        c.bench_function(
            &format!("{name}: predict + explain TPC-H Q3 (uncached)"),
            |b| b.iter(|| model.predict(black_box(Q3))),
        );
        spec.set_cache(true);
        c.bench_function(
            &format!("{name}: predict + explain TPC-H Q3 (cached)"),
            |b| b.iter(|| model.predict(black_box(Q3))),
        );
    }
    let sqls: Vec<&str> = batch.iter().map(String::as_str).collect();
    let mut group = c.benchmark_group("batch");
    group.throughput(Throughput::Elements(sqls.len() as u64));
    group.sample_size(10);
    spec.set_cache(false);
    group.bench_function(
        "mlp: 1,000 logged statements, no explanations (uncached)",
        |b| b.iter(|| models.mlp.predict_batch(black_box(&sqls))),
    );
    spec.set_cache(true);
    group.bench_function(
        "mlp: 1,000 logged statements, no explanations (cached)",
        |b| b.iter(|| models.mlp.predict_batch(black_box(&sqls))),
    );
    group.finish();
}

// Plots need system fonts the build machine may not have; numbers suffice.
criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = bench
}
criterion_main!(benches);
