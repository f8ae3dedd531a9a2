# Shared by test/demo.sh, test/run-tests.sh and test/bench: installs what a fresh Debian
# machine lacks, builds and installs the extension, and runs commands as a non-root user
# (initdb refuses root). The PostgreSQL major version is PG_MAJOR (default: the newest
# server installed, else 15); PG_CONFIG may name a pg_config directly.
set -euo pipefail

APIKEYS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "${PG_MAJOR:-}" ]; then
  if [ -n "${PG_CONFIG:-}" ]; then
    PG_MAJOR=$("$PG_CONFIG" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
  else
    PG_MAJOR=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1)
    PG_MAJOR=${PG_MAJOR:-15}
  fi
fi
export PG_MAJOR
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
export PATH="$PG_BIN:$PATH"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# Debian packages the build and the tests need; only missing ones are installed.
APIKEYS_PACKAGES="postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR postgresql-$PG_MAJOR-cron postgresql-$PG_MAJOR-pgaudit libpq-dev
  libssl-dev openssl python3 python3-psycopg curl libipc-run-perl libgtest-dev nlohmann-json3-dev pgbouncer make g++ clang-format"

install_deps() {
  # shellcheck disable=SC2086
  install_packages $APIKEYS_PACKAGES
}

# Installs those of the given Debian packages that are missing (apt-get update first).
install_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# Builds (with WERROR=1 when asked) and installs into the PostgreSQL of PG_CONFIG.
build_install() {
  echo "== building and installing apikeys for PostgreSQL $PG_MAJOR"
  make -C "$APIKEYS_ROOT" -s -j2 PG_CONFIG="$PG_CONFIG" ${WERROR:+WERROR=$WERROR} ${SANITIZE:+SANITIZE=$SANITIZE} >/dev/null ||
    return 1
  $SUDO make -C "$APIKEYS_ROOT" -s install PG_CONFIG="$PG_CONFIG" >/dev/null || return 1
}

# The user that owns test clusters: the caller, or "postgres" when running as root.
PG_USER=$(id -un)
[ "$(id -u)" -ne 0 ] || PG_USER=postgres

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$PG_USER" -- env PATH="$PATH" PG_CONFIG="$PG_CONFIG" "$@"
  else
    "$@"
  fi
}

# APIKEYS_SANITIZE=1 (test/sanitize/run.sh): the library is built with ASan and UBSan
# (SANITIZE=1), and the servers run with the ASan runtime preloaded, which an uninstrumented
# postgres needs before it can load the library. Only the servers: APIKEYS_BINDIR is a copy of
# the PostgreSQL bin directory whose postgres is a script that preloads the runtime and runs
# the real one (pg_ctl and initdb find it beside themselves; make installcheck takes it as
# bindir, so pg_regress, isolation and TAP all start their servers through it). With the
# runtime preloaded, glibc's gettext and locale locks deadlock in uninstrumented programs, so
# test/sanitize/nonls.c, preloaded after it, makes gettext the identity (the tests expect
# English messages anyway). Reports go to APIKEYS_SANITIZE_DIR (asan.PID, ubsan.PID).
APIKEYS_BINDIR=""
if [ "${APIKEYS_SANITIZE:-}" = 1 ]; then
  APIKEYS_SANITIZE_DIR=${APIKEYS_SANITIZE_DIR:-/tmp/apikeys-sanitize}
  export SANITIZE=1
  APIKEYS_BINDIR="$APIKEYS_SANITIZE_DIR/bin"
  if [ ! -x "$APIKEYS_BINDIR/postgres" ]; then
    mkdir -p "$APIKEYS_BINDIR"
    chmod 1777 "$APIKEYS_SANITIZE_DIR"
    chmod 755 "$APIKEYS_BINDIR"
    cp -p "$PG_BIN"/* "$APIKEYS_BINDIR/"
    gcc -shared -fPIC -O2 -o "$APIKEYS_SANITIZE_DIR/libnonls.so" "$APIKEYS_ROOT/test/sanitize/nonls.c"
    # PostgreSQL frees by memory context, not by allocation: leak reports would only show
    # that design.
    # exec -a: the server takes the script for its own path, so that postmaster.opts (and so
    # pg_ctl restart) names the script; the package library directory it then derives,
    # BINDIR/../lib, is a link to the real one.
    {
      echo '#!/bin/bash'
      echo "export LD_PRELOAD='$(g++ -print-file-name=libasan.so) $APIKEYS_SANITIZE_DIR/libnonls.so'"
      echo "export ASAN_OPTIONS='detect_leaks=0:log_path=$APIKEYS_SANITIZE_DIR/asan'"
      echo "export UBSAN_OPTIONS='print_stacktrace=1:log_path=$APIKEYS_SANITIZE_DIR/ubsan'"
      echo "exec -a \"\$0\" '$PG_BIN/postgres' \"\$@\""
    } >"$APIKEYS_BINDIR/postgres"
    chmod 755 "$APIKEYS_BINDIR/postgres"
    ln -sfn "$($PG_CONFIG --pkglibdir)" "$APIKEYS_SANITIZE_DIR/lib"
  fi
  export PATH="$APIKEYS_BINDIR:$PATH"
fi

# A copy of the source tree that the cluster user may write into (results, tmp_check).
make_scratch() {
  local dir
  dir=$(mktemp -d /tmp/apikeys-test.XXXXXX)
  tar -C "$APIKEYS_ROOT" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.d' -cf - . | tar -C "$dir" -xf -
  [ "$(id -u)" -ne 0 ] || chown -R "$PG_USER" "$dir"
  chmod 755 "$dir"
  echo "$dir"
}

# Starts a throwaway cluster on a private port and socket directory; sets PGHOST/PGPORT.
# Usage: start_cluster DIR [extra postgresql.conf lines...]
start_cluster() {
  local dir=$1
  shift
  mkdir -p "$dir"
  [ "$(id -u)" -ne 0 ] || chown "$PG_USER" "$dir"
  as_pg initdb -D "$dir/data" -A trust -U postgres >/dev/null
  {
    echo "listen_addresses = ''"
    echo "unix_socket_directories = '$dir'"
    for line in "$@"; do echo "$line"; done
  } >>"$dir/data/postgresql.conf"
  export PGPORT=${PGPORT:-$((20000 + RANDOM % 20000))}
  export PGHOST=$dir PGUSER=postgres
  as_pg pg_ctl -D "$dir/data" -o "-p $PGPORT" -l "$dir/server.log" -w start >/dev/null
}

stop_cluster() {
  as_pg pg_ctl -D "$1/data" -m fast -w stop >/dev/null 2>&1 || true
}
