/* The analysis walk, TX001 finding fields and suppressions (SPEC §5, §8). */
#include "txguard/common.h"
#include "txguard/analyze.h"
#include "txguard/buf.h"
#include "txguard/diff.h"
#include "txguard/finding.h"
#include "txguard/owners.h"
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
	struct tg_owners owners;
	struct tg_analyze_opts opts;
	struct tg_findings f;
};

static void setup(struct run *r, const char *src, size_t len)
{
	memset(r, 0, sizeof(*r));
	tg_owners_add_owner(&r->owners, "get_background_session",
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
	tg_owners_release(&r->owners);
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
	/* §11: deep expressions inside an owner block, constant C stack */
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
	struct tg_owners o = TG_OWNERS_INIT;
	const struct tg_owner *m;

	(void)state;
	tg_owners_add_owner(&o, "db.get_session", TG_OWNER_CONFIGURED,
			    ".txguard", NULL);
	tg_owners_add_owner(&o, "atomic", TG_OWNER_INFERRED, "app/uow.py:12",
			    "commits after yield");
	tg_owners_add_factory(&o, "SessionLocal", TG_OWNER_CONFIGURED, NULL);
	/* §8: a dotted entry matches only that spelling */
	assert_non_null(tg_owners_match_owner(&o, "db.get_session", 14));
	assert_null(tg_owners_match_owner(&o, "get_session", 11));
	assert_null(tg_owners_match_owner(&o, "app.db.get_session", 18));
	assert_null(tg_owners_match_owner(&o, "xdb.get_session", 15));
	/* an undotted one matches the last name part */
	m = tg_owners_match_owner(&o, "app.uow.atomic", 14);
	assert_non_null(m);
	assert_string_equal(m->where, "app/uow.py:12");
	assert_non_null(tg_owners_match_owner(&o, "atomic", 6));
	assert_null(tg_owners_match_owner(&o, "nonatomic", 9));
	assert_null(tg_owners_match_owner(&o, "atomic_x", 8));
	/* the length bounds the callee: no reading past it */
	assert_non_null(tg_owners_match_owner(&o, "atomic()", 6));
	assert_non_null(tg_owners_match_factory(&o, "orm.SessionLocal", 16));
	assert_null(tg_owners_match_factory(&o, "SessionLocal", 5));
	assert_null(tg_owners_match_owner(NULL, "atomic", 6));
	tg_owners_release(&o);
	tg_owners_release(&o);
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
