#!/bin/sh
# Only new findings block: old debt in a renamed file, in a touched
# function or beside an edited one passes; a second identical violation
# and a finding that an edit creates on an untouched line block.
. "$(dirname "$0")/lib.sh"

test_create_repo repo && cd repo || exit 1

subst() {
	sed "s/$1/$2/" "${3:-app/jobs.py}" >sed.tmp && mv sed.tmp "${3:-app/jobs.py}"
}

test_expect_success 'setup: debt committed with --no-verify' '
	install_hook . &&
	write_txguard_config &&
	write_job app/jobs.py bad &&
	git add .txguard app/jobs.py &&
	test_must_fail git commit -q -m blocked >out 2>&1 &&
	git commit -q --no-verify -m "old debt" &&
	git tag debt
'

test_expect_success 'a renamed file with old debt passes' '
	test_when_finished "git reset -q --hard debt" &&
	git mv app/jobs.py app/tasks.py &&
	git commit -m rename >out 2>&1 &&
	git diff -M --name-status HEAD^ HEAD >actual &&
	grep "^R100" actual
'

test_expect_success 'a rename with a small edit elsewhere in the file passes' '
	test_when_finished "git reset -q --hard debt" &&
	git mv app/jobs.py app/tasks.py &&
	subst "return k\$" "return k + 12" app/tasks.py &&
	git add app/tasks.py &&
	git commit -m "rename and edit" >out 2>&1 &&
	git diff -M --name-status HEAD^ HEAD >actual &&
	grep "^R0*[0-9][0-9]	app/jobs.py	app/tasks.py" actual
'

test_expect_success 'a rename with an edit inside the indebted function passes' '
	test_when_finished "git reset -q --hard debt" &&
	git mv app/jobs.py app/tasks.py &&
	subst "status = 1" "status = 2" app/tasks.py &&
	git add app/tasks.py &&
	git commit -m "rename and touch" >out 2>&1
'

test_expect_success 'editing another line of a function with old debt passes' '
	test_when_finished "git reset -q --hard debt" &&
	subst "status = 1" "status = 2" &&
	git add app/jobs.py &&
	test_expect_code 0 txguard check >out 2>&1 &&
	grep "1 pre-existing" out &&
	git commit -m touch >out 2>&1
'

test_expect_success 'moving the indebted function down the file passes' '
	test_when_finished "git reset -q --hard debt" &&
	{
		sed -n "1,5p" app/jobs.py &&
		sed -n "12,\$p" app/jobs.py &&
		printf "\n\n" &&
		sed -n "6,9p" app/jobs.py
	} >moved.tmp &&
	mv moved.tmp app/jobs.py &&
	git add app/jobs.py &&
	git commit -m move >out 2>&1
'

test_expect_success 'a second identical violation in the same function blocks' '
	test_when_finished "git reset -q --hard debt" &&
	subst "await session.commit()" "await session.commit()\\
        await session.commit()" &&
	test "$(grep -c "await session.commit()" app/jobs.py)" = 2 &&
	git add app/jobs.py &&
	test_must_fail git commit -m second >out 2>&1 &&
	grep "TX001" out &&
	grep "1 new finding" out &&
	grep "1 pre-existing" out &&
	test "$(git rev-parse HEAD)" = "$(git rev-parse debt)"
'

test_expect_success 'changing an unrelated function in a file with old debt passes' '
	test_when_finished "git reset -q --hard debt" &&
	subst "return k\$" "return k + 12" &&
	git add app/jobs.py &&
	git commit -m unrelated >out 2>&1 &&
	! grep TX001 out
'

test_expect_success 'an edit that makes an untouched commit() a TX001 blocks' '
	test_when_finished "git reset -q --hard debt" &&
	write_file app/finish.py <<-\EOF &&
	from app.db import async_session_factory, get_background_session


	async def finish(job):
	    async with async_session_factory() as s:
	        job.status = "done"
	        s.add(job)
	        await s.commit()
	EOF
	git add app/finish.py &&
	git commit -q -m "close-only factory: commit is right" &&
	subst "async_session_factory() as s" \
		"get_background_session() as s" app/finish.py &&
	git add app/finish.py &&
	git diff --cached -U0 >actual &&
	test "$(grep -c "^[-+] " actual)" = 2 &&
	test_must_fail git commit -m "switch to owner" >out 2>&1 &&
	grep "app/finish.py:8:15: critical TX001" out
'

test_done
