#!/usr/bin/env bash
# make package: builds the Debian package in a clean clone of the committed tree (debian/,
# pg_buildext), installs it with apt, runs the regression and isolation suites against the
# installed files (make installcheck), then removes it and reinstalls the working tree's
# build. Slow (a full build): not part of test/run-tests.sh; README names it.
source "$(dirname "$0")/lib.sh"
set -euo pipefail

install_deps
install_packages devscripts debhelper postgresql-server-dev-all

work=$(mktemp -d /tmp/apikeys-package.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
echo "== a clean clone of $(git -C "$APIKEYS_ROOT" rev-parse --short HEAD) in $work"
git clone -q --no-local "$APIKEYS_ROOT" "$work/apikeys"
cd "$work/apikeys"
version=$(dpkg-parsechangelog -S Version)
[ "$version" = "$(sed -n 's/^ *"version": *"\([0-9.]*\)".*/\1/p' META.json | head -n 1)" ] ||
  { echo "debian/changelog ($version) and META.json disagree" >&2; exit 1; }
echo "== dpkg-buildpackage (version $version)"
t0=$(date +%s)
dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log"; exit 1; }
deb=$(ls "$work"/postgresql-"$PG_MAJOR"-apikeys_"$version"_*.deb)
echo "   built $(basename "$deb") in $(( $(date +%s) - t0 )) s"
dpkg-deb -c "$deb" | awk '{ print "   " $6 }' | grep -E 'apikeys(\.so|\.control|--1\.2\.sql)$'

echo "== apt install ./$(basename "$deb")"
$SUDO apt-get install -y -qq "$deb" >/dev/null
dpkg -L "postgresql-$PG_MAJOR-apikeys" | grep -c . | sed 's/^/   files installed: /'

echo "== make installcheck against the installed package (regress and isolation)"
chown -R "$PG_USER" "$work"
status=0
as_pg make -C "$work/apikeys" -s installcheck PG_CONFIG="$PG_CONFIG" PROVE_TESTS= TAP_TESTS= >"$work/check.log" 2>&1 ||
  status=$?
grep -E '^ *(All [0-9]+ tests passed|[0-9]+ of [0-9]+ tests failed)' "$work/check.log" | sed 's/^ */   /'
[ "$status" -eq 0 ] || tail -n 40 "$work/check.log"

echo "== removing the package, reinstalling the working tree's build"
$SUDO dpkg -r "postgresql-$PG_MAJOR-apikeys" >/dev/null
build_install
exit $status
