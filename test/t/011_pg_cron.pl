# The README's pg_cron recipes: apikeys.purge() scheduled with cron.schedule deletes a key
# that expired longer ago than its tenant's retention (180 days) and keeps a live one; and
# apikeys.send_expiry_reminders() scheduled the same way writes one expiring event for a key
# about to expire. pg_cron runs the jobs at the next minute boundary, so this waits at most
# 90 s.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('cron');
$node->init;
my $libdir = `pg_config --pkglibdir`;
chomp $libdir;
plan skip_all => 'pg_cron is not installed (test/lib.sh installs postgresql-NN-cron)'
  unless -f "$libdir/pg_cron.so";
# pg_cron in background workers: no libpq connection back to the server is needed.
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_cron,apikeys'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 16
log_min_messages = warning
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION apikeys;
CREATE EXTENSION pg_cron;
SELECT count(*) FROM apikeys.create_tenant('acme', retention => '180 days');
});
my $old = $node->safe_psql('postgres', q{SELECT key_id FROM apikeys.create_key('acme', 'old token', owner => 'alice')});
my $live = $node->safe_psql('postgres', q{SELECT key_id FROM apikeys.create_key('acme', 'live token', owner => 'bob')});
my $soon = $node->safe_psql('postgres',
	q{SELECT key_id FROM apikeys.create_key('acme', 'expires soon', owner => 'carol', expires_in => '2 days')});
# The old token expired 181 days ago.
$node->safe_psql('postgres', qq{UPDATE apikeys.keys SET expires_at = now() - interval '181 days' WHERE key_id = $old});

# The recipe (README, "Limits and retention"), with an every-minute schedule for the test
# instead of the README's nightly '17 3 * * *'.
my $jobid = $node->safe_psql('postgres', q{SELECT cron.schedule('apikeys-purge', '* * * * *', 'SELECT apikeys.purge()')});
like($jobid, qr/^\d+$/, 'job scheduled');
my $remind = $node->safe_psql('postgres',
	q{SELECT cron.schedule('apikeys-reminders', '* * * * *', 'SELECT apikeys.send_expiry_reminders()')});
is($node->safe_psql('postgres', q{SELECT string_agg(jobname || ' | ' || schedule || ' | ' || command, E'\n' ORDER BY jobid) FROM cron.job}),
	"apikeys-purge | * * * * * | SELECT apikeys.purge()\napikeys-reminders | * * * * * | SELECT apikeys.send_expiry_reminders()",
	'the jobs as cron.job shows them');

# Wait (at most 90 s) for a finished run.
my $status = '';
my $deadline = time() + 90;
while (time() < $deadline) {
	$status = $node->safe_psql('postgres', qq{
SELECT coalesce(string_agg(DISTINCT status, ','), '') FROM cron.job_run_details
 WHERE jobid IN ($jobid, $remind) AND status IN ('succeeded', 'failed')
HAVING count(DISTINCT jobid) = 2});
	last if $status ne '';
	sleep 1;
}
is($status, 'succeeded', 'pg_cron ran apikeys.purge() and apikeys.send_expiry_reminders() successfully');
is($node->safe_psql('postgres', qq{SELECT return_message FROM cron.job_run_details WHERE jobid = $jobid ORDER BY runid LIMIT 1}),
	'SELECT 1', 'the run reports its result');
is($node->safe_psql('postgres', qq{SELECT count(*) FROM apikeys.keys WHERE key_id = $old}), '0',
	'the token expired past retention is gone');
is($node->safe_psql('postgres', qq{SELECT count(*) FROM apikeys.keys WHERE key_id = $live}), '1',
	'the live token stays');
is($node->safe_psql('postgres', qq{SELECT action || ' ' || (details ->> 'name') FROM apikeys.events WHERE key_id = $old ORDER BY at DESC LIMIT 1}),
	'purged old token', 'a purged event records it');
is($node->safe_psql('postgres', qq{SELECT string_agg(action || ' ' || (details ->> 'threshold'), ',') FROM apikeys.events
 WHERE key_id = $soon AND action = 'expiring'}), 'expiring 7 days', 'the reminder job wrote one expiring event');
is($node->safe_psql('postgres', qq{SELECT count(*) FROM apikeys.events WHERE key_id IN ($live, $old) AND action = 'expiring'}),
	'0', 'and none for keys without an expiry soon');

$node->safe_psql('postgres', q{SELECT cron.unschedule('apikeys-purge'); SELECT cron.unschedule('apikeys-reminders');});
$node->stop;
done_testing();
