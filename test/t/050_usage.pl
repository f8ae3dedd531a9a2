# Usage metering and rate limits across server life: 8 clients on one limited key, a clean
# restart, a crashed backend, a terminated writer, a reload, a hot standby, another database,
# and a server without the preload.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('usage');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'apikeys'
apikeys.database_name = 'postgres'
apikeys.usage_flush_interval = 1
restart_after_crash = on
log_min_messages = warning
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION apikeys;
SELECT count(*) FROM apikeys.create_tenant('acme');
});
my ($key_id, $key) = split /\|/,
	$node->safe_psql('postgres', q{SELECT key_id, key FROM apikeys.create_key('acme', 'busy')});

# Flushed answers of a key, by code.
sub flushed {
	my ($n, $code) = @_;
	return $n->safe_psql('postgres',
		qq{SELECT coalesce(sum(count), 0) FROM apikeys.usage WHERE key_id = $key_id AND code = '$code'});
}
# Flushed and pending answers.
sub total {
	my ($n, $id, $code) = @_;
	return $n->safe_psql('postgres',
		qq{SELECT coalesce(sum(count), 0) FROM apikeys.key_usage($id) WHERE code = '$code'});
}
sub verify_n {
	my ($n, $k, $times, $db) = @_;
	$n->safe_psql($db // 'postgres', qq{SELECT count(apikeys.verify('$k')) FROM generate_series(1, $times)});
}

# ---- the writer moves the counts out -------------------------------------------------------
verify_n($node, $key, 5);
ok($node->poll_query_until('postgres', qq{SELECT coalesce(sum(count), 0) = 5 FROM apikeys.usage WHERE key_id = $key_id}),
	'the writer flushes 5 answers into apikeys.usage');
is(total($node, $key_id, 'VALID'), 5, 'key_usage: 5, flushed and pending not counted twice');
ok($node->poll_query_until('postgres', qq{SELECT last_used_at IS NOT NULL FROM apikeys.keys WHERE key_id = $key_id}),
	'last_used_at is set by the writer');

# ---- 8 clients, one key limited to 100 per hour: exactly 100 VALID ----------------------
my ($lim_id, $lim) = split /\|/, $node->safe_psql('postgres',
	q{SELECT key_id, key FROM apikeys.create_key('acme', 'limited', rate_limit => 100, rate_window => '1 hour')});
$node->pgbench(
	"-n -M prepared -c 8 -j 2 -t 60 -D key=$lim",
	0, [qr/processed: 480\/480/], [qr/^$/], '8 clients verify one limited key 480 times',
	{ '050_limited' => 'SELECT (apikeys.verify(:key)).code;' });
is(total($node, $lim_id, 'VALID'), 100, 'exactly 100 VALID answers, not one more');
is(total($node, $lim_id, 'RATE_LIMITED'), 380, 'the other 380 are RATE_LIMITED');
ok($node->poll_query_until('postgres',
	qq{SELECT count(*) = 1 FROM apikeys.events WHERE key_id = $lim_id AND action = 'rate_limited'}),
	'one rate_limited event for the window');

# ---- a clean restart keeps what was counted (the writer flushes at shutdown) -------------
$node->append_conf('postgresql.conf', 'apikeys.usage_flush_interval = 3600');
$node->reload;
$node->poll_query_until('postgres', q{SELECT current_setting('apikeys.usage_flush_interval') = '1h'});
sleep 1;    # a flush started under the old interval ends
my $before = flushed($node, 'VALID');
verify_n($node, $key, 7);
is(flushed($node, 'VALID'), $before, 'with an hour between flushes the 7 answers wait in shared memory');
$node->restart;
is(flushed($node, 'VALID'), $before + 7, 'a clean restart flushed them first');

# ---- a crashed backend: shared memory is reinitialised, at most one interval is lost ------
verify_n($node, $key, 4);
is(total($node, $key_id, 'VALID'), $before + 11, '4 more pending before the crash');
my $victim = $node->background_psql('postgres');
my $pid = $victim->query_safe('SELECT pg_backend_pid()');
kill 'KILL', $pid;
eval { $victim->quit };
ok($node->poll_query_until('postgres', 'SELECT 1', '1'), 'the server is back after the crash');
is(total($node, $key_id, 'VALID'), $before + 7, 'the pending 4 are lost, the flushed ones are kept');
is($node->safe_psql('postgres', qq{SELECT code FROM apikeys.verify('$key')}), 'VALID', 'verify works after the crash');
ok($node->poll_query_until('postgres', q{SELECT writer_pid IS NOT NULL FROM apikeys.usage_status()}),
	'the writer runs again');
is(total($node, $key_id, 'VALID'), $before + 8, 'and counting goes on');
is($node->safe_psql('postgres', qq{SELECT (apikeys.verify('$lim')).code}), 'VALID',
	'a crash resets the rate limits (shared memory is new)');
$node->append_conf('postgresql.conf', 'apikeys.usage_flush_interval = 1');
$node->reload;

# ---- the writer survives its connection being terminated ----------------------------------
my $writer = $node->safe_psql('postgres', 'SELECT writer_pid FROM apikeys.usage_status()');
$node->safe_psql('postgres', "SELECT pg_terminate_backend($writer)");
ok($node->poll_query_until('postgres',
	qq{SELECT writer_pid IS NOT NULL AND writer_pid <> $writer FROM apikeys.usage_status()}),
	'a terminated writer is started again');
my $now = total($node, $key_id, 'VALID');
verify_n($node, $key, 3);
ok($node->poll_query_until('postgres',
	qq{SELECT coalesce(sum(count), 0) = $now + 3 FROM apikeys.usage WHERE key_id = $key_id AND code = 'VALID'}),
	'the new writer flushes');

# ---- usage_tracking off by reload: nothing counted, limits still enforced -----------------
$node->append_conf('postgresql.conf', 'apikeys.usage_tracking = off');
$node->reload;
$node->poll_query_until('postgres', q{SELECT NOT metering FROM apikeys.usage_status()});
my $off_before = total($node, $key_id, 'VALID');
verify_n($node, $key, 5);
is(total($node, $key_id, 'VALID'), $off_before, 'usage_tracking = off counts nothing');
my $one = $node->safe_psql('postgres',
	q{SELECT key FROM apikeys.create_key('acme', 'one an hour', rate_limit => 1, rate_window => '1 hour')});
is($node->safe_psql('postgres', qq{SELECT string_agg((apikeys.verify('$one')).code, ',') FROM generate_series(1, 2)}),
	'VALID,RATE_LIMITED', 'rate limits are enforced with tracking off');
$node->append_conf('postgresql.conf', 'apikeys.usage_tracking = on');
$node->reload;
$node->poll_query_until('postgres', q{SELECT metering FROM apikeys.usage_status()});

# ---- another database: rate-limited, not counted --------------------------------------------
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', q{CREATE EXTENSION apikeys; SELECT count(*) FROM apikeys.create_tenant('o');});
my ($o_id, $o_key) = split /\|/, $node->safe_psql('other',
	q{SELECT key_id, key FROM apikeys.create_key('o', 'o', rate_limit => 2, rate_window => '1 hour')});
is($node->safe_psql('other', qq{SELECT string_agg((apikeys.verify('$o_key')).code, ',') FROM generate_series(1, 3)}),
	'VALID,VALID,RATE_LIMITED', 'another database enforces its limits');
is($node->safe_psql('other', qq{SELECT count(*) FROM apikeys.key_usage($o_id)}), 0, 'and counts nothing');
is($node->safe_psql('other', q{SELECT metering::text || ' ' || database FROM apikeys.usage_status()}),
	'false postgres', 'usage_status says which database is metered');

# ---- a hot standby counts and limits its own answers --------------------------------------
my ($sk_id, $skey) = split /\|/, $node->safe_psql('postgres',
	q{SELECT key_id, key FROM apikeys.create_key('acme', 'standby', rate_limit => 3, rate_window => '1 hour')});
$node->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('usage_standby');
$standby->init_from_backup($node, 'bk', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby, 'replay', $node->lsn('insert'));
is($standby->safe_psql('postgres',
	qq{SELECT string_agg((apikeys.verify('$skey')).code, ',') FROM generate_series(1, 4)}),
	'VALID,VALID,VALID,RATE_LIMITED', 'the standby enforces the limit with its own state');
is($standby->safe_psql('postgres',
	qq{SELECT string_agg(code || '=' || count, ',' ORDER BY code) FROM apikeys.key_usage($sk_id)}),
	'RATE_LIMITED=1,VALID=3', 'the standby counts its own answers, readable there');
is($standby->safe_psql('postgres', q{SELECT writer_pid IS NULL FROM apikeys.usage_status()}), 't',
	'no writer runs on a standby');
is(total($node, $sk_id, 'VALID'), 0, "the primary has none of the standby's answers");
is($node->safe_psql('postgres', qq{SELECT code FROM apikeys.verify('$skey')}), 'VALID',
	"and the primary's own limit is untouched");
$standby->stop;

# ---- without the preload: verify as before, no rate limit can be set --------------------
my $plain = PostgreSQL::Test::Cluster->new('no_preload');
$plain->init;
$plain->start;
$plain->safe_psql('postgres', q{CREATE EXTENSION apikeys; SELECT count(*) FROM apikeys.create_tenant('p');});
my $p_key = $plain->safe_psql('postgres', q{SELECT key FROM apikeys.create_key('p', 'p')});
is($plain->safe_psql('postgres', qq{SELECT code FROM apikeys.verify('$p_key')}), 'VALID', 'verify works without the preload');
my ($rc, $out, $err) = $plain->psql('postgres',
	q{SELECT apikeys.create_key('p', 'x', rate_limit => 5, rate_window => '1 minute')});
like($err, qr/rate limits need the apikeys library in shared_preload_libraries/, 'a rate limit is refused (55000)');
is($plain->safe_psql('postgres', q{SELECT metering::text || ' ' || preloaded::text FROM apikeys.usage_status()}),
	'false false', 'usage_status says metering is off');
is($plain->safe_psql('postgres', q{SELECT count(*) FROM apikeys.key_usage((SELECT key_id FROM apikeys.keys LIMIT 1))}),
	0, 'key_usage answers, empty');
$plain->stop;

# ---- more keys than apikeys.usage_max_keys: the table stops at 4/5 of its slots --------------
# (beyond that, the search for a new key's slot would run over most of a partition on every
# verify); the answers of the keys that found no slot are uncounted.
$node->append_conf('postgresql.conf', "apikeys.usage_max_keys = 1000\napikeys.usage_flush_interval = 3600");
$node->restart;
$node->safe_psql('postgres', q{
CREATE TABLE many AS SELECT (apikeys.create_key('acme', 'many ' || g)).key FROM generate_series(1, 1500) g;
SELECT count((apikeys.verify(key)).code) FROM many;
});
my ($used, $slots, $uncounted) = split /\|/,
	$node->safe_psql('postgres', q{SELECT slots_used, slots_total, uncounted FROM apikeys.usage_status()});
is($used, int($slots * 4 / 5) + ($slots * 4 % 5 ? 1 : 0), "1,500 keys fill $used of $slots slots: 4/5, no more");
is($uncounted, 1500 - $used, 'the answers of the others are uncounted');

$node->stop;
done_testing();
