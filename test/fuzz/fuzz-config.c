/*
 * fuzz-config: arbitrary bytes as a `.txguard` file:
 * loading either succeeds with sane values or fails with TG_EPARSE /
 * TG_EGIT and a message that names the file; never a crash. The globs it
 * loads are then matched against a few paths, which fuzzes the `**`
 * matcher with hostile patterns too.
 */
#include "txguard/common.h"
#include "txguard/config.h"
#include "txguard/error.h"
#include "txguard/glob.h"
#include "txguard/rules.h"

#include <git2/global.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static char path[96];
static pid_t owner;

static void cleanup(void)
{
	/* the replayer's children exit too: only the creator removes it */
	if (getpid() != owner)
		return;
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	if (git_libgit2_init() < 0)
		BUG("git_libgit2_init failed");
	if (!tmp || strlen(tmp) > 32)
		tmp = "/tmp";
	snprintf(dir, sizeof(dir), "%s/tg-fuzz-XXXXXX", tmp);
	if (!mkdtemp(dir))
		BUG("cannot create a temporary directory in %s", tmp);
	/* the name users see in messages */
	snprintf(path, sizeof(path), "%s/.txguard", dir);
	owner = getpid();
	atexit(cleanup);
	return 0;
}

static void write_file(const uint8_t *data, size_t size)
{
	FILE *fp = fopen(path, "wb");

	if (!fp || fwrite(data, 1, size, fp) != size || fclose(fp))
		BUG("cannot write %s", path);
}

static void check(bool ok, const char *what)
{
	if (!ok)
		BUG("fuzz-config invariant broken: %s", what);
}

static void fuzz_values(const uint8_t *data, size_t size)
{
	size_t n = 0, sz;
	char *line;

	while (n < size && n < 64 && data[n] != '\n')
		n++;
	line = tg_xstrndup((const char *)data, n);
	(void)tg_config_parse_size(&sz, line);
	(void)tg_severity_parse(line);
	(void)tg_rules_lookup(line);
	free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = {
		"app.py", "app/models/user.py", "tests/test_x.py",
		"a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z.py",
		"dir with space/\xff.py", "",
	};
	struct tg_config cfg;
	int err;

	if (!*path)
		LLVMFuzzerInitialize(NULL, NULL);
	write_file(data, size);
	fuzz_values(data, size);
	tg_config_init(&cfg);
	err = tg_config_load_file(&cfg, path);
	if (err < 0) {
		check(err == TG_EPARSE || err == TG_EGIT || err == TG_EIO,
		      "an error is TG_EPARSE, TG_EGIT or TG_EIO");
		check(strstr(tg_error_last(), ".txguard") != NULL,
		      "the error message names the file");
	} else {
		check(err == 0, "success is 0");
		check(cfg.fail_on >= TG_SEV_LOW && cfg.fail_on <= TG_SEV_NEVER,
		      "failOn is a severity");
		check(cfg.baseline != NULL, "a baseline path");
		for (size_t i = 0; i < cfg.nowners; i++)
			check(cfg.owners[i] != NULL, "owner names are set");
		for (size_t i = 0; i < cfg.nfactories; i++)
			check(cfg.factories[i] != NULL, "factory names are set");
		for (size_t i = 0; i < TG_ARRAY_SIZE(paths); i++)
			(void)tg_glob_set_match(&cfg.files, paths[i]);
	}
	tg_config_release(&cfg);
	tg_error_clear();
	return 0;
}
