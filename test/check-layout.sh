#!/usr/bin/env bash
# Checks the glue's includes against CONTRIBUTING.md's "Who may include whom" list, and
# that every glue .cpp has its own header (module.cpp, limits.cpp and permissions.cpp
# included) and includes it first. Prints each violation; exits 1 if there is one.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
declare -A allowed
while read -r line; do
  name=${line%%:*}
  allowed[$name]=" ${line#*:} "
done < <(sed -n '/^```layout$/,/^```$/p' "$root/CONTRIBUTING.md" | grep -v '^```')
bad=0
for f in "$root"/src/glue/*.cpp "$root"/src/glue/*.hpp; do
  base=$(basename "$f")
  name=${base%.*}
  if [ -z "${allowed[$name]+x}" ]; then
    echo "layout: $base is not in CONTRIBUTING.md's list"
    bad=1
    continue
  fi
  for inc in $(sed -n 's/^#include "\([^"]*\)\.hpp"$/\1/p' "$f"); do
    dep=$(basename "$inc")
    [ "$dep" = "$name" ] && continue
    case "$inc" in ../core/*) continue ;; esac  # the core is below every glue file
    if [[ "${allowed[$name]}" != *" $dep "* ]]; then
      echo "layout: $base includes $inc, which CONTRIBUTING.md does not allow"
      bad=1
    fi
  done
done
for f in "$root"/src/glue/*.cpp; do
  name=$(basename "$f" .cpp)
  [ "$name" = module ] && continue
  if [ ! -f "$root/src/glue/$name.hpp" ]; then
    echo "layout: src/glue/$name.cpp has no header"
    bad=1
  elif [ "$(grep -m1 '^#include' "$f")" != "#include \"$name.hpp\"" ]; then
    echo "layout: src/glue/$name.cpp does not include its own header first"
    bad=1
  fi
done
exit $bad
