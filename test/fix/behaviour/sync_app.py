"""A sync SQLAlchemy program whose redundant commits txguard fix removes.

Run it, fix it, run it again: the rows it leaves and the transactions
the engine saw (begun, committed, rolled back, per function) must be
the same. `moved` has a commit in the middle of its block: the unsafe
fix changes what it does, and the test checks that this shows.
"""
import contextlib
import json

from sqlalchemy import Column, Integer, String, create_engine, event, select
from sqlalchemy.orm import declarative_base, sessionmaker
from sqlalchemy.pool import StaticPool

Base = declarative_base()


class Item(Base):
    __tablename__ = "items"
    id = Column(Integer, primary_key=True)
    name = Column(String, nullable=False)


engine = create_engine("sqlite://", future=True, poolclass=StaticPool,
                       connect_args={"check_same_thread": False})
SessionLocal = sessionmaker(engine, future=True)
events = []

for _name in ("begin", "commit", "rollback"):
    event.listen(engine, _name,
                 lambda conn, _n=_name: events.append(_n))


@contextlib.contextmanager
def transactional_session():
    session = SessionLocal()
    try:
        yield session
        session.commit()
    except Exception:
        session.rollback()
        raise
    finally:
        session.close()


def add_in_begin(name):
    with SessionLocal() as session:
        with session.begin():
            session.add(Item(name=name))
            session.commit()


def add_in_owner(name, flag):
    with transactional_session() as session:
        session.add(Item(name=name))
        if flag:
            session.commit()
        else:
            session.add(Item(name=name + "-else"))
            session.commit()


def add_in_session_and_begin(name):
    with SessionLocal() as session, session.begin():
        session.add(Item(name=name))
        session.commit()


def add_then_fail(name):
    with SessionLocal() as session:
        with session.begin():
            try:
                session.add(Item(name=name))
                session.flush()
                raise ValueError(name)
            except ValueError:
                session.rollback()
                raise


def nothing_else(name):
    with SessionLocal() as session:
        with session.begin():
            session.commit()


def on_connection(name):
    with engine.begin() as conn:
        conn.execute(Item.__table__.insert().values(name=name))
        conn.commit()


def moved(name):
    with transactional_session() as session:
        session.add(Item(name=name))
        session.commit()
        session.add(Item(name=name + "-after"))
        session.flush()
        raise ValueError(name)


def main():
    Base.metadata.create_all(engine)
    out = {}
    steps = [
        ("add_in_begin", lambda: add_in_begin("a")),
        ("add_in_owner", lambda: add_in_owner("b", True)),
        ("add_in_owner_else", lambda: add_in_owner("c", False)),
        ("add_in_session_and_begin", lambda: add_in_session_and_begin("h")),
        ("add_then_fail", lambda: add_then_fail("d")),
        ("nothing_else", lambda: nothing_else("e")),
        ("on_connection", lambda: on_connection("f")),
        ("moved", lambda: moved("g")),
    ]
    for name, step in steps:
        del events[:]
        try:
            step()
            result = "ok"
        except ValueError as e:
            result = "raised %s" % e
        out[name] = {"result": result, "events": list(events)}
    with SessionLocal() as session:
        out["rows"] = sorted(session.scalars(select(Item.name)).all())
    print(json.dumps(out, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
