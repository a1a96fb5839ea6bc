#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Fault-injection sweep over a whole qvk command (issue #13 items 4-5).
#
#   tests/fault/sweep.sh QVK run [ARGS...]       (default ARGS: the default
#   tests/fault/sweep.sh QVK quantize [ARGS...]   model, a few tokens / q8)
#
# @OUT@ in ARGS is replaced by a fresh output path per run.
#
# QVK must be a test build (make SANITIZE=1: ASan, LSan, UBSan and the
# QVK_FAULT hooks of runtime/fault.h). A first run with QVK_FAULT=count
# learns how many calls each site sees; then, for each site (malloc,
# vkAllocate, vkCreate, vkMapMemory, lost), the Nth call fails, one run per
# N. A run passes when it
#   - exits 0 (the fault was tolerated: e.g. the pipeline cache is a hint)
#     or 1 with a "qvk COMMAND: ..." line naming the call that failed (the
#     Vulkan function, or "out of host memory"/ENOMEM's text for the
#     allocator), and then left no file at @OUT@ (no partial output, no
#     temporary),
#   - printed the "qvk fault: injected: CALL" line (the fault was reached),
#   - and no sanitizer said anything (no crash, no leak, no UB).
#
# Bounded time: at most QVK_FAULT_MAX_RUNS runs per site (default 120; 0
# for every N); above that every Sth call is tried from a seeded offset
# (QVK_FAULT_SEED, printed), so successive CI runs cover different calls.
# QVK_FAULT_JOBS runs in parallel (default: the number of CPUs).
set -uo pipefail

QVK=${1:?usage: sweep.sh QVK run|quantize [ARGS...]}
CMD=${2:?usage: sweep.sh QVK run|quantize [ARGS...]}
shift 2
src=$(cd "$(dirname "$0")/../.." && pwd)
if [ $# -eq 0 ] && [ "$CMD" = run ]; then
	set -- -m "$src/tests/data/stories260K.bin" -t "$src/tests/data/tok512.bin" \
		-p "Once upon a time" -n 8 --temp 0
elif [ $# -eq 0 ] && [ "$CMD" = quantize ]; then
	set -- "$src/tests/data/stories260K.bin" @OUT@ -t "$src/tests/data/tok512.bin" \
		--format q8
fi
max_runs=${QVK_FAULT_MAX_RUNS:-120}
jobs=${QVK_FAULT_JOBS:-$(nproc)}
seed=${QVK_FAULT_SEED:-$(date +%s)}
work=$(mktemp -d "${TMPDIR:-/tmp}/qvk-fault.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The loader dlclose()s the Vulkan driver before LeakSanitizer looks, so
# the driver's own leaks would show as "<unknown module>" and escape the
# suppressions by library name. Keeping lavapipe loaded lets
# tests/lsan.supp name it (leak:libvulkan_lvp.so); qvk itself is linked
# into the executable and is never an unknown module.
lvp=$(ldconfig -p 2>/dev/null | awk '/libvulkan_lvp\.so / && !n++ {print $NF}')
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:verify_asan_link_order=0
export LSAN_OPTIONS=suppressions=$src/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
[ -n "$lvp" ] && export LD_PRELOAD=$lvp
# One cache folder for the sweep, never the user's, with the tuning and
# the compiled shaders of the one in use (tests/cache-seed.sh).
MESA_SHADER_CACHE_DIR=$("$src/tests/cache-seed.sh" "$work/cache")
export MESA_SHADER_CACHE_DIR XDG_CACHE_HOME=$work/cache

# qvk CMD ARGS with @OUT@ replaced by $1/out.gguf (a folder per run).
qvk_out() {
	local out=$1 a args=()
	shift
	for a in "$@"; do args+=("${a//@OUT@/$out/out.gguf}"); done
	"$QVK" "$CMD" "${args[@]}"
}
export -f qvk_out

mkdir -p "$work/count" "$work/warm"
# A first run fills the cache folder: its pipelines and any tuning not
# copied in, whose work later runs skip; the calls are counted after it.
qvk_out "$work/warm" "$@" >/dev/null 2>&1 || true
count_line=$(QVK_FAULT=count qvk_out "$work/count" "$@" 2>&1 >/dev/null |
	grep '^qvk fault: calls:')
if [ -z "$count_line" ]; then
	echo "sweep: $QVK printed no fault counts: not a test build (make SANITIZE=1)?" >&2
	exit 1
fi
echo "sweep: qvk $CMD $*"
echo "sweep: ${count_line#qvk fault: }"

# One run: the verdict on stdout as "SITE N VERDICT [detail]".
one() {
	local site=$1 n=$2 log="$work/$1.$2.log" out="$work/out.$1.$2" rc verdict detail call
	shift 2
	mkdir -p "$out"
	QVK_FAULT="$site:$n" qvk_out "$out" "$@" >/dev/null 2>"$log"
	rc=$?
	detail=$(grep -m1 "^qvk $CMD" "$log")
	if grep -q 'Sanitizer\|runtime error:' "$log"; then
		verdict=BAD detail=$(grep -m1 'Sanitizer\|runtime error:' "$log")
	elif ! grep -q '^qvk fault: injected:' "$log"; then
		verdict=BAD detail="fault not reached (rc $rc)"
	elif [ $rc -eq 0 ]; then
		verdict=TOLERATED detail=$(grep -m1 '^qvk fault: injected:' "$log")
	elif [ $rc -eq 1 ] && [ -n "$(ls -A "$out")" ]; then
		verdict=BAD detail="left $(ls -A "$out" | tr '\n' ' ')after: $detail"
	elif [ $rc -eq 1 ] && [ -n "$detail" ]; then
		verdict=ERROR
		# The message names the call: the Vulkan function, or that host
		# memory ran out (malloc, calloc, realloc, strdup).
		call=$(sed -n 's/^qvk fault: injected: \([A-Za-z]*\).*/\1/p' "$log" | sed -n 1p)
		case $call in
		vk*) grep -qF "$call" <<<"$detail" || verdict=BAD ;;
		*) grep -qi 'out of host memory\|out of memory\|cannot allocate memory' \
			<<<"$detail" || verdict=BAD ;;
		esac
		[ $verdict = BAD ] && detail="the message does not name $call: $detail"
	else
		verdict=BAD detail="exit status $rc, ${detail:-no qvk $CMD: message}"
	fi
	rm -rf "$out"
	[ "$verdict" = BAD ] && cp "$log" "$work/bad.$site.$n.log"
	echo "$site $n $verdict $detail"
}
export -f one
export QVK CMD work

bad=0
total_runs=0
for site in malloc vkAllocate vkCreate vkMapMemory lost; do
	calls=$(sed -n "s/.* $site \([0-9]*\).*/\1/p" <<<"$count_line")
	[ "${calls:-0}" -gt 0 ] || { echo "$site: no calls"; continue; }
	stride=1
	if [ "$max_runs" -gt 0 ] && [ "$calls" -gt "$max_runs" ]; then
		stride=$(( (calls + max_runs - 1) / max_runs ))
	fi
	offset=$(( seed % stride + 1 ))
	seq "$offset" "$stride" "$calls" |
		xargs -P "$jobs" -I{} bash -c 'one "$@"' _ "$site" {} "$@" \
		| sort -k2,2n > "$work/$site.verdicts"
	tried=$(wc -l < "$work/$site.verdicts")
	total_runs=$((total_runs + tried))
	n_err=$(grep -c ' ERROR ' "$work/$site.verdicts")
	n_tol=$(grep -c ' TOLERATED ' "$work/$site.verdicts")
	n_bad=$(grep -c ' BAD ' "$work/$site.verdicts")
	if [ "$stride" -gt 1 ]; then
		how="one call in $stride from call $offset, QVK_FAULT_SEED=$seed"
	else
		how="every call"
	fi
	echo "$site: $calls calls, $tried runs ($how): $n_err clean errors, $n_tol tolerated, $n_bad bad"
	# What the CLI said, one example per distinct message shape.
	grep ' ERROR ' "$work/$site.verdicts" | cut -d' ' -f4- |
		sed 's/[0-9]\+/N/g' | sort | uniq -c | sort -rn | sed -n 1,3p |
		sed 's/^/    /'
	grep ' TOLERATED ' "$work/$site.verdicts" | cut -d' ' -f4- | sed -n 1,3p | sed 's/^/    tolerated: /'
	if [ "$n_bad" -gt 0 ]; then
		grep ' BAD ' "$work/$site.verdicts" | sed -n 1,5p | sed 's/^/    BAD: /'
		for f in "$work"/bad."$site".*.log; do
			echo "    --- $(basename "$f")"
			tail -25 "$f" | sed 's/^/    /'
			break
		done
		bad=$((bad + n_bad))
	fi
done
echo "sweep: $total_runs runs, $bad bad"
[ "$bad" -eq 0 ]
