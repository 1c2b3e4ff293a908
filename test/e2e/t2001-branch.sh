#!/bin/sh
# Branch mode: check --base REV checks merge-base(REV,
# HEAD)..HEAD with the same unit scoping and "new" logic as staged mode.
. "$(dirname "$0")/lib.sh"

test_create_repo repo && cd repo || exit 1

test_expect_success 'setup: main with old debt' '
	write_txguard_config &&
	write_job app/jobs.py bad &&
	write_job app/other.py &&
	git add -A &&
	git commit -q -m base &&
	git tag base
'

test_expect_success 'a branch that does not touch the debt passes' '
	git checkout -q -b clean base &&
	test_tick &&
	echo "# note" >>app/other.py &&
	git commit -q -am "note" &&
	test_tick &&
	echo "# another" >>app/other.py &&
	git commit -q -am "another" &&
	test_expect_code 0 txguard check --base main >out 2>err &&
	grep "passed" out &&
	grep "0 new findings" out
'

test_expect_success 'a violation added in an earlier commit of the branch blocks' '
	git checkout -q -b bad base &&
	test_tick &&
	write_job app/other.py bad &&
	git commit -q -am "bad" &&
	test_tick &&
	echo "# later" >>app/jobs.py &&
	git commit -q -am "later" &&
	test_expect_code 1 txguard check --base main >out 2>err &&
	grep "^app/other.py:9:15: critical TX001" out &&
	test "$(grep -c "critical TX001" out)" = 1 &&
	grep "blocked" out
'

test_expect_success 'the summary names the commit range' '
	mb=$(git merge-base main HEAD | cut -c1-12) &&
	grep "$mb\.\." out
'

test_expect_success 'a base that moved on: only the branch is judged' '
	git checkout -q main &&
	test_tick &&
	write_job app/late.py bad &&
	git add app/late.py &&
	git commit -q --no-verify -m "debt on main after the fork" &&
	git checkout -q clean &&
	test_expect_code 0 txguard check --base main >out 2>err &&
	! grep "late.py" out
'

test_expect_success 'a merge commit on the branch: the merged-in change is judged too' '
	git checkout -q -b merged base &&
	test_tick &&
	git merge -q --no-edit --no-ff bad &&
	test_tick &&
	echo "# after merge" >>app/jobs.py &&
	git commit -q -am "after" &&
	test_expect_code 1 txguard check --base main >out 2>err &&
	grep "^app/other.py:9:15: critical TX001" out
'

test_expect_success '--head checks another tip' '
	git checkout -q main &&
	test_expect_code 1 txguard check --base base --head bad >out 2>err &&
	grep "app/other.py" out &&
	test_expect_code 0 txguard check --base base --head clean >out 2>err
'

test_expect_success 'an unknown base is exit 2 with what to fetch' '
	test_expect_code 2 txguard check --base origin/nowhere >out 2>err &&
	grep "origin/nowhere" err &&
	grep "fetch" err
'

test_expect_success '--head without --base is a usage error' '
	test_expect_code 2 txguard check --head bad >out 2>err &&
	grep "needs --base" err
'

test_expect_success 'a shallow clone without the merge base says what to fetch' '
	git clone -q --no-local --depth 1 --branch bad . ../shallow &&
	git -C ../shallow fetch -q --depth 1 origin main:main &&
	(cd ../shallow && test_expect_code 2 txguard check --base main >out 2>err) &&
	grep -i "fetch" ../shallow/err &&
	grep -e "--deepen\|--unshallow" ../shallow/err
'

test_expect_success 'the shallow clone works once deepened' '
	(cd ../shallow && git fetch -q --unshallow origin &&
	 git fetch -q origin main:main 2>/dev/null;
	 test_expect_code 1 txguard check --base main >out 2>err) &&
	grep "app/other.py" ../shallow/out
'

test_done
