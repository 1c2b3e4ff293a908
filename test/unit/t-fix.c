/*
 * Removing redundant transaction calls: which TX001 sites are safe,
 * unsafe or left (and why), the exact bytes of the edit, and its diff.
 */
#include "txguard/common.h"
#include "txguard/buf.h"
#include "txguard/engine.h"
#include "txguard/finding.h"
#include "txguard/fix.h"
#include "txguard/owner_table.h"
#include "txguard/report.h"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

struct run {
	struct tg_report report;
	struct tg_owner_table owners;
	struct tg_fix_plan plan;
	struct tg_buf out;
};

static void plan(struct run *r, const char *src)
{
	struct tg_engine_opts eo = { 0 };

	memset(r, 0, sizeof(*r));
	tg_buf_init(&r->out);
	tg_owner_table_add_owner(&r->owners, "get_background_session",
				 TG_OWNER_CONFIGURED, NULL, NULL);
	eo.owners = &r->owners;
	assert_int_equal(tg_engine_run_buffers(&r->report, "app/jobs.py", src,
					       strlen(src), NULL, 0, NULL, 0,
					       &eo),
			 0);
	assert_int_equal(tg_fix_plan(&r->plan, "app/jobs.py", src, strlen(src),
				     &r->report.findings),
			 0);
}

static void done(struct run *r)
{
	tg_fix_plan_release(&r->plan);
	tg_report_release(&r->report);
	tg_owner_table_release(&r->owners);
	tg_buf_release(&r->out);
}

/* The fix of the TX001 finding on `line`. */
static const struct tg_fix *at(const struct run *r, uint32_t line)
{
	for (size_t i = 0; i < r->plan.nr; i++)
		if (r->report.findings.v[r->plan.v[i].finding].line == line)
			return &r->plan.v[i];
	fail_msg("no TX001 on line %u", line);
	return NULL;
}

static const char sites_py[] =
	"def a(session):\n"                                      /* 1 */
	"    with session.begin():\n"                            /* 2 */
	"        session.add(1)\n"                               /* 3 */
	"        session.commit()  # done\n"                     /* 4 */
	"def b(session):\n"                                      /* 5 */
	"    with session.begin():\n"                            /* 6 */
	"        session.commit()\n"                             /* 7 */
	"        session.add(1)\n"                               /* 8 */
	"def c(session):\n"                                      /* 9 */
	"    with session.begin():\n"                            /* 10 */
	"        for x in range(2):\n"                           /* 11 */
	"            session.commit()\n"                         /* 12 */
	"def d(session):\n"                                      /* 13 */
	"    with session.begin():\n"                            /* 14 */
	"        try:\n"                                         /* 15 */
	"            session.add(1)\n"                           /* 16 */
	"        except Exception:\n"                            /* 17 */
	"            session.rollback()\n"                       /* 18 */
	"            raise\n"                                    /* 19 */
	"def e(session):\n"                                      /* 20 */
	"    with session.begin():\n"                            /* 21 */
	"        try:\n"                                         /* 22 */
	"            session.add(1)\n"                           /* 23 */
	"        except Exception:\n"                            /* 24 */
	"            session.rollback()\n"                       /* 25 */
	"def f(session):\n"                                      /* 26 */
	"    with session.begin():\n"                            /* 27 */
	"        x = 1; session.commit()\n"                      /* 28 */
	"async def g(x):\n"                                      /* 29 */
	"    async with get_background_session() as session:\n"  /* 30 */
	"        if x:\n"                                        /* 31 */
	"            await session.commit()\n"                   /* 32 */
	"        elif x is None:\n"                              /* 33 */
	"            session.add(x)\n"                           /* 34 */
	"            await session.commit()\n"                   /* 35 */
	"def h(session):\n"                                      /* 36 */
	"    with session.begin_nested():\n"                     /* 37 */
	"        session.commit()\n"                             /* 38 */
	"def i(session):\n"                                      /* 39 */
	"    with session.begin():\n"                            /* 40 */
	"        try:\n"                                         /* 41 */
	"            session.commit()\n"                         /* 42 */
	"        finally:\n"                                     /* 43 */
	"            pass\n";                                    /* 44 */

static void test_sites(void **state)
{
	struct run r;

	(void)state;
	plan(&r, sites_py);
	assert_int_equal(r.plan.nr, 10);
	assert_int_equal(at(&r, 4)->safety, TG_FIX_SAFE);
	assert_int_equal(at(&r, 7)->safety, TG_FIX_UNSAFE);
	assert_non_null(strstr(at(&r, 7)->why, "same transaction"));
	assert_int_equal(at(&r, 12)->safety, TG_FIX_NOT_FIXED);
	assert_string_equal(at(&r, 12)->why, "the call is inside a loop");
	assert_int_equal(at(&r, 18)->safety, TG_FIX_SAFE);
	assert_int_equal(at(&r, 25)->safety, TG_FIX_NOT_FIXED);
	assert_non_null(strstr(at(&r, 25)->why, "bare `raise`"));
	assert_int_equal(at(&r, 28)->safety, TG_FIX_NOT_FIXED);
	assert_string_equal(at(&r, 28)->why,
			    "the statement shares its line with other code");
	assert_int_equal(at(&r, 32)->safety, TG_FIX_SAFE);
	assert_int_equal(at(&r, 35)->safety, TG_FIX_SAFE);
	assert_int_equal(at(&r, 38)->safety, TG_FIX_NOT_FIXED);
	assert_non_null(strstr(at(&r, 38)->why, "savepoint"));
	assert_int_equal(at(&r, 42)->safety, TG_FIX_NOT_FIXED);
	assert_string_equal(at(&r, 42)->why,
			    "the call is inside a try statement");
	done(&r);
}

/* A commit with statements after it says what removing it changes. */
static void test_help_of_a_commit_in_the_middle(void **state)
{
	struct run r;
	const char *help;

	(void)state;
	plan(&r, sites_py);
	help = r.report.findings.v[at(&r, 7)->finding].help;
	assert_non_null(strstr(help, "`txguard fix --unsafe` removes it"));
	assert_non_null(strstr(help, "separate short-lived session"));
	help = r.report.findings.v[at(&r, 4)->finding].help;
	assert_null(strstr(help, "--unsafe"));
	done(&r);
}

static void test_apply_exact_bytes(void **state)
{
	static const char src[] =
		"def a(session):\r\n"
		"    with session.begin():\r\n"
		"\tpass  # caf\xe9\r\n"
		"def b(session):\r\n"
		"    with session.begin():\r\n"
		"        session.commit(  # one\r\n"
		"        )\r\n"
		"x = 1";
	static const char want[] =
		"def a(session):\r\n"
		"    with session.begin():\r\n"
		"\tpass  # caf\xe9\r\n"
		"def b(session):\r\n"
		"    with session.begin():\r\n"
		"        pass\r\n"
		"x = 1";
	struct run r;

	(void)state;
	plan(&r, src);
	assert_int_equal(r.plan.nr, 1);
	assert_int_equal(tg_fix_apply(&r.out, src, strlen(src), &r.plan, false),
			 1);
	assert_int_equal(r.out.len, strlen(want));
	assert_memory_equal(r.out.ptr, want, r.out.len);
	done(&r);
}

/* Unsafe fixes only when asked; a block they empty gets one pass. */
static void test_apply_unsafe(void **state)
{
	static const char src[] = "def b(session):\n"
				  "    with session.begin():\n"
				  "        session.commit()\n"
				  "        session.commit()\n";
	struct run r;

	(void)state;
	plan(&r, src);
	assert_int_equal(tg_fix_apply(&r.out, src, strlen(src), &r.plan, false),
			 1);
	assert_string_equal(r.out.ptr, "def b(session):\n"
				       "    with session.begin():\n"
				       "        session.commit()\n");
	tg_buf_reset(&r.out);
	assert_int_equal(tg_fix_apply(&r.out, src, strlen(src), &r.plan, true),
			 2);
	assert_string_equal(r.out.ptr, "def b(session):\n"
				       "    with session.begin():\n"
				       "        pass\n");
	done(&r);
}

static void test_diff(void **state)
{
	struct run r;

	(void)state;
	plan(&r, sites_py);
	tg_fix_apply(&r.out, sites_py, strlen(sites_py), &r.plan, false);
	tg_buf_reset(&r.out);
	tg_fix_diff(&r.out, "app/jobs.py", sites_py, strlen(sites_py),
		    &r.plan);
	assert_string_equal(r.out.ptr,
			    "--- a/app/jobs.py\n"
			    "+++ b/app/jobs.py\n"
			    "@@ -1,7 +1,6 @@\n"
			    " def a(session):\n"
			    "     with session.begin():\n"
			    "         session.add(1)\n"
			    "-        session.commit()  # done\n"
			    " def b(session):\n"
			    "     with session.begin():\n"
			    "         session.commit()\n"
			    "@@ -15,7 +14,6 @@\n"
			    "         try:\n"
			    "             session.add(1)\n"
			    "         except Exception:\n"
			    "-            session.rollback()\n"
			    "             raise\n"
			    " def e(session):\n"
			    "     with session.begin():\n"
			    "@@ -29,10 +27,9 @@\n"
			    " async def g(x):\n"
			    "     async with get_background_session() as session:\n"
			    "         if x:\n"
			    "-            await session.commit()\n"
			    "+            pass\n"
			    "         elif x is None:\n"
			    "             session.add(x)\n"
			    "-            await session.commit()\n"
			    " def h(session):\n"
			    "     with session.begin_nested():\n"
			    "         session.commit()\n");
	done(&r);
}

/* A file with a syntax error is planned, never fixed. */
static void test_syntax_error(void **state)
{
	static const char src[] = "def b(session):\n"
				  "    with session.begin():\n"
				  "        session.commit()\n"
				  "def broken(:\n";
	struct run r;

	(void)state;
	plan(&r, src);
	assert_true(r.plan.syntax_error);
	assert_int_equal(r.plan.nr, 1);
	assert_int_equal(r.plan.v[0].safety, TG_FIX_NOT_FIXED);
	assert_int_equal(tg_fix_apply(&r.out, src, strlen(src), &r.plan, true),
			 0);
	assert_string_equal(r.out.ptr, src);
	done(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sites),
		cmocka_unit_test(test_help_of_a_commit_in_the_middle),
		cmocka_unit_test(test_apply_exact_bytes),
		cmocka_unit_test(test_apply_unsafe),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_syntax_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
