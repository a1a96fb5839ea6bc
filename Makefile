# qvk: one Makefile for libqvk, the shaders, the qvk tool and the tests.
# The kernel module builds through Kbuild; its targets live in kmod/kmod.mk.
#
#   make            libqvk (.so + .a), shaders, qvk      make check   all tests
#   make run        the default model on the default device
#   make bench      benchmarks                           make kmod    the module
#   make install    PREFIX=/usr/local DESTDIR=           make clean
#   make check SANITIZE=1   (ASan + UBSan)               make QVK_BLAS=0  no GPTQ/AWQ
#   make QVK_DRM=0  no libdrm (no DRM node matching)     make size    sizes
#   make CROSS_COMPILE=aarch64-linux-gnu- ARCH=arm64     cross build
#   make check SANITIZE=thread  (TSan, concurrency suites)  make fuzz    libFuzzer
#   make V=1        show commands
# Install and uninstall live in mk/install.mk; cross builds and size
# reports in mk/cross.mk and mk/size.mk.

SHELL := /bin/bash
.DEFAULT_GOAL := all

QVK_VERSION := 0.1.0
QVK_SOVERSION := 0
QVK_BLAS ?= 1
QVK_DRM ?= 1
SANITIZE ?= 0
QVK_MODELS ?= $(abspath $(CURDIR)/../shared/models)

include mk/cross.mk

# Builds that differ in flags or target live in their own folder, so that
# switching never links objects compiled for another (QVK_BLAS changes
# no_blas.c): build, build/noblas, build/sanitize, build/tsan, build/fuzz,
# build/arm64-nodrm-noblas.
QVK_VARIANT := $(strip $(CROSS_NAME) $(if $(filter 1,$(SANITIZE)),sanitize) \
	$(if $(filter thread,$(SANITIZE)),tsan) $(if $(filter fuzz,$(SANITIZE)),fuzz) \
	$(if $(filter 1,$(QVK_DRM)),,nodrm) $(if $(filter 1,$(QVK_BLAS)),,noblas))
qvk_space := $(subst ,, )
BUILD ?= build$(if $(QVK_VARIANT),/$(subst $(qvk_space),-,$(QVK_VARIANT)))

ifeq ($(V),1)
Q :=
else
Q := @
endif

CC ?= cc
PKG_CONFIG ?= pkg-config
GLSLANG ?= glslangValidator
SPIRV_VAL ?= spirv-val

# The user's CFLAGS/LDFLAGS are honoured; ours are added after them.
CFLAGS ?= -O2 -g
# Recursively expanded, so pkg-config runs only once `make deps` has
# installed what it asks about.
QVK_PKGS := vulkan $(if $(filter 1,$(QVK_DRM)),libdrm)
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(QVK_PKGS))
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(QVK_PKGS))
CHECK_CFLAGS = $(shell $(PKG_CONFIG) --cflags check)
CHECK_LIBS = $(shell $(PKG_CONFIG) --libs check)

QVK_CPPFLAGS := -D_GNU_SOURCE -Iinclude -Iruntime -I$(BUILD)/gen \
	-DQVK_VERSION='"$(QVK_VERSION)"' -DQVK_BLAS=$(QVK_BLAS) -DQVK_DRM=$(QVK_DRM)
# A build without libdrm or BLAS finds headers that #error in place of
# theirs, so that it cannot include them by mistake.
QVK_CPPFLAGS += $(if $(filter 1,$(QVK_DRM)),,-Itools/embedded/poison/nodrm) \
	$(if $(filter 1,$(QVK_BLAS)),,-Itools/embedded/poison/noblas)
QVK_CFLAGS := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wno-missing-field-initializers -fPIC \
	-fvisibility=hidden -MMD -MP
QVK_LDLIBS := -lm -lpthread -ldl

# Debian splits LAPACKE from OpenBLAS; an OpenBLAS built with LAPACK (as
# Buildroot and Yocto build it) needs BLAS_LIBS=-lopenblas.
ifeq ($(QVK_BLAS),1)
BLAS_LIBS ?= -lopenblas -llapacke
endif

ifeq ($(SANITIZE),1)
QVK_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
QVK_LDFLAGS += -fsanitize=address,undefined
else ifeq ($(SANITIZE),thread)
# -Wno-tsan: TSan does not model the fences of the telemetry page's
# seqcount reader, whose writer is the kernel, invisible to TSan anyway.
QVK_CFLAGS += -fsanitize=thread -fno-omit-frame-pointer -Wno-tsan
QVK_LDFLAGS += -fsanitize=thread
else ifeq ($(SANITIZE),fuzz)
# libFuzzer needs clang (Debian's clang-14); the library is instrumented
# for coverage, the fuzz targets link the fuzzer's main.
FUZZ_CC ?= clang
override CC := $(FUZZ_CC)
# -Wno-string-concatenation: a clang-only warning against "\xNN" "..."
# splits, which end a hex escape on purpose (runtime/model/tokenizer_gguf.c).
QVK_CFLAGS += -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer \
	-Wno-string-concatenation
QVK_LDFLAGS += -fsanitize=address,undefined
endif

# The ASan/UBSan and TSan builds are the test builds: they carry fault
# injection (runtime/fault.h, QVK_FAULT=...), with qvk's own allocator
# calls wrapped at link time so that the Nth one can fail.
ifneq ($(filter 1 thread,$(SANITIZE)),)
QVK_CPPFLAGS += -DQVK_FAULT_INJECTION=1
QVK_LDFLAGS += -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup
endif

ALL_CFLAGS = $(QVK_CPPFLAGS) $(CPPFLAGS) $(CFLAGS) $(QVK_CFLAGS) $(PKG_CFLAGS)
LINK_LIBS = $(PKG_LIBS) $(BLAS_LIBS) $(QVK_LDLIBS)

# ---------------------------------------------------------------- sources
# Files that need BLAS/LAPACKE (GPTQ, AWQ) are left out by QVK_BLAS=0.
BLAS_SRCS := $(wildcard runtime/quant/gptq*.c runtime/quant/awq*.c)
LIB_SRCS := $(sort $(wildcard runtime/*.c runtime/*/*.c))
ifneq ($(QVK_BLAS),1)
LIB_SRCS := $(filter-out $(BLAS_SRCS),$(LIB_SRCS))
endif
# Files that need libdrm's headers or library, and what replaces them in a
# QVK_DRM=0 build (which then says that DRM matching and amdgpu are off).
DRM_SRCS := runtime/vk/drm.c runtime/telemetry/src_amdgpu.c
NO_DRM_SRCS := runtime/vk/no_drm.c runtime/telemetry/no_amdgpu.c
LIB_SRCS := $(filter-out $(if $(filter 1,$(QVK_DRM)),$(NO_DRM_SRCS),$(DRM_SRCS)),\
	$(LIB_SRCS))
TOOL_SRCS := $(sort $(wildcard tools/*.c))
TEST_SRCS := $(sort $(wildcard tests/*.c))
# The synthetic-model generator: linked into the runner and into qvk-synth.
SYNTH_SRCS := tests/oracle/synth.c
CHECK_SUITES := $(patsubst tests/check_%.c,%,$(wildcard tests/check_*.c))

# Shaders: one kernel per .comp file. A kernel that includes sdot.glsl is
# built twice: with OpSDot (_intdot) and with plain multiply-add (_fallback).
SHADER_SRCS := $(sort $(wildcard shaders/*.comp))
INT_SHADERS := $(sort $(shell grep -l '^\#include "sdot.glsl"' $(SHADER_SRCS) 2>/dev/null))
PLAIN_SHADERS := $(filter-out $(INT_SHADERS),$(SHADER_SRCS))
SPV_NAMES := $(patsubst shaders/%.comp,%,$(PLAIN_SHADERS)) \
	$(foreach s,$(patsubst shaders/%.comp,%,$(INT_SHADERS)),$(s)_intdot $(s)_fallback)
SPV_HEADERS := $(SPV_NAMES:%=$(BUILD)/gen/spv/%.h)

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/shaders.o
TOOL_OBJS := $(TOOL_SRCS:%.c=$(BUILD)/obj/%.o)
TEST_OBJS := $(TEST_SRCS:%.c=$(BUILD)/obj/%.o) $(SYNTH_SRCS:%.c=$(BUILD)/obj/%.o)

LIB_A := $(BUILD)/libqvk.a
LIB_SO := $(BUILD)/libqvk.so.$(QVK_VERSION)
QVK := $(BUILD)/qvk
# The builds that make run, check, bench, valgrind, fuzz and check-faults
# start use every core (the test runs themselves stay one process).
BUILD_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
SUBMAKE = $(MAKE) --no-print-directory -j$(BUILD_JOBS)
CHECK_RUNNER := $(BUILD)/tests/check_qvk
SYNTH := $(BUILD)/tests/qvk-synth

.PHONY: all deps deps-all deps-build lib tools tests check run bench install uninstall clean
all: deps-build
	$(Q)$(SUBMAKE) lib tools man

lib: $(LIB_A) $(LIB_SO)
tools: $(QVK)
tests: $(CHECK_RUNNER) $(SYNTH)

# ------------------------------------------------------------ dependencies
# The Debian packages each step needs; tools/deps.sh installs the missing
# ones as root, or prints the apt-get line and stops.
DEB_BUILD := gcc make pkg-config libvulkan-dev glslang-tools \
	spirv-tools mesa-vulkan-drivers
ifeq ($(QVK_DRM),1)
DEB_BUILD += libdrm-dev
endif
ifeq ($(QVK_BLAS),1)
DEB_BUILD += libopenblas-dev liblapacke-dev
endif
DEB_CHECK := check libsubunit-dev vulkan-validationlayers unicode-data python3-jsonschema

-include kmod/kmod.mk

# QVK_DEPS=0: the build system provides the dependencies (Buildroot, Yocto).
# A cross build checks the Debian cross packages (mk/cross.mk).
QVK_DEPS ?= 1
deps-build:
ifeq ($(QVK_DEPS),1)
	$(Q)$(if $(CROSS_COMPILE),$(MAKE) --no-print-directory deps-cross,\
		tools/deps.sh $(DEB_BUILD))
endif
deps:
	$(Q)tools/deps.sh $(DEB_BUILD) $(DEB_CHECK) $(DEB_KMOD)
# Every native target's packages at once (the cross toolchain aside:
# deps-cross), so that targets run side by side never start apt-get
# together (.ci/run).
deps-all:
	$(Q)tools/deps.sh $(DEB_BUILD) $(DEB_CHECK) $(DEB_KMOD) $(DEB_FUZZ) \
		$(DEB_VALGRIND) $(DEB_INSTALL) $(DEB_DKMS)

# ------------------------------------------------------------------ build
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -DQVK_MODELS_DEFAULT='"$(QVK_MODELS)"' \
		-DQVK_SOURCE_DIR='"$(CURDIR)"' -c -o $@ $<

# Library objects need the generated shader headers first.
$(LIB_SRCS:%.c=$(BUILD)/obj/%.o): | $(BUILD)/gen/shaders.h

# glslang writes a depfile, so a changed shader include rebuilds its shaders.
define spv_rule
$(BUILD)/gen/spv/$(1).h: shaders/$(2).comp
	@mkdir -p $$(@D)
	@$$(if $$(Q),echo "  GLSL    $$< -> $(1)")
	@! grep -Hn 'unpackHalf2x16 *(' $$< || { echo "$$<: use qvk_unpack_half2x16" \
		"(shaders/include/fp16.glsl): arm64 lavapipe cannot compile unpackHalf2x16"; exit 1; }
	$$(Q)$$(GLSLANG) --target-env vulkan1.2 -Ishaders/include $(3) \
		--depfile $$(@:.h=.d) -o $$(@:.h=.spv) $$< >$$(@:.h=.log) || \
		{ cat $$(@:.h=.log); exit 1; }
	$$(Q)sed -i 's|\.spv:|.h:|' $$(@:.h=.d)
	$$(Q)$$(SPIRV_VAL) --target-env vulkan1.2 $$(@:.h=.spv)
	$$(Q)$$(GLSLANG) --target-env vulkan1.2 -Ishaders/include $(3) \
		--vn qvk_spv_$(1) -o $$@ $$< >/dev/null
endef
$(foreach s,$(patsubst shaders/%.comp,%,$(PLAIN_SHADERS)),\
	$(eval $(call spv_rule,$(s),$(s),)))
$(foreach s,$(patsubst shaders/%.comp,%,$(INT_SHADERS)),\
	$(eval $(call spv_rule,$(s)_intdot,$(s),-DQVK_INTDOT=1))\
	$(eval $(call spv_rule,$(s)_fallback,$(s),-DQVK_INTDOT=0)))

# gen-shaders.sh leaves shaders.h alone when it is unchanged (so library
# objects do not rebuild); the stamp records that the table is up to date.
$(BUILD)/gen/shaders.stamp: $(SPV_HEADERS) tools/gen-shaders.sh Makefile
	@mkdir -p $(BUILD)/gen
	$(Q)tools/gen-shaders.sh $(BUILD)/gen $(SPV_NAMES) && touch $@
$(BUILD)/gen/shaders.h $(BUILD)/gen/shaders.c: $(BUILD)/gen/shaders.stamp ;

$(BUILD)/obj/gen/shaders.o: $(BUILD)/gen/shaders.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB_A): $(LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(LIB_SO): $(LIB_OBJS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -Wl,-soname,libqvk.so.$(QVK_SOVERSION) $(QVK_LDFLAGS) \
		$(LDFLAGS) -o $@ $^ $(LINK_LIBS)
	$(Q)ln -sf libqvk.so.$(QVK_VERSION) $(BUILD)/libqvk.so.$(QVK_SOVERSION)
	$(Q)ln -sf libqvk.so.$(QVK_SOVERSION) $(BUILD)/libqvk.so

# Subcommands: tools/cmd_NAME.c defines qvk_cmd_NAME() and
# qvk_cmd_NAME_summary[]; tools/bench_NAME.c defines qvk_bench_NAME() and
# qvk_bench_NAME_summary[]. The tables are generated from the file names.
QVK_COMMANDS := $(patsubst tools/cmd_%.c,%,$(wildcard tools/cmd_*.c))
QVK_BENCHES := $(patsubst tools/bench_%.c,%,$(wildcard tools/bench_*.c))
$(BUILD)/gen/tool_commands.h: Makefile $(wildcard tools/cmd_*.c tools/bench_*.c)
	@mkdir -p $(@D)
	$(Q){ true; $(foreach c,$(QVK_COMMANDS),echo 'QVK_COMMAND($(c))';) \
	      $(foreach b,$(QVK_BENCHES),echo 'QVK_BENCH($(b))';) } > $@.tmp && mv $@.tmp $@
$(TOOL_OBJS): | $(BUILD)/gen/tool_commands.h $(BUILD)/gen/shaders.h

# The tool links libqvk statically so ./build/qvk runs from the tree.
$(QVK): $(TOOL_OBJS) $(LIB_A)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(QVK_LDFLAGS) $(LDFLAGS) -o $@ $(TOOL_OBJS) $(LIB_A) $(LINK_LIBS)

# One Check runner holds every suite: tests/check_NAME.c defines
# `Suite *suite_NAME(void)`; the list is generated from the file names.
$(BUILD)/gen/check_suites.h: Makefile $(wildcard tests/check_*.c)
	@mkdir -p $(@D)
	$(Q){ true; $(foreach s,$(CHECK_SUITES),echo 'QVK_SUITE($(s))';) } > $@.tmp && mv $@.tmp $@
$(TEST_OBJS): | $(BUILD)/gen/check_suites.h $(BUILD)/gen/shaders.h

# tools/sanitize_keep_modules.c (see there; empty outside ASan builds) is
# in qvk as a tool object, and linked into the runner too.
KEEP_MODULES_OBJ := $(BUILD)/obj/tools/sanitize_keep_modules.o
$(CHECK_RUNNER): $(TEST_OBJS) $(KEEP_MODULES_OBJ) $(LIB_A) $(QVK)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(QVK_LDFLAGS) $(LDFLAGS) -o $@ $(TEST_OBJS) \
		$(KEEP_MODULES_OBJ) $(LIB_A) $(CHECK_LIBS) $(LINK_LIBS)

# qvk-synth: synthetic models for tools/oracle/record-fixtures.sh.
$(SYNTH): $(BUILD)/obj/tests/oracle/synth_main.o $(SYNTH_SRCS:%.c=$(BUILD)/obj/%.o) $(LIB_A)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(QVK_LDFLAGS) $(LDFLAGS) -o $@ $^ $(LINK_LIBS)
$(BUILD)/obj/tests/oracle/synth_main.o: | $(BUILD)/gen/shaders.h

# ------------------------------------------------------------------- run
RUN_MODEL ?= tests/data/stories260K.bin
RUN_TOKENIZER ?= tests/data/tok512.bin
RUN_PROMPT ?= Once upon a time
run: deps-build
	$(Q)$(SUBMAKE) tools
	./$(QVK) run -m $(RUN_MODEL) -t $(RUN_TOKENIZER) -p "$(RUN_PROMPT)" -n 96

# ----------------------------------------------------------------- tests
# Sanitizer runs do not fork (CK_FORK=no) so ASan sees one process; only
# named leaks of the Vulkan driver and loader are suppressed.
ifeq ($(SANITIZE),1)
CHECK_ENV := CK_FORK=no ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
endif
# ThreadSanitizer runs the suites that use threads (QVK_SUITE to choose
# others); only races inside the uninstrumented driver are suppressed.
ifeq ($(SANITIZE),thread)
QVK_SUITE ?= concurrency,pipeline_cache,telemetry_windows
CHECK_ENV := QVK_SUITE=$(QVK_SUITE) \
	TSAN_OPTIONS=halt_on_error=1:suppressions=$(CURDIR)/tests/tsan.supp
endif
check: deps
	$(Q)tools/lint-pipefail.sh
	$(Q)$(SUBMAKE) tests
	$(Q)cd $(BUILD) && env $(CHECK_ENV) QVK_BUILD_DIR=$(CURDIR)/$(BUILD) \
		QVK_MODELS=$(QVK_MODELS) ./tests/check_qvk

# The standard set, JSON (and CSV, plots where gnuplot exists) in
# build/bench/: the matmul kernels, quantization, decode attention (one
# pass vs split-KV at 512..4096 positions), the real stories260K in
# every format, synthetic 110M and TinyLlama-1.1B shapes in q8 and q4.
# BENCH_MATMUL_ARGS and BENCH_MODEL_ARGS shorten it on a slow or busy
# machine (e.g. --quick --reps 3, and -p 16 -n 8 -r 1).
BENCH_DIR := $(BUILD)/bench
BENCH_MATMUL_ARGS ?=
BENCH_MODEL_ARGS ?= -p 128 -n 32 -r 3
bench_plot = $(if $(shell command -v gnuplot 2>/dev/null),--plot $(BENCH_DIR)/$(1).png)
bench: deps-build
	$(Q)$(SUBMAKE) tools
	@mkdir -p $(BENCH_DIR)
	./$(QVK) bench matmul $(BENCH_MATMUL_ARGS) --json > $(BENCH_DIR)/matmul.json
	./$(QVK) bench quant --json > $(BENCH_DIR)/quant.json
	./$(QVK) bench attention --json > $(BENCH_DIR)/attention.json
	./$(QVK) bench -m tests/data/stories260K.bin --formats f32,f16,q8,q4,q4a \
		$(BENCH_MODEL_ARGS) --json $(BENCH_DIR)/stories260K.json --csv $(BENCH_DIR)/stories260K.csv \
		$(call bench_plot,stories260K)
	./$(QVK) bench --synthetic 110m --synthetic tinyllama-1.1b --formats q8,q4 \
		$(BENCH_MODEL_ARGS) --json $(BENCH_DIR)/synthetic.json \
		--csv $(BENCH_DIR)/synthetic.csv $(call bench_plot,synthetic)
	@echo "make bench: results in $(BENCH_DIR)/"

# ------------------------------------------------------------- reliability
# make fuzz FUZZ_SECONDS=N: every tests/fuzz/fuzz_NAME.c target for N
# seconds (default 20) after replaying its crash regressions, on corpora
# seeded from tests/data and $(QVK_MODELS) (tests/fuzz/README.md).
FUZZ_SECONDS ?= 20
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
DEB_FUZZ := clang libclang-rt-14-dev
DEB_VALGRIND := valgrind
.PHONY: fuzz fuzz-build check-faults valgrind
fuzz:
	$(Q)tools/deps.sh $(DEB_BUILD) $(DEB_FUZZ)
	$(Q)$(SUBMAKE) SANITIZE=fuzz fuzz-build
	$(Q)tests/fuzz/run.sh build/fuzz $(FUZZ_SECONDS) $(QVK_MODELS) $(FUZZ_TARGETS)

ifeq ($(SANITIZE),fuzz)
# The CLI target includes the commands whose parsers it calls; the rest
# of tools/ (less main) is linked as it is.
FUZZ_CLI_CMDS := cmd_run cmd_ppl cmd_quantize cmd_chat
FUZZ_TOOL_OBJS := $(filter-out $(BUILD)/obj/tools/qvk.o \
	$(FUZZ_CLI_CMDS:%=$(BUILD)/obj/tools/%.o),$(TOOL_OBJS))
fuzz-build: $(FUZZ_TARGETS:%=$(BUILD)/fuzz_%) $(BUILD)/fuzz_seeds
# The CLI target includes tools/cmd_*.c to reach their static parsers.
$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_A) $(FUZZ_TOOL_OBJS)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(CC) $(ALL_CFLAGS) -Itools -fsanitize=fuzzer -o $@ $< \
		$(FUZZ_TOOL_OBJS) $(LIB_A) $(LINK_LIBS)
$(BUILD)/fuzz_seeds: tests/fuzz/seeds.c $(LIB_A)
	$(Q)$(CC) $(ALL_CFLAGS) $(QVK_LDFLAGS) -o $@ $< $(LIB_A) $(LINK_LIBS)
$(FUZZ_TOOL_OBJS): | $(BUILD)/gen/tool_commands.h
endif

# The fault-injection sweeps (tests/fault/) on the ASan/UBSan build: the
# Nth allocation, vkAllocate*, vkCreate*, vkMapMemory and a device loss on
# submit or wait, for N along a whole qvk run and qvk quantize (at most
# QVK_FAULT_MAX_RUNS runs per site), then qvk quantize on a full disk and
# read-only outputs.
check-faults:
	$(Q)$(SUBMAKE) SANITIZE=1 tools
	$(Q)tests/fault/sweep.sh build/sanitize/qvk run
	$(Q)tests/fault/sweep.sh build/sanitize/qvk quantize
	$(Q)tests/fault/quantize-disk.sh build/sanitize/qvk

# qvk run of the default model under valgrind's memcheck: no error and no
# leak (definite or possible) anywhere, the driver included; suppressions
# (tests/valgrind.supp) are by object name for ld.so, Mesa, LLVM and the
# loader, never qvk's code. A native run first fills a fresh cache folder
# (seeded by tests/cache-seed.sh: qvk's matmul and attention tuning,
# Mesa's compiled shaders); the
# memcheck run then finds the tuning files, parses them and skips the
# timing runs (whose host code the sanitizer suites run), and with qvk's
# pipeline cache file removed creates and saves every pipeline itself.
# Timing the kernels under memcheck took over a quarter of an hour.
VALGRIND_TOKENS ?= 8
VALGRIND_CACHE := $(CURDIR)/$(BUILD)/valgrind-cache
CACHE_NOW := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)
VALGRIND_ENV := XDG_CACHE_HOME=$(VALGRIND_CACHE) \
	MESA_SHADER_CACHE_DIR=$(or $(MESA_SHADER_CACHE_DIR),$(CACHE_NOW)/mesa_shader_cache)
VALGRIND_RUN = ./$(QVK) run -m $(RUN_MODEL) -t $(RUN_TOKENIZER) \
	-p "$(RUN_PROMPT)" -n $(VALGRIND_TOKENS) --temp 0
valgrind:
	$(Q)tools/deps.sh $(DEB_VALGRIND)
	$(Q)$(SUBMAKE) tools
	$(Q)rm -rf $(VALGRIND_CACHE)
	$(Q)tests/cache-seed.sh $(VALGRIND_CACHE) >/dev/null
	$(Q)$(VALGRIND_ENV) $(VALGRIND_RUN) >/dev/null
	$(Q)rm -f $(VALGRIND_CACHE)/qvk/*.pipelines
	$(VALGRIND_ENV) valgrind --error-exitcode=1 \
		--suppressions=tests/valgrind.supp --leak-check=full \
		--num-callers=30 $(VALGRIND_RUN)

# --------------------------------------------------------------- install
include mk/install.mk
include mk/size.mk

# kmod-clean (kmod/kmod.mk) removes kbuild's outputs next to the sources.
clean: kmod-clean
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' -type f 2>/dev/null)
