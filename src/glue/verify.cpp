// The hot path: verify and authenticate probe the keys index directly (no SPI, no second
// executor), and the RLS helpers read the transaction's binding from backend memory.
#include "glue.hpp"

extern "C" {
#include "access/detoast.h"
#include "access/genam.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

PG_FUNCTION_INFO_V1(apikeys_verify);
PG_FUNCTION_INFO_V1(apikeys_authenticate);
PG_FUNCTION_INFO_V1(apikeys_current_key_id);
PG_FUNCTION_INFO_V1(apikeys_current_tenant);
PG_FUNCTION_INFO_V1(apikeys_current_owner);
PG_FUNCTION_INFO_V1(apikeys_current_key_set_id);
PG_FUNCTION_INFO_V1(apikeys_current_permissions);
PG_FUNCTION_INFO_V1(apikeys_has_permission);
}

namespace core = apikeys::core;
using apikeys::glue::Verdict;
using apikeys::glue::text_array_views;
using apikeys::glue::text_view;

namespace {

// OIDs and column numbers of the tables verify reads, cached until a relcache invalidation.
struct Catalog {
  bool valid;
  // The tenants carry the tenants_changed trigger (schema 1.1), enabled ALWAYS: every change
  // of a tenant invalidates the tenant cache below, so verify may use it.
  bool tenant_cache;
  Oid keys, keys_client_idx, keys_pkey, tenants, tenants_pkey;
  AttrNumber key_id, client_id, tenant_id, key_set_id, owner, permissions, status, expires_at, key_hash,
      hash_scheme, previous_hash, previous_hash_scheme, previous_expires_at, enabled;
};
Catalog cat;
bool callback_registered = false;
uint64 inval_count = 0;  // relcache invalidations seen that concern verify's tables

// ---- the tenant switch cache ---------------------------------------------------------
// tenant id -> enabled, open addressing with linear probing, for ids of up to 58 bytes
// (longer ones are always read from the table). An entry is valid while its generation is
// the cache's: a relcache invalidation of apikeys.tenants (sent by the tenants_changed
// trigger at commit, and on standbys from the commit record) starts a new generation, and
// so does a cache half full.

struct TenantSlot {
  uint32 generation;
  bool enabled;
  uint8 len;
  char id[58];
};
constexpr uint32 kTenantSlots = 1024;  // 64 kB per backend, at most 512 tenants at a time
TenantSlot *tenant_slots = nullptr;
uint32 tenant_generation = 1;
uint32 tenant_live = 0;  // entries of the current generation

void new_tenant_generation() {
  tenant_live = 0;
  if (++tenant_generation == 0) {  // after 2^32 generations: old slots could look current
    if (tenant_slots != nullptr) memset(tenant_slots, 0, sizeof(TenantSlot) * kTenantSlots);
    tenant_generation = 1;
  }
}

void relcache_callback(Datum, Oid relid) {
  if (relid == InvalidOid || relid == cat.tenants || relid == cat.tenants_pkey) new_tenant_generation();
  if (relid == InvalidOid || relid == cat.keys || relid == cat.keys_client_idx || relid == cat.keys_pkey ||
      relid == cat.tenants || relid == cat.tenants_pkey) {
    cat.valid = false;
    inval_count++;
  }
}

Oid relid_in(Oid nsp, const char *name) {
  Oid oid = get_relname_relid(name, nsp);
  if (!OidIsValid(oid))
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("relation apikeys.%s does not exist", name)));
  return oid;
}

AttrNumber attnum_of(Oid rel, const char *name) {
  AttrNumber n = get_attnum(rel, name);
  if (n == InvalidAttrNumber)
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN), errmsg("column %s of apikeys tables does not exist", name)));
  return n;
}

// True if the tenants carry an ALWAYS-enabled tenants_changed trigger.
bool tenants_invalidate_cache(Oid tenants) {
  Relation rel = table_open(tenants, AccessShareLock);
  bool found = false;
  for (int i = 0; rel->trigdesc != nullptr && i < rel->trigdesc->numtriggers; i++) {
    const Trigger &t = rel->trigdesc->triggers[i];
    if (strcmp(t.tgname, "tenants_changed") == 0 && t.tgenabled == TRIGGER_FIRES_ALWAYS) found = true;
  }
  table_close(rel, NoLock);
  return found;
}

void load_catalog() {
  if (cat.valid) return;
  if (!callback_registered) {
    CacheRegisterRelcacheCallback(relcache_callback, (Datum)0);
    callback_registered = true;
  }
  Catalog c;
  uint64 seen;
  do {  // again if an invalidation arrived while reading the catalogs
    seen = inval_count;
    Oid nsp = get_namespace_oid("apikeys", false);
    c = Catalog{};
    c.keys = relid_in(nsp, "keys");
    c.keys_client_idx = relid_in(nsp, "keys_client_id_key");
    c.keys_pkey = relid_in(nsp, "keys_pkey");
    c.tenants = relid_in(nsp, "tenants");
    c.tenants_pkey = relid_in(nsp, "tenants_pkey");
    c.key_id = attnum_of(c.keys, "key_id");
    c.client_id = attnum_of(c.keys, "client_id");
    c.tenant_id = attnum_of(c.keys, "tenant_id");
    c.key_set_id = attnum_of(c.keys, "key_set_id");
    c.owner = attnum_of(c.keys, "owner");
    c.permissions = attnum_of(c.keys, "permissions");
    c.status = attnum_of(c.keys, "status");
    c.expires_at = attnum_of(c.keys, "expires_at");
    c.key_hash = attnum_of(c.keys, "key_hash");
    c.hash_scheme = attnum_of(c.keys, "hash_scheme");
    c.previous_hash = attnum_of(c.keys, "previous_hash");
    c.previous_hash_scheme = attnum_of(c.keys, "previous_hash_scheme");
    c.previous_expires_at = attnum_of(c.keys, "previous_expires_at");
    c.enabled = attnum_of(c.tenants, "enabled");
    c.tenant_cache = tenants_invalidate_cache(c.tenants);
    c.valid = true;
  } while (seen != inval_count);
  cat = c;
  new_tenant_generation();
}

// Hash of the presented key under a stored scheme, compared in constant time.
bool hash_matches(std::string_view key, Datum scheme_d, Datum hash_d) {
  core::Scheme scheme;
  if (!core::parse_scheme(text_view(scheme_d), &scheme)) return false;
  bytea *stored = DatumGetByteaPP(hash_d);
  unsigned char computed[core::kHashLen];
  const char *pep = apikeys::glue::pepper();
  if (scheme == core::Scheme::HmacSha256 && pep[0] == '\0') return false;
  apikeys::glue::CoreFailure fail;
  if (!apikeys::glue::run_core([&] { core::hash_key(scheme, pep, key, computed); }, &fail))
    apikeys::glue::report(fail);
  return core::ct_equal(reinterpret_cast<const unsigned char *>(VARDATA_ANY(stored)), VARSIZE_ANY_EXHDR(stored),
                        computed, sizeof computed);
}

Snapshot current_snapshot() { return ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot(); }

// The code a key's own state gives, in verify's order: REVOKED, INACTIVE, EXPIRED, else
// VALID (the tenant and the permissions are checked after). v and n are a keys row.
const char *state_code(const Datum *v, const bool *n, TimestampTz now) {
  std::string_view status = n[cat.status - 1] ? std::string_view() : text_view(v[cat.status - 1]);
  if (status == "revoked") return "REVOKED";
  if (status != "active") return "INACTIVE";
  if (!n[cat.expires_at - 1] && DatumGetTimestampTz(v[cat.expires_at - 1]) <= now) return "EXPIRED";
  return "VALID";
}

// Probes a unique index for one value and hands the row, if any, to on_row while its buffer
// is pinned. Reads with the statement's snapshot, or with latest = true with a snapshot
// taken after the locks (so after the invalidations they accept). The locks are kept until
// the end of the transaction, as the executor keeps its own: releasing them would cost a
// lock-table round trip per relation and call.
template <typename F>
bool probe_unique(Oid relid, Oid indexid, RegProcedure eqproc, Datum value, bool latest, F &&on_row) {
  Relation rel = table_open(relid, AccessShareLock);
  Relation idx = index_open(indexid, AccessShareLock);
  ScanKeyData sk;
  ScanKeyInit(&sk, 1, BTEqualStrategyNumber, eqproc, value);
  sk.sk_collation = idx->rd_indcollation[0];
  IndexScanDesc scan = index_beginscan(rel, idx, latest ? GetLatestSnapshot() : current_snapshot(), 1, 0);
  index_rescan(scan, &sk, 1, nullptr, 0);
  TupleTableSlot *slot = table_slot_create(rel, nullptr);
  bool found = index_getnext_slot(scan, ForwardScanDirection, slot);
  if (found) on_row(slot);
  ExecDropSingleTupleTableSlot(slot);
  index_endscan(scan);
  index_close(idx, NoLock);
  table_close(rel, NoLock);
  return found;
}

// The tenant's enabled column from the table (false if there is no such tenant).
bool read_tenant_enabled(text *tenant_id, bool latest) {
  bool enabled = false;
  probe_unique(cat.tenants, cat.tenants_pkey, F_TEXTEQ, PointerGetDatum(tenant_id), latest,
               [&](TupleTableSlot *slot) {
                 bool isnull;
                 Datum d = slot_getattr(slot, cat.enabled, &isnull);
                 enabled = !isnull && DatumGetBool(d);
               });
  return enabled;
}

// True if the tenant exists and is enabled, as last committed: from the backend's cache
// when it holds the tenant, else one probe of the tenants primary key with the latest
// snapshot, remembered. Without the tenants_changed trigger (a 1.0 schema), and in parallel
// mode (no latest snapshot there), always a probe with the statement's snapshot.
bool tenant_enabled(text *tenant_id) {
  if (cat.tenant_cache && !IsInParallelMode()) {
    AcceptInvalidationMessages();  // a change committed since this transaction's last lock
    load_catalog();
  }
  if (!cat.tenant_cache || IsInParallelMode()) return read_tenant_enabled(tenant_id, false);
  std::string_view id(VARDATA_ANY(tenant_id), VARSIZE_ANY_EXHDR(tenant_id));
  if (id.size() > sizeof TenantSlot::id) return read_tenant_enabled(tenant_id, true);
  if (tenant_slots == nullptr)
    tenant_slots = static_cast<TenantSlot *>(MemoryContextAllocZero(TopMemoryContext, sizeof(TenantSlot) * kTenantSlots));
  uint32 home = hash_bytes(reinterpret_cast<const unsigned char *>(id.data()), static_cast<int>(id.size()));
  auto find = [&]() -> TenantSlot * {  // the tenant's slot, or the free one where it goes
    for (uint32 i = 0;; i++) {
      TenantSlot *slot = &tenant_slots[(home + i) % kTenantSlots];
      if (slot->generation != tenant_generation ||
          (slot->len == id.size() && memcmp(slot->id, id.data(), id.size()) == 0))
        return slot;
    }
  };
  TenantSlot *slot = find();
  if (slot->generation == tenant_generation) return slot->enabled;
  // Any change committed before the invalidations accepted so far (here or by the probe's
  // locks) is visible to the latest snapshot; any later one starts a new generation.
  bool enabled = read_tenant_enabled(tenant_id, true);
  if (tenant_live >= kTenantSlots / 2) new_tenant_generation();
  slot = find();  // the probe may have started a new generation
  slot->generation = tenant_generation;
  slot->enabled = enabled;
  slot->len = static_cast<uint8>(id.size());
  memcpy(slot->id, id.data(), id.size());
  tenant_live++;
  return enabled;
}

// True if every required permission (non-null) is covered by one of the key's.
bool covers_all(ArrayType *granted, ArrayType *required) {
  int ng, nr;
  std::string_view *g = text_array_views(granted, &ng);
  std::string_view *r = text_array_views(required, &nr);
  for (int i = 0; i < nr; i++)
    if (r[i].data() == nullptr || !core::any_covers(g, ng, r[i])) return false;
  return true;
}

}  // namespace

// Verifies a presented key: decides MALFORMED without a table, then one primary-key probe.
void apikeys::glue::verify_presented_key(Datum key_d, bool key_isnull, Datum required, bool required_isnull,
                                         Verdict *r) {
  *r = Verdict{};
  r->code = "MALFORMED";
  if (key_isnull) return;
  // A string longer than any key is refused before it is even detoasted.
  if (toast_raw_datum_size(key_d) > VARHDRSZ + core::kMaxKeyLen) return;
  text *key_t = DatumGetTextPP(key_d);
  std::string_view key(VARDATA_ANY(key_t), VARSIZE_ANY_EXHDR(key_t));
  size_t client_len = 0;
  if (!core::parse_key(key, &client_len)) return;

  load_catalog();
  r->code = "NOT_FOUND";
  std::string_view client_id = key.substr(0, client_len);
  bool held = false;  // the row found is the presented key's
  auto examine = [&](TupleTableSlot *slot) {
    slot_getallattrs(slot);
    Datum *v = slot->tts_values;
    bool *n = slot->tts_isnull;
    auto col = [](AttrNumber a) { return a - 1; };
    if (text_view(v[col(cat.client_id)]) != client_id) return;
    held = true;
    TimestampTz now = GetCurrentTransactionStartTimestamp();
    bool match = hash_matches(key, v[col(cat.hash_scheme)], v[col(cat.key_hash)]);
    if (!match && !n[col(cat.previous_hash)] && !n[col(cat.previous_hash_scheme)] &&
        !n[col(cat.previous_expires_at)] && DatumGetTimestampTz(v[col(cat.previous_expires_at)]) > now)
      match = hash_matches(key, v[col(cat.previous_hash_scheme)], v[col(cat.previous_hash)]);
    if (match) {
      r->code = state_code(v, n, now);
      if (r->code[0] == 'V') {
        r->key_id = DatumGetInt64(v[col(cat.key_id)]);
        r->tenant_id = DatumGetTextPCopy(v[col(cat.tenant_id)]);
        r->owner = n[col(cat.owner)] ? nullptr : DatumGetTextPCopy(v[col(cat.owner)]);
        r->has_set = !n[col(cat.key_set_id)];
        r->key_set_id = r->has_set ? DatumGetInt64(v[col(cat.key_set_id)]) : 0;
        r->permissions = DatumGetArrayTypePCopy(v[col(cat.permissions)]);
        r->has_expiry = !n[col(cat.expires_at)];
        r->expires_at = r->has_expiry ? DatumGetTimestampTz(v[col(cat.expires_at)]) : 0;
      }
    }
  };
  // A key made since 1.1 has the id its client id determines: one probe of the primary key.
  probe_unique(cat.keys, cat.keys_pkey, F_INT8EQ, Int64GetDatum(core::key_id_of(client_id)), false, examine);
  // A key made by 1.0 (a random id), or none: the client id's own unique index.
  if (!held) {
    text *client_t = cstring_to_text_with_len(client_id.data(), static_cast<int>(client_id.size()));
    probe_unique(cat.keys, cat.keys_client_idx, F_TEXTEQ, PointerGetDatum(client_t), false, examine);
  }
  if (r->code[0] != 'V') return;

  if (!tenant_enabled(r->tenant_id))
    r->code = "TENANT_DISABLED";
  else if (!required_isnull && !covers_all(r->permissions, DatumGetArrayTypeP(required)))
    r->code = "INSUFFICIENT_PERMISSIONS";
}

// The state of a key by id, in verify's order: one probe of the keys primary key.
const char *apikeys::glue::key_state(int64 key_id) {
  load_catalog();
  const char *code = "NOT_FOUND";
  text *tenant_id = nullptr;
  probe_unique(cat.keys, cat.keys_pkey, F_INT8EQ, Int64GetDatum(key_id), false, [&](TupleTableSlot *slot) {
    slot_getallattrs(slot);
    code = state_code(slot->tts_values, slot->tts_isnull, GetCurrentTransactionStartTimestamp());
    if (code[0] == 'V') tenant_id = DatumGetTextPCopy(slot->tts_values[cat.tenant_id - 1]);
  });
  if (tenant_id != nullptr && !tenant_enabled(tenant_id)) code = "TENANT_DISABLED";
  return code;
}

namespace {

// apikeys.verify's arguments: (key text, required text[]).
void verify_key(FunctionCallInfo fcinfo, Verdict *r) {
  apikeys::glue::verify_presented_key(PG_GETARG_DATUM(0), PG_ARGISNULL(0), PG_ARGISNULL(1) ? Datum(0) : PG_GETARG_DATUM(1),
                                      PG_ARGISNULL(1), r);
}

}  // namespace

// The verification row. Its descriptor comes from the type cache (a hash lookup, pinned for
// this call): a descriptor cached in fn_extra would be rebuilt with get_call_result_type (a
// pg_proc lookup and a copy) at every execution, since each execution has a new FmgrInfo,
// and verify is usually called once per statement.
Datum apikeys::glue::verification_datum(FunctionCallInfo fcinfo, const Verdict &r) {
  Oid type = get_fn_expr_rettype(fcinfo->flinfo);
  TupleDesc desc;
  bool pinned = OidIsValid(type) && type != RECORDOID;
  if (pinned) {
    desc = lookup_rowtype_tupdesc(type, -1);
  } else {
    desc = static_cast<TupleDesc>(fcinfo->flinfo->fn_extra);
    if (desc == nullptr) {
      TupleDesc d;
      if (get_call_result_type(fcinfo, nullptr, &d) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "return type must be a row type");
      MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
      desc = BlessTupleDesc(CreateTupleDescCopy(d));
      MemoryContextSwitchTo(old);
      fcinfo->flinfo->fn_extra = desc;
    }
  }
  bool valid = r.code[0] == 'V';
  Datum values[8] = {BoolGetDatum(valid), CStringGetTextDatum(r.code)};
  bool nulls[8] = {false, false, true, true, true, true, true, true};
  if (valid) {
    values[2] = Int64GetDatum(r.key_id);
    values[3] = PointerGetDatum(r.tenant_id);
    values[4] = PointerGetDatum(r.owner);
    values[5] = Int64GetDatum(r.key_set_id);
    values[6] = PointerGetDatum(r.permissions);
    values[7] = TimestampTzGetDatum(r.expires_at);
    nulls[2] = nulls[3] = nulls[6] = false;
    nulls[4] = r.owner == nullptr;
    nulls[5] = !r.has_set;
    nulls[7] = !r.has_expiry;
  }
  HeapTuple tuple = heap_form_tuple(desc, values, nulls);
  if (pinned) ReleaseTupleDesc(desc);
  return HeapTupleGetDatum(tuple);
}

namespace {

// ---- the binding ----------------------------------------------------------------------

struct Binding {
  bool bound;
  int64 key_id;
  text *tenant_id;
  text *owner;
  bool has_set;
  int64 key_set_id;
  ArrayType *permissions;
  // The permissions' elements (nulls left out), split once at bind time: has_permission runs
  // once per row when a policy calls it on a scan.
  std::string_view *perms;
  int nperms;
  SubTransactionId subid;
};
Binding binding;
MemoryContext binding_cxt = nullptr;
uint64 binding_generation = 0;  // counts binds and clears: a memo of an answer is for one binding

void subxact_callback(SubXactEvent event, SubTransactionId sub, SubTransactionId parent, void *) {
  if (!binding.bound || sub != binding.subid) return;
  if (event == SUBXACT_EVENT_ABORT_SUB)
    apikeys::glue::clear_binding();
  else if (event == SUBXACT_EVENT_COMMIT_SUB)
    binding.subid = parent;  // the binding now belongs to the parent
}

}  // namespace

void apikeys::glue::bind(const Verdict &r) {
  if (binding_cxt == nullptr) {
    binding_cxt = AllocSetContextCreate(TopMemoryContext, "apikeys binding", ALLOCSET_SMALL_SIZES);
    RegisterSubXactCallback(subxact_callback, nullptr);
  }
  apikeys::glue::clear_binding();
  MemoryContext old = MemoryContextSwitchTo(binding_cxt);
  binding.tenant_id = DatumGetTextPCopy(PointerGetDatum(r.tenant_id));
  binding.owner = r.owner ? DatumGetTextPCopy(PointerGetDatum(r.owner)) : nullptr;
  binding.permissions = DatumGetArrayTypePCopy(PointerGetDatum(r.permissions));
  binding.perms = text_array_views(binding.permissions, &binding.nperms);
  MemoryContextSwitchTo(old);
  binding.key_id = r.key_id;
  binding.has_set = r.has_set;
  binding.key_set_id = r.key_set_id;
  binding.subid = GetCurrentSubTransactionId();
  binding.bound = true;
  binding_generation++;
}

namespace apikeys::glue {
void clear_binding() {
  binding = Binding{};
  binding_generation++;
  if (binding_cxt) MemoryContextReset(binding_cxt);
}
}  // namespace apikeys::glue

// Checks a presented key; answers with a code and never raises for a bad key.
Datum apikeys_verify(PG_FUNCTION_ARGS) {
  Verdict r;
  verify_key(fcinfo, &r);
  PG_RETURN_DATUM(apikeys::glue::verification_datum(fcinfo, r));
}

// Verifies and, on VALID, binds the key to the transaction; otherwise clears any binding.
Datum apikeys_authenticate(PG_FUNCTION_ARGS) {
  Verdict r;
  verify_key(fcinfo, &r);
  if (r.code[0] == 'V')
    apikeys::glue::bind(r);
  else
    apikeys::glue::clear_binding();
  PG_RETURN_DATUM(apikeys::glue::verification_datum(fcinfo, r));
}

// The bound key's id, or NULL.
Datum apikeys_current_key_id(PG_FUNCTION_ARGS) {
  if (!binding.bound) PG_RETURN_NULL();
  PG_RETURN_INT64(binding.key_id);
}

// The bound key's tenant, or NULL.
Datum apikeys_current_tenant(PG_FUNCTION_ARGS) {
  if (!binding.bound) PG_RETURN_NULL();
  PG_RETURN_TEXT_P(DatumGetTextPCopy(PointerGetDatum(binding.tenant_id)));
}

// The bound key's owner, or NULL (also for a platform key).
Datum apikeys_current_owner(PG_FUNCTION_ARGS) {
  if (!binding.bound || binding.owner == nullptr) PG_RETURN_NULL();
  PG_RETURN_TEXT_P(DatumGetTextPCopy(PointerGetDatum(binding.owner)));
}

// The bound key's key set, or NULL.
Datum apikeys_current_key_set_id(PG_FUNCTION_ARGS) {
  if (!binding.bound || !binding.has_set) PG_RETURN_NULL();
  PG_RETURN_INT64(binding.key_set_id);
}

// The bound key's permissions, or NULL.
Datum apikeys_current_permissions(PG_FUNCTION_ARGS) {
  if (!binding.bound) PG_RETURN_NULL();
  PG_RETURN_ARRAYTYPE_P(DatumGetArrayTypePCopy(PointerGetDatum(binding.permissions)));
}

namespace {
// has_permission's answer for its call site, when the argument cannot change during the
// statement (a constant, as in a policy): computed once per binding, not once per row.
struct PermissionMemo {
  bool stable;        // the argument is a constant or an external parameter
  uint64 generation;  // binding_generation when answer was computed; 0 = none
  bool answer;
};
}  // namespace

// True if a key is bound and one of its permissions covers the given one.
Datum apikeys_has_permission(PG_FUNCTION_ARGS) {
  if (!binding.bound || PG_ARGISNULL(0)) PG_RETURN_BOOL(false);
  auto *memo = static_cast<PermissionMemo *>(fcinfo->flinfo->fn_extra);
  if (memo == nullptr) {
    memo = static_cast<PermissionMemo *>(MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(PermissionMemo)));
    memo->stable = get_fn_expr_arg_stable(fcinfo->flinfo, 0);
    fcinfo->flinfo->fn_extra = memo;
  }
  if (memo->stable && memo->generation == binding_generation) PG_RETURN_BOOL(memo->answer);
  bool answer = core::any_covers(binding.perms, binding.nperms, text_view(PG_GETARG_DATUM(0)));
  if (memo->stable) {
    memo->generation = binding_generation;
    memo->answer = answer;
  }
  PG_RETURN_BOOL(answer);
}
