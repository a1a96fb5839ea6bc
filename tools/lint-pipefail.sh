#!/bin/bash
# make check: no script that sets pipefail may pipe into a reader that quits
# early (grep -q, grep -m, head). The writer then dies of SIGPIPE when it
# writes after the reader left, pipefail turns that into a failure, and it
# happens only on a busy machine (CI's check-install failed so). Capture the
# output first (out=$(cmd); grep -q pat <<<"$out"), or use sed -n 1p.
set -euo pipefail
cd "${1:-.}"
bad=0
while IFS= read -r f; do
	grep -q 'pipefail' "$f" || continue
	# Comments are skipped; a hit prints as file:line: text.
	if grep -nE '\|[[:space:]]*(grep([[:space:]]+-[A-Za-z]+)*[[:space:]]+-[A-Za-z]*[qm][A-Za-z]*|head)([[:space:]]|$)' "$f" |
		grep -vE '^[0-9]+:[[:space:]]*#' >"${TMPDIR:-/tmp}/lint-pipefail.$$"; then
		sed "s|^|$f:|" "${TMPDIR:-/tmp}/lint-pipefail.$$" >&2
		bad=1
	fi
	rm -f "${TMPDIR:-/tmp}/lint-pipefail.$$"
done < <(git ls-files '*.sh' .ci/run 2>/dev/null || find . -name '*.sh' -not -path './build/*')
[ "$bad" -eq 0 ] || { echo "lint-pipefail: the lines above pipe into a reader that quits early under pipefail" >&2; exit 1; }
