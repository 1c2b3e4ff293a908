/**
 * tree_iter.h: every selected Python blob of a tree, one at a time, in
 * tree order, without a list: scan mode streams them so that memory does
 * not follow the number of files. The iterator holds only the trees on
 * the way down to the current entry.
 */
#ifndef TXGUARD_TREE_ITER_H
#define TXGUARD_TREE_ITER_H

#include "txguard/diff.h"

/**
 * The files tg_changeset_tree() lists (limited to the path prefixes
 * `paths` when npaths > 0, each TG_CHANGE_WHOLE with no hunks).
 * tg_tree_iter_next() gives 1 and fills *ch (ch->path is borrowed until
 * the next call), 0 at the end, or an error (TG_EGIT).
 * Errors of tg_tree_iter_new: as tg_changeset_tree().
 */
struct tg_tree_iter;
int tg_tree_iter_new(struct tg_tree_iter **out, struct tg_repo *repo,
		     const char *rev, const char *const *paths, size_t npaths,
		     const struct tg_glob_set *python);
int tg_tree_iter_next(struct tg_tree_iter *it, struct tg_change *ch);
/**
 * At the end: add the counts of skipped files (submodules, symlinks, not
 * Python) to *skipped and set *describe (freed first) to "tree of REV".
 */
void tg_tree_iter_report(const struct tg_tree_iter *it,
			 struct tg_skips *skipped, char **describe);
void tg_tree_iter_free(struct tg_tree_iter *it);

#endif
