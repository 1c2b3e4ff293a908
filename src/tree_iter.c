/*
 * tree_iter.c: every selected Python blob of a tree, one at a time, for
 * scan mode.
 */
#include "txguard/common.h"
#include "txguard/buf.h"
#include "txguard/diff.h"
#include "txguard/error.h"
#include "txguard/glob.h"
#include "txguard/repo.h"
#include "txguard/tree_iter.h"
#include "txguard/watch.h"

#include <git2.h>

/*
 * The iterator holds only the trees on the way down to the
 * current entry (an explicit stack: a deep tree cannot overflow the C
 * stack), so memory follows the depth and the widest directory, never the
 * number of files.
 */
struct frame {
	git_tree *tree;
	size_t next;    /* the entry to look at next */
	size_t pathlen; /* the length of "dir/sub/" in it->path */
};

struct tg_tree_iter {
	git_repository *git;
	const struct tg_glob_set *python;
	char **prefixes;
	size_t nprefixes;
	struct frame *stack;
	size_t depth, alloc_stack;
	struct tg_buf path;
	struct tg_skips skipped;
	char *describe;
};

enum { OUTSIDE, INSIDE, ABOVE };

/* Where does `path` lie relative to the prefixes: under one, outside all,
 * or above one (a directory to descend into)? */
static int locate(const struct tg_tree_iter *it, const char *path, bool dir)
{
	size_t i, pl = strlen(path);
	int where = OUTSIDE;

	if (!it->nprefixes)
		return INSIDE;
	for (i = 0; i < it->nprefixes; i++) {
		const char *p = it->prefixes[i];
		size_t l = strlen(p);

		if (!l)
			return INSIDE;
		if (pl >= l && !memcmp(path, p, l) &&
		    (pl == l || path[l] == '/'))
			return INSIDE;
		if (dir && l > pl && !memcmp(path, p, pl) && p[pl] == '/')
			where = ABOVE;
	}
	return where;
}

static void push(struct tg_tree_iter *it, git_tree *tree, size_t pathlen)
{
	TG_ALLOC_GROW(it->stack, it->depth + 1, it->alloc_stack);
	it->stack[it->depth].tree = tree;
	it->stack[it->depth].next = 0;
	it->stack[it->depth].pathlen = pathlen;
	it->depth++;
}

int tg_tree_iter_new(struct tg_tree_iter **out, struct tg_repo *repo,
		     const char *rev, const char *const *paths, size_t npaths,
		     const struct tg_glob_set *python)
{
	git_repository *git = tg_repo_git(repo);
	struct tg_tree_iter *it;
	git_object *obj = NULL;
	git_tree *tree = NULL;
	int err;

	*out = NULL;
	if (!rev)
		rev = "HEAD";
	tg_watch_begin("reading the commit", NULL);
	err = git_revparse_single(&obj, git, rev);
	if (!err) {
		err = git_object_peel((git_object **)&tree, obj,
				      GIT_OBJECT_TREE);
		git_object_free(obj);
		obj = NULL;
		if (err < 0) {
			tg_watch_end();
			return tg_error_set(TG_ENOTFOUND, "'%s' has no tree",
					    rev);
		}
	}
	tg_watch_end();
	if (err == GIT_ENOTFOUND || err == GIT_EUNBORNBRANCH ||
	    err == GIT_EINVALIDSPEC || err == GIT_EAMBIGUOUS) {
		git_error_clear();
		return tg_error_set(TG_ENOTFOUND, "unknown revision '%s'", rev);
	}
	if (err < 0)
		return tg_error_git(rev);

	it = tg_xcalloc(1, sizeof(*it));
	it->git = git;
	it->python = python;
	tg_buf_init(&it->path);
	it->prefixes = tg_xcalloc(npaths ? npaths : 1, sizeof(char *));
	for (size_t i = 0; i < npaths; i++) {
		const char *p = paths[i];
		size_t l;

		while (p[0] == '.' && p[1] == '/')
			p += 2;
		if (!strcmp(p, "."))
			p = "";
		l = strlen(p);
		while (l && p[l - 1] == '/')
			l--;
		it->prefixes[it->nprefixes++] = tg_xstrndup(p, l);
	}
	it->describe = tg_xasprintf("tree of %s", rev);
	push(it, tree, 0);
	*out = it;
	return 0;
}

int tg_tree_iter_next(struct tg_tree_iter *it, struct tg_change *ch)
{
	while (it->depth) {
		struct frame *f = &it->stack[it->depth - 1];
		const git_tree_entry *e;
		git_filemode_t mode;
		git_tree *sub;

		if (f->next >= git_tree_entrycount(f->tree)) {
			git_tree_free(f->tree);
			it->depth--;
			continue;
		}
		e = git_tree_entry_byindex(f->tree, f->next++);
		mode = git_tree_entry_filemode(e);
		tg_buf_truncate(&it->path, f->pathlen);
		tg_buf_addstr(&it->path, git_tree_entry_name(e));
		if (mode == GIT_FILEMODE_TREE) {
			int err;

			if (locate(it, it->path.ptr, true) == OUTSIDE)
				continue;
			tg_watch_begin("reading tree", git_tree_entry_id(e)->id);
			err = git_tree_lookup(&sub, it->git, git_tree_entry_id(e));
			tg_watch_end();
			if (err < 0)
				return tg_error_git("cannot walk the tree");
			tg_buf_addch(&it->path, '/');
			push(it, sub, it->path.len);
			continue;
		}
		if (locate(it, it->path.ptr, false) != INSIDE ||
		    tg_skips_count_mode(&it->skipped, mode))
			continue;
		if (!tg_glob_set_match(it->python, it->path.ptr)) {
			if (it->python && tg_glob_set_match(NULL, it->path.ptr))
				it->skipped.not_selected++;
			else
				it->skipped.not_python++;
			continue;
		}
		memset(ch, 0, sizeof(*ch));
		ch->status = TG_CHANGE_WHOLE;
		ch->path = it->path.ptr;
		memcpy(ch->new_id.id, git_tree_entry_id(e)->id, TG_OID_RAWSZ);
		return 1;
	}
	return 0;
}

void tg_tree_iter_report(const struct tg_tree_iter *it,
			 struct tg_skips *skipped, char **describe)
{
	skipped->submodule += it->skipped.submodule;
	skipped->symlink += it->skipped.symlink;
	skipped->not_python += it->skipped.not_python;
	skipped->not_selected += it->skipped.not_selected;
	free(*describe);
	*describe = tg_xstrdup(it->describe);
}

void tg_tree_iter_free(struct tg_tree_iter *it)
{
	if (!it)
		return;
	while (it->depth)
		git_tree_free(it->stack[--it->depth].tree);
	free(it->stack);
	for (size_t i = 0; i < it->nprefixes; i++)
		free(it->prefixes[i]);
	free(it->prefixes);
	tg_buf_release(&it->path);
	free(it->describe);
	free(it);
}
