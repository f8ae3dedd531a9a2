#!/usr/bin/env bash
# make bench-timing: does the time of verify's answer tell whether a client id exists?
# Loads BENCH_KEYS keys (default 1,000,000, as the security review measured), then times
# verify for four kinds of key, BENCH_TIMING_CALLS (2000) different keys each, in
# BENCH_TIMING_ROUNDS (40) rounds whose order is shuffled, in one backend:
#   unknown id     a well-formed key whose client id no key has (answers NOT_FOUND)
#   wrong secret   a known client id with another secret (NOT_FOUND too)
#   valid          a valid key (the reference: the hot path)
#   malformed      a broken checksum (answers before any probe)
# and reports per kind the median, p10 and p90 of the rounds' mean time per call (µs), and how
# far apart "unknown id" and "wrong secret" are: the difference of the medians, and the share
# of rounds of one that fall inside the other's p10-p90 range. Read the ratios: the machine's
# load moves every figure alike.
source "$(dirname "$0")/../lib.sh"
here="$APIKEYS_ROOT/test/bench"
KEYS=$(( ${BENCH_KEYS:-1000000} / 20 * 20 ))
CALLS=${BENCH_TIMING_CALLS:-2000}
ROUNDS=${BENCH_TIMING_ROUNDS:-40}
install_deps
[ -n "${BENCH_NO_BUILD:-}" ] || build_install
dir=$(mktemp -d /tmp/apikeys-timing.XXXXXX)
chmod 755 "$dir"
trap 'stop_cluster "$dir"; rm -rf "$dir"' EXIT
start_cluster "$dir" "shared_preload_libraries = 'apikeys'" "shared_buffers = 512MB" "jit = off" "autovacuum = off" \
  "max_wal_size = 8GB" "apikeys.usage_tracking = off"
export PGDATABASE=postgres
source "$here/load.sh"
bench_load "$KEYS"
"${PSQL[@]}" -c "VACUUM ANALYZE apikeys.keys"
echo "== timing verify: $ROUNDS rounds of $CALLS calls per kind"
PGOPTIONS="-c timing.rounds=$ROUNDS" "${PSQL[@]}" -v calls="$CALLS" <<'SQL'
CREATE TEMP TABLE cases (kind text, n int, key text);
-- Valid keys: active, unexpired (i % 20 <> 0), spread over the table.
INSERT INTO cases SELECT 'valid', row_number() OVER (), p.key FROM bench.plain p
 WHERE p.i % 20 <> 0 AND p.i % 7 = 3 LIMIT :calls;
INSERT INTO cases SELECT 'wrong secret', row_number() OVER (), (apikeys._generate_key('ak', left(p.key, 19))).key
  FROM bench.plain p WHERE p.i % 7 = 5 LIMIT :calls;
INSERT INTO cases SELECT 'unknown id', g, (apikeys._generate_key('ak')).key FROM generate_series(1, :calls) g;
INSERT INTO cases SELECT 'malformed', n, left(key, -1) || CASE WHEN right(key, 1) = '0' THEN '1' ELSE '0' END
  FROM cases WHERE kind = 'unknown id';
SELECT kind, (apikeys.verify(key)).code, count(*) FROM cases GROUP BY 1, 2 ORDER BY 1;
CREATE TEMP TABLE rounds (kind text, r int, us float8);
CREATE FUNCTION pg_temp.time_kind(k text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz;
  keys text[];
  c text;
BEGIN
  SELECT array_agg(key ORDER BY n) INTO keys FROM cases WHERE kind = k;
  t0 := clock_timestamp();
  FOREACH c IN ARRAY keys LOOP
    PERFORM apikeys.verify(c);
  END LOOP;
  RETURN extract(epoch FROM clock_timestamp() - t0) * 1e6 / array_length(keys, 1);
END $$;
DO $$
DECLARE
  k text;
BEGIN
  PERFORM pg_temp.time_kind(kind) FROM (SELECT DISTINCT kind FROM cases) d;  -- warm up
  FOR r IN 1..current_setting('timing.rounds')::int LOOP
    FOR k IN SELECT d.kind FROM (SELECT DISTINCT kind FROM cases) d ORDER BY random() LOOP
      INSERT INTO rounds VALUES (k, r, pg_temp.time_kind(k));
    END LOOP;
  END LOOP;
END $$;
SELECT kind, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY us)::numeric, 3) AS median_us,
       round(percentile_cont(0.1) WITHIN GROUP (ORDER BY us)::numeric, 3) AS p10_us,
       round(percentile_cont(0.9) WITHIN GROUP (ORDER BY us)::numeric, 3) AS p90_us
  FROM rounds GROUP BY 1 ORDER BY 2;
WITH s AS (
  SELECT kind, percentile_cont(0.5) WITHIN GROUP (ORDER BY us) AS med,
         percentile_cont(0.1) WITHIN GROUP (ORDER BY us) AS p10,
         percentile_cont(0.9) WITHIN GROUP (ORDER BY us) AS p90 FROM rounds GROUP BY 1)
SELECT round((u.med - w.med)::numeric, 3) AS "unknown - wrong secret (µs, medians)",
       round(100.0 * (SELECT count(*) FROM rounds r WHERE r.kind = 'unknown id' AND r.us BETWEEN w.p10 AND w.p90)
             / (SELECT count(*) FROM rounds r WHERE r.kind = 'unknown id'), 0) AS "% unknown in wrong's p10-p90",
       round(100.0 * (SELECT count(*) FROM rounds r WHERE r.kind = 'wrong secret' AND r.us BETWEEN u.p10 AND u.p90)
             / (SELECT count(*) FROM rounds r WHERE r.kind = 'wrong secret'), 0) AS "% wrong in unknown's p10-p90"
  FROM s u, s w WHERE u.kind = 'unknown id' AND w.kind = 'wrong secret';
SQL
