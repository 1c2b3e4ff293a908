#!/bin/sh
# The owner index cache: it lives in the git common dir, never in the work
# tree or the index; a damaged, truncated or stale cache gives the
# results of no cache; linked worktrees share it.
#
# No .txguard anywhere: every owner here is inferred, none configured.
. "$(dirname "$0")/lib.sh"
. "$TOP/test/e2e/lib-owners.sh"

setup_service_test

# snapshot FILE: everything git can see of the work tree and the index.
snapshot() {
	{
		git status --porcelain --untracked-files=all --ignored &&
		git ls-files -s
	} >"$1"
}

test_expect_success 'the cache is in the git common dir, never in the work tree or index' '
	test_when_finished "git reset -q --hard base" &&
	common=$(git rev-parse --git-common-dir) &&
	rm -rf "$common/txguard" &&
	write_jobs app/jobs.py bad &&
	git add app/jobs.py &&
	snapshot ../st.before &&
	test_must_fail git commit -m bad >../c.out 2>&1 &&
	head_is base &&
	snapshot ../st.after &&
	test_cmp ../st.before ../st.after &&
	grep "critical TX001" ../c.out &&
	test -d "$common/txguard" &&
	ls "$common/txguard" >../cache.list &&
	test -s ../cache.list &&
	test -z "$(find "$common/txguard" -mindepth 1 ! -type f)" &&
	test -n "$(find "$common/txguard" -type f -size +0)" &&
	test_must_fail git ls-files --error-unmatch "*ownerdb*" 2>/dev/null &&
	test -z "$(find . -path ./.git -prune -o -name "*ownerdb*" -print)" &&
	test -z "$(find . -path ./.git -prune -o -name txguard -print)"
'

# The ways a cache file gets damaged; each runs in the cache directory,
#	on every file there, with the good copies in $TRASH_DIRECTORY/good-cache.
damage_none() {
	:
}
damage_garbage() {
	for f in *; do
		yes "garbage $(printf '\001\377')" | head -c 5000 >"$f" || return 1
	done
}
damage_magic() {
	for f in *; do
		{ printf 'TXGODB\000\001'; yes junk | head -c 4000; } >"$f" || return 1
	done
}
damage_empty() {
	for f in *; do
		: >"$f" || return 1
	done
}
damage_header() {
	for f in *; do
		head -c 33 "$TRASH_DIRECTORY/good-cache/$f" >"$f" || return 1
	done
}
damage_half() {
	for f in *; do
		n=$(wc -c <"$TRASH_DIRECTORY/good-cache/$f") &&
		head -c $((n / 2)) "$TRASH_DIRECTORY/good-cache/$f" >"$f" || return 1
	done
}
damage_tail() {
	for f in *; do
		n=$(wc -c <"$TRASH_DIRECTORY/good-cache/$f") &&
		{
			head -c $((n > 9 ? n - 9 : 0)) "$TRASH_DIRECTORY/good-cache/$f"
			printf '\377\377\377\377\377\377\377\377\377'
		} >"$f" || return 1
	done
}

# cache_case NAME: with a commit inside an owner staged and a good cache saved in
#	$TRASH_DIRECTORY/good-cache, damage the cache with damage_NAME, run
#	txguard check, and compare with the run without a cache.
cache_case() {
	rm -rf "$common/txguard" &&
	mkdir "$common/txguard" &&
	cp "$TRASH_DIRECTORY"/good-cache/* "$common/txguard/" &&
	(cd "$common/txguard" && "damage_$1") &&
	test_expect_code 1 txguard check >"../$1.out" 2>"../$1.err" &&
	test_cmp ../nocache.out "../$1.out" &&
	test_cmp ../nocache.err "../$1.err"
}

test_expect_success 'a corrupt or truncated cache gives the result of no cache' '
	test_when_finished "git reset -q --hard base" &&
	common=$(git rev-parse --git-common-dir) &&
	write_jobs app/jobs.py bad &&
	git add app/jobs.py &&
	rm -rf "$common/txguard" ../good-cache &&
	test_expect_code 1 txguard check >../nocache.out 2>../nocache.err &&
	grep "critical TX001" ../nocache.out &&
	mkdir ../good-cache &&
	cp "$common"/txguard/* ../good-cache/ &&
	cache_case none &&
	cache_case garbage &&
	cache_case magic &&
	cache_case empty &&
	cache_case header &&
	cache_case half &&
	cache_case tail &&
	(cd "$common/txguard" && damage_garbage) &&
	test_must_fail git commit -m bad >../c.out 2>&1 &&
	head_is base &&
	grep "critical TX001" ../c.out
'

test_expect_success 'a stale cache from other trees (the owner changed since) is not trusted' '
	test_when_finished "git reset -q --hard base" &&
	common=$(git rev-parse --git-common-dir) &&
	write_jobs app/jobs.py bad "from app.legacy import get_background_session" &&
	git add app/jobs.py &&
	test_expect_code 0 txguard check >out 2>err &&
	git reset -q --hard base &&
	write_jobs app/jobs.py bad &&
	git add app/jobs.py &&
	test_expect_code 1 txguard check >out 2>err &&
	test_cmp ../nocache.out out
'

test_expect_success 'a linked worktree gives the same results, cache in the common dir' '
	git worktree add -q ../wt1 -b wt1 base &&
	common=$(git rev-parse --git-common-dir) &&
	common=$(cd "$common" && pwd) &&
	(
		cd ../wt1 &&
		wtdir=$(git rev-parse --git-dir) &&
		test "$(cd "$(git rev-parse --git-common-dir)" && pwd)" = "$common" &&
		test_expect_code 0 txguard check >out 2>err &&
		write_jobs app/jobs.py bad &&
		git add app/jobs.py &&
		snapshot ../st.before &&
		test_must_fail git commit -m wt >../wt.out 2>&1 &&
		head_is base &&
		snapshot ../st.after &&
		test_cmp ../st.before ../st.after &&
		test_expect_code 1 txguard check >../wt-check.out 2>err &&
		test_cmp ../nocache.out ../wt-check.out &&
		L=$(line_of app/jobs.py "await session.commit()") &&
		grep "^app/jobs.py:$L:15: critical TX001 " ../wt.out &&
		test ! -e "$wtdir/txguard" &&
		test -d "$common/txguard" &&
		write_jobs app/jobs.py bad "from app.legacy import get_background_session" &&
		git add app/jobs.py &&
		git commit -m wt-legacy >../wt.out 2>&1 &&
		! grep "TX00" ../wt.out
	) &&
	rm -rf "$common/txguard" &&
	(
		cd ../wt1 &&
		git reset -q --hard base &&
		write_jobs app/jobs.py bad "from app import db as d" d.get_background_session &&
		git add app/jobs.py &&
		test_must_fail git commit -m wt-alias >../wt.out 2>&1 &&
		head_is base &&
		grep "^app/jobs.py:.*critical TX001" ../wt.out &&
		test -z "$(find . -name "*ownerdb*")"
	) &&
	ls "$common/txguard" | grep . &&
	git worktree remove --force ../wt1
'

test_done
