# test/e2e/lib-owners.sh: repositories and helpers of the inferred-owner
# scripts (t6001, t6004-t6008), sourced after lib.sh. No .txguard in
# any of them: every owner is inferred, none configured.

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

# write_service_repo: the background-worker service: an owner, a closing
#	helper of the same name and a wrapper, in separate modules.
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
#	inside it (correct, so far) and one only reads.
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

# owner_edit_sites: the lines of the commits inside get_session (J in
#	app/jobs.py, O in app/other.py) and of the rollback (OR, other.py).
owner_edit_sites() {
	J=$(line_of app/jobs.py "await session.commit()") &&
	O=$(line_of app/other.py "await session.commit()") &&
	OR=$(line_of app/other.py "await session.rollback()")
}

# setup_service_test: the first test of a script on the background-worker
#	service (write_service_repo), committed through the hook and
#	tagged base, in a repository "repo" made the current directory.
setup_service_test() {
	test_create_repo repo && cd repo || exit 1

	test_expect_success 'setup: a service with owner, closing helper and wrapper; the hook lets it in' '
		install_hook . &&
		write_service_repo &&
		git add -A &&
		git commit -m base >out 2>&1 &&
		! grep "TX00" out &&
		git tag base &&
		test_expect_code 0 txguard scan >out 2>err &&
		! grep "TX00" out
	'
}
