#!/bin/sh
# /init of the qvk_telem test VM (busybox). Prints markers on the serial
# console that tests/kmod/run-vm-test.sh checks, then powers off. Phases:
#   1. root-only module: ABI, timer, seqcount, wraps, bad calls, random
#      ioctls, a crowd of openers, refusal of other users, read cost,
#      libqvk on the page, unload with a live mapping;
#   2. group=1000 with coarse readers: admission, random ioctls and the
#      coarse page as a group member, libqvk as a coarse reader;
#   3. the test program loads and unloads the module itself: the sampling
#      CPU going offline, load/unload loops under readers, kmemleak;
#   4. bad parameters refused at load.
# A new check goes into one of these phases and its marker into
# run-vm-test.sh.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "QVK_VM_BOOTED $(uname -r) cpus=$(grep -c ^processor /proc/cpuinfo)"

RATE=50000000
BITS=24
STEP=1000000
INTERVAL=50
SYNTH="synthetic=1 synthetic_uw=$RATE synthetic_bits=$BITS"
TEST="/telem_test --rate-uw $RATE --bits $BITS --coarse-step-uj $STEP --coarse-interval-ms $INTERVAL"

# shellcheck disable=SC2086
if insmod /qvk_telem.ko $SYNTH; then
	echo "QVK_INSMOD default-access OK"
	ls -l /dev/qvk_telem
	$TEST abi period torn wrap badioctl fuzz-root crowd unpriv-refused bench
	# libqvk itself, statically linked, through the mapped page.
	/libqvk_test --rate-uw $RATE
	# Joules per token as qvk bench computes them, on the same ramp.
	/bench_test --rate-uw $RATE
	$TEST unload
else
	echo "QVK_INSMOD default-access FAIL"
fi

# shellcheck disable=SC2086
if insmod /qvk_telem.ko $SYNTH group=1000 unpriv_step_uj=$STEP unpriv_interval_ms=$INTERVAL; then
	echo "QVK_INSMOD group-access OK"
	# What the udev rule in the README does on a real system.
	chgrp 1000 /dev/qvk_telem
	$TEST unpriv-admitted fuzz-unpriv coarse
	/libqvk_test --rate-uw $RATE --as 1001:1000 --coarse-step-uj $STEP
	rmmod qvk_telem && echo "QVK_RMMOD OK"
else
	echo "QVK_INSMOD group-access FAIL"
fi

$TEST hotplug modloop kmemleak

# Bad parameters must be refused at load with a message, not crash.
bad=
for params in "period_us=5" "unpriv_interval_ms=100000" "cpu=64" "cpu=-2"; do
	# shellcheck disable=SC2086
	if insmod /qvk_telem.ko synthetic=1 $params 2>/dev/null; then
		bad="$bad $params"
		rmmod qvk_telem
	fi
done
if [ -z "$bad" ]; then
	echo "QVK_BADPARAM OK"
else
	echo "QVK_BADPARAM FAIL: accepted$bad"
fi
echo QVK_VM_DONE
poweroff -f
