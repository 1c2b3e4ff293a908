/* Staged changesets on scratch repositories: the cache-tree fast path
 * must give what the plain libgit2 diff gives. */
#include "txguard/common.h"
#include "txguard/diff.h"
#include "txguard/error.h"
#include "txguard/repo.h"
#include "../helper/testrepo.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <git2.h>

static int group_setup(void **state)
{
	(void)state;
	return git_libgit2_init() < 0 ? -1 : 0;
}

static int group_teardown(void **state)
{
	(void)state;
	git_libgit2_shutdown();
	return 0;
}

static int setup(void **state)
{
	(void)state;
	return testrepo_create("t-diff");
}

static int teardown(void **state)
{
	(void)state;
	unsetenv("TXGUARD_DIFF_SLOW");
	return testrepo_remove();
}

static void load(struct tg_changeset *cs, bool slow)
{
	struct tg_repo *repo = NULL;

	if (slow)
		setenv("TXGUARD_DIFF_SLOW", "1", 1);
	else
		unsetenv("TXGUARD_DIFF_SLOW");
	if (tg_repo_open(&repo, testrepo_dir()) < 0)
		fail_msg("open: %s", tg_error_last());
	if (tg_changeset_staged(cs, repo, NULL) < 0)
		fail_msg("staged: %s", tg_error_last());
	tg_repo_free(repo);
	unsetenv("TXGUARD_DIFF_SLOW");
}

static void same(const struct tg_changeset *a, const struct tg_changeset *b)
{
	assert_int_equal(a->nr, b->nr);
	assert_memory_equal(&a->skipped, &b->skipped, sizeof(a->skipped));
	assert_string_equal(a->describe, b->describe);
	for (size_t i = 0; i < a->nr; i++) {
		const struct tg_change *x = &a->files[i], *y = &b->files[i];

		assert_string_equal(x->path, y->path);
		assert_int_equal(!x->old_path, !y->old_path);
		if (x->old_path)
			assert_string_equal(x->old_path, y->old_path);
		assert_int_equal(x->status, y->status);
		assert_memory_equal(&x->new_id, &y->new_id, sizeof(x->new_id));
		assert_memory_equal(&x->old_id, &y->old_id, sizeof(x->old_id));
		assert_int_equal(x->nhunks, y->nhunks);
		if (x->nhunks)
			assert_memory_equal(x->hunks, y->hunks,
					    x->nhunks * sizeof(*x->hunks));
	}
}

/* the staged changeset, checked fast == slow */
static void both(struct tg_changeset *cs)
{
	struct tg_changeset slow = TG_CHANGESET_INIT;

	load(cs, false);
	load(&slow, true);
	same(cs, &slow);
	tg_changeset_release(&slow);
}

static const struct tg_change *find(const struct tg_changeset *cs,
				    const char *path)
{
	for (size_t i = 0; i < cs->nr; i++)
		if (!strcmp(cs->files[i].path, path))
			return &cs->files[i];
	fail_msg("%s not in the changeset", path);
	return NULL;
}

static void test_first_commit(void **state)
{
	struct tg_changeset cs = TG_CHANGESET_INIT;

	(void)state;
	testrepo_sh("mkdir -p a/b && printf 'x = 1\\n' >a/b/m.py && "
		    "printf 'doc\\n' >README && git add .");
	both(&cs);
	assert_string_equal(cs.describe, "index vs empty tree (first commit)");
	assert_int_equal(cs.nr, 1);
	assert_int_equal(find(&cs, "a/b/m.py")->status, TG_CHANGE_ADDED);
	assert_int_equal(cs.skipped.not_python, 1);
	tg_changeset_release(&cs);
}

static void test_kinds(void **state)
{
	struct tg_changeset cs = TG_CHANGESET_INIT;
	const struct tg_change *c;

	(void)state;
	testrepo_sh(
		"mkdir -p a/b c d && for i in 1 2 3 4 5 6 7 8; do "
		"printf 'def f%%s():\\n    return %%s\\n\\n\\n"
		"def g():\\n    return 0\\n' $i $i >a/b/m$i.py; "
		"cp a/b/m$i.py d/n$i.py; done && printf 'y = 2\\n' >top.py && "
		"printf 'a\\nb\\nc\\nd\\ne\\nf\\ng\\nh\\n' >c/long.py && "
		"git add . && git commit -qm base && "
		"printf 'a\\nB\\nc\\nd\\ne\\nf\\nG\\nh\\ni\\n' >c/long.py && "
		"git mv d/n3.py d/moved.py && git rm -q top.py && "
		"printf 'z = 3\\n' >c/new.py && ln -s a/b/m1.py link.py && "
		"git add -A && git update-index --add --cacheinfo "
		"160000,1111111111111111111111111111111111111111,sub.py");
	both(&cs);
	assert_string_equal(cs.describe, "index vs HEAD");
	assert_int_equal(cs.nr, 3);
	c = find(&cs, "c/long.py");
	assert_int_equal(c->status, TG_CHANGE_MODIFIED);
	assert_int_equal(c->nhunks, 3);
	assert_int_equal(c->hunks[0].new_start, 2);
	assert_int_equal(c->hunks[0].new_lines, 1);
	c = find(&cs, "d/moved.py");
	assert_int_equal(c->status, TG_CHANGE_RENAMED);
	assert_string_equal(c->old_path, "d/n3.py");
	assert_int_equal(c->nhunks, 0);
	assert_int_equal(find(&cs, "c/new.py")->status, TG_CHANGE_ADDED);
	assert_int_equal(cs.skipped.deleted, 1);
	assert_int_equal(cs.skipped.symlink, 1);
	assert_int_equal(cs.skipped.submodule, 1);
	tg_changeset_release(&cs);
}

/* `git commit PATH`: git points GIT_INDEX_FILE at another index */
static void test_index_file(void **state)
{
	struct tg_changeset cs = TG_CHANGESET_INIT;
	char path[700];

	(void)state;
	testrepo_sh(
		"mkdir -p p q && printf 'a = 1\\n' >p/a.py && "
		"printf 'b = 1\\n' >q/b.py && "
		"git add . && git commit -qm base && cp .git/index other && "
		"printf 'a = 2\\n' >p/a.py && printf 'b = 2\\n' >q/b.py && "
		"git add p/a.py && GIT_INDEX_FILE=other git add q/b.py");
	both(&cs);
	assert_int_equal(cs.nr, 1);
	find(&cs, "p/a.py");
	tg_changeset_release(&cs);
	snprintf(path, sizeof(path), "%s/other", testrepo_dir());
	setenv("GIT_INDEX_FILE", path, 1);
	both(&cs);
	unsetenv("GIT_INDEX_FILE");
	assert_int_equal(cs.nr, 1);
	find(&cs, "q/b.py");
	tg_changeset_release(&cs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_commit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_kinds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_file, setup,
						teardown),
	};

	unsetenv("GIT_DIR");
	unsetenv("GIT_WORK_TREE");
	unsetenv("GIT_INDEX_FILE");
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
