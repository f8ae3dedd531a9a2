// The binding and the RLS helpers: apikeys.current_key_id, current_tenant, current_owner,
// current_key_set_id, current_permissions and has_permission.
#include "binding.hpp"

extern "C" {
#include "access/xact.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
}

namespace core = apikeys::core;
using apikeys::glue::text_view;
using apikeys::glue::Verdict;

namespace {

struct Binding {
  bool bound;
  int64 key_id;
  text *tenant_id;
  text *owner;
  bool has_set;
  int64 key_set_id;
  ArrayType *permissions;
  // The permissions' elements, split once at bind time: has_permission runs once per row
  // when a policy calls it on a scan.
  std::string_view *perms;
  int nperms;
  SubTransactionId subid;
};
Binding binding;
MemoryContext binding_cxt = nullptr;
uint64 binding_generation = 0;  // counts binds and clears: a memo of an answer is for one binding

void clear_binding() {
  binding = Binding{};
  binding_generation++;
  if (binding_cxt) MemoryContextReset(binding_cxt);
}

void bind(const Verdict &r) {
  if (binding_cxt == nullptr)
    binding_cxt = AllocSetContextCreate(TopMemoryContext, "apikeys binding", ALLOCSET_SMALL_SIZES);
  clear_binding();
  MemoryContext old = MemoryContextSwitchTo(binding_cxt);
  binding.tenant_id = DatumGetTextPCopy(PointerGetDatum(r.tenant_id));
  binding.owner = r.owner ? DatumGetTextPCopy(PointerGetDatum(r.owner)) : nullptr;
  binding.permissions = DatumGetArrayTypePCopy(PointerGetDatum(r.permissions));
  binding.perms = apikeys::glue::text_array_views(binding.permissions, &binding.nperms);
  MemoryContextSwitchTo(old);
  binding.key_id = r.key_id;
  binding.has_set = r.has_set;
  binding.key_set_id = r.key_set_id;
  binding.subid = GetCurrentSubTransactionId();
  binding.bound = true;
  binding_generation++;
}

void xact_callback(XactEvent event, void *) noexcept {
  if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_COMMIT ||
      event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE)
    clear_binding();
}

void subxact_callback(SubXactEvent event, SubTransactionId sub, SubTransactionId parent, void *) noexcept {
  if (!binding.bound || sub != binding.subid) return;
  if (event == SUBXACT_EVENT_ABORT_SUB)
    clear_binding();
  else if (event == SUBXACT_EVENT_COMMIT_SUB)
    binding.subid = parent;  // the binding now belongs to the parent
}

// has_permission's answer for its call site, when the argument cannot change during the
// statement (a constant, as in a policy): computed once per binding, not once per row.
struct PermissionMemo {
  bool stable;        // the argument is a constant or an external parameter
  uint64 generation;  // binding_generation when answer was computed; 0 = none
  bool answer;
};

}  // namespace

namespace apikeys::glue {

void bind_or_clear(const Verdict &v) {
  if (v.valid())
    bind(v);
  else
    clear_binding();
}

void binding_init() {
  RegisterXactCallback(xact_callback, nullptr);
  RegisterSubXactCallback(subxact_callback, nullptr);
}

}  // namespace apikeys::glue

// The bound key's id, or NULL.
APIKEYS_FUNCTION(apikeys_current_key_id) {
  if (!binding.bound) PG_RETURN_NULL();
  PG_RETURN_INT64(binding.key_id);
}

// The bound key's tenant, or NULL.
APIKEYS_FUNCTION(apikeys_current_tenant) {
  if (!binding.bound) PG_RETURN_NULL();
  PG_RETURN_TEXT_P(DatumGetTextPCopy(PointerGetDatum(binding.tenant_id)));
}

// The bound key's owner, or NULL (also for a platform key).
APIKEYS_FUNCTION(apikeys_current_owner) {
  if (!binding.bound || binding.owner == nullptr) PG_RETURN_NULL();
  PG_RETURN_TEXT_P(DatumGetTextPCopy(PointerGetDatum(binding.owner)));
}

// The bound key's key set, or NULL.
APIKEYS_FUNCTION(apikeys_current_key_set_id) {
  if (!binding.bound || !binding.has_set) PG_RETURN_NULL();
  PG_RETURN_INT64(binding.key_set_id);
}

// The bound key's permissions, or NULL.
APIKEYS_FUNCTION(apikeys_current_permissions) {
  if (!binding.bound) PG_RETURN_NULL();
  PG_RETURN_ARRAYTYPE_P(DatumGetArrayTypePCopy(PointerGetDatum(binding.permissions)));
}

// True if a key is bound and one of its permissions covers the given one.
APIKEYS_FUNCTION(apikeys_has_permission) {
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
