#include "txguard/common.h"
#include "txguard/buf.h"

#include <stdarg.h>

char tg_buf_empty[1];

void tg_buf_init(struct tg_buf *b)
{
	b->ptr = tg_buf_empty;
	b->len = 0;
	b->alloc = 0;
}

void tg_buf_release(struct tg_buf *b)
{
	if (b->alloc)
		free(b->ptr);
	tg_buf_init(b);
}

void tg_buf_grow(struct tg_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;

	if (need <= b->alloc)
		return;
	if (!b->alloc)
		b->ptr = NULL;
	if (need < b->alloc * 3 / 2)
		need = b->alloc * 3 / 2;
	if (need < 64)
		need = 64;
	b->ptr = tg_xrealloc(b->ptr, need);
	b->alloc = need;
	if (b->len == 0)
		b->ptr[0] = '\0';
}

void tg_buf_add(struct tg_buf *b, const void *data, size_t len)
{
	tg_buf_grow(b, len);
	memcpy(b->ptr + b->len, data, len);
	b->len += len;
	b->ptr[b->len] = '\0';
}

void tg_buf_addstr(struct tg_buf *b, const char *s)
{
	tg_buf_add(b, s, strlen(s));
}

void tg_buf_addch(struct tg_buf *b, int c)
{
	tg_buf_grow(b, 1);
	b->ptr[b->len++] = (char)c;
	b->ptr[b->len] = '\0';
}

void tg_buf_addf(struct tg_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->ptr + b->len, b->alloc ? b->alloc - b->len : 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		BUG("bad format string '%s'", fmt);
	if (b->alloc && b->len + (size_t)n < b->alloc) {
		b->len += (size_t)n;
		return;
	}
	tg_buf_grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void tg_buf_truncate(struct tg_buf *b, size_t len)
{
	if (len >= b->len)
		return;
	b->len = len;
	b->ptr[len] = '\0'; /* len < b->len: the buffer is allocated */
}

void tg_buf_reset(struct tg_buf *b)
{
	b->len = 0;
	if (b->alloc)
		b->ptr[0] = '\0';
}

char *tg_buf_detach(struct tg_buf *b, size_t *len)
{
	char *p;

	if (!b->alloc)
		tg_buf_grow(b, 0);
	p = b->ptr;
	if (len)
		*len = b->len;
	tg_buf_init(b);
	return p;
}
