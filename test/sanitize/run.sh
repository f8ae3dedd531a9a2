#!/usr/bin/env bash
# make test-sanitize: every test of test/run-tests.sh (unit, pg_regress, isolation, TAP) with
# the library and the unit tests built with AddressSanitizer and UndefinedBehaviorSanitizer
# (SANITIZE=1), on a clean copy of the tree, the servers running with the ASan runtime
# preloaded (see APIKEYS_SANITIZE in test/lib.sh). Passes only if the suite passes and no
# sanitizer wrote a report (a UBSan finding also aborts the backend: -fno-sanitize-recover).
# Afterwards the plain build of this tree is installed again. Slow: not part of `make test`.
#   APIKEYS_SANITIZE_DIR  where the reports go (default: a new directory under /tmp, kept)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/apikeys-sanitize-tree.XXXXXX)
reports=${APIKEYS_SANITIZE_DIR:-$(mktemp -d /tmp/apikeys-sanitize-reports.XXXXXX)}
mkdir -p "$reports"
tar -C "$src" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.d' --exclude=results \
  --exclude=tmp_check --exclude=output_iso --exclude=run_unit -cf - . | tar -C "$work" -xf -
restore() {
  echo "== reinstalling the plain build of $src"
  make -C "$src" -s -j2 >/dev/null && { [ "$(id -u)" -eq 0 ] && make -C "$src" -s install >/dev/null ||
    sudo make -C "$src" -s install >/dev/null; } || echo "could not reinstall the plain build" >&2
  rm -rf "$work"
}
trap restore EXIT

start=$(date +%s)
status=0
APIKEYS_SANITIZE=1 APIKEYS_SANITIZE_DIR="$reports" bash "$work/test/run-tests.sh" "$@" || status=$?
elapsed=$(($(date +%s) - start))

shopt -s nullglob
files=("$reports"/asan.* "$reports"/ubsan.*)
for f in "${files[@]}"; do
  echo "== $f"
  head -n 40 "$f"
done
echo
echo "sanitizers: ${#files[@]} reports in $reports; suite exit status $status; ${elapsed} s"
[ "$status" -eq 0 ] && [ ${#files[@]} -eq 0 ]
