################################################################################
#
# qvk
#
################################################################################

# Used as a BR2_EXTERNAL tree from a qvk checkout (make
# BR2_EXTERNAL=/path/to/qvk/tools/embedded/buildroot), the sources are that
# checkout. Copied into package/qvk/ of a Buildroot tree, set QVK_SITE (or
# QVK_OVERRIDE_SRCDIR in local.mk) to a qvk source tree.
QVK_VERSION = 0.1.0
QVK_SITE = $(BR2_EXTERNAL_QVK_PATH)/../../..
QVK_SITE_METHOD = local
QVK_LICENSE = MIT (libqvk, qvk), GPL-2.0 (qvk_telem module)
QVK_LICENSE_FILES = LICENSE
QVK_INSTALL_STAGING = YES
# glslangValidator and spirv-val run on the build machine: SPIR-V is
# target-independent.
QVK_DEPENDENCIES = host-pkgconf host-glslang host-spirv-tools \
	vulkan-headers vulkan-loader

# The toolchain, flags and pkg-config are Buildroot's; QVK_DEPS=0: Buildroot
# provides the dependencies (no Debian package check); QVK_MAN=0: the man
# page is made by running the target's qvk, and target-finalize removes
# /usr/share/man anyway.
QVK_MAKE_OPTS = \
	$(TARGET_CONFIGURE_OPTS) \
	CROSS_COMPILE="$(TARGET_CROSS)" \
	GLSLANG=$(HOST_DIR)/bin/glslangValidator \
	SPIRV_VAL=$(HOST_DIR)/bin/spirv-val \
	QVK_DEPS=0 \
	QVK_MAN=0 \
	PREFIX=/usr

ifeq ($(BR2_PACKAGE_LIBDRM),y)
QVK_DEPENDENCIES += libdrm
QVK_MAKE_OPTS += QVK_DRM=1
else
QVK_MAKE_OPTS += QVK_DRM=0
endif

# Buildroot's OpenBLAS carries LAPACKE itself (no separate -llapacke).
ifeq ($(BR2_PACKAGE_QVK_QUANTIZE),y)
QVK_DEPENDENCIES += openblas
QVK_MAKE_OPTS += QVK_BLAS=1 BLAS_LIBS=-lopenblas
else
QVK_MAKE_OPTS += QVK_BLAS=0
endif

# A checkout may hold the build machine's own outputs (build/, kbuild's
# objects); they must not pass for the target's.
define QVK_CLEAN_COPIED_TREE
	$(MAKE) -C $(@D) QVK_DEPS=0 clean
endef
QVK_POST_RSYNC_HOOKS += QVK_CLEAN_COPIED_TREE

define QVK_BUILD_CMDS
	$(TARGET_MAKE_ENV) $(MAKE) -C $(@D) $(QVK_MAKE_OPTS) lib tools
endef

# Staging gets everything (headers, libqvk.a, qvk.pc, the UAPI header);
# the target only what runs: qvk, libqvk.so.* and the udev rule example.
define QVK_INSTALL_STAGING_CMDS
	$(TARGET_MAKE_ENV) $(MAKE) -C $(@D) $(QVK_MAKE_OPTS) \
		DESTDIR=$(STAGING_DIR) install
endef

define QVK_INSTALL_TARGET_CMDS
	$(TARGET_MAKE_ENV) $(MAKE) -C $(@D) $(QVK_MAKE_OPTS) \
		DESTDIR=$(TARGET_DIR) install-runtime
endef

# The module builds from the top-level Kbuild with Buildroot's kernel.
ifeq ($(BR2_PACKAGE_QVK_TELEM),y)
$(eval $(kernel-module))
endif
$(eval $(generic-package))
