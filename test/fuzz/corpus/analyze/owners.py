from contextlib import asynccontextmanager, contextmanager
import contextlib

from .db import get_background_session, SessionLocal


@asynccontextmanager
async def transactional_session():
    async with SessionLocal() as session:
        yield session
        await session.commit()


@contextlib.contextmanager
def sync_tx():
    s = SessionLocal()
    try:
        yield s
        s.commit()
    except Exception:
        s.rollback()
        raise
    finally:
        s.close()


async def mark(job_id):
    async with get_background_session() as session:
        await session.commit()  # expect: TX001
        def later():
            session.commit()
        await (
            session
            .rollback()  # expect: TX001
        )


class Scanner:
    @staticmethod
    async def run(self):
        async with transactional_session() as s, other() as t:
            await s.commit()  # expect: TX001
            s = None
            await s.commit()


def nested():
    def inner():
        class Local:
            def method(self):
                with db.get_session() as s:
                    s.commit()  # expect: TX001
        return Local
    return inner
