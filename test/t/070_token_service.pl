# examples/token_service end to end with curl against a real server: client credentials for
# an access token (good, wrong secret, revoked key), the tenant's rows under RLS to the bearer
# (another tenant's invisible, no token, an expired token, a token without reports:read), and
# no key or token in the service's log.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run qw(start finish run timeout);

my $python = -x '/usr/bin/python3' ? '/usr/bin/python3' : 'python3';
plan skip_all => 'python3-psycopg is not installed (test/lib.sh installs it)'
  unless system($python, '-c', 'import psycopg') == 0;

my $node = PostgreSQL::Test::Cluster->new('token_service');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'apikeys'\nlog_min_messages = warning\n");
$node->start;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
my $root = abs_path(dirname(__FILE__) . '/../..');
$node->safe_psql('postgres', q{
CREATE EXTENSION apikeys;
SELECT count(*) FROM apikeys.create_tenant('acme');
SELECT count(*) FROM apikeys.create_tenant('globex');
});
$node->safe_psql('postgres', slurp_file("$root/examples/token_service/schema.sql"));
$node->safe_psql('postgres', q{
INSERT INTO reports VALUES (1, 'acme', 'acme Q1'), (2, 'acme', 'acme Q2'), (3, 'globex', 'globex Q1');
});
sub key {
	my ($tenant, $perms) = @_;
	my ($cid, $key, $id) = split /\|/, $node->safe_psql('postgres',
		qq{SELECT client_id, key, key_id FROM apikeys.create_key('$tenant', 'svc', permissions => '$perms')});
	return { cid => $cid, key => $key, id => $id };
}
my $acme = key('acme', '{reports:read}');
my $globex = key('globex', '{reports:*}');
my $nope = key('acme', '{billing:read}');
my $gone = key('acme', '{reports:read}');
$node->safe_psql('postgres', "SELECT apikeys.revoke_key($gone->{id})");

# The service, as the application role, on a free port.
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $dsn = sprintf('host=%s port=%d dbname=postgres user=app', $node->host, $node->port);
my ($out, $log) = ('', '');
my $svc = start([ $python, "$root/examples/token_service/token_service.py", '--dsn', $dsn, '--port', $port ],
	'>', \$out, '2>', \$log, timeout(120));
pump $svc until $out =~ /listening/;
my $url = "http://127.0.0.1:$port";

# curl: returns (HTTP status, body).
sub curl {
	my @args = @_;
	my ($body, $err) = ('', '');
	run([ 'curl', '-s', '-o', '-', '-w', '\n%{http_code}', @args ], '>', \$body, '2>', \$err);
	my ($content, $status) = $body =~ /^(.*)\n(\d{3})$/s;
	return ($status // '', $content // '');
}

my ($st, $body) = curl('-X', 'POST', "$url/token", '-d', 'grant_type=client_credentials',
	'--data-urlencode', "client_id=$acme->{cid}", '--data-urlencode', "client_secret=$acme->{key}");
is($st, '200', 'good credentials: 200');
my ($token) = $body =~ /"access_token": "([^"]+)"/;
like($body, qr/"token_type": "Bearer", "expires_in": 28800/, 'a Bearer token valid 8 hours');
ok($token && $token =~ /^eyJ/, 'a JWT');

($st, $body) = curl('-X', 'POST', "$url/token", '-u', "$globex->{cid}:$globex->{key}", '-d', 'grant_type=client_credentials');
is($st, '200', 'HTTP Basic credentials: 200');
my ($gtoken) = $body =~ /"access_token": "([^"]+)"/;

($st, $body) = curl('-X', 'POST', "$url/token", '-H', 'Content-Type: application/json',
	'-d', qq({"grant_type": "client_credentials", "client_id": "$acme->{cid}", "client_secret": "$acme->{key}x"}));
is($st, '401', 'a wrong secret: 401');
like($body, qr/"error": "invalid_client"/, 'with an OAuth error body');
($st) = curl('-X', 'POST', "$url/token", '-d', 'grant_type=client_credentials',
	'--data-urlencode', "client_id=$gone->{cid}", '--data-urlencode', "client_secret=$gone->{key}");
is($st, '401', 'a revoked key: 401');
($st, $body) = curl('-X', 'POST', "$url/token", '-d', 'grant_type=password');
is($st, '400', 'another grant type: 400');
like($body, qr/unsupported_grant_type/, 'unsupported_grant_type');

($st, $body) = curl("$url/reports", '-H', "Authorization: Bearer $token");
is($st, '200', 'the bearer reads the reports: 200');
is($body, '[{"id": 1, "title": "acme Q1"}, {"id": 2, "title": "acme Q2"}]', "only acme's rows");
($st, $body) = curl("$url/reports", '-H', "Authorization: Bearer $gtoken");
is($body, '[{"id": 3, "title": "globex Q1"}]', "globex sees only its own; acme's rows are invisible");
($st) = curl("$url/reports");
is($st, '401', 'no token: 401');
($st, $body) = curl("$url/reports", '-H', 'Authorization: Bearer not.a.token');
is($st, '401', 'a bad token: 401');
my $short = $node->safe_psql('postgres', qq{SELECT apikeys.issue_token('$acme->{cid}', '$acme->{key}', '1 second')});
sleep 2;
($st, $body) = curl("$url/reports", '-H', "Authorization: Bearer $short");
is($st, '401', 'an expired token: 401');
like($body, qr/EXPIRED/, 'invalid_token: EXPIRED');
my $ntoken = $node->safe_psql('postgres', qq{SELECT apikeys.issue_token('$nope->{cid}', '$nope->{key}')});
($st, $body) = curl("$url/reports", '-H', "Authorization: Bearer $ntoken");
is($st, '403', 'a token without reports:read: 403');
like($body, qr/insufficient_scope/, 'insufficient_scope');

$svc->pump_nb for 1 .. 5;
$svc->signal('INT');
eval { finish $svc };
like($log, qr{POST /token}, 'the service logged its requests');
for my $s ($acme->{key}, $globex->{key}, $gone->{key}, $token, $gtoken, $short) {
	unlike($log, qr/\Q$s\E/, 'no key or token in its log');
}
$node->stop;
done_testing();
