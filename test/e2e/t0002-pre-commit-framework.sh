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

test_done
