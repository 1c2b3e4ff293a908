"""An asyncio SQLAlchemy program (AsyncSession over aiosqlite) whose
redundant commits txguard fix removes.

Run it, fix it, run it again: the rows it leaves and the transactions
the engine saw (begun, committed, rolled back, per function) must be
the same. `moved` has a commit in the middle of its block: the unsafe
fix changes what it does, and the test checks that this shows.
"""
import asyncio
import contextlib
import json

from sqlalchemy import Column, Integer, String, event, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import declarative_base, sessionmaker
from sqlalchemy.pool import StaticPool

Base = declarative_base()


class Item(Base):
    __tablename__ = "items"
    id = Column(Integer, primary_key=True)
    name = Column(String, nullable=False)


engine = create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool)
async_session_factory = sessionmaker(engine, class_=AsyncSession,
                                     expire_on_commit=False)
events = []

for _name in ("begin", "commit", "rollback"):
    event.listen(engine.sync_engine, _name,
                 lambda conn, _n=_name: events.append(_n))


@contextlib.asynccontextmanager
async def get_background_session():
    session = async_session_factory()
    try:
        yield session
        await session.commit()
    except Exception:
        await session.rollback()
        raise
    finally:
        await session.close()


async def add_in_owner(name):
    async with get_background_session() as session:
        session.add(Item(name=name))
        await session.commit()


async def add_in_begin(name, flag):
    async with async_session_factory() as session:
        async with session.begin():
            session.add(Item(name=name))
            if flag:
                await session.commit()
            elif name:
                session.add(Item(name=name + "-elif"))
                await session.commit()


async def add_then_fail(name):
    async with get_background_session() as session:
        try:
            session.add(Item(name=name))
            await session.flush()
            raise ValueError(name)
        except ValueError:
            await session.rollback()
            raise


async def moved(name):
    async with get_background_session() as session:
        session.add(Item(name=name))
        await session.commit()
        session.add(Item(name=name + "-after"))
        await session.flush()
        raise ValueError(name)


async def main():
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    out = {}
    steps = [
        ("add_in_owner", lambda: add_in_owner("a")),
        ("add_in_begin", lambda: add_in_begin("b", True)),
        ("add_in_begin_elif", lambda: add_in_begin("c", False)),
        ("add_then_fail", lambda: add_then_fail("d")),
        ("moved", lambda: moved("g")),
    ]
    for name, step in steps:
        del events[:]
        try:
            await step()
            result = "ok"
        except ValueError as e:
            result = "raised %s" % e
        out[name] = {"result": result, "events": list(events)}
    async with async_session_factory() as session:
        out["rows"] = sorted((await session.scalars(select(Item.name))).all())
    await engine.dispose()
    print(json.dumps(out, indent=1, sort_keys=True))


if __name__ == "__main__":
    asyncio.run(main())
