#!/bin/bash
# make check-minimal: the smallest runtime (QVK_DRM=0 QVK_BLAS=0) needs
# nothing beyond the Vulkan loader and glibc, includes no libdrm or BLAS
# symbol, says so in qvk info, and passes the suites its switches change.
# Usage: check-minimal.sh BUILD (from make, which built BUILD's tests)
set -euo pipefail
build=$1
fail() { echo "check-minimal: $*" >&2; exit 1; }

needed=$(readelf -d "$build"/libqvk.so.* "$build/qvk" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' |
	sort -u | grep -vE '^(libc|libm|libdl|libpthread|ld-linux.*)\.so' || true)
[ "$needed" = libvulkan.so.1 ] || fail "libqvk and qvk need more than libvulkan.so.1: $needed"
# Nor any of their symbols, in any object (the headers themselves are
# kept out by tools/embedded/poison/, which the build puts first).
syms=$(nm -u "$build"/libqvk.a "$build/qvk" 2>/dev/null |
	grep -oE ' (drm[A-Z][A-Za-z0-9]*|amdgpu_[a-z_]*|cblas_[a-z]*|LAPACKE_[a-z_]*)$' | sort -u || true)
[ -z "$syms" ] || fail "the QVK_DRM=0 QVK_BLAS=0 build uses:$syms"
# Captured first: grep -q leaving early would SIGPIPE qvk under pipefail.
info=$("$build/qvk" info)
grep -q 'drm: *DRM matching is off' <<<"$info" ||
	fail "qvk info does not say that DRM matching is off"
for suite in device telemetry_gpu_libs quantize; do
	(cd "$build" && QVK_SUITE=$suite QVK_BUILD_DIR=$PWD ./tests/check_qvk) \
		>"$build/check-minimal-$suite.log" 2>&1 ||
		{ tail -20 "$build/check-minimal-$suite.log"; fail "suite $suite failed"; }
	echo "check-minimal: $suite: $(grep 'Checks:' "$build/check-minimal-$suite.log")"
done
echo "check-minimal: QVK_DRM=0 QVK_BLAS=0 needs only libvulkan.so.1 and glibc; qvk info says DRM matching is off"
