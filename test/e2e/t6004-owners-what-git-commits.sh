#!/bin/sh
# Inferred owners and what git will commit: `git commit -a`, `git commit
# PATH` and a plain commit are judged on the contents git commits, not
# the work tree.
#
# No .txguard anywhere: every owner here is inferred, none configured.
. "$(dirname "$0")/lib.sh"
. "$TOP/test/e2e/lib-owners.sh"

setup_service_test

test_expect_success 'git commit -a with the violation unstaged is blocked' '
	test_when_finished "git reset -q --hard base" &&
	write_jobs app/jobs.py bad &&
	test_must_fail git commit -a -m all >out 2>&1 &&
	head_is base &&
	L=$(line_of app/jobs.py "await session.commit()") &&
	grep "^app/jobs.py:$L:15: critical TX001 " out &&
	grep "get_background_session" out &&
	git diff --cached --quiet
'

test_expect_success 'git commit PATH with the violation unstaged is blocked' '
	test_when_finished "git reset -q --hard base" &&
	write_jobs app/jobs.py bad &&
	test_must_fail git commit -m path app/jobs.py >out 2>&1 &&
	head_is base &&
	L=$(line_of app/jobs.py "await session.commit()") &&
	grep "^app/jobs.py:$L:15: critical TX001 " out &&
	git diff --cached --quiet
'

test_expect_success 'git commit -a with a bad staged copy but a fixed work tree passes' '
	test_when_finished "git reset -q --hard base" &&
	write_jobs app/jobs.py bad &&
	git add app/jobs.py &&
	write_jobs app/jobs.py clean &&
	echo "# reviewed" >>app/jobs.py &&
	git commit -a -m fixed >out 2>&1 &&
	test "$(git rev-parse HEAD^)" = "$(git rev-parse base)" &&
	! grep "TX00" out &&
	test_must_fail git grep -q "await session.commit()" HEAD -- app/jobs.py
'

test_expect_success 'git commit PATH commits the work tree copy, and is judged on it' '
	test_when_finished "git reset -q --hard base" &&
	write_jobs app/jobs.py clean &&
	echo "# staged" >>app/jobs.py &&
	git add app/jobs.py &&
	write_jobs app/jobs.py bad &&
	test_must_fail git commit -m path app/jobs.py >out 2>&1 &&
	head_is base &&
	grep "^app/jobs.py:.*critical TX001" out
'

test_expect_success 'plain git commit judges the index, not the work tree' '
	test_when_finished "git reset -q --hard base" &&
	write_jobs app/jobs.py clean &&
	echo "# staged" >>app/jobs.py &&
	git add app/jobs.py &&
	write_jobs app/jobs.py bad &&
	git commit -m index-only >out 2>&1 &&
	test "$(git rev-parse HEAD^)" = "$(git rev-parse base)" &&
	! grep "TX00" out
'

test_done
