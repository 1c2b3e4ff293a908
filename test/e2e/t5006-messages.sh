#!/bin/sh
# Messages say what actually happened: index in a bare repository or
# with no Python file, baseline -o into a missing directory, which
# unchanged files a changed definition had re-checked, where a syntax
# error is.
. "$(dirname "$0")/lib.sh"

test_create_repo repo && cd repo || exit 1

test_expect_success 'index with an empty index says there is nothing to cache' '
	txguard index >out 2>err &&
	grep "0 Python files" out &&
	grep "no Python file, so nothing to cache" out &&
	! grep -i "read-only" out
'

test_expect_success 'index in a bare repository names --rev, not a work tree' '
	write_txguard_config &&
	bad_py app/a.py &&
	git add -A && git commit -q --no-verify -m a &&
	git clone -q --bare . ../bare.git &&
	(cd ../bare.git && test_expect_code 2 txguard index >out 2>err) &&
	grep "bare repository has no index" ../bare.git/err &&
	grep -e "--rev REV" ../bare.git/err &&
	! grep "check needs" ../bare.git/err &&
	(cd ../bare.git && txguard index --rev HEAD >out 2>err) &&
	grep "owner index of HEAD: 1 Python file" ../bare.git/out
'

test_expect_success 'baseline -o into a missing directory names the directory' '
	test_expect_code 2 txguard baseline -o nodir/debt >out 2>err &&
	grep "cannot write .nodir/debt.: directory .nodir. does not exist" err &&
	! grep "tmp\." err &&
	! test -e nodir
'

test_expect_success 'the re-check notice names the unchanged files it checked' '
	rm -f .txguard &&
	write_file app/db.py <<-\PY &&
	from contextlib import asynccontextmanager


	@asynccontextmanager
	async def get_session():
	    session = make_session()
	    try:
	        yield session
	    finally:
	        await session.close()
	PY
	write_file app/jobs.py <<-\PY &&
	from app.db import get_session


	async def run():
	    async with get_session() as session:
	        await session.commit()
	PY
	git add -A && git commit -q --no-verify -m "helper that only closes" &&
	sed -i "s/^        yield session$/        yield session\n        await session.commit()/" app/db.py &&
	git add app/db.py &&
	test_expect_code 1 txguard check >out &&
	grep "^app/jobs.py:6:15: critical TX001" out &&
	grep "notice: 1 unchanged file re-checked (app/jobs.py): it uses get_session, whose definition changed" out
'

test_expect_success 'the syntax-error notice gives the line and column' '
	git reset -q --hard HEAD &&
	test_when_finished "git reset -q --hard HEAD" &&
	printf "def ok(x):\n    return x + 1\n\n\ndef broken(:\n    return (\n" >app/broken.py &&
	git add app/broken.py &&
	test_expect_code 0 txguard check >out &&
	grep "notice: app/broken.py:5:12: syntax error; only the parts whose structure is clear were analysed" out &&
	grep "1 partially parsed" out
'

test_done
