# zonedev build. `make` builds the library and CLI, `make demo` runs the demo,
# `make check` builds and runs every test with prove, `make install` installs
# the CLI, the library (static and a versioned shared one), the headers and
# zonedev.pc under PREFIX (DESTDIR, BINDIR, LIBDIR, INCLUDEDIR, PKGCONFIGDIR).
# SANITIZE=address,undefined or SANITIZE=thread builds into a separate tree.
# CFLAGS and LDFLAGS are the user's: `make CFLAGS=-O0` changes optimisation
# and debug flags only; the flags the code needs (CFLAGS_BASE) always apply.

CC      ?= gcc
SANITIZE ?=
comma   := ,
BUILD   := build$(if $(SANITIZE),-$(subst $(comma),-,$(SANITIZE)))

# The defaults a command-line CFLAGS replaces (`make CFLAGS+=-DX` replaces
# them too: make's command line wins over the file). Sanitizer trees build
# at -O1, unless CFLAGS says otherwise.
CFLAGS      ?= -g $(if $(SANITIZE),-O1,-O2)
CFLAGS_BASE := -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
               -Wmissing-prototypes -Wstrict-prototypes -fPIC -pthread \
               -D_GNU_SOURCE -Iinclude -Isrc -MMD -MP
ifneq ($(SANITIZE),)
SANFLAGS    := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
endif
# Target-specific additions go to EXTRA_CFLAGS: a command-line CFLAGS would
# silently drop a `CFLAGS +=` on a target. CPPFLAGS (e.g. dpkg-buildflags'
# -D_FORTIFY_SOURCE) and CFLAGS also reach the link: -fsanitize, --coverage
# and -pg need the linker too.
ZD_CFLAGS = $(CFLAGS_BASE) $(SANFLAGS) $(CPPFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)
ZD_LDFLAGS = $(SANFLAGS) $(CFLAGS) $(LDFLAGS)
LDLIBS  := -pthread -lm

VERSION := $(shell sed -n 's/^\#define ZONEDEV_VERSION "\(.*\)"/\1/p' include/zonedev/zonedev.h)
SOMAJOR := $(firstword $(subst ., ,$(VERSION)))
SONAME  := libzonedev.so.$(SOMAJOR)

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

# Only the tests need these: prove (perl), for tests/install.sh a C++
# compiler and pkg-config, for tests/man.sh man (man-db, with groff), for
# tests/map.sh headless Chromium, for tests/ndctl.sh jq (its script pipes
# ndctl through jq, as scripts written for ndctl do).
check-deps:
	@for t in prove:perl g++:g++ pkg-config:pkgconf man:man-db chromium:chromium jq:jq; do c=$${t%%:*}; p=$${t#*:}; \
	  command -v $$c >/dev/null && continue; \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $$p (needed by make check)"; \
	    apt-get install -y -q $$p >/dev/null 2>&1 || \
	      (apt-get update -q >/dev/null && apt-get install -y -q $$p >/dev/null); \
	  fi; \
	  command -v $$c >/dev/null || { echo "error: $$c is missing: apt-get install $$p" >&2; exit 1; }; \
	done

# Header dependencies come from the compiler (-MMD -MP): editing any header
# rebuilds exactly its users.
-include $(wildcard $(BUILD)/*/*.d $(BUILD)/*/*/*.d $(BUILD)/*/*/*/*.d)

$(BUILD)/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(ZD_CFLAGS) -c $< -o $@

$(BUILD)/libzonedev.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

# The shared library exports the public API only: the library's global
# symbols whose names appear in include/zonedev/*.h outside comments (the
# preprocessor strips those, keeping the #defines). Everything else (the
# layers' internal calls, which tests reach through the static library)
# stays local, so a program cannot come to depend on it.
$(BUILD)/libzonedev.map: $(LIB_OBJS) $(wildcard include/zonedev/*.h)
	@{ echo 'ZONEDEV_$(SOMAJOR) {'; echo 'global:'; \
	   nm -g --defined-only $(LIB_OBJS) | awk 'NF==3 {print $$3}' | sort -u | \
	   comm -12 - $$(for h in include/zonedev/*.h; do $(CC) -std=gnu11 -w -fpreprocessed -dD -E -P $$h; done | \
	     grep -ohE '\b[A-Za-z_][A-Za-z0-9_]*\b' | sort -u > $@.ids; echo $@.ids) | \
	   sed 's/.*/\t&;/'; echo 'local: *;'; echo '};'; } > $@.tmp && rm -f $@.ids && mv $@.tmp $@

$(BUILD)/libzonedev.so.$(VERSION): $(LIB_OBJS) $(BUILD)/libzonedev.map
	$(CC) $(ZD_LDFLAGS) -shared -Wl,-soname,$(SONAME) \
	  -Wl,--version-script,$(BUILD)/libzonedev.map -o $@ $(LIB_OBJS) $(LDLIBS)

$(BUILD)/libzonedev.so: $(BUILD)/libzonedev.so.$(VERSION)
	ln -sf libzonedev.so.$(VERSION) $(BUILD)/$(SONAME)
	ln -sf libzonedev.so.$(VERSION) $@

$(BUILD)/zonedev: $(CLI_OBJS) $(BUILD)/libzonedev.a
	$(CC) $(ZD_LDFLAGS) -o $@ $(CLI_OBJS) $(BUILD)/libzonedev.a -lyaml $(LDLIBS)

# The plain build puts the CLI at the top of the tree for convenience.
zonedev: $(BUILD)/zonedev
	@if [ -z "$(SANITIZE)" ]; then ln -sf $(BUILD)/zonedev zonedev; fi

$(BUILD)/tests/t_%: tests/t_%.c $(TESTLIB) $(BUILD)/libzonedev.a
	@mkdir -p $(dir $@)
	$(CC) $(ZD_CFLAGS) $(ZD_LDFLAGS) -o $@ $< $(TESTLIB) $(BUILD)/libzonedev.a $(LDLIBS)

tests-build: $(TEST_BINS) $(BUILD)/zonedev

# ZD_CLI tells the scenario tests which binary to run; ZD_SRCDIR where data lives.
# Under ThreadSanitizer only the concurrent tests (*_mt) run: TSan cannot
# host the TiB-sized vmemmap windows of the default machines, and the rest of
# the suite is single-threaded.
# Every program runs under tests/run-test (a hard timeout). The plain
# check also runs the concurrent tests under ASan+UBSan: a missing RCU grace
# period shows up as a use-after-free only there.
CHECK_TESTS := $(if $(filter thread,$(SANITIZE)),$(filter %_mt,$(TEST_BINS)),\
		 $(TEST_BINS) tests/scenarios.sh tests/cli.sh tests/robust.sh tests/ndctl.sh tests/infoblock.sh tests/map.sh tests/install.sh tests/man.sh $(FUZZ_CHECK))
PROVE := prove -j2 --exec $(CURDIR)/tests/run-test
check: all check-deps tests-build
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

include install.mk

clean:
	rm -rf build build-* zonedev

.PHONY: all deps check-deps check check-mt demo clean tests-build zonedev
