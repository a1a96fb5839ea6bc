#!/bin/sh
# make deps-cross: Debian's cross toolchain and the multiarch -dev packages
# of a foreign architecture.
# Usage: deps-cross.sh CROSS_COMPILE DEBARCH PACKAGE...
# Adds DEBARCH to dpkg's architectures if it is missing (as root; otherwise
# prints the command and fails), then installs the missing packages through
# tools/deps.sh, which runs apt-get update first.
set -eu
cross=$1 arch=$2
shift 2
if [ -z "$cross" ]; then
	echo "qvk: deps-cross is for cross builds, e.g." \
	     "make deps-cross CROSS_COMPILE=aarch64-linux-gnu-" >&2
	exit 1
fi
if [ -z "$arch" ]; then
	echo "qvk: CROSS_COMPILE=$cross is not a Debian cross toolchain this" \
	     "Makefile knows: name its Debian architecture with DEB_ARCH=, or" \
	     "pass QVK_DEPS=0 when the build system provides the dependencies" >&2
	exit 1
fi
if [ "$(dpkg --print-architecture)" != "$arch" ] &&
   ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "qvk: dpkg does not know the $arch architecture; add it with:" >&2
		echo "  sudo dpkg --add-architecture $arch" >&2
		exit 1
	fi
	echo "qvk: adding the $arch architecture to dpkg" >&2
	dpkg --add-architecture "$arch"
fi
exec "$(dirname "$0")/../deps.sh" "$@"
