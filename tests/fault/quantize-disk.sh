#!/bin/bash
# SPDX-License-Identifier: MIT
#
# `qvk quantize` against a full disk and read-only outputs (issue #13
# item 4): every case must fail with exit status 1 and a message naming
# the output, leave no file behind (no partial OUT, no temporary), and
# leave an OUT that existed before untouched.
#
#   tests/fault/quantize-disk.sh QVK
#
# The small and read-only filesystems are tmpfs mounts in a private mount
# namespace (unshare -m as root, unshare -rm otherwise), gone when the
# script ends. QVK should be a sanitizer build, so that the error paths are
# also checked for leaks.
set -uo pipefail

QVK=${1:?usage: quantize-disk.sh QVK}
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/qvk-disk.XXXXXX")
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export LSAN_OPTIONS=suppressions=$src/tests/lsan.supp:print_suppressions=0
IN=$src/tests/data/stories260K.bin
TOK=$src/tests/data/tok512.bin

if [ "$(id -u)" = 0 ]; then ns=(unshare -m --propagation private); else ns=(unshare -rm); fi
if ! "${ns[@]}" true 2>/dev/null; then
	echo "quantize-disk: SKIP: cannot create a mount namespace (${ns[*]})"
	[ "${QVK_TEST_STRICT:-0}" = 0 ] || exit 1
	exit 0
fi

# Run inside the namespace: mount what the case needs, quantize, judge.
# $1 case name, $2 mount options ("" for none), $3 "old" to plant an OUT
# first, $4 extra shell to run before quantizing.
case_run() {
	local name=$1 mopts=$2 plant=$3 pre=$4 dir=$work/$1
	mkdir -p "$dir"
	QVK=$QVK IN=$IN TOK=$TOK DIR=$dir MOPTS=$mopts PLANT=$plant PRE=$pre \
	"${ns[@]}" bash -c '
		set -u
		if [ -n "$MOPTS" ]; then
			mount -t tmpfs -o "${MOPTS/,ro/}" tmpfs "$DIR" || exit 90
		fi
		[ "$PLANT" = old ] && echo "the old model" > "$DIR/out.gguf"
		[[ "$MOPTS" == *,ro* ]] && { mount -o remount,ro "$DIR" || exit 90; }
		before=$(cd "$DIR" && ls -A | sort | tr "\n" " ")
		sum=$( [ -f "$DIR/out.gguf" ] && sha256sum < "$DIR/out.gguf")
		eval "$PRE"
		"$QVK" quantize "$IN" "$DIR/out.gguf" -t "$TOK" --format q8 \
			>"$DIR.out" 2>"$DIR.err"
		rc=$?
		after=$(cd "$DIR" && ls -A | sort | tr "\n" " ")
		sum2=$( [ -f "$DIR/out.gguf" ] && sha256sum < "$DIR/out.gguf")
		echo "rc=$rc"
		[ "$before" = "$after" ] || echo "files: before [$before] after [$after]"
		[ "$sum" = "$sum2" ] || echo "out.gguf changed"
	' > "$dir.verdict" 2>&1
}

fail=0
check() {
	local name=$1 why=$2 v msg
	v=$(cat "$work/$name.verdict")
	msg=$(grep -m1 '^qvk quantize' "$work/$name.err")
	if grep -q 'Sanitizer\|runtime error:' "$work/$name.err"; then
		echo "FAIL $name ($why): $(grep -m1 'Sanitizer\|runtime error:' "$work/$name.err")"
		fail=1
	elif [ "$(head -1 <<<"$v")" = rc=90 ]; then
		echo "FAIL $name ($why): could not set the case up: $v"
		fail=1
	elif [ "$v" != rc=1 ] || [ -z "$msg" ] || ! grep -q 'out.gguf' <<<"$msg"; then
		echo "FAIL $name ($why): $v; ${msg:-no qvk quantize: message}"
		tail -5 "$work/$name.err" | sed 's/^/    /'
		fail=1
	else
		echo "ok   $name ($why): $msg"
	fi
}

case_run full "size=64k" "" ""
check full "64 KiB tmpfs: disk full"
case_run full_keeps_old "size=64k" old ""
check full_keeps_old "disk full with an OUT from before: kept"
case_run readonly "size=4m,ro" "" ""
check readonly "read-only filesystem"
case_run readonly_keeps_old "size=4m,ro" old ""
check readonly_keeps_old "read-only filesystem with an OUT from before: kept"
# RLIMIT_FSIZE: with SIGXFSZ ignored (inherited across exec) a write past
# the limit fails with EFBIG instead of killing the process.
case_run fsize "" "" "trap \"\" XFSZ; ulimit -f 64"
check fsize "RLIMIT_FSIZE 64 KiB: file too large"
case_run fsize_keeps_old "" old "trap \"\" XFSZ; ulimit -f 64"
check fsize_keeps_old "RLIMIT_FSIZE with an OUT from before: kept"
# Not writable for the user (root ignores modes: only without root).
if [ "$(id -u)" != 0 ]; then
	case_run nowrite "" "" "chmod 555 \"\$DIR\""
	check nowrite "folder without write permission"
fi
mkdir -p "$work/isdir/out.gguf"
"$QVK" quantize "$IN" "$work/isdir/out.gguf" -t "$TOK" >/dev/null 2>"$work/isdir.err"
echo "rc=$?" > "$work/isdir.verdict"
check isdir "OUT is a folder"
"$QVK" quantize "$IN" "$work/missing/out.gguf" -t "$TOK" >/dev/null 2>"$work/missing.err"
echo "rc=$?" > "$work/missing.verdict"
[ -e "$work/missing" ] && echo "files: missing/ created" >> "$work/missing.verdict"
check missing "OUT's folder does not exist"
exit $fail
