#!/bin/sh
# Staged mode through the hook: a real `git commit` is blocked by a new
# TX001 and allowed without one; `txguard check` exits 0, 1 or 2 exactly.
. "$(dirname "$0")/lib.sh"

test_create_repo repo && cd repo || exit 1

test_expect_success 'setup: hook, owner config, a clean base commit' '
	install_hook . &&
	write_txguard_config &&
	write_job app/jobs.py &&
	git add .txguard app/jobs.py &&
	git commit -q -m base &&
	git tag base
'

test_expect_success 'a new TX001 blocks the commit' '
	test_when_finished "git reset -q --hard base" &&
	write_job app/jobs.py bad &&
	git add app/jobs.py &&
	test_must_fail git commit -m bad >out 2>&1 &&
	test "$(git rev-parse HEAD)" = "$(git rev-parse base)" &&
	grep "^app/jobs.py:9:15: critical TX001 " out &&
	grep "get_background_session" out &&
	grep "commit blocked" out
'

test_expect_success 'the blocked output shows the line, a caret and help' '
	test_when_finished "git reset -q --hard base" &&
	write_job app/jobs.py bad &&
	git add app/jobs.py &&
	test_expect_code 1 txguard check >out 2>err &&
	grep "|         await session.commit()$" out &&
	grep "|               ^" out &&
	grep "help:" out &&
	grep "1 new finding (1 critical)" out
'

test_expect_success 'clean code is allowed' '
	test_when_finished "git reset -q --hard base" &&
	write_job app/jobs.py &&
	echo "# another line" >>app/jobs.py &&
	git add app/jobs.py &&
	git commit -m clean >out 2>&1 &&
	test "$(git rev-parse HEAD^)" = "$(git rev-parse base)" &&
	! grep TX001 out
'

test_expect_success 'check: exit 0 when nothing new is staged' '
	test_expect_code 0 txguard check >out 2>err &&
	test_expect_code 0 txguard check -q >out 2>err
'

test_expect_success 'check: exit 1 with a new finding staged' '
	test_when_finished "git reset -q --hard base" &&
	write_job app/jobs.py bad &&
	git add app/jobs.py &&
	test_expect_code 1 txguard check >out 2>err &&
	grep TX001 out
'

test_expect_success 'check: exit 2 outside a repository, with the hint' '
	mkdir -p ../norepo &&
	(cd ../norepo && test_expect_code 2 env TXGUARD_HOOK=git txguard check >out 2>err) &&
	grep "^txguard: " ../norepo/err &&
	grep -e "--no-verify" ../norepo/err &&
	! grep TX001 ../norepo/out
'

test_expect_success 'check: exit 2 for a bad option, with the hint' '
	test_expect_code 2 env TXGUARD_HOOK=git txguard check --no-such-option >out 2>err &&
	grep "^txguard: .*no-such-option" err &&
	grep -e "--no-verify" err &&
	test_expect_code 2 txguard check stray-argument >out 2>err &&
	grep "stray-argument" err &&
	test_expect_code 2 txguard check --format yaml >out 2>err &&
	grep "yaml" err
'

test_expect_success 'commit --amend with a new TX001 is blocked' '
	test_when_finished "git reset -q --hard base" &&
	echo "# second" >>app/jobs.py &&
	git commit -q -a -m second &&
	second=$(git rev-parse HEAD) &&
	write_job app/jobs.py bad &&
	git add app/jobs.py &&
	test_must_fail git commit --amend -m amended >out 2>&1 &&
	test "$(git rev-parse HEAD)" = "$second" &&
	grep "TX001" out &&
	write_job app/jobs.py &&
	echo "# amended" >>app/jobs.py &&
	git add app/jobs.py &&
	git commit -q --amend -m amended &&
	test "$(git rev-parse HEAD^)" = "$(git rev-parse base)"
'

test_expect_success 'first commit (unborn HEAD) with a TX001 is blocked' '
	test_create_repo ../first &&
	(
		cd ../first &&
		install_hook . &&
		write_txguard_config &&
		write_job app/jobs.py bad &&
		git add . &&
		test_must_fail git commit -m first >out 2>&1 &&
		grep "app/jobs.py:9:15: critical TX001" out &&
		test_must_fail git rev-parse -q --verify HEAD
	)
'

test_expect_success 'first commit without a violation passes' '
	(
		cd ../first &&
		rm -f out &&
		write_job app/jobs.py &&
		git add . &&
		git commit -m first >out 2>&1 &&
		git rev-parse -q --verify HEAD
	)
'

test_done
