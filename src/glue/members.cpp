// Members: the enforcement of their rights, the internal-write flag, and the SQL helpers the
// members' triggers use (apikeys._enforce, _internal_write, _count_admins,
// _set_owner_disabled, _revoke_member_keys).
#include "members.hpp"

#include "events.hpp"
#include "relcache.hpp"
#include "statements.hpp"
#include "tables.hpp"
#include "writes.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
}

namespace relcache = apikeys::glue::relcache;
using namespace apikeys::glue::tables;
using apikeys::glue::Right;

namespace {

bool enforce_members = false;

// ---- the internal-write flag ---------------------------------------------------------------

constexpr int kMaxInternal = 32;
SubTransactionId internal_subids[kMaxInternal];  // the subtransaction of each begin
int internal_depth = 0;

void xact_callback(XactEvent event, void *) noexcept {
  if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_COMMIT ||
      event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE)
    internal_depth = 0;
}

void subxact_callback(SubXactEvent event, SubTransactionId sub, SubTransactionId parent, void *) noexcept {
  if (event == SUBXACT_EVENT_ABORT_SUB) {
    while (internal_depth > 0 && internal_subids[internal_depth - 1] >= sub) internal_depth--;
  } else if (event == SUBXACT_EVENT_COMMIT_SUB) {
    for (int i = 0; i < internal_depth; i++)
      if (internal_subids[i] == sub) internal_subids[i] = parent;
  }
}

// ---- members --------------------------------------------------------------------------------

struct Member {
  bool found = false;
  bool admin = false;
  bool api_access = false;
  const char *role = "";
};

// The member row of (tenant, user) as last committed.
Member member_of(Datum tenant_id, Datum user_id) {
  relcache::resolve(&members);
  Member m;
  Datum key[2] = {tenant_id, user_id};
  RegProcedure eq[2] = {F_TEXTEQ, F_TEXTEQ};
  apikeys::glue::count_latest(members.relid, members.pkey, 2, eq, key, [&](TupleTableSlot *slot) {
    bool n_role, n_access;
    Datum role = slot_getattr(slot, members.att[kMemberRole], &n_role);
    Datum access = slot_getattr(slot, members.att[kMemberApiAccess], &n_access);
    m.found = true;
    m.role = n_role ? "" : TextDatumGetCString(role);
    m.admin = strcmp(m.role, "admin") == 0;
    m.api_access = !n_access && DatumGetBool(access);
    return true;
  });
  return m;
}

[[noreturn]] void refuse(const char *actor, const char *tenant, const char *verb, const char *why, const char *hint) {
  ereport(ERROR,
          (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
           errmsg("user \"%s\" of tenant \"%s\" may not %s: %s", actor, tenant, verb, why), errhint("%s", hint)));
  pg_unreachable();
}

}  // namespace

namespace apikeys::glue {

void internal_write_begin() {
  if (internal_depth == kMaxInternal) elog(ERROR, "apikeys: internal writes nested too deeply");
  internal_subids[internal_depth++] = GetCurrentSubTransactionId();
}

void internal_write_end() {
  if (internal_depth > 0) internal_depth--;
}

bool owner_disabled(Datum tenant_id, Datum user_id) {
  Member m = member_of(tenant_id, user_id);
  return m.found && !m.api_access;
}

void enforce(Datum tenant_id, Right right, Datum owner, bool owner_null, const char *verb) {
  if (!enforce_members || internal_depth > 0) return;
  const char *actor = actor_setting();
  const char *role = GetUserNameFromId(GetOuterUserId(), false);  // the caller, also inside SECURITY DEFINER
  if (actor[0] == '\0')
    ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                    errmsg("role \"%s\" acts for tenant members only, and apikeys.actor is not set", role),
                    errhint("SET LOCAL apikeys.actor = '<user id>' in each transaction, before the change.")));
  if (right == Right::CreateTenant || right == Right::Job)
    ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                    errmsg("user \"%s\" may not %s: role \"%s\" acts for tenant members only", actor, verb, role),
                    errhint("Run it as a role without apikeys.enforce_members (the database owner, or a job role).")));
  const char *tenant = TextDatumGetCString(tenant_id);
  Member m = member_of(tenant_id, CStringGetTextDatum(actor));
  char hint[512];
  if (!m.found) {
    snprintf(hint, sizeof hint, "An admin of tenant \"%s\" adds members with apikeys.add_member().", tenant);
    ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                    errmsg("user \"%s\" is not a member of tenant \"%s\" and may not %s", actor, tenant, verb),
                    errhint("%s", hint)));
  }
  bool own = !owner_null && strcmp(TextDatumGetCString(owner), actor) == 0;
  const char *give_access =
      "An admin of tenant \"%s\" gives API access with apikeys.update_member(tenant_id, user_id, api_access => true).";
  switch (right) {
    case Right::ReadTenant:
      return;
    case Right::TenantSettings:
    case Right::Members:
      if (m.admin) return;
      snprintf(hint, sizeof hint,
               "Only an admin of tenant \"%s\" may; an admin sets roles with apikeys.update_member().", tenant);
      refuse(actor, tenant, verb, psprintf("the role %s is not admin", m.role), hint);
    case Right::KeySets:
      if (m.admin && m.api_access) return;
      if (!m.admin) {
        snprintf(hint, sizeof hint, "Only an admin of tenant \"%s\" with API access may.", tenant);
        refuse(actor, tenant, verb, psprintf("the role %s is not admin", m.role), hint);
      }
      snprintf(hint, sizeof hint, give_access, tenant);
      refuse(actor, tenant, verb, "no API access", hint);
    case Right::RevokeKey:
      if (m.admin || own) return;
      snprintf(hint, sizeof hint, "An admin of tenant \"%s\" revokes any key of the tenant.", tenant);
      refuse(
          actor, tenant, verb,
          owner_null ? "the key is a platform key" : psprintf("the key is user \"%s\"'s", TextDatumGetCString(owner)),
          hint);
    case Right::CreateKey:
    case Right::EditKey:
      if (owner_null) {
        if (m.admin && m.api_access) return;
        snprintf(hint, sizeof hint, "Platform keys (without an owner) are an admin's with API access in tenant \"%s\".",
                 tenant);
        refuse(actor, tenant, verb, m.admin ? "no API access" : "platform keys are an admin's", hint);
      }
      if (!own) {
        snprintf(hint, sizeof hint, "A user manages their own keys; an admin of tenant \"%s\" may revoke any key.",
                 tenant);
        refuse(actor, tenant, verb, psprintf("the key is user \"%s\"'s", TextDatumGetCString(owner)), hint);
      }
      if (m.api_access) return;
      snprintf(hint, sizeof hint, give_access, tenant);
      refuse(actor, tenant, verb, "no API access", hint);
    default:
      elog(ERROR, "apikeys: unknown right");
  }
}

void members_init() {
  DefineCustomBoolVariable(
      "apikeys.enforce_members",
      "Whether the management calls and plain writes of this session need a tenant member's right.",
      "Set it for an application role with ALTER ROLE ... SET apikeys.enforce_members = on (only a "
      "superuser can set or reset it): apikeys.actor must then name a member of the tenant "
      "concerned with the right each change needs.",
      &enforce_members, false, PGC_SUSET, 0, nullptr, nullptr, nullptr);
  RegisterXactCallback(xact_callback, nullptr);
  RegisterSubXactCallback(subxact_callback, nullptr);
}

}  // namespace apikeys::glue

namespace {

Right right_named(const char *name) {
  static const struct {
    const char *name;
    Right right;
  } rights[] = {
      {"create_tenant", Right::CreateTenant}, {"tenant_settings", Right::TenantSettings}, {"members", Right::Members},
      {"key_sets", Right::KeySets},           {"create_key", Right::CreateKey},           {"edit_key", Right::EditKey},
      {"revoke_key", Right::RevokeKey},       {"read_tenant", Right::ReadTenant},         {"job", Right::Job}};
  for (const auto &r : rights)
    if (strcmp(r.name, name) == 0) return r.right;
  ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("unknown right \"%s\"", name)));
  pg_unreachable();
}

apikeys::glue::Statement set_owner_disabled_sql = {
    "UPDATE apikeys.keys SET owner_disabled = $3 WHERE tenant_id OPERATOR(pg_catalog.=) $1 "
    "AND owner OPERATOR(pg_catalog.=) $2 AND owner_disabled OPERATOR(pg_catalog.<>) $3",
    3,
    {TEXTOID, TEXTOID, BOOLOID}};
apikeys::glue::Statement revoke_member_keys_sql = {
    "UPDATE apikeys.keys SET status = 'revoked', revoked_reason = 'member removed' "
    "WHERE tenant_id OPERATOR(pg_catalog.=) $1 AND owner OPERATOR(pg_catalog.=) $2 "
    "AND status OPERATOR(pg_catalog.<>) 'revoked'",
    2,
    {TEXTOID, TEXTOID}};

// Runs an UPDATE of keys as one of the extension's own writes, under the latest snapshot
// (it reaches every committed key, also in a REPEATABLE READ transaction); returns the rows.
int64 internal_update(apikeys::glue::Statement *s, const Datum *args) {
  apikeys::glue::internal_write_begin();
  SPI_connect();
  int rc = apikeys::glue::run(s, args, nullptr, false, apikeys::glue::Snap::Latest);
  if (rc != SPI_OK_UPDATE) elog(ERROR, "apikeys: updating keys failed: %s", SPI_result_code_string(rc));
  int64 n = static_cast<int64>(SPI_processed);
  SPI_finish();
  apikeys::glue::internal_write_end();
  return n;
}

}  // namespace

// apikeys._enforce(tenant_id, right, owner, verb): enforce() for the PL/pgSQL triggers and
// functions.
APIKEYS_FUNCTION(apikeys_enforce) {
  if (PG_ARGISNULL(1) || PG_ARGISNULL(3)) elog(ERROR, "apikeys._enforce needs a right and a verb");
  Right right = right_named(text_to_cstring(PG_GETARG_TEXT_PP(1)));
  if (PG_ARGISNULL(0) && right != Right::CreateTenant && right != Right::Job) PG_RETURN_VOID();
  apikeys::glue::enforce(PG_ARGISNULL(0) ? (Datum)0 : PG_GETARG_DATUM(0), right,
                         PG_ARGISNULL(2) ? (Datum)0 : PG_GETARG_DATUM(2), PG_ARGISNULL(2),
                         text_to_cstring(PG_GETARG_TEXT_PP(3)));
  PG_RETURN_VOID();
}

// apikeys._internal_write(on): begins (true) or ends (false) one of the extension's own
// nested writes.
APIKEYS_FUNCTION(apikeys_internal_write) {
  if (PG_GETARG_BOOL(0))
    apikeys::glue::internal_write_begin();
  else
    apikeys::glue::internal_write_end();
  PG_RETURN_VOID();
}

// apikeys._count_admins(tenant_id): the tenant's admins, counted under the latest snapshot.
APIKEYS_FUNCTION(apikeys_count_admins) {
  relcache::resolve(&members);
  RegProcedure eq[1] = {F_TEXTEQ};
  Datum tenant = PG_GETARG_DATUM(0);
  PG_RETURN_INT64(apikeys::glue::count_latest(members.relid, members.pkey, 1, eq, &tenant, [](TupleTableSlot *slot) {
    bool isnull;
    Datum role = slot_getattr(slot, members.att[kMemberRole], &isnull);
    return !isnull && apikeys::glue::text_view(role) == "admin";
  }));
}

// apikeys._set_owner_disabled(tenant_id, user_id, disabled): marks every key of the user.
APIKEYS_FUNCTION(apikeys_set_owner_disabled) {
  Datum args[3] = {PG_GETARG_DATUM(0), PG_GETARG_DATUM(1), PG_GETARG_DATUM(2)};
  PG_RETURN_INT64(internal_update(&set_owner_disabled_sql, args));
}

// apikeys._revoke_member_keys(tenant_id, user_id): revokes every key of a removed member.
APIKEYS_FUNCTION(apikeys_revoke_member_keys) {
  Datum args[2] = {PG_GETARG_DATUM(0), PG_GETARG_DATUM(1)};
  PG_RETURN_INT64(internal_update(&revoke_member_keys_sql, args));
}
