#include "txguard/common.h"
#include "txguard/error.h"

#include <stdarg.h>
#include <git2.h>

/*
 * One slot per thread: the scan threads (engine.c) each record their own
 * error and the caller copies the first one out.
 */
static _Thread_local char slot[4096];

int tg_error_set(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(slot, sizeof(slot), fmt, ap);
	va_end(ap);
	return code;
}

int tg_error_git(const char *what)
{
	const git_error *e = git_error_last();

	return tg_error_set(TG_EGIT, "%s: %s", what,
			    e && e->message ? e->message : "unknown libgit2 error");
}

const char *tg_error_last(void)
{
	return slot[0] ? slot : "unknown error";
}

void tg_error_clear(void)
{
	slot[0] = '\0';
}
