# Access tokens outside pg_regress: an independent checker (test/token_interop.py, Python's
# standard library) verifies HS256 tokens and signs one the extension accepts; openssl checks
# Ed25519 signatures against apikeys.jwks(); the signing-key cache follows changes made by
# other sessions and replayed on a hot standby; dump and restore keep tokens valid; the
# server log never holds a client secret.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run qw(run);
use File::Basename qw(dirname);
use Cwd qw(abs_path);

my $root = abs_path(dirname(__FILE__) . '/../..');
my $interop = "$root/test/token_interop.py";

my $primary = PostgreSQL::Test::Cluster->new('tokens');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
log_statement = none
log_min_error_statement = error
log_min_messages = warning
});
$primary->start;
$primary->safe_psql('postgres', q{
CREATE EXTENSION apikeys;
SELECT count(*) FROM apikeys.create_tenant('acme');
});
my $set = $primary->safe_psql('postgres', q{SELECT apikeys.create_key_set('acme', 'api', '{reports:*,admin:read}')});
my ($key_id, $client_id, $key) = split /\|/, $primary->safe_psql('postgres',
	qq{SELECT key_id, client_id, key FROM apikeys.create_key('acme', 'svc', owner => 'alice', key_set_id => $set)});

# Runs the interop checker; returns (exit status, stdout, stderr).
sub interop {
	my ($stdin, @args) = @_;
	my ($out, $err) = ('', '');
	run([ 'python3', $interop, @args ], '<', \$stdin, '>', \$out, '2>', \$err);
	return ($? >> 8, $out, $err);
}

sub sql { my ($node, $db, $q) = @_; return $node->safe_psql($db, $q); }

# ---- HS256, checked independently --------------------------------------------------------
my $token = sql($primary, 'postgres', qq{SELECT apikeys.issue_token('$client_id', '$key')});
my ($kid, $secret_hex) = split /\|/,
	sql($primary, 'postgres',
		q{SELECT kid, encode(s.secret, 'hex') FROM apikeys.signing_keys JOIN apikeys.signing_secrets s USING (kid) WHERE is_current});
my ($rc, $out, $err) = interop($token, 'check-hs256', '--secret-hex', $secret_hex,
	'--expect', "sub=$key_id", '--expect', 'tenant=acme', '--expect', 'owner=alice',
	'--expect', "key_set_id=$set", '--expect', "iss=apikeys", '--expect-perms', '["reports:*", "admin:read"]');
is($rc, 0, 'Python verifies the HS256 signature and every claim') or diag($err);
like($out, qr/"exp": (\d+).*"iat": (\d+)/, 'the checker prints the claims');
my ($exp, $iat) = $out =~ /"exp": (\d+).*"iat": (\d+)/;
is($exp - $iat, 8 * 3600, 'an 8-hour token by default');

my $tampered = $token;
$tampered =~ s/\.([A-Za-z0-9_-])/'.' . ($1 eq 'A' ? 'B' : 'A')/e;
($rc, $out, $err) = interop($tampered, 'check-hs256', '--secret-hex', $secret_hex);
isnt($rc, 0, 'the checker refuses a tampered token');
($rc, $out, $err) = interop($token, 'check-hs256', '--secret-hex', 'ab' x 32);
isnt($rc, 0, 'the checker refuses the token under another secret');
($rc, $out, $err) = interop($token, 'check-hs256', '--secret-hex', $secret_hex, '--expect', 'tenant=other');
isnt($rc, 0, 'the checker compares claims');

# The other direction: a token signed by Python verifies in the database.
my $now = time;
my $claims = qq({"iss":"apikeys","sub":"$key_id","tenant":"acme","perms":["reports:read"],"iat":$now,"nbf":$now,"exp":@{[$now + 300]},"jti":"AAAAAAAAAAAAAAAAAAAAAA"});
($rc, my $py_token, $err) = interop('', 'sign-hs256', '--secret-hex', $secret_hex, '--kid', $kid, '--claims', $claims);
chomp $py_token;
is($rc, 0, 'Python signs a token');
is(sql($primary, 'postgres', qq{SELECT code || ' ' || tenant_id || ' ' || permissions::text FROM apikeys.verify_token('$py_token')}),
	'VALID acme {reports:read}', 'the extension verifies a token signed by Python');
($rc, my $py_bad, $err) = interop('', 'sign-hs256', '--secret-hex', 'cd' x 32, '--kid', $kid, '--claims', $claims);
chomp $py_bad;
is(sql($primary, 'postgres', qq{SELECT code FROM apikeys.verify_token('$py_bad')}), 'INVALID_SIGNATURE',
	'and refuses one signed with another secret');

# ---- EdDSA, checked by openssl against the JWKS ---------------------------------------------
my $ed_kid = sql($primary, 'postgres', q{SELECT apikeys.add_signing_key('EdDSA')});
my $ed_token = sql($primary, 'postgres', qq{SELECT apikeys.issue_token('$client_id', '$key')});
my $jwks = sql($primary, 'postgres', q{SELECT apikeys.jwks()});
like($jwks, qr/"kid": "$ed_kid"/, 'the JWKS lists the EdDSA key');
my $dir = $primary->basedir . '/ed';
mkdir $dir;
($rc, $out, $err) = interop($ed_token, 'split-eddsa', '--jwks', $jwks, '--outdir', $dir, '--expect', "sub=$key_id");
is($rc, 0, 'the EdDSA token has the documented header and claims') or diag($err);
my ($ossl_out, $ossl_err) = ('', '');
my $ok = run([ 'openssl', 'pkeyutl', '-verify', '-pubin', '-inkey', "$dir/pub.pem", '-rawin', '-in', "$dir/msg",
		'-sigfile', "$dir/sig" ], '>', \$ossl_out, '2>', \$ossl_err);
ok($ok, 'openssl verifies the Ed25519 signature with the JWKS public key') or diag("$ossl_out $ossl_err");
like($ossl_out, qr/Signature Verified Successfully/, 'openssl says so');
open(my $fh, '>>', "$dir/msg") or die;
print $fh 'x';
close $fh;
$ok = run([ 'openssl', 'pkeyutl', '-verify', '-pubin', '-inkey', "$dir/pub.pem", '-rawin', '-in', "$dir/msg",
		'-sigfile', "$dir/sig" ], '>', \$ossl_out, '2>', \$ossl_err);
ok(!$ok, 'openssl refuses a changed message');

# ---- the cache follows other sessions ----------------------------------------------------------
# A long-lived session verifies (and caches the keys); another session rotates; the first
# sees the change in its next transaction.
my $session = $primary->background_psql('postgres');
is($session->query_safe(qq{SELECT code FROM apikeys.verify_token('$token')}), 'VALID', 'session: VALID, keys cached');
sql($primary, 'postgres', qq{SELECT apikeys.retire_signing_key('$kid')});
is($session->query_safe(qq{SELECT code FROM apikeys.verify_token('$token')}), 'UNKNOWN_KEY',
	'session: a key retired by another session is forgotten');
my $k3 = sql($primary, 'postgres', q{SELECT apikeys.add_signing_key()});
my $token3 = sql($primary, 'postgres', qq{SELECT apikeys.issue_token('$client_id', '$key')});
is($session->query_safe(qq{SELECT code FROM apikeys.verify_token('$token3')}), 'VALID',
	'session: a key added by another session is learnt');
is($session->query_safe(qq{SELECT code FROM apikeys.verify_token('$ed_token')}), 'VALID', 'session: older keys still verify');

# ---- hot standby: verification and issuing without writes; invalidation through WAL -----------
$primary->backup('bk');
my $standby = PostgreSQL::Test::Cluster->new('tokens_standby');
$standby->init_from_backup($primary, 'bk', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is(sql($standby, 'postgres', qq{SELECT code FROM apikeys.verify_token('$token3')}), 'VALID', 'standby: VALID');
my $standby_token = sql($standby, 'postgres', qq{SELECT apikeys.issue_token('$client_id', '$key')});
is(sql($primary, 'postgres', qq{SELECT code FROM apikeys.verify_token('$standby_token')}), 'VALID',
	'a token issued on the standby verifies on the primary');
my $ssession = $standby->background_psql('postgres');
is($ssession->query_safe(qq{SELECT code FROM apikeys.verify_token('$ed_token')}), 'VALID', 'standby session: VALID');
sql($primary, 'postgres', qq{SELECT apikeys.set_current_signing_key('$k3'); SELECT apikeys.retire_signing_key('$ed_kid')});
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($ssession->query_safe(qq{SELECT code FROM apikeys.verify_token('$ed_token')}), 'UNKNOWN_KEY',
	'standby session: a retirement replayed from WAL reaches the cache');
$ssession->quit;
$session->quit;
$standby->stop;

# ---- dump and restore ------------------------------------------------------------------------
my $dump = $primary->basedir . '/tokens.dump';
$primary->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $primary->connstr('postgres') ], 'pg_dump');
sql($primary, 'postgres', 'CREATE DATABASE restored');
{
	local $ENV{PGOPTIONS} = '-c session_replication_role=replica';
	$primary->command_ok([ 'pg_restore', '-d', $primary->connstr('restored'), $dump ], 'pg_restore');
}
is(sql($primary, 'restored', qq{SELECT code FROM apikeys.verify_token('$token3')}), 'VALID',
	'a token issued before the dump verifies after the restore');
is(sql($primary, 'restored', q{SELECT kid FROM apikeys.signing_keys WHERE is_current}), $k3,
	'the restored current key is current again (the one CREATE EXTENSION made is not)');
is(sql($primary, 'restored', q{SELECT count(*) FROM apikeys.signing_keys}),
	sql($primary, 'postgres', q{SELECT count(*) FROM apikeys.signing_keys}) + 1,
	'every signing key restored, next to the unused one CREATE EXTENSION made');
my $restored_token = sql($primary, 'restored', qq{SELECT apikeys.issue_token('$client_id', '$key')});
is(sql($primary, 'postgres', qq{SELECT code FROM apikeys.verify_token('$restored_token')}), 'VALID',
	'tokens issued after the restore verify on the original');

# ---- no secret in the server log ----------------------------------------------------------
my ($gone_id, $gone_client, $gone_key) = split /\|/, sql($primary, 'postgres',
	q{SELECT key_id, client_id, key FROM apikeys.create_key('acme', 'gone')});
sql($primary, 'postgres', qq{SELECT apikeys.deactivate_key($gone_id)});
my ($prc, $pout, $perr) = $primary->psql('postgres', qq{SELECT apikeys.issue_token('$gone_client', '$gone_key')});
like($perr, qr/client credentials refused: INACTIVE/, 'an inactive key is refused (28000)');
($prc, $pout, $perr) = $primary->psql('postgres', qq{SELECT apikeys.issue_token('$gone_key', '$gone_client')});
like($perr, qr/does not belong to the client id/, 'swapped arguments are refused');
unlike($perr, qr/\Q$gone_key\E/, 'and the error does not echo the secret');
($prc, $pout, $perr) = $primary->psql('postgres', qq{
DO \$\$ BEGIN PERFORM apikeys.issue_token('$gone_client', '$gone_key', '-1 hour'); END \$\$});
like($perr, qr/ttl must be a positive interval/, 'a bad ttl from PL/pgSQL');
my $log = slurp_file($primary->logfile);
like($log, qr/client credentials refused: INACTIVE/, 'the refusal is logged');
my $secret = substr($gone_key, 19, 22);
unlike($log, qr/\Q$secret\E/, 'the log holds neither the statement nor the context with the secret');

done_testing();
