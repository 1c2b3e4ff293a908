/**
 * watch.h: never wait forever on a damaged object.
 *
 * libgit2 1.5 never returns from inflating a truncated loose object (it
 * retries the same input; fixed upstream in 5254f5dc4), whether the
 * object is a blob, a tree or a commit. Every object read is bracketed
 * with tg_watch_begin()/tg_watch_end(); a watchdog thread ends the
 * process with a clear error and exit status 2 when one read lasts longer
 * than the bound (TXGUARD_READ_TIMEOUT seconds, default 60: a sound read
 * of the largest blob takes well under a second). Nothing is written at
 * that point (txguard writes nothing but its own cache and baseline
 * files, both through a temporary file renamed into place).
 *
 * Thread-safe: each thread has its own slot (up to 16 threads watched).
 */
#ifndef TXGUARD_WATCH_H
#define TXGUARD_WATCH_H

#include "txguard/common.h"

/** Start watching a read: `what` (copied) names it, `oid` (raw, or NULL)
 * the object. Brackets do not nest. */
void tg_watch_begin(const char *what, const unsigned char *oid);
void tg_watch_end(void);

#endif
