#!/bin/sh
# FastAPI request scope: a session parameter from Depends(get_db), an
# Annotated[..., Depends(get_db)] or an alias of it imported from another
# module is owned when get_db commits after its yield; a dependency that
# only closes is not.
#
# No .txguard anywhere: every owner here is inferred, none configured.
. "$(dirname "$0")/lib.sh"
. "$TOP/test/e2e/lib-owners.sh"

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
	! grep "TX00" out &&
	git tag base
'

test_expect_success 'session: AsyncSession = Depends(get_db) + commit is blocked' '
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

test_expect_success 'session: SessionDep (alias from app/deps.py) + commit is blocked' '
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

test_expect_success 'session: Annotated[AsyncSession, Depends(get_db)] + commit is blocked' '
	test_when_finished "git reset -q --hard base" &&
	write_endpoint "session: Annotated[AsyncSession, Depends(get_db)]" &&
	git add app/routes.py &&
	test_must_fail git commit -m create-annotated >out 2>&1 &&
	head_is base &&
	L=$(last_line_of app/routes.py "await session.commit()") &&
	grep "^app/routes.py:$L:11: critical TX001 " out
'

test_expect_success 'a dependency that only closes: Depends and alias are allowed' '
	test_when_finished "git reset -q --hard base" &&
	write_endpoint "session: AsyncSession = Depends(get_plain_db)" &&
	git add app/routes.py &&
	test_expect_code 0 txguard check >out 2>err &&
	! grep "TX00" out &&
	write_endpoint "session: PlainSessionDep" &&
	git add app/routes.py &&
	test_expect_code 0 txguard check >out 2>err &&
	git commit -m create-plain >out 2>&1 &&
	test "$(git rev-parse HEAD^)" = "$(git rev-parse base)" &&
	! grep "TX00" out
'

test_expect_success 'scan reports a committed request-scope commit' '
	test_when_finished "git reset -q --hard base" &&
	test_expect_code 0 txguard scan >out 2>err &&
	write_endpoint "session: SessionDep" &&
	git commit -q --no-verify -am "create (debt)" &&
	test_expect_code 1 txguard scan >out 2>err &&
	L=$(last_line_of app/routes.py "await session.commit()") &&
	grep "^app/routes.py:$L:11: critical TX001 " out
'

test_done
