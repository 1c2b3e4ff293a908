/* Fingerprints and pre-image matching. */
#include "txguard/common.h"
#include "txguard/analyze.h"
#include "txguard/finding.h"
#include "txguard/fingerprint.h"
#include "txguard/hash.h"
#include "txguard/owner_table.h"
#include "txguard/pyparse.h"
#include "txguard/units.h"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

static void check_norm(const char *in, const char *want)
{
	char *got = tg_fingerprint_normalize(in, strlen(in));

	assert_string_equal(got, want);
	free(got);
}

static void test_normalize(void **state)
{
	(void)state;
	check_norm("session.commit()", "session.commit()");
	check_norm("session . commit ( )", "session.commit()");
	check_norm("await  session.commit()", "await session.commit()");
	check_norm("(\n    session  # the db\n    .commit()\n)",
		   "(session.commit())");
	check_norm("s.execute( 'a  # b' ,\n\tx )", "s.execute('a  # b',x)");
	check_norm("s.execute(\"\"\"x\n  y\"\"\")", "s.execute(\"\"\"x\n  y\"\"\")");
	check_norm("s.execute('it\\'s  #')", "s.execute('it\\'s  #')");
	check_norm("a \\\n .b()", "a.b()");
	check_norm("not x", "not x");
	check_norm("f(a, b=1)", "f(a,b=1)");
	check_norm("", "");
	check_norm("  \n# only a comment\n", "");
}

/* Analyse `src` with every unit on and return the findings. */
static void analyse(struct tg_findings *out, const char *path,
		    const char *src)
{
	struct tg_owner_table owners = TG_OWNER_TABLE_INIT;
	struct tg_analyze_opts opts = { 0 };
	struct tg_pyfile *py;
	struct tg_units units = TG_UNITS_INIT;

	tg_owner_table_add_owner(&owners, "get_background_session",
			    TG_OWNER_CONFIGURED, NULL, NULL);
	tg_owner_table_add_owner(&owners, "other_owner", TG_OWNER_CONFIGURED, NULL,
			    NULL);
	opts.owners = &owners;
	opts.flags = TG_ANALYZE_ALL_UNITS;
	assert_int_equal(tg_pyfile_parse(&py, path, src, strlen(src)), 0);
	assert_int_equal(tg_units_load(&units, py), 0);
	assert_int_equal(tg_analyze(out, py, &units, &opts), 0);
	tg_units_release(&units);
	tg_pyfile_free(py);
	tg_owner_table_release(&owners);
}

static const char base[] =
	"async def job(x):\n"
	"    async with get_background_session() as s:\n"
	"        await s.commit()\n"
	"\n"
	"def other():\n"
	"    pass\n";

/* the same code moved down, reformatted, another function edited */
static const char moved[] =
	"import os\n"
	"\n"
	"\n"
	"def other():\n"
	"    return 42\n"
	"\n"
	"async def job(x):\n"
	"    async with get_background_session() as s:\n"
	"        x.y = 1\n"
	"        await (\n"
	"            s  # the session\n"
	"            .commit(\n"
	"            )\n"
	"        )\n";

static const char *fp_of(const char *path, const char *src, size_t idx,
			 char *buf)
{
	struct tg_findings f = TG_FINDINGS_INIT;

	analyse(&f, path, src);
	assert_true(f.nr > idx);
	memcpy(buf, f.v[idx].fingerprint, TG_FINGERPRINT_HEXSZ + 1);
	tg_findings_release(&f);
	return buf;
}

static void test_stable(void **state)
{
	char a[TG_FINGERPRINT_HEXSZ + 1], b[TG_FINGERPRINT_HEXSZ + 1];

	(void)state;
	fp_of("app/jobs.py", base, 0, a);
	assert_int_equal(strlen(a), TG_FINGERPRINT_HEXSZ);
	assert_string_equal(a, fp_of("app/jobs.py", moved, 0, b));
	/* the path is part of it */
	assert_string_not_equal(a, fp_of("app/other.py", base, 0, b));
}

static void test_changes(void **state)
{
	static const char renamed_unit[] =
		"async def job2(x):\n"
		"    async with get_background_session() as s:\n"
		"        await s.commit()\n";
	static const char other_owner[] =
		"async def job(x):\n"
		"    async with other_owner() as s:\n"
		"        await s.commit()\n";
	static const char twice[] =
		"async def job(x):\n"
		"    async with get_background_session() as s:\n"
		"        await s.commit()\n"
		"        await s.commit()\n";
	char a[TG_FINGERPRINT_HEXSZ + 1], b[TG_FINGERPRINT_HEXSZ + 1];
	char c[TG_FINGERPRINT_HEXSZ + 1];

	(void)state;
	fp_of("p.py", base, 0, a);
	assert_string_not_equal(a, fp_of("p.py", renamed_unit, 0, b));
	assert_string_not_equal(a, fp_of("p.py", other_owner, 0, b));
	/* occurrence: the first of two equals the single one */
	assert_string_equal(a, fp_of("p.py", twice, 0, b));
	assert_string_not_equal(a, fp_of("p.py", twice, 1, c));
}

static void test_preimage_by_count(void **state)
{
	static const char twice[] =
		"async def job(x):\n"
		"    async with get_background_session() as s:\n"
		"        await s.commit()\n"
		"        await s.commit()\n";
	struct tg_findings old = TG_FINDINGS_INIT, cur = TG_FINDINGS_INIT;

	(void)state;
	analyse(&old, "p.py", base);
	analyse(&cur, "p.py", twice);
	assert_int_equal(old.nr, 1);
	assert_int_equal(cur.nr, 2);
	tg_findings_match_preimage(&cur, &old);
	assert_int_equal(cur.v[0].status, TG_STATUS_PREEXISTING);
	assert_int_equal(cur.v[1].status, TG_STATUS_NEW);
	tg_findings_release(&old);
	tg_findings_release(&cur);
}

static void test_hash(void **state)
{
	(void)state;
	/* FNV-1a 64 of "a" */
	assert_true(tg_hash_fnv1a(TG_HASH_FNV_OFFSET, "a", 1) ==
		    0xaf63dc4c8601ec8cULL);
	assert_true(tg_hash_fnv1a(TG_HASH_FNV_OFFSET, "", 0) == TG_HASH_FNV_OFFSET);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_stable),
		cmocka_unit_test(test_changes),
		cmocka_unit_test(test_preimage_by_count),
		cmocka_unit_test(test_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
