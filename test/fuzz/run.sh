#!/bin/sh
# The bounded fuzz run behind `make fuzz`:
#
#   sh test/fuzz/run.sh FUZZDIR SECONDS TARGET...
#
# Runs FUZZDIR/fuzz-TARGET for SECONDS each, one after the other, on
# FUZZDIR/corpus/TARGET (the seeds, plus what earlier runs found), with
# ASan+UBSan, a per-input timeout and a memory limit. Prints the number of
# executions per target; fails if any target crashed, leaked, timed out or
# ran out of memory, naming the input to copy into test/fuzz/regress/.
# FUZZ_ARGS adds libFuzzer options (e.g. FUZZ_ARGS=-jobs=2).
set -u
dir=$1
secs=$2
shift 2
# work from the top of the tree (seeds.sh reads test/...), whatever the cwd
case $dir in /*) ;; *) dir=$(pwd)/$dir ;; esac
cd "$(dirname "$0")/../.." || exit 2
here=test/fuzz
failed=0
total=0

max_len() {
	case $1 in
	analyze) echo 32768 ;;
	hunks) echo 4096 ;;
	*) echo 8192 ;;
	esac
}

for t in "$@"; do
	bin=$dir/fuzz-$t
	corpus=$dir/corpus/$t
	crashes=$dir/crashes/$t
	log=$dir/fuzz-$t.log
	dict=
	[ -f "$here/$t.dict" ] && dict=-dict=$here/$t.dict
	mkdir -p "$corpus" "$crashes"
	sh "$here/seeds.sh" "$t" "$corpus" || exit 2
	# regression inputs join the corpus: the fuzzer mutates from them too
	for f in "$here/regress/$t"/*; do
		[ -f "$f" ] && cp "$f" "$corpus/"
	done
	start=$(date +%s)
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2560 \
		-max_len="$(max_len "$t")" -print_final_stats=1 \
		-artifact_prefix="$crashes/" $dict ${FUZZ_ARGS:-} \
		"$corpus" >"$log" 2>&1
	rc=$?
	end=$(date +%s)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -n 1 |
		sed -n 's/.* cov: \([0-9]*\) .*/\1/p')
	size=$(ls "$corpus" | wc -l)
	echo "fuzz-$t: ${execs:-?} executions in $((end - start))s, cov ${cov:-?}, corpus $size, exit $rc"
	total=$((total + ${execs:-0}))
	if [ "$rc" -ne 0 ]; then
		failed=$((failed + 1))
		echo "fuzz-$t FAILED; log: $log" >&2
		grep -E '^(==[0-9]+==ERROR|SUMMARY|BUG|.*runtime error)' "$log" | head -n 5 >&2
		grep -A12 '^==[0-9]*==ERROR' "$log" | grep -E '^ +#' | head -n 12 >&2
		for a in "$crashes"/*; do
			[ -f "$a" ] || continue
			echo "  reproducer: $a" >&2
			echo "  replay: $dir/replay/fuzz-$t -n $a" >&2
			echo "  keep it: cp $a test/fuzz/regress/$t/<name>" >&2
		done
	fi
done
echo "fuzz: $total executions in total, $failed target(s) failed"
[ "$failed" -eq 0 ]
