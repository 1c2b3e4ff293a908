/**
 * ownerdb_build.h: the owner index's build (ownerdb.h): the db object,
 * and how files join it with their records: from the cache
 * (ownerdb_store.h), from the caller's seeds, or read from the object
 * database and inferred by parser threads, a batch at a time.
 *
 * A cold build (TG_OWNERDB_TARGETS_ONLY) infers the files the cache
 * lacks a batch at a time. Once a whole batch is pending, each batch's
 * records go to a layer of the store (tg_ownerdb_store_add_batch()) and
 * only the few targets' records stay in memory, so the build holds no
 * record a blob.
 */
#ifndef TXGUARD_OWNERDB_BUILD_H
#define TXGUARD_OWNERDB_BUILD_H

#include "txguard/common.h"
#include "txguard/ownerdb.h"
#include "txguard/ownerdb_store.h"

struct git_odb;
struct tg_progress;

/* A record made or given in this run. */
struct tg_ownerdb_fresh {
	struct tg_ownerdb_key key;
	unsigned char *data;
	size_t len;
	/* never written to the cache: an incomplete record, or none for a
	 * blob over maxFileSize */
	bool keep_out;
};

struct tg_ownerdb {
	struct git_repository *repo;
	struct git_odb *odb;
	unsigned flags;
	int threads;
	struct tg_ownerdb_store store;
	/* records read from a file, valid as long as the db */
	unsigned char **copies;
	size_t ncopies, alloc_copies;
	struct tg_ownerdb_file *files;
	size_t nfiles, alloc_files;
	size_t pending; /* files[pending..] still lack their records */
	size_t batch;
	size_t max_file_size; /* 0: any size */
	/* the build's blob reader (opts.read), NULL after it */
	int (*read)(void *ctx, char **buf, size_t *len,
		    const struct tg_oid *id);
	int (*size)(void *ctx, size_t *size, const struct tg_oid *id);
	void *read_ctx;
	/* fresh records are never moved: only the array grows */
	struct tg_ownerdb_fresh *fresh;
	size_t nfresh, alloc_fresh;
	size_t nsaved; /* fresh[0..nsaved) are already saved */
	struct tg_resolver *resolver;
	struct tg_ownerdb_stats stats;
	/* files whose records stay in a cache file (tg_ownerdb_load) */
	size_t nlazy;
	struct tg_progress *progress;
};

/** A db with the options' settings, its cache opened (no files yet). */
struct tg_ownerdb *tg_ownerdb_build_new(struct git_repository *repo,
					const struct tg_ownerdb_opts *opts);

/** One selected file; may infer a batch. Errors: the reader's, TG_EGIT. */
int tg_ownerdb_build_add(struct tg_ownerdb *db, const char *path,
			 const struct tg_oid *id);

/** Infer what the last batch lacks. Errors: as tg_ownerdb_build_add(). */
int tg_ownerdb_build_finish(struct tg_ownerdb *db);

/**
 * The record of one blob at `path`, read and inferred now (a fresh
 * record of the db). Errors: TG_EGIT (unreadable).
 */
int tg_ownerdb_build_one(const struct tg_ownerdb_fresh **out,
			 struct tg_ownerdb *db, const char *path,
			 const struct tg_oid *id);

/** A fresh record of `key`, or NULL. */
const struct tg_ownerdb_fresh *
tg_ownerdb_build_fresh(const struct tg_ownerdb *db,
		       const struct tg_ownerdb_key *key);

/**
 * A record of the cache at `loc`, read and checked, kept by the db until
 * freed (or tg_ownerdb_record_done()): false when it fails its checksum.
 */
bool tg_ownerdb_build_copy(const unsigned char **data, size_t *len,
			   struct tg_ownerdb *db,
			   const struct tg_ownerdb_loc *loc);

#endif
