/**
 * repo.h: the repository txguard reads, opened the way git itself would.
 *
 * tg_repo_open() honours GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE and
 * GIT_COMMON_DIR (git sets them for hooks, `commit -a`, `commit PATH`,
 * linked worktrees). libgit2 1.5 refuses GIT_WORK_TREE and GIT_COMMON_DIR
 * under GIT_REPOSITORY_OPEN_FROM_ENV, so repo.c handles them itself.
 *
 * Everything here is read-only: no function writes the index, the
 * working tree, HEAD or refs, and none takes index.lock.
 */
#ifndef TXGUARD_REPO_H
#define TXGUARD_REPO_H

#include "txguard/common.h"
#include "txguard/index.h"

struct tg_repo;
struct git_repository;
struct git_index;

/**
 * Open the repository containing the current directory (or `path` when
 * not NULL), honouring the git environment. *out is freed with
 * tg_repo_free(). Errors: TG_ENOTFOUND (not a repository), TG_EGIT.
 */
int tg_repo_open(struct tg_repo **out, const char *path);
void tg_repo_free(struct tg_repo *repo);

/** The libgit2 handles, for diff.c, config.c and ownerdb.c only. */
struct git_repository *tg_repo_git(struct tg_repo *repo);
/**
 * The index git will commit (GIT_INDEX_FILE when set), loaded on first
 * use and owned by the repo. Errors: TG_EGIT.
 */
int tg_repo_index(struct git_index **out, struct tg_repo *repo);

/** The working tree's top directory with a trailing '/', or NULL if bare. */
const char *tg_repo_workdir(const struct tg_repo *repo);
/** The git directory (per worktree) with a trailing '/'. */
const char *tg_repo_gitdir(const struct tg_repo *repo);

/**
 * Resolve HEAD to its tree. An unborn HEAD (first commit) gives
 * *unborn = true and a zeroed id (the empty tree). Errors: TG_EGIT.
 */
int tg_repo_head_tree(struct tg_oid *out, bool *unborn, struct tg_repo *repo);

/**
 * Read a blob into a fresh allocation the caller frees (NUL-terminated
 * for convenience; `*len` excludes the NUL). When libgit2's heap is
 * counted (gitalloc.h), what libgit2 caches between reads is bounded.
 * Errors: TG_ENOTFOUND, TG_EGIT.
 */
int tg_repo_read_blob(char **out, size_t *len, struct tg_repo *repo,
		      const struct tg_oid *id);
/** The size of a blob without inflating it. Errors: TG_ENOTFOUND, TG_EGIT. */
int tg_repo_blob_size(size_t *out, struct tg_repo *repo,
		      const struct tg_oid *id);

/**
 * Read the file at `path` of the index (when `from_index`) or of HEAD's
 * tree into a fresh allocation. TG_ENOTFOUND when there is none.
 */
int tg_repo_read_path(char **out, size_t *len, struct tg_repo *repo,
		      const char *path, bool from_index);

/**
 * The index git will commit, parsed by txguard's own reader (index.h);
 * loaded on first use and owned by the repo. A missing index file is an
 * empty index.
 * Errors: TG_EGIT (a bare repository without GIT_INDEX_FILE), TG_EIO,
 * TG_EPARSE (a corrupt file).
 */
int tg_repo_raw_index(const struct tg_index **out, struct tg_repo *repo);

#endif
