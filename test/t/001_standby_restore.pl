# Hot standby verification, restart, dump and restore, and what the server log holds.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'apikeys'
log_statement = none
log_min_error_statement = error
log_min_messages = warning
});
$primary->start;

$primary->safe_psql('postgres', q{
CREATE EXTENSION apikeys;
SELECT count(*) FROM apikeys.create_tenant('acme', max_keys_per_owner => 2, max_key_sets => 1);
SELECT count(*) FROM apikeys.create_tenant('off');
});
my $set = $primary->safe_psql('postgres',
	q{SELECT apikeys.create_key_set('acme', 'reports', '{reports:*}')});
my ($key_id, $key) = split /\|/, $primary->safe_psql('postgres',
	qq{SELECT key_id, key FROM apikeys.create_key('acme', 'k', owner => 'alice', key_set_id => $set)});
my ($gone_id, $gone) = split /\|/, $primary->safe_psql('postgres',
	q{SELECT key_id, key FROM apikeys.create_key('acme', 'gone')});
my $short = $primary->safe_psql('postgres',
	q{SELECT key FROM apikeys.create_key('acme', 'short', expires_in => '1 second')});
my $off = $primary->safe_psql('postgres', q{SELECT key FROM apikeys.create_key('off', 'k')});
$primary->safe_psql('postgres', qq{
SELECT apikeys.revoke_key($gone_id, 'test');
UPDATE apikeys.tenants SET enabled = false WHERE tenant_id = 'off';
});
like($key, qr/^ak_[0-9A-Za-z]{44}$/, 'key has the documented format');

# A hot standby verifies keys and binds them for RLS, and refuses writes.
$primary->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'bk', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
sleep 1.2;    # let the short key expire

is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'standby is in recovery');
is($standby->safe_psql('postgres', qq{SELECT code FROM apikeys.verify('$key')}), 'VALID', 'VALID on the standby');
is($standby->safe_psql('postgres', qq{SELECT code FROM apikeys.verify('$key', '{reports:read}')}),
	'VALID', 'permission check on the standby');
is($standby->safe_psql('postgres', qq{SELECT code FROM apikeys.verify('$gone')}), 'REVOKED', 'REVOKED on the standby');
is($standby->safe_psql('postgres', qq{SELECT code FROM apikeys.verify('$short')}), 'EXPIRED', 'EXPIRED on the standby');
is($standby->safe_psql('postgres', qq{SELECT code FROM apikeys.verify('$off')}), 'TENANT_DISABLED',
	'TENANT_DISABLED on the standby');
is($standby->safe_psql('postgres', q{SELECT code FROM apikeys.verify('ak_x')}), 'MALFORMED', 'MALFORMED on the standby');
is($standby->safe_psql('postgres', qq{
BEGIN;
SELECT code FROM apikeys.authenticate('$key') \\g /dev/null
SELECT apikeys.current_tenant() || ' ' || apikeys.current_owner() || ' ' || apikeys.has_permission('reports:read');
COMMIT;}), 'acme alice true', 'authenticate binds on the standby');
my ($rc, $out, $err) = $standby->psql('postgres', q{SELECT apikeys.create_key('acme', 'x')});
isnt($rc, 0, 'create_key is refused on the standby');
like($err, qr/read-only transaction/, 'because the standby is read-only');

# Changes on the primary reach the standby's answers.
$primary->safe_psql('postgres', "SELECT apikeys.deactivate_key($key_id)");
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($standby->safe_psql('postgres', qq{SELECT code FROM apikeys.verify('$key')}), 'INACTIVE',
	'a deactivation replicates');
$primary->safe_psql('postgres', "SELECT apikeys.activate_key($key_id)");

# A long-lived standby session caches the tenant switch; a disable on the primary reaches
# that cache through the invalidation replayed from the commit record.
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
my $ssession = $standby->background_psql('postgres');
is($ssession->query_safe(qq{SELECT code FROM apikeys.verify('$key')}), 'VALID', 'standby session: VALID, switch cached');
$primary->safe_psql('postgres', q{UPDATE apikeys.tenants SET enabled = false WHERE tenant_id = 'acme'});
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($ssession->query_safe(qq{SELECT code FROM apikeys.verify('$key')}), 'TENANT_DISABLED',
	'standby session: a disable replayed from WAL reaches the cache');
$primary->safe_psql('postgres', q{UPDATE apikeys.tenants SET enabled = true WHERE tenant_id = 'acme'});
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($ssession->query_safe(qq{SELECT code FROM apikeys.verify('$key')}), 'VALID', 'standby session: and so does the enable');
$ssession->quit;

# A restart keeps everything.
$primary->restart;
is($primary->safe_psql('postgres', qq{SELECT code FROM apikeys.verify('$key')}), 'VALID', 'VALID after restart');

# Dump and restore: every key keeps working, with its status, and no event is duplicated.
# The restore runs with session_replication_role = replica, as the README says, so the
# "new key" rules (expiry in the future, limits, enabled tenant) do not judge old rows.
$primary->safe_psql('postgres', q{UPDATE apikeys.tenants SET max_expiry = '1 hour', max_keys_per_owner = 1 WHERE tenant_id = 'acme'});
my $dump = $primary->basedir . '/apikeys.dump';
$primary->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $primary->connstr('postgres') ], 'pg_dump');
$primary->safe_psql('postgres', 'CREATE DATABASE restored');
{
	local $ENV{PGOPTIONS} = '-c session_replication_role=replica';
	$primary->command_ok([ 'pg_restore', '-d', $primary->connstr('restored'), $dump ], 'pg_restore');
}
is($primary->safe_psql('restored', qq{SELECT code FROM apikeys.verify('$key')}), 'VALID', 'VALID after restore');
is($primary->safe_psql('restored', qq{SELECT code FROM apikeys.verify('$gone')}), 'REVOKED', 'REVOKED after restore');
is($primary->safe_psql('restored', qq{SELECT code FROM apikeys.verify('$short')}), 'EXPIRED', 'EXPIRED after restore');
is($primary->safe_psql('restored', qq{SELECT code FROM apikeys.verify('$off')}), 'TENANT_DISABLED',
	'TENANT_DISABLED after restore');
# Every event once, and one more: the restore's CREATE EXTENSION made its first signing key
# (an event of the installation) before the dumped keys came back and took over.
is($primary->safe_psql('restored', 'SELECT count(*) FROM apikeys.events'),
	$primary->safe_psql('postgres', 'SELECT count(*) + 1 FROM apikeys.events'), 'events restored once');
is($primary->safe_psql('restored', q{SELECT action FROM apikeys.events e
	WHERE NOT EXISTS (SELECT FROM apikeys.signing_keys k WHERE k.kid = e.details ->> 'kid' AND k.is_current)
	  AND e.tenant_id IS NULL}), 'signing_key_added', "... the restore's own signing key, not current");
is($primary->safe_psql('restored', q{SELECT max_expiry FROM apikeys.tenants WHERE tenant_id = 'acme'}),
	'01:00:00', 'tenant settings restored');
# The restored database enforces the rules again for new writes.
($rc, $out, $err) = $primary->psql('restored', q{SELECT apikeys.create_key('acme', 'third', owner => 'alice')});
like($err, qr/owner "alice" of tenant "acme" already has 1 live keys \(limit 1\)/, 'limits hold after restore');

# Nothing secret in the server logs: verify never raises, so no statement with a key is
# logged, and failing management calls do not carry keys.
$primary->psql('postgres', "SELECT apikeys.revoke_key($gone_id)");
$primary->psql('postgres', qq{SELECT apikeys.verify('$key', '{"bad perm"}')});
$primary->psql('postgres', qq{SELECT apikeys.verify(repeat('$key', 1000))});
my $log = slurp_file($primary->logfile) . slurp_file($standby->logfile);
my $secret = substr($key, 19, 22);
unlike($log, qr/\Q$secret\E/, 'no key secret in the server logs');
like($log, qr/is already revoked/, 'the log does hold the failing management call');

done_testing();
