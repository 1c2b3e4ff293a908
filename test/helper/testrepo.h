/*
 * testrepo.h: a scratch git repository for the cmocka unit tests.
 *
 *	static int setup(void **state)
 *	{
 *		(void)state;
 *		return testrepo_create("t-diff");
 *	}
 *	static int teardown(void **state)
 *	{
 *		(void)state;
 *		return testrepo_remove();
 *	}
 *	...
 *	testrepo_write("app/db.py", "x = 1\n");
 *	testrepo_sh("git add -A && git commit -qm base");
 *
 * One repository at a time: testrepo_create() makes a fresh directory
 * under $TMPDIR (default /tmp), runs `git init` there (branch main, user
 * name and email set in the repository's own config, no signing) and
 * isolates git from the caller: GIT_CONFIG_NOSYSTEM=1,
 * GIT_CONFIG_GLOBAL=/dev/null and no GIT_DIR, GIT_WORK_TREE or
 * GIT_INDEX_FILE in the environment.
 */
#ifndef TXGUARD_TESTREPO_H
#define TXGUARD_TESTREPO_H

/*
 * A fresh repository; `name` starts the directory's name. 0, or -1 (as
 * cmocka's setup functions return) when it cannot be made.
 */
int testrepo_create(const char *name);

/* Remove the repository, read-only files too. 0, or -1 on failure. */
int testrepo_remove(void);

/* The repository's top directory, without a trailing '/'. */
const char *testrepo_dir(void);

/*
 * Run a shell command (printf-style) in the repository's top directory,
 * its output discarded; a failure fails the current test.
 */
void testrepo_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Write `text` to `path` below the top directory, making directories. */
void testrepo_write(const char *path, const char *text);

#endif
