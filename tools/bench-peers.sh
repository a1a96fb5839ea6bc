#!/bin/bash
# qvk against llama.cpp on the same GGUF file in the same run: qvk bench
# (on the default Vulkan device), llama.cpp's CPU backend and llama.cpp's
# Vulkan backend, interleaved round by round so that a change in machine
# load hits all three alike, then one table with the ratios.
#
#   tools/bench-peers.sh MODEL.gguf [-p 128] [-n 32] [-r 3] [--format auto]
#                        [--threads N]
#
# llama.cpp comes from the npm package node-llama-cpp (pinned 3.21.1,
# installed by tools/oracle/setup.sh into build/oracle), whose prebuilt CPU
# and Vulkan libraries tools/peers/llama_timing.c is linked against; it
# times one request the way qvk bench does (prompt in one batch, greedy
# decode), on --threads CPU threads (default: every online CPU; lavapipe,
# under qvk and llama.cpp's Vulkan backend, gets LP_NUM_THREADS=N unless it
# is set). The Vulkan backend skips CPU devices unless
# GGML_VK_VISIBLE_DEVICES names them, so it is set to 0 (lavapipe here).
# A synthetic model of a real shape for this script:
#   ./build/qvk bench --synthetic tinyllama-1.1b --formats q8 \
#       -t ../shared/models/tokenizer_llama2_32000.bin --save-gguf /tmp/tl-q8.gguf
# QVK_PEERS_SKIP=cpu,vulkan leaves engines out. Exits 77 when llama.cpp
# is unavailable (no npm registry), 1 on any other failure.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[ $# -ge 1 ] || usage
model=$1
shift
prefill=128 decode=32 rounds=3 format=auto threads=$(nproc)
while [ $# -gt 0 ]; do
	case "$1" in
	-p) prefill=$2 ;;
	-n) decode=$2 ;;
	-r) rounds=$2 ;;
	--format) format=$2 ;;
	--threads) threads=$2 ;;
	*) usage ;;
	esac
	shift 2
done
for v in "$prefill" "$decode" "$rounds" "$threads"; do
	[[ "$v" =~ ^[1-9][0-9]{0,4}$ ]] || { echo "bench-peers: '$v' is not a count" >&2; exit 2; }
done
[ -r "$model" ] || { echo "bench-peers: $model: cannot read it" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench-peers: python3 is needed for the summary" >&2; exit 1; }

qvk=$src/build/qvk
[ -x "$qvk" ] || { echo "bench-peers: $qvk missing; run make" >&2; exit 1; }

# llama.cpp: the package, its headers, and the timing program per backend.
oracle_dir=${QVK_ORACLE_DIR:-$src/build/oracle}
set +e
"$src/tools/oracle/setup.sh" "$oracle_dir" >/dev/null
status=$?
set -e
[ "$status" -eq 0 ] || { echo "bench-peers: llama.cpp is unavailable (tools/oracle/setup.sh: $status)" >&2; exit "$status"; }
hdr=$oracle_dir/llama.cpp
build_timing() { # NAME PACKAGE
	local libs=$oracle_dir/node_modules/@node-llama-cpp/$2/bins/$2 bin=$oracle_dir/llama-timing-$1
	local llama ggml f
	# libllama.v0.4.0.so / libllama.vulkan.v0.4.0.so and libggml's likewise.
	for f in "$libs"/libllama.*v*.so; do llama=${f##*/}; done
	for f in "$libs"/libggml.*v*.so; do ggml=${f##*/}; done
	if [ ! -x "$bin" ] || [ "$src/tools/peers/llama_timing.c" -nt "$bin" ]; then
		${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE \
			-I"$hdr/include" -I"$hdr/ggml/include" \
			-DTIMING_BACKEND_DIR="\"$libs\"" -o "$bin" \
			"$src/tools/peers/llama_timing.c" -L"$libs" -l:"$llama" -l:"$ggml" \
			-l:libggml-base.so -Wl,-rpath,"$libs" >&2
	fi
	echo "$bin"
}
cpu_bin=$(build_timing cpu linux-x64)
vk_bin=$(build_timing vulkan linux-x64-vulkan)
skip=",${QVK_PEERS_SKIP:-},"
export LP_NUM_THREADS=${LP_NUM_THREADS:-$threads}

out=$(mktemp -d /tmp/qvk-peers-XXXXXX)
trap 'rm -rf "$out"' EXIT
read -r load0 _ </proc/loadavg
echo "bench-peers: $model, prefill $prefill, decode $decode, $rounds rounds, $threads threads (load average $load0)" >&2
for r in $(seq 1 "$rounds"); do
	echo "bench-peers: round $r/$rounds: qvk" >&2
	"$qvk" bench -m "$model" --formats "$format" -p "$prefill" -n "$decode" -r 1 \
		--idle-s 0 --json "$out/qvk-$r.json" >/dev/null 2>"$out/qvk-$r.log" ||
		{ cat "$out/qvk-$r.log" >&2; exit 1; }
	if [[ "$skip" != *,cpu,* ]]; then
		echo "bench-peers: round $r/$rounds: llama.cpp CPU" >&2
		"$cpu_bin" "$model" "$prefill" "$decode" 1 cpu "$threads" >"$out/cpu-$r.txt" ||
			{ echo "bench-peers: llama.cpp CPU failed" >&2; exit 1; }
	fi
	if [[ "$skip" != *,vulkan,* ]]; then
		echo "bench-peers: round $r/$rounds: llama.cpp Vulkan" >&2
		GGML_VK_VISIBLE_DEVICES=${GGML_VK_VISIBLE_DEVICES:-0} \
			"$vk_bin" "$model" "$prefill" "$decode" 1 gpu "$threads" >"$out/vulkan-$r.txt" ||
			{ echo "bench-peers: llama.cpp Vulkan failed" >&2; exit 1; }
	fi
done
read -r load1 _ </proc/loadavg

python3 - "$out" "$rounds" "$model" "$load0" "$load1" <<'EOF'
import glob, json, os, statistics, sys
out, rounds, model, load0, load1 = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
rows = {}
qvk = [json.load(open("%s/qvk-%d.json" % (out, r))) for r in range(1, rounds + 1)]
res = [d["results"][0] for d in qvk]
if res[0]["skipped"]:
    sys.exit("bench-peers: qvk skipped the model: " + res[0]["skipped"])
dev = qvk[0]["machine"]["device"]
rows["qvk"] = ("%s, %s" % (dev["name"], res[0]["describe"]),
               [r["prefill_tok_s"]["median"] for r in res],
               [r["decode_tok_s"]["median"] for r in res])
version = None
for eng in ("cpu", "vulkan"):
    files = sorted(glob.glob("%s/%s-*.txt" % (out, eng)))
    if not files:
        continue
    pf, dc, where = [], [], None
    for f in files:
        lines = open(f).read().split("\n")
        where = lines[0]
        for l in lines[1:]:
            w = l.split()
            if len(w) == 6 and w[0] == "rep":
                p, d = float(w[3]), float(w[5])
                pf.append(res[0]["prefill_tokens"] / p)
                dc.append(res[0]["decode_tokens"] / d)
    version = where.split(" on ")[0]
    rows["llama.cpp " + ("CPU" if eng == "cpu" else "Vulkan")] = (where.split(" on ", 1)[1], pf, dc)

def fmt(v):
    return "%.2f [%.2f, %.2f]" % (statistics.median(v), min(v), max(v))

print("%s: prefill %d, decode %d tokens; %d interleaved rounds; LP_NUM_THREADS=%s; load average %s -> %s"
      % (model, res[0]["prefill_tokens"], res[0]["decode_tokens"], rounds,
         os.environ.get("LP_NUM_THREADS"), load0, load1))
print("llama.cpp: %s (node-llama-cpp 3.21.1 prebuilt)" % version)
print()
print("| engine | device | prefill tok/s | decode tok/s | qvk prefill ratio | qvk decode ratio |")
print("| --- | --- | ---: | ---: | ---: | ---: |")
qp, qd = statistics.median(rows["qvk"][1]), statistics.median(rows["qvk"][2])
for name, (where, pf, dc) in rows.items():
    ratio_p = "" if name == "qvk" else "%.2fx" % (qp / statistics.median(pf))
    ratio_d = "" if name == "qvk" else "%.2fx" % (qd / statistics.median(dc))
    print("| %s | %s | %s | %s | %s | %s |" % (name, where, fmt(pf), fmt(dc), ratio_p, ratio_d))
EOF
