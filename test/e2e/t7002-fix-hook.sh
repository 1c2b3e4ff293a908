#!/bin/sh
# check --fix, the hook's fixing mode: the new TX001 findings of the
# staged change are fixed in the working-tree copies of files whose copy
# is what is staged, never mixing in unstaged edits; the commit fails so
# that the fixes are reviewed and staged; the index, HEAD and refs stay.
# Also through the pre-commit framework with `args: [--fix]`.
. "$(dirname "$0")/lib.sh"

test_create_repo repo && cd repo || exit 1

# state: the index, HEAD and refs
state() {
	sha1sum <.git/index
	cat .git/HEAD
	git for-each-ref
}

test_expect_success 'setup: a module with a pre-existing finding' '
	write_file app/jobs.py <<-\EOF &&
	def old(session):
	    with session.begin():
	        session.add(1)
	        session.commit()
	EOF
	git add app && git commit -q --no-verify -m base
'

test_expect_success 'check --fix fixes only the new finding and fails the commit' '
	write_file app/jobs.py <<-\EOF &&
	def old(session):
	    with session.begin():
	        session.add(1)
	        session.commit()


	def new(session):
	    with session.begin():
	        session.add(2)
	        session.commit()
	EOF
	git add app/jobs.py &&
	state >before &&
	test_expect_code 1 txguard check --fix >out 2>err &&
	state >after &&
	test_cmp before after &&
	grep "^app/jobs.py:10: removed session.commit() (TX001, safe)$" err &&
	grep "^txguard: fixed 1 finding in 1 file; review and stage them$" err &&
	test "$(grep -c "session.commit()" app/jobs.py)" -eq 1 &&
	sed -n 4p app/jobs.py | grep "session.commit()" &&
	git diff --stat -- app/jobs.py | grep "1 deletion"
'

test_expect_success 'once the fix is staged, the check passes' '
	git add app/jobs.py &&
	txguard check --fix >out 2>err &&
	test_must_fail grep "fixed" err
'

test_expect_success 'a file with unstaged changes is named and left alone' '
	git reset -q --hard &&
	write_file app/more.py <<-\EOF &&
	def more(session):
	    with session.begin():
	        session.commit()
	EOF
	git add app/more.py &&
	echo "# an unstaged edit" >>app/more.py &&
	cp app/more.py expect &&
	state >before &&
	test_expect_code 1 txguard check --fix >out 2>err &&
	state >after &&
	test_cmp before after &&
	grep "^txguard: not fixed: app/more.py has unstaged changes$" err &&
	test_must_fail grep "review and stage" err &&
	cmp expect app/more.py &&
	grep TX001 out
'

test_expect_success 'staged and unstaged files together: only the clean one is fixed' '
	write_file app/clean.py <<-\EOF &&
	def clean(session):
	    with session.begin():
	        session.add(1)
	        session.commit()
	EOF
	git add app/clean.py &&
	test_expect_code 1 txguard check --fix >out 2>err &&
	grep "^txguard: not fixed: app/more.py has unstaged changes$" err &&
	grep "^txguard: fixed 1 finding in 1 file; review and stage them$" err &&
	cmp expect app/more.py &&
	test_must_fail grep commit app/clean.py &&
	git diff --cached -- app/clean.py | grep "^+        session.commit()"
'

test_expect_success 'an unsafe finding is reported, not fixed' '
	git reset -q --hard &&
	write_file app/mid.py <<-\EOF &&
	def mid(session):
	    with session.begin():
	        session.commit()
	        session.add(1)
	EOF
	git add app/mid.py &&
	cp app/mid.py expect &&
	test_expect_code 1 txguard check --fix >out 2>err &&
	cmp expect app/mid.py &&
	grep "not fixed: session.commit() (TX001, unsafe" err &&
	test_must_fail grep "review and stage" err
'

test_expect_success 'check --fix takes no --base' '
	test_expect_code 2 txguard check --fix --base HEAD 2>err &&
	grep "takes no --base" err
'

if command -v pre-commit >/dev/null 2>&1; then
	test_expect_success 'pre-commit framework: args: [--fix] fixes and blocks' '
		git reset -q --hard &&
		mkdir ../txguard-src &&
		cp "$TOP/.pre-commit-hooks.yaml" "$TOP/hook" ../txguard-src/ &&
		git -C ../txguard-src init -q &&
		git -C ../txguard-src add -A &&
		git -C ../txguard-src commit -q -m snapshot &&
		rev=$(git -C ../txguard-src rev-parse HEAD) &&
		cat >.pre-commit-config.yaml <<-EOF &&
		repos:
		  - repo: $TRASH_DIRECTORY/txguard-src
		    rev: $rev
		    hooks:
		      - id: txguard
		        args: [--fix]
		EOF
		git add .pre-commit-config.yaml &&
		git commit -q --no-verify -m config &&
		pre-commit install >out 2>&1 &&
		write_file app/hooked.py <<-\EOF &&
		def hooked(session):
		    with session.begin():
		        session.add(1)
		        session.commit()
		EOF
		git add app/hooked.py &&
		head=$(git rev-parse HEAD) &&
		test_must_fail git commit -q -m hooked >out 2>&1 &&
		cat out &&
		test "$(git rev-parse HEAD)" = "$head" &&
		grep "fixed 1 finding in 1 file; review and stage them" out &&
		test_must_fail grep commit app/hooked.py &&
		git add app/hooked.py &&
		git commit -q -m hooked >out 2>&1 &&
		test "$(git rev-parse HEAD^)" = "$head"
	'
fi

test_done
