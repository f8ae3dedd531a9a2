# A listener receives the NOTIFY of committed changes and nothing of rolled-back ones; the
# example consumer examples/notify_owner.c reads the event row each notification names and
# prints the mail it would send, and ignores a forged notification.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run qw(start finish timeout);
use File::Basename qw(dirname);
use Cwd qw(abs_path);

my $root = abs_path(dirname(__FILE__) . '/../..');
my $node = PostgreSQL::Test::Cluster->new('notify');
$node->init;
$node->append_conf('postgresql.conf', "log_statement = none\n");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION apikeys;
SELECT count(*) FROM apikeys.create_tenant('acme');
});

# Build the example consumer.
my $bin = $node->basedir . '/notify_owner';
my $incdir = `pg_config --includedir`;
chomp $incdir;
system('cc', '-o', $bin, "$root/examples/notify_owner.c", "-I$incdir", '-lpq') == 0
  or BAIL_OUT('could not build examples/notify_owner.c');

# Start it: it stops after 7 notifications or 20 s of silence.
my ($out, $err) = ('', '');
my $h = start([ $bin, $node->connstr('postgres'), '7', '20' ], '>', \$out, '2>', \$err, timeout(60));
pump $h until $out =~ /listening/;

# A rolled-back creation notifies nobody; a committed creation and revocation do.
$node->safe_psql('postgres', q{
BEGIN;
SELECT count(*) FROM apikeys.create_key('acme', 'never', owner => 'mallory');
ROLLBACK;
});
my $key_id = $node->safe_psql('postgres', q{
SET apikeys.actor = 'admin-7';
SELECT key_id FROM apikeys.create_key('acme', 'laptop', owner => 'alice')});
$node->safe_psql('postgres', qq{
BEGIN;
SET LOCAL apikeys.actor = 'sec-team';
SELECT apikeys.revoke_key($key_id, 'stolen');
COMMIT;
SELECT apikeys.update_key($key_id, description => 'noted');
});
# An expiry reminder: the consumer tells the owner to regenerate the key.
my $exp_id = $node->safe_psql('postgres', q{
SET apikeys.actor = 'admin-7';
SELECT key_id FROM apikeys.create_key('acme', 'expiring', owner => 'carol', expires_in => '2 days')});
my $expires = $node->safe_psql('postgres',
	qq{SELECT to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI UTC') FROM apikeys.keys WHERE key_id = $exp_id});
$node->safe_psql('postgres', 'SELECT apikeys.send_expiry_reminders()');
# Anyone who can connect may NOTIFY: forged payloads are not believed.
$node->safe_psql('postgres', q{
SELECT pg_notify('apikeys_events', '{"event_id": "12345", "action": "revoked", "owner": "alice@example.com"}');
SELECT pg_notify('apikeys_events', 'not json');
});
finish $h;

is($out, "listening\n"
	. "send mail to owner alice: key $key_id created by admin-7\n"
	. "send mail to owner alice: key $key_id revoked by sec-team\n"
	. "event updated (no mail)\n"
	. "send mail to owner carol: key $exp_id created by admin-7\n"
	. "send mail to owner carol: key $exp_id expires on $expires, regenerate it before then\n"
	. "ignored a notification of event 12345, which does not exist\n"
	. "ignored a notification that names no event\n",
	'the consumer saw the committed creation and revocation, nothing of the rollback, and ignored forgeries');
unlike($out, qr/mallory/, 'nothing from the rolled-back transaction');
is($err, '', 'no errors');

# The raw payload seen by a second session, in order, is JSON without secrets.
my $psql = $node->background_psql('postgres');
$psql->query_safe('LISTEN apikeys_events');
my ($k2, $plain) = split /\|/, $node->safe_psql('postgres',
	q{SELECT key_id, key FROM apikeys.create_key('acme', 'k2', owner => 'bob')});
my $notes = $psql->query_safe('SELECT 1');
$psql->quit;
like($notes, qr/"action" : "created"/, 'a second session receives the payload');
like($notes, qr/"key_id" : "$k2"/, 'ids are JSON strings');
unlike($notes, qr/\Q$plain\E|key_hash|\\\\x|bob|actor|owner/, 'the payload carries no key, no hash and no person');

# JavaScript and Python read the 63-bit ids exactly (as JSON numbers, JavaScript rounds them).
my ($payload) = $notes =~ /with payload "(\{.*?\})" received/;
ok(defined $payload, 'the payload is shown');
SKIP: {
	skip 'node is not installed', 1 unless system('node --version >/dev/null 2>&1') == 0;
	my $js = `node -e 'process.stdout.write(String(JSON.parse(process.argv[1]).key_id))' '$payload'`;
	is($js, $k2, 'JavaScript reads the key id exactly');
}
my $py = `python3 -c 'import json, sys; print(json.loads(sys.argv[1])["key_id"], end="")' '$payload'`;
is($py, $k2, 'Python reads the key id exactly');

done_testing();
