-- The current schema two ways: installed fresh, and installed as 1.0 then updated through
-- every version. Both must hold the same objects with the same definitions, privileges and
-- comments. Runs in a database of its own.
\set regress_db :DBNAME
CREATE DATABASE apikeys_schema;
\c apikeys_schema
SET client_min_messages = warning;

-- Every object of the extension as text, without OIDs: functions (definition, privileges,
-- comment), the type, tables (kind, privileges, row security, whether pg_dump keeps their
-- rows, comment), columns in order (type, collation, NOT NULL, default, privileges,
-- comment), constraints, indexes, triggers (and whether they fire under replica), the
-- schema.
CREATE FUNCTION public.describe_apikeys() RETURNS TABLE (kind text, object text, definition text)
LANGUAGE sql AS $$
  WITH ext AS (SELECT oid, extconfig, extcondition FROM pg_extension WHERE extname = 'apikeys'),
  members AS (
    SELECT d.classid, d.objid FROM pg_depend d, ext
     WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'),
  rels AS (
    SELECT c.* FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid)
  SELECT 'function', p.oid::regprocedure::text,
         pg_get_functiondef(p.oid) || E'\nacl: ' || coalesce(p.proacl::text, 'default')
           || E'\ncomment: ' || coalesce(obj_description(p.oid, 'pg_proc'), 'NONE')
    FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
  UNION ALL
  SELECT 'type', t.oid::regtype::text,
         (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
            FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped)
           || E'\nacl: ' || coalesce(t.typacl::text, 'default')
           || E'\ncomment: ' || coalesce(obj_description(t.oid, 'pg_type'), 'NONE')
    FROM members m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
   -- Not the types that come with another object (PostgreSQL 17 and 18 record them as
   -- members too, 15 does not): a table's row type, an array type.
   WHERE NOT EXISTS (SELECT FROM pg_class r WHERE r.oid = t.typrelid AND r.relkind <> 'c')
     AND NOT EXISTS (SELECT FROM pg_type e WHERE e.typarray = t.oid)
  UNION ALL
  SELECT 'relation', c.oid::regclass::text,
         c.relkind::text || ' acl: ' || coalesce(c.relacl::text, 'default') || ' rls: ' || c.relrowsecurity
           || '/' || c.relforcerowsecurity || ' options: ' || coalesce(c.reloptions::text, 'none')
           || ' dumped: ' || coalesce((SELECT ext.extcondition[i]
                                         FROM ext, generate_subscripts(ext.extconfig, 1) i
                                        WHERE ext.extconfig[i] = c.oid), 'no')
           || E'\ncomment: ' || coalesce(obj_description(c.oid, 'pg_class'), 'NONE')
    FROM rels c
  UNION ALL
  SELECT 'column', c.oid::regclass::text || '.' || a.attname,
         row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum) || ': '
           || format_type(a.atttypid, a.atttypmod) || ' collate ' || coalesce(co.collname, '-')
           || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
           || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
           || ' acl: ' || coalesce(a.attacl::text, 'none')
           || E'\ncomment: ' || coalesce(col_description(c.oid, a.attnum), 'NONE')
    FROM rels c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
    LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 0
   WHERE c.relkind = 'r'
  UNION ALL
  SELECT 'constraint', co.conrelid::regclass::text || '.' || co.conname, pg_get_constraintdef(co.oid)
    FROM rels c JOIN pg_constraint co ON co.conrelid = c.oid
   WHERE co.contype <> 'n'  -- NOT NULL, a constraint object since PostgreSQL 18: see the columns
  UNION ALL
  SELECT 'index', i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
    FROM rels c JOIN pg_index i ON i.indrelid = c.oid
  UNION ALL
  SELECT 'trigger', tg.tgrelid::regclass::text || '.' || tg.tgname,
         pg_get_triggerdef(tg.oid) || ' enabled: ' || tg.tgenabled::text
    FROM rels c JOIN pg_trigger tg ON tg.tgrelid = c.oid AND NOT tg.tgisinternal
  UNION ALL
  SELECT 'policy', pol.polrelid::regclass::text || '.' || pol.polname,
         pol.polcmd::text || ' ' || coalesce(pg_get_expr(pol.polqual, pol.polrelid), '') || ' '
           || coalesce(pg_get_expr(pol.polwithcheck, pol.polrelid), '')
    FROM rels c JOIN pg_policy pol ON pol.polrelid = c.oid
  UNION ALL
  SELECT 'schema', n.nspname, coalesce(n.nspacl::text, 'default') || E'\ncomment: '
           || coalesce(obj_description(n.oid, 'pg_namespace'), 'NONE')
    FROM pg_namespace n WHERE n.nspname = 'apikeys'
$$;

-- Installed as 1.0 and updated to the current version, step by step.
CREATE EXTENSION apikeys VERSION '1.0';
ALTER EXTENSION apikeys UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'apikeys';
CREATE TABLE updated AS SELECT * FROM public.describe_apikeys();
DROP EXTENSION apikeys;

-- Installed fresh.
CREATE EXTENSION apikeys;
SELECT extversion FROM pg_extension WHERE extname = 'apikeys';
CREATE TABLE fresh AS SELECT * FROM public.describe_apikeys();

-- What each has (so the comparison below cannot pass by describing nothing)...
SELECT kind, count(*) FROM fresh GROUP BY kind ORDER BY kind;
-- ... and what differs: nothing.
(SELECT 'only updated' AS side, * FROM updated EXCEPT SELECT 'only updated', * FROM fresh)
UNION ALL
(SELECT 'only fresh', * FROM fresh EXCEPT SELECT 'only fresh', * FROM updated)
ORDER BY 2, 3, 1;

-- Every function, table, column of the contract and type has a comment.
SELECT kind, object FROM fresh
 WHERE kind IN ('function', 'type', 'relation', 'schema') AND definition LIKE E'%\ncomment: NONE'
   AND NOT (kind = 'relation' AND definition NOT LIKE 'r %')
 ORDER BY 1, 2;

\c :regress_db
DROP DATABASE apikeys_schema;
