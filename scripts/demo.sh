#!/bin/sh
# make demo: the main job on a throwaway repository. One commit adds an
# explicit commit inside an owning context manager and is blocked; the fix
# is committed.
set -eu
txguard=${1:?usage: demo.sh /path/to/txguard}
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL="$tmp/gitconfig"
git config --global init.defaultBranch main
git config --global user.name "Demo"
git config --global user.email demo@example.com

# headings in bold on a terminal only: a log or a pipe gets plain text
if [ -t 1 ] && [ "${TERM:-dumb}" != dumb ] && [ -z "${NO_COLOR:-}" ]; then
	say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	say() { printf '\n== %s\n' "$*"; }
fi

say "a throwaway repository with txguard's pre-commit hook"
git init -q app
TXGUARD=$txguard sh "$top/install.sh" --no-deps --no-build app
cd app
mkdir -p app
cat >app/db.py <<'PY'
from contextlib import asynccontextmanager
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

engine = create_async_engine("postgresql+asyncpg://app@localhost/app")
async_session_factory = async_sessionmaker(engine)


@asynccontextmanager
async def get_background_session():
    """Commits on success, rolls back on error, always closes."""
    session = async_session_factory()
    try:
        yield session
        await session.commit()
    except Exception:
        await session.rollback()
        raise
    finally:
        await session.close()
PY
printf '[txguard]\n\towner = get_background_session\n' >.txguard
git add -A
git commit -q -m "db helpers"
echo "committed app/db.py and .txguard (owner = get_background_session)"

say "commit 1: an explicit commit inside get_background_session() - blocked"
cat >app/jobs.py <<'PY'
from sqlalchemy import update

from .db import get_background_session
from .models import Job


async def mark_running(job_id):
    async with get_background_session() as session:
        await session.execute(update(Job).where(Job.id == job_id).values(status="running"))
        await session.commit()
PY
git add app/jobs.py
before=$(git rev-parse HEAD)
if TXGUARD=$txguard git commit -m "mark jobs running"; then
	echo "demo: the commit was not blocked" >&2
	exit 1
fi
[ "$(git rev-parse HEAD)" = "$before" ]
echo "(git refused the commit: HEAD did not move)"

say "commit 2: the block already commits on exit, so the call goes - allowed"
sed -i '/await session.commit()/d' app/jobs.py
git add app/jobs.py
TXGUARD=$txguard git commit -m "mark jobs running"
git log --oneline
