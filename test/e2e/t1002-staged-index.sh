#!/bin/sh
# Staged mode checks the index git is about to commit, never the working
# tree: partial staging, `add -p`, `commit -a`, `commit PATH` and
# GIT_INDEX_FILE.
. "$(dirname "$0")/lib.sh"

test_create_repo repo && cd repo || exit 1

# A clean edit at the end of unrelated_helper, far from mark_running.
edit_helper() {
	sed 's/return k$/return k + 12/' app/jobs.py >app/jobs.tmp &&
	mv app/jobs.tmp app/jobs.py
}

test_expect_success 'setup' '
	install_hook . &&
	write_txguard_config &&
	write_job app/jobs.py &&
	git add .txguard app/jobs.py &&
	git commit -q -m base &&
	git tag base
'

test_expect_success 'a violation only in the working tree does not block' '
	test_when_finished "git reset -q --hard base" &&
	edit_helper &&
	git add app/jobs.py &&
	write_job app/jobs.py bad &&
	edit_helper &&
	test_expect_code 0 txguard check >out 2>&1 &&
	git commit -m "helper only" >out 2>&1 &&
	test_expect_code 1 git diff --quiet HEAD^ HEAD -- app/jobs.py &&
	git show HEAD:app/jobs.py >actual &&
	! grep "session.commit" actual &&
	grep "session.commit" app/jobs.py
'

test_expect_success 'git add -p: the unstaged violation hunk does not block' '
	test_when_finished "git reset -q --hard base" &&
	write_job app/jobs.py bad &&
	edit_helper &&
	test "$(git diff -U3 | grep -c "^@@")" = 2 &&
	printf "n\ny\n" | git add -p app/jobs.py >/dev/null &&
	git diff --cached >actual &&
	grep "^+    return k + 12" actual &&
	! grep "session.commit" actual &&
	git diff >actual &&
	grep "^+        await session.commit()" actual &&
	git commit -m "add -p" >out 2>&1 &&
	test "$(git rev-parse HEAD^)" = "$(git rev-parse base)"
'

test_expect_success 'git add -p: staging the violation hunk blocks' '
	test_when_finished "git reset -q --hard base" &&
	write_job app/jobs.py bad &&
	edit_helper &&
	printf "y\nn\n" | git add -p app/jobs.py >/dev/null &&
	test_must_fail git commit -m "add -p bad" >out 2>&1 &&
	grep "app/jobs.py:9:15: critical TX001" out &&
	test "$(git rev-parse HEAD)" = "$(git rev-parse base)"
'

test_expect_success 'commit -a with the violation only in the working tree is blocked' '
	test_when_finished "git reset -q --hard base" &&
	edit_helper &&
	git add app/jobs.py &&
	write_job app/jobs.py bad &&
	test_expect_code 0 txguard check >out 2>&1 &&
	test_must_fail git commit -a -m "commit -a" >out 2>&1 &&
	grep "app/jobs.py:9:15: critical TX001" out &&
	test "$(git rev-parse HEAD)" = "$(git rev-parse base)"
'

test_expect_success 'commit PATH with the violation only in the working tree is blocked' '
	test_when_finished "git reset -q --hard base" &&
	write_job app/jobs.py bad &&
	test_must_fail git commit -m "commit path" app/jobs.py >out 2>&1 &&
	grep "app/jobs.py:9:15: critical TX001" out &&
	test "$(git rev-parse HEAD)" = "$(git rev-parse base)" &&
	write_file app/other.py <<-\EOF &&
	x = 1
	EOF
	git add app/other.py &&
	test_must_fail git commit -m "commit --include" -i app/jobs.py >out 2>&1 &&
	grep "TX001" out
'

test_expect_success 'commit -a and commit PATH commit the clean working tree over a staged violation' '
	test_when_finished "git reset -q --hard base" &&
	write_job app/jobs.py bad &&
	git add app/jobs.py &&
	write_job app/jobs.py &&
	edit_helper &&
	test_expect_code 1 txguard check >out 2>&1 &&
	git commit -m "commit path" app/jobs.py >out 2>&1 &&
	git reset -q --hard base &&
	write_job app/jobs.py bad &&
	git add app/jobs.py &&
	write_job app/jobs.py &&
	edit_helper &&
	git commit -a -m "commit -a" >out 2>&1 &&
	git show HEAD:app/jobs.py >actual &&
	! grep "session.commit" actual
'

test_expect_success 'GIT_INDEX_FILE: the alternate index is the one checked' '
	test_when_finished "git reset -q --hard base; rm -f alt-index" &&
	cp .git/index alt-index &&
	write_job app/jobs.py bad &&
	GIT_INDEX_FILE=alt-index git add app/jobs.py &&
	test_expect_code 0 txguard check >out 2>&1 &&
	test_expect_code 1 env GIT_INDEX_FILE=alt-index txguard check >out 2>&1 &&
	grep "app/jobs.py:9:15: critical TX001" out &&
	test_expect_code 1 env GIT_INDEX_FILE="$PWD/alt-index" txguard check >out 2>&1 &&
	git add app/jobs.py &&
	rm alt-index && cp "$(git rev-parse --git-path index)" alt-index &&
	GIT_INDEX_FILE=alt-index git reset -q base -- app/jobs.py &&
	test_expect_code 1 txguard check >out 2>&1 &&
	test_expect_code 0 env GIT_INDEX_FILE=alt-index txguard check >out 2>&1
'

test_done
