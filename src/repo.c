/*
 * repo.c: open the repository the way git does for hooks, and read its
 * blobs and index.
 *
 * libgit2 1.5 rejects GIT_WORK_TREE and GIT_COMMON_DIR under
 * GIT_REPOSITORY_OPEN_FROM_ENV, so the git environment is
 * read here: GIT_DIR opens by path, otherwise the repository is discovered
 * from the current directory; GIT_WORK_TREE, GIT_COMMON_DIR,
 * GIT_OBJECT_DIRECTORY and GIT_INDEX_FILE are applied on top. Nothing here
 * writes: no index, config, ref or lock file is ever touched.
 */
#include "txguard/common.h"
#include "txguard/error.h"
#include "txguard/gitalloc.h"
#include "txguard/index.h"
#include "txguard/repo.h"
#include "txguard/watch.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>
#include <git2/sys/repository.h>

struct tg_repo {
	git_repository *git;
	git_index *index; /* loaded on first use */
	git_odb *odb;     /* a reference taken on first use, freed with the repo */
	int64_t odb_heap; /* libgit2's heap when `odb` was opened */
	char *workdir;    /* NULL when bare */
	char *gitdir;
	bool raw_loaded;
	struct tg_index raw; /* txguard's own reader, loaded on first use */
};

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/* An absolute copy of `path` (relative to the cwd, as git reads it), with
 * a trailing '/' when `dir`. */
static char *absolute(const char *path, bool dir)
{
	char cwd[PATH_MAX];
	char *abs;
	size_t len;

	if (path[0] == '/') {
		abs = tg_xstrdup(path);
	} else {
		if (!getcwd(cwd, sizeof(cwd)))
			return NULL;
		abs = tg_xasprintf("%s/%s", cwd, path);
	}
	len = strlen(abs);
	if (dir && (len == 0 || abs[len - 1] != '/')) {
		char *t = tg_xasprintf("%s/", abs);

		free(abs);
		abs = t;
	}
	return abs;
}

static int open_git(git_repository **out, const char *path)
{
	const char *gitdir = env("GIT_DIR");
	int err;

	if (gitdir) {
		err = git_repository_open_ext(out, gitdir,
					      GIT_REPOSITORY_OPEN_NO_SEARCH,
					      NULL);
		if (err == GIT_ENOTFOUND)
			return tg_error_set(TG_ENOTFOUND,
					    "not a git repository: '%s' (from GIT_DIR)",
					    gitdir);
	} else {
		err = git_repository_open_ext(out, path ? path : ".", 0,
					      env("GIT_CEILING_DIRECTORIES"));
		if (err == GIT_ENOTFOUND)
			return tg_error_set(TG_ENOTFOUND,
					    "not a git repository (or any parent up to /)");
	}
	if (err < 0)
		return tg_error_git("cannot open the repository");
	return 0;
}

/* Has core.worktree been set for this repository? git prefers it over the
 * current directory when GIT_DIR is set without GIT_WORK_TREE. */
static bool has_core_worktree(git_repository *git)
{
	git_config *cfg = NULL;
	git_buf buf = GIT_BUF_INIT;
	bool set = false;

	if (git_repository_config_snapshot(&cfg, git) < 0) {
		git_error_clear();
		return false;
	}
	if (!git_config_get_string_buf(&buf, cfg, "core.worktree"))
		set = true;
	git_error_clear();
	git_buf_dispose(&buf);
	git_config_free(cfg);
	return set;
}

static bool same_dir(const char *a, const char *b)
{
	char ra[PATH_MAX], rb[PATH_MAX];

	return b && realpath(a, ra) && realpath(b, rb) && !strcmp(ra, rb);
}

static int apply_workdir(struct tg_repo *r)
{
	const char *wt = env("GIT_WORK_TREE");
	char *abs = NULL;
	int err = 0;

	if (wt) {
		abs = absolute(wt, true);
	} else if (env("GIT_DIR") && !git_repository_is_bare(r->git) &&
		   !has_core_worktree(r->git)) {
		/* git: GIT_DIR without GIT_WORK_TREE or core.worktree makes
		 * the current directory the top of the working tree. */
		abs = absolute(".", true);
	}
	if (abs && same_dir(abs, git_repository_workdir(r->git))) {
		/*
		 * Nothing to change; and libgit2 1.5's set_workdir leaks its
		 * path buffer when handed the workdir it already has.
		 */
		free(abs);
		abs = NULL;
	}
	if (abs) {
		/* update_gitlink = 0: only the in-memory path changes. */
		if (git_repository_set_workdir(r->git, abs, 0) < 0)
			err = tg_error_git("cannot use the working tree");
		free(abs);
		if (err)
			return err;
	}
	if (git_repository_workdir(r->git))
		r->workdir = absolute(git_repository_workdir(r->git), true);
	return 0;
}

/*
 * A fresh object database for the repository: the one GIT_COMMON_DIR or
 * GIT_OBJECT_DIRECTORY (with GIT_ALTERNATE_OBJECT_DIRECTORIES) names, or
 * else the repository's own objects directory and its alternates, as
 * libgit2 opens it. *out is NULL (and 0 returned) when the environment
 * names none and `always` is false: libgit2's own then serves.
 */
static int open_odb(git_odb **out, struct tg_repo *r, bool always)
{
	const char *common = env("GIT_COMMON_DIR");
	const char *objdir = env("GIT_OBJECT_DIRECTORY");
	const char *alt = env("GIT_ALTERNATE_OBJECT_DIRECTORIES");
	git_buf dflt = { 0 };
	char *path = NULL;
	git_odb *odb = NULL;
	int err = 0;

	*out = NULL;
	if (objdir)
		path = absolute(objdir, false);
	else if (common)
		path = tg_xasprintf("%s/objects", common);
	if (!path && !always)
		return 0;
	if (!path) {
		if (git_repository_item_path(&dflt, r->git,
					     GIT_REPOSITORY_ITEM_OBJECTS) < 0)
			return tg_error_git("cannot find the object database");
		path = tg_xstrdup(dflt.ptr);
		git_buf_dispose(&dflt);
		alt = NULL; /* the same database libgit2 opened by itself */
	}
	if (git_odb_open(&odb, path) < 0) {
		err = tg_error_git("cannot open the object database");
		goto out;
	}
	while (alt && *alt) {
		const char *end = strchr(alt, ':');
		char *one = end ? tg_xstrndup(alt, (size_t)(end - alt))
				: tg_xstrdup(alt);

		if (*one && git_odb_add_disk_alternate(odb, one) < 0)
			git_error_clear(); /* git ignores a missing one too */
		free(one);
		alt = end ? end + 1 : NULL;
	}
	*out = odb;
out:
	free(path);
	return err;
}

/* GIT_COMMON_DIR and GIT_OBJECT_DIRECTORY move the object database. */
static int apply_odb(struct tg_repo *r)
{
	git_odb *odb = NULL;
	int err = open_odb(&odb, r, false);

	if (!err && odb)
		git_repository_set_odb(r->git, odb);
	git_odb_free(odb);
	return err;
}

int tg_repo_open(struct tg_repo **out, const char *path)
{
	struct tg_repo *r = tg_xcalloc(1, sizeof(*r));
	int err;

	*out = NULL;
	if ((err = open_git(&r->git, path)) < 0)
		goto fail;
	if ((err = apply_workdir(r)) < 0 || (err = apply_odb(r)) < 0)
		goto fail;
	r->gitdir = absolute(git_repository_path(r->git), true);
	if (!r->gitdir) {
		err = tg_error_set(TG_ERROR, "cannot read the current directory: %s",
				   strerror(errno));
		goto fail;
	}
	*out = r;
	return 0;
fail:
	tg_repo_free(r);
	return err;
}

void tg_repo_free(struct tg_repo *repo)
{
	if (!repo)
		return;
	git_index_free(repo->index);
	/* git_repository_odb() handed us a reference of our own */
	git_odb_free(repo->odb);
	tg_index_release(&repo->raw);
	git_repository_free(repo->git);
	free(repo->workdir);
	free(repo->gitdir);
	free(repo);
}

struct git_repository *tg_repo_git(struct tg_repo *repo)
{
	return repo->git;
}

int tg_repo_index(struct git_index **out, struct tg_repo *repo)
{
	const char *file = env("GIT_INDEX_FILE");

	if (repo->index) {
		*out = repo->index;
		return 0;
	}
	*out = NULL;
	if (file) {
		/* git_index_open reads the file and never locks or writes
		 * it; git holds index.lock while the hook runs. */
		char *abs = absolute(file, false);
		int err = 0;

		if (!abs)
			return tg_error_set(TG_ERROR, "cannot read the current directory: %s",
					    strerror(errno));
		if (git_index_open(&repo->index, abs) < 0)
			err = tg_error_git(abs);
		free(abs);
		if (err)
			return err;
	} else {
		if (git_repository_is_bare(repo->git))
			return tg_error_set(TG_EGIT,
					    "bare repository: txguard check needs a work tree or GIT_INDEX_FILE");
		if (git_repository_index(&repo->index, repo->git) < 0)
			return tg_error_git("cannot read the index");
	}
	*out = repo->index;
	return 0;
}

const char *tg_repo_workdir(const struct tg_repo *repo)
{
	return repo->workdir;
}

const char *tg_repo_gitdir(const struct tg_repo *repo)
{
	return repo->gitdir;
}

int tg_repo_head_tree(struct tg_oid *out, bool *unborn, struct tg_repo *repo)
{
	git_reference *head = NULL;
	git_object *tree = NULL;
	int err;

	memset(out, 0, sizeof(*out));
	*unborn = false;
	err = git_repository_head(&head, repo->git);
	if (err == GIT_EUNBORNBRANCH || err == GIT_ENOTFOUND) {
		git_error_clear();
		*unborn = true;
		return 0;
	}
	if (err < 0)
		return tg_error_git("cannot resolve HEAD");
	tg_watch_begin("reading HEAD's commit", NULL);
	err = git_reference_peel(&tree, head, GIT_OBJECT_TREE);
	tg_watch_end();
	if (err < 0) {
		err = tg_error_git("cannot read HEAD's tree");
		goto out;
	}
	memcpy(out->id, git_object_id(tree)->id, TG_OID_RAWSZ);
	err = 0;
out:
	git_object_free(tree);
	git_reference_free(head);
	return err;
}

static int odb(git_odb **out, struct tg_repo *repo)
{
	if (!repo->odb) {
		if (git_repository_odb(&repo->odb, repo->git) < 0)
			return tg_error_git("cannot open the object database");
		repo->odb_heap = tg_gitalloc_heap();
	}
	*out = repo->odb;
	return 0;
}

/*
 * Bounded memory. libgit2 1.5 keeps the delta bases it inflates
 * in a cache of each pack (up to 16 MiB a pack, not configurable), freed
 * only with the pack, so reading every blob of a tree fills it whatever
 * the largest file; one read of a blob deep in a delta chain caches every
 * base on the way. When libgit2's heap has grown by ODB_HEAP_GROWTH since
 * the object database was opened, the repository gets a fresh one: the
 * old one, its packs and their caches go as soon as nothing else holds
 * them. Re-inflating dropped bases costs time only where the tree's blobs
 * delta against each other; a tree's current blobs are mostly bases
 * themselves. At 1 MiB (4 MiB before) a one-thread scan of sixteen
 * near-identical copies of the standard library, in one pack, took 4%
 * longer (within the noise) and its peak RSS fell by 3.5 MiB, so the
 * bound is reached on small trees as on large ones. Only the calling
 * thread uses the repository.
 */
#define ODB_HEAP_GROWTH ((int64_t)1 << 20)

/*
 * The tests lower the bound (GIT_TEST_* style) so that the recycling is
 * exercised on small repositories too; nothing else should set it.
 */
static int64_t odb_heap_growth(void)
{
	static int64_t bound = -1;

	if (bound < 0) {
		const char *v = getenv("TXGUARD_TEST_ODB_RECYCLE_BYTES");
		char *end;
		long long n = v && *v ? strtoll(v, &end, 10) : -1;

		bound = n >= 0 && v && !*end ? n : ODB_HEAP_GROWTH;
	}
	return bound;
}

static int recycle_odb(struct tg_repo *repo)
{
	git_odb *fresh = NULL;
	int err;

	if (tg_gitalloc_heap() - repo->odb_heap < odb_heap_growth())
		return 0;
	/*
	 * Packs are shared by path between object databases: the old one
	 * must go before the fresh one is opened, or it would take over
	 * the same packs, caches and all. The repository holds an empty
	 * database meanwhile.
	 */
	if (git_odb_new(&fresh) < 0)
		return tg_error_git("cannot open the object database");
	git_repository_set_odb(repo->git, fresh);
	git_odb_free(fresh);
	git_odb_free(repo->odb);
	repo->odb = NULL;
	if ((err = open_odb(&fresh, repo, true)) < 0)
		return err;
	git_repository_set_odb(repo->git, fresh);
	repo->odb = fresh;
	repo->odb_heap = tg_gitalloc_heap();
	return 0;
}

int tg_repo_read_blob(char **out, size_t *len, struct tg_repo *repo,
		      const struct tg_oid *id)
{
	git_odb *db = NULL;
	git_odb_object *obj = NULL;
	git_oid oid;
	char hex[TG_OID_HEXSZ + 1];
	int err;

	*out = NULL;
	*len = 0;
	if ((err = odb(&db, repo)) < 0)
		return err;
	memcpy(oid.id, id->id, TG_OID_RAWSZ);
	tg_watch_begin("reading blob", oid.id);
	err = git_odb_read(&obj, db, &oid);
	tg_watch_end();
	if (err == GIT_ENOTFOUND) {
		git_oid_tostr(hex, sizeof(hex), &oid);
		return tg_error_set(TG_ENOTFOUND, "missing blob %s", hex);
	}
	if (err < 0)
		return tg_error_git("cannot read a blob");
	if (git_odb_object_type(obj) != GIT_OBJECT_BLOB) {
		git_oid_tostr(hex, sizeof(hex), &oid);
		git_odb_object_free(obj);
		return tg_error_set(TG_ENOTFOUND, "object %s is not a blob", hex);
	}
	*len = git_odb_object_size(obj);
	*out = tg_xmalloc(*len + 1);
	if (*len)
		memcpy(*out, git_odb_object_data(obj), *len);
	(*out)[*len] = '\0';
	git_odb_object_free(obj);
	if ((err = recycle_odb(repo)) < 0) {
		free(*out);
		*out = NULL;
		*len = 0;
	}
	return err;
}

int tg_repo_blob_size(size_t *out, struct tg_repo *repo,
		      const struct tg_oid *id)
{
	git_odb *db = NULL;
	git_oid oid;
	size_t size = 0;
	git_object_t type;
	char hex[TG_OID_HEXSZ + 1];
	int err;

	*out = 0;
	if ((err = odb(&db, repo)) < 0)
		return err;
	memcpy(oid.id, id->id, TG_OID_RAWSZ);
	tg_watch_begin("reading blob", oid.id);
	err = git_odb_read_header(&size, &type, db, &oid);
	tg_watch_end();
	if (err == GIT_ENOTFOUND) {
		git_oid_tostr(hex, sizeof(hex), &oid);
		return tg_error_set(TG_ENOTFOUND, "missing blob %s", hex);
	}
	if (err < 0)
		return tg_error_git("cannot read a blob header");
	if (type != GIT_OBJECT_BLOB) {
		git_oid_tostr(hex, sizeof(hex), &oid);
		return tg_error_set(TG_ENOTFOUND, "object %s is not a blob", hex);
	}
	*out = size;
	return 0;
}

static int index_file(char **path, struct tg_repo *repo);

/*
 * One path's entry without loading the index: `scan` reads `.txguard`
 * from it and nothing else, and loading would keep the whole index in
 * memory for the run.
 */
static int index_peek(struct tg_index_entry *e, bool *found,
		      struct tg_repo *repo, const char *path)
{
	char *file = NULL;
	int ret;

	*found = false;
	if (index_file(&file, repo) < 0) {
		tg_error_clear();
		return 0;
	}
	ret = tg_index_peek(e, found, file, path);
	free(file);
	return ret;
}

int tg_repo_read_path(char **out, size_t *len, struct tg_repo *repo,
		      const char *path, bool from_index)
{
	struct tg_oid id;
	int err;

	*out = NULL;
	*len = 0;
	if (from_index) {
		const struct tg_index *raw;
		git_index *index;
		const git_index_entry *e;
		struct tg_index_entry pe;
		bool found;

		if (!repo->raw_loaded && index_peek(&pe, &found, repo, path)) {
			if (!found || pe.mode == GIT_FILEMODE_LINK ||
			    pe.mode == GIT_FILEMODE_COMMIT)
				return tg_error_set(TG_ENOTFOUND,
						    "'%s' is not in the index",
						    path);
			return tg_repo_read_blob(out, len, repo, &pe.id);
		}
		if ((err = tg_repo_raw_index(&raw, repo)) < 0)
			return err;
		if (raw->usable) {
			/* binary search: entries are sorted by path bytes */
			size_t lo = 0, hi = raw->nr;

			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;
				int c = strcmp(raw->entries[mid].path, path);

				if (!c) {
					const struct tg_index_entry *r =
						&raw->entries[mid];

					if (r->mode == GIT_FILEMODE_LINK ||
					    r->mode == GIT_FILEMODE_COMMIT)
						break;
					return tg_repo_read_blob(out, len, repo,
								 &r->id);
				}
				if (c < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
			return tg_error_set(TG_ENOTFOUND,
					    "'%s' is not in the index", path);
		}
		if ((err = tg_repo_index(&index, repo)) < 0)
			return err;
		e = git_index_get_bypath(index, path, 0);
		if (!e || e->mode == GIT_FILEMODE_LINK ||
		    e->mode == GIT_FILEMODE_COMMIT)
			return tg_error_set(TG_ENOTFOUND, "'%s' is not in the index",
					    path);
		memcpy(id.id, e->id.id, TG_OID_RAWSZ);
	} else {
		bool unborn;
		git_tree *tree = NULL;
		git_tree_entry *e = NULL;
		git_oid oid;

		if ((err = tg_repo_head_tree(&id, &unborn, repo)) < 0)
			return err;
		if (unborn)
			return tg_error_set(TG_ENOTFOUND,
					    "'%s' is not in HEAD (no commit yet)", path);
		memcpy(oid.id, id.id, TG_OID_RAWSZ);
		tg_watch_begin("reading tree", oid.id);
		err = git_tree_lookup(&tree, repo->git, &oid);
		tg_watch_end();
		if (err < 0)
			return tg_error_git("cannot read HEAD's tree");
		err = git_tree_entry_bypath(&e, tree, path);
		if (err == GIT_ENOTFOUND) {
			git_error_clear();
			git_tree_free(tree);
			return tg_error_set(TG_ENOTFOUND, "'%s' is not in HEAD",
					    path);
		}
		if (err < 0) {
			git_tree_free(tree);
			return tg_error_git("cannot read HEAD's tree");
		}
		if (git_tree_entry_type(e) != GIT_OBJECT_BLOB) {
			git_tree_entry_free(e);
			git_tree_free(tree);
			return tg_error_set(TG_ENOTFOUND, "'%s' is not a file in HEAD",
					    path);
		}
		memcpy(id.id, git_tree_entry_id(e)->id, TG_OID_RAWSZ);
		git_tree_entry_free(e);
		git_tree_free(tree);
	}
	return tg_repo_read_blob(out, len, repo, &id);
}

/* The index git will commit: GIT_INDEX_FILE, else the git dir's. */
static int index_file(char **path, struct tg_repo *repo)
{
	const char *file = env("GIT_INDEX_FILE");

	if (file) {
		*path = absolute(file, false);
		if (!*path)
			return tg_error_set(TG_ERROR, "cannot read the current directory: %s",
					    strerror(errno));
		return 0;
	}
	if (git_repository_is_bare(repo->git))
		return tg_error_set(TG_EGIT,
				    "bare repository: txguard check needs a work tree or GIT_INDEX_FILE");
	*path = tg_xasprintf("%sindex", repo->gitdir);
	return 0;
}

int tg_repo_raw_index(const struct tg_index **out, struct tg_repo *repo)
{
	char *path;
	int err = 0;

	*out = NULL;
	if (repo->raw_loaded && !repo->raw.split) {
		*out = &repo->raw;
		return 0;
	}
	if ((err = index_file(&path, repo)) < 0)
		return err;
	if (repo->raw_loaded)
		goto split;
	if ((err = tg_index_read(&repo->raw, path)) < 0) {
		tg_index_release(&repo->raw);
		goto out;
	}
	repo->raw_loaded = true;
	*out = &repo->raw;
	if (repo->raw.split)
		goto split;
out:
	free(path);
	return err;
split:
	/*
	 * libgit2 1.5 cannot read a split index either: the entries in this
	 * file are only the changes over a shared one. Say so rather than
	 * check the wrong files.
	 */
	*out = NULL;
	err = tg_error_set(TG_EGIT,
			   "%s is a split index (core.splitIndex), which txguard cannot read; run 'git update-index --no-split-index'",
			   path);
	free(path);
	return err;
}
