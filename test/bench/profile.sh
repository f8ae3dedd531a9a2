#!/usr/bin/env bash
# make bench-profile: a repeatable cost figure for the verify hot path. Runs a single-user
# backend under valgrind's callgrind (instruction counts do not depend on the machine's load)
# and reports
#   - instructions per apikeys.verify call (inclusive, inside the C function), with its top
#     symbols: one statement that verifies BENCH_CALLS valid keys;
#   - instructions per statement (EXECUTE of a prepared statement, as pgbench -M prepared
#     runs it, but through the simple protocol of a single-user backend, which also prints the
#     rows) for verify and for the floor, reference and SELECT 1 statements of make bench:
#     (cost of 2N statements - cost of N statements) / N, so start-up and first-call caching
#     cancel out; with the top symbols of the verify statements.
#   BENCH_KEYS=100000  keys stored      BENCH_CALLS=2000  N
source "$(dirname "$0")/../lib.sh"

here="$APIKEYS_ROOT/test/bench"
KEYS=$(( ${BENCH_KEYS:-100000} / 20 * 20 ))
N=${BENCH_CALLS:-2000}
[ $((N * 30)) -le "$KEYS" ] || { echo "BENCH_CALLS must be at most BENCH_KEYS / 30" >&2; exit 2; }

install_deps
command -v valgrind >/dev/null || {
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq valgrind >/dev/null
}
[ -n "${BENCH_NO_BUILD:-}" ] || build_install

stamp=$(date +%Y%m%d-%H%M%S)
out="$here/results/profile-$stamp"
mkdir -p "$out"
dir=$(mktemp -d /tmp/apikeys-profile.XXXXXX)
chmod 755 "$dir"
trap 'stop_cluster "$dir"; rm -rf "$dir"' EXIT

start_cluster "$dir" "shared_preload_libraries = 'apikeys'" "shared_buffers = 512MB" "max_parallel_workers_per_gather = 0" \
  "jit = off" "autovacuum = off" "max_wal_size = 8GB"
export PGDATABASE=postgres
source "$here/load.sh"
bench_load "$KEYS"
"${PSQL[@]}" -v first=1 -v last="$KEYS" -v ref=1 -f "$here/sql/finish.sql"
pgbench -i -s 10 -I dtGvp -q >/dev/null 2>&1
# The valid pick of make bench, deterministic: i % 10 in 1..9; the statements below use the
# first 2N. The limited calls use the next N keys, which get a rate limit never reached.
picks() { awk -v n="$1" -v from="${2:-0}" 'BEGIN { for (k = from; k < from + n; k++) print 10 * k + (k % 9) + 1 }'; }
"${PSQL[@]}" -c "ALTER TABLE apikeys.keys DISABLE TRIGGER USER" -c "
  UPDATE apikeys.keys k SET rate_limit = 1000000000, rate_window = '1 second' FROM bench.plain p
   WHERE p.i = ANY (ARRAY[$(picks "$N" $((2 * N)) | paste -sd,)]) AND k.key_id = apikeys._key_id_of(left(p.key, 19))" \
  -c "ALTER TABLE apikeys.keys ENABLE TRIGGER USER" -c "VACUUM ANALYZE apikeys.keys"
# The bare INSERT's table holds the same rows, as in make bench: indexes as large as the keys'.
"${PSQL[@]}" -c "INSERT INTO bench.bare_keys SELECT * FROM apikeys.keys" -c "VACUUM ANALYZE bench.bare_keys"
stop_cluster "$dir"

# callgrind NAME TOGGLE INPUT: runs the statements of INPUT in a single-user backend;
# prints the instructions collected inside function TOGGLE (everything if empty).
callgrind() {
  local name=$1 toggle=$2 input=$3
  as_pg valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.$name.out" ${toggle:+--toggle-collect="$toggle"} \
    postgres --single -D "$dir/data" postgres <"$input" >"$out/$name.stdout" 2>"$out/$name.valgrind.log"
  cp "$dir/callgrind.$name.out" "$out/"
  sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$out/callgrind.$name.out"
}

echo "== instructions per apikeys.verify call ($N calls in one statement, valid keys)"
{
  echo "SELECT count(apikeys.verify(p.key)) FROM bench.plain p WHERE p.i = ANY (ARRAY[$(picks "$N" | paste -sd,)]);"
} >"$out/calls.sql"
total=$(callgrind calls apikeys_verify "$out/calls.sql")
echo "   $total instructions / $N calls = $((total / N)) per call (usage metering on)" | tee "$out/summary.txt"
# The same calls with metering off (a superuser may turn it off for a session), and with a
# rate limit on every picked key that is never reached.
{ echo "SET apikeys.usage_tracking = off;"; cat "$out/calls.sql"; } >"$out/calls_off.sql"
off=$(callgrind calls_off apikeys_verify "$out/calls_off.sql")
echo "   $off instructions / $N calls = $((off / N)) per call (usage metering off)" | tee -a "$out/summary.txt"
{
  echo "SELECT count(apikeys.verify(p.key)) FROM bench.plain p WHERE p.i = ANY (ARRAY[$(picks "$N" $((2 * N)) | paste -sd,)]);"
} >"$out/calls_limited.sql"
limited=$(callgrind calls_limited apikeys_verify "$out/calls_limited.sql")
echo "   $limited instructions / $N calls = $((limited / N)) per call (metering on, a rate limit never reached)" |
  tee -a "$out/summary.txt"
awk -v on="$total" -v off="$off" -v l="$limited" 'BEGIN {
  printf "   metering on / off = %.3f, limited / unlimited = %.3f (instructions; lower is better)\n", on / off, l / on }' |
  tee -a "$out/summary.txt"
# top N: the function lines of callgrind_annotate, without the enclosing callers' lines
top() { callgrind_annotate --auto=no "$@" 2>/dev/null | awk -v n=30 '/file:function/ { f = 1; next } f && /[0-9]/ && c++ < n' || true; }
top --inclusive=yes "$out/callgrind.calls.out" >"$out/calls.inclusive.txt"
top "$out/callgrind.calls.out" >"$out/calls.self.txt"
echo "   top symbols, inclusive:"
grep -vE 'below main|libc-start|PostgresMain|PostgresSingleUserMain|PortalRun|ExecutorRun|\?\?\?:main |\?\?\?:0x' "$out/calls.inclusive.txt" | sed 's/^/     /'
echo "   top symbols, self:"
sed 's/^/     /' "$out/calls.self.txt"

declare -A QUERY=(
  [verify]="SELECT apikeys.verify(p.key) FROM bench.plain p WHERE p.i = \$1"
  [floor]="SELECT p.key, a.abalance FROM bench.plain p, pgbench_accounts a WHERE p.i = \$1 AND a.aid = \$1"
  [floor_keys]="SELECT p.key, k.key_id FROM bench.plain p JOIN apikeys.keys k ON k.key_id = apikeys._key_id_of(left(p.key, 19)) WHERE p.i = \$1"
  [reference]="SELECT r.id, r.tenant_id, r.owner, r.permissions, r.expires_at FROM bench.plain p JOIN bench.ref_keys r ON r.key_hash = digest(p.key, 'sha256') WHERE p.i = \$1 AND r.revoked_at IS NULL AND (r.expires_at IS NULL OR r.expires_at > now())"
  [select1]="SELECT 1 WHERE \$1 IS NOT NULL"
)
# per_statement NAME N TYPE QUERY GENERATOR: PREPARE s(TYPE) AS QUERY, then EXECUTE s(x) for
# the N, then 2N, arguments x that GENERATOR prints when given the count; sets per_NAME to
# (cost of the 2N run - cost of the N run) / N and prints it.
per_statement() {
  local name=$1 n=$2 type=$3 query=$4 gen=$5 m per
  for m in 1 2; do
    { echo "PREPARE s($type) AS $query;"; $gen $((m * n)) | sed 's/.*/EXECUTE s(&);/'; } >"$out/stmt-$name-$m.sql"
    ir[$m]=$(callgrind "stmt-$name-$m" "" "$out/stmt-$name-$m.sql")
  done
  per=$(( (ir[2] - ir[1]) / n ))
  printf '   %-11s %8d instructions per statement\n' "$name" "$per" | tee -a "$out/summary.txt"
  eval "per_$name=$per"
}
echo "== instructions per statement (EXECUTE of a prepared statement; (2N - N statements) / N, N = $N)" |
  tee -a "$out/summary.txt"
for v in select1 floor floor_keys reference verify; do per_statement "$v" "$N" int "${QUERY[$v]}" picks; done
awk -v v="$per_verify" -v f="$per_floor" -v k="$per_floor_keys" -v r="$per_reference" 'BEGIN {
  printf "   verify / floor = %.2f, verify / floor_keys = %.2f, verify / reference = %.2f (instructions; lower is better)\n", v / f, v / k, v / r }' |
  tee -a "$out/summary.txt"
# Self cost per statement of each symbol: (2N run - N run) / N.
perstmt() {
  local f
  for f in "$1" "$2"; do
    echo "== $f"
    callgrind_annotate --auto=no --threshold=100 "$f" 2>/dev/null | awk '/file:function/ { f = 1; next } f && /[0-9]/'
  done | awk -v n="$N" '
    /^== / { run++; next }
    { ir = $1; gsub(/,/, "", ir); sub(/^ *[0-9,]+ +\([ 0-9.]+%\) +/, ""); c[$0] += (run == 2 ? ir : -ir) }
    END { for (s in c) if (c[s] / n >= 100) printf "%8.0f  %s\n", c[s] / n, s }' | sort -rn | awk 'NR <= 30'
}
perstmt "$out/callgrind.stmt-verify-1.out" "$out/callgrind.stmt-verify-2.out" >"$out/stmt-verify.self.txt"
echo "   top symbols of one verify statement, self instructions ((2N run - N run) / N):"
sed 's/^/     /' "$out/stmt-verify.self.txt"
perstmt "$out/callgrind.stmt-floor-1.out" "$out/callgrind.stmt-floor-2.out" >"$out/stmt-floor.self.txt"

# ---- writes: create_key against a bare INSERT ----------------------------------------------
# Each statement is its own transaction (commit included; the time of the WAL flush is not an
# instruction count). Ids differ from run to run: the rows of earlier runs stay.
NW=${BENCH_WRITES:-500}
declare -A WQUERY=(
  [create_key]="SELECT key_id FROM apikeys.create_key('tenant-' || (\$1 % 100), 'bench', 'user-' || \$1, ARRAY['reports:read'])"
  [bare_insert]="INSERT INTO bench.bare_keys (key_id, client_id, tenant_id, owner, name, permissions, hint, key_hash, hash_scheme) VALUES (apikeys._key_id_of('ak_' || lpad((\$1 * 2654435761 % 9999999999999999)::text, 16, '0')), 'ak_' || lpad((\$1 * 2654435761 % 9999999999999999)::text, 16, '0'), 'tenant-' || (\$1 % 100), 'user-' || \$1, 'bench', ARRAY['reports:read'], 'abcd', '\\x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'sha256')"
)
echo "== instructions per write statement (each its own transaction; (2N - N statements) / N, N = $NW)" |
  tee -a "$out/summary.txt"
write_ids() { seq $(($1 * 1000000 + 1)) $(($1 * 1000000 + $1)); }  # new ids for each run
for v in bare_insert create_key; do per_statement "$v" "$NW" bigint "${WQUERY[$v]}" write_ids; done
awk -v c="$per_create_key" -v b="$per_bare_insert" 'BEGIN { printf "   create_key / bare INSERT = %.2f (instructions)\n", c / b }' |
  tee -a "$out/summary.txt"
N=$NW perstmt "$out/callgrind.stmt-create_key-1.out" "$out/callgrind.stmt-create_key-2.out" >"$out/stmt-create_key.self.txt"
echo "   top symbols of one create_key statement, self instructions:"
sed 's/^/     /' "$out/stmt-create_key.self.txt"

# Where a create_key statement's instructions go, and a bare INSERT's: the inclusive cost of
# each part ((2N run - N run) / N). incl FILE SYMBOL: the first function line of the flat
# inclusive list that contains SYMBOL (not a recursive "'2" entry).
incl() {
  callgrind_annotate --auto=no --inclusive=yes "$1" 2>/dev/null |
    awk -v s="$2" '!found && index($0, s) && !index($0, "'"'"'2") { gsub(/,/, "", $1); print $1; found = 1 }
                   END { if (!found) print 0 }'  # reads to the end: no SIGPIPE for callgrind_annotate
}
part() {  # part NAME LABEL SYMBOL
  local a b
  a=$(incl "$out/callgrind.stmt-$1-1.out" "$3"); b=$(incl "$out/callgrind.stmt-$1-2.out" "$3")
  awk -v l="$2" -v a="$a" -v b="$b" -v n="$NW" -v t="$(eval echo "\$per_$1")" \
    'BEGIN { p = (b - a) / n; printf "     %-68s %8d  %5.1f%%\n", l, p, 100 * p / t }' | tee -a "$out/summary.txt"
}
echo "== where the instructions of one write statement go (inclusive; share of the statement)" | tee -a "$out/summary.txt"
echo "   create_key ($per_create_key per statement):" | tee -a "$out/summary.txt"
part create_key "apikeys.create_key (the C function, all below included)" "apikeys_create_key_body("
part create_key "  the key material (random bytes, base62, CRC-32, hash)" "apikeys::glue::new_key("
part create_key "  the key row: BEFORE triggers (keys_before_id, keys_before_check)" "ExecBRInsertTriggers"
part create_key "  the foreign-key checks (RI_FKey_check_ins)" "RI_FKey_check_ins"
part create_key "  the AFTER trigger keys_after_apply (limits, event)" "apikeys_keys_apply_body("
part create_key "    of which the event row (apikeys.events, its indexes, NOTIFY)" "apikeys::glue::record_event("
part create_key "  index entries, both rows (ExecInsertIndexTuples; the event's also above)" "ExecInsertIndexTuples"
part create_key "  heap tuples, both rows (heap_insert; the event's also above)" "heap_insert"
part create_key "commit (CommitTransactionCommand)" "CommitTransactionCommand"
echo "   bare INSERT ($per_bare_insert per statement):" | tee -a "$out/summary.txt"
part bare_insert "  index entries (ExecInsertIndexTuples)" "ExecInsertIndexTuples"
part bare_insert "  heap tuple (heap_insert)" "heap_insert"
part bare_insert "commit (CommitTransactionCommand)" "CommitTransactionCommand"
echo "== written to $out (callgrind.*.out: open with callgrind_annotate or kcachegrind)"
