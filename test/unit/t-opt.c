/* The option parser: values, --help from the table, surplus arguments. */
#include "txguard/common.h"
#include "txguard/error.h"
#include "txguard/opt.h"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>

struct vals {
	const char *format, *jobs;
	bool all;
};

static int parse(struct vals *v, const char ***rest, int *nrest, int max_args,
		 int argc, const char **argv)
{
	const struct tg_option opts[] = {
		{ "format", 0, TG_OPT_STRING, &v->format, "FORMAT", "the format" },
		{ "jobs", 'j', TG_OPT_STRING, &v->jobs, "N", "threads" },
		{ "all", 0, TG_OPT_FLAG, &v->all, NULL, "everything" },
	};
	const struct tg_opt_command cmd = { "txguard t [OPTIONS]", "Test.",
					    max_args };

	memset(v, 0, sizeof(*v));
	return tg_opt_parse(rest, nrest, argc, argv, opts, TG_ARRAY_SIZE(opts),
			    &cmd);
}

static void test_values(void **state)
{
	const char *argv[] = { "t", "--format=json", "-j2", "a", "--all",
			       "--", "--format", "b" };
	struct vals v;
	const char **rest;
	int n;

	(void)state;
	assert_int_equal(parse(&v, &rest, &n, -1, 8, argv), 0);
	assert_string_equal(v.format, "json");
	assert_string_equal(v.jobs, "2");
	assert_true(v.all);
	assert_int_equal(n, 3);
	assert_string_equal(rest[0], "a");
	assert_string_equal(rest[1], "--format");
	assert_string_equal(rest[2], "b");
	free(rest);
}

static void test_errors(void **state)
{
	const char *unknown[] = { "t", "--nope" };
	const char *novalue[] = { "t", "--format" };
	const char *flagvalue[] = { "t", "--all=yes" };
	const char *surplus[] = { "t", "x", "y" };
	struct vals v;
	const char **rest = NULL;
	int n;

	(void)state;
	assert_int_equal(parse(&v, &rest, &n, -1, 2, unknown), TG_EUSAGE);
	assert_non_null(strstr(tg_error_last(), "unknown option '--nope'"));
	assert_int_equal(parse(&v, &rest, &n, -1, 2, novalue), TG_EUSAGE);
	assert_non_null(strstr(tg_error_last(), "needs a value"));
	assert_int_equal(parse(&v, &rest, &n, -1, 2, flagvalue), TG_EUSAGE);
	assert_non_null(strstr(tg_error_last(), "takes no value"));
	assert_int_equal(parse(&v, &rest, &n, 1, 3, surplus), TG_EUSAGE);
	assert_non_null(strstr(tg_error_last(), "unexpected argument 'y'"));
	assert_null(rest);
	assert_int_equal(parse(&v, &rest, &n, 2, 3, surplus), 0);
	free(rest);
}

/* -h and --help print the table (and a help line) and say so. */
static void test_help(void **state)
{
	const char *argv[] = { "t", "stray", "--help" };
	const char *shortv[] = { "t", "-h" };
	char path[] = "/tmp/t-opt.XXXXXX";
	int fd = mkstemp(path), saved = dup(1);
	struct vals v;
	const char **rest = NULL;
	char buf[4096];
	ssize_t len;
	int n;

	(void)state;
	assert_true(fd >= 0 && saved >= 0);
	fflush(stdout);
	dup2(fd, 1);
	assert_int_equal(parse(&v, &rest, &n, 0, 3, argv), TG_OPT_HELP);
	assert_int_equal(parse(&v, &rest, &n, 0, 2, shortv), TG_OPT_HELP);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	assert_null(rest);
	len = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	unlink(path);
	assert_true(len > 0);
	buf[len] = '\0';
	assert_non_null(strstr(buf, "usage: txguard t [OPTIONS]\n\nTest.\n"));
	assert_non_null(strstr(buf, "    --format FORMAT"));
	assert_non_null(strstr(buf, "-j, --jobs N"));
	assert_non_null(strstr(buf, "-h, --help"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_help),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
