/**
 * gitalloc.h: libgit2's heap, counted.
 *
 * tg_gitalloc_install() replaces libgit2's allocator by one over malloc
 * that keeps a count of the bytes libgit2 holds; tg_gitalloc_heap()
 * reads it. repo.c uses it to bound what libgit2 caches between blob
 * reads.
 */
#ifndef TXGUARD_GITALLOC_H
#define TXGUARD_GITALLOC_H

#include "txguard/common.h"

/**
 * Count libgit2's heap from now on. Call before git_libgit2_init();
 * without it nothing is counted and tg_gitalloc_heap() stays 0.
 * Errors: TG_EGIT.
 */
int tg_gitalloc_install(void);

/**
 * libgit2's live heap in bytes since tg_gitalloc_install(). Signed:
 * memory libgit2 allocated is sometimes freed by others.
 */
int64_t tg_gitalloc_heap(void);

#endif
