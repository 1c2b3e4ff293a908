/**
 * diff.h: what "the change" is, as a list of files with blob ids
 * and zero-context hunks.
 *
 * The changeset owns every path and hunk array it holds; free it with
 * tg_changeset_release(). Deleted files, submodules, symlinks and files
 * that do not match the Python globs are counted, never silently dropped
 * (binary and oversized blobs are counted later, by the engine, which is
 * the one that reads them).
 */
#ifndef TXGUARD_DIFF_H
#define TXGUARD_DIFF_H

#include "txguard/common.h"

struct tg_repo;
struct tg_glob_set;

enum tg_change_status {
	TG_CHANGE_ADDED,
	TG_CHANGE_MODIFIED,
	TG_CHANGE_RENAMED,
	TG_CHANGE_COPIED,
	TG_CHANGE_WHOLE, /* scan: every unit counts as changed */
};

/** A zero-context hunk, as git_diff_hunk reports it (1-based lines). */
struct tg_hunk {
	uint32_t old_start, old_lines;
	uint32_t new_start, new_lines;
};

struct tg_change {
	char *path;     /* path on the new side */
	char *old_path; /* pre-image path (same as path unless renamed), or NULL when added */
	struct tg_oid new_id;
	struct tg_oid old_id; /* zero when added */
	enum tg_change_status status;
	/*
	 * Every unit counts as changed, though only some lines did: the
	 * file uses a definition the change made or unmade an owner or
	 * factory. old_id may equal new_id (the file itself is
	 * unchanged).
	 */
	bool whole_file;
	struct tg_hunk *hunks;
	size_t nhunks, alloc_hunks;
};

struct tg_skips {
	size_t deleted, submodule, symlink, binary, too_large, not_python;
	size_t too_complex; /* nesting or a lone-CR line past the bounds */
	/* *.py files that include/exclude leave out (a scan's count) */
	size_t not_selected;
};

struct tg_changeset {
	struct tg_change *files;
	size_t nr, alloc;
	struct tg_skips skipped;
	char *describe; /* "index vs HEAD", "abc123..def456"... */
};

#define TG_CHANGESET_INIT { 0 }

/* Count a file of `mode` that is not checked; true when it is skipped. */
static inline bool tg_skips_count_mode(struct tg_skips *s, uint32_t mode)
{
	if (mode == 0160000) { /* a submodule (gitlink) */
		s->submodule++;
		return true;
	}
	if (mode == 0120000) { /* a symbolic link */
		s->symlink++;
		return true;
	}
	return false;
}

/**
 * Staged mode: the index git will commit against HEAD's tree (the empty
 * tree when HEAD is unborn), renames detected, zero context lines.
 * `python` selects the files to check (NULL: "*.py").
 * Errors: TG_EGIT.
 */
int tg_changeset_staged(struct tg_changeset *out, struct tg_repo *repo,
			const struct tg_glob_set *python);

/**
 * Branch mode: the tree of merge-base(base, head) against head's tree.
 * Errors: TG_ENOTFOUND (a revision or the merge base is missing; the
 * message says what to fetch), TG_EGIT.
 */
int tg_changeset_branch(struct tg_changeset *out, struct tg_repo *repo,
			const char *base, const char *head,
			const struct tg_glob_set *python);

/**
 * Scan mode: every selected Python blob of the tree of `rev` (NULL:
 * "HEAD"), limited to the path prefixes `paths` when npaths > 0, each as
 * TG_CHANGE_WHOLE with no hunks and no old side.
 * Errors: TG_ENOTFOUND (unknown revision), TG_EGIT.
 */
int tg_changeset_tree(struct tg_changeset *out, struct tg_repo *repo,
		      const char *rev, const char *const *paths, size_t npaths,
		      const struct tg_glob_set *python);


void tg_changeset_release(struct tg_changeset *cs);

#endif
