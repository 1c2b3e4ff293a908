/**
 * progress.h: progress of a long operation on stderr, the way git shows
 * it ("Indexing owners:  41% (3012/7280)", rewritten in place with \r,
 * ending with ", done."), and only when stderr is a terminal and the
 * operation has lasted a moment (one second; TXGUARD_PROGRESS_DELAY
 * seconds when set). Otherwise nothing is printed.
 */
#ifndef TXGUARD_PROGRESS_H
#define TXGUARD_PROGRESS_H

#include "txguard/common.h"

#include <stdint.h>

struct tg_progress;

/**
 * Start showing the progress of `title` (copied) over `total` items (0:
 * unknown, then only the count is shown). NULL when stderr is not a
 * terminal; every function below accepts NULL.
 */
struct tg_progress *tg_progress_start(const char *title, uint64_t total);

/** `n` items are done; cheap enough to call for every item. */
void tg_progress_update(struct tg_progress *p, uint64_t n);

/** The end: ", done." after what was shown, if anything; frees p. */
void tg_progress_stop(struct tg_progress *p);

/** The operation failed: the line shown, if any, is ended; frees p. */
void tg_progress_abort(struct tg_progress *p);

#endif
