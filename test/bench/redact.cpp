// make bench-redact: the cost of the log redaction per line, in nanoseconds: a typical log
// line without a candidate (one scan), and the same line with a key, a token and bind
// parameters (scan, size, copy). The redaction hook runs this for each field of a report.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "../../src/core/redact.hpp"

using namespace apikeys::core;

namespace {
double ns_per_call(const std::string &line, bool rewrite, int n) {
  std::vector<char> out(line.size() * 2 + 64);
  volatile size_t sink = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; i++) {
    if (!has_secret(line)) continue;
    if (rewrite) sink = sink + redact(line, out.data());
  }
  auto t1 = std::chrono::steady_clock::now();
  (void)sink;
  return std::chrono::duration<double, std::nano>(t1 - t0).count() / n;
}
}  // namespace

int main() {
  const int n = 2000000;
  std::string plain =
      "2026-12-01 12:00:00.000 UTC [4242] app@db LOG:  duration: 0.123 ms  execute <unnamed>: SELECT valid, code, "
      "tenant_id, owner, permissions FROM apikeys.verify($1, '{reports:read}', $2)";
  std::string with_key = plain + " DETAIL:  parameters: $1 = 'ak_3x9Kq2mP7wZ1bC4dAbCdEfGhIjKlMnOpQrStUv12345', $2 = "
                                 "'203.0.113.7'";
  std::string with_token =
      plain + " Bearer eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJzdWIiOiI0MiJ9.dBjftJeZ4CVP-mB92K27uhbUJU1p1r";
  std::printf("line without a candidate (%zu bytes): %.0f ns\n", plain.size(), ns_per_call(plain, true, n));
  std::printf("line with a key (%zu bytes): %.0f ns\n", with_key.size(), ns_per_call(with_key, true, n));
  std::printf("line with a token (%zu bytes): %.0f ns\n", with_token.size(), ns_per_call(with_token, true, n));
  return 0;
}
