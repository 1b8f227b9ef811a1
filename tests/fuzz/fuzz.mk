# Fuzzing (issue 7 item 7), included by the main Makefile after its variable
# block. Four libFuzzer targets: the scenario loader, the /proc/iomem
# importer, the pfn/dax info-block validator and the lspci importer
# (tests/fuzz/fuzz_*.c).
#  - `make check` replays each corpus (tests/fuzz/corpus/<target>/, crash
#    reproducers included) with a gcc build: replay.c supplies main() and
#    prints TAP; tests/fuzz/replay-<target>.sh runs it under prove.
#  - `make fuzz` builds the targets with clang and libFuzzer (ASan+UBSan,
#    library and CLI sources compiled again into $(FUZZ_BUILD)) and runs each
#    for FUZZ_TIME seconds on one worker. New inputs go to
#    $(FUZZ_BUILD)/corpus/<target>, findings to $(FUZZ_BUILD)/artifacts/<target>;
#    the repository corpus is only read (crash-* files are left out of the
#    seeds, or the run would stop at once on a known bug).
#  - `make fuzz-merge` adds to the repository corpus only the new inputs that
#    reach new coverage (libFuzzer -merge=1).
# Uses the main Makefile's BUILD, CC, ZD_CFLAGS, CFLAGS_BASE, LIB_SRCS,
# CLI_SRCS, CLI_OBJS, ZD_LDFLAGS and LDLIBS.

# Included above `all:`, the first rule here must not become the default goal.
ifeq ($(.DEFAULT_GOAL),)
.DEFAULT_GOAL := all
endif

FUZZ_TARGETS  := scenario iomem infoblock lspci
FUZZ_DIR      := tests/fuzz
FUZZ_REPLAY   := $(FUZZ_TARGETS:%=$(BUILD)/tests/fuzz/replay_%)
# What `make check` runs (through prove --exec tests/run-test, with ZD_BUILD
# and ZD_SRCDIR set as for the other tests).
FUZZ_CHECK    := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/replay-%.sh)

# ---- replay programs (gcc, the build's own flags and sanitizers) ----

FUZZ_REPLAY_OBJS := $(BUILD)/tests/fuzz/replay.o $(FUZZ_TARGETS:%=$(BUILD)/tests/fuzz/fuzz_%.o)
.SECONDARY: $(FUZZ_REPLAY_OBJS)
# The scenario and lspci targets drive the CLI's loader: they link its objects.
FUZZ_CLI_TARGETS := scenario lspci
$(FUZZ_CLI_TARGETS:%=$(BUILD)/tests/fuzz/fuzz_%.o): EXTRA_CFLAGS := -Itools/zonedev

$(FUZZ_CLI_TARGETS:%=$(BUILD)/tests/fuzz/replay_%): $(BUILD)/tests/fuzz/replay_%: \
		$(BUILD)/tests/fuzz/replay.o $(BUILD)/tests/fuzz/fuzz_%.o \
		$(filter-out %/main.o,$(CLI_OBJS)) $(BUILD)/libzonedev.a
	$(CC) $(ZD_LDFLAGS) -o $@ $^ -lyaml $(LDLIBS)

$(BUILD)/tests/fuzz/replay_%: $(BUILD)/tests/fuzz/replay.o $(BUILD)/tests/fuzz/fuzz_%.o \
		$(BUILD)/libzonedev.a
	$(CC) $(ZD_LDFLAGS) -o $@ $^ $(LDLIBS)

tests-build: $(FUZZ_REPLAY)

# ---- libFuzzer builds (clang) ----

FUZZ_CC      ?= $(shell command -v clang-14 || command -v clang)
FUZZ_BUILD   := build-fuzz
FUZZ_TIME    ?= 60
FUZZ_TIMEOUT ?= 10
FUZZ_ARGS    ?=
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
		-fno-omit-frame-pointer
# The build's warnings, but not -Werror: clang warns where gcc does not.
FUZZ_CFLAGS  := $(filter-out -Werror,$(CFLAGS_BASE)) -g -O1 $(FUZZ_SAN) \
		-fsanitize=fuzzer-no-link
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_CLI_OBJS := $(filter-out %/main.o,$(CLI_SRCS:%.c=$(FUZZ_BUILD)/%.o))
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

# Per-target libFuzzer options: input size bounds and the scenario dictionary.
FUZZ_OPTS_scenario  := -max_len=4096 -dict=$(FUZZ_DIR)/scenario.dict
FUZZ_OPTS_iomem     := -max_len=4096
FUZZ_OPTS_infoblock := -max_len=4352
FUZZ_OPTS_lspci     := -max_len=8192

-include $(wildcard $(FUZZ_BUILD)/*/*.d $(FUZZ_BUILD)/*/*/*.d $(FUZZ_BUILD)/*/*/*/*.d)

$(FUZZ_BUILD)/%.o: %.c $(FUZZ_DIR)/fuzz.mk
	@test -n "$(FUZZ_CC)" || { echo "error: make fuzz needs clang: apt-get install clang" >&2; exit 1; }
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_CLI_TARGETS:%=$(FUZZ_BUILD)/tests/fuzz/fuzz_%.o): FUZZ_CFLAGS += -Itools/zonedev
# Boots are slow: under libFuzzer one parsed input in 32 boots (see fuzz_iomem.c).
$(FUZZ_BUILD)/tests/fuzz/fuzz_iomem.o: FUZZ_CFLAGS += -DFUZZ_IOMEM_MAX_RAM='(256ULL << 20)' \
	-DFUZZ_IOMEM_BOOT_EVERY=32
$(FUZZ_BUILD)/tests/fuzz/fuzz_lspci.o: FUZZ_CFLAGS += -DFUZZ_LSPCI_BUILD_EVERY=16
.SECONDARY: $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/tests/fuzz/fuzz_%.o)

$(FUZZ_CLI_TARGETS:%=$(FUZZ_BUILD)/fuzz_%): $(FUZZ_BUILD)/fuzz_%: \
		$(FUZZ_BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_CLI_OBJS) $(FUZZ_LIB_OBJS)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ -lyaml -pthread -lm

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_LIB_OBJS)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ -pthread -lm

fuzz-build: $(FUZZ_BINS)

# make fuzz [FUZZ_TIME=seconds] [FUZZ_ARGS='-runs=N ...']; one target: make fuzz-iomem
fuzz: $(FUZZ_TARGETS:%=fuzz-%)

$(FUZZ_TARGETS:%=fuzz-%): fuzz-%: $(FUZZ_BUILD)/fuzz_%
	@mkdir -p $(FUZZ_BUILD)/corpus/$* $(FUZZ_BUILD)/artifacts/$*
	@find $(FUZZ_DIR)/corpus/$* -maxdepth 1 -type f ! -name 'crash-*' \
	  -exec cp -n {} $(FUZZ_BUILD)/corpus/$*/ \;
	$< -max_total_time=$(FUZZ_TIME) -timeout=$(FUZZ_TIMEOUT) -print_final_stats=1 \
	  $(FUZZ_OPTS_$*) -artifact_prefix=$(FUZZ_BUILD)/artifacts/$*/ $(FUZZ_ARGS) \
	  $(FUZZ_BUILD)/corpus/$*

# Keep what reached new coverage: merge the run's corpus into the repository's.
# Known crash reproducers sit out the merge (it would trip over them).
fuzz-merge: $(FUZZ_TARGETS:%=fuzz-merge-%)

$(FUZZ_TARGETS:%=fuzz-merge-%): fuzz-merge-%: $(FUZZ_BUILD)/fuzz_%
	@rm -rf $(FUZZ_BUILD)/crashes/$* && mkdir -p $(FUZZ_BUILD)/crashes/$* $(FUZZ_BUILD)/corpus/$*
	@find $(FUZZ_DIR)/corpus/$* -maxdepth 1 -type f -name 'crash-*' \
	  -exec mv {} $(FUZZ_BUILD)/crashes/$*/ \;
	$< -merge=1 $(FUZZ_OPTS_$*) $(FUZZ_DIR)/corpus/$* $(FUZZ_BUILD)/corpus/$*; \
	  rc=$$?; mv $(FUZZ_BUILD)/crashes/$*/* $(FUZZ_DIR)/corpus/$*/ 2>/dev/null; exit $$rc

.PHONY: fuzz fuzz-build fuzz-merge $(FUZZ_TARGETS:%=fuzz-%) $(FUZZ_TARGETS:%=fuzz-merge-%)
