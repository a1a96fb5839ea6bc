# qvk_telem kernel module targets, included by the top-level Makefile.
#
#   make kmod            build qvk_telem.ko with W=1 and sparse (C=1)
#   make check-kmod      boot Debian's kernel in QEMU (TCG) and test the module
#   make kmod-clean      remove kbuild outputs
#   make dkms-install    register, build and install the module with DKMS
#
# KDIR: the running kernel's build dir, or else the newest installed
# /usr/src/linux-headers-*-amd64. kbuild writes its objects next to the
# sources (kmod/*.o, ./qvk_telem.ko); its clean deletes *.o across the M=
# tree, so kmod-clean removes kbuild's outputs by name instead.

DEB_KMOD := linux-headers-amd64 linux-image-amd64 qemu-system-x86 \
	busybox-static cpio sparse kmod

KMOD_VERSION := $(QVK_VERSION)
KDIR ?= $(or $(wildcard /lib/modules/$(shell uname -r)/build),\
	$(lastword $(sort $(wildcard /usr/src/linux-headers-*-amd64))))
KMOD_KO := qvk_telem.ko
KMOD_SRCS := Kbuild $(wildcard kmod/*.c kmod/*.h) include/uapi/linux/qvk_telem.h
KMOD_VM_TIMEOUT ?= 240

.PHONY: kmod check-kmod kmod-clean dkms-install

# sparse and W=1 warnings are printed, not fatal, in kbuild: fail on any.
kmod: $(KMOD_SRCS)
	@test -n "$(KDIR)" -a -d "$(KDIR)" || { echo "qvk: no kernel headers (KDIR=$(KDIR)); make deps installs linux-headers-amd64" >&2; exit 1; }
	@mkdir -p $(BUILD)
	$(Q)set -o pipefail; $(MAKE) -C $(KDIR) M=$(CURDIR) W=1 C=1 modules 2>&1 | \
		tee $(BUILD)/kmod-build.log
	$(Q)if grep -E 'warning:|error:' $(BUILD)/kmod-build.log; then \
		echo "qvk: the module build printed warnings (above); they are errors here" >&2; \
		rm -f $(KMOD_KO); exit 1; fi

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

DKMS_DIR := $(DESTDIR)/usr/src/qvk_telem-$(KMOD_VERSION)
dkms-install:
	install -d $(DKMS_DIR)/kmod $(DKMS_DIR)/include/uapi/linux
	install -m 644 Kbuild $(DKMS_DIR)/
	install -m 644 kmod/*.c kmod/*.h $(DKMS_DIR)/kmod/
	install -m 644 include/uapi/linux/qvk_telem.h $(DKMS_DIR)/include/uapi/linux/
	sed 's/@VERSION@/$(KMOD_VERSION)/' kmod/dkms.conf > $(DKMS_DIR)/dkms.conf
	$(Q)if [ -n "$(DESTDIR)" ]; then \
		echo "qvk: staged in $(DKMS_DIR); run dkms add/build/install on the target"; \
	elif command -v dkms >/dev/null 2>&1; then \
		dkms add -m qvk_telem -v $(KMOD_VERSION) && \
		dkms build -m qvk_telem -v $(KMOD_VERSION) && \
		dkms install -m qvk_telem -v $(KMOD_VERSION); \
	else \
		echo "qvk: dkms is not installed (apt-get install dkms); sources are in $(DKMS_DIR)"; \
		echo "qvk: without DKMS: make kmod KDIR=/lib/modules/VERSION/build && insmod qvk_telem.ko"; \
	fi
