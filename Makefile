# apikeys: PGXS build of the C++17 extension, its tests and its tools.
EXTENSION = apikeys
EXTVERSION = 1.2
MODULE_big = apikeys

# sql/schema/*.sql is the current schema, in install order; the install script of the
# current version is made from it. Files 01-19 are data (types, tables), 20-89 behaviour
# (functions, triggers, comments, privileges), 90-99 install-only steps. An update script is
# its hand-written part (sql/upgrade/) followed by the behaviour files, made re-runnable.
SCHEMA_FILES = $(sort $(wildcard sql/schema/*.sql))
SCHEMA_DATA = $(filter sql/schema/0% sql/schema/1%,$(SCHEMA_FILES))
SCHEMA_CODE = $(filter sql/schema/2% sql/schema/3% sql/schema/4% sql/schema/5% sql/schema/6% sql/schema/7% sql/schema/8%,$(SCHEMA_FILES))
DATA = sql/apikeys--1.0.sql sql/apikeys--1.0--1.1.sql
DATA_built = sql/apikeys--$(EXTVERSION).sql sql/apikeys--1.1--1.2.sql

CORE_SRCS = $(wildcard src/core/*.cpp)
GLUE_SRCS = $(wildcard src/glue/*.cpp)
OBJS = $(CORE_SRCS:.cpp=.o) $(GLUE_SRCS:.cpp=.o)

# -MMD -MP: every object depends on the headers it includes (Debian's PGXS tracks none).
PG_CXXFLAGS = -std=c++17 -Wno-register -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
  -fno-strict-aliasing -MMD -MP
# WERROR=1 (CI): warnings are errors, and shadowed names are warnings.
ifeq ($(WERROR),1)
PG_CXXFLAGS += -Werror -Wshadow
endif
SHLIB_LINK = -lcrypto -lstdc++
# SANITIZE=1 (make test-sanitize): AddressSanitizer and UndefinedBehaviorSanitizer in the
# library and the unit tests; the server then needs the runtime preloaded (test/sanitize/run.sh).
SANITIZE_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ifeq ($(SANITIZE),1)
PG_CXXFLAGS += $(SANITIZE_FLAGS)
SHLIB_LINK += $(SANITIZE_FLAGS)
endif

REGRESS = setup verify encoding lifecycle limits purge privileges secrets tokens rls events members allowlists usage reminders parallel upgrade schema
# Each suite brings its own server (run as a non-root user: see test/run-tests.sh).
REGRESS_OPTS = --inputdir=. --temp-instance=tmp_check_regress --temp-config=test/regress.conf
ISOLATION = race_insert_insert race_activate_activate race_insert_activate race_delete_set race_key_sets race_owner lock_order tenant_switch members_demote members_switch reminders_race revocation_rr
ISOLATION_OPTS = --inputdir=test/isolation --outputdir=output_iso --temp-instance=tmp_check_iso --temp-config=test/regress.conf
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

PG_CONFIG ?= pg_config
# Debian's PGXS would also compile every .cpp to LLVM bitcode with clang and without
# PG_CXXFLAGS; the extension gains nothing from JIT inlining, so bitcode is off.
override with_llvm = no
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

-include $(OBJS:.o=.d)

SCRIPT_HEADER = printf '%s\n' '\echo Use "$(1)" to load this file. \quit'

sql/apikeys--$(EXTVERSION).sql: $(SCHEMA_FILES)
	( $(call SCRIPT_HEADER,CREATE EXTENSION apikeys); cat $^ ) > $@

# The hand-written part, the comments of the data files, then the behaviour files with
# CREATE OR REPLACE (functions keep their oids and grants).
sql/apikeys--1.1--1.2.sql: sql/upgrade/1.1--1.2.sql $(SCHEMA_FILES) $(SCHEMA_CODE) $(wildcard sql/upgrade/1.1--1.2-after.sql)
	( $(call SCRIPT_HEADER,ALTER EXTENSION apikeys UPDATE TO '\''1.2'\''); \
	  awk '/^-- include: / { f = "sql/schema/" $$3; while ((getline l < f) > 0) print l; close(f); next } { print }' \
	    sql/upgrade/1.1--1.2.sql; \
	  awk '/^COMMENT ON /{on=1} on{print} on && /;[ \t]*$$/{on=0}' $(SCHEMA_DATA); \
	  sed -e 's/^CREATE FUNCTION /CREATE OR REPLACE FUNCTION /' -e 's/^CREATE TRIGGER /CREATE OR REPLACE TRIGGER /' \
	    $(SCHEMA_CODE); \
	  if [ -f sql/upgrade/1.1--1.2-after.sql ]; then cat sql/upgrade/1.1--1.2-after.sql; fi ) > $@

# ---- core unit tests (GoogleTest), no PostgreSQL needed --------------------------------
UNIT_SRCS = $(wildcard test/unit/*.cpp)
test/unit/run_unit: $(UNIT_SRCS) $(CORE_SRCS) $(wildcard src/core/*.hpp)
	$(CXX) -std=c++17 -O2 -g -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror -Wshadow) $(if $(filter 1,$(SANITIZE)),$(SANITIZE_FLAGS)) \
	  -o $@ $(UNIT_SRCS) $(CORE_SRCS) \
	  -lgtest -lgtest_main -lcrypto -pthread

.PHONY: unit format format-check test
# The redaction's cost per log line (docs/security.md).
test/bench/redact: test/bench/redact.cpp src/core/redact.cpp src/core/redact.hpp
	$(CXX) -std=c++17 -O2 -o $@ test/bench/redact.cpp src/core/redact.cpp
bench-redact: test/bench/redact
	test/bench/redact

unit: test/unit/run_unit
	test/unit/run_unit

# clang-format over every C++ file; format-check fails on any difference (CI runs it).
FORMAT_FILES = $(wildcard src/core/*.cpp src/core/*.hpp src/glue/*.cpp src/glue/*.hpp test/unit/*.cpp test/fuzz/*.cpp test/fuzz/*.hpp)
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

# ---- fuzzing the core (libFuzzer with ASan and UBSan; clang) ----------------------------
# `make fuzz` builds every target test/fuzz/fuzz_<name>.cpp (token, key, permission, redact,
# net) and runs them one after the other, each for FUZZ_SECONDS (60) from its seeds in
# test/fuzz/corpus/<name>; new inputs go to test/fuzz/run_work/<name> and crashes to
# test/fuzz/run_work/<name>-crash-* (both ignored by git). FUZZ_TARGETS="key net" runs some.
# Every target runs even when one fails; the exit status is a failure if any did. Never part
# of `make test`.
FUZZ_SECONDS ?= 60
FUZZ_CXX ?= clang++
FUZZ_ALL = $(patsubst test/fuzz/fuzz_%.cpp,%,$(wildcard test/fuzz/fuzz_*.cpp))
FUZZ_TARGETS ?= $(FUZZ_ALL)
test/fuzz/run_%: test/fuzz/fuzz_%.cpp test/fuzz/fuzz.hpp $(CORE_SRCS) $(wildcard src/core/*.hpp)
	$(FUZZ_CXX) -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -o $@ $< $(CORE_SRCS) -lcrypto

.PHONY: fuzz
fuzz: $(FUZZ_TARGETS:%=test/fuzz/run_%)
	@failed=; for t in $(FUZZ_TARGETS); do \
	  mkdir -p test/fuzz/run_work/$$t; \
	  echo "== fuzz_$$t for $(FUZZ_SECONDS) s"; \
	  test/fuzz/run_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=test/fuzz/run_work/$$t- test/fuzz/run_work/$$t test/fuzz/corpus/$$t || failed="$$failed $$t"; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: failed:$$failed (see test/fuzz/run_work/)"; exit 1; fi

# Every test on a throwaway cluster (see README): run as root or as a normal user.
test:
	bash test/run-tests.sh

# Every test again with ASan and UBSan in the library and the unit tests, on a clean copy of
# the tree (test/sanitize/run.sh; slow: not part of `make test`). Reinstalls the plain build after.
.PHONY: test-sanitize
test-sanitize:
	bash test/sanitize/run.sh

# SQL-level fuzzing: sqlsmith for SQLSMITH_SECONDS (1200) against a database with keys,
# tokens, members and RLS policies (test/sqlsmith/run.sh; not part of `make test`).
.PHONY: sqlsmith
sqlsmith:
	bash test/sqlsmith/run.sh

# ---- benchmarks (docs/benchmarks.md); never part of `make test` or CI -------------------
# `make bench`: every hot path against the physical floor on a throwaway cluster (BENCH_KEYS,
# BENCH_SECONDS, BENCH_REPS, BENCH_CLIENTS, BENCH_PAGES="huge 4k", BENCH_VARIANTS, BENCH_SCALE=1|10M);
# results in test/bench/results/.
# `make bench-profile`: instructions per verify call and per statement under callgrind.
.PHONY: bench bench-profile
bench:
	bash test/bench/run.sh

bench-profile:
	bash test/bench/profile.sh

# `make bench-timing`: whether verify's answer time tells that a client id exists (the
# security review's finding 7; BENCH_KEYS=1000000): see test/bench/timing.sh.
.PHONY: bench-timing
bench-timing:
	bash test/bench/timing.sh

# ---- packaging -----------------------------------------------------------------------------
# `make dist`: the archive PGXN takes (apikeys-<version>.zip of the committed tree).
# `make package`: the Debian package built in a clean clone, installed, and its regression
# suite run against the installed files (test/package.sh; slow: not part of `make test`).
DIST_VERSION = $(shell sed -n 's/^ *"version": *"\([0-9.]*\)".*/\1/p' META.json | head -n 1)
.PHONY: dist package
dist:
	git archive --format zip --prefix=apikeys-$(DIST_VERSION)/ -o apikeys-$(DIST_VERSION).zip HEAD
package:
	bash test/package.sh

EXTRA_CLEAN = test/bench/redact apikeys-*.zip test/unit/run_unit $(FUZZ_ALL:%=test/fuzz/run_%) test/fuzz/run_work results regression.diffs regression.out \
  output_iso tmp_check tmp_check_regress tmp_check_iso log $(OBJS:.o=.d)
