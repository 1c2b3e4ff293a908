#!/bin/sh
# txguard never loses work: every command, on success and on
# error, leaves the index, the working tree, HEAD and refs as they were;
# only `baseline` writes, only its own file, atomically.
. "$(dirname "$0")/lib.sh"

# snapshot NAME: the index bytes, every ref, HEAD, and every file of the
# working tree (content hashes), excluding .git internals txguard may own
# (its cache under .git/txguard) and the test's scratch files.
snapshot() {
	{
		echo "index $(sha1sum <.git/index | cut -d" " -f1)"
		echo "HEAD $(cat .git/HEAD)"
		git for-each-ref --format="%(refname) %(objectname)"
		find . -path ./.git -prune -o -type f ! -name "snap.*" ! -name out ! -name err -print |
			LC_ALL=C sort | while read -r f; do
				echo "file $f $(sha1sum <"$f" | cut -d" " -f1)"
			done
		find .git -path .git/txguard -prune -o -type f ! -name "*.lock" -print |
			LC_ALL=C sort | while read -r f; do
				echo "git $f $(sha1sum <"$f" | cut -d" " -f1)"
			done
	} >"snap.$1"
}

test_create_repo repo && cd repo || exit 1

test_expect_success 'setup: debt committed, a partial stage, an untracked file' '
	write_txguard_config &&
	write_job app/jobs.py bad &&
	write_job app/other.py &&
	git add -A &&
	git commit -q --no-verify -m base &&
	git tag base &&
	write_job app/other.py bad &&
	git add app/other.py &&
	echo "# unstaged" >>app/other.py &&
	echo "scratch" >untracked.txt
'

# every command, passing and failing; none of them may change anything
for cmd in "check" "check --all --format json" "check --fail-on never" \
	"check --base base" "check --base nowhere" "check --no-such-flag" \
	"scan" "scan --format sarif" "scan --rev nowhere" "explain TX001" \
	"explain NOPE" "baseline --no-such-flag" "baseline --rev nowhere" \
	"index" "index --rev HEAD" "index --rev nowhere"
do
	test_expect_success "txguard $cmd writes nothing" "
		snapshot before &&
		{ txguard $cmd >out 2>err; test \$? -lt 128; } &&
		snapshot after &&
		test_cmp snap.before snap.after
	"
done

test_expect_success 'a failing config makes check fail but write nothing' '
	test_when_finished "git checkout -q -- .txguard" &&
	printf "[txguard]\n\tbogus = 1\n" >.txguard &&
	snapshot before &&
	test_expect_code 2 txguard check >out 2>err &&
	snapshot after &&
	test_cmp snap.before snap.after
'

test_expect_success 'baseline changes only its own file' '
	snapshot before &&
	txguard baseline >out &&
	snapshot after &&
	diff snap.before snap.after >d || true &&
	grep "^[<>]" d | grep -v "\.txguard-baseline " >other || true &&
	test_must_fail test -s other &&
	grep "^> file ./.txguard-baseline " d &&
	rm -f d other
'

test_expect_success 'baseline leaves no temporary file behind' '
	test_must_fail ls .txguard-baseline.tmp.* 2>/dev/null
'

test_expect_success 'a baseline killed at any moment leaves the old or the new file, whole' '
	cp .txguard-baseline old &&
	write_job app/third.py bad &&
	git add app/third.py &&
	git commit -q --no-verify -m third &&
	txguard baseline >out && cp .txguard-baseline new && cp old .txguard-baseline &&
	i=0 &&
	while [ $i -lt 25 ]; do
		delay=$(awk "BEGIN { printf \"%.3f\", ($i % 10) / 500 }") &&
		{ timeout -s KILL "$delay" txguard baseline >/dev/null 2>&1; true; } &&
		{ cmp -s .txguard-baseline old || cmp -s .txguard-baseline new; } || {
			echo "partial baseline after a kill at ${delay}s"; exit 1; } &&
		cp old .txguard-baseline &&
		i=$((i + 1))
	done &&
	rm -f .txguard-baseline.tmp.* old new
'

test_done
