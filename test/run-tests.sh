#!/usr/bin/env bash
# Every test of apikeys: core unit tests (GoogleTest), then pg_regress, pg_isolation_regress
# and TAP on throwaway clusters that the suites start themselves. Installs what is missing.
source "$(dirname "$0")/lib.sh"

install_deps
build_install

echo "== core unit tests"
unit_log=$(mktemp)
unit_status=0
make -C "$APIKEYS_ROOT" -s unit >"$unit_log" 2>&1 || unit_status=$?
grep -E '^\[  (PASSED|FAILED)  \]|error' "$unit_log" || true
unit_passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\?\./\1/p' "$unit_log")
unit_failed=$(grep -c '^\[  FAILED  \] [A-Za-z]' "$unit_log" || true)
[ "$unit_status" -eq 0 ] || [ "$unit_failed" -gt 0 ] || unit_failed=1
rm -f "$unit_log"

scratch=$(make_scratch)
trap 'rm -rf "$scratch"' EXIT
echo "== pg_regress, pg_isolation_regress and TAP (in $scratch)"
status=0
as_pg make -C "$scratch" -s installcheck 2>&1 | tee "$scratch/installcheck.log" || status=$?
for f in "$scratch"/regression.diffs "$scratch"/output_iso/regression.diffs; do
  [ -s "$f" ] && { echo "== $f"; cat "$f"; }
done
for f in "$scratch"/tmp_check/log/regress_log_*; do
  [ -f "$f" ] && [ "$status" -ne 0 ] && { echo "== $f"; tail -n 50 "$f"; }
done

log="$scratch/installcheck.log"
# pg_regress and pg_isolation_regress lines ("test name ... ok", or "ok N - name" from PG16).
sql_passed=$(grep -cE '^test [a-z_0-9]+ +\.\.\. ok|^ok [0-9]+ +[+-]' "$log" || true)
sql_failed=$(grep -cE '^test [a-z_0-9]+ +\.\.\. FAILED|^not ok [0-9]+ +[+-]' "$log" || true)
tap_line=$(grep -E '^Files=[0-9]+, Tests=[0-9]+' "$log" | tail -n 1 || true)
tap_tests=$(echo "$tap_line" | sed -n 's/.*Tests=\([0-9]*\).*/\1/p')
tap_failed=0
grep -q '^Result: FAIL' "$log" && tap_failed=1
passed=$((unit_passed + sql_passed + ${tap_tests:-0}))
failed=$((unit_failed + sql_failed + tap_failed))
[ "$status" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1
echo
echo "unit: ${unit_passed:-0} passed, ${unit_failed:-0} failed"
echo "sql (regress + isolation): $sql_passed passed, $sql_failed failed"
echo "tap: ${tap_tests:-0} assertions${tap_line:+, $tap_line}"
echo "total: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
