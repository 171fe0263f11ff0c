#!/usr/bin/env bash
# The A→B simulation of issue #17: a model learned on one server (A), applied
# to another (B), with and without `qlat calibrate`, against a model trained
# on B itself. Both captures run the same TPC-H workload generator on the
# same MariaDB with different server settings: A with a 512 MiB InnoDB
# buffer pool (the data, ~230 MiB, stays in memory), B with a 16 MiB pool
# (most reads go through the page cache and InnoDB's I/O path), and
# different seeds (B draws its own exploration recipes, so part of its
# shapes are new to A's model).
#
#   benches/calibration_ab.sh [WORKDIR]     (default /tmp/qlat-cal-ab)
#
# Steps (each skipped when its output exists, so a re-run only redoes what
# is missing):
#   1. capture A and B (under flock /tmp/qlat-mariadb.lock: the captures
#      change global server settings and restore them);
#   2. split B by time: cal = its first 500 statements, test = its newest
#      30 %, trainB = its oldest 70 %;
#   3. train on A (with the grouped-CV evaluation, so unseen-shape intervals
#      are calibrated), train on trainB;
#   4. qlat calibrate the A model on cal;
#   5. qlat eval every model on test (and the calibrated and uncalibrated A
#      model on all of B after the first 500), print the table.
#
# Environment: QLAT (binary; default target/release/qlat, else debug),
# SCALE (TPC-H scale factor, 0.1), TPCH_RUNS (15), ADHOC (1500),
# EXPLORE (1200): the workload is a third of the shipped capture's;
# A_POOL (512) and B_POOL (16) MiB; TRAIN_EVAL=0 trains A without the
# evaluation. With a small pool every TPC-H template reads through disk
# pages: at 16 MiB, B ran ~90 statements a minute on the 2-core machine
# (A: ~800), so docs/MODEL.md's run used a smaller B workload (see there).
set -euo pipefail
cd "$(dirname "$0")/.."

work="${1:-/tmp/qlat-cal-ab}"
bin="${QLAT:-}"
if [ -z "$bin" ]; then
  for b in "${CARGO_TARGET_DIR:-target}/release/qlat" "${CARGO_TARGET_DIR:-target}/debug/qlat"; do
    [ -x "$b" ] && { bin="$b"; break; }
  done
fi
[ -x "$bin" ] || { echo "build first: cargo build (or set QLAT=path/to/qlat)" >&2; exit 2; }
scale="${SCALE:-0.1}"
runs="${TPCH_RUNS:-15}"
adhoc="${ADHOC:-1500}"
explore="${EXPLORE:-1200}"
mkdir -p "$work"

capture() { # name seed buffer_pool_mib
  local out="$work/$1"
  [ -f "$out/slow_log.json" ] && return 0
  local t0=$SECONDS
  flock /tmp/qlat-mariadb.lock "$bin" capture --out "$out" --seed "$2" \
    --buffer-pool-mib "$3" --scale-factor "$scale" --tpch-runs "$runs" \
    --adhoc "$adhoc" --explore "$explore"
  echo "capture $1: $((SECONDS - t0)) s" | tee -a "$work/durations.txt"
}
capture A 1701 "${A_POOL:-512}"
capture B 1702 "${B_POOL:-16}"

python3 - "$work" <<'EOF'
import json, sys, os
work = sys.argv[1]
rows = json.load(open(os.path.join(work, "B", "slow_log.json")))
# Only the capture's own database: the server is shared, and other test
# suites' statements (e.g. a pipeline test's own database) land in a
# long_query_time=0 slow log while a capture runs.
before = len(rows)
rows = [r for r in rows if r.get("query_time") is not None and r.get("db") == "tpch"]
print(f"B: kept {len(rows)} of {before} slow-log rows (db = tpch)")
rows.sort(key=lambda r: r["start_time"])  # stable: log order within a tie
n = len(rows)
cut = int(round(n * 0.7))
parts = {"cal": rows[:500], "rest": rows[500:], "trainB": rows[:cut], "test": rows[cut:]}
for name, part in parts.items():
    json.dump(part, open(os.path.join(work, f"B_{name}.json"), "w"))
print(f"B: {n} statements; cal {len(parts['cal'])}, rest {len(parts['rest'])}, "
      f"trainB {len(parts['trainB'])}, test {len(parts['test'])}")
EOF

schema=(--schema data/tpch.sql)
if [ ! -f "$work/modelA/model.json" ]; then
  # TRAIN_EVAL=0 skips the evaluation (and so the unseen-shape intervals).
  eval_flag=()
  [ "${TRAIN_EVAL:-1}" = 0 ] && eval_flag=(--no-eval)
  "$bin" train "$work/A/slow_log.json" "${schema[@]}" --capture-meta "$work/A/capture.json" \
    --model "$work/modelA" "${eval_flag[@]}" | tee "$work/trainA.txt"
fi
if [ ! -f "$work/modelB/model.json" ]; then
  "$bin" train "$work/B_trainB.json" "${schema[@]}" --capture-meta "$work/B/capture.json" \
    --model "$work/modelB" --no-eval | tee "$work/trainB.txt"
fi
"$bin" calibrate --model "$work/modelA" --out "$work/modelA_cal" --server "B (${B_POOL:-16} MiB buffer pool)" \
  "$work/B_cal.json" | tee "$work/calibrate.txt"

for alg in mlp baseline; do
  for m in modelA modelA_cal modelB; do
    "$bin" eval --model "$work/$m" --algorithm "$alg" --format json "$work/B_test.json" \
      > "$work/eval_${m}_${alg}_test.json"
  done
  for m in modelA modelA_cal; do
    "$bin" eval --model "$work/$m" --algorithm "$alg" --format json "$work/B_rest.json" \
      > "$work/eval_${m}_${alg}_rest.json"
  done
done

python3 - "$work" <<'EOF'
import json, sys, os
work = sys.argv[1]
def load(name):
    return json.load(open(os.path.join(work, name)))
def row(label, e):
    a, b = e["metrics"], e["analytic"]
    return (f"| {label} | {a['n']} | {a['mse_ln']:.3f} | {a['q_error_p50']:.2f} / {a['q_error_p90']:.2f} | "
            f"{b['q_error_p50']:.2f} / {b['q_error_p90']:.2f} | {a['mean_ln_error']:+.3f} | "
            f"{a['interval_coverage']*100:.1f} % | {b['interval_coverage']*100:.1f} % | "
            f"{a['interval_width_ln']:.2f} | {b['mse_ln']:.3f} |")
print("| model (mlp) | n | MSE(ln) | q-err p50 / p90 | ≥ 10 ms q-err p50 / p90 | bias (mean ln err) | coverage | coverage ≥ 10 ms | width (ln p90/p10) | ≥ 10 ms MSE(ln) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for label, name in [("trained on A, uncalibrated", "eval_modelA_mlp_test.json"),
                    ("trained on A, calibrated on B's first 500", "eval_modelA_cal_mlp_test.json"),
                    ("trained on B (oldest 70 %)", "eval_modelB_mlp_test.json"),
                    ("A uncalibrated, all of B after 500", "eval_modelA_mlp_rest.json"),
                    ("A calibrated, all of B after 500", "eval_modelA_cal_mlp_rest.json")]:
    print(row(label, load(name)))
print()
print("Session chatter (SET / SHOW / USE / COMMIT / SELECT without FROM) on the test rows, MSE(ln) and bias:")
print("| model | mlp MSE(ln) | mlp bias | fingerprint baseline MSE(ln) | baseline bias | n |")
print("|---|---:|---:|---:|---:|---:|")
for label, m in [("A uncalibrated", "modelA"), ("A calibrated", "modelA_cal"), ("B", "modelB")]:
    s = load(f"eval_{m}_mlp_test.json")["by_work"]["session"]
    b = load(f"eval_{m}_baseline_test.json")["by_work"]["session"]
    print(f"| {label} | {s['mse_ln']:.4f} | {s['mean_ln_error']:+.3f} | {b['mse_ln']:.4f} | {b['mean_ln_error']:+.3f} | {s['n']} |")
EOF
