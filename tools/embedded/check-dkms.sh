#!/bin/bash
# make check-dkms: build the module with DKMS from the sources that
# `make dkms-sources` put in /usr/src/NAME-VERSION, against KERNEL's
# headers, check the module's vermagic, then `dkms remove` and check that
# DKMS keeps nothing of it. The sources in /usr/src are deleted at the end,
# and on any failure DKMS's registration is removed too.
# Usage: check-dkms.sh NAME VERSION KERNEL
set -euo pipefail
name=$1 version=$2 kernel=$3
args=(-m "$name" -v "$version")
tree=/var/lib/dkms/$name
fail() { echo "check-dkms: $*" >&2; exit 1; }
cleanup() {
	if [ -n "$(dkms status "${args[@]}" 2>/dev/null)" ]; then
		dkms remove "${args[@]}" --all >/dev/null 2>&1 || true
	fi
	rm -rf "/usr/src/$name-$version"
}
trap cleanup EXIT

start=$(date +%s)
dkms add "${args[@]}"
if ! dkms build "${args[@]}" -k "$kernel"; then
	cat "$tree/$version/build/make.log" 2>/dev/null || true
	fail "dkms build against $kernel failed"
fi
ko=$(find "$tree/$version/$kernel" -name "$name.ko*" -print -quit)
[ -n "$ko" ] || fail "dkms build left no $name.ko under $tree/$version/$kernel"
vermagic=$(modinfo -F vermagic "$ko")
case $vermagic in
"$kernel "*) ;;
*) fail "$ko has vermagic '$vermagic', not $kernel" ;;
esac
grep -q ': built' <<<"$(dkms status "${args[@]}" -k "$kernel")" ||
	fail "dkms status does not say built: $(dkms status "${args[@]}")"
echo "check-dkms: built $ko (vermagic $vermagic)"

dkms remove "${args[@]}" --all
left=$(dkms status "${args[@]}")
[ -z "$left" ] || fail "dkms still lists $name after remove: $left"
[ ! -e "$tree" ] || fail "dkms remove left $tree"
[ -z "$(find "/lib/modules/$kernel" -name "$name.ko*" 2>/dev/null)" ] ||
	fail "a $name module is left under /lib/modules/$kernel"
rm -rf "/usr/src/$name-$version"
echo "check-dkms: dkms remove left nothing ($(($(date +%s) - start)) s)"
