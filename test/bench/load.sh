# Sourced by test/bench/profile.sh and test/bench/timing.sh (after test/lib.sh and
# start_cluster): bench_load N makes the bench schema and loads N keys in one statement, the
# keys table's user triggers off (the rows are built as they would accept them; see
# sql/load_keys.sql), into the database of PGDATABASE. Sets PSQL.
PSQL=(psql -X -q -v ON_ERROR_STOP=1)
bench_load() {
  local here="$APIKEYS_ROOT/test/bench"
  echo "== loading $1 keys"
  "${PSQL[@]}" -f "$here/sql/schema.sql"
  "${PSQL[@]}" -c "ALTER TABLE apikeys.keys DISABLE TRIGGER USER"
  "${PSQL[@]}" -v first=1 -v last="$1" -f "$here/sql/load_keys.sql"
  "${PSQL[@]}" -c "ALTER TABLE apikeys.keys ENABLE TRIGGER USER"
}
