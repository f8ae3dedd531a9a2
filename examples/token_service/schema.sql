-- The table examples/token_service serves, protected by row-level security: a tenant's rows
-- to a token of that tenant with reports:read. Run as the table's owner (not the app role).
CREATE TABLE reports (id int PRIMARY KEY, tenant_id text NOT NULL, title text NOT NULL);
ALTER TABLE reports ENABLE ROW LEVEL SECURITY;
CREATE POLICY reports_read ON reports FOR SELECT
  USING (tenant_id = (SELECT apikeys.current_tenant()) AND (SELECT apikeys.has_permission('reports:read')));
-- The application role: verify and tokens (apikeys.grant_app), and reading the table.
CREATE ROLE app LOGIN;
SELECT apikeys.grant_app('app');
GRANT SELECT ON reports TO app;
