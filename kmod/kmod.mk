# qvk_telem kernel module targets, included by the top-level Makefile.
#
#   make kmod            build qvk_telem.ko with W=1 and sparse (C=1)
#   make check-kmod      boot Debian's kernel in QEMU (TCG) and test the module
#   make kmod-clean      remove kbuild outputs
#   make dkms-install    register, build and install the module with DKMS
#   make check-dkms      dkms add + build against KDIR's kernel, then dkms
#                        remove, checking that nothing is left
#   make dkms-uninstall  dkms remove and delete the sources in /usr/src
#   make modules / modules_install   kbuild's own targets, unchecked, for
#                        packagers (Yocto's module class calls them)
#
# KDIR: KERNEL_SRC when given (Yocto's module class), the running kernel's
# build dir, or else the newest installed /usr/src/linux-headers-*-amd64;
# make kmod names the kernel it built for and says so when that is not the
# running one (the module then cannot load here). kbuild writes its objects next to the
# sources (kmod/*.o, ./qvk_telem.ko); its clean deletes *.o across the M=
# tree, so kmod-clean removes kbuild's outputs by name instead.

DEB_KMOD := linux-headers-amd64 linux-image-amd64 qemu-system-x86 \
	busybox-static cpio sparse kmod

KMOD_VERSION := $(QVK_VERSION)
KDIR ?= $(or $(KERNEL_SRC),$(wildcard /lib/modules/$(shell uname -r)/build),\
	$(lastword $(sort $(wildcard /usr/src/linux-headers-*-amd64))))
KMOD_KO := qvk_telem.ko
KMOD_SRCS := Kbuild $(wildcard kmod/*.c kmod/*.h) include/uapi/linux/qvk_telem.h
KMOD_VM_TIMEOUT ?= 240

.PHONY: kmod check-kmod kmod-clean dkms-install modules modules_install

# The module reads x86 RAPL MSRs. ARCH=arm64 is a valid userspace cross
# build (mk/cross.mk), so the refusal is here, not at parse time; Kbuild
# refuses non-x86 kernels for builds that bypass this Makefile.
KMOD_ARCH_CHECK = @case "$(ARCH)" in ""|x86|x86_64|i386) ;; *) echo "qvk: the" \
	"qvk_telem module reads x86 RAPL MSRs (Intel/AMD energy counters) and" \
	"builds only for x86 kernels, not ARCH=$(ARCH); on $(ARCH), libqvk reads" \
	"energy from powercap or hwmon without it" >&2; exit 1;; esac

# sparse and W=1 warnings are printed, not fatal, in kbuild: fail on any.
kmod: $(KMOD_SRCS)
	$(KMOD_ARCH_CHECK)
	@test -n "$(KDIR)" -a -d "$(KDIR)" || { echo "qvk: no kernel headers (KDIR=$(KDIR)); make deps installs linux-headers-amd64" >&2; exit 1; }
	@mkdir -p $(BUILD)
	$(Q)set -o pipefail; $(MAKE) -C $(KDIR) M=$(CURDIR) W=1 C=1 modules 2>&1 | \
		tee $(BUILD)/kmod-build.log
	$(Q)if grep -E 'warning:|error:' $(BUILD)/kmod-build.log; then \
		echo "qvk: the module build printed warnings (above); they are errors here" >&2; \
		rm -f $(KMOD_KO); exit 1; fi
	$(Q)krel=$$(modinfo -F vermagic $(KMOD_KO) 2>/dev/null | cut -d' ' -f1); \
	[ -n "$$krel" ] || krel=$$(sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' \
		$(KDIR)/include/generated/utsrelease.h 2>/dev/null); \
	echo "qvk: built $(KMOD_KO) for kernel $$krel (KDIR=$(KDIR))"; \
	if [ "$$krel" != "$$(uname -r)" ]; then \
		echo "qvk: the running kernel is $$(uname -r), not $$krel: this module cannot be loaded here; to build for it, install linux-headers-$$(uname -r) or pass KDIR=" >&2; fi

# For build systems: kbuild with their compiler and flags, no sparse, no
# W=1. modules_install honours kbuild's MODLIB / INSTALL_MOD_PATH.
modules modules_install:
	$(KMOD_ARCH_CHECK)
	$(MAKE) -C $(KDIR) M=$(CURDIR) $@

check-kmod: kmod
	$(Q)QVK_VM_TIMEOUT=$(KMOD_VM_TIMEOUT) tests/kmod/run-vm-test.sh

# Not kbuild's clean: for M= it deletes every *.o and *.a under the tree,
# libqvk's objects in build/ included. These are kbuild's outputs here.
KMOD_OUTPUTS := qvk_telem.ko qvk_telem.o qvk_telem.mod qvk_telem.mod.c \
	qvk_telem.mod.o Module.symvers modules.order kmod/*.o kmod/.*.cmd \
	.qvk_telem*.cmd .Module.symvers.cmd .modules.order.cmd
kmod-clean:
	rm -f $(KMOD_OUTPUTS)
	rm -rf $(BUILD)/kmod-vm $(BUILD)/kmod-build.log $(BUILD)/kmod-vm-make.log \
		$(BUILD)/kmod-vm-run.log

# DKMS builds for the kernel whose headers KDIR holds, named as its modules
# directory is (UTS_RELEASE, e.g. 6.1.0-57-amd64), not for `uname -r`: the
# running kernel may have no headers (a VM or container kernel).
DKMS_KERNEL ?= $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' \
	$(KDIR)/include/generated/utsrelease.h 2>/dev/null)
DKMS_NAME := qvk_telem
DKMS_DIR := $(DESTDIR)/usr/src/$(DKMS_NAME)-$(KMOD_VERSION)
DKMS_ARGS = -m $(DKMS_NAME) -v $(KMOD_VERSION)
DKMS_NEED = @command -v dkms >/dev/null || { echo "qvk: dkms is not installed" \
	"(apt-get install dkms)" >&2; exit 1; }; test -n "$(DKMS_KERNEL)" || { \
	echo "qvk: no kernel release in $(KDIR)/include/generated/utsrelease.h;" \
	"set KDIR= or DKMS_KERNEL=" >&2; exit 1; }

.PHONY: dkms-sources check-dkms check-dkms-run dkms-uninstall
dkms-sources:
	$(KMOD_ARCH_CHECK)
	install -d $(DKMS_DIR)/kmod $(DKMS_DIR)/include/uapi/linux
	install -m 644 Kbuild $(DKMS_DIR)/
	install -m 644 kmod/*.c kmod/*.h $(DKMS_DIR)/kmod/
	install -m 644 include/uapi/linux/qvk_telem.h $(DKMS_DIR)/include/uapi/linux/
	sed 's/@VERSION@/$(KMOD_VERSION)/' kmod/dkms.conf > $(DKMS_DIR)/dkms.conf

dkms-install: dkms-sources
	$(Q)if [ -n "$(DESTDIR)" ]; then \
		echo "qvk: staged in $(DKMS_DIR); run dkms add/build/install on the target"; \
	elif command -v dkms >/dev/null 2>&1; then \
		test -n "$(DKMS_KERNEL)" || { echo "qvk: no kernel release in" \
			"$(KDIR); set KDIR= or DKMS_KERNEL=" >&2; exit 1; }; \
		dkms add $(DKMS_ARGS) && \
		dkms build $(DKMS_ARGS) -k $(DKMS_KERNEL) && \
		dkms install $(DKMS_ARGS) -k $(DKMS_KERNEL); \
	else \
		echo "qvk: dkms is not installed (apt-get install dkms); sources are in $(DKMS_DIR)"; \
		echo "qvk: without DKMS: make kmod KDIR=/lib/modules/VERSION/build && insmod qvk_telem.ko"; \
	fi

# Refuses to run over a registration it did not make: it ends with dkms
# remove, which would take a user's installed module with it.
# (A new make after the packages: KDIR is found when the Makefile is read.)
DEB_DKMS = dkms kmod $(if $(wildcard $(KDIR)),,linux-headers-amd64)
check-dkms:
	$(Q)tools/deps.sh $(DEB_DKMS)
	$(Q)$(MAKE) --no-print-directory check-dkms-run
check-dkms-run:
	$(DKMS_NEED)
	$(Q)if dkms status $(DKMS_ARGS) | grep -q .; then echo "qvk: $(DKMS_NAME)" \
		"$(KMOD_VERSION) is already registered with DKMS; check-dkms ends" \
		"with dkms remove: run make dkms-uninstall first" >&2; exit 1; fi
	$(Q)$(MAKE) --no-print-directory dkms-sources DESTDIR= >/dev/null
	$(Q)tools/embedded/check-dkms.sh $(DKMS_NAME) $(KMOD_VERSION) $(DKMS_KERNEL)

dkms-uninstall:
	$(DKMS_NEED)
	$(Q)if dkms status $(DKMS_ARGS) | grep -q .; then \
		dkms remove $(DKMS_ARGS) --all; fi
	rm -rf $(DESTDIR)/usr/src/$(DKMS_NAME)-$(KMOD_VERSION)
