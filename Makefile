# apikeys: PGXS build of the C++17 extension, its tests and its tools.
EXTENSION = apikeys
MODULE_big = apikeys
DATA = $(wildcard sql/apikeys--*.sql)

CORE_SRCS = $(wildcard src/core/*.cpp)
GLUE_SRCS = $(wildcard src/glue/*.cpp)
OBJS = $(CORE_SRCS:.cpp=.o) $(GLUE_SRCS:.cpp=.o)

PG_CXXFLAGS = -std=c++17 -Wno-register -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -fno-strict-aliasing
SHLIB_LINK = -lcrypto -lstdc++

REGRESS = setup verify encoding lifecycle privileges secrets rls events
# Each suite brings its own server (run as a non-root user: see test/run-tests.sh).
REGRESS_OPTS = --inputdir=. --temp-instance=tmp_check_regress --temp-config=test/regress.conf
ISOLATION =
ISOLATION_OPTS = --inputdir=test/isolation --outputdir=output_iso --temp-instance=tmp_check_iso --temp-config=test/regress.conf
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

PG_CONFIG ?= pg_config
# Debian's PGXS would also compile every .cpp to LLVM bitcode with clang and without
# PG_CXXFLAGS; the extension gains nothing from JIT inlining, so bitcode is off.
override with_llvm = no
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# ---- core unit tests (GoogleTest), no PostgreSQL needed --------------------------------
UNIT_SRCS = $(wildcard test/unit/*.cpp)
test/unit/run_unit: $(UNIT_SRCS) $(CORE_SRCS) $(wildcard src/core/*.hpp)
	$(CXX) -std=c++17 -O2 -g -Wall -Wextra -o $@ $(UNIT_SRCS) $(CORE_SRCS) -lgtest -lgtest_main -lcrypto -pthread

.PHONY: unit format test
unit: test/unit/run_unit
	test/unit/run_unit

format:
	clang-format -i src/core/*.cpp src/core/*.hpp src/glue/*.cpp src/glue/*.hpp test/unit/*.cpp

# Every test on a throwaway cluster (see README): run as root or as a normal user.
test:
	bash test/run-tests.sh

EXTRA_CLEAN = test/unit/run_unit results regression.diffs regression.out output_iso tmp_check tmp_check_regress tmp_check_iso log
