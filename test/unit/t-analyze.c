/* The analysis walk, TX001 finding fields and suppressions. */
#include "txguard/common.h"
#include "txguard/analyze.h"
#include "txguard/buf.h"
#include "txguard/diff.h"
#include "txguard/finding.h"
#include "txguard/infer.h"
#include "txguard/resolver.h"
#include "txguard/owner_table.h"
#include "txguard/pyparse.h"
#include "txguard/rules.h"
#include "txguard/suppress.h"
#include "txguard/units.h"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

struct run {
	struct tg_pyfile *py;
	struct tg_units units;
	struct tg_owner_table owners;
	struct tg_analyze_opts opts;
	struct tg_findings f;
};

static void setup(struct run *r, const char *src, size_t len)
{
	memset(r, 0, sizeof(*r));
	tg_owner_table_add_owner(&r->owners, "get_background_session",
			    TG_OWNER_CONFIGURED, NULL, NULL);
	r->opts.owners = &r->owners;
	assert_int_equal(tg_pyfile_parse(&r->py, "app/jobs.py", src, len), 0);
	assert_int_equal(tg_units_load(&r->units, r->py), 0);
}

static void teardown(struct run *r)
{
	tg_findings_release(&r->f);
	tg_units_release(&r->units);
	tg_pyfile_free(r->py);
	tg_owner_table_release(&r->owners);
}

static const char jobs[] =
	"async def mark(job_id):\n"                                /* 1 */
	"    async with get_background_session() as session:\n"    /* 2 */
	"        await session.commit()\n"                         /* 3 */
	"\n"                                                       /* 4 */
	"def purge(engine):\n"                                     /* 5 */
	"    def nested(s):\n"                                     /* 6 */
	"        with s.begin():\n"                                /* 7 */
	"            s.rollback()\n"                               /* 8 */
	"    with engine.begin() as conn:\n"                       /* 9 */
	"        conn.commit()\n"                                  /* 10 */
	"\n"                                                       /* 11 */
	"def tail(s):\n"                                           /* 12 */
	"    with s.begin_nested():\n"                             /* 13 */
	"        s.commit()\n";                                    /* 14 */

static void test_fields(void **state)
{
	struct run r;
	const struct tg_finding *f;

	(void)state;
	setup(&r, jobs, sizeof(jobs) - 1);
	r.opts.flags = TG_ANALYZE_ALL_UNITS;
	assert_int_equal(tg_analyze(&r.f, r.py, &r.units, &r.opts), 0);
	assert_int_equal(r.f.nr, 4);

	f = &r.f.v[0];
	assert_string_equal(f->rule->id, "TX001");
	assert_int_equal(f->severity, TG_SEV_CRITICAL);
	assert_string_equal(f->path, "app/jobs.py");
	assert_string_equal(f->unit, "mark");
	assert_int_equal(f->line, 3);
	assert_int_equal(f->column, 15);
	assert_int_equal(f->end_line, 3);
	assert_int_equal(f->end_column, 31);
	assert_string_equal(f->call_text, "session.commit()");
	assert_string_equal(f->owner_text, "get_background_session()");
	assert_string_equal(f->owner,
			    "get_background_session (owner configured in .txguard)");
	assert_string_equal(
		f->message,
		"session.commit() inside `async with get_background_session() as session`, which already commits on exit");
	assert_non_null(strstr(f->help, "async_session_factory()"));
	assert_int_equal(f->status, TG_STATUS_NEW);
	assert_int_equal(strlen(f->fingerprint), TG_FINGERPRINT_HEXSZ);

	f = &r.f.v[1];
	assert_string_equal(f->unit, "purge.<locals>.nested");
	assert_int_equal(f->line, 8);
	assert_string_equal(f->owner_text, "s.begin()");
	assert_string_equal(
		f->owner,
		"s.begin() at line 7 (SQLAlchemy: commits on exit, rolls back on error)");
	assert_non_null(strstr(f->help, "raise instead"));

	f = &r.f.v[2];
	assert_string_equal(f->unit, "purge");
	assert_int_equal(f->line, 10);
	assert_string_equal(f->owner_text, "engine.begin()");

	f = &r.f.v[3];
	assert_string_equal(f->unit, "tail");
	assert_non_null(strstr(f->owner, "savepoint"));
	teardown(&r);
}

static void test_changed_units_only(void **state)
{
	struct run r;
	struct tg_hunk h[] = { { 9, 1, 9, 1 }, { 14, 1, 14, 1 } };

	(void)state;
	setup(&r, jobs, sizeof(jobs) - 1);
	/* purge and tail change; the nested function inside purge does not */
	tg_units_mark_changed(&r.units, h, 2);
	assert_int_equal(tg_analyze(&r.f, r.py, &r.units, &r.opts), 0);
	assert_int_equal(r.f.nr, 2);
	assert_string_equal(r.f.v[0].unit, "purge");
	assert_int_equal(r.f.v[0].line, 10);
	assert_string_equal(r.f.v[1].unit, "tail");
	assert_int_equal(r.f.v[1].line, 14);
	teardown(&r);
}

static void test_rule_switch(void **state)
{
	struct run r;
	size_t n;
	bool on[8] = { false };

	(void)state;
	tg_rules_all(&n);
	assert_true(n <= TG_ARRAY_SIZE(on));
	setup(&r, jobs, sizeof(jobs) - 1);
	r.opts.flags = TG_ANALYZE_ALL_UNITS;
	r.opts.rule_enabled = on;
	assert_int_equal(tg_analyze(&r.f, r.py, &r.units, &r.opts), 0);
	assert_int_equal(r.f.nr, 0);
	teardown(&r);
}

static void test_deep(void **state)
{
	enum { DEPTH = 10000 };
	struct tg_buf b = TG_BUF_INIT;
	struct run r;

	(void)state;
	/* Deep expressions inside an owner block, constant C stack */
	tg_buf_addstr(&b, "def f(s):\n    with s.begin():\n        x = ");
	for (int i = 0; i < DEPTH; i++)
		tg_buf_addch(&b, '(');
	tg_buf_addstr(&b, "s.commit()");
	for (int i = 0; i < DEPTH; i++)
		tg_buf_addch(&b, ')');
	tg_buf_addstr(&b, "\n        y = ");
	for (int i = 0; i < DEPTH; i++)
		tg_buf_addstr(&b, "lambda: ");
	tg_buf_addstr(&b, "s.commit()\n        z = ");
	for (int i = 0; i < DEPTH; i++)
		tg_buf_addstr(&b, "[s.rollback(), ");
	for (int i = 0; i < DEPTH; i++)
		tg_buf_addch(&b, ']');
	tg_buf_addch(&b, '\n');
	setup(&r, b.ptr, b.len);
	r.opts.flags = TG_ANALYZE_ALL_UNITS;
	assert_int_equal(tg_analyze(&r.f, r.py, &r.units, &r.opts), 0);
	/* one in the parentheses, none in the lambdas, DEPTH in the lists */
	assert_int_equal(r.f.nr, 1 + DEPTH);
	assert_int_equal(r.f.v[0].line, 3);
	assert_int_equal(r.f.v[DEPTH].occurrence, DEPTH - 1);
	teardown(&r);
	tg_buf_release(&b);
}

static void test_suppress(void **state)
{
	static const char src[] =
		"async def a(job):  # txguard: ignore[TX001]\n"      /* 1 */
		"    async with get_background_session() as s:\n"    /* 2 */
		"        await s.commit()\n"                         /* 3 */
		"\n"                                                 /* 4 */
		"async def b(job):\n"                                /* 5 */
		"    async with get_background_session() as s:\n"    /* 6 */
		"        await (\n"                                  /* 7 */
		"            s.rollback()\n"                         /* 8 */
		"        )  # noqa: TX001, E501\n"                   /* 9 */
		"        s.add(job)  # txguard: ignore[TX001]\n"     /* 10 */
		"        x = '# txguard: ignore'\n"                  /* 11 */
		"        await s.commit()  # noqa\n"                 /* 12 */
		"        s.flush()  # txguard: ignore[TX003]\n"      /* 13 */
		"        await s.commit()  # txguard: ignore[TX01]\n" /* 14 */
		"        await s.commit()  # txguard: ignore[TX999]\n";/* 15 */
	struct tg_suppressions unused = TG_SUPPRESSIONS_INIT;
	struct run r;

	(void)state;
	setup(&r, src, sizeof(src) - 1);
	r.opts.flags = TG_ANALYZE_ALL_UNITS;
	tg_units_mark_all(&r.units);
	assert_int_equal(tg_analyze(&r.f, r.py, &r.units, &r.opts), 0);
	assert_int_equal(r.f.nr, 5);
	assert_int_equal(tg_suppress_apply(&r.f, 0, r.py, &r.units, &unused),
			 2);
	assert_int_equal(r.f.v[0].status, TG_STATUS_SUPPRESSED);
	assert_int_equal(r.f.v[1].status, TG_STATUS_SUPPRESSED);
	assert_int_equal(r.f.v[2].status, TG_STATUS_NEW);
	/* a malformed or unknown id suppresses nothing and is reported */
	assert_int_equal(r.f.v[3].status, TG_STATUS_NEW);
	assert_int_equal(r.f.v[4].status, TG_STATUS_NEW);
	/* line 13 names TX003, which finds nothing there: unused too */
	assert_int_equal(unused.nr, 4);
	assert_int_equal(unused.v[0].line, 10);
	assert_int_equal(unused.v[1].line, 13);
	assert_int_equal(unused.v[2].line, 14);
	assert_int_equal(unused.v[3].line, 15);
	assert_string_equal(unused.v[0].text, "txguard: ignore[TX001]");
	assert_string_equal(unused.v[0].path, "app/jobs.py");
	tg_suppressions_release(&unused);
	teardown(&r);
}

static void test_owner_match(void **state)
{
	struct tg_owner_table o = TG_OWNER_TABLE_INIT;
	const struct tg_owner *m;

	(void)state;
	tg_owner_table_add_owner(&o, "db.get_session", TG_OWNER_CONFIGURED,
			    ".txguard", NULL);
	tg_owner_table_add_owner(&o, "atomic", TG_OWNER_INFERRED, "app/uow.py:12",
			    "commits after yield");
	tg_owner_table_add_factory(&o, "SessionLocal", TG_OWNER_CONFIGURED, NULL);
	/* A dotted entry matches only that spelling */
	assert_non_null(tg_owner_table_match_owner(&o, "db.get_session", 14));
	assert_null(tg_owner_table_match_owner(&o, "get_session", 11));
	assert_null(tg_owner_table_match_owner(&o, "app.db.get_session", 18));
	assert_null(tg_owner_table_match_owner(&o, "xdb.get_session", 15));
	/* an undotted one matches the last name part */
	m = tg_owner_table_match_owner(&o, "app.uow.atomic", 14);
	assert_non_null(m);
	assert_string_equal(m->where, "app/uow.py:12");
	assert_non_null(tg_owner_table_match_owner(&o, "atomic", 6));
	assert_null(tg_owner_table_match_owner(&o, "nonatomic", 9));
	assert_null(tg_owner_table_match_owner(&o, "atomic_x", 8));
	/* the length bounds the callee: no reading past it */
	assert_non_null(tg_owner_table_match_owner(&o, "atomic()", 6));
	assert_non_null(tg_owner_table_match_factory(&o, "orm.SessionLocal", 16));
	assert_null(tg_owner_table_match_factory(&o, "SessionLocal", 5));
	assert_null(tg_owner_table_match_owner(NULL, "atomic", 6));
	tg_owner_table_release(&o);
	tg_owner_table_release(&o);
}

/*
 * Several files analysed the engine's way: every file's inference in one
 * resolver first, then each file analysed with it.
 */
struct multi {
	struct tg_pyfile *py[4];
	struct tg_units units[4];
	size_t n;
	struct tg_resolver *res;
	struct tg_analyze_opts opts;
	struct tg_findings f;
};

static void multi_run(struct multi *m, const char *const *paths,
		      const char *const *srcs, size_t n)
{
	memset(m, 0, sizeof(*m));
	m->res = tg_resolver_new();
	m->n = n;
	for (size_t i = 0; i < n; i++) {
		struct tg_buf rec = TG_BUF_INIT;

		assert_int_equal(tg_pyfile_parse(&m->py[i], paths[i], srcs[i],
						 strlen(srcs[i])),
				 0);
		assert_int_equal(tg_units_load(&m->units[i], m->py[i]), 0);
		tg_infer_pyfile(&rec, m->py[i]);
		tg_resolver_add(m->res, paths[i], rec.ptr, rec.len, true);
		tg_buf_release(&rec);
	}
	m->opts.resolver = m->res;
	m->opts.flags = TG_ANALYZE_ALL_UNITS;
	for (size_t i = 0; i < n; i++)
		assert_int_equal(tg_analyze(&m->f, m->py[i], &m->units[i],
					    &m->opts),
				 0);
}

static void multi_free(struct multi *m)
{
	for (size_t i = 0; i < m->n; i++) {
		tg_units_release(&m->units[i]);
		tg_pyfile_free(m->py[i]);
	}
	tg_resolver_free(m->res);
	tg_findings_release(&m->f);
}

static const struct tg_finding *find(const struct multi *m, const char *rule,
				     unsigned line)
{
	for (size_t i = 0; i < m->f.nr; i++)
		if (!strcmp(m->f.v[i].rule->id, rule) && m->f.v[i].line == line)
			return &m->f.v[i];
	fail_msg("no %s at line %u", rule, line);
	return NULL;
}

static const char db_py[] =
	"from contextlib import asynccontextmanager\n"                 /* 1 */
	"from sqlalchemy.ext.asyncio import async_sessionmaker\n"      /* 2 */
	"factory = async_sessionmaker(engine)\n"                       /* 3 */
	"\n"                                                           /* 4 */
	"@asynccontextmanager\n"                                       /* 5 */
	"async def get_background_session():\n"                        /* 6 */
	"    async with factory() as s:\n"                             /* 7 */
	"        yield s\n"                                            /* 8 */
	"        await s.commit()\n"                                   /* 9 */
	"\n"                                                           /* 10 */
	"async def get_db():\n"                                        /* 11 */
	"    async with get_background_session() as s:\n"              /* 12 */
	"        yield s\n";                                           /* 13 */

static const char routes_py[] =
	"import asyncio\n"                                             /* 1 */
	"from fastapi import Depends\n"                                /* 2 */
	"from app.db import factory, get_background_session, get_db\n" /* 3 */
	"\n"                                                           /* 4 */
	"async def create(session=Depends(get_db)):\n"                 /* 5 */
	"    await session.commit()\n"                                 /* 6 */
	"\n"                                                           /* 7 */
	"async def later(tasks, session=Depends(get_db)):\n"          /* 8 */
	"    tasks.add_task(work, session)\n"                          /* 9 */
	"\n"                                                           /* 10 */
	"async def job(ids):\n"                                        /* 11 */
	"    s = factory()\n"                                          /* 12 */
	"    for i in ids:\n"                                          /* 13 */
	"        async with get_background_session() as t:\n"          /* 14 */
	"            await t.commit()\n";                              /* 15 */

static void test_resolved_rules(void **state)
{
	static const char *const paths[] = { "app/db.py", "app/routes.py" };
	static const char *const srcs[] = { db_py, routes_py };
	struct multi m;
	const struct tg_finding *f;

	(void)state;
	multi_run(&m, paths, srcs, 2);
	assert_int_equal(m.f.nr, 5);

	/* request scope: owned for the whole function */
	f = find(&m, "TX001", 6);
	assert_string_equal(f->path, "app/routes.py");
	assert_string_equal(f->unit, "create");
	assert_non_null(strstr(f->message, "request-scoped `session`"));
	assert_non_null(strstr(f->owner, "Depends(get_db): get_db, defined at app/db.py:11"));
	assert_non_null(strstr(f->owner, "wraps get_background_session"));
	assert_string_equal(f->owner_text, "Depends(get_db)");

	f = find(&m, "TX004", 9);
	assert_int_equal(f->severity, TG_SEV_MEDIUM);
	assert_string_equal(f->call_text, "tasks.add_task(work,session)");
	assert_non_null(strstr(f->message, "tasks.add_task()"));
	assert_non_null(strstr(f->message, "after the response"));

	f = find(&m, "TX002", 12);
	assert_int_equal(f->severity, TG_SEV_HIGH);
	assert_int_equal(f->column, 9);
	assert_string_equal(f->call_text, "factory()");
	/* a factory owns nothing: it is named in the message, not as owner */
	assert_null(f->owner);
	assert_non_null(strstr(f->message, "(factory, defined at app/db.py:3 (async_sessionmaker))"));
	assert_string_equal(f->help,
			    "open it with `async with factory() as s:`, which closes it on exit (commit explicitly inside), or put every use in a `try:` whose `finally:` calls `await s.close()`");

	f = find(&m, "TX003", 14);
	assert_non_null(strstr(f->message, "every iteration of the loop at line 13"));
	assert_non_null(strstr(f->message, "get_background_session, defined at app/db.py:6, commits after yield"));

	/* an inferred owner is named with where it is defined */
	f = find(&m, "TX001", 15);
	assert_string_equal(f->owner,
			    "get_background_session, defined at app/db.py:6, commits after yield");
	assert_non_null(strstr(f->message, "(get_background_session, defined at app/db.py:6"));
	multi_free(&m);
}

static void test_resolved_precision(void **state)
{
	static const char *const paths[] = { "app/db.py", "app/http.py",
					     "app/use.py" };
	static const char *const srcs[] = {
		"from sqlalchemy.orm import sessionmaker\n"
		"get_session = sessionmaker()\n",
		"import httpx\n"
		"def get_session():\n"
		"    return httpx.Client()\n",
		"import requests\n"                               /* 1 */
		"from app.http import get_session\n"              /* 2 */
		"from sqlalchemy.orm import Session\n"            /* 3 */
		"def a():\n"                                      /* 4 */
		"    s = get_session()\n"                         /* 5 */
		"    t = requests.Session()\n"                    /* 6 */
		"    u = Session()\n"                             /* 7 */
		"    with Session() as v:\n"                      /* 8 */
		"        v.commit()\n",                           /* 9 */
	};
	struct multi m;

	(void)state;
	multi_run(&m, paths, srcs, 3);
	/* only SQLAlchemy's Session leaks; the HTTP helpers are not factories */
	assert_int_equal(m.f.nr, 1);
	assert_string_equal(m.f.v[0].rule->id, "TX002");
	assert_int_equal(m.f.v[0].line, 7);
	assert_null(m.f.v[0].owner);
	assert_non_null(strstr(m.f.v[0].message, "(SQLAlchemy's Session)"));
	multi_free(&m);
}

static const char help_py[] =
	"from sqlalchemy.orm import Session, sessionmaker\n"             /* 1 */
	"from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker\n" /* 2 */
	"SessionLocal = sessionmaker()\n"                                /* 3 */
	"AsyncLocal = async_sessionmaker()\n"                            /* 4 */
	"def begins(engine, rows):\n"                                    /* 5 */
	"    for row in rows:\n"                                         /* 6 */
	"        with Session(engine) as s, s.begin():\n"                /* 7 */
	"            s.add(row)\n"                                       /* 8 */
	"async def opens(rows):\n"                                       /* 9 */
	"    for row in rows:\n"                                         /* 10 */
	"        s = AsyncLocal()\n"                                     /* 11 */
	"        await s.close()\n"                                      /* 12 */
	"def closes(rows):\n"                                            /* 13 */
	"    while rows:\n"                                              /* 14 */
	"        with SessionLocal() as s:\n"                            /* 15 */
	"            s.add(rows.pop())\n"                                /* 16 */
	"async def async_closes(engine, rows):\n"                        /* 17 */
	"    for row in rows:\n"                                         /* 18 */
	"        async with AsyncSession(engine) as s:\n"                /* 19 */
	"            s.add(row)\n"                                       /* 20 */
	"def undo(engine):\n"                                            /* 21 */
	"    with engine.begin() as conn:\n"                             /* 22 */
	"        try:\n"                                                 /* 23 */
	"            conn.execute(q)\n"                                  /* 24 */
	"        except Exception:\n"                                    /* 25 */
	"            conn.rollback()\n"                                  /* 26 */
	"            # the caller logs it\n"                             /* 27 */
	"            raise\n"                                            /* 28 */
	"        except KeyError:\n"                                     /* 29 */
	"            conn.rollback()\n"                                  /* 30 */
	"            raised = True\n";                                   /* 31 */

/* Each help line gives the fix that fits its site. */
static void test_help_fits_the_site(void **state)
{
	static const char *const paths[] = { "app/help.py" };
	static const char *const srcs[] = { help_py };
	struct multi m;
	const struct tg_finding *f;

	(void)state;
	multi_run(&m, paths, srcs, 1);
	assert_int_equal(m.f.nr, 7);

	/* the block commits on exit: it moves around the loop as it is */
	f = find(&m, "TX003", 7);
	assert_null(f->owner);
	assert_string_equal(f->message,
			    "Session(engine) opens a new session on every iteration of the loop at line 6 (SQLAlchemy's Session)");
	assert_string_equal(f->help,
			    "open the block once, around the loop (`with Session(engine) as s, s.begin():` before the `for`): it commits once when it exits, so add no commit inside");

	/* an async factory is opened with async with */
	f = find(&m, "TX003", 11);
	assert_null(f->owner);
	assert_string_equal(f->message,
			    "AsyncLocal() opens a new session on every iteration of the loop at line 10 (AsyncLocal, defined at app/help.py:4 (async_sessionmaker))");
	assert_string_equal(f->help,
			    "create the session once, before the loop (`async with AsyncLocal() as session:` around the `for`), and commit once after the loop, inside that block");
	f = find(&m, "TX002", 11);
	assert_null(f->owner);

	f = find(&m, "TX003", 15);
	assert_string_equal(f->help,
			    "create the session once, before the loop (`with SessionLocal() as session:` around the `while`), and commit once after the loop, inside that block");
	f = find(&m, "TX003", 19);
	assert_string_equal(f->help,
			    "create the session once, before the loop (`async with AsyncSession(engine) as session:` around the `for`), and commit once after the loop, inside that block");

	/* a rollback followed by raise: only the rollback line goes */
	f = find(&m, "TX001", 26);
	assert_string_equal(f->help,
			    "remove the rollback line only: the `raise` after it leaves the block, which rolls back");
	f = find(&m, "TX001", 30);
	assert_string_equal(f->help,
			    "raise instead of rolling back: an exception leaving the block rolls back");
	multi_free(&m);
}

static const char svc_py[] =
	"async def store(session, item):\n"                           /* 1 */
	"    if item.bad:\n"                                           /* 2 */
	"        await session.rollback()\n"                           /* 3 */
	"        return\n"                                             /* 4 */
	"    await session.commit()\n"                                 /* 5 */
	"\n"                                                           /* 6 */
	"async def save(session, item, commit=True):\n"               /* 7 */
	"    if commit:\n"                                             /* 8 */
	"        await store(session, item)\n"                         /* 9 */
	"\n"                                                           /* 10 */
	"def later(tasks, session):\n"                                 /* 11 */
	"    tasks.add_task(print, session)\n";                        /* 12 */

static const char caller_py[] =
	"from fastapi import Depends\n"                                /* 1 */
	"from app.db import get_background_session, get_db\n"          /* 2 */
	"from app.svc import later, save, store\n"                     /* 3 */
	"\n"                                                           /* 4 */
	"async def job(item):\n"                                       /* 5 */
	"    async with get_background_session() as s:\n"              /* 6 */
	"        await store(s, item)\n"                               /* 7 */
	"        await save(s, item)\n"                                /* 8 */
	"        await save(s, item, commit=False)\n"                  /* 9 */
	"\n"                                                           /* 10 */
	"async def ep(tasks, session=Depends(get_db)):\n"              /* 11 */
	"    later(tasks, session)\n";                                 /* 12 */

/*
 * A session passed to a function that commits it: the message names
 * the function and the commit (a commit before a rollback), and the
 * help the switch the function has.
 */
static void test_committing_callees(void **state)
{
	static const char *const paths[] = { "app/db.py", "app/svc.py",
					     "app/caller.py" };
	static const char *const srcs[] = { db_py, svc_py, caller_py };
	struct multi m;
	const struct tg_finding *f;

	(void)state;
	multi_run(&m, paths, srcs, 3);
	assert_int_equal(m.f.nr, 3);
	f = find(&m, "TX001", 7);
	assert_string_equal(f->message,
			    "store(s,item) inside `async with get_background_session() as s`, which already commits on exit: store commits its `session` parameter at app/svc.py:5");
	assert_string_equal(f->help,
			    "let store only add and flush (the block commits); if it must also work alone, give it a `commit: bool = True` parameter and pass `commit=False` here");
	f = find(&m, "TX001", 8);
	assert_string_equal(f->message,
			    "save(s,item) inside `async with get_background_session() as s`, which already commits on exit: save commits its `session` parameter at app/svc.py:5 (through store)");
	assert_string_equal(f->help,
			    "pass `commit=False`: the block owns the transaction and commits it; save should not commit a session it is given");
	f = find(&m, "TX004", 12);
	assert_string_equal(f->message,
			    "`session`, the session of `session=Depends(get_db)`, is passed to later, which hands its `session` parameter to background work at app/svc.py:12; that work can run after the request has closed the session");
	multi_free(&m);
}

static const char deco_py[] =
	"import functools\n"                                           /* 1 */
	"from app.db import get_background_session\n"                  /* 2 */
	"\n"                                                           /* 3 */
	"def with_session(func):\n"                                    /* 4 */
	"    @functools.wraps(func)\n"                                 /* 5 */
	"    async def wrapper(*args, **kwargs):\n"                    /* 6 */
	"        async with get_background_session() as s:\n"          /* 7 */
	"            return await func(*args, session=s, **kwargs)\n"  /* 8 */
	"    return wrapper\n"                                         /* 9 */
	"\n"                                                           /* 10 */
	"@with_session\n"                                              /* 11 */
	"async def job(item, session):\n"                              /* 12 */
	"    session.add(item)\n"                                      /* 13 */
	"    await session.commit()\n";                                /* 14 */

/* A session a decorator injects: the finding speaks of the function. */
static void test_injected_help(void **state)
{
	static const char *const paths[] = { "app/db.py", "app/deco.py" };
	static const char *const srcs[] = { db_py, deco_py };
	struct multi m;
	const struct tg_finding *f;

	(void)state;
	multi_run(&m, paths, srcs, 2);
	assert_int_equal(m.f.nr, 1);
	f = find(&m, "TX001", 14);
	assert_string_equal(f->message,
			    "session.commit() in a function decorated `@with_session`, whose session already commits when the function returns (with_session, defined at app/deco.py:4, injects `session` from get_background_session, defined at app/db.py:6, commits after yield)");
	assert_string_equal(f->help,
			    "remove this call: the session `@with_session` injects commits when the decorated function returns; if you need manual control, open one that only closes instead (`async with async_session_factory() as session:`)");
	multi_free(&m);
}

/*
 * A name configured both as a factory and as an owner is an owner: its
 * `with` commits on exit, so no help tells the user to commit inside it.
 */
static void test_owning_factory(void **state)
{
	static const char src[] =
		"def run(rows):\n"                                 /* 1 */
		"    for row in rows:\n"                           /* 2 */
		"        with get_background_session() as s:\n"    /* 3 */
		"            s.add(row)\n"                         /* 4 */
		"def leak():\n"                                    /* 5 */
		"    s = get_background_session()\n"               /* 6 */
		"    s.add(1)\n";                                  /* 7 */
	struct run r;
	const struct tg_finding *f;

	(void)state;
	setup(&r, src, sizeof(src) - 1);
	tg_owner_table_add_factory(&r.owners, "get_background_session",
				   TG_OWNER_CONFIGURED, NULL);
	r.opts.flags = TG_ANALYZE_ALL_UNITS;
	assert_int_equal(tg_analyze(&r.f, r.py, &r.units, &r.opts), 0);
	assert_int_equal(r.f.nr, 1);
	f = &r.f.v[0];
	assert_string_equal(f->rule->id, "TX003");
	assert_int_equal(f->line, 3);
	assert_string_equal(f->owner,
			    "get_background_session (owner configured in .txguard)");
	assert_string_equal(f->help,
			    "open one transaction around the loop (`with get_background_session()` before the `for`) so it commits once, or batch the statement; if every item must commit on its own on purpose, suppress with `# txguard: ignore[TX003]`");
	teardown(&r);
}

static void test_implements(void **state)
{
	(void)state;
	assert_true(tg_analyze_implements("TX001"));
	assert_true(tg_analyze_implements("tx002"));
	assert_true(tg_analyze_implements("TX003"));
	assert_true(tg_analyze_implements("TX004"));
	assert_false(tg_analyze_implements("TX005"));
	assert_false(tg_analyze_implements(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_changed_units_only),
		cmocka_unit_test(test_rule_switch),
		cmocka_unit_test(test_deep),
		cmocka_unit_test(test_suppress),
		cmocka_unit_test(test_owner_match),
		cmocka_unit_test(test_resolved_rules),
		cmocka_unit_test(test_resolved_precision),
		cmocka_unit_test(test_help_fits_the_site),
		cmocka_unit_test(test_committing_callees),
		cmocka_unit_test(test_injected_help),
		cmocka_unit_test(test_owning_factory),
		cmocka_unit_test(test_implements),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
