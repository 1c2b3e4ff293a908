#include "txguard/common.h"

#include <stdarg.h>

static TG_NORETURN void out_of_memory(size_t n)
{
	fprintf(stderr, "txguard: out of memory allocating %zu bytes\n", n);
	fprintf(stderr, "hint: 'git commit --no-verify' skips the hook once\n");
	exit(2);
}

void *tg_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		out_of_memory(n);
	return p;
}

void *tg_xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (!p)
		out_of_memory(nmemb * size);
	return p;
}

void *tg_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		out_of_memory(n);
	return q;
}

char *tg_xstrdup(const char *s)
{
	return tg_xstrndup(s, strlen(s));
}

char *tg_xstrndup(const char *s, size_t n)
{
	char *p = tg_xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *tg_xvasprintf(const char *fmt, va_list ap)
{
	va_list again;
	int n;
	char *p;

	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	if (n < 0)
		BUG("bad format string '%s'", fmt);
	p = tg_xmalloc((size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, again);
	va_end(again);
	return p;
}

char *tg_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = tg_xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

void tg_bug(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "txguard: BUG: %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}
