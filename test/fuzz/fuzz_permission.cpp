// libFuzzer target for the permission grammar and matching (make fuzz). The first input
// byte picks a property, the rest is the input (any bytes: invalid UTF-8, NULs); a violated
// property aborts:
//   0: valid_permission agrees with a reference written from the grammar (core.hpp: "*", or
//      segments of 1-64 of [a-z0-9_.-] joined by ':', the last of two or more may be "*", at
//      most 128 characters);
//   1: permission_covers of two permissions (the input cut at its first newline): every
//      permission covers itself, "*" covers everything, "r:*" covers exactly what starts
//      with "r:" and is longer, a permission without a wildcard covers only itself; and
//      covering is transitive;
//   2: any_covers of a list (the input cut at newlines, the last part required; an empty
//      part stands for a SQL NULL) is the OR of permission_covers over the non-null entries;
//   3: the same on huge strings (the input repeated to 16 KiB): no crash, nothing valid.
#include "../../src/core/core.hpp"
#include "fuzz.hpp"

#include <string>
#include <vector>

using namespace apikeys::core;
using apikeys::fuzz::check;

namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    size_t at = s.find(sep, start);
    parts.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return parts;
    start = at + 1;
  }
}

bool ref_segment(std::string_view seg) {
  if (seg.empty() || seg.size() > 64) return false;
  for (char c : seg)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')) return false;
  return true;
}

bool ref_valid(std::string_view p) {
  if (p == "*") return true;
  if (p.size() > kMaxPermissionLen) return false;
  std::vector<std::string_view> segs = split(p, ':');
  for (size_t i = 0; i < segs.size(); i++)
    if (!ref_segment(segs[i]) && !(i > 0 && i + 1 == segs.size() && segs[i] == "*")) return false;
  return true;
}

bool starts_with(std::string_view s, std::string_view with) { return s.substr(0, with.size()) == with; }
bool wildcard(std::string_view p) { return p.size() >= 2 && p.substr(p.size() - 2) == ":*"; }

// The properties of one valid permission.
void check_valid(std::string_view p) {
  check(p.size() <= kMaxPermissionLen && !p.empty());
  for (size_t i = 0; i < p.size(); i++) {
    char c = p[i];
    bool allowed = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-' || c == ':';
    // '*' only at the end: the whole permission, or after ':'.
    check(allowed || (c == '*' && i + 1 == p.size() && (i == 0 || p[i - 1] == ':')));
  }
  check(p.front() != ':' && p.back() != ':' && p.find("::") == std::string_view::npos);
}

void check_covers(std::string_view g, std::string_view r) {
  bool covers = permission_covers(g, r);
  check(permission_covers(g, g) && permission_covers(r, r));
  check(permission_covers("*", g) && permission_covers("*", r));
  if (g == "*") check(covers);
  if (wildcard(g)) {
    std::string_view stem = g.substr(0, g.size() - 1);  // "r:"
    check(covers == (r.size() > stem.size() && starts_with(r, stem)));
    // "r:*" does not cover "r", and covers anything longer under it.
    check(!permission_covers(g, g.substr(0, g.size() - 2)) || g.substr(0, g.size() - 2) == "*");
    if (covers) check(permission_covers(g, std::string(r) + ":x") && permission_covers(g, std::string(r) + "*"));
  } else if (g != "*") {
    check(covers == (g == r));
  }
  // A valid permission other than "*" is covered by "*" and by nothing narrower that is not
  // one of its wildcard ancestors.
  if (valid_permission(g) && valid_permission(r) && covers && g != r)
    check(g == "*" || (wildcard(g) && starts_with(r, g.substr(0, g.size() - 1))));
  // Transitive, through the stems of r ("a:*" for "a:b:c", then "a:b:*").
  std::string via;
  for (size_t colon = r.find(':'); colon != std::string_view::npos; colon = r.find(':', colon + 1)) {
    via.assign(r.substr(0, colon + 1)).push_back('*');
    if (permission_covers(g, via) && permission_covers(via, r)) check(covers);
  }
}

void check_list(std::string_view in) {
  std::vector<std::string_view> parts = split(in, '\n');
  std::string_view required = parts.back();
  parts.pop_back();
  bool expected = false;
  for (std::string_view &p : parts) {
    if (p.empty())
      p = std::string_view();  // a SQL NULL: data() is null
    else if (permission_covers(p, required))
      expected = true;
  }
  check(any_covers(parts.data(), parts.size(), required) == expected);
  check(!any_covers(nullptr, 0, required));
  // With "*" appended, everything is covered.
  parts.push_back("*");
  check(any_covers(parts.data(), parts.size(), required));
}

}  // namespace

void apikeys::fuzz::run(unsigned selector, std::string_view in) {
  switch (selector % 4) {
    case 0: {
      bool valid = valid_permission(in);
      check(valid == ref_valid(in));
      if (valid) check_valid(in);
      break;
    }
    case 1: {
      size_t nl = in.find('\n');
      std::string_view g = in.substr(0, nl), r = nl == std::string_view::npos ? "" : in.substr(nl + 1);
      check_covers(g, r);
      check_covers(r, g);
      break;
    }
    case 2:
      check_list(in);
      break;
    case 3: {
      if (in.empty()) break;
      std::string huge;
      huge.reserve(1 << 14);
      while (huge.size() + in.size() <= (1 << 14)) huge.append(in);
      check(!valid_permission(huge) || huge.size() <= kMaxPermissionLen);
      check(permission_covers(huge, huge) && permission_covers("*", huge));
      std::string wild = huge + ":*";
      check(permission_covers(wild, huge + ":" + std::string(in)));
      check(!permission_covers(wild, huge) || huge == "*");
      std::string_view list[] = {huge, std::string_view(), wild};
      check(any_covers(list, 3, huge));
      break;
    }
  }
}
