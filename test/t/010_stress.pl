# Bounded stress test of the limit triggers: 8 pgbench clients for 5 seconds create keys,
# activate, deactivate and revoke them, update and try to delete key sets and create new ones,
# at READ COMMITTED, REPEATABLE READ and SERIALIZABLE, against max_active_keys_per_set = 5,
# max_keys_per_owner = 3 and max_key_sets = 6. Every refused attempt is caught and recorded
# by SQLSTATE. Afterwards no set and no owner may be over its limit, and no deadlock may have
# occurred. The figures are printed as diagnostics.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('stress');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'apikeys'
max_connections = 40
log_statement = none
log_min_messages = warning
log_min_error_statement = panic
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION apikeys;
SELECT count(*) FROM apikeys.create_tenant('stress', max_key_sets => 6, max_active_keys_per_set => 5,
  max_keys_per_owner => 3);
SELECT count(*) FROM generate_series(1, 4) i, apikeys.create_key_set('stress', 'set ' || i, '{a,b}');

-- One row per attempt: the operation and its SQLSTATE (00000 for success).
CREATE TABLE attempts (op text NOT NULL, level text NOT NULL, sqlstate text NOT NULL);
-- Runs one statement; an error is caught and recorded instead of aborting the client.
CREATE FUNCTION attempt(op text, level text, stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  st text := '00000';
BEGIN
  IF stmt IS NULL THEN
    RETURN 'no candidate';
  END IF;
  BEGIN
    EXECUTE stmt;
  EXCEPTION WHEN OTHERS THEN
    st := SQLSTATE;
  END;
  INSERT INTO attempts VALUES (op, level, st);
  RETURN st;
END $$;
-- A random key of the tenant in the given state, as a statement on it (NULL if none).
CREATE FUNCTION on_random_key(fn text, state text) RETURNS text LANGUAGE sql AS $$
  SELECT format('SELECT apikeys.%s(%s)', fn, key_id) FROM apikeys.keys
   WHERE tenant_id = 'stress' AND status = state ORDER BY random() LIMIT 1 $$;
CREATE FUNCTION on_random_set(stmt text) RETURNS text LANGUAGE sql AS $$
  SELECT format(stmt, key_set_id) FROM apikeys.key_sets WHERE tenant_id = 'stress' ORDER BY random() LIMIT 1 $$;
});

# One script per operation and isolation level, weighted.
my %ops = (
	create => [ 8, q{SELECT attempt('create', :'level', on_random_set(format('SELECT apikeys.create_key(%L, %L, owner => %L, key_set_id => %%s)', 'stress', 'k', 'user' || (1 + floor(random() * 12))::int)));} ],
	create_loose => [ 2, q{SELECT attempt('create', :'level', format('SELECT apikeys.create_key(%L, %L, owner => %L)', 'stress', 'k', 'user' || (1 + floor(random() * 12))::int));} ],
	activate => [ 5, q{SELECT attempt('activate', :'level', on_random_key('activate_key', 'inactive'));} ],
	deactivate => [ 5, q{SELECT attempt('deactivate', :'level', on_random_key('deactivate_key', 'active'));} ],
	revoke => [ 2, q{SELECT attempt('revoke', :'level', on_random_key('revoke_key', CASE WHEN random() < 0.5 THEN 'active' ELSE 'inactive' END));} ],
	update_set => [ 1, q{SELECT attempt('update_set', :'level', on_random_set('SELECT apikeys.update_key_set(%s, permissions => ''{a,b,c}'')'));} ],
	delete_set => [ 1, q{SELECT attempt('delete_set', :'level', on_random_set('SELECT apikeys.delete_key_set(%s)'));} ],
	create_set => [ 1, q{SELECT attempt('create_set', :'level', format('SELECT apikeys.create_key_set(%L, %L, %L)', 'stress', 'set', '{a,b}'));} ],
);
my %levels = (rc => 'READ COMMITTED', rr => 'REPEATABLE READ', sr => 'SERIALIZABLE');
my $dir = $node->basedir;
my @scripts;
for my $op (sort keys %ops) {
	my ($weight, $sql) = @{ $ops{$op} };
	for my $lv (sort keys %levels) {
		my $file = "$dir/$op-$lv.sql";
		open my $fh, '>', $file or die "$file: $!";
		(my $stmt = $sql) =~ s/:'level'/'$lv'/g;
		print $fh "BEGIN ISOLATION LEVEL $levels{$lv};\n$stmt\nCOMMIT;\n";
		close $fh;
		push @scripts, '-f', "$file\@$weight";
	}
}

# 8 clients for 5 seconds; a transaction that fails at COMMIT with a serialization failure or
# a deadlock is retried by pgbench (--max-tries) and counted.
my ($out, $err) = ('', '');
my $ok = IPC::Run::run([ 'pgbench', '-n', '-c', '8', '-j', '2', '-T', '5', '--max-tries=10', '--failures-detailed',
	'-h', $node->host, '-p', $node->port, @scripts, 'postgres' ], '>', \$out, '2>', \$err);
ok($ok, 'pgbench ran to the end') or diag($err);
my ($tx) = $out =~ /number of transactions actually processed: (\d+)/;
my ($failed) = $out =~ /number of failed transactions: (\d+)/;
my ($retried) = $out =~ /number of transactions retried: (\d+)/;
my ($deadlock_failures) = $out =~ /number of deadlock failures: (\d+)/;
my ($tps) = $out =~ /tps = ([\d.]+)/;
diag(sprintf('pgbench: %s transactions, %s tps, %s retried, %s failed after retries',
	$tx // '?', $tps // '?', $retried // 0, $failed // 0));
ok(defined $tx && $tx > 0, 'transactions ran');
is($deadlock_failures // 0, 0, 'no transaction failed with a deadlock');
unlike($err, qr/aborted|deadlock/i, 'no client aborted') or diag($err);

# The figures, by operation and SQLSTATE.
my $fig = $node->safe_psql('postgres', q{
SELECT op || ': ' || sum(n) || ' attempts, ' || coalesce(sum(n) FILTER (WHERE sqlstate = '00000'), 0) || ' ok'
       || coalesce(', ' || string_agg(sqlstate || ' x' || n, ', ' ORDER BY sqlstate) FILTER (WHERE sqlstate <> '00000'), '')
  FROM (SELECT op, sqlstate, count(*) AS n FROM attempts GROUP BY 1, 2) x GROUP BY op ORDER BY op});
diag($_) for split /\n/, $fig;
my $tot = $node->safe_psql('postgres', q{
SELECT count(*) || ' attempts, ' || count(*) FILTER (WHERE sqlstate = '00000') || ' successes, refusals: '
       || (SELECT string_agg(sqlstate || ' x' || n, ', ' ORDER BY sqlstate)
             FROM (SELECT sqlstate, count(*) AS n FROM attempts WHERE sqlstate <> '00000' GROUP BY 1) r)
  FROM attempts});
diag("total: $tot");
my $levels = $node->safe_psql('postgres', q{
SELECT level || ': ' || count(*) || ' attempts, ' || count(*) FILTER (WHERE sqlstate = '23514') || ' x 23514, '
       || count(*) FILTER (WHERE sqlstate = '40001') || ' x 40001'
  FROM attempts GROUP BY level ORDER BY level});
diag($_) for split /\n/, $levels;

# The limits held.
is($node->safe_psql('postgres', q{
SELECT count(*) FROM (SELECT key_set_id FROM apikeys.keys
  WHERE status = 'active' AND key_set_id IS NOT NULL AND (expires_at IS NULL OR expires_at > now())
  GROUP BY 1 HAVING count(*) > 5) x}), '0', 'no key set has more than 5 active keys');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM (SELECT owner FROM apikeys.keys
  WHERE status <> 'revoked' AND owner IS NOT NULL AND (expires_at IS NULL OR expires_at > now())
  GROUP BY 1 HAVING count(*) > 3) x}), '0', 'no owner has more than 3 live keys');
cmp_ok($node->safe_psql('postgres', q{SELECT count(*) FROM apikeys.key_sets WHERE tenant_id = 'stress'}),
	'<=', 6, 'at most 6 key sets');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM apikeys.keys k LEFT JOIN apikeys.key_sets s USING (key_set_id)
 WHERE k.key_set_id IS NOT NULL AND s.key_set_id IS NULL}), '0', 'no key in a deleted set');

# The run exercised the limits: successes and 23514 refusals, and no deadlock inside a call.
my ($succ, $refused, $deadlocks, $other) = split /\|/, $node->safe_psql('postgres', q{
SELECT count(*) FILTER (WHERE sqlstate = '00000'), count(*) FILTER (WHERE sqlstate = '23514'),
       count(*) FILTER (WHERE sqlstate = '40P01'),
       count(*) FILTER (WHERE sqlstate NOT IN ('00000', '23514', '55000', '40001', 'P0002', '23503'))
  FROM attempts});
cmp_ok($succ, '>', 0, 'some attempts succeeded');
cmp_ok($refused, '>', 0, 'some attempts were refused by a limit (23514)');
is($deadlocks, '0', 'no deadlock');
is($other, '0', 'no unexpected error')
  or diag($node->safe_psql('postgres', q{SELECT DISTINCT op, sqlstate FROM attempts
    WHERE sqlstate NOT IN ('00000', '23514', '55000', '40001', 'P0002', '23503')}));

$node->stop;
done_testing();
