/**
 * ownerdb_store.h: the owner index's cache on disk (src/ownerdb-format.md
 * describes the files byte by byte).
 *
 * Records are keyed by what they depend on: the blob id and the path's
 * role (a package's `__init__.py` or any other module), within a layer
 * made by one inference version (TG_INFER_VERSION). A store is a stack of
 * layers, bottom first: the layers the chain file lists, then the layers
 * this run wrote. Every layer is one format: a header, the records, and a
 * table of rows sorted by key. A layer is never written in place: it is
 * written to a temporary file, synced and renamed, and the chain file
 * likewise, so a reader keeps the files it opened whatever other runs
 * do. A lookup reads the window of rows where the id's first bytes put
 * it in each layer, top first: a run holds no table.
 *
 * Anything wrong in a file (short, foreign, another byte order or
 * version, out of order, out of bounds, a failed checksum, not a regular
 * file) leaves that file out: never trusted, never an error.
 */
#ifndef TXGUARD_OWNERDB_STORE_H
#define TXGUARD_OWNERDB_STORE_H

#include "txguard/common.h"

#include <stdint.h>

/* The path role a record was made for: part of its key. */
enum tg_ownerdb_role {
	TG_OWNERDB_ROLE_MODULE = 0,
	TG_OWNERDB_ROLE_PACKAGE = 1, /* a package's __init__.py */
};

struct tg_ownerdb_key {
	struct tg_oid id;
	unsigned role; /* enum tg_ownerdb_role */
};

/** The key of a blob at `path`. */
struct tg_ownerdb_key tg_ownerdb_store_key(const char *path,
					   const struct tg_oid *id);

/** Order of keys: by id, then role. */
int tg_ownerdb_store_key_cmp(const struct tg_ownerdb_key *a,
			     const struct tg_ownerdb_key *b);

/*
 * What a record's first two bytes say (infer.h), kept in its row so that
 * a warm run learns which files matter without reading their records.
 */
enum tg_ownerdb_hint {
	TG_OWNERDB_HINT_DEFS = 1 << 0,	  /* TG_INFER_HAS_DEFS */
	TG_OWNERDB_HINT_USES = 1 << 1,	  /* TG_INFER_HAS_USES */
	TG_OWNERDB_HINT_IMPORTS = 1 << 2, /* it imports something */
};

/** The hint of a record (`head` its first two bytes, `len` its size). */
unsigned tg_ownerdb_store_hint(const unsigned char *head, size_t len);

/** A record as the store writes it: borrowed bytes, sorted by key. */
struct tg_ownerdb_rec {
	struct tg_ownerdb_key key;
	const unsigned char *data;
	size_t len;
};

/** Where a row said a record is: enough to read and check it. */
struct tg_ownerdb_loc {
	int fd;
	uint64_t pos;
	uint32_t len;
	uint32_t sum;
	unsigned hint;
};

struct tg_ownerdb_layer;

struct tg_ownerdb_store {
	char *dir;    /* the cache's directory, or NULL: no cache */
	char *prefix; /* its files' names start with this */
	bool write;   /* may the directory be written */
	size_t win;   /* rows a lookup reads at once */
	/* the stack, bottom first: [0, nchain) from the chain file, then
	 * layers written by this run (tmp names until the chain lists them) */
	struct tg_ownerdb_layer **layers;
	size_t nlayers, alloc_layers, nchain;
	/* layers [0, nsearch) answer lookups; a build's batches join at
	 * its end (tg_ownerdb_store_seal) */
	size_t nsearch;
	/* layers merged away: kept open for records left in them */
	struct tg_ownerdb_layer **retired;
	size_t nretired, alloc_retired;
	bool loaded;  /* a chain was read and all of its layers are valid */
	bool changed; /* the chain must be written again */
	bool failed;  /* a write failed: batches stay in TMPDIR */
};

/**
 * Open the store at `path` (".../txguard/ownerdb-v3": the directory and
 * the prefix of its files' names; NULL: none) and read its chain; `write` says
 * whether this run may write it, `win` is the rows a lookup reads at once
 * (0: 256).
 */
void tg_ownerdb_store_open(struct tg_ownerdb_store *s, const char *path,
			   bool write, size_t win);
void tg_ownerdb_store_close(struct tg_ownerdb_store *s);

/**
 * Look `key` up in the searchable layers, top first: *loc filled and
 * true, or false. `hint` (may be NULL) is a per-caller cache of one
 * window per layer that a caller looking up ids in order passes again
 * (tg_ownerdb_store_wcache_new()).
 */
struct tg_ownerdb_wcache;
struct tg_ownerdb_wcache *tg_ownerdb_store_wcache_new(void);
void tg_ownerdb_store_wcache_free(struct tg_ownerdb_wcache *wc);
bool tg_ownerdb_store_find(struct tg_ownerdb_loc *loc,
			   struct tg_ownerdb_store *s,
			   const struct tg_ownerdb_key *key,
			   struct tg_ownerdb_wcache *wc);

/**
 * The record at `loc`, read and checked against its checksum: a fresh
 * buffer (NULL for an empty record), or false when it fails.
 */
bool tg_ownerdb_store_read(unsigned char **out,
			   const struct tg_ownerdb_loc *loc);

/**
 * A batch of a cold build (`n` records sorted by key): written as a
 * layer at once (in the cache directory, else an unlinked file in
 * TMPDIR) and merged with the batches before it by the chain's rule; it
 * answers lookups after tg_ownerdb_store_seal(). False when no file
 * could be made: the caller keeps the records.
 */
bool tg_ownerdb_store_add_batch(struct tg_ownerdb_store *s,
				const struct tg_ownerdb_rec *recs, size_t n);

/** The build is over: its batches answer lookups. */
void tg_ownerdb_store_seal(struct tg_ownerdb_store *s);

/** Layers written by this run that are still to be listed. */
bool tg_ownerdb_store_pending(const struct tg_ownerdb_store *s);

/**
 * Save: `n` new records (sorted by key) as a new top layer, merged with
 * the layers below by the chain's rule, then the chain file. 1 when
 * written, 0 when the cache cannot be written (never an error).
 */
int tg_ownerdb_store_save(struct tg_ownerdb_store *s,
			  const struct tg_ownerdb_rec *recs, size_t n);

/** Rows in the store's searchable layers (the tests). */
size_t tg_ownerdb_store_rows(const struct tg_ownerdb_store *s);

#endif
