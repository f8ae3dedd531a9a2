-- apikeys.issue_token: client credentials (client id, whole key) for a signed JWT.
\set i 10 * random(0, :nkeys / 10 - 1) + random(1, 9)
SELECT apikeys.issue_token(left(p.key, 19), p.key) FROM bench.plain p WHERE p.i = :i;
