# apikeys: PGXS build of the C++17 extension, its tests and its tools.
EXTENSION = apikeys
MODULE_big = apikeys
DATA = $(wildcard sql/apikeys--*.sql)

CORE_SRCS = $(wildcard src/core/*.cpp)
GLUE_SRCS = $(wildcard src/glue/*.cpp)
OBJS = $(CORE_SRCS:.cpp=.o) $(GLUE_SRCS:.cpp=.o)

PG_CXXFLAGS = -std=c++17 -Wno-register -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -fno-strict-aliasing
SHLIB_LINK = -lcrypto -lstdc++

REGRESS = setup verify encoding lifecycle limits purge privileges secrets tokens rls events upgrade
# Each suite brings its own server (run as a non-root user: see test/run-tests.sh).
REGRESS_OPTS = --inputdir=. --temp-instance=tmp_check_regress --temp-config=test/regress.conf
ISOLATION = race_insert_insert race_activate_activate race_insert_activate race_delete_set race_key_sets race_owner lock_order tenant_switch
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

# ---- fuzzing the token core (libFuzzer with ASan and UBSan; clang) ----------------------
# `make fuzz` runs for FUZZ_SECONDS (60) from the seeds in test/fuzz/corpus/token; new inputs
# go to test/fuzz/run_work/token and crashes to test/fuzz/run_work/crash-* (both ignored by
# git). Never part of `make test`.
FUZZ_SECONDS ?= 60
FUZZ_CXX ?= clang++
test/fuzz/run_token: test/fuzz/fuzz_token.cpp $(CORE_SRCS) $(wildcard src/core/*.hpp)
	$(FUZZ_CXX) -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -o $@ test/fuzz/fuzz_token.cpp $(CORE_SRCS) -lcrypto

.PHONY: fuzz
fuzz: test/fuzz/run_token
	mkdir -p test/fuzz/run_work/token
	test/fuzz/run_token -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=test/fuzz/run_work/ \
	  test/fuzz/run_work/token test/fuzz/corpus/token

# Every test on a throwaway cluster (see README): run as root or as a normal user.
test:
	bash test/run-tests.sh

# ---- benchmarks (README, "Benchmarks"); never part of `make test` or CI -------------------
# `make bench`: every hot path against the physical floor on a throwaway cluster (BENCH_KEYS,
# BENCH_SECONDS, BENCH_REPS, BENCH_CLIENTS, BENCH_SCALE=1|10M); results in test/bench/results/.
# `make bench-profile`: instructions per verify call and per statement under callgrind.
.PHONY: bench bench-profile
bench:
	bash test/bench/run.sh

bench-profile:
	bash test/bench/profile.sh

EXTRA_CLEAN = test/unit/run_unit test/fuzz/run_token test/fuzz/run_work results regression.diffs regression.out output_iso tmp_check tmp_check_regress tmp_check_iso log
