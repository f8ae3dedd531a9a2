#!/usr/bin/env bash
# Every test of apikeys: the format check, a -Werror build, the core unit tests
# (GoogleTest), then pg_regress, pg_isolation_regress and TAP on throwaway clusters that the
# suites start themselves. Installs what is missing. Every suite runs whatever failed
# before it, and the summary names each failure. PG_MAJOR (or PG_CONFIG) picks the
# PostgreSQL version; the default is the newest installed.
source "$(dirname "$0")/lib.sh"

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

if ! WERROR=1 build_install; then
  echo "PostgreSQL $($PG_CONFIG --version | sed 's/PostgreSQL //')"
  printf 'failed: %s\n' "${failures[@]}" "build: the extension did not build (see above)"
  exit 1
fi

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

scratch=$(make_scratch)
trap 'rm -rf "$scratch"' EXIT
echo "== pg_regress, pg_isolation_regress and TAP (in $scratch)"

# One suite: make installcheck with the other two switched off.
run_suite() {
  local name=$1 log="$scratch/$1.log" status=0
  shift
  echo "== $name"
  as_pg make -C "$scratch" -s installcheck PG_CONFIG="$PG_CONFIG" "$@" 2>&1 | tee "$log" || status=$?
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

echo
echo "PostgreSQL $($PG_CONFIG --version | sed 's/PostgreSQL //')"
echo "unit: ${unit_passed:-0} passed, ${unit_failed:-0} failed"
echo "pg_regress: $regress_passed passed, $regress_failed failed"
echo "isolation: $iso_passed passed, $iso_failed failed"
echo "tap: ${tap_tests:-0} assertions${tap_line:+, $tap_line}"
passed=$((${unit_passed:-0} + regress_passed + iso_passed + ${tap_tests:-0}))
echo "total: $passed passed, ${#failures[@]} failed"
if [ ${#failures[@]} -gt 0 ]; then
  printf 'failed: %s\n' "${failures[@]}"
  exit 1
fi
