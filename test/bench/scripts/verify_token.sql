-- apikeys.verify_token on tokens issued beforehand (bench.tokens: the same pick shape).
\set i 10 * random(0, :ntokens / 10 - 1) + random(1, 9)
SELECT apikeys.verify_token(t.token) FROM bench.tokens t WHERE t.i = :i;
