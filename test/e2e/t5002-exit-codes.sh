#!/bin/sh
# Exit status and --fail-on: 0 nothing new at or above fail-on,
# 1 new blocking findings, 2 usage/config/repository errors.
. "$(dirname "$0")/lib.sh"

test_create_repo repo && cd repo || exit 1

test_expect_success 'setup: a TX001 staged' '
	write_txguard_config &&
	write_job app/jobs.py &&
	git add . &&
	git commit -q -m base &&
	write_job app/jobs.py bad &&
	git add app/jobs.py
'

test_expect_success 'default fail-on (high) blocks a critical TX001' '
	test_expect_code 1 txguard check >out 2>err &&
	grep "commit blocked" out
'

test_expect_success '--fail-on never: exit 0, the finding still printed' '
	test_expect_code 0 txguard check --fail-on never >out 2>err &&
	grep "app/jobs.py:9:15: critical TX001" out &&
	! grep "blocked" out
'

test_expect_success '--fail-on critical blocks TX001' '
	test_expect_code 1 txguard check --fail-on critical >out 2>err &&
	grep "app/jobs.py:9:15: critical TX001" out
'

test_expect_success '--fail-on medium and low block TX001' '
	test_expect_code 1 txguard check --fail-on medium >out 2>err &&
	test_expect_code 1 txguard check --fail-on low >out 2>err
'

test_expect_success 'failOn = never in .txguard: exit 0; --fail-on overrides it' '
	test_when_finished "write_txguard_config && git add .txguard" &&
	printf "[txguard]\n\towner = get_background_session\n\tfailOn = never\n" >.txguard &&
	git add .txguard &&
	test_expect_code 0 txguard check >out 2>err &&
	grep TX001 out &&
	test_expect_code 1 txguard check --fail-on critical >out 2>err
'

test_expect_success 'a bad --fail-on value: exit 2 with a message' '
	test_expect_code 2 env TXGUARD_HOOK=git txguard check --fail-on sometimes >out 2>err &&
	grep "^txguard: .*sometimes" err &&
	grep -e "--no-verify" err
'

test_expect_success 'nothing staged: exit 0 and "commit allowed"' '
	test_when_finished "git add app/jobs.py" &&
	git reset -q &&
	test_expect_code 0 txguard check >out 2>err &&
	grep "0 new findings" out &&
	grep "commit allowed" out &&
	test_expect_code 0 txguard check -q >out 2>err &&
	test_must_fail test -s out
'

test_expect_success 'a write error on stdout: exit 2, not a silent pass' '
	if test -w /dev/full
	then
		test_expect_code 2 txguard check --fail-on never >/dev/full 2>err &&
		grep "^txguard: " err
	fi
'

test_done
