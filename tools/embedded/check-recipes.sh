#!/bin/bash
# make check-recipes: what can be checked of the Buildroot package and the
# Yocto recipe without Buildroot or bitbake.
#
#  - every VAR= they pass to make is a variable this Makefile uses, and every
#    target they run exists;
#  - Yocto: with OE's default directories, every file `make install` writes
#    (make install-list) falls in exactly one package's FILES, and every
#    FILES entry matches a file (nothing unshipped, nothing stale); the
#    LIC_FILES_CHKSUM sums and the version match the tree;
#  - Buildroot: the target's files (install-runtime) are among staging's
#    (install), and what staging has beyond them is only development and
#    documentation files; the version and the Config.in symbols match;
#  - the module name is the same in Kbuild, dkms.conf and the recipes.
# Run from the top of the tree (make check-recipes).
# ${...} in single quotes are bitbake's, not the shell's:
# shellcheck disable=SC2016
set -euo pipefail
make=${MAKE:-make}
br=tools/embedded/buildroot
bb=tools/embedded/yocto/recipes-graphics/qvk/qvk_git.bb
mk=$br/package/qvk/qvk.mk
errors=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check-recipes: $*" >&2; errors=$((errors + 1)); }
mq() { "$make" --no-print-directory -s "$@"; }

# A file's logical lines: backslash continuations joined.
logical() { sed -e ':a' -e '/\\$/N; s/\\\n[[:space:]]*/ /; ta' "$1"; }

# The quoted value of NAME in a bitbake file (NAME = "..." or += "...").
bb_value() {
	logical "$bb" | awk -v n="$1" '{
		line = $0; sub(/^[[:space:]]+/, "", line)
		if (index(line, n " ") != 1 && index(line, n "=") != 1) next
		rest = substr(line, length(n) + 1)
		if (rest !~ /^[[:space:]]*(\+|\?\?|\?|:)?=/) next
		sub(/^[^"]*"/, "", rest); sub(/"[[:space:]]*$/, "", rest); print rest }'
}

# OE's default directories (bitbake.conf), enough to expand the recipe.
oe_expand() {
	sed -e 's|\${prefix}|/usr|g' -e 's|\${bindir}|/usr/bin|g' \
	    -e 's|\${libdir}|/usr/lib|g' -e 's|\${includedir}|/usr/include|g' \
	    -e 's|\${datadir}|/usr/share|g' -e 's|\${mandir}|/usr/share/man|g' \
	    -e 's|\${BPN}|qvk|g' -e 's|\${PN}|qvk|g'
}

# Variables the Makefile uses: $(VAR) references or VAR ?=/:=/= lines.
makefile_vars=$(cat Makefile mk/*.mk kmod/kmod.mk |
	grep -oE '\$\([A-Z_][A-Z0-9_]*\)|^[A-Z_][A-Z0-9_]* *[?:]?=' |
	sed -E 's/^\$\(//; s/\)$//; s/ *[?:]?=$//' | sort -u)
check_vars() { # WHERE VAR=...: each VAR must be one the Makefile uses
	local where=$1 v
	shift
	for v in "$@"; do
		v=${v%%=*}
		grep -qx "$v" <<<"$makefile_vars" || fail "$where passes $v=, which the Makefile ignores"
	done
}
# Every target of the Makefile, from make's database.
# (-q exits non-zero: nothing is up to date for ':')
targets=$({ "$make" -pRrq -f Makefile : 2>/dev/null || true; } |
	sed -n 's/^\([a-zA-Z_][a-zA-Z0-9_.-]*\):.*/\1/p' | sort -u)
check_targets() { # WHERE TARGET...
	local where=$1 t
	shift
	for t in "$@"; do
		grep -qx "$t" <<<"$targets" || fail "$where runs make $t, which does not exist"
	done
}

version=$(mq print-QVK_VERSION)
module=$(sed -n 's/^obj-m *:= *\(.*\)\.o$/\1/p' Kbuild)
grep -q "^BUILT_MODULE_NAME\[0\]=\"$module\"" kmod/dkms.conf ||
	fail "dkms.conf does not build $module (Kbuild's obj-m)"

# ------------------------------------------------------------------ Yocto
pv=$(bb_value PV)
[ "${pv%%+*}" = "$version" ] || fail "$bb: PV $pv is not version $version"
for lic in $(bb_value LIC_FILES_CHKSUM); do
	file=${lic#file://}; file=${file%%;*}
	want=$(sed -n 's/.*md5=\([0-9a-f]*\).*/\1/p' <<<"$lic")
	begin=$(sed -n 's/.*beginline=\([0-9]*\).*/\1/p' <<<"$lic")
	end=$(sed -n 's/.*endline=\([0-9]*\).*/\1/p' <<<"$lic")
	got=$(sed -n "${begin:-1},${end:-\$}p" "$file" | md5sum | cut -d' ' -f1)
	[ "$got" = "$want" ] || fail "$bb: LIC_FILES_CHKSUM of $file is $want, the file's is $got"
done
# The make variables: EXTRA_OEMAKE plus what the PACKAGECONFIG options add,
# with the configurable ones at values that install everything.
oemake=$(bb_value EXTRA_OEMAKE | oe_expand | sed -e "s/QVK_EXE_WRAPPER='[^']*'//" \
	-e 's/\${QVK_MAN}/1/' -e 's/\${PACKAGECONFIG_CONFARGS}//')
pcargs=$(logical "$bb" | sed -n 's/^PACKAGECONFIG\[[a-z]*\] = "\(.*\)"$/\1/p' |
	awk -F, '{ print $1; print $2 }')
# shellcheck disable=SC2086 # word lists
check_vars "$bb" $oemake QVK_EXE_WRAPPER= $pcargs
# shellcheck disable=SC2046 # a word list
check_targets "$bb" $(bb_value MAKE_TARGETS) lib tools man install modules_install

# shellcheck disable=SC2086
mq install-list $oemake QVK_DRM=1 >"$tmp"/yocto
declare -A pkg_of=()
for pkg in '${PN}' '${PN}-dev' '${PN}-staticdev' '${PN}-doc'; do
	for pattern in $(bb_value "FILES:$pkg" | oe_expand); do
		matched=0
		while read -r path; do
			# shellcheck disable=SC2053 # FILES entries are globs
			if [[ $path == $pattern || $path == "$pattern"/* ]]; then
				matched=1
				[ -z "${pkg_of[$path]:-}" ] ||
					fail "$bb: $path is in both ${pkg_of[$path]} and $pkg"
				pkg_of[$path]=$pkg
			fi
		done <"$tmp"/yocto
		[ "$matched" = 1 ] || fail "$bb: FILES:$pkg entry $pattern matches nothing make install writes"
	done
done
while read -r path; do
	[ -n "${pkg_of[$path]:-}" ] || fail "$bb: make install writes $path, which no package ships"
done <"$tmp"/yocto
echo "check-recipes: yocto: ${#pkg_of[@]} installed files, each in exactly one package"

# -------------------------------------------------------------- Buildroot
brversion=$(sed -n 's/^QVK_VERSION = //p' "$mk")
[ "$brversion" = "$version" ] || fail "$mk: QVK_VERSION $brversion is not $version"
bropts=$(logical "$mk" | sed -n 's/^QVK_MAKE_OPTS +\?= *//p' |
	sed 's/\$(TARGET_CONFIGURE_OPTS)//' | tr ' ' '\n' | grep '=' | sed 's/=.*/=/' | sort -u)
# shellcheck disable=SC2086
check_vars "$mk" $bropts CC= AR= STRIP= PKG_CONFIG= CFLAGS= LDFLAGS=
check_targets "$mk" lib tools install install-runtime clean
while read -r sym; do
	grep -q "^config $sym\$" "$br/package/qvk/Config.in" ||
		fail "$mk uses $sym, which package/qvk/Config.in does not define"
done < <(grep -oE 'BR2_PACKAGE_QVK[A-Z_]*' "$mk" | sort -u)
grep -q '^name: QVK$' "$br/external.desc" || fail "$br/external.desc: name is not QVK"

# The make target of a define block (its command's last word).
br_target() {
	logical "$mk" | awk -v n="define $1" '$0 == n { on = 1; next }
		on && /^endef/ { exit } on { t = $NF } END { print t }'
}
staging_target=$(br_target QVK_INSTALL_STAGING_CMDS)
target_target=$(br_target QVK_INSTALL_TARGET_CMDS)
[ "$staging_target" = install ] || fail "$mk: staging gets make $staging_target, not install"
# What Buildroot installs, for a configuration with everything on.
bropts_br=(PREFIX=/usr QVK_DRM=1 QVK_BLAS=1 QVK_MAN=1)
mq install-list "${bropts_br[@]}" | sort >"$tmp"/staging
mq "$target_target-list" "${bropts_br[@]}" | sort >"$tmp"/target
extra=$(comm -13 "$tmp"/staging "$tmp"/target)
[ -z "$extra" ] || fail "$mk: the target gets files staging does not: $extra"
includedir=$(mq print-INCLUDEDIR PREFIX=/usr)
pcdir=$(mq print-PKGCONFIGDIR PREFIX=/usr)
mandir=$(mq print-MANDIR PREFIX=/usr)
libdir=$(mq print-LIBDIR PREFIX=/usr)
is_dev() {
	case $1 in
	"$includedir"/* | "$pcdir"/* | "$mandir"/* | *.a | "$libdir/libqvk.so") return 0 ;;
	esac
	return 1
}
# The target gets every run-time file and no development file.
while read -r path; do
	is_dev "$path" || fail "$mk: the target (make $target_target) lacks $path"
done < <(comm -23 "$tmp"/staging "$tmp"/target)
while read -r path; do
	! is_dev "$path" || fail "$mk: the target (make $target_target) gets $path, a development file"
done <"$tmp"/target
echo "check-recipes: buildroot: $(wc -l <"$tmp"/target) files on the" \
	"target, $(wc -l <"$tmp"/staging) in staging"

[ "$errors" = 0 ] || { echo "check-recipes: $errors problem(s)" >&2; exit 1; }
echo "check-recipes: Buildroot package and Yocto recipe agree with make install"
