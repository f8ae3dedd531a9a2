# Behind pgbouncer in transaction mode, two clients share one server connection; the second
# never inherits the first one's binding (while a session-level setting does leak).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run qw(start);

my $pgbouncer = '/usr/sbin/pgbouncer';
plan skip_all => 'pgbouncer is not installed (test/lib.sh installs it)' unless -x $pgbouncer;

my $node = PostgreSQL::Test::Cluster->new('pooled');
$node->init;
$node->append_conf('postgresql.conf', "log_statement = none\n");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION apikeys;
SELECT count(*) FROM apikeys.create_tenant('acme');
CREATE ROLE app LOGIN;
SELECT apikeys.grant_app('app');
CREATE TABLE docs (tenant_id text, body text);
INSERT INTO docs VALUES ('acme', 'acme doc'), ('other', 'other doc');
ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY by_tenant ON docs USING (tenant_id = (SELECT apikeys.current_tenant()));
GRANT SELECT ON docs TO app;
});
my $key = $node->safe_psql('postgres',
	q{SELECT key FROM apikeys.create_key('acme', 'k', permissions => '{docs:read}')});

# pgbouncer on a private loopback port, transaction pooling, one server connection.
my $dir = $node->basedir;
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $sock = $node->host;
open my $fh, '>', "$dir/users.txt" or die;
print $fh qq{"app" ""\n};
close $fh;
open $fh, '>', "$dir/pgbouncer.ini" or die;
print $fh qq{[databases]
appdb = host=$sock port=} . $node->port . qq{ dbname=postgres user=app
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = any
auth_file = $dir/users.txt
pool_mode = transaction
default_pool_size = 1
max_client_conn = 20
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
};
close $fh;
my $bouncer = start([ $pgbouncer, "$dir/pgbouncer.ini" ]);
my $ready = 0;
for (1 .. 50) {
	if (system('psql', '-X', '-q', '-h', '127.0.0.1', '-p', $port, '-U', 'app', '-d', 'appdb', '-c', 'SELECT 1') == 0) {
		$ready = 1;
		last;
	}
	sleep 0.2;
}
ok($ready, 'pgbouncer is up');

# Each call is a new client connection; with one pooled server connection they all land on
# the same backend.
sub client {
	my ($sql) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'psql', '-X', '-A', '-t', '-q', '-h', '127.0.0.1', '-p', $port, '-U', 'app', '-d', 'appdb',
		'-v', 'ON_ERROR_STOP=1' ], '<', \$sql, '>', \$out, '2>', \$err);
	chomp $out;
	return $out;
}

my $first = client(qq{
BEGIN;
SELECT code FROM apikeys.authenticate('$key');
SELECT pg_backend_pid();
SELECT apikeys.current_tenant();
SELECT body FROM docs;
COMMIT;
});
my ($code, $pid1, $tenant1, $docs1) = split /\n/, $first;
is($code, 'VALID', 'client 1 authenticates');
is($tenant1, 'acme', 'client 1 is bound inside its transaction');
is($docs1, 'acme doc', 'client 1 sees its tenant\'s rows');

my ($pid2, $tenant2, $key2, $perm2, $count2) = split /\|/, client(q{
SELECT pg_backend_pid(), coalesce(apikeys.current_tenant(), 'none'), coalesce(apikeys.current_key_id()::text, 'none'),
       apikeys.has_permission('docs:read'), (SELECT count(*) FROM docs);
});
is($pid2, $pid1, 'client 2 runs on the same server connection');
is($tenant2, 'none', 'client 2 does not inherit the tenant');
is($key2, 'none', 'client 2 does not inherit the key');
is($perm2, 'f', 'client 2 has no permission');
is($count2, '0', 'client 2 sees no rows');

# A client that authenticates and goes away inside its transaction leaves nothing behind.
client(qq{BEGIN; SELECT code FROM apikeys.authenticate('$key');});
my ($pid3, $tenant3) = split /\|/, client(q{SELECT pg_backend_pid(), coalesce(apikeys.current_tenant(), 'none')});
is($tenant3, 'none', 'an abandoned transaction leaves no binding');

# By contrast, a session-level setting leaks to the next client of the same connection:
# the reason the binding is not a setting.
client(q{SET app.tenant = 'acme';});
my ($pid4, $leaked) = split /\|/, client(q{SELECT pg_backend_pid(), current_setting('app.tenant', true)});
is($pid4, $pid1, 'same server connection again') if $pid3 eq $pid1;
is($leaked, 'acme', 'a session-level SET does leak across clients (what apikeys avoids)');

$bouncer->kill_kill;
done_testing();
