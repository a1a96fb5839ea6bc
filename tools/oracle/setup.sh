#!/bin/bash
# Build llama.cpp's oracle for qvk's tests and benchmarks, never for qvk itself:
# installs the npm package node-llama-cpp (pinned 3.21.1, which bundles
# llama.cpp's prebuilt CPU and Vulkan libraries and its source as a git
# bundle), takes llama.h/ggml headers from that bundle, and builds
# tools/oracle/llama_oracle.c against the prebuilt libllama.
#
#   tools/oracle/setup.sh [DIR]    (default: $QVK_ORACLE_DIR or build/oracle)
#
# Prints the path of the llama-oracle binary on its last line. Exits 77 (the
# "skip" status) when npm or its registry cannot be reached, so callers can
# say why the oracle is unavailable; any other failure exits 1.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:-${QVK_ORACLE_DIR:-$src/build/oracle}}
pkg=node-llama-cpp@3.21.1
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
bin=$dir/llama-oracle

skip() { echo "llama-oracle: unavailable: $*" >&2; exit 77; }

if ! command -v npm >/dev/null 2>&1; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "llama-oracle: installing Debian's nodejs and npm" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			nodejs npm >&2 || skip "npm is not installed and apt-get could not install it"
	else
		skip "npm is not installed (apt-get install nodejs npm)"
	fi
fi

mod=$dir/node_modules
if [ ! -f "$mod/node-llama-cpp/package.json" ] ||
   ! grep -q '"version": "3.21.1"' "$mod/node-llama-cpp/package.json"; then
	echo "llama-oracle: npm install $pkg into $dir" >&2
	# --ignore-scripts: the postinstall step would try to download or build
	# binaries; the prebuilt ones ship in the optional dependencies.
	(cd "$dir" && npm install --no-audit --no-fund --ignore-scripts -E "$pkg" >&2) ||
		skip "npm install $pkg failed (is the npm registry reachable?)"
fi

libs=$mod/@node-llama-cpp/linux-x64/bins/linux-x64
[ -d "$libs" ] || skip "the package has no prebuilt linux-x64 libraries ($libs)"
llama_so=$(cd "$libs" && ls libllama.v*.so 2>/dev/null | sed -n 1p)
ggml_so=$(cd "$libs" && ls libggml.v*.so 2>/dev/null | sed -n 1p)
[ -n "$llama_so" ] && [ -n "$ggml_so" ] || skip "no libllama/libggml in $libs"

# Headers of the exact release the libraries were built from.
hdr=$dir/llama.cpp
if [ ! -f "$hdr/include/llama.h" ]; then
	rm -rf "$hdr"
	git clone -q "$mod/node-llama-cpp/llama/gitRelease.bundle" "$hdr" >&2
fi

if [ ! -x "$bin" ] || [ "$src/tools/oracle/llama_oracle.c" -nt "$bin" ]; then
	echo "llama-oracle: building $bin" >&2
	${CC:-cc} -std=c11 -O1 -Wall -Wextra -Werror -D_GNU_SOURCE \
		-I"$hdr/include" -I"$hdr/ggml/include" \
		-DORACLE_BACKEND_DIR="\"$libs\"" \
		-o "$bin" "$src/tools/oracle/llama_oracle.c" \
		-L"$libs" -l:"$llama_so" -l:"$ggml_so" -l:libggml-base.so \
		-Wl,-rpath,"$libs"
fi
"$bin" version >&2
echo "$bin"
