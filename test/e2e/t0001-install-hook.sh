#!/bin/sh
# install.sh and the hook: the hooks directory git really uses,
# chaining an existing hook, idempotence, --uninstall, failing closed.
. "$(dirname "$0")/lib.sh"

test_create_repo repo && cd repo || exit 1

test_expect_success 'setup: owner config and a clean base commit' '
	write_txguard_config &&
	write_job app/jobs.py &&
	git add .txguard app/jobs.py &&
	git commit -q -m base &&
	git tag base
'

test_expect_success 'install puts the hook into .git/hooks and it blocks' '
	test_when_finished "git reset -q --hard base" &&
	install_hook . >out &&
	test -x .git/hooks/pre-commit &&
	grep "txguard-hook" .git/hooks/pre-commit &&
	write_job app/jobs.py bad &&
	git add app/jobs.py &&
	test_must_fail git commit -q -m bad >out 2>&1 &&
	grep "TX001" out &&
	test "$(git rev-parse HEAD)" = "$(git rev-parse base)"
'

test_expect_success 'the installed hook records the binary it runs' '
	grep "^TXGUARD_BIN=.*txguard" .git/hooks/pre-commit
'

test_expect_success 're-running the installer changes nothing' '
	cp .git/hooks/pre-commit before &&
	install_hook . >out &&
	grep "already installed" out &&
	test_cmp before .git/hooks/pre-commit &&
	test_must_fail test -e .git/hooks/txguard-chained/pre-commit &&
	rm before
'

test_expect_success 'git commit --no-verify skips the hook' '
	write_job app/jobs.py bad &&
	git add app/jobs.py &&
	git commit -q --no-verify -m debt &&
	git reset -q --hard base
'

test_expect_success 'a missing binary fails closed and names --no-verify' '
	test_when_finished "git reset -q --hard base" &&
	echo "# edit" >>app/jobs.py &&
	git add app/jobs.py &&
	test_must_fail env TXGUARD=/nonexistent/txguard PATH=/usr/bin:/bin \
		sh -c "sed \"s|^TXGUARD_BIN=.*|TXGUARD_BIN=|\" .git/hooks/pre-commit >hook.tmp && sh hook.tmp" >out 2>&1 &&
	grep "cannot find the txguard binary" out &&
	grep -e "--no-verify" out &&
	rm -f hook.tmp
'

test_expect_success 'the recorded binary runs when PATH lacks txguard (GUI clients)' '
	test_when_finished "git reset -q --hard base" &&
	write_job app/jobs.py bad &&
	git add app/jobs.py &&
	test_must_fail env -u TXGUARD PATH=/usr/bin:/bin \
		git commit -q -m bad >out 2>&1 &&
	grep TX001 out &&
	test "$(git rev-parse HEAD)" = "$(git rev-parse base)"
'

test_expect_success 'git commit with no txguard anywhere fails closed' '
	test_when_finished "install_hook . >/dev/null; git reset -q --hard base" &&
	TXGUARD=$TRASH_DIRECTORY/gone/txguard \
		sh "$TOP/install.sh" --no-deps --no-build . >out &&
	echo "# edit" >>app/jobs.py &&
	git add app/jobs.py &&
	test_must_fail env -u TXGUARD PATH=/usr/bin:/bin \
		git commit -q -m x >out 2>&1 &&
	grep "cannot find the txguard binary" out &&
	grep -e "--no-verify" out &&
	test "$(git rev-parse HEAD)" = "$(git rev-parse base)"
'

test_expect_success 'TXGUARD naming no executable fails closed, not a fallback' '
	test_when_finished "git reset -q --hard base" &&
	echo "# edit" >>app/jobs.py &&
	git add app/jobs.py &&
	test_must_fail env TXGUARD=/nonexistent/txguard git commit -q -m x >out 2>&1 &&
	grep "TXGUARD=/nonexistent/txguard is not an executable" out &&
	grep -e "--no-verify" out
'

test_expect_success 'an internal error (exit 2) blocks the commit' '
	test_when_finished "git reset -q --hard base; rm -f .txguard.bad" &&
	printf "[txguard]\n\tnoSuchKey = 1\n" >.txguard &&
	echo "# edit" >>app/jobs.py &&
	git add app/jobs.py &&
	test_must_fail git commit -q -m x >out 2>&1 &&
	grep "noSuchKey\|nosuchkey" out &&
	grep -e "--no-verify" out &&
	test "$(git rev-parse HEAD)" = "$(git rev-parse base)"
'

test_expect_success '--uninstall removes the hook and says what else it removed' '
	txguard index -q &&
	test -d .git/txguard &&
	sh "$TOP/install.sh" --uninstall . >out &&
	test_must_fail test -e .git/hooks/pre-commit &&
	grep "removed the owner index cache .*/txguard" out &&
	test_must_fail test -e .git/txguard &&
	write_job app/jobs.py bad &&
	git add app/jobs.py &&
	git commit -q -m "no hook, no block" &&
	git reset -q --hard base
'

test_expect_success 'an existing hook is kept, runs first and can still block' '
	write_file .git/hooks/pre-commit <<-\HOOK &&
	#!/bin/sh
	# a multi-purpose hook that dispatches on its own name
	case $(basename "$0") in
	pre-commit) ;;
	*) echo "run as $0" >>"$(git rev-parse --git-dir)/old-hook.log"; exit 1 ;;
	esac
	echo "old hook ran" >>"$(git rev-parse --git-dir)/old-hook.log"
	test ! -e "$(git rev-parse --show-toplevel)/STOP"
	HOOK
	chmod +x .git/hooks/pre-commit &&
	cp .git/hooks/pre-commit old-hook &&
	install_hook . >out &&
	grep "kept the existing hook" out &&
	test_cmp old-hook .git/hooks/txguard-chained/pre-commit &&
	echo "# clean edit" >>app/jobs.py &&
	git add app/jobs.py &&
	git commit -q -m clean &&
	grep "old hook ran" .git/old-hook.log &&
	>STOP &&
	echo "# another" >>app/jobs.py &&
	git add app/jobs.py &&
	test_must_fail git commit -q -m stopped &&
	rm STOP &&
	write_job app/jobs.py bad &&
	git add app/jobs.py &&
	test_must_fail git commit -q -m bad >out 2>&1 &&
	grep TX001 out &&
	git reset -q --hard base
'

test_expect_success 'installing again does not chain the hook to itself' '
	install_hook . >out &&
	grep "txguard-hook" .git/hooks/pre-commit &&
	test_cmp old-hook .git/hooks/txguard-chained/pre-commit &&
	test_must_fail test -e .git/hooks/txguard-chained/txguard-chained &&
	! grep "run as" .git/old-hook.log
'

test_expect_success '--uninstall puts the earlier hook back' '
	sh "$TOP/install.sh" --uninstall . >out &&
	test_cmp old-hook .git/hooks/pre-commit &&
	test_must_fail test -e .git/hooks/txguard-chained &&
	rm .git/hooks/pre-commit old-hook
'

test_expect_success 'core.hooksPath (absolute) is honoured' '
	test_when_finished "git config --unset core.hooksPath; git reset -q --hard base" &&
	git config core.hooksPath "$TRASH_DIRECTORY/shared-hooks" &&
	install_hook . >out &&
	test -x "$TRASH_DIRECTORY/shared-hooks/pre-commit" &&
	test_must_fail test -e .git/hooks/pre-commit &&
	write_job app/jobs.py bad &&
	git add app/jobs.py &&
	test_must_fail git commit -q -m bad >out 2>&1 &&
	grep TX001 out
'

test_expect_success 'core.hooksPath (relative to the work tree) is honoured' '
	test_when_finished "git config --unset core.hooksPath; git reset -q --hard base" &&
	git config core.hooksPath githooks &&
	install_hook . >out &&
	test -x githooks/pre-commit &&
	! grep "git tracks" out &&
	write_job app/jobs.py bad &&
	git add app/jobs.py &&
	test_must_fail git commit -q -m bad >out 2>&1 &&
	grep TX001 out
'

test_expect_success 'a linked worktree runs the hook installed in the main repository' '
	rm -rf githooks &&
	install_hook . >out &&
	git worktree add -q ../wt -b feature base &&
	(
		cd ../wt &&
		write_job app/jobs.py bad &&
		git add app/jobs.py &&
		test_must_fail git commit -q -m bad >out 2>&1 &&
		grep TX001 out &&
		write_job app/jobs.py &&
		echo "# fine" >>app/jobs.py &&
		git add app/jobs.py &&
		git commit -q -m fine
	)
'

test_expect_success 'installing into a linked worktree installs the shared hook' '
	sh "$TOP/install.sh" --uninstall . >out &&
	install_hook ../wt >out &&
	test -x .git/hooks/pre-commit
'

test_expect_success 'install.sh refuses a path that is not a repository' '
	mkdir -p ../plain &&
	test_must_fail sh "$TOP/install.sh" --no-deps --no-build ../plain >out 2>&1 &&
	grep "not a git repository" out
'

test_expect_success 'a tracked core.hooksPath: install says so and adds nothing' '
	test_when_finished "git config --unset core.hooksPath; git reset -q --hard base; rm -rf tracked-hooks" &&
	sh "$TOP/install.sh" --uninstall . >/dev/null &&
	write_file tracked-hooks/pre-commit <<-\HOOK &&
	#!/bin/sh
	exit 0
	HOOK
	chmod +x tracked-hooks/pre-commit &&
	git add tracked-hooks && git commit -q --no-verify -m "shared hooks" &&
	git config core.hooksPath tracked-hooks &&
	install_hook . >out &&
	grep "note: git tracks the hooks directory .*tracked-hooks" out &&
	git diff --cached --quiet &&
	git status --porcelain >st &&
	grep "tracked-hooks/" st &&
	sh "$TOP/install.sh" --uninstall . >out &&
	grep "note: git tracks the hooks directory" out &&
	git status --porcelain >st &&
	! grep "tracked-hooks/" st
'

test_expect_success '--uninstall finds the hook renamed by pre-commit install' '
	test_when_finished "rm -f .git/hooks/pre-commit .git/hooks/pre-commit.legacy" &&
	install_hook . >out &&
	printf "repos: []\n" >.pre-commit-config.yaml &&
	pre-commit install >out 2>&1 &&
	grep "txguard-hook" .git/hooks/pre-commit.legacy &&
	sh "$TOP/install.sh" --uninstall . >out &&
	grep "removed the txguard hook .*pre-commit.legacy" out &&
	test_must_fail test -e .git/hooks/pre-commit.legacy &&
	rm .pre-commit-config.yaml
'

test_done
