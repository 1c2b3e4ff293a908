#!/bin/sh
# SQLAlchemy's own owners need no configuration: `with session.begin():`
# owns the session; `with Session(engine) as s:` only closes it.
. "$(dirname "$0")/lib.sh"

test_create_repo repo && cd repo || exit 1

test_expect_success 'setup: no .txguard at all' '
	install_hook . &&
	echo "# models" >models.py &&
	git add models.py &&
	git commit -q -m base &&
	git tag base
'

test_expect_success 'with session.begin(): + session.commit() blocks' '
	test_when_finished "git reset -q --hard base" &&
	write_file app/save.py <<-\EOF &&
	def save(session, obj):
	    with session.begin():
	        session.add(obj)
	        session.commit()
	EOF
	git add app/save.py &&
	test_must_fail git commit -m begin >out 2>&1 &&
	grep "app/save.py:4:9: critical TX001" out &&
	test "$(git rev-parse HEAD)" = "$(git rev-parse base)"
'

test_expect_success 'async with engine.begin() as conn: + conn.rollback() blocks' '
	test_when_finished "git reset -q --hard base" &&
	write_file app/conn.py <<-\EOF &&
	async def purge(engine, stmt):
	    async with engine.begin() as conn:
	        try:
	            await conn.execute(stmt)
	        except Exception:
	            await conn.rollback()
	            raise
	EOF
	git add app/conn.py &&
	test_must_fail git commit -m engine-begin >out 2>&1 &&
	grep "app/conn.py:6:19: critical TX001" out
'

test_expect_success 'with Session(engine) as s: s.commit() passes' '
	test_when_finished "git reset -q --hard base" &&
	write_file app/plain.py <<-\EOF &&
	from sqlalchemy.orm import Session


	def save(engine, obj):
	    with Session(engine) as s:
	        s.add(obj)
	        s.commit()
	EOF
	git add app/plain.py &&
	git commit -m plain >out 2>&1 &&
	! grep TX001 out
'

test_expect_success 'a commit in a nested def inside the block passes' '
	test_when_finished "git reset -q --hard base" &&
	write_file app/nested.py <<-\EOF &&
	def save(session, obj, later):
	    with session.begin():
	        session.add(obj)

	        def callback():
	            session.commit()

	        later(callback)
	EOF
	git add app/nested.py &&
	git commit -m nested >out 2>&1
'

test_done
