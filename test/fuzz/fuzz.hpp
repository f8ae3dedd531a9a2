// What the libFuzzer targets share. An input is a selector byte, which picks the property
// to check, followed by the bytes the property is checked on; a property that does not hold
// aborts, so libFuzzer reports it as a crash and keeps the input. Each target is one file
// that includes this header (which defines libFuzzer's entry point) and defines fuzz::run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace apikeys::fuzz {

inline void check(bool ok) {
  if (!ok) std::abort();
}

// Checks the property `selector` picks on `in`.
void run(unsigned selector, std::string_view in);

}  // namespace apikeys::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 0) apikeys::fuzz::run(data[0], std::string_view(reinterpret_cast<const char *>(data) + 1, size - 1));
  return 0;
}
