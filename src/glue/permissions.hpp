// Permissions in SQL: the grammar check and the coverage rule of the core, for arrays.
#pragma once

#include "boundary.hpp"

namespace apikeys::glue {

// True if every required permission (non-null) is covered by one of the granted ones.
bool covers_all(ArrayType *granted, ArrayType *required);

}  // namespace apikeys::glue
