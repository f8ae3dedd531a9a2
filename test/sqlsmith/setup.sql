-- The database sqlsmith works on (test/sqlsmith/run.sh): the extension with tenants, key
-- sets, keys in every state, members, allowlists, rate limits, signing keys of both
-- algorithms, tokens, usage, and a table with RLS policies on the helpers. sqlsmith connects
-- as "smith", a role with apikeys.grant_admin and grant_app and no other right.
SET client_min_messages = warning;
CREATE EXTENSION apikeys;
CREATE ROLE smith LOGIN;
SELECT apikeys.grant_admin('smith');
SELECT apikeys.grant_app('smith');
SELECT count(*) FROM apikeys.create_tenant('acme', max_keys_per_owner => 50, max_active_keys_per_set => 50,
  retention => '30 days', event_retention => '90 days', rate_limit => 1000, rate_window => '1 minute');
SELECT count(*) FROM apikeys.create_tenant('beta', key_prefix => 'bk', allowed_ips => '{10.0.0.0/8}');
SELECT count(*) FROM apikeys.create_tenant('off', enabled => false);
SELECT apikeys.create_key_set('acme', 'reports', '{reports:read,reports:write}') AS rs \gset
SELECT apikeys.create_key_set('beta', 'all', '{*}') AS bs \gset
SELECT apikeys.add_member('acme', 'alice', 'admin');
SELECT apikeys.add_member('acme', 'bob', 'developer');
SELECT apikeys.add_member('beta', 'carol', 'admin');
CREATE TABLE public.keys_made (name text PRIMARY KEY, key_id bigint, client_id text, key text);
INSERT INTO public.keys_made SELECT 'valid', key_id, client_id, key FROM apikeys.create_key('acme', 'valid', owner => 'alice', key_set_id => :rs);
INSERT INTO public.keys_made SELECT 'limited', key_id, client_id, key FROM apikeys.create_key('acme', 'limited', owner => 'bob', rate_limit => 5, rate_window => '1 second');
INSERT INTO public.keys_made SELECT 'revoked', key_id, client_id, key FROM apikeys.create_key('acme', 'revoked');
SELECT apikeys.revoke_key(key_id, 'sqlsmith') FROM public.keys_made WHERE name = 'revoked';
INSERT INTO public.keys_made SELECT 'inactive', key_id, client_id, key FROM apikeys.create_key('acme', 'inactive');
SELECT apikeys.deactivate_key(key_id) FROM public.keys_made WHERE name = 'inactive';
INSERT INTO public.keys_made SELECT 'beta', key_id, client_id, key FROM apikeys.create_key('beta', 'beta', key_set_id => :bs, allowed_ips => '{10.1.0.0/16}');
INSERT INTO public.keys_made SELECT 'off', key_id, client_id, key FROM apikeys.create_key('acme', 'later off');
INSERT INTO public.keys_made SELECT 'rolled', key_id, client_id, key FROM apikeys.create_key('acme', 'rolled');
INSERT INTO public.keys_made SELECT 'rolled new', key_id, client_id, key FROM apikeys.roll_key((SELECT key_id FROM public.keys_made WHERE name = 'rolled'));
SELECT apikeys.add_signing_key('EdDSA', make_current => false);
CREATE TABLE public.tokens (name text PRIMARY KEY, token text);
INSERT INTO public.tokens SELECT name, apikeys.issue_token(client_id, key) FROM public.keys_made WHERE name IN ('valid', 'limited');
INSERT INTO public.tokens VALUES ('forged', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.'), ('junk', 'a.b.c');
SELECT count(*) FROM public.keys_made k, LATERAL apikeys.verify(k.key);
SELECT apikeys.send_expiry_reminders();
-- A table guarded by the RLS helpers.
CREATE TABLE public.invoices (id serial PRIMARY KEY, tenant_id text NOT NULL, amount numeric);
INSERT INTO public.invoices (tenant_id, amount) SELECT CASE WHEN g % 2 = 0 THEN 'acme' ELSE 'beta' END, g FROM generate_series(1, 200) g;
ALTER TABLE public.invoices ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON public.invoices USING (tenant_id = apikeys.current_tenant());
CREATE POLICY readers ON public.invoices AS RESTRICTIVE USING (apikeys.has_permission('reports:read'));
GRANT SELECT ON public.invoices, public.keys_made, public.tokens TO smith;
-- Statements sqlsmith makes may run long; none may hold the server.
ALTER ROLE smith SET statement_timeout = '2s';
ALTER ROLE smith SET lock_timeout = '1s';
