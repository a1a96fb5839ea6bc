#!/bin/bash
# Record llama.cpp's answers for the synthetic models that tests/check_oracle.c
# regenerates without npm: for each architecture preset and F32, F16 and
# Q8_0, the model written by build/tests/qvk-synth (seed 1): llama.cpp's 32
# greedy tokens after the fixed 8-token prompt, and its logits (float32,
# every position) of the 40-token sequence of the prompt and those tokens,
# into tests/fixtures/oracle/.
#
#   make tests && tools/oracle/record-fixtures.sh
#
# The prompt must stay the one of tests/check_arch.h (qvk_arch_prompt):
# BOS = 1, then id i = (259 + 7919 i) mod (vocab - 3) + 3.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${QVK_BUILD_DIR:-$src/build}
models=${QVK_MODELS:-$src/../shared/models}
out=$src/tests/fixtures/oracle
synth=$build/tests/qvk-synth
[ -x "$synth" ] || { echo "record-fixtures: build $synth first (make tests)" >&2; exit 1; }
oracle=$("$src/tools/oracle/setup.sh" | tail -n 1)
version=$("$oracle" version)
vocab=1024 # the presets' vocab_limit
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

prompt=(1)
for ((i = 1; i < 8; i++)); do
	prompt+=($(( (259 + 7919 * i) % (vocab - 3) + 3 )))
done
mkdir -p "$out"
for preset in llama3 mistral qwen2 qwen3 phi3; do
	for type in F32 F16 Q8_0; do
		stem=$preset-$type
		model=$tmp/$stem.gguf
		hash=$(QVK_MODELS=$models "$synth" "$preset" "${type,,}" "$model")
		greedy=$("$oracle" generate "$model" 32 "${prompt[@]}")
		# shellcheck disable=SC2086 # the ids, one argument each
		"$oracle" logits "$model" "$out/$stem.logits" "${prompt[@]}" $greedy
		cat > "$out/$stem.txt" <<EOT
# llama.cpp's answers for \`qvk-synth $preset ${type,,}\` (seed 1): its 32
# greedy tokens after the 8-token prompt of tests/check_arch.h, and in
# $stem.logits its logits (float32, 40 x $vocab) of the prompt and them.
# Made by tools/oracle/record-fixtures.sh with $version.
model_fnv1a64 $hash
greedy $greedy
EOT
		rm -f "$model"
		echo "record-fixtures: $stem ($hash)" >&2
	done
done
