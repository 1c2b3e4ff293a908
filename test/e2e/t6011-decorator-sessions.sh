#!/bin/sh
# Sessions injected by decorators, through the installed hook and real
# commits across modules: a decorator whose wrapper opens an owning block
# and passes the session to the function it decorates makes that
# parameter owned, so a commit there is blocked and names the decorator;
# a change to the decorator, or to the owner it opens, re-checks the
# functions it decorates in files the commit leaves alone. A decorator
# whose session only closes, or that does not hand it on, is no owner.
. "$(dirname "$0")/lib.sh"
. "$TOP/test/e2e/lib-owners.sh"

# write_db closes|commits: app/db.py's get_session, which only closes,
#	or also commits after its yield; session_scope always commits.
write_db() {
	case $1 in
	commits) write_db_body_='        await session.commit()' ;;
	*) write_db_body_='        pass' ;;
	esac
	write_file app/db.py <<EOF
from contextlib import asynccontextmanager, contextmanager

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker()
AsyncSessionLocal = async_sessionmaker()


@asynccontextmanager
async def get_session():
    async with AsyncSessionLocal() as session:
        yield session
$write_db_body_


@contextmanager
def session_scope():
    with SessionLocal() as session:
        yield session
        session.commit()
EOF
}

# write_decorators OPENER: app/decorators.py, whose with_session opens
#	`async with OPENER() as session:` and passes it on by keyword;
#	transactional passes session_scope's session as the first argument,
#	with_plain a closing session.
write_decorators() {
	write_file app/decorators.py <<EOF
import functools

from app.db import AsyncSessionLocal, SessionLocal, get_session, session_scope


def with_session(func):
    @functools.wraps(func)
    async def wrapper(*args, **kwargs):
        if "session" in kwargs:
            return await func(*args, **kwargs)
        async with $1() as session:
            return await func(*args, session=session, **kwargs)

    return wrapper


def transactional(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with session_scope() as s:
            return func(s, *args, **kwargs)

    return wrapper


def with_plain(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with SessionLocal() as session:
            return func(*args, session=session, **kwargs)

    return wrapper
EOF
}

test_create_repo deco && cd deco || exit 1

test_expect_success 'setup: users of a decorator whose session only closes' '
	install_hook . &&
	write_file app/__init__.py </dev/null &&
	write_db commits &&
	write_decorators AsyncSessionLocal &&
	write_file app/tx/__init__.py <<-\EOF &&
	from app.decorators import with_session
	EOF
	write_file app/users.py <<-\EOF &&
	from app.decorators import with_session


	@with_session
	async def create_user(name, session):
	    session.add(name)
	    await session.commit()
	EOF
	write_file app/reports.py <<-\EOF &&
	import app.tx as tx


	@tx.with_session
	async def build(report, *, session=None):
	    session.add(report)
	    await session.commit()
	EOF
	git add -A &&
	git commit -m base >out 2>&1 &&
	! grep "TX00" out &&
	git tag base &&
	test_expect_code 0 txguard scan >out 2>err
'

test_expect_success 'a commit added in a decorated function is blocked, naming the decorator' '
	test_when_finished "git reset -q --hard base" &&
	write_file app/orders.py <<-\EOF &&
	from app.decorators import transactional


	@transactional
	def cancel(session, order):
	    order.cancelled = True
	    session.commit()
	EOF
	git add app/orders.py &&
	test_must_fail git commit -m "cancel orders" >out 2>&1 &&
	head_is base &&
	L=$(line_of app/orders.py "session.commit()") &&
	D=$(line_of app/decorators.py "^def transactional") &&
	S=$(line_of app/db.py "^def session_scope") &&
	grep "^app/orders.py:$L:5: critical TX001 " out &&
	grep "in a function decorated \`@transactional\`, whose session already commits when the function returns" out &&
	grep "transactional, defined at app/decorators.py:$D, injects positional argument 1 from session_scope, defined at app/db.py:$S, commits after yield" out
'

test_expect_success 'decorating a function that commits is blocked' '
	test_when_finished "git reset -q --hard base" &&
	write_file app/billing.py <<-\EOF &&
	from app.decorators import transactional


	def charge(session, amount):
	    session.add(amount)
	    session.commit()
	EOF
	git add app/billing.py &&
	git commit -q -m "charge" &&
	git tag charge &&
	write_file app/billing.py <<-\EOF &&
	from app.decorators import transactional


	@transactional
	def charge(session, amount):
	    session.add(amount)
	    session.commit()
	EOF
	git diff --numstat | grep "^1	0	app/billing.py" &&
	git add app/billing.py &&
	test_must_fail git commit -m "charge in a transaction" >out 2>&1 &&
	head_is charge &&
	L=$(line_of app/billing.py "session.commit()") &&
	grep "^app/billing.py:$L:5: critical TX001 .*in a function decorated \`@transactional\`" out
'

test_expect_success 'a decorator that starts opening an owner blocks its unchanged users' '
	test_when_finished "git reset -q --hard base" &&
	write_decorators get_session &&
	git add app/decorators.py &&
	test_must_fail git commit -m "sessions from get_session" >out 2>&1 &&
	head_is base &&
	U=$(line_of app/users.py "await session.commit()") &&
	R=$(line_of app/reports.py "await session.commit()") &&
	D=$(line_of app/decorators.py "^def with_session") &&
	grep "^app/users.py:$U:11: critical TX001 " out &&
	grep "^app/reports.py:$R:11: critical TX001 " out &&
	grep "with_session, defined at app/decorators.py:$D, injects \`session\` from get_session" out &&
	git commit --no-verify -q -m "sessions from get_session" &&
	test_expect_code 1 txguard scan >scan 2>err &&
	grep "^app/users.py:$U:11: critical TX001 " scan &&
	grep "^app/reports.py:$R:11: critical TX001 " scan &&
	test_expect_code 1 txguard check --base base >branch 2>err &&
	grep "^app/users.py:$U:11: critical TX001 " branch
'

test_expect_success 'an owner that starts committing blocks the users of its decorator' '
	test_when_finished "git reset -q --hard base" &&
	write_db closes &&
	write_decorators get_session &&
	git add -A &&
	git commit --no-verify -q -m "get_session only closes" &&
	git tag closing &&
	write_db commits &&
	git add app/db.py &&
	test_must_fail git commit -m "get_session commits" >out 2>&1 &&
	head_is closing &&
	U=$(line_of app/users.py "await session.commit()") &&
	grep "^app/users.py:$U:11: critical TX001 " out &&
	grep "injects \`session\` from get_session, defined at app/db.py" out
'

test_expect_success 'negative twins commit fine' '
	test_when_finished "git reset -q --hard base" &&
	write_decorators get_session &&
	git add app/decorators.py &&
	git commit --no-verify -q -m "sessions from get_session" &&
	git tag owning &&
	write_file app/plain.py <<-\EOF &&
	from app.decorators import transactional, with_plain, with_session


	@with_plain
	def save(item, session):
	    session.add(item)
	    session.commit()


	@with_session
	async def later(item, session):
	    async def run():
	        await session.commit()

	    return run


	@with_session
	async def other_name(item, db):
	    await db.commit()


	@transactional
	def second(item, s):
	    s.commit()
	EOF
	git add app/plain.py &&
	git commit -m "plain sessions" >out 2>&1 &&
	! grep "TX00" out
'

test_expect_success 'scan finds exactly the marks of the decorator fixture' '
	rm -rf "$TRASH_DIRECTORY/fx" &&
	test_create_repo "$TRASH_DIRECTORY/fx" &&
	(
		cd "$TRASH_DIRECTORY/fx" &&
		cp -R "$FIXTURES/owners/decorator"/. . &&
		mv txguard.cfg .txguard &&
		git add -A &&
		git commit -q -m fixture &&
		expect_marks $(find app -name "*.py" | LC_ALL=C sort) >expect &&
		txguard scan --format json --fail-on never >out.json &&
		python3 - out.json >actual <<-\EOF &&
		import json, sys
		for f in json.load(open(sys.argv[1]))["findings"]:
		    print("%s:%d %s" % (f["path"], f["line"], f["rule"]))
		EOF
		LC_ALL=C sort actual >actual.sorted &&
		test_cmp expect actual.sorted
	)
'

test_done
