-- Installs the extension and the two roles that the README's grants describe.
CREATE EXTENSION apikeys;
SELECT extversion FROM pg_extension WHERE extname = 'apikeys';

-- The app role: verifies keys and tokens and reads the binding; nothing else.
CREATE ROLE apikeys_app LOGIN;
SELECT apikeys.grant_app('apikeys_app');

-- The admin role: every management function, and reads of everything but the hashes.
CREATE ROLE apikeys_admin LOGIN;
SELECT apikeys.grant_admin('apikeys_admin');

-- Test helper: runs a statement and shows its SQLSTATE, message and hint instead of
-- failing; random ids (long numbers) are shown as N so that outputs are stable.
CREATE FUNCTION public.err(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  hint text;
BEGIN
  EXECUTE stmt;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
  RETURN regexp_replace(SQLSTATE || ': ' || SQLERRM || coalesce(' HINT: ' || nullif(hint, ''), ''),
                        '[0-9]{6,}', 'N', 'g');
END $$;
GRANT EXECUTE ON FUNCTION public.err(text) TO PUBLIC;
