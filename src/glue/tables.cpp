// The descriptors of tables.hpp.
#include "tables.hpp"

namespace apikeys::glue::tables {

relcache::Table keys = {
    "keys",
    {"key_id",
     "client_id",
     "tenant_id",
     "key_set_id",
     "owner",
     "name",
     "description",
     "permissions",
     "permissions_inherited",
     "status",
     "expires_at",
     "created_at",
     "created_by",
     "updated_at",
     "updated_by",
     "revoked_at",
     "revoked_by",
     "revoked_reason",
     "last_used_at",
     "hint",
     "key_hash",
     "hash_scheme",
     "previous_hash",
     "previous_hash_scheme",
     "previous_expires_at",
     "?owner_disabled",
     "?allowed_ips",
     "?rate_limit",
     "?rate_window",
     nullptr},
    {"keys_client_id_key", "keys_tenant_idx", "keys_key_set_idx", "?keys_legacy_client_id_idx", nullptr}};

relcache::Table tenants = {"tenants",
                           {"tenant_id", "enabled", "max_key_sets", "max_active_keys_per_set", "max_keys_per_owner",
                            "max_expiry", "default_expiry", "key_prefix", "?allowed_ips", "?rate_limit", "?rate_window",
                            "?key_rate_limit", "?key_rate_window", nullptr},
                           {nullptr}};

relcache::Table key_sets = {
    "key_sets",
    {"key_set_id", "tenant_id", "name", "permissions", "?allowed_ips", "?rate_limit", "?rate_window", nullptr},
    {"key_sets_tenant_idx", nullptr}};

relcache::Table events = {
    "events",
    {"event_id", "at", "tenant_id", "key_id", "key_set_id", "actor", "action", "details", nullptr},
    {nullptr}};

relcache::Table members = {"members", {"tenant_id", "user_id", "role", "api_access", nullptr}, {nullptr}};

void tables_init() {
  relcache::watch(&keys);
  relcache::watch(&tenants);
  relcache::watch(&key_sets);
  relcache::watch(&events);
  relcache::watch(&members);
}

}  // namespace apikeys::glue::tables
