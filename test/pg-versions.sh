#!/usr/bin/env bash
# Builds and tests apikeys on PostgreSQL versions this machine's Debian does not ship. Each
# version gets a minimal Debian chroot (debootstrap --variant=minbase) of a suite that has
# it, with every package test/run-tests.sh needs, cached for reuse; test/run-tests.sh then
# runs inside it, as root, on a fresh copy of this tree. Runs as root (CI does); only
# `prepare` needs the network.
#
#   bash test/pg-versions.sh prepare VERSION       make the chroot of VERSION, or reuse it
#   bash test/pg-versions.sh test VERSION [SUITE...]
#                                                  run test/run-tests.sh in it (SUITE: unit,
#                                                  regress, isolation, tap; default: all)
#   bash test/pg-versions.sh all                   prepare and test every VERSION below, in full
#   bash test/pg-versions.sh bench VERSION [TARGET] make TARGET (default: bench) in it, on a
#                                                  fresh copy of the tree, with the caller's
#                                                  BENCH_* variables and the host's network;
#                                                  the results come back to
#                                                  test/bench/results/STAMP-pgVERSION
#   bash test/pg-versions.sh shell VERSION [CMD]   CMD (default: bash) in the chroot, mounted
#
# test/run-tests.sh calls prepare and test for the versions of APIKEYS_PG_VERSIONS (17 18).
#
#   APIKEYS_CHROOT_CACHE=/var/cache/apikeys  where chroot-VERSION lives (1.4-1.9 GB each)
#   APIKEYS_CHROOT_REBUILD=1                 prepare makes the chroot again even if complete
#   APIKEYS_DEBIAN_MIRROR=http://deb.debian.org/debian
#   APIKEYS_PGVER_OUT=/tmp                   where `test` leaves pgver-VERSION-test.log and
#                                            pgver-VERSION-{regression,isolation}.diffs
#   APIKEYS_PGVER_PATCH=FILE                 `test` applies FILE (patch -p1) to its copy of the
#                                            tree: a throwaway fix, to see the tests past a
#                                            build error; the tree itself is left alone
#   APIKEYS_CHROOT_NET=host                  test with the host's network; by default the
#                                            suite runs in a network namespace of its own
#                                            (loopback only: proves that it needs no network
#                                            and keeps its ports apart from the host's)
#
# A chroot is complete once its stamp file (.apikeys-ready), written last, exists and every
# package is installed; a half-made one (prepare interrupted) is made again. Mounts (/proc,
# /sys, /dev, /dev/pts, a private /dev/shm) last only while a command runs in the chroot.
set -euo pipefail

self=$(readlink -f "$0")
APIKEYS_ROOT=$(cd "$(dirname "$self")/.." && pwd)
# Canonical: a process runs in a chroot when its /proc/PID/root is this path.
CACHE=$(readlink -m "${APIKEYS_CHROOT_CACHE:-/var/cache/apikeys}")
MIRROR=${APIKEYS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
OUT=${APIKEYS_PGVER_OUT:-/tmp}
STAMP=.apikeys-ready

# ---- the versions: the Debian suite that ships each, and the apt options it needs ----------
# `all` tests VERSIONS; 15 (this machine's own, bookworm) is there to compare a failure with.
VERSIONS="17 18"
declare -A SUITE=([15]=bookworm [17]=trixie [18]=sid)
# sid's Release file is not refreshed when the mirror lags, and expires after a week.
declare -A APT_CONF=(
  [15]=''
  [17]=''
  [18]='Acquire::Check-Valid-Until "false";'
)

# Packages on top of test/lib.sh's APIKEYS_PACKAGES: what the build and the TAP tests call
# that a minbase system lacks (lib.sh's list assumes a full Debian install).
EXTRA_PACKAGES="libssl-dev openssl python3 perl"

die() { echo "pg-versions: $*" >&2; exit 2; }

check_version() {
  [ -n "${1:-}" ] || die "which version? (one of: $VERSIONS)"
  [ -n "${SUITE[$1]+x}" ] || die "PostgreSQL $1 is not in the table (one of: $(printf "%s\n" "${!SUITE[@]}" | sort -n | xargs))"
}

chroot_dir() { echo "$CACHE/chroot-$1"; }

# The packages of version $1: lib.sh's list (with PG_MAJOR substituted) and the extras.
packages_of() {
  local list
  list=$(PG_MAJOR=$1 PG_CONFIG=/nonexistent bash -c 'source "$1" && echo $APIKEYS_PACKAGES' _ "$APIKEYS_ROOT/test/lib.sh")
  echo $list $EXTRA_PACKAGES
}

# Serializes prepare and test of one version (a second caller waits).
lock_version() {
  mkdir -p "$CACHE"
  exec 9>"$CACHE/chroot-$1.lock"
  if ! flock -n 9; then
    echo "== waiting for another pg-versions.sh run on PostgreSQL $1"
    flock 9
  fi
}

# ---- mounts ------------------------------------------------------------------------------
MOUNTED_ROOT=""

# Mount points at or below $1, deepest first.
mounts_under() {
  awk -v p="$1" '$2 == p || index($2, p "/") == 1 { print $2 }' /proc/self/mounts | sort -r
}

# The caller holds the version's lock, so mounts already there are left over from a run that
# was killed: they go first.
mount_chroot() {
  local root=$1 m
  MOUNTED_ROOT=$root
  unmount_chroot
  MOUNTED_ROOT=$root
  mount -t proc proc "$root/proc"
  # Private: nothing mounted below these binds may propagate to the host's /dev or /sys.
  for m in sys dev dev/pts; do
    mount --bind "/$m" "$root/$m"
    mount --make-private "$root/$m"
  done
  mount -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm"
}

# Ends what still runs in the chroot (a server a failed test left behind), then unmounts.
unmount_chroot() {
  local root=$MOUNTED_ROOT pid left m sig
  [ -n "$root" ] || return 0
  MOUNTED_ROOT=""
  for sig in TERM KILL; do
    left=0
    for pid in /proc/[0-9]*; do
      if [ "$(readlink "$pid/root" 2>/dev/null)" = "$root" ]; then
        kill "-$sig" "${pid#/proc/}" 2>/dev/null || true
        left=1
      fi
    done
    [ "$left" -eq 0 ] && break
    sleep 2
  done
  for m in $(mounts_under "$root"); do
    umount "$m" 2>/dev/null || umount -l "$m" || echo "pg-versions: could not unmount $m" >&2
  done
}

# Removes a chroot directory, never through a mount (a bind-mounted /dev above all).
remove_tree() {
  local dir=$1 m
  [ -e "$dir" ] || return 0
  for m in $(mounts_under "$dir"); do umount "$m" 2>/dev/null || umount -l "$m"; done
  [ -z "$(mounts_under "$dir")" ] || die "$dir still has mounts; not removing it"
  rm -rf --one-file-system "$dir"
}

# Runs a command in the chroot $1 with a clean environment (and PG_MAJOR=$2 unless $2 is
# empty), without the lock's descriptor (a server left behind would hold the lock).
in_chroot() {
  local root=$1 ver=$2
  shift 2
  # APIKEYS_PG_VERSIONS empty: run-tests.sh in the chroot tests that version only.
  chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" ${ver:+PG_MAJOR=$ver} APIKEYS_PG_VERSIONS= \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@" 9>&-
}

# Like in_chroot, in a network namespace of its own with only loopback (if unshare can).
in_chroot_offline() {
  if [ "${APIKEYS_CHROOT_NET:-}" != host ] && command -v ip >/dev/null && unshare --net ip link set lo up 2>/dev/null; then
    unshare --net -- /bin/sh -c 'ip link set lo up && exec "$@"' sh bash "$self" __in_chroot "$@"
  else
    [ "${APIKEYS_CHROOT_NET:-}" = host ] || echo "== (no unshare --net or no ip command: the host's network is used)"
    in_chroot "$@"
  fi
}

# ---- prepare -----------------------------------------------------------------------------
missing_packages() {
  local root=$1 p
  shift
  for p in "$@"; do
    in_chroot "$root" '' dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

# apt-get install in the chroot, without recommends (a test needing one names it above).
apt_install() {
  local root=$1
  shift
  in_chroot "$root" '' apt-get install -y -q --no-install-recommends "$@"
}

prepare() {
  local ver=$1 suite=${SUITE[$1]} dir work pkgs missing start=$SECONDS
  dir=$(chroot_dir "$ver")
  pkgs=$(packages_of "$ver")
  lock_version "$ver"
  trap unmount_chroot EXIT
  trap 'exit 130' INT TERM

  if [ -f "$dir/$STAMP" ] && [ "${APIKEYS_CHROOT_REBUILD:-}" != 1 ] &&
     grep -qxF "suite=$suite" "$dir/$STAMP"; then
    missing=$(missing_packages "$dir" $pkgs | xargs)
    if [ -z "$missing" ]; then
      echo "== PostgreSQL $ver: reusing $dir ($(in_chroot "$dir" '' "/usr/lib/postgresql/$ver/bin/postgres" --version))"
      return 0
    fi
    # Complete but for packages added since: install them in place (no stamp meanwhile).
    echo "== PostgreSQL $ver: $dir lacks $missing; installing"
    rm -f "$dir/$STAMP"
    cp -L /etc/resolv.conf "$dir/etc/resolv.conf"
    mount_chroot "$dir"
    in_chroot "$dir" '' apt-get update -q
    apt_install "$dir" $missing
    in_chroot "$dir" '' apt-get clean
    unmount_chroot
    printf 'suite=%s\nmirror=%s\n' "$suite" "$MIRROR" >"$dir/$STAMP"
    echo "== PostgreSQL $ver: $dir ready in $((SECONDS - start)) s"
    return 0
  fi

  if ! command -v debootstrap >/dev/null; then
    echo "== installing debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi

  # Made in DIR.partial, renamed when complete.
  work=$dir.partial
  remove_tree "$work"
  echo "== PostgreSQL $ver: debootstrap $suite into $work"
  debootstrap --variant=minbase "$suite" "$work" "$MIRROR" >"$CACHE/chroot-$ver.debootstrap.log" 2>&1 ||
    { tail -n 30 "$CACHE/chroot-$ver.debootstrap.log" >&2; die "debootstrap $suite failed (log: $CACHE/chroot-$ver.debootstrap.log)"; }

  # apt: the suite's options, no documentation, no services started by package scripts.
  echo "deb $MIRROR $suite main" >"$work/etc/apt/sources.list"
  [ -z "${APT_CONF[$ver]}" ] || echo "${APT_CONF[$ver]}" >"$work/etc/apt/apt.conf.d/90apikeys"
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-exclude /usr/share/man/*' \
    'path-exclude /usr/share/info/*' >"$work/etc/dpkg/dpkg.cfg.d/90apikeys-nodoc"
  printf '#!/bin/sh\nexit 101\n' >"$work/usr/sbin/policy-rc.d"
  chmod 755 "$work/usr/sbin/policy-rc.d"
  cp -L /etc/resolv.conf "$work/etc/resolv.conf"

  mount_chroot "$work"
  echo "== PostgreSQL $ver: installing $pkgs"
  in_chroot "$work" '' apt-get update -q
  # No main cluster: the tests make their own.
  apt_install "$work" postgresql-common >/dev/null
  sed -i -E 's/^#? *create_main_cluster *=.*/create_main_cluster = false/' "$work/etc/postgresql-common/createcluster.conf"
  apt_install "$work" $pkgs >"$CACHE/chroot-$ver.apt.log" 2>&1 ||
    { tail -n 30 "$CACHE/chroot-$ver.apt.log" >&2; die "apt-get install failed (log: $CACHE/chroot-$ver.apt.log)"; }
  in_chroot "$work" '' apt-get clean
  unmount_chroot
  missing=$(missing_packages "$work" $pkgs | xargs)
  [ -z "$missing" ] || die "not installed after apt-get: $missing"
  rm -rf "$work/var/lib/apt/lists/"*

  printf 'suite=%s\nmirror=%s\n' "$suite" "$MIRROR" >"$work/$STAMP"
  remove_tree "$dir"
  mv "$work" "$dir"
  echo "== PostgreSQL $ver: $dir ready in $((SECONDS - start)) s, $(du -sh --one-file-system "$dir" | cut -f1)" \
    "($(in_chroot "$dir" '' "/usr/lib/postgresql/$ver/bin/postgres" --version))"
}

# Dies unless the chroot of $1 is complete and has every package (one added to lib.sh since
# it was made needs `prepare`, which installs it in place).
require_ready() {
  local dir missing
  dir=$(chroot_dir "$1")
  [ -f "$dir/$STAMP" ] || die "no complete chroot for PostgreSQL $1 in $dir: run prepare $1 first"
  # shellcheck disable=SC2046
  missing=$(missing_packages "$dir" $(packages_of "$1") | xargs)
  [ -z "$missing" ] || die "the chroot of PostgreSQL $1 lacks $missing: run prepare $1 first"
}

# Holds the version's lock (until exit), checks its chroot, and unmounts it at exit.
take_version() {
  lock_version "$1"
  require_ready "$1"
  trap unmount_chroot EXIT
  trap 'exit 130' INT TERM
}

# A fresh copy of the tree in the chroot's /build/apikeys; what a killed run left there goes
# first (the tree, test/lib.sh's scratch copies, a benchmark's cluster).
fresh_copy() {
  local dir=$1
  rm -rf --one-file-system "$dir/build/apikeys" "$dir"/tmp/apikeys-test.* "$dir"/tmp/apikeys-bench.*
  mkdir -p "$dir/build/apikeys"
  copy_tree "$dir/build/apikeys"
}

# ---- test --------------------------------------------------------------------------------
# The files of the tree: git's (tracked and untracked, not ignored), or all but build output.
copy_tree() {
  local dest=$1
  if git -c safe.directory="$APIKEYS_ROOT" -C "$APIKEYS_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    git -c safe.directory="$APIKEYS_ROOT" -C "$APIKEYS_ROOT" ls-files -z --cached --others --exclude-standard |
      (cd "$APIKEYS_ROOT" && while IFS= read -r -d '' f; do
        if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi # not deleted in the work tree
      done) | tar -C "$APIKEYS_ROOT" --null --no-recursion -T - -cf - | tar -C "$dest" -xf -
  else
    tar -C "$APIKEYS_ROOT" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.d' \
      --exclude=./results --exclude=./output_iso --exclude=./log --exclude='./tmp_check*' \
      --exclude=./regression.diffs --exclude=./regression.out --exclude=./test/unit/run_unit \
      --exclude='./test/fuzz/run_*' -cf - . | tar -C "$dest" -xf -
  fi
}

# Lines between a "== TITLE" line of the log and the next "== " line (diff lines never
# start with "== ").
log_section() {
  awk -v t="== $2" '$0 == t { on = 1; next } on && /^== / { on = 0 } on' "$1"
}

run_test() {
  local ver=$1 dir log status=0 start=$SECONDS
  shift
  dir=$(chroot_dir "$ver")
  take_version "$ver"
  fresh_copy "$dir"
  if [ -n "${APIKEYS_PGVER_PATCH:-}" ]; then
    echo "== PostgreSQL $ver: applying $APIKEYS_PGVER_PATCH to the copy"
    patch -s -d "$dir/build/apikeys" -p1 --forward <"$APIKEYS_PGVER_PATCH" || die "$APIKEYS_PGVER_PATCH does not apply"
  fi
  mkdir -p "$OUT"
  log=$OUT/pgver-$ver-test.log
  rm -f "$OUT/pgver-$ver-regression.diffs" "$OUT/pgver-$ver-isolation.diffs"

  mount_chroot "$dir"
  echo "== PostgreSQL $ver: test/run-tests.sh in $dir/build/apikeys (log: $log)"
  # In the background, so that a SIGTERM to this script interrupts `wait` at once (the EXIT
  # trap then ends what runs in the chroot).
  (in_chroot_offline "$dir" "$ver" /bin/bash -c 'cd /build/apikeys && exec bash test/run-tests.sh "$@"' _ "$@" 2>&1 |
    tee "$log") &
  wait $! || status=$?
  unmount_chroot

  log_section "$log" regression.diffs >"$OUT/pgver-$ver-regression.diffs"
  log_section "$log" "isolation diffs" >"$OUT/pgver-$ver-isolation.diffs"
  for f in "$OUT/pgver-$ver-regression.diffs" "$OUT/pgver-$ver-isolation.diffs"; do
    if [ -s "$f" ]; then echo "== diffs: $f"; else rm -f "$f"; fi
  done
  echo "== PostgreSQL $ver: test $([ "$status" -eq 0 ] && echo passed || echo "FAILED (exit $status)") in $((SECONDS - start)) s"
  return "$status"
}

# The summary run-tests.sh prints last (from its "PostgreSQL N.N" line), or the log's tail.
summary_of() {
  local log=$1 n
  n=$(grep -nE '^PostgreSQL [0-9]+\.[0-9]+' "$log" 2>/dev/null | tail -n 1 | cut -d: -f1 || true)
  if [ -n "$n" ]; then
    tail -n "+$n" "$log"
  else
    echo "(no summary: run-tests.sh stopped early; last lines of $log:)"
    tail -n 15 "$log" 2>/dev/null || true
  fi
}

# ---- bench -------------------------------------------------------------------------------
# make bench on the version's server: nothing else should run on the machine meanwhile
# (docs/benchmarks.md). With the host's network (the benchmark may install gnuplot).
run_bench() {
  local ver=$1 target=${2:-bench} dir log status=0 start=$SECONDS r name vars=()
  dir=$(chroot_dir "$ver")
  take_version "$ver"
  fresh_copy "$dir"
  cp -L /etc/resolv.conf "$dir/etc/resolv.conf"
  while IFS= read -r r; do vars+=("$r"); done < <(env | grep -E '^BENCH_[A-Z_]+=' || true)
  mkdir -p "$OUT"
  log=$OUT/pgver-$ver-$target.log
  mount_chroot "$dir"
  echo "== PostgreSQL $ver: make $target in $dir/build/apikeys ${vars[*]} (log: $log)"
  (in_chroot "$dir" "$ver" /usr/bin/env "${vars[@]}" /bin/bash -c 'cd /build/apikeys && exec make "$1"' _ "$target" 2>&1 |
    tee "$log") &
  wait $! || status=$?
  unmount_chroot
  # The results, named with the version, beside this machine's own.
  for r in "$dir/build/apikeys/test/bench/results"/*/; do
    [ -d "$r" ] && [ ! -L "${r%/}" ] || continue
    name=$(basename "$r")-pg$ver
    mkdir -p "$APIKEYS_ROOT/test/bench/results"
    rm -rf "$APIKEYS_ROOT/test/bench/results/$name"
    cp -r "$r" "$APIKEYS_ROOT/test/bench/results/$name"
    echo "== results: test/bench/results/$name"
  done
  echo "== PostgreSQL $ver: make $target $([ "$status" -eq 0 ] && echo finished || echo "FAILED (exit $status)") in $((SECONDS - start)) s"
  return "$status"
}

# ---- all ---------------------------------------------------------------------------------
run_all() {
  local ver t status failed=0 report=()
  for ver in $VERSIONS; do
    t=$SECONDS
    status=0
    bash "$self" prepare "$ver" || status=$?
    report+=("PostgreSQL $ver: prepare $([ "$status" -eq 0 ] && echo ok || echo "FAILED (exit $status)") in $((SECONDS - t)) s")
    if [ "$status" -ne 0 ]; then
      failed=1
      continue
    fi
    t=$SECONDS
    status=0
    bash "$self" test "$ver" || status=$?
    report+=("PostgreSQL $ver: test $([ "$status" -eq 0 ] && echo passed || echo "FAILED (exit $status)") in $((SECONDS - t)) s")
    [ "$status" -eq 0 ] || failed=1
    while IFS= read -r line; do report+=("    $line"); done < <(summary_of "$OUT/pgver-$ver-test.log")
  done
  echo
  echo "== all versions"
  printf '%s\n' "${report[@]}"
  return "$failed"
}

# ---- main --------------------------------------------------------------------------------
cmd=${1:-}
[ $# -eq 0 ] || shift
if [ "$cmd" = __in_chroot ]; then # in_chroot_offline's second half, inside the namespace
  in_chroot "$@"
  exit
fi
[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap, chroot and mount need it)"
case "$cmd" in
  prepare)
    check_version "${1:-}"
    prepare "$1"
    ;;
  test)
    check_version "${1:-}"
    ver=$1
    shift
    run_test "$ver" "$@"
    ;;
  all)
    run_all
    ;;
  bench)
    check_version "${1:-}"
    run_bench "$@"
    ;;
  shell)
    check_version "${1:-}"
    ver=$1
    shift
    dir=$(chroot_dir "$ver")
    take_version "$ver"
    mount_chroot "$dir"
    mkdir -p "$dir/build"
    status=0
    in_chroot "$dir" "$ver" /bin/bash -c 'cd /build/apikeys 2>/dev/null || cd /build; exec "$@"' _ "${@:-bash}" || status=$?
    exit "$status"
    ;;
  *)
    sed -n '2,/^set -euo/p' "$self" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
