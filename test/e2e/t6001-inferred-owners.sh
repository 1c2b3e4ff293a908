#!/bin/sh
# Owners inferred from the repository's own context managers, in any
# module and through any import spelling (aliases, module attributes,
# relative imports, re-exports through packages, wrappers in a third
# module); same-named helpers that only close, local definitions that
# shadow an import and wrappers of closing helpers are told apart.
#
# No .txguard anywhere: every owner here is inferred, none configured.
. "$(dirname "$0")/lib.sh"
. "$TOP/test/e2e/lib-owners.sh"

setup_service_test

test_expect_success 'a commit inside an owner imported from app.db is blocked' '
	test_when_finished "git reset -q --hard base" &&
	write_jobs app/jobs.py bad &&
	git add app/jobs.py &&
	test_must_fail git commit -m bad >out 2>&1 &&
	head_is base &&
	L=$(line_of app/jobs.py "await session.commit()") &&
	D=$(line_of app/db.py "^async def get_background_session") &&
	grep "^app/jobs.py:$L:15: critical TX001 " out &&
	grep "TX001.*get_background_session" out &&
	grep "get_background_session.*app/db.py:$D" out &&
	grep "commit blocked" out &&
	test "$(grep -c "critical TX001" out)" = 1
'

test_expect_success 'the hook and txguard check both exit 1, naming the owner' '
	test_when_finished "git reset -q --hard base" &&
	write_jobs app/jobs.py bad &&
	git add app/jobs.py &&
	test_expect_code 1 run_hook >out 2>err &&
	test_expect_code 1 txguard check >out 2>err &&
	D=$(line_of app/db.py "^async def get_background_session") &&
	grep "= owner: get_background_session, defined at app/db.py:$D" out &&
	test_expect_code 1 txguard check --format json >out.json 2>err &&
	grep "\"rule\": *\"TX001\"" out.json &&
	grep "app/db.py:$D" out.json &&
	rm out.json
'

test_expect_success 'a rollback in the owner block is blocked too' '
	test_when_finished "git reset -q --hard base" &&
	write_file app/retry.py <<-\EOF &&
	from app.db import get_background_session


	async def retry_failed(stmt) -> None:
	    async with get_background_session() as session:
	        try:
	            await session.execute(stmt)
	        except Exception:
	            await session.rollback()
	            raise
	EOF
	git add app/retry.py &&
	test_must_fail git commit -m rollback >out 2>&1 &&
	head_is base &&
	L=$(line_of app/retry.py "await session.rollback()") &&
	grep "^app/retry.py:$L:19: critical TX001 session.rollback()" out
'

test_expect_success 'through `from app import db as d` ... d.get_background_session()' '
	test_when_finished "git reset -q --hard base" &&
	write_file app/reports.py <<-\EOF &&
	from sqlalchemy import update

	from app import db as d
	from app.models import Job


	async def archive_done() -> int:
	    async with d.get_background_session() as session:
	        result = await session.execute(
	            update(Job).where(Job.status == "done").values(status="archived")
	        )
	        await session.commit()
	        return result.rowcount
	EOF
	git add app/reports.py &&
	test_must_fail git commit -m alias >out 2>&1 &&
	head_is base &&
	L=$(line_of app/reports.py "await session.commit()") &&
	D=$(line_of app/db.py "^async def get_background_session") &&
	grep "^app/reports.py:$L:15: critical TX001 " out &&
	grep "get_background_session.*app/db.py:$D" out &&
	test_expect_code 1 txguard check >out 2>err
'

test_expect_success 'through `from app.db import get_background_session as bg_session`' '
	test_when_finished "git reset -q --hard base" &&
	write_jobs app/jobs.py bad \
		"from app.db import get_background_session as bg_session" bg_session &&
	git add app/jobs.py &&
	test_must_fail git commit -m as-name >out 2>&1 &&
	head_is base &&
	L=$(line_of app/jobs.py "await session.commit()") &&
	D=$(line_of app/db.py "^async def get_background_session") &&
	grep "^app/jobs.py:$L:15: critical TX001 " out &&
	grep "app/db.py:$D" out
'

test_expect_success 'through `import app.db` ... app.db.get_background_session()' '
	test_when_finished "git reset -q --hard base" &&
	write_jobs app/jobs.py bad "import app.db" app.db.get_background_session &&
	git add app/jobs.py &&
	test_must_fail git commit -m dotted >out 2>&1 &&
	head_is base &&
	L=$(line_of app/jobs.py "await session.commit()") &&
	D=$(line_of app/db.py "^async def get_background_session") &&
	grep "^app/jobs.py:$L:15: critical TX001 " out &&
	grep "app/db.py:$D" out
'

test_expect_success 'through a relative import (from .db import ...)' '
	test_when_finished "git reset -q --hard base" &&
	write_jobs app/jobs.py bad "from .db import get_background_session" &&
	git add app/jobs.py &&
	test_must_fail git commit -m relative >out 2>&1 &&
	head_is base &&
	L=$(line_of app/jobs.py "await session.commit()") &&
	grep "^app/jobs.py:$L:15: critical TX001 " out
'

test_expect_success 're-exported through two packages; packages that re-export nothing change nothing' '
	test_when_finished "git reset -q --hard base && git clean -qfd app" &&
	write_file app/__init__.py <<-\EOF &&
	from .db import get_background_session
	EOF
	write_file app/services/__init__.py <<-\EOF &&
	from app import get_background_session as bg
	EOF
	write_file app/misc/__init__.py <<-\EOF &&
	import os

	from .text import slugify
	EOF
	write_file app/misc/text.py <<-\EOF &&
	def slugify(s):
	    return s.lower()
	EOF
	git add -A &&
	git commit -m packages >out 2>&1 &&
	! grep "TX00" out &&
	write_jobs app/jobs.py bad "from app.services import bg" bg &&
	git add app/jobs.py &&
	test_must_fail git commit -m through-packages >out 2>&1 &&
	L=$(line_of app/jobs.py "await session.commit()") &&
	D=$(line_of app/db.py "^async def get_background_session") &&
	grep "^app/jobs.py:$L:15: critical TX001 " out &&
	grep "app/db.py:$D" out &&
	test "$(grep -c "critical TX001" out)" = 1 &&
	git commit -q --no-verify -m debt &&
	test_expect_code 1 txguard scan -j1 >out1 2>err &&
	test_expect_code 1 txguard scan -j2 >out2 2>err &&
	test_cmp out1 out2 &&
	grep "^app/jobs.py:$L:15: critical TX001 " out1 &&
	test "$(grep -c "critical TX001" out1)" = 1
'

test_expect_success 'through a wrapper owner in a third module (app/wrappers.py)' '
	test_when_finished "git reset -q --hard base" &&
	write_file app/worker.py <<-\EOF &&
	import asyncio

	from sqlalchemy import delete

	from app.models import Job
	from app.wrappers import job_session


	async def purge_cancelled() -> None:
	    async with job_session() as session:
	        await session.execute(delete(Job).where(Job.status == "cancelled"))
	        await session.commit()


	def main() -> None:
	    asyncio.run(purge_cancelled())
	EOF
	git add app/worker.py &&
	test_must_fail git commit -m wrapper >out 2>&1 &&
	head_is base &&
	L=$(line_of app/worker.py "await session.commit()") &&
	W=$(line_of app/wrappers.py "^async def job_session") &&
	grep "^app/worker.py:$L:15: critical TX001 " out &&
	grep "job_session.*app/wrappers.py:$W" out &&
	test_expect_code 1 txguard check >out 2>err
'

test_expect_success 'a new wrapper and its use in one commit are blocked' '
	test_when_finished "git reset -q --hard base" &&
	write_file app/tasks/__init__.py </dev/null &&
	write_file app/tasks/session.py <<-\EOF &&
	import contextlib

	from app import db


	@contextlib.asynccontextmanager
	async def task_session():
	    async with db.get_background_session() as session:
	        yield session
	EOF
	write_file app/tasks/cleanup.py <<-\EOF &&
	from sqlalchemy import text

	from app.tasks.session import task_session


	async def vacuum_sessions() -> None:
	    async with task_session() as s:
	        await s.execute(text("delete from web_sessions where expires_at < now()"))
	        await s.commit()
	EOF
	git add app/tasks &&
	test_must_fail git commit -m new-wrapper >out 2>&1 &&
	head_is base &&
	L=$(line_of app/tasks/cleanup.py "await s.commit()") &&
	T=$(line_of app/tasks/session.py "^async def task_session") &&
	grep "^app/tasks/cleanup.py:$L:15: critical TX001 " out &&
	grep "task_session.*app/tasks/session.py:$T" out
'

test_expect_success 'the same-named helper of app/legacy.py only closes: allowed' '
	test_when_finished "git reset -q --hard base" &&
	write_jobs app/jobs.py bad "from app.legacy import get_background_session" &&
	git add app/jobs.py &&
	test_expect_code 0 txguard check >out 2>err &&
	git commit -m legacy >out 2>&1 &&
	test "$(git rev-parse HEAD^)" = "$(git rev-parse base)" &&
	! grep "TX00" out
'

test_expect_success '`from app import legacy` ... legacy.get_background_session(): allowed' '
	test_when_finished "git reset -q --hard base" &&
	write_file app/export.py <<-\EOF &&
	from sqlalchemy import update

	from app import legacy
	from app.models import Job


	async def mark_exported(ids: list[int]) -> None:
	    async with legacy.get_background_session() as session:
	        await session.execute(
	            update(Job).where(Job.id.in_(ids)).values(status="exported")
	        )
	        await session.commit()
	EOF
	git add app/export.py &&
	git commit -m legacy-module >out 2>&1 &&
	test "$(git rev-parse HEAD^)" = "$(git rev-parse base)" &&
	! grep "TX00" out
'

test_expect_success 'a local definition shadowing the import: allowed' '
	test_when_finished "git reset -q --hard base" &&
	write_file app/sync_jobs.py <<-\EOF &&
	from contextlib import asynccontextmanager

	from sqlalchemy import update

	from app.db import async_session_factory, get_background_session  # noqa: F401
	from app.models import Job


	@asynccontextmanager
	async def get_background_session():  # noqa: F811
	    async with async_session_factory() as session:
	        yield session


	async def requeue(job_id: int) -> None:
	    async with get_background_session() as session:
	        await session.execute(
	            update(Job).where(Job.id == job_id).values(status="queued")
	        )
	        await session.commit()
	EOF
	git add app/sync_jobs.py &&
	test_expect_code 0 txguard check >out 2>err &&
	git commit -m shadow >out 2>&1 &&
	test "$(git rev-parse HEAD^)" = "$(git rev-parse base)" &&
	! grep "TX00" out
'

test_expect_success 'a same-named local helper without any import: allowed' '
	test_when_finished "git reset -q --hard base" &&
	write_file scripts/backfill.py <<-\EOF &&
	import asyncio
	from contextlib import asynccontextmanager

	from sqlalchemy import text
	from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

	engine = create_async_engine("postgresql+asyncpg://app@localhost/app")
	factory = async_sessionmaker(engine)


	@asynccontextmanager
	async def get_background_session():
	    async with factory() as session:
	        yield session


	async def backfill() -> None:
	    async with get_background_session() as session:
	        await session.execute(text("update jobs set status = lower(status)"))
	        await session.commit()


	if __name__ == "__main__":
	    asyncio.run(backfill())
	EOF
	git add scripts/backfill.py &&
	git commit -m local >out 2>&1 &&
	test "$(git rev-parse HEAD^)" = "$(git rev-parse base)" &&
	! grep "TX00" out
'

test_expect_success 'a wrapper around the closing helper is no owner: allowed' '
	test_when_finished "git reset -q --hard base" &&
	write_file app/reporting.py <<-\EOF &&
	from contextlib import asynccontextmanager

	from sqlalchemy import text

	from app.legacy import get_background_session


	@asynccontextmanager
	async def report_session():
	    async with get_background_session() as s:
	        yield s


	async def refresh_views() -> None:
	    async with report_session() as s:
	        await s.execute(text("refresh materialized view job_stats"))
	        await s.commit()
	EOF
	git add app/reporting.py &&
	git commit -m closing-wrapper >out 2>&1 &&
	test "$(git rev-parse HEAD^)" = "$(git rev-parse base)" &&
	! grep "TX00" out
'

test_done
