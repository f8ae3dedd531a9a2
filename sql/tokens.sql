-- Access tokens: client credentials -> JWT, verification codes, forgeries, rotation,
-- revocation, EdDSA and JWKS, the binding, privileges. Tokens and ids are random, so only
-- codes and comparisons are shown.

-- Helpers: base64url, HMAC-SHA-256 (from sha256(), as RFC 2104 defines it) and a forger
-- that signs any header and payload with any HMAC key.
CREATE FUNCTION tk_b64(data bytea) RETURNS text LANGUAGE sql IMMUTABLE
  AS $$ SELECT rtrim(translate(encode(data, 'base64'), E'+/\n', '-_'), '=') $$;
CREATE FUNCTION tk_b64(data text) RETURNS text LANGUAGE sql IMMUTABLE
  AS $$ SELECT tk_b64(convert_to(data, 'UTF8')) $$;
CREATE FUNCTION tk_unb64(part text) RETURNS bytea LANGUAGE sql IMMUTABLE
  AS $$ SELECT decode(translate(part, '-_', '+/') || repeat('=', (4 - length(part) % 4) % 4), 'base64') $$;
CREATE FUNCTION tk_part(token text, n int) RETURNS jsonb LANGUAGE sql IMMUTABLE
  AS $$ SELECT convert_from(tk_unb64(split_part(token, '.', n)), 'UTF8')::jsonb $$;
CREATE FUNCTION tk_hmac(k bytea, m bytea) RETURNS bytea LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  ipad bytea;
  opad bytea;
BEGIN
  IF length(k) > 64 THEN k := sha256(k); END IF;
  k := k || decode(repeat('00', 64 - length(k)), 'hex');
  ipad := k;
  opad := k;
  FOR i IN 0..63 LOOP
    ipad := set_byte(ipad, i, get_byte(k, i) # 54);
    opad := set_byte(opad, i, get_byte(k, i) # 92);
  END LOOP;
  RETURN sha256(opad || sha256(ipad || m));
END $$;
CREATE FUNCTION tk_forge(header jsonb, payload jsonb, k bytea) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT tk_b64(header::text) || '.' || tk_b64(payload::text) || '.'
         || tk_b64(tk_hmac(k, convert_to(tk_b64(header::text) || '.' || tk_b64(payload::text), 'UTF8')))
$$;
-- RFC 4231 test case 2: the helper is HMAC-SHA-256.
SELECT encode(tk_hmac('Jefe', 'what do ya want for nothing?'), 'hex')
     = '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843' AS hmac_ok;

-- CREATE EXTENSION made one HS256 key, current.
-- (Its secret is in apikeys.signing_secrets, which only C code writes and reads; this test
-- runs as a superuser, which row-level security does not hold back.)
SELECT alg, length(s.secret) AS secret_bytes, public_key IS NULL AS no_public_key, is_current, retired_at
  FROM apikeys.signing_keys k JOIN apikeys.signing_secrets s USING (kid);
SELECT kid AS k1, s.secret AS k1_secret FROM apikeys.signing_keys JOIN apikeys.signing_secrets s USING (kid) \gset

SELECT * FROM apikeys.create_tenant('tokco') \gset
SELECT apikeys.create_key_set('tokco', 'reporting', '{reports:*,admin:read}') AS set_id \gset
SELECT key_id, client_id, key FROM apikeys.create_key('tokco', 'svc', owner => 'alice', key_set_id => :set_id) \gset

-- Issue, then verify: VALID with the key's details.
SELECT apikeys.issue_token(:'client_id', :'key') AS tok \gset
SELECT tok ~ '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$' AS compact_jws FROM (SELECT :'tok' AS tok) t;
SELECT valid, code, key_id = :key_id AS same_key, tenant_id, owner, key_set_id = :set_id AS same_set, permissions
  FROM apikeys.verify_token(:'tok');
-- Header and claims.
SELECT tk_part(:'tok', 1) - 'kid' AS header, tk_part(:'tok', 1) ->> 'kid' = :'k1' AS signed_with_k1;
SELECT array(SELECT jsonb_object_keys(tk_part(:'tok', 2)) ORDER BY 1) AS claims;
SELECT c ->> 'iss' AS iss, c ->> 'sub' = :'key_id' AS sub_is_key_id, c ->> 'tenant' AS tenant, c -> 'perms' AS perms,
       c ->> 'owner' AS owner, c ->> 'key_set_id' = :'set_id' AS key_set_claim,
       (c ->> 'exp')::bigint - (c ->> 'iat')::bigint AS lifetime_s, c ->> 'nbf' = c ->> 'iat' AS nbf_is_iat,
       to_timestamp((c ->> 'iat')::bigint) BETWEEN now() - interval '1 minute' AND now() AS iat_recent,
       length(c ->> 'jti') AS jti_len
  FROM tk_part(:'tok', 2) c;
SELECT v.expires_at = to_timestamp((tk_part(:'tok', 2) ->> 'exp')::bigint) AS expires_at_is_exp
  FROM apikeys.verify_token(:'tok') v;
-- Two tokens of the same key differ (jti).
SELECT apikeys.issue_token(:'client_id', :'key') <> :'tok' AS fresh_jti;

-- Lifetimes: ttl is capped at 24 hours and at the key's expiry; it must be positive.
SELECT (c ->> 'exp')::bigint - (c ->> 'iat')::bigint AS capped_s
  FROM tk_part(apikeys.issue_token(:'client_id', :'key', '3 days'), 2) c;
SELECT (c ->> 'exp')::bigint - (c ->> 'iat')::bigint AS ten_min_s
  FROM tk_part(apikeys.issue_token(:'client_id', :'key', '10 minutes'), 2) c;
SELECT key_id AS short_id, client_id AS short_client, key AS short_key
  FROM apikeys.create_key('tokco', 'short', expires_in => '1 hour') \gset
SELECT (c ->> 'exp')::bigint - (c ->> 'iat')::bigint BETWEEN 3000 AND 3600 AS capped_at_key_expiry
  FROM tk_part(apikeys.issue_token(:'short_client', :'short_key'), 2) c;
SELECT err(format('SELECT apikeys.issue_token(%L, %L, %L)', :'client_id', :'key', '0'));
SELECT err(format('SELECT apikeys.issue_token(%L, %L, %L)', :'client_id', :'key', '-1 hour'));
SELECT err(format('SELECT apikeys.issue_token(%L, %L, NULL)', :'client_id', :'key'));

-- Refused credentials: 28000, and the message never holds the secret.
SELECT err(format('SELECT apikeys.issue_token(%L, %L)', :'client_id', :'key' || 'x'));
SELECT err(format('SELECT apikeys.issue_token(%L, %L)', :'short_client', :'key'));
SELECT err(format('SELECT apikeys.issue_token(%L, %L)', left(:'client_id', 5), :'key'));
SELECT err(format('SELECT apikeys.issue_token(NULL, %L)', :'key'));
SELECT err(format('SELECT apikeys.issue_token(%L, NULL)', :'client_id'));
SELECT err(format('SELECT apikeys.issue_token(%L, %L)', :'key', :'client_id')) AS swapped;
SELECT strpos(err(format('SELECT apikeys.issue_token(%L, %L)', :'key', :'client_id')), substr(:'key', 20, 22)) = 0
   AND strpos(err(format('SELECT apikeys.issue_token(%L, %L)', :'client_id', :'key' || 'x')), substr(:'key', 20, 22)) = 0
    AS no_secret_in_errors;
-- A wrong secret with a valid checksum for a real client id: NOT_FOUND, as verify says.
SELECT (apikeys._generate_key('ak', :'client_id')).key AS forged \gset
SELECT err(format('SELECT apikeys.issue_token(%L, %L)', :'client_id', :'forged'));

-- Not VALID: tampered payload or signature, alg none, swapped algorithms, unknown kid,
-- other issuer, missing exp, not yet valid, garbage.
SELECT split_part(:'tok', '.', 1) AS h64, split_part(:'tok', '.', 2) AS p64, split_part(:'tok', '.', 3) AS s64 \gset
SELECT code AS tampered_payload FROM apikeys.verify_token(
  :'h64' || '.' || tk_b64(jsonb_set(tk_part(:'tok', 2), '{perms}', '["*"]')::text) || '.' || :'s64');
SELECT code AS tampered_signature FROM apikeys.verify_token(
  :'h64' || '.' || :'p64' || '.' || CASE WHEN left(:'s64', 1) = 'A' THEN 'B' ELSE 'A' END || substr(:'s64', 2));
SELECT code AS short_signature FROM apikeys.verify_token(
  :'h64' || '.' || :'p64' || '.' || tk_b64(substring(tk_unb64(:'s64') FROM 1 FOR 31)));
SELECT code AS long_signature FROM apikeys.verify_token(:'h64' || '.' || :'p64' || '.' || tk_b64(tk_unb64(:'s64') || '\x00'::bytea));
SELECT code AS alg_none FROM apikeys.verify_token(
  tk_b64(jsonb_build_object('alg', 'none', 'kid', :'k1', 'typ', 'JWT')::text) || '.' || :'p64' || '.');
SELECT code AS alg_none_kept_sig FROM apikeys.verify_token(
  tk_b64(jsonb_build_object('alg', 'none', 'kid', :'k1', 'typ', 'JWT')::text) || '.' || :'p64' || '.' || :'s64');
SELECT code AS hs256_claiming_eddsa FROM apikeys.verify_token(
  tk_b64(jsonb_build_object('alg', 'EdDSA', 'kid', :'k1', 'typ', 'JWT')::text) || '.' || :'p64' || '.' || :'s64');
-- Headers are bounded before they are parsed (the review's 64 kB, 6,000-member header cost
-- 40-74 ms a call): too many members, or too long, is MALFORMED, even correctly signed; a
-- payload of too many members too.
SELECT code AS header_6000_members, length(tok) <= 65536 AS within_64kb FROM (
  SELECT h || '.' || p || '.' || tk_b64(tk_hmac(:'k1_secret', convert_to(h || '.' || p, 'UTF8'))) AS tok
    FROM (SELECT tk_b64('{"alg":"HS256","kid":"' || :'k1' || '","typ":"JWT"'
                        || string_agg(',"' || chr(97 + g % 26) || chr(97 + (g / 26) % 26) || chr(97 + g / 676) || '":0', '')
                        || '}') AS h,
                 split_part(:'tok', '.', 2) AS p
            FROM generate_series(0, 5999) g) x) t,
  LATERAL apikeys.verify_token(t.tok);
SELECT code AS header_33_members FROM apikeys.verify_token(tk_forge(
  (SELECT jsonb_object_agg('m' || g, 0) FROM generate_series(1, 30) g)
    || jsonb_build_object('alg', 'HS256', 'kid', :'k1', 'typ', 'JWT'), tk_part(:'tok', 2), :'k1_secret'));
SELECT code AS header_1100_bytes FROM apikeys.verify_token(tk_forge(
  jsonb_build_object('alg', 'HS256', 'kid', :'k1', 'typ', 'JWT', 'x', repeat('a', 1100)), tk_part(:'tok', 2), :'k1_secret'));
SELECT code AS payload_over_64_members FROM apikeys.verify_token(tk_forge(tk_part(:'tok', 1),
  (SELECT jsonb_object_agg('m' || g, 0) FROM generate_series(1, 60) g) || tk_part(:'tok', 2), :'k1_secret'));
-- ... while a header of 29 extra members (32 in all) is only judged by its claims.
SELECT code AS header_32_members FROM apikeys.verify_token(tk_forge(
  (SELECT jsonb_object_agg('m' || g, 0) FROM generate_series(1, 29) g)
    || jsonb_build_object('alg', 'HS256', 'kid', :'k1', 'typ', 'JWT'), tk_part(:'tok', 2), :'k1_secret'));
SELECT code AS unknown_kid FROM apikeys.verify_token(
  tk_forge(jsonb_build_object('alg', 'HS256', 'kid', 'nope', 'typ', 'JWT'), tk_part(:'tok', 2), :'k1_secret'));
-- The forger signs with the real secret (only the table's owner can read it): VALID,
-- which shows the forgeries below fail for their claims alone.
SELECT code AS forged_with_secret FROM apikeys.verify_token(tk_forge(tk_part(:'tok', 1), tk_part(:'tok', 2), :'k1_secret'));
SELECT code AS other_issuer FROM apikeys.verify_token(
  tk_forge(tk_part(:'tok', 1), tk_part(:'tok', 2) || '{"iss": "evil"}', :'k1_secret'));
SELECT code AS no_exp FROM apikeys.verify_token(tk_forge(tk_part(:'tok', 1), tk_part(:'tok', 2) - 'exp', :'k1_secret'));
SELECT code AS text_exp FROM apikeys.verify_token(
  tk_forge(tk_part(:'tok', 1), tk_part(:'tok', 2) || jsonb_build_object('exp', tk_part(:'tok', 2) ->> 'exp'), :'k1_secret'));
SELECT code AS past_exp FROM apikeys.verify_token(
  tk_forge(tk_part(:'tok', 1), tk_part(:'tok', 2) || jsonb_build_object('exp', extract(epoch FROM now())::bigint - 1), :'k1_secret'));
SELECT code AS nbf_in_2_min FROM apikeys.verify_token(
  tk_forge(tk_part(:'tok', 1), tk_part(:'tok', 2) || jsonb_build_object('nbf', extract(epoch FROM now())::bigint + 120), :'k1_secret'));
SELECT code AS nbf_within_skew FROM apikeys.verify_token(
  tk_forge(tk_part(:'tok', 1), tk_part(:'tok', 2) || jsonb_build_object('nbf', extract(epoch FROM now())::bigint + 30), :'k1_secret'));
SELECT code AS iat_in_2_min FROM apikeys.verify_token(
  tk_forge(tk_part(:'tok', 1), tk_part(:'tok', 2) || jsonb_build_object('iat', extract(epoch FROM now())::bigint + 120), :'k1_secret'));
SELECT code AS numeric_sub FROM apikeys.verify_token(
  tk_forge(tk_part(:'tok', 1), tk_part(:'tok', 2) || jsonb_build_object('sub', :key_id), :'k1_secret'));
SELECT code AS padded FROM apikeys.verify_token(:'tok' || '=');
SELECT coalesce(left(t, 12), 'NULL') AS input, length(t), (apikeys.verify_token(t)).code
  FROM unnest(ARRAY[NULL, '', 'x', 'a.b', 'a.b.c.d', '...', 'Bearer x.y.z', repeat('A', 70000)]) t;
SELECT code FROM apikeys.verify_token(repeat(:'tok', 10000));

-- Expired: a one-second token after 1.5 seconds.
SELECT apikeys.issue_token(:'client_id', :'key', '1 second') AS one_sec \gset
SELECT pg_sleep(1.5);
SELECT valid, code, key_id, tenant_id FROM apikeys.verify_token(:'one_sec');

-- Works where nothing can be written.
BEGIN TRANSACTION READ ONLY;
SELECT apikeys.issue_token(:'client_id', :'key') IS NOT NULL AS issued_read_only;
SELECT code FROM apikeys.verify_token(:'tok');
COMMIT;

-- authenticate_token binds the token's key for the RLS helpers, for this transaction only.
BEGIN;
SELECT code FROM apikeys.authenticate_token(:'tok');
SELECT apikeys.current_key_id() = :key_id AS bound_key, apikeys.current_tenant(), apikeys.current_owner(),
       apikeys.current_key_set_id() = :set_id AS bound_set, apikeys.current_permissions(),
       apikeys.has_permission('reports:read') AS reports_read, apikeys.has_permission('admin:write') AS admin_write;
SELECT code FROM apikeys.authenticate_token(:'one_sec');
SELECT apikeys.current_key_id() IS NULL AS cleared_by_failure;
SELECT code FROM apikeys.authenticate_token(:'tok');
COMMIT;
SELECT apikeys.current_key_id() IS NULL AS unbound_after_commit;

-- Rotation: a new current key signs new tokens; old tokens verify until their key retires.
SELECT apikeys.add_signing_key() AS k2 \gset
SELECT kid = :'k2' AS k2_current FROM apikeys.signing_keys WHERE is_current;
SELECT apikeys.issue_token(:'client_id', :'key') AS tok2 \gset
SELECT tk_part(:'tok2', 1) ->> 'kid' = :'k2' AS signed_with_k2;
SELECT code AS old_token, (apikeys.verify_token(:'tok2')).code AS new_token FROM apikeys.verify_token(:'tok');
SELECT replace(err(format('SELECT apikeys.retire_signing_key(%L)', :'k2')), :'k2', '<k2>') AS retire_current;
SELECT apikeys.retire_signing_key(:'k1');
SELECT valid, code AS old_token, key_id, (apikeys.verify_token(:'tok2')).code AS new_token FROM apikeys.verify_token(:'tok');
SELECT replace(err(format('SELECT apikeys.retire_signing_key(%L)', :'k1')), :'k1', '<k1>') AS retire_twice;
SELECT replace(err(format('SELECT apikeys.set_current_signing_key(%L)', :'k1')), :'k1', '<k1>') AS revive_retired;
SELECT err($$SELECT apikeys.set_current_signing_key('nope')$$) AS unknown;
SELECT err($$SELECT apikeys.retire_signing_key(NULL)$$) AS null_kid;
SELECT err($$SELECT apikeys.add_signing_key('RS256')$$) AS bad_alg;
SELECT err($$SELECT apikeys.add_signing_key(NULL)$$) AS null_alg;
SELECT err($$UPDATE apikeys.signing_keys SET is_current = true, retired_at = now() WHERE retired_at IS NULL$$) AS current_retired;
BEGIN;
INSERT INTO apikeys.signing_keys (kid, alg) VALUES ('weak', 'HS256');
SELECT err($$INSERT INTO apikeys.signing_secrets (kid, secret) VALUES ('weak', 'short')$$) AS weak_secret;
SELECT err($$INSERT INTO apikeys.signing_secrets (kid) VALUES ('weak')$$) AS no_secret;
ROLLBACK;
-- A DBA's failing plain UPDATE shows no secret: signing_keys holds none, and signing_secrets
-- has no constraint that could echo its row.
SELECT err($$UPDATE apikeys.signing_keys SET public_key = '\x00' WHERE is_current$$) AS failing_row_public_only;
SELECT regexp_replace(err($$UPDATE apikeys.signing_secrets SET secret = NULL$$), '"[A-Za-z0-9_-]{16}"', '"<kid>"')
  AS failing_secret_update;
-- A key added without make_current signs nothing until it is made current.
SELECT apikeys.add_signing_key('HS256', make_current => false) AS k3 \gset
SELECT kid = :'k2' AS k2_still_current FROM apikeys.signing_keys WHERE is_current;
SELECT apikeys.set_current_signing_key(:'k3');
SELECT tk_part(apikeys.issue_token(:'client_id', :'key'), 1) ->> 'kid' = :'k3' AS signed_with_k3;
SELECT count(*) FILTER (WHERE is_current) AS current, count(*) FILTER (WHERE retired_at IS NULL) AS usable,
       count(*) AS total FROM apikeys.signing_keys;
-- Every change of the signing keys is an event of the installation (no tenant), oldest
-- first: the first key at CREATE EXTENSION, k2 added, k1 retired, the failed calls nothing,
-- k3 added (not current), then made current in place of k2. Kids are shown by name.
SELECT e.action, e.tenant_id IS NULL AS no_tenant, e.key_id IS NULL AS no_key,
       (SELECT string_agg(format('%s=%s', d.key,
                 CASE d.value #>> '{}' WHEN :'k1' THEN 'k1' WHEN :'k2' THEN 'k2' WHEN :'k3' THEN 'k3'
                                     ELSE coalesce(d.value #>> '{}', 'null') END), ' ' ORDER BY d.key)
          FROM jsonb_each(e.details) d) AS details
  FROM apikeys.events e WHERE e.action LIKE 'signing_key%' ORDER BY e.at, e.event_id;
-- ... and a payload without a tenant.
SELECT apikeys._event_payload(e)::jsonb - 'event_id' - 'at' AS payload
  FROM apikeys.events e WHERE e.action = 'signing_key_retired';
-- A key added in a rolled-back transaction is forgotten by the cache too.
BEGIN;
SELECT apikeys.add_signing_key() AS k_tmp \gset
SELECT apikeys.issue_token(:'client_id', :'key') AS tok_tmp \gset
SELECT code AS inside FROM apikeys.verify_token(:'tok_tmp');
ROLLBACK;
SELECT code AS after_rollback FROM apikeys.verify_token(:'tok_tmp');
SELECT tk_part(apikeys.issue_token(:'client_id', :'key'), 1) ->> 'kid' = :'k3' AS k3_current_again;

-- Revocation: a revoked key gets no token; its tokens stay VALID until exp (stateless)
-- unless check_revocation looks the key up.
SELECT key_id AS rk_id, client_id AS rk_client, key AS rk_key FROM apikeys.create_key('tokco', 'to revoke') \gset
SELECT apikeys.issue_token(:'rk_client', :'rk_key') AS rk_tok \gset
SELECT apikeys.revoke_key(:rk_id, 'leaked');
SELECT err(format('SELECT apikeys.issue_token(%L, %L)', :'rk_client', :'rk_key')) AS revoked_key;
SELECT code AS stateless, (apikeys.verify_token(:'rk_tok', check_revocation => true)).code AS checked
  FROM apikeys.verify_token(:'rk_tok');
SELECT valid, code, key_id, tenant_id, permissions FROM apikeys.verify_token(:'rk_tok', true);
SELECT code AS null_check FROM apikeys.verify_token(:'tok2', check_revocation => NULL);
-- Inactive, tenant disabled, deleted.
SELECT key_id AS ik_id, client_id AS ik_client, key AS ik_key FROM apikeys.create_key('tokco', 'to pause') \gset
SELECT apikeys.issue_token(:'ik_client', :'ik_key') AS ik_tok \gset
SELECT apikeys.deactivate_key(:ik_id);
SELECT err(format('SELECT apikeys.issue_token(%L, %L)', :'ik_client', :'ik_key')) AS inactive_key;
SELECT (apikeys.verify_token(:'ik_tok')).code AS stateless, (apikeys.verify_token(:'ik_tok', true)).code AS checked;
SELECT apikeys.activate_key(:ik_id);
SELECT (apikeys.verify_token(:'ik_tok', true)).code AS reactivated;
UPDATE apikeys.tenants SET enabled = false WHERE tenant_id = 'tokco';
SELECT err(format('SELECT apikeys.issue_token(%L, %L)', :'ik_client', :'ik_key')) AS tenant_disabled;
SELECT (apikeys.verify_token(:'ik_tok')).code AS stateless, (apikeys.verify_token(:'ik_tok', true)).code AS checked;
UPDATE apikeys.tenants SET enabled = true WHERE tenant_id = 'tokco';
SELECT apikeys.delete_key(:ik_id);
SELECT (apikeys.verify_token(:'ik_tok')).code AS stateless, (apikeys.verify_token(:'ik_tok', true)).code AS checked;
-- An expired key gets no token.
UPDATE apikeys.keys SET expires_at = now() - interval '1 second' WHERE key_id = :short_id;
SELECT err(format('SELECT apikeys.issue_token(%L, %L)', :'short_client', :'short_key')) AS expired_key;

-- EdDSA: Ed25519 tokens, and the public keys in JWKS.
SELECT apikeys.jwks();
SELECT apikeys.add_signing_key('EdDSA') AS ek \gset
SELECT alg, length(s.secret) AS secret_bytes, length(public_key) AS public_bytes, is_current
  FROM apikeys.signing_keys JOIN apikeys.signing_secrets s USING (kid) WHERE kid = :'ek';
SELECT apikeys.issue_token(:'client_id', :'key') AS etok \gset
SELECT tk_part(:'etok', 1) - 'kid' AS header, tk_part(:'etok', 1) ->> 'kid' = :'ek' AS signed_with_ek,
       length(tk_unb64(split_part(:'etok', '.', 3))) AS signature_bytes;
SELECT valid, code, key_id = :key_id AS same_key, tenant_id, owner, permissions FROM apikeys.verify_token(:'etok');
SELECT jsonb_array_length(j -> 'keys') AS n, (j #> '{keys,0}') - 'kid' - 'x' AS jwk,
       j #>> '{keys,0,kid}' = :'ek' AS jwk_kid, length(j #>> '{keys,0,x}') AS x_len,
       tk_unb64(j #>> '{keys,0,x}') = (SELECT public_key FROM apikeys.signing_keys WHERE kid = :'ek') AS x_is_public_key
  FROM apikeys.jwks() j;
-- An EdDSA token re-signed as HS256 with the public key as the HMAC secret.
SELECT code AS eddsa_as_hs256 FROM apikeys.verify_token(tk_forge(
  jsonb_build_object('alg', 'HS256', 'kid', :'ek', 'typ', 'JWT'), tk_part(:'etok', 2),
  (SELECT public_key FROM apikeys.signing_keys WHERE kid = :'ek')));
SELECT code AS eddsa_tampered FROM apikeys.verify_token(
  split_part(:'etok', '.', 1) || '.' || tk_b64(jsonb_set(tk_part(:'etok', 2), '{tenant}', '"other"')::text)
  || '.' || split_part(:'etok', '.', 3));
-- Back to HS256; the EdDSA key's tokens verify until it retires, and JWKS drops it then.
SELECT apikeys.set_current_signing_key(:'k3');
SELECT code FROM apikeys.verify_token(:'etok');
SELECT apikeys.retire_signing_key(:'ek');
SELECT code FROM apikeys.verify_token(:'etok');
SELECT apikeys.jwks();

-- Privileges: the app role issues and verifies tokens and reads JWKS, nothing more; the
-- admin role manages signing keys but never reads their secrets.
SELECT apikeys.issue_token(:'client_id', :'key') AS cur_tok \gset
SET ROLE apikeys_app;
SELECT apikeys.issue_token(:'client_id', :'key') IS NOT NULL AS app_issues;
SELECT code FROM apikeys.verify_token(:'cur_tok');
SELECT code FROM apikeys.verify_token(:'cur_tok', true);
BEGIN;
SELECT code FROM apikeys.authenticate_token(:'cur_tok');
SELECT apikeys.current_tenant();
COMMIT;
SELECT apikeys.jwks();
SELECT err($$SELECT apikeys.add_signing_key()$$);
SELECT err($$SELECT * FROM apikeys.signing_keys$$);
SELECT err($$SELECT apikeys._insert_signing_key('HS256', true)$$);
SELECT err($$SELECT * FROM apikeys.signing_secrets$$);
RESET ROLE;
SET ROLE apikeys_admin;
SELECT apikeys.add_signing_key('EdDSA', make_current => false) AS ek2 \gset
SELECT alg, is_current, retired_at FROM apikeys.signing_keys WHERE kid = :'ek2';
SELECT err($$SELECT secret FROM apikeys.signing_secrets$$);
SELECT apikeys.retire_signing_key(:'ek2');
RESET ROLE;
-- pg_read_all_data reads every table, and no row of the secrets.
CREATE ROLE apikeys_reader IN ROLE pg_read_all_data;
SET ROLE apikeys_reader;
SELECT count(*) AS readable_keys FROM apikeys.signing_keys;
SELECT count(*) AS readable_secrets FROM apikeys.signing_secrets;
RESET ROLE;
DROP ROLE apikeys_reader;
SET ROLE apikeys_admin;
SELECT err($$DELETE FROM apikeys.signing_keys$$);
RESET ROLE;

-- A secret never shows up in any result or event of this test.
SELECT count(*) AS events_with_secrets FROM apikeys.events e
  WHERE strpos(e::text, substr(:'key', 20, 22)) > 0 OR strpos(e::text, :'tok') > 0;

DROP FUNCTION tk_forge(jsonb, jsonb, bytea), tk_hmac(bytea, bytea), tk_part(text, int), tk_unb64(text),
  tk_b64(text), tk_b64(bytea);
