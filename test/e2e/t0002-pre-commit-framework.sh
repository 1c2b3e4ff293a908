#!/bin/sh
# The pre-commit framework runs txguard through .pre-commit-hooks.yaml,
# blocking and passing like the plain hook.
. "$(dirname "$0")/lib.sh"

if ! command -v pre-commit >/dev/null 2>&1; then
	echo "Bail out! pre-commit (Debian package pre-commit) is not installed"
	exit 1
fi

# try-repo needs a git repository holding .pre-commit-hooks.yaml and the
# hook; a snapshot of this checkout's files keeps the test independent of
# uncommitted work in it.
test_expect_success 'setup: a snapshot of txguard and a project repository' '
	mkdir txguard-src &&
	cp "$TOP/.pre-commit-hooks.yaml" "$TOP/hook" txguard-src/ &&
	git -C txguard-src init -q &&
	git -C txguard-src add -A &&
	git -C txguard-src commit -q -m snapshot &&
	test_create_repo repo &&
	cd repo &&
	write_txguard_config &&
	write_job app/jobs.py &&
	git add .txguard app/jobs.py &&
	git commit -q -m base
'

test_expect_success 'pre-commit try-repo blocks a new TX001' '
	cd repo &&
	write_job app/jobs.py bad &&
	git add app/jobs.py &&
	test_must_fail pre-commit try-repo ../txguard-src txguard >out 2>&1 &&
	grep "TX001" out &&
	grep "commit blocked" out
'

test_expect_success 'pre-commit try-repo passes clean code' '
	cd repo &&
	write_job app/jobs.py &&
	echo "# clean" >>app/jobs.py &&
	git add app/jobs.py &&
	pre-commit try-repo ../txguard-src txguard >out 2>&1 &&
	grep -i "passed" out
'

# The configuration exactly as the README gives it, with this snapshot as
# the repository and its commit as rev.
test_expect_success 'setup: the README configuration, installed as a git hook' '
	cd repo &&
	git reset -q --hard &&
	rev=$(git -C ../txguard-src rev-parse HEAD) &&
	sed -n "/^repos:/,/^\`\`\`/p" "$TOP/README.md" | sed "\$d" |
		sed "s|<URL of the txguard repository>|$TRASH_DIRECTORY/txguard-src|; s|<a txguard release tag or commit>|$rev|" \
		>.pre-commit-config.yaml &&
	grep "^repos:" .pre-commit-config.yaml &&
	grep "rev: $rev" .pre-commit-config.yaml &&
	git add .pre-commit-config.yaml &&
	git commit -q -m "pre-commit config" &&
	pre-commit install >out 2>&1 &&
	grep "installed" out
'

test_expect_success 'a commit is blocked; the message names SKIP=txguard' '
	cd repo &&
	test_when_finished "git reset -q --hard" &&
	write_job app/jobs.py bad &&
	git add app/jobs.py &&
	test_must_fail git commit -q -m bad >out 2>&1 &&
	grep "TX001" out &&
	grep "SKIP=txguard git commit" out &&
	! grep -e "--no-verify" out &&
	SKIP=txguard git commit -q -m "skipped once" >out 2>&1 &&
	git reset -q --hard HEAD^
'

test_expect_success 'debt elsewhere: a commit checks only the staged change' '
	cd repo &&
	bad_py app/debt.py &&
	git add app/debt.py &&
	git commit -q --no-verify -m debt &&
	echo "# clean edit" >>app/jobs.py &&
	git add app/jobs.py &&
	git commit -q -m "clean edit" >out 2>&1
'

test_expect_success 'pre-commit run --all-files reports the repository debt' '
	cd repo &&
	test_must_fail pre-commit run --all-files >out 2>&1 &&
	grep "app/debt.py:4:15: critical TX001" out &&
	! grep "app/jobs.py:" out
'

test_expect_success 'pre-commit run --all-files passes once the debt is baselined' '
	cd repo &&
	txguard baseline >out &&
	git add .txguard-baseline &&
	git commit -q -m baseline >out 2>&1 &&
	pre-commit run --all-files >out 2>&1 &&
	grep -i "passed" out
'

test_expect_success 'pre-commit run (staged files only) checks the staged change' '
	cd repo &&
	test_when_finished "git reset -q --hard" &&
	write_job app/jobs.py bad &&
	git add app/jobs.py &&
	test_must_fail pre-commit run >out 2>&1 &&
	grep "app/jobs.py:9:15: critical TX001" out &&
	grep "commit blocked" out
'

test_done
