/* .txguard and git config layering. */
#include "txguard/common.h"
#include "txguard/config.h"
#include "txguard/error.h"
#include "txguard/repo.h"
#include "../helper/testrepo.h"

#include <stdarg.h>
#include <setjmp.h>
#include <unistd.h>
#include <cmocka.h>
#include <git2.h>

/* Write `text` to `name` in the scratch directory; returns its path. */
static char *write_file(const char *name, const char *text)
{
	testrepo_write(name, text);
	return tg_xasprintf("%s/%s", testrepo_dir(), name);
}

static int setup(void **state)
{
	char *global;

	(void)state;
	if (testrepo_create("t-config") < 0)
		return -1;
	testrepo_sh("mkdir home");
	/*
	 * The global layer is this test's own, never the user's: libgit2
	 * looks for it in home/, and GIT_CONFIG_GLOBAL (which the scratch
	 * repository sets to /dev/null for git) is left to the tests of it.
	 */
	unsetenv("GIT_CONFIG_GLOBAL");
	global = tg_xasprintf("%s/home", testrepo_dir());
	git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_GLOBAL, global);
	git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_XDG, global);
	git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, GIT_CONFIG_LEVEL_SYSTEM, global);
	free(global);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return testrepo_remove();
}

/* Load `text` as a file; returns the error code, the message in tg_error_last. */
static int load(struct tg_config *cfg, const char *text)
{
	char *path = write_file("cfg", text);
	int err;

	tg_config_init(cfg);
	err = tg_config_load_file(cfg, path);
	free(path);
	return err;
}

static void expect_error(const char *text, int line, const char *what)
{
	struct tg_config cfg;
	char *want;

	if (load(&cfg, text) != TG_EPARSE)
		fail_msg("accepted: %s", text);
	want = tg_xasprintf("%s/cfg:%d: ", testrepo_dir(), line);
	if (line > 0 && strncmp(tg_error_last(), want, strlen(want)))
		fail_msg("'%s' does not start with '%s'", tg_error_last(), want);
	if (!strstr(tg_error_last(), what))
		fail_msg("'%s' does not mention '%s'", tg_error_last(), what);
	free(want);
	tg_config_release(&cfg);
}

static void test_defaults(void **state)
{
	struct tg_config cfg;
	char *missing = tg_xasprintf("%s/nope", testrepo_dir());

	(void)state;
	tg_config_init(&cfg);
	assert_int_equal(cfg.fail_on, TG_SEV_HIGH);
	assert_string_equal(cfg.baseline, ".txguard-baseline");
	assert_int_equal(cfg.max_file_size, 8 << 20);
	assert_false(cfg.fail_on_set);
	assert_int_equal(tg_config_load_file(&cfg, missing), 0);
	assert_int_equal(cfg.files.ninclude, 0);
	tg_config_release(&cfg);
	free(missing);
}

static void test_every_key(void **state)
{
	struct tg_config cfg;

	(void)state;
	assert_int_equal(load(&cfg,
			      "# comment\n"
			      "[txguard]\n"
			      "\tfailOn = medium\n"
			      "\tbaseline = debt/.baseline\n"
			      "\tinclude = app/**/*.py\n"
			      "\tinclude = *.pyi\n"
			      "\texclude = migrations/**\n"
			      "\towner = get_background_session\n"
			      "\towner = db.get_session\n"
			      "\tfactory = SessionLocal\n"
			      "\tMAXFILESIZE = 512k\n"),
			 0);
	assert_int_equal(cfg.fail_on, TG_SEV_MEDIUM);
	assert_true(cfg.fail_on_set);
	assert_string_equal(cfg.baseline, "debt/.baseline");
	assert_int_equal(cfg.files.ninclude, 2);
	assert_string_equal(cfg.files.include[1], "*.pyi");
	assert_int_equal(cfg.files.nexclude, 1);
	assert_int_equal(cfg.nowners, 2);
	assert_string_equal(cfg.owners[1], "db.get_session");
	assert_int_equal(cfg.nfactories, 1);
	assert_int_equal(cfg.max_file_size, 512 << 10);
	tg_config_release(&cfg);
}

static void test_fail_on_values(void **state)
{
	static const struct {
		const char *v;
		enum tg_severity s;
	} ok[] = { { "critical", TG_SEV_CRITICAL }, { "high", TG_SEV_HIGH },
		   { "medium", TG_SEV_MEDIUM }, { "low", TG_SEV_LOW },
		   { "never", TG_SEV_NEVER } };
	struct tg_config cfg;

	(void)state;
	for (size_t i = 0; i < TG_ARRAY_SIZE(ok); i++) {
		char *text = tg_xasprintf("[txguard]\nfailOn = %s\n", ok[i].v);

		assert_int_equal(load(&cfg, text), 0);
		assert_int_equal(cfg.fail_on, ok[i].s);
		tg_config_release(&cfg);
		free(text);
	}
	expect_error("[txguard]\n\n  failOn = severe\n", 3, "severe");
	expect_error("[txguard]\nfailOn\n", 2, "needs a value");
	expect_error("[txguard]\nfailOn =\n", 2, "needs a value");
}

static void test_bad_values(void **state)
{
	(void)state;
	expect_error("[txguard]\nmaxFileSize = 8x\n", 2, "8x");
	expect_error("[txguard]\nmaxFileSize = -1\n", 2, "-1");
	expect_error("[txguard]\nmaxFileSize = 99999999999999999999g\n", 2,
		     "maxfilesize");
	expect_error("[txguard]\nbaseline = \"\"\n", 2, "needs a value");
	expect_error("[txguard]\ninclude\n", 2, "needs a value");
	expect_error("[txguard]\nexclude = \n", 2, "needs a value");
	expect_error("[txguard]\nowner =\n", 2, "needs a value");
	expect_error("[txguard]\nfactory =\n", 2, "needs a value");
}

static void test_unknown_keys_and_sections(void **state)
{
	(void)state;
	expect_error("[txguard]\n\towner = a\n\tfoo = 1\n", 3,
		     "unknown key 'txguard.foo'");
	expect_error("[txguard]\nowner = a\n[txguard \"TX001\"]\n\tseverity = low\n",
		     4, "subsections");
	expect_error("[txguard]\nowner = a\n[core]\n\tbare = false\n", 4,
		     "unknown section");
	expect_error("[include]\n\tpath = other\n", 2, "unknown section");
	/* the same key twice: the second occurrence is the one named */
	expect_error("[txguard]\nfailOn = high\n[txguard]\nfailOn = nope\n", 4,
		     "nope");
	/* a continued value keeps later line numbers right */
	expect_error("[txguard]\nowner = a\\\nb\nbogus = 1\n", 4, "bogus");
}

static void test_syntax_error(void **state)
{
	struct tg_config cfg;

	(void)state;
	assert_int_equal(load(&cfg, "[txguard]\nowner = a\n[broken\n"), TG_EPARSE);
	assert_non_null(strstr(tg_error_last(), "/cfg"));
	assert_non_null(strstr(tg_error_last(), "3"));
	tg_config_release(&cfg);
}

/* One file cannot say two things: a single-valued key given twice. */
static void test_single_valued_twice(void **state)
{
	(void)state;
	expect_error("[txguard]\nfailOn = low\nowner = a\nfailOn = critical\n", 4,
		     "'txguard.failon' is given twice in this file: on line 2 and here");
	expect_error("[txguard]\nbaseline = a\n[txguard]\nbaseline = b\n", 4,
		     "on line 2");
	expect_error("[txguard]\nmaxFileSize = 1k\nmaxfilesize = 2k\n", 3,
		     "on line 2");
	expect_error("[txguard \"rule.TX003\"]\nseverity = low\nseverity = high\n",
		     3, "on line 2");
	expect_error("[txguard \"class.x\"]\nfailOn = low\nfailOn = high\n",
		     3, "on line 2");
}

/* Keys that repeat accumulate; a key once per file in two layers is fine. */
static void test_repeatable_keys(void **state)
{
	struct tg_config cfg;

	(void)state;
	assert_int_equal(load(&cfg, "[txguard]\nowner = a\nowner = b\n"
				    "include = *.py\ninclude = *.pyi\n"
				    "[txguard \"class.x\"]\npath = a/**\npath = b/**\n"),
			 0);
	assert_int_equal(cfg.nowners, 2);
	assert_int_equal(cfg.files.ninclude, 2);
	tg_config_release(&cfg);
}

/* A misspelt key names the key it resembles. */
static void test_suggestions(void **state)
{
	(void)state;
	expect_error("[txguard]\nowner = a\nfail_on = high\n", 3,
		     "unknown key 'fail_on' (did you mean failOn?)");
	expect_error("[txguard]\nfail-on = high\n", 2,
		     "unknown key 'txguard.fail-on' (did you mean failOn?)");
	expect_error("[txguard]\nmax_file_size = 1k\n", 2, "did you mean maxFileSize?");
	expect_error("[txguard]\nowners = a\n", 2, "did you mean owner?");
	expect_error("[txguard]\nbogus = 1\n", 2, "unknown key 'txguard.bogus'");
	expect_error("[txguard \"class.x\"]\nfail_on = low\n", 2,
		     "did you mean failOn?");
}

static int load_toml(struct tg_config *cfg, const char *text)
{
	tg_config_init(cfg);
	return tg_config_load_pyproject_text(cfg, "pyproject.toml", text,
					     strlen(text));
}

static void expect_toml_error(const char *text, const char *want)
{
	struct tg_config cfg;

	if (load_toml(&cfg, text) != TG_EPARSE)
		fail_msg("accepted: %s", text);
	if (strncmp(tg_error_last(), want, strlen(want)))
		fail_msg("'%s' does not start with '%s'", tg_error_last(), want);
	tg_config_release(&cfg);
}

/* [tool.txguard] in pyproject.toml: the same keys, TOML's syntax. */
static void test_pyproject(void **state)
{
	struct tg_config cfg;
	size_t n;
	const struct tg_rule *rules = tg_rules_all(&n);

	(void)state;
	assert_int_equal(load_toml(&cfg,
				   "[project]\nname = \"x\"\n"
				   "[tool.black]\nline-length = 88\n"
				   "[tool.txguard]\n"
				   "failOn = \"medium\"  # comment\n"
				   "owner = [\"get_background_session\", 'db.get_session',\n"
				   "         \"\"\"multi\"\"\"]\n"
				   "include = \"app/**/*.py\"\n"
				   "exclude = ['migrations/**']\n"
				   "factory = \"Session\\u004cocal\"\n"
				   "maxFileSize = 1024\n"
				   "baseline = \"debt/.b\"\n"
				   "[tool.txguard.rule.TX003]\nseverity = \"off\"\n"
				   "[tool.txguard.class.scripts]\n"
				   "path = [\"scripts/**\"]\nfailOn = \"critical\"\n"),
			 0);
	assert_int_equal(cfg.fail_on, TG_SEV_MEDIUM);
	assert_non_null(strstr(cfg.fail_on_origin, "pyproject.toml:6"));
	assert_int_equal(cfg.nowners, 3);
	assert_string_equal(cfg.owners[1], "db.get_session");
	assert_string_equal(cfg.owners[2], "multi");
	assert_string_equal(cfg.factories[0], "SessionLocal");
	assert_int_equal(cfg.files.ninclude, 1);
	assert_int_equal(cfg.files.nexclude, 1);
	assert_int_equal(cfg.max_file_size, 1024);
	assert_string_equal(cfg.baseline, "debt/.b");
	for (size_t i = 0; i < n; i++)
		if (!strcmp(rules[i].id, "TX003"))
			assert_int_equal(tg_config_rule_severity(&cfg, &rules[i]), -1);
	assert_int_equal(tg_config_fail_on_for(&cfg, "scripts/a.py", TG_SEV_HIGH),
			 TG_SEV_CRITICAL);
	tg_config_release(&cfg);

	/* dotted keys and inline tables are the same keys */
	assert_int_equal(load_toml(&cfg, "tool.txguard.failOn = \"low\"\n"
					 "[tool]\ntxguard.rule = { TX001 = { severity = \"high\" } }\n"),
			 0);
	assert_int_equal(cfg.fail_on, TG_SEV_LOW);
	assert_int_equal(tg_config_rule_severity(&cfg, tg_rules_lookup("TX001")),
			 TG_SEV_HIGH);
	tg_config_release(&cfg);

	expect_toml_error("[tool.txguard]\nfail_on = \"high\"\n",
			  "pyproject.toml:2: unknown key 'tool.txguard.fail_on' (did you mean failOn?)");
	expect_toml_error("[tool.txguard]\nfailOn = \"high\"\nfailOn = \"low\"\n",
			  "pyproject.toml:3: key 'failOn' is given twice: on line 2 and here");
	expect_toml_error("[tool.txguard]\nfailOn = [\"high\"]\n",
			  "pyproject.toml:2: 'tool.txguard.failOn' takes one value");
	expect_toml_error("[tool.txguard]\nowner = true\n",
			  "pyproject.toml:2: 'tool.txguard.owner' takes a string");
	expect_toml_error("[tool.txguard]\nfailOn = high\n",
			  "pyproject.toml:2:");
	expect_toml_error("[tool.txguard]\nfailOn = \"sometimes\"\n",
			  "pyproject.toml:2: bad value 'sometimes'");
	expect_toml_error("[tool.txguard]\nbaseline = \"../x\"\n",
			  "pyproject.toml:2: baseline '../x' is outside");
	expect_toml_error("[[tool.txguard]]\nowner = \"x\"\n",
			  "pyproject.toml:2: unknown key");
	expect_toml_error("[tool.txguard.rules.TX001]\nseverity = \"low\"\n",
			  "pyproject.toml:2: unknown key 'tool.txguard.rules.TX001.severity'");
	/* hostile text: unterminated, a NUL byte, truncated anywhere */
	expect_toml_error("[tool.txguard]\nowner = \"abc\n", "pyproject.toml:2:");
	expect_toml_error("[tool.txguard]\nowner = '''abc\n", "pyproject.toml:");
	{
		static const char text[] = "[tool.txguard]\nowner = \"a\0b\"\n";
		static const char whole[] =
			"[tool.txguard]\nowner = [\"a\", \"b\\u00e9\"]\n"
			"[tool.txguard.class.x]\npath = \"\"\"\nx/**\"\"\"\n";

		tg_config_init(&cfg);
		assert_int_equal(tg_config_load_pyproject_text(&cfg, "p", text,
							       sizeof(text) - 1),
				 TG_EPARSE);
		assert_non_null(strstr(tg_error_last(), "NUL"));
		tg_config_release(&cfg);
		for (size_t cut = 0; cut < sizeof(whole); cut++) {
			tg_config_init(&cfg);
			tg_config_load_pyproject_text(&cfg, "p", whole, cut);
			tg_config_release(&cfg);
		}
		tg_config_init(&cfg);
		assert_int_equal(tg_config_load_pyproject_text(&cfg, "p", whole,
							       sizeof(whole) - 1),
				 0);
		assert_string_equal(cfg.owners[1], "b\xc3\xa9");
		assert_int_equal(tg_config_fail_on_for(&cfg, "x/a.py", TG_SEV_HIGH),
				 TG_SEV_NEVER);
		tg_config_release(&cfg);
	}
}


/* The baseline lives inside the working tree. */
static void test_baseline_inside(void **state)
{
	struct tg_config cfg;

	(void)state;
	expect_error("[txguard]\nbaseline = ../x\n", 2, "outside the working tree");
	expect_error("[txguard]\nbaseline = /etc/x\n", 2, "outside the working tree");
	expect_error("[txguard]\nbaseline = a/../../x\n", 2, "outside the working tree");
	assert_int_equal(load(&cfg, "[txguard]\nbaseline = debt/..x/.b\n"), 0);
	tg_config_release(&cfg);
}

static void test_parse_size(void **state)
{
	size_t n;

	(void)state;
	assert_int_equal(tg_config_parse_size(&n, "1000"), 0);
	assert_int_equal(n, 1000);
	assert_int_equal(tg_config_parse_size(&n, "8m"), 0);
	assert_int_equal(n, 8 << 20);
	assert_int_equal(tg_config_parse_size(&n, "512K"), 0);
	assert_int_equal(n, 512 << 10);
	assert_int_equal(tg_config_parse_size(&n, "1g"), 0);
	assert_int_equal(n, (size_t)1 << 30);
	assert_int_equal(tg_config_parse_size(&n, ""), -1);
	assert_int_equal(tg_config_parse_size(&n, "m"), -1);
	assert_int_equal(tg_config_parse_size(&n, "1mb"), -1);
	assert_int_equal(tg_config_parse_size(&n, " 1"), -1);
	assert_int_equal(tg_config_parse_size(&n, "18446744073709551616"), -1);
	assert_int_equal(tg_config_parse_size(&n, "17179869184g"), -1);
}

static void test_layers(void **state)
{
	struct tg_config cfg;
	struct tg_repo *repo = NULL;
	char *path;

	(void)state;
	testrepo_sh("mkdir r && cd r && git init -q");
	path = write_file("r/.txguard", "[txguard]\n\tfailOn = low\n\tbaseline = tx\n"
					"\towner = from_file\n\tmaxFileSize = 1m\n");
	free(path);
	path = write_file("home/.gitconfig", "[user]\n\tname = x\n[txguard]\n"
					     "\tfailOn = medium\n\towner = from_global\n");
	free(path);
	testrepo_sh("cd r && git config txguard.failOn critical && "
	   "git config --add txguard.owner from_local && git config core.x y");
	path = tg_xasprintf("%s/r", testrepo_dir());
	assert_int_equal(tg_repo_open(&repo, path), 0);
	tg_config_init(&cfg);
	if (tg_config_load(&cfg, repo) < 0)
		fail_msg("%s", tg_error_last());
	assert_int_equal(cfg.fail_on, TG_SEV_CRITICAL);
	assert_string_equal(cfg.baseline, "tx");
	assert_int_equal(cfg.max_file_size, 1 << 20);
	assert_int_equal(cfg.nowners, 3);
	assert_string_equal(cfg.owners[0], "from_file");
	assert_string_equal(cfg.owners[1], "from_global");
	assert_string_equal(cfg.owners[2], "from_local");
	tg_config_release(&cfg);

	/* a bad value in the repository's config names that file */
	testrepo_sh("cd r && git config txguard.maxFileSize lots");
	tg_config_init(&cfg);
	assert_int_equal(tg_config_load(&cfg, repo), TG_EPARSE);
	assert_non_null(strstr(tg_error_last(), "config:"));
	assert_non_null(strstr(tg_error_last(), "lots"));
	tg_config_release(&cfg);
	testrepo_sh("cd r && git config --unset txguard.maxFileSize");

	/* GIT_CONFIG_GLOBAL replaces ~/.gitconfig, as in git */
	free(write_file("envglobal", "[txguard]\n\towner = from_env\n"));
	{
		char *g = tg_xasprintf("%s/envglobal", testrepo_dir());

		setenv("GIT_CONFIG_GLOBAL", g, 1);
		tg_config_init(&cfg);
		assert_int_equal(tg_config_load(&cfg, repo), 0);
		assert_int_equal(cfg.nowners, 3);
		assert_string_equal(cfg.owners[1], "from_env");
		tg_config_release(&cfg);
		unsetenv("GIT_CONFIG_GLOBAL");
		free(g);
	}

	/* no .txguard in the work tree: the staged one counts */
	testrepo_sh("cd r && git add .txguard && rm .txguard");
	tg_config_init(&cfg);
	assert_int_equal(tg_config_load(&cfg, repo), 0);
	assert_string_equal(cfg.baseline, "tx");
	tg_config_release(&cfg);
	tg_repo_free(repo);
	free(path);
}

static void test_bare(void **state)
{
	struct tg_config cfg;
	struct tg_repo *repo = NULL;
	char *path;

	(void)state;
	testrepo_sh("rm -f home/.gitconfig && git init -q --bare b.git");
	path = tg_xasprintf("%s/b.git", testrepo_dir());
	assert_int_equal(tg_repo_open(&repo, path), 0);
	assert_null(tg_repo_workdir(repo));
	tg_config_init(&cfg);
	assert_int_equal(tg_config_load(&cfg, repo), 0);
	assert_int_equal(cfg.fail_on, TG_SEV_HIGH);
	tg_config_release(&cfg);
	tg_repo_free(repo);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_fail_on_values),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_unknown_keys_and_sections),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_single_valued_twice),
		cmocka_unit_test(test_repeatable_keys),
		cmocka_unit_test(test_suggestions),
		cmocka_unit_test(test_baseline_inside),
		cmocka_unit_test(test_pyproject),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_layers),
		cmocka_unit_test(test_bare),
	};
	int rc;

	unsetenv("GIT_DIR");
	unsetenv("GIT_WORK_TREE");
	unsetenv("GIT_INDEX_FILE");
	unsetenv("GIT_CONFIG_GLOBAL");
	git_libgit2_init();
	rc = cmocka_run_group_tests(tests, setup, teardown);
	git_libgit2_shutdown();
	return rc;
}
