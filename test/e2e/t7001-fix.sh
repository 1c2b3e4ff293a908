#!/bin/sh
# txguard fix on real repositories: what it removes, what it leaves and
# why, --diff writing nothing, --unsafe, exit statuses, byte-exact edits
# of CRLF and Latin-1 files, and the index, HEAD and refs left alone.
. "$(dirname "$0")/lib.sh"

test_create_repo repo && cd repo || exit 1

# snapshot NAME: the index, HEAD, refs and every file, .git included
# (txguard's own cache aside), as content hashes.
snapshot() {
	{
		echo "HEAD $(cat .git/HEAD)"
		git for-each-ref --format="%(refname) %(objectname)"
		find . -path ./.git/txguard -prune -o -type f ! -name "snap.*" \
			! -name expect ! -name out ! -name err ! -name "*.diff" -print |
			LC_ALL=C sort | while read -r f; do
				echo "$f $(sha1sum <"$f" | cut -d" " -f1)"
			done
	} >"snap.$1"
}

# found: "PATH:LINE RULE" of the findings `scan` reports at HEAD, the
# suppressed ones aside
found() {
	txguard scan --format json >scan.json
	python3 - <<-\EOF | LC_ALL=C sort
	import json
	for f in json.load(open("scan.json"))["findings"]:
	    if f["status"] != "suppressed":
	        print("%s:%d %s" % (f["path"], f["line"], f["rule"]))
	EOF
}

test_expect_success 'setup: a module with safe, unsafe and unfixable sites' '
	printf "snap.*\n*.diff\nscan.json\n" >>.git/info/exclude &&
	write_file app/jobs.py <<-\EOF &&
	from sqlalchemy.orm import Session


	def save(session, item):
	    with session.begin():
	        session.add(item)
	        session.commit()  # the block commits anyway


	def middle(session, item):
	    with session.begin():
	        session.add(item)
	        session.commit()
	        session.add(item)


	def reraise(session, item):
	    with session.begin():
	        try:
	            session.add(item)
	        except Exception:
	            session.rollback()
	            raise


	def only(session):
	    with session.begin():
	        session.commit()


	def arms(session, item, flag):
	    with session.begin():
	        session.add(item)
	        if flag:
	            session.commit()
	        else:
	            session.flush()
	            session.commit()


	def looped(session, items):
	    with session.begin():
	        for item in items:
	            session.add(item)
	            session.commit()


	def shared(session, item):
	    with session.begin():
	        session.add(item); session.commit()


	def swallowed(session, item):
	    with session.begin():
	        try:
	            session.add(item)
	        except Exception:
	            session.rollback()


	def kept(session):
	    with session.begin():
	        session.commit()  # txguard: ignore[TX001]


	def savepoint(session):
	    with session.begin_nested():
	        session.commit()
	EOF
	git add app &&
	git commit -q --no-verify -m jobs &&
	cp app/jobs.py jobs.orig
'

test_expect_success 'fix --diff prints the change and writes nothing' '
	snapshot before &&
	test_expect_code 1 txguard fix --diff >out.diff 2>err &&
	snapshot after &&
	test_cmp snap.before snap.after &&
	cat >expect <<-\EOF &&
	--- a/app/jobs.py
	+++ b/app/jobs.py
	@@ -4,7 +4,6 @@
	 def save(session, item):
	     with session.begin():
	         session.add(item)
	-        session.commit()  # the block commits anyway
	 
	 
	 def middle(session, item):
	@@ -19,23 +18,21 @@
	         try:
	             session.add(item)
	         except Exception:
	-            session.rollback()
	             raise
	 
	 
	 def only(session):
	     with session.begin():
	-        session.commit()
	+        pass
	 
	 
	 def arms(session, item, flag):
	     with session.begin():
	         session.add(item)
	         if flag:
	-            session.commit()
	+            pass
	         else:
	             session.flush()
	-            session.commit()
	 
	 
	 def looped(session, items):
	EOF
	test_cmp expect out.diff &&
	grep "^app/jobs.py:7: would remove session.commit() (TX001, safe)$" err &&
	grep "^would fix 5 findings in 1 file; 5 left: 1 unsafe (--unsafe removes it), 4 not fixable$" err
'

test_expect_success 'the diff applies with git apply' '
	git apply --check out.diff
'

test_expect_success 'fix removes the safe ones and says why the rest stay' '
	snapshot before &&
	test_expect_code 1 txguard fix >out 2>err &&
	cat >expect <<-\EOF &&
	app/jobs.py:7: removed session.commit() (TX001, safe)
	app/jobs.py:13: not fixed: session.commit() (TX001, unsafe: --unsafe removes it): statements after it would run in the same transaction, committed only when the block exits, and a failure among them would roll back the work before it too
	app/jobs.py:22: removed session.rollback() (TX001, safe)
	app/jobs.py:28: removed session.commit() (TX001, safe)
	app/jobs.py:35: removed session.commit() (TX001, safe)
	app/jobs.py:38: removed session.commit() (TX001, safe)
	app/jobs.py:45: not fixed: session.commit() (TX001): the call is inside a loop
	app/jobs.py:50: not fixed: session.commit() (TX001): the statement shares its line with other code
	app/jobs.py:58: not fixed: session.rollback() (TX001): only a rollback() followed by a bare `raise` is removed: without it the block would commit
	app/jobs.py:68: not fixed: session.commit() (TX001): inside a savepoint the call acts on the outer transaction: removing it changes what is committed
	fixed 5 findings in 1 file; 5 left: 1 unsafe (--unsafe removes it), 4 not fixable
	EOF
	test_cmp expect out &&
	snapshot after &&
	diff snap.before snap.after | grep "^[<>]" >changed;
	cat changed &&
	test "$(wc -l <changed)" -eq 2 &&
	grep "^> ./app/jobs.py " changed
'

test_expect_success 'the edit only removed lines, and one pass per emptied block' '
	git apply -R --check out.diff &&
	git diff --no-index jobs.orig app/jobs.py >d || true &&
	grep "^+[^+]" d >added || true &&
	printf "+        pass\n+            pass\n" >expect &&
	test_cmp expect added
'

test_expect_success 'scan after the fix: only the unsafe and unfixable sites' '
	git commit -q --no-verify -am fixed &&
	found >actual &&
	cat >expect <<-\EOF &&
	app/jobs.py:12 TX001
	app/jobs.py:42 TX001
	app/jobs.py:47 TX001
	app/jobs.py:55 TX001
	app/jobs.py:65 TX001
	EOF
	test_cmp expect actual
'

test_expect_success 'a second fix changes nothing and exits 1 (findings remain)' '
	cp app/jobs.py jobs.fixed &&
	test_expect_code 1 txguard fix >out &&
	test_cmp jobs.fixed app/jobs.py &&
	grep "^fixed 0 findings in 0 files; 5 left" out
'

test_expect_success 'fix --unsafe removes the commit in the middle too' '
	test_expect_code 1 txguard fix --unsafe >out &&
	grep "^app/jobs.py:12: removed session.commit() (TX001, unsafe)$" out &&
	sed -n "/^def middle/,/^def reraise/p" app/jobs.py >middle &&
	test_must_fail grep commit middle &&
	grep -c "session.add(item)" middle >count &&
	echo 2 >expect && test_cmp expect count &&
	git commit -q --no-verify -am unsafe
'

test_expect_success 'exit 0 when nothing is left; PATHs limit the files' '
	write_file clean/one.py <<-\EOF &&
	def f(session):
	    with session.begin():
	        session.add(1)
	        session.commit()
	EOF
	git add clean &&
	txguard fix clean >out &&
	grep "^clean/one.py:4: removed session.commit() (TX001, safe)$" out &&
	test_expect_code 0 txguard fix clean/one.py &&
	(cd clean && test_expect_code 0 txguard fix one.py)
'

test_expect_success 'an untracked Python file is fixed too; an ignored one is not' '
	write_file new/untracked.py <<-\EOF &&
	def f(session):
	    with session.begin():
	        session.add(1)
	        session.commit()
	EOF
	cp new/untracked.py new/ignored.py &&
	echo "new/ignored.py" >>.git/info/exclude &&
	txguard fix new >out &&
	grep "^new/untracked.py:4: removed session.commit() (TX001, safe)$" out &&
	test_must_fail grep ignored out &&
	grep commit new/ignored.py &&
	rm -r new
'

test_expect_success 'the file mode is kept and no temporary file is left' '
	write_file clean/two.py <<-\EOF &&
	def f(session):
	    with session.begin():
	        session.commit()
	EOF
	chmod 755 clean/two.py &&
	git add clean/two.py &&
	txguard fix clean/two.py &&
	test -x clean/two.py &&
	test "$(ls clean)" = "$(printf "one.py\ntwo.py")"
'

test_expect_success 'CRLF and Latin-1 bytes round-trip: only the removed line goes' '
	printf "# caf\351\r\ndef f(session):\r\n    with session.begin():\r\n\tpass\r\n" >crlf.py &&
	printf "def g(session):\r\n    with session.begin():\r\n        session.add(1)  # \351\r\n        session.commit()  # \351t\351\r\n" >>crlf.py &&
	printf "# the end \351\r\n" >>crlf.py &&
	git add crlf.py &&
	grep -v "session.commit()" crlf.py >expect &&
	txguard fix crlf.py >out &&
	grep "^crlf.py:8: removed" out &&
	cmp expect crlf.py
'

test_expect_success 'a file with a byte order mark keeps it' '
	printf "\357\273\277def f(session):\n    with session.begin():\n        session.add(1)\n        session.commit()\n" >bom.py &&
	git add bom.py &&
	printf "\357\273\277def f(session):\n    with session.begin():\n        session.add(1)\n" >expect &&
	txguard fix bom.py &&
	cmp expect bom.py
'

test_expect_success 'a file with a syntax error is not touched' '
	printf "def f(session):\n    with session.begin():\n        session.commit()\n\ndef broken(:\n" >bad.py &&
	git add bad.py &&
	cp bad.py expect &&
	test_expect_code 1 txguard fix bad.py >out &&
	cmp expect bad.py &&
	grep "^bad.py:3: not fixed: session.commit() (TX001): the file has syntax errors$" out
'

test_expect_success 'the index, HEAD and refs are never changed' '
	git add -A && git commit -q --no-verify -m more &&
	write_file clean/three.py <<-\EOF &&
	def f(session):
	    with session.begin():
	        session.commit()
	EOF
	git add clean/three.py &&
	index=$(sha1sum <.git/index) &&
	refs=$(git for-each-ref; cat .git/HEAD) &&
	txguard fix clean/three.py &&
	test "$(sha1sum <.git/index)" = "$index" &&
	test "$(git for-each-ref; cat .git/HEAD)" = "$refs" &&
	git diff --quiet --cached -- clean/three.py ||
	git diff --cached --stat
'

test_expect_success 'a file over maxFileSize is skipped, with a line' '
	test_create_repo ../small &&
	(
		cd ../small &&
		printf "[txguard]\n\tmaxFileSize = 10\n" >.txguard &&
		printf "def f(session):\n    with session.begin():\n        session.commit()\n" >big.py &&
		cp big.py expect &&
		git add . &&
		txguard fix >out &&
		grep "^big.py: skipped: larger than maxFileSize (10 bytes)$" out &&
		cmp expect big.py
	)
'

test_expect_success 'errors exit 2: a bad option, a missing path, a link, outside a repository' '
	test_expect_code 2 txguard fix --bogus 2>err &&
	grep "txguard fix --help" err &&
	test_expect_code 2 txguard fix nowhere.py 2>err &&
	grep "matches no Python file" err &&
	mv clean/one.py one.py.moved &&
	ln -s ../one.py.moved clean/one.py &&
	test_expect_code 2 txguard fix clean >out 2>err &&
	grep "cannot read .*clean/one.py" out &&
	test -h clean/one.py &&
	rm clean/one.py &&
	txguard fix clean &&
	mv one.py.moved clean/one.py &&
	(cd "$TRASH_DIRECTORY" && test_expect_code 2 txguard fix 2>err)
'

test_done
