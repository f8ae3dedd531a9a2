// The triggers of apikeys.keys, in C: keys_before_check (validation, expiry policy, the
// columns a write may not change) and keys_after_apply (the disabled-tenant rule and the
// limits under locks on the parent rows, and the key events). They hold for every write
// path: the management functions and a DBA's plain INSERT, UPDATE and DELETE.
#include "key_triggers.hpp"

#include "events.hpp"
#include "limits.hpp"
#include "members.hpp"
#include "relcache.hpp"
#include "rows.hpp"
#include "settings.hpp"
#include "statements.hpp"
#include "tables.hpp"
#include "usage.hpp"
#include "writes.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
}

namespace core = apikeys::core;
namespace relcache = apikeys::glue::relcache;
using apikeys::glue::Right;
using apikeys::glue::Row;
using apikeys::glue::show;
using namespace apikeys::glue::tables;

namespace {

constexpr const char *kPermissionHint =
    "A permission is \"*\" or names joined by \":\" (lower-case letters, digits, \"_\", \".\", \"-\"), optionally "
    "ending in \":*\".";

AttrNumber k(int column) { return keys.att[column]; }

// The first permission of perms that breaks the grammar ("NULL" for a NULL element or a
// NULL array), or null.
const char *invalid_permission(const Row &r) {
  if (r.null(k(kPermissions))) return "NULL";
  int n;
  std::string_view *p = apikeys::glue::text_array_views(DatumGetArrayTypeP(r.get(k(kPermissions))), &n);
  for (int i = 0; i < n; i++) {
    if (p[i].data() == nullptr) return "NULL";
    if (!core::valid_permission(p[i])) return pnstrdup(p[i].data(), p[i].size());
  }
  return nullptr;
}

// The first permission of the key that the ceiling does not cover, or null.
const char *uncovered_permission(const Row &r, Datum ceiling, bool ceiling_null) {
  if (r.null(k(kPermissions))) return nullptr;
  int n, nc = 0;
  std::string_view *p = apikeys::glue::text_array_views(DatumGetArrayTypeP(r.get(k(kPermissions))), &n);
  std::string_view *c = ceiling_null ? nullptr : apikeys::glue::text_array_views(DatumGetArrayTypeP(ceiling), &nc);
  for (int i = 0; i < n; i++) {
    if (p[i].data() == nullptr) return "NULL";
    if (!core::any_covers(c, nc, p[i])) return pnstrdup(p[i].data(), p[i].size());
  }
  return nullptr;
}

// A key's state from its row.
core::KeyState state_of(const Row &r) {
  core::KeyState s;
  s.status = r.null(k(kStatus)) ? core::KeyStatus::Inactive : core::parse_key_status(r.text(k(kStatus)));
  s.has_expiry = !r.null(k(kExpiresAt));
  s.expires_at = s.has_expiry ? DatumGetTimestampTz(r.get(k(kExpiresAt))) : 0;
  return s;
}

bool text_is(const Row &r, int column, std::string_view value) {
  return !r.null(k(column)) && r.text(k(column)) == value;
}

// a <> b in SQL, as an IF reads it: true only when both are known and differ.
bool known_different(const Row &a, const Row &b, int column, Oid type) {
  return !a.null(k(column)) && !b.null(k(column)) &&
         !apikeys::glue::same(a.get(k(column)), false, b.get(k(column)), false, type);
}

bool distinct(const Row &a, const Row &b, int column, Oid type) {
  return !apikeys::glue::same(a.get(k(column)), a.null(k(column)), b.get(k(column)), b.null(k(column)), type);
}

// The row of a unique index probe, copied (values stay valid after the probe).
struct Found {
  bool found = false;
  Datum v[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  bool n[8] = {true, true, true, true, true, true, true, true};
};

// Reads columns of a tenant or key set by primary key with a snapshot taken now (what a
// PL/pgSQL SELECT in the trigger saw).
Found read_row(relcache::Table *t, RegProcedure eq, Datum key, const int *columns, int ncolumns) {
  relcache::resolve(t);
  Found f;
  relcache::probe_unique(t->relid, t->pkey, eq, key, GetTransactionSnapshot(), [&](TupleTableSlot *slot) {
    f.found = true;
    TupleDesc desc = slot->tts_tupleDescriptor;
    for (int i = 0; i < ncolumns; i++) {
      AttrNumber a = t->att[columns[i]];
      Datum d = slot_getattr(slot, a, &f.n[i]);
      Form_pg_attribute attr = TupleDescAttr(desc, a - 1);
      f.v[i] = f.n[i] ? (Datum)0 : datumCopy(d, attr->attbyval, attr->attlen);
    }
  });
  return f;
}

Datum now_datum() { return TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()); }

// ---- keys_before_check ------------------------------------------------------------------

// Locks a key set, then a tenant (FOR NO KEY UPDATE), copying the columns the checks use.
const int kSetLockColumns[] = {kSetKeySetId, kSetName};
const int kTenantLockColumns[] = {kTenantTenantId, kTenantEnabled, kTenantMaxActiveKeysPerSet, kTenantMaxKeysPerOwner};

// What an update does, as a member's right names it.
const char *change_verb(const Row &o, const Row &n) {
  if (text_is(n, kStatus, "revoked") && !text_is(o, kStatus, "revoked")) return "revoke keys";
  if (known_different(n, o, kKeyHash, BYTEAOID)) return "roll keys";
  if (text_is(n, kStatus, "active") && text_is(o, kStatus, "inactive")) return "activate keys";
  if (text_is(n, kStatus, "inactive") && text_is(o, kStatus, "active")) return "deactivate keys";
  return "change keys";
}

// The columns that only the extension's own bookkeeping changes.
bool bookkeeping(const char *column) {
  return strcmp(column, "owner_disabled") == 0 || strcmp(column, "last_used_at") == 0 ||
         strcmp(column, "updated_at") == 0 || strcmp(column, "updated_by") == 0;
}

// True if the update changes a column that is not bookkeeping.
bool visible_change(const Row &o, const Row &n, TupleDesc desc) {
  for (int i = 0; i < desc->natts; i++) {
    Form_pg_attribute att = TupleDescAttr(desc, i);
    AttrNumber a = static_cast<AttrNumber>(i + 1);
    if (att->attisdropped || bookkeeping(NameStr(att->attname))) continue;
    if (!apikeys::glue::same(o.get(a), o.null(a), n.get(a), n.null(a), att->atttypid)) return true;
  }
  return false;
}

// The first network of a key's list (as text) that lies within none of its set's, or null.
const char *network_outside(Datum key_list, bool key_null, Datum set_list, bool set_null) {
  if (key_null || set_null) return nullptr;
  apikeys::glue::AllowList mine = apikeys::glue::allow_list_of(key_list, false);
  apikeys::glue::AllowList theirs = apikeys::glue::allow_list_of(set_list, false);
  if (!theirs.set()) return nullptr;
  Datum *elems;
  bool *nulls;
  int count;
  deconstruct_array(DatumGetArrayTypeP(key_list), CIDROID, -1, false, TYPALIGN_INT, &elems, &nulls, &count);
  for (int i = 0, m = 0; i < count; i++) {
    if (nulls[i]) continue;
    if (!core::within_any(mine.networks[m++], theirs.networks, static_cast<size_t>(theirs.n)))
      return show(elems[i], false, CIDROID);
  }
  return nullptr;
}

HeapTuple keys_check(TriggerData *td) {
  TupleDesc desc = RelationGetDescr(td->tg_relation);
  if (TRIGGER_FIRED_BY_DELETE(td->tg_event)) {
    Row o(td->tg_trigtuple, desc);
    apikeys::glue::enforce(o.get(k(kTenantId)), Right::EditKey, o.get(k(kOwner)), o.null(k(kOwner)), "delete keys");
    return td->tg_trigtuple;
  }
  bool insert = TRIGGER_FIRED_BY_INSERT(td->tg_event);
  Row n(insert ? td->tg_trigtuple : td->tg_newtuple, desc);
  Row *o = insert ? nullptr : new (palloc(sizeof(Row))) Row(td->tg_trigtuple, desc);
  Datum now = now_datum();

  // Who may make the change (for the roles with apikeys.enforce_members), before anything
  // about the key is told.
  auto check_rights = [&] {
    if (insert) {
      apikeys::glue::enforce(n.get(k(kTenantId)), Right::CreateKey, n.get(k(kOwner)), n.null(k(kOwner)), "create keys");
      return;
    }
    const char *verb = change_verb(*o, n);
    apikeys::glue::enforce(o->get(k(kTenantId)), strcmp(verb, "revoke keys") == 0 ? Right::RevokeKey : Right::EditKey,
                           o->get(k(kOwner)), o->null(k(kOwner)), verb);
    if (distinct(n, *o, kOwner, TEXTOID))
      apikeys::glue::enforce(n.get(k(kTenantId)), Right::EditKey, n.get(k(kOwner)), n.null(k(kOwner)),
                             "give keys to a user");
  };
  check_rights();

  std::string_view name = n.text(k(kName));
  if (name.data() == nullptr || name.find_first_not_of(' ') == std::string_view::npos)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("key name must not be empty")));
  const char *name_c = pnstrdup(name.data(), name.size());
  if (!n.null(k(kStatus)) && !text_is(n, kStatus, "active") && !text_is(n, kStatus, "inactive") &&
      !text_is(n, kStatus, "revoked"))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("key status must be active, inactive or revoked (got \"%s\")",
                           show(n.get(k(kStatus)), false, TEXTOID))));
  if (!insert) {
    if (text_is(*o, kStatus, "revoked") && !n.null(k(kStatus)) && !text_is(n, kStatus, "revoked"))
      ereport(ERROR,
              (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
               errmsg("key %s (\"%s\") is revoked and cannot become %s",
                      show(o->get(k(kKeyId)), o->null(k(kKeyId)), INT8OID),
                      show(o->get(k(kName)), o->null(k(kName)), TEXTOID), show(n.get(k(kStatus)), false, TEXTOID)),
               errhint("Revocation is irreversible: create a new key.")));
    if (known_different(n, *o, kKeyId, INT8OID) || known_different(n, *o, kTenantId, TEXTOID) ||
        known_different(n, *o, kClientId, TEXTOID))
      ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                      errmsg("key %s cannot change its id, client id or tenant",
                             show(o->get(k(kKeyId)), o->null(k(kKeyId)), INT8OID))));
    n.copy_from(*o, k(kCreatedAt));
    n.copy_from(*o, k(kCreatedBy));
    // The extension's own bookkeeping (the owner's switch, the last use) is not an update.
    if (visible_change(*o, n, desc)) {
      n.set(k(kUpdatedAt), now);
      n.set(k(kUpdatedBy), PointerGetDatum(apikeys::glue::actor()));
    } else {
      n.copy_from(*o, k(kUpdatedAt));
      n.copy_from(*o, k(kUpdatedBy));
    }
    if (text_is(n, kStatus, "revoked") && !o->null(k(kStatus)) && !text_is(*o, kStatus, "revoked")) {
      n.set(k(kRevokedAt), now);
      n.set(k(kRevokedBy), PointerGetDatum(apikeys::glue::actor()));
    } else if (text_is(*o, kStatus, "revoked")) {
      n.copy_from(*o, k(kRevokedAt));
      n.copy_from(*o, k(kRevokedBy));
    }
  } else if (text_is(n, kStatus, "revoked")) {
    if (n.null(k(kRevokedAt))) n.set(k(kRevokedAt), now);
    if (n.null(k(kRevokedBy))) n.set(k(kRevokedBy), PointerGetDatum(apikeys::glue::actor()));
  }
  if (n.null(k(kClientId)) || !core::valid_client_id(n.text(k(kClientId))))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("client id of key \"%s\" is not of the form <prefix>_<16 base62>", name_c)));
  core::Scheme scheme;
  bool bad_scheme = !n.null(k(kHashScheme)) && !core::parse_scheme(n.text(k(kHashScheme)), &scheme);
  bool bad_hash = !n.null(k(kKeyHash)) && VARSIZE_ANY_EXHDR(DatumGetByteaPP(n.get(k(kKeyHash)))) != core::kHashLen;
  if (bad_scheme || bad_hash)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("key \"%s\" has no valid hash", name_c)));

  // The allowlist: an empty one is none; a NULL network means nothing.
  if (!n.null(k(kAllowedIps))) {
    ArrayType *ips = DatumGetArrayTypeP(n.get(k(kAllowedIps)));
    if (ArrayGetNItems(ARR_NDIM(ips), ARR_DIMS(ips)) == 0)
      n.set(k(kAllowedIps), (Datum)0, true);
    else if (array_contains_nulls(ips))
      ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                      errmsg("allowed_ips of key \"%s\" must not contain NULL", name_c),
                      errhint("Remove the list with allowed_ips => '{}' instead.")));
  }
  if (insert || distinct(n, *o, kRateLimit, INT4OID) || distinct(n, *o, kRateWindow, INTERVALOID))
    apikeys::glue::check_rate_limit("key", name_c, n.get(k(kRateLimit)), n.null(k(kRateLimit)), n.get(k(kRateWindow)),
                                    n.null(k(kRateWindow)));

  // The key set: a key that inherits takes its set's permissions.
  Found set;
  const int set_columns[] = {kSetKeySetId, kSetName, kSetPermissions, kSetAllowedIps};
  if (!n.null(k(kKeySetId)) &&
      (insert || distinct(n, *o, kKeySetId, INT8OID) || distinct(n, *o, kPermissions, TEXTARRAYOID) ||
       distinct(n, *o, kAllowedIps, CIDRARRAYOID))) {
    set = read_row(&key_sets, F_INT8EQ, n.get(k(kKeySetId)), set_columns, 4);
    if (set.found && !n.null(k(kPermissionsInherited)) && DatumGetBool(n.get(k(kPermissionsInherited))))
      n.set(k(kPermissions), set.v[2], set.n[2]);
  }
  if (insert || distinct(n, *o, kPermissions, TEXTARRAYOID)) {
    const char *bad = invalid_permission(n);
    if (bad != nullptr)
      ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                      errmsg("invalid permission \"%s\" for key \"%s\"", bad, name_c), errhint("%s", kPermissionHint)));
  }
  if (set.found) {
    const char *bad = uncovered_permission(n, set.v[2], set.n[2]);
    if (bad != nullptr)
      ereport(ERROR, (errcode(ERRCODE_CHECK_VIOLATION),
                      errmsg("key \"%s\" cannot hold permission \"%s\": key set %s (\"%s\") does not grant it", name_c,
                             bad, show(set.v[0], set.n[0], INT8OID), show(set.v[1], set.n[1], TEXTOID)),
                      errhint("Give the key a subset of its set's permissions.")));
    const char *outside = network_outside(n.get(k(kAllowedIps)), n.null(k(kAllowedIps)), set.v[3], set.n[3]);
    if (outside != nullptr)
      ereport(ERROR, (errcode(ERRCODE_CHECK_VIOLATION),
                      errmsg("key \"%s\" cannot be allowed %s: key set %s (\"%s\") does not allow it", name_c, outside,
                             show(set.v[0], set.n[0], INT8OID), show(set.v[1], set.n[1], TEXTOID)),
                      errhint("Give the key networks within its set's allowed_ips.")));
  }

  // Expiry: the tenant's default for a new key, and max_expiry for a new key or any
  // extension of a key's life (shortening is always allowed; a lowered max_expiry never
  // touches old keys).
  if (insert || distinct(n, *o, kExpiresAt, TIMESTAMPTZOID)) {
    const int tenant_columns[] = {kTenantTenantId, kTenantMaxExpiry, kTenantDefaultExpiry};
    Found t = read_row(&tenants, F_TEXTEQ, n.get(k(kTenantId)), tenant_columns, 3);
    if (!t.found) t.n[0] = t.n[1] = t.n[2] = true;
    if (insert && n.null(k(kExpiresAt))) {
      bool has = !t.n[2] || !t.n[1];
      if (has) n.set(k(kExpiresAt), DirectFunctionCall2(timestamptz_pl_interval, now, t.n[2] ? t.v[1] : t.v[2]));
    }
    if (insert && !n.null(k(kExpiresAt)) && DatumGetTimestampTz(n.get(k(kExpiresAt))) <= DatumGetTimestampTz(now))
      ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                      errmsg("key \"%s\" would expire at %s which is not in the future", name_c,
                             show(n.get(k(kExpiresAt)), false, TIMESTAMPTZOID))));
    if (!t.n[1]) {
      bool new_null = n.null(k(kExpiresAt));
      TimestampTz limit = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval, now, t.v[1]));
      bool too_long = new_null || DatumGetTimestampTz(n.get(k(kExpiresAt))) > limit;
      bool extends = insert || new_null ||
                     (!o->null(k(kExpiresAt)) &&
                      DatumGetTimestampTz(n.get(k(kExpiresAt))) > DatumGetTimestampTz(o->get(k(kExpiresAt))));
      if (too_long && extends) {
        const char *life = "forever";
        if (!new_null && !TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(n.get(k(kExpiresAt)))))
          life = show(DirectFunctionCall2(timestamp_mi, n.get(k(kExpiresAt)), now), false, INTERVALOID);
        ereport(ERROR, (errcode(ERRCODE_CHECK_VIOLATION),
                        errmsg("key \"%s\" of tenant \"%s\" would live %s (limit %s)", name_c,
                               show(t.v[0], t.n[0], TEXTOID), life, show(t.v[1], false, INTERVALOID)),
                        errhint("Give a shorter expiry, or raise the tenant's max_expiry.")));
      }
    }
  }

  // The parent rows, locked here, before the row is written, in the order of every key path
  // (the key set, then the tenant), when this write makes the key count against a limit or
  // concern its owner: a change of the owner's membership (which locks the tenant row) is
  // then either seen here or waits for this transaction.
  core::KeyState ns = state_of(n);
  TimestampTz now_ts = DatumGetTimestampTz(now);
  bool counted = !n.null(k(kKeySetId)) && core::counts_in_set(ns, now_ts);
  bool was_counted = !insert && core::counts_in_set(state_of(*o), now_ts) && !distinct(n, *o, kKeySetId, INT8OID);
  bool owner_changes = insert || distinct(n, *o, kOwner, TEXTOID) || distinct(n, *o, kOwnerDisabled, BOOLOID);
  bool owner_check = core::is_live(ns, now_ts) && !n.null(k(kOwner)) &&
                     (insert || !core::is_live(state_of(*o), now_ts) || distinct(n, *o, kOwner, TEXTOID));
  apikeys::glue::LockedRow s, t;
  if (counted && !was_counted)  // a missing set is the foreign key's to report
    s = apikeys::glue::lock_row(&key_sets, F_INT8EQ, n.get(k(kKeySetId)), LockTupleNoKeyExclusive, kSetLockColumns, 2);
  if (insert || s.found || owner_check || owner_changes)
    t = apikeys::glue::lock_row(&tenants, F_TEXTEQ, n.get(k(kTenantId)), LockTupleNoKeyExclusive, kTenantLockColumns,
                                4);
  // A member's rights changed while this write waited for the tenant row: checked again, as
  // committed now (the change locked the same row).
  if (t.found) check_rights();
  if (insert && t.found && !t.n[1] && !DatumGetBool(t.v[1]))
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("tenant \"%s\" is disabled: no key can be created", show(t.v[0], t.n[0], TEXTOID)),
                    errhint("Enable the tenant first.")));
  // The owner's switch, as last committed: a member without API access owns disabled keys.
  if (n.null(k(kOwner)))
    n.set(k(kOwnerDisabled), BoolGetDatum(false));
  else if (owner_changes)
    n.set(k(kOwnerDisabled), BoolGetDatum(apikeys::glue::owner_disabled(n.get(k(kTenantId)), n.get(k(kOwner)))));
  return n.form();
}

// ---- keys_after_apply -------------------------------------------------------------------

// The columns an update event never shows (what apikeys._changes leaves out).
bool hidden_in_changes(const char *column) {
  static const char *const hidden[] = {"key_hash",      "hash_scheme", "previous_hash", "previous_hash_scheme",
                                       "updated_at",    "updated_by",  "hint",          "last_used_at",
                                       "owner_disabled"};
  for (const char *h : hidden)
    if (strcmp(column, h) == 0) return true;
  return false;
}

// old -> new for every changed column, as apikeys._changes(to_jsonb(OLD), to_jsonb(NEW)).
Datum changes_of(const Row &o, const Row &n, TupleDesc desc, bool *changed) {
  apikeys::glue::JsonObject details;
  *changed = false;
  for (int i = 0; i < desc->natts; i++) {
    Form_pg_attribute att = TupleDescAttr(desc, i);
    AttrNumber a = static_cast<AttrNumber>(i + 1);
    if (att->attisdropped || hidden_in_changes(NameStr(att->attname))) continue;
    if (apikeys::glue::same(o.get(a), o.null(a), n.get(a), n.null(a), att->atttypid)) continue;
    details.add_change(NameStr(att->attname), apikeys::glue::to_jsonb_of(o.get(a), o.null(a), att->atttypid),
                       apikeys::glue::to_jsonb_of(n.get(a), n.null(a), att->atttypid));
    *changed = true;
  }
  return details.finish();
}

int64 id_or_zero(const Row &r, int column) { return r.null(k(column)) ? 0 : DatumGetInt64(r.get(k(column))); }

// A key whose expiry or secret changed is reminded again (apikeys.reminders forgets it).
apikeys::glue::Statement rearm_reminders = {"SELECT apikeys._rearm_reminders($1)", 1, {INT8OID}, nullptr};

void keys_apply(TriggerData *td) {
  TupleDesc desc = RelationGetDescr(td->tg_relation);
  TimestampTz now = GetCurrentTransactionStartTimestamp();
  if (TRIGGER_FIRED_BY_DELETE(td->tg_event)) {
    Row o(td->tg_trigtuple, desc);
    apikeys::glue::JsonObject details;
    details.add_text("name", o.get(k(kName)), o.null(k(kName)));
    details.add_text("client_id", o.get(k(kClientId)), o.null(k(kClientId)));
    details.add_text("status", o.get(k(kStatus)), o.null(k(kStatus)));
    apikeys::glue::record_event(o.get(k(kTenantId)), id_or_zero(o, kKeyId), id_or_zero(o, kKeySetId),
                                apikeys::glue::event_purge_allowed() ? "purged" : "deleted", details.finish());
    return;
  }
  bool insert = TRIGGER_FIRED_BY_INSERT(td->tg_event);
  Row n(insert ? td->tg_trigtuple : td->tg_newtuple, desc);
  Row *o = insert ? nullptr : new (palloc(sizeof(Row))) Row(td->tg_trigtuple, desc);

  // A row counts against its set's limit while active and unexpired, against its owner's
  // while live. Check only when this write makes it count (creation, activation, a move to
  // another set or owner, an expiry pushed back into the future).
  core::KeyState ns = state_of(n);
  bool counted = !n.null(k(kKeySetId)) && core::counts_in_set(ns, now);
  bool was_counted = !insert && core::counts_in_set(state_of(*o), now) && !distinct(n, *o, kKeySetId, INT8OID);
  bool live = core::is_live(ns, now);
  bool was_live = !insert && core::is_live(state_of(*o), now) && !distinct(n, *o, kOwner, TEXTOID);
  bool owner_check = live && !was_live && !n.null(k(kOwner));

  // Locks: the key set, then the tenant (the key row itself is already ours; the BEFORE
  // trigger took these already, and taking them again is a check of the held lock).
  apikeys::glue::LockedRow s, t;
  if (counted && !was_counted) {
    s = apikeys::glue::lock_row(&key_sets, F_INT8EQ, n.get(k(kKeySetId)), LockTupleNoKeyExclusive, kSetLockColumns, 2);
    if (!s.found)
      ereport(ERROR, (errcode(ERRCODE_NO_DATA_FOUND),
                      errmsg("key set %s does not exist", show(n.get(k(kKeySetId)), false, INT8OID))));
  }
  if (insert || s.found || owner_check)
    t = apikeys::glue::lock_row(&tenants, F_TEXTEQ, n.get(k(kTenantId)), LockTupleNoKeyExclusive, kTenantLockColumns,
                                4);
  // t: tenant_id, enabled, max_active_keys_per_set, max_keys_per_owner
  if (s.found) {
    int64 count = apikeys::glue::count_active_keys(DatumGetInt64(n.get(k(kKeySetId))));
    if (t.found && !t.n[2] && count > DatumGetInt32(t.v[2]))
      ereport(ERROR, (errcode(ERRCODE_CHECK_VIOLATION),
                      errmsg("key set %s (\"%s\") of tenant \"%s\" already has %lld active keys (limit %d)",
                             show(s.v[0], s.n[0], INT8OID), show(s.v[1], s.n[1], TEXTOID),
                             show(t.v[0], t.n[0], TEXTOID), static_cast<long long>(count - 1), DatumGetInt32(t.v[2])),
                      errhint("Deactivate or revoke an active key of the set, or raise the tenant's "
                              "max_active_keys_per_set.")));
  }
  if (owner_check && t.found && !t.n[3]) {
    int64 count = apikeys::glue::count_live_keys(n.get(k(kTenantId)), n.get(k(kOwner)));
    if (count > DatumGetInt32(t.v[3]))
      ereport(ERROR, (errcode(ERRCODE_CHECK_VIOLATION),
                      errmsg("owner \"%s\" of tenant \"%s\" already has %lld live keys (limit %d)",
                             show(n.get(k(kOwner)), false, TEXTOID), show(t.v[0], t.n[0], TEXTOID),
                             static_cast<long long>(count - 1), DatumGetInt32(t.v[3])),
                      errhint("Revoke one of the owner's keys, or raise the tenant's max_keys_per_owner.")));
  }

  if (insert) {
    apikeys::glue::JsonObject details;
    details.add_text("name", n.get(k(kName)), n.null(k(kName)));
    details.add_text("client_id", n.get(k(kClientId)), n.null(k(kClientId)));
    details.add_text("owner", n.get(k(kOwner)), n.null(k(kOwner)));
    details.add_text("status", n.get(k(kStatus)), n.null(k(kStatus)));
    details.add_text_array("permissions", n.get(k(kPermissions)), n.null(k(kPermissions)));
    details.add_timestamptz("expires_at", n.get(k(kExpiresAt)), n.null(k(kExpiresAt)));
    apikeys::glue::record_event(n.get(k(kTenantId)), id_or_zero(n, kKeyId), id_or_zero(n, kKeySetId), "created",
                                details.finish());
    return;
  }
  if (distinct(n, *o, kExpiresAt, TIMESTAMPTZOID) || known_different(n, *o, kKeyHash, BYTEAOID)) {
    SPI_connect();
    Datum args[1] = {n.get(k(kKeyId))};
    bool nulls[1] = {false};
    apikeys::glue::run(&rearm_reminders, args, nulls, false);
    SPI_finish();
  }
  bool changed;
  Datum details = changes_of(*o, n, desc, &changed);
  const char *action = nullptr;
  if (text_is(n, kStatus, "revoked") && !o->null(k(kStatus)) && !text_is(*o, kStatus, "revoked"))
    action = "revoked";
  else if (known_different(n, *o, kKeyHash, BYTEAOID))
    action = "rolled";
  else if (text_is(n, kStatus, "active") && text_is(*o, kStatus, "inactive"))
    action = "activated";
  else if (text_is(n, kStatus, "inactive") && text_is(*o, kStatus, "active"))
    action = "deactivated";
  else if (changed)
    action = "updated";
  if (action != nullptr)
    apikeys::glue::record_event(n.get(k(kTenantId)), id_or_zero(n, kKeyId), id_or_zero(n, kKeySetId), action, details);
}

}  // namespace

// BEFORE INSERT OR UPDATE trigger keys_before_check.
APIKEYS_FUNCTION(apikeys_keys_check) {
  TriggerData *td = apikeys::glue::row_trigger(fcinfo, "apikeys._keys_check()", true);
  relcache::resolve(&keys);
  PG_RETURN_POINTER(keys_check(td));
}

// AFTER INSERT OR UPDATE OR DELETE trigger keys_after_apply.
APIKEYS_FUNCTION(apikeys_keys_apply) {
  TriggerData *td = apikeys::glue::row_trigger(fcinfo, "apikeys._keys_apply()", false);
  relcache::resolve(&keys);
  keys_apply(td);
  PG_RETURN_POINTER(nullptr);
}
