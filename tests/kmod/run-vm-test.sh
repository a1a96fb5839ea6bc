#!/bin/bash
# The qvk_telem VM test: boot Debian's kernel in QEMU (TCG; KVM does not
# work on these machines) with an initramfs holding busybox, the module and
# two static test programs, and read the verdict from the serial console.
#
#   tests/kmod/run-vm-test.sh        (make check-kmod; make check runs it)
#
# Fails on a missing marker, a failed check, a kernel WARNING/BUG/Oops or a
# timeout. Everything it writes goes to $QVK_BUILD_DIR/kmod-vm (default
# build/kmod-vm). QVK_VM_TIMEOUT (seconds, default 240) bounds QEMU: the
# run takes about 30 s on a quiet host, and every test inside bounds its
# own time, so a loaded host makes it slower, not failed. QVK_VM_APPEND
# adds kernel command-line arguments; QVK_VM_NO_BUILD=1 tests the
# qvk_telem.ko already built.
set -eu

# What a passing run prints, in phase order (tests/kmod/init.sh). A new
# check adds its marker here.
MARKERS=(
	"QVK_VM_BOOTED"
	"QVK_INSMOD default-access OK"
	"QVK_TEST abi PASS" "QVK_TEST period PASS" "QVK_TEST torn PASS"
	"QVK_TEST wrap PASS" "QVK_TEST badioctl PASS" "QVK_TEST fuzz-root PASS"
	"QVK_TEST crowd PASS" "QVK_TEST unpriv-refused PASS" "QVK_TEST bench PASS"
	"QVK_TEST libqvk-synthetic PASS" "QVK_TEST bench-energy PASS"
	"QVK_TEST unload PASS"
	"QVK_INSMOD group-access OK"
	"QVK_TEST unpriv-admitted PASS" "QVK_TEST fuzz-unpriv PASS"
	"QVK_TEST coarse PASS" "QVK_TEST libqvk-coarse PASS" "QVK_RMMOD OK"
	"QVK_TEST hotplug PASS" "QVK_TEST modloop PASS" "QVK_TEST kmemleak PASS"
	"QVK_BADPARAM OK"
	"QVK_VM_DONE"
)

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=${QVK_BUILD_DIR:-$SRC/build}
OUT=$BUILD_DIR/kmod-vm
TIMEOUT=${QVK_VM_TIMEOUT:-240}
CC=${CC:-cc}
LOG=$OUT/serial.log

fail() {
	echo "run-vm-test: $*" >&2
	exit 1
}

for tool in qemu-system-x86_64 busybox cpio gzip modinfo "$CC"; do
	command -v "$tool" >/dev/null 2>&1 ||
		fail "$tool not found; 'make deps' installs what the VM test needs"
done

# The module is built by kbuild next to the sources (make kmod).
if [ -z "${QVK_VM_NO_BUILD:-}" ]; then
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$SRC" --no-print-directory kmod >"$BUILD_DIR/kmod-vm-make.log" 2>&1 ||
		{ cat "$BUILD_DIR/kmod-vm-make.log" >&2; fail "make kmod failed"; }
fi
KO=$SRC/qvk_telem.ko
[ -f "$KO" ] || fail "$KO missing; run 'make kmod'"

# Boot the kernel the module was built for: its vermagic names it.
KVER=$(modinfo -F vermagic "$KO" | cut -d' ' -f1)
VMLINUZ=/boot/vmlinuz-$KVER
[ -r "$VMLINUZ" ] ||
	fail "$VMLINUZ missing or unreadable: the module was built for $KVER; install linux-image-$KVER or build with KDIR= for an installed kernel"

rm -rf "$OUT"
mkdir -p "$OUT/root/bin" "$OUT/root/proc" "$OUT/root/sys" "$OUT/root/dev"

# Static test programs: the UAPI test, and libqvk's telemetry code itself.
STATIC_CFLAGS="-static -O2 -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -I$SRC/include -I$SRC/runtime -pthread"
# shellcheck disable=SC2086
"$CC" $STATIC_CFLAGS -o "$OUT/root/telem_test" "$SRC"/tests/kmod/telem_vm_*.c ||
	fail "building the UAPI test program failed"
# Every telemetry source but the Vulkan timestamp calibration (no Vulkan
# there) and the QVK_DRM=0 stand-in for the amdgpu source (this build has
# libdrm's headers, so it takes the real one).
TELEMETRY_SRCS=
for f in "$SRC"/runtime/telemetry/*.c; do
	case "$(basename "$f")" in
	gpu_clock.c | no_amdgpu.c) ;;
	*) TELEMETRY_SRCS="$TELEMETRY_SRCS $f" ;;
	esac
done
# shellcheck disable=SC2086
"$CC" $STATIC_CFLAGS -DQVK_VERSION='"vm"' $(pkg-config --cflags libdrm) \
	-o "$OUT/root/libqvk_test" "$SRC/tests/kmod/libqvk_vm_test.c" $TELEMETRY_SRCS \
	"$SRC/runtime/ctx.c" "$SRC/runtime/status.c" \
	-ldl -lm 2>"$OUT/libqvk_test.log" ||
	{ cat "$OUT/libqvk_test.log" >&2; fail "building libqvk_vm_test.c failed"; }
# The benchmark's energy code (runtime/bench/energy.c) on the same sources.
# shellcheck disable=SC2086
"$CC" $STATIC_CFLAGS -DQVK_VERSION='"vm"' $(pkg-config --cflags libdrm) \
	-o "$OUT/root/bench_test" "$SRC/tests/kmod/bench_vm_test.c" $TELEMETRY_SRCS \
	"$SRC/runtime/bench/energy.c" "$SRC/runtime/ctx.c" "$SRC/runtime/status.c" \
	-ldl -lm 2>"$OUT/bench_test.log" ||
	{ cat "$OUT/bench_test.log" >&2; fail "building bench_vm_test.c failed"; }

cp "$(command -v busybox)" "$OUT/root/bin/busybox"
for applet in sh mount insmod rmmod ls chgrp chmod cat grep uname poweroff sleep dmesg; do
	ln -s busybox "$OUT/root/bin/$applet"
done
install -m 755 "$SRC/tests/kmod/init.sh" "$OUT/root/init"
install -m 644 "$KO" "$OUT/root/qvk_telem.ko"
(cd "$OUT/root" && find . | cpio -o -H newc --quiet) | gzip -1 >"$OUT/initramfs.cpio.gz"

echo "run-vm-test: booting $VMLINUZ (TCG, 2 CPUs, timeout ${TIMEOUT}s)"
start=$(date +%s)
set +e
timeout -k 5 "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu qemu64,vendor=GenuineIntel -smp 2 -m 512M \
	-nographic -no-reboot -kernel "$VMLINUZ" -initrd "$OUT/initramfs.cpio.gz" \
	-append "console=ttyS0 panic=-1 rdinit=/init loglevel=7 ${QVK_VM_APPEND:-}" \
	</dev/null >"$LOG" 2>&1
qemu_status=$?
set -e
tr -d '\r' <"$LOG" >"$LOG.txt"
mv "$LOG.txt" "$LOG"
echo "run-vm-test: QEMU exited with $qemu_status after $(($(date +%s) - start)) s; log: $LOG"

problems=
[ "$qemu_status" -eq 124 ] || [ "$qemu_status" -eq 137 ] &&
	problems="$problems\n  timed out after ${TIMEOUT}s"
[ "$qemu_status" -ne 0 ] && [ "$qemu_status" -ne 124 ] && [ "$qemu_status" -ne 137 ] &&
	problems="$problems\n  QEMU exited with status $qemu_status"
for marker in "${MARKERS[@]}"; do
	grep -qF "$marker" "$LOG" || problems="$problems\n  missing marker: $marker"
done
if grep -nE 'QVK_CHECK_FAIL|QVK_TEST .* FAIL|WARNING:|BUG:|Oops|Kernel panic|Call Trace|general protection|UBSAN|KASAN' "$LOG" >"$OUT/problems.txt"; then
	problems="$problems\n$(sed 's/^/  /' "$OUT/problems.txt")"
fi

# Under TCG the RAPL MSRs read as 0: the module must say so, not invent a domain.
grep -qE 'qvk_telem: RAPL unit MSR 0x606 .*(not plausible|faults)' "$LOG" ||
	problems="$problems\n  the module did not reject TCG's emulated (all-zero) RAPL unit MSR"

grep -E '^(QVK_BENCH|torn:|wrap:|period:|unload:|libqvk:|fuzz:|crowd:|coarse:|hotplug:|modloop:|kmemleak:|QVK_TEST .* UNAVAILABLE|bench:)' "$LOG" || true
grep -E 'qvk_telem: ' "$LOG" | sed 's/^/  kernel: /' || true
if [ -n "$problems" ]; then
	printf 'run-vm-test: FAILED:%b\n' "$problems" >&2
	exit 1
fi
echo "run-vm-test: PASS"
