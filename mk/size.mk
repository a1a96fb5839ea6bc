# The smallest runtime and what each configuration costs.
#
#   make size [CROSS_COMPILE=aarch64-linux-gnu- ARCH=arm64]   stripped sizes
#        of qvk and libqvk in each configuration, as a Markdown table (the
#        README's); each configuration builds in its own folder first; KiB
#   make check-minimal   QVK_DRM=0 QVK_BLAS=0 needs only the Vulkan loader,
#        says that DRM matching is off, and passes its suites

SIZE_CONFIGS := QVK_DRM=1,QVK_BLAS=1 QVK_DRM=1,QVK_BLAS=0 \
	QVK_DRM=0,QVK_BLAS=1 QVK_DRM=0,QVK_BLAS=0
READELF ?= readelf

.PHONY: size size-row check-minimal check-minimal-run
size:
	$(Q)for c in $(SIZE_CONFIGS); do \
		$(MAKE) --no-print-directory $${c//,/ } lib tools >/dev/null || exit 1; done
	@echo "| build$(if $(CROSS_COMPILE), ($(CROSS_TRIPLET))) | qvk | libqvk.so" \
		"| libqvk.a (no debug) | libqvk.so needs, beyond glibc |"
	@echo "| --- | ---: | ---: | ---: | --- |"
	$(Q)for c in $(SIZE_CONFIGS); do \
		$(MAKE) --no-print-directory -s $${c//,/ } size-row || exit 1; done

# One configuration's row (size runs it per configuration).
size-row: lib tools
	$(Q)CC="$(CC)" STRIP="$(STRIP)" READELF="$(READELF)" \
		tools/embedded/size-row.sh "\`make$(if $(filter 1,$(QVK_DRM)),, QVK_DRM=0)$(if \
		$(filter 1,$(QVK_BLAS)),, QVK_BLAS=0)\`" $(QVK) $(LIB_SO) $(LIB_A)

check-minimal:
	$(Q)$(MAKE) --no-print-directory QVK_DRM=0 QVK_BLAS=0 check-minimal-run
check-minimal-run: deps
	$(Q)$(SUBMAKE) lib tools tests
	$(Q)tools/embedded/check-minimal.sh $(BUILD)
