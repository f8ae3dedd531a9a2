#!/usr/bin/env bash
# make sqlsmith: SQL-level fuzzing with sqlsmith (Debian package sqlsmith) against a throwaway
# cluster with the extension preloaded and the objects of test/sqlsmith/setup.sql, as a role
# with apikeys.grant_admin and grant_app only. Bounded by SQLSMITH_SECONDS (default 1200) and
# run in SQLSMITH_RUNS (default 4) sqlsmith processes one after another, each with its own
# seed. Passes if the server never crashed (no backend died of a signal, no restart) and the
# library raised no internal error (XX000 whose source location is one of its files); prints
# the number of queries, the errors by SQLSTATE and every internal error by message and
# source location (PostgreSQL's own are listed, not counted). Slow: not in CI.
source "$(dirname "$0")/../lib.sh"
install_deps
install_packages sqlsmith
[ -n "${SQLSMITH_NO_BUILD:-}" ] || build_install

seconds=${SQLSMITH_SECONDS:-1200}
runs=${SQLSMITH_RUNS:-4}
out=${SQLSMITH_OUT:-$(mktemp -d /tmp/apikeys-sqlsmith.XXXXXX)}
dir=$(mktemp -d /tmp/apikeys-sqlsmith-cluster.XXXXXX)
mkdir -p "$out"
chmod 755 "$dir" "$out"
[ "$(id -u)" -ne 0 ] || chown "$PG_USER" "$out"
trap 'stop_cluster "$dir"; rm -rf "$dir"' EXIT
start_cluster "$dir" "shared_preload_libraries = 'apikeys'" "log_line_prefix = '%m [%p] %e '" "log_error_verbosity = verbose" \
  "log_min_error_statement = error" "restart_after_crash = on" "max_connections = 20"
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE smith" >/dev/null
as_pg psql -X -q -v ON_ERROR_STOP=1 -d smith -f "$APIKEYS_ROOT/test/sqlsmith/setup.sql" >/dev/null

echo "== sqlsmith: $runs runs, $seconds s in all"
per_run=$((seconds / runs))
for i in $(seq 1 "$runs"); do
  seed=$((1000 + i))
  # sqlsmith prints its progress and, when it stops, a report of the errors it met.
  as_pg timeout -s INT "$per_run" sqlsmith --target="host=$dir port=$PGPORT dbname=smith user=smith" \
    --seed="$seed" --verbose >"$out/run$i.out" 2>"$out/run$i.err" || true
  echo "run $i (seed $seed): $(grep -aoE 'queries: [0-9]+' "$out/run$i.err" | tail -n 1)"
done
cp "$dir/server.log" "$out/server.log"

log="$out/server.log"
queries=0
for i in $(seq 1 "$runs"); do
  n=$(grep -aoE 'queries: [0-9]+' "$out/run$i.err" | tail -n 1 | grep -oE '[0-9]+' || echo 0)
  queries=$((queries + ${n:-0}))
done
crashes=$(grep -acE 'terminated by signal|was terminated by exception|all server processes terminated' "$log" || true)
# An internal error comes from apikeys when the source location of its report (the LOCATION
# line, log_error_verbosity = verbose) is one of the library's C++ files; PostgreSQL's are C.
internal=$(awk '/ XX000 ERROR:/ { e = $0; next }
  / XX000 LOCATION:/ { if (e != "" && $0 ~ /\.cpp:[0-9]+/) print e " (" $0 ")"; e = "" }' "$log")
echo "internal errors (XX000) by message and location:"
awk '/ XX000 ERROR:/ { sub(/.* XX000 ERROR: +/, ""); m = $0; next }
  / XX000 LOCATION:/ { sub(/.* XX000 LOCATION: +/, ""); sub(/:[0-9]+$/, ""); print m " @ " $0; m = "" }' "$log" |
  sort | uniq -c | sort -rn | head -n 20
internal_n=$(printf '%s' "$internal" | grep -c . || true)
echo
echo "errors by SQLSTATE (top 15):"
grep -aoE '\] [0-9A-Z]{5} ERROR:' "$log" | awk '{ print $2 }' | sort | uniq -c | sort -rn | head -n 15
echo
echo "sqlsmith: $queries queries in $seconds s; server crashes: $crashes; internal errors (XX000) raised by apikeys: $internal_n"
[ -z "$internal" ] || printf '%s\n' "$internal" | head -n 20
echo "logs in $out"
[ "$crashes" -eq 0 ] && [ "$internal_n" -eq 0 ]
