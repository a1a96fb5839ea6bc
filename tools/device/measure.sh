#!/bin/bash
# qvk on a lent GPU (issue #11 item 7), prepared to run in one call of the
# device tool. UNTESTED: no task that wrote or changed this script was
# lent a GPU; the first session that is must read its output with care.
#
# Here (this machine, repository root), once:
#   tools/device/measure.sh prepare
# builds a run-only qvk (make QVK_BLAS=0: no OpenBLAS to carry), and fills
# the ignored folder .device/ with what the GPU machine lacks: the Vulkan
# loader and libdrm (Debian packages, the device README's .gl recipe),
# llama.cpp's prebuilt Vulkan libraries from node-llama-cpp 3.21.1 (xz:
# the carry limit is 64 MiB), llama-timing built against them, and the
# Llama 2 tokenizer for the synthetic GGUF files. It prints the call.
#
# There (the device tool's run, carrying .device and build/noblas/qvk):
#   tools/device/measure.sh run
# about 8 minutes in all: qvk info; qvk bench matmul --quick; qvk bench on
# synthetic TinyLlama-1.1B and Llama-2-7B shapes in q8 and q4 with energy
# from NVML (nvmlDeviceGetTotalEnergyConsumption, dlopen()ed by libqvk);
# llama.cpp's Vulkan backend on the same shapes as GGUF files, its energy
# by qvk energy as the difference of R and 2R repetitions. Every output
# lands in $OUT.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
dev=$src/.device
cd "$src"

prepare() {
	grep -qx '/.device/' .git/info/exclude 2>/dev/null ||
		echo /.device/ >>"$(git rev-parse --git-path info/exclude)"
	mkdir -p "$dev/deb" /tmp/amd64/partial
	nice make -j2 QVK_BLAS=0 tools
	local o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
	# shellcheck disable=SC2086
	apt-get $o update >/dev/null
	# shellcheck disable=SC2086
	(cd "$dev/deb" && apt-get $o download libvulkan1 libdrm2 libdrm-common >/dev/null)
	"$src/tools/oracle/setup.sh" >/dev/null
	local libs=build/oracle/node_modules/@node-llama-cpp/linux-x64-vulkan/bins/linux-x64-vulkan
	rm -rf "$dev/llama"
	mkdir -p "$dev/llama"
	cp "$libs"/libggml-base.so "$libs"/libggml-cpu-x64.so "$libs"/libggml-vulkan.so \
		"$libs"/libggml.vulkan.v*.so "$libs"/libllama.vulkan.v*.so "$dev/llama/"
	cc -std=c11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE \
		-Ibuild/oracle/llama.cpp/include -Ibuild/oracle/llama.cpp/ggml/include \
		-DTIMING_BACKEND_DIR='"/tmp/llama"' -o "$dev/llama/llama-timing" \
		tools/peers/llama_timing.c -L"$dev/llama" -l:"$(cd "$dev/llama" && ls libllama.vulkan.v*.so)" \
		-l:"$(cd "$dev/llama" && ls libggml.vulkan.v*.so)" -l:libggml-base.so -Wl,-rpath,/tmp/llama
	(cd "$dev" && tar -cJf llama.tar.xz llama && rm -rf llama)
	cp "${QVK_MODELS:-../shared/models}/tokenizer_llama2_32000.bin" "$dev/"
	du -sh "$dev" build/noblas/qvk
	echo "device tool call: run(command='tools/device/measure.sh run', carry=['.device', 'build/noblas/qvk'], timeout_s=540)"
}

run() {
	local out=${OUT:?run on the device machine, where the tool sets OUT}
	local qvk=$src/build/noblas/qvk
	for f in "$dev"/deb/*.deb; do dpkg -x "$f" /; done
	ldconfig
	tar -xJf "$dev/llama.tar.xz" -C /tmp
	if ! "$qvk" info >/dev/null 2>&1; then
		export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
	fi
	{ nvidia-smi || true; ldd "$qvk"; } >"$out/machine.txt" 2>&1
	timeout 30 "$qvk" info >"$out/info.txt" 2>&1
	timeout 120 "$qvk" bench matmul --quick --json >"$out/matmul.json" 2>"$out/matmul.log" || true
	timeout 240 "$qvk" bench --synthetic tinyllama-1.1b --synthetic llama-2-7b --formats q8,q4 \
		-p 128 -n 128 -r 5 --idle-s 5 --max-window-s 10 --json "$out/bench.json" \
		--csv "$out/bench.csv" >"$out/bench.txt" 2>"$out/bench.log" || true
	# llama.cpp's Vulkan backend on the same shapes, same request.
	for shape in tinyllama-1.1b llama-2-7b; do
		for f in q8 q4; do
			local gguf=/tmp/$shape-$f.gguf t=$out/llama-$shape-$f
			timeout 60 "$qvk" bench --synthetic "$shape" --formats "$f" \
				-t "$dev/tokenizer_llama2_32000.bin" --save-gguf "$gguf" 2>>"$out/llama.log" || continue
			# Timing lines, then qvk energy's JSON as the last line.
			timeout 40 "$qvk" energy --json -- /tmp/llama/llama-timing "$gguf" 128 128 2 gpu \
				>"$t-r2.txt" 2>>"$out/llama.log" || true
			timeout 60 "$qvk" energy --json -- /tmp/llama/llama-timing "$gguf" 128 128 4 gpu \
				>"$t-r4.txt" 2>>"$out/llama.log" || true
			rm -f "$gguf"
		done
	done
	ls -la "$out"
}

case "${1:-}" in
prepare) prepare ;;
run) run ;;
*) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
