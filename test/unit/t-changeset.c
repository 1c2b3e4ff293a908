/*
 * What "the change" is: staged, branch and tree changesets on
 * scratch repositories built with git itself. Every staged case is run
 * twice, on the fast path and with TXGUARD_DIFF_SLOW=1 (libgit2's full
 * diff), and the two changesets must be identical.
 */
#include "txguard/common.h"
#include "txguard/diff.h"
#include "txguard/error.h"
#include "txguard/glob.h"
#include "txguard/repo.h"
#include "../helper/testrepo.h"

#include <stdarg.h>
#include <setjmp.h>
#include <unistd.h>
#include <cmocka.h>
#include <git2.h>

static void write_file(const char *path, const char *text)
{
	testrepo_write(path, text);
}

/* A fresh repository per test. */
static int setup(void **state)
{
	(void)state;
	return testrepo_create("t-changeset");
}

static int teardown(void **state)
{
	(void)state;
	unsetenv("GIT_INDEX_FILE");
	unsetenv("TXGUARD_DIFF_SLOW");
	return testrepo_remove();
}

static void staged_with(struct tg_changeset *cs, bool slow,
			const struct tg_glob_set *python)
{
	struct tg_repo *repo = NULL;

	if (slow)
		setenv("TXGUARD_DIFF_SLOW", "1", 1);
	else
		unsetenv("TXGUARD_DIFF_SLOW");
	if (tg_repo_open(&repo, testrepo_dir()) < 0)
		fail_msg("open: %s", tg_error_last());
	if (tg_changeset_staged(cs, repo, python) < 0)
		fail_msg("staged: %s", tg_error_last());
	tg_repo_free(repo);
	unsetenv("TXGUARD_DIFF_SLOW");
}

static void assert_same(const struct tg_changeset *a, const struct tg_changeset *b)
{
	assert_int_equal(a->nr, b->nr);
	assert_memory_equal(&a->skipped, &b->skipped, sizeof(a->skipped));
	assert_string_equal(a->describe, b->describe);
	for (size_t i = 0; i < a->nr; i++) {
		const struct tg_change *x = &a->files[i], *y = &b->files[i];

		assert_string_equal(x->path, y->path);
		if (x->old_path || y->old_path) {
			assert_non_null(x->old_path);
			assert_non_null(y->old_path);
			assert_string_equal(x->old_path, y->old_path);
		}
		assert_int_equal(x->status, y->status);
		assert_memory_equal(&x->new_id, &y->new_id, sizeof(x->new_id));
		assert_memory_equal(&x->old_id, &y->old_id, sizeof(x->old_id));
		assert_int_equal(x->nhunks, y->nhunks);
		if (x->nhunks)
			assert_memory_equal(x->hunks, y->hunks,
					    x->nhunks * sizeof(*x->hunks));
	}
}

/* The staged changeset, checked fast == slow; the caller releases it. */
static void staged_sel(struct tg_changeset *cs, const struct tg_glob_set *python)
{
	struct tg_changeset slow = TG_CHANGESET_INIT;

	staged_with(cs, false, python);
	staged_with(&slow, true, python);
	assert_same(cs, &slow);
	tg_changeset_release(&slow);
}

static void staged(struct tg_changeset *cs)
{
	staged_sel(cs, NULL);
}

static const struct tg_change *find(const struct tg_changeset *cs,
				    const char *path)
{
	for (size_t i = 0; i < cs->nr; i++)
		if (!strcmp(cs->files[i].path, path))
			return &cs->files[i];
	fail_msg("'%s' not in the changeset", path);
	return NULL;
}

static void blob_id(struct tg_oid *out, const char *rev_path)
{
	char *cmd = tg_xasprintf("cd '%s' && git rev-parse '%s'", testrepo_dir(), rev_path);
	FILE *p = popen(cmd, "r");
	char hex[64] = "";
	git_oid oid;

	assert_non_null(p);
	assert_non_null(fgets(hex, sizeof(hex), p));
	pclose(p);
	hex[TG_OID_HEXSZ] = '\0';
	assert_int_equal(git_oid_fromstr(&oid, hex), 0);
	memcpy(out->id, oid.id, TG_OID_RAWSZ);
	free(cmd);
}

static const char ten[] = "a = 1\nb = 2\nc = 3\nd = 4\ne = 5\n"
			  "f = 6\ng = 7\nh = 8\ni = 9\nj = 10\n";

static void test_first_commit(void **state)
{
	struct tg_changeset cs = TG_CHANGESET_INIT;
	const struct tg_change *c;

	(void)state;
	write_file("app/a.py", ten);
	write_file("README", "hi\n");
	testrepo_sh("git add .");
	staged(&cs);
	assert_string_equal(cs.describe, "index vs empty tree (first commit)");
	assert_int_equal(cs.nr, 1);
	c = find(&cs, "app/a.py");
	assert_int_equal(c->status, TG_CHANGE_ADDED);
	assert_null(c->old_path);
	assert_int_equal(c->nhunks, 1);
	assert_int_equal(c->hunks[0].new_start, 1);
	assert_int_equal(c->hunks[0].new_lines, 10);
	assert_int_equal(cs.skipped.not_python, 1);
	tg_changeset_release(&cs);
}

static void test_modified_zero_context(void **state)
{
	struct tg_changeset cs = TG_CHANGESET_INIT;
	const struct tg_change *c;
	struct tg_oid old;

	(void)state;
	write_file("app/a.py", ten);
	write_file("app/other.py", "x = 1\n");
	write_file("lib/deep/er/z.py", "z = 1\n");
	testrepo_sh("git add . && git commit -q -m one");
	blob_id(&old, "HEAD:app/a.py");
	write_file("app/a.py", "a = 1\nb = 2\nC = 3\nd = 4\ne = 5\n"
			       "f = 6\ng = 7\nh = 8\ni = 9\nj = 10\nk = 11\n");
	write_file("app/other.py", "x = 2\n"); /* changed but not staged */
	testrepo_sh("git add app/a.py");
	staged(&cs);
	assert_string_equal(cs.describe, "index vs HEAD");
	assert_int_equal(cs.nr, 1);
	c = find(&cs, "app/a.py");
	assert_int_equal(c->status, TG_CHANGE_MODIFIED);
	assert_string_equal(c->old_path, "app/a.py");
	assert_memory_equal(&c->old_id, &old, sizeof(old));
	assert_int_equal(c->nhunks, 2);
	assert_int_equal(c->hunks[0].old_start, 3);
	assert_int_equal(c->hunks[0].old_lines, 1);
	assert_int_equal(c->hunks[0].new_start, 3);
	assert_int_equal(c->hunks[0].new_lines, 1);
	assert_int_equal(c->hunks[1].old_lines, 0);
	assert_int_equal(c->hunks[1].new_start, 11);
	assert_int_equal(c->hunks[1].new_lines, 1);
	tg_changeset_release(&cs);
}

static void test_nothing_staged(void **state)
{
	struct tg_changeset cs = TG_CHANGESET_INIT;

	(void)state;
	write_file("a.py", ten);
	testrepo_sh("git add . && git commit -q -m one");
	staged(&cs);
	assert_int_equal(cs.nr, 0);
	tg_changeset_release(&cs);
}

static void test_added_and_deleted(void **state)
{
	struct tg_changeset cs = TG_CHANGESET_INIT;

	(void)state;
	write_file("app/a.py", ten);
	write_file("old/gone.py", "completely = 'different'\n");
	write_file("old/gone2.py", "nothing = 'alike'\n");
	testrepo_sh("git add . && git commit -q -m one");
	testrepo_sh("git rm -q -r old");
	write_file("new/pkg/b.py", "brand = 'new'\n");
	testrepo_sh("git add new");
	staged(&cs);
	assert_int_equal(cs.nr, 1);
	assert_int_equal(find(&cs, "new/pkg/b.py")->status, TG_CHANGE_ADDED);
	assert_int_equal(cs.skipped.deleted, 2);
	tg_changeset_release(&cs);
}

static void test_added_only_and_deleted_only(void **state)
{
	struct tg_changeset cs = TG_CHANGESET_INIT;

	(void)state;
	write_file("app/a.py", ten);
	write_file("app/b.py", "b = 1\n");
	testrepo_sh("git add . && git commit -q -m one");
	testrepo_sh("git rm -q app/b.py");
	staged(&cs);
	assert_int_equal(cs.nr, 0);
	assert_int_equal(cs.skipped.deleted, 1);
	tg_changeset_release(&cs);
	testrepo_sh("git reset -q --hard");
	write_file("app/sub/c.py", "c = 1\n");
	write_file("zz.py", "zz = 1\n");
	testrepo_sh("git add .");
	staged(&cs);
	assert_int_equal(cs.nr, 2);
	assert_string_equal(cs.files[0].path, "app/sub/c.py");
	assert_string_equal(cs.files[1].path, "zz.py");
	tg_changeset_release(&cs);
}

static void test_renamed(void **state)
{
	struct tg_changeset cs = TG_CHANGESET_INIT;
	const struct tg_change *c;
	struct tg_oid old;

	(void)state;
	write_file("app/a.py", ten);
	write_file("app/keep.py", "k = 1\n");
	testrepo_sh("git add . && git commit -q -m one");
	blob_id(&old, "HEAD:app/a.py");
	testrepo_sh("git mv app/a.py lib/moved.py 2>/dev/null || "
	   "(mkdir -p lib && git mv app/a.py lib/moved.py)");
	write_file("lib/moved.py", "a = 1\nb = 2\nc = 3\nd = 4\ne = 5\n"
				   "f = 6\ng = 7\nh = 8\ni = 9\nj = 11\n");
	testrepo_sh("git add lib/moved.py");
	staged(&cs);
	assert_int_equal(cs.nr, 1);
	c = find(&cs, "lib/moved.py");
	assert_int_equal(c->status, TG_CHANGE_RENAMED);
	assert_string_equal(c->old_path, "app/a.py");
	assert_memory_equal(&c->old_id, &old, sizeof(old));
	assert_int_equal(c->nhunks, 1);
	assert_int_equal(c->hunks[0].new_start, 10);
	assert_int_equal(cs.skipped.deleted, 0);
	tg_changeset_release(&cs);
}

static void test_copy_is_added(void **state)
{
	struct tg_changeset cs = TG_CHANGESET_INIT;

	(void)state;
	write_file("a.py", ten);
	testrepo_sh("git add . && git commit -q -m one");
	testrepo_sh("cp a.py b.py && echo 'k = 11' >> a.py && git add .");
	staged(&cs);
	assert_int_equal(cs.nr, 2);
	assert_int_equal(find(&cs, "b.py")->status, TG_CHANGE_ADDED);
	tg_changeset_release(&cs);
}

static void test_symlink_submodule_mode(void **state)
{
	struct tg_changeset cs = TG_CHANGESET_INIT;
	const struct tg_change *c;

	(void)state;
	write_file("a.py", ten);
	write_file("x.py", "x = 1\n");
	write_file("bin/tool.py", "t = 1\n");
	testrepo_sh("git add . && git commit -q -m one");
	testrepo_sh("ln -s a.py link.py && git add link.py");
	testrepo_sh("git update-index --add --cacheinfo 160000,$(git rev-parse HEAD),vendor/sub.py");
	testrepo_sh("chmod +x bin/tool.py && git add bin/tool.py");
	testrepo_sh("rm x.py && ln -s a.py x.py && git add x.py"); /* file -> symlink */
	staged(&cs);
	assert_int_equal(cs.skipped.symlink, 2);
	assert_int_equal(cs.skipped.submodule, 1);
	assert_int_equal(cs.skipped.deleted, 1); /* x.py's old blob */
	assert_int_equal(cs.nr, 1);
	c = find(&cs, "bin/tool.py");
	assert_int_equal(c->status, TG_CHANGE_MODIFIED);
	assert_int_equal(c->nhunks, 0);
	tg_changeset_release(&cs);
}

static void test_file_becomes_directory(void **state)
{
	struct tg_changeset cs = TG_CHANGESET_INIT;

	(void)state;
	write_file("pkg", "not a dir\n");
	write_file("pkg.py", "p = 1\n");
	write_file("pkga/x.py", "x = 1\n");
	testrepo_sh("git add . && git commit -q -m one");
	testrepo_sh("git rm -q pkg && mkdir pkg");
	write_file("pkg/x.py", "x = 2\n");
	testrepo_sh("git add pkg");
	staged(&cs);
	assert_int_equal(cs.nr, 1);
	assert_string_equal(cs.files[0].path, "pkg/x.py");
	assert_int_equal(cs.skipped.deleted, 1);
	tg_changeset_release(&cs);
}

static void test_many_directories(void **state)
{
	struct tg_changeset cs = TG_CHANGESET_INIT;

	(void)state;
	testrepo_sh("for d in a b c d e; do for e in 1 2 3; do mkdir -p $d/$e/in && "
	   "for f in 1 2 3 4; do echo \"v = $f\" > $d/$e/in/m$f.py; "
	   "echo x > $d/$e/n$f.txt; done; done; done");
	testrepo_sh("git add . && git commit -q -m one");
	testrepo_sh("echo 'w = 1' >> c/2/in/m3.py && echo 'w = 2' >> e/3/in/m1.py && "
	   "echo 'w' >> a/1/n1.txt && git add .");
	staged(&cs);
	assert_int_equal(cs.nr, 2);
	assert_string_equal(cs.files[0].path, "c/2/in/m3.py");
	assert_string_equal(cs.files[1].path, "e/3/in/m1.py");
	assert_int_equal(cs.skipped.not_python, 1);
	tg_changeset_release(&cs);
	/* an index without cached trees: every tree is compared */
	testrepo_sh("git commit -q -m two && rm .git/index && git read-tree HEAD 2>/dev/null; "
	   "echo 'q = 1' >> b/1/in/m2.py && git add b/1/in/m2.py");
	staged(&cs);
	assert_int_equal(cs.nr, 1);
	tg_changeset_release(&cs);
}

static void test_python_globs(void **state)
{
	struct tg_changeset cs = TG_CHANGESET_INIT;
	struct tg_glob_set set = TG_GLOB_SET_INIT;

	(void)state;
	write_file("app/a.py", ten);
	testrepo_sh("git add . && git commit -q -m one");
	write_file("app/b.py", "b = 1\n");
	write_file("app/migrations/0001.py", "m = 1\n");
	write_file("stubs/s.pyi", "s: int\n");
	testrepo_sh("git add .");
	tg_glob_set_add(&set, false, "**/*.py");
	tg_glob_set_add(&set, false, "*.pyi");
	tg_glob_set_add(&set, true, "app/migrations/**");
	staged_sel(&cs, &set);
	assert_int_equal(cs.nr, 2);
	assert_string_equal(cs.files[0].path, "app/b.py");
	assert_string_equal(cs.files[1].path, "stubs/s.pyi");
	assert_int_equal(cs.skipped.not_python, 1);
	tg_changeset_release(&cs);
	tg_glob_set_release(&set);
}

static void test_alternate_index(void **state)
{
	struct tg_changeset cs = TG_CHANGESET_INIT;
	char *alt;

	(void)state;
	write_file("a.py", ten);
	write_file("b.py", "b = 1\n");
	testrepo_sh("git add . && git commit -q -m one");
	/* git commit PATH: a temporary index holding only b.py's change */
	testrepo_sh("echo 'a = 2' >> a.py && git add a.py && echo 'b = 2' >> b.py");
	testrepo_sh("cp .git/index .git/next-index-test.lock && git read-tree "
	   "--index-output=.git/next-index-test.lock HEAD && "
	   "GIT_INDEX_FILE=.git/next-index-test.lock git add b.py");
	alt = tg_xasprintf("%s/.git/next-index-test.lock", testrepo_dir());
	setenv("GIT_INDEX_FILE", alt, 1);
	staged(&cs);
	assert_int_equal(cs.nr, 1);
	assert_string_equal(cs.files[0].path, "b.py");
	tg_changeset_release(&cs);
	unsetenv("GIT_INDEX_FILE");
	staged(&cs);
	assert_int_equal(cs.nr, 1);
	assert_string_equal(cs.files[0].path, "a.py");
	tg_changeset_release(&cs);
	free(alt);
}

static void test_conflict_falls_back(void **state)
{
	struct tg_changeset cs = TG_CHANGESET_INIT;

	(void)state;
	write_file("a.py", ten);
	testrepo_sh("git add . && git commit -q -m one && git checkout -q -b side && "
	   "echo 'k = 1' >> a.py && git commit -q -am side && git checkout -q main && "
	   "echo 'k = 2' >> a.py && git commit -q -am main");
	testrepo_sh("git merge -q side >/dev/null 2>&1 || true");
	staged(&cs); /* unmerged entries: the plain diff, same result */
	tg_changeset_release(&cs);
}

static void test_branch(void **state)
{
	struct tg_changeset cs = TG_CHANGESET_INIT;
	struct tg_repo *repo = NULL;

	(void)state;
	write_file("a.py", ten);
	testrepo_sh("git add . && git commit -q -m one && git checkout -q -b feature");
	write_file("b.py", "b = 1\n");
	testrepo_sh("git add . && git commit -q -m two && git checkout -q main");
	write_file("c.py", "c = 1\n");
	testrepo_sh("git add . && git commit -q -m three && git checkout -q feature");
	assert_int_equal(tg_repo_open(&repo, testrepo_dir()), 0);
	assert_int_equal(tg_changeset_branch(&cs, repo, "main", "HEAD", NULL), 0);
	assert_int_equal(cs.nr, 1);
	assert_string_equal(cs.files[0].path, "b.py");
	assert_int_equal(strlen(cs.describe), 12 + 2 + 12);
	tg_changeset_release(&cs);
	assert_int_equal(tg_changeset_branch(&cs, repo, "origin/nope", "HEAD", NULL),
			 TG_ENOTFOUND);
	assert_non_null(strstr(tg_error_last(), "origin/nope"));
	tg_changeset_release(&cs);
	testrepo_sh("git checkout -q --orphan lonely && git rm -q -rf . && "
	   "echo 'l = 1' > l.py && git add l.py && git commit -q -m lonely");
	assert_int_equal(tg_changeset_branch(&cs, repo, "main", "lonely", NULL),
			 TG_ENOTFOUND);
	assert_non_null(strstr(tg_error_last(), "no merge base"));
	tg_changeset_release(&cs);
	tg_repo_free(repo);
}

/*
 * libgit2 1.5 leaks on two failures these tests provoke: git_merge_base
 * when the walk stops at a missing parent (a shallow clone), and
 * git_index_read on a truncated index; txguard exits right after either.
 * Keep LeakSanitizer (make check) quiet about those library leaks only.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:git_merge_base\nleak:git_index_read\n";
}

/* libgit2 has no frame pointers: unwind slowly so the frame is seen */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "fast_unwind_on_malloc=0";
}

static void test_shallow(void **state)
{
	struct tg_changeset cs = TG_CHANGESET_INIT;
	struct tg_repo *repo = NULL;
	char *clone;

	(void)state;
	testrepo_sh("for i in 1 2 3; do echo \"x = $i\" > a.py && git add a.py && "
	   "git commit -q -m $i; done && git checkout -q -b feat && "
	   "echo 'y = 1' > b.py && git add b.py && git commit -q -m f && "
	   "git checkout -q main && echo 'x = 9' > a.py && git commit -q -am m");
	testrepo_sh("git clone -q --depth=1 --no-single-branch \"file://$PWD\" shallow && "
	   "cd shallow && git checkout -q feat");
	clone = tg_xasprintf("%s/shallow", testrepo_dir());
	assert_int_equal(tg_repo_open(&repo, clone), 0);
	assert_int_equal(tg_changeset_branch(&cs, repo, "origin/main", "HEAD", NULL),
			 TG_ENOTFOUND);
	assert_non_null(strstr(tg_error_last(), "too shallow"));
	assert_non_null(strstr(tg_error_last(), "--unshallow"));
	tg_changeset_release(&cs);
	tg_repo_free(repo);
	free(clone);
}

static void test_index_v4_and_corrupt(void **state)
{
	struct tg_changeset cs = TG_CHANGESET_INIT;
	struct tg_repo *repo = NULL;

	(void)state;
	testrepo_sh("for d in app app/models app/models/deep lib; do mkdir -p $d && "
	   "for f in alpha alphabet beta; do echo \"v = 1\" > $d/$f.py; done; done");
	testrepo_sh("git add . && git commit -q -m one && git update-index --index-version 4");
	testrepo_sh("echo 'v = 2' >> app/models/alphabet.py && echo 'n = 1' > app/models/new.py && "
	   "git add . && git update-index --index-version 4");
	staged(&cs);
	assert_int_equal(cs.nr, 2);
	assert_string_equal(cs.files[0].path, "app/models/alphabet.py");
	assert_string_equal(cs.files[1].path, "app/models/new.py");
	tg_changeset_release(&cs);
	/* a truncated index: an error, never a crash or a silent pass */
	testrepo_sh("head -c 100 .git/index > .git/index.tmp && mv .git/index.tmp .git/index");
	assert_int_equal(tg_repo_open(&repo, testrepo_dir()), 0);
	assert_true(tg_changeset_staged(&cs, repo, NULL) < 0);
	tg_changeset_release(&cs);
	tg_repo_free(repo);
}

static void test_deep_tree(void **state)
{
	struct tg_changeset cs = TG_CHANGESET_INIT;

	(void)state;
	/* deeper than the fast path recurses: the plain diff takes over */
	testrepo_sh("p=.; i=0; while [ $i -lt 300 ]; do p=$p/d; i=$((i + 1)); done; "
	   "mkdir -p $p && echo 'x = 1' > $p/x.py && echo 'y = 1' > y.py && "
	   "git add . && git commit -q -m one && echo 'x = 2' >> $p/x.py && git add .");
	staged(&cs);
	assert_int_equal(cs.nr, 1);
	assert_int_equal(strlen(cs.files[0].path), 300 * 2 + 4);
	tg_changeset_release(&cs);
}

static void test_tree(void **state)
{
	struct tg_changeset cs = TG_CHANGESET_INIT;
	struct tg_repo *repo = NULL;
	const char *paths[] = { "app/", "./lib/x.py" };

	(void)state;
	write_file("app/a.py", ten);
	write_file("app/sub/b.py", "b = 1\n");
	write_file("app/notes.txt", "n\n");
	write_file("lib/x.py", "x = 1\n");
	write_file("lib/y.py", "y = 1\n");
	write_file("top.py", "t = 1\n");
	testrepo_sh("ln -s top.py app/link.py && git add . && git commit -q -m one");
	assert_int_equal(tg_repo_open(&repo, testrepo_dir()), 0);
	assert_int_equal(tg_changeset_tree(&cs, repo, NULL, NULL, 0, NULL), 0);
	assert_string_equal(cs.describe, "tree of HEAD");
	assert_int_equal(cs.nr, 5);
	assert_int_equal(cs.skipped.symlink, 1);
	assert_int_equal(cs.skipped.not_python, 1);
	for (size_t i = 0; i < cs.nr; i++) {
		assert_int_equal(cs.files[i].status, TG_CHANGE_WHOLE);
		assert_int_equal(cs.files[i].nhunks, 0);
	}
	tg_changeset_release(&cs);
	assert_int_equal(tg_changeset_tree(&cs, repo, "HEAD", paths, 2, NULL), 0);
	assert_int_equal(cs.nr, 3);
	assert_string_equal(cs.files[0].path, "app/a.py");
	assert_string_equal(cs.files[1].path, "app/sub/b.py");
	assert_string_equal(cs.files[2].path, "lib/x.py");
	tg_changeset_release(&cs);
	assert_int_equal(tg_changeset_tree(&cs, repo, "nope", NULL, 0, NULL),
			 TG_ENOTFOUND);
	tg_changeset_release(&cs);
	tg_repo_free(repo);
}


static void test_repo_errors(void **state)
{
	struct tg_repo *repo = NULL;
	struct tg_changeset cs = TG_CHANGESET_INIT;
	char *plain = tg_xasprintf("%s/plain", testrepo_dir()), *bare;

	(void)state;
	testrepo_sh("mkdir plain && git init -q --bare bare.git");
	setenv("GIT_CEILING_DIRECTORIES", testrepo_dir(), 1);
	assert_int_equal(tg_repo_open(&repo, plain), TG_ENOTFOUND);
	assert_non_null(strstr(tg_error_last(), "not a git repository"));
	unsetenv("GIT_CEILING_DIRECTORIES");
	bare = tg_xasprintf("%s/bare.git", testrepo_dir());
	assert_int_equal(tg_repo_open(&repo, bare), 0);
	assert_null(tg_repo_workdir(repo));
	assert_int_equal(tg_changeset_staged(&cs, repo, NULL), TG_EGIT);
	assert_non_null(strstr(tg_error_last(), "bare repository"));
	tg_changeset_release(&cs);
	tg_repo_free(repo);
	free(plain);
	free(bare);
}

static void test_repo_read(void **state)
{
	struct tg_repo *repo = NULL;
	struct tg_oid id;
	bool unborn;
	char *buf;
	size_t len;

	(void)state;
	assert_int_equal(tg_repo_open(&repo, testrepo_dir()), 0);
	assert_int_equal(tg_repo_head_tree(&id, &unborn, repo), 0);
	assert_true(unborn);
	tg_repo_free(repo);
	write_file("base.txt", "one\n");
	testrepo_sh("git add . && git commit -q -m one && echo two > base.txt && git add base.txt");
	assert_int_equal(tg_repo_open(&repo, testrepo_dir()), 0);
	assert_int_equal(tg_repo_head_tree(&id, &unborn, repo), 0);
	assert_false(unborn);
	assert_int_equal(tg_repo_read_path(&buf, &len, repo, "base.txt", true), 0);
	assert_string_equal(buf, "two\n");
	assert_int_equal(len, 4);
	free(buf);
	assert_int_equal(tg_repo_read_path(&buf, &len, repo, "base.txt", false), 0);
	assert_string_equal(buf, "one\n");
	free(buf);
	assert_int_equal(tg_repo_read_path(&buf, &len, repo, "nope", true),
			 TG_ENOTFOUND);
	assert_int_equal(tg_repo_read_path(&buf, &len, repo, "nope", false),
			 TG_ENOTFOUND);
	assert_non_null(strstr(tg_repo_gitdir(repo), ".git/"));
	assert_int_equal(tg_repo_workdir(repo)[strlen(tg_repo_workdir(repo)) - 1], '/');
	tg_repo_free(repo);
}

static void test_linked_worktree(void **state)
{
	struct tg_changeset cs = TG_CHANGESET_INIT;
	struct tg_repo *repo = NULL;
	char *wt;

	(void)state;
	write_file("a.py", ten);
	write_file("b.py", "b = 1\n");
	testrepo_sh("git add . && git commit -q -m one && git worktree add -q -b side wt");
	testrepo_sh("echo 'a = 2' >> a.py && git add a.py");
	testrepo_sh("cd wt && echo 'b = 2' >> b.py && git add b.py");
	wt = tg_xasprintf("%s/wt", testrepo_dir());
	assert_int_equal(tg_repo_open(&repo, wt), 0);
	assert_non_null(strstr(tg_repo_gitdir(repo), "/worktrees/wt/"));
	assert_int_equal(tg_changeset_staged(&cs, repo, NULL), 0);
	assert_int_equal(cs.nr, 1);
	assert_string_equal(cs.files[0].path, "b.py");
	tg_changeset_release(&cs);
	tg_repo_free(repo);
	free(wt);
}

/* git --git-testrepo_dir()=... --work-tree=... from another directory; GIT_COMMON_DIR. */
static void test_git_env(void **state)
{
	struct tg_changeset cs = TG_CHANGESET_INIT;
	struct tg_repo *repo = NULL;
	char *gd, *wd, *elsewhere, cwd[4096];

	(void)state;
	write_file("a.py", ten);
	testrepo_sh("git add . && git commit -q -m one && echo 'a = 2' >> a.py && git add a.py && mkdir elsewhere");
	gd = tg_xasprintf("%s/.git", testrepo_dir());
	wd = tg_xasprintf("%s", testrepo_dir());
	elsewhere = tg_xasprintf("%s/elsewhere", testrepo_dir());
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(elsewhere), 0);
	setenv("GIT_DIR", gd, 1);
	setenv("GIT_WORK_TREE", wd, 1);
	assert_int_equal(tg_repo_open(&repo, NULL), 0);
	assert_non_null(tg_repo_workdir(repo));
	assert_null(strstr(tg_repo_workdir(repo), "elsewhere"));
	assert_int_equal(tg_changeset_staged(&cs, repo, NULL), 0);
	assert_int_equal(cs.nr, 1);
	tg_changeset_release(&cs);
	tg_repo_free(repo);
	/* GIT_DIR alone: git makes the current directory the work tree */
	unsetenv("GIT_WORK_TREE");
	assert_int_equal(tg_repo_open(&repo, NULL), 0);
	assert_non_null(strstr(tg_repo_workdir(repo), "elsewhere/"));
	assert_int_equal(tg_changeset_staged(&cs, repo, NULL), 0);
	assert_int_equal(cs.nr, 1);
	tg_changeset_release(&cs);
	tg_repo_free(repo);
	/* objects from GIT_COMMON_DIR */
	setenv("GIT_COMMON_DIR", gd, 1);
	assert_int_equal(tg_repo_open(&repo, NULL), 0);
	assert_int_equal(tg_changeset_staged(&cs, repo, NULL), 0);
	assert_int_equal(cs.nr, 1);
	tg_changeset_release(&cs);
	tg_repo_free(repo);
	unsetenv("GIT_COMMON_DIR");
	unsetenv("GIT_DIR");
	assert_int_equal(chdir(cwd), 0);
	free(gd);
	free(wd);
	free(elsewhere);
}

/* Read-only: nothing in .git changes, and index.lock is never taken. */
static void test_read_only(void **state)
{
	struct tg_changeset cs = TG_CHANGESET_INIT;

	(void)state;
	write_file("a.py", ten);
	write_file("old.py", "gone = 1\n");
	testrepo_sh("git add . && git commit -q -m one && echo 'a = 2' >> a.py && "
	   "git rm -q old.py && echo 'n = 1' > new.py && git add .");
	testrepo_sh("chmod -R a-w .git && (find .git -type f | sort | xargs md5sum) > ../sums.%s",
	   strrchr(testrepo_dir(), '/') + 1);
	staged(&cs);
	tg_changeset_release(&cs);
	testrepo_sh("(find .git -type f | sort | xargs md5sum) | cmp -s - ../sums.%s && "
	   "test ! -e .git/index.lock && chmod -R u+w .git && rm ../sums.%s",
	   strrchr(testrepo_dir(), '/') + 1, strrchr(testrepo_dir(), '/') + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modified_zero_context, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_staged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_added_and_deleted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_added_only_and_deleted_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_renamed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_is_added, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_submodule_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_becomes_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_directories, setup, teardown),
		cmocka_unit_test_setup_teardown(test_python_globs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alternate_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflict_falls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_branch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shallow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_v4_and_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deep_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repo_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repo_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linked_worktree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_git_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
	};
	int rc;

	/* the tests say which index and repository they mean */
	unsetenv("GIT_DIR");
	unsetenv("GIT_WORK_TREE");
	unsetenv("GIT_INDEX_FILE");
	unsetenv("GIT_COMMON_DIR");
	unsetenv("GIT_OBJECT_DIRECTORY");
	git_libgit2_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	git_libgit2_shutdown();
	return rc;
}
