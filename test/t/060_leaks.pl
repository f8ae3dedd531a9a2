# No key, client secret, access token, signing secret or pepper in any server log line: a
# matrix of logging settings x actions, each cell with secrets of its own, on a server with
# apikeys preloaded (no cell may leak; the markers must be there) and, as the control that
# shows the test can see a leak, on a server that loads apikeys on demand (cells leak). Then
# the data directory and WAL: no key in plaintext.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $pkglibdir = `pg_config --pkglibdir`;
chomp $pkglibdir;
my $have_pgaudit = -f "$pkglibdir/pgaudit.so";

# name => postgresql.conf lines
my @settings = (
	[ 'default' => '' ],
	[ 'log_statement all' => "log_statement = 'all'" ],
	[ 'log_min_duration_statement 0' => 'log_min_duration_statement = 0' ],
	[ 'parameters in full' => "log_statement = 'all'\nlog_parameter_max_length = -1\nlog_parameter_max_length_on_error = -1" ],
	[ 'auto_explain verbose nested' =>
		"auto_explain.log_min_duration = 0\nauto_explain.log_analyze = on\nauto_explain.log_verbose = on\n"
		  . "auto_explain.log_nested_statements = on" ],
	($have_pgaudit
		? ([ 'pgaudit all with parameters' => "pgaudit.log = 'all'\npgaudit.log_parameter = on\npgaudit.log_relation = on" ])
		: ()));
my $preloads_extra = join(',', 'auto_explain', ($have_pgaudit ? 'pgaudit' : ()));

sub make_node {
	my ($name, $preload_apikeys) = @_;
	my $n = PostgreSQL::Test::Cluster->new($name);
	$n->init;
	my $libs = $preload_apikeys ? "apikeys,$preloads_extra" : $preloads_extra;
	$n->append_conf('postgresql.conf', qq{
shared_preload_libraries = '$libs'
log_min_messages = info
log_min_error_statement = error
log_statement = none
apikeys.database_name = 'postgres'
});
	$n->start;
	$n->safe_psql('postgres', q{
CREATE EXTENSION apikeys;
SELECT count(*) FROM apikeys.create_tenant('acme');
SELECT count(*) FROM apikeys.create_tenant('live', key_prefix => 'live');
});
	return $n;
}

# Secrets of one cell: (key, client id, key id) of 'acme' and 'live', a token, and the
# tokens of a rolled key; the log must show none of their secret parts.
sub new_key {
	my ($n, $tenant) = @_;
	my ($id, $client, $key) = split /\|/,
	  $n->safe_psql('postgres', qq{SELECT key_id, client_id, key FROM apikeys.create_key('$tenant', 'k')});
	return { id => $id, client => $client, key => $key };
}

# The actions of a cell; each returns the secrets it used.
my @actions = (
	[ 'literal verify, then an error' => sub {
		my ($n, $k) = @_;
		$n->psql('postgres', qq{SELECT apikeys.verify('$k->{key}'), 1/0});
	} ],
	[ 'verify, then a failing management call' => sub {
		my ($n, $k) = @_;
		$n->psql('postgres', qq{SELECT (apikeys.verify('$k->{key}')).code, apikeys.create_key('nonexistent', 'x')});
	} ],
	[ 'verify cancelled by statement_timeout' => sub {
		my ($n, $k) = @_;
		$n->psql('postgres', qq{SET statement_timeout = 50; SELECT apikeys.verify('$k->{key}'), pg_sleep(2)});
	} ],
	[ 'verify in an aborted transaction' => sub {
		my ($n, $k) = @_;
		$n->psql('postgres', qq{BEGIN; SELECT 1/0; SELECT apikeys.verify('$k->{key}'); ROLLBACK;});
	} ],
	[ 'issue_token with a bad ttl and a wrong secret' => sub {
		my ($n, $k) = @_;
		$n->psql('postgres', qq{SELECT apikeys.issue_token('$k->{client}', '$k->{key}', '-1 hour')});
		$n->psql('postgres', qq{SELECT apikeys.issue_token('$k->{client}', '$k->{key}x')});
	} ],
	[ 'bind parameters (pgbench -M extended)' => sub {
		my ($n, $k) = @_;
		my $script = $n->basedir . '/bind.sql';
		PostgreSQL::Test::Utils::append_to_file($script, "SELECT (apikeys.verify(:key)).code;\nSELECT 1/(:zero)::int;\n");
		IPC::Run::run([ 'pgbench', '-n', '-M', 'extended', '-t', '1', '-D', "key=$k->{key}", '-D', 'zero=0',
			'-f', $script, '-h', $n->host, '-p', $n->port, 'postgres' ], '>', '/dev/null', '2>', '/dev/null');
		unlink $script;
	} ],
	[ 'tokens: verify_token and an error after it' => sub {
		my ($n, $k) = @_;
		my $tok = $n->safe_psql('postgres', qq{SELECT apikeys.issue_token('$k->{client}', '$k->{key}')});
		$k->{token} = $tok;
		$n->psql('postgres', qq{SELECT apikeys.verify_token('$tok'), 1/0});
	} ],
	[ 'roll_key and create_key under nested logging' => sub {
		my ($n, $k) = @_;
		my $rolled = $n->safe_psql('postgres', qq{SELECT key FROM apikeys.roll_key($k->{id}, '0')});
		$k->{rolled} = $rolled;
		my $made = $n->safe_psql('postgres', q{SELECT key FROM apikeys.create_key('acme', 'made', permissions => '{a}')});
		$k->{made} = $made;
		$n->psql('postgres', qq{SELECT apikeys.verify('$made'), apikeys.verify('$rolled'), 1/0});
	} ],
	[ 'a signing key, and its secret through a failing UPDATE' => sub {
		my ($n, $k) = @_;
		my $kid = $n->safe_psql('postgres', q{SELECT apikeys.add_signing_key('HS256', true)});
		$k->{signing} = $n->safe_psql('postgres',
			qq{SELECT encode(secret, 'hex') FROM apikeys.signing_secrets WHERE kid = '$kid'});
		$n->psql('postgres', q{UPDATE apikeys.signing_keys SET public_key = '\x00' WHERE is_current});
		$n->psql('postgres', q{UPDATE apikeys.signing_secrets SET secret = NULL});
	} ],
	[ "a DBA's failing plain UPDATEs of every table" => sub {
		my ($n, $k) = @_;
		$n->psql('postgres', qq{UPDATE apikeys.keys SET key_hash = NULL WHERE key_id = $k->{id}});
		$n->psql('postgres', qq{UPDATE apikeys.keys SET status = 'gone' WHERE key_id = $k->{id}});
		$n->psql('postgres', q{UPDATE apikeys.tenants SET max_key_sets = 0});
		$n->psql('postgres', q{UPDATE apikeys.events SET actor = 'x'});
		$n->psql('postgres', q{UPDATE apikeys.key_sets SET name = ''});
		$n->psql('postgres', q{UPDATE apikeys.members SET role = 'x'});
		$n->psql('postgres', qq{SELECT apikeys.verify('$k->{key}')::text::int});
	} ],
	[ 'a parallel plan' => sub {
		my ($n, $k) = @_;
		# force_parallel_mode until 15, debug_parallel_query since 16.
		my $force = $n->pg_version >= 16 ? 'debug_parallel_query' : 'force_parallel_mode';
		$n->psql('postgres', qq{SET $force = on; SET parallel_setup_cost = 0;
SELECT (apikeys.verify('$k->{key}')).code, 1/0 FROM generate_series(1, 2)});
	} ],
	[ 'a key of another prefix' => sub {
		my ($n, $k) = @_;
		my $live = new_key($n, 'live');
		$k->{live} = $live->{key};
		$n->psql('postgres', qq{SELECT apikeys.verify('$live->{key}'), 1/0});
	} ],
);

# The secret parts of a cell: what must not be in the log (a client id is public).
sub secret_parts {
	my ($k) = @_;
	my @s;
	for my $f (qw(key rolled made live)) {
		next unless $k->{$f};
		push @s, substr($k->{$f}, index($k->{$f}, '_') + 17);    # the secret and the checksum
	}
	push @s, (split /\./, $k->{token})[2] if $k->{token};            # the token's signature
	push @s, substr($k->{signing}, 4, 40) if $k->{signing};          # 20 bytes of the signing secret
	return @s;
}

# Runs the matrix on a node; returns (leaking cells, cells, markers seen).
sub run_matrix {
	my ($n) = @_;
	my ($leaks, $cells, $markers) = (0, 0, 0);
	my @leaking;
	for my $s (@settings) {
		my ($sname, $conf) = @$s;
		$n->append_conf('postgresql.conf', "\n# cell: $sname\n$conf\n");
		$n->reload;
		sleep 1;
		for my $a (@actions) {
			my ($aname, $run) = @$a;
			my $k = new_key($n, 'acme');
			my $from = -s $n->logfile;
			$run->($n, $k);
			$n->safe_psql('postgres', 'SELECT pg_sleep(0.05)');    # the log lines of the cell are written
			my $log = slurp_file($n->logfile, $from);
			$cells++;
			$markers++ if $log =~ /\[redacted\]/;
			if (grep { index($log, $_) >= 0 } secret_parts($k)) {
				$leaks++;
				push @leaking, "$sname x $aname";
			}
		}
		# Back to the default before the next setting.
		$n->append_conf('postgresql.conf', "\nlog_statement = none\nlog_min_duration_statement = -1\n"
			  . "log_parameter_max_length = -1\nlog_parameter_max_length_on_error = 0\n"
			  . "auto_explain.log_min_duration = -1\n"
			  . ($have_pgaudit ? "pgaudit.log = 'none'\npgaudit.log_parameter = off\n" : ''));
		$n->reload;
		sleep 1;
	}
	return ($leaks, $cells, $markers, @leaking);
}

my $red = make_node('redacted', 1);
is($red->safe_psql('postgres', 'SELECT logs_redacted FROM apikeys.usage_status()'), 't', 'the preloaded server redacts');
my ($leaks, $cells, $markers, @leaking) = run_matrix($red);
is($leaks, 0, "no leaking cell of $cells (settings x actions) with apikeys preloaded")
  or diag("leaking: " . join('; ', @leaking));
cmp_ok($markers, '>=', $cells / 2, "markers in $markers of $cells cells: the test saw the lines it checked");
my $log = slurp_file($red->logfile);
like($log, qr/ak_[0-9A-Za-z]{4}\x{e2}\x{80}\x{a6}\[redacted\]|ak_[0-9A-Za-z]{4}\.\.\.\[redacted\]/,
	'a key is shown as its client id prefix and the marker');
like($log, qr/live_[0-9A-Za-z]{4}.{1,3}\[redacted\]/, 'keys of another prefix too');
like($log, qr/eyJ[A-Za-z0-9_-]{3}.{1,3}\[redacted\]/, 'and tokens');
diag("redacted server: $leaks of $cells cells leak");

# The pepper: a reload logs that it changed, never its value.
$red->append_conf('postgresql.conf', "apikeys.pepper = 'pepper-of-the-leak-test'\n");
$red->reload;
sleep 1;
$red->append_conf('postgresql.conf', "apikeys.pepper = 'second-pepper-of-the-leak-test'\n");
$red->reload;
sleep 1;
$log = slurp_file($red->logfile);
unlike($log, qr/pepper-of-the-leak-test/, 'no pepper value in the log');
like($log, qr/parameter "apikeys.pepper": \[redacted\]/, 'the change of the pepper is logged without its value');

# The data directory and WAL hold no key in plaintext.
my $k = new_key($red, 'acme');
$red->safe_psql('postgres', qq{SELECT apikeys.verify('$k->{key}'); CHECKPOINT;});
my $secret = substr($k->{key}, 19);
my $found = `grep -r -a -l -F -- '$secret' '${\ $red->data_dir}' 2>/dev/null`;
is($found, '', 'no key in plaintext anywhere in the data directory or WAL');
$red->stop;

# The control: loaded on demand (not preloaded), the same matrix leaks.
my $plain = make_node('on_demand', 0);
my ($c_leaks, $c_cells) = run_matrix($plain);
cmp_ok($c_leaks, '>', 0, "without the preload $c_leaks of $c_cells cells leak: the test sees a leak");
diag("control (not preloaded): $c_leaks of $c_cells cells leak");
is($plain->safe_psql('postgres', 'SELECT logs_redacted FROM apikeys.usage_status()'), 'f',
	'usage_status says the log is not redacted');
$plain->stop;

done_testing();
