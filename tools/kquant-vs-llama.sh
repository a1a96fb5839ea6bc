#!/bin/bash
# qvk's Q4_K_M against llama.cpp's own Q4_K_M on a real model (issue #14),
# every perplexity computed by llama.cpp.
#
#   tools/kquant-vs-llama.sh [WINDOWS]     (default 32 windows of 256)
#
# Needs build/qvk (make), the model trained by tools/train/train_llama.py
# (build/train/model.bin, heldout.ids; or $QVK_TRAIN_DIR) and the oracle
# (tools/oracle/setup.sh, run here). Optionally $LLAMA_BIN, a folder with llama-imatrix and
# llama-quantize built from llama.cpp's source (see README; libllama's C API
# has no importance matrix): llama-imatrix's matrix of the calibration text
# then drives one more file on each side (llama-quantize --imatrix, qvk
# --method mse --imatrix).
#
# From the float model (the llama2.c checkpoint), qvk writes the F32 GGUF;
# llama.cpp's quantizer (llama_model_quantize through llama-oracle) turns that
# file into Q4_K_M; qvk quantizes the checkpoint to q4_k_m with each method
# (calibration: tinystories-calib.txt, part of the training text). Then
# llama.cpp computes the logits of every file over the same WINDOWS windows
# of held-out text (BOS + 255 ids each, tools/train/score_llama.py); the table
# gives the perplexity, the KL to the F32 file's distributions, top-1
# agreement, and ratios to llama.cpp's own Q4_K_M. Work files go to
# build/kquant-vs-llama/.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
models=${QVK_MODELS:-$src/../shared/models}
win=${1:-32}
qvk=$src/build/qvk
tr=${QVK_TRAIN_DIR:-$src/build/train}
out=$src/build/kquant-vs-llama
py=/usr/bin/python3
tok=$models/tok512.bin
calib=$models/tinystories-calib.txt

[ -x "$qvk" ] || { echo "kquant-vs-llama: build qvk first (make)" >&2; exit 1; }
[ -f "$tr/model.bin" ] && [ -f "$tr/heldout.ids" ] || {
	echo "kquant-vs-llama: no trained model: run $py tools/train/train_llama.py" >&2
	exit 1
}
oracle=$("$src/tools/oracle/setup.sh" | tail -n 1)
mkdir -p "$out"

q() { # NAME ARGS...: qvk quantize the checkpoint, quietly, timed
	local name=$1
	shift
	/usr/bin/time -f "$name: %e s" "$qvk" quantize "$tr/model.bin" "$out/$name.gguf" \
		-t "$tok" "$@" > "$out/$name.log" 2>&1 ||
		{ cat "$out/$name.log" >&2; exit 1; }
	grep -i "peak" "$out/$name.log" >&2 || true
}

q f32 --format f32
"$oracle" quantize "$out/f32.gguf" "$out/llama-q4_k_m.gguf" Q4_K_M > "$out/llama-q4_k_m.log" 2>&1 ||
	{ cat "$out/llama-q4_k_m.log" >&2; exit 1; }
files=("llama.cpp Q4_K_M=$out/llama-q4_k_m.gguf")
q qvk-rtn --format q4_k_m --method rtn
files+=("qvk q4_k_m rtn=$out/qvk-rtn.gguf")
for m in mse awq gptq; do
	q "qvk-$m" --format q4_k_m --method "$m" --calib "$calib"
	files+=("qvk q4_k_m $m=$out/qvk-$m.gguf")
done
if [ -n "${LLAMA_BIN:-}" ]; then
	nice -n 19 "$LLAMA_BIN/llama-imatrix" -m "$out/f32.gguf" -f "$calib" -c 256 -t 2 --no-ppl \
		-o "$out/imatrix.gguf" > "$out/imatrix.log" 2>&1 ||
		{ tail -n 20 "$out/imatrix.log" >&2; exit 1; }
	"$LLAMA_BIN/llama-quantize" --imatrix "$out/imatrix.gguf" "$out/f32.gguf" \
		"$out/llama-q4_k_m-imatrix.gguf" Q4_K_M > "$out/llama-q4_k_m-imatrix.log" 2>&1 ||
		{ cat "$out/llama-q4_k_m-imatrix.log" >&2; exit 1; }
	files+=("llama.cpp Q4_K_M imatrix=$out/llama-q4_k_m-imatrix.gguf")
	q qvk-mse-imatrix --format q4_k_m --method mse --imatrix "$out/imatrix.gguf"
	files+=("qvk q4_k_m mse imatrix=$out/qvk-mse-imatrix.gguf")
fi

"$py" "$src/tools/train/score_llama.py" "$oracle" "$tr/heldout.ids" "$win" \
	"$out/f32.gguf" "${files[@]}" > "$out/scores.txt"

# table: ratios to llama.cpp's own Q4_K_M (its perplexity, its KL)
awk -v win="$win" '
{ n = NF; name = $1; for (i = 2; i <= n - 4; i++) name = name " " $i
  ppl[NR] = $(n - 3); kl[NR] = $(n - 2); t1[NR] = $(n - 1); pos = $n; nm[NR] = name
  if (name == "llama.cpp Q4_K_M") ref = NR }
END {
  printf "perplexity by llama.cpp over %d windows (%d held-out positions)\n", win, pos
  printf "| file | perplexity | ppl / llama.cpp Q4_K_M | KL vs F32 | KL / llama.cpp Q4_K_M | top-1 vs F32 |\n"
  printf "|---|---:|---:|---:|---:|---:|\n"
  for (i = 1; i <= NR; i++)
    printf "| %s | %.4f | %.4f | %.6f | %s | %.2f%% |\n", nm[i], ppl[i], ppl[i] / ppl[ref],
      kl[i], (kl[ref] > 0 && i > 1) ? sprintf("%.3f", kl[i] / kl[ref]) : "-", 100 * t1[i]
}' "$out/scores.txt"
for f in "$out"/*.gguf; do printf '%s %s\n' "$(stat -c %s "$f")" "$(basename "$f")"; done >&2
