#!/bin/sh
# Run every test suite and print one closing line: "N passed, N failed".
#
# Each suite prints TAP-style lines ("ok N - title" / "not ok N - title");
# this script counts them. A suite that exits non-zero without reporting a
# failure counts as one failure, so a crash never passes silently.
#
# Environment (set by `make test`): TXGUARD, TG_TEST, UNIT_BINS, FUZZ_DIR,
# FUZZ_TARGETS.
# Arguments: optional suite names (unit fixtures fuzz e2e oracle) to run
# only those.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
export TXGUARD TG_TEST
: "${TXGUARD:?}" "${TG_TEST:?}"
suites=${*:-unit fixtures fuzz e2e oracle}
# Sanitizer builds: leaks inside libgit2 that txguard cannot free are
# suppressed by name (test/lsan.supp), which needs whole stacks: libgit2
# has no frame pointers, so the fast unwinder would stop inside it.
LSAN_OPTIONS="suppressions=$top/test/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
ASAN_OPTIONS="fast_unwind_on_malloc=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export LSAN_OPTIONS ASAN_OPTIONS
log=$(mktemp)
trap 'rm -f "$log"' EXIT
passed=0
failed=0

run_suite() { # name command...
	name=$1
	shift
	"$@" >"$log" 2>&1
	rc=$?
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	if [ "$f" -gt 0 ] || [ "$rc" -ne 0 ]; then
		cat "$log"
		[ "$f" -eq 0 ] && f=1 && echo "not ok - $name exited with status $rc"
	fi
	echo "$name: $p passed, $f failed"
	passed=$((passed + p))
	failed=$((failed + f))
}

for s in $suites; do
	case $s in
	unit)
		for t in ${UNIT_BINS:-}; do
			run_suite "unit/$(basename "$t")" env CMOCKA_MESSAGE_OUTPUT=TAP "$t"
		done
		;;
	fixtures)
		run_suite fixtures sh "$top/test/fixtures/run.sh"
		;;
	fuzz)
		# shellcheck disable=SC2086
		run_suite fuzz sh "$top/test/fuzz/replay.sh" "$FUZZ_DIR" $FUZZ_TARGETS
		;;
	e2e)
		for t in "$top"/test/e2e/t[0-9]*.sh; do
			[ -f "$t" ] || continue
			run_suite "e2e/$(basename "$t" .sh)" sh "$t"
		done
		;;
	oracle)
		# what check reports as new against from-scratch scans
		run_suite oracle sh "$top/test/oracle/run.sh"
		;;
	*)
		echo "run.sh: unknown suite '$s'" >&2
		exit 2
		;;
	esac
done

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
