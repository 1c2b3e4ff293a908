/**
 * ownerdb.h: the repository-wide index of what every Python file defines
 * and uses (infer.h), reused between runs.
 *
 * A run goes over the (path, blob id) of every selected Python file of
 * the index or of a tree, takes each blob's record from the cache and reads,
 * filters and infers only the blobs the cache lacks (the cold build uses
 * a reader thread for libgit2 and parser threads: ownerdb_build.h).
 * Records are keyed by what they depend on: the blob id and whether the
 * path is a package's `__init__.py` (which is always parsed, for its
 * re-exports), made by one inference version; so a blob is inferred once
 * per role whatever its path, branch or commit. A blob bigger than the
 * caller's maxFileSize is never read: it has no record.
 *
 * The cache lives in `<git common dir>/txguard/` (shared by linked
 * worktrees): a chain file `ownerdb-v3.chain` listing layers of records
 * (`ownerdb-v3.<checksum>.layer`), each a header, the records and a
 * table of rows sorted by key (ownerdb_store.h; src/ownerdb-format.md
 * is the byte-level layout).
 * A warm run reads each layer's table a window at a time where an id
 * should be, and only the records it uses: its memory does not follow
 * the repository. A run that makes records writes them as a new top
 * layer, merged with the small layers below; a cold build writes a
 * layer per batch. Anything wrong in a file is ignored and rebuilt,
 * never trusted, never an error. Nothing here writes the index, the
 * working tree, HEAD or refs, nor anything outside the cache directory
 * but, when the cache cannot be written, a cold build's unlinked
 * temporary files in TMPDIR.
 */
#ifndef TXGUARD_OWNERDB_H
#define TXGUARD_OWNERDB_H

#include "txguard/common.h"

struct git_repository;
struct git_index;
struct tg_glob_set;
struct tg_resolver;

/**
 * One selected file and its record, `len` bytes. `data` is the record
 * (borrowed from the db), or NULL when the db leaves a record that is in
 * the cache file there: tg_ownerdb_load() reads it then, so a run does
 * not hold the records of every resolution target. `head` is the
 * record's first two bytes (0 past len), valid either way: enough for
 * TG_INFER_HAS_DEFS and tg_inferred_is_target(path, head, len).
 */
struct tg_ownerdb_file {
	char *path;
	struct tg_oid id;
	const unsigned char *data;
	size_t len;
	unsigned char head[2];
	/* private to the db: where a record it does not hold is */
	uint32_t sum;
	int fd;
	uint64_t pos;
};

struct tg_ownerdb_stats {
	size_t files;    /* selected files */
	size_t cached;   /* records found in the cache */
	size_t seeded;   /* records taken from opts->seed */
	size_t read;     /* blobs read from the object database */
	size_t parsed;   /* blobs that passed the pre-filter and were parsed */
	size_t incomplete; /* records inference left incomplete: never saved */
	size_t too_big;  /* blobs over max_file_size: not read, no record */
	bool cache_valid; /* the cache's chain and every layer it lists loaded */
	bool written;    /* the cache was written (a layer, the chain) */
};

enum tg_ownerdb_flags {
	TG_OWNERDB_NO_WRITE = 1 << 0, /* never write the cache file */
	TG_OWNERDB_NO_CACHE = 1 << 1, /* neither read nor write it */
	/* the source's or list's paths outlive the db; not copied */
	TG_OWNERDB_BORROW_PATHS = 1 << 2,
	/*
	 * Keep in the file list only the files a resolver holds (records
	 * with definitions, packages that import): a warm run then holds
	 * a few files, not the repository. tg_ownerdb_count/file give
	 * only those, and tg_ownerdb_users() needs the source again.
	 */
	TG_OWNERDB_TARGETS_ONLY = 1 << 3,
	/*
	 * With TARGETS_ONLY, keep of the packages that import only those
	 * whose imports reach a definition, directly or through packages
	 * kept (tg_resolver_reaches(), to a fixpoint): most re-export
	 * nothing a query looks for. For a scan, whose memory then follows
	 * the modules that define owners, not the packages; it reads
	 * every package's record once or more, which a commit's check
	 * cannot afford.
	 */
	TG_OWNERDB_LIVE_ONLY = 1 << 4,
};

struct tg_ownerdb_opts {
	/* the cache's directory and file name prefix; NULL:
	 * <commondir>/txguard/ownerdb-v3 (ownerdb-v3.chain, ...) */
	const char *cache_path;
	int threads;            /* parser threads; 0: one per core, max 4 */
	unsigned flags;
	/*
	 * Blobs bigger than this are not read: no record, counted in
	 * stats.too_big (the maxFileSize setting). 0: any size.
	 */
	size_t max_file_size;
	/*
	 * Records the caller already has (path, id, data, len; the path
	 * gives the record's role, NULL: a module): the
	 * files of the change, which the engine parses anyway, are then
	 * not read and parsed a second time. Copied; may be NULL.
	 */
	const struct tg_ownerdb_file *seed;
	size_t nseed;
	/*
	 * With TG_OWNERDB_TARGETS_ONLY, files whose records the cache
	 * lacks are inferred this many at a time (0: 1024); a build with
	 * more writes each batch's records to a layer of the cache (see
	 * ownerdb_build.h). Tests make it small.
	 */
	size_t batch;
	/*
	 * Rows of a layer's table a lookup reads at once around where an
	 * id should be (0: 256); tests make it small to reach the rest.
	 */
	size_t window;
	/*
	 * How the build (the calling thread, before the from_* call
	 * returns) reads a blob: a fresh NUL-terminated allocation, or an
	 * error. NULL: the repository's object database directly. The
	 * caller's reader can bound libgit2's caches (repo.h); reads after
	 * the build use the object database.
	 */
	int (*read)(void *ctx, char **buf, size_t *len,
		    const struct tg_oid *id);
	/*
	 * With `read` and max_file_size: how the build learns a blob's
	 * size before reading it (0 and *size, or an error), through the
	 * same means as `read`. NULL: the object database's header.
	 */
	int (*size)(void *ctx, size_t *size, const struct tg_oid *id);
	void *read_ctx;
};

struct tg_ownerdb;

/**
 * Build from the stage-0 regular files of `index` selected by `python`
 * (NULL: "*.py"), refreshing the cache. Errors: TG_EGIT.
 */
int tg_ownerdb_from_index(struct tg_ownerdb **out,
			  struct git_repository *repo, struct git_index *index,
			  const struct tg_glob_set *python,
			  const struct tg_ownerdb_opts *opts);

/** The same from a tree (branch mode: the head's tree). */
int tg_ownerdb_from_tree(struct tg_ownerdb **out, struct git_repository *repo,
			 const struct tg_oid *tree,
			 const struct tg_glob_set *python,
			 const struct tg_ownerdb_opts *opts);

/**
 * The same from a list of files (path and id; data unused), for callers
 * that already hold them: the scan's tree walk, txguard's own index
 * reader. The paths are copied; any order.
 */
int tg_ownerdb_from_list(struct tg_ownerdb **out, struct git_repository *repo,
			 const struct tg_ownerdb_file *files, size_t n,
			 const struct tg_ownerdb_opts *opts);

/**
 * The same from files given one at a time: `next` returns 1 with *path
 * (borrowed until its next call, unless TG_OWNERDB_BORROW_PATHS says it
 * outlives the db) and *id filled, 0 at the end, or an error, returned.
 */
typedef int (*tg_ownerdb_next_fn)(void *ctx, const char **path,
				  struct tg_oid *id);
int tg_ownerdb_from_source(struct tg_ownerdb **out,
			   struct git_repository *repo,
			   tg_ownerdb_next_fn next, void *ctx,
			   const struct tg_ownerdb_opts *opts);

void tg_ownerdb_free(struct tg_ownerdb *db);

const struct tg_ownerdb_stats *tg_ownerdb_stats(const struct tg_ownerdb *db);

/** The selected files (see TG_OWNERDB_TARGETS_ONLY), sorted by path. */
size_t tg_ownerdb_count(const struct tg_ownerdb *db);
const struct tg_ownerdb_file *tg_ownerdb_file(const struct tg_ownerdb *db,
					      size_t i);

/**
 * A resolver (infer.h) made on first call and owned by the db. To keep a
 * warm run cheap it holds only the files that can be resolution targets:
 * records with definitions, and __init__.py files (re-exports).
 * Packages (__init__.py) go in only when they import something: one
 * without imports re-exports nothing. The
 * caller MUST tg_resolver_add() every file it analyses (its
 * tg_infer_pyfile() record, or tg_ownerdb_file()'s data, copy = true)
 * before querying from it: a file the resolver lacks binds no names,
 * so its callees would only get the repository-wide fallback.
 */
struct tg_resolver *tg_ownerdb_resolver(struct tg_ownerdb *db);

/**
 * A fresh resolver holding the same files as tg_ownerdb_resolver()'s,
 * borrowing from the db (which must outlive it); the caller frees it.
 * The engine makes the pre-image state with it: the same repository
 * with the changed files' old records swapped in.
 */
struct tg_resolver *tg_ownerdb_new_resolver(const struct tg_ownerdb *db);

/**
 * Fill *names (start it empty; tg_xstrdup'ed, sorted, no duplicates)
 * with the last name part of every definition in the repository but
 * instances and committing functions: the words the scan's literal
 * pre-filter must also look for.
 */
void tg_ownerdb_def_names(char ***names, size_t *nr, size_t *alloc,
			  const struct tg_ownerdb *db);

/**
 * The record of a file the db lists (tg_ownerdb_file(), users): its
 * `data`, or read now from the cache file into a fresh buffer left in
 * *owned for the caller to free (else *owned is NULL). Safe on any
 * thread: it only reads the file, which stays open as long as the db.
 * The db checked the record when it listed the file and the file is
 * never written in place, so a read that fails or differs means someone
 * else damaged it during this run: the resolver reports it and the run fails (exit 2)
 * rather than resolve without it.
 */
const unsigned char *tg_ownerdb_load(const struct tg_ownerdb_file *f,
				     unsigned char **owned);

/**
 * The record of blob `id` (at `path`, for the pre-filter): from the
 * cache, or read and inferred now (kept in memory until tg_ownerdb_save).
 * A zero id gives an empty record. Errors: TG_EGIT (blob unreadable).
 */
int tg_ownerdb_record(const unsigned char **data, size_t *len,
		      struct tg_ownerdb *db, const char *path,
		      const struct tg_oid *id);

/**
 * The caller is done with a record tg_ownerdb_record() gave: one read
 * from a file for it is freed now, not with the db (a scan then holds
 * the records of the files it analyses, not of all it analysed). Records
 * the db holds anyway (made in this run) stay.
 */
void tg_ownerdb_record_done(struct tg_ownerdb *db, const unsigned char *data);

/**
 * Append to *names the last name parts of the definitions that differ
 * between the old and new blob of a changed file (zero id: none).
 */
int tg_ownerdb_changed_names(char ***names, size_t *nr, size_t *alloc,
			     struct tg_ownerdb *db, const char *path,
			     const struct tg_oid *old_id,
			     const struct tg_oid *new_id);

/**
 * The files that use any of `names` (last name parts), directly or
 * through a definition that wraps or aliases one of them, transitively:
 * a fresh array of copies (paths owned; records borrowed from the db),
 * freed with tg_ownerdb_files_free(). With `next` NULL the db's own list
 * is searched, else the files the source gives (the db's source again,
 * when it was built with TG_OWNERDB_TARGETS_ONLY). Matching is by last
 * name part: the caller resolves each use precisely.
 * Errors: the source's, TG_EGIT (a blob the cache lacks is unreadable).
 */
int tg_ownerdb_users(struct tg_ownerdb_file **out, size_t *nr,
		     struct tg_ownerdb *db, char *const *names, size_t nnames,
		     tg_ownerdb_next_fn next, void *ctx);
void tg_ownerdb_files_free(struct tg_ownerdb_file *files, size_t n);

/**
 * Write the cache now if it lacks records made since the build (never
 * the incomplete ones). Returns 0: failing to write is never an error.
 */
int tg_ownerdb_save(struct tg_ownerdb *db);

/**
 * The default cache path for `repo` (its directory and the prefix of its
 * files' names); caller frees.
 */
char *tg_ownerdb_default_path(struct git_repository *repo);

#endif
