#!/usr/bin/env bash
# README command (a): installs what is missing, builds and installs apikeys, starts a
# throwaway cluster on a private port and socket directory, runs the walkthrough, stops.
source "$(dirname "$0")/lib.sh"
install_deps
build_install
dir=$(mktemp -d /tmp/apikeys-demo.XXXXXX)
trap 'stop_cluster "$dir"; rm -rf "$dir"' EXIT
start_cluster "$dir" "shared_preload_libraries = 'apikeys'"
echo "== walkthrough on a throwaway cluster (socket $dir, port $PGPORT)"
echo
as_pg psql -X -q -v ON_ERROR_STOP=0 -d postgres -f "$APIKEYS_ROOT/test/walkthrough.sql" 2>&1
