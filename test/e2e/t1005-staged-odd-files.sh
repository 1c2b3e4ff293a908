#!/bin/sh
# Files txguard cannot or must not analyse: a syntax error gives a partial
# analysis and a notice, never a crash; deleted files, symlinks
# and binary blobs are skipped and counted, never block.
. "$(dirname "$0")/lib.sh"

test_create_repo repo && cd repo || exit 1

test_expect_success 'setup' '
	install_hook . &&
	write_txguard_config &&
	write_job app/jobs.py bad &&
	write_job app/gone.py bad &&
	git add . &&
	git commit -q --no-verify -m base &&
	git tag base
'

test_expect_success 'a syntax error alone: exit 0, the summary says partial' '
	test_when_finished "git reset -q --hard base" &&
	write_file app/broken.py <<-\EOF &&
	def ok(x):
	    return x + 1


	def broken(:
	    return (
	EOF
	git add app/broken.py &&
	test_expect_code 0 txguard check >out 2>err &&
	grep "partial" out &&
	git commit -m broken >out 2>&1
'

test_expect_success 'a syntax error elsewhere does not hide a TX001 in a whole function' '
	test_when_finished "git reset -q --hard base" &&
	write_file app/broken.py <<-\EOF &&
	from app.db import get_background_session


	async def mark(job):
	    async with get_background_session() as session:
	        session.add(job)
	        await session.commit()


	def broken(:
	    return (
	EOF
	git add app/broken.py &&
	test_expect_code 1 txguard check >out 2>err &&
	grep "app/broken.py:7:15: critical TX001" out &&
	grep "partial" out &&
	test_must_fail git commit -m broken >out 2>&1
'

test_expect_success 'deleted file, symlink named x.py and binary .py: skipped, counted' '
	test_when_finished "git reset -q --hard base" &&
	git rm -q app/gone.py &&
	ln -s jobs.py app/x.py &&
	{
		printf "async def f():\n    async with get_background_session() as s:\n" &&
		printf "        await s.commit()\n\000\001\002\n"
	} >app/blob.py &&
	git add app/x.py app/blob.py &&
	test "$(git ls-files -s app/x.py | cut -c1-6)" = 120000 &&
	test_expect_code 0 txguard check >out 2>err &&
	! grep TX001 out &&
	grep "1 deleted" out &&
	grep "1 symlink" out &&
	grep "1 binary" out &&
	txguard check --format json >actual &&
	python3 -c "
import json, sys
s = json.load(open(\"actual\"))[\"summary\"][\"skipped\"]
assert (s[\"deleted\"], s[\"symlink\"], s[\"binary\"]) == (1, 1, 1), s
" &&
	git commit -m odd >out 2>&1
'

test_expect_success 'CRLF line endings, a BOM and tabs are analysed' '
	test_when_finished "git reset -q --hard base" &&
	printf "\357\273\277from app.db import get_background_session\r\n\r\n\r\nasync def f(job):\r\n\tasync with get_background_session() as s:\r\n\t\ts.add(job)\r\n\t\tawait s.commit()\r\n" >app/crlf.py &&
	git add app/crlf.py &&
	test_expect_code 1 txguard check >out 2>err &&
	grep "app/crlf.py:7:[0-9]*: critical TX001" out
'

test_done
