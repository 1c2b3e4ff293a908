#!/bin/sh
# Benchmark `txguard check` against `git diff --cached`: a
# one-file staged change in a repository of 3,000+ files (Debian's
# python3-django sources) and in a 30,000+ file copy, with the owner
# index warm. Prints the medians, their ratio (target <= 4x) and
# txguard's peak RSS (target <= 40 MiB); then the cold figure (no owner
# index) against a full scan.
#
# usage: sh test/bench/check.sh /abs/path/to/txguard [runs]
set -eu
txguard=${1:?usage: check.sh /abs/path/to/txguard [runs]}
runs=${2:-60}
src=${DJANGO_SRC:-/usr/lib/python3/dist-packages/django}
[ -d "$src" ] || { echo "check.sh: $src missing (apt-get install python3-django)" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "check.sh: hyperfine missing" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/txguard-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

git_quiet() { git -c init.defaultBranch=main -c user.name=bench \
	-c user.email=bench@example.invalid "$@" >/dev/null; }

# make_repo DIR COPIES: COPIES copies of the Python sources (each copy's
# files made distinct blobs), committed, then a one-line change staged in
# one Python file. Django has 859 .py files: 4 copies give the 3,000+ of
# the small repository, 36 copies the 30,000+ of the large one.
make_repo() {
	dir=$1 copies=$2
	mkdir -p "$dir"
	i=0
	while [ "$i" -lt "$copies" ]; do
		mkdir -p "$dir/c$i"
		(cd "$src" && find . -name '*.py' -print0 | tar --null -T - -cf -) |
			(cd "$dir/c$i" && tar -xf -)
		find "$dir/c$i" -name '*.py' -exec sh -c 'for f; do echo "# c'"$i"'" >>"$f"; done' sh {} +
		i=$((i + 1))
	done
	(cd "$dir" && git_quiet init && git_quiet add -A && git_quiet commit -m base)
	f="$dir/c0/db/transaction.py"
	printf '\n\ndef bench_added(session):\n    with session.begin():\n        session.add(1)\n' >>"$f"
	(cd "$dir" && git_quiet add c0/db/transaction.py)
}

# Both commands run in alternating blocks (ROUNDS of hyperfine, each
# with runs/ROUNDS of either), so a burst of load on a shared machine hits
# both; the medians are over every run.
rounds=${ROUNDS:-6}
measure() { # NAME DIR
	name=$1 dir=$2
	n=$(cd "$dir" && git ls-files | wc -l)
	(cd "$dir" && "$txguard" check >/dev/null 2>&1) || true # warm caches
	r=0
	while [ "$r" -lt "$rounds" ]; do
		(cd "$dir" && hyperfine -N -w 2 -r $((runs / rounds + 1)) \
			--export-json "$tmp/$name.$r.json" \
			"git diff --cached" "$txguard check" >/dev/null 2>&1)
		r=$((r + 1))
	done
	(cd "$dir" && /usr/bin/time -o "$tmp/rss" -f %M "$txguard" check >/dev/null 2>&1) || true
	rss=$(tail -n 1 "$tmp/rss")
	python3 - "$name" "$n" "$rss" "$tmp/$name".*.json <<-\PY
	import json, statistics, sys
	g, t = [], []
	for f in sys.argv[4:]:
	    res = json.load(open(f))["results"]
	    g += res[0]["times"]
	    t += res[1]["times"]
	g = statistics.median(g) * 1000
	t = statistics.median(t) * 1000
	rss = int(sys.argv[3]) / 1024
	ok = t / g <= 4 and rss <= 40
	print(f"{sys.argv[1]}: {sys.argv[2]} files: git diff --cached {g:.2f} ms, "
	      f"txguard check {t:.2f} ms, ratio {t / g:.2f}x (target <= 4x), "
	      f"peak RSS {rss:.1f} MiB (target <= 40) {'ok' if ok else 'OVER'}")
	PY
}

# Cold: the first run in a repository, without the owner index (it reads
# and infers every Python blob once), against a full `txguard scan` of
# the same tree; few runs, these take seconds.
cold() { # NAME DIR
	name=$1 dir=$2
	idx=$(cd "$dir" && git rev-parse --absolute-git-dir)/txguard
	(cd "$dir" && hyperfine -N -r "${COLD_RUNS:-3}" --prepare "rm -rf $idx" \
		--export-json "$tmp/$name.cold.json" "$txguard check" >/dev/null 2>&1)
	(cd "$dir" && hyperfine -N -w 1 -r "${COLD_RUNS:-3}" \
		--export-json "$tmp/$name.scan.json" \
		"$txguard scan -q --fail-on never" >/dev/null 2>&1)
	python3 - "$name" "$tmp/$name.cold.json" "$tmp/$name.scan.json" <<-\PY
	import json, statistics, sys
	c = statistics.median(json.load(open(sys.argv[2]))["results"][0]["times"]) * 1000
	s = statistics.median(json.load(open(sys.argv[3]))["results"][0]["times"]) * 1000
	print(f"{sys.argv[1]}: cold check (no owner index) {c:.0f} ms, "
	      f"full scan {s:.0f} ms, cold check / scan = {c / s:.2f}")
	PY
}

make_repo "$tmp/small" 4
measure small "$tmp/small"
cold small "$tmp/small"
make_repo "$tmp/large" 36
measure large "$tmp/large"
cold large "$tmp/large"
