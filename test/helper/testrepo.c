/*
 * testrepo.c: a scratch git repository for the cmocka unit tests (see
 * testrepo.h).
 */
#define _GNU_SOURCE /* vasprintf */
#include "testrepo.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static char dir[512];

const char *testrepo_dir(void)
{
	return dir;
}

static int run(const char *cmd)
{
	char *full;
	int rc;

	if (asprintf(&full, "cd '%s' && (%s) >/dev/null 2>&1", dir, cmd) < 0)
		abort();
	rc = system(full);
	free(full);
	return rc;
}

void testrepo_sh(const char *fmt, ...)
{
	va_list ap;
	char *cmd;
	int rc;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	rc = run(cmd);
	if (rc != 0)
		fail_msg("command failed (%d): %s", rc, cmd);
	free(cmd);
}

void testrepo_write(const char *path, const char *text)
{
	char *full, *slash;
	FILE *f;

	if (asprintf(&full, "%s/%s", dir, path) < 0)
		abort();
	slash = strrchr(full, '/');
	*slash = '\0';
	testrepo_sh("mkdir -p '%s'", full);
	*slash = '/';
	f = fopen(full, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	free(full);
}

int testrepo_create(const char *name)
{
	const char *tmp = getenv("TMPDIR");
	int rc;

	if (!tmp || !*tmp || strlen(tmp) > 256)
		tmp = "/tmp";
	snprintf(dir, sizeof(dir), "%s/%s.XXXXXX", tmp, name);
	if (!mkdtemp(dir))
		return -1;
	unsetenv("GIT_DIR");
	unsetenv("GIT_WORK_TREE");
	unsetenv("GIT_INDEX_FILE");
	unsetenv("GIT_COMMON_DIR");
	unsetenv("GIT_OBJECT_DIRECTORY");
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	rc = run("git init -q -b main . && git config user.name t && "
		 "git config user.email t@example.invalid && "
		 "git config commit.gpgsign false");
	return rc == 0 ? 0 : -1;
}

int testrepo_remove(void)
{
	char *cmd;
	int rc;

	if (!dir[0])
		return 0;
	if (asprintf(&cmd, "chmod -R u+w '%s' && rm -rf '%s'", dir, dir) < 0)
		abort();
	rc = system(cmd);
	free(cmd);
	dir[0] = '\0';
	return rc == 0 ? 0 : -1;
}
