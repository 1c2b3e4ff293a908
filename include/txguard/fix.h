/**
 * fix.h: removing redundant transaction calls (TX001) from a file's
 * bytes, the way `txguard fix` does.
 *
 * tg_fix_plan() decides, for each TX001 finding of one file, whether
 * removing the call is safe (the program behaves the same: the owner
 * commits right after it, or rolls back when the `raise` after it leaves
 * the block), unsafe (a commit with statements after it: they would then
 * run in the same transaction) or not to be done, with the reason.
 * tg_fix_apply() makes the new bytes: the removed statement's whole lines
 * go (its own trailing comment with it); a block left without a
 * statement gets `pass` at the statement's indentation. Every other byte,
 * line endings and encoding included, stays as it was.
 */
#ifndef TXGUARD_FIX_H
#define TXGUARD_FIX_H

#include "txguard/common.h"

#include <stdio.h>

struct tg_buf;
struct tg_findings;

enum tg_fix_safety {
	TG_FIX_SAFE,
	TG_FIX_UNSAFE,
	TG_FIX_NOT_FIXED,
};

struct tg_fix {
	size_t finding; /* index in the findings planned from */
	enum tg_fix_safety safety;
	const char *why;    /* unsafe: what changes; not fixed: why (static) */
	uint32_t line;	    /* first line of the statement (1-based) */
	size_t start, end;  /* the whole lines removed, in bytes */
	uint32_t last_line; /* last line removed */
	size_t indent;	    /* bytes of indentation before the statement */
	size_t block;	    /* start byte of the block the statement is in */
	unsigned block_statements; /* statements in that block */
	bool applied;		   /* set by tg_fix_apply() */
	bool pass;		   /* tg_fix_apply(): replaced by `pass` */
};

struct tg_fix_plan {
	struct tg_fix *v;
	size_t nr, alloc;
	bool syntax_error; /* the file does not parse: nothing is fixed */
};

#define TG_FIX_PLAN_INIT                                                       \
	{                                                                      \
		0                                                              \
	}

/**
 * Plan the fixes of the TX001 findings in `found` (other rules and
 * suppressed findings are skipped) of the file `path` whose bytes are
 * `src`. Errors: TG_EBINARY, TG_ETOODEEP (the file cannot be parsed),
 * TG_ERROR.
 */
int tg_fix_plan(struct tg_fix_plan *plan, const char *path, const char *src,
		size_t len, const struct tg_findings *found);

/**
 * Apply the safe fixes of `plan` (and the unsafe ones with `unsafe`) to
 * `src`, writing the new bytes to `out`; marks them applied. Returns the
 * number applied.
 */
size_t tg_fix_apply(struct tg_buf *out, const char *src, size_t len,
		    struct tg_fix_plan *plan, bool unsafe);

/**
 * A unified diff (three lines of context, `--- a/PATH` / `+++ b/PATH`)
 * of the fixes applied by tg_fix_apply() on `src`.
 */
void tg_fix_diff(struct tg_buf *out, const char *path, const char *src,
		 size_t len, const struct tg_fix_plan *plan);

void tg_fix_plan_release(struct tg_fix_plan *plan);

/*
 * The command's runner (cmd_fix.c), shared by `fix` and `check --fix`.
 */
struct tg_repo;
struct tg_config;
struct tg_owner_table;

struct tg_fix_run_opts {
	const char *workdir; /* the working tree's top, with a trailing '/' */
	bool unsafe;	     /* apply the unsafe fixes too */
	struct tg_buf *diff; /* not NULL: append a diff there, write nothing */
	/* not NULL: fix only the findings of this list that are new */
	const struct tg_findings *only;
};

struct tg_fix_result {
	FILE *msg; /* one line per fix, finding left and error */
	size_t files, files_fixed, fixed, unsafe_left, unfixable, errors;
};

/**
 * Fix the working-tree files `paths` (repository-relative): owners are
 * resolved against the owner index of the index, each file's own
 * definitions against its working copy. A file that cannot be read or
 * whose fix does not verify is counted in res->errors (its message
 * printed to res->msg) and left alone. Errors (of the whole run):
 * TG_EGIT.
 */
int tg_fix_run(struct tg_fix_result *res, struct tg_repo *repo,
	       const struct tg_config *cfg, const struct tg_owner_table *owners,
	       char *const *paths, size_t npaths,
	       const struct tg_fix_run_opts *o);

/** "fixed N findings in M files[; K left (...)]" */
void tg_fix_summary(FILE *fp, const struct tg_fix_result *res, bool diff);

#endif
