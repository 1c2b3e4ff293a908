/*
 * diff.c: what "the change" is: the staged index against HEAD,
 * a branch against its merge base, or a whole tree for `scan`.
 *
 * Hunks have zero context lines (a unit is "touched" only by its own
 * changed lines); renames are detected so a moved file keeps its old
 * findings. Deleted files, submodules, symlinks and non-Python files are
 * counted in cs->skipped, never dropped silently.
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
#include <git2/sys/repository.h>

static bool is_python(const struct tg_glob_set *python, const char *path)
{
	return tg_glob_set_match(python, path); /* NULL set: "*.py" */
}

static struct tg_change *add_change(struct tg_changeset *cs)
{
	struct tg_change *c;

	TG_ALLOC_GROW(cs->files, cs->nr + 1, cs->alloc);
	c = &cs->files[cs->nr++];
	memset(c, 0, sizeof(*c));
	return c;
}

static void add_hunk(struct tg_change *c, const git_diff_hunk *hunk)
{
	struct tg_hunk *h;

	TG_ALLOC_GROW(c->hunks, c->nhunks + 1, c->alloc_hunks);
	h = &c->hunks[c->nhunks++];
	h->old_start = (uint32_t)hunk->old_start;
	h->old_lines = (uint32_t)hunk->old_lines;
	h->new_start = (uint32_t)hunk->new_start;
	h->new_lines = (uint32_t)hunk->new_lines;
}

static void diff_options(git_diff_options *o)
{
	git_diff_options_init(o, GIT_DIFF_OPTIONS_VERSION);
	o->context_lines = 0;
	o->interhunk_lines = 0;
}

/*
 * Hunks straight from the two blobs, with no paths: libgit2 would
 * otherwise look up a diff driver in .gitattributes (reading the working
 * tree and its own copy of the whole index); the content decides text vs
 * binary, as the engine does. Both the fast and the plain
 * path use this, so they agree whatever the attributes say.
 */
static int add_hunks(struct tg_change *c, git_repository *git,
		     const git_oid *old_id, const git_oid *new_id)
{
	git_blob *ob = NULL, *nb = NULL;
	git_patch *patch = NULL;
	git_diff_options o;
	int err = 0;

	diff_options(&o);
	if (old_id) {
		tg_watch_begin("reading blob", old_id->id);
		err = git_blob_lookup(&ob, git, old_id);
		tg_watch_end();
	}
	if (err >= 0) {
		tg_watch_begin("reading blob", new_id->id);
		err = git_blob_lookup(&nb, git, new_id);
		tg_watch_end();
	}
	if (err < 0) {
		err = tg_error_git(c->path);
		goto out;
	}
	if (git_patch_from_blobs(&patch, ob, NULL, nb, NULL, &o) < 0) {
		err = tg_error_git(c->path);
		goto out;
	}
	for (size_t h = 0, nh = git_patch_num_hunks(patch); h < nh; h++) {
		const git_diff_hunk *hunk;

		if (git_patch_get_hunk(&hunk, NULL, patch, h) < 0) {
			err = tg_error_git(c->path);
			break;
		}
		add_hunk(c, hunk);
	}
out:
	git_patch_free(patch);
	git_blob_free(ob);
	git_blob_free(nb);
	return err;
}

/*
 * libgit2 consults the repository's index for every blob patch (case
 * sensitivity) and would read the whole index file for it: lend it an
 * empty in-memory one while patches are made, then take it back.
 */
static int lend_index(git_index **empty, git_repository *git)
{
	if (git_index_new(empty) < 0)
		return tg_error_git("cannot make an empty index");
	git_repository_set_index(git, *empty);
	return 0;
}

static void return_index(git_index *empty, git_repository *git)
{
	git_repository_set_index(git, NULL);
	git_index_free(empty);
}

/* Turn a generated diff into the changeset: renames first, then one
 * entry per checked file with its hunks. */
static int collect(struct tg_changeset *cs, git_diff *diff,
		   git_repository *git, const struct tg_glob_set *python)
{
	git_diff_find_options fo;
	git_index *empty = NULL;
	size_t i, n;
	int err = 0;

	git_diff_find_options_init(&fo, GIT_DIFF_FIND_OPTIONS_VERSION);
	/* Renames only, as git diff does by default: a copy of old code
	 * into a new file is new code to the reviewer, so its findings must
	 * count as new, not inherit the source's status. */
	fo.flags = GIT_DIFF_FIND_RENAMES;
	if (git_diff_find_similar(diff, &fo) < 0)
		return tg_error_git("rename detection failed");
	if ((err = lend_index(&empty, git)) < 0)
		return err;

	n = git_diff_num_deltas(diff);
	for (i = 0; i < n && !err; i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		struct tg_change *c;
		enum tg_change_status st;

		switch (d->status) {
		case GIT_DELTA_DELETED:
			cs->skipped.deleted++;
			continue;
		case GIT_DELTA_ADDED:
			st = TG_CHANGE_ADDED;
			break;
		case GIT_DELTA_MODIFIED:
		case GIT_DELTA_TYPECHANGE:
			st = TG_CHANGE_MODIFIED;
			break;
		case GIT_DELTA_RENAMED:
			st = TG_CHANGE_RENAMED;
			break;
		case GIT_DELTA_COPIED:
			st = TG_CHANGE_COPIED;
			break;
		default:
			continue;
		}
		if (tg_skips_count_mode(&cs->skipped, d->new_file.mode))
			continue;
		if (!is_python(python, d->new_file.path)) {
			cs->skipped.not_python++;
			continue;
		}
		c = add_change(cs);
		c->status = st;
		c->path = tg_xstrdup(d->new_file.path);
		memcpy(c->new_id.id, d->new_file.id.id, TG_OID_RAWSZ);
		if (st != TG_CHANGE_ADDED) {
			c->old_path = tg_xstrdup(d->old_file.path);
			memcpy(c->old_id.id, d->old_file.id.id, TG_OID_RAWSZ);
		}
		err = add_hunks(c, git, st == TG_CHANGE_ADDED ? NULL : &d->old_file.id,
				&d->new_file.id);
	}
	return_index(empty, git);
	return err;
}

static void abbrev(char *out, const git_oid *id)
{
	git_oid_tostr(out, 13, id);
}

/*
 * The fast path of staged mode (its cost follows the change, not the
 * repository). libgit2's tree-to-index diff reads every tree of HEAD;
 * here the index file's cache-tree (TREE extension) names the directories
 * whose tree id is unchanged, and only the others are read and merged
 * against the index entries below them. The resulting raw deltas are the
 * same ones libgit2 would produce. When both additions and deletions are
 * present, renames are possible: libgit2 then diffs exactly those paths
 * (pathspec, no matching) and runs its rename detection on them, which
 * needs no other candidate (copies are not detected).
 */
struct rawdelta {
	char status; /* 'A', 'D', 'M' */
	char *path;
	uint32_t old_mode, new_mode;
	struct tg_oid old_id, new_id;
};

struct fast {
	git_repository *git;
	const struct tg_index *ix;
	struct rawdelta *v;
	size_t nr, alloc, nadd, ndel;
	unsigned depth;
	bool too_deep; /* give up: the plain diff walks without recursion */
};

/* Deeper trees than this go to libgit2, whose iterators keep no C stack
 * per level (no recursion that can overflow the stack). */
#define FAST_MAX_DEPTH 256

static void fast_add(struct fast *f, char status, char *path, uint32_t old_mode,
		     const unsigned char *old_id, uint32_t new_mode,
		     const unsigned char *new_id)
{
	struct rawdelta *d;

	TG_ALLOC_GROW(f->v, f->nr + 1, f->alloc);
	d = &f->v[f->nr++];
	memset(d, 0, sizeof(*d));
	d->status = status;
	d->path = path;
	d->old_mode = old_mode;
	d->new_mode = new_mode;
	if (old_id)
		memcpy(d->old_id.id, old_id, TG_OID_RAWSZ);
	if (new_id)
		memcpy(d->new_id.id, new_id, TG_OID_RAWSZ);
	f->nadd += status == 'A';
	f->ndel += status == 'D';
}

/* git's order of names in a tree: a directory sorts as if followed by '/' */
static int name_cmp(const char *a, size_t alen, bool adir, const char *b,
		    size_t blen, bool bdir)
{
	size_t n = alen < blen ? alen : blen;
	int c = memcmp(a, b, n);
	unsigned char ca, cb;

	if (c)
		return c;
	ca = alen > n ? (unsigned char)a[n] : adir ? '/' : '\0';
	cb = blen > n ? (unsigned char)b[n] : bdir ? '/' : '\0';
	return (int)ca - (int)cb;
}

static const struct tg_index_tree *ct_child(const struct tg_index_tree *ct,
					    const char *name, size_t len)
{
	if (!ct)
		return NULL;
	for (size_t i = 0; i < ct->nsub; i++)
		if (ct->sub[i]->namelen == len &&
		    !memcmp(ct->sub[i]->name, name, len))
			return ct->sub[i];
	return NULL;
}

#define MODE_TYPE(m) ((m) & 0170000)

/*
 * Compare the HEAD tree `head` (NULL: absent) of directory `prefix` with
 * the index entries [lo, hi), all below that prefix. Iterative over the
 * tree's entries, recursive over directory depth (bounded by path length).
 */
static int fast_dir(struct fast *f, const char *prefix, size_t plen,
		    const git_oid *head, size_t lo, size_t hi,
		    const struct tg_index_tree *ct)
{
	const struct tg_index_entry *E = f->ix->entries;
	git_tree *tree = NULL;
	size_t ti = 0, tn = 0, j = lo;
	int err = 0;

	if (head && ct && ct->entry_count >= 0 &&
	    (size_t)ct->entry_count == hi - lo &&
	    !memcmp(ct->id.id, head->id, TG_OID_RAWSZ))
		return 0; /* the index still has HEAD's tree here */
	if (f->too_deep || f->depth >= FAST_MAX_DEPTH) {
		f->too_deep = true;
		return 0;
	}
	if (head) {
		tg_watch_begin("reading tree", head->id);
		err = git_tree_lookup(&tree, f->git, head);
		tg_watch_end();
		if (err < 0)
			return tg_error_git("cannot read a tree of HEAD");
		tn = git_tree_entrycount(tree);
	}
	f->depth++;
	while (ti < tn || j < hi) {
		const git_tree_entry *te = ti < tn ? git_tree_entry_byindex(tree, ti)
						   : NULL;
		const char *tname = te ? git_tree_entry_name(te) : NULL;
		bool tdir = te && git_tree_entry_filemode(te) == GIT_FILEMODE_TREE;
		const char *rest = NULL, *slash = NULL;
		size_t clen = 0, jend = j;
		bool idir = false;
		int c;

		if (j < hi) {
			rest = E[j].path + plen;
			slash = strchr(rest, '/');
			idir = slash != NULL;
			clen = idir ? (size_t)(slash - rest) : strlen(rest);
			jend = j + 1;
			while (idir && jend < hi &&
			       !strncmp(E[jend].path + plen, rest, clen + 1))
				jend++;
		}
		if (te && j < hi)
			c = name_cmp(tname, strlen(tname), tdir, rest, clen, idir);
		else
			c = te ? -1 : 1;

		if (c < 0) { /* only in HEAD */
			char *path = tg_xasprintf("%s%s", prefix, tname);

			if (tdir) {
				char *sub = tg_xasprintf("%s/", path);

				free(path);
				err = fast_dir(f, sub, strlen(sub),
					       git_tree_entry_id(te), j, j, NULL);
				free(sub);
			} else {
				fast_add(f, 'D', path, git_tree_entry_filemode(te),
					 git_tree_entry_id(te)->id, 0, NULL);
			}
			ti++;
		} else if (c > 0) { /* only in the index */
			if (idir) {
				char *sub = tg_xstrndup(E[j].path, plen + clen + 1);

				err = fast_dir(f, sub, plen + clen + 1, NULL, j, jend,
					       NULL);
				free(sub);
			} else {
				fast_add(f, 'A', tg_xstrdup(E[j].path), 0, NULL,
					 E[j].mode, E[j].id.id);
			}
			j = jend;
		} else if (tdir) { /* a directory on both sides */
			char *sub = tg_xstrndup(E[j].path, plen + clen + 1);

			err = fast_dir(f, sub, plen + clen + 1,
				       git_tree_entry_id(te), j, jend,
				       ct_child(ct, rest, clen));
			free(sub);
			ti++;
			j = jend;
		} else { /* a file on both sides */
			uint32_t om = git_tree_entry_filemode(te), nm = E[j].mode;
			const unsigned char *oid = git_tree_entry_id(te)->id;

			if (MODE_TYPE(om) != MODE_TYPE(nm)) {
				/* libgit2 without INCLUDE_TYPECHANGE: a
				 * deletion and an addition */
				fast_add(f, 'D', tg_xstrdup(E[j].path), om, oid,
					 0, NULL);
				fast_add(f, 'A', tg_xstrdup(E[j].path), 0, NULL,
					 nm, E[j].id.id);
			} else if (om != nm ||
				   memcmp(oid, E[j].id.id, TG_OID_RAWSZ)) {
				fast_add(f, 'M', tg_xstrdup(E[j].path), om, oid,
					 nm, E[j].id.id);
			}
			ti++;
			j = jend;
		}
		if (err)
			break;
	}
	f->depth--;
	git_tree_free(tree);
	return err;
}

/* Turn raw deltas without renames into the changeset, hunks from the
 * blobs themselves (the same xdiff run libgit2's diff makes). */
static int fast_collect(struct tg_changeset *cs, struct fast *f,
			const struct tg_glob_set *python)
{
	git_index *empty = NULL;
	size_t i;
	int err;

	if ((err = lend_index(&empty, f->git)) < 0)
		return err;
	for (i = 0; i < f->nr && !err; i++) {
		const struct rawdelta *d = &f->v[i];
		struct tg_change *c;
		git_oid oo, no;

		if (d->status == 'D') {
			cs->skipped.deleted++;
			continue;
		}
		if (tg_skips_count_mode(&cs->skipped, d->new_mode))
			continue;
		if (!is_python(python, d->path)) {
			cs->skipped.not_python++;
			continue;
		}
		c = add_change(cs);
		c->path = tg_xstrdup(d->path);
		c->new_id = d->new_id;
		if (d->status == 'A') {
			c->status = TG_CHANGE_ADDED;
		} else {
			c->status = TG_CHANGE_MODIFIED;
			c->old_path = tg_xstrdup(d->path);
			c->old_id = d->old_id;
		}
		memcpy(oo.id, d->old_id.id, TG_OID_RAWSZ);
		memcpy(no.id, d->new_id.id, TG_OID_RAWSZ);
		err = add_hunks(c, f->git, d->status == 'A' ? NULL : &oo, &no);
	}
	return_index(empty, f->git);
	return err;
}

static void fast_release(struct fast *f)
{
	for (size_t i = 0; i < f->nr; i++)
		free(f->v[i].path);
	free(f->v);
}

/*
 * libgit2's diff, over every path (`f` NULL), or only over f's paths:
 * then the index side is an in-memory index of just those entries, so
 * libgit2 never loads the real one (the pathspec hides every other path
 * on both sides).
 */
static int plain_staged(struct tg_changeset *out, struct tg_repo *repo,
			git_tree *tree, const struct fast *f,
			const struct tg_glob_set *python)
{
	git_index *index = NULL, *own = NULL;
	git_diff *diff = NULL;
	git_diff_options o;
	char **paths = NULL;
	int err = 0;

	diff_options(&o);
	if (!f) {
		if ((err = tg_repo_index(&index, repo)) < 0)
			return err;
	} else {
		if (git_index_new(&own) < 0)
			return tg_error_git("cannot make an index");
		paths = tg_xcalloc(f->nr ? f->nr : 1, sizeof(*paths));
		for (size_t i = 0; i < f->nr; i++) {
			const struct rawdelta *d = &f->v[i];
			git_index_entry e;

			paths[i] = d->path;
			if (d->status == 'D')
				continue;
			memset(&e, 0, sizeof(e));
			e.path = d->path;
			e.mode = d->new_mode;
			memcpy(e.id.id, d->new_id.id, TG_OID_RAWSZ);
			if (git_index_add(own, &e) < 0) {
				err = tg_error_git(d->path);
				goto out;
			}
		}
		index = own;
		o.pathspec.strings = paths;
		o.pathspec.count = f->nr;
		o.flags |= GIT_DIFF_DISABLE_PATHSPEC_MATCH;
	}
	/* the diff reads trees, and blobs for renames: watch.h */
	tg_watch_begin("comparing the index with HEAD", NULL);
	if (git_diff_tree_to_index(&diff, tg_repo_git(repo), tree, index, &o) < 0)
		err = tg_error_git("cannot compare the index with HEAD");
	else
		err = collect(out, diff, tg_repo_git(repo), python);
	tg_watch_end();
out:
	git_diff_free(diff);
	git_index_free(own);
	free(paths);
	return err;
}

int tg_changeset_staged(struct tg_changeset *out, struct tg_repo *repo,
			const struct tg_glob_set *python)
{
	git_repository *git = tg_repo_git(repo);
	const struct tg_index *ix = NULL;
	const char *slow = getenv("TXGUARD_DIFF_SLOW");
	struct fast f = { 0 };
	git_tree *tree = NULL;
	struct tg_oid head;
	git_oid oid;
	bool unborn;
	int err;

	if ((err = tg_repo_head_tree(&head, &unborn, repo)) < 0)
		return err;
	memcpy(oid.id, head.id, TG_OID_RAWSZ);
	tg_watch_begin("reading tree", oid.id);
	err = unborn ? 0 : git_tree_lookup(&tree, git, &oid);
	tg_watch_end();
	if (err < 0)
		return tg_error_git("cannot read HEAD's tree");
	if (!(slow && *slow && strcmp(slow, "0")) &&
	    (err = tg_repo_raw_index(&ix, repo)) < 0)
		goto out;
	if (!ix || !ix->usable) {
		err = plain_staged(out, repo, tree, NULL, python);
	} else {
		f.git = git;
		f.ix = ix;
		err = fast_dir(&f, "", 0, unborn ? NULL : &oid, 0, ix->nr,
			       ix->root);
		if (!err && f.too_deep)
			err = plain_staged(out, repo, tree, NULL, python);
		else if (!err && f.nadd && f.ndel)
			err = plain_staged(out, repo, tree, &f, python);
		else if (!err)
			err = fast_collect(out, &f, python);
	}
	if (err < 0)
		goto out;
	free(out->describe);
	out->describe = tg_xstrdup(unborn ? "index vs empty tree (first commit)"
					  : "index vs HEAD");
out:
	fast_release(&f);
	git_tree_free(tree);
	return err;
}

static int resolve_commit(git_commit **out, git_repository *git,
			  const char *rev)
{
	git_object *obj = NULL;
	int err;

	tg_watch_begin("reading the commit", NULL);
	err = git_revparse_single(&obj, git, rev);
	tg_watch_end();

	if (err == GIT_ENOTFOUND || err == GIT_EAMBIGUOUS ||
	    err == GIT_EINVALIDSPEC) {
		git_error_clear();
		return tg_error_set(TG_ENOTFOUND,
				    "unknown revision '%s': fetch it first (e.g. 'git fetch origin')",
				    rev);
	}
	if (err < 0)
		return tg_error_git(rev);
	err = git_object_peel((git_object **)out, obj, GIT_OBJECT_COMMIT);
	git_object_free(obj);
	if (err < 0)
		return tg_error_set(TG_ENOTFOUND, "'%s' is not a commit", rev);
	return 0;
}

int tg_changeset_branch(struct tg_changeset *out, struct tg_repo *repo,
			const char *base, const char *head,
			const struct tg_glob_set *python)
{
	git_repository *git = tg_repo_git(repo);
	git_commit *bc = NULL, *hc = NULL, *mc = NULL;
	git_tree *bt = NULL, *ht = NULL;
	git_diff *diff = NULL;
	git_diff_options o;
	git_oid mb;
	char a[16], b[16];
	int err;

	if (!head)
		head = "HEAD";
	if ((err = resolve_commit(&bc, git, base)) < 0 ||
	    (err = resolve_commit(&hc, git, head)) < 0)
		goto out;
	tg_watch_begin("finding the merge base", NULL);
	err = git_merge_base(&mb, git, git_commit_id(bc), git_commit_id(hc));
	tg_watch_end();
	/* in a shallow clone the walk stops at a missing parent: any
	 * failure there means "fetch more history" */
	if (err == GIT_ENOTFOUND ||
	    (err < 0 && git_repository_is_shallow(git) == 1)) {
		git_error_clear();
		err = tg_error_set(TG_ENOTFOUND,
				   git_repository_is_shallow(git) == 1
					   ? "no merge base between %s and %s: the clone is too shallow; run 'git fetch --deepen=N' or 'git fetch --unshallow'"
					   : "no merge base between %s and %s: the histories are unrelated (or the clone is too shallow; try 'git fetch --unshallow')",
				   base, head);
		goto out;
	}
	if (err < 0) {
		err = tg_error_git("cannot find the merge base");
		goto out;
	}
	diff_options(&o);
	tg_watch_begin("comparing the trees", NULL);
	if (git_commit_lookup(&mc, git, &mb) < 0 || git_commit_tree(&bt, mc) < 0 ||
	    git_commit_tree(&ht, hc) < 0)
		err = tg_error_git("cannot read the trees to compare");
	else if (git_diff_tree_to_tree(&diff, git, bt, ht, &o) < 0)
		err = tg_error_git("cannot compare the trees");
	else
		err = collect(out, diff, git, python);
	tg_watch_end();
	if (err < 0)
		goto out;
	abbrev(a, &mb);
	abbrev(b, git_commit_id(hc));
	free(out->describe);
	out->describe = tg_xasprintf("%s..%s", a, b);
out:
	git_diff_free(diff);
	git_tree_free(bt);
	git_tree_free(ht);
	git_commit_free(bc);
	git_commit_free(hc);
	git_commit_free(mc);
	return err;
}

int tg_changeset_tree(struct tg_changeset *out, struct tg_repo *repo,
		      const char *rev, const char *const *paths, size_t npaths,
		      const struct tg_glob_set *python)
{
	struct tg_tree_iter *it;
	struct tg_change ch;
	int err;

	if ((err = tg_tree_iter_new(&it, repo, rev, paths, npaths,
				    python)) < 0)
		return err;
	while ((err = tg_tree_iter_next(it, &ch)) > 0) {
		struct tg_change *c = add_change(out);

		*c = ch;
		c->path = tg_xstrdup(ch.path);
	}
	if (!err)
		tg_tree_iter_report(it, &out->skipped, &out->describe);
	tg_tree_iter_free(it);
	return err;
}

void tg_changeset_release(struct tg_changeset *cs)
{
	size_t i;

	for (i = 0; i < cs->nr; i++) {
		free(cs->files[i].path);
		free(cs->files[i].old_path);
		free(cs->files[i].hunks);
	}
	free(cs->files);
	free(cs->describe);
	memset(cs, 0, sizeof(*cs));
}
