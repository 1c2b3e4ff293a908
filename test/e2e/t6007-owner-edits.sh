#!/bin/sh
# A change that makes a helper an owner (a commit after its yield) checks
# every file that uses it and names the call sites, in staged and branch
# mode, in scan and in a linked worktree with a warm cache; the reverse
# edit and unrelated edits pass.
#
# No .txguard anywhere: every owner here is inferred, none configured.
. "$(dirname "$0")/lib.sh"
. "$TOP/test/e2e/lib-owners.sh"

test_create_repo owner-edit && cd owner-edit || exit 1


test_expect_success 'setup: get_session only closes; commits inside it are right; the hook agrees' '
	install_hook . &&
	write_owner_edit_repo &&
	git add -A &&
	git commit -m base >out 2>&1 &&
	! grep "TX00" out &&
	git tag base &&
	test_expect_code 0 txguard scan >out 2>err
'

test_expect_success 'making get_session commit after its yield blocks, naming the call sites' '
	test_when_finished "git reset -q --hard base" &&
	make_get_session_own &&
	git add app/db.py &&
	test "$(git diff --cached --name-only)" = app/db.py &&
	test_must_fail git commit -m "commit on exit" >out 2>&1 &&
	head_is base &&
	owner_edit_sites &&
	G=$(line_of app/db.py "^async def get_session") &&
	grep "^app/jobs.py:$J:15: critical TX001 " out &&
	grep "^app/other.py:$O:19: critical TX001 " out &&
	grep "^app/other.py:$OR:19: critical TX001 " out &&
	grep "get_session.*app/db.py:$G" out &&
	! grep "app/reader.py:.*TX001" out &&
	test "$(grep -c "critical TX001" out)" = 3
'

test_expect_success 'the hook and txguard check exit 1 on the owner edit' '
	test_when_finished "git reset -q --hard base" &&
	make_get_session_own &&
	git add app/db.py &&
	test_expect_code 1 run_hook >out 2>err &&
	test_expect_code 1 txguard check >out 2>err &&
	owner_edit_sites &&
	grep "^app/jobs.py:$J:" out &&
	grep "^app/other.py:$O:" out
'

test_expect_success 'the owner edit through git commit -a and git commit PATH' '
	test_when_finished "git reset -q --hard base" &&
	make_get_session_own &&
	test_must_fail git commit -a -m all >out 2>&1 &&
	head_is base &&
	owner_edit_sites &&
	grep "^app/jobs.py:$J:15: critical TX001 " out &&
	grep "^app/other.py:$O:19: critical TX001 " out &&
	test_must_fail git commit -m path app/db.py >out 2>&1 &&
	head_is base &&
	grep "^app/jobs.py:$J:15: critical TX001 " out &&
	grep "^app/other.py:$O:19: critical TX001 " out
'

test_expect_success 'the reverse edit (removing the commit) is allowed' '
	test_when_finished "git reset -q --hard base" &&
	make_get_session_own &&
	git commit -q --no-verify -am "owner (debt)" &&
	owned=$(git rev-parse HEAD) &&
	git show base:app/db.py >app/db.py &&
	git add app/db.py &&
	test_expect_code 0 txguard check >out 2>err &&
	git commit -m "closes only again" >out 2>&1 &&
	test "$(git rev-parse HEAD^)" = "$owned" &&
	! grep "TX00" out
'

test_expect_success 'an unrelated edit of get_session is allowed' '
	test_when_finished "git reset -q --hard base" &&
	sed "s/^async def get_session():\$/async def get_session():\\
    \"\"\"A session for one unit of work; the caller commits.\"\"\"/" \
		app/db.py >app/db.py.new &&
	mv app/db.py.new app/db.py &&
	grep "the caller commits" app/db.py &&
	git add app/db.py &&
	test_expect_code 0 txguard check >out 2>err &&
	git commit -m docstring >out 2>&1 &&
	test "$(git rev-parse HEAD^)" = "$(git rev-parse base)" &&
	! grep "TX00" out
'

test_expect_success 'an unrelated edit elsewhere in app/db.py is allowed' '
	test_when_finished "git reset -q --hard base" &&
	sed "s|^engine = create_async_engine(\(.*\))\$|engine = create_async_engine(\1, pool_size=20)|" \
		app/db.py >app/db.py.new &&
	mv app/db.py.new app/db.py &&
	grep "pool_size=20" app/db.py &&
	cat >>app/db.py <<-\EOF &&


	async def ping() -> bool:
	    async with engine.connect() as conn:
	        await conn.exec_driver_sql("select 1")
	    return True
	EOF
	git add app/db.py &&
	test_expect_code 0 txguard check >out 2>err &&
	git commit -m unrelated >out 2>&1 &&
	test "$(git rev-parse HEAD^)" = "$(git rev-parse base)" &&
	! grep "TX00" out
'

test_expect_success 'check --base main on a branch whose only change is the owner edit' '
	git checkout -q -b owner-edit base &&
	test_tick &&
	make_get_session_own &&
	git commit -q --no-verify -am "get_session commits on exit" &&
	test "$(git diff --name-only main HEAD)" = app/db.py &&
	test_expect_code 1 txguard check --base main >out 2>err &&
	owner_edit_sites &&
	G=$(line_of app/db.py "^async def get_session") &&
	grep "^app/jobs.py:$J:15: critical TX001 " out &&
	grep "^app/other.py:$O:19: critical TX001 " out &&
	grep "get_session.*app/db.py:$G" out &&
	! grep "app/reader.py:.*TX001" out &&
	git checkout -q main
'

test_expect_success 'a branch with only an unrelated db.py edit passes' '
	git checkout -q -b docstring base &&
	test_tick &&
	echo "# pool settings live in settings.py" >>app/db.py &&
	git commit -q --no-verify -am "note" &&
	test_expect_code 0 txguard check --base main >out 2>err &&
	! grep "TX00" out &&
	git checkout -q main
'

test_expect_success 'scan of the owner-edit branch reports every call site' '
	test_expect_code 1 txguard scan --rev owner-edit >out 2>err &&
	git checkout -q owner-edit &&
	owner_edit_sites &&
	git checkout -q main &&
	grep "^app/jobs.py:$J:15: critical TX001 " out &&
	grep "^app/other.py:$O:19: critical TX001 " out &&
	! grep "app/reader.py:.*TX001" out
'

test_expect_success 'the owner edit in a linked worktree with a warm cache' '
	common=$(cd "$(git rev-parse --git-common-dir)" && pwd) &&
	test -d "$common/txguard" &&
	git worktree add -q ../wt3 -b wt3 base &&
	(
		cd ../wt3 &&
		make_get_session_own &&
		git add app/db.py &&
		test_must_fail git commit -m wt-owner >out 2>&1 &&
		head_is base &&
		owner_edit_sites &&
		grep "^app/jobs.py:$J:15: critical TX001 " out &&
		grep "^app/other.py:$O:19: critical TX001 " out &&
		test ! -e "$(git rev-parse --git-dir)/txguard"
	) &&
	git worktree remove --force ../wt3
'

test_done
