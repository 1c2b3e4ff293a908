#!/bin/sh
# Deep nesting and huge files through the fuzz-analyze replayer (no
# recursion that can overflow the stack, files of tens of MB, lines of
# megabytes, thousands of functions). The inputs are generated here, into
# FUZZDIR/hostile/, never committed.
#
#   sh test/fuzz/hostile.sh FUZZDIR [NAME...]
#
# Each input runs in the replayer under a timeout (HOSTILE_TIMEOUT
# seconds, default 300) with the default 8 MB stack; prints TAP lines and
# the time (and peak RSS where /usr/bin/time exists) of each.
set -u
dir=$1
shift
out=$dir/hostile
bin=$dir/replay/fuzz-analyze
timeout=${HOSTILE_TIMEOUT:-300}
mkdir -p "$out"

# the option bytes of fuzz-analyze: all units, owners, mark all
header() { printf '\007\000\000'; }

gen() { # name awk-program
	[ -s "$out/$1" ] && return
	{ header; awk "BEGIN { $2 }"; } >"$out/$1.tmp" && mv "$out/$1.tmp" "$out/$1"
}

N=50000
gen parens-$N "printf \"x = \"; for (i = 0; i < $N; i++) printf \"(\"; printf \"1\"; for (i = 0; i < $N; i++) printf \")\"; print \"\""
gen lists-$N "printf \"x = \"; for (i = 0; i < $N; i++) printf \"[\"; for (i = 0; i < $N; i++) printf \"]\"; print \"\""
gen calls-$N "printf \"s.commit(\"; for (i = 0; i < $N; i++) printf \"f(\"; for (i = 0; i <= $N; i++) printf \")\"; print \"\""
gen lambdas-$N "printf \"x = \"; for (i = 0; i < $N; i++) printf \"lambda: \"; print \"s.commit()\""
gen unary-$N "printf \"x = \"; for (i = 0; i < $N; i++) printf \"not -\"; print \"1\""
gen binary-$N "printf \"x = 1\"; for (i = 0; i < $N; i++) printf \" + 1\"; print \"\""
gen attrs-$N "printf \"s\"; for (i = 0; i < $N; i++) printf \".a\"; print \".commit()\""
gen subscripts-$N "printf \"s\"; for (i = 0; i < $N; i++) printf \"[0]\"; print \".commit()\""
gen unclosed-$N "printf \"def f(\"; for (i = 0; i < $N; i++) printf \"(\"; print \"\""
# Python nests blocks by indentation, so a block's depth costs its
# width: 5,000 levels of one space are 12 MB.
gen blocks-5000 'for (i = 0; i < 5000; i++) { for (j = 0; j < i; j++) printf " "; print "if x:" } for (j = 0; j < 5000; j++) printf " "; print "pass"'
gen defs-3000 'for (i = 0; i < 3000; i++) { for (j = 0; j < i; j++) printf " "; printf "def f%d():\n", i } for (j = 0; j < 3000; j++) printf " "; print "pass"'
gen withs-3000 'for (i = 0; i < 3000; i++) { for (j = 0; j < i; j++) printf " "; print "with get_background_session() as s:" } for (j = 0; j < 3000; j++) printf " "; print "s.commit()"'
gen defs-tabs-20000 'for (i = 0; i < 20000; i++) { for (j = 0; j < i / 8; j++) printf "\t"; for (j = 0; j < i % 8; j++) printf " "; printf "def f():\n" } print "\t\tpass"'
# 20 MB: 100,000 functions, each with an owner block and two findings
gen functions-20mb 'for (i = 0; i < 100000; i++) printf "async def job_%06d(x):\n    async with get_background_session() as s:\n        await s.execute(update(Job).values(n=%d))\n        await s.commit()\n    s = SessionLocal()\n    return 0\n\n\n", i, i, i'
# 20 MB on one line
gen longline-20mb 'printf "x = \""; s = "abcdefghij"; for (i = 0; i < 11; i++) s = s s; for (i = 0; i < 1000; i++) printf "%s", s; print "\""'
gen cr-only-2mb 'for (i = 0; i < 50000; i++) printf "def f%d():\r    with session.begin():\r        session.commit()\r", i'

rc=0
n=0
for f in "$out"/*; do
	[ -f "$f" ] || continue
	case $f in *.tmp) continue ;; esac
	name=$(basename "$f")
	[ $# -gt 0 ] && case " $* " in *" $name "*) ;; *) continue ;; esac
	n=$((n + 1))
	start=$(date +%s)
	rss=
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f '%M' -o "$out/.rss" "$bin" -t "$timeout" "$f" >"$out/.log" 2>&1
		st=$?
		rss=", peak RSS $(tail -n 1 "$out/.rss") KB"
	else
		"$bin" -t "$timeout" "$f" >"$out/.log" 2>&1
		st=$?
	fi
	end=$(date +%s)
	size=$(wc -c <"$f")
	if [ "$st" -eq 0 ]; then
		echo "ok $n - $name ($size bytes, $((end - start))s$rss)"
	else
		rc=1
		echo "not ok $n - $name ($size bytes, $((end - start))s$rss)"
		sed 's/^/# /' "$out/.log" | head -n 30
	fi
done
echo "1..$n"
exit $rc
