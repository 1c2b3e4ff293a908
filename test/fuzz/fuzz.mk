# test/fuzz/fuzz.mk: libFuzzer targets and their corpus replayers.
#
# Included by the top-level Makefile after its own variables (B, CC,
# CFLAGS, LDFLAGS, LDLIBS, LIB, LIB_SRC, DEPS, PKG_CONFIG, GRAMMAR_DIR,
# GRAMMAR_STAMP, VERSION) and rules are defined.
#
#   make fuzz-build    libFuzzer binaries in $(B)/fuzz/ (clang, ASan+UBSan)
#   make fuzz          run each for FUZZ_SECONDS, then random oracle cases
#                      (test/oracle/) for ORACLE_SECONDS; fails if a
#                      target crashes or a case disagrees
#   make fuzz-replay   replay the seeds and test/fuzz/regress/ through the
#                      standalone replayers (normal CC; TAP output)
#   make fuzz-hostile  deep nesting and 20 MB inputs through the replayer

# every test/fuzz/fuzz-NAME.c is a target (baseline lands with baseline.h)
FUZZ_TARGETS := $(patsubst test/fuzz/fuzz-%.c,%,$(wildcard test/fuzz/fuzz-*.c))
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_CFLAGS ?= -O1 -g
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
# The library is compiled again, with coverage and the sanitizers, but
# without libFuzzer's main (fuzzer-no-link); the grammar too, so that
# overruns in the generated lexer and scanner are caught.
FUZZ_ALL_CFLAGS = $(FUZZ_CFLAGS) -std=c11 -Wall -Wextra $(FUZZ_SAN) \
	-fsanitize=fuzzer-no-link -Iinclude \
	$(shell $(PKG_CONFIG) --cflags $(DEPS))

FB := $(B)/fuzz
FUZZ_LIB_OBJ := $(LIB_SRC:src/%.c=$(FB)/obj/src/%.o)
FUZZ_GRAMMAR_OBJ := $(FB)/obj/grammar/parser.o $(FB)/obj/grammar/scanner.o \
	$(FB)/obj/grammar-toml/parser.o $(FB)/obj/grammar-toml/scanner.o
FUZZ_LIB := $(FB)/libtxguard-fuzz.a
FUZZ_BIN := $(FUZZ_TARGETS:%=$(FB)/fuzz-%)
REPLAY_BIN := $(FUZZ_TARGETS:%=$(FB)/replay/fuzz-%)

$(FB)/obj/src/%.o: src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_ALL_CFLAGS) -DTG_VERSION='"$(VERSION)"' -MMD -MP \
		-c $< -o $@

$(FB)/obj/grammar/%.o: $(GRAMMAR_STAMP)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(filter-out -Wall -Wextra,$(FUZZ_ALL_CFLAGS)) -w \
		-I$(GRAMMAR_DIR)/src -c $(GRAMMAR_DIR)/src/$*.c -o $@

$(FB)/obj/grammar-toml/%.o: $(TOML_GRAMMAR_STAMP)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(filter-out -Wall -Wextra,$(FUZZ_ALL_CFLAGS)) -w \
		-I$(TOML_GRAMMAR_DIR)/src -c $(TOML_GRAMMAR_DIR)/src/$*.c -o $@

$(FB)/obj/test/fuzz/%.o: test/fuzz/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_ALL_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_LIB): $(FUZZ_LIB_OBJ) $(FUZZ_GRAMMAR_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

# An archive, so that each target pulls in only the modules it uses.
$(FB)/fuzz-%: $(FB)/obj/test/fuzz/fuzz-%.o $(FB)/obj/src/tlsinit.o $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# The replayer: the same target with the project's CC and flags (so
# SANITIZE=1 gives an ASan+UBSan replayer in build/san/fuzz/replay/).
$(FB)/replay/fuzz-%: $(B)/test/fuzz/fuzz-%.o $(B)/test/fuzz/standalone.o \
		$(B)/src/tlsinit.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

fuzz-build: $(FUZZ_BIN)

fuzz-replay-build: $(REPLAY_BIN)

# The bounded run, as in CI: each target on a copy of the seeds in
# $(FB)/corpus/, crashes in $(FB)/crashes/; then the oracle on random
# seeds (each failure prints its seed and how to replay it).
ORACLE_SECONDS ?= $(FUZZ_SECONDS)
fuzz: fuzz-build fuzz-oracle
	@sh test/fuzz/run.sh $(FB) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-oracle: $(TXGUARD_BIN)
	@TXGUARD=$(abspath $(TXGUARD_BIN)) \
		sh test/oracle/run.sh --random $(ORACLE_SECONDS)

fuzz-replay: fuzz-replay-build
	@sh test/fuzz/replay.sh $(FB) $(FUZZ_TARGETS)

fuzz-hostile: fuzz-replay-build
	@sh test/fuzz/hostile.sh $(FB)

.PHONY: fuzz fuzz-build fuzz-oracle fuzz-replay fuzz-replay-build fuzz-hostile
.PRECIOUS: $(FB)/obj/%.o $(B)/test/fuzz/%.o

-include $(wildcard $(FB)/obj/src/*.d $(FB)/obj/test/fuzz/*.d)
