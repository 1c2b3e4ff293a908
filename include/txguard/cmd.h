/**
 * cmd.h: the commands, their shared options and txguard's exit statuses
 * (SPEC §2). Only main.c and cmd_*.c print errors.
 */
#ifndef TXGUARD_CMD_H
#define TXGUARD_CMD_H

#include "txguard/common.h"
#include "txguard/opt.h"
#include "txguard/out.h"
#include "txguard/rules.h"

enum tg_exit {
	TG_EXIT_OK = 0,      /* nothing new at or above fail-on */
	TG_EXIT_BLOCKED = 1, /* new blocking findings */
	TG_EXIT_ERROR = 2,   /* usage, configuration, repository, internal */
};

int cmd_check(int argc, const char **argv);
int cmd_explain(int argc, const char **argv);
int cmd_index(int argc, const char **argv);
int cmd_scan(int argc, const char **argv);
int cmd_baseline(int argc, const char **argv);

/**
 * Print "txguard: <msg>" and the --no-verify hint to stderr; returns
 * TG_EXIT_ERROR.
 */
int tg_die_with_hint(const char *msg);
/** The same for a usage error: message, then "see 'txguard CMD --help'". */
int tg_die_usage(const char *cmd, const char *msg);
/** tg_die_usage() for a command that takes no arguments but got `arg`. */
int tg_die_unexpected(const char *cmd, const char *arg);

struct tg_owner_table;
struct tg_config;

/** Register the owners and factories named in the configuration (SPEC §8). */
void tg_owners_from_config(struct tg_owner_table *o,
			   const struct tg_config *cfg);

/** Options every reporting command takes (SPEC §2). */
struct tg_common_opts {
	const char *format, *output, *fail_on, *color, *baseline;
	bool all, no_baseline, quiet, help;
};

#define TG_COMMON_OPTIONS(c)                                                  \
	{ "format", 0, TG_OPT_STRING, &(c).format, "FORMAT",                  \
	  "text (default), json, sarif or github" },                          \
	{ "output", 'o', TG_OPT_STRING, &(c).output, "FILE",                  \
	  "write the report to FILE instead of standard output" },            \
	{ "fail-on", 0, TG_OPT_STRING, &(c).fail_on, "LEVEL",                 \
	  "critical, high (default), medium, low or never" },                 \
	{ "all", 0, TG_OPT_FLAG, &(c).all, NULL,                              \
	  "also show findings that are not new" },                            \
	{ "no-baseline", 0, TG_OPT_FLAG, &(c).no_baseline, NULL,              \
	  "ignore the baseline file" },                                       \
	{ "baseline", 0, TG_OPT_STRING, &(c).baseline, "FILE",                \
	  "read the baseline from FILE instead of the repository" },          \
	{ "color", 0, TG_OPT_STRING, &(c).color, "WHEN",                      \
	  "auto (default; honours NO_COLOR), always or never" },              \
	{ "quiet", 'q', TG_OPT_FLAG, &(c).quiet, NULL,                        \
	  "print nothing when nothing is found" },                            \
	{ "help", 'h', TG_OPT_FLAG, &(c).help, NULL, "show this help" }

/**
 * Validate the common options into output options and a fail-on level
 * (-1 when not given on the command line). Errors: TG_EUSAGE.
 */
int tg_common_opts_resolve(struct tg_out_opts *out, int *fail_on,
			   const struct tg_common_opts *c);

/**
 * Open the report destination: stdout, or --output FILE. *fp is closed
 * with tg_common_close_output(), which reports a failed write.
 */
enum tg_baseline_source {
	TG_BASELINE_FROM_INDEX,     /* staged mode: the baseline being committed */
	TG_BASELINE_FROM_HEAD,      /* branch mode */
	TG_BASELINE_FROM_HEAD_SCAN, /* scan: the work tree's file; every unmatched entry is prunable */
};

struct tg_report;
struct tg_repo;

/**
 * Apply the baseline (SPEC §7) to the report's findings: `path` (from the
 * config) read from the index or HEAD, or --baseline FILE from disk;
 * --no-baseline skips it; a missing file in the repository is an empty
 * baseline. Unmatched entries in scope become notices. Errors: TG_EPARSE
 * ("FILE:LINE: ..."), TG_EIO, TG_EGIT.
 */
int tg_common_apply_baseline(struct tg_report *r, struct tg_repo *repo,
			     const char *path, const struct tg_common_opts *c,
			     enum tg_baseline_source from);

struct tg_owner_table;
/**
 * Scan every selected Python file of the tree of `rev` (NULL: HEAD),
 * optionally only under `paths`, into `report` with `threads` workers.
 * Shared by scan and baseline. Errors: TG_ENOTFOUND, TG_EGIT, TG_ERROR.
 */
int tg_scan_tree(struct tg_report *report, struct tg_repo *repo,
		 const struct tg_config *cfg, const struct tg_owner_table *owners,
		 const char *rev, const char *const *paths, size_t npaths,
		 unsigned threads);
/** One analysis thread per core (at most 64). */
unsigned tg_default_threads(void);

/**
 * The end every reporting command shares: apply the baseline, decide
 * fail-on (the command line's `fail_on`, or -1 for the configured one,
 * file classes included) and write the report. Returns TG_EXIT_OK or
 * TG_EXIT_BLOCKED, or a negative error with the message set.
 */
int tg_common_report(struct tg_report *r, struct tg_repo *repo,
		     const struct tg_config *cfg,
		     const struct tg_common_opts *c,
		     const struct tg_out_opts *o, int fail_on,
		     enum tg_baseline_source from);

int tg_common_open_output(FILE **fp, const struct tg_common_opts *c);
int tg_common_close_output(FILE *fp, const struct tg_common_opts *c);

#endif
