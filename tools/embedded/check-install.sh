#!/bin/bash
# make check-install: `make install` into scratch DESTDIRs (PREFIX=/opt/qvk,
# then PREFIX=/usr with a multiarch LIBDIR and a separate INCLUDEDIR), check
# that it wrote exactly `make install-list`, the soname and its links and a
# man page without groff warnings; build a program with
# `pkg-config --cflags --libs qvk` (shared, and static with --static) and run
# it; `make uninstall`, and check that no file or link is left.
# Run from the top of the tree by make, which passes its variables down.
set -euo pipefail
make=${MAKE:-make}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check-install: $*" >&2; exit 1; }

# Everything under a tree that is not a directory, relative to it.
files_in() { (cd "$1" && find . ! -type d | sed 's|^\.||' | sort); }

check_one() { # NAME MAKE-ARGS...
	local name=$1 dest=$tmp/$1
	shift
	local vars=(DESTDIR="$dest" "$@")
	"$make" --no-print-directory -s install "${vars[@]}" >"$tmp/$name.log" ||
		{ cat "$tmp/$name.log"; fail "$name: make install failed"; }
	"$make" --no-print-directory -s install-list "${vars[@]}" |
		sed "s|^$dest||" | sort >"$tmp/$name.expected"
	files_in "$dest" >"$tmp/$name.found"
	diff -u "$tmp/$name.expected" "$tmp/$name.found" ||
		fail "$name: install wrote other files than install-list names"

	local libdir bindir mandir
	libdir=$dest$("$make" --no-print-directory -s print-LIBDIR "$@")
	bindir=$dest$("$make" --no-print-directory -s print-BINDIR "$@")
	mandir=$dest$("$make" --no-print-directory -s print-MANDIR "$@")
	local version
	version=$("$make" --no-print-directory -s print-QVK_VERSION)
	# Output captured before grep: under pipefail, grep -q leaving early
	# kills the writer with SIGPIPE and fails the test on a busy machine.
	local out
	out=$(readelf -d "$libdir/libqvk.so.$version")
	grep -q 'SONAME.*\[libqvk\.so\.0\]' <<<"$out" ||
		fail "$name: libqvk.so.$version has no soname libqvk.so.0"
	if [ "$(readlink "$libdir/libqvk.so.0")" != "libqvk.so.$version" ] ||
		[ "$(readlink "$libdir/libqvk.so")" != libqvk.so.0 ]; then
		fail "$name: libqvk.so links do not lead to libqvk.so.$version"
	fi
	out=$("$bindir/qvk" --version)
	grep -qx "qvk $version" <<<"$out" || fail "$name: qvk --version"

	# The man page: no groff warnings, and it carries each --help text.
	local warn
	warn=$(groff -man -ww -z "$mandir/man1/qvk.1" 2>&1)
	[ -z "$warn" ] || fail "$name: groff warns about qvk.1: $warn"
	MANWIDTH=200 man -l "$mandir/man1/qvk.1" 2>/dev/null >"$tmp/$name.man"
	for c in info run ppl quantize bench energy; do
		"$bindir/qvk" "$c" --help | sed -n 1p >"$tmp/usage"
		grep -qF -- "$(sed 's/^ *//' "$tmp/usage")" "$tmp/$name.man" ||
			fail "$name: qvk.1 lacks 'qvk $c --help' ($(cat "$tmp/usage"))"
	done

	# A program outside the tree, through pkg-config only. The sysroot
	# variable makes pkgconf prefix DESTDIR to the paths in qvk.pc.
	local pcdir cflags libs slibs
	pcdir=$dest$("$make" --no-print-directory -s print-PKGCONFIGDIR "$@")
	export PKG_CONFIG_PATH=$pcdir PKG_CONFIG_SYSROOT_DIR=$dest
	[ "$(pkg-config --modversion qvk)" = "$version" ] || fail "$name: pkg-config --modversion"
	cflags=$(pkg-config --cflags qvk)
	libs=$(pkg-config --libs qvk)
	slibs=$(pkg-config --static --libs qvk)
	unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
	# shellcheck disable=SC2086 # flag lists
	cc -std=c11 -Wall -Wextra -Werror $cflags -o "$tmp/use_qvk" \
		tests/install/use_qvk.c $libs || fail "$name: the pkg-config build failed"
	out=$(LD_LIBRARY_PATH=$libdir ldd "$tmp/use_qvk")
	grep -q "libqvk.so.0 => $libdir/" <<<"$out" ||
		fail "$name: use_qvk does not load the installed libqvk.so.0"
	LD_LIBRARY_PATH=$libdir "$tmp/use_qvk" || fail "$name: use_qvk (shared) failed"
	# shellcheck disable=SC2086
	cc -std=c11 $cflags -o "$tmp/use_qvk_static" tests/install/use_qvk.c \
		${slibs/-lqvk/-l:libqvk.a} || fail "$name: the --static build failed"
	"$tmp/use_qvk_static" || fail "$name: use_qvk (static libqvk) failed"

	"$make" --no-print-directory -s uninstall "${vars[@]}"
	files_in "$dest" >"$tmp/$name.left"
	[ ! -s "$tmp/$name.left" ] || { cat "$tmp/$name.left"; fail "$name: uninstall left files"; }
	echo "check-install: $name ($*): $(wc -l <"$tmp/$name.expected") files" \
		"installed, a program built with pkg-config ran (shared and static)," \
		"uninstall left no file; directories left: $(cd "$dest" && find . -mindepth 1 -type d | wc -l)"
}

check_one opt PREFIX=/opt/qvk
check_one usr PREFIX=/usr LIBDIR="/usr/lib/$(cc -dumpmachine)" INCLUDEDIR=/usr/include/qvk0
