#!/bin/sh
# scan PATH... takes paths as git and ruff do: from the current
# directory; a path that matches nothing is an error; a partial scan
# leaves other files' baseline entries alone.
. "$(dirname "$0")/lib.sh"

test_create_repo repo && cd repo || exit 1

test_expect_success 'setup: findings in backend/app and in tools' '
	write_txguard_config &&
	bad_py backend/app/jobs.py &&
	bad_py tools/cron.py &&
	git add . &&
	git commit -q --no-verify -m debt
'

test_expect_success 'scan PATH from a subdirectory finds what is under it' '
	(cd backend && test_expect_code 1 txguard scan app >../out 2>err) &&
	grep "^app/jobs.py:4:15: critical TX001" out &&
	! grep cron out &&
	(cd backend/app && test_expect_code 1 txguard scan . >../../out) &&
	grep "^jobs.py:4:15" out &&
	(cd backend && test_expect_code 1 txguard scan ../tools >../out) &&
	grep "^\.\./tools/cron.py:4:15" out &&
	! grep jobs.py out
'

test_expect_success 'an absolute path inside the work tree works too' '
	(cd backend && test_expect_code 1 txguard scan "$TRASH_DIRECTORY/repo/tools" >../out) &&
	grep "cron.py:4:15" out
'

test_expect_success 'a PATH that matches nothing is exit 2, not a pass' '
	(cd backend && test_expect_code 2 txguard scan nosuch >../out 2>../err) &&
	grep "nosuch. matches no Python file" err &&
	test_expect_code 2 txguard scan app >out 2>err &&
	grep "app. matches no Python file" err &&
	test_expect_code 2 txguard scan ../outside >out 2>err &&
	grep "outside the repository" err
'

test_expect_success 'a partial scan reports no other file as prunable' '
	txguard baseline >out &&
	txguard scan >out &&
	git rm -q --cached tools/cron.py && rm tools/cron.py &&
	git commit -q --no-verify -m "cron gone" &&
	txguard scan backend >out &&
	! grep prunable out &&
	txguard scan >out &&
	grep "tools/cron.py .*prunable" out
'

test_expect_success 'Python files include leaves out are counted apart' '
	printf "[txguard]\n\tinclude = backend/**\n" >.txguard &&
	echo "x = 1" >tools/other.py &&
	git add .txguard tools/other.py && git commit -q --no-verify -m include &&
	txguard scan --format json >out.json &&
	python3 -c "import json, sys; s = json.load(open(sys.argv[1]))[\"summary\"][\"skipped\"]; sys.exit(0 if s[\"not_selected\"] >= 1 else 1)" out.json &&
	txguard scan >out &&
	grep "Python, not selected by include/exclude" out
'

test_done
