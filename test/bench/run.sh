#!/usr/bin/env bash
# make bench: every hot path of apikeys against the physical floor, in one run, on one
# throwaway cluster. Never part of test/run-tests.sh or CI. See README, "Benchmarks".
#
#   BENCH_KEYS=1000000     keys stored (rounded down to a multiple of 20)
#   BENCH_SECONDS=4        length of one pgbench run (the default run takes about 20 minutes)
#   BENCH_REPS=3           repetitions (round-robin over the variants: drift hits all alike)
#   BENCH_CLIENTS="1 2 8"  client counts (-j = min(clients, 2)); "1 2" with BENCH_SCALE
#   BENCH_RLS_CLIENTS="1"  client counts of the helper-vs-hand-made policy variants (count_tenant_*,
#                          count_perm_*), within BENCH_CLIENTS and at most nproc
#   BENCH_SYNC=on          synchronous_commit of the server (matters for the write variants)
#   BENCH_SHARED_BUFFERS   2GB (8GB with BENCH_SCALE=10M)
#   BENCH_SCALE=1|10M      instead of the suite: verify at 100k and 1M keys (and 10M), bytes per key
#   BENCH_VARIANTS="..."   run only these variant ids (default: all)
#   BENCH_MAX_OTHER=15     a run during which other processes used more than this % of the CPU
#   BENCH_RETRIES=30       is made again, at most this many times in the whole benchmark
#   BENCH_NO_BUILD=1       do not build and install the extension first
#   BENCH_PAGES="huge 4k"  page sizes of the shared memory, one pass each on the same cluster (a
#                          restart between passes, no reload): the first pass runs the whole suite;
#                          each further one the variants of BENCH_PAGES_VARIANTS at
#                          BENCH_PAGES_CLIENTS ("1 2") x BENCH_PAGES_REPS (2). huge = 2 MB pages
#                          (vm.nr_hugepages is set for the pass and restored), 4k = huge_pages=off.
#                          With BENCH_SCALE only the first page size is used (default "huge").
#   BENCH_HUGEPAGES=0|1    the former switch: 0 = BENCH_PAGES=4k, 1 = BENCH_PAGES=huge
#   BENCH_PAIR_REPS=3      paired runs (each target and its reference in one pgbench run) per pair,
#   BENCH_PAIR_CLIENTS="1 2"  page size and client count; their client counts
source "$(dirname "$0")/../lib.sh"

here="$APIKEYS_ROOT/test/bench"
KEYS=$(( ${BENCH_KEYS:-1000000} / 20 * 20 ))
SECS=${BENCH_SECONDS:-4}
REPS=${BENCH_REPS:-3}
CLIENTS=${BENCH_CLIENTS:-1 2 8}
[ -z "${BENCH_SCALE:-}" ] || [ "${BENCH_SCALE:-}" = 0 ] || CLIENTS=${BENCH_CLIENTS:-1 2}
SYNC=${BENCH_SYNC:-on}
SCALE=${BENCH_SCALE:-}
case "$SCALE" in
  "" | 0) SCALE="" ;;
  1 | 1M) SCALE=1M ;;
  10M) ;;
  *) echo "BENCH_SCALE must be 1 or 10M" >&2; exit 2 ;;
esac
SB=${BENCH_SHARED_BUFFERS:-$([ "$SCALE" = 10M ] && echo 8GB || echo 2GB)}
[ "$KEYS" -ge 1000 ] || { echo "BENCH_KEYS must be at least 1000" >&2; exit 2; }
# The page sizes of the passes (the first runs the whole suite), and what the further passes run.
if [ -n "${BENCH_PAGES:-}" ]; then PAGES=$BENCH_PAGES
elif [ "${BENCH_HUGEPAGES:-}" = 0 ]; then PAGES=4k
elif [ "${BENCH_HUGEPAGES:-}" = 1 ] || [ -n "$SCALE" ]; then PAGES=huge
else PAGES="huge 4k"; fi
PAGES=$(echo "$PAGES" | tr ' ' '\n' | awk 'NF && !seen[$0]++' | tr '\n' ' ')
PAGES=${PAGES% }
for p in $PAGES; do
  case "$p" in huge | 4k) ;; *) echo "BENCH_PAGES: huge and/or 4k, not '$p'" >&2; exit 2 ;; esac
done
[ -n "$PAGES" ] || { echo "BENCH_PAGES is empty" >&2; exit 2; }
[ -z "$SCALE" ] || PAGES=${PAGES%% *}
# Every variant of a SPEC §6 target but the guarded phase's (rate limits, members and
# allowlists: its setup changes the other variants' answers, so it runs once, last).
DEFAULT_PAGES_VARIANTS="select_only floor reference verify verify_fixed verify_malformed verify_unmetered verify_token"
DEFAULT_PAGES_VARIANTS+=" count_policy count_policy_sub count_plain count_tenant_fn count_tenant_set count_tenant_fn_sub"
DEFAULT_PAGES_VARIANTS+=" count_tenant_set_sub count_perm_fn count_perm_set count_perm_fn_sub count_perm_set_sub"
DEFAULT_PAGES_VARIANTS+=" auth_rls auth_rls_hand create_key bare_insert"
PAGES_VARIANTS=${BENCH_PAGES_VARIANTS:-$DEFAULT_PAGES_VARIANTS}
PAGES_CLIENTS=${BENCH_PAGES_CLIENTS:-1 2}
PAGES_REPS=${BENCH_PAGES_REPS:-2}
RLS_CLIENTS=${BENCH_RLS_CLIENTS:-1}

install_deps
# What the benchmark needs beyond the build: pgbench, pgcrypto and pg_prewarm (contrib), and
# gnuplot for the chart (optional).
bench_missing=()
command -v pgbench >/dev/null || bench_missing+=("postgresql-client-$PG_MAJOR")
[ -f "$(pg_config --sharedir)/extension/pgcrypto.control" ] || bench_missing+=(postgresql-contrib)
command -v gnuplot >/dev/null || bench_missing+=(gnuplot-nox)
if [ ${#bench_missing[@]} -gt 0 ]; then
  echo "== installing ${bench_missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${bench_missing[@]}" >/dev/null || true
fi
[ -n "${BENCH_NO_BUILD:-}" ] || build_install

stamp=$(date +%Y%m%d-%H%M%S)
out="$here/results/$stamp"
mkdir -p "$out/logs"
ln -sfn "$stamp" "$here/results/latest"
raw="$out/raw.tsv"
printf 'rep\tvariant\tclients\ttps\tother_cpu_pct\n' >"$raw"

dir=$(mktemp -d /tmp/apikeys-bench.XXXXXX)
chmod 755 "$dir"
hugepages_before=""
cleanup() {
  stop_cluster "$dir"
  rm -rf "$dir"
  [ -z "$hugepages_before" ] || echo "$hugepages_before" | $SUDO tee /proc/sys/vm/nr_hugepages >/dev/null
}
trap cleanup EXIT

SETTINGS=(
  "shared_preload_libraries = 'apikeys'"
  "shared_buffers = $SB"
  "max_parallel_workers_per_gather = 0"
  "jit = off"
  "autovacuum = off"
  "synchronous_commit = $SYNC"
  "max_wal_size = 16GB"
  "checkpoint_timeout = 1h"
  "max_connections = 50"
)
# Huge pages for shared memory: every backend maps the shared buffers page by page, so with
# 4 kB pages a new connection takes a minor fault at each page it first touches (a probe of
# a large table touches several), which short pgbench runs of fresh connections pay in full.
# (Measured here at 1M keys: verify 0.82 / 0.77 of the floor with 4 kB pages, 0.97 / 0.97
# with 2 MB pages, and a much smaller min-max spread.) Production servers often run with 4 kB
# pages, so the targets are checked with both: a pass with huge pages (the script reserves
# 2 MB pages for it in vm.nr_hugepages, restored at the end) and a pass with huge_pages = off,
# on the same cluster and data after a restart (BENCH_PAGES).
sb_mb=$(echo "$SB" | awk '/GB$/ { print $1 * 1024; next } /MB$/ { print $1 + 0 }')
huge_want=$(( sb_mb / 2 + sb_mb / 16 + 128 ))
PAGES_NOW=""  # the page size the server runs with: huge or 4k
HUGE_SETTING=""
choose_pages() {  # choose_pages huge|4k: reserves or releases 2 MB pages; sets HUGE_SETTING, PAGES_NOW
  if [ "$1" = huge ]; then
    [ -n "$hugepages_before" ] || hugepages_before=$(cat /proc/sys/vm/nr_hugepages)
    echo "$huge_want" | $SUDO tee /proc/sys/vm/nr_hugepages >/dev/null 2>&1 || true
    if [ "$(cat /proc/sys/vm/nr_hugepages)" -ge "$huge_want" ]; then
      HUGE_SETTING=on PAGES_NOW=huge
      return
    fi
    echo "   (could not reserve $huge_want huge pages: shared memory in 4 kB pages; see BENCH_PAGES)" >&2
  elif [ -n "$hugepages_before" ]; then
    echo "$hugepages_before" | $SUDO tee /proc/sys/vm/nr_hugepages >/dev/null 2>&1 || true
  fi
  HUGE_SETTING=off PAGES_NOW=4k
}
pages_label() { [ "$1" = huge ] && echo "huge pages (2 MB)" || echo "4 kB pages (huge_pages = off)"; }
choose_pages "${PAGES%% *}"
start_cluster "$dir" "${SETTINGS[@]}" "huge_pages = $HUGE_SETTING"
PAGES_FIRST=$PAGES_NOW
# A restart of the same cluster with other pages (the data stays; every relation is prewarmed
# again): the server must be down before its huge pages can be given back.
switch_pages() {  # switch_pages huge|4k
  local t0
  t0=$(now)
  stop_cluster "$dir"
  choose_pages "$1"
  echo "huge_pages = $HUGE_SETTING" >>"$dir/data/postgresql.conf"
  as_pg pg_ctl -D "$dir/data" -o "-p $PGPORT" -l "$dir/server.log" -w start >/dev/null
  prewarm
  echo "   restarted with huge_pages = $(q 'SHOW huge_pages'), prewarmed: $(elapsed "$t0")s"
}
export PGDATABASE=postgres
PSQL=(psql -X -q -v ON_ERROR_STOP=1)
q() { "${PSQL[@]}" -At -c "$1"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---- machine and settings -------------------------------------------------------------
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "commit: $(git -C "$APIKEYS_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$APIKEYS_ROOT" diff --quiet HEAD -- src sql 2>/dev/null || echo ' (src/sql modified)')"
  echo "cpus: $(nproc) x $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)"
  echo "memory: $(awk '/MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo)"
  echo "kernel: $(uname -r)"
  echo "postgresql: $(q 'SELECT version()')"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "settings: $(q "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) FROM pg_settings
    WHERE name IN ('shared_buffers', 'max_parallel_workers_per_gather', 'jit', 'autovacuum', 'synchronous_commit',
                   'fsync', 'wal_level', 'max_wal_size', 'checkpoint_timeout', 'shared_preload_libraries', 'work_mem',
                   'lc_collate', 'huge_pages')")"
  echo "transparent huge pages: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo '?'); shmem: $(cat /sys/kernel/mm/transparent_hugepage/shmem_enabled 2>/dev/null || echo '?')"
  echo "pgbench: -M prepared, -T $SECS, clients $CLIENTS (-j min(clients, 2)), $REPS repetitions, median and min-max"
  echo "passes: $PAGES (first: $(pages_label "$PAGES_FIRST"), the whole suite$([ "$PAGES" = "${PAGES%% *}" ] || echo "; then $PAGES_VARIANTS at -c $PAGES_CLIENTS, $PAGES_REPS repetitions"))"
} >"$out/machine.txt"
echo "== machine"
cat "$out/machine.txt"

# ---- data ------------------------------------------------------------------------------
# Loads keys first..last: the keys table's user triggers are disabled (rules and events; the
# rows are built as the triggers would accept them, foreign keys stay checked), one bulk
# statement per core.
load_keys() {
  local first=$1 last=$2 t0 mid
  t0=$(now)
  mid=$(( (first + last) / 2 ))
  q "ALTER TABLE apikeys.keys DISABLE TRIGGER USER" >/dev/null
  "${PSQL[@]}" -v first="$first" -v last="$mid" -f "$here/sql/load_keys.sql" &
  local p1=$!
  "${PSQL[@]}" -v first=$((mid + 1)) -v last="$last" -f "$here/sql/load_keys.sql"
  wait $p1
  q "ALTER TABLE apikeys.keys ENABLE TRIGGER USER" >/dev/null
  local s
  s=$(elapsed "$t0")
  echo "   loaded $((last - first + 1)) keys in ${s}s: $(awk -v n=$((last - first + 1)) -v s="$s" 'BEGIN { printf "%.0f", n / s }') keys/s" \
       "(2 bulk INSERT ... SELECT statements, one per core; the keys triggers disabled" \
       "during the load and re-enabled, foreign keys checked)" | tee -a "$out/machine.txt"
  t0=$(now)
  "${PSQL[@]}" -v first="$first" -v last="$last" -v ref="${3:-1}" -f "$here/sql/finish.sql"
  echo "   reference table, malformed rows, VACUUM ANALYZE: $(elapsed "$t0")s"
}

prewarm() {
  q "SELECT sum(pg_prewarm(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname IN ('apikeys', 'bench', 'public') AND c.relkind IN ('r', 'i')" >/dev/null
  q "CHECKPOINT" >/dev/null
}

echo "== setup (schema, 1M-row docs and tdocs, 100k-row orders, roles)"
t0=$(now)
"${PSQL[@]}" -f "$here/sql/schema.sql"
echo "   $(elapsed "$t0")s"

# ---- one measurement ----------------------------------------------------------------------
# variant id -> label, pgbench arguments, role
declare -A LABEL ARGS ROLE OPTS
def() { LABEL[$1]=$2; ARGS[$1]=$3; ROLE[$1]=${4:-postgres}; OPTS[$1]=${5:-}; }
S="$here/scripts"
def select_only "select-only (pgbench -S)" "-S"
def select1 "SELECT 1 (ceiling)" "-f $S/select1.sql"
def floor "floor: key pick + PK probe" "-f $S/floor.sql"
def floor_keys "key pick + keys pkey probe" "-f $S/floor_keys.sql"
def reference "reference: pgcrypto SQL" "-f $S/reference.sql"
# verify_fixed / reference_fixed: defined once the keys are loaded (fixed_keys below)
def verify "verify, valid keys" "-f $S/verify.sql"
def verify_unmetered "verify, valid keys, usage_tracking off" "-f $S/verify.sql" postgres "-c apikeys.usage_tracking=off"
def verify_mix "verify, 90/5/5 mix" "-f $S/verify_mix.sql"
def verify_malformed "verify, malformed keys" "-f $S/verify_malformed.sql"
def auth_rls "authenticate + point query, RLS" "-f $S/auth_point.sql" bench_app
def auth_norls "authenticate + point query, RLS off" "-f $S/auth_point.sql" bench_bypass
def count_policy "auth + count(*) 1M, has_permission policy" "-f $S/auth_count.sql" bench_app
def count_policy_sub "auth + count(*) 1M, (SELECT has_permission) policy" "-f $S/auth_count_sub.sql" bench_app
def count_plain "auth + count(*) 1M, no policy" "-f $S/auth_count.sql" bench_bypass
# The RLS helpers against the policies users write by hand (bench.tdocs, one policy per role;
# test/bench/sql/schema.sql): authenticate, or the hand-written lookup and set_config, then
# count(*) over 1,000,000 rows of 100 tenants, so that the policy's per-row cost dominates.
def count_tenant_fn "auth + count(*) 1M, tenant_id = current_tenant()" "-f $S/auth_tdocs.sql" bench_tenant_fn
def count_tenant_set "set_config + count(*) 1M, tenant_id = current_setting()" "-f $S/hand_tdocs.sql" bench_tenant_set
def count_tenant_fn_sub "auth + count(*) 1M, tenant_id = (SELECT current_tenant())" "-f $S/auth_tdocs.sql" bench_tenant_fn_sub
def count_tenant_set_sub "set_config + count(*) 1M, tenant_id = (SELECT current_setting())" "-f $S/hand_tdocs.sql" bench_tenant_set_sub
def count_perm_fn "auth + count(*) 1M, has_permission()" "-f $S/auth_tdocs.sql" bench_perm_fn
def count_perm_set "set_config + count(*) 1M, current_setting()::text[] @>" "-f $S/hand_tdocs.sql" bench_perm_set
def count_perm_fn_sub "auth + count(*) 1M, (SELECT has_permission())" "-f $S/auth_tdocs.sql" bench_perm_fn_sub
def count_perm_set_sub "set_config + count(*) 1M, (SELECT current_setting()::text[] @>)" "-f $S/hand_tdocs.sql" bench_perm_set_sub
# The whole transaction with little to scan: the hand-made tenant isolation of a point query
# (bench.orders_hand), against auth_rls (the helper's, on bench.orders).
def auth_rls_hand "lookup + set_config + point query, hand-made RLS" "-f $S/hand_point.sql" bench_app
def verify_token "verify_token" "-f $S/verify_token.sql"
def verify_even "verify, tenants without members or allowlists" "-f $S/verify_even.sql"
def verify_guarded "verify + client_ip, members and allowlists" "-f $S/verify_guarded.sql"
def verify_limited "verify, keys with a rate limit never reached" "-f $S/verify_limited.sql"
def create_key "create_key" "-f $S/create_key.sql"
def bare_insert "bare INSERT" "-f $S/bare_insert.sql"
# The bare INSERT plus one NOTIFY in its transaction, in the same statement (RETURNING
# pg_notify: the same round trips), as every apikeys event sends one: PostgreSQL serialises the
# commits of notifying transactions (PreCommit_Notify holds a cluster-wide lock through the
# commit's WAL flush), which this shows apart from everything else create_key does.
mkdir -p "$out/scripts"
sed '$ s/;$/\nRETURNING pg_catalog.pg_notify('"'"'apikeys_bench'"'"', '"'"'x'"'"');/' "$S/bare_insert.sql" >"$out/scripts/bare_insert_notify.sql"
def bare_insert_notify "bare INSERT + NOTIFY" "-f $out/scripts/bare_insert_notify.sql"
def issue_token "issue_token" "-f $S/issue_token.sql"
NTOKENS=$(( KEYS < 100000 ? KEYS : 100000 ))

# CPU time (clock ticks) of the whole machine, and of this cluster: the postmaster, its live
# children and the children it has reaped (backends that have exited).
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
cluster_ticks() {
  local pm p
  pm=$(head -n 1 "$dir/data/postmaster.pid")
  { awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat"
    for p in $(cat "/proc/$pm/task/$pm/children" 2>/dev/null); do awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null; done
  } | awk '{ s += $1 } END { print s + 0 }'
}
HZ=$(getconf CLK_TCK)

# One pgbench run into LOG; prints "TPS OTHER", OTHER being the share (%) of the machine's CPU
# that anything but this cluster and pgbench used meanwhile: the work the figure competed with.
run_once() {  # run_once LOG VARIANT CLIENTS NKEYS
  local log=$1 v=$2 c=$3 nkeys=$4 j m0 c0 t0 m1 c1 t1 other tps
  j=$(( c < 2 ? c : 2 ))
  m0=$(machine_ticks); c0=$(cluster_ticks); t0=$(now)
  # shellcheck disable=SC2086
  ( TIMEFORMAT='pgbench cpu: %U %S'
    time env PGOPTIONS="${OPTS[$v]}" pgbench -n -M prepared -T "$SECS" -c "$c" -j "$j" -U "${ROLE[$v]}" -D nkeys="$nkeys" -D ntokens="$NTOKENS" \
      -D perm=reports:read ${ARGS[$v]} ) >"$log" 2>&1 || true
  sleep 0.1  # the postmaster reaps the backends
  m1=$(machine_ticks); c1=$(cluster_ticks); t1=$(now)
  other=$(awk -v m="$((m1 - m0))" -v c="$((c1 - c0))" -v hz="$HZ" -v n="$(nproc)" -v t0="$t0" -v t1="$t1" \
    -v pg="$(sed -n 's/^pgbench cpu: //p' "$log")" 'BEGIN {
      split(pg, u, " "); o = (m - c - (u[1] + u[2]) * hz) / ((t1 - t0) * hz * n) * 100
      printf "%.0f", (o < 0 ? 0 : o) }')
  tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$log")
  if [ -z "$tps" ] || grep -q 'aborted' "$log"; then tps=NA; fi
  echo "$tps $other"
}

# A run that competed with other work for more than BENCH_MAX_OTHER % of the CPU is made again
# (the quietest attempt counts), within a budget of retries for the whole benchmark.
MAX_OTHER=${BENCH_MAX_OTHER:-15}
RETRIES=${BENCH_RETRIES:-30}
# TAG: what the ids of the current pass end in: "@<keys>" in BENCH_SCALE mode, "@<pages>" in the
# further page-size passes, empty in the first pass of the suite.
TAG=""
measure() {  # measure REP VARIANT CLIENTS NKEYS
  local rep=$1 v=$2 c=$3 nkeys=$4 log best="" res
  log="$out/logs/$v-c$c-r$rep${TAG:+-${TAG#@}}.log"
  while :; do
    res=$(run_once "$log.try" "$v" "$c" "$nkeys")
    if [ -z "$best" ] || [ "${res#* }" -lt "${best#* }" ]; then best=$res; mv "$log.try" "$log"; fi
    [ "${best#* }" -gt "$MAX_OTHER" ] && [ "$RETRIES" -gt 0 ] && [ "${best% *}" != NA ] || break
    RETRIES=$((RETRIES - 1))
    echo "   (again: $v -c $c competed with other work for ${res#* }% of the CPU)"
  done
  rm -f "$log.try"
  [ "${best% *}" != NA ] || echo "   ! $v -c $c failed: $(grep -m1 -iE 'error|aborted' "$log")" >&2
  printf '%s\t%s\t%s\t%s\t%s\n' "$rep" "$v$TAG" "$c" "${best% *}" "${best#* }" >>"$raw"
}

# The client counts of variant V in the current pass (RUN_CLIENTS): a 1M-row scan is CPU-bound
# for tens of ms, so beyond nproc clients a run only measures time-slicing and the count(*)
# variants stop at the core count; the helper-vs-hand-made ones run at BENCH_RLS_CLIENTS only,
# and their point-query pair (auth_rls_hand against auth_rls) at most at the core count.
RUN_CLIENTS=$CLIENTS
RUN_REPS=$REPS
clients_of() {  # clients_of VARIANT
  local c
  for c in $RUN_CLIENTS; do
    if [[ $1 == count_* || $1 == auth_rls_hand ]] && [ "$c" -gt "$(nproc)" ]; then continue; fi
    if [[ $1 == count_tenant_* || $1 == count_perm_* ]] && [[ " $RLS_CLIENTS " != *" $c "* ]]; then continue; fi
    echo "$c"
  done
}

run_suite() {  # run_suite NKEYS VARIANT...
  local nkeys=$1 rep v c
  shift
  for rep in $(seq 1 "$RUN_REPS"); do
    for v in "$@"; do
      for c in $(clients_of "$v"); do
        measure "$rep" "$v" "$c" "$nkeys"
      done
    done
    echo "   repetition $rep/$RUN_REPS done ($(cut -d' ' -f1 /proc/loadavg) load)"
  done
}

wanted() {  # the ids among "$@" that BENCH_VARIANTS selects
  local v
  for v in "$@"; do
    if [ -z "${BENCH_VARIANTS:-}" ] || [[ " $BENCH_VARIANTS " == *" $v "* ]]; then echo "$v"; fi
  done
}

has_function() { [ "$(q "SELECT count(*) FROM pg_proc WHERE pronamespace = 'apikeys'::regnamespace AND proname = '$1'")" != 0 ]; }

# ---- paired runs --------------------------------------------------------------------------
# The ratio of a target and its reference from runs that carry both: one pgbench run with the
# two scripts (weight 1 each, pgbench choosing per transaction), so that both meet the same
# machine at the same moment. Separate runs of a few seconds on a shared 2-core VM differ by
# up to 1.7x from run to run (summary.txt's min-max), which swamps a 5% target; within one run
# the drift hits both scripts alike. The ratio is that of the mean latencies per script, from
# pgbench's per-transaction log (-l, in microseconds): reference / target = tps target / tps
# reference. BENCH_PAIR_REPS runs per pair and client count (BENCH_PAIR_CLIENTS), median.
# The target's session options (OPTS) apply to the whole run: verify_unmetered / floor is
# verify without the usage writer's work (the floor reads no apikeys setting). Every pair of
# a SPEC target whose two variants run as the same role is here; GUARD_PAIRS run after the
# guarded phase's setup (members, allowlists, rate limits), in the first pass only. The helper
# policies run as a role each and stay separate runs (and per row, rls_per_row.txt).
PAIRS=("verify|floor|0.90 0.95" "verify_unmetered|floor|" "floor_keys|floor|" "verify|reference|1.00"
       "verify_token|verify|1.00" "create_key|bare_insert|0.80")
GUARD_PAIRS=("verify_limited|verify_even|0.90" "verify_guarded|verify_even|0.95")
PAIR_REPS=${BENCH_PAIR_REPS:-3}
PAIR_CLIENTS=${BENCH_PAIR_CLIENTS:-1 2}
paired="$out/paired.tsv"
printf 'pages\ttarget\treference\tclients\trep\tratio\ttarget_us\treference_us\ttransactions\n' >"$paired"
paired_suite() {  # paired_suite LIST: every pair of LIST (PAIRS, GUARD_PAIRS) whose variants this run measures, in the current pages
  local -n pairs=$1
  local row a b thr c rep j prefix res
  for rep in $(seq 1 "$PAIR_REPS"); do
    for row in "${pairs[@]}"; do
      IFS='|' read -r a b thr <<<"$row"
      in_list "$a" "${read_variants[@]}" "${write_variants[@]}" "${guard_variants[@]}" || continue
      in_list "$b" "${read_variants[@]}" "${write_variants[@]}" "${guard_variants[@]}" || continue
      for c in $PAIR_CLIENTS; do
        j=$(( c < 2 ? c : 2 ))
        prefix="$out/logs/pair-$a-$b-c$c-$PAGES_NOW-r$rep"
        # shellcheck disable=SC2086
        env PGOPTIONS="${OPTS[$a]}" pgbench -n -M prepared -T "$SECS" -c "$c" -j "$j" -U postgres -D nkeys="$KEYS" \
          -D ntokens="$NTOKENS" -D perm=reports:read \
          -l --log-prefix="$prefix" ${ARGS[$a]} ${ARGS[$b]} >"$prefix.out" 2>&1 || true
        # the log: client, transaction, latency (us), script (0 = a, 1 = b), epoch, us
        res=$(cat "$prefix".[0-9]* 2>/dev/null | awk '{ s[$4] += $3; n[$4]++ }
          END { if (n[0] && n[1]) printf "%.4f\t%.1f\t%.1f\t%d", (s[1] / n[1]) / (s[0] / n[0]), s[0] / n[0], s[1] / n[1], n[0] + n[1] }')
        rm -f "$prefix".[0-9]*
        [ -n "$res" ] || { echo "   ! paired $a / $b -c $c failed: $(grep -m1 -iE 'error|aborted' "$prefix.out")" >&2; continue; }
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$PAGES_NOW" "$a" "$b" "$c" "$rep" "$res" >>"$paired"
      done
    done
  done
  echo "   paired runs done ($(pages_label "$PAGES_NOW"))"
}
paired_report() {  # the median ratio of each pair, page size and client count; the targets on them
  local row a b thr pages c r lo hi t
  [ "$(wc -l <"$paired")" -gt 1 ] || return 0
  echo "== performance targets from paired runs (target and reference in one pgbench run; median of $PAIR_REPS, min-max)" |
    tee -a "$out/targets.txt"
  for pages in "${PASS_PAGES[@]}"; do  # in the order of the passes
    for row in "${PAIRS[@]}" "${GUARD_PAIRS[@]}"; do
      IFS='|' read -r a b thr <<<"$row"
      for c in $PAIR_CLIENTS; do
        read -r r lo hi < <(awk -F'\t' -v p="$pages" -v a="$a" -v b="$b" -v c="$c" '$1 == p && $2 == a && $3 == b && $4 == c { v[++n] = $6 }
          END { if (!n) exit; asort_(v, n); printf "%.2f %.2f %.2f\n", (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2), v[1], v[n] }
          function asort_(v, n,   i, j, x) { for (i = 2; i <= n; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x } }' "$paired") || true
        [ -n "${r:-}" ] || continue
        if [ -z "$thr" ]; then
          printf '  %-8s %s / %s at -c %s, %s: %s (%s-%s)\n' "info" "$a" "$b" "$c" "$(pages_label "$pages")" "$r" "$lo" "$hi" | tee -a "$out/targets.txt"
        fi
        for t in $thr; do
          check "$a / $b >= $t at -c $c, $(pages_label "$pages"): $r ($lo-$hi)" "$r" ">=" "$t"
        done
        # on the chart: a group of its own per pair, the bars from the median, min and max
        printf '%s\t%s\t%s\t%s\t%s\n' "$a / $b, paired" "$(series_name "$pages" "$c")" "$r" "$lo" "$hi" >>"$out/chart_bars.tsv"
        for t in $thr; do chart_line "$a / $b, paired" "$t"; done
        r=""
      done
    done
  done
}

# ---- the summary ----------------------------------------------------------------------------
# summary.tsv: variant, label, clients, median, min, max, ratios of medians to the floor, to
# select-only, to the reference and to the variant's own baseline (pairs), the largest share of
# the CPU other work took, and the page size of the pass. An id "v@4k" / "v@huge" is variant v
# in a further page-size pass ("v@<keys>" in BENCH_SCALE mode); its ratios are to the ids of
# the same pass.
summarise() {
  local labels="$out/labels.tsv" v
  : >"$labels"
  for v in "${!LABEL[@]}"; do printf '%s\t%s\n' "$v" "${LABEL[$v]}" >>"$labels"; done
  awk -F'\t' -v order="$*" -v pages1="$PAGES_FIRST" '
    function median(list,   a, n, i, j, t) {
      n = split(list, a, " ")
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "-" : sprintf("%.2f", a / b) }
    FNR == 1 && FILENAME ~ /raw/ { next }
    FILENAME ~ /labels/ { label[$1] = $2; next }
    $4 == "NA" { next }
    {
      k = $2 SUBSEP $3
      v[k] = v[k] " " $4
      if (!(k in mn) || $4 + 0 < mn[k]) mn[k] = $4 + 0
      if (!(k in mx) || $4 + 0 > mx[k]) mx[k] = $4 + 0
      if ($5 != "" && (!(k in oth) || $5 + 0 > oth[k])) oth[k] = $5 + 0
      if (!($3 in seenc)) { seenc[$3] = 1; cl[++ncl] = $3 }
    }
    END {
      base["auth_rls"] = "auth_norls"; base["count_policy"] = "count_plain"; base["count_policy_sub"] = "count_plain"
      base["create_key"] = "bare_insert"; base["bare_insert_notify"] = "bare_insert"; base["verify_token"] = "verify"; base["verify_fixed"] = "reference_fixed"
      base["verify_guarded"] = "verify_even"; base["verify_limited"] = "verify_even"; base["verify"] = "verify_unmetered"
      # the helpers against the hand-made policies: /base is helper / hand-made
      base["count_tenant_fn"] = "count_tenant_set"; base["count_tenant_fn_sub"] = "count_tenant_set_sub"
      base["count_perm_fn"] = "count_perm_set"; base["count_perm_fn_sub"] = "count_perm_set_sub"
      base["auth_rls_hand"] = "auth_norls"
      print "variant\tlabel\tclients\tmedian_tps\tmin_tps\tmax_tps\tx_floor\tx_select_only\tx_reference\tx_baseline\tbaseline\tmax_other_cpu_pct\tpages"
      n = split(order, ids, " ")
      for (i = 1; i <= n; i++) for (c = 1; c <= ncl; c++) {
        id = ids[i]; cc = cl[c]; k = id SUBSEP cc
        if (!(k in v)) continue
        m = median(v[k])
        split(id, p, "@"); sfx = (p[2] != "") ? "@" p[2] : ""
        pages = (p[2] == "huge" || p[2] == "4k") ? p[2] : pages1
        fl = ((("floor" sfx) SUBSEP cc) in v) ? median(v[("floor" sfx) SUBSEP cc]) : ""
        so = ((("select_only" sfx) SUBSEP cc) in v) ? median(v[("select_only" sfx) SUBSEP cc]) : ""
        rf = ((("reference" sfx) SUBSEP cc) in v) ? median(v[("reference" sfx) SUBSEP cc]) : ""
        b = base[p[1]]; bm = (b != "" && ((b sfx) SUBSEP cc) in v) ? median(v[(b sfx) SUBSEP cc]) : ""
        lab = label[p[1]] (p[2] ~ /^[0-9]+$/ ? " @" p[2] " keys" : "")
        f = (m < 10) ? "%.2f" : (m < 100) ? "%.1f" : "%.0f"  # a 1M-row scan runs at tens of tps: keep decimals
        printf "%s\t%s\t%s\t" f "\t" f "\t" f "\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", id, lab, cc, m, mn[k], mx[k],
          ratio(m, fl), ratio(m, so), ratio(m, rf), (bm == "" ? "-" : ratio(m, bm)), (bm == "" ? "-" : b),
          ((k in oth) ? oth[k] : "-"), pages
      }
    }' "$labels" "$raw" >"$out/summary.tsv"
  awk -F'\t' 'NR == 1 { printf "%-64s %4s %5s %9s %9s %9s %7s %7s %7s %7s %6s  %s\n", "variant", "-c", "pages", "median", "min", "max",
                        "/floor", "/sel-1", "/ref", "/base", "other", "(base)"; next }
              { printf "%-64s %4s %5s %9s %9s %9s %7s %7s %7s %7s %5s%%  %s\n", $2, $3, $13, $4, $5, $6, $7, $8, $9, $10, $12,
                       ($11 == "-" ? "" : $11) }' \
    "$out/summary.tsv" >"$out/summary.txt"
}

# ---- the performance targets (docs/benchmarks.md, SPEC §6) and the chart ----------------------
get() {  # get ID CLIENTS COLUMN(4 = median, 5 = min, 6 = max) -> value or empty
  awk -F'\t' -v v="$1" -v c="$2" -v col="${3:-4}" '$1 == v && $3 == c { print $col }' "$out/summary.tsv"
}
check() {  # check TEXT VALUE OP THRESHOLD
  local verdict
  if [ -z "$2" ] || [ "$2" = "-" ]; then verdict="n/a  "
  elif awk -v a="$2" -v b="$4" "BEGIN { exit !(a $3 b) }"; then verdict="MET  "
  else verdict="NOT MET"; fi
  printf '  %-8s %s\n' "$verdict" "$1" | tee -a "$out/targets.txt"
}
ratio_of() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'; }

# The chart's data: one bar per target, pass and client count (chart_bars.tsv: group, series,
# ratio of medians, min/max and max/min of the runs), one line per target (chart_lines.tsv).
chart_bar() {  # chart_bar GROUP SERIES NUM_ID DEN_ID CLIENTS
  local a b amin amax bmin bmax
  a=$(get "$3" "$5"); b=$(get "$4" "$5")
  [ -n "$a" ] && [ -n "$b" ] || return 0
  amin=$(get "$3" "$5" 5); amax=$(get "$3" "$5" 6); bmin=$(get "$4" "$5" 5); bmax=$(get "$4" "$5" 6)
  grep -qF "$(printf '%s\t%s\t' "$1" "$2")" "$out/chart_bars.tsv" 2>/dev/null && return 0
  awk -v g="$1" -v s="$2" -v a="$a" -v b="$b" -v a0="$amin" -v a1="$amax" -v b0="$bmin" -v b1="$bmax" 'BEGIN {
    if (b == 0 || b0 == 0 || b1 == 0) exit
    printf "%s\t%s\t%.4f\t%.4f\t%.4f\n", g, s, a / b, a0 / b1, a1 / b0 }' >>"$out/chart_bars.tsv"
}
chart_line() {  # chart_line GROUP THRESHOLD(tps ratio) [TEXT(the target as the tic shows it)]
  grep -qF "$(printf '%s\t%s\t' "$1" "$2")" "$out/chart_lines.tsv" 2>/dev/null ||
    printf '%s\t%s\t%s\n' "$1" "$2" "${3:-$2}" >>"$out/chart_lines.tsv"
}
series_name() { [ "$1" = huge ] && echo "2 MB pages, -c $2" || echo "4 kB pages, -c $2"; }

# The targets, one a line: chart group | numerator | denominator | kind | threshold | clients | text
#   kind ge / gt: the ratio of median tps numerator / denominator is >= / > the threshold;
#   kind cost: the cost ratio, denominator / numerator, is <= the threshold (the chart shows the
#   tps ratio, against 1 / threshold). A denominator =N is a constant tps measured elsewhere.
#   clients: a list, "all" (the pass's) or "rls" (BENCH_RLS_CLIENTS). A further row of a chart
#   group adds a target line only; a row without a group is not on the chart.
TARGETS=(
  "verify / floor|verify|floor|ge|0.90|1 2|verify >= 0.90 x floor (key pick + PK probe)"
  "verify / floor|verify|floor|ge|0.95|1 2|  issue 16: verify >= 0.95 x floor"
  "verify, no pick / select-only|verify_fixed|select_only|ge|0.90|1 2|verify (fixed keys, no pick) >= 0.90 x pgbench select-only"
  "verify / reference|verify|reference|ge|1.00|1 2|verify >= reference (pgcrypto SQL)"
  "verify / reference, no pick|verify_fixed|reference_fixed|ge|1.00|1 2|  the same with fixed keys (no pick)"
  "malformed / floor|verify_malformed|floor|gt|1.00|1 2|malformed keys faster than a one-row SELECT: verify(malformed) / floor"
  "has_permission policy / none|count_policy|count_plain|cost|1.30|1 2|has_permission policy over a 1M-row count(*) costs <= 1.3x"
  "(SELECT has_permission) / none|count_policy_sub|count_plain|cost|1.30|1 2|  the same with the README's (SELECT apikeys.has_permission(...)) form"
  "current_tenant() / current_setting()|count_tenant_fn|count_tenant_set|ge|1.00|rls|helper policy no dearer than hand-made (tps helper / hand-made >= 1): tenant_id = apikeys.current_tenant() vs = current_setting('app.tenant'), per row, count(*) 1M"
  "(SELECT current_tenant()) / (SELECT current_setting())|count_tenant_fn_sub|count_tenant_set_sub|ge|1.00|rls|  the same in the (SELECT ...) form"
  "has_permission() / current_setting() @>|count_perm_fn|count_perm_set|ge|1.00|rls|  apikeys.has_permission('reports:read') vs current_setting('app.perms')::text[] @> '{reports:read}', per row"
  "(SELECT has_permission()) / (SELECT ... @>)|count_perm_fn_sub|count_perm_set_sub|ge|1.00|rls|  the same in the (SELECT ...) form"
  "auth + point query / hand-made|auth_rls|auth_rls_hand|ge|1.00|1 2|  the whole transaction, little to scan: authenticate + point query vs hand-written lookup + set_config + point query"
  "create_key / bare INSERT|create_key|bare_insert|ge|0.80|1 2|create_key >= 0.80 x bare INSERT (synchronous_commit=$SYNC)"
  "verify_token / verify|verify_token|verify|ge|1.00|2|verify_token >= verify"
  "|verify_token|=8900|ge|5.00|2|verify_token >= 5 x pgjwt HS256 (8.9k tps measured here on 2026-11-22; pgjwt is not packaged)"
  "metering on / off|verify|verify_unmetered|ge|0.95|all|usage metering costs verify at most 5% (on / off)"
  "rate limit / none|verify_limited|verify_even|ge|0.90|all|a rate limit never reached costs verify at most 10%"
  "members + allowlists / none|verify_guarded|verify_even|ge|0.95|all|verify with members and allowlists >= 0.95 x verify without"
)

# The passes (set by the suite): the page size, the tag of the ids, the client counts and the
# variants of each; the first pass runs everything.
PASS_PAGES=()
PASS_TAG=()
PASS_CLIENTS=()
PASS_VARIANTS=()

spec_checks() {
  : >"$out/targets.txt"
  : >"$out/chart_bars.tsv"
  : >"$out/chart_lines.tsv"
  local k row group num den kind thr cl text tag pages clients c a b r line seen
  for k in "${!PASS_PAGES[@]}"; do
    tag=${PASS_TAG[$k]} pages=${PASS_PAGES[$k]}
    echo "== performance targets (medians), $(pages_label "$pages")" | tee -a "$out/targets.txt"
    seen=" "
    for row in "${TARGETS[@]}"; do
      IFS='|' read -r group num den kind thr cl text <<<"$row"
      if [ "$k" -gt 0 ]; then  # a further pass: only the targets whose variants it ran
        [[ " ${PASS_VARIANTS[$k]} " == *" $num "* ]] || continue
        [[ $den == =* || " ${PASS_VARIANTS[$k]} " == *" $den "* ]] || continue
      fi
      case "$cl" in
        all) clients=${PASS_CLIENTS[$k]} ;;
        rls) clients=$RLS_CLIENTS ;;
        *) clients=$cl ;;
      esac
      if [ "$k" -gt 0 ]; then
        clients=$(for c in $clients; do [[ " ${PASS_CLIENTS[$k]} " != *" $c "* ]] || echo "$c"; done)
      fi
      for c in $clients; do
        a=$(get "$num$tag" "$c")
        if [[ $den == =* ]]; then b=${den#=}; else b=$(get "$den$tag" "$c"); fi
        case "$kind" in
          cost) r=$(ratio_of "$b" "$a"); line="$text at -c $c: $r x ($a vs $b tps)"; check "$line" "$r" "<=" "$thr" ;;
          gt) r=$(ratio_of "$a" "$b"); check "$text at -c $c: $r ($a vs $b tps)" "$r" ">" "$thr" ;;
          *) r=$(ratio_of "$a" "$b")
             if [[ $den == =* ]]; then line="$text at -c $c: $r x"; else line="$text at -c $c: $r ($a vs $b tps)"; fi
             check "$line" "$r" ">=" "$thr" ;;
        esac
        [ -n "$group" ] && [[ $den != =* ]] || continue
        # the bars come from the group's first row; a further row adds its line only
        if [[ $seen != *" $group|"* ]] || [[ $seen == *" $group|$num|$den "* ]]; then
          chart_bar "$group" "$(series_name "$pages" "$c")" "$num$tag" "$den$tag" "$c"
        fi
      done
      if [ -n "$group" ] && [[ $den != =* ]]; then
        [[ $seen == *" $group|"* ]] || seen="$seen$group|$num|$den "
        if [ "$kind" = cost ]; then chart_line "$group" "$(awk -v t="$thr" 'BEGIN { printf "%.4f", 1 / t }')" "cost <= $thr"
        else chart_line "$group" "$thr"; fi
      fi
    done
    [ "$k" -gt 0 ] || check "verify at 10M keys >= 0.80 x at 100k: only with BENCH_SCALE=10M" "" ">=" 0
  done
}

# The chart: each target's ratio against its reference (bars: median tps over median tps; error
# bars: from the slowest run over the fastest to the fastest over the slowest), per pass and
# client count, with the target as a dashed line; groups without a measured ratio are left out.
chart() {
  command -v gnuplot >/dev/null || { echo "   (no gnuplot: no chart)"; return; }
  [ -s "$out/chart_bars.tsv" ] || { echo "   (no ratio measured: no chart)"; return; }
  awk -F'\t' -v dat="$out/chart.dat" -v png="$out/chart.png" \
      -v title="apikeys make bench $stamp ($(nproc) cores, $KEYS keys): each target's tps ratio to its reference, median (bars) and min-max spread (error bars); dashed red: the target (higher is better)" '
    FILENAME ~ /bars/ {
      if (!($1 in gi)) { gi[$1] = ++ng; gname[ng] = $1 }
      if (!($2 in si)) { si[$2] = ++ns; sname[ns] = $2 }
      r[gi[$1], si[$2]] = $3; lo[gi[$1], si[$2]] = $4; hi[gi[$1], si[$2]] = $5
      if ($3 + 0 > rmax) rmax = $3 + 0
      next
    }
    ($1 in gi) { g = gi[$1]; nl++; lg[nl] = g; lt[nl] = $2; tl[g] = tl[g] (tl[g] == "" ? "" : ", ") $3 }
    END {
      ymax = rmax * 1.12; if (ymax < 1.5) ymax = 1.5; if (ymax > 2.5) ymax = 2.5
      w = 0.84 / ns
      for (s = 1; s <= ns; s++) {
        for (g = 1; g <= ng; g++) {
          if (!((g, s) in r)) continue
          x = g - 0.42 + w * (s - 0.5)
          # the value above the error bar; an off-scale bar gets it inside, from the top down
          ly = hi[g, s] > r[g, s] ? hi[g, s] : r[g, s]
          if (ly > ymax * 0.9) ly = ymax * 0.9
          txt = sprintf("%.2f", r[g, s])
          if (r[g, s] > ymax * 0.9) {
            off[++noff] = sprintf("set label \"%s%s\" at %.4f, %.4f rotate by 90 right font \",7\" tc rgb \"%s\" front",
              txt, (r[g, s] > ymax ? " (off scale)" : ""), x, ymax * 0.98, (sname[s] ~ /-c 1$/ ? "white" : "black"))
            txt = "\"\""
          }
          printf "%.4f %.4f %.4f %.4f %.4f %s\n", x, r[g, s], lo[g, s], hi[g, s], ly, txt >dat
        }
        printf "\n\n" >dat
      }
      print "set terminal pngcairo size 1800,1000 noenhanced font \",10\""
      print "set output \"" png "\""
      print "set title \"" title "\""
      printf "set xrange [0.5:%d.5]\n", ng
      printf "set yrange [0:%.2f]\n", ymax
      print "set ylabel \"tps / reference tps (higher is better; a cost target c is drawn at 1/c)\""
      print "set grid ytics"
      print "set style fill solid 0.85 border -1"
      printf "set boxwidth %.4f absolute\n", w
      print "set bmargin 17"
      print "set rmargin 30"
      for (i = 1; i <= noff; i++) print off[i]
      print "set key top left"
      tics = ""
      for (g = 1; g <= ng; g++) tics = tics (g > 1 ? ", " : "") sprintf("\"%s%s\" %d", gname[g], (tl[g] != "" ? " [" tl[g] "]" : ""), g)
      print "set xtics rotate by -35 left nomirror (" tics ")"
      for (g = 1; g < ng; g++) printf "set arrow from %.1f, graph 0 to %.1f, graph 1 nohead lc rgb \"#dddddd\" lw 1 back\n", g + 0.5, g + 0.5
      for (i = 1; i <= nl; i++)
        printf "set arrow from %.3f, %.4f to %.3f, %.4f nohead lc rgb \"#cc0000\" lw 2 dt 2 front\n", lg[i] - 0.46, lt[i], lg[i] + 0.46, lt[i]
      split("#08519c #4292c6 #9ecae1", blue, " "); split("#a63603 #f16913 #fdae6b", orange, " ")
      nb = 0; no = 0
      plot = ""
      for (s = 1; s <= ns; s++) {
        if (sname[s] ~ /^4 kB/) col = orange[(no++ % 3) + 1]; else col = blue[(nb++ % 3) + 1]
        plot = plot (s > 1 ? ", \\\n  " : "plot ") sprintf("\"%s\" index %d using 1:2 with boxes lc rgb \"%s\" title \"%s\"", dat, s - 1, col, sname[s])
        plot = plot sprintf(", \"%s\" index %d using 1:2:3:4 with yerrorbars lc rgb \"#333333\" pt 0 ps 0 notitle", dat, s - 1)
        plot = plot sprintf(", \"%s\" index %d using 1:5:6 with labels rotate by 90 left offset 0,0.4 font \",7\" notitle", dat, s - 1)
      }
      print plot
    }' "$out/chart_bars.tsv" "$out/chart_lines.tsv" >"$out/chart.gp"
  gnuplot "$out/chart.gp" 2>"$out/logs/gnuplot.log" || echo "   (gnuplot failed: see logs/gnuplot.log)"
}

# ---- BENCH_SCALE mode -------------------------------------------------------------------
if [ -n "$SCALE" ]; then
  sizes="100000 1000000"
  [ "$SCALE" = 10M ] && sizes="$sizes 10000000"
  echo "== pgbench -i -s 10 (the floor's 1M-row pgbench_accounts)"
  pgbench -i -s 10 -I dtGvp -q >"$out/logs/pgbench-init.log" 2>&1
  have=0
  order=()
  printf 'keys\ttable_bytes\tindex_bytes\tbytes_per_key\n' >"$out/sizes.tsv"
  for n in $sizes; do
    echo "== $n keys"
    load_keys $((have + 1)) "$n" 0
    have=$n
    q "SELECT pg_relation_size('apikeys.keys'), pg_indexes_size('apikeys.keys'),
              round((pg_total_relation_size('apikeys.keys'))::numeric / $n, 1)" |
      awk -F'|' -v n="$n" '{ printf "%s\t%s\t%s\t%s\n", n, $1, $2, $3 }' >>"$out/sizes.tsv"
    prewarm
    vs=$(wanted floor floor_keys verify)
    TAG="@$n"
    # shellcheck disable=SC2086
    run_suite "$n" $vs
    for v in $vs; do order+=("$v@$n"); done
  done
  summarise "${order[@]}"
  echo "== results (BENCH_SCALE=$SCALE; ratios are to the floor at the same size)"
  cat "$out/summary.txt"
  echo "== apikeys.keys size"
  awk -F'\t' 'NR == 1 { printf "%10s %14s %14s %14s\n", "keys", "table bytes", "index bytes", "total/key"; next }
              { printf "%10s %14s %14s %14s\n", $1, $2, $3, $4 }' "$out/sizes.tsv" | tee "$out/sizes.txt"
  : >"$out/targets.txt"
  : >"$out/chart_bars.tsv"
  : >"$out/chart_lines.tsv"
  echo "== targets, $(pages_label "$PAGES_FIRST")" | tee -a "$out/targets.txt"
  last=${sizes##* }
  for c in $CLIENTS; do
    r=$(ratio_of "$(get "verify@$last" "$c")" "$(get verify@100000 "$c")")
    check "verify at $last keys >= 0.80 x verify at 100k keys at -c $c: $r$([ "$last" = 10000000 ] || echo ' (the target is at 10M keys)')" "$r" ">=" 0.80
    chart_bar "verify @$last / verify @100000" "$(series_name "$PAGES_FIRST" "$c")" "verify@$last" verify@100000 "$c"
  done
  chart_line "verify @$last / verify @100000" 0.80
  for n in $sizes; do
    for c in $CLIENTS; do
      r=$(ratio_of "$(get "verify@$n" "$c")" "$(get "floor@$n" "$c")")
      check "verify >= 0.90 x floor at $n keys at -c $c: $r" "$r" ">=" 0.90
      chart_bar "verify / floor @$n" "$(series_name "$PAGES_FIRST" "$c")" "verify@$n" "floor@$n" "$c"
    done
    chart_line "verify / floor @$n" 0.90
  done
  chart
  echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"
  echo "== written to $out"
  exit 0
fi

# ---- the suite ----------------------------------------------------------------------------
echo "== loading $KEYS keys"
load_keys 1 "$KEYS"
# The bare INSERT's table holds the same rows: its indexes are as large and as full as the keys
# table's, so that both inserts descend the same depth, land on random leaves alike and write
# the same full-page images after a checkpoint (an empty table's would stay in a few hot pages).
t0=$(now)
"${PSQL[@]}" -c "INSERT INTO bench.bare_keys SELECT * FROM apikeys.keys" -c "VACUUM ANALYZE bench.bare_keys"
echo "   bench.bare_keys: a copy of the $KEYS keys, $(elapsed "$t0")s"
echo "== pgbench -i -s 10 (pgbench_accounts: 1,000,000 rows)"
t0=$(now)
pgbench -i -s 10 -I dtGvp -q >"$out/logs/pgbench-init.log" 2>&1
echo "   $(elapsed "$t0")s"

# The same work without the key pick, against pgbench's select-only (which picks its row on the
# client): 16 valid keys spread over the table, passed as parameters (-D k1..k16), one script
# per key, pgbench choosing a script per transaction.
fixed_keys() {
  local n=0 key fd="" fv="" fr=""
  mkdir -p "$out/scripts"
  while read -r key; do
    n=$((n + 1))
    fd="$fd -D k$n=$key"
    echo "SELECT apikeys.verify(:k$n);" >"$out/scripts/verify_fixed_$n.sql"
    echo "SELECT r.id, r.tenant_id, r.owner, r.permissions, r.expires_at FROM bench.ref_keys r" \
         "WHERE r.key_hash = digest(:k$n, 'sha256') AND r.revoked_at IS NULL" \
         "AND (r.expires_at IS NULL OR r.expires_at > now());" >"$out/scripts/reference_fixed_$n.sql"
    fv="$fv -f $out/scripts/verify_fixed_$n.sql"
    fr="$fr -f $out/scripts/reference_fixed_$n.sql"
  done < <(q "SELECT key FROM bench.plain WHERE i IN (SELECT g * ($KEYS / 16) + 1 FROM generate_series(0, 15) g) ORDER BY i")
  def verify_fixed "verify, 16 fixed keys (no pick)" "$fd$fv"
  def reference_fixed "reference, 16 fixed keys (no pick)" "$fd$fr"
}
fixed_keys

read_variants=(select_only select1 floor floor_keys reference verify verify_unmetered verify_fixed reference_fixed verify_mix
               verify_malformed auth_rls auth_norls auth_rls_hand count_policy count_policy_sub count_plain
               count_tenant_fn count_tenant_set count_tenant_fn_sub count_tenant_set_sub
               count_perm_fn count_perm_set count_perm_fn_sub count_perm_set_sub)
write_variants=(create_key bare_insert bare_insert_notify)
skipped=()
if has_function issue_token && has_function verify_token; then
  echo "== issuing $NTOKENS tokens for verify_token (bench.tokens)"
  t0=$(now)
  if "${PSQL[@]}" -c "CREATE TABLE bench.tokens AS
        SELECT i, apikeys.issue_token(left(key, 19), key) AS token FROM bench.plain WHERE i <= $NTOKENS AND i % 10 <> 0" \
       -c "ALTER TABLE bench.tokens ADD PRIMARY KEY (i)" -c "VACUUM ANALYZE bench.tokens" 2>"$out/logs/tokens.log"; then
    echo "   $(elapsed "$t0")s"
    read_variants+=(verify_token)
    write_variants+=(issue_token)
  else
    skipped+=("issue_token/verify_token: skipped: $(head -n 1 "$out/logs/tokens.log")")
  fi
else
  skipped+=("issue_token/verify_token: skipped: not built (no apikeys.issue_token/verify_token in pg_proc)")
fi
mapfile -t read_variants < <(wanted "${read_variants[@]}")
mapfile -t write_variants < <(wanted "${write_variants[@]}")
mapfile -t guard_variants < <(wanted verify_even verify_guarded verify_limited)
# The further passes run the variants of BENCH_PAGES_VARIANTS among these.
in_list() { local v; for v in "${@:2}"; do [ "$v" != "$1" ] || return 0; done; return 1; }
pass_reads=() pass_writes=()
for v in $PAGES_VARIANTS; do
  if in_list "$v" "${read_variants[@]}"; then pass_reads+=("$v"); fi
  if in_list "$v" "${write_variants[@]}"; then pass_writes+=("$v"); fi
done
later_pages=()
for p in ${PAGES#* }; do
  [ "$PAGES" != "${PAGES%% *}" ] || break
  if [ $(( ${#pass_reads[@]} + ${#pass_writes[@]} )) -eq 0 ]; then
    skipped+=("the $p pass: skipped: none of BENCH_PAGES_VARIANTS ($PAGES_VARIANTS) is measured in this run")
  elif [ "$p" = "$PAGES_FIRST" ]; then
    skipped+=("the $p pass: skipped: the first pass already ran with $(pages_label "$p")")
  else
    later_pages+=("$p")
  fi
done
prewarm

count_runs() {  # count_runs VARIANT... -> runs of one repetition at RUN_CLIENTS
  local v n=0
  for v in "$@"; do n=$((n + $(clients_of "$v" | wc -l))); done
  echo "$n"
}
nvar=$(( ${#read_variants[@]} + ${#write_variants[@]} + ${#guard_variants[@]} ))
nruns=$(( $(count_runs "${read_variants[@]}" "${write_variants[@]}" "${guard_variants[@]}") * REPS ))
nlater=0
if [ ${#later_pages[@]} -gt 0 ]; then
  RUN_CLIENTS=$PAGES_CLIENTS
  nlater=$(( $(count_runs "${pass_reads[@]}" "${pass_writes[@]}") * PAGES_REPS * ${#later_pages[@]} ))
  RUN_CLIENTS=$CLIENTS
fi
echo "== measuring: $nvar variants x clients ($CLIENTS) x $REPS reps x ${SECS}s = $nruns runs" \
     "$([ ${#later_pages[@]} -eq 0 ] || echo "+ ${later_pages[*]} pass: $(( ${#pass_reads[@]} + ${#pass_writes[@]} )) variants x clients ($PAGES_CLIENTS) x $PAGES_REPS reps = $nlater runs")," \
     "about $(( (nruns + nlater) * (SECS * 10 + 4) / 600 + ${#later_pages[@]} )) min"
for s in "${skipped[@]}"; do echo "   $s"; done

PASS_PAGES=("$PAGES_FIRST") PASS_TAG=("") PASS_CLIENTS=("$CLIENTS") PASS_VARIANTS=(all)
keys_now() { q "SELECT count(*) FROM apikeys.keys"; }
pass_notes=("pass 1, $(pages_label "$PAGES_FIRST"): the whole suite, $(keys_now) keys in apikeys.keys at its start")
echo "== pass 1, $(pages_label "$PAGES_FIRST"): read-only variants (round-robin: each repetition runs every variant once)"
run_suite "$KEYS" "${read_variants[@]}"

# The further page sizes: the same cluster and data after a restart, the target variants only.
# They run before the first pass's write variants, so that their reads see the same keys as the
# first pass's reads.
later_ids=()
for p in "${later_pages[@]}"; do
  echo "== pass $(( ${#PASS_PAGES[@]} + 1 )), $(pages_label "$p"): ${pass_reads[*]} ${pass_writes[*]} at -c $PAGES_CLIENTS, $PAGES_REPS repetitions"
  switch_pages "$p"
  if in_list "$PAGES_NOW" "${PASS_PAGES[@]}"; then
    skipped+=("the $p pass: skipped: the server runs with $(pages_label "$PAGES_NOW") again")
    echo "   skipped: $(pages_label "$PAGES_NOW") again"
    continue
  fi
  TAG="@$PAGES_NOW" RUN_CLIENTS=$PAGES_CLIENTS RUN_REPS=$PAGES_REPS
  pass_notes+=("pass $(( ${#PASS_PAGES[@]} + 1 )), $(pages_label "$PAGES_NOW") (ids ending in $TAG): ${pass_reads[*]} ${pass_writes[*]}, $(keys_now) keys at its start")
  [ ${#pass_reads[@]} -eq 0 ] || run_suite "$KEYS" "${pass_reads[@]}"
  if [ ${#pass_writes[@]} -gt 0 ]; then
    echo "   write variants (synchronous_commit=$SYNC)"
    run_suite "$KEYS" "${pass_writes[@]}"
  fi
  paired_suite PAIRS
  PASS_PAGES+=("$PAGES_NOW") PASS_TAG+=("$TAG") PASS_CLIENTS+=("$PAGES_CLIENTS") PASS_VARIANTS+=("${pass_reads[*]} ${pass_writes[*]}")
  for v in "${pass_reads[@]}" "${pass_writes[@]}"; do later_ids+=("$v$TAG"); done
  echo "huge_pages in the pass $TAG: $(q 'SHOW huge_pages')" >>"$out/machine.txt"
  TAG="" RUN_CLIENTS=$CLIENTS RUN_REPS=$REPS
done
if [ "$PAGES_NOW" != "$PAGES_FIRST" ]; then
  echo "== back to $(pages_label "$PAGES_FIRST") for the rest of pass 1"
  switch_pages "$PAGES_FIRST"
fi
if [ ${#write_variants[@]} -gt 0 ]; then
  echo "== pass 1: write variants (synchronous_commit=$SYNC, fsync=$(q 'SHOW fsync'))"
  run_suite "$KEYS" "${write_variants[@]}"
fi
paired_suite PAIRS
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"

# Where verify's time goes, in real time: each piece as one statement over the same 100,000
# valid keys in random order (no protocol, no per-statement start-up), 3 runs, median, in
# microseconds per row. Memory effects of a 1M-row table show here and not in the
# instruction counts of make bench-profile.
per_call() {
  local sql="$out/per_call.sql" n=100000
  {
    echo "CREATE EXTENSION IF NOT EXISTS pgcrypto;"
    echo "SET enable_hashjoin = off; SET enable_mergejoin = off;"
    echo "CREATE TEMP TABLE picks AS SELECT p.key, (random() * 999999)::int + 1 AS aid FROM bench.plain p"
    echo "  WHERE p.i % 10 BETWEEN 1 AND 9 ORDER BY random() LIMIT $n;"
    echo "\\timing on"
  } >"$sql"
  local -a what=(
    "pgbench_accounts primary-key probe|SELECT count(a.abalance) FROM picks p JOIN pgbench_accounts a ON a.aid = p.aid"
    "apikeys.keys primary-key probe, key_id only|SELECT count(k.key_id) FROM picks p JOIN apikeys.keys k ON k.key_id = apikeys._key_id_of(left(p.key, 19))"
    "apikeys.keys primary-key probe, whole row read|SELECT count(k.key_hash), count(k.previous_expires_at) FROM picks p JOIN apikeys.keys k ON k.key_id = apikeys._key_id_of(left(p.key, 19))"
    "the same + SHA-256 (pgcrypto digest)|SELECT count(k.key_hash = digest(p.key, 'sha256')) FROM picks p JOIN apikeys.keys k ON k.key_id = apikeys._key_id_of(left(p.key, 19))"
    "SHA-256 alone (pgcrypto digest)|SELECT count(digest(p.key, 'sha256')) FROM picks p"
    "apikeys.verify|SELECT count((apikeys.verify(p.key)).code) FROM picks p"
    "apikeys.verify, malformed (no table)|SELECT count((apikeys.verify(p.key || 'x')).code) FROM picks p")
  local w r
  for w in "${what[@]}"; do
    for r in 1 2 3 4; do echo "${w#*|};"; done  # the first run warms up and is not counted
  done >>"$sql"
  "${PSQL[@]}" -f "$sql" 2>&1 | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -n $(( ${#what[@]} * 4 )) >"$out/per_call.raw"
  local i=0
  for w in "${what[@]}"; do
    sed -n "$((i * 4 + 2)),$((i * 4 + 4))p" "$out/per_call.raw" | sort -n | sed -n 2p |
      awk -v label="${w%%|*}" -v n="$n" '{ printf "  %-50s %6.2f us\n", label, $1 * 1000 / n }'
    i=$((i + 1))
  done | tee "$out/per_call.txt"
}
echo "== per row, in one statement over $((100000)) valid keys (median of 3 runs; microseconds)"
per_call

# The policies' cost per row, in real time: count(*) over bench.tdocs (1,000,000 rows) in one
# transaction per role, after its setup (authenticate, or the hand-written lookup and
# set_config), 2 scans of which the first warms up, against the same scan as bench_bypass (no
# policy); BENCH_RLS_ROUNDS (5) rounds, each through every role in turn, so that the VM's drift
# hits every role alike (4 scans of one role in a row once gave the same plan 79 and 126 ms
# against the other run's 70 and 66); the median of the rounds. A 1M-row scan in milliseconds is nanoseconds per row. Then, with
# track_functions = all, the calls the helpers take per scan and the plans (VERBOSE, and whether
# the planner may scan in parallel), in logs/rls_explain.txt. Timing and evidence are separate
# transactions: function tracking has a cost of its own.
RLS_ROLES=(bench_bypass bench_tenant_fn bench_tenant_set bench_tenant_fn_sub bench_tenant_set_sub
           bench_perm_fn bench_perm_set bench_perm_fn_sub bench_perm_set_sub)
rls_setup() {  # rls_setup ROLE KEY: the statement that binds the key (helpers) or sets app.* (hand-made)
  case "$1" in
    *_set*) echo "SELECT set_config('app.tenant', r.tenant_id, true), set_config('app.perms', r.permissions::text, true)" \
                 "FROM bench.ref_keys r WHERE r.key_hash = digest('$2', 'sha256') AND r.revoked_at IS NULL" \
                 "AND (r.expires_at IS NULL OR r.expires_at > now());" ;;
    *) echo "SELECT apikeys.authenticate('$2');" ;;
  esac
}
RLS_ROUNDS=${BENCH_RLS_ROUNDS:-5}
rls_per_row() {
  local key r i
  key=$(q "SELECT key FROM bench.plain WHERE i = 15")  # i % 10 = 5: valid, permissions {reports:read,docs:read}
  for i in $(seq 1 "$RLS_ROUNDS"); do
    for r in "${RLS_ROLES[@]}"; do
      echo "\\echo == $r"
      echo "BEGIN;"
      echo "SET LOCAL ROLE $r;"
      echo "\\o /dev/null"
      rls_setup "$r" "$key"
      echo "\\o"
      echo "\\timing on"
      echo "SELECT count(*) FROM bench.tdocs;"
      echo "SELECT count(*) FROM bench.tdocs;"
      echo "\\timing off"
      echo "COMMIT;"
    done
  done >"$out/rls_per_row.sql"
  for r in "${RLS_ROLES[@]}"; do
    echo "\\echo == $r"
    echo "BEGIN;"
    echo "SET LOCAL track_functions = 'all';"
    echo "SET LOCAL ROLE $r;"
    echo "\\o /dev/null"
    rls_setup "$r" "$key"
    echo "\\o"
    # (the counts of pg_stat_xact_user_functions are pending ones, kept until the next flush of
    # the statistics, not the transaction's: the scan's calls are the difference)
    echo "SELECT coalesce(sum(calls), 0) AS calls_before FROM pg_stat_xact_user_functions" \
         "WHERE schemaname = 'apikeys' AND funcname IN ('current_tenant', 'has_permission') \\gset"
    echo "SELECT count(*) FROM bench.tdocs;"
    echo "SELECT 'calls ' || (coalesce(sum(calls), 0) - :calls_before) FROM pg_stat_xact_user_functions" \
         "WHERE schemaname = 'apikeys' AND funcname IN ('current_tenant', 'has_permission');"
    echo "EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM bench.tdocs;"
    echo "SET LOCAL max_parallel_workers_per_gather = 2; SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0;"
    echo "\\echo -- the plan with parallel query allowed"
    echo "EXPLAIN (COSTS OFF) SELECT count(*) FROM bench.tdocs;"
    echo "COMMIT;"
  done >"$out/rls_explain.sql"
  "${PSQL[@]}" -At -f "$out/rls_per_row.sql" >"$out/rls_per_row.raw" 2>&1 || echo "   ! rls_per_row.sql failed: see rls_per_row.raw" >&2
  "${PSQL[@]}" -At -f "$out/rls_explain.sql" >"$out/logs/rls_explain.txt" 2>&1 || echo "   ! rls_explain.sql failed: see logs/rls_explain.txt" >&2
  local labels=""
  for r in "${RLS_ROLES[@]}"; do
    labels="$labels${labels:+|}$r^$([ "$r" = bench_bypass ] && echo "no policy (BYPASSRLS)" || echo "${LABEL[count_${r#bench_}]#* 1M, }")"
  done
  awk -v labels="$labels" '
    function median(s,   a, n, i, j, t) {  # the median of the figures of s
      n = split(s, a, " "); if (n < 1) return ""
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    BEGIN { n = split(labels, l, "|"); for (i = 1; i <= n; i++) { split(l[i], kv, "^"); lab[kv[1]] = kv[2]; order[i] = kv[1] } nr = n }
    FILENAME ~ /raw/ && /^== / { cur = $2; k = 0; next }
    FILENAME ~ /raw/ && /^Time: / { if (++k == 2) t[cur] = t[cur] " " $2; next }  # the first scan warms up
    FILENAME ~ /raw/ && /^[0-9]+$/ { rows[cur] = $1; next }
    FILENAME ~ /explain/ && /^== / { cur = $2; par = 0; next }
    FILENAME ~ /explain/ && /^calls / { calls[cur] = $2; next }
    FILENAME ~ /explain/ && /^-- the plan with parallel/ { par = 1; next }
    FILENAME ~ /explain/ && par && /Parallel Seq Scan/ { parallel[cur] = 1; next }
    END {
      base = median(t["bench_bypass"]); nb = rows["bench_bypass"]
      printf "  %-52s %9s %10s %9s %9s %9s\n", "policy (count(*) over bench.tdocs)", "ms/scan", "ns/row", "rows", "calls", "parallel"
      for (i = 1; i <= nr; i++) {
        r = order[i]; m = median(t[r])
        if (m == "" || base == "" || nb == 0) { printf "  %-52s %9s\n", lab[r], "-"; continue }
        cost[r] = (m - base) * 1e6 / nb
        printf "  %-52s %9.1f %10s %9s %9s %9s\n", lab[r], m, (r == "bench_bypass" ? "-" : sprintf("%+.1f", cost[r])),
          rows[r], (r ~ /_fn/ ? calls[r] : "-"), (parallel[r] ? "yes" : "no")
      }
      print "  ns/row: over the same scan without a policy; calls: of the helper in one scan (track_functions);"
      print "  parallel: whether the planner may use a Parallel Seq Scan when parallel query is allowed (logs/rls_explain.txt)."
      split("tenant_fn tenant_fn_sub perm_fn perm_fn_sub", h, " ")
      for (i = 1; i <= 4; i++) {
        a = "bench_" h[i]; b = a; sub(/_fn/, "_set", b)
        if ((a in cost) && (b in cost))
          printf "  helper vs hand-made, %-30s %+7.1f vs %+7.1f ns/row\n", h[i] ":", cost[a], cost[b]
      }
    }' "$out/rls_per_row.raw" "$out/logs/rls_explain.txt" | tee "$out/rls_per_row.txt"
}
if in_list count_tenant_fn "${read_variants[@]}" || in_list count_perm_fn "${read_variants[@]}"; then
  echo "== RLS policies per row: count(*) over 1,000,000 rows of bench.tdocs (median of $RLS_ROUNDS rounds; ms per scan = ns per row)"
  rls_per_row
fi

# The guarded phase: members and allowlists on the odd tenants (test/bench/sql/guard.sql),
# then verify of their keys with an address against verify of the even tenants' keys, in the
# same round-robin. Last (after per_call too), since the allowlists change the other variants' answers.
if [ ${#guard_variants[@]} -gt 0 ]; then
  echo "== guarded phase: members and allowlists for the odd tenants"
  t0=$(now)
  "${PSQL[@]}" -f "$here/sql/guard.sql" | tee "$out/logs/guard.log"
  grep -q ' f$\|^ f ' "$out/logs/guard.log" && echo "   ! a guarded pick did not answer as expected (see logs/guard.log)" >&2
  echo "   $(elapsed "$t0")s"
  prewarm
  run_suite "$KEYS" "${guard_variants[@]}"
  paired_suite GUARD_PAIRS
fi
summarise "${read_variants[@]}" "${write_variants[@]}" "${guard_variants[@]}" "${later_ids[@]}"
{
  echo "$KEYS keys; ratios are of medians at the same client count and page size: /floor = to the key pick + PK probe,"
  echo "/sel-1 = to pgbench's select-only, /ref = to the pgcrypto reference, /base = to the variant named last"
  echo "(for the helper policies: helper / hand-made); pages = the shared memory's pages in that pass;"
  echo "other = the largest share of the machine's CPU that other processes used during one of the runs (0% = a quiet machine)."
  for s in "${pass_notes[@]}"; do echo "$s"; done
  for s in "${skipped[@]}"; do echo "$s"; done
  awk -F'\t' -v max="$MAX_OTHER" 'NR > 1 && $5 > max { n++; if ($5 > w) w = $5 }
    END { if (n) printf "WARNING: %d runs competed with other work for more than %d%% of the CPU (up to %d%%; the retry budget ran out): their figures are not reliable.\n", n, max, w }' "$raw"
} >"$out/notes.txt"
echo "== results ($out/summary.tsv)"
cat "$out/summary.txt" "$out/notes.txt"
spec_checks
paired_report
chart
echo "== written to $out (summary.tsv, paired.tsv, summary.txt, targets.txt, chart.png, rls_per_row.txt, machine.txt, raw.tsv, logs/)"
