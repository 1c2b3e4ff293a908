/**
 * buf.h: growable strings.
 *
 * Invariant: after TG_BUF_INIT or tg_buf_init(), `ptr` is never NULL and
 * always NUL-terminated at `len`. tg_buf_detach() is the only way to take
 * the memory; tg_buf_release() frees it and re-initialises the buffer.
 */
#ifndef TXGUARD_BUF_H
#define TXGUARD_BUF_H

#include "txguard/common.h"

extern char tg_buf_empty[];

struct tg_buf {
	char *ptr;
	size_t len;
	size_t alloc;
};

#define TG_BUF_INIT { tg_buf_empty, 0, 0 }

void tg_buf_init(struct tg_buf *b);
void tg_buf_release(struct tg_buf *b);
void tg_buf_grow(struct tg_buf *b, size_t extra);
void tg_buf_add(struct tg_buf *b, const void *data, size_t len);
void tg_buf_addstr(struct tg_buf *b, const char *s);
void tg_buf_addch(struct tg_buf *b, int c);
void tg_buf_addf(struct tg_buf *b, const char *fmt, ...) TG_PRINTF(2, 3);
void tg_buf_reset(struct tg_buf *b);
/** Shorten to `len` bytes (no-op when not longer). */
void tg_buf_truncate(struct tg_buf *b, size_t len);
/** Hand the string to the caller (who frees it); the buffer is reset. */
char *tg_buf_detach(struct tg_buf *b, size_t *len);

#endif
