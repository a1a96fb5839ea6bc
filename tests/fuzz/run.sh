#!/bin/bash
# SPDX-License-Identifier: MIT
#
# `make fuzz`: seed the corpora, replay the crash regressions, then run
# every target for a bounded time.
#
#   tests/fuzz/run.sh BUILD SECONDS MODELS TARGET...
#
# BUILD holds fuzz_TARGET and fuzz_seeds (make SANITIZE=fuzz fuzz-build);
# corpora live in BUILD/corpus/TARGET and grow from run to run; a crash is
# saved under BUILD/crashes/TARGET/ and fails the run: add the file to
# tests/fuzz/regress/TARGET/ (replayed first on every run) together with a
# Check test of the same input, then fix the code.
set -euo pipefail

build=${1:?usage: run.sh BUILD SECONDS MODELS TARGET...}
secs=${2:?}
models=${3:?}
shift 3
src=$(cd "$(dirname "$0")/../.." && pwd)
export QVK_MODELS=$models
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

need_models() {
	if [ ! -d "$models" ]; then
		echo "fuzz: $models not found: seeds from tests/data only" >&2
		[ "${QVK_TEST_STRICT:-0}" = 0 ] || { echo "fuzz: QVK_TEST_STRICT=1" >&2; exit 1; }
		return 1
	fi
}

# ------------------------------------------------------------- corpora
seed_gguf() {
	local d=$1
	# The 0.7-7.8 MB vocabulary GGUFs are left out: each input would
	# rebuild a 32000-token vocabulary (~100 runs/s instead of thousands);
	# fuzz_tokenizer runs those vocabularies.
	if need_models; then
		"$build/fuzz_seeds" "$d" "$models/stories260K.bin" "$models/tok512.bin"
	else
		"$build/fuzz_seeds" "$d"
	fi
}

seed_llama2c() {
	local d=$1
	cp "$src/tests/data/stories260K.bin" "$src/tests/data/tok512.bin" "$d/"
	if need_models; then cp "$models/tokenizer_llama2_32000.bin" "$d/"; fi
}

# Byte 0: the vocabulary (fuzz_tokenizer.c's order), byte 1: flags.
seed_tokenizer() {
	local d=$1 i=0 v f
	need_models || return 0
	for f in ggml-vocab-llama-spm ggml-vocab-phi-3 ggml-vocab-llama-bpe ggml-vocab-qwen2; do
		# llama.cpp's test inputs, one file each, round-robin over the vocabularies
		awk -v d="$d" -v f="$f" 'BEGIN { RS = "\n__ggml_vocab_test__\n" }
			{ n++; printf "%s", $0 > (d "/" f "." n ".txt"); close(d "/" f "." n ".txt") }' \
			"$models/$f.gguf.inp"
	done
	for f in "$d"/*.txt; do
		v=$(( i % 6 ))
		{ printf "\\x$(printf %02x $v)\\x00"; cat "$f"; } > "$f.in"
		rm "$f"
		i=$((i + 1))
	done
	head -c 2000 "$models/tinystories-calib.txt" | { printf '\x00\x01'; cat; } > "$d/tinystories.in"
	head -c 2000 "$models/wikitext2-test.txt" | { printf '\x01\x00'; cat; } > "$d/wikitext.in"
}

# The real templates (qwen2, phi-3) with a conversation, and every name.
seed_chat() {
	local d=$1 n
	for n in chatml llama3 llama2 llama2-sys mistral-v7 phi3 gemma zephyr; do
		printf '%s\0user\0hi\0assistant\0yes' "$n" > "$d/name-$n"
	done
	need_models || return 0
	"$build/fuzz_seeds" --chat "$d" "$models/ggml-vocab-qwen2.gguf" "$models/ggml-vocab-phi-3.gguf"
}

# tests/fixtures/telemetry/* as RELPATH=CONTENT lines.
seed_sysfs() {
	local d=$1 tree f
	for tree in "$src"/tests/fixtures/telemetry/*/; do
		(cd "$tree" && find . -type f | sort | while read -r f; do
			printf '%s=' "${f#./}"
			sed -e 's/\\/\\\\/g' "$f" | awk 'NR > 1 { printf "\\n" } { printf "%s", $0 }'
			printf '\n'
		done) > "$d/$(basename "$tree").txt"
	done
}

# Byte 0: 0 run, 1 ppl, 2 quantize, 3 chat; then NUL-separated arguments.
seed_cli() {
	local d=$1
	printf '\x00-m\0m.gguf\0-p\0Once upon\0-n\096\0--temp\00.5\0--top-k\040\0--seed\07' > "$d/run"
	printf '\x00-m\0m.bin\0-t\0t.bin\0--format\0q4a\0--group\064\0--keep\0output.weight=f16,blk.*.ffn_down.weight=f32\0--kv-f32\0--profile' > "$d/run-llm"
	printf '\x01-m\0m.gguf\0-f\0e.txt\0--ref\0r.bin\0--ctx\0256\0--max-tokens\04096\0--json' > "$d/ppl"
	printf '\x02in.bin\0out.gguf\0-t\0t.bin\0--format\0q4\0--group\0128\0--method\0gptq\0--calib\0c.txt\0--calib-tokens\08192\0--alpha\00.5' > "$d/quantize"
	printf '\x03-m\0m.gguf\0--template\0chatml\0--system\0Be brief.\0-c\02048\0-n\064\0--verbose-prompt' > "$d/chat"
}

mkdir -p "$build/corpus" "$build/crashes"
for t in "$@"; do
	c=$build/corpus/$t
	if [ ! -d "$c" ] || [ -z "$(ls -A "$c")" ]; then
		mkdir -p "$c"
		"seed_$t" "$c"
	fi
done

# ----------------------------------------------------------------- runs
fail=0
for t in "$@"; do
	bin=$build/fuzz_$t
	opts=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
	case $t in
	cli) opts+=(-max_len=4096 -close_fd_mask=3 -dict="$src/tests/fuzz/cli.dict") ;;
	tokenizer|sysfs|chat) opts+=(-max_len=4096 -close_fd_mask=3) ;;
	*) opts+=(-close_fd_mask=1) ;;
	esac
	reg=$src/tests/fuzz/regress/$t
	if [ -d "$reg" ] && [ -n "$(ls -A "$reg")" ]; then
		if ! "$bin" "${opts[@]}" "$reg"/* > "$build/regress-$t.log" 2>&1; then
			echo "fuzz $t: a regression input crashes again:"
			tail -30 "$build/regress-$t.log"
			fail=1
			continue
		fi
		echo "fuzz $t: $(ls "$reg" | wc -l) regression inputs replayed, none crashes"
	fi
	mkdir -p "$build/crashes/$t"
	log=$build/fuzz-$t.log
	if "$bin" "${opts[@]}" -max_total_time="$secs" \
		-artifact_prefix="$build/crashes/$t/" "$build/corpus/$t" > "$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1)
		echo "fuzz $t: ${secs} s, ${runs:-?} inputs, no crash ($cov, corpus $(ls "$build/corpus/$t" | wc -l) files)"
	else
		echo "fuzz $t: CRASH after ${secs} s or less; input saved in $build/crashes/$t/:"
		ls "$build/crashes/$t/" | sed 's/^/  /'
		grep -m1 -A25 'ERROR\|==ABORTING\|deadly signal\|Assertion\|abort' "$log" | sed -n 1,40p
		fail=1
	fi
done
exit $fail
