#!/bin/bash
# make check-cross: a cross build's qvk, libqvk.so and every object of
# libqvk.a are for the target (file(1)), and the target's qvk runs under
# qemu-user with the target's lavapipe: --help, info, and whole greedy
# `qvk run`s of the default model, one per format of RUN_FORMATS, whose
# texts must equal the native build's when there is one (NATIVE_QVK).
#
# Usage: check-cross.sh CPU TOKENS QVK LIBQVK_SO LIBQVK_A
# Environment: QVK_EXE_WRAPPER (qemu-CPU-static), VK_ICD_FILENAMES (the
# target's lavapipe), NATIVE_QVK (optional), RUN_MODEL, RUN_TOKENIZER,
# RUN_PROMPT, RUN_FORMATS (qvk run --format values; default "auto f16").
set -euo pipefail
cpu=$1 tokens=$2 qvk=$3 so=$4 a=$5
model=${RUN_MODEL:-tests/data/stories260K.bin}
tokenizer=${RUN_TOKENIZER:-tests/data/tok512.bin}
prompt=${RUN_PROMPT:-Once upon a time}
formats=${RUN_FORMATS:-auto f16}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check-cross: $*" >&2; exit 1; }

# What file(1) calls each CPU.
case $cpu in
aarch64) machine="ARM aarch64" ;;
arm) machine="ARM," ;;
riscv64) machine="RISC-V" ;;
x86_64) machine="x86-64" ;;
*) fail "no file(1) name known for CPU $cpu" ;;
esac
for f in "$qvk" "$so"; do
	grep -q "$machine" <<<"$(file -b "$f")" || fail "$f is not $machine: $(file -b "$f")"
done
n=0
while read -r member; do
	ar p "$a" "$member" >"$tmp/member.o"
	grep -q "$machine" <<<"$(file -b "$tmp/member.o")" ||
		fail "$a($member) is not $machine: $(file -b "$tmp/member.o")"
	n=$((n + 1))
done < <(ar t "$a")
echo "check-cross: file(1): $qvk, $so and the $n objects of $a are $machine"

[ -n "${QVK_EXE_WRAPPER:-}" ] || fail "nothing here runs $cpu binaries:" \
	"install qemu-user-static (make deps-cross does) or set QVK_EXE_WRAPPER"
[ -n "${VK_ICD_FILENAMES:-}" ] || fail "no lavapipe ICD for $cpu:" \
	"install mesa-vulkan-drivers for the target (make deps-cross does)"
# lavapipe of one Mesa has the same device UUID on every CPU: keep the
# target's pipeline cache away from this machine's.
export XDG_CACHE_HOME=$tmp/cache
# shellcheck disable=SC2086 # the wrapper is a command line
run() { env $QVK_EXE_WRAPPER "$qvk" "$@"; }

run --help >"$tmp/help" || fail "qvk --help failed under $QVK_EXE_WRAPPER"
grep -q '^usage: qvk COMMAND' "$tmp/help" || fail "qvk --help printed: $(cat "$tmp/help")"
run info >"$tmp/info" || fail "qvk info failed: $(cat "$tmp/info")"
grep -q '^device 0: .*\[default\]' "$tmp/info" || fail "qvk info shows no default device"
echo "check-cross: qvk --help and qvk info run under $QVK_EXE_WRAPPER:"
sed 's/^/  /' "$tmp/info"

# The default model, greedy, in each format. The default ("auto": q8 for
# stories260K, as `make run`) and f16 between them compile every kernel of
# a run on the target's lavapipe: the integer matmul with its fp16 scales,
# activation quantization, the fp16 matmul, the embedding, RMSNorm, RoPE,
# KV write, attention, SwiGLU, argmax. (The fp16 reads are integer code,
# shaders/include/fp16.glsl: LLVM 15's AArch64 backend, Debian bookworm's
# arm64 lavapipe, aborts on the vectorised unpackHalf2x16.)
args=(run -m "$model" -t "$tokenizer" -p "$prompt" -n "$tokens" --temp 0)
for fmt in $formats; do
	start=$(date +%s)
	run "${args[@]}" --format "$fmt" >"$tmp/$fmt.txt" 2>"$tmp/$fmt.err" ||
		fail "qvk run --format $fmt failed: $(grep -v '^ ' "$tmp/$fmt.err" | tail -5)"
	grep -q "^decode: $tokens tokens" "$tmp/$fmt.err" ||
		fail "qvk run --format $fmt did not decode $tokens tokens: $(cat "$tmp/$fmt.err")"
	echo "check-cross: qvk ${args[*]} --format $fmt: $(($(date +%s) - start)) s," \
		"$(grep '^model:' "$tmp/$fmt.err" | sed 's/.*, weights/weights/'); $(grep '^decode:' "$tmp/$fmt.err")"
	[ -n "${NATIVE_QVK:-}" ] || continue
	env -u VK_ICD_FILENAMES XDG_CACHE_HOME="$tmp/native-cache" \
		"$NATIVE_QVK" "${args[@]}" --format "$fmt" \
		>"$tmp/native.txt" 2>"$tmp/native.err" ||
		fail "native $NATIVE_QVK run --format $fmt failed: $(tail -5 "$tmp/native.err")"
	cmp -s "$tmp/$fmt.txt" "$tmp/native.txt" || {
		echo "  $cpu:    $(cat "$tmp/$fmt.txt")" >&2
		echo "  native: $(cat "$tmp/native.txt")" >&2
		fail "the $cpu greedy text (--format $fmt) differs from the native build's"
	}
	echo "check-cross: its $(wc -c <"$tmp/$fmt.txt") bytes of text equal the native build's"
done
