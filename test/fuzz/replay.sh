#!/bin/sh
# Replay the seed corpus and every regression input through the
# standalone replayers (SPEC §11), as `make fuzz-replay` and `make test`
# do. Prints TAP lines; fails if any input crashed or broke an invariant.
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
rc=0
for t in "$@"; do
	seeds=$dir/seeds/$t
	rm -rf "$seeds"
	sh "$here/seeds.sh" "$t" "$seeds" || exit 2
	echo "# fuzz-$t"
	regress=
	[ -d "$here/regress/$t" ] && regress=$here/regress/$t
	"$dir/replay/fuzz-$t" -t 120 "$seeds" $regress || rc=1
done
exit $rc
