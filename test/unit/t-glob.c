/* Path globs for include/exclude. */
#include "txguard/common.h"
#include "txguard/glob.h"

#include <stdarg.h>
#include <setjmp.h>
#include <time.h>
#include <cmocka.h>

struct row {
	const char *pattern, *path;
	bool match;
};

static void check_rows(const struct row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool got = tg_glob_match(rows[i].pattern, rows[i].path);

		if (got != rows[i].match)
			fail_msg("'%s' vs '%s': got %d, want %d", rows[i].pattern,
				 rows[i].path, got, rows[i].match);
	}
}

static void test_basename(void **state)
{
	static const struct row rows[] = {
		{ "*.py", "a.py", true },
		{ "*.py", "app/models/a.py", true },
		{ "*.py", "a.pyc", false },
		{ "*.py", "a.py/x", false },
		{ "*.py", ".py", true },
		{ "test_?.py", "pkg/test_1.py", true },
		{ "test_?.py", "pkg/test_12.py", false },
		{ "conftest.py", "a/b/conftest.py", true },
		{ "conftest.py", "a/b/xconftest.py", false },
		{ "*", "anything/at/all", true },
	};

	(void)state;
	check_rows(rows, TG_ARRAY_SIZE(rows));
}

static void test_slashes_and_stars(void **state)
{
	static const struct row rows[] = {
		{ "app/*.py", "app/a.py", true },
		{ "app/*.py", "app/sub/a.py", false },
		{ "app/*.py", "x/app/a.py", false },
		{ "/app/*.py", "app/a.py", true },
		{ "migrations/**", "migrations/0001.py", true },
		{ "migrations/**", "migrations/a/b/c.py", true },
		{ "migrations/**", "migrations", false },
		{ "migrations/**", "app/migrations/x.py", false },
		{ "**/test_*.py", "test_a.py", true },
		{ "**/test_*.py", "a/b/test_a.py", true },
		{ "**/test_*.py", "a/b/xtest_a.py", false },
		{ "**/conftest.py", "conftest.py", true },
		{ "app/**/*.py", "app/a.py", true },
		{ "app/**/*.py", "app/x/y/a.py", true },
		{ "app/**/*.py", "lib/app/a.py", false },
		{ "app/**/models.py", "app/models.py", true },
		{ "app/**/models.py", "app/a/models.py", true },
		{ "app/**/models.py", "app/amodels.py", false },
		{ "tests/**", "tests/unit/test_x.py", true },
		{ "a/b*c/d", "a/bxyc/d", true },
		{ "a/b*c/d", "a/bx/yc/d", false },
		{ "a**b/c", "axxb/c", true }, /* ** not alone: a plain star */
		{ "a**b/c", "ax/xb/c", false },
	};

	(void)state;
	check_rows(rows, TG_ARRAY_SIZE(rows));
}

static void test_classes_and_escapes(void **state)
{
	static const struct row rows[] = {
		{ "[abc].py", "b.py", true },
		{ "[abc].py", "d.py", false },
		{ "[a-c].py", "c.py", true },
		{ "[!a-c].py", "c.py", false },
		{ "[!a-c].py", "d.py", true },
		{ "[^a].py", "b.py", true },
		{ "[]].py", "].py", true },
		{ "x/[a-z]/y", "x/m/y", true },
		{ "x[/]y", "x/y", false }, /* a class never matches '/' */
		{ "\\*.py", "*.py", true },
		{ "\\*.py", "a.py", false },
		{ "[ab", "[ab", true }, /* unterminated: literal */
		{ "a?c", "a/c", false },
		{ "", "", true },
		{ "", "a", false },
	};

	(void)state;
	check_rows(rows, TG_ARRAY_SIZE(rows));
}

/* Patterns that make a backtracking matcher exponential must stay fast. */
static void test_no_blowup(void **state)
{
	char pat[200], path[200];
	clock_t t0 = clock();

	(void)state;
	memset(path, 'a', 120);
	strcpy(path + 120, "b");
	strcpy(pat, "");
	for (int i = 0; i < 30; i++)
		strcat(pat, "*a");
	strcat(pat, "*c");
	for (int i = 0; i < 200; i++)
		assert_false(tg_glob_match(pat, path));
	strcpy(pat, "");
	for (int i = 0; i < 20; i++)
		strcat(pat, "**/");
	strcat(pat, "x");
	for (int i = 0; i < 200; i++)
		assert_false(tg_glob_match(pat, "a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/y"));
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0);
}

static void test_long_path(void **state)
{
	size_t n = 100000;
	char *path = tg_xmalloc(n + 4);

	(void)state;
	memset(path, 'd', n);
	for (size_t i = 50; i < n; i += 50)
		path[i] = '/';
	strcpy(path + n, ".py");
	assert_true(tg_glob_match("*.py", path));
	assert_true(tg_glob_match("**/*.py", path));
	assert_false(tg_glob_match("d*/x/**", path));
	free(path);
}

static void test_set(void **state)
{
	struct tg_glob_set set = TG_GLOB_SET_INIT;

	(void)state;
	assert_true(tg_glob_set_match(NULL, "a/b.py"));
	assert_false(tg_glob_set_match(NULL, "a/b.txt"));
	assert_true(tg_glob_set_match(&set, "a/b.py"));
	tg_glob_set_add(&set, true, "migrations/**");
	assert_true(tg_glob_set_match(&set, "app/x.py"));
	assert_false(tg_glob_set_match(&set, "migrations/0001.py"));
	assert_false(tg_glob_set_match(&set, "x.pyi"));
	tg_glob_set_add(&set, false, "*.pyi");
	tg_glob_set_add(&set, false, "app/**/*.py");
	/* includes replace the "*.py" default */
	assert_true(tg_glob_set_match(&set, "stubs/x.pyi"));
	assert_true(tg_glob_set_match(&set, "app/x/y.py"));
	assert_false(tg_glob_set_match(&set, "lib/y.py"));
	tg_glob_set_add(&set, true, "app/legacy/**");
	assert_false(tg_glob_set_match(&set, "app/legacy/y.py"));
	tg_glob_set_release(&set);
	assert_int_equal(set.ninclude, 0);
	tg_glob_set_release(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basename),
		cmocka_unit_test(test_slashes_and_stars),
		cmocka_unit_test(test_classes_and_escapes),
		cmocka_unit_test(test_no_blowup),
		cmocka_unit_test(test_long_path),
		cmocka_unit_test(test_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
