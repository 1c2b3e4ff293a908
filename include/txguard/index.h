/**
 * index.h: the index file as git wrote it, read without libgit2.
 *
 * mmap, no checksum pass, no hashing: diff.c's fast path uses the cached
 * tree data to skip unchanged directories, and the owner index walks the
 * entries. Nothing here writes the file or takes index.lock.
 */
#ifndef TXGUARD_INDEX_H
#define TXGUARD_INDEX_H

#include "txguard/common.h"

struct tg_index_entry {
	const char *path; /* into the mapped file, NUL-terminated */
	size_t pathlen;
	uint32_t mode;
	uint16_t flags;	 /* stage in bits 12-13 */
	uint16_t eflags; /* v3 extended flags (intent-to-add, skip-worktree) */
	struct tg_oid id;
};

/* One node of the TREE extension (git's cache-tree). */
struct tg_index_tree {
	const char *name; /* component, not NUL-terminated; "" at the root */
	size_t namelen;
	int entry_count;  /* index entries below; < 0 when invalidated */
	struct tg_oid id; /* valid when entry_count >= 0 */
	struct tg_index_tree **sub;
	size_t nsub;
};

struct tg_index {
	struct tg_index_entry *entries; /* sorted as git sorts them */
	size_t nr;
	struct tg_index_tree *root; /* NULL without a TREE extension */
	/* false when the file uses something this reader does not handle
	 * (a damaged file, version 4 paths it cannot rebuild, a split or
	 * sparse index, conflicts, intent-to-add): callers then use
	 * libgit2's index */
	bool usable;
	bool split; /* the file has a "link" extension (core.splitIndex) */

	/* the reader's own */
	void *map; /* the mapped file the entries point into */
	size_t maplen;
	struct tg_index_tree *nodes; /* one allocation for every node */
	struct tg_index_tree **subs;
	char *names; /* version 4: the paths, rebuilt from their prefixes */
};

/**
 * Read the index file at `path` into *ix (released with
 * tg_index_release(), also after an error). A missing file is an empty
 * index; a file this reader cannot parse leaves ix->usable false.
 * Errors: TG_EIO.
 */
int tg_index_read(struct tg_index *ix, const char *path);
void tg_index_release(struct tg_index *ix);

/**
 * The entry of one path in the index file `file`, without loading it
 * (nothing is kept; the file is unmapped at once). 1: answered (*found;
 * e->path is not valid after), 0: not a file this can answer for (no
 * such file, version 4, a conflict or intent-to-add entry for the path,
 * a split or sparse index, damage): the caller loads the index.
 */
int tg_index_peek(struct tg_index_entry *e, bool *found, const char *file,
		  const char *path);

#endif
