#!/bin/sh
# Owners other than decorated helpers, through the installed hook and real
# commits across modules: a Session subclass or unit of work that commits
# in __exit__ / __aexit__, and sessionmaker(class_=...) of one; a class
# whose exit only closes is not an owner. And a context-manager method
# called on a module-level instance imported from another module, or on
# an instance a class holds on self. And owners made by calling
# contextmanager(), and Depends(P) aliases used as parameter defaults.
. "$(dirname "$0")/lib.sh"
. "$TOP/test/e2e/lib-owners.sh"

# write_db closes|commits: app/db.py's AppSession, whose __exit__ only
#	closes, or also commits on the normal path; and an async twin.
write_db() {
	case $1 in
	commits)
		write_db_exit_='            self.commit()'
		write_db_aexit_='            await self.commit()'
		;;
	*)
		write_db_exit_='            pass'
		write_db_aexit_='            pass'
		;;
	esac
	write_file app/db.py <<EOF
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session


class AppSession(Session):
    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
$write_db_exit_
        self.close()


class AppAsyncSession(AsyncSession):
    async def __aexit__(self, exc_type, exc, tb):
        if exc_type is None:
$write_db_aexit_
        await self.close()
EOF
}

test_create_repo classes && cd classes || exit 1

test_expect_success 'setup: users of session classes that only close' '
	install_hook . &&
	write_file app/__init__.py </dev/null &&
	write_db closes &&
	write_file app/factories.py <<-\EOF &&
	from sqlalchemy.ext.asyncio import async_sessionmaker
	from sqlalchemy.orm import sessionmaker

	from app.db import AppAsyncSession, AppSession

	AppLocal = sessionmaker(class_=AppSession)
	AppAsyncLocal = async_sessionmaker(class_=AppAsyncSession)
	EOF
	write_file app/jobs.py <<-\EOF &&
	from app.db import AppSession


	def save(engine, x):
	    with AppSession(engine) as s:
	        s.add(x)
	        s.commit()
	EOF
	write_file app/reports.py <<-\EOF &&
	from app.factories import AppAsyncLocal, AppLocal


	def build(x):
	    with AppLocal() as s:
	        s.add(x)
	        s.commit()


	async def build_async(x):
	    async with AppAsyncLocal() as s:
	        s.add(x)
	        await s.commit()
	EOF
	git add -A &&
	git commit -m base >out 2>&1 &&
	! grep "TX00" out &&
	git tag base &&
	test_expect_code 0 txguard scan >out 2>err
'

test_expect_success 'a class that starts to commit in __exit__ blocks its users' '
	test_when_finished "git reset -q --hard base" &&
	write_db commits &&
	git add app/db.py &&
	test_must_fail git commit -m "commit on exit" >out 2>&1 &&
	head_is base &&
	J=$(line_of app/jobs.py "s.commit()") &&
	R=$(line_of app/reports.py "    s.commit()") &&
	A=$(line_of app/reports.py "await s.commit()") &&
	C=$(line_of app/db.py "^class AppSession") &&
	grep "^app/jobs.py:$J:9: critical TX001 " out &&
	grep "^app/reports.py:$R:9: critical TX001 " out &&
	grep "^app/reports.py:$A:15: critical TX001 " out &&
	grep "AppSession, defined at app/db.py:$C, commits in __exit__" out &&
	grep "commits in __aexit__" out &&
	git commit --no-verify -q -m "commit on exit" &&
	test_expect_code 1 txguard scan >scan 2>err &&
	grep "^app/jobs.py:$J:9: critical TX001 " scan &&
	grep "^app/reports.py:$A:15: critical TX001 " scan
'

test_expect_success 'a new commit inside a committing class is blocked, a closing one passes' '
	test_when_finished "git reset -q --hard base" &&
	write_db commits &&
	git add app/db.py &&
	git commit --no-verify -q -m "commit on exit" &&
	git tag committing &&
	write_file app/new_job.py <<-\EOF &&
	from app import db


	def again(engine, x):
	    with db.AppSession(engine) as s:
	        s.add(x)
	        s.commit()
	EOF
	git add app/new_job.py &&
	test_must_fail git commit -m "new job" >out 2>&1 &&
	head_is committing &&
	grep "^app/new_job.py:7:9: critical TX001 " out &&
	git reset -q --hard base &&
	write_file app/new_job.py <<-\EOF &&
	from app import db


	def again(engine, x):
	    with db.AppSession(engine) as s:
	        s.add(x)
	        s.commit()
	EOF
	git add app/new_job.py &&
	git commit -m "new job" >out 2>&1 &&
	! grep "TX00" out
'

# ---- owner methods on instances ---------------------------------------------

# write_database closes|commits: app/database.py's Database, whose
#	session() and async_session() only close, or also commit after the
#	yield; and its module-level instance db.
write_database() {
	case $1 in
	commits)
		write_database_sync_='            s.commit()'
		write_database_async_='            await s.commit()'
		;;
	*)
		write_database_sync_='            pass'
		write_database_async_='            pass'
		;;
	esac
	write_file app/database.py <<EOF
from contextlib import asynccontextmanager, contextmanager

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import sessionmaker


class Database:
    def __init__(self):
        self.factory = sessionmaker()
        self.async_factory = async_sessionmaker()

    @contextmanager
    def session(self):
        with self.factory() as s:
            yield s
$write_database_sync_

    @asynccontextmanager
    async def async_session(self):
        async with self.async_factory() as s:
            yield s
$write_database_async_


db = Database()
EOF
}

cd "$TRASH_DIRECTORY" || exit 1
test_create_repo methods && cd methods || exit 1

test_expect_success 'setup: users of owner methods that only close' '
	install_hook . &&
	write_file app/__init__.py </dev/null &&
	write_database closes &&
	write_file app/tasks.py <<-\EOF &&
	from app.database import db


	async def sync_all(items):
	    async with db.async_session() as s:
	        s.add_all(items)
	        await s.commit()
	EOF
	write_file app/service.py <<-\EOF &&
	from app.database import Database


	class Service:
	    def __init__(self):
	        self.db = Database()

	    def handle(self, x):
	        with self.db.session() as s:
	            s.add(x)
	            s.commit()
	EOF
	git add -A &&
	git commit -m base >out 2>&1 &&
	! grep "TX00" out &&
	git tag base &&
	test_expect_code 0 txguard scan >out 2>err
'

test_expect_success 'owner methods that start to commit block their users' '
	test_when_finished "git reset -q --hard base" &&
	write_database commits &&
	git add app/database.py &&
	test_must_fail git commit -m "commit after yield" >out 2>&1 &&
	head_is base &&
	T=$(line_of app/tasks.py "await s.commit()") &&
	S=$(line_of app/service.py "s.commit()") &&
	M=$(line_of app/database.py "def session") &&
	grep "^app/tasks.py:$T:15: critical TX001 " out &&
	grep "^app/service.py:$S:13: critical TX001 " out &&
	grep "Database.session, defined at app/database.py:$M, commits after yield" out &&
	git commit --no-verify -q -m "commit after yield" &&
	test_expect_code 1 txguard scan >scan 2>err &&
	grep "^app/tasks.py:$T:15: critical TX001 " scan &&
	grep "^app/service.py:$S:13: critical TX001 " scan
'

test_expect_success 'a new user of a committing method is blocked, of a closing one passes' '
	test_when_finished "git reset -q --hard base" &&
	write_database commits &&
	git add app/database.py &&
	git commit --no-verify -q -m "commit after yield" &&
	git tag committing_methods &&
	write_file app/jobs.py <<-\EOF &&
	from app.database import db


	def mark_done(x):
	    with db.session() as s:
	        s.add(x)
	        s.commit()
	EOF
	git add app/jobs.py &&
	test_must_fail git commit -m "new job" >out 2>&1 &&
	head_is committing_methods &&
	grep "^app/jobs.py:7:9: critical TX001 " out &&
	git reset -q --hard base &&
	write_file app/jobs.py <<-\EOF &&
	from app.database import db


	def mark_done(x):
	    with db.session() as s:
	        s.add(x)
	        s.commit()
	EOF
	git add app/jobs.py &&
	git commit -m "new job" >out 2>&1 &&
	! grep "TX00" out
'

# ---- owners made by a call, Depends aliases as defaults ---------------------

# write_get_db closes|commits: app/db.py's get_db, a generator dependency
#	that only closes, or also commits after the yield, and get_db_ctx, a
#	context manager made from it.
write_get_db() {
	case $1 in
	commits) write_get_db_after_='        db.commit()' ;;
	*) write_get_db_after_='        pass' ;;
	esac
	write_file app/db.py <<EOF
from contextlib import contextmanager

from sqlalchemy.orm import sessionmaker

SessionLocal = sessionmaker()


def get_db():
    db = SessionLocal()
    try:
        yield db
$write_get_db_after_
    finally:
        db.close()


get_db_ctx = contextmanager(get_db)
EOF
}

cd "$TRASH_DIRECTORY" || exit 1
test_create_repo made && cd made || exit 1

test_expect_success 'setup: users of a closing dependency through a call and an alias' '
	install_hook . &&
	write_file app/__init__.py </dev/null &&
	write_get_db closes &&
	write_file app/deps.py <<-\EOF &&
	from fastapi import Depends

	from app.db import get_db

	DbDep = Depends(get_db)
	EOF
	write_file app/routes.py <<-\EOF &&
	from sqlalchemy.orm import Session

	from app.deps import DbDep


	def create(item: dict, db: Session = DbDep):
	    db.add(item)
	    db.commit()
	EOF
	write_file app/jobs.py <<-\EOF &&
	from app.db import get_db_ctx


	def nightly(x):
	    with get_db_ctx() as s:
	        s.add(x)
	        s.commit()
	EOF
	git add -A &&
	git commit -m base >out 2>&1 &&
	! grep "TX00" out &&
	git tag base
'

test_expect_success 'a dependency that starts to commit blocks both kinds of user' '
	test_when_finished "git reset -q --hard base" &&
	write_get_db commits &&
	git add app/db.py &&
	test_must_fail git commit -m "commit after yield" >out 2>&1 &&
	head_is base &&
	grep "^app/routes.py:8:5: critical TX001 " out &&
	grep "^app/jobs.py:7:9: critical TX001 " out &&
	C=$(line_of app/db.py "^get_db_ctx = ") &&
	G=$(line_of app/db.py "^def get_db") &&
	grep "get_db_ctx, defined at app/db.py:$C, wraps get_db (app/db.py:$G, commits after yield)" out &&
	grep "DbDep, defined at app/deps.py:5, Depends(get_db) at app/db.py:$G" out
'

test_done
