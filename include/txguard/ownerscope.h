/**
 * ownerscope.h: the repository's own owners and factories for one run,
 * and the owner-index pipeline around them, ready for the engine.
 *
 * - `now`: every definition as of the side being checked (the index, the
 *   branch tip, the scanned tree), from the owner index (ownerdb.h);
 * - `before` (made on first use): the same with the changed files' pre-image records swapped
 *   in, so a call site that did not change but whose owner became one
 *   is a new finding, and one whose owner was already one is not;
 * - the changeset grows by the files that use a definition the change
 *   made or unmade (owner, dependency, alias, factory): each is checked
 *   whole against itself under both states (owner-definition
 *   changes);
 * - `words`: the names of every definition, for the scan's pre-filter.
 */
#ifndef TXGUARD_OWNERSCOPE_H
#define TXGUARD_OWNERSCOPE_H

#include "txguard/common.h"

#include <pthread.h>

struct tg_oid;
struct tg_repo;
struct tg_changeset;
struct tg_ownerdb;
struct tg_resolver;

struct tg_ownerscope {
	struct tg_ownerdb *db;
	struct tg_resolver *now;    /* owned by db */
	struct tg_resolver *before; /* tg_ownerscope_before() */
	const struct tg_changeset *cs;
	struct tg_repo *repo;
	const char *rev; /* the new side's tree; NULL: the index */
	pthread_mutex_t mu;
	char **words;
	size_t nwords, alloc_words;
	char **changed; /* definitions the change altered (last names) */
	size_t nchanged, alloc_changed;
	size_t dependents; /* files added to the changeset for them */
	/* maxFileSize: the owner index reads no bigger blob (0: any) */
	size_t max_file_size;
};

void tg_ownerscope_init(struct tg_ownerscope *st);

/**
 * Staged mode: the index git will commit is the new side, `cs` the
 * change (TG_CHANGE_* entries from tg_changeset_staged); appends the
 * dependent files to `cs`. Errors: TG_EGIT.
 */
int tg_ownerscope_staged(struct tg_ownerscope *st, struct tg_repo *repo,
			 struct tg_changeset *cs);

/** Branch mode: the tree of `head` is the new side. Errors: TG_EGIT. */
int tg_ownerscope_branch(struct tg_ownerscope *st, struct tg_repo *repo,
			 struct tg_changeset *cs, const char *head);

/**
 * Scan mode: the whole tree of `rev` is the new side (owners outside the
 * scanned paths count); no pre-image. Errors: TG_EGIT.
 */
int tg_ownerscope_scan(struct tg_ownerscope *st, struct tg_repo *repo,
		       const char *rev);

/**
 * Give `r` the recorded record of the file `path` with blob `id` (the
 * engine, for each file it analyses: its queries resolve through its own
 * imports). False when there is none or it is empty (the index's
 * pre-filter skipped the blob): the caller makes one from its parse.
 * Thread-safe.
 */
bool tg_ownerscope_fill(struct tg_ownerscope *st, struct tg_resolver *r,
			const char *path, const struct tg_oid *id);

/**
 * The pre-image state, made on first call (most changes have no finding
 * and never need it); NULL in scan mode. Thread-safe.
 */
struct tg_resolver *tg_ownerscope_before(struct tg_ownerscope *st);

/**
 * Just the owner index (refreshed and saved): of the index git will
 * commit, or of the tree of `rev`, built with TG_OWNERDB_TARGETS_ONLY
 * and `flags` (ownerdb.h), reading no blob over `max_file_size` (0:
 * any). For `txguard index`, and the states above. Errors: TG_EGIT.
 */
int tg_ownerscope_ownerdb(struct tg_ownerdb **db, struct tg_repo *repo,
			  const char *rev, unsigned flags,
			  size_t max_file_size);

void tg_ownerscope_release(struct tg_ownerscope *st);

#endif
