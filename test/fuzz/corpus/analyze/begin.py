from sqlalchemy.orm import Session


def a(session, engine):
    with session.begin():
        session.commit()  # expect: TX001
    with Session.begin() as s:
        s.rollback()  # expect: TX001
    with session.begin_nested():
        session.commit()  # expect: TX001


async def b(engine):
    async with engine.begin() as conn:
        await conn.commit()  # expect: TX001
    with Session(engine) as s:
        s.commit()
    with Session(engine) as s, s.begin():
        lam = lambda: s.commit()
        s.commit()  # expect: TX001
