# Cross builds of libqvk and qvk, included by the top-level Makefile before
# anything uses CC or the build folder.
#
#   make deps-cross CROSS_COMPILE=aarch64-linux-gnu-   Debian's cross gcc, the
#        arm64 multiarch -dev packages and qemu-user-static
#   make CROSS_COMPILE=aarch64-linux-gnu- ARCH=arm64   build into build/arm64
#   make check-cross CROSS_COMPILE=aarch64-linux-gnu-  file(1) and a qemu-user
#        smoke test with the arm64 lavapipe: qvk --help, qvk info and whole
#        qvk runs of the default model in each of RUN_FORMATS (default: the
#        default format, q8, and f16), each text equal to the native build's
#
# The SPIR-V is target-independent: glslangValidator and spirv-val run on the
# build machine whatever the target. pkg-config is the target's
# ($(CROSS_COMPILE)pkg-config; Debian's pkgconf:arm64 provides it), so the
# -dev packages' flags are the target's. A build system that passes its own
# CC, AR, STRIP and PKG_CONFIG (Buildroot, Yocto) keeps them: only make's
# built-in defaults are replaced.

ifneq ($(CROSS_COMPILE),)
CROSS_TRIPLET := $(patsubst %-,%,$(notdir $(CROSS_COMPILE)))
CROSS_CPU := $(firstword $(subst -, ,$(CROSS_TRIPLET)))
ifeq ($(origin CC),default)
CC := $(CROSS_COMPILE)gcc
endif
ifeq ($(origin AR),default)
AR := $(CROSS_COMPILE)ar
endif
STRIP ?= $(CROSS_COMPILE)strip
PKG_CONFIG ?= $(CROSS_COMPILE)pkg-config
# Debian's name of the target architecture, for the :ARCH packages.
QVK_DEB_ARCH_aarch64 := arm64
DEB_ARCH ?= $(QVK_DEB_ARCH_$(CROSS_CPU))
# What runs a target binary here (the man page and check-cross need one):
# qemu-user, when installed.
QVK_EXE_WRAPPER ?= $(if $(shell command -v qemu-$(CROSS_CPU)-static),qemu-$(CROSS_CPU)-static)
# The build folder is named after the target: build/arm64, build/arm64-noblas.
CROSS_NAME := $(or $(ARCH),$(DEB_ARCH),$(CROSS_CPU))
endif
STRIP ?= strip

# Packages of a Debian cross build: gcc for the triplet, the target's libc,
# the -dev packages of the native build for DEB_ARCH, and what runs the
# result here. glslang and spirv-tools stay the build machine's. The
# target's lavapipe is not among them: see tools/embedded/cross-lavapipe.sh.
DEB_CROSS := gcc-$(CROSS_TRIPLET) libc6-dev-$(DEB_ARCH)-cross \
	pkgconf:$(DEB_ARCH) libvulkan-dev:$(DEB_ARCH) \
	glslang-tools spirv-tools make qemu-user-static file
ifeq ($(QVK_DRM),1)
DEB_CROSS += libdrm-dev:$(DEB_ARCH)
endif
ifeq ($(QVK_BLAS),1)
DEB_CROSS += libopenblas-dev:$(DEB_ARCH) liblapacke-dev:$(DEB_ARCH)
endif

.PHONY: deps-cross check-cross
deps-cross:
	$(Q)tools/embedded/deps-cross.sh "$(CROSS_COMPILE)" "$(DEB_ARCH)" $(DEB_CROSS)

# The target's lavapipe, unpacked under build/ (never installed, so that
# this machine's Vulkan loader does not find a driver it cannot load), and
# named to the target's loader alone through VK_ICD_FILENAMES.
CROSS_LAVAPIPE := build/cross-lavapipe/$(DEB_ARCH)
CROSS_ICD ?= $(CROSS_LAVAPIPE)/lvp_icd.json
$(CROSS_LAVAPIPE)/lvp_icd.json: tools/embedded/cross-lavapipe.sh
	$(Q)tools/embedded/cross-lavapipe.sh $(DEB_ARCH) $(CROSS_LAVAPIPE)
# The run's text is compared with the native build's when there is one.
NATIVE_QVK ?= $(wildcard build/qvk)
check-cross: all $(CROSS_ICD)
	@test -n "$(CROSS_COMPILE)" || { echo "qvk: check-cross is for cross" \
		"builds: make check-cross CROSS_COMPILE=aarch64-linux-gnu- ARCH=arm64" >&2; exit 1; }
	$(Q)QVK_EXE_WRAPPER="$(QVK_EXE_WRAPPER)" VK_ICD_FILENAMES="$(CROSS_ICD)" \
		NATIVE_QVK="$(NATIVE_QVK)" RUN_MODEL="$(RUN_MODEL)" \
		RUN_TOKENIZER="$(RUN_TOKENIZER)" RUN_PROMPT="$(RUN_PROMPT)" \
		RUN_FORMATS="$(RUN_FORMATS)" \
		tools/embedded/check-cross.sh $(CROSS_CPU) 96 $(QVK) $(LIB_SO) $(LIB_A)
