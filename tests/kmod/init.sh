#!/bin/sh
# /init of the qvk_telem test VM (busybox). Prints markers on the serial
# console that tests/kmod/run-vm-test.sh checks, then powers off.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "QVK_VM_BOOTED $(uname -r) cpus=$(grep -c ^processor /proc/cpuinfo)"

RATE=50000000
BITS=24
if insmod /qvk_telem.ko synthetic=1 synthetic_uw=$RATE synthetic_bits=$BITS; then
	echo "QVK_INSMOD default-access OK"
	ls -l /dev/qvk_telem
	/telem_test --rate-uw $RATE --bits $BITS \
		abi period torn wrap badioctl unpriv-refused bench
	# libqvk itself, statically linked, through the mapped page.
	/libqvk_test --rate-uw $RATE
	# Joules per token as qvk bench computes them, on the same ramp.
	/bench_test --rate-uw $RATE
	/telem_test unload
else
	echo "QVK_INSMOD default-access FAIL"
fi

if insmod /qvk_telem.ko synthetic=1 synthetic_uw=$RATE synthetic_bits=$BITS group=1000; then
	echo "QVK_INSMOD group-access OK"
	# What the udev rule in the README does on a real system.
	chgrp 1000 /dev/qvk_telem
	/telem_test unpriv-admitted
	rmmod qvk_telem && echo "QVK_RMMOD OK"
else
	echo "QVK_INSMOD group-access FAIL"
fi

# A bad parameter must be refused at load with a message, not crash.
if insmod /qvk_telem.ko synthetic=1 period_us=5 2>/dev/null; then
	echo "QVK_BADPARAM FAIL: period_us=5 accepted"
	rmmod qvk_telem
else
	echo "QVK_BADPARAM OK"
fi
echo QVK_VM_DONE
poweroff -f
