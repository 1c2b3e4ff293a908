/* .txguard: every key, bad values with file:line, layering (SPEC §8). */
#include "txguard/common.h"
#include "txguard/config.h"
#include "txguard/error.h"
#include "txguard/repo.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <git2.h>

static char dir[512];

static const char *write_file(const char *name, const char *text)
{
	static char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static int setup(void **state)
{
	const char *tmp = getenv("TMPDIR");

	(void)state;
	git_libgit2_init();
	snprintf(dir, sizeof(dir), "%s/t-config.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	git_libgit2_shutdown();
	return system(cmd) == 0 ? 0 : -1;
}

static void test_defaults(void **state)
{
	struct tg_config cfg;

	(void)state;
	tg_config_init(&cfg);
	assert_int_equal(cfg.fail_on, TG_SEV_HIGH);
	assert_string_equal(cfg.baseline, ".txguard-baseline");
	assert_int_equal(cfg.max_file_size, 8u << 20);
	assert_false(cfg.fail_on_set);
	tg_config_release(&cfg);
}

static void test_every_key(void **state)
{
	struct tg_config cfg;
	const char *p = write_file("all", "# comment\n"
					  "[txguard]\n"
					  "\tfailOn = medium\n"
					  "\tbaseline = ci/base.txt\n"
					  "\tinclude = app/**\n"
					  "\tinclude = lib/*.py\n"
					  "\texclude = **/migrations/**\n"
					  "\towner = myapp.db.transactional\n"
					  "\tfactory = myapp.db.Session\n"
					  "\tfactory = myapp.db.other\n"
					  "\tmaxFileSize = 512k\n");

	(void)state;
	tg_config_init(&cfg);
	assert_int_equal(tg_config_load_file(&cfg, p), 0);
	assert_int_equal(cfg.fail_on, TG_SEV_MEDIUM);
	assert_true(cfg.fail_on_set);
	assert_string_equal(cfg.baseline, "ci/base.txt");
	assert_int_equal(cfg.files.ninclude, 2);
	assert_int_equal(cfg.files.nexclude, 1);
	assert_int_equal(cfg.nowners, 1);
	assert_string_equal(cfg.owners[0], "myapp.db.transactional");
	assert_int_equal(cfg.nfactories, 2);
	assert_int_equal(cfg.max_file_size, 512u << 10);
	assert_true(tg_glob_set_match(&cfg.files, "app/x/m.py"));
	assert_false(tg_glob_set_match(&cfg.files, "app/migrations/m.py"));
	assert_false(tg_glob_set_match(&cfg.files, "other/m.py"));
	tg_config_release(&cfg);
}

static void test_last_wins(void **state)
{
	struct tg_config cfg;
	const char *p = write_file("dup", "[txguard]\nfailOn = low\nfailOn = never\n"
					  "baseline = a\nbaseline = b\n");

	(void)state;
	tg_config_init(&cfg);
	assert_int_equal(tg_config_load_file(&cfg, p), 0);
	assert_int_equal(cfg.fail_on, TG_SEV_NEVER);
	assert_string_equal(cfg.baseline, "b");
	tg_config_release(&cfg);
}

/* each bad file must fail with TG_EPARSE naming "bad:LINE" */
static void expect_error(const char *text, const char *where, const char *what)
{
	struct tg_config cfg;
	const char *p = write_file("bad", text);
	const char *msg;

	tg_config_init(&cfg);
	assert_int_equal(tg_config_load_file(&cfg, p), TG_EPARSE);
	msg = tg_error_last();
	if (!strstr(msg, where) || (what && !strstr(msg, what)))
		fail_msg("message '%s' lacks '%s' / '%s'", msg, where,
			 what ? what : "");
	tg_config_release(&cfg);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("[txguard]\n\tfoo = 1\n", "bad:2", "txguard.foo");
	expect_error("[txguard]\nfailOn = high\n\n failOn = urgent\n", "bad:4",
		     "urgent");
	expect_error("[txguard]\nmaxFileSize = 12q\n", "bad:2", NULL);
	expect_error("[txguard]\nmaxFileSize = \n", "bad:2", NULL);
	expect_error("[txguard]\nbaseline\n", "bad:2", NULL);
	expect_error("[txguard \"rule.TX001\"]\nseverity = low\n", "bad:", NULL);
	expect_error("[txguard\nfailOn = low\n", "bad", NULL); /* syntax */
}

static void test_sizes(void **state)
{
	size_t n;

	(void)state;
	assert_int_equal(tg_config_parse_size(&n, "1000"), 0);
	assert_int_equal(n, 1000);
	assert_int_equal(tg_config_parse_size(&n, "8m"), 0);
	assert_int_equal(n, 8u << 20);
	assert_int_equal(tg_config_parse_size(&n, "1g"), 0);
	assert_int_equal(n, (size_t)1 << 30);
	assert_int_equal(tg_config_parse_size(&n, "2K"), 0);
	assert_int_equal(n, 2048);
	assert_int_equal(tg_config_parse_size(&n, ""), -1);
	assert_int_equal(tg_config_parse_size(&n, "m"), -1);
	assert_int_equal(tg_config_parse_size(&n, "-1"), -1);
	assert_int_equal(tg_config_parse_size(&n, "3x"), -1);
}

/* .txguard at the work-tree root under the repository's git config */
static void test_layers(void **state)
{
	struct tg_config cfg;
	struct tg_repo *repo = NULL;
	char cmd[2400], home[600];
	const char *old_home = getenv("HOME");
	char *saved = old_home ? strdup(old_home) : NULL;

	(void)state;
	snprintf(home, sizeof(home), "%s/home", dir);
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p '%s' '%s/r' && cd '%s/r' && git init -q . && "
		 "git config txguard.failOn critical && "
		 "git config --add txguard.exclude 'gen/**'",
		 home, dir, dir);
	assert_int_equal(system(cmd), 0);
	setenv("HOME", home, 1);
	snprintf(cmd, sizeof(cmd), "%s/r/.txguard", dir);
	{
		FILE *f = fopen(cmd, "w");

		assert_non_null(f);
		fputs("[txguard]\nfailOn = low\nexclude = tests/**\nbaseline = x\n", f);
		fclose(f);
	}
	snprintf(cmd, sizeof(cmd), "%s/r", dir);
	assert_int_equal(tg_repo_open(&repo, cmd), 0);
	tg_config_init(&cfg);
	assert_int_equal(tg_config_load(&cfg, repo), 0);
	assert_int_equal(cfg.fail_on, TG_SEV_CRITICAL); /* git config wins */
	assert_string_equal(cfg.baseline, "x");
	assert_int_equal(cfg.files.nexclude, 2); /* accumulated */
	assert_false(tg_glob_set_match(&cfg.files, "gen/a.py"));
	assert_false(tg_glob_set_match(&cfg.files, "tests/a.py"));
	assert_true(tg_glob_set_match(&cfg.files, "app/a.py"));
	tg_config_release(&cfg);
	tg_repo_free(repo);
	if (saved)
		setenv("HOME", saved, 1);
	free(saved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_last_wins),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_layers),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
