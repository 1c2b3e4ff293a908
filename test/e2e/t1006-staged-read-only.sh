#!/bin/sh
# txguard check never writes: the index, HEAD, refs and the working tree
# are byte-for-byte the same after a pass, a block and an error.
. "$(dirname "$0")/lib.sh"

test_create_repo repo && cd repo || exit 1

# Everything txguard must not change, without running a git command that
# could itself refresh the index.
snapshot() {
	{
		cksum .git/index &&
		cat .git/HEAD &&
		git rev-parse HEAD &&
		git for-each-ref &&
		{ cat .git/packed-refs 2>/dev/null || :; } &&
		find . -path ./.git -prune -o -type f -print |
			grep -v "^\./snap-" | sort | xargs cksum
	} >"$1"
}

test_expect_success 'setup' '
	write_txguard_config &&
	write_job app/jobs.py &&
	git add . &&
	git commit -q -m base &&
	git tag base &&
	echo "# staged edit" >>app/jobs.py &&
	git add app/jobs.py &&
	echo "# unstaged edit" >>app/jobs.py
'

test_expect_success 'a passing check writes nothing' '
	snapshot snap-before &&
	test_expect_code 0 txguard check >../out 2>&1 &&
	snapshot snap-after &&
	test_cmp snap-before snap-after
'

test_expect_success 'a blocking check writes nothing' '
	write_job app/bad.py bad &&
	git add app/bad.py &&
	snapshot snap-before &&
	test_expect_code 1 txguard check >../out 2>&1 &&
	test_expect_code 1 txguard check --format json >../out 2>&1 &&
	snapshot snap-after &&
	test_cmp snap-before snap-after
'

test_expect_success 'a failing check (bad config) writes nothing' '
	printf "[txguard]\n\tnoSuchKey = 1\n" >.txguard &&
	git add .txguard &&
	snapshot snap-before &&
	test_expect_code 2 env TXGUARD_HOOK=git txguard check >../out 2>../err &&
	grep "noSuchKey\|nosuchkey" ../err &&
	grep -e "--no-verify" ../err &&
	snapshot snap-after &&
	test_cmp snap-before snap-after
'

test_expect_success 'a check with a stale index entry (mtime changed) writes nothing' '
	write_txguard_config &&
	git add .txguard &&
	touch -d "2001-01-01" app/jobs.py app/bad.py &&
	snapshot snap-before &&
	test_expect_code 1 txguard check >../out 2>&1 &&
	snapshot snap-after &&
	test_cmp snap-before snap-after
'

test_done
