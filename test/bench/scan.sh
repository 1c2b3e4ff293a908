#!/bin/sh
# Scan benchmarks, each a ratio against a floor measured in the
# same run, on trees anyone can rebuild from Debian's packages (nothing of
# them is committed):
#
#   A  scan -j1, a tree where every file uses sessions   / tree-sitter parse-only pass   (<= 1.2x)
#   B  scan -j2                                          vs scan -j1                     (>= 1.8x faster)
#   C  scan, a large tree where few files touch databases / reading the same blobs       (<= 3x)
#   D  peak RSS (median of 3) of scan -j2 and -j1 on C's tree and on 4x that tree, objects loose and packed,
#      with and without the owner index cache; on A's tree and on 4x that tree (every
#      file queries the resolver); check on a large change in both   (<= 64 MiB, flat)
#
# usage: sh test/bench/scan.sh /abs/path/txguard /abs/path/floor [runs]
set -eu
txguard=${1:?usage: scan.sh TXGUARD FLOOR [runs]}
floor=${2:?usage: scan.sh TXGUARD FLOOR [runs]}
runs=${3:-5}
src=${DJANGO_SRC:-/usr/lib/python3/dist-packages/django}
[ -d "$src" ] || { echo "scan.sh: $src missing (apt-get install python3-django)" >&2; exit 2; }
# C and D: a tree where few files touch databases. Django is a database
# framework (its db package is full of commit and rollback), so these use
# the Python standard library instead.
few_src=${FEW_SRC:-/usr/lib/python3.11}
[ -d "$few_src" ] || { echo "scan.sh: $few_src missing" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "scan.sh: hyperfine missing (apt-get install hyperfine)" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/txguard-scanbench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# gc_auto: D sets 0 so that a tree stays loose (no background gc racing
# the measurement); A to C leave git's default.
gc_auto=
git_quiet() { git ${gc_auto:+-c gc.auto=$gc_auto} -c init.defaultBranch=main \
	-c user.name=bench -c user.email=bench@example.invalid "$@" >/dev/null; }

# make_tree DIR COPIES SESSIONS [SRC]: COPIES copies of the Python sources
# of SRC (default Django); with SESSIONS=1 every file gets a function that
# uses a session.
make_tree() {
	dir=$1 copies=$2 sessions=$3 from=${4:-$src}
	i=0
	while [ "$i" -lt "$copies" ]; do
		mkdir -p "$dir/c$i"
		(cd "$from" && find . -name '*.py' -print0 | tar --null -T - -cf -) |
			(cd "$dir/c$i" && tar -xf -)
		if [ "$sessions" = 1 ]; then
			find "$dir/c$i" -name '*.py' -exec sh -c 'for f; do
				printf "\n\ndef _bench_job(Session, n):\n    with Session() as s:\n        s.execute(n)\n        s.commit()\n" >>"$f"
			done' sh {} +
		fi
		# distinct blobs per copy, as in a real repository
		find "$dir/c$i" -name '*.py' -exec sh -c 'for f; do echo "# c'"$i"'" >>"$f"; done' sh {} +
		i=$((i + 1))
	done
	(cd "$dir" && git_quiet init && git_quiet add -A && git_quiet commit -m tree)
}

median() { # JSON NAME -> ms
	python3 -c 'import json,sys; r={x["command"]:x for x in json.load(open(sys.argv[1]))["results"]}; print("%.1f" % (r[sys.argv[2]]["median"]*1000))' "$@"
}

# rss DIR CMD... -> MiB, the median peak RSS of three runs; with COLD=1
# the owner index cache is removed before each.
rss() {
	d=$1
	shift
	: >"$tmp/rss3"
	for _ in 1 2 3; do
		[ "${COLD:-0}" = 1 ] && rm -rf "$d/.git/txguard"
		(cd "$d" && /usr/bin/time -o "$tmp/rss" -f %M "$@" >/dev/null 2>&1) || true
		tail -n 1 "$tmp/rss" >>"$tmp/rss3"
	done
	sort -n "$tmp/rss3" | awk 'NR == 2 {printf "%.1f", $1 / 1024}'
}

echo "building trees from $src ..."
make_tree "$tmp/sessions" 4 1
make_tree "$tmp/few" 4 0 "$few_src"
gc_auto=0
make_tree "$tmp/few4" 16 0 "$few_src"
make_tree "$tmp/sessions4" 16 1
gc_auto=

(cd "$tmp/sessions" && echo "A/B tree: $("$floor" parse)")
(cd "$tmp/sessions" && hyperfine -N -w 1 -r "$runs" --export-json "$tmp/a.json" \
	"$floor parse" "$txguard scan -j1 --fail-on never -q" "$txguard scan -j2 --fail-on never -q" >/dev/null 2>&1)
p=$(median "$tmp/a.json" "$floor parse")
s1=$(median "$tmp/a.json" "$txguard scan -j1 --fail-on never -q")
s2=$(median "$tmp/a.json" "$txguard scan -j2 --fail-on never -q")
python3 - "$p" "$s1" "$s2" <<'PY'
import sys
p, s1, s2 = map(float, sys.argv[1:])
print(f"A  scan -j1 {s1:.0f} ms / parse-only floor {p:.0f} ms = {s1 / p:.2f}x (target <= 1.2x)")
print(f"B  scan -j1 {s1:.0f} ms / scan -j2 {s2:.0f} ms = {s1 / s2:.2f}x faster (target >= 1.8x)")
PY

(cd "$tmp/few" && echo "C tree: $("$floor" read)")
(cd "$tmp/few" && hyperfine -N -w 1 -r "$runs" --export-json "$tmp/c.json" \
	"$floor read" "$txguard scan --fail-on never -q" >/dev/null 2>&1)
r=$(median "$tmp/c.json" "$floor read")
s=$(median "$tmp/c.json" "$txguard scan --fail-on never -q")
python3 -c "import sys; r, s = float(sys.argv[1]), float(sys.argv[2]); print(f'C  scan {s:.0f} ms / read-blobs floor {r:.0f} ms = {s / r:.2f}x (target <= 3x)')" "$r" "$s"

# D: the same trees loose (as committed) and packed; each scan with no
# owner index cache (cold: the index is built, reading every blob) and
# with it (warm). check stages one copy of the library (every file of c0
# changed) in the N and the 4N tree.
rss_cold() { # DIR CMD... -> MiB, without the owner index cache
	COLD=1
	rss "$@"
	COLD=0
	rm -rf "$1/.git/txguard"
}
rss_warm() { # DIR CMD... -> MiB, after a run that leaves the cache
	(cd "$1" && shift && "$@" >/dev/null 2>&1) || true
	rss "$@"
}
for t in few few4; do
	cp -a "$tmp/$t" "$tmp/${t}p"
	(cd "$tmp/${t}p" && git repack -adq && git prune)
done
n1=$(cd "$tmp/few" && git ls-files | wc -l)
n4=$(cd "$tmp/few4" && git ls-files | wc -l)
for kind in loose packed; do
	s=
	[ "$kind" = packed ] && s=p
	c1=$(rss_cold "$tmp/few$s" "$txguard" scan -j2 --fail-on never -q)
	c4=$(rss_cold "$tmp/few4$s" "$txguard" scan -j2 --fail-on never -q)
	w1=$(rss_warm "$tmp/few$s" "$txguard" scan -j2 --fail-on never -q)
	w4=$(rss_warm "$tmp/few4$s" "$txguard" scan -j2 --fail-on never -q)
	j1=$(rss "$tmp/few$s" "$txguard" scan -j1 --fail-on never -q)
	j4=$(rss "$tmp/few4$s" "$txguard" scan -j1 --fail-on never -q)
	f1=$(rss "$tmp/few$s" "$floor" read)
	f4=$(rss "$tmp/few4$s" "$floor" read)
	echo "D  peak RSS scan -j2, $kind: $n1 files $w1 MiB, $n4 files $w4 MiB (-j1: $j1, $j4 MiB; no owner index cache: $c1, $c4 MiB; floor, reading every blob: $f1, $f4 MiB)"
done
ms=$(rss_warm "$tmp/sessions" "$txguard" scan -j2 --fail-on never -q)
ms4=$(rss_warm "$tmp/sessions4" "$txguard" scan -j2 --fail-on never -q)
mj=$(rss "$tmp/sessions" "$txguard" scan -j1 --fail-on never -q)
mj4=$(rss "$tmp/sessions4" "$txguard" scan -j1 --fail-on never -q)
m1=$(cd "$tmp/sessions" && git ls-files | wc -l)
m4=$(cd "$tmp/sessions4" && git ls-files | wc -l)
echo "D  peak RSS scan -j2, every file uses sessions, loose: $m1 files $ms MiB, $m4 files $ms4 MiB (-j1: $mj, $mj4 MiB)"
for t in few few4; do
	(cd "$tmp/$t" && find c0 -name '*.py' -exec sh -c 'for f; do echo "x = 1" >>"$f"; done' sh {} + &&
		git add -A c0)
done
nc=$(cd "$tmp/few" && git diff --cached --name-only | wc -l)
k1=$(rss_warm "$tmp/few" "$txguard" check --fail-on never -q)
k4=$(rss_warm "$tmp/few4" "$txguard" check --fail-on never -q)
g1=$(rss "$tmp/few" git diff --cached --stat)
g4=$(rss "$tmp/few4" git diff --cached --stat)
echo "D  peak RSS check, $nc staged files: in $n1 files $k1 MiB, in $n4 files $k4 MiB (floor, git diff --cached: $g1, $g4 MiB) (targets: scan <= 64 MiB, check <= 40 MiB, not growing with the tree)"
