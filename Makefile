# qvk: one Makefile for libqvk, the shaders, the qvk tool and the tests.
# The kernel module builds through Kbuild; its targets live in kmod/kmod.mk.
#
#   make            libqvk (.so + .a), shaders, qvk      make check   all tests
#   make run        the default model on the default device
#   make bench      benchmarks                           make kmod    the module
#   make install    PREFIX=/usr/local DESTDIR=           make clean
#   make check SANITIZE=1   (ASan + UBSan)               make QVK_BLAS=0  no GPTQ/AWQ
#   make V=1        show commands

SHELL := /bin/bash
.DEFAULT_GOAL := all

QVK_VERSION := 0.1.0
QVK_SOVERSION := 0
QVK_BLAS ?= 1
SANITIZE ?= 0
PREFIX ?= /usr/local
QVK_MODELS ?= $(abspath $(CURDIR)/../shared/models)

# Builds that differ in flags live in their own folder, so that switching
# never links objects compiled for the other (QVK_BLAS changes no_blas.c).
ifeq ($(SANITIZE),1)
BUILD ?= build/sanitize
else ifneq ($(QVK_BLAS),1)
BUILD ?= build/noblas
else
BUILD ?= build
endif

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
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags vulkan libdrm)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs vulkan libdrm)
CHECK_CFLAGS = $(shell $(PKG_CONFIG) --cflags check)
CHECK_LIBS = $(shell $(PKG_CONFIG) --libs check)

QVK_CPPFLAGS := -D_GNU_SOURCE -Iinclude -Iruntime -I$(BUILD)/gen \
	-DQVK_VERSION='"$(QVK_VERSION)"' -DQVK_BLAS=$(QVK_BLAS)
QVK_CFLAGS := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wno-missing-field-initializers -fPIC \
	-fvisibility=hidden -MMD -MP
QVK_LDLIBS := -lm -lpthread -ldl

ifeq ($(QVK_BLAS),1)
BLAS_LIBS := -lopenblas -llapacke
endif

ifeq ($(SANITIZE),1)
QVK_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
QVK_LDFLAGS += -fsanitize=address,undefined
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
CHECK_RUNNER := $(BUILD)/tests/check_qvk
SYNTH := $(BUILD)/tests/qvk-synth

.PHONY: all deps deps-build lib tools tests check run bench install uninstall clean
all: deps-build
	$(Q)$(MAKE) --no-print-directory lib tools

lib: $(LIB_A) $(LIB_SO)
tools: $(QVK)
tests: $(CHECK_RUNNER) $(SYNTH)

# ------------------------------------------------------------ dependencies
# The Debian packages each step needs; tools/deps.sh installs the missing
# ones as root, or prints the apt-get line and stops.
DEB_BUILD := gcc make pkg-config libvulkan-dev libdrm-dev glslang-tools \
	spirv-tools mesa-vulkan-drivers
ifeq ($(QVK_BLAS),1)
DEB_BUILD += libopenblas-dev liblapacke-dev
endif
DEB_CHECK := check libsubunit-dev vulkan-validationlayers

-include kmod/kmod.mk

deps-build:
	$(Q)tools/deps.sh $(DEB_BUILD)
deps:
	$(Q)tools/deps.sh $(DEB_BUILD) $(DEB_CHECK) $(DEB_KMOD)

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

$(BUILD)/gen/shaders.h $(BUILD)/gen/shaders.c &: $(SPV_HEADERS) tools/gen-shaders.sh Makefile
	@mkdir -p $(BUILD)/gen
	$(Q)tools/gen-shaders.sh $(BUILD)/gen $(SPV_NAMES)

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

$(CHECK_RUNNER): $(TEST_OBJS) $(LIB_A) $(QVK)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(QVK_LDFLAGS) $(LDFLAGS) -o $@ $(TEST_OBJS) $(LIB_A) \
		$(CHECK_LIBS) $(LINK_LIBS)

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
	$(Q)$(MAKE) --no-print-directory tools
	./$(QVK) run -m $(RUN_MODEL) -t $(RUN_TOKENIZER) -p "$(RUN_PROMPT)" -n 96

# ----------------------------------------------------------------- tests
# Sanitizer runs do not fork (CK_FORK=no) so ASan sees one process; only
# named leaks of the Vulkan driver and loader are suppressed.
ifeq ($(SANITIZE),1)
CHECK_ENV := CK_FORK=no ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
endif
check: deps
	$(Q)$(MAKE) --no-print-directory tests
	$(Q)cd $(BUILD) && env $(CHECK_ENV) QVK_BUILD_DIR=$(CURDIR)/$(BUILD) \
		QVK_MODELS=$(QVK_MODELS) ./tests/check_qvk

bench: deps-build
	$(Q)$(MAKE) --no-print-directory tools
	./$(QVK) bench all

# --------------------------------------------------------------- install
# pkg-config file: `pkg-config --cflags --libs qvk` for programs using libqvk.
# Phony: PREFIX may differ from the last install.
.PHONY: $(BUILD)/qvk.pc
$(BUILD)/qvk.pc:
	@mkdir -p $(@D)
	$(Q)printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$${prefix}/lib' \
		'includedir=$${prefix}/include' '' 'Name: qvk' \
		'Description: quantized LLM inference on any Vulkan device' \
		'Version: $(QVK_VERSION)' 'Requires.private: vulkan libdrm' \
		'Libs: -L$${libdir} -lqvk' \
		'Libs.private: $(BLAS_LIBS) -lm -lpthread -ldl' \
		'Cflags: -I$${includedir}' > $@

install: all $(BUILD)/qvk.pc
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)$(PREFIX)/include/qvk
	install -m 644 $(LIB_A) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(LIB_SO) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libqvk.so.$(QVK_VERSION) $(DESTDIR)$(PREFIX)/lib/libqvk.so.$(QVK_SOVERSION)
	ln -sf libqvk.so.$(QVK_SOVERSION) $(DESTDIR)$(PREFIX)/lib/libqvk.so
	install -m 644 include/qvk/*.h $(DESTDIR)$(PREFIX)/include/qvk/
	install -m 755 $(QVK) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(BUILD)/qvk.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/libqvk.* $(DESTDIR)$(PREFIX)/bin/qvk \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig/qvk.pc
	rm -rf $(DESTDIR)$(PREFIX)/include/qvk

# kmod-clean (kmod/kmod.mk) removes kbuild's outputs next to the sources.
clean: kmod-clean
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
