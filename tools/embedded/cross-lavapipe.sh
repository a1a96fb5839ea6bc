#!/bin/bash
# The target's lavapipe for check-cross, kept out of this machine's Vulkan
# loader: mesa-vulkan-drivers:DEBARCH installed through dpkg would put its
# ICD files (lvp_icd.aarch64.json, ...) into /usr/share/vulkan/icd.d, where
# the build machine's own loader finds them, fails to load them and reports
# an error to every program with a debug messenger (qvk's tests among them).
# So its dependencies are installed as packages (tools/deps.sh), and the
# package itself is unpacked under OUTDIR, with an ICD file naming the
# unpacked driver by absolute path (VK_ICD_FILENAMES=OUTDIR/lvp_icd.json).
# Usage: cross-lavapipe.sh DEBARCH OUTDIR
set -euo pipefail
arch=$1 out=$2
pkg=mesa-vulkan-drivers:$arch
mapfile -t deps < <(apt-cache depends --no-recommends --no-suggests \
	--no-conflicts --no-breaks --no-replaces --no-enhances "$pkg" |
	sed -n "s/^  Depends: \([a-z0-9.+-]*:$arch\)\$/\1/p")
[ "${#deps[@]}" -gt 0 ] || { echo "qvk: apt knows no $pkg (make deps-cross first)" >&2; exit 1; }
"$(dirname "$0")/../deps.sh" "${deps[@]}"
rm -rf "$out"
mkdir -p "$out/root"
# (apt warns that root downloads unsandboxed into a folder _apt cannot
# read: true and harmless here.)
(cd "$out" && apt-get download "$pkg" >/dev/null 2> >(grep -v 'unsandboxed as root' >&2))
dpkg-deb -x "$out"/mesa-vulkan-drivers_*.deb "$out/root"
icd=$(find "$out/root/usr/share/vulkan/icd.d" -name 'lvp_icd.*.json' -print -quit)
[ -n "$icd" ] || { echo "qvk: $pkg has no lavapipe ICD file" >&2; exit 1; }
sed "s|\"library_path\": *\"\([^\"]*\)\"|\"library_path\": \"$(realpath "$out/root")\1\"|" \
	"$icd" >"$out/lvp_icd.json"
lib=$(sed -n 's/.*"library_path": *"\([^"]*\)".*/\1/p' "$out/lvp_icd.json")
[ -f "$lib" ] || { echo "qvk: $out/lvp_icd.json names $lib, which is missing" >&2; exit 1; }
echo "qvk: $pkg unpacked in $out; VK_ICD_FILENAMES=$out/lvp_icd.json"
