from typing import Annotated
from fastapi import Depends


async def get_db():
    async with get_background_session() as session:
        yield session


def get_db_commit():
    s = SessionLocal()
    yield s
    s.commit()


SessionDep = Annotated[AsyncSession, Depends(get_db)]


async def route(db=Depends(get_db)):
    await db.commit()  # expect: TX001


async def route2(db: SessionDep):
    await db.commit()  # expect: TX001


async def route3(db: Annotated[Session, Depends(get_db_commit)]):
    db.rollback()  # expect: TX001
