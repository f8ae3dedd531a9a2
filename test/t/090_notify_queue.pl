# With the preload, the events of the usage writer's database are sent by the writer just
# after their transaction commits (the writing transaction sends no NOTIFY, so its commit
# does not queue behind every other notifying commit of the cluster): the committed events
# only, in commit order, none of a rolled-back transaction or savepoint or of one that fails
# at its commit, each event row readable when its notification arrives. PREPARE TRANSACTION still refuses a transaction
# with events. In another database, and while no writer runs, the transaction sends its
# NOTIFY itself.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('notify_queue');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'apikeys'
apikeys.database_name = 'postgres'
max_prepared_transactions = 2
log_min_messages = warning
});
$node->start;
for my $db ('postgres', 'other') {
	$node->safe_psql('postgres', 'CREATE DATABASE other') if $db eq 'other';
	$node->safe_psql($db, q{
CREATE EXTENSION apikeys;
SELECT count(*) FROM apikeys.create_tenant('acme');
});
}

sub writer_pid {
	return $node->safe_psql('postgres',
		q{SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE backend_type = 'apikeys usage writer'});
}
sub wait_for_writer {
	for (1 .. 300) {
		my $pid = writer_pid();
		return $pid if $pid;
		usleep(100_000);
	}
	die 'the usage writer did not start';
}
my $writer = wait_for_writer();

sub listener {
	my ($db) = @_;
	my $p = $node->background_psql($db);
	$p->query_safe('LISTEN apikeys_events');
	return $p;
}
# The notifications a listener receives until it has $n (or $secs seconds have passed):
# [sender's pid, key_id, event_id] each.
sub collect {
	my ($p, $n, $secs) = @_;
	my @got;
	for (1 .. $secs * 10) {
		my $out = $p->query_safe('SELECT 1');    # psql shows what arrived after each command
		while ($out =~ /with payload "(.*?)" received from server process with PID (\d+)\./g) {
			my ($payload, $pid) = ($1, $2);
			my ($key) = $payload =~ /"key_id" : "(\d+)"/;
			my ($event) = $payload =~ /"event_id" : "(\d+)"/;
			push @got, [ $pid, $key, $event ];
		}
		last if @got >= $n;
		usleep(100_000);
	}
	return @got;
}
sub create {
	my ($db, $name) = @_;
	return $node->safe_psql($db, qq{SELECT key_id FROM apikeys.create_key('acme', '$name')});
}

# Committed events only, in order, sent by the usage writer.
my $l = listener('postgres');
my ($k1, $k2, $k3) = split /\n/, $node->safe_psql('postgres', q{
BEGIN;
SELECT key_id FROM apikeys.create_key('acme', 'one');
SAVEPOINT s;
SELECT key_id FROM apikeys.create_key('acme', 'rolled back with its savepoint');
ROLLBACK TO s;
SELECT key_id FROM apikeys.create_key('acme', 'three');
COMMIT;
});
my ($k4) = $node->safe_psql('postgres', q{
BEGIN;
SELECT key_id FROM apikeys.create_key('acme', 'rolled back');
ROLLBACK;
});
my @later = map { create('postgres', "later $_") } 1 .. 5;
my @got = collect($l, 7, 10);
is(scalar(@got), 7, 'seven notifications: two of the first transaction, five later ones');
is(join(',', map { $_->[1] } @got), join(',', $k1, $k3, @later), 'the committed keys, in commit order');
is(scalar(grep { $_->[0] != $writer } @got), 0, 'all sent by the usage writer');
my @none = collect($l, 1, 1);
is(scalar(@none), 0, 'nothing of the rolled-back savepoint or transaction');
is($node->safe_psql('postgres', qq{SELECT count(*) FROM apikeys.keys WHERE key_id IN ($k2, $k4)}), 0,
	'whose rows are gone');
my $events = join(',', map { $_->[2] } @got);
is($node->safe_psql('postgres', qq{SELECT count(*) FROM apikeys.events WHERE event_id IN ($events)}), 7,
	'every notified event row is there');

# A notification arrives only once its event row is committed: a reader finds it.
my $b = $node->background_psql('postgres');
$b->query_safe('BEGIN');
$b->query_safe(q{SELECT key_id FROM apikeys.create_key('acme', 'slow')});
@none = collect($l, 1, 1);
is(scalar(@none), 0, 'nothing while the transaction is open');
$b->query_safe('COMMIT');
$b->quit;
@got = collect($l, 1, 10);
is(scalar(@got), 1, 'the notification after the commit');
is($node->safe_psql('postgres', qq{SELECT action FROM apikeys.events WHERE event_id = $got[0][2]}), 'created',
	'and its event row is readable');

# A transaction that fails at its commit, after its notifications went into the queue (a
# serialization failure is found after the pre-commit step): none of them is sent.
$node->safe_psql('postgres', 'CREATE TABLE skew (k int)');
my $t1 = $node->background_psql('postgres');
my $t2 = $node->background_psql('postgres', on_error_stop => 0);
$t1->query_safe('BEGIN ISOLATION LEVEL SERIALIZABLE');
$t2->query_safe('BEGIN ISOLATION LEVEL SERIALIZABLE');
$t1->query_safe('SELECT count(*) FROM skew WHERE k = 1');
$t2->query_safe('SELECT count(*) FROM skew WHERE k = 2');
$t1->query_safe('INSERT INTO skew VALUES (2)');
$t2->query_safe('INSERT INTO skew VALUES (1)');
my $kf = $t2->query_safe(q{SELECT key_id FROM apikeys.create_key('acme', 'fails at commit')});
$t1->query_safe('COMMIT');
$t2->query('COMMIT');
like($t2->{stderr}, qr/could not serialize access/, 'the second commit fails');
$t1->quit;
$t2->quit;
my $ka = create('postgres', 'after the failed commit');
@got = collect($l, 1, 10);
is(join(',', map { $_->[1] } @got), $ka, 'only the next committed key is notified');
@none = collect($l, 1, 1);
is(scalar(@none), 0, 'nothing of the transaction that failed at its commit');

# PREPARE TRANSACTION refuses a transaction with events, as with any NOTIFY.
my ($rc, $out, $err) = $node->psql('postgres', q{
BEGIN;
SELECT key_id FROM apikeys.create_key('acme', 'prepared');
PREPARE TRANSACTION 'p1';
});
like($err, qr/cannot PREPARE a transaction that has executed LISTEN, UNLISTEN, or NOTIFY/,
	'PREPARE TRANSACTION refuses it');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_prepared_xacts}), 0, 'nothing was prepared');

# Another database: the transaction sends its NOTIFY itself.
my $lo = listener('other');
my ($pid, $ko) = split /\n/, $node->safe_psql('other', q{
SELECT pg_backend_pid();
SELECT key_id FROM apikeys.create_key('acme', 'elsewhere');
});
@got = collect($lo, 1, 10);
is(scalar(@got), 1, 'a notification in the other database');
is($got[0][1], $ko, 'of its key');
is($got[0][0], $pid, 'sent by the writing backend');
$lo->quit;

# While no writer runs, the transaction sends its NOTIFY itself; the restarted writer sends again.
$node->safe_psql('postgres', "SELECT pg_terminate_backend($writer)");
for (1 .. 100) { last if writer_pid() == 0; usleep(100_000); }
($pid, my $kw) = split /\n/, $node->safe_psql('postgres', q{
SELECT pg_backend_pid();
SELECT key_id FROM apikeys.create_key('acme', 'no writer');
});
@got = collect($l, 1, 10);
is(scalar(@got), 1, 'a notification without the writer');
is($got[0][0], $pid, 'sent by the writing backend');
my $restarted = wait_for_writer();
isnt($restarted, $writer, 'the writer is started again');
my $kr = create('postgres', 'writer back');
@got = collect($l, 1, 10);
is(scalar(@got), 1, 'a notification with the writer back');
is($got[0][0], $restarted, 'sent by the new writer');
is($got[0][1], $kr, 'of the new key');
$l->quit;

done_testing();
