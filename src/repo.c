/*
 * repo.c: open the repository the way git does for hooks (SPEC §3).
 *
 * libgit2 1.5 rejects GIT_WORK_TREE and GIT_COMMON_DIR under
 * GIT_REPOSITORY_OPEN_FROM_ENV (STYLE Part 4), so the git environment is
 * read here: GIT_DIR opens by path, otherwise the repository is discovered
 * from the current directory; GIT_WORK_TREE, GIT_COMMON_DIR,
 * GIT_OBJECT_DIRECTORY and GIT_INDEX_FILE are applied on top. Nothing here
 * writes: no index, config, ref or lock file is ever touched (SPEC §11).
 */
#include "txguard/common.h"
#include "txguard/error.h"
#include "txguard/repo.h"

#include <errno.h>
#include <limits.h>
#include <unistd.h>

#include <git2.h>
#include <git2/sys/repository.h>

struct tg_repo {
	git_repository *git;
	git_index *index; /* loaded on first use */
	git_odb *odb;     /* borrowed from the repository on first use */
	char *workdir;    /* NULL when bare */
	char *gitdir;
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

/* GIT_COMMON_DIR and GIT_OBJECT_DIRECTORY move the object database. */
static int apply_odb(struct tg_repo *r)
{
	const char *common = env("GIT_COMMON_DIR");
	const char *objdir = env("GIT_OBJECT_DIRECTORY");
	const char *alt = env("GIT_ALTERNATE_OBJECT_DIRECTORIES");
	char *path = NULL;
	git_odb *odb = NULL;
	int err = 0;

	if (objdir)
		path = absolute(objdir, false);
	else if (common)
		path = tg_xasprintf("%s/objects", common);
	if (!path)
		return 0;
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
	git_repository_set_odb(r->git, odb);
out:
	git_odb_free(odb);
	free(path);
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
	if (git_reference_peel(&tree, head, GIT_OBJECT_TREE) < 0) {
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
	if (!repo->odb && git_repository_odb(&repo->odb, repo->git) < 0)
		return tg_error_git("cannot open the object database");
	*out = repo->odb;
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
	err = git_odb_read(&obj, db, &oid);
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
	return 0;
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
	err = git_odb_read_header(&size, &type, db, &oid);
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

int tg_repo_read_path(char **out, size_t *len, struct tg_repo *repo,
		      const char *path, bool from_index)
{
	struct tg_oid id;
	int err;

	*out = NULL;
	*len = 0;
	if (from_index) {
		git_index *index;
		const git_index_entry *e;

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
		if (git_tree_lookup(&tree, repo->git, &oid) < 0)
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
