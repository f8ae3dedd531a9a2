------------------------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC (README shows the grants of an app and an admin role)
------------------------------------------------------------------------------------------

REVOKE ALL ON SCHEMA apikeys FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA apikeys FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA apikeys FROM PUBLIC;
REVOKE ALL ON TYPE apikeys.verification FROM PUBLIC;
