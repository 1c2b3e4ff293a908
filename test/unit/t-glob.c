/* Path globs: `*`, `**`, `?`, classes, base-name patterns (SPEC §8). */
#include "txguard/common.h"
#include "txguard/glob.h"

#include <stdarg.h>
#include <setjmp.h>
#include <time.h>
#include <cmocka.h>

struct gcase {
	const char *pattern, *path;
	bool match;
};

static const struct gcase cases[] = {
	{ "*.py", "a.py", true },
	{ "*.py", "dir/sub/a.py", true }, /* no '/': base name */
	{ "*.py", "a.pyc", false },
	{ "*.py", "a.py/x", false },
	{ "test_*.py", "pkg/test_x.py", true },
	{ "test_*.py", "pkg/x_test.py", false },
	{ "?.py", "a.py", true },
	{ "?.py", "ab.py", false },
	{ "[ab].py", "b.py", true },
	{ "[ab].py", "c.py", false },
	{ "[a-c]x", "bx", true },
	{ "[!a-c]x", "bx", false },
	{ "[!a-c]x", "dx", true },
	{ "app/*.py", "app/m.py", true },
	{ "app/*.py", "app/sub/m.py", false }, /* `*` stays in a component */
	{ "app/**", "app/m.py", true },
	{ "app/**", "app/a/b/c/m.py", true },
	{ "app/**", "application/m.py", false },
	{ "app/**", "other/app/m.py", false },
	{ "**/test_*.py", "test_a.py", true },
	{ "**/test_*.py", "a/b/test_a.py", true },
	{ "**/test_*.py", "a/b/xtest_a.py", false },
	{ "a/**/b.py", "a/b.py", true },
	{ "a/**/b.py", "a/x/y/b.py", true },
	{ "a/**/b.py", "a/x/y/c.py", false },
	{ "migrations/*", "migrations/0001.py", true },
	{ "*", "x", true },
	{ "", "x", false },
};

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = tg_glob_match(cases[i].pattern, cases[i].path);

		if (got != cases[i].match)
			fail_msg("'%s' vs '%s': got %d", cases[i].pattern,
				 cases[i].path, got);
	}
}

/* `*` and `**` runs against a long non-matching path: must stay fast */
static void test_pathological(void **state)
{
	char path[4096], pat[512];
	clock_t t0 = clock();
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(path) - 2; i++)
		path[i] = (i % 8 == 7) ? '/' : 'a';
	path[i] = 'b';
	path[i + 1] = '\0';
	for (i = 0; i + 2 < sizeof(pat); i += 2) {
		pat[i] = '*';
		pat[i + 1] = 'a';
	}
	pat[i] = '\0';
	assert_false(tg_glob_match(pat, path));
	assert_false(tg_glob_match("**/**/**/**/**/**/**/**/**/**/x", path));
	assert_false(tg_glob_match("***a***a***a***a***a***a***a***a*c", path));
	assert_false(tg_glob_match("a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*c", path));
	assert_true(tg_glob_match("**/*b", path));
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0);
}

static void test_set(void **state)
{
	struct tg_glob_set set = TG_GLOB_SET_INIT;

	(void)state;
	/* no include: "*.py" */
	assert_true(tg_glob_set_match(&set, "a/b.py"));
	assert_false(tg_glob_set_match(&set, "a/b.txt"));
	tg_glob_set_add(&set, true, "migrations/**");
	assert_false(tg_glob_set_match(&set, "migrations/0001.py"));
	assert_true(tg_glob_set_match(&set, "app/m.py"));
	tg_glob_set_add(&set, false, "app/**");
	assert_true(tg_glob_set_match(&set, "app/m.py"));
	assert_false(tg_glob_set_match(&set, "lib/m.py"));
	tg_glob_set_release(&set);
	tg_glob_set_release(&set); /* idempotent */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_pathological),
		cmocka_unit_test(test_set),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
