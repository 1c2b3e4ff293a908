#!/bin/sh
# Replay each fuzz target's seed corpus and regression inputs through its
# standalone replayer, as `make fuzz-replay` and `make test` do. One TAP
# line a target (a target's replay is one test, whatever the number of
# inputs); a failing target lists the inputs that crashed or broke an
# invariant. Exits 1 if any did.
#
#   sh test/fuzz/replay.sh FUZZDIR TARGET...
#
# FUZZDIR/replay/fuzz-TARGET are the replayers; the seeds are regenerated
# into FUZZDIR/seeds/TARGET first.
set -u
dir=$1
shift
# work from the top of the tree (seeds.sh reads test/...), whatever the cwd
case $dir in /*) ;; *) dir=$(pwd)/$dir ;; esac
cd "$(dirname "$0")/../.." || exit 2
here=test/fuzz
out=$(mktemp)
trap 'rm -f "$out"' EXIT
rc=0
n=0
for t in "$@"; do
	n=$((n + 1))
	seeds=$dir/seeds/$t
	rm -rf "$seeds"
	sh "$here/seeds.sh" "$t" "$seeds" || exit 2
	regress=
	[ -d "$here/regress/$t" ] && regress=$here/regress/$t
	"$dir/replay/fuzz-$t" -t 120 "$seeds" $regress >"$out" 2>&1
	st=$?
	inputs=$(grep -c '^ok \|^not ok ' "$out")
	if [ $st -eq 0 ] && ! grep -q '^not ok ' "$out"; then
		echo "ok $n - fuzz-$t replays $inputs inputs"
	else
		rc=1
		echo "not ok $n - fuzz-$t: $(grep -c '^not ok ' "$out") of $inputs inputs failed (exit status $st)"
		grep -v '^ok ' "$out" | sed 's/^/# /'
	fi
done
echo "1..$n"
exit $rc
