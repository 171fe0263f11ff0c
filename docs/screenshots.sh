#!/usr/bin/env bash
# Regenerates the pictures in docs/screenshots/ from the shipped data, with
# one command: `bash docs/screenshots.sh`.
#
#   front-page-tpch.png      the front page answering TPC-H Q6
#   front-page-nonsense.png  the same for text that is not SQL
#   predictions-page.png     /predictions after a few answers
#   runs-page.png            /runs after two pipeline runs on the shipped log
#                            (the oldest 60 % of it, then all of it)
#   report.png               the first screen of `qlat analyze data/`
#
# Everything happens in a temporary per-user directory (QLAT_HOME), so your
# own predictions, runs and models are neither used nor touched. Needs
# Debian's chromium (CHROMIUM=… for another), curl and python3. QLAT=path
# uses an already built binary instead of `cargo build --release`. The two
# pipeline runs train models: a few minutes in all.
set -euo pipefail
cd "$(dirname "$0")/.."

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ -z "${QLAT:-}" ]; then
  cargo build --release
  QLAT="${CARGO_TARGET_DIR:-target}/release/qlat"
fi
QLAT=$(realpath "$QLAT")
out=docs/screenshots
mkdir -p "$out"

work=$(mktemp -d)
server=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
export QLAT_HOME="$work/home" QLAT_SPOOL_DIR="$work/spool" QLAT_MODEL_CACHE="$work/models" NO_COLOR=1

shot() { # shot FILE URL [WIDTHxHEIGHT]
  local size=${3:-1200,1000}
  "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run --hide-scrollbars \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/chromium" --virtual-time-budget=3000 \
    --window-size="$size" --screenshot="$1" "$2" 2>/dev/null
  echo "wrote $1 ($(stat -c %s "$1") bytes)"
}

# The service on the embedded defaults (a free port instead of 8080).
"$QLAT" serve --addr 127.0.0.1:0 2>"$work/serve.log" &
server=$!
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*listening addr=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/serve.log" | head -1)
  [ -n "$port" ] && break
  sleep 0.2
done
[ -n "${port:-}" ] || { cat "$work/serve.log"; echo "the server did not start" >&2; exit 1; }
base="http://127.0.0.1:$port"
echo "serving on $base"

q6="select sum(l_extendedprice * l_discount) as revenue from lineitem where l_shipdate >= date '1994-01-01' and l_shipdate < date '1995-01-01' and l_discount between 0.05 and 0.07 and l_quantity < 24"
nonsense="hello world this is not sql !!! ;;;"
urlq() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }

# A few answers for the predictions page (through POST /predict).
python3 - "$base" <<'PY'
import json, sys, urllib.request
statements = [
    "select c_name, sum(o_totalprice) from customer join orders on c_custkey = o_custkey group by c_name order by 2 desc limit 10",
    "select * from nation where n_nationkey = 7",
    "select l_returnflag, l_linestatus, sum(l_quantity) from lineitem where l_shipdate <= date '1998-09-02' group by l_returnflag, l_linestatus",
    "update orders set o_comment = 'checked' where o_orderkey = 42",
]
for s in statements:
    req = urllib.request.Request(sys.argv[1] + "/predict", data=json.dumps({"query": s}).encode(),
                                 headers={"content-type": "application/json"})
    urllib.request.urlopen(req).read()
PY
shot "$out/front-page-nonsense.png" "$base/?q=$(urlq "$nonsense")"
shot "$out/front-page-tpch.png" "$base/?q=$(urlq "$q6")" 1200,1300
shot "$out/predictions-page.png" "$base/predictions" 1400,900

# Two pipeline runs: the oldest 60 % of the shipped slow log, then all of it.
mkdir -p "$work/logs"
cp data/tpch.sql data/capture.json "$work/logs/"
python3 - data/slow_log.json "$work/logs/slow_log.json" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
rows.sort(key=lambda r: r["start_time"])
json.dump(rows[: len(rows) * 6 // 10], open(sys.argv[2], "w"))
PY
# The built-in model was trained on this very log, so as "what servers
# answer with" it would be scored on rows it learned from: the first run is
# told there is none to beat (a user's own server needs no such flag).
"$QLAT" pipeline --once --source "$work/logs" --served-model none >"$work/run1.log" 2>&1 || { cat "$work/run1.log"; exit 1; }
cp data/slow_log.json "$work/logs/slow_log.json"
"$QLAT" pipeline --once --source "$work/logs" >"$work/run2.log" 2>&1 || { cat "$work/run2.log"; exit 1; }
shot "$out/runs-page.png" "$base/runs" 1400,1000

# The analyze report's first screen.
"$QLAT" analyze data/ --out "$work/report" >/dev/null
shot "$out/report.png" "file://$work/report/report.html" 1200,1000
