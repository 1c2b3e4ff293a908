#!/bin/sh
# Owners other than decorated helpers, through the installed hook and real
# commits across modules: a Session subclass or unit of work that commits
# in __exit__ / __aexit__, and sessionmaker(class_=...) of one; a class
# whose exit only closes is not an owner.
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

test_done
