#!/bin/sh
# Precision on real services (issue 4; SPEC §4, §5): owners inferred from
# the repository's own context managers, in any module and through any
# import spelling; same-named helpers that only close, and local
# definitions that shadow an import, are told apart; a change that makes
# a helper an owner checks every file that uses it; FastAPI request scope
# (Depends, Annotated, aliases); branch mode and scan see the same; the
# owner index cache lives in the git common dir and a damaged cache
# changes nothing; `git commit -a` and `git commit PATH` are judged on
# what git will commit.
#
# No .txguard anywhere: every owner here is inferred, none configured.
. "$(dirname "$0")/lib.sh"

# ---- helpers ---------------------------------------------------------------

# line_of FILE PATTERN: the number of the first line of FILE matching the
#	basic regular expression PATTERN (fails when none does).
line_of() {
	line_of_=$(grep -n -e "$2" "$1" | head -n 1 | cut -d: -f1) &&
	test -n "$line_of_" &&
	echo "$line_of_"
}

# last_line_of FILE PATTERN: as line_of, the last matching line.
last_line_of() {
	line_of_=$(grep -n -e "$2" "$1" | tail -n 1 | cut -d: -f1) &&
	test -n "$line_of_" &&
	echo "$line_of_"
}

# head_is REV: HEAD is still REV (a blocked commit created nothing).
head_is() {
	test "$(git rev-parse HEAD)" = "$(git rev-parse "$1")"
}

# run_hook: the installed pre-commit hook itself, as git runs it.
run_hook() {
	run_hook_dir_=$(git rev-parse --git-path hooks) &&
	"$run_hook_dir_/pre-commit"
}

# write_jobs FILE clean|bad [IMPORT] [CALL]: the service module of the
#	background worker. mark_running uses CALL (default
#	get_background_session) imported by the line IMPORT (default `from
#	app.db import get_background_session`); "bad" ends its block with
#	`await session.commit()` (column 15), "clean" with a flush.
write_jobs() {
	case $2 in
	bad) write_jobs_call_=commit ;;
	*) write_jobs_call_=flush ;;
	esac
	write_file "$1" <<EOF
"""Background job bookkeeping."""
import logging

from sqlalchemy import select, update

${3:-from app.db import get_background_session}
from app.models import Job

log = logging.getLogger(__name__)


async def mark_running(job_id: int) -> None:
    async with ${4:-get_background_session}() as session:
        await session.execute(
            update(Job).where(Job.id == job_id).values(status="running")
        )
        log.info("job %s running", job_id)
        await session.$write_jobs_call_()


async def count_queued() -> int:
    async with ${4:-get_background_session}() as session:
        result = await session.execute(select(Job).where(Job.status == "queued"))
        return len(result.scalars().all())
EOF
}

# write_service_repo: the background-worker service (case 1, 2).
write_service_repo() {
	write_file app/__init__.py </dev/null &&
	write_file app/settings.py <<-\EOF &&
	import os

	DATABASE_URL = os.environ.get(
	    "DATABASE_URL", "postgresql+asyncpg://app:app@localhost:5432/app"
	)
	EOF
	write_file app/models.py <<-\EOF &&
	from sqlalchemy import Integer, String
	from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


	class Base(DeclarativeBase):
	    pass


	class Job(Base):
	    __tablename__ = "jobs"

	    id: Mapped[int] = mapped_column(Integer, primary_key=True)
	    status: Mapped[str] = mapped_column(String(32), default="queued")
	EOF
	write_file app/db.py <<-\EOF &&
	"""Engine and session helpers."""
	from contextlib import asynccontextmanager
	from typing import AsyncIterator

	from sqlalchemy.ext.asyncio import (
	    AsyncSession,
	    async_sessionmaker,
	    create_async_engine,
	)

	from app.settings import DATABASE_URL

	engine = create_async_engine(DATABASE_URL, pool_size=10, pool_pre_ping=True)
	async_session_factory = async_sessionmaker(engine, expire_on_commit=False)


	@asynccontextmanager
	async def get_background_session() -> AsyncIterator[AsyncSession]:
	    """A session for background work; commits when the block exits."""
	    async with async_session_factory() as session:
	        yield session
	        await session.commit()
	EOF
	write_file app/legacy.py <<-\EOF &&
	"""Sessions for the old reporting code: the caller commits."""
	from contextlib import asynccontextmanager

	from app.db import async_session_factory


	@asynccontextmanager
	async def get_background_session():
	    session = async_session_factory()
	    try:
	        yield session
	    finally:
	        await session.close()
	EOF
	write_file app/wrappers.py <<-\EOF &&
	"""Sessions for the job runner."""
	from contextlib import asynccontextmanager

	from app.db import get_background_session


	@asynccontextmanager
	async def job_session():
	    async with get_background_session() as s:
	        yield s
	EOF
	write_jobs app/jobs.py clean
}

# write_owner_edit_repo: get_session only closes; two modules commit
#	inside it (correct, so far) and one only reads (case 3).
write_owner_edit_repo() {
	write_file app/__init__.py </dev/null &&
	write_file app/db.py <<-\EOF &&
	from contextlib import asynccontextmanager

	from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

	engine = create_async_engine("postgresql+asyncpg://app@localhost/app")
	async_session_factory = async_sessionmaker(engine, expire_on_commit=False)


	@asynccontextmanager
	async def get_session():
	    async with async_session_factory() as session:
	        yield session
	EOF
	write_file app/jobs.py <<-\EOF &&
	from sqlalchemy import update

	from app.db import get_session
	from app.models import Job


	async def mark_done(job_id: int) -> None:
	    async with get_session() as session:
	        await session.execute(
	            update(Job).where(Job.id == job_id).values(status="done")
	        )
	        await session.commit()
	EOF
	write_file app/other.py <<-\EOF &&
	from app import models
	from app.db import get_session


	async def add_note(job_id: int, text: str) -> models.Note:
	    note = models.Note(job_id=job_id, text=text)
	    async with get_session() as session:
	        session.add(note)
	        try:
	            await session.commit()
	        except Exception:
	            await session.rollback()
	            raise
	    return note
	EOF
	write_file app/reader.py <<-\EOF &&
	from sqlalchemy import select

	from app.db import get_session
	from app.models import Job


	async def load(job_id: int):
	    async with get_session() as session:
	        return await session.scalar(select(Job).where(Job.id == job_id))
	EOF
	write_file app/models.py <<-\EOF
	from sqlalchemy import ForeignKey, Integer, String, Text
	from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


	class Base(DeclarativeBase):
	    pass


	class Job(Base):
	    __tablename__ = "jobs"

	    id: Mapped[int] = mapped_column(Integer, primary_key=True)
	    status: Mapped[str] = mapped_column(String(32), default="queued")


	class Note(Base):
	    __tablename__ = "notes"

	    id: Mapped[int] = mapped_column(Integer, primary_key=True)
	    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"))
	    text: Mapped[str] = mapped_column(Text)
	EOF
}

# make_get_session_own: add a commit after get_session's yield.
make_get_session_own() {
	sed "s/^        yield session\$/        yield session\\
        await session.commit()/" app/db.py >app/db.py.new &&
	mv app/db.py.new app/db.py &&
	grep -q "^        await session.commit()" app/db.py
}

# owner_edit_sites: the lines of the commits of case 3 (J in app/jobs.py,
#	O in app/other.py).
owner_edit_sites() {
	J=$(line_of app/jobs.py "await session.commit()") &&
	O=$(line_of app/other.py "await session.commit()") &&
	OR=$(line_of app/other.py "await session.rollback()")
}

# ---- case 1 and 2: the background-worker service --------------------------

test_create_repo repo && cd repo || exit 1

test_expect_success 'setup: a service with owner, closing helper and wrapper; the hook lets it in' '
	install_hook . &&
	write_service_repo &&
	git add -A &&
	git commit -m base >out 2>&1 &&
	test_must_fail grep "TX00" out &&
	git tag base &&
	test_expect_code 0 txguard scan >out 2>err &&
	test_must_fail grep "TX00" out
'

test_expect_success 'case 1: a commit inside an owner imported from app.db is blocked' '
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

test_expect_success 'case 1: the hook and txguard check both exit 1, naming the owner' '
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

test_expect_success 'case 1: a rollback in the owner block is blocked too' '
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

test_expect_success 'case 1: through `from app import db as d` ... d.get_background_session()' '
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

test_expect_success 'case 1: through `from app.db import get_background_session as bg_session`' '
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

test_expect_success 'case 1: through `import app.db` ... app.db.get_background_session()' '
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

test_expect_success 'case 1: through a relative import (from .db import ...)' '
	test_when_finished "git reset -q --hard base" &&
	write_jobs app/jobs.py bad "from .db import get_background_session" &&
	git add app/jobs.py &&
	test_must_fail git commit -m relative >out 2>&1 &&
	head_is base &&
	L=$(line_of app/jobs.py "await session.commit()") &&
	grep "^app/jobs.py:$L:15: critical TX001 " out
'

test_expect_success 'case 1: re-exported through two packages; packages that re-export nothing change nothing' '
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
	test_must_fail grep "TX00" out &&
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

test_expect_success 'case 1: through a wrapper owner in a third module (app/wrappers.py)' '
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

test_expect_success 'case 1: a new wrapper and its use in one commit are blocked' '
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

test_expect_success 'case 2: the same-named helper of app/legacy.py only closes: allowed' '
	test_when_finished "git reset -q --hard base" &&
	write_jobs app/jobs.py bad "from app.legacy import get_background_session" &&
	git add app/jobs.py &&
	test_expect_code 0 txguard check >out 2>err &&
	git commit -m legacy >out 2>&1 &&
	test "$(git rev-parse HEAD^)" = "$(git rev-parse base)" &&
	test_must_fail grep "TX00" out
'

test_expect_success 'case 2: `from app import legacy` ... legacy.get_background_session(): allowed' '
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
	test_must_fail grep "TX00" out
'

test_expect_success 'case 2: a local definition shadowing the import: allowed' '
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
	test_must_fail grep "TX00" out
'

test_expect_success 'case 2: a same-named local helper without any import: allowed' '
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
	test_must_fail grep "TX00" out
'

test_expect_success 'case 2: a wrapper around the closing helper is no owner: allowed' '
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
	test_must_fail grep "TX00" out
'

# ---- case 8: what git will commit -------------------------------------------

test_expect_success 'case 8: git commit -a with the violation unstaged is blocked' '
	test_when_finished "git reset -q --hard base" &&
	write_jobs app/jobs.py bad &&
	test_must_fail git commit -a -m all >out 2>&1 &&
	head_is base &&
	L=$(line_of app/jobs.py "await session.commit()") &&
	grep "^app/jobs.py:$L:15: critical TX001 " out &&
	grep "get_background_session" out &&
	git diff --cached --quiet
'

test_expect_success 'case 8: git commit PATH with the violation unstaged is blocked' '
	test_when_finished "git reset -q --hard base" &&
	write_jobs app/jobs.py bad &&
	test_must_fail git commit -m path app/jobs.py >out 2>&1 &&
	head_is base &&
	L=$(line_of app/jobs.py "await session.commit()") &&
	grep "^app/jobs.py:$L:15: critical TX001 " out &&
	git diff --cached --quiet
'

test_expect_success 'case 8: git commit -a with a bad staged copy but a fixed work tree passes' '
	test_when_finished "git reset -q --hard base" &&
	write_jobs app/jobs.py bad &&
	git add app/jobs.py &&
	write_jobs app/jobs.py clean &&
	echo "# reviewed" >>app/jobs.py &&
	git commit -a -m fixed >out 2>&1 &&
	test "$(git rev-parse HEAD^)" = "$(git rev-parse base)" &&
	test_must_fail grep "TX00" out &&
	test_must_fail git grep -q "await session.commit()" HEAD -- app/jobs.py
'

test_expect_success 'case 8: git commit PATH commits the work tree copy, and is judged on it' '
	test_when_finished "git reset -q --hard base" &&
	write_jobs app/jobs.py clean &&
	echo "# staged" >>app/jobs.py &&
	git add app/jobs.py &&
	write_jobs app/jobs.py bad &&
	test_must_fail git commit -m path app/jobs.py >out 2>&1 &&
	head_is base &&
	grep "^app/jobs.py:.*critical TX001" out
'

test_expect_success 'case 8: plain git commit judges the index, not the work tree' '
	test_when_finished "git reset -q --hard base" &&
	write_jobs app/jobs.py clean &&
	echo "# staged" >>app/jobs.py &&
	git add app/jobs.py &&
	write_jobs app/jobs.py bad &&
	git commit -m index-only >out 2>&1 &&
	test "$(git rev-parse HEAD^)" = "$(git rev-parse base)" &&
	test_must_fail grep "TX00" out
'

# ---- case 5 and 6: branch mode and scan on case 1 ---------------------------

test_expect_success 'case 5: check --base main on a branch introducing case 1 exits 1' '
	git checkout -q -b feature base &&
	test_tick &&
	write_jobs app/jobs.py bad &&
	git commit -q --no-verify -am "feature: commit after update" &&
	test_tick &&
	echo "# later" >>app/models.py &&
	git commit -q -am "later" &&
	test_expect_code 1 txguard check --base main >out 2>err &&
	L=$(line_of app/jobs.py "await session.commit()") &&
	D=$(line_of app/db.py "^async def get_background_session") &&
	grep "^app/jobs.py:$L:15: critical TX001 " out &&
	grep "get_background_session.*app/db.py:$D" out &&
	test "$(grep -c "critical TX001" out)" = 1 &&
	git checkout -q main
'

test_expect_success 'case 5: check --base main on a branch with only closing-helper commits exits 0' '
	git checkout -q -b feature-legacy base &&
	test_tick &&
	write_jobs app/jobs.py bad "from app.legacy import get_background_session" &&
	git commit -q --no-verify -am "use the legacy helper" &&
	test_expect_code 0 txguard check --base main >out 2>err &&
	test_must_fail grep "TX00" out &&
	git checkout -q main
'

test_expect_success 'case 6: scan reports case 1 once committed (exit 1), not before' '
	test_expect_code 0 txguard scan >out 2>err &&
	test_must_fail grep "TX00" out &&
	git checkout -q feature &&
	test_expect_code 1 txguard scan >out 2>err &&
	L=$(line_of app/jobs.py "await session.commit()") &&
	D=$(line_of app/db.py "^async def get_background_session") &&
	grep "^app/jobs.py:$L:15: critical TX001 " out &&
	grep "app/db.py:$D" out &&
	test "$(grep -c "critical TX001" out)" = 1 &&
	git checkout -q main &&
	test_expect_code 1 txguard scan --rev feature >out 2>err &&
	grep "^app/jobs.py:$L:15: critical TX001 " out &&
	test_expect_code 0 txguard scan --rev feature-legacy >out 2>err
'

# ---- case 7: the owner index cache -----------------------------------------

# snapshot FILE: everything git can see of the work tree and the index.
snapshot() {
	{
		git status --porcelain --untracked-files=all --ignored &&
		git ls-files -s
	} >"$1"
}

test_expect_success 'case 7: the cache is in the git common dir, never in the work tree or index' '
	test_when_finished "git reset -q --hard base" &&
	common=$(git rev-parse --git-common-dir) &&
	rm -rf "$common/txguard" &&
	write_jobs app/jobs.py bad &&
	git add app/jobs.py &&
	snapshot ../st.before &&
	test_must_fail git commit -m bad >../c.out 2>&1 &&
	head_is base &&
	snapshot ../st.after &&
	test_cmp ../st.before ../st.after &&
	grep "critical TX001" ../c.out &&
	test -d "$common/txguard" &&
	ls "$common/txguard" >../cache.list &&
	test -s ../cache.list &&
	test -z "$(find "$common/txguard" -mindepth 1 ! -type f)" &&
	test -n "$(find "$common/txguard" -type f -size +0)" &&
	test_must_fail git ls-files --error-unmatch "*ownerdb*" 2>/dev/null &&
	test -z "$(find . -path ./.git -prune -o -name "*ownerdb*" -print)" &&
	test -z "$(find . -path ./.git -prune -o -name txguard -print)"
'

# The ways a cache file gets damaged; each runs in the cache directory,
#	on every file there, with the good copies in $TRASH_DIRECTORY/good-cache.
damage_none() {
	:
}
damage_garbage() {
	for f in *; do
		yes "garbage $(printf '\001\377')" | head -c 5000 >"$f" || return 1
	done
}
damage_magic() {
	for f in *; do
		{ printf 'TXGODB\000\001'; yes junk | head -c 4000; } >"$f" || return 1
	done
}
damage_empty() {
	for f in *; do
		: >"$f" || return 1
	done
}
damage_header() {
	for f in *; do
		head -c 33 "$TRASH_DIRECTORY/good-cache/$f" >"$f" || return 1
	done
}
damage_half() {
	for f in *; do
		n=$(wc -c <"$TRASH_DIRECTORY/good-cache/$f") &&
		head -c $((n / 2)) "$TRASH_DIRECTORY/good-cache/$f" >"$f" || return 1
	done
}
damage_tail() {
	for f in *; do
		n=$(wc -c <"$TRASH_DIRECTORY/good-cache/$f") &&
		{
			head -c $((n > 9 ? n - 9 : 0)) "$TRASH_DIRECTORY/good-cache/$f"
			printf '\377\377\377\377\377\377\377\377\377'
		} >"$f" || return 1
	done
}

# cache_case NAME: with case 1 staged and a good cache saved in
#	$TRASH_DIRECTORY/good-cache, damage the cache with damage_NAME, run
#	txguard check, and compare with the run without a cache.
cache_case() {
	rm -rf "$common/txguard" &&
	mkdir "$common/txguard" &&
	cp "$TRASH_DIRECTORY"/good-cache/* "$common/txguard/" &&
	(cd "$common/txguard" && "damage_$1") &&
	test_expect_code 1 txguard check >"../$1.out" 2>"../$1.err" &&
	test_cmp ../nocache.out "../$1.out" &&
	test_cmp ../nocache.err "../$1.err"
}

test_expect_success 'case 7: a corrupt or truncated cache gives the result of no cache' '
	test_when_finished "git reset -q --hard base" &&
	common=$(git rev-parse --git-common-dir) &&
	write_jobs app/jobs.py bad &&
	git add app/jobs.py &&
	rm -rf "$common/txguard" ../good-cache &&
	test_expect_code 1 txguard check >../nocache.out 2>../nocache.err &&
	grep "critical TX001" ../nocache.out &&
	mkdir ../good-cache &&
	cp "$common"/txguard/* ../good-cache/ &&
	cache_case none &&
	cache_case garbage &&
	cache_case magic &&
	cache_case empty &&
	cache_case header &&
	cache_case half &&
	cache_case tail &&
	(cd "$common/txguard" && damage_garbage) &&
	test_must_fail git commit -m bad >../c.out 2>&1 &&
	head_is base &&
	grep "critical TX001" ../c.out
'

test_expect_success 'case 7: a stale cache from other trees (the owner changed since) is not trusted' '
	test_when_finished "git reset -q --hard base" &&
	common=$(git rev-parse --git-common-dir) &&
	write_jobs app/jobs.py bad "from app.legacy import get_background_session" &&
	git add app/jobs.py &&
	test_expect_code 0 txguard check >out 2>err &&
	git reset -q --hard base &&
	write_jobs app/jobs.py bad &&
	git add app/jobs.py &&
	test_expect_code 1 txguard check >out 2>err &&
	test_cmp ../nocache.out out
'

test_expect_success 'case 7: a linked worktree gives the same results, cache in the common dir' '
	git worktree add -q ../wt1 -b wt1 base &&
	common=$(git rev-parse --git-common-dir) &&
	common=$(cd "$common" && pwd) &&
	(
		cd ../wt1 &&
		wtdir=$(git rev-parse --git-dir) &&
		test "$(cd "$(git rev-parse --git-common-dir)" && pwd)" = "$common" &&
		test_expect_code 0 txguard check >out 2>err &&
		write_jobs app/jobs.py bad &&
		git add app/jobs.py &&
		snapshot ../st.before &&
		test_must_fail git commit -m wt >../wt.out 2>&1 &&
		head_is base &&
		snapshot ../st.after &&
		test_cmp ../st.before ../st.after &&
		test_expect_code 1 txguard check >../wt-check.out 2>err &&
		test_cmp ../nocache.out ../wt-check.out &&
		L=$(line_of app/jobs.py "await session.commit()") &&
		grep "^app/jobs.py:$L:15: critical TX001 " ../wt.out &&
		test ! -e "$wtdir/txguard" &&
		test -d "$common/txguard" &&
		write_jobs app/jobs.py bad "from app.legacy import get_background_session" &&
		git add app/jobs.py &&
		git commit -m wt-legacy >../wt.out 2>&1 &&
		test_must_fail grep "TX00" ../wt.out
	) &&
	rm -rf "$common/txguard" &&
	(
		cd ../wt1 &&
		git reset -q --hard base &&
		write_jobs app/jobs.py bad "from app import db as d" d.get_background_session &&
		git add app/jobs.py &&
		test_must_fail git commit -m wt-alias >../wt.out 2>&1 &&
		head_is base &&
		grep "^app/jobs.py:.*critical TX001" ../wt.out &&
		test -z "$(find . -name "*ownerdb*")"
	) &&
	ls "$common/txguard" | grep . &&
	git worktree remove --force ../wt1
'

# ---- case 3: a change that makes a helper an owner -------------------------

cd "$TRASH_DIRECTORY" || exit 1
test_create_repo owner-edit && cd owner-edit || exit 1

test_expect_success 'setup: get_session only closes; commits inside it are right; the hook agrees' '
	install_hook . &&
	write_owner_edit_repo &&
	git add -A &&
	git commit -m base >out 2>&1 &&
	test_must_fail grep "TX00" out &&
	git tag base &&
	test_expect_code 0 txguard scan >out 2>err
'

test_expect_success 'case 3: making get_session commit after its yield blocks, naming the call sites' '
	test_when_finished "git reset -q --hard base" &&
	make_get_session_own &&
	git add app/db.py &&
	test "$(git diff --cached --name-only)" = app/db.py &&
	test_must_fail git commit -m "commit on exit" >out 2>&1 &&
	head_is base &&
	owner_edit_sites &&
	G=$(line_of app/db.py "^async def get_session") &&
	grep "^app/jobs.py:$J:15: critical TX001 " out &&
	grep "^app/other.py:$O:19: critical TX001 " out &&
	grep "^app/other.py:$OR:19: critical TX001 " out &&
	grep "get_session.*app/db.py:$G" out &&
	test_must_fail grep "app/reader.py:.*TX001" out &&
	test "$(grep -c "critical TX001" out)" = 3
'

test_expect_success 'case 3: the hook and txguard check exit 1 on the owner edit' '
	test_when_finished "git reset -q --hard base" &&
	make_get_session_own &&
	git add app/db.py &&
	test_expect_code 1 run_hook >out 2>err &&
	test_expect_code 1 txguard check >out 2>err &&
	owner_edit_sites &&
	grep "^app/jobs.py:$J:" out &&
	grep "^app/other.py:$O:" out
'

test_expect_success 'case 3: the owner edit through git commit -a and git commit PATH' '
	test_when_finished "git reset -q --hard base" &&
	make_get_session_own &&
	test_must_fail git commit -a -m all >out 2>&1 &&
	head_is base &&
	owner_edit_sites &&
	grep "^app/jobs.py:$J:15: critical TX001 " out &&
	grep "^app/other.py:$O:19: critical TX001 " out &&
	test_must_fail git commit -m path app/db.py >out 2>&1 &&
	head_is base &&
	grep "^app/jobs.py:$J:15: critical TX001 " out &&
	grep "^app/other.py:$O:19: critical TX001 " out
'

test_expect_success 'case 3: the reverse edit (removing the commit) is allowed' '
	test_when_finished "git reset -q --hard base" &&
	make_get_session_own &&
	git commit -q --no-verify -am "owner (debt)" &&
	owned=$(git rev-parse HEAD) &&
	git show base:app/db.py >app/db.py &&
	git add app/db.py &&
	test_expect_code 0 txguard check >out 2>err &&
	git commit -m "closes only again" >out 2>&1 &&
	test "$(git rev-parse HEAD^)" = "$owned" &&
	test_must_fail grep "TX00" out
'

test_expect_success 'case 3: an unrelated edit of get_session is allowed' '
	test_when_finished "git reset -q --hard base" &&
	sed "s/^async def get_session():\$/async def get_session():\\
    \"\"\"A session for one unit of work; the caller commits.\"\"\"/" \
		app/db.py >app/db.py.new &&
	mv app/db.py.new app/db.py &&
	grep "the caller commits" app/db.py &&
	git add app/db.py &&
	test_expect_code 0 txguard check >out 2>err &&
	git commit -m docstring >out 2>&1 &&
	test "$(git rev-parse HEAD^)" = "$(git rev-parse base)" &&
	test_must_fail grep "TX00" out
'

test_expect_success 'case 3: an unrelated edit elsewhere in app/db.py is allowed' '
	test_when_finished "git reset -q --hard base" &&
	sed "s|^engine = create_async_engine(\(.*\))\$|engine = create_async_engine(\1, pool_size=20)|" \
		app/db.py >app/db.py.new &&
	mv app/db.py.new app/db.py &&
	grep "pool_size=20" app/db.py &&
	cat >>app/db.py <<-\EOF &&


	async def ping() -> bool:
	    async with engine.connect() as conn:
	        await conn.exec_driver_sql("select 1")
	    return True
	EOF
	git add app/db.py &&
	test_expect_code 0 txguard check >out 2>err &&
	git commit -m unrelated >out 2>&1 &&
	test "$(git rev-parse HEAD^)" = "$(git rev-parse base)" &&
	test_must_fail grep "TX00" out
'

test_expect_success 'case 5: check --base main on a branch whose only change is the owner edit' '
	git checkout -q -b owner-edit base &&
	test_tick &&
	make_get_session_own &&
	git commit -q --no-verify -am "get_session commits on exit" &&
	test "$(git diff --name-only main HEAD)" = app/db.py &&
	test_expect_code 1 txguard check --base main >out 2>err &&
	owner_edit_sites &&
	G=$(line_of app/db.py "^async def get_session") &&
	grep "^app/jobs.py:$J:15: critical TX001 " out &&
	grep "^app/other.py:$O:19: critical TX001 " out &&
	grep "get_session.*app/db.py:$G" out &&
	test_must_fail grep "app/reader.py:.*TX001" out &&
	git checkout -q main
'

test_expect_success 'case 5: a branch with only an unrelated db.py edit passes' '
	git checkout -q -b docstring base &&
	test_tick &&
	echo "# pool settings live in settings.py" >>app/db.py &&
	git commit -q --no-verify -am "note" &&
	test_expect_code 0 txguard check --base main >out 2>err &&
	test_must_fail grep "TX00" out &&
	git checkout -q main
'

test_expect_success 'case 6: scan of the owner-edit branch reports every call site' '
	test_expect_code 1 txguard scan --rev owner-edit >out 2>err &&
	git checkout -q owner-edit &&
	owner_edit_sites &&
	git checkout -q main &&
	grep "^app/jobs.py:$J:15: critical TX001 " out &&
	grep "^app/other.py:$O:19: critical TX001 " out &&
	test_must_fail grep "app/reader.py:.*TX001" out
'

test_expect_success 'case 3/7: the owner edit in a linked worktree with a warm cache' '
	common=$(cd "$(git rev-parse --git-common-dir)" && pwd) &&
	test -d "$common/txguard" &&
	git worktree add -q ../wt3 -b wt3 base &&
	(
		cd ../wt3 &&
		make_get_session_own &&
		git add app/db.py &&
		test_must_fail git commit -m wt-owner >out 2>&1 &&
		head_is base &&
		owner_edit_sites &&
		grep "^app/jobs.py:$J:15: critical TX001 " out &&
		grep "^app/other.py:$O:19: critical TX001 " out &&
		test ! -e "$(git rev-parse --git-dir)/txguard"
	) &&
	git worktree remove --force ../wt3
'

# ---- case 4: FastAPI request scope -----------------------------------------

cd "$TRASH_DIRECTORY" || exit 1
test_create_repo api && cd api || exit 1

# write_endpoint PARAM: app/routes.py plus a create endpoint that commits
#	its session, the session parameter spelled PARAM.
write_endpoint() {
	write_routes &&
	cat >>app/routes.py <<EOF


@router.post("/", status_code=201)
async def create(item: dict, $1):
    obj = Item(**item)
    session.add(obj)
    await session.commit()
    await session.refresh(obj)
    return {"id": obj.id}
EOF
}

write_routes() {
	write_file app/routes.py <<-\EOF
	from typing import Annotated

	from fastapi import APIRouter, Depends, HTTPException
	from sqlalchemy import select
	from sqlalchemy.ext.asyncio import AsyncSession

	from app.deps import PlainSessionDep, SessionDep, get_db, get_plain_db
	from app.models import Item

	router = APIRouter(prefix="/items", tags=["items"])


	@router.get("/")
	async def list_items(session: AsyncSession = Depends(get_db)):
	    result = await session.execute(select(Item).order_by(Item.id))
	    return result.scalars().all()


	@router.get("/{item_id}")
	async def get_item(item_id: int, session: SessionDep):
	    item = await session.get(Item, item_id)
	    if item is None:
	        raise HTTPException(status_code=404)
	    return item
	EOF
}

test_expect_success 'setup: a FastAPI app with an owning and a closing dependency' '
	install_hook . &&
	write_file app/__init__.py </dev/null &&
	write_file app/deps.py <<-\EOF &&
	from typing import Annotated, AsyncIterator

	from fastapi import Depends
	from sqlalchemy.ext.asyncio import (
	    AsyncSession,
	    async_sessionmaker,
	    create_async_engine,
	)

	engine = create_async_engine("postgresql+asyncpg://app@localhost/app")
	factory = async_sessionmaker(engine, expire_on_commit=False)


	async def get_db() -> AsyncIterator[AsyncSession]:
	    async with factory() as s:
	        yield s
	        await s.commit()


	async def get_plain_db() -> AsyncIterator[AsyncSession]:
	    async with factory() as s:
	        yield s


	SessionDep = Annotated[AsyncSession, Depends(get_db)]
	PlainSessionDep = Annotated[AsyncSession, Depends(get_plain_db)]
	EOF
	write_file app/models.py <<-\EOF &&
	from sqlalchemy import Integer, String
	from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


	class Base(DeclarativeBase):
	    pass


	class Item(Base):
	    __tablename__ = "items"

	    id: Mapped[int] = mapped_column(Integer, primary_key=True)
	    name: Mapped[str] = mapped_column(String(200))
	EOF
	write_file app/main.py <<-\EOF &&
	from fastapi import FastAPI

	from app.routes import router

	app = FastAPI()
	app.include_router(router)
	EOF
	write_routes &&
	git add -A &&
	git commit -m base >out 2>&1 &&
	test_must_fail grep "TX00" out &&
	git tag base
'

test_expect_success 'case 4: session: AsyncSession = Depends(get_db) + commit is blocked' '
	test_when_finished "git reset -q --hard base" &&
	write_endpoint "session: AsyncSession = Depends(get_db)" &&
	git add app/routes.py &&
	test_must_fail git commit -m create >out 2>&1 &&
	head_is base &&
	L=$(last_line_of app/routes.py "await session.commit()") &&
	G=$(line_of app/deps.py "^async def get_db") &&
	grep "^app/routes.py:$L:11: critical TX001 " out &&
	grep "get_db.*app/deps.py:$G" out &&
	test "$(grep -c "critical TX001" out)" = 1 &&
	test_expect_code 1 txguard check >out 2>err
'

test_expect_success 'case 4: session: SessionDep (alias from app/deps.py) + commit is blocked' '
	test_when_finished "git reset -q --hard base" &&
	write_endpoint "session: SessionDep" &&
	git add app/routes.py &&
	test_must_fail git commit -m create-alias >out 2>&1 &&
	head_is base &&
	L=$(last_line_of app/routes.py "await session.commit()") &&
	G=$(line_of app/deps.py "^async def get_db") &&
	grep "^app/routes.py:$L:11: critical TX001 " out &&
	grep "get_db.*app/deps.py:$G" out &&
	test_expect_code 1 txguard check >out 2>err
'

test_expect_success 'case 4: session: Annotated[AsyncSession, Depends(get_db)] + commit is blocked' '
	test_when_finished "git reset -q --hard base" &&
	write_endpoint "session: Annotated[AsyncSession, Depends(get_db)]" &&
	git add app/routes.py &&
	test_must_fail git commit -m create-annotated >out 2>&1 &&
	head_is base &&
	L=$(last_line_of app/routes.py "await session.commit()") &&
	grep "^app/routes.py:$L:11: critical TX001 " out
'

test_expect_success 'case 4: a dependency that only closes: Depends and alias are allowed' '
	test_when_finished "git reset -q --hard base" &&
	write_endpoint "session: AsyncSession = Depends(get_plain_db)" &&
	git add app/routes.py &&
	test_expect_code 0 txguard check >out 2>err &&
	test_must_fail grep "TX00" out &&
	write_endpoint "session: PlainSessionDep" &&
	git add app/routes.py &&
	test_expect_code 0 txguard check >out 2>err &&
	git commit -m create-plain >out 2>&1 &&
	test "$(git rev-parse HEAD^)" = "$(git rev-parse base)" &&
	test_must_fail grep "TX00" out
'

test_expect_success 'case 4/6: scan reports a committed request-scope commit' '
	test_when_finished "git reset -q --hard base" &&
	test_expect_code 0 txguard scan >out 2>err &&
	write_endpoint "session: SessionDep" &&
	git commit -q --no-verify -am "create (debt)" &&
	test_expect_code 1 txguard scan >out 2>err &&
	L=$(last_line_of app/routes.py "await session.commit()") &&
	grep "^app/routes.py:$L:11: critical TX001 " out
'

test_done
