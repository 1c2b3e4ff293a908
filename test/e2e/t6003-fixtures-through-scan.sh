#!/bin/sh
# Every analyzer fixture through the real `txguard scan`, not the fixture
# helper: the scan's literal pre-filter, the owner index and the engine
# must find exactly the `# expect:` marks the helper finds, case by case
# (the pre-filter skips only what cannot produce a finding).
. "$(dirname "$0")/lib.sh"

# cases: one line per case, "GROUP/FILE.py" or "GROUP/DIR"
cases() {
	for g in tx001 tx002 tx003 tx004 request_scope; do
		for c in "$FIXTURES/$g"/*; do
			if [ -d "$c" ] || [ "${c%.py}" != "$c" ]; then
				echo "$g/${c##*/}"
			fi
		done
	done
}

# nearest_cfg CASE: the txguard.cfg the fixture runner would use, or ""
nearest_cfg() {
	d=$FIXTURES/$1
	[ -d "$d" ] || d=${d%/*}
	while [ "$d" != "$FIXTURES" ]; do
		[ -f "$d/txguard.cfg" ] && { echo "$d/txguard.cfg"; return; }
		d=${d%/*}
	done
}

# marks: expect_marks (lib.sh) of every .py file here
marks() {
	expect_marks $(find . -path ./.git -prune -o -name '*.py' -print |
		sed 's|^\./||')
}

# found JSON: "PATH:LINE RULE" of every finding that is not suppressed
found() {
	python3 - "$1" <<-\EOF | LC_ALL=C sort
	import json, sys
	for f in json.load(open(sys.argv[1]))["findings"]:
	    if f["status"] != "suppressed":
	        print("%s:%d %s" % (f["path"], f["line"], f["rule"]))
	EOF
}

test_expect_success 'there are cases to run' '
	test "$(cases | wc -l)" -ge 40
'

for case in $(cases); do
	test_expect_success "scan finds exactly the marks: $case" '
		rm -rf "$TRASH_DIRECTORY/c" &&
		test_create_repo "$TRASH_DIRECTORY/c" &&
		(
			cd "$TRASH_DIRECTORY/c" &&
			if [ -d "$FIXTURES/$case" ]; then
				cp -R "$FIXTURES/$case"/. . && rm -f txguard.cfg
			else
				cp "$FIXTURES/$case" .
			fi &&
			cfg=$(nearest_cfg "$case") &&
			if [ -n "$cfg" ]; then cp "$cfg" .txguard; fi &&
			git add -A &&
			git commit -q -m "$case" &&
			marks >expect &&
			txguard scan --format json --fail-on never >out.json &&
			found out.json >actual &&
			test_cmp expect actual
		)
	'
done

# The pre-filter also works function by function; a function it skips
# is still counted, and a directive in it is still reported when unused.
test_expect_success 'a function without the words: counted, its unused noqa reported' '
	rm -rf "$TRASH_DIRECTORY/u" &&
	test_create_repo "$TRASH_DIRECTORY/u" &&
	(
		cd "$TRASH_DIRECTORY/u" &&
		write_txguard_config &&
		mkdir app &&
		cat >app/jobs.py <<-\EOF &&
		from app.db import get_background_session


		async def flagged(x):
		    async with get_background_session() as session:
		        await session.commit()


		def quiet(x):
		    return x + 1  # noqa: TX001


		def plain(x):
		    return x * 2
		EOF
		git add -A &&
		git commit -q -m units &&
		test_expect_code 1 txguard scan --format json >out.json &&
		python3 -c "
import json
d = json.load(open(\"out.json\"))
s = d[\"summary\"]
assert [(f[\"line\"], f[\"rule\"]) for f in d[\"findings\"]] == [(6, \"TX001\")], d[\"findings\"]
assert s[\"units_checked\"] == 4, s
assert any(\"app/jobs.py:10:\" in n and \"suppresses nothing\" in n for n in s[\"notices\"]), s[\"notices\"]
"
	)
'

test_done
