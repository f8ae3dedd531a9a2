# Infrastructure faults: a standby promoted while its sessions hold verify's caches; keys
# replicated by logical replication (verify on the subscriber, the tenant switch and
# revocation crossing over, both sides creating keys); and kill -9 of a backend in the middle
# of create_key and roll_key (no half-made key, no limit broken).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run qw(start pump finish timeout);

# A psql session that stays connected (its backend keeps its caches) across statements.
sub session {
	my ($node) = @_;
	my %s = (in => '', out => '', err => '');
	$s{h} = start([ 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=0', '-d', $node->connstr('postgres') ],
		'<', \$s{in}, '>', \$s{out}, '2>', \$s{err}, timeout($PostgreSQL::Test::Utils::timeout_default));
	return \%s;
}

# Runs one statement in the session; returns its output, or "ERROR: ..." if it failed.
sub query {
	my ($s, $sql) = @_;
	$s->{out} = '';
	$s->{err} = '';
	$s->{in} .= "$sql;\n\\echo __done__\n";
	pump $s->{h} until $s->{out} =~ /__done__/;
	(my $r = $s->{out}) =~ s/__done__\n?//;
	chomp $r;
	return $s->{err} =~ /ERROR:\s+(.*)/ ? "ERROR: $1" : $r;
}

sub close_session {
	my ($s) = @_;
	$s->{in} .= "\\q\n";
	finish $s->{h};
}

my $preload = q{
shared_preload_libraries = 'apikeys'
log_min_messages = warning
};

# ---- a promoted standby ---------------------------------------------------------------------
my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', $preload);
$primary->start;
$primary->safe_psql('postgres', q{
CREATE EXTENSION apikeys;
SELECT count(*) FROM apikeys.create_tenant('acme', max_active_keys_per_set => 1000, max_keys_per_owner => 3);
SELECT count(*) FROM apikeys.create_tenant('flip');
});
my ($kid, $cid, $key) = split /\|/, $primary->safe_psql('postgres',
	q{SELECT key_id, client_id, key FROM apikeys.create_key('acme', 'main', owner => 'bob')});
my $flip = $primary->safe_psql('postgres', q{SELECT key FROM apikeys.create_key('flip', 'k')});
my $old_kid = $primary->safe_psql('postgres', q{SELECT kid FROM apikeys.signing_keys WHERE is_current});
my $token = $primary->safe_psql('postgres', qq{SELECT apikeys.issue_token('$cid', '$key')});

$primary->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'bk', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

# A session of the standby fills its tenant and signing-key caches before the promotion.
my $s = session($standby);
is(query($s, qq{SELECT code FROM apikeys.verify('$flip')}), 'VALID', 'standby session: flip VALID');
is(query($s, qq{SELECT code FROM apikeys.verify_token('$token')}), 'VALID', 'standby session: token VALID');
like(query($s, q{SELECT count(*) FROM apikeys.create_key('acme', 'nope')}), qr/ERROR: .*read-only/,
	'standby session: no key made in recovery');

$primary->stop;
$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()') or die 'the standby was not promoted';

# Right after the promotion, another session changes the tenant switch and the signing keys.
$standby->safe_psql('postgres', qq{
UPDATE apikeys.tenants SET enabled = false WHERE tenant_id = 'flip';
SELECT apikeys.add_signing_key();
SELECT apikeys.retire_signing_key('$old_kid');
});
is(query($s, qq{SELECT code FROM apikeys.verify('$flip')}), 'TENANT_DISABLED',
	'the session from before the promotion sees the tenant switched off');
is(query($s, qq{SELECT code FROM apikeys.verify_token('$token')}), 'UNKNOWN_KEY',
	'... and the retired signing key');
my $new_token = query($s, qq{SELECT apikeys.issue_token('$cid', '$key')});
is(query($s, qq{SELECT code FROM apikeys.verify_token('$new_token')}), 'VALID',
	'... and signs with the new current key');
isnt(query($s, qq{SELECT kid = '$old_kid' FROM apikeys.signing_keys WHERE is_current}), 't', 'a new kid signs');
like(query($s, q{SELECT key FROM apikeys.create_key('acme', 'after', owner => 'bob')}), qr/^ak_/,
	'the same session creates a key once promoted');
is(query($s, qq{SELECT code FROM apikeys.verify('$key')}), 'VALID', 'the old key still verifies');

# Verifying and managing keys at once on the promoted server: 4 clients verify the first key
# (a failure divides by zero and stops pgbench), 2 create and revoke keys; the owner's cap
# (3 live keys) holds throughout.
my $dir = $standby->basedir;
open my $fv, '>', "$dir/verify.sql" or die;
print $fv "SELECT 1 / ((apikeys.verify(:key)).code = 'VALID')::int;\n";
close $fv;
open my $fc, '>', "$dir/create.sql" or die;
print $fc q{SELECT apikeys.revoke_key(key_id) FROM apikeys.create_key('acme', 'load', owner => 'carol');} . "\n";
close $fc;
my ($out, $err) = ('', '');
my $ok = IPC::Run::run([ 'pgbench', '-n', '-M', 'prepared', '-c', '6', '-j', '2', '-T', '4', '-D', "key=$key",
		'-f', "$dir/verify.sql\@4", '-f', "$dir/create.sql\@1", '-d', $standby->connstr('postgres') ],
	'>', \$out, '2>', \$err);
ok($ok, 'pgbench: verify and create_key at once on the promoted server') or diag($out, $err);
my ($done) = $out =~ /number of transactions actually processed: (\d+)/;
ok(($done // 0) > 100, "pgbench processed transactions ($done)");
is($standby->safe_psql('postgres',
		q{SELECT count(*) FILTER (WHERE status <> 'revoked') || ' ' || (count(*) > 10)::text FROM apikeys.keys WHERE owner = 'carol'}),
	'0 true', 'every key made under load was made and revoked');
is(query($s, q{SELECT count(*) FROM apikeys.keys WHERE owner = 'bob' AND status = 'active'}), '2', 'bob has 2 keys');
like(query($s, q{SELECT count(*) FROM apikeys.create_key('acme', 'third', owner => 'bob')}), qr/^1$/, 'a third');
like(query($s, q{SELECT count(*) FROM apikeys.create_key('acme', 'fourth', owner => 'bob')}),
	qr/ERROR: owner "bob" of tenant "acme" already has 3 live keys/, 'the owner cap holds on the promoted server');
close_session($s);
$standby->stop;

# ---- logical replication --------------------------------------------------------------------
my $pub = PostgreSQL::Test::Cluster->new('pub');
$pub->init(allows_streaming => 'logical');
$pub->append_conf('postgresql.conf', $preload);
$pub->start;
my $sub = PostgreSQL::Test::Cluster->new('sub');
$sub->init;
$sub->append_conf('postgresql.conf', $preload);
$sub->start;
$pub->safe_psql('postgres', q{
CREATE EXTENSION apikeys;
SELECT count(*) FROM apikeys.create_tenant('acme', max_active_keys_per_set => 1000);
SELECT count(*) FROM apikeys.create_tenant('flip');
SELECT count(*) FROM apikeys.create_key_set('acme', 'set', '{reports:*}');
CREATE PUBLICATION apikeys_pub FOR TABLE apikeys.tenants, apikeys.key_sets, apikeys.keys;
});
my ($pkid, $pkey) = split /\|/, $pub->safe_psql('postgres', q{SELECT key_id, key FROM apikeys.create_key('acme', 'p1')});
my $pflip = $pub->safe_psql('postgres', q{SELECT key FROM apikeys.create_key('flip', 'f')});
$sub->safe_psql('postgres', q{CREATE EXTENSION apikeys;});
$sub->safe_psql('postgres',
	"CREATE SUBSCRIPTION apikeys_sub CONNECTION '" . $pub->connstr . " dbname=postgres' PUBLICATION apikeys_pub");
$sub->wait_for_subscription_sync($pub, 'apikeys_sub');

my $ss = session($sub);
is(query($ss, qq{SELECT code FROM apikeys.verify('$pkey')}), 'VALID', 'a published key verifies on the subscriber');
is(query($ss, qq{SELECT code FROM apikeys.verify('$pflip')}), 'VALID', 'flip VALID on the subscriber (cached)');
$pub->safe_psql('postgres', qq{
UPDATE apikeys.tenants SET enabled = false WHERE tenant_id = 'flip';
SELECT apikeys.revoke_key($pkid, 'replicated revocation');
});
$pub->wait_for_catchup('apikeys_sub');
is(query($ss, qq{SELECT code FROM apikeys.verify('$pflip')}), 'TENANT_DISABLED',
	'a tenant disabled on the publisher answers TENANT_DISABLED on the subscriber, in a session that had cached it');
is(query($ss, qq{SELECT code FROM apikeys.verify('$pkey')}), 'REVOKED', 'a revocation crosses over');

# Both sides create keys in the same tenant: 200 each, no id collision stops the apply worker.
$sub->safe_psql('postgres', q{SELECT count(*) FROM generate_series(1, 200) g, LATERAL apikeys.create_key('acme', 'sub ' || g)});
$pub->safe_psql('postgres', q{SELECT count(*) FROM generate_series(1, 200) g, LATERAL apikeys.create_key('acme', 'pub ' || g)});
my $last = $pub->safe_psql('postgres', q{SELECT key FROM apikeys.create_key('acme', 'last')});
$pub->wait_for_catchup('apikeys_sub');
is($sub->safe_psql('postgres', q{
SELECT count(*) FILTER (WHERE name LIKE 'sub %') || ' ' || count(*) FILTER (WHERE name LIKE 'pub %') || ' ' ||
       count(DISTINCT key_id) || ' ' || count(*) FROM apikeys.keys WHERE tenant_id = 'acme'}),
	'200 200 402 402', 'the subscriber holds its own and the published keys, all ids distinct');
is(query($ss, qq{SELECT code FROM apikeys.verify('$last')}), 'VALID', 'the subscription still applies');
my $sublog = slurp_file($sub->logfile);
unlike($sublog, qr/duplicate key value|conflict/i, 'no conflict in the subscriber log');
close_session($ss);
$sub->stop;
$pub->stop;

# ---- kill -9 in the middle of create_key and roll_key ---------------------------------------
my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', $preload . "restart_after_crash = on\n");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION apikeys;
SELECT count(*) FROM apikeys.create_tenant('lim', max_keys_per_owner => 2);
-- A stall at the end of the key triggers, while the key's row, its event and its locks are
-- in place and the transaction is not committed.
CREATE FUNCTION public.stall() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.name = 'stall' OR (TG_OP = 'UPDATE' AND NEW.key_hash IS DISTINCT FROM OLD.key_hash AND OLD.name = 'roll me') THEN
    PERFORM pg_sleep(600);
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER zz_stall AFTER INSERT OR UPDATE ON apikeys.keys FOR EACH ROW EXECUTE FUNCTION public.stall();
});
my ($rid, $rkey) = split /\|/, $node->safe_psql('postgres',
	q{SELECT key_id, key FROM apikeys.create_key('lim', 'roll me', owner => 'amy')});
my $hint = $node->safe_psql('postgres', qq{SELECT hint FROM apikeys.keys WHERE key_id = $rid});

# Kills the backend that runs $sql once it waits in the stall; returns when the server is back.
sub kill_in_stall {
	my ($sql, $what) = @_;
	my ($o, $e) = ('', '');
	my $h = start([ 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c', $sql ], '>', \$o, '2>', \$e,
		timeout($PostgreSQL::Test::Utils::timeout_default));
	$node->poll_query_until('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND query LIKE '%apikeys.%'}, '1')
	  or die "no backend stalled in $what";
	my $pid = $node->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND query LIKE '%apikeys.%'});
	kill 'KILL', $pid;
	eval { finish $h; };
	ok($node->poll_query_until('postgres', 'SELECT 1', '1'), "the server is back after kill -9 in $what");
}

kill_in_stall(q{SELECT key FROM apikeys.create_key('lim', 'stall', owner => 'amy')}, 'create_key');
is($node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM apikeys.keys WHERE name = 'stall') || ' ' ||
       (SELECT count(*) FROM apikeys.events WHERE details ->> 'name' = 'stall')}),
	'0 0', 'no half-made key and no event of it after the crash');
kill_in_stall(qq{SELECT key FROM apikeys.roll_key($rid)}, 'roll_key');
is($node->safe_psql('postgres', qq{
SELECT hint || ' ' || (previous_hash IS NULL)::text || ' ' ||
       (SELECT count(*) FROM apikeys.events WHERE key_id = $rid AND action = 'rolled')
  FROM apikeys.keys WHERE key_id = $rid}), "$hint true 0", 'the key was not half-rolled');
is($node->safe_psql('postgres', qq{SELECT code FROM apikeys.verify('$rkey')}), 'VALID', 'its old secret verifies');
$node->safe_psql('postgres', q{DROP TRIGGER zz_stall ON apikeys.keys});
# The owner's cap (2) counts only what committed: one more key, then no more.
like($node->safe_psql('postgres', q{SELECT key FROM apikeys.create_key('lim', 'second', owner => 'amy')}), qr/^ak_/,
	'the second key of amy');
my ($rc, $o, $e) = $node->psql('postgres', q{SELECT key FROM apikeys.create_key('lim', 'third', owner => 'amy')});
like($e, qr/already has 2 live keys \(limit 2\)/, 'the cap holds after the crashes');
is($node->safe_psql('postgres', q{SELECT count(*) FROM apikeys.keys WHERE owner = 'amy'}), '2', 'amy has 2 keys');
like(slurp_file($node->logfile), qr/terminated by signal 9/, 'the backends were killed');
$node->stop;

done_testing();
