/**
 * common.h: the first include of every txguard .c file.
 *
 * Feature macros, the standard headers every module uses, allocation
 * wrappers that never return NULL (they print and exit 2: the hook fails
 * closed, callers never check), a growable-array macro and BUG().
 */
#ifndef TXGUARD_COMMON_H
#define TXGUARD_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
#define TG_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define TG_NORETURN __attribute__((noreturn))
#else
#define TG_PRINTF(f, a)
#define TG_NORETURN
#endif

/** A git object id (SHA-1, the only kind libgit2 1.5 supports). */
#define TG_OID_RAWSZ 20
#define TG_OID_HEXSZ 40
struct tg_oid {
	unsigned char id[TG_OID_RAWSZ];
};

void *tg_xmalloc(size_t n);
void *tg_xcalloc(size_t nmemb, size_t size);
void *tg_xrealloc(void *p, size_t n);
char *tg_xstrdup(const char *s);
char *tg_xstrndup(const char *s, size_t n);
/** printf into a fresh allocation the caller frees. */
char *tg_xasprintf(const char *fmt, ...) TG_PRINTF(1, 2);
/** The same with a va_list (left for the caller to va_end). */
char *tg_xvasprintf(const char *fmt, va_list ap) TG_PRINTF(1, 0);

/** Abort with file:line on a broken invariant. */
TG_NORETURN void tg_bug(const char *file, int line, const char *fmt, ...)
	TG_PRINTF(3, 4);
#define BUG(...) tg_bug(__FILE__, __LINE__, __VA_ARGS__)

/**
 * Make room for at least `nr` elements in `ptr` (with capacity `alloc`),
 * growing by half again each time: TG_ALLOC_GROW(v, n + 1, alloc).
 */
#define TG_ALLOC_GROW(ptr, nr, alloc)                                      \
	do {                                                               \
		if ((size_t)(nr) > (alloc)) {                              \
			size_t tg_new_ = (alloc) < 8 ? 8 : (alloc) * 3 / 2; \
			if (tg_new_ < (size_t)(nr))                        \
				tg_new_ = (nr);                            \
			(ptr) = tg_xrealloc((ptr), tg_new_ * sizeof(*(ptr))); \
			(alloc) = tg_new_;                                 \
		}                                                          \
	} while (0)

#define TG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
