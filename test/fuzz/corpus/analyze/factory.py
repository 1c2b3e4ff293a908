from sqlalchemy.orm import sessionmaker
from sqlalchemy.ext.asyncio import async_sessionmaker, AsyncSession

SessionLocal = sessionmaker(bind=engine)
async_session_factory = async_sessionmaker(engine)


def leak():
    s = SessionLocal()  # expect: TX002
    s.add(1)


def ok_finally():
    s = SessionLocal()
    try:
        s.add(1)
    finally:
        s.close()


def handed_back():
    s = Session(engine)
    return s


async def leak_async():
    s = AsyncSession(engine)  # expect: TX002
    await s.execute(1)


def gen():
    s = async_session_factory()
    try:
        yield s
    finally:
        s.close()
