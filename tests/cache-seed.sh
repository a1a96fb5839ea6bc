#!/bin/sh
# SPDX-License-Identifier: MIT
#
#   tests/cache-seed.sh DIR
#
# Make DIR a cache folder (for XDG_CACHE_HOME) of a run that must not
# write the user's, holding what that run does not test: a copy of the
# device's tuning results (qvk/*.tune) from the cache folder in use. Print
# the Mesa shader cache folder in use, for MESA_SHADER_CACHE_DIR, so the
# driver finds the shaders it compiled before. Without both, each such run
# re-timed every matmul and attention candidate and recompiled every
# shader: a minute on lavapipe, more under a sanitizer. Where nothing is
# tuned yet, the run tunes itself, as a first run does. (tests/cache_sandbox.c
# does the same for the C suites.)
set -eu
dir=${1:?usage: cache-seed.sh DIR}
now=${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}
mkdir -p "$dir/qvk"
for f in "$now"/qvk/*.tune; do
	[ -f "$f" ] && cp "$f" "$dir/qvk/"
done
echo "${MESA_SHADER_CACHE_DIR:-$now/mesa_shader_cache}"
