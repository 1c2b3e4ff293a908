#!/bin/sh
# The project's shared examples through the real program, not the fixture
# helper: every `# expect: RULE` mark and nothing else, with the owners and
# factories inferred from session_helpers.py (no configuration at all).
. "$(dirname "$0")/lib.sh"

EXAMPLES=$FIXTURES/examples/shared

test_create_repo repo && cd repo || exit 1

# found JSON STATUS: "PATH:LINE RULE" of the findings with that status
found() {
	python3 - "$1" "$2" <<-\EOF | LC_ALL=C sort
	import json, sys
	for f in json.load(open(sys.argv[1]))["findings"]:
	    if f["status"] == sys.argv[2]:
	        print("%s:%d %s" % (f["path"], f["line"], f["rule"]))
	EOF
}

test_expect_success 'setup: the examples as a package, helpers committed first' '
	mkdir app &&
	: >app/__init__.py &&
	cp "$EXAMPLES"/session_helpers.py app/ &&
	git add app &&
	git commit -q -m helpers &&
	cp "$EXAMPLES"/jobs.py "$EXAMPLES"/routes.py "$EXAMPLES"/scheduler.py app/ &&
	git add app
'

test_expect_success 'check: exactly the marked lines are new findings' '
	expect_marks app/jobs.py app/routes.py app/scheduler.py >expect &&
	test_expect_code 1 txguard check --format json >out.json &&
	found out.json new >actual &&
	test_cmp expect actual
'

test_expect_success 'check: the suppressed one is counted, not reported as new' '
	found out.json suppressed >actual &&
	test "$(wc -l <actual)" -eq 1 &&
	grep -q "^app/jobs.py:[0-9]* TX001$" actual
'

test_expect_success 'check: messages name the inferred owner and where it is defined' '
	test_expect_code 1 txguard check >out 2>&1 &&
	line=$(grep -n "^async def get_background_session" app/session_helpers.py | cut -d: -f1) &&
	grep -q "get_background_session, defined at app/session_helpers.py:$line" out
'

test_expect_success 'the hook blocks the commit and HEAD stays' '
	install_hook &&
	head=$(git rev-parse HEAD) &&
	test_must_fail git commit -q -m examples 2>err &&
	test "$(git rev-parse HEAD)" = "$head" &&
	grep -q "TX001" err
'

test_expect_success 'scan: the same set once committed' '
	git commit -q --no-verify -m examples &&
	test_expect_code 1 txguard scan --format json >scan.json &&
	expect_marks app/jobs.py app/routes.py app/scheduler.py >expect &&
	found scan.json new >actual &&
	test_cmp expect actual
'

test_expect_success 'scan: twice gives the same answer (warm owner index)' '
	test -s "$(git rev-parse --git-common-dir)/txguard/ownerdb-v3.chain" &&
	test_expect_code 1 txguard scan --format json >scan2.json &&
	found scan2.json new >actual2 &&
	test_cmp actual actual2
'

test_expect_success 'index: builds the owner index; a second run reads nothing' '
	cache=$(git rev-parse --git-common-dir)/txguard &&
	rm -rf "$cache" &&
	txguard index >out &&
	grep "owner index of the index: 5 Python files, 4 defining" out &&
	grep "0 already indexed" out &&
	test -s "$cache/ownerdb-v3.chain" &&
	txguard index >out &&
	grep "5 already indexed, 0 read, 0 parsed" out &&
	txguard index --rev HEAD~1 -q >out &&
	test ! -s out
'

test_expect_success 'index: a bad argument or revision exits 2' '
	test_expect_code 2 txguard index extra 2>err &&
	grep "unexpected argument" err &&
	test_expect_code 2 txguard index --rev nowhere 2>err &&
	grep "txguard: " err
'

test_done
