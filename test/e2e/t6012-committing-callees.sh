#!/bin/sh
# Sessions committed by the functions they are passed to, through the
# installed hook and real commits: a service function that starts to
# commit the session it is given blocks the commit and names its callers
# in unchanged files; a new call passing an owned session to a committing
# function blocks in the caller; `commit=False` and a function that only
# flushes pass. And helpers that own only for some arguments.
. "$(dirname "$0")/lib.sh"
. "$TOP/test/e2e/lib-owners.sh"

# write_repo flush|commit: app/repos.py, whose Repo.save flushes or
#	commits the session it is given.
write_repo() {
	write_file app/repos.py <<EOF
class Repo:
    async def save(self, session, item):
        session.add(item)
        await session.$1()


async def store(session, item, commit: bool = True):
    session.add(item)
    if commit:
        await session.commit()
EOF
}

test_create_repo callees && cd callees || exit 1

test_expect_success 'setup: services passing owned sessions to a repository' '
	install_hook . &&
	write_file app/__init__.py </dev/null &&
	write_file app/db.py <<-\EOF &&
	from contextlib import asynccontextmanager

	from sqlalchemy.ext.asyncio import async_sessionmaker

	async_session = async_sessionmaker()


	@asynccontextmanager
	async def get_session():
	    async with async_session() as session:
	        async with session.begin():
	            yield session
	EOF
	write_repo flush &&
	write_file app/services.py <<-\EOF &&
	from app.repos import Repo


	class ItemService:
	    def __init__(self):
	        self.repo = Repo()

	    async def create(self, session, item):
	        await self.repo.save(session, item)


	items = ItemService()
	EOF
	write_file app/jobs.py <<-\EOF &&
	from app.db import get_session
	from app.services import items


	async def import_items(rows):
	    async with get_session() as session:
	        for row in rows:
	            await items.create(session, row)
	EOF
	git add -A &&
	git commit -m base >out 2>&1 &&
	! grep "TX00" out &&
	git tag base &&
	test_expect_code 0 txguard scan >out 2>err
'

test_expect_success 'a repository method that starts to commit blocks its callers' '
	test_when_finished "git reset -q --hard base" &&
	write_repo commit &&
	git add app/repos.py &&
	test_must_fail git commit -m "save commits" >out 2>&1 &&
	head_is base &&
	J=$(line_of app/jobs.py "items.create") &&
	C=$(line_of app/repos.py "await session.commit()") &&
	grep "^app/jobs.py:$J:19: critical TX001 " out &&
	grep "ItemService.create commits its \`session\` parameter at app/repos.py:$C (through Repo.save)" out &&
	grep "commit blocked" out &&
	git commit --no-verify -q -m "save commits" &&
	test_expect_code 1 txguard scan >scan 2>err &&
	grep "^app/jobs.py:$J:19: critical TX001 " scan
'

test_expect_success 'a new call passing an owned session to a committing function is blocked' '
	test_when_finished "git reset -q --hard base" &&
	write_file app/tasks.py <<-\EOF &&
	from app.db import get_session
	from app.repos import store


	async def keep(item):
	    async with get_session() as session:
	        await store(session, item)
	EOF
	git add app/tasks.py &&
	test_must_fail git commit -m "new task" >out 2>&1 &&
	head_is base &&
	grep "^app/tasks.py:7:15: critical TX001 " out &&
	grep "store commits its \`session\` parameter at app/repos.py:10" out &&
	grep "pass \`commit=False\`" out
'

test_expect_success 'commit=False, a flushing callee and a session outside any owner pass' '
	test_when_finished "git reset -q --hard base" &&
	write_file app/tasks.py <<-\EOF &&
	from app.db import async_session, get_session
	from app.repos import store
	from app.services import items


	async def keep(item):
	    async with get_session() as session:
	        await store(session, item, commit=False)
	        await items.create(session, item)


	async def alone(item):
	    async with async_session() as session:
	        await store(session, item)
	EOF
	git add app/tasks.py &&
	git commit -m "clean task" >out 2>&1 &&
	! grep "TX00" out
'

test_expect_success 'a helper owning only when asked: the call decides' '
	test_when_finished "git reset -q --hard base" &&
	write_file app/ctx.py <<-\EOF &&
	from contextlib import asynccontextmanager

	from app.db import async_session


	@asynccontextmanager
	async def session_context(begin_transaction: bool = False):
	    async with async_session() as s:
	        if begin_transaction:
	            async with s.begin():
	                yield s
	        else:
	            yield s
	EOF
	write_file app/ctx_users.py <<-\EOF &&
	from app.ctx import session_context


	async def manual(item):
	    async with session_context() as s:
	        s.add(item)
	        await s.commit()
	EOF
	git add -A &&
	git commit -m "manual commit" >out 2>&1 &&
	! grep "TX00" out &&
	write_file app/ctx_users.py <<-\EOF &&
	from app.ctx import session_context


	async def manual(item):
	    async with session_context() as s:
	        s.add(item)
	        await s.commit()


	async def managed(item):
	    async with session_context(begin_transaction=True) as s:
	        s.add(item)
	        await s.commit()
	EOF
	git add app/ctx_users.py &&
	test_must_fail git commit -m "managed" >out 2>&1 &&
	grep "^app/ctx_users.py:13:15: critical TX001 " out &&
	! grep "^app/ctx_users.py:7:" out &&
	grep "when \`begin_transaction\` is true" out
'

test_done
