#!/bin/sh
# A change in one file that changes what a name in another file means
# re-checks that other file, through the installed hook and real
# commits: a dependency behind an Annotated alias whose users carry none
# of the words the owner index looks for; a re-export re-pointed in a
# package's __init__.py; a wrapper whose import is re-pointed; a
# re-export that appears; a local that shadowed an import and goes; a
# renamed module whose relative import now reads otherwise. And a
# file too costly to infer in full is said to be so, never silently
# taken as fully read.
. "$(dirname "$0")/lib.sh"

# head_is REV: HEAD is still REV (a blocked commit created nothing).
head_is() {
	test "$(git rev-parse HEAD)" = "$(git rev-parse "$1")"
}

# line_of FILE PATTERN: the number of the first line of FILE matching
#	the basic regular expression PATTERN.
line_of() {
	line_of_=$(grep -n -e "$2" "$1" | head -n 1 | cut -d: -f1) &&
	test -n "$line_of_" &&
	echo "$line_of_"
}

# write_get_db closes|commits: app/db.py's get_db, a FastAPI dependency
#	that only closes its session, or also commits it after the yield.
write_get_db() {
	case $1 in
	commits) write_get_db_after_='        db.commit()' ;;
	*) write_get_db_after_='        pass' ;;
	esac
	write_file app/db.py <<EOF
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

engine = create_engine("sqlite://")
SessionLocal = sessionmaker(bind=engine)


def get_db():
    db = SessionLocal()
    try:
        yield db
$write_get_db_after_
    finally:
        db.close()
EOF
}

# ---- an alias's users that name no pre-filter word ------------------------

cd "$TRASH_DIRECTORY" || exit 1
test_create_repo alias && cd alias || exit 1

test_expect_success 'setup: routes use an alias of a dependency that only closes' '
	install_hook . &&
	write_file app/__init__.py </dev/null &&
	write_get_db closes &&
	write_file app/deps.py <<-\EOF &&
	from typing import Annotated

	from fastapi import Depends
	from sqlalchemy.orm import Session

	from app.db import get_db

	SessionDep = Annotated[Session, Depends(get_db)]
	EOF
	write_file app/routes.py <<-\EOF &&
	from app.deps import SessionDep


	def create(db: SessionDep, name: str):
	    db.add(name)
	    db.commit()
	EOF
	write_file app/renamed.py <<-\EOF &&
	from app.deps import SessionDep as Db


	def rename(db: Db, name: str):
	    db.merge(name)
	    db.commit()
	EOF
	git add -A &&
	git commit -m base >out 2>&1 &&
	! grep "TX00" out &&
	git tag base &&
	test_expect_code 0 txguard scan >out 2>err
'

test_expect_success 'a dependency that starts to commit blocks its alias users' '
	test_when_finished "git reset -q --hard base" &&
	write_get_db commits &&
	git add app/db.py &&
	test_must_fail git commit -m "commit on exit" >out 2>&1 &&
	head_is base &&
	R=$(line_of app/routes.py "db.commit()") &&
	N=$(line_of app/renamed.py "db.commit()") &&
	grep "^app/routes.py:$R:5: critical TX001 " out &&
	grep "^app/renamed.py:$N:5: critical TX001 " out &&
	git commit --no-verify -q -m "commit on exit" &&
	test_expect_code 1 txguard scan >scan 2>err &&
	grep "^app/routes.py:$R:5: critical TX001 " scan &&
	grep "^app/renamed.py:$N:5: critical TX001 " scan
'

test_expect_success 'the alias itself imported through a package re-export' '
	test_when_finished "git reset -q --hard base" &&
	echo "from app.deps import SessionDep" >app/__init__.py &&
	write_file app/pkg_user.py <<-\EOF &&
	from app import SessionDep


	def touch(db: SessionDep):
	    db.commit()
	EOF
	git add -A &&
	git commit -m "re-export" >out 2>&1 &&
	git tag reexported &&
	write_get_db commits &&
	git add app/db.py &&
	test_must_fail git commit -m "commit on exit" >out 2>&1 &&
	head_is reexported &&
	P=$(line_of app/pkg_user.py "db.commit()") &&
	grep "^app/pkg_user.py:$P:5: critical TX001 " out
'

# ---- re-exports and wrappers re-pointed -------------------------------------

cd "$TRASH_DIRECTORY" || exit 1
test_create_repo reexport && cd reexport || exit 1

test_expect_success 'setup: a package re-exports the read-only get_session' '
	install_hook . &&
	write_file app/db_ro.py <<-\EOF &&
	from contextlib import contextmanager

	from sqlalchemy.orm import sessionmaker

	SessionLocal = sessionmaker()


	@contextmanager
	def get_session():
	    with SessionLocal() as session:
	        yield session
	EOF
	write_file app/db.py <<-\EOF &&
	from contextlib import contextmanager

	from sqlalchemy.orm import sessionmaker

	SessionLocal = sessionmaker()


	@contextmanager
	def get_session():
	    session = SessionLocal()
	    try:
	        yield session
	        session.commit()
	    finally:
	        session.close()
	EOF
	echo "from .db_ro import get_session" >app/__init__.py &&
	write_file app/jobs.py <<-\EOF &&
	from app import get_session


	def mark_done(job):
	    with get_session() as s:
	        s.add(job)
	        s.commit()
	EOF
	write_file app/wrap.py <<-\EOF &&
	from contextlib import contextmanager

	from app.db_ro import get_session


	@contextmanager
	def unit_of_work():
	    with get_session() as s:
	        yield s
	EOF
	write_file app/svc.py <<-\EOF &&
	from app.wrap import unit_of_work


	def save(item):
	    with unit_of_work() as s:
	        s.add(item)
	        s.commit()
	EOF
	git add -A &&
	git commit -m base >out 2>&1 &&
	! grep "TX00" out &&
	git tag base &&
	test_expect_code 0 txguard scan >out 2>err
'

test_expect_success 're-pointing the package re-export to the committing one blocks' '
	test_when_finished "git reset -q --hard base" &&
	echo "from .db import get_session" >app/__init__.py &&
	git add app/__init__.py &&
	test_must_fail git commit -m "re-point" >out 2>&1 &&
	head_is base &&
	J=$(line_of app/jobs.py "s.commit()") &&
	grep "^app/jobs.py:$J:9: critical TX001 " out &&
	! grep "^app/svc.py" out &&
	git commit --no-verify -q -m "re-point" &&
	test_expect_code 1 txguard scan >scan 2>err &&
	grep "^app/jobs.py:$J:9: critical TX001 " scan
'

test_expect_success 're-pointing a wrapper'"'"'s import to the committing one blocks' '
	test_when_finished "git reset -q --hard base" &&
	sed "s/from app.db_ro import/from app.db import/" app/wrap.py >tmp &&
	mv tmp app/wrap.py &&
	git add app/wrap.py &&
	test_must_fail git commit -m "re-point the wrapper" >out 2>&1 &&
	head_is base &&
	S=$(line_of app/svc.py "s.commit()") &&
	grep "^app/svc.py:$S:9: critical TX001 " out &&
	! grep "^app/jobs.py" out
'

test_expect_success 'an import change that changes no meaning lets the commit in' '
	test_when_finished "git reset -q --hard base" &&
	printf "import os\nfrom .db_ro import get_session\n" >app/__init__.py &&
	git add app/__init__.py &&
	git commit -m "harmless" >out 2>&1 &&
	! grep "TX00" out
'

# ---- re-exports that appear, shadows that go ---------------------------------

# write_owner FILE: a context manager get_session that commits on exit.
write_owner() {
	write_file "$1" <<-\EOF
	from contextlib import contextmanager

	from sqlalchemy.orm import sessionmaker

	SessionLocal = sessionmaker()


	@contextmanager
	def get_session():
	    with SessionLocal() as session:
	        yield session
	        session.commit()
	EOF
}

cd "$TRASH_DIRECTORY" || exit 1
test_create_repo appear && cd appear || exit 1

test_expect_success 'setup: a user of a name its package does not bind yet' '
	install_hook . &&
	write_file app/__init__.py </dev/null &&
	write_owner app/db.py &&
	write_file app/users.py <<-\EOF &&
	from app import get_session


	def save(user):
	    with get_session() as s:
	        s.add(user)
	        s.commit()
	EOF
	git add -A &&
	git commit -m base >out 2>&1 &&
	test_must_fail grep "TX00" out &&
	git tag base &&
	test_expect_code 0 txguard scan >out 2>err
'

test_expect_success 'a package that starts re-exporting an owner blocks its importer' '
	test_when_finished "git reset -q --hard base" &&
	echo "from .db import get_session" >app/__init__.py &&
	git add app/__init__.py &&
	test_must_fail git commit -m "re-export" >out 2>&1 &&
	head_is base &&
	U=$(line_of app/users.py "s.commit()") &&
	grep "^app/users.py:$U:9: critical TX001 " out &&
	git commit --no-verify -q -m "re-export" &&
	test_expect_code 1 txguard scan >scan 2>err &&
	grep "^app/users.py:$U:9: critical TX001 " scan
'

cd "$TRASH_DIRECTORY" || exit 1
test_create_repo shadow && cd shadow || exit 1

test_expect_success 'setup: a local helper that only closes shadows the owner' '
	install_hook . &&
	write_file app/__init__.py </dev/null &&
	write_owner app/db.py &&
	write_file app/jobs.py <<-\EOF &&
	from contextlib import contextmanager

	from app.db import SessionLocal, get_session


	@contextmanager
	def get_session():
	    session = SessionLocal()
	    try:
	        yield session
	    finally:
	        session.close()


	def run(job):
	    with get_session() as s:
	        s.add(job)
	        s.commit()
	EOF
	git add -A &&
	git commit -m base >out 2>&1 &&
	test_must_fail grep "TX00" out &&
	git tag base
'

test_expect_success 'removing the local helper blocks the function using the owner' '
	test_when_finished "git reset -q --hard base" &&
	sed "/^@contextmanager/,/session.close()/d" app/jobs.py >tmp &&
	mv tmp app/jobs.py &&
	test_must_fail grep "def get_session" app/jobs.py &&
	git add app/jobs.py &&
	test_must_fail git commit -m "drop the local helper" >out 2>&1 &&
	head_is base &&
	J=$(line_of app/jobs.py "s.commit()") &&
	grep "^app/jobs.py:$J:9: critical TX001 " out
'

# A plain module's imports are its own: `from app.routes import
# get_session` finds what app/routes.py defines, never what it imports,
# in a commit as in a scan.
cd "$TRASH_DIRECTORY" || exit 1
test_create_repo plain && cd plain || exit 1

test_expect_success 'setup: a module imports a name from a plain module' '
	install_hook . &&
	write_file app/__init__.py </dev/null &&
	write_owner app/db.py &&
	write_file app/routes.py <<-\EOF &&
	from app.db import SessionLocal as get_session


	def touch(item):
	    with get_session() as s:
	        s.add(item)
	EOF
	write_file app/reader.py <<-\EOF &&
	from app.routes import get_session


	def read(item):
	    with get_session() as s:
	        s.add(item)
	        s.commit()
	EOF
	git add -A &&
	git commit -m base >out 2>&1 &&
	test_must_fail grep "TX00" out &&
	git tag base
'

test_expect_success 'an owner imported by a plain module is not re-exported by it' '
	test_when_finished "git reset -q --hard base" &&
	sed "s/SessionLocal as get_session/get_session/" app/routes.py >tmp &&
	mv tmp app/routes.py &&
	git add app/routes.py &&
	git commit -m "import the owner" >out 2>&1 &&
	test_must_fail grep "^app/reader.py" out &&
	test_expect_code 0 txguard scan >scan 2>err &&
	test_must_fail grep "^app/reader.py" scan
'

# ---- a rename keeps its debt, relative imports included ---------------------

cd "$TRASH_DIRECTORY" || exit 1
test_create_repo moved && cd moved || exit 1

test_expect_success 'setup: a module commits inside its package'"'"'s owner' '
	install_hook . &&
	write_owner app/__init__.py &&
	write_file app/db.py <<-\EOF &&
	from . import get_session


	def handler(job):
	    with get_session() as s:
	        s.add(job)
	        s.commit()


	def pad_a():
	    return 1


	def pad_b():
	    return 2
	EOF
	git add -A &&
	git commit --no-verify -q -m base &&
	git tag base &&
	test_expect_code 1 txguard scan >out 2>err &&
	grep "^app/db.py:7:9: critical TX001 " out
'

test_expect_success 'moving it into a subpackage, its import written out, is no new finding' '
	test_when_finished "git reset -q --hard base" &&
	mkdir app/sub &&
	git mv app/db.py app/sub/__init__.py &&
	sed "s/^from \. import/from app import/" app/sub/__init__.py >tmp &&
	mv tmp app/sub/__init__.py &&
	git add -A &&
	git commit -m "move" >out 2>&1 &&
	test_must_fail grep "TX00" out
'

cd "$TRASH_DIRECTORY" || exit 1
test_create_repo renamed && cd renamed || exit 1

test_expect_success 'renaming an owner'"'"'s module to the path a module imports blocks' '
	install_hook . &&
	write_file app/__init__.py </dev/null &&
	write_owner app/db_old.py &&
	write_file app/users.py <<-\EOF &&
	from app.db import get_session


	def save(user):
	    with get_session() as s:
	        s.add(user)
	        s.commit()
	EOF
	git add -A &&
	git commit -q -m "an owner, and a user of a module that is not there" &&
	git mv app/db_old.py app/db.py &&
	test_must_fail git commit -m "rename" >out 2>&1 &&
	U=$(line_of app/users.py "s.commit()") &&
	grep "^app/users.py:$U:9: critical TX001 " out
'

# ---- a wrapper that reaches its helper through a module import --------------

cd "$TRASH_DIRECTORY" || exit 1
test_create_repo module-import && cd module-import || exit 1

test_expect_success 'setup: a wrapper calls db_ro.get_session through a module alias' '
	install_hook . &&
	write_file app/__init__.py </dev/null &&
	write_file app/db_ro.py <<-\EOF &&
	from contextlib import contextmanager

	from sqlalchemy.orm import sessionmaker

	SessionLocal = sessionmaker()


	@contextmanager
	def get_session():
	    with SessionLocal() as session:
	        yield session
	EOF
	write_file app/db.py <<-\EOF &&
	from contextlib import contextmanager

	from sqlalchemy.orm import sessionmaker

	SessionLocal = sessionmaker()


	@contextmanager
	def get_session():
	    session = SessionLocal()
	    try:
	        yield session
	        session.commit()
	    finally:
	        session.close()
	EOF
	write_file app/wrap.py <<-\EOF &&
	from contextlib import contextmanager

	from app import db_ro as db


	@contextmanager
	def unit_of_work():
	    with db.get_session() as s:
	        yield s
	EOF
	write_file app/svc.py <<-\EOF &&
	from app.wrap import unit_of_work


	def save(item):
	    with unit_of_work() as s:
	        s.add(item)
	        s.commit()
	EOF
	git add -A &&
	git commit -m base >out 2>&1 &&
	! grep "TX00" out &&
	git tag base
'

test_expect_success 're-pointing the module alias to the committing module blocks' '
	test_when_finished "git reset -q --hard base" &&
	sed "s/from app import db_ro as db/from app import db/" app/wrap.py >tmp &&
	mv tmp app/wrap.py &&
	git add app/wrap.py &&
	test_must_fail git commit -m "re-point the module" >out 2>&1 &&
	head_is base &&
	S=$(line_of app/svc.py "s.commit()") &&
	grep "^app/svc.py:$S:9: critical TX001 " out
'

# ---- a file too costly to infer in full -------------------------------------

cd "$TRASH_DIRECTORY" || exit 1
test_create_repo costly && cd costly || exit 1

test_expect_success 'a file the inference stops in is reported, not taken as read' '
	awk "BEGIN {
		print \"def f(session):\"
		for (d = 1; d <= 200; d++)
			printf \"%*swith session.begin():\\n\", d, \"\"
		printf \"%*s\", 201, \"\"
		for (i = 0; i < 30000; i++)
			printf \"g();\"
		print \"session.commit()\"
	}" >deep.py &&
	git add deep.py &&
	git commit --no-verify -q -m deep &&
	test_expect_code 1 txguard scan >out 2>err &&
	cat out err >all &&
	grep "deep.py: too costly to analyse fully" all &&
	grep "; 1 not fully analysed" all
'

test_done
