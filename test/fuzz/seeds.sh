#!/bin/sh
# Make the seed corpus of one fuzz target in OUTDIR:
#
#   sh test/fuzz/seeds.sh TARGET OUTDIR [DIR...]
#
# config, baseline: the committed seeds of test/fuzz/corpus/TARGET as they
# are. analyze, hunks: every Python file of test/fuzz/corpus/{analyze,hunks},
# test/fixtures and the extra DIRs, with the option bytes the target reads
# first (see the comment at the top of fuzz-TARGET.c) prepended, in a few
# variants. Run from the top of the tree. Existing files in OUTDIR are
# kept, so a corpus grown by earlier runs stays.
set -eu
target=$1
out=$2
shift 2
mkdir -p "$out"

# flat name for a path: a/b/c.py -> a_b_c.py
flat() {
	printf '%s' "$1" | tr '/ ' '__'
}

python_sources() {
	find test/fuzz/corpus/analyze test/fuzz/corpus/hunks -type f -name '*.py'
	[ -d test/fixtures ] && find test/fixtures -type f -name '*.py'
	for d in "$@"; do
		find "$d" -type f -name '*.py'
	done
}

case $target in
config | baseline)
	for f in test/fuzz/corpus/"$target"/*; do
		[ -f "$f" ] && cp "$f" "$out/"
	done
	;;
analyze)
	python_sources "$@" | while IFS= read -r f; do
		n=$(flat "$f")
		# all units, owners, mark all
		{ printf '\007\000\000'; cat "$f"; } >"$out/all-$n"
		# owners, one hunk at line 5 (+2 lines), the same blob as
		# pre-image after the separator: findings are pre-existing
		{ printf '\022\005\040'; cat "$f"; printf '\n#@old@\n'; cat "$f"; } \
			>"$out/pre-$n"
		# json output, an odd path, every other unit, no owners
		{ printf '\140\001\000'; cat "$f"; } >"$out/json-$n"
	done
	;;
hunks)
	python_sources "$@" | while IFS= read -r f; do
		n=$(flat "$f")
		# two hunks: lines 3-3 changed, a deletion after line 10
		{ printf '\002\003\000\001\001\012\000\000\002'; cat "$f"; } \
			>"$out/two-$n"
		# one hunk over everything, one deletion before line 1
		{ printf '\002\001\000\377\001\000\000\000\001'; cat "$f"; } \
			>"$out/wide-$n"
	done
	;;
*)
	echo "seeds.sh: unknown target '$target'" >&2
	exit 2
	;;
esac
