# zonedev build. `make` builds the library and CLI, `make demo` runs the demo,
# `make check` builds and runs every test with prove.
# SANITIZE=address,undefined or SANITIZE=thread builds into a separate tree.

CC      ?= gcc
SANITIZE ?=
comma   := ,
BUILD   := build$(if $(SANITIZE),-$(subst $(comma),-,$(SANITIZE)))

CFLAGS_BASE := -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
               -Wmissing-prototypes -Wstrict-prototypes -g -O2 -fPIC -pthread \
               -D_GNU_SOURCE -Iinclude -Isrc -MMD -MP
ifneq ($(SANITIZE),)
CFLAGS_BASE += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -O1
LDSAN       := -fsanitize=$(SANITIZE)
endif
CFLAGS  += $(CFLAGS_BASE)
LDLIBS  := -pthread -lm $(LDSAN)

LIB_SRCS  := $(sort $(wildcard src/*/*.c src/*/*/*.c))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
CLI_SRCS  := $(sort $(wildcard tools/zonedev/*.c))
CLI_OBJS  := $(CLI_SRCS:%.c=$(BUILD)/%.o)
TEST_SRCS := $(sort $(wildcard tests/t_*.c))
TEST_BINS := $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
TESTLIB   := $(BUILD)/tests/tap.o $(BUILD)/tests/helpers.o
.SECONDARY: $(TESTLIB)
include tests/fuzz/fuzz.mk

all: deps $(BUILD)/libzonedev.a $(BUILD)/libzonedev.so $(BUILD)/zonedev zonedev

# The CLI needs libyaml; on Debian the Makefile installs it when run as root,
# otherwise it says exactly what is missing.
deps:
	@if [ ! -f /usr/include/yaml.h ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing libyaml-dev (needed by the CLI)"; \
	    (apt-get install -y -q libyaml-dev >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null && apt-get install -y -q libyaml-dev >/dev/null)) ; \
	  fi; \
	  [ -f /usr/include/yaml.h ] || { echo "error: libyaml-dev is missing: apt-get install libyaml-dev" >&2; exit 1; }; \
	fi
	@command -v prove >/dev/null || { echo "error: prove is missing: apt-get install perl" >&2; exit 1; }

# Header dependencies come from the compiler (-MMD -MP): editing any header
# rebuilds exactly its users.
-include $(wildcard $(BUILD)/*/*.d $(BUILD)/*/*/*.d $(BUILD)/*/*/*/*.d)

$(BUILD)/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libzonedev.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libzonedev.so: $(LIB_OBJS)
	$(CC) -shared -o $@ $^ $(LDLIBS)

$(BUILD)/zonedev: $(CLI_OBJS) $(BUILD)/libzonedev.a
	$(CC) -o $@ $(CLI_OBJS) $(BUILD)/libzonedev.a -lyaml $(LDLIBS)

# The plain build puts the CLI at the top of the tree for convenience.
zonedev: $(BUILD)/zonedev
	@if [ -z "$(SANITIZE)" ]; then ln -sf $(BUILD)/zonedev zonedev; fi

$(BUILD)/tests/t_%: tests/t_%.c $(TESTLIB) $(BUILD)/libzonedev.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(TESTLIB) $(BUILD)/libzonedev.a $(LDLIBS)

tests-build: $(TEST_BINS) $(BUILD)/zonedev

# ZD_CLI tells the scenario tests which binary to run; ZD_SRCDIR where data lives.
# Under ThreadSanitizer only the concurrent tests (*_mt) run: TSan cannot
# host the TiB-sized vmemmap windows of the default machines, and the rest of
# the suite is single-threaded.
# Every program runs under tests/run-test (a hard timeout). The plain
# check also runs the concurrent tests under ASan+UBSan: a missing RCU grace
# period shows up as a use-after-free only there.
CHECK_TESTS := $(if $(filter thread,$(SANITIZE)),$(filter %_mt,$(TEST_BINS)),\
		 $(TEST_BINS) tests/scenarios.sh tests/cli.sh tests/robust.sh $(FUZZ_CHECK))
PROVE := prove -j2 --exec $(CURDIR)/tests/run-test
check: all tests-build
	@ZD_CLI=$(CURDIR)/$(BUILD)/zonedev ZD_SRCDIR=$(CURDIR) ZD_BUILD=$(CURDIR)/$(BUILD) \
	  $(PROVE) $(CHECK_TESTS)
ifeq ($(SANITIZE),)
	@$(MAKE) --no-print-directory SANITIZE=address,undefined check-mt
endif

# The concurrent tests alone (used by the plain check under ASan+UBSan).
check-mt: $(filter %_mt,$(TEST_BINS))
	@ZD_SRCDIR=$(CURDIR) ZD_BUILD=$(CURDIR)/$(BUILD) $(PROVE) $(filter %_mt,$(TEST_BINS))

demo: all
	$(BUILD)/zonedev demo

clean:
	rm -rf build build-* zonedev

.PHONY: all deps check check-mt demo clean tests-build zonedev
