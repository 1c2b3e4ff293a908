/* Inference of owners, dependencies, factories, aliases and uses, and the
 * resolver over many files. */
#include "txguard/common.h"
#include "txguard/buf.h"
#include "txguard/error.h"
#include "txguard/infer.h"
#include "txguard/resolver.h"
#include "txguard/owner_table.h"
#include "txguard/pyparse.h"

#include <pthread.h>
#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

static void record(struct tg_buf *out, const char *path, const char *src)
{
	struct tg_pyfile *py = NULL;

	assert_int_equal(tg_pyfile_parse(&py, path, src, strlen(src)), 0);
	tg_infer_pyfile(out, py);
	tg_pyfile_free(py);
}

static struct tg_inferred *infer(const char *path, const char *src)
{
	struct tg_buf b = TG_BUF_INIT;
	struct tg_inferred *inf = NULL;

	record(&b, path, src);
	assert_int_equal(tg_inferred_decode(&inf, path, b.ptr, b.len), 0);
	tg_buf_release(&b);
	return inf;
}

static void add(struct tg_resolver *r, const char *path, const char *src)
{
	struct tg_buf b = TG_BUF_INIT;

	record(&b, path, src);
	tg_resolver_add(r, path, b.ptr, b.len, true);
	tg_buf_release(&b);
}

static const struct tg_def *def(const struct tg_inferred *inf,
				const char *qual)
{
	for (size_t i = 0; i < inf->ndefs; i++)
		if (!strcmp(inf->defs[i].qualname, qual))
			return &inf->defs[i];
	return NULL;
}

static const char *import_of(const struct tg_inferred *inf, const char *l)
{
	for (size_t i = 0; i < inf->nimports; i++)
		if (!strcmp(inf->imports[i].local, l))
			return inf->imports[i].fqn;
	return NULL;
}

static bool uses(const struct tg_inferred *inf, const char *u)
{
	for (size_t i = 0; i < inf->nuses; i++)
		if (!strcmp(inf->uses[i], u))
			return true;
	return false;
}

static const struct tg_owner *owner(struct tg_resolver *r, const char *path,
				    const char *callee)
{
	return tg_resolver_owner(r, path, callee, strlen(callee));
}

static const char helpers[] =
	"\"\"\"Session plumbing.\"\"\"\n"                            /* 1 */
	"from contextlib import asynccontextmanager, contextmanager\n" /* 2 */
	"import contextlib\n"                                          /* 3 */
	"from sqlalchemy.ext.asyncio import async_sessionmaker\n"      /* 4 */
	"from sqlalchemy.orm import sessionmaker\n"                    /* 5 */
	"async_session_factory = async_sessionmaker(engine)\n"         /* 6 */
	"SyncSessionLocal = sessionmaker()\n"                          /* 7 */
	"\n"                                                           /* 8 */
	"@asynccontextmanager\n"                                       /* 9 */
	"async def get_background_session():\n"                        /* 10 */
	"    session = async_session_factory()\n"                      /* 11 */
	"    try:\n"                                                   /* 12 */
	"        yield session\n"                                      /* 13 */
	"        await session.commit()\n"                             /* 14 */
	"    except Exception:\n"                                      /* 15 */
	"        await session.rollback()\n"                           /* 16 */
	"        raise\n"                                              /* 17 */
	"    finally:\n"                                               /* 18 */
	"        await session.close()\n"                              /* 19 */
	"\n"                                                           /* 20 */
	"@contextlib.contextmanager\n"                                 /* 21 */
	"def transactional_session():\n"                               /* 22 */
	"    session = SyncSessionLocal()\n"                           /* 23 */
	"    try:\n"                                                   /* 24 */
	"        yield session\n"                                      /* 25 */
	"        session.commit()\n"                                   /* 26 */
	"    except Exception:\n"                                      /* 27 */
	"        session.rollback()\n"                                 /* 28 */
	"        raise\n"                                              /* 29 */
	"    finally:\n"                                               /* 30 */
	"        session.close()\n"                                    /* 31 */
	"\n"                                                           /* 32 */
	"@asynccontextmanager\n"                                       /* 33 */
	"async def readonly_session():\n"                              /* 34 */
	"    session = async_session_factory()\n"                      /* 35 */
	"    try:\n"                                                   /* 36 */
	"        yield session\n"                                      /* 37 */
	"    finally:\n"                                               /* 38 */
	"        await session.close()\n"                              /* 39 */
	"\n"                                                           /* 40 */
	"async def get_db():\n"                                        /* 41 */
	"    async with get_background_session() as session:\n"        /* 42 */
	"        yield session\n"                                      /* 43 */
	"\n"                                                           /* 44 */
	"def open_raw_session():\n"                                    /* 45 */
	"    return async_session_factory()\n";                        /* 46 */

static void test_module_names(void **state)
{
	static const char *const cases[][2] = {
		{ "app/db.py", "app.db" },     { "app/__init__.py", "app" },
		{ "db.py", "db" },             { "__init__.py", "" },
		{ "a/b/c.pyi", "a.b.c" },      { "x", "x" },
	};

	(void)state;
	for (size_t i = 0; i < TG_ARRAY_SIZE(cases); i++) {
		char *m = tg_infer_module(cases[i][0]);

		assert_string_equal(m, cases[i][1]);
		free(m);
	}
}

static void test_imports(void **state)
{
	struct tg_inferred *inf = infer(
		"app/api/routes.py",
		"import os\n"
		"import x.y as z\n"
		"import a.b.c\n"
		"from p.q import r as s, t\n"
		"from .session_helpers import get_db\n"
		"from ..db import (x1,\n    x2 as y2)\n"
		"from . import deps\n"
		"from .. import core as c\n"
		"from m import *\n"
		"def f():\n"
		"    import inner_only\n");
	struct tg_inferred *pkg = infer("app/api/__init__.py",
					"from .routes import router\n"
					"from ..db import get_db\n");

	(void)state;
	assert_string_equal(inf->module, "app.api.routes");
	assert_string_equal(import_of(inf, "os"), "os");
	assert_string_equal(import_of(inf, "z"), "x.y");
	assert_string_equal(import_of(inf, "a"), "a");
	assert_string_equal(import_of(inf, "s"), "p.q.r");
	assert_string_equal(import_of(inf, "t"), "p.q.t");
	assert_string_equal(import_of(inf, "get_db"),
			    "app.api.session_helpers.get_db");
	assert_string_equal(import_of(inf, "x1"), "app.db.x1");
	assert_string_equal(import_of(inf, "y2"), "app.db.x2");
	assert_string_equal(import_of(inf, "deps"), "app.api.deps");
	assert_string_equal(import_of(inf, "c"), "app.core");
	assert_null(import_of(inf, "inner_only"));
	assert_string_equal(import_of(pkg, "router"), "app.api.routes.router");
	assert_string_equal(import_of(pkg, "get_db"), "app.db.get_db");
	tg_inferred_free(inf);
	tg_inferred_free(pkg);
}

static void test_example_helpers(void **state)
{
	struct tg_inferred *inf = infer("app/session_helpers.py", helpers);
	const struct tg_def *d;

	(void)state;
	d = def(inf, "get_background_session");
	assert_non_null(d);
	assert_int_equal(d->kind, TG_DEF_CM);
	assert_true(d->owns);
	assert_int_equal(d->line, 10);
	assert_string_equal(d->how, "commits after yield");
	d = def(inf, "transactional_session");
	assert_non_null(d);
	assert_int_equal(d->kind, TG_DEF_CM);
	assert_true(d->owns);
	assert_null(def(inf, "readonly_session"));
	assert_null(def(inf, "open_raw_session"));
	d = def(inf, "get_db");
	assert_non_null(d);
	assert_int_equal(d->kind, TG_DEF_GEN);
	assert_false(d->owns);
	assert_string_equal(d->target, "get_background_session");
	d = def(inf, "async_session_factory");
	assert_non_null(d);
	assert_int_equal(d->kind, TG_DEF_FACTORY);
	assert_int_equal(d->line, 6);
	d = def(inf, "SyncSessionLocal");
	assert_non_null(d);
	assert_int_equal(d->kind, TG_DEF_FACTORY);
	assert_true(uses(inf, "get_background_session"));
	tg_inferred_free(inf);
}

/* Each source defines `f`; want: 1 owns, 0 does not, 2 wraps. */
static void test_owner_patterns(void **state)
{
	static const struct {
		const char *src;
		int want;
		const char *how;
	} cases[] = {
		/* commit after the try */
		{ "@contextmanager\ndef f():\n    s = S()\n    try:\n"
		  "        yield s\n    except Exception:\n        s.rollback()\n"
		  "        raise\n    s.commit()\n",
		  1, "commits after yield" },
		/* commit in else: the normal path */
		{ "@contextmanager\ndef f():\n    s = S()\n    try:\n"
		  "        yield s\n    except Exception:\n        s.rollback()\n"
		  "        raise\n    else:\n        s.commit()\n",
		  1, "commits after yield" },
		{ "@asynccontextmanager\nasync def f():\n    async with F() as s:\n"
		  "        async with s.begin():\n            yield s\n",
		  1, "yields inside s.begin()" },
		{ "@contextmanager\ndef f():\n    with Session.begin() as s:\n"
		  "        yield s\n",
		  1, "yields inside Session.begin()" },
		{ "@contextmanager\ndef f():\n    with engine.begin() as conn:\n"
		  "        yield conn\n",
		  1, "yields inside engine.begin()" },
		{ "@contextmanager\ndef f():\n    with F() as s, s.begin_nested():\n"
		  "        yield s\n",
		  1, "yields inside s.begin()" },
		/* only closes */
		{ "@contextmanager\ndef f():\n    s = S()\n    try:\n"
		  "        yield s\n    finally:\n        s.close()\n",
		  0, NULL },
		/* only rolls back on error */
		{ "@contextmanager\ndef f():\n    s = S()\n    try:\n"
		  "        yield s\n    except Exception:\n        s.rollback()\n"
		  "        raise\n",
		  0, NULL },
		/* commits only in an except branch */
		{ "@contextmanager\ndef f():\n    s = S()\n    try:\n"
		  "        yield s\n    except ValueError:\n        s.commit()\n",
		  0, NULL },
		/* commits before the yield */
		{ "@contextmanager\ndef f():\n    s = S()\n    s.commit()\n"
		  "    yield s\n",
		  0, NULL },
		/* commits another name */
		{ "@contextmanager\ndef f():\n    s = S()\n    yield s\n"
		  "    other.commit()\n",
		  0, NULL },
		/* the commit is in a nested def: not this function's */
		{ "@contextmanager\ndef f():\n    s = S()\n    yield s\n"
		  "    def g():\n        s.commit()\n",
		  0, NULL },
		/* begin block that does not cover the yield */
		{ "@contextmanager\ndef f():\n    s = S()\n    with s.begin():\n"
		  "        pass\n    yield s\n",
		  0, NULL },
		/* not a context manager nor a generator */
		{ "def f():\n    s = S()\n    s.commit()\n    return s\n", 0, NULL },
		{ "@asynccontextmanager\nasync def f():\n"
		  "    async with get_session() as s:\n        yield s\n",
		  2, NULL },
		/* wrapper that also commits: owns by itself */
		{ "@asynccontextmanager\nasync def f():\n"
		  "    async with factory() as s:\n        yield s\n"
		  "        await s.commit()\n",
		  1, "commits after yield" },
		/* yield from is not a yielded session */
		{ "@contextmanager\ndef f():\n    with s.begin():\n"
		  "        yield from g()\n",
		  0, NULL },
	};

	(void)state;
	for (size_t i = 0; i < TG_ARRAY_SIZE(cases); i++) {
		char *src = tg_xasprintf(
			"from contextlib import contextmanager, "
			"asynccontextmanager\n%s",
			cases[i].src);
		struct tg_inferred *inf = infer("m.py", src);
		const struct tg_def *d = def(inf, "f");

		if (!cases[i].want) {
			if (d)
				fail_msg("case %zu: unexpected def", i);
		} else {
			if (!d)
				fail_msg("case %zu: no def", i);
			assert_int_equal(d->kind, TG_DEF_CM);
			assert_int_equal(d->owns, cases[i].want == 1);
			if (cases[i].how)
				assert_string_equal(d->how, cases[i].how);
			else
				assert_non_null(d->target);
		}
		tg_inferred_free(inf);
		free(src);
	}
}

static void test_decorator_spellings(void **state)
{
	static const char *const srcs[] = {
		"from contextlib import asynccontextmanager as acm\n@acm\n",
		"import contextlib as cl\n@cl.asynccontextmanager\n",
		"import contextlib\n@contextlib.asynccontextmanager\n",
		"from contextlib import contextmanager\n@contextmanager\n",
		/* star import: the bare name still counts */
		"from contextlib import *\n@asynccontextmanager\n",
	};
	static const char body[] =
		"async def f():\n    async with F() as s:\n"
		"        async with s.begin():\n            yield s\n";

	(void)state;
	for (size_t i = 0; i < TG_ARRAY_SIZE(srcs); i++) {
		char *src = tg_xasprintf("%s%s", srcs[i], body);
		struct tg_inferred *inf = infer("m.py", src);
		const struct tg_def *d = def(inf, "f");

		assert_non_null(d);
		assert_int_equal(d->kind, TG_DEF_CM);
		assert_true(d->owns);
		tg_inferred_free(inf);
		free(src);
	}
	/* some other decorator: a plain generator, a dependency */
	{
		struct tg_inferred *inf = infer(
			"m.py", "import functools\n@functools.cache\n"
				"def f():\n    with s.begin():\n        yield s\n");

		assert_int_equal(def(inf, "f")->kind, TG_DEF_GEN);
		tg_inferred_free(inf);
	}
}

static void test_dependencies(void **state)
{
	struct tg_inferred *inf = infer(
		"deps.py",
		"async def owning():\n"
		"    async with get_background_session() as session:\n"
		"        yield session\n"
		"async def commits():\n"
		"    s = F()\n"
		"    try:\n"
		"        yield s\n"
		"        await s.commit()\n"
		"    finally:\n"
		"        await s.close()\n"
		"async def closes():\n"
		"    s = F()\n"
		"    try:\n"
		"        yield s\n"
		"    finally:\n"
		"        await s.close()\n"
		"def not_a_generator():\n"
		"    return F()\n");

	(void)state;
	assert_int_equal(def(inf, "owning")->kind, TG_DEF_GEN);
	assert_string_equal(def(inf, "owning")->target,
			    "get_background_session");
	assert_true(def(inf, "commits")->owns);
	assert_null(def(inf, "closes"));
	assert_null(def(inf, "not_a_generator"));
	tg_inferred_free(inf);
}

static void test_factories_and_aliases(void **state)
{
	struct tg_inferred *inf = infer(
		"db.py",
		"from sqlalchemy import orm\n"
		"import sqlalchemy\n"
		"from sqlalchemy.orm import sessionmaker as sm, scoped_session\n"
		"from typing import Annotated\n"
		"from fastapi import Depends\n"
		"import fastapi\n"
		"A = orm.sessionmaker(bind=engine)\n"
		"B = sqlalchemy.orm.sessionmaker()\n"
		"C = sm()\n"
		"D = scoped_session(sm())\n"
		"E: orm.sessionmaker = orm.sessionmaker()\n"
		"F = make_thing()\n"
		"SessionDep = Annotated[AsyncSession, Depends(get_db)]\n"
		"Other = Annotated[AsyncSession, fastapi.Depends(dependency=deps.get_db)]\n"
		"Plain = Annotated[int, Field(gt=0)]\n"
		"class Repo:\n"
		"    factory = sm()\n"
		"def f():\n"
		"    local = sm()\n");

	(void)state;
	assert_int_equal(def(inf, "A")->kind, TG_DEF_FACTORY);
	assert_int_equal(def(inf, "B")->kind, TG_DEF_FACTORY);
	assert_int_equal(def(inf, "C")->kind, TG_DEF_FACTORY);
	assert_int_equal(def(inf, "D")->kind, TG_DEF_FACTORY);
	assert_int_equal(def(inf, "E")->kind, TG_DEF_FACTORY);
	assert_null(def(inf, "F"));
	assert_int_equal(def(inf, "SessionDep")->kind, TG_DEF_ALIAS);
	assert_string_equal(def(inf, "SessionDep")->target, "get_db");
	assert_string_equal(def(inf, "Other")->target, "deps.get_db");
	assert_null(def(inf, "Plain"));
	assert_int_equal(def(inf, "Repo.factory")->kind, TG_DEF_FACTORY);
	assert_null(def(inf, "local"));
	assert_null(def(inf, "f.local"));
	tg_inferred_free(inf);
}

static void test_class_owners(void **state)
{
	struct tg_resolver *r = tg_resolver_new();
	const struct tg_owner *o;
	struct tg_inferred *inf;
	static const char db[] =
		"from sqlalchemy.orm import Session, sessionmaker\n" /* 1 */
		"class Committing(Session):\n"			     /* 2 */
		"    def __exit__(self, t, e, tb):\n"		     /* 3 */
		"        if t is None:\n"			     /* 4 */
		"            self.commit()\n"			     /* 5 */
		"class Closing(Session):\n"			     /* 6 */
		"    def __exit__(self, t, e, tb):\n"		     /* 7 */
		"        self.close()\n"			     /* 8 */
		"class OnErrorOnly(Session):\n"			     /* 9 */
		"    async def __aexit__(self, t, e, tb):\n"	     /* 10 */
		"        try:\n"				     /* 11 */
		"            await self.flush()\n"		     /* 12 */
		"        except Exception:\n"			     /* 13 */
		"            await self.commit()\n"		     /* 14 */
		"class Uow:\n"					     /* 15 */
		"    async def __aexit__(self, t, e, tb):\n"	     /* 16 */
		"        await self.session.commit()\n"		     /* 17 */
		"    def commit(self):\n"			     /* 18 */
		"        other.commit()\n"			     /* 19 */
		"class NotExit:\n"				     /* 20 */
		"    def close(self):\n"			     /* 21 */
		"        self.commit()\n"			     /* 22 */
		"Local = sessionmaker(class_=Committing)\n"	     /* 23 */
		"Plain = sessionmaker(bind=engine)\n"		     /* 24 */
		"def f():\n"					     /* 25 */
		"    class Hidden(Session):\n"			     /* 26 */
		"        def __exit__(self, t, e, tb):\n"	     /* 27 */
		"            self.commit()\n";			     /* 28 */

	(void)state;
	inf = infer("app/db.py", db);
	assert_int_equal(def(inf, "Committing")->kind, TG_DEF_CM);
	assert_true(def(inf, "Committing")->owns);
	assert_int_equal(def(inf, "Committing")->line, 2);
	assert_string_equal(def(inf, "Committing")->how, "commits in __exit__");
	assert_null(def(inf, "Closing"));
	assert_null(def(inf, "OnErrorOnly"));
	assert_string_equal(def(inf, "Uow")->how, "commits in __aexit__");
	assert_null(def(inf, "Uow.commit"));
	assert_null(def(inf, "NotExit"));
	assert_null(def(inf, "Hidden"));
	assert_null(def(inf, "f.Hidden"));
	assert_string_equal(def(inf, "Local")->target, "Committing");
	assert_null(def(inf, "Plain")->target);
	tg_inferred_free(inf);

	add(r, "app/db.py", db);
	add(r, "app/jobs.py", "from app.db import Committing, Local\n");
	o = owner(r, "app/jobs.py", "Committing");
	assert_non_null(o);
	assert_string_equal(o->where, "app/db.py:2");
	assert_string_equal(o->how, "commits in __exit__");
	o = owner(r, "app/jobs.py", "Local");
	assert_non_null(o);
	assert_string_equal(o->where, "app/db.py:23");
	assert_string_equal(o->how, "makes Committing sessions (app/db.py:2, "
				    "commits in __exit__)");
	assert_null(owner(r, "app/jobs.py", "Closing"));
	tg_resolver_free(r);
}

static void test_owner_methods_on_instances(void **state)
{
	struct tg_resolver *r = tg_resolver_new();
	const struct tg_owner *o;
	struct tg_inferred *inf;
	struct tg_buf b = TG_BUF_INIT;
	static const char db[] =
		"from contextlib import contextmanager\n" /* 1 */
		"class Database:\n"			  /* 2 */
		"    @contextmanager\n"			  /* 3 */
		"    def session(self):\n"		  /* 4 */
		"        s = make()\n"			  /* 5 */
		"        yield s\n"			  /* 6 */
		"        s.commit()\n"			  /* 7 */
		"    @contextmanager\n"			  /* 8 */
		"    def reader(self):\n"		  /* 9 */
		"        yield make()\n"		  /* 10 */
		"db = Database()\n"			  /* 11 */
		"loop = db\n"				  /* 12 */
		"Self = Self()\n";			  /* 13 */
	static const char svc[] = "from app.db import Database, db\n"
				  "class Service:\n"
				  "    def __init__(self):\n"
				  "        self.db = Database()\n"
				  "        self.factory = sessionmaker()\n"
				  "    def run(self):\n"
				  "        with db.session() as s:\n"
				  "            pass\n";

	(void)state;
	inf = infer("app/db.py", db);
	assert_int_equal(def(inf, "db")->kind, TG_DEF_INSTANCE);
	assert_string_equal(def(inf, "db")->target, "Database");
	assert_null(def(inf, "loop"));
	tg_inferred_free(inf);
	inf = infer("app/svc.py", svc);
	assert_int_equal(def(inf, "Service.db")->kind, TG_DEF_INSTANCE);
	assert_null(def(inf, "Service.factory"));
	assert_true(uses(inf, "db.session"));
	assert_true(uses(inf, "db"));
	tg_inferred_free(inf);

	/* instances alone make no file a resolution target */
	record(&b, "app/only.py", "db = Database()\n");
	assert_false(tg_inferred_is_target("app/only.py", b.ptr, b.len));
	tg_buf_release(&b);

	add(r, "app/db.py", db);
	add(r, "app/svc.py", svc);
	o = owner(r, "app/svc.py", "db.session");
	assert_non_null(o);
	assert_string_equal(o->name, "Database.session");
	assert_string_equal(o->where, "app/db.py:4");
	o = owner(r, "app/svc.py", "self.db.session");
	assert_non_null(o);
	assert_string_equal(o->name, "Database.session");
	assert_null(owner(r, "app/svc.py", "db.reader"));
	assert_null(owner(r, "app/svc.py", "self.db.reader"));
	assert_null(owner(r, "app/svc.py", "self.factory.session"));
	assert_null(owner(r, "app/db.py", "Self.session"));
	assert_null(owner(r, "app/db.py", "db"));
	tg_resolver_free(r);
}

static void test_owners_made_by_a_call(void **state)
{
	struct tg_resolver *r = tg_resolver_new();
	const struct tg_owner *o;
	struct tg_inferred *inf;
	static const char deps[] =
		"import contextlib as cl\n"			/* 1 */
		"def get_db():\n"				/* 2 */
		"    db = make()\n"				/* 3 */
		"    yield db\n"				/* 4 */
		"    db.commit()\n"				/* 5 */
		"def reader():\n"				/* 6 */
		"    yield make()\n"				/* 7 */
		"get_db_ctx = cl.asynccontextmanager(get_db)\n" /* 8 */
		"reader_ctx = cl.contextmanager(reader)\n"	/* 9 */
		"other = functools.partial(get_db)\n";		/* 10 */

	(void)state;
	inf = infer("app/deps.py", deps);
	assert_int_equal(def(inf, "get_db_ctx")->kind, TG_DEF_CM);
	assert_false(def(inf, "get_db_ctx")->owns);
	assert_string_equal(def(inf, "get_db_ctx")->target, "get_db");
	assert_string_equal(def(inf, "reader_ctx")->target, "reader");
	assert_null(def(inf, "other"));
	tg_inferred_free(inf);

	add(r, "app/deps.py", deps);
	add(r, "app/jobs.py", "from app.deps import get_db_ctx, reader_ctx\n");
	o = owner(r, "app/jobs.py", "get_db_ctx");
	assert_non_null(o);
	assert_string_equal(o->where, "app/deps.py:8");
	assert_string_equal(o->how, "wraps get_db (app/deps.py:2, commits "
				    "after yield)");
	assert_null(owner(r, "app/jobs.py", "reader_ctx"));
	tg_resolver_free(r);
}

static void test_depends_aliases_as_defaults(void **state)
{
	struct tg_inferred *inf =
		infer("app/deps.py",
		      "import fastapi\n"
		      "from fastapi import Depends\n"
		      "SessionDep = Depends(get_session)\n"
		      "DbDep = fastapi.Depends(db.get_db)\n"
		      "Bare = Depends()\n"
		      "def route(a, s=SessionDep, t: int = DbDep, u=None):\n"
		      "    pass\n");

	(void)state;
	assert_int_equal(def(inf, "SessionDep")->kind, TG_DEF_ALIAS);
	assert_string_equal(def(inf, "SessionDep")->target, "get_session");
	assert_string_equal(def(inf, "DbDep")->target, "db.get_db");
	assert_true(!def(inf, "Bare") ||
		    def(inf, "Bare")->kind != TG_DEF_ALIAS);
	assert_true(uses(inf, "SessionDep"));
	assert_true(uses(inf, "DbDep"));
	tg_inferred_free(inf);
}

static void test_uses(void **state)
{
	struct tg_inferred *inf = infer(
		"routes.py",
		"async def a(session: AsyncSession = Depends(get_db)):\n"
		"    async with db.get_session() as s, other():\n"
		"        pass\n"
		"def b(s: SessionDep, n: int, t: 'str'):\n"
		"    with open('x') as fh:\n"
		"        pass\n"
		"X = Annotated[AsyncSession, Depends(helpers.get_db)]\n");

	(void)state;
	assert_true(uses(inf, "get_db"));
	assert_true(uses(inf, "db.get_session"));
	assert_true(uses(inf, "other"));
	assert_true(uses(inf, "SessionDep"));
	assert_true(uses(inf, "AsyncSession"));
	assert_true(uses(inf, "open"));
	assert_true(uses(inf, "helpers.get_db"));
	assert_false(uses(inf, "int"));
	tg_inferred_free(inf);
}

static void test_resolve_through_imports(void **state)
{
	struct tg_resolver *r = tg_resolver_new();
	const struct tg_owner *o;

	(void)state;
	add(r, "app/session_helpers.py", helpers);
	add(r, "app/jobs.py",
	    "from .session_helpers import get_background_session, "
	    "readonly_session, async_session_factory\n"
	    "from . import session_helpers as h\n"
	    "import app.session_helpers\n");
	o = owner(r, "app/jobs.py", "get_background_session");
	assert_non_null(o);
	assert_int_equal(o->origin, TG_OWNER_INFERRED);
	assert_string_equal(o->name, "get_background_session");
	assert_string_equal(o->where, "app/session_helpers.py:10");
	assert_string_equal(o->how, "commits after yield");
	assert_null(owner(r, "app/jobs.py", "readonly_session"));
	assert_non_null(owner(r, "app/jobs.py", "h.transactional_session"));
	assert_non_null(owner(r, "app/jobs.py",
			      "app.session_helpers.transactional_session"));
	assert_null(owner(r, "app/jobs.py", "h.readonly_session"));
	o = tg_resolver_factory(r, "app/jobs.py", "async_session_factory", 21);
	assert_non_null(o);
	assert_string_equal(o->where, "app/session_helpers.py:6");
	/* a factory is not an owner, an owner is not a factory */
	assert_null(owner(r, "app/jobs.py", "async_session_factory"));
	assert_null(tg_resolver_factory(r, "app/jobs.py",
					"get_background_session", 22));
	/* get_db wraps the owner: an owning dependency, not a CM */
	o = tg_resolver_dependency(r, "app/session_helpers.py", "get_db", 6);
	assert_non_null(o);
	assert_string_equal(o->where, "app/session_helpers.py:41");
	assert_string_equal(o->how,
			    "wraps get_background_session "
			    "(app/session_helpers.py:10, commits after yield)");
	assert_null(owner(r, "app/session_helpers.py", "get_db"));
	/* same answer twice: memoised */
	assert_ptr_equal(owner(r, "app/jobs.py", "get_background_session"),
			 owner(r, "app/jobs.py", "get_background_session"));
	tg_resolver_free(r);
}

static void test_same_name_two_modules(void **state)
{
	struct tg_resolver *r = tg_resolver_new();
	struct tg_resolution res;

	(void)state;
	add(r, "app/db.py",
	    "from contextlib import asynccontextmanager\n"
	    "@asynccontextmanager\nasync def get_session():\n"
	    "    async with F() as s:\n        async with s.begin():\n"
	    "            yield s\n");
	add(r, "app/http.py",
	    "from contextlib import asynccontextmanager\n"
	    "@asynccontextmanager\nasync def get_session():\n"
	    "    async with aiohttp.ClientSession() as s:\n        yield s\n");
	add(r, "app/a.py", "from app.http import get_session\n");
	add(r, "app/b.py", "from app.db import get_session\n");
	add(r, "app/c.py",
	    "def get_session():\n    return requests.Session()\n");
	add(r, "app/d.py", "from app import db\nimport app.http as web\n");
	add(r, "app/e.py", "x = 1\n");
	add(r, "app/f.py", "from httpx import get_session\n");

	/* the http wrapper wraps an unknown call: not an owner */
	assert_null(owner(r, "app/a.py", "get_session"));
	assert_non_null(owner(r, "app/b.py", "get_session"));
	assert_null(owner(r, "app/c.py", "get_session"));
	assert_non_null(owner(r, "app/d.py", "db.get_session"));
	assert_null(owner(r, "app/d.py", "web.get_session"));
	/* an import from outside the repository never falls back */
	assert_null(owner(r, "app/f.py", "get_session"));
	/* unbound, and two definitions of that name: no fallback */
	assert_null(owner(r, "app/e.py", "get_session"));
	tg_resolver_lookup(&res, r, "app/b.py", "get_session", 11);
	assert_int_equal(res.kind, TG_RESOLVED_CM);
	assert_true(res.owns);
	assert_false(res.fallback);
	assert_string_equal(res.path, "app/db.py");
	tg_resolver_free(r);
}

static void test_fallback_unique_name(void **state)
{
	struct tg_resolver *r = tg_resolver_new();
	struct tg_resolution res;

	(void)state;
	add(r, "svc/db.py",
	    "from contextlib import contextmanager\n"
	    "@contextmanager\ndef unit_of_work():\n"
	    "    with Session.begin() as s:\n        yield s\n");
	add(r, "svc/user.py", "from svc.db import *\n");
	add(r, "svc/other.py", "from svc.db import something_else\n");
	assert_int_equal(tg_resolver_lookup(&res, r, "svc/user.py",
					    "unit_of_work", 12),
			 0);
	assert_int_equal(res.kind, TG_RESOLVED_CM);
	assert_true(res.owns);
	assert_true(res.fallback);
	/* a file not in the resolver falls back too */
	assert_non_null(owner(r, "new.py", "unit_of_work"));
	/* an attribute of an unbound name is never guessed */
	assert_null(owner(r, "svc/user.py", "client.unit_of_work"));
	/* a name bound by an import of another name does not fall back */
	assert_null(owner(r, "svc/other.py", "something_else"));
	tg_resolver_free(r);
}

static void test_reexport_and_src_layout(void **state)
{
	struct tg_resolver *r = tg_resolver_new();
	const struct tg_owner *o;

	(void)state;
	add(r, "src/app/db/session.py",
	    "import contextlib\n@contextlib.contextmanager\n"
	    "def get_session():\n    s = S()\n    yield s\n    s.commit()\n");
	add(r, "src/app/db/__init__.py", "from .session import get_session\n");
	add(r, "src/app/api.py", "from app.db import get_session\n");
	add(r, "src/app/api2.py", "from .db import get_session as gs\n");
	o = owner(r, "src/app/api.py", "get_session");
	assert_non_null(o);
	assert_string_equal(o->where, "src/app/db/session.py:3");
	assert_non_null(owner(r, "src/app/api2.py", "gs"));
	tg_resolver_free(r);
}

/*
 * A package re-exports what its __init__.py imports; a plain module's
 * imports serve its own code only, whether or not it defines something,
 * and a module replaced by a record that is no resolution target is
 * looked up as if absent.
 */
static void test_plain_module_imports_are_its_own(void **state)
{
	struct tg_resolver *r = tg_resolver_new();
	struct tg_resolution res;
	static const char owner_src[] =
		"import contextlib\n@contextlib.contextmanager\n"
		"def get_session():\n    s = S()\n    yield s\n    s.commit()\n";

	(void)state;
	add(r, "app/session.py", owner_src);
	add(r, "app/routes.py", "from app.session import get_session\n");
	add(r, "app/db.py",
	    "from app.session import get_session\n"
	    "from sqlalchemy.orm import sessionmaker\n"
	    "SessionLocal = sessionmaker()\n");
	add(r, "app/users.py",
	    "from app.routes import get_session\nfrom app import db\n");
	/* the modules' own queries follow their imports */
	assert_non_null(owner(r, "app/routes.py", "get_session"));
	assert_non_null(owner(r, "app/db.py", "get_session"));
	/* others' do not go through them */
	assert_null(owner(r, "app/users.py", "get_session"));
	assert_null(owner(r, "app/users.py", "db.get_session"));
	assert_non_null(tg_resolver_factory(r, "app/users.py",
					    "db.SessionLocal", 15));
	/* a package's do */
	add(r, "app/__init__.py", "from .session import get_session\n");
	add(r, "app/api.py", "from app import get_session\n");
	assert_non_null(owner(r, "app/api.py", "get_session"));
	/* the same, asked by the fully qualified name */
	tg_resolver_lookup_fqn(&res, r, "app.get_session", 15);
	assert_int_equal(res.kind, TG_RESOLVED_CM);
	assert_true(res.owns);
	assert_string_equal(res.path, "app/session.py");
	tg_resolver_lookup_fqn(&res, r, "app.routes.get_session", 22);
	assert_int_equal(res.kind, TG_RESOLVED_NONE);
	/* never the one definition of the name in the repository */
	tg_resolver_lookup_fqn(&res, r, "get_session", 11);
	assert_int_equal(res.kind, TG_RESOLVED_NONE);
	/* the package's record replaced by an empty one: gone for others */
	tg_resolver_add(r, "app/__init__.py", NULL, 0, false);
	assert_null(owner(r, "app/api.py", "get_session"));
	tg_resolver_lookup_fqn(&res, r, "app.get_session", 15);
	assert_int_equal(res.kind, TG_RESOLVED_NONE);
	tg_resolver_free(r);
}

/*
 * A renamed file's pre-image, under its new path: its relative imports
 * resolve where the blob was, and no other file finds anything in it.
 */
static void test_moved_record(void **state)
{
	struct tg_resolver *r = tg_resolver_new();
	struct tg_buf b = TG_BUF_INIT;

	(void)state;
	add(r, "app/db.py",
	    "import contextlib\n@contextlib.contextmanager\n"
	    "def get_session():\n    s = S()\n    yield s\n    s.commit()\n");
	add(r, "app/other.py", "from app.sub import get_session\n");
	record(&b, "app/jobs.py",
	       "from .db import get_session\n"
	       "import contextlib\n@contextlib.contextmanager\n"
	       "def wrap():\n    with get_session() as s:\n        yield s\n");
	tg_resolver_add_moved(r, "app/sub/__init__.py", "app/jobs.py", b.ptr,
			      b.len);
	assert_string_equal(owner(r, "app/sub/__init__.py", "get_session")->where,
			    "app/db.py:3");
	assert_non_null(owner(r, "app/sub/__init__.py", "wrap"));
	assert_null(owner(r, "app/other.py", "get_session"));
	tg_resolver_free(r);
	tg_buf_release(&b);
}

static void test_wrappers_and_cycles(void **state)
{
	struct tg_resolver *r = tg_resolver_new();
	const struct tg_owner *o;
	struct tg_resolution res;

	(void)state;
	add(r, "pkg/base.py",
	    "from contextlib import asynccontextmanager as acm\n"
	    "@acm\nasync def base():\n"
	    "    async with F() as s:\n        async with s.begin():\n"
	    "            yield s\n");
	add(r, "pkg/mid.py",
	    "from contextlib import asynccontextmanager as acm\n"
	    "from pkg.base import base\n"
	    "@acm\nasync def mid():\n"
	    "    async with base() as s:\n        yield s\n");
	add(r, "pkg/top.py",
	    "from contextlib import asynccontextmanager as acm\n"
	    "from pkg import mid as m\n"
	    "@acm\nasync def top():\n"
	    "    async with m.mid() as s:\n        yield s\n"
	    "async def dep():\n"
	    "    async with top() as s:\n        yield s\n");
	add(r, "pkg/cycle.py",
	    "from contextlib import contextmanager\n"
	    "@contextmanager\ndef a():\n    with b() as s:\n        yield s\n"
	    "@contextmanager\ndef b():\n    with a() as s:\n        yield s\n"
	    "@contextmanager\ndef me():\n    with me() as s:\n        yield s\n");
	o = owner(r, "pkg/top.py", "top");
	assert_non_null(o);
	assert_string_equal(o->how,
			    "wraps mid -> base (pkg/base.py:3, "
			    "yields inside s.begin())");
	o = tg_resolver_dependency(r, "pkg/top.py", "dep", 3);
	assert_non_null(o);
	assert_null(owner(r, "pkg/cycle.py", "a"));
	assert_null(owner(r, "pkg/cycle.py", "b"));
	assert_null(owner(r, "pkg/cycle.py", "me"));
	tg_resolver_lookup(&res, r, "pkg/cycle.py", "a", 1);
	assert_int_equal(res.kind, TG_RESOLVED_CM);
	assert_false(res.owns);
	tg_resolver_free(r);
}

static void test_alias_across_modules(void **state)
{
	struct tg_resolver *r = tg_resolver_new();
	const struct tg_owner *o;

	(void)state;
	add(r, "app/session_helpers.py", helpers);
	add(r, "app/deps.py",
	    "from typing import Annotated\nfrom fastapi import Depends\n"
	    "from .session_helpers import get_db\n"
	    "async def closes():\n    s = F()\n    try:\n        yield s\n"
	    "    finally:\n        await s.close()\n"
	    "SessionDep = Annotated[AsyncSession, Depends(get_db)]\n"
	    "ReadDep = Annotated[AsyncSession, Depends(closes)]\n");
	add(r, "app/routes.py",
	    "from app.deps import SessionDep, ReadDep\n"
	    "from app import deps\n");
	o = tg_resolver_alias(r, "app/routes.py", "SessionDep", 10);
	assert_non_null(o);
	assert_string_equal(o->where, "app/deps.py:10");
	assert_non_null(strstr(o->how, "Depends(get_db) at "
					"app/session_helpers.py:41"));
	assert_null(tg_resolver_alias(r, "app/routes.py", "ReadDep", 7));
	assert_non_null(tg_resolver_alias(r, "app/routes.py",
					  "deps.SessionDep", 15));
	assert_null(tg_resolver_dependency(r, "app/deps.py", "closes", 6));
	tg_resolver_free(r);
}

static void test_methods(void **state)
{
	struct tg_resolver *r = tg_resolver_new();
	const struct tg_owner *o;

	(void)state;
	add(r, "svc.py",
	    "from contextlib import asynccontextmanager\n"
	    "from sqlalchemy.ext.asyncio import async_sessionmaker\n"
	    "class Service:\n"
	    "    factory = async_sessionmaker(engine)\n"
	    "    @asynccontextmanager\n"
	    "    async def session(self):\n"
	    "        async with self.factory() as s:\n"
	    "            async with s.begin():\n"
	    "                yield s\n"
	    "    async def run(self):\n"
	    "        async with self.session() as s:\n"
	    "            pass\n");
	o = owner(r, "svc.py", "self.session");
	assert_non_null(o);
	assert_string_equal(o->name, "Service.session");
	assert_string_equal(o->where, "svc.py:6");
	assert_non_null(owner(r, "svc.py", "Service.session"));
	assert_non_null(tg_resolver_factory(r, "svc.py", "self.factory", 12));
	assert_null(owner(r, "svc.py", "self.run"));
	tg_resolver_free(r);
}

static void test_prefilter(void **state)
{
	struct tg_buf b = TG_BUF_INIT;
	bool parsed = true;
	static const char plain[] = "x = 1\ndef f():\n    return x\n";

	(void)state;
	assert_false(tg_infer_wanted("a.py", plain, strlen(plain)));
	assert_true(tg_infer_wanted("a/__init__.py", plain, strlen(plain)));
	assert_true(tg_infer_wanted("a.py", "yield", 5));
	assert_true(tg_infer_wanted("a.py", "S = sessionmaker()", 18));
	assert_true(tg_infer_wanted("a.py", "Depends", 7));
	/* `with` counts only where it starts a statement */
	assert_false(tg_infer_wanted("a.py", "# done with it\n", 15));
	assert_false(tg_infer_wanted("a.py", "x = 'with x'\n", 13));
	assert_false(tg_infer_wanted("a.py", "startswith(x)\n", 14));
	assert_true(tg_infer_wanted("a.py", "with x:\n", 8));
	assert_true(tg_infer_wanted("a.py", "if a:\n    with(x):\n", 20));
	assert_true(tg_infer_wanted("a.py", "  async  with x:\n", 17));
	assert_true(tg_infer_wanted("a.py", "if a: with x: pass\n", 19));
	tg_infer_blob(&b, &parsed, "a.py", plain, strlen(plain));
	assert_false(parsed);
	assert_int_equal(b.len, 0);
	tg_infer_blob(&b, &parsed, "a.py", "with\0x", 6);
	assert_false(parsed);
	tg_infer_blob(&b, &parsed, "a.py", helpers, strlen(helpers));
	assert_true(parsed);
	assert_true(b.len > 0);
	assert_true(b.ptr[0] & TG_INFER_HAS_DEFS);
	tg_buf_release(&b);
}

static void test_decode_never_trusts(void **state)
{
	struct tg_buf b = TG_BUF_INIT;
	struct tg_inferred *inf = NULL;
	unsigned seed = 12345;

	(void)state;
	record(&b, "app/session_helpers.py", helpers);
	/* every truncation is rejected or decodes within bounds */
	for (size_t l = 1; l < b.len; l++) {
		if (tg_inferred_decode(&inf, "x.py", b.ptr, l) == 0)
			tg_inferred_free(inf);
	}
	for (int round = 0; round < 2000; round++) {
		char *copy = tg_xmalloc(b.len);

		memcpy(copy, b.ptr, b.len);
		for (int k = 0; k < 3; k++) {
			seed = seed * 1103515245u + 12345u;
			copy[(seed >> 8) % b.len] = (char)(seed >> 20);
		}
		if (tg_inferred_decode(&inf, "x.py", copy, b.len) == 0)
			tg_inferred_free(inf);
		free(copy);
	}
	assert_int_equal(tg_inferred_decode(&inf, "x.py", "\x01\xff\xff\xff\xff\x0f", 6),
			 TG_EPARSE);
	assert_int_equal(tg_inferred_decode(&inf, "x.py", "", 0), 0);
	assert_int_equal(inf->ndefs, 0);
	tg_inferred_free(inf);
	tg_buf_release(&b);
}

static void test_changed_names(void **state)
{
	struct tg_buf a = TG_BUF_INIT, b = TG_BUF_INIT;
	char **names = NULL;
	size_t nr = 0, alloc = 0;
	static const char before[] =
		"from contextlib import contextmanager\n"
		"S = sessionmaker()\n"
		"@contextmanager\ndef get_session():\n    s = S()\n"
		"    try:\n        yield s\n    finally:\n        s.close()\n"
		"@contextmanager\ndef same():\n    with S.begin() as s:\n"
		"        yield s\n";
	static const char after[] =
		"from contextlib import contextmanager\n"
		"\n\n"
		"@contextmanager\ndef get_session():\n    s = S()\n"
		"    try:\n        yield s\n        s.commit()\n"
		"    finally:\n        s.close()\n"
		"@contextmanager\ndef same():\n    with S.begin() as s:\n"
		"        yield s\n";

	(void)state;
	record(&a, "m.py", before);
	record(&b, "m.py", after);
	tg_inferred_changed_names(&names, &nr, &alloc, a.ptr, a.len, b.ptr,
			       b.len);
	/* the owner appeared, the factory went; `same` moved only */
	assert_int_equal(nr, 2);
	assert_true((!strcmp(names[0], "S") && !strcmp(names[1],
							  "get_session")) ||
		    (!strcmp(names[1], "S") && !strcmp(names[0],
							  "get_session")));
	for (size_t i = 0; i < nr; i++)
		free(names[i]);
	free(names);
	tg_buf_release(&a);
	tg_buf_release(&b);
}

static void test_deep_and_huge(void **state)
{
	struct tg_buf src = TG_BUF_INIT, rec = TG_BUF_INIT;
	struct tg_inferred *inf;
	bool parsed;

	(void)state;
	/* deep: thousands of nested withs and brackets */
	tg_buf_addstr(&src, "from contextlib import contextmanager\n"
			    "@contextmanager\ndef f():\n");
	for (int i = 0; i < 3000; i++) {
		for (int k = 0; k < i + 1; k++)
			tg_buf_addch(&src, ' ');
		tg_buf_addf(&src, "with s.begin():\n");
	}
	for (int k = 0; k < 3001; k++)
		tg_buf_addch(&src, ' ');
	tg_buf_addstr(&src, "yield s\nx = ");
	for (int i = 0; i < 20000; i++)
		tg_buf_addch(&src, '(');
	for (int i = 0; i < 20000; i++)
		tg_buf_addch(&src, ')');
	tg_buf_addch(&src, '\n');
	tg_infer_blob(&rec, &parsed, "deep.py", src.ptr, src.len);
	assert_true(parsed);
	assert_int_equal(tg_inferred_decode(&inf, "deep.py", rec.ptr, rec.len),
			 0);
	tg_inferred_free(inf);

	/* huge: 20,000 owners in one file */
	tg_buf_reset(&src);
	tg_buf_reset(&rec);
	tg_buf_addstr(&src, "from contextlib import contextmanager\n");
	for (int i = 0; i < 20000; i++)
		tg_buf_addf(&src,
			    "@contextmanager\ndef f%d():\n"
			    "    with S.begin() as s:\n        yield s\n",
			    i);
	tg_infer_blob(&rec, &parsed, "huge.py", src.ptr, src.len);
	assert_int_equal(tg_inferred_decode(&inf, "huge.py", rec.ptr, rec.len),
			 0);
	assert_int_equal(inf->ndefs, 20000);
	tg_inferred_free(inf);
	tg_buf_release(&src);
	tg_buf_release(&rec);
}

static void *query_thread(void *arg)
{
	struct tg_resolver *r = arg;
	const struct tg_owner *o = NULL;

	for (int i = 0; i < 2000; i++) {
		o = owner(r, "app/jobs.py", "h.transactional_session");
		if (!o || tg_resolver_dependency(r, "app/session_helpers.py",
						 "get_db", 6) == NULL)
			return NULL;
	}
	return (void *)o;
}

static void test_threads_share_a_resolver(void **state)
{
	struct tg_resolver *r = tg_resolver_new();
	pthread_t th[4];
	void *res[4];

	(void)state;
	add(r, "app/session_helpers.py", helpers);
	add(r, "app/jobs.py", "from . import session_helpers as h\n");
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, query_thread, r),
				 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], &res[i]), 0);
		assert_non_null(res[i]);
		assert_ptr_equal(res[i], res[0]);
	}
	tg_resolver_free(r);
}

/*
 * The engine fills in the record of a file the owner index skipped (no
 * pre-filter word): only an absent or empty record is replaced, and the
 * answers handed out before stay valid (scan threads share the resolver).
 */
static void test_fill_keeps_answers(void **state)
{
	struct tg_resolver *r = tg_resolver_new();
	struct tg_buf b = TG_BUF_INIT;
	const struct tg_owner *before, *o;

	(void)state;
	add(r, "app/session_helpers.py", helpers);
	tg_resolver_add(r, "app/leak.py", NULL, 0, false);
	add(r, "app/jobs.py", "from .session_helpers import get_db\n");
	assert_false(tg_resolver_needs(r, "app/session_helpers.py"));
	assert_true(tg_resolver_needs(r, "app/leak.py"));
	assert_true(tg_resolver_needs(r, "app/absent.py"));
	before = tg_resolver_dependency(r, "app/jobs.py", "get_db", 6);
	assert_non_null(before);
	/* empty: imports unknown, so a factory is not found through them */
	assert_null(tg_resolver_factory(r, "app/leak.py", "mk", 2));

	record(&b, "app/leak.py",
	       "from app.session_helpers import async_session_factory as mk\n"
	       "def f():\n    s = mk()\n");
	tg_resolver_fill(r, "app/leak.py", b.ptr, b.len);
	assert_false(tg_resolver_needs(r, "app/leak.py"));
	o = tg_resolver_factory(r, "app/leak.py", "mk", 2);
	assert_non_null(o);
	assert_string_equal(o->name, "async_session_factory");
	/* an earlier answer is still a live object, and still right */
	assert_string_equal(before->name, "get_db");
	o = tg_resolver_dependency(r, "app/jobs.py", "get_db", 6);
	assert_non_null(o);
	assert_string_equal(o->where, before->where);

	/* a full record is never replaced by fill; an absent one is added */
	tg_resolver_fill(r, "app/session_helpers.py", b.ptr, b.len);
	assert_non_null(tg_resolver_owner(r, "app/session_helpers.py",
					  "get_background_session", 22));
	tg_resolver_fill(r, "app/absent.py", b.ptr, b.len);
	assert_false(tg_resolver_needs(r, "app/absent.py"));
	assert_non_null(tg_resolver_factory(r, "app/absent.py", "mk", 2));
	tg_buf_release(&b);
	tg_resolver_free(r);
}

/*
 * A filled record serves its own file's queries only: another file
 * importing through it resolves the same before and after the fill, so
 * a scan's findings do not depend on the order its threads analyse
 * files in.
 */
static void test_fill_own_only(void **state)
{
	struct tg_resolver *r = tg_resolver_new();
	struct tg_buf b = TG_BUF_INIT;
	const struct tg_owner *o;

	(void)state;
	add(r, "app/session_helpers.py", helpers);
	add(r, "app/jobs.py", "from app.relay import get_background_session\n");
	assert_null(tg_resolver_owner(r, "app/jobs.py",
				      "get_background_session", 22));
	record(&b, "app/relay.py",
	       "from app.session_helpers import get_background_session\n"
	       "async def f():\n"
	       "    async with get_background_session() as s:\n"
	       "        pass\n");
	tg_resolver_fill(r, "app/relay.py", b.ptr, b.len);
	/* its own queries resolve through its imports */
	o = tg_resolver_owner(r, "app/relay.py", "get_background_session", 22);
	assert_non_null(o);
	/* another file does not resolve through it, before or after */
	assert_null(tg_resolver_owner(r, "app/jobs.py",
				      "get_background_session", 22));
	/* its analysis over, the record goes; a new fill brings it back */
	assert_false(tg_resolver_needs(r, "app/relay.py"));
	tg_resolver_done(r, "app/relay.py");
	assert_true(tg_resolver_needs(r, "app/relay.py"));
	tg_resolver_fill(r, "app/relay.py", b.ptr, b.len);
	assert_false(tg_resolver_needs(r, "app/relay.py"));
	assert_int_equal(tg_resolver_file(r, "app/relay.py")->nimports, 1);
	tg_resolver_done(r, "app/relay.py");
	tg_buf_release(&b);

	/*
	 * Nor does a package that re-exports, nor a module that defines:
	 * the targets are all added first, and one that was not is none
	 * for the others, whenever it is analysed.
	 */
	add(r, "app/other.py", "from app.db import get_background_session\n"
			       "from app.more import get_thing\n");
	assert_null(tg_resolver_owner(r, "app/other.py",
				      "get_background_session", 22));
	record(&b, "app/db/__init__.py",
	       "from app.session_helpers import get_background_session\n");
	tg_resolver_fill(r, "app/db/__init__.py", b.ptr, b.len);
	assert_non_null(tg_resolver_owner(r, "app/db/__init__.py",
					  "get_background_session", 22));
	assert_null(tg_resolver_owner(r, "app/other.py",
				      "get_background_session", 22));
	tg_resolver_done(r, "app/db/__init__.py");
	assert_true(tg_resolver_needs(r, "app/db/__init__.py"));
	tg_buf_release(&b);
	record(&b, "app/more.py",
	       "import contextlib\n@contextlib.contextmanager\n"
	       "def get_thing():\n    s = S()\n    yield s\n    s.commit()\n");
	tg_resolver_fill(r, "app/more.py", b.ptr, b.len);
	assert_non_null(tg_resolver_owner(r, "app/more.py", "get_thing", 9));
	assert_null(tg_resolver_owner(r, "app/other.py", "get_thing", 9));
	tg_buf_release(&b);
	tg_resolver_free(r);
}

/* Whether a package's record reaches a target of the resolver. */
static bool reaches(struct tg_resolver *r, const char *path, const char *src)
{
	struct tg_buf b = TG_BUF_INIT;
	bool yes;

	record(&b, path, src);
	yes = tg_resolver_reaches(r, path, b.ptr, b.len);
	tg_buf_release(&b);
	return yes;
}

/*
 * A package re-exports for the resolver only when a lookup through
 * its imports can reach a target: a dotted start of an import is a
 * target's module or a suffix of one (src/ layouts), or the import is a
 * dotted start of one (`from . import db`, then `db.session.x`).
 * Everything else, stdlib and third-party imports, names that merely
 * share letters, stays out.
 */
static void test_reaches(void **state)
{
	static const struct {
		const char *path, *src;
		bool want;
	} cases[] = {
		/* the module, through an absolute, relative or aliased import */
		{ "src/app/db/__init__.py",
		  "from .session import get_background_session\n", true },
		{ "src/app/__init__.py",
		  "from app.db.session import get_db as db\n", true },
		{ "src/app/__init__.py", "import src.app.db.session\n", true },
		/* a suffix: the resolver finds app.db.session by it */
		{ "lib/__init__.py", "from db.session import get_db\n", true },
		{ "lib/__init__.py", "import session\n", true },
		/* a dotted start of the module: the query supplies the rest */
		{ "src/app/__init__.py", "from . import db\n", true },
		{ "src/__init__.py", "import app\n", true },
		/* one import of many is enough */
		{ "src/app/api/__init__.py",
		  "import os\nfrom typing import Any\n"
		  "from ..db.session import get_db\n",
		  true },
		/* nothing on the way to a target */
		{ "src/app/api/__init__.py",
		  "import os\nimport logging\nfrom typing import Any\n", false },
		{ "src/app/models/__init__.py",
		  "from .user import User\nfrom .job import Job\n", false },
		/* third-party modules that share a last part are not it */
		{ "src/app/api/__init__.py",
		  "from sqlalchemy.orm.session import Session\n", false },
		{ "src/app/api/__init__.py", "from app.db.sessions import x\n",
		  false },
		{ "src/app/api/__init__.py", "from app.dbx import session\n",
		  false },
		{ "src/app/__init__.py", "", false },
	};
	struct tg_resolver *r = tg_resolver_new();

	(void)state;

	add(r, "src/app/db/session.py", helpers);
	for (size_t i = 0; i < TG_ARRAY_SIZE(cases); i++)
		if (reaches(r, cases[i].path, cases[i].src) != cases[i].want)
			fail_msg("case %zu: %s in %s", i, cases[i].src,
				 cases[i].path);

	/* a package that joins is reached through the names it binds */
	assert_false(reaches(r, "src/web/__init__.py",
			     "from api import get_db\n"));
	add(r, "src/app/api/__init__.py", "from ..db.session import get_db\n");
	assert_true(reaches(r, "src/web/__init__.py",
			    "from api import get_db\n"));
	assert_true(reaches(r, "src/web/__init__.py",
			    "from app.api import get_db as g\n"));
	assert_false(reaches(r, "src/web/__init__.py", "from api import x\n"));
	/* inside a target package, only what it binds leads on */
	add(r, "src/app/__init__.py", "from .db import session\n");
	assert_true(reaches(r, "src/web/__init__.py",
			    "from src.app import session\n"));
	assert_false(reaches(r, "src/app/models/__init__.py",
			     "from src.app.models.user import User\n"));
	tg_resolver_free(r);
}

/*
 * A package filled in during a scan serves its own queries, like a
 * module, and goes when its analysis is over: no other file's answers
 * depend on when it was analysed.
 */
static void test_fill_package_that_reaches_nothing(void **state)
{
	struct tg_resolver *r = tg_resolver_new();
	struct tg_buf b = TG_BUF_INIT;

	(void)state;
	add(r, "app/session_helpers.py", helpers);
	record(&b, "app/models/__init__.py",
	       "import logging\nfrom .user import User\n");
	tg_resolver_fill(r, "app/models/__init__.py", b.ptr, b.len);
	assert_false(tg_resolver_needs(r, "app/models/__init__.py"));
	tg_resolver_done(r, "app/models/__init__.py");
	assert_true(tg_resolver_needs(r, "app/models/__init__.py"));
	tg_buf_release(&b);
	tg_resolver_free(r);
}

/*
 * A scan asks the same questions from thousands of files: the answers
 * of a file go when its analysis is over, and every file that reaches
 * one definition gets the same owner, so memory follows the files being
 * analysed, not the files analysed so far.
 */
static void test_answers_per_file(void **state)
{
	enum { N = 600 };
	struct tg_resolver *r = tg_resolver_new();
	struct tg_buf b = TG_BUF_INIT;
	const struct tg_owner *first = NULL, *o;
	char path[64];

	(void)state;
	add(r, "app/session_helpers.py", helpers);
	record(&b, "app/x.py",
	       "from app.session_helpers import get_background_session\n"
	       "from app import session_helpers as sh\n"
	       "async def f():\n"
	       "    async with get_background_session() as s:\n"
	       "        pass\n");
	for (int i = 0; i < N; i++) {
		const struct tg_owner *o2;

		snprintf(path, sizeof(path), "app/svc/m%d.py", i);
		tg_resolver_fill(r, path, b.ptr, b.len);
		o = tg_resolver_owner(r, path, "get_background_session", 22);
		o2 = tg_resolver_owner(r, path, "sh.get_background_session",
				       25);
		assert_non_null(o);
		assert_ptr_equal(o, o2); /* one owner for one definition */
		if (!first)
			first = o;
		assert_ptr_equal(o, first);
		assert_null(tg_resolver_owner(r, path, "other_cm", 8));
		assert_null(tg_resolver_factory(r, path, "get_background_session",
						22));
		assert_int_equal(tg_resolver_remembered(r), 4 * (i % 2 + 1));
		/* every other file is done at once, the rest one later */
		if (i % 2) {
			snprintf(path, sizeof(path), "app/svc/m%d.py", i - 1);
			tg_resolver_done(r, path);
			snprintf(path, sizeof(path), "app/svc/m%d.py", i);
			tg_resolver_done(r, path);
			assert_int_equal(tg_resolver_remembered(r), 0);
		}
	}
	/* a done file's record is gone; the definitions' file stays */
	assert_null(tg_resolver_file(r, "app/svc/m3.py"));
	assert_non_null(tg_resolver_file(r, "app/session_helpers.py"));
	/* a done file asks again: the same answers, remembered afresh */
	snprintf(path, sizeof(path), "app/svc/m%d.py", 7);
	tg_resolver_fill(r, path, b.ptr, b.len);
	assert_ptr_equal(tg_resolver_owner(r, path, "get_background_session",
					   22),
			 first);
	assert_int_equal(tg_resolver_remembered(r), 1);
	/*
	 * A file filled in with definitions serves its own queries: no
	 * other file's answer changes, not even the one definition of a
	 * name in the repository, and nothing is forgotten.
	 */
	tg_buf_reset(&b);
	record(&b, "app/other.py", "from contextlib import contextmanager\n"
				   "@contextmanager\n"
				   "def other_cm():\n"
				   "    s = make()\n"
				   "    yield s\n"
				   "    s.commit()\n");
	tg_resolver_fill(r, "app/other.py", b.ptr, b.len);
	assert_int_equal(tg_resolver_remembered(r), 1);
	assert_non_null(tg_resolver_owner(r, "app/other.py", "other_cm", 8));
	o = tg_resolver_owner(r, path, "get_background_session", 22);
	assert_ptr_equal(o, first);
	assert_null(tg_resolver_owner(r, path, "other_cm", 8));
	tg_resolver_done(r, "app/other.py");
	assert_null(tg_resolver_owner(r, path, "other_cm", 8));
	assert_string_equal(first->name, "get_background_session");
	tg_resolver_done(r, path);
	/* a target's analysis over, its decoding goes and comes back */
	tg_resolver_done(r, "app/session_helpers.py");
	assert_false(tg_resolver_needs(r, "app/session_helpers.py"));
	tg_buf_reset(&b);
	record(&b, "app/late.py",
	       "from app.session_helpers import transactional_session\n");
	tg_resolver_fill(r, "app/late.py", b.ptr, b.len);
	o = tg_resolver_owner(r, "app/late.py", "transactional_session", 21);
	assert_non_null(o);
	assert_string_equal(o->where, "app/session_helpers.py:22");
	assert_true(tg_resolver_file(r, "app/session_helpers.py")->ndefs > 0);
	assert_string_equal(first->where, "app/session_helpers.py:10");
	tg_resolver_done(r, "app/late.py");
	tg_buf_release(&b);
	tg_resolver_free(r);
}

/*
 * A file of many one-line functions: every name is a local once, and
 * the walk is linear in them (it was quadratic in the number of names).
 */
static void test_many_functions(void **state)
{
	struct tg_buf src = TG_BUF_INIT;
	struct tg_inferred *inf;
	const size_t n = 80000;

	(void)state;
	for (size_t i = 0; i < n; i++)
		tg_buf_addf(&src, "def f%zu(): pass\n", i);
	/* the same names again: still one local each */
	for (size_t i = 0; i < n; i += 1000)
		tg_buf_addf(&src, "def f%zu(): pass\n", i);
	tg_buf_addstr(&src, "def get_db():\n"
			    "    db = SessionLocal()\n"
			    "    yield db\n"
			    "    db.commit()\n");
	inf = infer("app/many.py", src.ptr);
	assert_int_equal(inf->nlocals, n + 1);
	assert_string_equal(inf->locals[0], "f0");
	assert_string_equal(inf->locals[n - 1], "f79999");
	assert_int_equal(inf->ndefs, 1);
	assert_string_equal(inf->defs[0].name, "get_db");
	assert_true(inf->defs[0].owns);
	tg_inferred_free(inf);
	tg_buf_release(&src);
}

static unsigned record_flags(const struct tg_buf *b)
{
	return b->len ? (unsigned char)b->ptr[0] : 0;
}

/*
 * The walk is bounded by a count of its steps, never by time: past the
 * bound the record keeps what was found and says it is incomplete.
 */
static void test_bounded_walk(void **state)
{
	static const char src[] =
		"from app.db import get_db\n"
		"def f(session):\n"
		"    with get_db() as s:\n"
		"        s.commit()\n";
	struct tg_pyfile *py = NULL;
	struct tg_buf b = TG_BUF_INIT;
	struct tg_inferred *inf = NULL;

	(void)state;
	assert_int_equal(tg_pyfile_parse(&py, "a.py", src, strlen(src)), 0);
	tg_infer_pyfile(&b, py);
	assert_false(record_flags(&b) & TG_INFER_INCOMPLETE);
	tg_buf_reset(&b);
	tg_infer_pyfile_bounded(&b, py, 12);
	assert_true(record_flags(&b) & TG_INFER_INCOMPLETE);
	/* still a record: the import read before the bound is there */
	assert_int_equal(tg_inferred_decode(&inf, "a.py", b.ptr, b.len), 0);
	assert_string_equal(import_of(inf, "get_db"), "app.db.get_db");
	assert_false(uses(inf, "get_db"));
	tg_inferred_free(inf);
	tg_pyfile_free(py);
	tg_buf_release(&b);
}

/*
 * A file made to be slow: every call deep in nested blocks makes the
 * walk look at every enclosing block. The default bound stops it; the
 * resolver says so.
 */
static void test_costly_file_incomplete(void **state)
{
	struct tg_buf src = TG_BUF_INIT, b = TG_BUF_INIT;
	struct tg_pyfile *py = NULL;
	struct tg_resolver *r = tg_resolver_new();
	const int depth = 200;

	(void)state;
	tg_buf_addstr(&src, "def f(session):\n");
	for (int d = 1; d <= depth; d++)
		tg_buf_addf(&src, "%*swith session.begin():\n", d, "");
	tg_buf_addf(&src, "%*s", depth + 1, "");
	for (int i = 0; i < 30000; i++)
		tg_buf_addstr(&src, "g();");
	tg_buf_addstr(&src, "session.commit()\n");
	assert_int_equal(tg_pyfile_parse(&py, "deep.py", src.ptr, src.len), 0);
	assert_false(py->has_errors);
	tg_infer_pyfile(&b, py);
	assert_true(record_flags(&b) & TG_INFER_INCOMPLETE);
	tg_resolver_add(r, "deep.py", b.ptr, b.len, true);
	assert_true(tg_resolver_incomplete(r, "deep.py"));
	add(r, "plain.py", "def g():\n    with x() as s:\n        yield s\n");
	assert_false(tg_resolver_incomplete(r, "plain.py"));
	assert_false(tg_resolver_incomplete(r, "absent.py"));
	tg_resolver_free(r);
	tg_pyfile_free(py);
	tg_buf_release(&b);
	tg_buf_release(&src);
}

/*
 * A route that only names an alias imported from elsewhere records its
 * use of it, by the alias's own name too when the import renames it.
 */
static void test_alias_users_recorded(void **state)
{
	static const char plain[] =
		"from app.deps import SessionDep\n"
		"def create(db: SessionDep):\n"
		"    db.commit()\n";
	static const char renamed[] =
		"from app.deps import SessionDep as Db\n"
		"def create(db: Db):\n"
		"    db.rollback()\n";
	struct tg_buf b = TG_BUF_INIT;
	struct tg_inferred *inf;
	bool parsed;

	(void)state;
	assert_true(tg_infer_wanted("app/routes.py", plain, strlen(plain)));
	assert_int_equal(tg_infer_blob(&b, &parsed, "app/routes.py", plain,
				       strlen(plain)), 0);
	assert_true(parsed);
	tg_buf_release(&b);
	inf = infer("app/routes.py", plain);
	assert_true(uses(inf, "SessionDep"));
	tg_inferred_free(inf);
	inf = infer("app/renamed.py", renamed);
	assert_true(uses(inf, "Db"));
	assert_true(uses(inf, "app.deps.SessionDep"));
	tg_inferred_free(inf);
}

static bool has_name(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return true;
	return false;
}

/*
 * The names whose import a change re-pointed, added or removed, and
 * those a module-level local binds on one side only.
 */
static void test_changed_bindings(void **state)
{
	struct tg_buf a = TG_BUF_INIT, b = TG_BUF_INIT;
	char **names = NULL;
	size_t n = 0, alloc = 0;

	(void)state;
	record(&a, "app/__init__.py",
	       "import os\nfrom .db_ro import get_session\n"
	       "from .deps import SessionDep\n"
	       "from .jobs import get_db\n\ndef get_db():\n    return 1\n"
	       "def keep():\n    return 2\n"
	       "def worker():\n    return 5\n"
	       "def run():\n    with worker() as w:\n        w.go()\n");
	record(&b, "app/__init__.py",
	       "import os\nfrom .db import get_session\n"
	       "from .models import Job\nfrom .jobs import get_db\n"
	       "def keep():\n    return 3\n"
	       "def added():\n    return 4\n"
	       "def run():\n    with worker() as w:\n        w.go()\n");
	tg_inferred_changed_bindings(&names, &n, &alloc, "app/__init__.py",
				     a.ptr, a.len, b.ptr, b.len);
	assert_int_equal(n, 5);
	/* a used name whose local went: the repository may bind it now */
	assert_true(has_name(names, n, "worker"));
	/* a function that comes, neither imported nor used: nothing */
	assert_false(has_name(names, n, "added"));
	assert_true(has_name(names, n, "get_session"));
	assert_true(has_name(names, n, "SessionDep"));
	assert_true(has_name(names, n, "Job"));
	/* the local that shadowed the import went */
	assert_true(has_name(names, n, "get_db"));
	assert_false(has_name(names, n, "os"));
	assert_false(has_name(names, n, "keep"));
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	tg_buf_release(&a);
	tg_buf_release(&b);
}

static const unsigned char *failing_load(const void *key,
					 unsigned char **owned)
{
	*owned = NULL;
	tg_error_set(TG_EIO, "cannot read the record of %s",
		     (const char *)key);
	return NULL;
}

/*
 * A record the loader cannot give makes its file resolve as empty, and
 * the resolver says so: the caller fails the run rather than miss an
 * owner (the loader no longer has to exit).
 */
static void test_failed_load_is_an_error(void **state)
{
	struct tg_resolver *r = tg_resolver_new();
	struct tg_buf b = TG_BUF_INIT;
	unsigned char head[2];

	(void)state;
	record(&b, "app/db.py",
	       "from contextlib import contextmanager\n"
	       "@contextmanager\n"
	       "def get_session():\n"
	       "    s = make()\n"
	       "    yield s\n"
	       "    s.commit()\n");
	memcpy(head, b.ptr, 2);
	tg_resolver_add_lazy(r, "app/db.py", b.len, head, failing_load,
			     "app/db.py");
	add(r, "app/jobs.py", "from app.db import get_session\n");
	assert_int_equal(tg_resolver_error(r), 0);
	assert_null(owner(r, "app/jobs.py", "get_session"));
	assert_int_equal(tg_resolver_error(r), TG_EIO);
	assert_non_null(strstr(tg_error_last(), "app/db.py"));
	tg_error_clear();
	tg_resolver_free(r);
	tg_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_module_names),
		cmocka_unit_test(test_imports),
		cmocka_unit_test(test_example_helpers),
		cmocka_unit_test(test_owner_patterns),
		cmocka_unit_test(test_decorator_spellings),
		cmocka_unit_test(test_dependencies),
		cmocka_unit_test(test_factories_and_aliases),
		cmocka_unit_test(test_class_owners),
		cmocka_unit_test(test_owner_methods_on_instances),
		cmocka_unit_test(test_owners_made_by_a_call),
		cmocka_unit_test(test_depends_aliases_as_defaults),
		cmocka_unit_test(test_uses),
		cmocka_unit_test(test_resolve_through_imports),
		cmocka_unit_test(test_same_name_two_modules),
		cmocka_unit_test(test_fallback_unique_name),
		cmocka_unit_test(test_reexport_and_src_layout),
		cmocka_unit_test(test_plain_module_imports_are_its_own),
		cmocka_unit_test(test_moved_record),
		cmocka_unit_test(test_wrappers_and_cycles),
		cmocka_unit_test(test_alias_across_modules),
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_prefilter),
		cmocka_unit_test(test_decode_never_trusts),
		cmocka_unit_test(test_changed_names),
		cmocka_unit_test(test_deep_and_huge),
		cmocka_unit_test(test_threads_share_a_resolver),
		cmocka_unit_test(test_fill_keeps_answers),
		cmocka_unit_test(test_fill_own_only),
		cmocka_unit_test(test_reaches),
		cmocka_unit_test(test_fill_package_that_reaches_nothing),
		cmocka_unit_test(test_answers_per_file),
		cmocka_unit_test(test_many_functions),
		cmocka_unit_test(test_bounded_walk),
		cmocka_unit_test(test_costly_file_incomplete),
		cmocka_unit_test(test_alias_users_recorded),
		cmocka_unit_test(test_changed_bindings),
		cmocka_unit_test(test_failed_load_is_an_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
