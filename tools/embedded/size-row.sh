#!/bin/bash
# One row of `make size`: the stripped sizes of one build's qvk and libqvk,
# and the shared libraries libqvk needs beyond glibc (the NEEDED entries,
# followed through the libraries they need in turn), each found where the
# compiler finds it, with its size on disk.
#
# Usage: size-row.sh LABEL QVK LIBQVK_SO LIBQVK_A
# Environment: CC (to find libraries), STRIP, READELF.
set -euo pipefail
label=$1 qvk=$2 so=$3 a=$4
: "${CC:=cc}" "${STRIP:=strip}" "${READELF:=readelf}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

kib() { echo $((($1 + 512) / 1024)); }
stripped() { # FILE [STRIP-OPTION]: the size of a stripped copy
	"$STRIP" ${2:+"$2"} -o "$tmp/s" "$1"
	stat -c %s "$tmp/s"
}
needed() { "$READELF" -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }

# glibc itself is on every image; the dynamic loader too.
is_glibc() {
	case $1 in
	libc.so.* | libm.so.* | libdl.so.* | libpthread.so.* | librt.so.* | ld-linux*) return 0 ;;
	esac
	return 1
}

declare -A seen=()
deps=() deps_bytes=0
walk() {
	local lib path
	for lib in $(needed "$1"); do
		is_glibc "$lib" && continue
		[ -n "${seen[$lib]:-}" ] && continue
		seen[$lib]=1
		path=$("$CC" -print-file-name="$lib")
		if [ "$path" = "$lib" ]; then # gcc echoes a name it cannot find
			deps+=("$lib (not found)")
			continue
		fi
		size=$(stat -L -c %s "$path")
		deps_bytes=$((deps_bytes + size))
		deps+=("$lib $(kib "$size")")
		walk "$path"
	done
}
walk "$so"

printf '| %s | %s | %s | %s | %s KiB: %s |\n' "$label" \
	"$(kib "$(stripped "$qvk")")" "$(kib "$(stripped "$so")")" \
	"$(kib "$(stripped "$a" --strip-debug)")" "$(kib "$deps_bytes")" \
	"$(IFS=,; list="${deps[*]}"; echo "${list//,/, }")"
