#!/bin/sh
# Run the oracle's cases and print one TAP line each.
#
#   sh test/oracle/run.sh                 the fixed cases (test/oracle/cases)
#   sh test/oracle/run.sh --random SECS   random seeds for about SECS seconds
#
# TXGUARD names the binary under test. A case listed in
# test/oracle/known-failures is "ok ... # TODO known failure" while it
# fails and "not ok" as soon as it passes, so the list follows the fixes.
# A failing case prints the oracle's report (the case, the step, its
# change, both answers) as TAP comments.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${TXGUARD:?}"
export TXGUARD
PYTHON=${PYTHON:-python3}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
n=0
rc=0

known() { # case
	grep -v '^#' "$here/known-failures" | grep -qx "$1"
}

run_case() { # "seed N STEPS" | "script NAME"
	n=$((n + 1))
	set -- $1
	case $1 in
	seed) "$PYTHON" "$here/oracle.py" --seed "$2" --steps "$3" ${4:+"$4"} >"$out" 2>&1 </dev/null ;;
	script) "$PYTHON" "$here/oracle.py" --script "$2" >"$out" 2>&1 </dev/null ;;
	*) echo "Bail out! unknown case: $*"; exit 2 ;;
	esac
	st=$?
	id="$*"
	if known "$id"; then
		if [ $st -eq 1 ]; then
			echo "ok $n - oracle $id # TODO known failure"
			return
		fi
		if [ $st -eq 0 ]; then
			echo "not ok $n - oracle $id passes: remove it from test/oracle/known-failures"
			rc=1
			return
		fi
	fi
	if [ $st -eq 0 ]; then
		echo "ok $n - oracle $id"
	else
		echo "not ok $n - oracle $id"
		sed 's/^/# /' "$out"
		rc=1
	fi
}

if [ "${1:-}" = --random ]; then
	end=$(($(date +%s) + ${2:-60}))
	while [ "$(date +%s)" -lt "$end" ]; do
		seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
		# plain, with decorators, with committing callees in turn
		case $((seed % 3)) in
		0) run_case "seed $seed 40" ;;
		1) run_case "seed $seed 40 --decorators" ;;
		*) run_case "seed $seed 40 --callees" ;;
		esac
	done
else
	grep -v -e '^#' -e '^[[:space:]]*$' "$here/cases" >"$out.cases"
	while IFS= read -r c; do
		run_case "$c"
	done <"$out.cases"
	rm -f "$out.cases"
fi
echo "1..$n"
exit $rc
