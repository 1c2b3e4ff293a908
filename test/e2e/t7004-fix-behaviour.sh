#!/bin/sh
# The safe fixes keep what a program does: real SQLAlchemy programs
# (SQLite in memory; sync, and asyncio through AsyncSession and
# aiosqlite) leave the same rows and show the engine the same
# transactions (begin, commit, rollback, per function) before and after
# `txguard fix`. The unsafe fix of a commit in the middle of a block
# does change them, and the same comparison shows it.
. "$(dirname "$0")/lib.sh"

PROGRAMS=$TOP/test/fix/behaviour

# An interpreter with SQLAlchemy and aiosqlite (Debian: python3-sqlalchemy,
# python3-aiosqlite; the system one when another python3 comes first).
PY=
for p in python3 /usr/bin/python3; do
	if "$p" -c "import sqlalchemy, aiosqlite" 2>/dev/null; then
		PY=$p
		break
	fi
done

test_expect_success 'python3 with SQLAlchemy and aiosqlite is installed' '
	test -n "$PY" ||
	{ echo "install python3-sqlalchemy and python3-aiosqlite"; false; }
'

test_create_repo repo && cd repo || exit 1

test_expect_success 'setup: the programs run and record their transactions' '
	printf "*.out\n" >>.git/info/exclude &&
	cp "$PROGRAMS"/sync_app.py "$PROGRAMS"/async_app.py . &&
	git add . && git commit -q --no-verify -m programs &&
	"$PY" sync_app.py >sync.before.out &&
	"$PY" async_app.py >async.before.out &&
	grep -q "\"rollback\"" sync.before.out &&
	grep -q "\"rollback\"" async.before.out
'

test_expect_success 'fix removes the safe calls of both programs' '
	test_expect_code 1 txguard fix >fix.out &&
	cat fix.out &&
	test "$(grep -c "^sync_app.py:.* removed .*(TX001, safe)$" fix.out)" -ge 5 &&
	test "$(grep -c "^async_app.py:.* removed .*(TX001, safe)$" fix.out)" -ge 4 &&
	grep "^sync_app.py:.* removed session.rollback()" fix.out &&
	grep "^async_app.py:.* removed session.rollback()" fix.out &&
	grep "^fixed .* 2 unsafe" fix.out
'

test_expect_success 'sync: the same rows and transactions after the safe fix' '
	"$PY" sync_app.py >sync.after.out &&
	test_cmp sync.before.out sync.after.out
'

test_expect_success 'async: the same rows and transactions after the safe fix' '
	"$PY" async_app.py >async.after.out &&
	test_cmp async.before.out async.after.out
'

test_expect_success 'the unsafe fix changes both programs, and the comparison shows it' '
	txguard fix --unsafe >fix.out &&
	grep "^sync_app.py:.* (TX001, unsafe)$" fix.out &&
	grep "^async_app.py:.* (TX001, unsafe)$" fix.out &&
	"$PY" sync_app.py >sync.unsafe.out &&
	"$PY" async_app.py >async.unsafe.out &&
	test_must_fail cmp -s sync.before.out sync.unsafe.out &&
	test_must_fail cmp -s async.before.out async.unsafe.out
'

test_done
