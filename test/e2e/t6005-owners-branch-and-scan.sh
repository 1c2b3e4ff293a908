#!/bin/sh
# Inferred owners in branch mode (check --base) and in scan: a branch that
# commits inside an owner fails, one that uses only a closing helper
# passes; scan reports the same once the violation is committed.
#
# No .txguard anywhere: every owner here is inferred, none configured.
. "$(dirname "$0")/lib.sh"
. "$TOP/test/e2e/lib-owners.sh"

setup_service_test

test_expect_success 'check --base main on a branch that commits inside an owner exits 1' '
	git checkout -q -b feature base &&
	test_tick &&
	write_jobs app/jobs.py bad &&
	git commit -q --no-verify -am "feature: commit after update" &&
	test_tick &&
	echo "# later" >>app/models.py &&
	git commit -q -am "later" &&
	test_expect_code 1 txguard check --base main >out 2>err &&
	L=$(line_of app/jobs.py "await session.commit()") &&
	D=$(line_of app/db.py "^async def get_background_session") &&
	grep "^app/jobs.py:$L:15: critical TX001 " out &&
	grep "get_background_session.*app/db.py:$D" out &&
	test "$(grep -c "critical TX001" out)" = 1 &&
	git checkout -q main
'

test_expect_success 'check --base main on a branch with only closing-helper commits exits 0' '
	git checkout -q -b feature-legacy base &&
	test_tick &&
	write_jobs app/jobs.py bad "from app.legacy import get_background_session" &&
	git commit -q --no-verify -am "use the legacy helper" &&
	test_expect_code 0 txguard check --base main >out 2>err &&
	! grep "TX00" out &&
	git checkout -q main
'

test_expect_success 'scan reports the commit inside an owner once committed (exit 1), not before' '
	test_expect_code 0 txguard scan >out 2>err &&
	! grep "TX00" out &&
	git checkout -q feature &&
	test_expect_code 1 txguard scan >out 2>err &&
	L=$(line_of app/jobs.py "await session.commit()") &&
	D=$(line_of app/db.py "^async def get_background_session") &&
	grep "^app/jobs.py:$L:15: critical TX001 " out &&
	grep "app/db.py:$D" out &&
	test "$(grep -c "critical TX001" out)" = 1 &&
	git checkout -q main &&
	test_expect_code 1 txguard scan --rev feature >out 2>err &&
	grep "^app/jobs.py:$L:15: critical TX001 " out &&
	test_expect_code 0 txguard scan --rev feature-legacy >out 2>err
'

test_done
