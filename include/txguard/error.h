/**
 * error.h: the error slot.
 *
 * Module functions never print. On failure they record one message with
 * tg_error_set() and return a negative enum tg_err; only main.c and the
 * cmd_*.c files print it, once, with tg_error_last().
 */
#ifndef TXGUARD_ERROR_H
#define TXGUARD_ERROR_H

#include "txguard/common.h"

enum tg_err {
	TG_OK = 0,
	TG_ERROR = -1,     /* generic failure */
	TG_ENOTFOUND = -3, /* something looked up does not exist */
	TG_EPARSE = -4,    /* malformed input (config, baseline, options) */
	TG_EUSAGE = -5,    /* bad command line */
	TG_EBINARY = -6,   /* blob is not text (NUL byte) */
	TG_EGIT = -7,      /* libgit2 reported an error */
	TG_EIO = -8,       /* reading or writing a file failed */
	TG_ETOODEEP = -9,  /* input past a safety bound (nesting, a lone-CR line) */
};

/** Record a message (printf-style) and return `code`. */
int tg_error_set(int code, const char *fmt, ...) TG_PRINTF(2, 3);
/** Record libgit2's last error, prefixed by `what`, and return TG_EGIT. */
int tg_error_git(const char *what);
/** The last recorded message, or "unknown error"; never NULL. */
const char *tg_error_last(void);
void tg_error_clear(void);

#endif
