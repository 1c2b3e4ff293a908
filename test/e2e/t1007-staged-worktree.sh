#!/bin/sh
# The repository and index git uses, wherever the commit runs from: a
# subdirectory, a linked worktree, --git-dir/--work-tree and GIT_DIR
# (libgit2 1.5 rejects GIT_WORK_TREE itself).
. "$(dirname "$0")/lib.sh"

test_create_repo repo && cd repo || exit 1

test_expect_success 'setup' '
	install_hook . &&
	write_txguard_config &&
	write_job app/jobs.py &&
	git add . &&
	git commit -q -m base &&
	git tag base
'

test_expect_success 'check from a subdirectory' '
	test_when_finished "git reset -q --hard base" &&
	write_job app/jobs.py bad &&
	git add app/jobs.py &&
	(cd app && test_expect_code 1 txguard check >../out 2>&1) &&
	grep "^jobs.py:9:15: critical TX001" out &&
	(cd app && test_must_fail git commit -m sub >../out 2>&1) &&
	test "$(git rev-parse HEAD)" = "$(git rev-parse base)"
'

test_expect_success 'a commit in a linked worktree is checked against its own index' '
	git worktree add -q ../wt -b wt base &&
	write_job app/jobs.py bad &&
	git add app/jobs.py &&
	(
		cd ../wt &&
		test_expect_code 0 txguard check >out 2>&1 &&
		write_job app/jobs.py bad &&
		git add app/jobs.py &&
		test_expect_code 1 txguard check >out 2>&1 &&
		grep "app/jobs.py:9:15: critical TX001" out &&
		test_must_fail git commit -m wt >out 2>&1 &&
		grep TX001 out &&
		test "$(git rev-parse HEAD)" = "$(git rev-parse base)" &&
		write_job app/jobs.py &&
		echo "# wt" >>app/jobs.py &&
		git add app/jobs.py &&
		git commit -q -m wt-clean
	) &&
	test_expect_code 1 txguard check >out 2>&1 &&
	git reset -q --hard base
'

test_expect_success 'git --git-dir=... --work-tree=... commit' '
	test_when_finished "git reset -q --hard base" &&
	write_job app/jobs.py bad &&
	(
		cd .. &&
		git --git-dir=repo/.git --work-tree=repo add app/jobs.py &&
		test_must_fail git --git-dir=repo/.git --work-tree=repo \
			commit -m gitdir >out 2>&1 &&
		grep "TX001" out
	) &&
	test "$(git rev-parse HEAD)" = "$(git rev-parse base)"
'

test_expect_success 'GIT_DIR and GIT_WORK_TREE from outside the work tree' '
	test_when_finished "git reset -q --hard base" &&
	write_job app/jobs.py bad &&
	git add app/jobs.py &&
	top=$(pwd) &&
	(
		mkdir -p ../elsewhere && cd ../elsewhere &&
		test_expect_code 1 env GIT_DIR="$top/.git" GIT_WORK_TREE="$top" \
			txguard check >out 2>&1 &&
		grep "app/jobs.py:9:15: critical TX001" out &&
		test_expect_code 1 env GIT_DIR="$top/.git" txguard check >out 2>&1
	)
'

test_done
