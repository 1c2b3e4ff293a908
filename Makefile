# txguard build.  `make` builds ./txguard; `make test` runs every test
# (unit, analyzer fixtures, fuzz corpus replay, end-to-end, the oracle);
# `make check` runs check-headers and style, then every test again with
# ASan+UBSan in build/san/; `make fuzz` runs the fuzz targets and random
# oracle cases for a bounded time.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DESTDIR ?=
PKG_CONFIG ?= pkg-config
CC ?= cc
DEPS := libgit2 tree-sitter jansson

# SANITIZE=1 builds everything into build/san with ASan and UBSan.
ifeq ($(SANITIZE),1)
VARIANT := san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
CFLAGS ?= -O1 -g
else
VARIANT := release
SANFLAGS :=
CFLAGS ?= -O2 -g
endif
ifeq ($(DEVELOPER),1)
WARN_EXTRA := -Werror -Wdeclaration-after-statement -Wstrict-prototypes \
	-Wmissing-prototypes -Wvla -Wwrite-strings -Wformat-security -Wshadow
endif

# BUILD lets several checkouts or developers build side by side.
BUILD ?= build
B := $(BUILD)/$(VARIANT)
override CFLAGS += -std=c11 -Wall -Wextra $(WARN_EXTRA) $(SANFLAGS) -Iinclude \
	$(shell $(PKG_CONFIG) --cflags $(DEPS))
override LDFLAGS += $(SANFLAGS)
LDLIBS += $(shell $(PKG_CONFIG) --libs $(DEPS)) -lpthread

# The grammar: fetched and verified by scripts/fetch-grammar.sh, or taken
# from an unpacked copy named by TREE_SITTER_PYTHON_DIR.
ifdef TREE_SITTER_PYTHON_DIR
GRAMMAR_DIR := $(TREE_SITTER_PYTHON_DIR)
GRAMMAR_STAMP := $(GRAMMAR_DIR)/src/parser.c
else
GRAMMAR_DIR := build/grammar
GRAMMAR_STAMP := $(GRAMMAR_DIR)/.verified
endif

# The TOML grammar (pyproject.toml), fetched and verified the same way.
TOML_GRAMMAR_DIR := build/grammar-toml
TOML_GRAMMAR_STAMP := $(TOML_GRAMMAR_DIR)/.verified

VERSION := $(shell cat VERSION)
LIB_SRC := $(filter-out src/main.c src/tlsinit.c,$(wildcard src/*.c))
LIB_OBJ := $(LIB_SRC:src/%.c=$(B)/src/%.o)
GRAMMAR_OBJ := $(B)/grammar/parser.o $(B)/grammar/scanner.o \
	$(B)/grammar-toml/parser.o $(B)/grammar-toml/scanner.o
LIB := $(B)/libtxguard.a
# tlsinit.o must be linked directly: it only replaces a symbol libgit2
# looks up, so an archive would never pull it in.
MAIN_OBJ := $(B)/src/main.o $(B)/src/tlsinit.o

UNIT_SRC := $(wildcard test/unit/t-*.c)
UNIT_BIN := $(UNIT_SRC:test/unit/%.c=$(B)/test/%)
# scratch repositories for the unit tests (test/helper/testrepo.h)
UNIT_HELPER_OBJ := $(B)/test/helper/testrepo.o

ifeq ($(VARIANT)$(BUILD),releasebuild)
TXGUARD_BIN := txguard
else
TXGUARD_BIN := $(B)/txguard
endif
TGTEST_BIN := $(B)/tg-test

all: $(TXGUARD_BIN) $(TGTEST_BIN)

$(GRAMMAR_DIR)/.verified: grammar.lock scripts/fetch-grammar.sh
	sh scripts/fetch-grammar.sh $(GRAMMAR_DIR)

$(B)/grammar/%.o: $(GRAMMAR_STAMP)
	@mkdir -p $(@D)
	$(CC) $(filter-out -Wall -Wextra $(WARN_EXTRA),$(CFLAGS)) -w \
		-I$(GRAMMAR_DIR)/src -c $(GRAMMAR_DIR)/src/$*.c -o $@

$(TOML_GRAMMAR_STAMP): grammar-toml.lock scripts/fetch-grammar.sh
	sh scripts/fetch-grammar.sh $(TOML_GRAMMAR_DIR) grammar-toml.lock

$(B)/grammar-toml/%.o: $(TOML_GRAMMAR_STAMP)
	@mkdir -p $(@D)
	$(CC) $(filter-out -Wall -Wextra $(WARN_EXTRA),$(CFLAGS)) -w \
		-I$(TOML_GRAMMAR_DIR)/src -c $(TOML_GRAMMAR_DIR)/src/$*.c -o $@

$(B)/src/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -DTG_VERSION='"$(VERSION)"' -MMD -MP -c $< -o $@

$(B)/test/%.o: test/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ) $(GRAMMAR_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(TXGUARD_BIN): $(MAIN_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(MAIN_OBJ) $(LIB) $(LDLIBS)

$(TGTEST_BIN): $(B)/test/helper/tg-test.o $(B)/src/tlsinit.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/test/t-%: $(B)/test/unit/t-%.o $(UNIT_HELPER_OBJ) $(B)/src/tlsinit.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell $(PKG_CONFIG) --libs cmocka)

unit: $(UNIT_BIN)

# The SARIF schema the tests validate against: fetched and verified here,
# never by the tests themselves.
SARIF_SCHEMA_FILE := build/sarif/sarif-schema-2.1.0.json
$(SARIF_SCHEMA_FILE): test/sarif/schema.lock test/sarif/fetch-schema.sh
	sh test/sarif/fetch-schema.sh build/sarif >/dev/null && touch $@
sarif-schema: $(SARIF_SCHEMA_FILE)

# make test: every suite of test/run.sh (TESTS= names some); prints
# "N passed, N failed".
test: all unit fuzz-replay-build $(SARIF_SCHEMA_FILE)
	@TXGUARD=$(abspath $(TXGUARD_BIN)) TG_TEST=$(abspath $(TGTEST_BIN)) \
		UNIT_BINS="$(abspath $(UNIT_BIN))" FUZZ_DIR=$(abspath $(FB)) \
		FUZZ_TARGETS="$(FUZZ_TARGETS)" sh test/run.sh $(TESTS)

# make check: the headers and the style of the change, then the whole
# suite again under ASan+UBSan.
check: check-headers style
	$(MAKE) SANITIZE=1 test

install: $(TXGUARD_BIN)
	install -D -m 755 $(TXGUARD_BIN) '$(DESTDIR)$(BINDIR)/txguard'

uninstall:
	rm -f '$(DESTDIR)$(BINDIR)/txguard'

demo: $(TXGUARD_BIN)
	@sh scripts/demo.sh $(abspath $(TXGUARD_BIN))

$(B)/floor: $(B)/test/bench/floor.o $(B)/src/tlsinit.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench: all $(B)/floor
	@sh test/bench/check.sh $(abspath $(TXGUARD_BIN))
	@sh test/bench/scan.sh $(abspath $(TXGUARD_BIN)) $(abspath $(B)/floor)

# make style: the C lines changed since STYLE_BASE (default: where HEAD
# leaves main, or HEAD itself on main), committed or not, must be as
# clang-format (.clang-format) makes them; prints the difference
# otherwise. The rest of the tree is not checked, and nothing is
# rewritten: `git clang-format STYLE_BASE` fixes the lines reported.
STYLE_BASE ?= $(shell git merge-base HEAD main 2>/dev/null || echo HEAD)
style:
	@git rev-parse --git-dir >/dev/null 2>&1 || \
		{ echo "style: not a git checkout: nothing to compare"; exit 0; }; \
	command -v git-clang-format >/dev/null || \
		{ echo "style: git-clang-format is missing (Debian: clang-format)"; exit 1; }; \
	out=$$(git clang-format --diff --extensions c,h $(STYLE_BASE) -- \
		src include test) || { printf "%s\n" "$$out"; exit 1; }; \
	case $$out in \
	"no modified files to format"|"clang-format did not modify any files"|"") \
		echo "style: the lines changed since $(STYLE_BASE) are formatted" ;; \
	*) printf "%s\n" "$$out"; \
		echo "style: run 'git clang-format $(STYLE_BASE)' to format them"; \
		exit 1 ;; \
	esac

check-headers:
	@for h in include/txguard/*.h; do \
		echo "#include \"txguard/$$(basename $$h)\"" | \
		$(CC) $(CFLAGS) -x c -fsyntax-only - || exit 1; \
	done

clean:
	rm -rf build txguard

# keep test objects: they are intermediate files of the t-% rule
.SECONDARY:

.PHONY: all unit test sarif-schema check install uninstall demo bench style check-headers clean

-include $(wildcard $(B)/src/*.d $(B)/test/*/*.d)
include test/fuzz/fuzz.mk
