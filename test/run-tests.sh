#!/usr/bin/env bash
# Every test of apikeys: the format check, a -Werror build, the core unit tests
# (GoogleTest), then pg_regress, pg_isolation_regress and TAP on throwaway clusters that the
# suites start themselves; then pg_regress and pg_isolation_regress on the other PostgreSQL
# versions apikeys supports, each in a Debian chroot of its own (test/pg-versions.sh).
# Installs what is missing. Every suite runs whatever failed before it, and the summary
# names each failure.
#
#   bash test/run-tests.sh [SUITE...]   SUITE: unit, regress, isolation, tap (default: all four)
#
#   PG_MAJOR=N or PG_CONFIG=...          the PostgreSQL of this machine to test (default: the
#                                        newest installed)
#   APIKEYS_PG_VERSIONS="17 18"          the versions then tested in chroots (PG_MAJOR's own
#                                        left out); empty: none. Needs root or sudo, and the
#                                        network the first time (the chroots are cached)
#   APIKEYS_PG_VERSIONS_SUITES="regress isolation"
#                                        what runs there ("unit regress isolation tap": all)
source "$(dirname "$0")/lib.sh"

start_time=$SECONDS
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(unit regress isolation tap)
for s in "${suites[@]}"; do
  case "$s" in
    unit | regress | isolation | tap) ;;
    *) echo "run-tests.sh: unknown suite $s (unit, regress, isolation, tap)" >&2; exit 2 ;;
  esac
done
wants() { [[ " ${suites[*]} " == *" $1 "* ]]; }
# A run under the sanitizers (test/sanitize/run.sh) tests this machine's version only.
[ "${APIKEYS_SANITIZE:-}" != 1 ] || APIKEYS_PG_VERSIONS=""
other_versions=()
for v in ${APIKEYS_PG_VERSIONS-17 18}; do [ "$v" = "$PG_MAJOR" ] || other_versions+=("$v"); done
other_suites=${APIKEYS_PG_VERSIONS_SUITES:-regress isolation}

install_deps
failures=()

# The tree is formatted with clang-format 14 (Debian 12's); other versions lay some lines
# out differently, so the check runs with that one only.
clang_major=$(clang-format --version 2>/dev/null | sed -nE 's/.*version ([0-9]+).*/\1/p')
if [ "$clang_major" = 14 ]; then
  echo "== format check (clang-format 14)"
  make -C "$APIKEYS_ROOT" -s format-check || failures+=("format: run make format")
else
  echo "== format check skipped: clang-format ${clang_major:-missing}, the tree is formatted with 14"
fi

echo "== layout check (CONTRIBUTING.md)"
bash "$APIKEYS_ROOT/test/check-layout.sh" || failures+=("layout: see test/check-layout.sh")
python3 "$APIKEYS_ROOT/test/check-meta.py" || failures+=("META.json: see test/check-meta.py")

built=1
WERROR=1 build_install || { built=0; failures+=("build: the extension did not build (see above)"); }

unit_passed=0 unit_failed=0
if wants unit; then
  echo "== core unit tests"
  unit_log=$(mktemp)
  unit_status=0
  make -C "$APIKEYS_ROOT" -s unit WERROR=1 >"$unit_log" 2>&1 || unit_status=$?
  grep -E '^\[  (PASSED|FAILED)  \]|error' "$unit_log" || true
  unit_passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\?\./\1/p' "$unit_log")
  unit_failed=$(grep -c '^\[  FAILED  \] [A-Za-z]' "$unit_log" || true)
  [ "$unit_status" -eq 0 ] || [ "$unit_failed" -gt 0 ] || unit_failed=1
  [ "$unit_failed" -eq 0 ] || failures+=("unit: $unit_failed failed")
  rm -f "$unit_log"
fi

# pg_regress, isolation and TAP need the extension built and installed.
regress_passed=0 regress_failed=0 iso_passed=0 iso_failed=0 tap_tests=0 tap_line=""
if [ "$built" = 1 ]; then
  scratch=$(make_scratch)
  trap 'rm -rf "$scratch"' EXIT
  echo "== pg_regress, pg_isolation_regress and TAP (in $scratch)"

  # One suite: make installcheck with the other two switched off (a suite not asked for: an
  # empty log).
  run_suite() {
    local name=$1 log="$scratch/$1.log" status=0
    shift
    : >"$log"
    wants "$name" || return 0
    echo "== $name"
    as_pg make -C "$scratch" -s installcheck PG_CONFIG="$PG_CONFIG" ${APIKEYS_BINDIR:+bindir="$APIKEYS_BINDIR"} "$@" 2>&1 |
      tee "$log" || status=$?
    return $status
  }

  regress_status=0
  run_suite regress ISOLATION= TAP_TESTS= || regress_status=$?
  if [ -s "$scratch/regression.diffs" ]; then echo "== regression.diffs"; cat "$scratch/regression.diffs"; fi
  iso_status=0
  run_suite isolation REGRESS= TAP_TESTS= || iso_status=$?
  if [ -s "$scratch/output_iso/regression.diffs" ]; then
    echo "== isolation diffs"
    cat "$scratch/output_iso/regression.diffs"
  fi
  tap_status=0
  run_suite tap REGRESS= ISOLATION= || tap_status=$?
  if [ "$tap_status" -ne 0 ]; then
    for f in "$scratch"/tmp_check/log/regress_log_*; do
      if [ -f "$f" ]; then echo "== $f"; tail -n 50 "$f"; fi
    done
  fi

  # pg_regress and pg_isolation_regress lines ("test name ... ok", or "ok N - name" from PG16).
  count() { grep -cE "$2" "$scratch/$1.log" || true; }
  ok_re='^test [a-z_0-9]+ +\.\.\. ok|^ok [0-9]+ +[+-]'
  fail_re='^test [a-z_0-9]+ +\.\.\. FAILED|^not ok [0-9]+ +[+-]'
  regress_passed=$(count regress "$ok_re")
  regress_failed=$(count regress "$fail_re")
  iso_passed=$(count isolation "$ok_re")
  iso_failed=$(count isolation "$fail_re")
  for s in regress isolation; do
    for t in $(grep -oE '^test [a-z_0-9]+ +\.\.\. FAILED|^not ok [0-9]+ +[+-] [a-z_0-9]+' "$scratch/$s.log" |
               sed -E 's/^test ([a-z_0-9]+).*/\1/; s/^not ok [0-9]+ +[+-] //'); do
      failures+=("$s: $t")
    done
  done
  [ "$regress_status" -eq 0 ] || [ "$regress_failed" -gt 0 ] || failures+=("regress: did not run to the end")
  [ "$iso_status" -eq 0 ] || [ "$iso_failed" -gt 0 ] || failures+=("isolation: did not run to the end")
  tap_line=$(grep -E '^Files=[0-9]+, Tests=[0-9]+' "$scratch/tap.log" | tail -n 1 || true)
  tap_tests=$(echo "$tap_line" | sed -n 's/.*Tests=\([0-9]*\).*/\1/p')
  for t in $(grep -E '^test/t/[0-9a-z_]+\.pl .*(Dubious|Failed|not ok)' "$scratch/tap.log" | sed -E 's/ .*//' | sort -u); do
    failures+=("tap: $t")
  done
  grep -q '^Result: FAIL' "$scratch/tap.log" && [ "$tap_status" -eq 0 ] && tap_status=1
  [ "$tap_status" -eq 0 ] || grep -q '^tap: ' <(printf '%s\n' "${failures[@]}") || failures+=("tap: failed")
fi
host_time=$((SECONDS - start_time))

# The other versions, one chroot each (prepared or reused, then tested): their summary lines
# and failures join this run's.
other_lines=()
for v in "${other_versions[@]}"; do
  t=$SECONDS
  pgv_log=$(mktemp)
  pgv_status=0
  echo "== PostgreSQL $v (test/pg-versions.sh; suites: $other_suites)"
  if $SUDO bash "$APIKEYS_ROOT/test/pg-versions.sh" prepare "$v"; then
    # shellcheck disable=SC2086
    $SUDO bash "$APIKEYS_ROOT/test/pg-versions.sh" test "$v" $other_suites 2>&1 | tee "$pgv_log" || pgv_status=$?
  else
    pgv_status=$?
    echo "pg-versions.sh prepare $v failed" >"$pgv_log"
  fi
  # Its summary (from its last "PostgreSQL N.N" line): the version, the counts of the suites
  # that ran, and the failures, named with the version.
  summary=$(awk '/^PostgreSQL [0-9]+\.[0-9]+/ { s = "" } { s = s $0 "\n" } END { printf "%s", s }' "$pgv_log")
  version_line=$(echo "$summary" | grep -E '^PostgreSQL [0-9]+\.[0-9]+' || echo "PostgreSQL $v (no summary)")
  other_lines+=("in a chroot: $version_line, $other_suites: $((SECONDS - t)) s")
  for s in $other_suites; do
    [ "$s" = regress ] && s=pg_regress
    while IFS= read -r line; do other_lines+=("  $line"); done < <(echo "$summary" | grep -E "^$s: " || true)
  done
  found=0
  while IFS= read -r line; do
    failures+=("PostgreSQL $v: ${line#failed: }")
    found=1
  done < <(echo "$summary" | grep -E '^failed: ' || true)
  [ "$pgv_status" -eq 0 ] || [ "$found" -eq 1 ] || failures+=("PostgreSQL $v: pg-versions.sh exited $pgv_status (see above)")
  rm -f "$pgv_log"
done

echo
echo "PostgreSQL $($PG_CONFIG --version | sed 's/PostgreSQL //')"
ran() { if wants "$1"; then echo "$2"; else echo "not run"; fi; }
echo "unit: $(ran unit "${unit_passed:-0} passed, ${unit_failed:-0} failed")"
echo "pg_regress: $(ran regress "$regress_passed passed, $regress_failed failed")"
echo "isolation: $(ran isolation "$iso_passed passed, $iso_failed failed")"
echo "tap: $(ran tap "${tap_tests:-0} assertions${tap_line:+, $tap_line}")"
passed=$((${unit_passed:-0} + regress_passed + iso_passed + ${tap_tests:-0}))
echo "time: $host_time s"
[ ${#other_lines[@]} -eq 0 ] || printf '%s\n' "${other_lines[@]}"
echo "total: $passed passed on $PG_MAJOR, ${#failures[@]} failed; $((SECONDS - start_time)) s in all"
if [ ${#failures[@]} -gt 0 ]; then
  printf 'failed: %s\n' "${failures[@]}"
  exit 1
fi
