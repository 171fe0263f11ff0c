#!/usr/bin/env bash
# Load benchmark of `qlat serve`: wrk (Debian package) POSTs one TPC-H
# query to /predict over loopback for DURATION seconds, with the prediction
# store on; reports req/s, p50/p99 latency, peak RSS, and checks that the
# store holds a row for every 200 response (zero lost records).
#
#   benches/serve_wrk.sh [sqlite|postgres] [DURATION_S] [CONNECTIONS]
#
# VARY=1 changes a literal in every request, so no answer comes from the
# server's answer cache: the cost of parse + features + forward +
# explanation on every request.
# Run from the repository root after `cargo build --release`.
set -euo pipefail
cd "$(dirname "$0")/.."

backend="${1:-sqlite}"
duration="${2:-60}"
connections="${3:-32}"
bin=target/release/qlat
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk missing: apt-get install wrk" >&2; exit 2; }

work="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

case "$backend" in
  sqlite) url="sqlite://$work/bench.db" ;;
  postgres)
    db="qlat_bench_$$"
    psql -h 127.0.0.1 -U root -d postgres -qc "CREATE DATABASE $db" >/dev/null
    url="postgres://root@127.0.0.1:5432/$db" ;;
  *) echo "backend: sqlite or postgres" >&2; exit 2 ;;
esac

RUST_LOG=warn "$bin" serve --addr "127.0.0.1:$port" --database-url "$url" 2>"$work/server.log" &
server=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/health_check" >/dev/null 2>&1 && break
  sleep 0.1
done

query="select sum(l_extendedprice * l_discount) as revenue from lineitem where l_shipdate >= date '1994-01-01' and l_shipdate < date '1994-01-01' + interval '1' year and l_discount between 0.06 - 0.01 and 0.06 + 0.01 and l_quantity < 24"
if [ "${VARY:-0}" = 1 ]; then
  cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = math.random(1, 1000000000)
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, [[{"query": "$query and l_orderkey > ]] .. n .. [["}]])
end
LUA
else
  cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = [[{"query": "$query"}]]
wrk.headers["Content-Type"] = "application/json"
LUA
fi

# Peak RSS of the server, sampled every 200 ms.
( peak=0; while kill -0 "$server" 2>/dev/null; do
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$server/status" 2>/dev/null || echo 0)
    [ "${rss:-0}" -gt "$peak" ] && peak=$rss && echo "$peak" >"$work/peak_rss_kb"
    sleep 0.2
  done ) &

wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$work/post.lua" "http://127.0.0.1:$port/predict" | tee "$work/wrk.txt"

before_stop=$(date +%s.%N)
kill -TERM "$server"
wait "$server" || { echo "server exited non-zero" >&2; cat "$work/server.log" >&2; exit 1; }
drain_s=$(python3 -c "import time; print(round(time.time()-$before_stop,2))")

requests=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
non2xx=$(awk '/Non-2xx/ {print $NF}' "$work/wrk.txt"); non2xx=${non2xx:-0}
ok=$((requests - non2xx))
case "$backend" in
  sqlite) rows=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from predictions').fetchone()[0])" "$work/bench.db") ;;
  postgres) rows=$(psql -h 127.0.0.1 -U root -d "$db" -tAc "select count(*) from predictions")
            psql -h 127.0.0.1 -U root -d postgres -qc "DROP DATABASE $db WITH (FORCE)" >/dev/null ;;
esac
peak_kb=$(cat "$work/peak_rss_kb" 2>/dev/null || echo 0)
rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
p50=$(awk '$1=="50%" {print $2}' "$work/wrk.txt")
p99=$(awk '$1=="99%" {print $2}' "$work/wrk.txt")
echo
echo "backend=$backend duration=${duration}s connections=$connections vary=${VARY:-0}"
echo "req/s=$rps p50=$p50 p99=$p99 peak_rss=$((peak_kb / 1024))MB"
echo "responses: ${requests} (${non2xx} non-2xx), rows stored: ${rows}, drain on SIGTERM: ${drain_s}s"
# wrk stops counting at the deadline; requests still in flight then may be
# stored without being counted, so rows >= 2xx responses is the no-loss check.
if [ "$non2xx" -gt 0 ]; then
  echo "FAILED REQUESTS: $non2xx non-2xx responses" >&2
  exit 1
fi
if [ "$rows" -lt "$ok" ]; then
  echo "LOST RECORDS: $ok successful responses but $rows rows" >&2
  exit 1
fi
echo "zero lost records"
